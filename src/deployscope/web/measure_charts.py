"""Charts of one measured run, drawn as SVG on the server with the report's chart helpers:
TTFT and TPOT distributions, throughput against concurrency, and measured against predicted.
A chart with nothing to show is left out and the page says why."""

from __future__ import annotations

import math
import warnings
from typing import Any

from ..report.charts import GREY, PALETTE, Chart, _Svg, nice_ticks, num

BINS = 24


def _seconds(v: float) -> str:
    if v == 0:
        return "0"
    return f"{v * 1000:.3g} ms" if abs(v) < 1 else f"{v:.3g} s"


def histogram(cid: str, title: str, values: list[float], label: str) -> Chart | None:
    """Counts of `values` (seconds) in equal bins, the p50 and p99 marked; the top 1 % beyond the
    last bin is counted in it and said so, so one outlier does not squash the rest."""
    xs = sorted(v for v in values if v is not None and math.isfinite(v) and v >= 0)
    if len(xs) < 2:
        return None
    p50 = xs[len(xs) // 2]
    p99 = xs[min(len(xs) - 1, int(math.ceil(0.99 * len(xs))) - 1)]
    hi = p99 * 1.05 if p99 > 0 else xs[-1]
    clipped = sum(1 for v in xs if v > hi)
    width = (hi / BINS) or 1e-9
    counts = [0] * BINS
    for v in xs:
        counts[min(BINS - 1, int(v / width))] += 1
    c = _Svg(cid, title, right=40)
    xt = nice_ticks(0, hi)
    yt = nice_ticks(0, max(counts) * 1.1)
    c.scales(0, xt[-1], 0, yt[-1])
    c.x_axis(xt, _seconds, label)
    c.y_axis(yt, lambda v: f"{v:g}", "requests")
    for i, n in enumerate(counts):
        if n:
            x0, x1 = c.X(i * width), c.X((i + 1) * width)
            c.rect(x0 + 0.5, c.Y(n), x1 - x0 - 1, c.Y(0) - c.Y(n), PALETTE[0], f"{n} requests between {_seconds(i * width)} and {_seconds((i + 1) * width)}")
    for q, v, col in (("p50", p50, PALETTE[1]), ("p99", p99, PALETTE[2])):
        c.line(c.X(v), c.tp, c.X(v), c.b, col, 1.5, "6 4")
        c.text(c.X(v) + 4, c.tp + 12, f"{q} {_seconds(v)}", 10, color=col)
    cap = f"{len(xs)} requests; p50 {_seconds(p50)}, p99 {_seconds(p99)}."
    if clipped:
        cap += f" {clipped} above {_seconds(hi)} (beyond the p99) are counted in the last bar."
    return Chart(cid, title, c.render(cap), cap)


def throughput_chart(points: list[tuple[float, float]]) -> Chart | None:
    """Output tokens/s against requests in flight, one point per load step."""
    pts = sorted((c, t) for c, t in points if c and t and math.isfinite(c) and math.isfinite(t))
    if not pts:
        return None
    c = _Svg("throughput-concurrency", "Throughput vs concurrency", right=40)
    xt = nice_ticks(0, max(p[0] for p in pts) * 1.1)
    yt = nice_ticks(0, max(p[1] for p in pts) * 1.1)
    c.scales(0, xt[-1], 0, yt[-1])
    c.x_axis(xt, num, "requests in flight (mean)")
    c.y_axis(yt, num, "output tokens/s")
    if len(pts) > 1:
        c.polyline([(c.X(x), c.Y(y)) for x, y in pts], PALETTE[0], 2)
    for x, y in pts:
        c.circle(c.X(x), c.Y(y), 4, PALETTE[0], f"{num(y)} tokens/s at {x:.3g} in flight")
    cap = f"{len(pts)} load step{'s' if len(pts) != 1 else ''}; concurrency is the mean number of requests in flight measured."
    return Chart("throughput-concurrency", c.title, c.render(cap), cap)


def predicted_chart(rows: list[dict[str, Any]]) -> Chart | None:
    """Measured against predicted for TTFT, TPOT and throughput (ratio, log scale: 1 = exact)."""
    pts = [(r["metric"], r["measured"], r["predicted"], r["load"]) for r in rows
           if r.get("measured") and r.get("predicted") and r["measured"] > 0 and r["predicted"] > 0]
    if not pts:
        return None
    ratios = [p / m for _, m, p, _ in pts]
    lim = max(2.0, max(max(ratios), 1 / min(ratios)) * 1.2)
    c = _Svg("measured-predicted", "Predicted ÷ measured", right=40)
    metrics = sorted({p[0] for p in pts})
    c.scales(0, len(metrics), -math.log10(lim), math.log10(lim))
    ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 10) if 1 / lim <= t <= lim]
    c.y_axis([math.log10(t) for t in ticks], lambda v: f"{10 ** v:.3g}×", "predicted ÷ measured")
    c.line(c.l, c.Y(0), c.r, c.Y(0), GREY, 1.5, "6 4")
    c.line(c.l, c.b, c.r, c.b)
    for i, name in enumerate(metrics):
        c.text(c.X(i + 0.5), c.b + 16, name, 10, "middle")
        for metric, meas, pred, load in pts:
            if metric == name:
                c.circle(c.X(i + 0.5), c.Y(math.log10(pred / meas)), 4.5, PALETTE[i % len(PALETTE)],
                         f"{metric} at {load}: predicted {pred:.4g}, measured {meas:.4g}")
    cap = "Each point is one load step; on the dashed line the prediction equals the measurement, above it the model predicts more."
    return Chart("measured-predicted", c.title, c.render(cap), cap)


def run_charts(run: Any) -> tuple[list[Chart], list[str], list[dict[str, Any]]]:
    """(charts, sentences for the charts left out, measured-vs-predicted rows) of a bench run."""
    from ..bench.metrics import request_metrics

    recs = run.records or []
    per = []
    for r in recs:
        try:
            per.append(request_metrics(r))
        except (KeyError, TypeError, ValueError):
            continue
    ok = [m for m in per if m.get("ok")]
    charts: list[Chart] = []
    missing: list[str] = []
    for key, cid, title in (("ttft", "ttft-distribution", "Time to first token"), ("tpot", "tpot-distribution", "Time per output token")):
        ch = histogram(cid, title, [m[key] for m in ok if m.get(key) is not None], "seconds")
        (charts.append(ch) if ch else missing.append(f"{title}: fewer than two completed requests measured it."))
    summary = run.summary or {}
    steps = summary.get("steps") or [{"summary": summary}]
    points = []
    for st in steps:
        sm = st.get("summary") or {}
        points.append((sm.get("mean_concurrency") or st.get("concurrency"), sm.get("output_tokens_per_s")))
    ch = throughput_chart([(float(a), float(b)) for a, b in points if isinstance(a, (int, float)) and isinstance(b, (int, float))])
    (charts.append(ch) if ch else missing.append("Throughput vs concurrency: the run recorded no throughput."))
    rows = predicted_rows(run)
    ch = predicted_chart(rows)
    (charts.append(ch) if ch else missing.append(
        "Predicted vs measured: the run does not name a catalog model, GPU and engine, so there is nothing to predict from."))
    return charts, missing, rows


def predicted_rows(run: Any) -> list[dict[str, Any]]:
    """One row per load step and metric: measured, predicted by the serving model (uncalibrated)."""
    from ..bench.calibrate import observations, predict
    from ..errors import DeployscopeError

    try:
        obs = observations({"id": str(run.id), "summary": run.summary or {}, "records": run.records or []})
    except (DeployscopeError, KeyError, TypeError, ValueError):
        return []
    rows = []
    for o in obs[:50]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pred = predict(o, None)
        except (DeployscopeError, ValueError, ZeroDivisionError):
            continue
        for metric, meas in o.measured.items():
            rows.append({"load": o.label, "metric": metric, "measured": meas, "predicted": pred.get(metric)})
    return rows
