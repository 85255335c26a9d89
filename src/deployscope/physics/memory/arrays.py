"""The array core of the memory model: parameter counts, `ModelShape`, weights / KV / activations
per GPU, engine budget arrays, and the catalog resolution and input checks the queries share.

Pure numpy arithmetic that broadcasts over any mix of context, batch, bits, tp, pp, ep, GPU
memory and engine figures (see docs/memory.md).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np

from ...catalog.accelerators import Accelerator
from ...catalog.engines import Engine
from ...catalog.loader import default_catalog
from ...catalog.models import ModelSpec, Transformer
from ...catalog.quant import QuantFormat
from ...errors import DeployscopeError

GIB = 2**30
ACT_BYTES = 2  # activations are kept in 16 bit in every engine modelled here
LOGIT_BYTES = 4  # logits are fp32 in the sampler
SMALL_BITS = 16  # norms, routers and biases stay in 16 bit under every format

ArrayLike = Any


# --------------------------------------------------------------------------------------------
# Parameter counts
# --------------------------------------------------------------------------------------------


def _attention_params(t: Transformer) -> tuple[int, int]:
    """(matrix parameters, bias + norm parameters) of one attention block."""
    h = t.hidden_size
    if t.mla is not None:
        m = t.mla
        nh = t.num_attention_heads
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank:
            q = h * m.q_lora_rank + m.q_lora_rank * nh * qk
            small = m.q_lora_rank  # q_a_layernorm
        else:
            q = h * nh * qk
            small = 0
        kv_a = h * (m.kv_lora_rank + m.qk_rope_head_dim)
        kv_b = m.kv_lora_rank * nh * (m.qk_nope_head_dim + m.v_head_dim)
        o = nh * m.v_head_dim * h
        small += m.kv_lora_rank  # kv_a_layernorm
        return q + kv_a + kv_b + o, small
    q_dim = t.num_attention_heads * t.head_dim
    kv_dim = t.num_kv_heads * t.head_dim
    mats = h * q_dim + 2 * h * kv_dim + q_dim * h
    small = (q_dim + 2 * kv_dim + h) if t.attention_bias else 0
    return mats, small


def _mlp_params(h: int, inter: int, gated: bool, bias: bool) -> tuple[int, int]:
    mats = (3 if gated else 2) * h * inter
    small = ((2 * inter if gated else inter) + h) if bias else 0
    return mats, small


def param_counts(t: Transformer) -> dict[str, int]:
    """Exact parameter counts of a transformer, by part.

    Keys: ``embedding`` (token table, plus a learned position table), ``lm_head`` (0 when tied),
    ``attention`` (all layers, projections only), ``mlp_dense`` (dense MLP layers and shared
    experts), ``experts_total`` / ``experts_active`` (routed experts, all / per token),
    ``router``, ``norms`` (norms and biases), ``total``, ``active`` (per token, MoE).
    """
    h = t.hidden_size
    gated = t.mlp == "gated"
    embedding = t.vocab_size * h + (t.max_context * h if t.position_embedding == "learned" else 0)
    lm_head = 0 if t.tie_word_embeddings or t.encoder_only else t.vocab_size * h
    att_m, att_s = _attention_params(t)
    attention = att_m * t.num_layers
    norms = att_s * t.num_layers + 2 * h * t.num_layers + h  # two norms per layer + final norm
    moe_flags = t.moe_layers()
    n_moe = sum(moe_flags)
    n_dense = t.num_layers - n_moe
    dense_m, dense_s = _mlp_params(h, t.intermediate_size, gated, t.mlp_bias) if n_dense else (0, 0)
    mlp_dense = dense_m * n_dense
    norms += dense_s * n_dense
    experts_total = experts_active = router = 0
    if t.moe is not None and n_moe:
        e = t.moe
        one_m, one_s = _mlp_params(h, e.expert_intermediate_size, gated, t.mlp_bias)
        experts_total = one_m * e.num_experts * n_moe
        experts_active = one_m * e.experts_per_token * n_moe
        mlp_dense += one_m * e.shared_experts * n_moe
        norms += one_s * (e.num_experts + e.shared_experts) * n_moe
        router = h * e.num_experts * n_moe
    total = embedding + lm_head + attention + mlp_dense + experts_total + router + norms
    active = total - experts_total + experts_active
    return {
        "embedding": embedding,
        "lm_head": lm_head,
        "attention": attention,
        "mlp_dense": mlp_dense,
        "experts_total": experts_total,
        "experts_active": experts_active,
        "router": router,
        "norms": norms,
        "total": total,
        "active": active,
    }


# --------------------------------------------------------------------------------------------
# The array core
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a transformer the memory model needs; fields may be numpy arrays
    (`stack_shapes`) so that a sweep over models broadcasts too."""

    layers: ArrayLike
    embed_params: ArrayLike  # token (+ position) table
    head_params: ArrayLike  # LM head, 0 when tied
    dense_params: ArrayLike  # attention + dense MLP + shared experts, all layers (quantized)
    expert_params: ArrayLike  # routed experts, all layers (quantized)
    small_params: ArrayLike  # norms, routers, biases (16 bit)
    num_experts: ArrayLike  # 1 for dense models
    kv_elems: ArrayLike  # cached elements per token per attention layer
    kv_heads: ArrayLike  # heads the cache splits over under TP (1 for MLA: replicated)
    kv_split: ArrayLike  # 1 when the cache splits over TP heads, 0 when replicated (MLA)
    full_layers: ArrayLike  # layers whose cache grows with the context
    sliding_layers: ArrayLike  # layers whose cache stops at `window`
    window: ArrayLike  # sliding window (tokens); 1 when there are none
    act_elems: ArrayLike  # live activation elements per prefill token in the widest layer (TP-split part)
    act_hidden: ArrayLike  # per-token elements not split by TP (residual + normed input)
    vocab: ArrayLike


def shape_of(t: Transformer) -> ModelShape:
    """The `ModelShape` of one transformer (plain Python numbers)."""
    pc = param_counts(t)
    kinds = t.layer_kinds()
    full = sum(k == "full" for k in kinds)
    sliding = sum(k == "sliding" for k in kinds)
    if t.encoder_only:  # embedding / reranker encoders attend over the input once: no KV cache
        full = sliding = 0
    if t.mla is not None:
        m = t.mla
        kv_elems = m.kv_lora_rank + m.qk_rope_head_dim
        kv_heads, kv_split = 1, 0
        nh = t.num_attention_heads
        att = nh * (m.qk_nope_head_dim + m.qk_rope_head_dim) + nh * (m.qk_nope_head_dim + m.v_head_dim) + nh * m.v_head_dim
    else:
        kv_elems = 2 * t.num_kv_heads * t.head_dim
        kv_heads, kv_split = t.num_kv_heads, 1
        att = (t.num_attention_heads + 2 * t.num_kv_heads) * t.head_dim + t.num_attention_heads * t.head_dim
    gated_mult = 3 if t.mlp == "gated" else 2
    mlp = gated_mult * t.intermediate_size
    num_experts = 1
    if t.moe is not None:
        e = t.moe
        num_experts = e.num_experts
        mlp = max(mlp, gated_mult * e.expert_intermediate_size * (e.experts_per_token + e.shared_experts) + e.num_experts)
    return ModelShape(
        layers=t.num_layers,
        embed_params=pc["embedding"],
        head_params=pc["lm_head"],
        dense_params=pc["attention"] + pc["mlp_dense"],
        expert_params=pc["experts_total"],
        small_params=pc["norms"] + pc["router"],
        num_experts=num_experts,
        kv_elems=kv_elems,
        kv_heads=kv_heads,
        kv_split=kv_split,
        full_layers=full,
        sliding_layers=sliding,
        window=t.sliding_window or 1,
        act_elems=max(att, mlp),
        act_hidden=2 * t.hidden_size,
        vocab=t.vocab_size,
    )


def stack_shapes(shapes: Sequence[ModelShape], ndim: int = 1) -> ModelShape:
    """Stack shapes into arrays of shape (n, 1, 1, ...) with `ndim` dimensions, for sweeps."""
    out = {}
    for f in fields(ModelShape):
        a = np.asarray([float(getattr(s, f.name)) for s in shapes])
        out[f.name] = a.reshape((-1,) + (1,) * (ndim - 1))
    return ModelShape(**out)


def parallel_layout(tp: ArrayLike, pp: ArrayLike, ep: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
    """(attention data-parallel groups, GPUs per replica).

    Expert parallelism takes its GPUs from the tensor-parallel group when ep <= tp (ep divides
    tp); when ep > tp the replica has ep / tp attention groups, each holding the non-expert
    weights at tensor parallelism tp and its own share of the sequences (DeepSeek-style data-
    parallel attention, vLLM's EP = TP x DP)."""
    tp, pp, ep = np.asarray(tp), np.asarray(pp), np.asarray(ep)
    dp = np.maximum(1, ep // tp)
    return dp, tp * dp * pp


def weights_per_gpu(
    s: ModelShape, bits: ArrayLike, emb_bits: ArrayLike, tp: ArrayLike = 1, pp: ArrayLike = 1, ep: ArrayLike = 1, dense_bits: ArrayLike | None = None
) -> ArrayLike:
    """Weight bytes on the most loaded GPU (bits: effective bits of the weight matrices; emb_bits:
    of the embedding, LM head, norms and routers, 16 unless the format's bits are a file average;
    dense_bits: of the non-expert matrices when they differ from the experts', e.g. mxfp4-moe)."""
    dense_bits = bits if dense_bits is None else dense_bits
    tp, pp, ep = np.asarray(tp), np.asarray(pp), np.asarray(ep)
    dp, _ = parallel_layout(tp, pp, ep)
    stage = np.ceil(s.layers / pp) / s.layers  # share of the layers on the largest pipeline stage
    dense = s.dense_params * dense_bits / 8 / tp
    expert_share = np.ceil(s.num_experts / ep) / s.num_experts / np.maximum(1, (tp * dp) // ep)
    experts = s.expert_params * bits / 8 * expert_share
    small = s.small_params * emb_bits / 8  # norms, routers: 16 bit, or the GGUF file average
    emb = s.embed_params * emb_bits / 8 / tp
    head = s.head_params * emb_bits / 8 / tp
    ends = np.where(pp == 1, emb + head, np.maximum(emb, head))
    return (dense + experts + small) * stage + ends


def weights_total(
    s: ModelShape, bits: ArrayLike, emb_bits: ArrayLike, tp: ArrayLike = 1, pp: ArrayLike = 1, ep: ArrayLike = 1, dense_bits: ArrayLike | None = None
) -> ArrayLike:
    """Weight bytes held by all GPUs of a replica (non-expert weights repeat per attention group)."""
    dense_bits = bits if dense_bits is None else dense_bits
    dp, _ = parallel_layout(tp, pp, ep)
    once = (s.dense_params * dense_bits + (s.small_params + s.embed_params + s.head_params) * emb_bits) / 8
    return once * dp + s.expert_params * bits / 8


def kv_bytes_per_token_arr(s: ModelShape, kv_bits: ArrayLike) -> ArrayLike:
    """Uncapped KV bytes per token, all attention layers (sliding layers included)."""
    return s.kv_elems * (s.full_layers + s.sliding_layers) * kv_bits / 8


def kv_per_sequence(s: ModelShape, context: ArrayLike, kv_bits: ArrayLike) -> ArrayLike:
    """KV bytes of one sequence of `context` tokens; sliding layers stop at their window."""
    context = np.asarray(context)
    tokens = s.full_layers * context + s.sliding_layers * np.minimum(context, s.window)
    return s.kv_elems * tokens * kv_bits / 8


def kv_gpu_share(s: ModelShape, tp: ArrayLike = 1, pp: ArrayLike = 1) -> ArrayLike:
    """Fraction of one sequence's KV cache on the most loaded GPU of its attention group.

    KV heads split over tp, but each GPU keeps at least one head (replicated when tp > kv heads);
    an MLA latent is replicated on every tensor-parallel GPU; pipeline stages split the layers."""
    tp, pp = np.asarray(tp), np.asarray(pp)
    heads = np.where(s.kv_split == 1, np.maximum(1, np.ceil(s.kv_heads / tp)) / s.kv_heads, 1.0)
    return heads * np.ceil(s.layers / pp) / s.layers


def kv_replication(s: ModelShape, tp: ArrayLike = 1) -> ArrayLike:
    """How many copies of each cached element a tensor-parallel group holds (1 when heads split evenly)."""
    tp = np.asarray(tp)
    return np.where(s.kv_split == 1, tp * np.maximum(1, np.ceil(s.kv_heads / tp)) / s.kv_heads, tp)


def activation_per_gpu(s: ModelShape, tokens: ArrayLike, seqs: ArrayLike, logit_copies: ArrayLike, tp: ArrayLike = 1) -> ArrayLike:
    """Activation peak of one prefill chunk of `tokens` through the widest layer, plus the
    sampler's fp32 logits for `seqs` sequences (`logit_copies` buffers each; fitted per engine)."""
    chunk = tokens * (s.act_elems / np.asarray(tp) + s.act_hidden) * ACT_BYTES
    return chunk + seqs * s.vocab * LOGIT_BYTES * logit_copies


@dataclass(frozen=True)
class EngineArrays:
    """Engine memory figures as numbers (bytes), broadcastable."""

    utilization: ArrayLike
    budget: ArrayLike  # 0 total, 1 static, 2 free
    context_b: ArrayLike
    graphs_b: ArrayLike
    other_b: ArrayLike
    multi_b: ArrayLike
    tokens: ArrayLike
    seqs: ArrayLike
    logit_copies: ArrayLike


_BUDGETS = {"total": 0, "static": 1, "free": 2}


def engine_arrays(engines: Sequence[Engine] | Engine, ndim: int = 1) -> EngineArrays:
    one = isinstance(engines, Engine)
    rows = [engines] if one else list(engines)
    vals: dict[str, list[float]] = {f.name: [] for f in fields(EngineArrays)}
    for e in rows:
        m = e.memory
        vals["utilization"].append(m.memory_utilization)
        vals["budget"].append(_BUDGETS[m.budget])
        vals["context_b"].append(m.cuda_context_gib * GIB)
        vals["graphs_b"].append(m.cuda_graphs_gib * GIB)
        vals["other_b"].append(m.other_gib * GIB)
        vals["multi_b"].append(m.multi_gpu_gib * GIB)
        vals["tokens"].append(m.activation_tokens)
        vals["seqs"].append(m.activation_seqs)
        vals["logit_copies"].append(m.logit_copies)
    if one:
        return EngineArrays(**{k: v[0] for k, v in vals.items()})
    return EngineArrays(**{k: np.asarray(v).reshape((-1,) + (1,) * (ndim - 1)) for k, v in vals.items()})


def overhead_per_gpu(e: EngineArrays, gpus: ArrayLike) -> ArrayLike:
    return e.context_b + e.graphs_b + e.other_b + np.where(np.asarray(gpus) > 1, e.multi_b, 0.0)


def capacity_bytes_per_gpu(mem_bytes: ArrayLike, weights_g: ArrayLike, act_g: ArrayLike, e: EngineArrays, gpus: ArrayLike) -> ArrayLike:
    """Bytes left for the KV cache on the most loaded GPU, by the engine's accounting
    (negative: the model does not fit). See `EngineMemory` and docs/memory.md."""
    u = e.utilization
    inner = e.other_b + np.where(np.asarray(gpus) > 1, e.multi_b, 0.0)
    outer = e.context_b + e.graphs_b
    headroom = (1 - u) * mem_bytes
    total = u * mem_bytes - weights_g - act_g - inner - np.maximum(0.0, outer - headroom)
    static = u * mem_bytes - weights_g - np.maximum(0.0, act_g + inner + outer - headroom)
    free = u * (mem_bytes - weights_g - act_g - inner - outer)
    return np.where(e.budget == 0, total, np.where(e.budget == 1, static, free))


# --------------------------------------------------------------------------------------------
# Resolving names
# --------------------------------------------------------------------------------------------


def resolve_model(model: str | ModelSpec, catalog: Any = None) -> ModelSpec:
    if isinstance(model, ModelSpec):
        return model
    return default_catalog(catalog).models.get(model, field="model")


def resolve_gpu(gpu: str | Accelerator, catalog: Any = None) -> Accelerator:
    if isinstance(gpu, Accelerator):
        return gpu
    return default_catalog(catalog).accelerators.get(gpu, field="gpu")


def resolve_engine(engine: str | Engine, catalog: Any = None) -> Engine:
    if isinstance(engine, Engine):
        return engine
    return default_catalog(catalog).engines.get(engine, field="engine")


def resolve_quant(quant: str | QuantFormat, catalog: Any = None) -> QuantFormat:
    if isinstance(quant, QuantFormat):
        return quant
    table = default_catalog(catalog).quant
    row = table.get(quant, field="quant")
    if row.kv_only:
        weights = [q.id for q in table if not q.kv_only]
        raise DeployscopeError(f"{row.id!r} is a KV-cache format, not a weight format", field="quant", value=quant, allowed=weights)
    return row


def resolve_kv_quant(kv_quant: str | QuantFormat | None, catalog: Any = None) -> QuantFormat:
    """A KV-cache format; None means bf16. 'int8' finds 'int8-kv'."""
    table = default_catalog(catalog).quant
    if kv_quant is None:
        return table.get("bf16")
    if isinstance(kv_quant, QuantFormat):
        row: QuantFormat | None = kv_quant
    else:
        row = table.find(kv_quant)
        if row is None or not row.kv_cache:
            row = table.find(f"{kv_quant}-kv") or row
    allowed = [q.id for q in table if q.kv_cache]
    if row is None:
        from ...errors import UnknownName

        raise UnknownName("KV-cache format", str(kv_quant), allowed, field="kv_quant")
    if not row.kv_cache:
        raise DeployscopeError(f"{row.id!r} is not a KV-cache format", field="kv_quant", value=kv_quant, allowed=allowed)
    return row


def _dense_bits(q: QuantFormat) -> float:
    """Non-expert matrices: the format's bits, or 16 for expert-only formats (mxfp4-moe)."""
    return float(SMALL_BITS) if q.scope == "experts" else q.weight_bits


def _emb_bits(q: QuantFormat) -> float:
    """Embeddings and LM head: 16 bit unless the format's bits are a whole-file average (GGUF)."""
    return q.weight_bits if q.embeddings_quantized else float(SMALL_BITS)


# --------------------------------------------------------------------------------------------
# Validation of user numbers
# --------------------------------------------------------------------------------------------


def _check_positive(name: str, value: ArrayLike, what: str = "an integer >= 1") -> None:
    arr = np.asarray(value)
    if arr.size == 0 or not np.issubdtype(arr.dtype, np.number) or np.any(~np.isfinite(arr)) or np.any(arr < 1) or np.any(arr != np.floor(arr)):
        raise DeployscopeError(f"must be {what}, got {value!r}", field=name, value=value, allowed=what)


def _check_parallel(t: Transformer, tp: ArrayLike, pp: ArrayLike, ep: ArrayLike) -> None:
    _check_positive("tp", tp)
    _check_positive("pp", pp)
    _check_positive("ep", ep)
    for v in np.unique(np.asarray(tp)):
        if t.num_attention_heads % int(v):
            divisors = [d for d in (1, 2, 4, 8, 16, 32, 64, 128) if t.num_attention_heads % d == 0]
            raise DeployscopeError(
                f"tensor parallelism {int(v)} does not divide the model's {t.num_attention_heads} attention heads",
                field="tp",
                value=int(v),
                allowed=[str(d) for d in divisors],
            )
    for v in np.unique(np.asarray(pp)):
        if v > t.num_layers:
            raise DeployscopeError(
                f"pipeline parallelism {int(v)} exceeds the model's {t.num_layers} layers",
                field="pp",
                value=int(v),
                allowed=f"1..{t.num_layers}",
            )
    for v in np.unique(np.asarray(ep)):
        if v == 1:
            continue
        if t.moe is None:
            raise DeployscopeError("expert parallelism needs a mixture-of-experts model", field="ep", value=int(v), allowed="1")
        if v > t.moe.num_experts:
            raise DeployscopeError(
                f"expert parallelism {int(v)} exceeds the model's {t.moe.num_experts} experts",
                field="ep",
                value=int(v),
                allowed=f"1..{t.moe.num_experts}",
            )
        for tv in np.unique(np.asarray(tp)):
            if not (v % tv == 0 or tv % v == 0):
                raise DeployscopeError(
                    f"expert parallelism {int(v)} must divide, or be a multiple of, tensor parallelism {int(tv)}",
                    field="ep",
                    value=int(v),
                    allowed="a divisor or multiple of --tp",
                )


def _check_context(t: Transformer, context: ArrayLike) -> None:
    _check_positive("context", context, "a token count >= 1")
    mx = int(np.max(np.asarray(context)))
    if mx > t.max_context:
        raise DeployscopeError(
            f"context {mx} exceeds the model's maximum context of {t.max_context} tokens",
            field="context",
            value=mx,
            allowed=f"1..{t.max_context}",
        )


def _check_engine_format(e: Engine, q: QuantFormat, catalog: Any) -> None:
    if e.formats and q.id not in e.formats:
        others = [x.id for x in default_catalog(catalog).engines if q.id in x.formats]
        hint = f"; engines that serve it: {', '.join(others)} (--engine)" if others else ""
        raise DeployscopeError(
            f"engine {e.id!r} does not serve format {q.id!r}{hint}",
            field="quant",
            value=q.id,
            allowed=list(e.formats),
        )
