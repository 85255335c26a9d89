"""Measurement pages: saved bench runs, and one run with its headline figures (rounded), charts
(TTFT/TPOT distributions, throughput vs concurrency, measured vs predicted) and records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from ...store import Store
from ..measure_charts import run_charts
from ..rendering import page, store_of
from .catalog import rounded

router = APIRouter(include_in_schema=False)
MAX_RECORDS_SHOWN = 500
HEADLINE = (("completed", "completed requests"), ("errors", "errors"), ("ttft_s.p50", "TTFT p50 (s)"), ("ttft_s.p99", "TTFT p99 (s)"),
            ("tpot_s.p50", "TPOT p50 (s)"), ("tpot_s.p99", "TPOT p99 (s)"), ("e2e_s.p50", "end-to-end p50 (s)"),
            ("output_tokens_per_s", "output tokens/s"), ("requests_per_s", "requests/s"), ("goodput", "goodput (requests/s)"),
            ("mean_concurrency", "mean concurrency"))


def flatten_summary(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(d, dict):
        for k, v in d.items():
            out += flatten_summary(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(d, list) and len(d) > 12:
        out.append((prefix, f"[{len(d)} values]"))
    else:
        out.append((prefix, d))
    return out


def headline(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, label, rounded value) of the figures that matter, in a fixed order."""
    flat = dict(flatten_summary(summary))
    return [(k, label, rounded(flat[k])) for k, label in HEADLINE if k in flat]


@router.get("/measurements", response_class=HTMLResponse)
def measurements(request: Request, store: Store = Depends(store_of)) -> Response:
    return page(request, "measurements.html", runs=store.list_bench_runs(), headline=headline)


@router.get("/measurements/{rid}", response_class=HTMLResponse)
def measurement(request: Request, rid: int, store: Store = Depends(store_of)) -> Response:
    run = store.get_bench_run(rid)
    recs = run.records or []
    cols: list[str] = []
    for r in recs[:MAX_RECORDS_SHOWN]:
        for k, v in r.items():
            if k not in cols and not isinstance(v, (dict, list)):
                cols.append(k)
    charts, missing, predicted = run_charts(run)
    return page(request, "measurement.html", run=run, summary=flatten_summary(run.summary), records=recs[:MAX_RECORDS_SHOWN],
                columns=cols[:14], charts=charts, missing=missing, predicted=predicted, headline=headline(run.summary or {}),
                rounded=rounded)
