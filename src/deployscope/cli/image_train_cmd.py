"""`deployscope train` for image models (diffusion UNet / DiT, StyleGAN-class GANs)."""

from __future__ import annotations

from typing import Any

from ..errors import DeployscopeError
from .output import console, emit

GIB = 2**30


def native_side(spec: Any) -> int:
    """The model's native training resolution (pixels a side) from its catalog details."""
    for c in spec.components:
        if c.role in ("denoiser", "generator"):
            d = c.details
            if "resolution" in d:
                return int(d["resolution"])
            if "native_resolution" in d:
                return int(d["native_resolution"])
            if "sample_size" in d:
                return int(d["sample_size"]) * 8
    return 512


def images_of(images: str | None, steps: int | None, epochs: float | None, dataset_images: float | None, global_batch: int) -> float:
    """Images shown from exactly one of --images, --steps (x global batch) or --epochs (x --dataset-images)."""
    from ..physics.image_training import parse_count

    given = [n for n, v in (("--images", images), ("--steps", steps), ("--epochs", epochs)) if v is not None]
    if len(given) != 1:
        raise DeployscopeError(
            f"give exactly one of --images, --steps, --epochs (got {', '.join(given) or 'none'})", field="--images", value=None,
            allowed="--images 1B | --steps 100000 | --epochs 10 --dataset-images 5M",
        )
    if images is not None:
        return parse_count(images, "--images")
    if steps is not None:
        if steps < 1:
            raise DeployscopeError(f"must be >= 1 (got {steps})", field="--steps", value=steps)
        return float(steps) * global_batch
    if dataset_images is None:
        raise DeployscopeError("--epochs needs --dataset-images", field="--dataset-images", value=None, allowed="an image count: 5M")
    if not epochs or epochs <= 0:
        raise DeployscopeError(f"must be > 0 (got {epochs})", field="--epochs", value=epochs)
    return float(epochs) * dataset_images


def run_image_training(spec: Any, gpu: str, gpus: int, *, images: str | None, tokens: str | None, method: str, resolution: str,
                       global_batch: int | None, steps: int | None, epochs: float | None, dataset_images: str | None, precision: str,
                       ema: bool, train_text_encoder: bool, precomputed_latents: bool, precomputed_text: bool, checkpointing: bool,
                       zero: int | None, micro_batch: int | None, network: str | None, as_json: bool, raw_files: bool = False) -> None:
    from ..catalog.loader import default_catalog
    from ..physics import image_training as IT
    from ..physics.image_data import data_pipeline

    if tokens is not None:
        raise DeployscopeError(f"{spec.id} is an image model: give --images (or --steps / --epochs), not --tokens", field="--tokens", value=tokens)
    cat = default_catalog()
    batch = global_batch or IT.method_row(cat, method).method.default_global_batch
    n_data = IT.parse_count(dataset_images, "--dataset-images") if dataset_images is not None else None
    n_images = images_of(images, steps, epochs, n_data, batch)
    stages = IT.parse_schedule(resolution or str(native_side(spec)))
    job = IT.ImageJob(images=n_images, stages=stages, method=method, global_batch=global_batch, precision=precision, ema=ema,
                      train_text_encoder=train_text_encoder, precomputed_latents=precomputed_latents, precomputed_text=precomputed_text,
                      zero=zero, checkpointing=checkpointing, micro_batch=micro_batch, network=network)
    r = IT.estimate(spec, gpu, gpus, job, catalog=cat)
    if not r.fits:
        raise DeployscopeError(
            f"{spec.id} {method} needs {r.memory_per_gpu_bytes / GIB:,.1f} GiB per GPU with one image per GPU on {gpus} x {r.gpu} "
            f"({r.gpu_memory_bytes / GIB:,.0f} GiB)", field="--global-batch", value=r.global_batch,
            allowed=(f"at least {r.min_gpus} GPUs with ZeRO-3 (--zero 3), or --checkpointing" if r.min_gpus else "a larger GPU, or --checkpointing"),
        )
    data = r.to_dict()
    data["kind"] = "image_training"
    data["memory_per_gpu_gib"] = r.memory_per_gpu_bytes / GIB
    data["data_pipeline"] = data_pipeline(IT.arch_of(spec, cat), job, r, cat, n_data, raw_files=raw_files)
    emit(data, as_json, _render)


def _fmt(x: Any, spec: str = ",.3g") -> str:
    return "-" if x is None else format(x, spec)


def _render(d: dict[str, Any]) -> None:
    from rich.table import Table

    c = console()
    sched = " → ".join(f"{s['width']}x{s['height']} ({s['share']:.0%})" for s in d["stages"])
    t = Table(title=f"{d['model']} · {d['method']} · {d['images']:,.4g} images · {sched} · {d['gpus']} x {d['gpu']}", title_justify="left")
    t.add_column("figure")
    t.add_column("value", justify="right")
    band = d.get("error_band") or {}
    lo, hi = band.get("low"), band.get("high")

    def banded(x: float, spec: str) -> str:
        return f"{x:{spec}}" + (f"  ({x * lo:{spec}} .. {x * hi:{spec}})" if lo and hi else "")

    for k, v in (
        ("FLOPs (model)", f"{d['flops']:.3e}  ({d['flops_per_image'] / 1e12:,.2f} TFLOP per image)"),
        ("MFU", f"{d['mfu']:.1%}"),
        ("images/s (cluster)", _fmt(d["images_per_s"], ",.1f")),
        ("optimizer steps", f"{d['steps']:,.0f} x {d['global_batch']} images (micro-batch {d['micro_batch']} x {d['grad_accumulation']} accumulation)"),
        ("GPU-hours", banded(d["gpu_hours"], ",.0f")),
        ("wall-clock days", banded(d["wall_days"], ",.2f")),
        ("energy, kWh before PUE", banded(d["energy_kwh"], ",.0f")),
        ("memory per GPU", f"{d['memory_per_gpu_bytes'] / GIB:,.1f} GiB of {d['gpu_memory_bytes'] / GIB:,.0f} GiB ({'ZeRO-' + str(d['zero']) if d['zero'] else 'DDP'}{', checkpointing' if d['checkpointing'] else ''})"),
        ("fewest GPUs that fit", _fmt(d["min_gpus"], "d")),
        ("trainable parameters", f"{d['trainable_params']:,.0f}"),
    ):
        t.add_row(k, v)
    c.print(t)
    c.print(f"fabric: {d['interconnect'].get('needed') or '-'} — {d['interconnect']['why']}", soft_wrap=True)
    dp = d["data_pipeline"]
    c.print(f"data: {dp['format']}, {dp['read_bytes_per_s'] / 1e9:,.2f} GB/s read ({dp['read_bytes_per_s_per_node'] / 1e9:,.2f} per node), "
            f"{dp['dataset_bytes'] / 1e12:,.1f} TB stored; checkpoint {dp['checkpoint_bytes'] / 1e9:,.1f} GB", soft_wrap=True)
    for tier in dp["tiers"]:
        fed = {True: "keeps up", False: "TOO SLOW", None: "unknown"}[tier["keeps_fed"]]
        w = f"; checkpoint write {tier['checkpoint_write_s']:,.0f} s" if tier.get("checkpoint_write_s") else ""
        c.print(f"  {tier['storage']} ({tier['tier']}): {fed} — {tier['why']}{w}", soft_wrap=True)
    if d.get("license"):
        c.print(f"licence of the base model: {d['license']}")
    for a in d.get("assumptions", []):
        c.print(f"assumption: {a}", soft_wrap=True)
