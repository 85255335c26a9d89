"""SGLang's prefill-first scheduler (no prefill chunks mixed into decode steps) and the KV format a row states."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope.catalog import Catalog
from deployscope.physics import batching, llm
from deployscope.physics.serving import context, simulate
from deployscope.physics.serving_context import memory_budget
from deployscope.validate.llm_rows import formats, variable_lengths


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog()


def _with_mixing(ctx, mixed: bool):  # noqa: ANN001, ANN202
    eng = ctx.engine.model_copy(update={"perf": ctx.engine.perf.model_copy(update={"mixed_prefill": mixed})})
    return dataclasses.replace(ctx, engine=eng)


def test_sglang_runs_prefill_first_without_mixing(cat):
    ctx = context("Qwen/Qwen3-32B", "H100", quant="bf16", engine="sglang", catalog=cat)
    assert ctx.engine.perf.mixed_prefill is False  # enable_mixed_chunk is off by default
    assert context("Llama-3.1-8B", "H100", engine="vllm", catalog=cat).engine.perf.mixed_prefill is True


@pytest.mark.parametrize("n", [1, 40, 300])
def test_prefill_first_scheduler_keeps_every_token_and_front_loads_first_tokens(cat, n):
    ctx = context("Qwen/Qwen3-235B-A22B", "H100", quant="bf16", engine="sglang", catalog=cat)
    runs = {m: simulate(ctx=_with_mixing(ctx, m), tp=8, input_len=600, output_len=50, rate=None, num_requests=n) for m in (True, False)}
    for r in runs.values():
        assert r.requests == n and r.counted_requests == n
        assert r.output_tokens_per_s * r.duration_s == pytest.approx(50 * n)
    # prompts take whole steps of their own: the last first token comes no later than when mixed
    assert runs[False].ttft_s.p99 <= runs[True].ttft_s.p99 * (1 + 1e-9)
    if n == 1:  # one request: nothing to mix, the two schedules are the same
        assert runs[False].tpot_s.mean == pytest.approx(runs[True].tpot_s.mean)
        assert runs[False].ttft_s.mean == pytest.approx(runs[True].ttft_s.mean)


def test_prefill_first_pauses_decodes_while_prompts_wait(cat):
    """Two waves of prompts: under prefill-first the first wave's decodes stop for the second wave's
    prefill, so its time per output token includes those steps (and exceeds a pure decode step)."""
    ctx = _with_mixing(context("Qwen/Qwen3-235B-A22B", "H100", quant="bf16", engine="sglang", catalog=cat), False)
    r = simulate(ctx=ctx, tp=8, input_len=4000, output_len=20, rate=None, num_requests=16)
    decode_only = llm.scalar_step_fn(ctx.shape, ctx.hw, 8, 1, 1)(16.0, 0.0, 4010.0, 0.0, 0.0)
    assert r.tpot_s.p99 > decode_only


def test_a_stated_kv_component_sets_the_kv_format():
    assert formats("fp8 (weights) + bf16 (KV cache)", "sglang", "nvidia") == ("fp8", "bf16")
    assert formats("fp8", "sglang", "nvidia") == ("fp8", "fp8")
    assert formats("fp8 (matmul/dispatch) + bf16 (MLA/combine)", "trtllm", "nvidia") == ("fp8", "fp8")


def test_prefill_first_gives_a_waiting_prompt_the_whole_step(cat):
    """Two prompts of exactly one step budget (8,192 tokens), 10 output tokens each. Prefill first:
    A's prefill, B's prefill (A paused), then 9 decode steps - 11 steps, and B's first token after
    the second step. Mixed: B's chunk shares step 2 with A's decode, so one token of B is left for
    step 3 - B's first token is later and the run takes one step more."""
    base = context("Qwen/Qwen3-32B", "H100", quant="bf16", engine="sglang", catalog=cat)
    budget = float(base.engine.perf.max_num_tokens)
    runs = {m: simulate(ctx=_with_mixing(base, m), input_len=budget, output_len=10, rate=None, num_requests=2) for m in (True, False)}
    assert runs[False].steps == 11 and runs[True].steps == 12
    assert runs[False].ttft_s.p99 < runs[True].ttft_s.p99


def _with_reservation(ctx, mode: str):  # noqa: ANN001, ANN202
    eng = ctx.engine.model_copy(update={"perf": ctx.engine.perf.model_copy(update={"kv_reservation": mode})})
    return dataclasses.replace(ctx, engine=eng)


def test_sglang_admission_reserves_the_decaying_ratio_of_the_remaining_output(cat):
    """Steady state: new_token_ratio at its floor 0.7 x 0.14 of the remaining output (mean O/2),
    on top of the KV the sequence holds (I + O/2): between page-as-you-go and whole-output reservation."""
    ctx = context("Qwen/Qwen3-32B", "H100", quant="bf16", engine="sglang", catalog=cat)
    nt = ctx.engine.perf.new_token_ratio
    assert (nt.init, nt.min_factor, nt.decay_steps, nt.retract_decode_steps, nt.clip_max_new_tokens) == (0.7, 0.14, 600, 20, 4096)
    kv = 1_000_000.0
    got = {m: float(batching.max_batch(_with_reservation(ctx, m), 1000, 400, kv_tokens=kv, engine_cap=False))
           for m in ("full", "average", "decaying")}
    assert got["decaying"] == float(int(kv / (1000 + 200 + 0.098 * 200)))
    assert got["full"] < got["decaying"] < got["average"]
    # outputs beyond the clip are estimated at most 4,096 tokens
    long = float(batching.decaying_reservation(ctx, 100_000))
    assert long == pytest.approx(0.098 * (4096 - 4096**2 / 200_000))


def test_sglang_burst_admits_between_the_two_bounds_and_keeps_every_token(cat):
    ctx = context("Qwen/Qwen3-32B", "H100", quant="bf16", engine="sglang", catalog=cat)
    I, O = variable_lengths(217.4, 201.8, 600)
    runs = {m: simulate(ctx=_with_reservation(ctx, m), input_len=I, output_len=O, rate=None, num_requests=600)
            for m in ("full", "decaying", "average")}
    for r in runs.values():
        assert r.requests == 600
        assert r.output_tokens_per_s * r.duration_s == pytest.approx(float(np.round(O).sum()))
    assert runs["full"].mean_batch < runs["decaying"].mean_batch <= runs["average"].mean_batch * 1.02


def test_sglang_retracts_when_decodes_outgrow_the_pool(cat):
    """Long outputs on a small pool: the decaying ratio lets the batch outgrow the pool; the
    engine retracts and recomputes, and still finishes every request with all its tokens."""
    ctx = context("Qwen/Qwen3-32B", "H100", quant="bf16", engine="sglang", catalog=cat)
    cap = float(memory_budget(ctx, 1, 1, 1)["kv_capacity_tokens"])
    n = 200
    out = max(50.0, round(cap / 40 / 1.2))  # ~40 sequences' worth of whole outputs fill the pool
    r = simulate(ctx=ctx, input_len=10, output_len=out, rate=None, num_requests=n)
    assert r.preemptions > 0
    assert r.requests == n and r.output_tokens_per_s * r.duration_s == pytest.approx(out * n)
    full = simulate(ctx=_with_reservation(ctx, "full"), input_len=10, output_len=out, rate=None, num_requests=n)
    assert full.preemptions == 0


def _with_intake_interval(ctx, steps: int):  # noqa: ANN001, ANN202
    eng = ctx.engine.model_copy(update={"perf": ctx.engine.perf.model_copy(update={"admission_interval_steps": steps})})
    return dataclasses.replace(ctx, engine=eng)


def test_a_request_intake_every_n_decode_steps_delays_first_tokens_only(cat):
    """SGLang --scheduler-recv-interval N: while sequences decode, new requests are taken in only
    every N decode steps, so under load a first token waits about (N - 1) / 2 more steps; the
    decodes themselves (TPOT) and the tokens delivered do not change."""
    base = context("Llama-3.1-8B", "H100", quant="bf16", engine="sglang", catalog=cat)
    lengths = [200.0 + 7.0 * (i % 17) for i in range(400)]  # staggered finishes: no lockstep waves
    runs = {n: simulate(ctx=_with_intake_interval(base, n), input_len=256, output_len=lengths, concurrency=16, num_requests=400)
            for n in (1, 10)}
    for r in runs.values():
        assert r.output_tokens_per_s * r.duration_s == pytest.approx(sum(lengths))
    tpot = runs[1].tpot_s.mean
    assert runs[10].tpot_s.mean == pytest.approx(tpot, rel=0.1)
    extra = runs[10].ttft_s.mean - runs[1].ttft_s.mean
    assert 2.5 * tpot < extra < 6.5 * tpot  # (10 - 1) / 2 = 4.5 steps, within a step's spread either way


def test_an_idle_scheduler_takes_a_request_in_at_once(cat):
    base = context("Llama-3.1-8B", "H100", quant="bf16", engine="sglang", catalog=cat)
    one = {n: simulate(ctx=_with_intake_interval(base, n), input_len=512, output_len=64, rate=None, num_requests=1) for n in (1, 30)}
    assert one[30].ttft_s.mean == pytest.approx(one[1].ttft_s.mean)
    # requests far apart (a trickle) find the scheduler idle too
    trickle = {n: simulate(ctx=_with_intake_interval(base, n), input_len=512, output_len=8, rate=0.01, num_requests=20) for n in (1, 30)}
    assert trickle[30].ttft_s.mean == pytest.approx(trickle[1].ttft_s.mean)


def test_the_rate_operating_point_waits_for_the_intake_like_the_simulation(cat):
    """The analytical path adds the same wait: half the interval of decode steps at a load that keeps
    sequences decoding, none at a trickle; TPOT and capacity are untouched."""
    base = context("Llama-3.1-8B", "H100", quant="bf16", engine="sglang", catalog=cat)
    b_max = 256.0
    pts = {n: batching.rate_point(_with_intake_interval(base, n), np.array([1e-4, 20.0]), 256.0, 256.0, b_max=b_max) for n in (1, 10)}
    assert np.allclose(pts[10]["tpot"], pts[1]["tpot"]) and pts[10]["capacity"] == pts[1]["capacity"]
    cycle = float(pts[1]["cycle"][1])
    assert float(pts[10]["ttft_mean"][1] - pts[1]["ttft_mean"][1]) == pytest.approx(4.5 * cycle, rel=1e-6)
    assert float(pts[10]["ttft_p99"][1]) > float(pts[1]["ttft_p99"][1])
    assert float(pts[10]["ttft_mean"][0]) == pytest.approx(float(pts[1]["ttft_mean"][0]), rel=1e-3)


@settings(max_examples=25, deadline=None)
@given(
    load=st.floats(0.0, 0.98),
    I=st.sampled_from([128, 1000, 8000]),
    O=st.sampled_from([16, 300, 1000]),
    tpot=st.sampled_from([None, 0.05]),
)
def test_a_longer_intake_interval_never_shortens_ttft_nor_touches_the_decodes(cat, load, I, O, tpot):
    """Property: at any load, taking requests in every 10 or 30 decode steps gives each TTFT figure at
    least the every-step value (and at a rate at least the zero-load value), with TPOT and capacity
    unchanged."""
    base = context("Llama-3.1-8B", "H100", quant="bf16", engine="sglang", catalog=cat)
    b_max = float(batching.max_batch(base, I, O))
    cap = float(batching.rate_point(base, np.array([1e-9]), I, O, b_max=b_max, tpot_limit=tpot)["capacity"])
    lam = np.array([max(load * cap, 1e-9)])
    pts = [batching.rate_point(_with_intake_interval(base, n), lam, I, O, b_max=b_max, tpot_limit=tpot) for n in (1, 10, 30)]
    zero = batching.rate_point(_with_intake_interval(base, 30), np.array([1e-9]), I, O, b_max=b_max, tpot_limit=tpot)
    for k in ("ttft_mean", "ttft_p50", "ttft_p90", "ttft_p95", "ttft_p99"):
        assert pts[0][k][0] <= pts[1][k][0] * (1 + 1e-9) and pts[1][k][0] <= pts[2][k][0] * (1 + 1e-9), k
        assert pts[2][k][0] >= zero[k][0] * (1 - 1e-9), k
    for p in pts[1:]:
        assert p["tpot"][0] == pytest.approx(pts[0]["tpot"][0]) and p["capacity"] == pytest.approx(pts[0]["capacity"])
