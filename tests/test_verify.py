"""`deployscope verify`: the verdict follows the plan's error band exactly, the terminal and JSON
views agree, and bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope.cli import main
from deployscope.export.verify import _held

SAAS = Path(__file__).resolve().parent.parent / "examples" / "saas-chat.yaml"


@given(low=st.floats(0.1, 1.0), high=st.floats(1.0, 5.0), predicted=st.floats(1e-4, 100.0), ratio=st.floats(0.01, 100.0))
@settings(max_examples=300, deadline=None)
def test_latency_held_iff_inside_the_band(low, high, predicted, ratio):
    row = _held("ttft_p95_s", predicted, predicted * ratio, {"low": low, "high": high}, "latency")
    inside = 1 / high <= (predicted * ratio) / predicted <= 1 / low
    assert row["held"] == inside
    if not inside:
        assert ("faster" in row["direction"]) == (ratio < 1 / high)
    assert row["off_pct"] == pytest.approx((ratio - 1) * 100, rel=1e-9, abs=1e-9)


@pytest.fixture(scope="module")
def saas_plan(tmp_path_factory):
    from deployscope.planner import plan

    p = tmp_path_factory.mktemp("plan") / "saas.json"
    pl = plan(SAAS)
    p.write_text(pl.to_json())
    return p, pl


def _self_hosted(pl):
    """The option verify checks by default: the recommended one is an API, so the best self-hosted one."""
    return next(o.id for o in pl.options if o.allowed and o.placement != "api")


def _run_file(tmp_path, ttft, tpot, rate, name="run.json", mode="rate"):
    stat = lambda v: {"mean": v, "p50": v, "p90": v, "p95": v, "p99": v, "min": v, "max": v, "n": 30}  # noqa: E731
    s = {"completed": 30, "errors": 0, "requests": 30, "ttft_s": stat(ttft), "tpot_s": stat(tpot), "requests_per_s": rate,
         "output_tokens_per_s": rate * 300, "load": {"mode": mode, "rate": rate if mode == "rate" else None}}
    p = tmp_path / name
    p.write_text(json.dumps({"summary": s, "records": []}))
    return p


def test_pass_and_fail_exit_codes_and_views(tmp_path, saas_plan, capsys):
    path, pl = saas_plan
    perf = pl.option(_self_hosted(pl)).performance
    cap = perf.components[0].capacity_per_replica
    ok = _run_file(tmp_path, perf.ttft_p95_s * 0.9, perf.tpot_p95_s * 0.95, cap)
    assert main(["verify", str(ok), "--plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "the targets hold" in out and f"{perf.components[0].replicas} replicas" in out
    assert main(["verify", str(ok), "--plan", str(path), "--calibrate"]) == 0
    assert "nothing to calibrate" in capsys.readouterr().out
    bad = _run_file(tmp_path, perf.ttft_p95_s * 4, perf.tpot_p95_s * 4, cap, "bad.json")
    assert main(["verify", str(bad), "--plan", str(path), "--json"]) == 1
    j = json.loads(capsys.readouterr().out)
    assert j["passed"] is False and j["slo"]["holds"] is False
    assert j["next"].endswith("--calibrate") and _self_hosted(pl) in j["next"]
    ttft = next(c for c in j["checks"] if c["metric"] == "ttft_p95_s")
    assert ttft["ratio"] == pytest.approx(4.0) and "slower" in ttft["direction"]
    assert ttft["from"] == f"options[{_self_hosted(pl)}].performance.ttft_p95_s"


def test_a_run_off_the_design_point_is_flagged(tmp_path, saas_plan, capsys):
    path, pl = saas_plan
    perf = pl.option(_self_hosted(pl)).performance
    run = _run_file(tmp_path, perf.ttft_p95_s, perf.tpot_p95_s, 0.01, mode="concurrency")
    main(["verify", str(run), "--plan", str(path), "--json"])
    w = json.loads(capsys.readouterr().out)["warnings"]
    assert any("concurrency run" in x for x in w)


def test_verify_bad_input_exits_2(tmp_path, saas_plan, capsys):
    path, _ = saas_plan
    run = _run_file(tmp_path, 0.1, 0.01, 1.0)
    assert main(["verify", str(run), "--plan", str(path), "--group", "nope"]) == 2
    assert "no replica group 'nope'" in capsys.readouterr().err
    assert main(["verify", str(run), "--plan", str(path), "--option", "api-nebius"]) == 2
    assert "hosted API" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "missing.json"), "--plan", str(path)]) == 2
    assert "no such file" in capsys.readouterr().err
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"summary": {"completed": 0}, "records": []}))
    assert main(["verify", str(empty), "--plan", str(path)]) == 2
    assert "completed no requests" in capsys.readouterr().err
