"""First-principles bounds shared by the physics property tests."""

from __future__ import annotations

from typing import Any

from deployscope.physics import llm


def decode_weight_read_s(c: Any, batch: int, tp: int) -> float:
    """The least time a decode step of `batch` tokens can take on one GPU: every weight it touches
    (dense and attention weights, plus the experts its tokens route to) read once from memory at
    the datasheet bandwidth, split over `tp` GPUs."""
    s = c.shape
    dense = (s.attn_params + s.dense_mlp_params + s.shared_expert_params) * s.weight_bytes_per_param / tp
    touched = float(llm.distinct_experts(s.num_experts, s.experts_per_token, batch)) if s.moe_layers else 0.0
    experts = s.moe_layers * touched * s.expert_params * s.weight_bytes_per_param / tp
    return float((dense + experts) / c.gpu.memory_bandwidth_bytes_per_s)
