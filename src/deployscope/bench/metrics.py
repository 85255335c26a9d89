"""Metrics by formula, per request first, then aggregated over the measured requests of a run.

Per request (times are offsets in seconds from the request's send time, see client.py):

- TTFT  = arrival of the first content chunk − send
- e2e   = arrival of the last content chunk − send
- n     = output tokens: the server's ``usage.completion_tokens``, else the number of content chunks
- TPOT  = (e2e − TTFT) / (n − 1), for n ≥ 2
- gaps  = differences between consecutive content-chunk arrivals

Aggregates (only ``phase == "measured"`` records; warm-up requests never count):

- ``ttft_s``, ``tpot_s``, ``e2e_s``: over successful requests; ``itl_s``: over the gaps of all
  successful requests pooled together (vLLM's ITL);
- duration D = last measured end − first measured send;
- ``requests_per_s`` = completed / D; ``output_tokens_per_s`` = Σ n / D;
  ``total_tokens_per_s`` = Σ (prompt tokens + n) / D;
- ``goodput`` = completed requests meeting every SLO / D (requests/s; DistServe's and vLLM's
  definition); with no SLO given every completed request counts;
- mean and percentiles p50/p90/p95/p99 (linear interpolation, numpy's default, as vLLM).

``compat_views`` reproduces what vLLM ``bench serve`` and guidellm print under their own names.
docs/bench.md holds the same definitions for people.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from .records import RequestRecord, as_dict

PCTS = (50, 90, 95, 99)


def stats(values: Iterable[float] | np.ndarray) -> dict[str, float | int | None]:
    """mean, p50, p90, p95, p99, min, max and the count n (None where there are no values)."""
    a = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return {"mean": None, "p50": None, "p90": None, "p95": None, "p99": None, "min": None, "max": None, "n": 0}
    p = np.percentile(a, PCTS)
    return {
        "mean": float(a.mean()),
        "p50": float(p[0]),
        "p90": float(p[1]),
        "p95": float(p[2]),
        "p99": float(p[3]),
        "min": float(a.min()),
        "max": float(a.max()),
        "n": int(a.size),
    }


def output_tokens(rec: dict[str, Any]) -> tuple[int, str]:
    """Output tokens of one request and where the count came from (usage, else chunks)."""
    u = rec.get("usage_completion")
    if isinstance(u, (int, float)) and u >= 0:
        return int(u), "usage"
    return len(rec.get("chunks") or ()), "chunks"


def request_metrics(rec: dict[str, Any]) -> dict[str, Any]:
    """TTFT, e2e, TPOT, output tokens and chunk gaps of one record."""
    chunks = rec.get("chunks") or []
    n, src = output_tokens(rec)
    ttft = chunks[0] if chunks else None
    e2e = chunks[-1] if chunks else rec.get("end")
    tpot = (e2e - ttft) / (n - 1) if (ttft is not None and e2e is not None and n > 1) else None
    gaps = [b - a for a, b in zip(chunks, chunks[1:])]
    return {
        "ok": rec.get("error") is None,
        "ttft": ttft,
        "e2e": e2e,
        "tpot": tpot,
        "output_tokens": n,
        "token_source": src,
        "gaps": gaps,
    }


def meets_slo(m: dict[str, Any], slo: dict[str, float] | None) -> bool:
    """A successful request whose TTFT, TPOT and e2e are within every SLO given."""
    if not m["ok"]:
        return False
    if not slo:
        return True
    for key, metric in (("ttft_s", "ttft"), ("tpot_s", "tpot"), ("e2e_s", "e2e")):
        limit = slo.get(key)
        if limit is None:
            continue
        v = m[metric]
        if metric == "tpot" and v is None:  # one-token replies have no TPOT (vLLM treats it as 0)
            v = 0.0
        if v is None or v > limit:
            return False
    return True


def measured(records: Iterable[dict[str, Any] | RequestRecord]) -> list[dict[str, Any]]:
    """The measured records (warm-up left out), in their stored dict form."""
    return [d for d in map(as_dict, records) if d.get("phase", "measured") == "measured"]


def _span(recs: list[dict[str, Any]]) -> float | None:
    starts = [r["send"] for r in recs if r.get("send") is not None]
    ends = [r["send"] + r["end"] for r in recs if r.get("send") is not None and r.get("end") is not None]
    if not starts or not ends:
        return None
    d = max(ends) - min(starts)
    return d if d > 0 else None


def peak_concurrency(recs: list[dict[str, Any]]) -> int:
    """Most requests in flight at once (sweep line over [send, send + end))."""
    ev = []
    for r in recs:
        if r.get("send") is None or r.get("end") is None:
            continue
        ev.append((r["send"], 1))
        ev.append((r["send"] + r["end"], -1))
    ev.sort(key=lambda e: (e[0], e[1]))
    cur = best = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best


def summarize(records: Iterable[dict[str, Any]], slo: dict[str, float] | None = None) -> dict[str, Any]:
    """The run summary over measured records (the JSON the CLI prints)."""
    recs = measured(records)
    slo = {k: float(v) for k, v in (slo or {}).items() if v is not None}
    per = [request_metrics(r) for r in recs]
    ok = [m for m in per if m["ok"]]
    cancelled = sum(1 for r in recs if r.get("error") == "cancelled")
    kinds: dict[str, int] = {}
    for r in recs:
        e = r.get("error")
        if e:
            kinds[e] = kinds.get(e, 0) + 1
    errors = sum(v for k, v in kinds.items() if k != "cancelled")
    duration = _span(recs)
    out_tok = sum(m["output_tokens"] for m in ok)
    in_tok = sum(int(r.get("usage_prompt") or 0) for r, m in zip(recs, per) if m["ok"])
    good = sum(1 for m in per if meets_slo(m, slo))
    gaps = [g for m in ok for g in m["gaps"]]
    sources: dict[str, int] = {}
    for m in ok:
        sources[m["token_source"]] = sources.get(m["token_source"], 0) + 1
    client_tok = [(r.get("client_tokens"), m["output_tokens"]) for r, m in zip(recs, per) if m["ok"] and r.get("client_tokens") is not None]

    def rate(x: float) -> float | None:
        return x / duration if duration else None

    e2e_sum = sum(m["e2e"] for m in ok if m["e2e"] is not None)
    summary: dict[str, Any] = {
        "requests": len(recs),
        "completed": len(ok),
        "errors": errors,
        "cancelled": cancelled,
        "error_kinds": {k: v for k, v in sorted(kinds.items())},
        "ttft_s": stats(m["ttft"] for m in ok if m["ttft"] is not None),
        "tpot_s": stats(m["tpot"] for m in ok if m["tpot"] is not None),
        "itl_s": stats(gaps),
        "e2e_s": stats(m["e2e"] for m in ok if m["e2e"] is not None),
        "output_tokens": out_tok,
        "input_tokens": in_tok,
        "output_tokens_per_request": stats(m["output_tokens"] for m in ok),
        "duration_s": duration,
        "requests_per_s": rate(len(ok)),
        "output_tokens_per_s": rate(out_tok),
        "total_tokens_per_s": rate(out_tok + in_tok),
        "goodput": rate(good),
        "good_requests": good,
        "slo": slo or None,
        "slo_attainment": (good / len(recs) if recs else None),
        "mean_concurrency": rate(e2e_sum),
        "peak_concurrency": peak_concurrency(recs),
        "token_source": sources,
    }
    if client_tok:
        diffs = [c - s for c, s in client_tok]
        summary["client_token_discrepancy"] = {"requests": len(diffs), "mean": float(np.mean(diffs)), "max_abs": int(max(abs(d) for d in diffs))}
    lags = [r["send"] - r["scheduled"] for r in recs if r.get("scheduled") is not None and r.get("send") is not None]
    if lags:  # open loop: how late requests left against the arrival schedule (cap or client lag)
        summary["send_lag_s"] = stats(lags)
        summary["late_sends"] = sum(1 for x in lags if x > 0.010)
    summary["compat"] = compat_views(recs)
    return summary


def compat_views(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The same run under vLLM ``bench serve``'s and guidellm's definitions and names (ms, as
    they print them).

    vLLM: TTFT = first chunk with content − send; TPOT = (latency − TTFT)/(output_len − 1) with
    latency = last token chunk − send; ITL = every gap between chunks, pooled; E2EL = latency.
    guidellm: TTFT = first token − request start; "ITL" = (last token − first token)/(n − 1);
    "TPOT" = (request end − request start)/n, which includes the TTFT; request_latency = end − start.
    """
    recs = [r for r in measured(records) if r.get("error") is None]
    vt, vtp, vi, ve = [], [], [], []
    gt, gi, gtp, gl = [], [], [], []
    for r in recs:
        m = request_metrics(r)
        if m["ttft"] is None:
            continue
        n = m["output_tokens"]
        vt.append(m["ttft"])
        ve.append(m["e2e"])
        if n > 1:
            vtp.append((m["e2e"] - m["ttft"]) / (n - 1))
            gi.append((m["e2e"] - m["ttft"]) / (n - 1))
        vi.extend(m["gaps"])
        gt.append(m["ttft"])
        end = r.get("end") if r.get("end") is not None else m["e2e"]
        gl.append(end)
        if n > 0:
            gtp.append(end / n)

    def ms(vals: list[float]) -> dict[str, float | None]:
        s = stats(vals)
        return {k: (v * 1000.0 if isinstance(v, float) else v) for k, v in s.items() if k != "n"}

    return {
        "vllm": {"ttft_ms": ms(vt), "tpot_ms": ms(vtp), "itl_ms": ms(vi), "e2el_ms": ms(ve)},
        "guidellm": {
            "time_to_first_token_ms": ms(gt),
            "inter_token_latency_ms": ms(gi),
            "time_per_output_token_ms": ms(gtp),
            "request_latency_ms": ms(gl),
        },
    }


def finite_or_none(x: float | None) -> float | None:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None
