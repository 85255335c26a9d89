"""Step cost of a transformer: FLOPs and bytes per operator group, turned into time by a roofline.

One *step* is one forward pass of the engine over a batch that holds ``decode_tokens`` sequences
each producing one token (reading ``decode_ctx`` tokens of KV cache on average) plus
``prefill_tokens`` prompt tokens being prefilled (attending ``prefill_ctx`` tokens on average).

Operator groups, per GPU of one replica (tensor parallel ``tp``, pipeline ``pp``, experts spread
over ``max(tp, ep)`` GPUs):

* **GEMMs** (QKV/O projections, dense MLP, shared experts, routed experts, LM head):
  FLOPs = 2 x tokens x active parameters; bytes = the weights read once per step. For a MoE layer
  the weights read are those of the distinct experts the step's tokens touch:
  ``E x (1 - (1 - k/E)^T)`` experts out of ``E`` for ``T`` tokens with ``k`` experts each. The
  routed experts' grouped GEMMs reach the engine's ``expert_gemm_efficiency`` of a dense GEMM's
  efficiency at the same size.
* **Attention**: FLOPs = 4 x heads x head_dim x (context attended) per token and layer; bytes = the
  KV cache of every decoding sequence, read once per step (``decode_ctx`` is the *average* context
  of the sequences in the batch: the in-flight-batching steady state reads each token's KV once
  per step, not the final length).
* **Communication**: tensor-parallel all-reduce (two per layer, one for parallel-attention
  models), expert-parallel all-to-all (dispatch + combine per MoE layer), pipeline send/recv
  (see :mod:`deployscope.physics.comm`).
* A fixed **engine overhead** per step (kernel launch, scheduling, sampling) and per layer, plus
  a per-layer latency that grows with the sequences in the step and saturates once they fill the
  kernels' tiles (``layer_batch_overhead_s x n / (n + layer_batch_half_seqs)``).

Each group takes ``max(FLOPs / (peak x efficiency), bytes / (bandwidth x efficiency))``; groups
add. GEMM efficiency depends on the tokens in the step (``e_max x T / (T + T_half)``, catalog data
per GPU family and engine). Quantization: weights are read at the format's bits; GEMMs run at
the format's compute dtype where the GPU family runs it natively, else at 16-bit with a
dequantization cost of ``dequant_flops_per_weight`` vector FLOPs per weight element per step.

Everything is numpy-vectorized: every argument may be an array (broadcast together).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import DeployscopeError
from . import comm
from .shape import tp_replicated_params

# 16-bit activations and embeddings: the dtype width is a definition, not a measurement.
ACT_BYTES = 2.0
# GEMM launches per layer: fused QKV and output projection (2) plus, for a dense MLP, fused
# gate/up and down projection (2); a layer's routed experts are 2 grouped launches (gate/up, down).
ATTN_GEMMS = 2.0
MLP_GEMMS = 2.0
EXPERT_GEMMS = 2.0
# Rows of one tile of a grouped (MoE) GEMM: the M extent of a Hopper warpgroup MMA (wgmma m64) and
# of the 64-row tiles fused-MoE kernels use at serving batch sizes; an expert's rows are computed
# in whole tiles.
EXPERT_TILE_ROWS = 64.0


def _dense_gemms(shape: "ModelShape") -> float:
    """Dense GEMM launches per step over all layers (attention projections, dense MLPs, shared experts)."""
    dense_mlp_layers = shape.layers - shape.moe_layers
    shared = shape.moe_layers if shape.shared_expert_params > 0 else 0
    return shape.layers * ATTN_GEMMS + (dense_mlp_layers + shared) * MLP_GEMMS
# Vector FLOPs to dequantize one weight element (convert + scale multiply) when the GPU has no
# native tensor-core path for the format: a count of instructions, not a fitted figure.
DEQUANT_FLOPS_PER_WEIGHT = 2.0


@dataclass(frozen=True)
class ModelShape:
    """The scalars of one model x weight format x KV format that the step cost needs (whole model)."""

    name: str
    hidden: int
    layers: int
    vocab: int
    heads: int
    kv_heads: int
    attn_params: float  # all layers: Q, K, V, O projections
    dense_mlp_params: float  # all dense-MLP layers
    shared_expert_params: float  # all MoE layers: shared experts + routers
    expert_params: float  # one routed expert of one MoE layer
    moe_layers: int
    num_experts: int
    experts_per_token: int
    embed_params: float
    lm_head_params: float  # vocab x hidden (computed even when tied)
    lm_head_tied: bool
    weight_bytes_per_param: float
    embed_bytes_per_param: float
    kv_bytes_per_token_layer: float  # one full-attention layer, one token (all KV heads / latent)
    kv_split_by_tp: bool  # GQA heads shard over TP; an MLA latent is replicated
    full_layers: int
    sliding_layers: int
    sliding_window: float
    attn_flops_per_ctx_decode: float  # per layer, per token, per context token
    attn_flops_per_ctx_prefill: float
    parallel_attention: bool
    encoder_only: bool
    gemm_dtype: str  # tensor-core dtype the GEMMs run in when native
    native_low_precision: tuple[str, ...]  # families that run gemm_dtype natively ("*" = all)
    weight_only: bool  # weights stored below the compute dtype and dequantized in the kernel
    quant: str = "bf16"
    kv_quant: str = "bf16"
    # weights every tensor-parallel GPU holds and multiplies whole (part of attn_params): MLA's
    # query and KV down-projections, which the engines replicate rather than split
    tp_replicated_params: float = 0.0
    mla_layers: int = 0  # layers with multi-head latent attention (DeepSeek-V3 family)

    @property
    def active_params(self) -> float:
        return (
            self.attn_params
            + self.dense_mlp_params
            + self.shared_expert_params
            + self.moe_layers * self.experts_per_token * self.expert_params
        )

    @property
    def total_weight_bytes(self) -> float:
        body = self.attn_params + self.dense_mlp_params + self.shared_expert_params
        body += self.moe_layers * self.num_experts * self.expert_params
        emb = self.embed_params + (0.0 if self.lm_head_tied else self.lm_head_params)
        return body * self.weight_bytes_per_param + emb * self.embed_bytes_per_param

    @property
    def kv_bytes_per_token(self) -> float:
        """KV bytes one token of context costs over all layers (sliding layers counted in full)."""
        return self.kv_bytes_per_token_layer * (self.full_layers + self.sliding_layers)


@dataclass(frozen=True)
class Hardware:
    """One GPU with the efficiency row and engine overhead applied (SI units)."""

    name: str
    family: str
    peak_gemm_flops: float  # dense, at the GEMM dtype actually used
    peak_attn_flops: float  # dense 16-bit
    peak_vector_flops: float  # fp32 non-tensor (dequantization)
    mem_bandwidth: float  # bytes/s, datasheet
    link_bandwidth: float  # bytes/s one direction, scale-up
    link_kind: str
    domain_size: int
    compute_eff: float
    half_eff_flops: float  # GEMM size (FLOP per GPU) at half of compute_eff
    bandwidth_eff: float
    attention_eff: float
    step_overhead_s: float
    collective_latency_s: float
    inter_node_bandwidth: float  # bytes/s one direction per GPU when a group leaves the domain
    dequant: bool = False
    layer_overhead_s: float = 0.0
    prefill_layer_overhead_s: float = 0.0
    prefill_mla_layer_overhead_s: float = 0.0  # extra per MLA layer in a step with a prefill (eager launches)
    request_overhead_s: float = 0.0
    first_wave_delay_s: float = 0.0  # a benchmark run's one-off wait on a fresh server (harness only, not a step cost)
    sequence_overhead_s: float = 0.0  # host time per sequence sampled in a step (scheduling, sampling, output)
    overlap_host: bool = False  # the engine runs that host time while the GPU runs the step (overlap scheduler)
    layer_batch_overhead_s: float = 0.0  # per-layer latency that grows with the step's sequences and saturates
    layer_batch_half_seqs: float = 1.0  # sequences at which it reaches half of layer_batch_overhead_s
    expert_gemm_eff: float = 1.0  # routed experts' grouped GEMMs: fraction of a dense GEMM's efficiency
    link_eff: float = 1.0
    provenance: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# building the shape and the hardware from catalog rows
# ----------------------------------------------------------------------------------------------


def model_shape(model, quant_row, kv_quant_row) -> ModelShape:  # noqa: ANN001 - catalog rows
    """Scalars of a catalog model for a weight format and a KV-cache format."""
    t = model.transformer
    if t is None:
        raise DeployscopeError(
            f"model {model.id!r} is a {model.modality} model; the LLM performance model needs a transformer",
            field="model",
            value=model.id,
        )
    h, L = t.hidden_size, t.num_layers
    nh, nkv, hd = t.num_attention_heads, t.num_kv_heads, t.head_dim
    if t.mla is not None:
        m = t.mla
        q_in = h * m.q_lora_rank + m.q_lora_rank * nh * (m.qk_nope_head_dim + m.qk_rope_head_dim) if m.q_lora_rank else h * nh * (
            m.qk_nope_head_dim + m.qk_rope_head_dim
        )
        kv_in = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank * nh * (m.qk_nope_head_dim + m.v_head_dim)
        attn_layer = q_in + kv_in + nh * m.v_head_dim * h
        kv_elems = m.kv_lora_rank + m.qk_rope_head_dim
        # absorbed decode: scores over the latent + rope part, values over the latent
        dec = 2 * nh * (m.kv_lora_rank + m.qk_rope_head_dim) + 2 * nh * m.kv_lora_rank
        pre = 2 * nh * (m.qk_nope_head_dim + m.qk_rope_head_dim) + 2 * nh * m.v_head_dim
        split = False
    else:
        attn_layer = h * nh * hd + 2 * h * nkv * hd + nh * hd * h
        kv_elems = 2 * nkv * hd
        dec = pre = 4 * nh * hd
        split = True
    replicated = tp_replicated_params(t)  # MLA q_a / kv_a: whole on every TP GPU (memory counts them the same way)
    mats = 3 if t.mlp == "gated" else 2
    moe_flags = t.moe_layers() if hasattr(t, "moe_layers") else _moe_layers(t)
    n_moe = sum(moe_flags)
    n_dense = L - n_moe
    dense_mlp = n_dense * mats * h * t.intermediate_size
    if t.moe is not None:
        e = t.moe
        expert = mats * h * e.expert_intermediate_size
        shared = n_moe * (e.shared_experts * expert + h * e.num_experts)
        n_exp, k = e.num_experts, e.experts_per_token
    else:
        expert, shared, n_exp, k = 0.0, 0.0, 1, 1
    kinds = t.layer_kinds()
    n_full = sum(1 for x in kinds if x == "full")
    n_slide = sum(1 for x in kinds if x == "sliding")
    kv_bits = (kv_quant_row.kv_bits or kv_quant_row.weight_bits) if kv_quant_row is not None else 16.0
    wbits = quant_row.weight_bits
    float_like = getattr(quant_row, "family", "float") != "gguf"
    embed_bytes = 2.0 if float_like and wbits < 16 else wbits / 8.0
    gemm_dtype = quant_row.compute_dtype
    weight_only = wbits < _dtype_bits(gemm_dtype) - 0.5
    return ModelShape(
        name=model.id,
        hidden=h,
        layers=L,
        vocab=t.vocab_size,
        heads=nh,
        kv_heads=nkv,
        attn_params=float(L * attn_layer),
        dense_mlp_params=float(dense_mlp),
        shared_expert_params=float(shared),
        expert_params=float(expert),
        moe_layers=n_moe,
        num_experts=n_exp,
        experts_per_token=k,
        embed_params=float(t.vocab_size * h),
        lm_head_params=float(t.vocab_size * h),
        lm_head_tied=bool(t.tie_word_embeddings),
        weight_bytes_per_param=wbits / 8.0,
        embed_bytes_per_param=embed_bytes,
        kv_bytes_per_token_layer=kv_elems * kv_bits / 8.0,
        kv_split_by_tp=split,
        full_layers=n_full,
        sliding_layers=n_slide,
        sliding_window=float(t.sliding_window or 0),
        attn_flops_per_ctx_decode=float(dec),
        attn_flops_per_ctx_prefill=float(pre),
        parallel_attention=bool(t.parallel_attention),
        encoder_only=bool(t.encoder_only),
        gemm_dtype=gemm_dtype,
        native_low_precision=tuple(quant_row.native_families),
        weight_only=weight_only,
        quant=quant_row.id,
        kv_quant=kv_quant_row.id if kv_quant_row is not None else "bf16",
        tp_replicated_params=float(replicated),
        mla_layers=L if t.mla is not None else 0,
    )


def _moe_layers(t) -> list[bool]:  # noqa: ANN001
    if t.moe is None:
        return [False] * t.num_layers
    d, f = t.moe.dense_layers, t.moe.layer_freq
    return [i >= d and (i - d + 1) % f == 0 for i in range(t.num_layers)]


def _dtype_bits(dtype: str) -> float:
    d = dtype.lower()
    for key, bits in (("fp4", 4), ("int4", 4), ("fp6", 6), ("fp8", 8), ("int8", 8), ("bf16", 16), ("fp16", 16), ("tf32", 32), ("fp32", 32)):
        if key in d:
            return float(bits)
    return 16.0


def gemm_runs_native(shape: ModelShape, family: str) -> bool:
    """Whether the GPU family runs the format's compute dtype on its tensor cores."""
    if _dtype_bits(shape.gemm_dtype) >= 16:
        return True
    return "*" in shape.native_low_precision or family in shape.native_low_precision


def hardware(gpu, shape: ModelShape, eff_row, engine_perf, *, comm_row=None) -> Hardware:  # noqa: ANN001
    """Hardware constants for a model's formats on a GPU, with an efficiency row applied."""
    native = gemm_runs_native(shape, gpu.family)
    gemm_dtype = shape.gemm_dtype if native else "bf16"
    peak = gpu.peak_flops(gemm_dtype)
    peak16 = gpu.peak_flops("bf16")
    vec = gpu.tflops.get("fp32", peak16 / 1e12 / 8) * 1e12
    weight_bits = shape.weight_bytes_per_param * 8
    dequant = (not native and weight_bits < 16) or (native and shape.weight_only)
    lat = comm_row.collective_latency_s if comm_row is not None else comm.DEFAULT_COLLECTIVE_LATENCY_S
    inter = comm_row.inter_node_gb_s * 1e9 / 2 if comm_row is not None else comm.DEFAULT_INTER_NODE_BYTES_PER_S
    return Hardware(
        name=gpu.id,
        family=gpu.family,
        peak_gemm_flops=peak,
        peak_attn_flops=peak16,
        peak_vector_flops=vec,
        mem_bandwidth=gpu.memory_bandwidth_bytes_per_s,
        link_bandwidth=gpu.link_bytes_per_s,
        link_kind=gpu.interconnect.kind,
        domain_size=gpu.interconnect.domain_size,
        compute_eff=eff_row.compute_efficiency,
        half_eff_flops=eff_row.half_efficiency_gflop * 1e9,
        link_eff=eff_row.link_efficiency,
        layer_overhead_s=engine_perf.layer_overhead_s if eff_row.layer_overhead_s is None else eff_row.layer_overhead_s,
        prefill_layer_overhead_s=engine_perf.prefill_layer_overhead_s,
        prefill_mla_layer_overhead_s=engine_perf.prefill_mla_layer_overhead_s,
        request_overhead_s=engine_perf.request_overhead_s,
        first_wave_delay_s=engine_perf.first_wave_delay_s if eff_row.first_wave_delay_s is None else eff_row.first_wave_delay_s,
        sequence_overhead_s=engine_perf.sequence_overhead_s,
        overlap_host=bool(engine_perf.overlap_schedule),
        layer_batch_overhead_s=engine_perf.layer_batch_overhead_s,
        layer_batch_half_seqs=engine_perf.layer_batch_half_seqs,
        expert_gemm_eff=engine_perf.expert_gemm_efficiency,
        bandwidth_eff=eff_row.bandwidth_efficiency,
        attention_eff=eff_row.attention_efficiency,
        step_overhead_s=engine_perf.step_overhead_s,
        collective_latency_s=lat,
        inter_node_bandwidth=inter,
        dequant=dequant,
        provenance={"gemm_dtype": gemm_dtype, "native": native, "efficiency_row": eff_row.id},
    )


def scaled(hw: Hardware, *, compute: float = 1.0, bandwidth: float = 1.0, overhead: float = 1.0) -> Hardware:
    """The same hardware with calibration factors applied (efficiencies capped at 1)."""
    return replace(
        hw,
        compute_eff=min(1.0, hw.compute_eff * compute),
        attention_eff=min(1.0, hw.attention_eff * compute),
        bandwidth_eff=min(1.0, hw.bandwidth_eff * bandwidth),
        step_overhead_s=hw.step_overhead_s * overhead,
        layer_overhead_s=hw.layer_overhead_s * overhead,
        prefill_layer_overhead_s=hw.prefill_layer_overhead_s * overhead,
        prefill_mla_layer_overhead_s=hw.prefill_mla_layer_overhead_s * overhead,
        request_overhead_s=hw.request_overhead_s * overhead,
        sequence_overhead_s=hw.sequence_overhead_s * overhead,
        layer_batch_overhead_s=hw.layer_batch_overhead_s * overhead,
    )


# ----------------------------------------------------------------------------------------------
# the step cost
# ----------------------------------------------------------------------------------------------


def distinct_experts(num_experts, experts_per_token, tokens):  # noqa: ANN001
    """Expected number of distinct experts that `tokens` tokens touch, each choosing k of E uniformly."""
    E = np.asarray(num_experts, dtype=float)
    k = np.asarray(experts_per_token, dtype=float)
    T = np.asarray(tokens, dtype=float)
    return E * (1.0 - np.power(np.clip(1.0 - k / E, 0.0, 1.0), T))


def _dense_per_gpu(shape: ModelShape, tp):  # noqa: ANN001, ANN202
    """Dense (non-routed) parameters one tensor-parallel GPU holds and multiplies: its 1/tp share,
    plus the whole of the replicated ones."""
    dense = shape.attn_params + shape.dense_mlp_params + shape.shared_expert_params
    return dense / tp + shape.tp_replicated_params * (1.0 - 1.0 / tp)


def per_gpu_weight_bytes(shape: ModelShape, tp, pp=1, ep=1):  # noqa: ANN001
    """Weight bytes one GPU holds (dense part split over tp, experts over max(tp, ep), layers over pp)."""
    tp = np.asarray(tp, dtype=float)
    ep = np.asarray(ep, dtype=float)
    pp = np.asarray(pp, dtype=float)
    body = _dense_per_gpu(shape, tp) * shape.weight_bytes_per_param
    experts = shape.moe_layers * shape.num_experts * shape.expert_params * shape.weight_bytes_per_param / np.maximum(tp, ep)
    emb = (shape.embed_params + (0.0 if shape.lm_head_tied else shape.lm_head_params)) * shape.embed_bytes_per_param / tp
    return (body + experts) / pp + emb / pp


def _ctx_layers(shape: ModelShape, ctx):  # noqa: ANN001
    """Sum over layers of the context each layer attends (sliding layers capped at the window)."""
    ctx = np.asarray(ctx, dtype=float)
    s = shape.full_layers * ctx
    if shape.sliding_layers:
        s = s + shape.sliding_layers * np.minimum(ctx, shape.sliding_window)
    return s


def step_cost(
    shape: ModelShape,
    hw: Hardware,
    *,
    decode_tokens,
    prefill_tokens=0.0,
    decode_ctx=0.0,
    prefill_ctx=0.0,
    prefill_seqs=0.0,
    tp=1,
    pp=1,
    ep=1,
) -> dict[str, np.ndarray]:
    """Time of one engine step on one pipeline stage, and its parts (seconds, per GPU).

    Returns ``time`` (the stage's step time, overhead included), ``gemm``, ``attention``, ``comm``,
    ``overhead``, ``compute_time`` / ``memory_time`` (the compute- and memory-side terms) and
    ``flops`` / ``bytes`` per GPU.
    """
    tp_a = np.asarray(tp, dtype=float)
    pp_a = np.asarray(pp, dtype=float)
    ep_a = np.asarray(ep, dtype=float)
    spread = np.maximum(tp_a, ep_a)
    # attention data parallelism: with ep > tp the replica has ep / tp attention groups, each
    # with its own share of the sequences; the routed experts see every token of the replica
    dp = np.maximum(1.0, np.floor(ep_a / tp_a))
    T_all = np.asarray(decode_tokens, dtype=float) + np.asarray(prefill_tokens, dtype=float)
    Td = np.asarray(decode_tokens, dtype=float) / dp
    Tp = np.asarray(prefill_tokens, dtype=float) / dp
    T = Td + Tp
    logits_rows = Td + np.asarray(prefill_seqs, dtype=float) / dp

    # GEMMs ------------------------------------------------------------------------------------
    dense_here = _dense_per_gpu(shape, tp_a)
    dense_flops = 2.0 * T * dense_here / pp_a + 2.0 * logits_rows * shape.lm_head_params / tp_a / pp_a
    w_dense = dense_here * shape.weight_bytes_per_param / pp_a
    if shape.moe_layers:
        touched = distinct_experts(shape.num_experts, shape.experts_per_token, T_all)
        w_exp = shape.moe_layers * touched * shape.expert_params * shape.weight_bytes_per_param / spread / pp_a
        # a grouped GEMM computes whole row tiles per expert: each touched expert's last tile is
        # on average half empty (EXPERT_TILE_ROWS / 2 padded rows per touched expert)
        expert_rows = T_all * shape.experts_per_token + touched * EXPERT_TILE_ROWS / 2.0
    else:
        w_exp = 0.0 * T
        expert_rows = 0.0 * T
    expert_flops = 2.0 * expert_rows * shape.moe_layers * shape.expert_params / spread / pp_a
    gemm_flops = dense_flops + expert_flops
    w_head = shape.lm_head_params * shape.embed_bytes_per_param / tp_a / pp_a
    weight_bytes = w_dense + w_exp + w_head
    act_bytes = 4.0 * T * shape.hidden * ACT_BYTES * shape.layers / pp_a  # in/out of each block, rough
    # efficiency by the size of a typical GEMM launch: dense GEMMs see all T tokens; each routed
    # expert's GEMM sees only its share T k / E of them (grouped GEMMs of small M)
    dense_size = dense_flops / (_dense_gemms(shape) / pp_a)
    eff_d = size_efficiency(hw, dense_size)
    gemm_compute = dense_flops / (hw.peak_gemm_flops * np.maximum(eff_d, 1e-12))
    if shape.moe_layers:
        # engines run a layer's routed experts as grouped GEMMs (vLLM and SGLang fused_moe,
        # TensorRT-LLM's MoE kernels): one launch per projection covers every expert on the GPU,
        # so the fixed cost of a launch (the size curve's half point) is paid per layer, not per
        # expert; small per-expert tiles are bound by reading the touched experts' weights
        # (the memory side above)
        # (the size curve's e F / (F + F_half) as time: (F + F_half) / (peak e) per launch). The
        # grouped GEMM runs its rows at expert_gemm_eff of a dense GEMM's rate; the fixed cost of
        # a launch is the same
        launches = np.where(expert_flops > 0, shape.moe_layers / pp_a * EXPERT_GEMMS, 0.0)  # none without expert rows
        gemm_compute = gemm_compute + (expert_flops / hw.expert_gemm_eff + launches * hw.half_eff_flops) / (
            hw.peak_gemm_flops * hw.compute_eff)
    if hw.dequant:
        weight_elems = weight_bytes / max(shape.weight_bytes_per_param, 1e-9)
        gemm_compute = gemm_compute + weight_elems * DEQUANT_FLOPS_PER_WEIGHT / hw.peak_vector_flops
    gemm_memory = (weight_bytes + act_bytes) / (hw.mem_bandwidth * hw.bandwidth_eff)
    gemm_time = np.maximum(gemm_compute, gemm_memory)

    # attention --------------------------------------------------------------------------------
    kv_share = np.minimum(1.0, np.ceil(shape.kv_heads / tp_a) / shape.kv_heads) if shape.kv_split_by_tp else 1.0
    dec_ctx_layers = _ctx_layers(shape, decode_ctx) / pp_a
    pre_ctx_layers = _ctx_layers(shape, prefill_ctx) / pp_a
    heads_share = 1.0 / tp_a
    attn_flops = (
        Td * dec_ctx_layers * shape.attn_flops_per_ctx_decode + Tp * pre_ctx_layers * shape.attn_flops_per_ctx_prefill
    ) * heads_share
    kv_read = Td * dec_ctx_layers * shape.kv_bytes_per_token_layer * kv_share
    kv_write = T * (shape.full_layers + shape.sliding_layers) / pp_a * shape.kv_bytes_per_token_layer * kv_share
    attn_compute = attn_flops / (hw.peak_attn_flops * hw.attention_eff)
    attn_memory = (kv_read + kv_write) / (hw.mem_bandwidth * hw.bandwidth_eff)
    attn_time = np.maximum(attn_compute, attn_memory)

    # communication ----------------------------------------------------------------------------
    layers_here = shape.layers / pp_a
    n_ar = layers_here * (1.0 if shape.parallel_attention else 2.0)
    comm_time = comm.tp_allreduce_time(
        T * shape.hidden * ACT_BYTES, tp_a, n_ar, hw.link_bandwidth * hw.link_eff, hw.collective_latency_s, hw.domain_size,
        hw.inter_node_bandwidth * hw.link_eff,
    )
    if shape.moe_layers:
        comm_time = comm_time + comm.ep_alltoall_time(
            T * shape.experts_per_token * shape.hidden * ACT_BYTES / np.maximum(tp_a, 1.0),
            ep_a,
            shape.moe_layers / pp_a,
            hw.link_bandwidth * hw.link_eff,
            hw.collective_latency_s,
            hw.domain_size,
            hw.inter_node_bandwidth * hw.link_eff,
        )
    comm_time = comm_time + comm.pp_send_time(
        T * shape.hidden * ACT_BYTES, pp_a, hw.link_bandwidth * hw.link_eff, hw.collective_latency_s,
        tp_a * pp_a, hw.domain_size, hw.inter_node_bandwidth * hw.link_eff,
    )

    # fixed costs: per step, per layer, and per layer again in steps that carry a prefill (the
    # context phase launches its own, larger set of kernels, and engines that replay CUDA graphs only
    # for decode-only steps launch them one by one: most of all in an MLA layer - see
    # EnginePerf.prefill_mla_layer_overhead_s); prefill_seqs >= 1 means every step does.
    # Host work per sequence the step samples (scheduling, sampling, output handling) grows with
    # the batch: one engine process serves all the replica's sequences, so it is not split by dp.
    # An engine with an overlap scheduler does that host work for step n+1 (and the output of step
    # n-1) while the GPU runs step n, so a step takes the longer of the two (host_step below)
    # A per-layer latency that grows with the sequences of one attention group and saturates
    # (small-M GEMM and per-sequence attention kernels take longer with each added row until
    # their tiles are full): layer_batch_overhead_s x n / (n + layer_batch_half_seqs).
    has_prefill = np.minimum(np.asarray(prefill_seqs, dtype=float), 1.0)
    sampled = np.asarray(decode_tokens, dtype=float) + np.asarray(prefill_seqs, dtype=float)
    layer_fixed = hw.layer_overhead_s + hw.prefill_layer_overhead_s * has_prefill
    if hw.layer_batch_overhead_s:
        n_seq = sampled / dp
        layer_fixed = layer_fixed + hw.layer_batch_overhead_s * n_seq / (n_seq + hw.layer_batch_half_seqs)
    fixed = (hw.step_overhead_s + layer_fixed * shape.layers / pp_a
             + hw.prefill_mla_layer_overhead_s * has_prefill * shape.mla_layers / pp_a + 0.0 * T)
    gpu_time = gemm_time + attn_time + comm_time + fixed
    time = host_step(gpu_time, hw.sequence_overhead_s * sampled / pp_a, hw.overlap_host)
    overhead = fixed + (time - gpu_time)  # the fixed costs and the host time the GPU waits for
    return {
        "time": time,
        "gemm": gemm_time,
        "attention": attn_time,
        "comm": comm_time,
        "overhead": overhead,
        "compute_time": gemm_compute + attn_compute,
        "memory_time": gemm_memory + attn_memory,
        "flops": gemm_flops + attn_flops,
        "bytes": weight_bytes + kv_read + kv_write + act_bytes,
    }


def size_efficiency(hw: Hardware, gemm_flops):  # noqa: ANN001, ANN201 - float or array
    """The fraction of the peak a GEMM of ``gemm_flops`` reaches: compute_eff F / (F + F_half)."""
    return hw.compute_eff * gemm_flops / (gemm_flops + hw.half_eff_flops)


def gemm_seconds(hw: Hardware, flops: float, bytes_moved: float) -> tuple[float, str]:
    """One GEMM launch timed the way `step_cost` times a dense GEMM, and which side bounds it:
    ``flops`` at the size curve's rate (`size_efficiency`), or ``bytes_moved`` at the bandwidth
    the GPU reaches, whichever takes longer."""
    compute = flops / (hw.peak_gemm_flops * size_efficiency(hw, flops)) if flops > 0 else 0.0
    memory = bytes_moved / (hw.mem_bandwidth * hw.bandwidth_eff)
    return (compute, "compute") if compute > memory else (memory, "memory")


def scalar_step_fn(shape: ModelShape, hw: Hardware, tp: int = 1, pp: int = 1, ep: int = 1):  # noqa: ANN201
    """`step_cost(...)["time"]` as a plain-float function of (decode_tokens, prefill_tokens,
    decode_ctx, prefill_ctx, prefill_seqs), with every constant folded in: ~20x faster per call,
    for the discrete-event simulator. Same formulas; a test holds the two together."""
    tp_f, pp_f, ep_f = float(tp), float(pp), float(ep)
    spread = max(tp_f, ep_f)
    dense_here = float(_dense_per_gpu(shape, tp_f))
    c_dense = 2.0 * dense_here / pp_f
    c_expert_row = 2.0 * shape.moe_layers * shape.expert_params / spread / pp_f  # per expert row (token x expert)
    n_dense = _dense_gemms(shape) / pp_f
    n_expert = shape.moe_layers / pp_f * EXPERT_GEMMS  # grouped GEMM launches (see step_cost)
    c_head = 2.0 * shape.lm_head_params / tp_f / pp_f
    w_dense = dense_here * shape.weight_bytes_per_param / pp_f
    w_head = shape.lm_head_params * shape.embed_bytes_per_param / tp_f / pp_f
    c_exp = shape.moe_layers * shape.expert_params * shape.weight_bytes_per_param / spread / pp_f
    E, k = float(shape.num_experts), float(shape.experts_per_token)
    miss = max(0.0, 1.0 - k / E)
    c_act = 4.0 * shape.hidden * ACT_BYTES * shape.layers / pp_f
    peak = hw.peak_gemm_flops
    bw = hw.mem_bandwidth * hw.bandwidth_eff
    kv_share = min(1.0, math.ceil(shape.kv_heads / tp_f) / shape.kv_heads) if shape.kv_split_by_tp else 1.0
    kvl = shape.kv_bytes_per_token_layer * kv_share
    n_layers_kv = (shape.full_layers + shape.sliding_layers) / pp_f
    attn_peak = hw.peak_attn_flops * hw.attention_eff
    win = shape.sliding_window
    fl, sl = shape.full_layers / pp_f, shape.sliding_layers / pp_f
    # communication constants (same formulas as comm.py)
    def link(n: float) -> float:
        bw_link = hw.link_bandwidth * hw.link_eff
        return max(bw_link if n <= hw.domain_size else min(bw_link, hw.inter_node_bandwidth * hw.link_eff), 1.0)
    n_ar = (shape.layers / pp_f) * (1.0 if shape.parallel_attention else 2.0)
    ar_lat = n_ar * hw.collective_latency_s if tp_f > 1 else 0.0
    ar_bw = n_ar * 2.0 * (tp_f - 1.0) / tp_f * shape.hidden * ACT_BYTES / link(tp_f) if tp_f > 1 else 0.0
    a2a_lat = 2.0 * shape.moe_layers / pp_f * hw.collective_latency_s if (ep_f > 1 and shape.moe_layers) else 0.0
    a2a_bw = (
        2.0 * shape.moe_layers / pp_f * (ep_f - 1.0) / ep_f * k * shape.hidden * ACT_BYTES / max(tp_f, 1.0) / link(ep_f)
        if (ep_f > 1 and shape.moe_layers)
        else 0.0
    )
    pp_lat = hw.collective_latency_s if pp_f > 1 else 0.0
    pp_bw = shape.hidden * ACT_BYTES / link(tp_f * pp_f) if pp_f > 1 else 0.0
    dq = DEQUANT_FLOPS_PER_WEIGHT / hw.peak_vector_flops / max(shape.weight_bytes_per_param, 1e-9) if hw.dequant else 0.0
    ce, fh = hw.compute_eff, hw.half_eff_flops
    x_exp = hw.expert_gemm_eff
    ov = hw.step_overhead_s + hw.layer_overhead_s * shape.layers / pp_f
    ov_pre = (hw.prefill_layer_overhead_s * shape.layers + hw.prefill_mla_layer_overhead_s * shape.mla_layers) / pp_f
    ov_seq = hw.sequence_overhead_s / pp_f
    ov_batch = hw.layer_batch_overhead_s * shape.layers / pp_f
    half = hw.layer_batch_half_seqs

    moe = shape.moe_layers > 0
    dp = max(1.0, math.floor(ep_f / tp_f))

    overlap = hw.overlap_host

    def f(d: float, p: float, dec_ctx: float, pre_ctx: float, pre_seqs: float) -> float:
        T_all = d + p
        ov_s = ov_seq * (d + pre_seqs)  # host time (overlapped with the GPU by an overlap scheduler)
        ov_b = 0.0
        if ov_batch:
            n_seq = (d + pre_seqs) / dp
            ov_b = ov_batch * n_seq / (n_seq + half)
        touched = E * (1.0 - miss**T_all) if moe else 0.0
        fe = c_expert_row * (T_all * k + touched * EXPERT_TILE_ROWS / 2.0) if moe else 0.0
        wb = w_dense + w_head + c_exp * touched
        has_pre = min(pre_seqs, 1.0)
        d, p, pre_seqs = d / dp, p / dp, pre_seqs / dp  # one attention group's share
        T = d + p
        fd = c_dense * T + c_head * (d + pre_seqs)
        sd = fd / n_dense
        gc = fd / (peak * max(ce * sd / (sd + fh), 1e-12)) if fd > 0 else 0.0
        if moe and fe > 0:
            gc += (fe / x_exp + n_expert * fh) / (peak * ce)
        gc += wb * dq
        gm = (wb + c_act * T) / bw
        if win:
            dcl = fl * dec_ctx + sl * min(dec_ctx, win)
            pcl = fl * pre_ctx + sl * min(pre_ctx, win)
        else:
            dcl = fl * dec_ctx
            pcl = fl * pre_ctx
        af = (d * dcl * shape.attn_flops_per_ctx_decode + p * pcl * shape.attn_flops_per_ctx_prefill) / tp_f
        am = (d * dcl + T * n_layers_kv) * kvl / bw
        comm_t = ar_lat + ar_bw * T + a2a_lat + a2a_bw * T + pp_lat + pp_bw * T
        gpu = max(gc, gm) + max(af / attn_peak, am) + comm_t + ov + ov_pre * has_pre + ov_b
        return max(gpu, ov_s) if overlap else gpu + ov_s

    return f


def host_step(gpu_time, host_time, overlap: bool):  # noqa: ANN001, ANN201
    """Time of one step from its GPU time and the host time it needs (scheduling the step,
    processing the sampled tokens). Engines without an overlap scheduler run the two one after the
    other; with one (SGLang by default, vLLM's async scheduling) the host prepares step n+1 and
    processes step n-1 while the GPU runs step n, so the step takes the longer of the two."""
    return np.maximum(gpu_time, host_time) if overlap else gpu_time + host_time


def bound_of(cost: dict[str, np.ndarray]) -> np.ndarray:
    """'compute', 'memory' or 'communication': the largest of the three sides of a step."""
    c = np.asarray(cost["compute_time"], dtype=float)
    m = np.asarray(cost["memory_time"], dtype=float)
    k = np.asarray(cost["comm"], dtype=float)
    stacked = np.stack(np.broadcast_arrays(c, m, k))
    names = np.array(["compute", "memory", "communication"])
    return names[np.argmax(stacked, axis=0)]


def decode_floor_seconds(shape: ModelShape, gpu_bandwidth: float, *, tp: int = 1, ctx: float = 0.0) -> float:
    """Lower bound on one batch-1 decode step: bytes that must be read / datasheet bandwidth.

    Bytes: dense weights and LM head, the ``k`` routed experts of each MoE layer (at batch 1 only
    those are touched), and the KV cache of ``ctx`` tokens.
    """
    dense = shape.attn_params + shape.dense_mlp_params + shape.shared_expert_params
    experts = shape.moe_layers * shape.experts_per_token * shape.expert_params
    w = (dense + experts) * shape.weight_bytes_per_param + shape.lm_head_params * shape.embed_bytes_per_param
    kv = float(_ctx_layers(shape, ctx)) * shape.kv_bytes_per_token_layer
    return (w + kv) / tp / gpu_bandwidth


__all__ = [
    "ModelShape",
    "Hardware",
    "model_shape",
    "hardware",
    "scaled",
    "step_cost",
    "bound_of",
    "distinct_experts",
    "per_gpu_weight_bytes",
    "decode_floor_seconds",
    "gemm_runs_native",
    "scalar_step_fn",
    "host_step",
]
