"""The data side of an image-model training job: images/s consumed, read bandwidth and capacity
(raw JPEGs or WebDataset shards, or precomputed latents), checkpoint size and write time, and
whether each storage tier of the catalog keeps the GPUs fed.

Bytes per sample: stored JPEG bytes per pixel (catalog ``image_training`` data row, from
published dataset totals, interpolated in log(side)) x pixels; precomputed latents: channels x
(H/f) x (W/f) x 2 bytes, + the text encoders' hidden states (tokens x hidden x 2 bytes) when the
text is precomputed too. WebDataset shards hold the same bytes as the raw files but in large
sequential objects (one request per shard, not per image).

Tiers: NVMe (per-device read; drives needed per node), parallel file system (GB/s per TiB
provisioned: the capacity the bandwidth needs), object store (GET requests per prefix for one
object per image; shards are bandwidth-bound at each node's network), NAS (no figure unless the
user sets one). Checkpoint: fp32 master weights + Adam moments (the optimizer row's state bytes)
+ 16-bit weights + EMA copy of the trainable parameters, written by all nodes in parallel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import DeployscopeError

TIB = 2**40


def jpeg_bytes_per_pixel(anchors: tuple[tuple[int, float], ...], side) -> Any:
    """Stored bytes per pixel at a side length, interpolated in log(side) between the anchors (clamped)."""
    xs = np.log([a[0] for a in anchors])
    ys = [a[1] for a in anchors]
    return np.interp(np.log(np.asarray(side, dtype=float)), xs, ys)


def sample_bytes(arch: Any, width: int, height: int, precomputed_latents: bool, precomputed_text: bool, data_row: Any) -> float:
    """Stored bytes of one training sample at one resolution."""
    if precomputed_latents and arch.vae is not None:
        b = arch.latent_channels * (height // arch.latent_factor) * (width // arch.latent_factor) * data_row.latent_bytes_per_element
        if precomputed_text:
            b += sum(float(c.details.get("max_tokens", 77)) * float(c.details.get("hidden_size") or c.details.get("d_model") or 768) * 2.0 for c in arch.text_encoders)
        return b + data_row.caption_bytes
    side = math.sqrt(width * height)
    return float(jpeg_bytes_per_pixel(data_row.jpeg_bytes_per_pixel, side)) * width * height + data_row.caption_bytes


def checkpoint_bytes(trainable: float, state_bytes_per_param: float, ema: bool) -> float:
    """Optimizer state (incl. fp32 master) + 16-bit weights + fp32 EMA of the trainable parameters."""
    return trainable * (state_bytes_per_param + 2.0 + (4.0 if ema else 0.0))


def data_pipeline(arch: Any, job: Any, result: Any, catalog: Any, dataset_images: float | None = None, raw_files: bool = False) -> dict[str, Any]:
    """Images/s, read bandwidth, capacity, checkpoint size and each storage tier's verdict.

    ``raw_files``: one file (object) per image instead of WebDataset shards (JPEGs only)."""
    rows = [r for r in catalog.image_training if r.data is not None]
    if not rows:
        raise DeployscopeError("catalog has no image_training data row", field="image_training", value="data")
    drow = rows[0].data
    from .training import optimizer_row

    orow = optimizer_row(catalog, "adamw").optimizer
    if job.precomputed_latents and arch.vae is not None:
        fmt = "precomputed latents"
    else:
        fmt = "one JPEG file per image" if raw_files else "WebDataset shards (JPEG)"
    stages = []
    need_bps = 0.0
    for s in result.stages:
        b = sample_bytes(arch, s["width"], s["height"], job.precomputed_latents, job.precomputed_text, drow)
        stage_busy_s = s["gpu_hours"] * 3600.0 / result.gpus
        ips = s["images"] / stage_busy_s if stage_busy_s > 0 else 0.0
        stages.append({"width": s["width"], "height": s["height"], "bytes_per_sample": b, "images_per_s": ips, "read_bytes_per_s": ips * b})
        need_bps = max(need_bps, ips * b)
    n_data = dataset_images if dataset_images is not None else result.images
    top = max(result.stages, key=lambda s: s["width"] * s["height"])
    raw_b = sample_bytes(arch, top["width"], top["height"], False, False, drow)
    cap_bytes = n_data * max(st["bytes_per_sample"] for st in stages)
    raw_cap = n_data * raw_b
    ckpt = checkpoint_bytes(result.trainable_params, orow.state_bytes_per_param, job.ema)
    nodes = max(1, math.ceil(result.gpus / 8))
    peak_ips = max(st["images_per_s"] for st in stages)
    tiers = [_tier(r, need_bps, peak_ips, cap_bytes, ckpt, nodes, fmt) for r in catalog.storage]
    return {
        "format": fmt,
        "images_per_s": result.images_per_s,
        "read_bytes_per_s": need_bps,
        "read_bytes_per_s_per_node": need_bps / nodes,
        "dataset_images": n_data,
        "dataset_bytes": cap_bytes,
        "raw_dataset_bytes": raw_cap,
        "stages": stages,
        "checkpoint_bytes": ckpt,
        "nodes": nodes,
        "tiers": tiers,
        "assumptions": [
            f"stored JPEG bytes per pixel from row {rows[0].id}; latents fp16",
            f"{n_data:,.0f} images in the training set" + ("" if dataset_images is not None else " (one pass: give --dataset-images for the real set)"),
            f"{nodes} node(s) of up to 8 GPUs read in parallel and write their checkpoint shards in parallel",
        ],
    }


def _tier(r: Any, need_bps: float, images_per_s: float, cap_bytes: float, ckpt: float, nodes: int, fmt: str) -> dict[str, Any]:
    out: dict[str, Any] = {"storage": r.id, "tier": r.tier, "source": r.source}
    if r.tier == "nvme" and r.read_gb_s:
        per_node = need_bps / nodes
        drives = max(1, math.ceil(per_node / (r.read_gb_s * 1e9)))
        out.update(keeps_fed=True, available_bytes_per_s=drives * nodes * r.read_gb_s * 1e9,
                   why=f"{per_node / 1e9:,.2f} GB/s per node: {drives} drive(s) per node at {r.read_gb_s:g} GB/s each; the data set is copied to every node ({cap_bytes / 1e12:,.1f} TB each)",
                   checkpoint_write_s=ckpt / (nodes * drives * (r.write_gb_s or r.read_gb_s) * 1e9))
    elif r.tier == "parallel_fs" and r.gb_s_per_tib:
        tib_for_bw = need_bps / (r.gb_s_per_tib * 1e9)
        tib = max(cap_bytes / TIB, tib_for_bw)
        bw = tib * r.gb_s_per_tib * 1e9
        out.update(keeps_fed=True, available_bytes_per_s=bw, provisioned_tib=tib,
                   why=f"{need_bps / 1e9:,.2f} GB/s needs {tib_for_bw:,.1f} TiB at {r.gb_s_per_tib * 1e3:g} MB/s/TiB; the data set is {cap_bytes / TIB:,.1f} TiB: provision {tib:,.1f} TiB",
                   checkpoint_write_s=ckpt / bw)
    elif r.tier == "object" and r.get_requests_per_s:
        if fmt.startswith(("WebDataset", "precomputed")):
            out.update(keeps_fed=True, available_bytes_per_s=None,
                       why=f"sequential shards: {images_per_s:,.0f} images/s is bandwidth-bound at each node's network ({need_bps / nodes / 1e9:,.2f} GB/s per node), far below the request limit",
                       checkpoint_write_s=None)
        else:
            prefixes = math.ceil(images_per_s / r.get_requests_per_s)
            out.update(keeps_fed=prefixes <= 1, available_bytes_per_s=None,
                       why=f"one object per image: {images_per_s:,.0f} GET/s needs {prefixes} partitioned prefix(es) at {r.get_requests_per_s:,.0f}/s each"
                       + (" (one prefix is too slow: spread the keys, or pack WebDataset shards)" if prefixes > 1 else ""),
                       checkpoint_write_s=None)
    elif r.read_gb_s:
        bw = r.read_gb_s * 1e9 * (nodes if r.read_scope != "system" else 1)
        out.update(keeps_fed=bw >= need_bps, available_bytes_per_s=bw,
                   why=f"{bw / 1e9:,.1f} GB/s ({r.read_scope}) against {need_bps / 1e9:,.2f} GB/s needed",
                   checkpoint_write_s=ckpt / ((r.write_gb_s or r.read_gb_s) * 1e9 * (nodes if r.read_scope != "system" else 1)))
    else:
        out.update(keeps_fed=None, available_bytes_per_s=None, why="no throughput figure in the catalog: set read_gb_s to your measured figure", checkpoint_write_s=None)
    return out
