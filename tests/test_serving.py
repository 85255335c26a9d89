"""Serving model: estimate(), max_throughput_points(), capacity_meeting_slo(), simulate()."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope.catalog import Catalog
from deployscope.errors import DeployscopeError
from deployscope.physics import serving
from deployscope.physics.calibration import CalibrationProfile, load_calibration, save_calibration
from deployscope.physics.serving import capacity_meeting_slo, estimate, max_throughput_points, simulate


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog()


KEYS = {"output_tokens_per_s", "output_tokens_per_s_per_gpu", "requests_per_s", "ttft_s", "tpot_s", "batch_size", "bound", "error_band", "provenance"}


def test_estimate_contract(cat):
    r = estimate("Llama-3.1-70B", "H100", gpus=8, tp=4, quant="fp8", engine="trtllm", input_len=1000, output_len=1000, catalog=cat)
    d = r.model_dump()
    assert KEYS <= set(d)
    for k in ("ttft_s", "tpot_s"):
        assert set(d[k]) == {"mean", "p50", "p90", "p99"}
    assert d["replicas"] == 2 and d["gpus"] == 8
    assert d["output_tokens_per_s_per_gpu"] == pytest.approx(d["output_tokens_per_s"] / 8)
    assert d["bound"] in ("compute", "memory", "communication")
    band = d["error_band"]
    assert band["rows"] > 0 and band["low"] < 1 < band["high"] and band["metric_class"] == "throughput"
    assert set(band["by_metric"]) == {"throughput", "ttft", "tpot"}
    assert d["provenance"]["catalog_rows"]["gpu"] == "h100-sxm-80gb"
    json.dumps(d, default=str)


def test_every_result_carries_an_error_band(cat):
    for kw in ({}, {"concurrency": 8}, {"rate": 0.5}):
        r = estimate("Llama-3.1-8B", "L40S", quant="fp8", input_len=500, output_len=200, catalog=cat, **kw)
        assert r.error_band.rows > 0 and all(b.rows > 0 for b in r.error_band.by_metric.values())


def test_does_not_fit_names_memory_needed_and_available(cat):
    with pytest.raises(DeployscopeError) as e:
        estimate("Llama-3.1-405B", "H100", quant="bf16", input_len=100, output_len=100, catalog=cat)
    msg = str(e.value)
    assert "does not fit" in msg and "GiB" in msg and "80.0 GiB" in msg


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"tp": 3}, "tp"),
        ({"gpus": 6, "tp": 4}, "gpus"),
        ({"ep": 2}, "ep"),
        ({"input_len": -1}, "input_len"),
        ({"concurrency": 4, "rate": 1.0}, "load"),
        ({"rate": 0.0}, "rate"),
        ({"quant": "no-such-format"}, "quant"),
        ({"kv_quant": "int4-awq"}, "kv_quant"),
        ({"input_len": 200_000}, "input_len"),
    ],
)
def test_bad_input_is_a_deployscope_error(cat, kw, field):
    args = dict(quant="bf16", input_len=100, output_len=100, catalog=cat)
    args.update(kw)
    with pytest.raises(DeployscopeError) as e:
        estimate("Llama-3.1-8B", "H100", **args)
    assert e.value.field == field


def test_more_tp_never_lowers_deployment_throughput_within_a_domain(cat):
    """Adding GPUs to a replica as tensor parallelism (one NVLink domain) never lowers the
    deployment's max throughput: the deployment is the replica, gpus = tp."""
    for model, quant in (("Llama-3.1-70B", "fp8"), ("Llama-3.1-8B", "bf16"), ("Mixtral-8x7B", "fp8")):
        for gpu in ("H100", "H200", "A100"):
            for I, O in ((128, 128), (1000, 1000), (5000, 500), (128, 4096)):
                prev = 0.0
                for tp in (1, 2, 4, 8):
                    try:
                        r = estimate(model, gpu, tp=tp, quant=quant, engine="trtllm", input_len=I, output_len=O, catalog=cat)
                    except DeployscopeError:
                        continue  # does not fit at this tp
                    assert r.output_tokens_per_s >= prev * (1 - 1e-9), (model, gpu, I, O, tp)
                    prev = r.output_tokens_per_s


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 6), tp=st.sampled_from([1, 2, 4]), rate=st.floats(0.1, 50))
def test_more_gpus_never_lower_capacity(cat, k, tp, rate):
    base = dict(tp=tp, quant="fp8", engine="vllm", input_len=800, output_len=300, catalog=cat)
    a = estimate("Llama-3.1-8B", "H100", gpus=tp * k, **base)
    b = estimate("Llama-3.1-8B", "H100", gpus=tp * (k + 1), **base)
    assert b.output_tokens_per_s >= a.output_tokens_per_s
    # at a fixed offered load, more replicas never make latency worse
    ra = estimate("Llama-3.1-8B", "H100", gpus=tp * k, rate=rate, **base)
    rb = estimate("Llama-3.1-8B", "H100", gpus=tp * (k + 1), rate=rate, **base)
    if not ra.saturated:
        assert not rb.saturated
        assert rb.tpot_s.mean <= ra.tpot_s.mean * (1 + 1e-9)


def test_concurrency_and_rate_modes_are_consistent(cat):
    mx = estimate("Llama-3.1-8B", "H100", quant="fp8", engine="trtllm", input_len=1000, output_len=500, catalog=cat)
    low = estimate("Llama-3.1-8B", "H100", quant="fp8", engine="trtllm", input_len=1000, output_len=500, concurrency=4, catalog=cat)
    assert low.output_tokens_per_s < mx.output_tokens_per_s
    assert low.tpot_s.mean < mx.tpot_s.mean
    r = estimate("Llama-3.1-8B", "H100", quant="fp8", engine="trtllm", input_len=1000, output_len=500, rate=mx.requests_per_s * 0.5, catalog=cat)
    assert not r.saturated and r.requests_per_s == pytest.approx(mx.requests_per_s * 0.5)
    over = estimate("Llama-3.1-8B", "H100", quant="fp8", engine="trtllm", input_len=1000, output_len=500, rate=mx.requests_per_s * 2, catalog=cat)
    assert over.saturated and over.ttft_s.mean is None


def test_encoder_only_models_are_prefill_only(cat):
    r = estimate("BAAI/bge-m3", "L40S", quant="fp16", input_len=512, output_len=0, catalog=cat)
    assert r.output_tokens_per_s == 0 and r.requests_per_s > 0
    assert r.tpot_s.mean is None and r.ttft_s.mean > 0


def test_prefix_cache_and_speculative_decoding(cat):
    base = dict(quant="fp8", engine="vllm", input_len=4000, output_len=200, concurrency=16, catalog=cat)
    a = estimate("Llama-3.1-8B", "H100", **base)
    b = estimate("Llama-3.1-8B", "H100", prefix_cache_hit_rate=0.8, **base)
    assert b.ttft_s.mean < a.ttft_s.mean and b.output_tokens_per_s > a.output_tokens_per_s
    s = estimate("Llama-3.1-8B", "H100", speculative={"draft_tokens": 3, "acceptance": 0.7, "draft_cost": 0.1}, **base)
    assert s.tpot_s.mean < a.tpot_s.mean
    with pytest.raises(DeployscopeError):
        estimate("Llama-3.1-8B", "H100", speculative={"draft_tokens": 0, "acceptance": 0.7}, **base)


def test_max_throughput_points_vectorized_matches_estimate(cat):
    tp = np.array([1, 2, 4, 8])
    pts = max_throughput_points("Llama-3.1-70B", "H200", tp=tp, input_len=2048, output_len=2048, quant="fp8", engine="trtllm", catalog=cat)
    for i, t in enumerate(tp):
        if not pts["fits"][i]:
            continue
        r = estimate("Llama-3.1-70B", "H200", tp=int(t), quant="fp8", engine="trtllm", input_len=2048, output_len=2048, catalog=cat)
        assert pts["output_tokens_per_s"][i] == pytest.approx(r.output_tokens_per_s, rel=1e-9)
        assert pts["tpot_s"][i] == pytest.approx(r.tpot_s.mean, rel=1e-9)
    grid = max_throughput_points("Llama-3.1-8B", "H100", tp=1, input_len=np.array([[128], [2048]]), output_len=np.array([128, 1024, 4096]), quant="fp8", catalog=cat)
    assert grid["output_tokens_per_s"].shape == (2, 3)


def test_capacity_meeting_slo(cat):
    kw = dict(quant="fp8", engine="trtllm", input_len=1000, output_len=300, catalog=cat)
    loose = capacity_meeting_slo("Llama-3.1-8B", "H100", ttft_p95_s=2.0, tpot_p95_s=0.1, **kw)
    tight = capacity_meeting_slo("Llama-3.1-8B", "H100", ttft_p95_s=0.3, tpot_p95_s=0.02, **kw)
    assert loose.load_mode == "slo" and loose.requests_per_s > tight.requests_per_s > 0
    assert tight.tpot_s.mean <= 0.02 and tight.ttft_s.p95 <= 0.3
    with pytest.raises(DeployscopeError):
        capacity_meeting_slo("Llama-3.1-70B", "H100", tp=4, ttft_p95_s=0.001, tpot_p95_s=0.001, **kw)
    more = capacity_meeting_slo("Llama-3.1-8B", "H100", gpus=4, ttft_p95_s=0.3, tpot_p95_s=0.02, **kw)
    assert more.requests_per_s >= 3.99 * tight.requests_per_s


def test_des_agrees_with_the_analytical_path(cat):
    ctx = serving.context("Llama-3.1-70B", "H100", quant="bf16", engine="trtllm", catalog=cat)
    mx = estimate("Llama-3.1-70B", "H100", tp=4, quant="bf16", engine="trtllm", input_len=467, output_len=256, catalog=cat)
    rate = 0.5 * mx.requests_per_s
    a = estimate("Llama-3.1-70B", "H100", tp=4, quant="bf16", engine="trtllm", input_len=467, output_len=256, rate=rate, catalog=cat)
    s = simulate(ctx=ctx, tp=4, input_len=467, output_len=256, rate=rate, num_requests=400, seed=1)
    assert s.requests == 400
    assert s.output_tokens_per_s == pytest.approx(rate * 256, rel=0.15)
    assert s.tpot_s.mean == pytest.approx(a.tpot_s.mean, rel=0.15)
    assert s.ttft_s.p99 >= s.ttft_s.p50 >= 0
    # all at once: the queue drains at the max-throughput rate
    burst = simulate(ctx=ctx, tp=4, input_len=467, output_len=256, rate=None, num_requests=300)
    assert burst.ttft_s.mean > s.ttft_s.mean
    # a closed loop never holds more than its clients
    closed = simulate(ctx=ctx, tp=4, input_len=467, output_len=256, concurrency=8, num_requests=64)
    assert closed.requests == 64 and closed.mean_batch <= 8 + 1e-9


def test_calibration_profiles(cat, tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYSCOPE_DATA_DIR", str(tmp_path))
    prof = CalibrationProfile.model_validate(
        {"name": "lab", "source": "bench runs 1-3", "as_of": "2026-11-20", "factors": [{"engine": "vllm", "family": "hopper", "compute": 0.5, "bandwidth": 0.5, "overhead": 2.0}]}
    )
    path = save_calibration(prof)
    assert path.exists() and load_calibration("lab") == prof
    base = estimate("Llama-3.1-8B", "H100", quant="fp8", input_len=500, output_len=500, catalog=cat)
    cal = estimate("Llama-3.1-8B", "H100", quant="fp8", input_len=500, output_len=500, calibration="lab", catalog=cat)
    assert cal.output_tokens_per_s < base.output_tokens_per_s
    assert cal.provenance["calibration"]["name"] == "lab"
    # a profile without a matching factor row is reported, not applied
    other = estimate("Llama-3.1-8B", "A100", quant="bf16", input_len=500, output_len=500, calibration="lab", catalog=cat)
    assert other.provenance["calibration"]["applied"] is None
    with pytest.raises(DeployscopeError):
        load_calibration("missing")
    (tmp_path / "calibrations" / "bad.yaml").write_text("name: bad\nfactors: []\n")
    with pytest.raises(DeployscopeError):
        load_calibration("bad")


def test_pipeline_parallel_replica(cat):
    r = estimate("Llama-3.1-70B", "L40S", tp=2, pp=2, quant="fp8", engine="trtllm", input_len=500, output_len=500, catalog=cat)
    assert r.gpus_per_replica == 4 and r.output_tokens_per_s > 0 and math.isfinite(r.ttft_s.mean)


def test_expert_parallel_replica(cat):
    r = estimate("Mixtral-8x7B", "H100", tp=2, ep=4, quant="fp8", engine="vllm", input_len=500, output_len=500, catalog=cat)
    assert r.gpus_per_replica == 4 and r.output_tokens_per_s > 0


def test_estimate_can_take_percentiles_from_the_simulation(cat):
    kw = dict(tp=4, quant="bf16", engine="trtllm", input_len=467, output_len=256, catalog=cat)
    a = estimate("Llama-3.1-70B", "H100", rate=6.0, **kw)
    s = estimate("Llama-3.1-70B", "H100", rate=6.0, simulate_requests=300, **kw)
    assert s.provenance["latency_percentiles"] == "discrete-event simulation"
    assert s.provenance["simulation"]["requests"] == 300
    assert s.tpot_s.p99 >= s.tpot_s.p50 > 0
    assert s.tpot_s.mean == pytest.approx(a.tpot_s.mean, rel=0.3)
    assert s.output_tokens_per_s == a.output_tokens_per_s  # throughput stays the offered load
    with pytest.raises(DeployscopeError):
        estimate("Llama-3.1-70B", "H100", rate=6.0, simulate_requests=0, **kw)


@pytest.mark.parametrize(
    "model,gpu,tp,quant,engine,I,O",
    [
        ("Llama-3.1-70B", "H100", 4, "bf16", "trtllm", 467, 256),
        ("Llama-3.1-8B", "H100", 1, "fp8", "vllm", 8192, 256),
        ("Llama-3.1-8B", "H100", 1, "fp8", "trtllm", 2000, 500),
        ("Llama-3.1-70B", "H100", 4, "fp8", "vllm", 1000, 300),
    ],
)
@pytest.mark.parametrize("load", [0.3, 0.5, 0.7])
def test_des_and_analytic_agree_on_mean_tpot_at_moderate_load(cat, model, gpu, tp, quant, engine, I, O, load):
    """The mean-field step mix (prefill-carrying and decode-only steps) and the request-by-request
    simulation agree within 15 % on mean TPOT, warm-up left out."""
    kw = dict(tp=tp, quant=quant, engine=engine, input_len=I, output_len=O, catalog=cat)
    mx = estimate(model, gpu, **kw)
    a = estimate(model, gpu, rate=load * mx.requests_per_s, **kw)
    ctx = serving.context(model, gpu, quant=quant, engine=engine, catalog=cat)
    s = simulate(ctx=ctx, tp=tp, input_len=I, output_len=O, rate=load * mx.requests_per_s, num_requests=600, seed=0, warmup=0.1)
    assert s.counted_requests < s.requests == 600
    assert s.tpot_s.mean == pytest.approx(a.tpot_s.mean, rel=0.15)


def test_des_chunks_a_prompt_at_the_step_limit_and_stays_finite_past_saturation(cat):
    """An 8k prompt on an engine that does not chunk prompts is split when it cannot fit beside the
    running decodes (it does not wait for an empty batch); past capacity the queue grows but the
    figures stay finite."""
    kw = dict(quant="fp8", engine="trtllm", input_len=8192, output_len=256, catalog=cat)
    mx = estimate("Llama-3.1-8B", "H100", **kw)
    ctx = serving.context("Llama-3.1-8B", "H100", quant="fp8", engine="trtllm", catalog=cat)
    s = simulate(ctx=ctx, input_len=8192, output_len=256, rate=0.5 * mx.requests_per_s, num_requests=400, seed=0, warmup=0.1)
    assert s.ttft_s.mean < 2.0  # seconds, not minutes
    over = simulate(ctx=ctx, input_len=8192, output_len=256, rate=1.5 * mx.requests_per_s, num_requests=400, seed=0)
    assert over.ttft_s.mean is not None and math.isfinite(over.ttft_s.mean) and over.ttft_s.mean > s.ttft_s.mean


@settings(max_examples=30, deadline=None)
@given(
    load=st.floats(0.01, 0.98),
    I=st.sampled_from([128, 1000, 4000, 16000]),
    O=st.sampled_from([16, 200, 1000]),
    engine=st.sampled_from(["trtllm", "vllm"]),
    tpot=st.sampled_from([None, 0.05, 0.2]),
)
def test_ttft_at_a_rate_is_never_below_ttft_at_zero_load(cat, load, I, O, engine, tpot):
    ctx = serving.context("Llama-3.1-8B", "H100", quant="fp8", engine=engine, catalog=cat)
    b_max = float(serving.max_batch(ctx, I, O))
    zero = serving.rate_point(ctx, np.array([1e-9]), I, O, b_max=b_max, tpot_limit=tpot)
    cap = float(zero["capacity"])
    at = serving.rate_point(ctx, np.array([load * cap]), I, O, b_max=b_max, tpot_limit=tpot)
    for k in ("ttft_mean", "ttft_p50", "ttft_p90", "ttft_p99"):
        assert at[k][0] >= zero[k][0] * (1 - 1e-9), k
    # with a TPOT limit the engine runs the largest batch that meets it
    if tpot is not None and float(zero["tpot"][0]) <= tpot:
        assert at["tpot"][0] <= tpot * (1 + 1e-9)


def test_slo_capacity_runs_the_largest_batch_meeting_the_tpot_limit(cat):
    r = capacity_meeting_slo("Llama-3.1-8B", "H100", quant="fp8", engine="trtllm", input_len=1000, output_len=300,
                             ttft_p95_s=5.0, tpot_p95_s=0.03, catalog=cat)
    ctx = serving.context("Llama-3.1-8B", "H100", quant="fp8", engine="trtllm", catalog=cat)
    b = serving.batch_meeting_tpot(ctx, 0.03, 1000, 300, b_max=r.max_batch_size)
    assert r.batch_size == pytest.approx(min(b, r.max_batch_size))
    assert r.tpot_s.mean <= 0.03 and float(serving.steady_state(ctx, b + 1, 1000, 300)["tpot"]) > 0.03 or b == r.max_batch_size


def test_simulation_evicts_and_recomputes_when_the_kv_pool_runs_out(cat):
    """An engine that allocates KV as tokens arrive (vLLM) admits by the prompt alone; when the
    held KV outgrows the pool it evicts the newest sequences and recomputes them later. Every
    request still completes with all its tokens, and an engine that reserves the final length
    up front (TensorRT-LLM) never evicts."""
    kw = dict(tp=1, input_len=2000, output_len=500, rate=None, num_requests=200, seed=0, catalog=cat)
    kv = float(serving.memory_budget(serving.context("Qwen3-32B", "H100", quant="bf16", engine="vllm", catalog=cat), 1, 1, 1)
               ["kv_capacity_tokens"])
    assert kv < 200 * 2500  # the burst does not fit at once
    v = simulate("Qwen3-32B", "H100", quant="bf16", engine="vllm", **kw)
    t = simulate("Qwen3-32B", "H100", quant="bf16", engine="trtllm", **kw)
    assert v.preemptions > 0 and t.preemptions == 0
    for r in (v, t):
        assert r.requests == 200
        assert r.output_tokens_per_s * r.duration_s == pytest.approx(200 * 500, rel=1e-9)
        assert r.tpot_s.mean is not None and r.tpot_s.mean > 0
