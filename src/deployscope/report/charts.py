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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

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


@dataclass(frozen=True)
class HiddenChart:
    """A chart the plan has nothing to show in, and the sentence that says why."""

    id: str
    title: str
    reason: str


class _Hidden(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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

    def rect(self, x: float, y: float, w: float, h: float, fill: str, tip: str | None = None, opacity: float = 1.0,
             stroke: str | None = None, mark: bool = False) -> None:
        if w < 0:
            x, w = x + w, -w
        if h < 0:
            y, h = y + h, -h
        st = f' stroke="{stroke}" stroke-width="1"' if stroke else ""
        op = f' fill-opacity="{opacity}"' if opacity < 1 else ""
        title = f"<title>{_t(tip)}</title>" if tip else ""
        cls = ' class="ds-mark"' if mark else ""
        self.add(f'<rect{cls} x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.5):.1f}" height="{h:.1f}" fill="{fill}"{op}{st}>{title}</rect>')

    def circle(self, x: float, y: float, r: float, fill: str, tip: str | None = None, stroke: str = "#ffffff", mark: bool = False) -> None:
        title = f"<title>{_t(tip)}</title>" if tip else ""
        cls = ' class="ds-mark"' if mark else ""
        self.add(f'<circle{cls} cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" stroke="{stroke}" stroke-width="1">{title}</circle>')

    def polyline(self, pts: Sequence[tuple[float, float]], color: str, width: float = 2, dash: str | None = None,
                 tip: str | None = None, mark: bool = False) -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        title = f"<title>{_t(tip)}</title>" if tip else ""
        p = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        cls = ' class="ds-mark"' if mark else ""
        self.add(f'<polyline{cls} points="{p}" fill="none" stroke="{color}" stroke-width="{width}" stroke-linejoin="round"{d}>{title}</polyline>')

    def triangle(self, x: float, y: float, fill: str, tip: str) -> None:
        """An upward marker for a value clipped at the top of the plot."""
        self.add(f'<polygon class="ds-mark" points="{x - 5:.1f},{y + 8:.1f} {x + 5:.1f},{y + 8:.1f} {x:.1f},{y:.1f}" '
                 f'fill="{fill}" stroke="#ffffff" stroke-width="1"><title>{_t(tip)}</title></polygon>')

    def begin_plot(self) -> None:
        """Open a plot area: every data mark drawn until end_plot() lies inside it (tested)."""
        self.add(f'<g class="ds-plot" data-plot="{self.l:.1f} {self.tp:.1f} {self.r:.1f} {self.b:.1f}">')

    def end_plot(self) -> None:
        self.add("</g>")

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
        raise _Hidden("No allowed option has cash flows to draw.")
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
    if xt[-1] < months:
        xt.append(xt[-1] + (12 if months > 24 else 6))
    yt = nice_ticks(ymin, ymax)
    c.scales(0, xt[-1], yt[0], yt[-1])
    c.x_axis(xt, lambda v: f"{v:.0f}", "months from purchase")
    c.y_axis(yt, lambda v: money(v, cur, 2), f"cumulative cost ({cur})")
    colors = _colors(opts)
    c.begin_plot()
    for o in reversed(opts):
        pts = series[o.id]
        col = colors[o.id]
        width = 3.2 if o.id == plan.recommended else 2
        c.polyline([(c.X(x), c.Y(y)) for x, y in pts], col, width, tip=o.label, mark=True)
        for x, y in pts:
            c.circle(c.X(x), c.Y(y), 3, col, f"{o.label}: {money(y, cur)} by month {x:.0f}", mark=True)
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
                    c.circle(c.X(xm), c.Y(ym), 2.5, INK, f"break-even with {o.label}: month {xm:.1f}", mark=True)
                    c.text(c.X(xm) + 7, c.Y(ym) - 8, f"break-even m{xm:.0f}", 10)
                    notes.append(f"{o.label}: month {xm:.1f}")
                    break
    c.end_plot()
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
        raise _Hidden("No allowed option has a cost per token, image or item (training-only plans are costed per year).")
    vals.sort(key=lambda t: t[1])
    vals = vals[:12]
    cur = plan.currency
    c = _Svg("unit-cost", f"Cost {unit} ({cur})", height=max(160, 70 + 26 * len(vals)), left=250, right=60)
    xt = nice_ticks(min(0.0, min(v for _, v in vals)), max(0.0, max(v for _, v in vals)) * 1.05)
    c.scales(xt[0], xt[-1], 0, len(vals))
    c.x_axis(xt, lambda v: money(v, cur, 2), f"{cur} {unit}")
    band = (c.b - c.tp) / len(vals)
    c.begin_plot()
    for i, (o, v) in enumerate(vals):
        y = c.tp + i * band + band * 0.18
        col = PALETTE[0] if o.id == plan.recommended else GREY
        c.rect(c.X(0), y, c.X(v) - c.X(0), band * 0.64, col, f"{o.label}: {money(v, cur, 4)} {unit}", mark=True)
        c.text(c.l - 6, y + band * 0.42, _short(o.label, 38), 10, "end", weight="bold" if o.id == plan.recommended else "normal")
        c.text(c.X(v) + 4, y + band * 0.42, money(v, cur, 3), 10)
    c.end_plot()
    cap = f"Blended cost {unit} over the horizon; the recommendation is in blue."
    return Chart("unit-cost", c.title, c.render(cap), cap)


def _latency_limit(values: Sequence[float], target: float | None) -> float:
    """The top of a latency axis: the data, but not one outlier that flattens the rest.

    A value over three times the larger of the target and the next-highest value is clipped
    (drawn as a marker at the top edge, its value written beside it)."""
    vals = sorted(v for v in values if v is not None and math.isfinite(v) and v > 0)
    if not vals:
        return (target or 1.0) * 1.25
    top = vals[-1]
    ref = max([target or 0.0] + vals[:-1]) if len(vals) > 1 else max(target or 0.0, top)
    while len(vals) > 1 and ref > 0 and vals[-1] > 3 * ref:
        vals.pop()
        ref = max([target or 0.0] + vals[:-1]) if len(vals) > 1 else max(target or 0.0, vals[-1])
    top = vals[-1]
    return max(top, target or 0.0) * 1.15


def latency_throughput_chart(plan: Any) -> Chart | None:
    """Per-replica throughput against TTFT (left) and TPOT (right) as concurrency grows, each
    scaled to its data with its p95 target drawn; outliers clipped at the top and marked."""
    pts = [p for p in plan.latency_throughput if p.output_tokens_per_s and (p.tpot_s or p.ttft_s)]
    if not pts:
        raise _Hidden("No self-hosted LLM serving pool in this plan, so there is no latency curve to draw.")
    pts.sort(key=lambda p: p.output_tokens_per_s)
    targets = (plan.scenario or {}).get("targets") or {}
    c = _Svg("latency-throughput", "Latency vs throughput (one replica)", height=H, left=70, right=20, top=58)
    xt = nice_ticks(0, max(p.output_tokens_per_s for p in pts) * 1.05)
    gap, full_l, full_r = 70, c.l, c.r
    half = (full_r - full_l - gap) / 2
    clipped_notes: list[str] = []
    panels = (("ttft_s", "ttft_p95_s", "TTFT", PALETTE[1]), ("tpot_s", "tpot_p95_s", "TPOT", PALETTE[0]))
    for k, (key, tkey, name, col) in enumerate(panels):
        c.l = full_l + k * (half + gap)
        c.r = c.l + half
        line = [(p.output_tokens_per_s, getattr(p, key), p.concurrency) for p in pts if getattr(p, key)]
        tv = targets.get(tkey)
        target = float(tv) if isinstance(tv, (int, float)) and tv > 0 else None
        ymax = _latency_limit([y for _, y, _ in line], target)
        yt = nice_ticks(0, ymax)
        c.scales(0, xt[-1], 0, yt[-1])
        c.x_axis(xt, num, "output tokens/s per replica")
        for t in yt:
            c.line(c.l, c.Y(t), c.r, c.Y(t), GRID)
            c.text(c.l - 6, c.Y(t) + 3.5, _sec_label(t), 10, "end")
        c.line(c.l, c.tp, c.l, c.b, INK)
        c.text(c.l, c.tp - 8, f"{name} (s)", 11, weight="bold")
        c.begin_plot()
        drawn = [(x, min(y, yt[-1]), conc, y > yt[-1]) for x, y, conc in line]
        if drawn:
            c.polyline([(c.X(x), c.Y(y)) for x, y, _, _ in drawn], col, 2.2, mark=True)
        for x, y, conc, over in drawn:
            real = next(v for xx, v, cc in line if xx == x and cc == conc)
            tip = f"{name} {real:.3g} s at {num(x)} tok/s, concurrency {conc:g}"
            if over:
                c.triangle(c.X(x), c.Y(yt[-1]), INK, tip + " (off the scale)")
                c.text(c.X(x) - 4, c.Y(yt[-1]) + 20, f"{real:.3g} s ↑", 10, "end")
                clipped_notes.append(f"{name} {real:.3g} s at concurrency {conc:g}")
            else:
                c.circle(c.X(x), c.Y(y), 3.5, col, tip, mark=True)
        if target is not None:
            c.line(c.l, c.Y(target), c.r, c.Y(target), col, 1.5, "6 4")
            c.text(c.r - 4, c.Y(target) - 4, f"p95 target {target:g} s", 10, "end", col)
        c.end_plot()
    c.l, c.r = full_l, full_r
    who = plan.memory_breakdown.option_id if plan.memory_breakdown and plan.memory_breakdown.option_id else None
    pool = "the recommended option" if who in (None, plan.recommended) else f"the best self-hosted option ({who})"
    cap = (f"Each point is one concurrency level (1 to {max(p.concurrency for p in pts):g} requests in flight) of the main "
           f"serving pool of {pool}; dashed lines are the p95 targets, latencies are medians.")
    if clipped_notes:
        cap += " Off the scale (▲ at the top edge): " + "; ".join(clipped_notes) + "."
    return Chart("latency-throughput", c.title, c.render(cap), cap)


def _sec_label(v: float) -> str:
    return f"{v * 1000:.0f} ms" if 0 < v < 1 else f"{v:g} s"


MEMORY_ORDER = ("weights", "kv_cache", "activation", "activations", "overhead")


def memory_chart(plan: Any) -> Chart | None:
    """One GPU of the main serving pool (see MemoryBreakdown.option_id): its parts stacked
    within the GPU's capacity. The KV cache is what the batch in flight needs; when that is more
    than the memory left after the weights, the bar shows what fits and says so."""
    mb = plan.memory_breakdown
    if mb is None or not mb.parts:
        raise _Hidden("No self-hosted LLM serving pool in this plan, so there is no GPU memory to break down.")
    capacity = float(mb.total_bytes)
    parts = {k: float(v) for k, v in mb.parts.items() if k != "free" and v > 0}
    order = sorted(parts, key=lambda k: MEMORY_ORDER.index(k) if k in MEMORY_ORDER else len(MEMORY_ORDER))
    fixed = sum(v for k, v in parts.items() if k != "kv_cache")
    kv_need = parts.get("kv_cache", 0.0)
    kv_fit = max(0.0, min(kv_need, capacity - fixed))
    shown = {k: (kv_fit if k == "kv_cache" else parts[k]) for k in order}
    over = fixed - capacity  # weights and runtime alone beyond the GPU: does not fit at all
    scale_max = max(capacity, fixed)
    gib = 2**30
    c = _Svg("memory", f"Memory per GPU: {mb.model} on {mb.gpu}", height=210, left=30, right=30, top=48, bottom=96)
    c.scales(0, scale_max, 0, 1)
    y, hgt = c.tp + 14, 46
    c.begin_plot()
    x = c.X(0)
    colors = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(order)}
    for k in order:
        v = shown[k]
        if v <= 0:
            continue
        wdt = c.X(v) - c.X(0)
        tip = f"{k.replace('_', ' ')}: {v / gib:.1f} GiB ({v / capacity:.0%} of the GPU)"
        if k == "kv_cache" and kv_fit < kv_need:
            tip += f"; the batch in flight would need {kv_need / gib:.1f} GiB"
        c.rect(x, y, wdt, hgt, colors[k], tip, stroke="#ffffff", mark=True)
        if wdt > 60:
            c.text(x + wdt / 2, y + hgt / 2 + 4, f"{v / gib:.1f} GiB", 10, "middle", "#ffffff")
        x += wdt
    free = capacity - sum(shown.values())
    if free > 0:
        c.rect(x, y, c.X(capacity) - x, hgt, "#dfe3e8", f"free: {free / gib:.1f} GiB", stroke="#ffffff", mark=True)
    c.end_plot()
    c.line(c.X(capacity), y - 10, c.X(capacity), y + hgt + 10, INK, 2)
    c.text(c.X(capacity), y - 14, f"GPU memory {capacity / gib:.1f} GiB", 10, "end" if c.X(capacity) > c.l + 120 else "start")
    lx = c.l
    for k in order + (["free"] if free > 0 else []):
        col = "#dfe3e8" if k == "free" else colors[k]
        c.rect(lx, c.b + 18, 12, 12, col, stroke="#bbbbbb")
        c.text(lx + 16, c.b + 28, k.replace("_", " "), 10)
        lx += 26 + 7 * len(k)
    extra = f", {mb.quant}" if mb.quant else ""
    c.text(c.l, c.b + 58, f"TP={mb.tp}, PP={mb.pp}{extra}; workload {mb.workload}", 10)
    cap = "How one GPU's memory is spent: weights, KV cache for the sequences in flight, activations, runtime overhead, and what is left free."
    if over > 0:
        cap += f" The weights and runtime alone need {fixed / gib:.1f} GiB, more than the GPU's {capacity / gib:.1f} GiB."
    elif kv_fit < kv_need:
        cap += (f" The batch in flight would need {kv_need / gib:.1f} GiB of KV cache; {kv_fit / gib:.1f} GiB fit beside the "
                f"weights, so the engine holds fewer sequences at once ({kv_fit / kv_need:.0%}).")
    return Chart("memory", c.title, c.render(cap), cap)


def _latency_of(o: Any) -> tuple[float | None, str]:
    p = o.performance
    if p.ttft_p95_s is not None:
        return p.ttft_p95_s, "TTFT p95"
    if p.image_latency_s is not None:
        return p.image_latency_s, "time per image"
    return None, ""


def pareto_chart(plan: Any) -> Chart | None:
    """NPV against latency for every allowed option; the Pareto front joined, quality as marker
    size. Options without a latency estimate (hosted APIs) sit in a band of their own at the top."""
    allowed = [o for o in plan.options if o.allowed and o.npv is not None and math.isfinite(o.npv)]
    if len(allowed) < 2:
        raise _Hidden("Only one option is allowed, so there is no trade-off between cost and latency to draw."
                      if allowed else "No option is allowed, so there is nothing to compare.")
    timed = [(o, *_latency_of(o)) for o in allowed]
    with_lat = [(o, lat) for o, lat, _ in timed if lat is not None and math.isfinite(lat)]
    no_lat = [o for o, lat, _ in timed if lat is None]
    if not with_lat:
        raise _Hidden("No allowed option has a latency estimate (training jobs and batch pipelines are sized by their "
                      "deadlines), so cost against latency has nothing to show; the unit-cost and cumulative-cost charts compare them.")
    kinds = {k for _, lat, k in timed if lat is not None}
    ylabel = " / ".join(sorted(kinds)) or "latency"
    front_ids = {o.id for o in plan.options if o.pareto}
    cur = plan.currency
    c = _Svg("pareto", f"Cost vs latency of the {len(allowed)} allowed options ({cur})", top=48)
    costs = [o.npv for o in allowed]
    xt = nice_ticks(min(0.0, min(costs)), max(costs) * 1.05)
    band_h = 40 if no_lat else 0
    if with_lat:
        lat_lo, lat_hi = min(v for _, v in with_lat), max(v for _, v in with_lat)
        if lat_lo > 0.5 * lat_hi:  # a narrow band: zoom in rather than start at zero
            span = max(lat_hi - lat_lo, lat_hi * 0.02)
            yt = nice_ticks(max(0.0, lat_lo - span * 0.6), lat_hi + span * 0.6)
        else:
            yt = nice_ticks(0, lat_hi * 1.1)
    top_plot = c.tp
    c.tp = top_plot + band_h
    c.scales(xt[0], xt[-1], yt[0], yt[-1])
    c.x_axis(xt, lambda v: money(v, cur, 2), f"NPV of costs over {plan.horizon_years} years ({cur}, lower is better)")
    c.y_axis(yt, _sec_label, f"{ylabel} (lower is better)")
    legend = [("recommended", PALETTE[2]), ("Pareto front", PALETTE[0]), ("other allowed", GREY)]
    # where each option sits: the latency plot, or the band of options without a latency estimate
    band_top, band_bottom = top_plot, top_plot + band_h - 6
    place: dict[str, tuple[float, float, str]] = {}
    for o, v in with_lat:
        q = o.performance.quality_delta or 0.0
        place[o.id] = (c.X(o.npv), c.Y(v), f"{o.label}: {money(o.npv, cur)}, {v:.3g} s, quality -{q:.2g}%")
    for o in no_lat:
        place[o.id] = (c.X(o.npv), band_top + (band_bottom - band_top) * 0.66, f"{o.label}: {money(o.npv, cur)}; latency not estimated")
    # drawn back to front: other options, then the front, then the recommendation on top
    order = sorted(allowed, key=lambda o: (o.id == plan.recommended, o.id in front_ids, -o.npv))
    numbered = [o for o in sorted(allowed, key=lambda o: o.npv)
                if len(allowed) <= 9 or o.id in front_ids or o.id == plan.recommended][:9]
    if no_lat:
        c.rect(c.l, band_top, c.r - c.l, band_bottom - band_top, "#f4f6f8")
        why = " (hosted APIs: set by the provider)" if all(o.placement == "api" for o in no_lat) else ""
        c.text(c.r - 4, band_top + 10, f"latency not estimated{why}", 9, "end", "#666666")
    for group in ("lat", "band"):
        saved = (c.tp, c.b)
        if group == "band":
            if not no_lat:
                continue
            c.tp, c.b = band_top, band_bottom
        c.begin_plot()
        if group == "lat":
            front = sorted(((o, v) for o, v in with_lat if o.id in front_ids), key=lambda t: t[0].npv)
            if len(front) > 1:
                c.polyline([(c.X(o.npv), c.Y(v)) for o, v in front], PALETTE[0], 1.5, "4 3", mark=True)
        ids = {o.id for o, _ in with_lat} if group == "lat" else {o.id for o in no_lat}
        for o in order:
            if o.id not in ids:
                continue
            x, y, tip = place[o.id]
            col = PALETTE[2] if o.id == plan.recommended else (PALETTE[0] if o.id in front_ids else GREY)
            r = 4 + max(0.0, 4.0 - 1.5 * (o.performance.quality_delta or 0.0))
            c.circle(x, y, r + 1.5, col, tip, mark=True)
        c.end_plot()
        c.tp, c.b = saved
    names: list[str] = []
    for n, o in enumerate(numbered, 1):  # numbers beside the marks, named in the key
        x, y, _ = place[o.id]
        c.text(x + 8, y - 6, str(n), 10, "start", INK, "bold")
        names.append(f"{n}  {_label(plan, o.id)}")
    c.legend(legend)
    ky = c.tp + 4 + 17 * 3 + 10
    for name in names:
        c.text(c.r + 14, ky, _short(name, 30), 10)
        ky += 15
    cap = ("Every allowed option: lower-left is better; larger markers lose less quality to quantization. Options on the "
           "front are not beaten on cost, latency and quality at once.")
    if no_lat:
        cap += f" {len(no_lat)} option(s) have no latency estimate and are placed by cost alone in the top band."
    return Chart("pareto", c.title, c.render(cap), cap)


def tornado_chart(plan: Any) -> Chart | None:
    """How far the recommendation's NPV moves when each uncertain input moves."""
    if not plan.sensitivity:
        raise _Hidden("No sensitivity analysis in this plan: there is no recommendation to test." if plan.recommended is None
                      else "No sensitivity analysis in this plan.")
    sens = next((s for s in plan.sensitivity if s.option_id == plan.recommended), plan.sensitivity[0])
    bars = sorted(sens.bars, key=lambda b: -abs(b.swing))
    if not bars:
        raise _Hidden("No uncertain input moves the recommendation's NPV.")
    cur = plan.currency
    c = _Svg("tornado", f"Sensitivity of NPV: {_short(_label(plan, sens.option_id), 40)}", height=max(170, 90 + 34 * len(bars)), left=150, right=40)
    lo = min(min(b.npv_low, b.npv_high) for b in bars)
    hi = max(max(b.npv_low, b.npv_high) for b in bars)
    lo, hi = min(lo, sens.base_npv), max(hi, sens.base_npv)
    pad = (hi - lo) * 0.08 or abs(sens.base_npv) * 0.1 or 1.0
    xt = nice_ticks(lo - pad, hi + pad)
    c.scales(xt[0], xt[-1], 0, len(bars))
    c.x_axis(xt, lambda v: money(v, cur, 3), f"NPV ({cur})")
    band = (c.b - c.tp) / len(bars)
    base_x = c.X(sens.base_npv)
    c.begin_plot()
    for i, b in enumerate(bars):
        y = c.tp + i * band + band * 0.2
        hgt = band * 0.6
        c.rect(base_x, y, c.X(b.npv_low) - base_x, hgt, PALETTE[0], f"{b.input} x{b.low_factor:g}: NPV {money(b.npv_low, cur)}", mark=True)
        c.rect(base_x, y, c.X(b.npv_high) - base_x, hgt, PALETTE[1], f"{b.input} x{b.high_factor:g}: NPV {money(b.npv_high, cur)}", mark=True)
        c.text(c.l - 6, y + hgt / 2 + 4, b.input.replace("_", " "), 11, "end")
        if abs(c.X(b.npv_high) - c.X(b.npv_low)) < 2:
            c.text(base_x + 6, y + hgt / 2 + 4, f"no effect (x{b.low_factor:g} to x{b.high_factor:g})", 9, color="#666666")
            continue
        c.text(c.X(b.npv_low) + (-4 if b.npv_low < sens.base_npv else 4), y + hgt / 2 + 4, f"x{b.low_factor:g}", 9, "end" if b.npv_low < sens.base_npv else "start")
        c.text(c.X(b.npv_high) + (4 if b.npv_high >= sens.base_npv else -4), y + hgt / 2 + 4, f"x{b.high_factor:g}", 9, "start" if b.npv_high >= sens.base_npv else "end")
    c.end_plot()
    c.line(base_x, c.tp - 4, base_x, c.b, INK, 1.5)
    c.text(base_x, c.tp - 8, f"base {money(sens.base_npv, cur)}", 10, "middle")
    cap = "Blue: the input at its low factor; orange: at its high factor. Longest bars matter most."
    return Chart("tornado", c.title, c.render(cap), cap)


def monte_carlo_chart(plan: Any) -> Chart | None:
    """P10–P90 NPV range per option from the Monte Carlo draws, with P50 and the chance of being best."""
    mc = plan.monte_carlo
    if mc is None or not mc.ranges:
        raise _Hidden("No Monte Carlo draws in this plan.")
    if sum(1 for o in plan.options if o.allowed) < 2:
        raise _Hidden("Only one option is allowed: the Monte Carlo draws have no choice to inform.")
    ranges = sorted(mc.ranges, key=lambda r: r.p50)[:12]
    cur = plan.currency
    c = _Svg("monte-carlo", f"Monte Carlo NPV ranges ({mc.samples:,} draws)", height=max(170, 90 + 30 * len(ranges)), left=250, right=80)
    lo, hi = min(r.p10 for r in ranges), max(r.p90 for r in ranges)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
    xt = nice_ticks(lo - pad, hi + pad)
    c.scales(xt[0], xt[-1], 0, len(ranges))
    c.x_axis(xt, lambda v: money(v, cur, 3), f"NPV ({cur}); bar P10–P90, dot P50")
    band = (c.b - c.tp) / len(ranges)
    c.begin_plot()
    for i, r in enumerate(ranges):
        y = c.tp + i * band + band / 2
        col = PALETTE[2] if r.option_id == plan.recommended else PALETTE[0]
        tip = f"{_label(plan, r.option_id)}: P10 {money(r.p10, cur)}, P50 {money(r.p50, cur)}, P90 {money(r.p90, cur)}"
        if r.prob_best is not None:
            tip += f", best in {r.prob_best:.0%} of draws"
        c.rect(c.X(r.p10), y - band * 0.18, c.X(r.p90) - c.X(r.p10), band * 0.36, col, tip, opacity=0.45, mark=True)
        c.line(c.X(r.p50), y - band * 0.3, c.X(r.p50), y + band * 0.3, col, 3)
        c.circle(c.X(r.p50), y, 4, col, tip, mark=True)
        c.text(c.l - 6, y + 4, _short(_label(plan, r.option_id), 38), 10, "end")
        if r.prob_best is not None:
            c.text(c.r + 8, y + 4, f"best {r.prob_best:.0%}", 10)
    c.end_plot()
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

TITLES = {
    "cumulative-cost": "Cumulative cost",
    "unit-cost": "Unit cost",
    "latency-throughput": "Latency vs throughput",
    "memory": "Memory per GPU",
    "pareto": "Cost vs latency (Pareto)",
    "tornado": "Sensitivity",
    "monte-carlo": "Monte Carlo ranges",
}


def chart_results(plan: Any) -> list[Chart | HiddenChart]:
    """Every chart in report order: drawn, or hidden with the sentence that says why."""
    out: list[Chart | HiddenChart] = []
    for fn in CHARTS:
        cid = fn.__name__.removesuffix("_chart").replace("_", "-")
        try:
            ch = fn(plan)
        except _Hidden as h:
            out.append(HiddenChart(cid, TITLES.get(cid, cid), h.reason))
            continue
        if ch is not None:
            out.append(ch)
    return out


def all_charts(plan: Any) -> list[Chart]:
    """Every chart the plan has data for, in report order."""
    return [c for c in chart_results(plan) if isinstance(c, Chart)]


def hidden_charts(plan: Any) -> list[HiddenChart]:
    """The charts left out, each with the sentence that says why."""
    return [c for c in chart_results(plan) if isinstance(c, HiddenChart)]
