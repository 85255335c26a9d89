"""The achievable-MFU terms of the training model: cluster size, model width, per-GPU GEMM size,
goodput and recomputation (all take numpy arrays and broadcast).

* cluster and width (fitted, catalog ``training_efficiency`` rows): see :func:`mfu_model`;
* per-GPU GEMM size (no fitted number, the roofline): a matmul of ``m x k`` by ``k x n`` in 16-bit
  does ``2 m k n`` FLOPs and moves at least ``2 (m k + k n + m n)`` bytes, so its arithmetic
  intensity is ``1 / (1/m + 1/k + 1/n)`` FLOP/B. Below the GPU's ridge point (peak FLOP/s over
  HBM bytes/s) it is bound by memory and reaches only ``intensity / ridge`` of peak. In training,
  ``m`` is the tokens of one micro-batch on one GPU (micro-batch x sequence length), ``k`` the
  hidden size and ``n`` the hidden size over the tensor-parallel width (the narrowest of a layer's
  large matmuls on one GPU). At the shapes published runs use (a micro-batch of 2,048-8,192
  tokens, hidden 2,048 or more) the intensity is 600-1,600 FLOP/B against ridges of 150-300, so the
  term is 1 and the fitted level carries what GEMMs lose; it bites for narrow models, wide
  tensor parallelism or micro-batches of a few hundred tokens.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_SCALE_GPUS = 64.0  # below 64 GPUs the cluster term stays at its 64-GPU value (assumption: no data below)


def mfu_model(mfu_ref, ref_gpus, scale_exponent, width_coeff, ridge, hidden, gpus):  # noqa: ANN001
    """Cluster and width terms of the MFU model (arrays); method/recompute/network factors apart.

    ``ridge``: peak bf16 FLOP/s / HBM bytes/s of the GPU; ``hidden``: the model's hidden size.
    """
    g = np.maximum(np.asarray(gpus, dtype=float), MIN_SCALE_GPUS)
    scale = (g / np.asarray(ref_gpus, dtype=float)) ** (-np.asarray(scale_exponent, dtype=float))
    width = 1.0 / (1.0 + np.asarray(width_coeff, dtype=float) * np.asarray(ridge, dtype=float) / np.maximum(np.asarray(hidden, dtype=float), 1.0))
    return np.asarray(mfu_ref, dtype=float) * scale * width


def gemm_intensity(tokens_per_micro_batch, hidden, tp):  # noqa: ANN001
    """FLOP per byte of the per-GPU matmul m x k x n with m = tokens, k = hidden, n = hidden / tp."""
    m = np.maximum(np.asarray(tokens_per_micro_batch, dtype=float), 1.0)
    k = np.maximum(np.asarray(hidden, dtype=float), 1.0)
    n = np.maximum(k / np.maximum(np.asarray(tp, dtype=float), 1.0), 1.0)
    return 1.0 / (1.0 / m + 1.0 / k + 1.0 / n)


def gemm_factor(tokens_per_micro_batch, hidden, tp, ridge):  # noqa: ANN001
    """Share of peak a memory-bound GEMM keeps: min(1, intensity / ridge) (1 when ridge is unknown)."""
    r = np.asarray(ridge, dtype=float)
    i = gemm_intensity(tokens_per_micro_batch, hidden, tp)
    return np.where(r > 0, np.minimum(1.0, i / np.where(r > 0, r, 1.0)), 1.0)


def goodput_at(goodput, goodput_ref_gpus, gpus):  # noqa: ANN001
    """Share of wall-clock spent training: lost share (1/goodput - 1) scales with gpus / goodput_ref_gpus."""
    gp = np.asarray(goodput, dtype=float)
    if goodput_ref_gpus is None:
        return gp
    lost = (1.0 / gp - 1.0) * np.asarray(gpus, dtype=float) / float(goodput_ref_gpus)
    return 1.0 / (1.0 + lost)


def ridge_of(acc: Any) -> float:
    """Peak bf16 FLOP/s per HBM byte/s of an accelerator (its roofline ridge point)."""
    bw = float(getattr(acc, "memory_bandwidth_gb_s", 0.0) or 0.0) * 1e9
    return acc.peak_flops("bf16") / bw if bw > 0 else 0.0


def recompute_factor(recompute: str, method: str) -> float:
    """MFU lost to recomputation: hardware does 8N (LoRA 6N) per token for 6N (4N) counted."""
    if recompute != "full":
        return 1.0
    return 4.0 / 6.0 if method in ("lora", "qlora") else 6.0 / 8.0
