"""Communication time of tensor, expert and pipeline parallelism (vectorized, SI units).

Formulas (ring algorithms, as in NCCL's own performance notes and GenZ ``collective_times.py``):

* all-reduce of ``M`` bytes over ``n`` GPUs: ``alpha + 2 (n - 1) / n x M / B``
* all-to-all of ``M`` bytes per GPU over ``n`` GPUs: ``alpha + (n - 1) / n x M / B``
* pipeline send/recv of ``M`` bytes between stages: ``alpha + M / B`` per stage boundary
* pipeline micro-batches: a stage can only work on a micro-batch of whole sequences, so ``B``
  sequences in flight fill at most ``min(B, pp)`` of the ``pp`` stages; a batch pushed through an
  empty pipeline (a static batch's prefill) waits ``pp - 1`` extra stage slots to fill and drain

``B`` is the one-direction bandwidth per GPU of the link the group uses: the scale-up link
(NVLink, xGMI, PCIe) while the group fits in the accelerator's ``domain_size``, else the
scale-out network (InfiniBand / RoCE) per GPU. ``alpha`` is the fixed cost of one collective.
"""

from __future__ import annotations

import numpy as np

# Fixed cost of one collective: the 5 us constant term of GenZ's ring all-reduce
# (abhibambhaniya/GenZ-LLM-Analyzer, GenZ/collective_times.py; see docs/performance.md).
DEFAULT_COLLECTIVE_LATENCY_S = 5e-6
# Scale-out bandwidth per GPU when a group leaves the scale-up domain: one 400 Gb/s
# InfiniBand NDR port per GPU (NVIDIA ConnectX-7 datasheet), = 50 GB/s one direction.
DEFAULT_INTER_NODE_BYTES_PER_S = 400e9 / 8


def _link(n, link_bw, domain_size, inter_bw):  # noqa: ANN001
    """Bandwidth the group uses; a GPU with no scale-up link (0) gets a tiny positive figure so
    that a group on it is charged a (huge) finite time rather than a division by zero."""
    n = np.asarray(n, dtype=float)
    bw = np.where(n <= domain_size, link_bw, np.minimum(link_bw, inter_bw))
    return np.maximum(bw, 1.0)


def tp_allreduce_time(message_bytes, tp, count, link_bw, alpha, domain_size, inter_bw):  # noqa: ANN001
    """`count` all-reduces of `message_bytes` each over `tp` GPUs (0 when tp == 1)."""
    n = np.asarray(tp, dtype=float)
    bw = _link(n, link_bw, domain_size, inter_bw)
    one = alpha + 2.0 * (n - 1.0) / n * np.asarray(message_bytes, dtype=float) / bw
    return np.where(n > 1, count * one, 0.0)


def ep_alltoall_time(message_bytes, ep, moe_layers, link_bw, alpha, domain_size, inter_bw):  # noqa: ANN001
    """Dispatch + combine all-to-all per MoE layer over `ep` GPUs (0 when ep == 1)."""
    n = np.asarray(ep, dtype=float)
    bw = _link(n, link_bw, domain_size, inter_bw)
    one = alpha + (n - 1.0) / n * np.asarray(message_bytes, dtype=float) / bw
    return np.where(n > 1, 2.0 * moe_layers * one, 0.0)


def pp_send_time(message_bytes, pp, link_bw, alpha, replica_gpus=None, domain_size=None, inter_bw=None):  # noqa: ANN001
    """Activation hand-off to the next pipeline stage, charged per stage (0 when pp == 1).

    The link is the scale-up one (NVLink, xGMI, or PCIe on cards without either) while the
    replica's ``replica_gpus`` (tp x pp) fit in one scale-up domain; beyond it the slowest stage
    boundary crosses the scale-out network, and the pipeline runs at its slowest boundary."""
    n = np.asarray(pp, dtype=float)
    if not np.any(n > 1):
        return 0.0 * n
    bw = np.asarray(link_bw, dtype=float)
    if replica_gpus is not None and domain_size is not None and inter_bw is not None:
        bw = _link(replica_gpus, link_bw, domain_size, inter_bw)
    one = alpha + np.asarray(message_bytes, dtype=float) / np.maximum(bw, 1.0)
    return np.where(n > 1, one, 0.0)


def pp_microbatches(pp, sequences):  # noqa: ANN001
    """Micro-batches in flight: one per stage, but never more than there are sequences (>= 1)."""
    p = np.asarray(pp, dtype=float)
    if not np.any(p > 1):
        return np.ones_like(p)
    return np.minimum(np.maximum(np.asarray(sequences, dtype=float), 1.0), p)


def pp_bubble_fraction(pp, microbatches):  # noqa: ANN001
    """Idle fraction of a synchronous pipeline: (pp - 1) / (microbatches + pp - 1)."""
    p = np.asarray(pp, dtype=float)
    m = np.asarray(microbatches, dtype=float)
    return (p - 1.0) / (m + p - 1.0)
