"""The public memory queries: weight bytes, KV bytes, `estimate_memory`, KV capacity, the most
sequences that fit, and the fewest GPUs that hold a model (`fit_rows`). They resolve names
through the catalog and check inputs, raising `DeployscopeError` naming the field, value and what
is allowed (see docs/memory.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ...catalog.accelerators import Accelerator
from ...catalog.engines import Engine
from ...catalog.loader import default_catalog
from ...catalog.models import ModelSpec, Transformer
from ...catalog.quant import QuantFormat
from ...errors import DeployscopeError
from .arrays import (
    SMALL_BITS,
    ArrayLike,
    EngineArrays,
    _check_context,
    _check_engine_format,
    _check_parallel,
    _check_positive,
    _dense_bits,
    _emb_bits,
    activation_per_gpu,
    capacity_bytes_per_gpu,
    engine_arrays,
    kv_bytes_per_token_arr,
    kv_gpu_share,
    kv_per_sequence,
    kv_replication,
    overhead_per_gpu,
    parallel_layout,
    resolve_engine,
    resolve_gpu,
    resolve_kv_quant,
    resolve_model,
    resolve_quant,
    shape_of,
    weights_per_gpu,
    weights_total,
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
) -> MemoryEstimate:
    """Weights, KV cache, activation peak and runtime overhead of one replica."""
    m = resolve_model(model, catalog)
    q = resolve_quant(quant, catalog)
    kq = resolve_kv_quant(kv_quant, catalog)
    e = resolve_engine(engine, catalog)
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
    e = resolve_engine(engine, catalog)
    _check_parallel(m.transformer, tp, pp, ep)
    s = shape_of(m.transformer)
    ea = engine_arrays(e)
    tp, pp, ep = np.asarray(tp), np.asarray(pp), np.asarray(ep)
    dp, gpus = parallel_layout(tp, pp, ep)
    w_g = weights_per_gpu(s, q.weight_bits, _emb_bits(q), tp, pp, ep, _dense_bits(q))
    a_g = activation_per_gpu(s, ea.tokens, ea.seqs, ea.logit_copies, tp)
    cap = capacity_bytes_per_gpu(g.memory_bytes, w_g, a_g, ea, gpus)
    return m, s, kq, cap, dp, tp, pp


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
    m, s, kq, cap, dp, tp, pp = _capacity_inputs(model, gpu, quant, kv_quant, tp, pp, ep, engine, catalog)
    per_tok_g = kv_bytes_per_token_arr(s, kq.kv_bits) * kv_gpu_share(s, tp, pp)
    out = fit_count(cap, per_tok_g, dp, engine_arrays(resolve_engine(engine, catalog)).seqs).astype(np.int64)
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
    m, s, kq, cap, dp, tp, pp = _capacity_inputs(m, gpu, quant, kv_quant, tp, pp, ep, engine, catalog)
    per_seq_g = kv_per_sequence(s, np.asarray(context), kq.kv_bits) * kv_gpu_share(s, tp, pp)
    out = fit_count(cap, per_seq_g, dp, engine_arrays(resolve_engine(engine, catalog)).seqs).astype(np.int64)
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
    ea = engine_arrays(engines, ndim=2)
    ea = EngineArrays(**{k: np.asarray(getattr(ea, k)).reshape(1, -1, 1) for k in ea.__dataclass_fields__})
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
