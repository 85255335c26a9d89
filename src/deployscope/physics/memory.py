"""How many bytes a deployment needs: weights, KV cache, activation peak, runtime overhead.

Everything here is pure arithmetic on numbers taken from catalog rows. The array core
(`ModelShape`, `weights_per_gpu`, `kv_per_gpu`, `capacity_bytes_per_gpu`, ...) broadcasts with
numpy over any mix of context, batch, bits, tp, pp, ep, GPU memory and engine figures, so one
candidate and a sweep of a million take the same code path. The public wrappers
(`estimate_memory`, `kv_capacity_tokens`, `max_sequences`, `fit_rows`) resolve names through the
catalog and check inputs, raising `DeployscopeError` naming the field, value and what is allowed.

Bytes are SI (1 GB = 1e9 B, 1 GiB = 2^30 B); nothing here rounds to either. See docs/memory.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Iterable, Sequence

import numpy as np

from ..catalog.accelerators import Accelerator
from ..catalog.engines import Engine
from ..catalog.loader import default_catalog
from ..catalog.models import ModelSpec, Transformer
from ..catalog.quant import QuantFormat
from ..errors import DeployscopeError
from .shape import ModelShape, shape_of
from .shape import param_counts as param_counts  # re-exported: part of the memory API
from .shape import stack_shapes as stack_shapes  # re-exported: part of the memory API

GIB = 2**30
ACT_BYTES = 2  # activations are kept in 16 bit in every engine modelled here
LOGIT_BYTES = 4  # logits are fp32 in the sampler
SMALL_BITS = 16  # norms, routers and biases stay in 16 bit under every format

ArrayLike = Any


# --------------------------------------------------------------------------------------------
# The array core (parameter counts and shapes: physics/shape.py)
# --------------------------------------------------------------------------------------------


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
    # non-expert matrices split over tp, except those every TP GPU holds whole (MLA q_a / kv_a)
    dense = ((s.dense_params - s.replicated_params) / tp + s.replicated_params) * dense_bits / 8
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
    """Weight bytes held by all GPUs of a replica (non-expert weights repeat per attention group, and
    the replicated ones on each of its tp GPUs)."""
    dense_bits = bits if dense_bits is None else dense_bits
    tp = np.asarray(tp)
    dp, _ = parallel_layout(tp, pp, ep)
    dense = s.dense_params + s.replicated_params * (tp - 1)
    once = (dense * dense_bits + (s.small_params + s.embed_params + s.head_params) * emb_bits) / 8
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


def utilization_for(e: Engine, memory_bytes: float, tp: ArrayLike = 1, pp: ArrayLike = 1) -> ArrayLike:
    """The engine's memory fraction on a GPU of `memory_bytes` at tp x pp: the row's fixed
    `memory_utilization`, or the rule the engine derives it by (SGLang's mem_fraction_static)."""
    rule = e.memory.static_fraction
    if rule is None:
        return e.memory.memory_utilization
    tier = rule.tier(memory_bytes)
    tp, pp = np.asarray(tp), np.asarray(pp)
    graph_bs = np.where(tp < 4, tier.cuda_graph_max_bs, tier.cuda_graph_max_bs_tp4)
    reserved = (rule.base_mib + rule.per_prefill_token_mib * max(tier.chunked_prefill_size, 2048)
                + rule.per_graph_seq_mib * graph_bs + rule.per_parallel_gpu_mib * tp * pp)
    mib = memory_bytes / 2**20
    if mib > rule.min_reserved_above_gib * 1024:
        reserved = np.maximum(reserved, rule.min_reserved_mib)
    return np.round((mib - reserved) / mib, 3)


def with_utilization(ea: EngineArrays, e: Engine, memory_bytes: float, tp: ArrayLike = 1, pp: ArrayLike = 1) -> EngineArrays:
    """`ea` with the utilization the engine uses on this GPU at tp x pp."""
    if e.memory.static_fraction is None:
        return ea
    return replace(ea, utilization=utilization_for(e, memory_bytes, tp, pp))


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
        from ..errors import UnknownName

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


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def weight_bytes(model: str | ModelSpec, quant: str | QuantFormat = "bf16", catalog: Any = None) -> float:
    """All weights at the format's effective bits; embeddings, LM head, norms and routers stay 16
    bit except for GGUF mixes, whose published bits/weight already average over the whole file.
    Diffusion pipelines: text encoders and denoiser at the format's bits, the VAE in 16 bit."""
    m = resolve_model(model, catalog)
    q = resolve_quant(quant, catalog)
    if m.transformer is not None:
        s = shape_of(m.transformer)
        return float(weights_total(s, q.weight_bits, _emb_bits(q), dense_bits=_dense_bits(q)))
    total = 0.0
    for c in m.components:
        bits = float(SMALL_BITS) if c.role == "vae" else q.weight_bits
        total += c.params_b * 1e9 * bits / 8
    return total


def kv_bytes_per_token(t: Transformer | ModelSpec, kv_bits: ArrayLike = 16) -> ArrayLike:
    """Uncapped KV-cache bytes per token over all attention layers.

    MHA/GQA/MQA: 2 x layers x kv_heads x head_dim x bytes; MLA: layers x (kv_lora_rank +
    qk_rope_head_dim) x bytes; linear-attention layers hold a fixed state, not a per-token cache."""
    t = t.transformer if isinstance(t, ModelSpec) else t
    if t is None:
        return 0.0
    out = kv_bytes_per_token_arr(shape_of(t), np.asarray(kv_bits, dtype=float))
    return float(out) if np.ndim(out) == 0 else out


def kv_cache_bytes(t: Transformer | ModelSpec, context: ArrayLike, batch: ArrayLike = 1, kv_bits: ArrayLike = 16) -> ArrayLike:
    """KV-cache bytes of `batch` sequences of `context` tokens (sliding layers capped at their window)."""
    t = t.transformer if isinstance(t, ModelSpec) else t
    if t is None:
        return 0.0
    out = np.asarray(batch) * kv_per_sequence(shape_of(t), np.asarray(context), np.asarray(kv_bits, dtype=float))
    return float(out) if np.ndim(out) == 0 else out


@dataclass
class MemoryEstimate:
    """Bytes one deployment (a replica of `gpus` GPUs) needs. Every byte figure is the
    deployment total except `per_gpu_bytes`, the share of the most loaded GPU."""

    model: str
    quant: str
    kv_quant: str
    engine: str
    context: int
    batch: int
    tp: int
    pp: int
    ep: int
    gpus: int
    weights_bytes: float
    kv_bytes_per_token: float
    kv_cache_bytes: float
    activation_bytes: float
    overhead_bytes: float
    total_bytes: float
    per_gpu_bytes: float
    per_gpu: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def estimate_memory(
    model: str | ModelSpec,
    quant: str | QuantFormat = "bf16",
    kv_quant: str | QuantFormat | None = None,
    context: int = 8192,
    batch: int = 1,
    tp: int = 1,
    pp: int = 1,
    ep: int = 1,
    engine: str | Engine = "vllm",
    catalog: Any = None,
    gpu: str | Accelerator | None = None,
) -> MemoryEstimate:
    """Weights, KV cache, activation peak and runtime overhead of one replica. `gpu` given: the
    engine's activation profile as it configures itself on that GPU (vLLM's batch defaults)."""
    m = resolve_model(model, catalog)
    q = resolve_quant(quant, catalog)
    kq = resolve_kv_quant(kv_quant, catalog)
    e = resolve_engine(engine, catalog)
    if gpu is not None:
        e = e.on_gpu(resolve_gpu(gpu, catalog))
    _check_engine_format(e, q, catalog)
    _check_positive("batch", batch)
    ea = engine_arrays(e)
    sources = {
        "model": f"{m.id}: {m.source}",
        "quant": f"{q.id}: {q.source}",
        "kv_quant": f"{kq.id}: {kq.source}",
        "engine": f"{e.id}: {e.source}",
    }
    notes: list[str] = []
    if m.transformer is None:
        _check_positive("context", context)
        for name, v in (("tp", tp), ("pp", pp), ("ep", ep)):
            _check_positive(name, v)
            if v != 1:
                raise DeployscopeError("diffusion pipelines are modelled on one GPU", field=name, value=v, allowed="1")
        w = weight_bytes(m, q, catalog)
        ov = float(overhead_per_gpu(ea, 1))
        notes.append("diffusion pipeline: weights and engine overhead only; image activations are not modelled here")
        return MemoryEstimate(
            m.id, q.id, kq.id, e.id, int(context), int(batch), 1, 1, 1, 1,
            w, 0.0, 0.0, 0.0, ov, w + ov, w + ov, {"weights": w, "kv_cache": 0.0, "activation": 0.0, "overhead": ov}, sources, notes,
        )
    t = m.transformer
    _check_context(t, context)
    _check_parallel(t, tp, pp, ep)
    s = shape_of(t)
    dp, gpus = parallel_layout(tp, pp, ep)
    dp, gpus = int(dp), int(gpus)
    w_g = float(weights_per_gpu(s, q.weight_bits, _emb_bits(q), tp, pp, ep, _dense_bits(q)))
    w_t = float(weights_total(s, q.weight_bits, _emb_bits(q), tp, pp, ep, _dense_bits(q)))
    per_seq = float(kv_per_sequence(s, context, kq.kv_bits))
    kv_t = per_seq * batch * float(kv_replication(s, tp))
    kv_g = per_seq * math.ceil(batch / dp) * float(kv_gpu_share(s, tp, pp))
    a_g = float(activation_per_gpu(s, ea.tokens, ea.seqs, ea.logit_copies, tp))
    o_g = float(overhead_per_gpu(ea, gpus))
    if t.sliding_window and s.sliding_layers:
        notes.append(f"{s.sliding_layers} sliding-window layers cache at most {t.sliding_window} tokens each")
    if any(k == "linear" for k in t.layer_kinds()):
        notes.append("linear-attention layers keep a fixed state per sequence, not counted here")
    if float(kv_replication(s, tp)) > 1:
        notes.append("KV cache replicated across tensor-parallel GPUs (MLA latent, or tp > KV heads)")
    return MemoryEstimate(
        model=m.id,
        quant=q.id,
        kv_quant=kq.id,
        engine=e.id,
        context=int(context),
        batch=int(batch),
        tp=int(tp),
        pp=int(pp),
        ep=int(ep),
        gpus=gpus,
        weights_bytes=w_t,
        kv_bytes_per_token=float(kv_bytes_per_token_arr(s, kq.kv_bits)),
        kv_cache_bytes=kv_t,
        activation_bytes=a_g * gpus,
        overhead_bytes=o_g * gpus,
        total_bytes=w_t + kv_t + (a_g + o_g) * gpus,
        per_gpu_bytes=w_g + kv_g + a_g + o_g,
        per_gpu={"weights": w_g, "kv_cache": kv_g, "activation": a_g, "overhead": o_g},
        sources=sources,
        notes=notes,
    )


def fit_count(cap: ArrayLike, per_item: ArrayLike, dp: ArrayLike, limit: ArrayLike) -> ArrayLike:
    """How many items of `per_item` bytes fit in `cap` bytes per GPU, times `dp` attention groups;
    0 where nothing fits; `limit` (the engine's sequence cap) where an item costs no KV bytes
    (encoder-only models)."""
    cap = np.asarray(cap, dtype=float)
    per_item = np.asarray(per_item, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(per_item > 0, np.floor(np.maximum(cap, 0) / np.where(per_item > 0, per_item, 1)), limit)
    return np.where(cap > 0, n * dp, 0)


def _capacity_inputs(model, gpu, quant, kv_quant, tp, pp, ep, engine, catalog):
    m = resolve_model(model, catalog)
    if m.transformer is None:
        raise DeployscopeError("KV capacity applies to transformer models", field="model", value=m.id, allowed="an LLM, embedding or reranker model")
    g = resolve_gpu(gpu, catalog)
    q = resolve_quant(quant, catalog)
    kq = resolve_kv_quant(kv_quant, catalog)
    e = resolve_engine(engine, catalog).on_gpu(g)
    _check_parallel(m.transformer, tp, pp, ep)
    s = shape_of(m.transformer)
    ea = engine_arrays(e)
    tp, pp, ep = np.asarray(tp), np.asarray(pp), np.asarray(ep)
    dp, gpus = parallel_layout(tp, pp, ep)
    w_g = weights_per_gpu(s, q.weight_bits, _emb_bits(q), tp, pp, ep, _dense_bits(q))
    a_g = activation_per_gpu(s, ea.tokens, ea.seqs, ea.logit_copies, tp)
    ea = with_utilization(ea, e, g.memory_bytes, tp, pp)
    cap = capacity_bytes_per_gpu(g.memory_bytes, w_g, a_g, ea, gpus)
    return m, s, kq, cap, dp, tp, pp, ea


def kv_capacity_tokens(
    model: str | ModelSpec,
    gpu: str | Accelerator,
    quant: str | QuantFormat = "bf16",
    kv_quant: str | QuantFormat | None = None,
    tp: ArrayLike = 1,
    pp: ArrayLike = 1,
    engine: str | Engine = "vllm",
    catalog: Any = None,
    ep: ArrayLike = 1,
) -> ArrayLike:
    """KV tokens (uncapped per-token size) that fit in one replica after weights, activation
    peak and overheads; 0 where the model does not fit. Broadcasts over tp, pp, ep arrays."""
    m, s, kq, cap, dp, tp, pp, ea = _capacity_inputs(model, gpu, quant, kv_quant, tp, pp, ep, engine, catalog)
    per_tok_g = kv_bytes_per_token_arr(s, kq.kv_bits) * kv_gpu_share(s, tp, pp)
    out = fit_count(cap, per_tok_g, dp, ea.seqs).astype(np.int64)
    return int(out) if out.ndim == 0 else out


def max_sequences(
    model: str | ModelSpec,
    gpu: str | Accelerator,
    context: ArrayLike = 8192,
    quant: str | QuantFormat = "bf16",
    kv_quant: str | QuantFormat | None = None,
    tp: ArrayLike = 1,
    pp: ArrayLike = 1,
    engine: str | Engine = "vllm",
    catalog: Any = None,
    ep: ArrayLike = 1,
) -> ArrayLike:
    """Sequences of `context` tokens whose KV cache fits at once in one replica (0: does not fit)."""
    m = resolve_model(model, catalog)
    if m.transformer is not None:
        _check_context(m.transformer, context)
    m, s, kq, cap, dp, tp, pp, ea = _capacity_inputs(m, gpu, quant, kv_quant, tp, pp, ep, engine, catalog)
    per_seq_g = kv_per_sequence(s, np.asarray(context), kq.kv_bits) * kv_gpu_share(s, tp, pp)
    out = fit_count(cap, per_seq_g, dp, ea.seqs).astype(np.int64)
    return int(out) if out.ndim == 0 else out


PARALLEL_LADDER: tuple[tuple[int, int], ...] = ((1, 1), (2, 1), (4, 1), (8, 1)) + tuple((8, p) for p in range(2, 17))


def default_engine_for(q: QuantFormat) -> str:
    """vLLM serves every GPU format modelled here; GGUF files go to llama.cpp."""
    return "llamacpp" if q.family == "gguf" else "vllm"


def fit_rows(
    model: str | ModelSpec,
    context: int = 8192,
    gpus: Iterable[str | Accelerator] | None = None,
    catalog: Any = None,
    quants: Iterable[str | QuantFormat] | None = None,
    kv_quant: str | QuantFormat | None = None,
) -> list[dict[str, Any]]:
    """For each GPU x weight format: the fewest GPUs (tp 1, 2, 4, 8, then tp 8 x pp 2..16) that hold
    the model at `context`, and how many such sequences fit at once. `gpus` None: every GPU in the
    catalog. Rows that fit nowhere on the ladder have gpus None and max_sequences 0."""
    cat = default_catalog(catalog)
    m = resolve_model(model, cat)
    if m.transformer is None:
        raise DeployscopeError("fit applies to transformer models", field="model", value=m.id, allowed="an LLM, embedding or reranker model")
    t = m.transformer
    _check_context(t, context)
    gpu_rows = [resolve_gpu(g, cat) for g in gpus] if gpus else list(cat.accelerators)
    q_rows = [resolve_quant(q, cat) for q in quants] if quants else [q for q in cat.quant if not q.kv_only]
    kq = resolve_kv_quant(kv_quant, cat)
    s = shape_of(t)
    ladder = [(tp, pp) for tp, pp in PARALLEL_LADDER if t.num_attention_heads % tp == 0 and pp <= t.num_layers]
    tp = np.asarray([x[0] for x in ladder])[None, None, :]
    pp = np.asarray([x[1] for x in ladder])[None, None, :]
    mem = np.asarray([g.memory_bytes for g in gpu_rows], dtype=float)[:, None, None]
    bits = np.asarray([q.weight_bits for q in q_rows])[None, :, None]
    emb = np.asarray([_emb_bits(q) for q in q_rows])[None, :, None]
    dense_bits = np.asarray([_dense_bits(q) for q in q_rows])[None, :, None]
    engines = [resolve_engine(default_engine_for(q), cat) for q in q_rows]
    # each engine as it configures itself on each GPU (vLLM's batch defaults differ by GPU)
    on_gpu = [e.on_gpu(g) for g in gpu_rows for e in engines]
    ea = engine_arrays(on_gpu, ndim=2)
    ea = EngineArrays(**{k: np.asarray(getattr(ea, k)).reshape(len(gpu_rows), len(q_rows), 1) for k in ea.__dataclass_fields__})
    if any(e.memory.static_fraction is not None for e in engines):
        util = [np.broadcast_to(utilization_for(e, g.memory_bytes, tp[0, 0], pp[0, 0]), tp.shape[-1:])
                for g in gpu_rows for e in engines]
        ea = replace(ea, utilization=np.asarray(util, dtype=float).reshape(len(gpu_rows), len(q_rows), -1))
    dp, n = parallel_layout(tp, pp, 1)
    w_g = weights_per_gpu(s, bits, emb, tp, pp, 1, dense_bits)
    a_g = activation_per_gpu(s, ea.tokens, ea.seqs, ea.logit_copies, tp)
    cap = capacity_bytes_per_gpu(mem, w_g, a_g, ea, n)
    per_seq = kv_per_sequence(s, context, kq.kv_bits) * kv_gpu_share(s, tp, pp)
    seqs = fit_count(cap, per_seq, dp, ea.seqs)
    rows = []
    for i, g in enumerate(gpu_rows):
        for j, q in enumerate(q_rows):
            ok = np.nonzero(seqs[i, j] >= 1)[0]
            k = int(ok[0]) if ok.size else None
            rows.append(
                {
                    "gpu": g.id,
                    "quant": q.id,
                    "gpus": int(n[0, 0, k]) if k is not None else None,
                    "tp": int(tp[0, 0, k]) if k is not None else None,
                    "pp": int(pp[0, 0, k]) if k is not None else None,
                    "max_sequences": int(seqs[i, j, k]) if k is not None else 0,
                    "engine": engines[j].id,
                    "native": g.family in q.native_families,
                    "weight_bits": q.weight_bits,
                    "quality_delta": q.quality_delta,
                    "quality_metric": q.quality_metric,
                }
            )
    return rows
