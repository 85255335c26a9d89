"""SGLang's prefill-first scheduler (no prefill chunks mixed into decode steps) and the KV format a row states."""

from __future__ import annotations

import dataclasses

import pytest

from deployscope.catalog import Catalog
from deployscope.physics import llm
from deployscope.physics.serving import context, simulate
from deployscope.validate.llm_rows import formats


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
