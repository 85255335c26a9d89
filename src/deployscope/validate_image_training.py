"""Predictions for the image-model training validation files (``E_image_training.csv`` and the
project's own fitting rows ``E_image_training_fit.csv``).

:func:`predict_row` returns ``(predicted, None)`` in the row's metric and unit, or
``(None, reason)``. A prediction reads the row's description of the job - model, architecture,
hardware, GPU count, method, resolution schedule, images or steps x batch, precision - never its
``value``. Where a row gives its resolution schedule as "256 then 512", the steps per stage come
from the row's own notes (a description of the job); :data:`STAGE_STEPS` holds them.

Honest fitting: :data:`FITTED_SOURCES` names, per architecture class, the sources the catalog's
``image_training`` arch rows were fitted to (:func:`fit` recomputes them,
``python -m deployscope.validate_image_training --fit``); every other source is held out.
"""

from __future__ import annotations

import csv
import math
import re
import statistics
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .errors import DeployscopeError

VALIDATION_DIR = Path(__file__).parent / "validation"
FILES = ("E_image_training.csv", "E_image_training_fit.csv")

# Sources each architecture's share of peak was fitted to; everything else is held out.
#  unet: MosaicML's Stable Diffusion 2 base cost estimate (E_image_training_fit.csv).
#  dit:  the fast-DiT README (the only DiT source; no DiT row is held out).
#  gan:  the StyleGAN3 configuration docs (s/kimg of StyleGAN2, StyleGAN3-T and StyleGAN3-R at 128 to
#        1024 pixels on 1 to 8 V100s and A100s: the per-layer roofline's four constants, the activation
#        memory per layer and the GAN error band).
# Held out: the Stable Diffusion v1 and v2 model cards, the StyleGAN2 (TF1) and StyleGAN2-ADA
# READMEs, the diffusers LoRA, textual-inversion and unconditional-DDPM guides.
FITTED_SOURCES: dict[str, list[str]] = {
    "unet": ["mosaicml.com/blog/training-stable-diffusion-from-scratch-costs-160k"],
    "dit": ["chuanyangjin/fast-DiT"],
    "gan": ["NVlabs/stylegan3/blob/main/docs/configs.md"],
}

# Steps per resolution stage, from the rows' notes (Stable Diffusion model cards).
STAGE_STEPS: dict[str, list[tuple[int, float]]] = {
    "Stable Diffusion v1 (": [(256, 237_000), (512, 194_000 + 515_000 + 195_000)],
    "Stable Diffusion v2 (": [(256, 550_000), (512, 850_000), (768, 150_000 + 140_000 + 55_000 + 155_000)],
    "Stable Diffusion 2 base (MosaicML replication": [(256, 550_000), (512, 850_000)],
}
# Oxford Flowers-102 has 8,189 images (Nilsback & Zisserman 2008, ICVGIP); the DDPM guide runs 100 epochs.
DATASET_IMAGES = {"Oxford Flowers-102": 8_189}

# The diffusers unconditional-image example's UNet2DModel (train_unconditional.py), pixel space.
_DDPM_UNET = {
    "in_channels": 3, "out_channels": 3, "block_out_channels": [128, 128, 256, 256, 512, 512], "layers_per_block": 2,
    "cross_attention_dim": 0, "down_block_types": ["DownBlock2D"] * 4 + ["AttnDownBlock2D", "DownBlock2D"],
}


def read_rows(name: str) -> list[dict[str, str]]:
    with open(VALIDATION_DIR / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def arch_kind(row: dict[str, Any]) -> str:
    a = (row.get("architecture") or "").lower()
    if a.startswith("gan"):
        return "gan"
    return "dit" if any(k in a for k in ("dit", "transformer", "flux")) else "unet"  # dit, mmdit, linear dit, flux


def is_fitted(row: dict[str, Any]) -> bool:
    src = row.get("source") or ""
    return any(s in src for kind in FITTED_SOURCES.values() for s in kind)


def fitting_split() -> dict[str, Any]:
    """Which sources fitted which parameter (for the validate report)."""
    fitted = {"unet": "memory_passes", "dit": "memory_passes", "gan": "mfu_ref, fp32_share, memory_passes, layer_overhead_s, band; image-memory gan_tensors_per_layer"}
    out: dict[str, Any] = {
        f"image_training image-arch/{k}.{fitted[k]}": {"fitted_on": v, "held_out": "every other image-training source"} for k, v in FITTED_SOURCES.items()
    }
    out["image_training image-arch/unet|dit.mfu_ref, scale_exponent"] = {
        "fitted_on": ["taken from the LLM MFU fit (training_efficiency mfu/ampere: MegaScale arXiv:2402.15627, Llama 3 arXiv:2407.21783)"],
        "held_out": "all image-training rows",
    }
    return out


def _num(text: Any) -> float | None:
    m = re.search(r"[-+]?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?", str(text or ""))
    return float(m.group(0).replace(",", "")) if m else None


def _model(row: dict[str, Any], catalog: Any) -> tuple[Any, str | None]:
    from .physics.image_training import ImageArch, arch_of

    name = row.get("model") or ""
    if "StyleGAN" in name:
        return _gan_model(row, catalog), None
    if "UNet2DModel" in name:
        den = SimpleNamespace(arch="unet", params_b=0.0, details=_DDPM_UNET)
        return ImageArch("diffusers UNet2DModel (unconditional)", "unet", den, (), None, 1, 1, None), None
    low = name.lower()
    for key, model in (("stable diffusion xl", "sdxl"), ("stable diffusion v1", "sd15"), ("stable diffusion 1.", "sd15"),
                       ("stable diffusion v2", "sd2-base"), ("stable diffusion 2", "sd2-base"), ("dit-xl/2", "DiT-XL-2")):
        if key in low:
            return arch_of(model, catalog), None
    # any other image model of the catalog, by id or alias (remarks in parentheses dropped)
    for candidate in (name, name.split(" (")[0], name.split(",")[0]):
        spec = catalog.models.find(candidate.strip())
        if spec is not None and spec.modality in ("diffusion", "gan"):
            return arch_of(spec, catalog), None
    return None, f"model {name!r} not in the catalog"


def _option(row: dict[str, Any], name: str) -> float | None:
    """A ``--name=value`` option of the row's command line (quote or notes), or None."""
    m = re.search(rf"--{re.escape(name)}=([0-9.]+)", (row.get("quote") or "") + " " + (row.get("notes") or ""))
    return float(m.group(1)) if m else None


def _gan_model(row: dict[str, Any], catalog: Any) -> Any:
    """The StyleGAN configuration the row's command line trains: config (StyleGAN2, StyleGAN3-T/-R),
    --cbase and --map-depth; cfg=auto (StyleGAN2-ADA) maps 2 layers and halves the channels below 512
    pixels (stylegan2-ada-pytorch train.py, cfg_specs 'auto': fmaps = 1 if res >= 512 else 0.5, map=2)."""
    from .physics.image_training import ImageArch, arch_of

    name = row.get("model") or ""
    config = name.split(" (")[0]  # "StyleGAN3-T (NVlabs configs.md: ...)": the config precedes the remark
    model = "stylegan3-r" if "StyleGAN3-R" in config else "stylegan3-t" if "StyleGAN3" in config else "stylegan2"
    arch = arch_of(model, catalog)
    det = dict(arch.denoiser.details)
    res = int(_num(row.get("resolution")) or det.get("resolution", 1024))
    cbase = _option(row, "cbase")
    if "cfg=auto" in name:
        cbase, det["mapping_layers"] = (32768.0 if res >= 512 else 16384.0), 2
    if cbase is not None:  # --cbase sets both networks; config R doubles the generator's
        scale = cbase / float(det.get("discriminator_channel_base", det["channel_base"]))
        det["channel_base"] = float(det["channel_base"]) * scale
        det["discriminator_channel_base"] = cbase
    depth = _option(row, "map-depth")
    if depth is not None:
        det["mapping_layers"] = int(depth)
    den = SimpleNamespace(arch=arch.denoiser.arch, params_b=arch.denoiser.params_b, details=det)
    return ImageArch(arch.name, arch.kind, den, arch.text_encoders, arch.vae, arch.latent_factor, arch.patch, arch.license)


def _gpu(row: dict[str, Any], catalog: Any) -> Any:
    hw = (row.get("hardware") or "").strip()
    acc = catalog.accelerators.find(hw)
    if acc is None:
        acc = catalog.accelerators.find(hw.split("(")[0].strip())
    if acc is None and hw.upper().startswith("A100"):
        acc = catalog.accelerators.get("a100-sxm4-40gb")  # memory not stated: the 40 GB SXM card (1,555 GB/s), the common one in 2021-23
    return acc


def _precision(row: dict[str, Any]) -> str:
    p = (row.get("precision") or "").lower()
    if "fp32" in p or "mixed_precision=no" in (row.get("quote") or "").lower():
        return "fp32"
    if "bf16" in p:
        return "bf16"
    if "fp16" in p:
        return "fp16"
    # GAN sources do not state it: the StyleGAN2 TF1 code trains in fp32; the PyTorch code
    # (StyleGAN2-ADA and later) runs fp16 in the four highest-resolution blocks by default
    if arch_kind(row) == "gan":
        pytorch = "ada" in (row.get("model") or "").lower() or "stylegan3" in (row.get("source") or "").lower()
        return "fp16" if pytorch else "fp32"
    return "bf16"


def _job(row: dict[str, Any], arch: Any) -> tuple[Any, str | None]:
    from .physics.image_training import ImageJob, Stage, parse_schedule

    name = row.get("model") or ""
    batch = int(_num(row.get("global_batch")) or 0) or None
    method_text = (row.get("method") or "").lower()
    method = "lora" if "lora" in method_text else "textual-inversion" if "textual" in method_text else "pretrain"
    stages_steps = next((v for k, v in STAGE_STEPS.items() if name.startswith(k)), None)
    if stages_steps is not None:
        total = sum(s for _, s in stages_steps)
        stages = tuple(Stage(r, r, s / total) for r, s in stages_steps)
        images = total * (batch or 0)
    else:
        res = int(_num(row.get("resolution")) or 0)
        stages = parse_schedule(str(res))
        images = _num(row.get("images_seen")) or ((_num(row.get("steps")) or 0) * (batch or 0))
        if not images:
            ds = next((n for k, n in DATASET_IMAGES.items() if k.lower().split()[0] in name.lower()), None)
            epochs = _num(re.search(r"num_epochs=(\d+)", row.get("quote") or "").group(1)) if re.search(r"num_epochs=(\d+)", row.get("quote") or "") else None
            images = (ds or 0) * (epochs or 0)
        if not images:
            images = 1e6  # throughput rows: any count (the metric is a rate)
    prec = row.get("precision") or ""
    micro = _option(row, "batch-gpu")
    if micro is None and "github.com/NVlabs/stylegan2 " in (row.get("source") or "") + " ":
        micro = 4  # TensorFlow StyleGAN2: run_training.py sched.minibatch_gpu_base = 4
    if micro is not None and batch:
        micro = min(int(micro), max(1, batch // int(_num(row.get("gpu_count")) or 1)))
    return ImageJob(
        images=images, stages=stages, method=method, global_batch=batch, precision=_precision(row), ema=True,
        precomputed_latents="pre-extracted" in prec.lower() or "precomputed" in prec.lower(),
        precomputed_text="precomputed" in prec.lower() and any(k in prec.lower() for k in ("clip", "text")),
        checkpointing="ckpt" in prec.lower() or "checkpointing" in prec.lower(), zero=0,
        micro_batch=int(micro) if micro is not None else None,
    ), None


def predict_row(row: dict[str, Any], catalog: Any, memory_passes: float | None = None) -> tuple[float | None, str | None]:
    try:
        return _predict(row, catalog, memory_passes)
    except DeployscopeError as exc:
        return None, str(exc)


def _predict(row: dict[str, Any], catalog: Any, memory_passes: float | None = None) -> tuple[float | None, str | None]:
    from .catalog.loader import default_catalog
    from .physics.image_training import estimate

    cat = default_catalog(catalog)
    arch, why = _model(row, cat)
    if arch is None:
        return None, why
    acc = _gpu(row, cat)
    if acc is None:
        return None, f"hardware {row.get('hardware')!r} not in the catalog"
    gpus = int(_num(row.get("gpu_count")) or 1)
    job, why = _job(row, arch)
    if job is None:
        return None, why
    r = estimate(arch, acc, gpus, job, catalog=cat, memory_passes=memory_passes)
    busy_wall_s = r.wall_days * 86_400.0
    metric, unit = row.get("metric"), (row.get("unit") or "").lower()
    if metric == "gpu_hours":
        return r.gpu_hours, None
    if metric == "gpu_days":
        return r.gpu_hours / 24.0, None
    if metric == "wall_days":
        return r.wall_days, None
    if metric in ("wall_minutes", "minutes_to_train"):
        return busy_wall_s / 60.0, None
    if metric == "sec_per_kimg":
        return 1000.0 / r.images_per_s, None
    if metric == "images_per_sec":
        return r.images_per_s, None
    if metric == "steps_per_sec":
        return r.images_per_s / r.global_batch, None
    return None, f"metric {metric!r} ({unit}) not predicted"


def evaluate(catalog: Any = None) -> list[dict[str, Any]]:
    """One record per row of both files: predicted, measured, APE, fitted or held out."""
    out = []
    for name in FILES:
        path = VALIDATION_DIR / name
        if not path.exists():
            continue
        for i, row in enumerate(read_rows(name)):
            pred, why = predict_row(row, catalog)
            meas = _num(row.get("value"))
            ape = abs(pred - meas) / meas if pred is not None and meas else None
            out.append({"file": name, "row": i + 2, "model": row.get("model"), "arch": arch_kind(row), "hardware": row.get("hardware"),
                        "metric": row.get("metric"), "unit": row.get("unit"), "measured": meas, "predicted": pred, "ape": ape,
                        "ratio": (meas / pred) if pred else None, "fitted": is_fitted(row), "source": row.get("source"), "reason": why})
    return out


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _group(recs: list[dict[str, Any]]) -> dict[str, Any]:
    apes = [r["ape"] for r in recs if r["ape"] is not None]
    return {"rows": len(recs), "predicted": len(apes), "median_ape": statistics.median(apes) if apes else None, "p90_ape": _pct(apes, 0.9) if apes else None}


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Coverage, median and p90 APE of the held-out rows, overall, per source and per architecture family."""
    held = [r for r in records if not r["fitted"]]
    scored = [r["ape"] for r in held if r["ape"] is not None]
    per_source: dict[str, Any] = {}
    for r in held:
        key = (r["source"] or "").split(" ")[0]
        per_source.setdefault(key, []).append(r)
    return {
        "rows": len(records), "held_out": len(held), "predicted": len(scored),
        "coverage": len(scored) / len(held) if held else None,
        "median_ape": statistics.median(scored) if scored else None,
        "p90_ape": _pct(scored, 0.9) if scored else None,
        "per_source": {k: _group(v) for k, v in per_source.items()},
        "per_architecture": {k: _group([r for r in held if r["arch"] == k]) for k in sorted({r["arch"] for r in held})},
        "fitting_split": fitting_split(),
    }


def fit(catalog: Any = None) -> dict[str, Any]:
    """Memory-traffic multiplier per architecture class from its fitted rows.

    Time per image is the slower of compute and k x traffic; where the measured time exceeds the
    compute time alone (the prediction at k=0) the job is memory-bound and k = measured / (the
    prediction at k=1) in time units (goodput and network factors cancel); the fit is their median."""
    from .catalog.loader import default_catalog

    cat = default_catalog(catalog)
    ks: dict[str, list[float]] = {}
    for name in FILES:
        for row in read_rows(name):
            kind = arch_kind(row)
            if not is_fitted(row):
                continue
            p0, _ = predict_row(row, cat, memory_passes=0.0)
            p1, _ = predict_row(row, cat, memory_passes=1e4)  # surely memory-bound: time proportional to k
            meas = _num(row.get("value"))
            if p0 is None or p1 is None or not meas:
                continue
            rate = row.get("metric") in ("images_per_sec", "steps_per_sec")
            t0, t1, tm = (1 / p0, 1 / p1, 1 / meas) if rate else (p0, p1, meas)
            ks.setdefault(kind, []).append(1e4 * tm / t1 if t0 < tm else 0.0)
    # the median: robust to an estimate or a badly scaling run among the rows of a family
    out: dict[str, Any] = {k: {"memory_passes": round(max(0.0, statistics.median(v)), 3), "rows": len(v), "per_row": [round(x, 3) for x in v]}
                           for k, v in ks.items() if k != "gan"}
    out["gan"] = fit_gan(cat)
    out["bands"] = fit_bands(cat)
    return out


def _gan_cases(cat: Any) -> list[tuple[Any, ...]]:
    """(arch, resolution, precision, accelerator, GPUs, micro-batch, measured s/kimg, GPU mem GiB) of the GAN fitting rows."""
    cases = []
    for name in FILES:
        for row in read_rows(name):
            if arch_kind(row) != "gan" or not is_fitted(row) or row.get("metric") != "sec_per_kimg":
                continue
            arch = _gan_model(row, cat)
            job, _ = _job(row, arch)
            gpus = int(_num(row.get("gpu_count")) or 1)
            micro = job.micro_batch or max(1, (job.global_batch or gpus) // gpus)
            m = re.search(r"GPU mem ([0-9.]+) GB", row.get("notes") or "")
            cases.append((arch, job.stages[0].width, job.precision, _gpu(row, cat), gpus, micro, _num(row.get("value")), float(m.group(1)) if m else None))
    return cases


def fit_gan(catalog: Any = None) -> dict[str, Any]:
    """The GAN layer roofline's four constants (FP16 share, FP32 share, memory passes, seconds per layer
    pass) by least squares on log(predicted / measured) s/kimg of the fitting rows (Levenberg-Marquardt
    in log-parameters), and the activation tensors kept per layer from the rows' peak GPU memory."""
    import numpy as np

    from .catalog.loader import default_catalog
    from .physics import gan_layers as GL
    from .physics import image_training as IT

    cat = default_catalog(catalog)
    arow = IT.arch_row(cat, "gan").arch
    gan = IT._one(cat, "gan").gan
    cases = _gan_cases(cat)
    meas = np.array([c[6] for c in cases])

    def resid(logp: Any) -> Any:
        p = tuple(float(x) for x in np.exp(logp))
        pred = [1000.0 * IT.gan_seconds_per_image(a, res, prec, acc, micro, gan, arow, 1.0, p) / g for a, res, prec, acc, g, micro, _, _ in cases]
        return np.log(np.array(pred) / meas)

    x = np.log([arow.mfu_ref, arow.fp32_share or arow.mfu_ref, max(arow.memory_passes, 1e-3), max(arow.layer_overhead_s, 1e-6)])
    lam, r = 1e-2, resid(x)
    for _ in range(60):
        jac = np.column_stack([(resid(x + dx) - r) / 1e-4 for dx in np.eye(len(x)) * 1e-4])
        a, g = jac.T @ jac, jac.T @ r
        step = np.linalg.solve(a + lam * np.diag(np.diag(a) + 1e-12), -g)
        r_new = resid(x + step)
        if r_new @ r_new < r @ r:
            x, r, lam = x + step, r_new, lam / 3
            if np.abs(step).max() < 1e-5:
                break
        else:
            lam *= 4
    ape = np.abs(np.exp(r) - 1)
    p = np.exp(x)
    # activation memory: tensors per layer from the peak memory the rows report (GiB per GPU)
    mem = IT._one(cat, "memory").memory
    kept = []
    for a, res, prec, _acc, _g, micro, _, gib in cases:
        if gib is None:
            continue
        per_tensor = IT.activation_bytes_per_image(a, res, res, mem, prec) / mem.gan_tensors_per_layer
        params = a.denoiser_params + GL.discriminator_params(a.denoiser.details, res)
        fixed = mem.framework_overhead_bytes + params * (2 + 4 + 12 + mem.ema_bytes_per_param)  # G + D weights, grads, Adam, EMA
        kept.append(max(0.0, gib * 2**30 - fixed) / (micro * per_tensor))
    return {"mfu_ref": round(float(p[0]), 4), "fp32_share": round(float(p[1]), 4), "memory_passes": round(float(p[2]), 3),
            "layer_overhead_s": float(f"{p[3]:.3g}"), "rows": len(cases), "median_ape": round(float(np.median(ape)), 4),
            "p90_ape": round(float(np.percentile(ape, 90)), 4), "gan_tensors_per_layer": round(float(np.median(kept)), 2) if kept else None}


MIN_BAND_ROWS = 5  # a 10th-90th percentile band needs at least this many fitting rows


def fit_bands(catalog: Any = None) -> dict[str, Any]:
    """Error band per architecture family: 10th and 90th percentile of measured / predicted over that
    family's fitting rows (the held-out rows are never used)."""
    import numpy as np

    out: dict[str, Any] = {}
    recs = [r for r in evaluate(catalog) if r["fitted"] and r["ratio"]]
    for kind in ("unet", "dit", "gan"):
        ratios = [r["ratio"] for r in recs if r["arch"] == kind]
        if len(ratios) < MIN_BAND_ROWS:
            out[kind] = {"rows": len(ratios), "note": f"fewer than {MIN_BAND_ROWS} fitting rows: no band fitted (the catalog row keeps its stated band)"}
        else:
            out[kind] = {"band_low": round(float(np.percentile(ratios, 10)), 2), "band_high": round(float(np.percentile(ratios, 90)), 2), "rows": len(ratios)}
    return out


def _fmt_ape(ape: float | None) -> str:
    return "-" if ape is None else f"{ape:.0%}"


def _main(argv: list[str] | None = None) -> int:
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    if "--fit" in args:
        print(json.dumps(fit(), indent=2))
        return 0
    recs = evaluate()
    for r in recs:
        print(f"{'FIT ' if r['fitted'] else 'HELD'} {r['model'][:44]:44s} {r['metric']:14s} meas {r['measured']!s:>10} pred {r['predicted'] if r['predicted'] is None else round(r['predicted'], 3)!s:>10} "
              f"ape {_fmt_ape(r['ape'])} {r['reason'] or ''}")
    print(json.dumps({k: v for k, v in summarize(recs).items() if k != "fitting_split"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
