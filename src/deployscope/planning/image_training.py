"""Sizing an image-model training job for the plan: GPU-hours per candidate GPU, the cluster that
meets the deadline, and its fabric and storage needs. Pure: catalog and job in, a typed value out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import DeployscopeError
from .unservable import Unservable

MAX_GPUS = 4096


@dataclass(frozen=True)
class ImageTrainingSizing:
    """One image-training job sized on one GPU type."""

    gpus: int
    gpu_hours: float  # per run
    wall_days: float  # per run
    energy_kwh: float  # per run, before PUE
    fabric: str | None  # slowest catalog fabric that hides the gradient traffic (None: one node, or none does)
    fabric_kind: str  # none (one node), ethernet, roce, infiniband (also when no catalog fabric hides it)
    read_bytes_per_s: float
    dataset_bytes: float
    checkpoint_bytes: float
    error_band: dict[str, Any]

    def as_config(self) -> dict[str, Any]:
        """The planner's training-config dict (the keys LLM training jobs fill)."""
        return {"gpus": self.gpus, "gpu_hours": self.gpu_hours, "wall_days": self.wall_days, "energy_kwh": self.energy_kwh,
                "fabric": self.fabric, "fabric_kind": self.fabric_kind, "read_bytes_per_s": self.read_bytes_per_s, "dataset_bytes": self.dataset_bytes,
                "checkpoint_bytes": self.checkpoint_bytes, "error_band": self.error_band}


def _job(j: Any) -> Any:
    from ..physics.image_training import ImageJob, parse_schedule

    return ImageJob(images=j.images, stages=parse_schedule(j.resolution), method=j.method, global_batch=j.global_batch,
                    precision=j.precision, ema=j.ema, train_text_encoder=j.train_text_encoder,
                    precomputed_latents=j.precomputed_latents, precomputed_text=j.precomputed_text)


def size_job(j: Any, gpu_id: str, catalog: Any) -> tuple[ImageTrainingSizing | None, Unservable | None]:
    """Fewest whole 8-GPU servers (or 1-4 GPUs for small fine-tunes) that fit and meet the deadline."""
    from ..physics.image_data import data_pipeline
    from ..physics.image_training import arch_of, estimate
    from ..physics.training import network_row

    job = _job(j)
    n = 1
    reason: Unservable | None = None
    while n <= MAX_GPUS:
        try:
            r = estimate(j.model, gpu_id, n, job, catalog=catalog)
        except DeployscopeError as exc:
            if exc.field == "global_batch":  # the batch cannot spread over more GPUs
                return None, reason or Unservable.from_error(exc, str(exc))
            return None, Unservable.from_error(exc, str(exc))
        if not r.fits:
            reason = Unservable("memory", f"{j.model} {j.method} does not fit on {n} x {gpu_id}")
            n = _next(max(n + 1, r.min_gpus or n + 1))
            continue
        if j.deadline_days is None or r.wall_days <= j.deadline_days:
            dp = data_pipeline(arch_of(j.model, catalog), job, r, catalog, j.dataset_images)
            needed = r.interconnect.get("needed")
            one_node = n <= catalog.accelerators.get(gpu_id).interconnect.domain_size
            kind = "none" if one_node else (network_row(catalog, needed).network.kind if needed else "infiniband")
            return ImageTrainingSizing(n, r.gpu_hours, r.wall_days, r.energy_kwh, needed, kind,
                                       dp["read_bytes_per_s"], dp["dataset_bytes"], dp["checkpoint_bytes"], dict(r.error_band)), None
        reason = Unservable("deadline", f"{n} x {gpu_id} needs {r.wall_days:.1f} days per run, above the {j.deadline_days}-day deadline")
        if n >= r.global_batch:
            return None, Unservable("deadline", reason.text + f" (the global batch of {r.global_batch} images spreads over "
                                    f"{r.global_batch} GPUs at most)")
        n = min(r.global_batch, _next(max(n + 1, math.ceil(n * r.wall_days / j.deadline_days))))
    return None, reason or Unservable("sizing", f"{j.model} cannot be trained on {gpu_id}")


def dataset_bytes(j: Any, catalog: Any) -> float:
    """Stored training set of an image job: its dataset_gb, else its images (or dataset_images) at the
    largest stage's stored bytes per sample (JPEG shards, or latents when precomputed)."""
    from ..physics.image_data import sample_bytes
    from ..physics.image_training import arch_of, parse_schedule

    if j.dataset_gb is not None:
        return float(j.dataset_gb) * 1e9
    rows = [r for r in catalog.image_training if r.data is not None]
    if not rows:
        return 0.0
    arch = arch_of(j.model, catalog)
    top = max(parse_schedule(j.resolution), key=lambda s: s.pixels)
    per = sample_bytes(arch, top.width, top.height, j.precomputed_latents, j.precomputed_text, rows[0].data)
    return float((j.dataset_images or j.images) * per)


def _next(n: int) -> int:
    """1, 2, 4 GPUs, then whole 8-GPU servers."""
    if n <= 4:
        return 1 << (max(n, 1) - 1).bit_length()
    return math.ceil(n / 8.0) * 8
