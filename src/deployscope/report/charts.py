"""The plan's charts as standalone SVG, drawn here from the Plan's numbers.

One renderer serves every view: the self-contained HTML report (inline SVG, no chart library
to load), the PDF (WeasyPrint draws SVG but runs no JavaScript), and the web app (inline SVG is
allowed under ``Content-Security-Policy: default-src 'self'``). Only SVG presentation
attributes are used, never ``style`` attributes or ``<style>`` elements, so the charts pass
that policy; hovering a mark shows its exact value through SVG ``<title>`` tooltips.
Renderers hold no logic: every figure comes from the Plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Any, Callable, Iterable, Sequence

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
GREY = "#9aa0a6"
INK = "#222222"
GRID = "#e3e6ea"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
W, H = 760, 380
MAX_SERIES = 8

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    svg: str
    caption: str = ""


# ----------------------------------------------------------------------------- formatting
def _plain(x: float, digits: int) -> str:
    """A number with about `digits` significant digits, never in scientific notation."""
    a = abs(x)
    if a == 0:
        return "0"
    dec = max(0, digits - 1 - int(math.floor(math.log10(a))))
    s = f"{x:,.{dec}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def money(v: float | None, currency: str = "USD", digits: int = 3) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    sym = _SYMBOLS.get(currency.upper())
    a = abs(v)
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            s = _plain(a / div, digits) + suf
            break
    else:
        s = _plain(a, digits) if a < 100 else f"{a:,.0f}"
    sign = "-" if v < 0 else ""
    return f"{sign}{sym}{s}" if sym else f"{sign}{s} {currency}"


def num(v: float | None, digits: int = 3) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    a = abs(v)
    sign = "-" if v < 0 else ""
    if a >= 1e9:
        return sign + _plain(a / 1e9, digits) + "G"
    if a >= 1e6:
        return sign + _plain(a / 1e6, digits) + "M"
    if a >= 1e4:
        return sign + _plain(a / 1e3, digits) + "k"
    if a >= 100:
        return f"{v:,.0f}"
    return _plain(v, digits)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    if ticks[-1] < hi:
        ticks.append(ticks[-1] + step)
    return ticks


def _t(s: Any) -> str:
    return escape(str(s), quote=True)


class _Svg:
    """A minimal SVG canvas with a plot area and linear (or log) scales."""

    def __init__(self, cid: str, title: str, width: int = W, height: int = H, left: int = 86, right: int = 190, top: int = 40, bottom: int = 52) -> None:
        self.id, self.title, self.w, self.h = cid, title, width, height
        self.l, self.r, self.tp, self.b = left, width - right, top, height - bottom
        self.parts: list[str] = []
        self.x0 = self.x1 = self.y0 = self.y1 = 0.0
        self.xlog = False

    def scales(self, x0: float, x1: float, y0: float, y1: float, xlog: bool = False) -> None:
        self.x0, self.x1, self.y0, self.y1, self.xlog = x0, x1, y0, y1, xlog

    def X(self, v: float) -> float:
        if self.xlog:
            v, a, b = math.log10(max(v, 1e-12)), math.log10(self.x0), math.log10(self.x1)
        else:
            a, b = self.x0, self.x1
        return self.l + (v - a) / ((b - a) or 1) * (self.r - self.l)

    def Y(self, v: float) -> float:
        return self.b - (v - self.y0) / ((self.y1 - self.y0) or 1) * (self.b - self.tp)

    def add(self, s: str) -> None:
        self.parts.append(s)

    def text(self, x: float, y: float, s: Any, size: int = 11, anchor: str = "start", color: str = INK, weight: str = "normal", rotate: float | None = None) -> None:
        tr = f' transform="rotate({rotate:.0f} {x:.1f} {y:.1f})"' if rotate else ""
        self.add(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{color}" font-weight="{weight}"{tr}>{_t(s)}</text>'
        )

    def line(self, x1: float, y1: float, x2: float, y2: float, color: str = INK, width: float = 1, dash: str | None = None) -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" stroke-width="{width}"{d}/>')

    def rect(self, x: float, y: float, w: float, h: float, fill: str, tip: str | None = None, opacity: float = 1.0, stroke: str | None = None) -> None:
        if w < 0:
            x, w = x + w, -w
        if h < 0:
            y, h = y + h, -h
        st = f' stroke="{stroke}" stroke-width="1"' if stroke else ""
        op = f' fill-opacity="{opacity}"' if opacity < 1 else ""
        title = f"<title>{_t(tip)}</title>" if tip else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.5):.1f}" height="{h:.1f}" fill="{fill}"{op}{st}>{title}</rect>')

    def circle(self, x: float, y: float, r: float, fill: str, tip: str | None = None, stroke: str = "#ffffff") -> None:
        title = f"<title>{_t(tip)}</title>" if tip else ""
        self.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" stroke="{stroke}" stroke-width="1">{title}</circle>')

    def polyline(self, pts: Sequence[tuple[float, float]], color: str, width: float = 2, dash: str | None = None, tip: str | None = None) -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        title = f"<title>{_t(tip)}</title>" if tip else ""
        p = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        self.add(f'<polyline points="{p}" fill="none" stroke="{color}" stroke-width="{width}" stroke-linejoin="round"{d}>{title}</polyline>')

    def x_axis(self, ticks: Iterable[float], fmt: Callable[[float], str], label: str) -> None:
        for t in ticks:
            x = self.X(t)
            self.line(x, self.tp, x, self.b, GRID)
            self.text(x, self.b + 16, fmt(t), 10, "middle")
        self.line(self.l, self.b, self.r, self.b, INK)
        self.text((self.l + self.r) / 2, self.b + 36, label, 11, "middle")

    def y_axis(self, ticks: Iterable[float], fmt: Callable[[float], str], label: str) -> None:
        for t in ticks:
            y = self.Y(t)
            self.line(self.l, y, self.r, y, GRID)
            self.text(self.l - 6, y + 3.5, fmt(t), 10, "end")
        self.line(self.l, self.tp, self.l, self.b, INK)
        self.text(16, (self.tp + self.b) / 2, label, 11, "middle", rotate=-90)

    def legend(self, items: Sequence[tuple[str, str]], dashed: set[str] | None = None) -> None:
        x, y = self.r + 14, self.tp + 4
        for label, color in items:
            if dashed and label in dashed:
                self.line(x, y, x + 18, y, color, 2.5, "5 3")
            else:
                self.line(x, y, x + 18, y, color, 3)
            self.text(x + 24, y + 4, _short(label, 26), 10)
            y += 17

    def render(self, desc: str = "") -> str:
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-{_t(self.id)}" viewBox="0 0 {self.w} {self.h}" '
            f'width="{self.w}" height="{self.h}" role="img" aria-labelledby="chart-{_t(self.id)}-title" font-family="{FONT}">'
            f'<title id="chart-{_t(self.id)}-title">{_t(self.title)}</title>'
        )
        if desc:
            head += f"<desc>{_t(desc)}</desc>"
        head += f'<rect x="0" y="0" width="{self.w}" height="{self.h}" fill="#ffffff"/>'
        self.text(self.l, 22, self.title, 14, weight="bold")
        return head + "".join(self.parts) + "</svg>"


def _short(s: str, n: int) -> str:
    s = str(s)
    return s if len(s) <= n else s[: n - 1] + "…"


def _label(plan: Any, option_id: str) -> str:
    for o in plan.options:
        if o.id == option_id:
            return o.label or o.id
    return option_id


def _shown_options(plan: Any, limit: int = MAX_SERIES) -> list[Any]:
    """Allowed options best first (the recommendation first), at most `limit`."""
    opts = [o for o in plan.options if o.allowed and o.npv is not None]
    opts.sort(key=lambda o: (o.id != plan.recommended, o.rank if o.rank is not None else 10**9, o.npv))
    return opts[:limit]


def _colors(options: Sequence[Any]) -> dict[str, str]:
    return {o.id: PALETTE[i % len(PALETTE)] for i, o in enumerate(options)}


# ----------------------------------------------------------------------------- charts
def cumulative_cost_chart(plan: Any) -> Chart | None:
    """Cumulative cash cost per option over the horizon, with break-even points marked."""
    opts = [o for o in _shown_options(plan) if o.cash_flows]
    if not opts:
        return None
    cur = plan.currency
    series: dict[str, list[tuple[float, float]]] = {}
    for o in opts:
        pts, total = [], 0.0
        for cf in sorted(o.cash_flows, key=lambda c: c.year):
            total += cf.capex + cf.opex
            pts.append((cf.year * 12.0, total))
        series[o.id] = pts
    months = max(p[0] for pts in series.values() for p in pts) or 12.0
    ymax = max(p[1] for pts in series.values() for p in pts)
    ymin = min(0.0, min(p[1] for pts in series.values() for p in pts))
    c = _Svg("cumulative-cost", f"Cumulative cost over {plan.horizon_years} years ({cur})")
    xt = list(range(0, int(months) + 1, 12 if months > 24 else 6))
    yt = nice_ticks(ymin, ymax)
    c.scales(0, months, yt[0], yt[-1])
    c.x_axis(xt, lambda v: f"{v:.0f}", "months from purchase")
    c.y_axis(yt, lambda v: money(v, cur, 2), f"cumulative cost ({cur})")
    colors = _colors(opts)
    for o in reversed(opts):
        pts = series[o.id]
        col = colors[o.id]
        width = 3.2 if o.id == plan.recommended else 2
        c.polyline([(c.X(x), c.Y(y)) for x, y in pts], col, width, tip=o.label)
        for x, y in pts:
            c.circle(c.X(x), c.Y(y), 3, col, f"{o.label}: {money(y, cur)} by month {x:.0f}")
    # break-even of the recommendation against each other option (piecewise-linear crossing)
    best = series.get(plan.recommended) if plan.recommended else None
    notes = []
    if best:
        for o in opts:
            if o.id == plan.recommended:
                continue
            other = series[o.id]
            for (xa, ya), (xb, yb), (_, oa), (_, ob) in zip(best, best[1:], other, other[1:]):
                da, db = ya - oa, yb - ob
                if da > 0 >= db and da != db:
                    f = da / (da - db)
                    xm, ym = xa + f * (xb - xa), ya + f * (yb - ya)
                    c.circle(c.X(xm), c.Y(ym), 6, "#ffffff", None, stroke=INK)
                    c.circle(c.X(xm), c.Y(ym), 2.5, INK, f"break-even with {o.label}: month {xm:.1f}")
                    c.text(c.X(xm) + 7, c.Y(ym) - 8, f"break-even m{xm:.0f}", 10)
                    notes.append(f"{o.label}: month {xm:.1f}")
                    break
    c.legend([(o.label, colors[o.id]) for o in opts])
    cap = "Cash spent to date (undiscounted; year 0 is the purchase). "
    cap += ("Break-even of the recommendation against " + "; ".join(notes) + ".") if notes else "No break-even inside the horizon."
    return Chart("cumulative-cost", c.title, c.render(cap), cap)


def unit_cost_chart(plan: Any) -> Chart | None:
    """Cost per unit served (per 1M tokens, per image or per item) per option."""
    opts = [o for o in plan.options if o.allowed]
    for key, unit in (("per_million_tokens", "per 1M tokens"), ("per_image", "per image"), ("per_item", "per item")):  # noqa: B007 - unit is read after the loop
        vals = [(o, getattr(o.unit_costs, key)) for o in opts if getattr(o.unit_costs, key) is not None]
        if vals:
            break
    else:
        return None
    vals.sort(key=lambda t: t[1])
    vals = vals[:12]
    cur = plan.currency
    c = _Svg("unit-cost", f"Cost {unit} ({cur})", height=max(160, 70 + 26 * len(vals)), left=250, right=60)
    xt = nice_ticks(0, max(v for _, v in vals) * 1.05)
    c.scales(0, xt[-1], 0, len(vals))
    c.x_axis(xt, lambda v: money(v, cur, 2), f"{cur} {unit}")
    band = (c.b - c.tp) / len(vals)
    for i, (o, v) in enumerate(vals):
        y = c.tp + i * band + band * 0.18
        col = PALETTE[0] if o.id == plan.recommended else GREY
        c.rect(c.l, y, c.X(v) - c.l, band * 0.64, col, f"{o.label}: {money(v, cur, 4)} {unit}")
        c.text(c.l - 6, y + band * 0.42, _short(o.label, 38), 10, "end", weight="bold" if o.id == plan.recommended else "normal")
        c.text(c.X(v) + 4, y + band * 0.42, money(v, cur, 3), 10)
    cap = f"Blended cost {unit} over the horizon; the recommendation is in blue."
    return Chart("unit-cost", c.title, c.render(cap), cap)


def latency_throughput_chart(plan: Any) -> Chart | None:
    """Per-replica throughput against TTFT and TPOT as concurrency grows, with the targets."""
    pts = [p for p in plan.latency_throughput if p.output_tokens_per_s and (p.tpot_s or p.ttft_s)]
    if len(pts) < 1:
        return None
    pts.sort(key=lambda p: p.output_tokens_per_s)
    targets = (plan.scenario or {}).get("targets") or {}
    ys = [v for p in pts for v in (p.tpot_s, p.ttft_s) if v]
    ys += [v for v in (targets.get("tpot_p95_s"), targets.get("ttft_p95_s")) if isinstance(v, (int, float))]
    c = _Svg("latency-throughput", "Latency vs throughput (one replica)")
    xt = nice_ticks(0, max(p.output_tokens_per_s for p in pts) * 1.05)
    yt = nice_ticks(0, max(ys) * 1.1)
    c.scales(0, xt[-1], 0, yt[-1])
    c.x_axis(xt, num, "output tokens/s per replica")
    c.y_axis(yt, lambda v: f"{v:g} s", "latency (s)")
    legend = []
    dashed = set()
    for key, col, name in (("tpot_s", PALETTE[0], "TPOT"), ("ttft_s", PALETTE[1], "TTFT")):
        line = [(p.output_tokens_per_s, getattr(p, key), p.concurrency) for p in pts if getattr(p, key)]
        if not line:
            continue
        c.polyline([(c.X(x), c.Y(y)) for x, y, _ in line], col, 2.2)
        for x, y, conc in line:
            c.circle(c.X(x), c.Y(y), 3.5, col, f"{name} {y:.3g} s at {num(x)} tok/s, concurrency {conc:g}")
        legend.append((name, col))
        tkey = "tpot_p95_s" if key == "tpot_s" else "ttft_p95_s"
        tv = targets.get(tkey)
        if isinstance(tv, (int, float)) and 0 < tv <= yt[-1]:
            c.line(c.l, c.Y(tv), c.r, c.Y(tv), col, 1.5, "6 4")
            c.text(c.r - 4, c.Y(tv) - 4, f"{name} target {tv:g} s", 10, "end", col)
            legend.append((f"{name} p95 target", col))
            dashed.add(f"{name} p95 target")
    c.legend(legend, dashed)
    who = plan.memory_breakdown.option_id if plan.memory_breakdown and plan.memory_breakdown.option_id else None
    pool = "the recommended option" if who in (None, plan.recommended) else f"the best self-hosted option ({who})"
    cap = f"Each point is one concurrency level of the main serving pool of {pool}; dashed lines are the p95 targets."
    return Chart("latency-throughput", c.title, c.render(cap), cap)


def memory_chart(plan: Any) -> Chart | None:
    """Memory of one GPU of the main serving pool (see MemoryBreakdown.option_id), by part."""
    mb = plan.memory_breakdown
    if mb is None or not mb.parts:
        return None
    total = mb.total_bytes or sum(mb.parts.values())
    c = _Svg("memory", f"Memory per GPU: {mb.model} on {mb.gpu}", height=200, left=30, right=30, top=40, bottom=90)
    c.scales(0, total, 0, 1)
    x = c.l
    y, hgt = c.tp + 20, 46
    for i, (part, v) in enumerate(mb.parts.items()):
        wdt = (v / total) * (c.r - c.l) if total else 0
        col = "#dfe3e8" if part == "free" else PALETTE[i % len(PALETTE)]
        c.rect(x, y, wdt, hgt, col, f"{part}: {v / 2**30:.1f} GiB ({v / total:.0%})", stroke="#ffffff")
        if wdt > 60:
            c.text(x + wdt / 2, y + hgt / 2 + 4, f"{v / 2**30:.1f} GiB", 10, "middle", "#ffffff" if part != "free" else INK)
        x += wdt
    lx = c.l
    for i, part in enumerate(mb.parts):
        col = "#dfe3e8" if part == "free" else PALETTE[i % len(PALETTE)]
        c.rect(lx, c.b + 18, 12, 12, col, stroke="#bbbbbb")
        c.text(lx + 16, c.b + 28, part.replace("_", " "), 10)
        lx += 26 + 7 * len(part)
    extra = f", {mb.quant}" if mb.quant else ""
    c.text(c.l, c.b + 58, f"{total / 2**30:.1f} GiB per GPU; TP={mb.tp}, PP={mb.pp}{extra}; workload {mb.workload}", 10)
    cap = "How one GPU's memory is spent: weights, KV cache, activations, runtime overhead and what is left free."
    return Chart("memory", c.title, c.render(cap), cap)


def pareto_chart(plan: Any) -> Chart | None:
    """Cost against latency for each option; the Pareto front joined, quality as marker size."""
    pts = list(plan.pareto)
    if not pts:
        pts = []
        for o in plan.options:
            lat = o.performance.ttft_p95_s or o.performance.image_latency_s
            if o.allowed and o.npv is not None and lat is not None:
                pts.append(type("P", (), {"option_id": o.id, "cost": o.npv, "latency_s": lat, "quality_delta": o.performance.quality_delta or 0.0}))
    pts = [p for p in pts if p.cost is not None and p.latency_s is not None and math.isfinite(p.cost) and math.isfinite(p.latency_s)]
    if not pts:
        return None
    front_ids = {o.id for o in plan.options if o.pareto}
    cur = plan.currency
    c = _Svg("pareto", f"Pareto front: cost vs latency ({cur})")
    xt = nice_ticks(min(0.0, min(p.cost for p in pts)), max(p.cost for p in pts) * 1.05)
    lat_lo, lat_hi = min(p.latency_s for p in pts), max(p.latency_s for p in pts)
    if lat_lo > 0.5 * lat_hi:  # a narrow band: zoom in rather than start at zero
        span = max(lat_hi - lat_lo, lat_hi * 0.02)
        yt = nice_ticks(max(0.0, lat_lo - span * 0.6), lat_hi + span * 0.6)
    else:
        yt = nice_ticks(0, lat_hi * 1.1)
    c.scales(xt[0], xt[-1], yt[0], yt[-1])
    c.x_axis(xt, lambda v: money(v, cur, 2), f"NPV of costs ({cur})")
    c.y_axis(yt, lambda v: f"{v:g} s", "latency p95 (s)")
    front = sorted((p for p in pts if p.option_id in front_ids), key=lambda p: p.cost)
    if len(front) > 1:
        c.polyline([(c.X(p.cost), c.Y(p.latency_s)) for p in front], PALETTE[0], 1.5, "4 3")
    labelled = 0
    names: list[str] = []
    for p in sorted(pts, key=lambda p: p.cost):
        on_front = p.option_id in front_ids
        col = PALETTE[2] if p.option_id == plan.recommended else (PALETTE[0] if on_front else GREY)
        r = 6 + min(6.0, max(0.0, 6.0 - 2.0 * (p.quality_delta or 0.0)))
        c.circle(c.X(p.cost), c.Y(p.latency_s), r, col, f"{_label(plan, p.option_id)}: {money(p.cost, cur)}, {p.latency_s:.3g} s, quality -{p.quality_delta:.2g}%")
        if (on_front or p.option_id == plan.recommended) and labelled < 9:
            labelled += 1  # numbered marks, named in the key: long labels of close points never collide
            c.text(c.X(p.cost), c.Y(p.latency_s) + 4, str(labelled), 10, "middle", "#ffffff", "bold")
            names.append(f"{labelled}  {_label(plan, p.option_id)}")
    c.legend([("recommended", PALETTE[2]), ("Pareto front", PALETTE[0]), ("dominated", GREY)])
    ky = c.tp + 4 + 17 * 3 + 10
    for name in names:
        c.text(c.r + 14, ky, _short(name, 30), 10)
        ky += 15
    cap = "Lower-left is better; larger markers lose less quality. Options on the front are not beaten on cost, latency and quality at once."
    return Chart("pareto", c.title, c.render(cap), cap)


def tornado_chart(plan: Any) -> Chart | None:
    """How far the recommendation's NPV moves when each uncertain input moves."""
    if not plan.sensitivity:
        return None
    sens = next((s for s in plan.sensitivity if s.option_id == plan.recommended), plan.sensitivity[0])
    bars = sorted(sens.bars, key=lambda b: -abs(b.swing))
    if not bars:
        return None
    cur = plan.currency
    c = _Svg("tornado", f"Sensitivity of NPV: {_short(_label(plan, sens.option_id), 40)}", height=max(170, 90 + 34 * len(bars)), left=150, right=40)
    lo = min(min(b.npv_low, b.npv_high) for b in bars + []) if bars else sens.base_npv
    hi = max(max(b.npv_low, b.npv_high) for b in bars)
    lo, hi = min(lo, sens.base_npv), max(hi, sens.base_npv)
    pad = (hi - lo) * 0.08 or abs(sens.base_npv) * 0.1 or 1.0
    xt = nice_ticks(lo - pad, hi + pad)
    c.scales(xt[0], xt[-1], 0, len(bars))
    c.x_axis(xt, lambda v: money(v, cur, 3), f"NPV ({cur})")
    band = (c.b - c.tp) / len(bars)
    base_x = c.X(sens.base_npv)
    for i, b in enumerate(bars):
        y = c.tp + i * band + band * 0.2
        hgt = band * 0.6
        c.rect(base_x, y, c.X(b.npv_low) - base_x, hgt, PALETTE[0], f"{b.input} x{b.low_factor:g}: NPV {money(b.npv_low, cur)}")
        c.rect(base_x, y, c.X(b.npv_high) - base_x, hgt, PALETTE[1], f"{b.input} x{b.high_factor:g}: NPV {money(b.npv_high, cur)}")
        c.text(c.l - 6, y + hgt / 2 + 4, b.input.replace("_", " "), 11, "end")
        if abs(c.X(b.npv_high) - c.X(b.npv_low)) < 2:
            c.text(base_x + 6, y + hgt / 2 + 4, f"no effect (x{b.low_factor:g} to x{b.high_factor:g})", 9, color="#666666")
            continue
        c.text(c.X(b.npv_low) + (-4 if b.npv_low < sens.base_npv else 4), y + hgt / 2 + 4, f"x{b.low_factor:g}", 9, "end" if b.npv_low < sens.base_npv else "start")
        c.text(c.X(b.npv_high) + (4 if b.npv_high >= sens.base_npv else -4), y + hgt / 2 + 4, f"x{b.high_factor:g}", 9, "start" if b.npv_high >= sens.base_npv else "end")
    c.line(base_x, c.tp - 4, base_x, c.b, INK, 1.5)
    c.text(base_x, c.tp - 8, f"base {money(sens.base_npv, cur)}", 10, "middle")
    cap = "Blue: the input at its low factor; orange: at its high factor. Longest bars matter most."
    return Chart("tornado", c.title, c.render(cap), cap)


def monte_carlo_chart(plan: Any) -> Chart | None:
    """P10–P90 NPV range per option from the Monte Carlo draws, with P50 and the chance of being best."""
    mc = plan.monte_carlo
    if mc is None or not mc.ranges:
        return None
    ranges = sorted(mc.ranges, key=lambda r: r.p50)[:12]
    cur = plan.currency
    c = _Svg("monte-carlo", f"Monte Carlo NPV ranges ({mc.samples:,} draws)", height=max(170, 90 + 30 * len(ranges)), left=250, right=80)
    xt = nice_ticks(min(r.p10 for r in ranges) * 0.95, max(r.p90 for r in ranges) * 1.05)
    c.scales(xt[0], xt[-1], 0, len(ranges))
    c.x_axis(xt, lambda v: money(v, cur, 3), f"NPV ({cur}); bar P10–P90, dot P50")
    band = (c.b - c.tp) / len(ranges)
    for i, r in enumerate(ranges):
        y = c.tp + i * band + band / 2
        col = PALETTE[2] if r.option_id == plan.recommended else PALETTE[0]
        tip = f"{_label(plan, r.option_id)}: P10 {money(r.p10, cur)}, P50 {money(r.p50, cur)}, P90 {money(r.p90, cur)}"
        if r.prob_best is not None:
            tip += f", best in {r.prob_best:.0%} of draws"
        c.rect(c.X(r.p10), y - band * 0.18, c.X(r.p90) - c.X(r.p10), band * 0.36, col, tip, opacity=0.45)
        c.line(c.X(r.p50), y - band * 0.3, c.X(r.p50), y + band * 0.3, col, 3)
        c.circle(c.X(r.p50), y, 4, col, tip)
        c.text(c.l - 6, y + 4, _short(_label(plan, r.option_id), 38), 10, "end")
        if r.prob_best is not None:
            c.text(c.r + 8, y + 4, f"best {r.prob_best:.0%}", 10)
    cap = f"Spread of each option's NPV over {mc.samples:,} draws of the uncertain inputs (seed {mc.seed}); 'best' is the share of draws in which it is cheapest."
    return Chart("monte-carlo", c.title, c.render(cap), cap)


CHARTS: tuple[Callable[[Any], Chart | None], ...] = (
    cumulative_cost_chart,
    unit_cost_chart,
    latency_throughput_chart,
    memory_chart,
    pareto_chart,
    tornado_chart,
    monte_carlo_chart,
)


def all_charts(plan: Any) -> list[Chart]:
    """Every chart the plan has data for, in report order."""
    out = []
    for fn in CHARTS:
        ch = fn(plan)
        if ch is not None:
            out.append(ch)
    return out
