"""Hostile values in the inputs added for phase plans, API latency, engine defaults by GPU, server
power and validation rows: each is refused with the field as written, the value and what is
allowed (exit 2), never read as something else (true as 1, '1,2,3B' as 123B, concurrency=0 as an
open loop, a user's figure shown under the bundled row's source)."""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from deployscope.catalog import Catalog
from deployscope.catalog.engines import version_key
from deployscope.catalog.loader import BUNDLED_DIR
from deployscope.cli import main
from deployscope.errors import CatalogError, DeployscopeError
from deployscope.physics.training import parse_tokens
from deployscope.physics.training_phase import parse_phases, plan_total
from deployscope.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
VALIDATION = ROOT / "src" / "deployscope" / "validation"


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def _user_dir(tmp_path: Path, table: str, rows: list[dict]) -> Path:
    d = tmp_path / "cat"
    d.mkdir(exist_ok=True)
    (d / f"{table}.yaml").write_text(yaml.safe_dump(rows), encoding="utf-8")
    return d


def _bundled(table: str, rid: str) -> dict:
    rows = yaml.safe_load((BUNDLED_DIR / f"{table}.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(next(r for r in rows if r["id"] == rid))


# ------------------------------------------------------------------------------ train --phases
TRAIN = ("train", "llama-3.1-8b", "--gpu", "h100-sxm", "--gpus", "8")


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        ("", "states no phase with tokens"),
        ("post-training unstated", "states no phase with tokens"),
        ("garbage", "cannot read the phase step"),
        ("pre-training -5B@4096", "cannot read the phase step"),
        ("pre-training 0B@4096", "at least 1 token"),
        ("pre-training 0.0000001@4096", "at least 1 token"),
        ("pre-training 1e30@4096", "at most 1,000,000,000,000,000"),
        ("pre-training 1,2,3B@4096", "groups of three digits"),
        ("pre-training 1B@0", "sequence lengths must be 1 to"),
        ("pre-training 1B@99999999999999999999", "sequence lengths must be 1 to"),
        ("pre-training 1B@4096..8192x0", "1-64 steps"),
        ("pre-training 1B@4096..8192x1000", "1-64 steps"),
        ("pre-training 1B@8192..4096x3", "rise to a longer length"),
        ("pre-training 1B@4096x0", "cannot read the phase step"),
        ("pre-traning 1B@4096", "did you mean: pre-training"),
        ("pre-training and post-training 1B@4096", "names several phases"),  # was read as post-training alone
        ("sft after long-context 1B@4096", "names several phases"),
        ("préentraînement 1B@4096", "unknown phase"),
        ("pre-training 1B@４０９６", "cannot read the phase step"),
    ],
)
def test_bad_phase_plans_are_usage_errors_naming_the_option(plan: str, words: str) -> None:
    rc, _, err = _run(*TRAIN, "--phases", plan)
    assert rc == 2, err
    assert "--phases:" in err and words in err
    assert "Traceback" not in err


def test_phases_with_tokens_is_a_usage_error() -> None:
    rc, _, err = _run(*TRAIN, "--phases", "pre-training 1B@4096", "--tokens", "1B")
    assert rc == 2 and "--phases" in err and "--tokens" in err


def test_a_plan_without_stated_tokens_has_no_total() -> None:
    """A validation row whose plan states no tokens was once predicted at 0 GPU-hours."""
    with pytest.raises(DeployscopeError, match="states no phase with tokens"):
        plan_total(parse_phases("post-training unstated; pre-training unstated"), lambda m, s, t: 1.0)


def test_phase_plan_still_reads_its_documented_forms() -> None:
    steps = parse_phases("pre-training 1,000B@8192; context-extension 800B@8192..131072x6; annealing 0.04B@131072; post-training unstated")
    assert [s.phase for s in steps] == ["pre-training", "context-extension", "pre-training", "post-training"]
    assert steps[0].tokens == 1e12 and steps[1].seq_lens[-1] == 131072 and steps[3].tokens is None


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (("--tokens", "1B", "--seq-len", "0"), "--seq-len"),  # was replaced by 4096
        (("--tokens", "1B", "--micro-batch", "0"), "--micro-batch"),  # was replaced by 1
        (("--tokens", "1,2,3B"), "--tokens"),  # was read as 123B
        (("--tokens", "0.5"), "--tokens"),
        (("--tokens", "1e300"), "--tokens"),
        (("--tokens", "1B", "--phase", "pre-traning"), "--phase"),
    ],
)
def test_train_refuses_values_it_used_to_replace(argv: tuple[str, ...], flag: str) -> None:
    rc, _, err = _run(*TRAIN, *argv)
    assert rc == 2 and err.startswith(f"error: {flag}:"), err


def test_token_counts_with_thousands_separators_still_read() -> None:
    assert parse_tokens("1,000,000") == 1e6
    assert parse_tokens("1,500B") == 1.5e12
    assert parse_tokens("2T") == 2e12


# ------------------------------------------------------------------------------ scenarios
def _scenario(tmp_path: Path, edit) -> Path:  # noqa: ANN001
    data = yaml.safe_load((EXAMPLES / "saas-chat.yaml").read_text(encoding="utf-8"))
    edit(data)
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("value", "words"),
    [(0, ">= 1"), (-5, ">= 1"), (1e-300, ">= 1"), ("fast", "valid number"), (float("nan"), "finite"), (float("inf"), "finite"),
     ("1e309", "finite"), (True, "not true/false"), (1e9, "<= 100000000")],
)
def test_api_prefill_rate_is_checked(tmp_path: Path, value: object, words: str) -> None:
    p = _scenario(tmp_path, lambda d: d["candidates"].update(api_prefill_tokens_per_s=value))
    with pytest.raises(DeployscopeError) as exc:
        load_scenario(p)
    assert exc.value.field == "candidates.api_prefill_tokens_per_s" and words in str(exc.value)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.update(horizon_years=True), "horizon_years"),  # was a 1-year plan
        (lambda d: d["workloads"][0].update(users=True), "workloads.0.users"),
        (lambda d: d["targets"].update(ttft_p95_s=False), "targets.ttft_p95_s"),
    ],
)
def test_true_false_in_a_scenario_number_is_an_error(tmp_path: Path, edit, field: str) -> None:  # noqa: ANN001
    p = _scenario(tmp_path, edit)
    rc, _, err = _run("scenario", "validate", str(p))
    assert rc == 2 and "not true/false" in err
    with pytest.raises(DeployscopeError) as exc:
        load_scenario(p)
    assert exc.value.field.replace("[", ".").replace("]", "") == field


def test_boolean_scenario_fields_still_take_booleans(tmp_path: Path) -> None:
    p = _scenario(tmp_path, lambda d: d["candidates"].update(include_frontier_apis=False))
    assert load_scenario(p).candidates.include_frontier_apis is False


# ------------------------------------------------------------------------------ api_prices rows
API = "cerebras-llama-3.3-70b"


def _api_override(**fields: object) -> dict:
    return {"id": API, "source": "my own measurement", "as_of": "2026-11-01", **fields}


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"ttft_s": True, "latency_source": "me", "latency_prompt_tokens": 1000, "latency_prompt_note": "me"}, "ttft_s: expected a number, not true/false"),
        ({"latency_prompt_tokens": True, "latency_prompt_note": "me"}, "latency_prompt_tokens: expected a number"),
        ({"prefill_tokens_per_s": True, "prefill_source": "me"}, "prefill_tokens_per_s: expected a number"),
        ({"max_input_tokens": True, "max_input_tokens_source": "me"}, "max_input_tokens: expected a number"),
        ({"output_tokens_per_s": True, "latency_source": "me"}, "output_tokens_per_s: expected a number"),
        ({"ttft_s": -1, "latency_source": "me", "latency_prompt_tokens": 1000, "latency_prompt_note": "me"}, "greater than 0"),
        ({"ttft_s": 1e300, "latency_source": "me", "latency_prompt_tokens": 1000, "latency_prompt_note": "me"}, "less than or equal"),
        ({"output_tokens_per_s": 1e300, "latency_source": "me"}, "less than or equal"),
        ({"ttft_s": "fast", "latency_source": "me", "latency_prompt_tokens": 1000, "latency_prompt_note": "me"}, "valid number"),
        # an override's figure without its own source would be shown under the bundled source
        ({"ttft_s": 0.5}, "gives its own ttft_s but no latency_source"),
        ({"ttft_s": 0.5, "latency_source": "me"}, "no latency_prompt_tokens"),
        ({"output_tokens_per_s": 500}, "gives its own output_tokens_per_s but no latency_source"),
        ({"prefill_tokens_per_s": 5000}, "prefill_tokens_per_s needs prefill_source"),  # the bundled row has none
        ({"max_input_tokens": 1000}, "gives its own max_input_tokens but no max_input_tokens_source"),
        ({"latency_prompt_tokens": 10}, "gives its own latency_prompt_tokens but no latency_prompt_note"),
        ({"ttft_s": 0.5, "latency_source": "me", "latency_prompt_tokens": 200_000, "latency_prompt_note": "me"},
         "could not have been measured at that prompt"),  # the bundled row takes 128,000
    ],
)
def test_api_latency_fields_of_a_user_row_are_checked(tmp_path: Path, fields: dict, words: str) -> None:
    d = _user_dir(tmp_path, "api_prices", [_api_override(**fields)])
    with pytest.raises(CatalogError) as exc:
        Catalog(d).api_prices  # noqa: B018 - loading the table validates it
    assert words in str(exc.value)


def test_api_latency_override_with_its_sources_is_taken(tmp_path: Path) -> None:
    d = _user_dir(tmp_path, "api_prices", [_api_override(ttft_s=0.4, latency_source="our probe 2026-11", latency_prompt_tokens=2000,
                                                         latency_prompt_note="our probe prompts", max_input_tokens=64000,
                                                         max_input_tokens_source="our contract")])
    row = Catalog(d).api_prices.get(API)
    assert (row.ttft_s, row.latency_source, row.max_input_tokens) == (0.4, "our probe 2026-11", 64000)


# ------------------------------------------------------------------------------ servers rows
def _server(**fields: object) -> dict:
    return {"id": "dgx-h100", "source": "our data-centre measurements", "as_of": "2026-11-01", **fields}


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"host_power_kw": 2}, "host allowance would be ignored"),  # the bundled maximum used to win silently
        ({"idle_power_kw": 50}, "idle_power_kw (50 kW) is above max_power_kw"),
        ({"typical_power_kw": 50}, "typical_power_kw (50 kW) is above max_power_kw"),
        ({"idle_power_kw": 8, "typical_power_kw": 5}, "idle_power_kw (8 kW) is above typical_power_kw"),
        ({"typical_power_kw": True}, "not true/false"),
        ({"typical_power_kw": "lots"}, "valid number"),
        ({"price_usd": 300000, "price_as_of": "2099-01-01"}, "after today"),
        ({"price_usd": 300000, "price_as_of": "yesterday"}, "valid date"),
        ({"price_usd": 300000, "price_as_of": None}, "without its own price_as_of_note"),
        ({"price_as_of": "2026-01-01"}, "dates a price it does not give"),
    ],
)
def test_server_power_and_price_dates_of_a_user_row_are_checked(tmp_path: Path, fields: dict, words: str) -> None:
    d = _user_dir(tmp_path, "servers", [_server(**fields)])
    rc, _, err = _run("--catalog", str(d), "catalog", "show", "dgx-h100")
    assert rc == 2 and words in err and "Traceback" not in err


def test_server_override_switching_to_a_host_allowance_is_taken(tmp_path: Path) -> None:
    d = _user_dir(tmp_path, "servers", [_server(max_power_kw=None, host_power_kw=2.5, idle_power_kw=1.5, typical_power_kw=6)])
    row = Catalog(d).servers.get("dgx-h100")
    assert (row.max_power_kw, row.host_power_kw, row.idle_power_kw) == (None, 2.5, 1.5)


# ------------------------------------------------------------------------------ engines rows
def _engine(rid: str, edit) -> dict:  # noqa: ANN001
    row = _bundled("engines", rid)
    edit(row)
    row.update(source="my lab", as_of="2026-11-01")
    return row


@pytest.mark.parametrize(
    ("rid", "edit", "words"),
    [
        ("vllm", lambda r: r["small_gpu"].update(names=[""]), "would match every GPU"),
        ("vllm", lambda r: r["small_gpu"].update(max_num_seqs=True), "not true/false"),
        # a partial small_gpu is merged into the bundled row's on an override; a new engine must give it whole
        ("vllm", lambda r: r.update(id="my-vllm", small_gpu={"min_memory_gib": 40}), "Field required"),
        ("sglang", lambda r: r["memory"]["static_fraction"].update(tiers=list(reversed(r["memory"]["static_fraction"]["tiers"]))),
         "tiers must rise in below_gib"),
        ("sglang", lambda r: r["memory"]["static_fraction"].update(base_mib=-5), "greater than or equal to 0"),
        ("sglang", lambda r: r["perf"].update(mixed_prefill="maybe"), "valid boolean"),
        ("sglang", lambda r: r["perf"].update(overlap_schedule="maybe"), "valid boolean"),
        ("sglang", lambda r: r["perf"].update(overlap_scheduler=True), "Extra inputs"),  # a misspelt field is not dropped
        ("vllm", lambda r: r["perf"].update(releases=[{"before_version": "0.9.1", "overlap_schedule": 2}]), "valid boolean"),
        ("vllm", lambda r: r["perf"].update(sequence_overhead_s=True), "not true/false"),
        ("vllm", lambda r: r["perf"].update(releases=[{"from_version": "0.9", "before_version": "0.8"}]), "the range holds no release"),
        ("vllm", lambda r: r["perf"].update(releases=[{"before_version": "0.9.1", "sequence_overhead_s": 0},
                                                      {"from_version": "0.9", "before_version": "0.10", "sequence_overhead_s": 0.001}]),
         "release ranges overlap"),
        ("vllm", lambda r: r["perf"].update(releases=[{"before_version": "0..9"}]), "not a release number"),
    ],
)
def test_engine_rows_with_hostile_new_fields_are_refused(tmp_path: Path, rid: str, edit, words: str) -> None:  # noqa: ANN001
    d = _user_dir(tmp_path, "engines", [_engine(rid, edit)])
    with pytest.raises(CatalogError) as exc:
        Catalog(d).engines  # noqa: B018 - loading the table validates it
    assert words in str(exc.value)


def test_small_gpu_names_match_whatever_their_case(tmp_path: Path) -> None:
    d = _user_dir(tmp_path, "engines", [_engine("vllm", lambda r: r["small_gpu"].update(names=["A100"], min_memory_gib=1))])
    cat = Catalog(d)
    assert cat.engines.get("vllm").small_gpu.applies(cat.accelerators.get("a100-sxm4-80gb"))


@pytest.mark.parametrize("bad", ["", "abc", "0..9", "0.9.", "０.９", "<", "-1"])
def test_perf_engine_version_must_be_a_release_number(bad: str) -> None:
    rc, _, err = _run("perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-len", "1000", "--output-len", "200", f"--engine-version={bad}")
    assert rc == 2 and err.startswith("error: --engine-version:") and "not a release number" in err


def test_perf_engine_version_on_an_engine_without_release_figures_is_refused() -> None:
    """SGLang has one set of figures for every release: a version would silently change nothing."""
    rc, _, err = _run("perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--engine", "sglang", "--input-len", "1000",
                      "--output-len", "200", "--engine-version", "0.5")
    assert rc == 2 and err.startswith("error: --engine-version:") and "engine 'sglang'" in err
    assert "vllm" in err and "trtllm" in err  # the engines whose releases differ
    rc, _, _ = _run("perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--engine", "trtllm", "--input-len", "1000",
                    "--output-len", "200", "--engine-version", "0.17")
    assert rc == 0
    rc, _, _ = _run("perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--engine", "vllm", "--input-len", "1000",
                    "--output-len", "200", "--engine-version", "0.9.1")
    assert rc == 0


@pytest.mark.parametrize("good", ["0.9.1", "v0.8.5", "0.8.5-rc1", "0.5.5.post1", "0.11.0+rocm", "1.2.0rc1"])
def test_release_numbers_in_use_still_read(good: str) -> None:
    assert version_key(good)[0] in (0, 1)


def test_perf_refuses_an_infinite_load() -> None:
    rc, _, err = _run("perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-len", "1000", "--output-len", "200", "--concurrency", "inf")
    assert rc == 2 and err.startswith("error: --concurrency:")


# ------------------------------------------------------------------------------ validate --data
def _llm_csv(tmp_path: Path, **changes: str) -> Path:
    rows = list(csv.DictReader((VALIDATION / "A_llm_inference.csv").open(encoding="utf-8")))
    row = next(r for r in rows if "concurrency=1" in r["scenario"])
    row.update(changes)
    p = tmp_path / "rows.csv"
    with p.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        w.writeheader()
        w.writerow(row)
    return p


def _reason(path: Path) -> dict:
    rc, out, err = _run("validate", "--data", str(path), "--json")
    assert rc == 0, err
    return json.loads(out)["predictions"][0]


@pytest.mark.parametrize("n", ["0", "-1", "99999999999999", "many"])
def test_validation_concurrency_out_of_range_is_skipped_with_the_reason(tmp_path: Path, n: str) -> None:
    """concurrency=0 / -1 were read as an open loop, a huge count ran the simulation out of memory."""
    p = _reason(_llm_csv(tmp_path, scenario=f"online serving, concurrency={n}"))
    assert p["predicted"] is None and f"concurrency={n!r}" in p["reason"] and "1 to 100,000" in p["reason"]


def test_validation_kv_format_not_taken_is_skipped_not_defaulted(tmp_path: Path) -> None:
    bad = _reason(_llm_csv(tmp_path, precision="fp8 (weights) + banana (KV cache)"))
    assert bad["predicted"] is None and "banana" in bad["reason"]
    good = _reason(_llm_csv(tmp_path, precision="fp8 (weights) + bf16 (KV cache)"))
    assert good["predicted"] is not None


def test_validation_phase_plan_without_tokens_is_not_scored(tmp_path: Path) -> None:
    rows = list(csv.DictReader((VALIDATION / "C_training.csv").open(encoding="utf-8")))
    row = next(r for r in rows if r.get("phases"))
    row["phases"] = "post-training unstated"
    p = tmp_path / "train.csv"
    with p.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        w.writeheader()
        w.writerow(row)
    pred = _reason(p)
    assert pred["predicted"] is None and "states no phase with tokens" in pred["reason"]


def test_validation_file_not_utf8_is_an_error(tmp_path: Path) -> None:
    p = _llm_csv(tmp_path, notes="caf\u00e9")
    p.write_bytes(p.read_bytes().replace("caf\u00e9".encode(), b"caf\xe9"))
    rc, _, err = _run("validate", "--data", str(p))
    assert rc == 2 and "not UTF-8" in err


# ------------------------------------------------------------------------------ web API
@pytest.fixture
def web(tmp_path: Path):  # noqa: ANN201
    from fastapi.testclient import TestClient

    from deployscope.store import Store
    from deployscope.web.app import create_app

    return TestClient(create_app(Store(tmp_path / "s.db"), plan_processes=False))


PERF = {"model": "llama-3.1-8b", "gpu": "h100-sxm", "input_len": 1000, "output_len": 200}


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/perf", {**PERF, "tp": True}, "tp"),  # was tp=1
    ("/api/perf", {**PERF, "concurrency": True}, "concurrency"),
    ("/api/memory", {"model": "llama-3.1-8b", "batch": False}, "batch"),
])
def test_web_numbers_refuse_true_false(web, path: str, body: dict, field: str) -> None:  # noqa: ANN001
    r = web.post(path, json=body, headers={"accept": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == field and "not true/false" in r.json()["error"]


@pytest.mark.parametrize(("value", "words"), [(True, "not true/false"), (-1, ">= 1"), ("1e309", "finite")])
def test_web_plan_checks_the_api_prefill_rate(web, value: object, words: str) -> None:  # noqa: ANN001
    sc = yaml.safe_load((EXAMPLES / "saas-chat.yaml").read_text(encoding="utf-8"))
    sc["candidates"]["api_prefill_tokens_per_s"] = value
    r = web.post("/api/plan", json={"scenario": sc}, headers={"accept": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "candidates.api_prefill_tokens_per_s" and words in r.json()["error"]


def test_export_unknown_engine_version_names_the_option_and_the_versions(tmp_path: Path) -> None:
    """It used to blame --engine and list the engines."""
    rc, out, err = _run("plan", str(EXAMPLES / "saas-chat.yaml"), "--json")
    assert rc == 0, err
    plan = tmp_path / "plan.json"
    plan.write_text(out, encoding="utf-8")
    rc, _, err = _run("export", str(plan), "-f", "vllm", "-o", str(tmp_path / "out"), "--engine-version", "0..9")
    assert rc == 2 and err.startswith("error: --engine-version:") and "releases with a profile" in err


@pytest.mark.parametrize(("model", "argv", "flag"), [
    ("sdxl", ("--images", "1M", "--phases", "pre-training 1B@4096"), "--phases"),  # were dropped for image models
    ("sdxl", ("--images", "1M", "--phase", "post-training"), "--phase"),
    ("sdxl", ("--images", "1M", "--seq-len", "77"), "--seq-len"),
    ("llama-3.1-8b", ("--tokens", "1B", "--images", "1M"), "--images"),  # were dropped for language models
    ("llama-3.1-8b", ("--tokens", "1B", "--resolution", "512"), "--resolution"),
])
def test_train_options_of_the_other_model_kind_are_refused(model: str, argv: tuple[str, ...], flag: str) -> None:
    rc, _, err = _run("train", model, "--gpu", "h100-sxm", "--gpus", "8", *argv)
    assert rc == 2 and err.startswith(f"error: {flag}: applies to")


def test_validation_file_with_an_unclosed_quote_or_extra_cells_is_an_error(tmp_path: Path) -> None:
    """An unclosed quote merged the rest of the file into one cell; a cell too many shifted a row."""
    p = _llm_csv(tmp_path, scenario="online serving, concurrency=1")
    text = p.read_text(encoding="utf-8")
    p.write_text(text.replace('"online serving, concurrency=1"', '"online serving'), encoding="utf-8")
    rc, _, err = _run("validate", "--data", str(p))
    assert rc == 2 and "not a readable CSV file" in err
    p.write_text(text.replace('"online serving, concurrency=1"', '"online serving", concurrency=1'), encoding="utf-8")
    rc, _, err = _run("validate", "--data", str(p))
    assert rc == 2 and "row 2 has 28 cells for 27 columns" in err


def test_validation_numbers_read_commas_only_as_thousands_separators() -> None:
    from deployscope.validate.files import num

    assert num("1,234,567.5") == 1234567.5 and num("406.77") == 406.77
    assert num("1,2") is None  # was read as 12


def test_litellm_import_says_which_context_windows_it_could_not_read(tmp_path: Path) -> None:
    """true / "128000" / -5 as max_input_tokens were dropped without a word (the API then took any
    prompt); 128000.0 was dropped too; a price of true became 1,000,000 USD per million tokens."""
    spec = {"mode": "chat", "litellm_provider": "openai", "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
    data = {f"openai/gpt-x{i}": {**spec, "max_input_tokens": w} for i, w in enumerate([True, "128000", -5, 128000.0])}
    data["openai/gpt-x9"] = {**spec, "input_cost_per_token": True}
    src = tmp_path / "model_prices_and_context_window.json"
    src.write_text(json.dumps(data), encoding="utf-8")
    cat = tmp_path / "cat"
    cat.mkdir()
    rc, out, err = _run("--catalog", str(cat), "prices", "import", str(src))
    assert rc == 0, err
    assert "note: 3 row(s) imported without a context window" in out.replace("\n", " ")
    assert "skipped (no per-token price): 1" in out
    rows = {r["id"]: r for r in yaml.safe_load((cat / "api_prices.yaml").read_text(encoding="utf-8"))}
    assert rows["litellm-openai-gpt-x3"]["max_input_tokens"] == 128000
    assert "litellm-openai-gpt-x9" not in rows
