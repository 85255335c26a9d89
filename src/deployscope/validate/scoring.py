"""Scoring predictions against measurements: coverage, median and p90 APE, signed median, by group."""

from __future__ import annotations

from typing import Any

import numpy as np

GROUP_KEYS = ("source", "hardware", "precision", "metric", "metric_class", "file",
              "family", "format", "moe", "pipeline", "engine", "load", "architecture")


def metric_class(metric: str) -> str:
    m = metric.lower()
    if "throughput" in m:
        return "throughput"
    if "ttft" in m:
        return "ttft"
    if "tpot" in m or "itl" in m:
        return "tpot"
    if "latency" in m:
        return "latency"
    return "other"


def summary(preds: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows, coverage (predicted / rows with a measurement), median and p90 APE, signed median error."""
    scored = [p for p in preds if p["measured"] is not None]
    with_ape = [p for p in preds if p["ape"] is not None]
    apes = np.array([p["ape"] for p in with_ape], dtype=float)
    signed = np.array([(p["predicted"] - p["measured"]) / abs(p["measured"]) for p in with_ape], dtype=float)
    return {
        "rows": len(preds),
        "predicted": sum(1 for p in preds if p["predicted"] is not None),
        "coverage": (sum(1 for p in scored if p["predicted"] is not None) / len(scored)) if scored else None,
        "scored": int(apes.size),
        "median_ape": float(np.median(apes)) if apes.size else None,
        "p90_ape": float(np.percentile(apes, 90)) if apes.size else None,
        "signed_median": float(np.median(signed)) if signed.size else None,
    }


def groups(preds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Summaries per value of each grouping key (LLM rows carry family, format, moe, pipeline, engine, load)."""
    out: dict[str, dict[str, Any]] = {}
    for key in GROUP_KEYS:
        buckets: dict[str, list[dict[str, Any]]] = {}
        for p in preds:
            if key in p:
                buckets.setdefault(str(p.get(key, "")), []).append(p)
        if buckets:
            out[key] = {k: summary(v) for k, v in sorted(buckets.items())}
    return out


def by_class(preds: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """For each metric class, the summaries by group: the acceptance view (class x group)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for cls in sorted({p["metric_class"] for p in preds}):
        sel = [p for p in preds if p["metric_class"] == cls]
        out[cls] = {"all": summary(sel), **groups(sel)}
    return out
