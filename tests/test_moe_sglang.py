"""Many-expert MoE under tensor parallelism, SGLang's prefill-first scheduler, and the rows that check them."""

from __future__ import annotations

import csv
import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope import validate
from deployscope.catalog import Catalog
from deployscope.physics import llm
from deployscope.physics.serving import context, simulate
from deployscope.validate.files import DEFAULT_FILES
from deployscope.validate.llm_rows import formats

UNSCORED = "A_llm_unscored.csv"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog()


@settings(max_examples=200, deadline=None)
@given(per_expert=st.floats(1e3, 1e13), experts=st.integers(1, 512), half=st.floats(1e8, 1e11))
def test_expert_gemm_size_lies_between_one_expert_and_the_whole_launch(per_expert, experts, half):
    per_launch = per_expert * experts
    size = float(llm.expert_gemm_size(per_expert, per_launch, half))
    assert per_expert * (1 - 1e-12) <= size <= per_launch * (1 + 1e-12)
    if per_expert >= half:  # an expert that alone reaches the half-efficiency size runs at its own size
        assert size == pytest.approx(per_expert)
    elif per_launch <= half:  # a launch smaller than that is one GEMM
        assert size == pytest.approx(per_launch)
    else:
        assert size == pytest.approx(half)


@pytest.mark.parametrize("model,gpu,quant,tp", [("Qwen/Qwen3-235B-A22B", "H100", "bf16", 8),
                                                ("Qwen/Qwen3-235B-A22B", "A100", "bf16", 8),
                                                ("deepseek-ai/DeepSeek-R1", "H200", "fp8", 8)])
@pytest.mark.parametrize("batch", [16, 64, 256])
def test_many_expert_decode_at_tp8_is_bound_by_weight_reads(cat, model, gpu, quant, tp, batch):
    """128 or 256 experts sliced over 8 GPUs: one grouped launch per GEMM per layer, so a decode step
    of a few hundred sequences reads the weights (memory-bound) instead of paying a launch per expert."""
    ctx = context(model, gpu, quant=quant, engine="sglang", catalog=cat)
    c = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=batch, decode_ctx=400, tp=tp)
    assert float(c["compute_time"]) < float(c["memory_time"])
    floor = llm.decode_floor_seconds(ctx.shape, ctx.gpu.memory_bandwidth_bytes_per_s, tp=tp)
    assert float(c["time"]) >= floor  # never faster than reading the touched weights at datasheet bandwidth
    assert float(c["gemm"]) < 3.0 * float(c["memory_time"])


@settings(max_examples=40, deadline=None)
@given(d=st.floats(0, 2048), p=st.floats(0, 8192), dctx=st.floats(0, 8000), seqs=st.floats(0, 4), ep=st.sampled_from([1, 8]))
def test_scalar_step_matches_vectorized_for_many_experts(cat, d, p, dctx, seqs, ep):
    ctx = context("Qwen/Qwen3-235B-A22B", "H100", quant="fp8", engine="sglang", catalog=cat)
    tp = 8 if ep == 1 else 1
    f = llm.scalar_step_fn(ctx.shape, ctx.hw, tp, 1, ep)
    a = f(d, p, dctx, dctx / 2, seqs)
    b = float(llm.step_cost(ctx.shape, ctx.hw, decode_tokens=d, prefill_tokens=p, decode_ctx=dctx, prefill_ctx=dctx / 2,
                            prefill_seqs=seqs, tp=tp, ep=ep)["time"])
    assert a == pytest.approx(b, rel=1e-9, abs=1e-15)


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


def test_unscored_rows_are_kept_out_of_scoring_and_documented():
    assert UNSCORED not in DEFAULT_FILES
    path = validate.VALIDATION_DIR / UNSCORED
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    assert rows and all("kept out of scoring" in r["notes"] for r in rows)
    doc = (validate.VALIDATION_DIR.parents[2] / "docs" / "validation.md").read_text(encoding="utf-8")
    assert UNSCORED in doc
    out = validate.run([path])  # still predicted on request (validate --data), so its error can be read
    assert len(out["predictions"]) == len(rows)
    assert all(p["predicted"] is not None and math.isfinite(p["predicted"]) for p in out["predictions"])


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
