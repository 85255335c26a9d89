"""First-principles checks of the step cost model (physics/llm.py, physics/comm.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope.catalog import Catalog
from deployscope.catalog.efficiency import lookup
from deployscope.errors import DeployscopeError
from deployscope.physics import comm, llm
from deployscope.physics.serving import context, max_batch, steady_state
from physics_bounds import decode_weight_read_s


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog()


DENSE = ["Llama-3.1-8B", "Llama-3.1-70B", "Mistral-7B", "GPT-J-6B"]
MOE = ["Mixtral-8x7B", "Mixtral-8x22B"]


@pytest.mark.parametrize("model", DENSE + MOE)
@pytest.mark.parametrize("gpu", ["H100", "A100", "L40S", "MI300X", "B200"])
@pytest.mark.parametrize("quant", ["bf16", "fp8"])
def test_batch1_decode_never_beats_bytes_over_bandwidth(cat, model, gpu, quant):
    """One decode step at batch 1 reads at least the weights it uses (active experts only for
    MoE) plus the KV of its context; it cannot take less than those bytes / datasheet bandwidth."""
    ctx = context(model, gpu, quant=quant, engine="vllm", catalog=cat)
    for tp in (1, 2, 4, 8):
        if ctx.model.transformer.num_attention_heads % tp:
            continue
        for c in (0.0, 1000.0, 8000.0):
            t = float(llm.step_cost(ctx.shape, ctx.hw, decode_tokens=1, decode_ctx=c, tp=tp)["time"])
            floor = llm.decode_floor_seconds(ctx.shape, ctx.gpu.memory_bandwidth_bytes_per_s, tp=tp, ctx=c)
            assert t >= floor * (1 - 1e-9), (model, gpu, quant, tp, c, t, floor)


def test_moe_floor_counts_active_experts_only(cat):
    ctx = context("Mixtral-8x7B", "H100", quant="bf16", catalog=cat)
    s = ctx.shape
    floor = llm.decode_floor_seconds(s, 1.0)
    all_experts = s.total_weight_bytes
    # top-2 of 8 experts: the floor reads far less than all weights, more than the dense part
    assert floor < 0.5 * all_experts
    assert floor > (s.attn_params + s.moe_layers * 2 * s.expert_params) * s.weight_bytes_per_param


@given(st.integers(1, 5000), st.integers(1, 5000))
def test_distinct_experts_bounds(t1, t2):
    lo, hi = sorted((t1, t2))
    a = float(llm.distinct_experts(8, 2, lo))
    b = float(llm.distinct_experts(8, 2, hi))
    assert 2 - 1e-9 <= a <= b <= 8 + 1e-9


def test_fp8_beats_bf16_memory_bound_decode_on_hopper(cat):
    for gpu in ("H100", "H200"):
        for model in ("Llama-3.1-8B", "Llama-3.1-70B"):
            tp = 1 if "8B" in model else 4
            t = {}
            for q in ("bf16", "fp8"):
                ctx = context(model, gpu, quant=q, engine="trtllm", catalog=cat)
                t[q] = float(llm.step_cost(ctx.shape, ctx.hw, decode_tokens=1, decode_ctx=512, tp=tp)["time"])
            assert t["fp8"] < t["bf16"], (gpu, model, t)


def test_fp8_on_ampere_gets_no_native_rate_and_pays_dequantization(cat):
    ctx = context("Llama-3.1-8B", "A100", quant="fp8", catalog=cat)
    assert ctx.hw.dequant and ctx.hw.provenance["native"] is False
    assert ctx.hw.peak_gemm_flops == ctx.gpu.peak_flops("bf16")
    hopper = context("Llama-3.1-8B", "H100", quant="fp8", catalog=cat)
    assert hopper.hw.peak_gemm_flops == hopper.gpu.peak_flops("fp8") and not hopper.hw.dequant


@settings(max_examples=60, deadline=None)
@given(
    d=st.floats(0, 4096),
    p=st.floats(0, 8192),
    dctx=st.floats(0, 30000),
    pctx=st.floats(0, 10000),
    seqs=st.floats(0, 4),
    tp=st.sampled_from([1, 2, 4, 8]),
    model=st.sampled_from(["Llama-3.1-8B", "Mixtral-8x7B", "Mistral-7B", "Qwen3-235B-A22B", "DeepSeek-R1"]),
    engine=st.sampled_from(["trtllm", "vllm", "sglang"]),
)
def test_scalar_step_matches_vectorized(cat, d, p, dctx, pctx, seqs, tp, model, engine):
    ctx = context(model, "H100", quant="fp8", engine=engine, catalog=cat)
    ep = 2 if model.startswith(("Mixtral", "Qwen3", "DeepSeek")) and tp >= 2 else 1
    f = llm.scalar_step_fn(ctx.shape, ctx.hw, tp, 1, ep)
    a = f(d, p, dctx, pctx, seqs)
    b = float(llm.step_cost(ctx.shape, ctx.hw, decode_tokens=d, prefill_tokens=p, decode_ctx=dctx, prefill_ctx=pctx, prefill_seqs=seqs, tp=tp, ep=ep)["time"])
    assert a == pytest.approx(b, rel=1e-9, abs=1e-15)


def test_mla_down_projections_are_replicated_under_tensor_parallelism(cat):
    """MLA's q_a and kv_a projections (hidden -> 1536 and hidden -> 512 + 64 on DeepSeek-R1) are
    whole on every tensor-parallel GPU: a prefill at TP8 costs each GPU an eighth of the TP1 FLOPs
    plus seven eighths of those projections, and nothing else changes share."""
    ctx = context("DeepSeek-R1", "H200", quant="fp8", engine="vllm", catalog=cat)
    rep = 61 * 7168 * (1536 + 512 + 64)
    assert ctx.shape.tp_replicated_params == rep
    T = 4096.0
    f1, f8 = (float(llm.step_cost(ctx.shape, ctx.hw, decode_tokens=0.0, prefill_tokens=T, prefill_ctx=T / 2,
                                  prefill_seqs=1.0, tp=tp)["flops"]) for tp in (1, 8))
    assert f8 - f1 / 8 == pytest.approx(2.0 * T * rep * 7 / 8, rel=1e-9)
    dense = context("Llama-3.1-70B", "H200", quant="fp8", engine="vllm", catalog=cat)
    assert dense.shape.tp_replicated_params == 0.0


def test_step_cost_vectorizes(cat):
    ctx = context("Llama-3.1-70B", "H200", quant="fp8", engine="trtllm", catalog=cat)
    B = np.array([1, 8, 64, 512])
    out = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=B, decode_ctx=1000, tp=np.array([[1], [8]]))
    assert out["time"].shape == (2, 4)
    assert np.all(np.diff(out["time"], axis=1) > 0)  # more work per step takes longer


def test_comm_zero_without_parallelism_and_grows_with_message():
    assert float(comm.tp_allreduce_time(1e6, 1, 10, 450e9, 5e-6, 8, 50e9)) == 0.0
    a = float(comm.tp_allreduce_time(1e6, 8, 1, 450e9, 5e-6, 8, 50e9))
    b = float(comm.tp_allreduce_time(1e7, 8, 1, 450e9, 5e-6, 8, 50e9))
    assert 0 < a < b
    # leaving the NVLink domain falls back to the (slower) scale-out network
    c = float(comm.tp_allreduce_time(1e7, 16, 1, 450e9, 5e-6, 8, 50e9))
    assert c > b
    assert float(comm.ep_alltoall_time(1e6, 1, 32, 450e9, 5e-6, 8, 50e9)) == 0.0
    assert float(comm.pp_bubble_fraction(4, 4)) == pytest.approx(3 / 7)


def test_efficiency_rows_have_provenance(cat):
    for row in cat.efficiency:
        assert row.source and row.as_of
        if row.fitted_on:
            assert row.fitted_by
    hop = lookup(cat.efficiency, "hopper", "trtllm")
    assert hop.family == "hopper" and hop.fitted_on
    # a family no row covers falls back to the default row
    assert lookup(cat.efficiency, "no-such-family", "vllm").family == "*"


def test_throughput_rises_with_batch_until_the_cap(cat):
    ctx = context("Llama-3.1-8B", "H100", quant="fp8", engine="trtllm", catalog=cat)
    cap = float(max_batch(ctx, 1000, 1000))
    B = np.unique(np.geomspace(1, cap, 40).round())
    thr = steady_state(ctx, B, 1000, 1000)["tokens_per_s"]
    assert np.all(np.diff(thr) > 0)
    # per-token latency grows with the batch (the price of the throughput)
    tpot = steady_state(ctx, B, 1000, 1000)["tpot"]
    assert np.all(np.diff(tpot) >= 0)


def test_attention_data_parallel_shares_the_sequences(cat):
    """With ep > tp the replica has ep / tp attention groups: each GPU runs the dense layers and
    attention for its group's share of the tokens, while the routed experts see every token."""
    from deployscope.physics.serving import context

    ctx = context("Mixtral-8x7B", "H100", quant="fp8", engine="vllm", catalog=cat)
    one = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=64, decode_ctx=1000, tp=1, ep=1)
    dp8 = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=8 * 64, decode_ctx=1000, tp=1, ep=8)
    assert float(dp8["attention"]) == pytest.approx(float(one["attention"]), rel=1e-9)
    f = llm.scalar_step_fn(ctx.shape, ctx.hw, 1, 1, 8)
    assert f(512.0, 300.0, 1000.0, 150.0, 2.0) == pytest.approx(
        float(llm.step_cost(ctx.shape, ctx.hw, decode_tokens=512, prefill_tokens=300, decode_ctx=1000, prefill_ctx=150,
                            prefill_seqs=2, tp=1, ep=8)["time"]), rel=1e-9)


def test_moe_layout_choice_takes_data_parallel_attention_with_expert_parallel(cat):
    """DeepSeek-V3's MLA latent is replicated over tensor parallelism, so on 8 GPUs the engines'
    documented layout (attention data parallel + expert parallel) serves more than tp = 8."""
    from deployscope.physics.serving import choose_parallelism, context

    ctx = context("DeepSeek-V3", "H200", quant="fp8", engine="sglang", catalog=cat)
    assert choose_parallelism(ctx, 8, 1000, 1000) == (1, 1, 8)


def test_kv_heads_are_replicated_when_tp_exceeds_them(cat):
    """Llama-3.1-70B has 8 KV heads: at tp = 16 each GPU still holds one whole head, so the KV
    bytes per token per GPU stop falling at tp = 8."""
    from deployscope.physics.serving import context, memory_budget

    ctx = context("Llama-3.1-70B", "H100", quant="fp8", engine="trtllm", catalog=cat)
    per8 = float(memory_budget(ctx, 8)["kv_bytes_per_token_per_gpu"])
    per16 = float(memory_budget(ctx, 16)["kv_bytes_per_token_per_gpu"])
    assert per16 == pytest.approx(per8) and per8 < float(memory_budget(ctx, 4)["kv_bytes_per_token_per_gpu"])
    s8 = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=64, decode_ctx=4000, tp=8)
    s16 = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=64, decode_ctx=4000, tp=16)
    assert float(s16["attention"]) >= float(s8["attention"]) * 0.5  # KV reads per GPU do not halve again


@pytest.mark.parametrize("gpu", ["L40S", "RTX PRO 6000"])
@pytest.mark.parametrize("model,quant", [("Llama-3.1-8B", "bf16"), ("Llama-3.1-8B", "fp8"), ("Qwen2.5-7B", "bf16")])
def test_pipeline_parallel_over_pcie_never_scales_better_than_linear(cat, gpu, model, quant):
    """At a fixed load (the same sequences in flight), splitting a replica into k pipeline stages
    over PCIe gives at most k times the throughput: stages hand activations over the PCIe link."""
    from deployscope.physics.serving import estimate

    for conc in (1, 8, 64):
        base = estimate(model, gpu, quant=quant, engine="vllm", input_len=1000, output_len=500, concurrency=conc, catalog=cat)
        for k in (2, 4):
            r = estimate(model, gpu, pp=k, quant=quant, engine="vllm", input_len=1000, output_len=500, concurrency=conc, catalog=cat)
            assert r.output_tokens_per_s <= k * base.output_tokens_per_s * (1 + 1e-9), (conc, k)


@pytest.mark.parametrize("gpu", ["L40S", "H100"])
@pytest.mark.parametrize("input_len", [1000, 16000])
def test_pipeline_parallel_adds_a_bubble_at_low_batch(cat, gpu, input_len):
    """One sequence in flight fills one pipeline stage at a time: k stages cannot beat one GPU
    holding the whole model (the others idle), and a static batch's prefill pays the fill and
    drain of the pipeline, (pp - 1) / (microbatches + pp - 1) idle."""
    from deployscope.physics.serving import context, estimate, static_batch

    base = estimate("Llama-3.1-8B", gpu, quant="fp8", engine="vllm", input_len=input_len, output_len=200, concurrency=1, catalog=cat)
    c = context("Llama-3.1-8B", gpu, quant="fp8", engine="vllm", catalog=cat)
    for k in (2, 4):
        r = estimate("Llama-3.1-8B", gpu, pp=k, quant="fp8", engine="vllm", input_len=input_len, output_len=200, concurrency=1, catalog=cat)
        assert r.output_tokens_per_s <= base.output_tokens_per_s * (1 + 1e-9), k
        # a static batch of k prompts: k micro-batches through k stages take 2k - 1 stage slots
        one_stage = float(llm.step_cost(c.shape, c.hw, decode_tokens=0.0, prefill_tokens=float(input_len), prefill_ctx=input_len / 2.0,
                                        prefill_seqs=1.0, tp=1, pp=k)["time"])
        _, ttft = static_batch(c, float(k), float(input_len), 200.0, pp=k)
        assert ttft >= (2 * k - 1) * one_stage * (1 - 1e-9), k


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from(["Llama-3.1-8B", "Llama-3.1-70B", "Mixtral-8x7B", "Qwen3-30B-A3B"]),
    gpu=st.sampled_from(["B200", "GB200", "RTX PRO 6000"]),
    quant=st.sampled_from(["nvfp4", "mxfp4"]),
    batch=st.integers(1, 512),
    ctx=st.integers(0, 32000),
    tp=st.sampled_from([1, 2, 4, 8]),
)
def test_fp4_decode_on_blackwell_never_beats_weight_bytes_over_bandwidth(cat, model, gpu, quant, batch, ctx, tp):
    """A decode step reads at least the (FP4) weights its tokens touch once: no efficiency figure
    may make it faster than weight bytes per GPU / datasheet memory bandwidth."""
    from deployscope.physics.serving import context

    try:
        c = context(model, gpu, quant=quant, engine="trtllm" if quant == "nvfp4" else "vllm", catalog=cat)
    except DeployscopeError:
        return  # a format the engine does not serve
    if c.model.transformer.num_attention_heads % tp:
        return
    t = float(llm.step_cost(c.shape, c.hw, decode_tokens=batch, decode_ctx=ctx, tp=tp)["time"])
    assert t >= decode_weight_read_s(c, batch, tp) * (1 - 1e-9)


def test_host_time_per_sequence_adds_linearly_with_the_batch(cat):
    """Without an overlap scheduler (vLLM 0.9.1 - 0.13) the engine's host time per sampled sequence
    adds exactly (B2 - B1) x its value between two batches whose GPU work is the same
    (memory-bound decode, context 0, no KV read)."""
    base = context("Llama-3.1-8B", "H100", quant="fp8", engine="vllm", engine_version="0.11.0", catalog=cat)
    old = context("Llama-3.1-8B", "H100", quant="fp8", engine="vllm", engine_version="0.8.5", catalog=cat)
    s = base.hw.sequence_overhead_s
    assert s > 0 and old.hw.sequence_overhead_s == 0.0
    assert not base.hw.overlap_host and not old.hw.overlap_host
    t_new = llm.step_cost(base.shape, base.hw, decode_tokens=np.array([1.0, 64.0]))["time"]
    t_old = llm.step_cost(old.shape, old.hw, decode_tokens=np.array([1.0, 64.0]))["time"]
    assert (t_new - t_old) == pytest.approx([s, 64 * s], rel=1e-9)


def test_overlap_scheduler_hides_host_time_below_the_gpu_step(cat):
    """An engine that overlaps its host work with the GPU (SGLang by default, vLLM from 0.14) takes
    the longer of the two per step: the GPU time while the host time is shorter, the host time once
    it is longer, never their sum; the scalar step function of the simulator agrees."""
    from dataclasses import replace

    ctx = context("Llama-3.1-8B", "H100", quant="fp8", engine="sglang", catalog=cat)
    assert ctx.hw.overlap_host and cat.engines.get("sglang").perf.overlap_schedule
    assert context("Llama-3.1-8B", "H100", quant="fp8", engine="vllm", catalog=cat).hw.overlap_host
    assert not context("Llama-3.1-8B", "H100", quant="fp8", engine="trtllm", catalog=cat).hw.overlap_host
    gpu_only = replace(ctx.hw, sequence_overhead_s=0.0)
    batch = np.array([1.0, 64.0, 256.0])
    t_gpu = llm.step_cost(ctx.shape, gpu_only, decode_tokens=batch, decode_ctx=1000.0)["time"]
    for per_seq in (1e-6, 1e-4, 1e-2):
        hw = replace(ctx.hw, sequence_overhead_s=per_seq)
        t = llm.step_cost(ctx.shape, hw, decode_tokens=batch, decode_ctx=1000.0)["time"]
        assert t == pytest.approx(np.maximum(t_gpu, per_seq * batch), rel=1e-12)
        serial = llm.step_cost(ctx.shape, replace(hw, overlap_host=False), decode_tokens=batch, decode_ctx=1000.0)["time"]
        assert serial == pytest.approx(t_gpu + per_seq * batch, rel=1e-12)
        assert np.all(t <= serial) and np.all(t >= t_gpu)
        f = llm.scalar_step_fn(ctx.shape, hw)
        assert [f(b, 0.0, 1000.0, 0.0, 0.0) for b in batch] == pytest.approx(list(t), rel=1e-9)
    # hidden at a realistic host time: 64 sequences x 1.61e-5 s is far below the 8B step
    assert t_gpu[1] > 64 * ctx.hw.sequence_overhead_s


def test_batch_dependent_layer_time_grows_with_the_sequences_and_saturates(cat):
    """The per-layer latency that grows with the step's sequences: zero extra at none, each added
    sequence adds less than the one before, and it never exceeds its full value per layer."""
    ctx = context("Llama-3.1-8B", "H100", quant="fp8", engine="trtllm", catalog=cat)
    hw = ctx.hw
    assert hw.layer_batch_overhead_s > 0 and hw.layer_batch_half_seqs > 0
    flat = replace(hw, layer_batch_overhead_s=0.0)
    n = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 512.0])
    kw = dict(decode_ctx=0.0)  # no KV read: the GPU work is the same memory-bound weight read
    extra = llm.step_cost(ctx.shape, hw, decode_tokens=n, **kw)["overhead"] - llm.step_cost(ctx.shape, flat, decode_tokens=n, **kw)["overhead"]
    full = hw.layer_batch_overhead_s * ctx.shape.layers
    assert np.all(extra > 0) and np.all(extra < full)
    assert extra == pytest.approx(full * n / (n + hw.layer_batch_half_seqs), rel=1e-9)
    per_seq = np.diff(extra) / np.diff(n)
    assert np.all(np.diff(per_seq) < 0)  # saturating: each added sequence costs less


@pytest.mark.parametrize("model,tp", [("Qwen3-235B-A22B", 8), ("DeepSeek-R1", 8), ("Mixtral-8x7B", 2)])
def test_grouped_expert_gemms_cost_per_layer_not_per_expert(cat, model, tp):
    """A layer's routed experts run as grouped GEMMs: at one decoding sequence the step reads the
    touched experts' weights and pays a launch per layer, so it stays within a small factor of its
    weight bytes over bandwidth however many experts the model has (128 and 256 experts here); and
    the expert compute at a large batch is at least the ideal 2 x rows x parameters (tile padding
    only adds)."""
    ctx = context(model, "H100" if model != "DeepSeek-R1" else "H200", quant="fp8", engine="vllm", catalog=cat)
    c = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=1.0, decode_ctx=512.0, tp=tp)
    floor = float(c["bytes"]) / (ctx.hw.mem_bandwidth * ctx.hw.bandwidth_eff)
    assert float(c["memory_time"]) >= floor * 0.999
    assert float(c["gemm"]) < 3.0 * float(c["memory_time"]) + 1e-3, (float(c["gemm"]), float(c["memory_time"]))
    T = 4096.0
    big = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=T, decode_ctx=512.0, tp=tp)
    s = ctx.shape
    ideal_expert = 2.0 * T * s.experts_per_token * s.moe_layers * s.expert_params / tp
    assert float(big["flops"]) >= ideal_expert


def test_expert_gemm_efficiency_slows_only_the_routed_experts_compute(cat):
    """The engine's expert_gemm_efficiency e divides the routed experts' GEMM time and nothing else:
    a compute-bound Mixtral prefill costs D + X / e (so the step at e = 1/4 is three times as far
    above e = 1 as the step at e = 1/2), a dense model's step and a batch-1 Mixtral decode (bound by
    reading the weights) do not move."""
    moe = context("Mixtral-8x7B", "H100", quant="fp8", engine="trtllm", catalog=cat)
    assert moe.hw.expert_gemm_eff < 1.0  # fitted below the dense efficiency (scripts/fit_expert_gemm.py)

    def compute(ctx, e, **load):  # noqa: ANN001, ANN003
        return float(llm.step_cost(ctx.shape, replace(ctx.hw, expert_gemm_eff=e), **load)["compute_time"])

    prefill = {"decode_tokens": 0.0, "prefill_tokens": 8192.0, "prefill_ctx": 4096.0, "prefill_seqs": 1.0}
    c1, c2, c4 = (compute(moe, e, **prefill) for e in (1.0, 0.5, 0.25))
    assert c4 - c1 == pytest.approx(3.0 * (c2 - c1), rel=1e-9) and c2 > c1
    dense = context("Llama-3.1-8B", "H100", quant="fp8", engine="trtllm", catalog=cat)
    assert compute(dense, 0.25, **prefill) == compute(dense, 1.0, **prefill)
    decode = {"decode_tokens": 1.0, "decode_ctx": 1000.0}
    t = [float(llm.step_cost(moe.shape, replace(moe.hw, expert_gemm_eff=e), **decode)["time"]) for e in (1.0, 0.5)]
    assert t[0] == t[1]
