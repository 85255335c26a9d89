"""Calibration carries the time each request spends outside the engine's steps before its first
token (request_add_s): fitted from runs whose TTFT sits a fixed time above the model, applied to
TTFT only, and taken into the plan's sizing for a TTFT target."""

from __future__ import annotations

import pytest

from deployscope.bench.calibrate import Observation, fit, predict
from deployscope.physics.serving import estimate

MODEL, GPU, ENGINE = "llama-3.1-8b", "h100-sxm", "vllm"


def _observations(extra_ttft_s: float) -> list[Observation]:
    out = []
    for conc in (1, 4, 16):
        o = Observation("r", f"c{conc}", MODEL, GPU, ENGINE, "bf16", 512.0, 128.0, conc, None, {})
        p = predict(o, None)
        o.measured = {"ttft_s": p["ttft_s"] + extra_ttft_s, "tpot_s": p["tpot_s"], "output_tokens_per_s": p["output_tokens_per_s"]}
        out.append(o)
    return out


def test_a_fixed_ttft_excess_is_fitted_as_request_time_and_nothing_else():
    factors, _ = fit(_observations(0.15))
    assert factors["request_add_s"] == pytest.approx(0.15, rel=0.1)
    # the steps are left as they were: TPOT and throughput already matched
    assert factors["overhead_add_s"] < 1e-4
    assert factors["compute"] == pytest.approx(1.0, rel=0.1) and factors["bandwidth"] == pytest.approx(1.0, rel=0.1)


def test_runs_that_match_the_model_add_no_request_time():
    factors, _ = fit(_observations(0.0))
    assert factors["request_add_s"] < 1e-3


def test_request_time_lengthens_ttft_only():
    kw = dict(engine=ENGINE, quant="bf16", input_len=512.0, output_len=128.0, concurrency=8)
    base = estimate(MODEL, GPU, **kw)
    cal = estimate(MODEL, GPU, calibration={"factors": [{"engine": ENGINE, "family": "*", "request_add_s": 0.2}]}, **kw)
    assert cal.ttft_s.mean == pytest.approx(base.ttft_s.mean + 0.2, rel=1e-6)
    assert cal.tpot_s.mean == pytest.approx(base.tpot_s.mean, rel=1e-9)
    assert cal.output_tokens_per_s == pytest.approx(base.output_tokens_per_s, rel=1e-9)


def test_bench_calibrate_perf_carries_a_servers_request_time(tmp_path, monkeypatch, capsys):
    """As a user runs it: bench a server whose first token comes 0.3 s after the request, calibrate
    on the runs, and `perf --calibration` predicts that TTFT."""
    import json

    from deployscope.bench.sse_server import ServerProcess
    from deployscope.cli import main

    monkeypatch.setenv("DEPLOYSCOPE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DEPLOYSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'ds.db'}")
    target = ["--gpu", "h100-sxm", "--engine", ENGINE, "--catalog-model", MODEL]
    with ServerProcess(ttft=0.3, itl=0.01) as srv:
        for conc in ("1", "2"):
            assert main(["bench", srv.url, "--concurrency", conc, "--requests", "6", "--input-len", "64", "--output-len", "16",
                         *target, "--export", str(tmp_path / f"c{conc}.json"), "--json"]) == 0
    capsys.readouterr()
    assert main(["calibrate", str(tmp_path / "c1.json"), str(tmp_path / "c2.json"), "--name", "slow-first-token", "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert 0.2 < fit["factors"]["request_add_s"] < 0.4, fit["factors"]
    perf = ["perf", MODEL, "--gpu", "h100-sxm", "--engine", ENGINE, "--input-len", "64", "--output-len", "16", "--concurrency", "1", "--json"]
    assert main(perf) == 0
    before = json.loads(capsys.readouterr().out)["ttft_s"]["mean"]
    assert main([*perf, "--calibration", "slow-first-token"]) == 0
    after = json.loads(capsys.readouterr().out)["ttft_s"]["mean"]
    assert before < 0.1 and after == pytest.approx(0.3, rel=0.25)


def test_a_target_the_request_time_alone_misses_is_refused_with_the_percentile_it_names():
    # with 0.5 s per request before the first token, a TTFT p95 target of 0.3 s cannot be met at any
    # load; the refusal names the targeted percentile, its value at a trickle and the target
    from deployscope.errors import DeployscopeError
    from deployscope.physics.serving import capacity_meeting_slo

    cal = {"factors": [{"engine": ENGINE, "family": "*", "request_add_s": 0.5}]}
    with pytest.raises(DeployscopeError) as exc:
        capacity_meeting_slo(MODEL, GPU, engine=ENGINE, input_len=512.0, output_len=128.0, calibration=cal,
                             ttft_p95_s=0.3, tpot_p95_s=0.05)
    msg = str(exc.value)
    assert "TTFT p95" in msg and "(target 0.3 s, missed)" in msg and "TPOT p95" in msg and "p99" not in msg
    # without the request time the same targets are met
    assert capacity_meeting_slo(MODEL, GPU, engine=ENGINE, input_len=512.0, output_len=128.0,
                                ttft_p95_s=0.3, tpot_p95_s=0.05).rate > 0
