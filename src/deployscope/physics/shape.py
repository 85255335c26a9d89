"""The shape of a transformer as the memory and step-time models see it: parameter counts per
part and a :class:`ModelShape` of plain numbers (or arrays, stacked for sweeps) taken from a
catalog model's ``transformer`` section.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np

from ..catalog.models import Transformer

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


def tp_replicated_params(t: Transformer) -> int:
    """Matrix parameters every tensor-parallel GPU holds whole, all layers: MLA's down-projections
    q_a (hidden -> q_lora_rank) and kv_a (hidden -> kv_lora_rank + rope dims). vLLM and SGLang build
    them as ReplicatedLinear so each GPU has the whole latent its heads read; q_b, kv_b and the
    output projection split by heads. 0 for other attention."""
    if t.mla is None:
        return 0
    m = t.mla
    return t.num_layers * t.hidden_size * ((m.q_lora_rank or 0) + m.kv_lora_rank + m.qk_rope_head_dim)


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
# Shapes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a transformer the memory model needs; fields may be numpy arrays
    (`stack_shapes`) so that a sweep over models broadcasts too."""

    layers: ArrayLike
    embed_params: ArrayLike  # token (+ position) table
    head_params: ArrayLike  # LM head, 0 when tied
    dense_params: ArrayLike  # attention + dense MLP + shared experts, all layers (quantized)
    replicated_params: ArrayLike  # the part of dense_params whole on every tensor-parallel GPU (MLA q_a, kv_a)
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
        replicated_params=tp_replicated_params(t),
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
