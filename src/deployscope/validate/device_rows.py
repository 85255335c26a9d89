"""Own measurements on a lent GPU (``validation/G_device_forward.csv``) against the physics.

The rows come from `scripts/device_forward.py`: real forward passes of catalog architectures with
random weights in plain PyTorch, single GEMMs of their projections, and the GPU's ceilings (a large
matrix product, a read and a copy). They are not published results and never enter the accuracy
tables or a fit; `deployscope validate` reports them on their own (JSON key ``device_measurements``):

- a prefill or decode step against `physics.llm.step_cost` for the same model, formats and GPU,
  with the efficiency row and fixed costs of TensorRT-LLM (the engine the figures were fitted on):
  ``predicted_ms`` is the whole step, ``kernel_ms`` its GEMM and attention terms alone;
- one GEMM against `physics.llm.gemm_seconds`, the size curve and memory bound a step's GEMMs use;
- a ceiling against the catalog's datasheet figure, beside the fitted efficiency that scales it;
- the size curve's form fitted to the measured GEMMs of each dtype, beside the shipped curve.
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from itertools import permutations
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DeployscopeError
from ..physics import llm, serving
from .files import VALIDATION_DIR

DEVICE_FILE = VALIDATION_DIR / "G_device_forward.csv"
ENGINE = "trtllm"  # the engine whose fitted efficiencies and fixed costs the prediction uses
KV_FORMAT = "bf16"  # the script's caches are bf16 in every format
_ACT_BYTES = 2  # bf16 activations in and out of each GEMM


def read_rows(path: Path = DEVICE_FILE) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _num(text: str) -> float:
    return float(text) if text else 0.0


def _group(row: dict[str, str], ctx: serving.Context, bound: str) -> str:
    kind = row["kind"]
    if kind == "gemm":
        if row["metric"] == "gemm_kernel_time":
            return f"gemm, {row['precision']} kernel alone"
        if bound == "compute" and _num(row["gflop"]) * 1e9 < ctx.hw.half_eff_flops:
            return "gemm, below the size curve's half point"  # where the curve's fixed cost per launch dominates
        return f"gemm, {bound}-bound"
    moe = "MoE" if ctx.shape.moe_layers else "dense"
    if kind == "decode" and moe == "dense":  # a plain forward's kernel launches weigh most in small batches
        return f"decode, dense, batch {'<= 8' if int(row['batch_size']) <= 8 else '>= 16'}"
    return f"{kind}, {moe}"


def _predict(row: dict[str, str], ctx: serving.Context) -> dict[str, float | str]:
    if row["kind"] == "gemm":
        flops = _num(row["gflop"]) * 1e9
        n, k, m = _num(row["gemm_n"]), _num(row["gemm_k"]), _num(row["input_len"])
        bytes_moved = n * k * ctx.shape.weight_bytes_per_param + m * (n + k) * _ACT_BYTES
        seconds, bound = llm.gemm_seconds(ctx.hw, flops, bytes_moved)
        return {"predicted_ms": seconds * 1e3, "kernel_ms": seconds * 1e3, "bound": bound}
    b, n, ctx_len = _num(row["batch_size"]), _num(row["input_len"]), _num(row["context_len"])
    if row["kind"] == "prefill":
        cost = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=0.0, prefill_tokens=n, prefill_ctx=n / 2.0, prefill_seqs=1.0)
    else:
        cost = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=b, decode_ctx=ctx_len)
    bound = "memory" if float(cost["memory_time"]) >= float(cost["compute_time"]) else "compute"
    return {"predicted_ms": float(cost["time"]) * 1e3, "kernel_ms": (float(cost["gemm"]) + float(cost["attention"])) * 1e3,
            "bound": bound}


def _ceiling(row: dict[str, str], catalog: Any) -> dict[str, Any]:
    from ..catalog.efficiency import lookup

    gpu = catalog.accelerators.get(row["hardware"], field="hardware")
    metric = row["metric"]
    if metric.endswith("_gemm_tflops"):
        dtype = metric.split("_")[0]
        datasheet = gpu.peak_flops(dtype) / 1e12
        eff = lookup(catalog.efficiency, gpu.family, ENGINE, dtype)
        fitted, fitted_name = eff.compute_efficiency, "compute_efficiency"
    else:
        datasheet = gpu.memory_bandwidth_bytes_per_s / 1e12
        eff = lookup(catalog.efficiency, gpu.family, ENGINE)
        fitted, fitted_name = eff.bandwidth_efficiency, "bandwidth_efficiency"
    measured = _num(row["value"])
    return {"metric": metric, "unit": row["unit"], "measured": measured, "datasheet": datasheet,
            "fraction_of_datasheet": measured / datasheet, "efficiency_row": eff.id, fitted_name: fitted, "run": row["run"],
            "notes": row["notes"]}


def _repeats(rows: list[dict[str, str]]) -> dict[str, Any]:
    """Rows measured in more than one run (same model, format, kind and sizes): |one / other - 1|
    over every ordered pair, as `repeats.spread` compares published repeats."""
    by_config: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for r in rows:
        key = (r["model"], r["precision"], r["kind"], r["projection"], r["batch_size"], r["input_len"], r["context_len"], r["metric"])
        by_config[key].append(_num(r["value"]))
    spreads = [abs(a / b - 1.0) for values in by_config.values() for a, b in permutations(values, 2) if b]
    if not spreads:
        return {"pairs": 0}
    return {"pairs": len(spreads), "configurations": sum(len(v) > 1 for v in by_config.values()),
            "median": statistics.median(spreads), "max": max(spreads)}


def _gemm_curve(rows: list[dict[str, str]], catalog: Any) -> dict[str, dict[str, Any]]:
    """The size curve's form fitted to the measured GEMMs of each dtype: time = (F + F_half) / (e P).

    Linear in F, so a least-squares line in relative error gives e (from the slope) and the fixed
    time per launch F_half / (e P) (the intercept). Only GEMMs whose operands take under half the
    measured time to read at the measured read ceiling are used: the rest are bound by memory.
    Beside it, the shipped curve for the GPU's family (fitted on published TensorRT-LLM rows)."""
    from ..catalog.efficiency import lookup

    reads = [_num(r["value"]) * 1e12 for r in rows if r["kind"] == "ceiling" and r["metric"].startswith("read_")]
    if not reads:
        return {}
    read = max(reads)
    out: dict[str, dict[str, Any]] = {}
    for dtype, metric in sorted({(r["precision"], r["metric"]) for r in rows if r["kind"] == "gemm"}):
        here = [r for r in rows if r["kind"] == "gemm" and r["precision"] == dtype and r["metric"] == metric]
        gpu = catalog.accelerators.get(here[0]["hardware"], field="hardware")
        peak = gpu.peak_flops(dtype)
        width = 1.0 if dtype == "fp8" else 2.0
        flops, secs = [], []
        for r in here:
            n, k, m, t = _num(r["gemm_n"]), _num(r["gemm_k"]), _num(r["input_len"]), _num(r["value"]) / 1e3
            if (n * k * width + m * (n + k) * _ACT_BYTES) / read < 0.5 * t:
                flops.append(_num(r["gflop"]) * 1e9)
                secs.append(t)
        if len(flops) < 3:
            continue
        f, ts = np.asarray(flops), np.asarray(secs)
        (slope, launch), *_ = np.linalg.lstsq(np.stack([f / ts, 1.0 / ts], axis=1), np.ones_like(ts), rcond=None)
        eff = 1.0 / (slope * peak)
        shipped = lookup(catalog.efficiency, gpu.family, ENGINE, dtype)
        out[dtype if metric == "gemm_time" else f"{dtype} kernel alone"] = {"rows": len(f), "compute_efficiency": float(eff), "launch_us": float(launch) * 1e6,
                      "half_gflop": float(launch * peak * eff) / 1e9,
                      "median_abs_error": float(np.median(np.abs((slope * f + launch) / ts - 1.0))),
                      "shipped_row": shipped.id, "shipped_compute_efficiency": shipped.compute_efficiency,
                      "shipped_half_gflop": shipped.half_efficiency_gflop}
    return out


def score(path: Path = DEVICE_FILE, catalog: Any = None) -> dict[str, Any]:
    """The rows of `path` beside their predictions, summarised by group (measured / predicted)."""
    from ..catalog import default_catalog

    cat = default_catalog(catalog)
    rows = read_rows(path)
    contexts: dict[tuple[str, str, str], serving.Context] = {}
    detail: list[dict[str, Any]] = []
    ceilings: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if row["kind"] == "ceiling":
            ceilings.append(_ceiling(row, cat))
            continue
        key = (row["model"], row["hardware"], row["precision"])
        if key not in contexts:
            try:
                contexts[key] = serving.context(row["model"], row["hardware"], quant=row["precision"], kv_quant=KV_FORMAT,
                                                engine=ENGINE, catalog=cat)
            except DeployscopeError as exc:
                raise DeployscopeError(f"{path.name} row {i}: {exc.args[0]}", field="data", value=str(path)) from exc
        ctx = contexts[key]
        measured = _num(row["value"])
        pred = _predict(row, ctx)
        detail.append({"index": i, "model": row["model"], "precision": row["precision"], "kind": row["kind"],
                       "projection": row["projection"], "batch_size": int(_num(row["batch_size"])),
                       "input_len": int(_num(row["input_len"])), "context_len": int(_num(row["context_len"])),
                       "run": row["run"], "group": _group(row, ctx, str(pred["bound"])), "measured_ms": measured, **pred,
                       "ratio": measured / float(pred["predicted_ms"])})
    groups: dict[str, dict[str, Any]] = {}
    for name in sorted({d["group"] for d in detail}):
        ratios = sorted(d["ratio"] for d in detail if d["group"] == name)
        groups[name] = {"rows": len(ratios), "median_ratio": statistics.median(ratios), "min_ratio": ratios[0],
                        "max_ratio": ratios[-1]}
    return {"file": path.name, "rows": len(rows), "sources": sorted({r["source"] for r in rows}),
            "engine_predicted": ENGINE, "ceilings": ceilings, "groups": groups, "gemm_curve": _gemm_curve(rows, cat),
            "repeatability": _repeats(rows),
            "rows_detail": detail}
