"""Numbers that overflow, underflow or are not numbers are refused at the scenario field the user
wrote -- never a traceback, never a message about an internal field (capex.storage, ...)."""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployscope.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))


def _plan_text(text: str, tmp_path: Path) -> tuple[int, str]:
    p = tmp_path / "s.yaml"
    p.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["plan", str(p), "--json"])
    return rc, err.getvalue()


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    obj: Any = data
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value
    return data


# (example, path, YAML text of the value, the field the error must name)
CASES = [
    ("saas-chat", ("workloads", 0, "users"), ".inf", "workloads[0].users"),
    ("saas-chat", ("workloads", 0, "users"), "1e309", "workloads[0].users"),
    ("saas-chat", ("workloads", 0, "users"), '"1e400"', "workloads[0].users"),
    ("saas-chat", ("workloads", 0, "users"), ".nan", "workloads[0].users"),
    ("saas-chat", ("workloads", 0, "users"), "1.0e+308", "workloads[0].users"),
    ("saas-chat", ("workloads", 0, "growth_factor_per_year"), "1.0e+308", "workloads[0].growth_factor_per_year"),
    ("saas-chat", ("load_profile", "hourly"), "[" + ", ".join(["1"] * 23) + ", .inf]", "load_profile.hourly[23]"),
    ("saas-chat", ("load_profile", "hourly"), "[" + ", ".join(["1"] * 23) + ", nan]", "load_profile.hourly[23]"),
    ("saas-chat", ("load_profile", "hourly"), "[" + ", ".join(["1"] * 23) + ", 1.0e+308]", "load_profile.hourly[23]"),
    ("saas-chat", ("workloads", 0, "input_tokens", "mean"), "1.0e+308", "workloads[0].input_tokens.mean"),
    ("saas-chat", ("targets", "ttft_p95_s"), "1.0e-320", "targets.ttft_p95_s"),
    ("saas-chat", ("economics", "tariff_per_kwh"), "1.0e+308", "economics.tariff_per_kwh"),
    ("saas-chat", ("load_profile", "peak_to_average"), "1.0e+308", "load_profile.peak_to_average"),
    ("saas-chat", ("uncertainty",), "{demand: [1.0e-320, 1, 1.0e+308]}", "uncertainty.demand[0]"),
    ("saas-chat", ("currency",), "{code: EUR, per_usd: 1.0e+308}", "currency.per_usd"),
    ("quarterly-finetune-70b", ("training", 0, "tokens"), "1.0e-320", "training[0].tokens"),
    ("quarterly-finetune-70b", ("training", 0, "deadline_days"), "1.0e-320", "training[0].deadline_days"),
    ("quarterly-finetune-70b", ("training", 0, "runs_per_year"), "1.0e-320", "training[0].runs_per_year"),
    ("quarterly-finetune-70b", ("training", 0, "dataset_gb"), "1.0e+308", "training[0].dataset_gb"),
    ("marketing-images", ("workloads", 0, "images_per_day"), "1.0e+308", "workloads[0].images_per_day"),
    ("marketing-images", ("workloads", 0, "resolution"), "1000000000x1000000000", "workloads[0].resolution"),
]


@pytest.mark.parametrize(("example", "path", "raw", "field"), CASES, ids=[f"{c[3]}={c[2][:20]}" for c in CASES])
def test_extreme_number_is_named_at_the_users_field(example: str, path: tuple[Any, ...], raw: str, field: str, tmp_path: Path) -> None:
    marker = "__VALUE__"
    text = yaml.safe_dump(_set(_example(example), path, marker)).replace(f"'{marker}'", raw).replace(marker, raw)
    rc, err = _plan_text(text, tmp_path)
    assert rc == 2, err
    assert "Traceback" not in err
    assert f"error: {field}:" in err, err


def test_requests_per_day_1e308_names_requests_per_day_not_capex(tmp_path: Path) -> None:
    data = _example("saas-chat")
    w = data["workloads"][0]
    del w["users"], w["requests_per_user_per_day"]
    w["requests_per_day"] = 1e308
    rc, err = _plan_text(yaml.safe_dump(data), tmp_path)
    assert rc == 2
    assert "workloads[0].requests_per_day" in err and "capex" not in err, err


def test_users_times_requests_is_bounded_too(tmp_path: Path) -> None:
    data = _set(_example("saas-chat"), ("workloads", 0, "users"), 1e10)
    data = _set(data, ("workloads", 0, "requests_per_user_per_day"), 86_400)
    rc, err = _plan_text(yaml.safe_dump(data), tmp_path)
    assert rc == 2 and "workloads[0]" in err and "requests a day" in err, err


def test_hybrid_at_the_100th_percentile_plans(tmp_path: Path) -> None:
    """All load on-prem leaves a burst share of 1 - 1.0000000002: it must count as zero, not as a
    negative token volume reported against an internal field."""
    data = _set(_example("saas-chat"), ("load_profile", "base_load_percentile"), 100)
    rc, err = _plan_text(yaml.safe_dump(data), tmp_path)
    assert rc == 0, err


def test_every_bound_is_inclusive_and_plans(tmp_path: Path) -> None:
    """The largest demand the schema allows plans without an overflow anywhere inside."""
    text = """
name: biggest
horizon_years: 15
workloads:
  - name: a
    model: llama-3.1-8b-instruct
    requests_per_day: 1e12
    input_tokens: {mean: 1e8, p95: 1e8, max: 100000000}
    output_tokens: {mean: 1e8}
    growth_factor_per_year: 100
    peak_to_average: 168
currency: {code: IDR, per_usd: 1e7}
uncertainty: {demand: [0.01, 1, 100]}
"""
    rc, err = _plan_text(text, tmp_path)
    assert rc in (0, 2) and "Traceback" not in err
    if rc == 2:  # no option may serve it; then the message names a field the user wrote
        assert err.split("error: ", 1)[1].split(":")[0] in ("candidates", "workloads[0]", "targets", "workloads[0].peak_to_average"), err


@pytest.mark.parametrize(
    ("path", "raw", "text"),
    [
        (("pipelines", 0, "items"), '"1e400"', "pipelines[0].items: must be a finite number"),
        (("pipelines", 0, "utilization"), "0.001", "pipelines[0].utilization: must be >= 0.01"),
        (("pipelines", 0, "stages", 0, "input_len"), "1000000000000", "must be <= 100000000"),
        (("pipelines", 0, "stages", 1, "resolution"), "1048576x1048576", "16384"),
    ],
)
def test_pipeline_numbers_are_bounded(path: tuple[Any, ...], raw: str, text: str, tmp_path: Path) -> None:
    marker = "__VALUE__"
    body = yaml.safe_dump(_set(_example("synthetic-identities"), path, marker)).replace(f"'{marker}'", raw).replace(marker, raw)
    rc, err = _plan_text(body, tmp_path)
    assert rc == 2 and "Traceback" not in err and text in err, err


def test_denormal_images_per_item_is_refused_not_a_division_by_zero(tmp_path: Path) -> None:
    """Found by the numeric-extremes fuzzer: 5e-324 images per item passed `> 0`, then the stage's
    GPU-seconds per item underflowed to 0 and its capacity divided by it."""
    body = yaml.safe_dump(_set(_example("synthetic-identities"), ("pipelines", 0, "stages", 1, "images_per_item"), 5e-324))
    rc, err = _plan_text(body, tmp_path)
    assert rc == 2 and "pipelines[0].stages[1].images_per_item: must be >= 0.000001" in err, err


def test_hourly_weights_that_underflow_are_refused(tmp_path: Path) -> None:
    body = yaml.safe_dump(_set(_example("saas-chat"), ("load_profile", "hourly"), [0] * 23 + [5e-324]))
    rc, err = _plan_text(body, tmp_path)
    assert rc == 2 and "load_profile.hourly" in err and "Traceback" not in err, err
