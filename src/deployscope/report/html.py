"""Self-contained HTML report: one file, styles inline, charts as inline SVG, no network."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from .case import driver_sentences, exclusion_summary, question, shown_reasons
from .charts import Chart, chart_results
from .charts import money as _money
from .charts import num as _num

TEMPLATES = Path(__file__).parent / "templates"
MAX_TABLE_OPTIONS = 60
UNIT_COLUMNS = (("per_million_tokens", "/1M tok"), ("per_image", "/image"), ("per_item", "/item"))
MAX_PDF_OPTIONS = 20  # the PDF lists the best 20; every option is in the JSON, CSV and XLSX


def as_plan(plan: Any) -> Any:
    """A typed Plan from a Plan, a mapping or JSON text."""
    from ..result import Plan

    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, (str, bytes)):
        return Plan.model_validate_json(plan)
    if hasattr(plan, "to_plan"):
        return plan.to_plan()
    return Plan.model_validate(plan)


def cite(ref: Any) -> Markup:
    """A citation: a link when it is an http(s) URL, escaped text otherwise."""
    s = str(ref).strip()
    if s.startswith(("https://", "http://")) and not any(c in s for c in "\"'<> "):
        return Markup('<a href="{0}" rel="noopener noreferrer">{0}</a>').format(s)
    return Markup(escape(s))


@lru_cache(maxsize=1)
def report_css() -> str:
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


def tokens_per_s_per_user(o: Any) -> float | None:
    """What one user sees while a reply streams: 1 / TPOT at p95."""
    t = o.performance.tpot_p95_s
    return 1.0 / t if isinstance(t, (int, float)) and t > 0 else None


def tokens_per_s_per_gpu(o: Any) -> float | None:
    """The installed output capacity divided over the GPUs that serve it."""
    p = o.performance
    if p.output_tokens_per_s and p.gpus:
        return p.output_tokens_per_s / p.gpus
    return None


def template_helpers(plan: Any) -> dict[str, Any]:
    cur = plan.currency

    def money(v: Any) -> str:
        return _money(v, cur, 4) if isinstance(v, (int, float)) else "–"

    def sec(v: Any) -> str:
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            return "–"
        return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.3g} s"

    def pct(v: Any) -> str:
        return f"{v:.0%}" if isinstance(v, (int, float)) and math.isfinite(v) else "–"

    def api_latency(o: Any, which: str) -> str | None:
        """A hosted API's latency cell: its published figure, or 'unknown' (no p95 is modelled for it)."""
        p = o.performance
        if o.placement != "api" or not p.latency_note:
            return None
        if which == "ttft" and p.ttft_at_prompt_s is not None:
            return f"{sec(p.ttft_at_prompt_s)} (published {sec(p.published_ttft_s)} + prompt prefill)"
        if which == "ttft" and p.published_ttft_s is not None:
            return f"{sec(p.published_ttft_s)} (published)"
        if which == "tpot" and p.published_output_tokens_per_s:
            return f"{sec(1.0 / p.published_output_tokens_per_s)} (published)"
        return "unknown"

    def ttft_cell(o: Any) -> str:
        return api_latency(o, "ttft") or sec(o.performance.ttft_p95_s)

    def tpot_cell(o: Any) -> str:
        return api_latency(o, "tpot") or sec(o.performance.tpot_p95_s)

    labels = {o.id: o.label for o in plan.options}

    def cash_by_year(o: Any, y: int) -> Any:
        return next((c for c in o.cash_flows if c.year == y), None)

    def duration(days: Any) -> str:
        if not isinstance(days, (int, float)) or not math.isfinite(days):
            return "–"
        return f"{days:.3g} days" if days >= 1 else f"{days * 24:.3g} h"

    def rate(v: Any) -> str:
        return _num(v) if isinstance(v, (int, float)) and math.isfinite(v) else "–"

    return {"money": money, "sec": sec, "ttft_cell": ttft_cell, "tpot_cell": tpot_cell, "pct": pct, "rate": rate, "duration": duration, "per_user": tokens_per_s_per_user, "per_gpu": tokens_per_s_per_gpu, "cite": cite, "label": lambda i: labels.get(i, i), "cash_by_year": cash_by_year}


def training_rows(plan: Any, allowed: list[Any]) -> list[dict[str, Any]]:
    """Each training job under each allowed option (the recommended one first): GPUs, days per run,
    runs, GPU-hours, energy and yearly cost with its basis."""
    best = plan.best
    ordered = ([best] if best is not None and best.allowed else []) + [o for o in allowed if best is None or o.id != best.id]
    return [{"option": o, "job": c} for o in ordered for c in o.performance.components if c.kind == "training"]


def plan_context(plan: Any, charts: bool = True, max_options: int = MAX_TABLE_OPTIONS) -> dict[str, Any]:
    """Everything the plan templates need (shared by the report and the web app's plan page)."""
    plan = as_plan(plan)
    ranked = sorted(plan.options, key=lambda o: (not o.allowed, o.id != plan.recommended, o.rank if o.rank is not None else 10**9, o.npv if o.npv is not None else math.inf))
    options = ranked[:max_options]
    cash_options = [o for o in ranked if o.allowed and o.cash_flows][:12]
    years = sorted({c.year for o in cash_options for c in o.cash_flows})
    assumptions = list(plan.assumptions)
    seen = {a.name for a in assumptions}
    best = plan.best
    if best is not None:
        for a in best.assumptions:
            if a.name not in seen:
                assumptions.append(a)
                seen.add(a.name)
    sources, sseen = [], set()
    for s in list(plan.sources) + [s for o in options for s in o.sources]:
        key = (s.table, s.id)
        if key not in sseen:
            sseen.add(key)
            sources.append(s)
    # policy: every distinct exclusion reason and obligation once, options pointing at them
    reasons: list[str] = []
    obligations: list[Any] = []
    verdicts = []
    for o in options:
        r_idx, o_idx = [], []
        for r in o.excluded_because:
            if r not in reasons:
                reasons.append(r)
            r_idx.append(reasons.index(r) + 1)
        for ob in o.obligations:
            key = next((i for i, x in enumerate(obligations) if (x["ob"].id, x["ob"].text) == (ob.id, ob.text)), None)
            if key is None:
                obligations.append({"ob": ob, "options": []})
                key = len(obligations) - 1
            obligations[key]["options"].append(o.id)
            o_idx.append(key + 1)
        verdicts.append({"option": o, "reasons": r_idx, "obligations": o_idx})
    results = chart_results(plan) if charts else []
    return {
        "training_rows": training_rows(plan, cash_options),
        "plan": plan,
        "best": best,
        "unit_cols": [k for k, _ in UNIT_COLUMNS if any(getattr(o.unit_costs, k) is not None for o in options)] or ["per_million_tokens"],
        "unit_names": dict(UNIT_COLUMNS),
        "verdicts": verdicts,
        "reasons": reasons,
        "obligations": obligations,
        "options": options,
        "omitted": max(0, len(ranked) - len(options)),
        "cash_options": cash_options,
        "years": years,
        "assumptions": assumptions,
        "sources": sources,
        "charts": [c for c in results if isinstance(c, Chart)],
        "hidden_charts": [c for c in results if not isinstance(c, Chart)],
        "question": question(plan),
        "reasons_shown": shown_reasons(plan),
        "held_out": [b.sentence() for b in best.performance.held_out_bias] if best is not None else [],
        "drivers": driver_sentences(plan),
        "why_excluded": {o.id: exclusion_summary(o) for o in options if not o.allowed},
        "choice": sum(1 for o in plan.options if o.allowed) > 1,
        **template_helpers(plan),
    }


@lru_cache(maxsize=1)
def _env() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(plan: Any, *, for_pdf: bool = False) -> str:
    """The report as one self-contained HTML document."""
    ctx = plan_context(plan, max_options=MAX_PDF_OPTIONS if for_pdf else MAX_TABLE_OPTIONS)
    ctx["css"] = Markup(report_css())
    ctx["for_pdf"] = for_pdf
    ctx["generated"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return _env().get_template("report.html.j2").render(**ctx)
