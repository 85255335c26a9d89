"""Markdown report: the same sections as the HTML report, charts given as tables."""

from __future__ import annotations

from typing import Any, Iterable

from .charts import money as _money
from .html import as_plan, plan_context


def _cell(v: Any) -> str:
    s = "–" if v is None else str(v)
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    header = list(header)
    out = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out + [""]


def _link(ref: Any) -> str:
    s = str(ref)
    if s.startswith(("https://", "http://")) and not any(c in s for c in " <>()"):
        return f"<{s}>"
    return _cell(s)


def render_markdown(plan: Any) -> str:
    plan = as_plan(plan)
    ctx = plan_context(plan)  # the charts themselves are given as tables below
    cur = plan.currency
    m = lambda v: _money(v, cur, 4) if isinstance(v, (int, float)) else "–"  # noqa: E731
    sec, pct = ctx["sec"], ctx["pct"]
    best = ctx["best"]
    L: list[str] = [f"# Deployscope plan: {_cell(plan.scenario_name)}", ""]
    L.append(
        f"Deployscope {plan.deployscope_version} · {plan.horizon_years}-year horizon · discount rate {pct(plan.discount_rate)} · "
        f"currency {cur} · objective {plan.objective} · {plan.candidates_evaluated} candidates evaluated"
    )
    L.append("")
    L += ["## The question", ""]
    for title, lines in ctx["question"]:
        L += [f"- **{_cell(title)}:** " + " ".join(_cell(x) for x in lines)]
    L += ["", "## The answer", ""]
    if best:
        L += [f"**Recommended:** {_cell(best.label)} (`{best.id}`, {best.placement}, {best.placement_detail}) — "
              f"NPV {m(best.npv)}, total {m(best.total_cost)}", ""]
    else:
        L += ["**No option is allowed** under the scenario's policy facts.", ""]
    L += [_cell(plan.rationale.summary), ""]
    for title, items in (("Why", ctx["reasons_shown"]), ("How far such predictions were off", ctx["held_out"]),
                         ("What the cost rests on", ctx["drivers"]),
                         ("What would change the answer", plan.rationale.what_would_change), ("Warnings", plan.warnings)):
        if items:
            L += [f"### {title}", ""] + [f"- {_cell(i)}" for i in items] + [""]
    if ctx["training_rows"]:
        L += ["## Training jobs", "", "Each job under each allowed option, the recommended one first; energy before PUE.", ""]
        L += _table(
            ["option", "job", "GPUs", "per run", "runs a year", "GPU-hours a year", "energy a year (kWh)", "cost a year", "cost basis"],
            [[r["option"].label, r["job"].workload, f"{r['job'].gpus} × {r['job'].gpu}" if r["job"].gpus else None,
              ctx["duration"](r["job"].days_per_run), ctx["rate"](r["job"].runs_per_year), ctx["rate"](r["job"].gpu_hours_per_year),
              ctx["rate"](r["job"].energy_kwh_per_year), m(r["job"].cost_per_year), r["job"].cost_basis]
             for r in ctx["training_rows"]],
        )
    L += ["## Options", ""]
    L += _table(
        ["#", "option", "id", "placement", "allowed", "NPV", "total", "/1M tok", "/image", "/item", "GPUs", "format", "TTFT p95", "TPOT p95",
         "tok/s per user", "tok/s per GPU", "why excluded"],
        [
            [o.rank, o.label, f"`{o.id}`", f"{o.placement} ({o.placement_detail})", "yes" if o.allowed else "no", m(o.npv), m(o.total_cost),
             m(o.unit_costs.per_million_tokens), m(o.unit_costs.per_image), m(o.unit_costs.per_item),
             f"{o.performance.gpus} × {o.performance.gpu}" if o.performance.gpus else None, o.performance.quant,
             ctx["ttft_cell"](o), ctx["tpot_cell"](o), ctx["rate"](ctx["per_user"](o)), ctx["rate"](ctx["per_gpu"](o)),
             ctx["why_excluded"].get(o.id, "")]
            for o in ctx["options"]
        ],
    )
    L += [f"## Cumulative cost ({cur})", ""]
    years = ctx["years"]
    rows = []
    for o in ctx["cash_options"]:
        total, cells = 0.0, []
        for y in years:
            cf = ctx["cash_by_year"](o, y)
            if cf is not None:
                total += cf.capex + cf.opex
            cells.append(m(total))
        rows.append([o.label, *cells])
    L += _table(["option", *[f"end of year {y}" for y in years]], rows)
    if plan.sensitivity:
        sens = next((s for s in plan.sensitivity if s.option_id == plan.recommended), plan.sensitivity[0])
        L += [f"## Sensitivity of NPV ({_cell(ctx['label'](sens.option_id))}, base {m(sens.base_npv)})", ""]
        L += _table(["input", "low factor", "NPV low", "high factor", "NPV high", "swing"],
                    [[b.input, f"x{b.low_factor:g}", m(b.npv_low), f"x{b.high_factor:g}", m(b.npv_high), m(b.swing)] for b in sorted(sens.bars, key=lambda b: -abs(b.swing))])
    if plan.monte_carlo and plan.monte_carlo.ranges and ctx["choice"]:
        L += [f"## Monte Carlo ({plan.monte_carlo.samples} draws, seed {plan.monte_carlo.seed})", ""]
        L += _table(["option", "P10", "P50", "P90", "best in"], [[ctx["label"](r.option_id), m(r.p10), m(r.p50), m(r.p90), pct(r.prob_best)] for r in plan.monte_carlo.ranges])
    mb = plan.memory_breakdown
    if mb is not None:
        L += [f"## Memory per GPU ({_cell(mb.model)} on {_cell(mb.gpu)}, TP={mb.tp}, PP={mb.pp})", ""]
        L += _table(["part", "GiB", "share"], [[k, f"{v / 2**30:.1f}", f"{v / mb.total_bytes:.0%}" if mb.total_bytes else "–"] for k, v in mb.parts.items()])
    if plan.latency_throughput:
        L += ["## Latency vs throughput (one replica)", ""]
        L += _table(["concurrency", "output tok/s", "TTFT", "TPOT"], [[f"{p.concurrency:g}", f"{p.output_tokens_per_s:,.0f}", sec(p.ttft_s), sec(p.tpot_s)] for p in plan.latency_throughput])
    if ctx["hidden_charts"]:
        L += ["## Charts not shown", ""] + [f"- **{_cell(h.title)}:** {_cell(h.reason)}" for h in ctx["hidden_charts"]] + [""]
    L += ["## Policy verdicts", ""]
    L += _table(["option", "verdict", "excluded because", "obligations"],
                [[v["option"].label, "allowed" if v["option"].allowed else "excluded", ", ".join(f"R{i}" for i in v["reasons"]) or "–",
                  ", ".join(f"O{i}" for i in v["obligations"]) or "–"] for v in ctx["verdicts"]])
    if ctx["reasons"]:
        L += ["### Reasons for exclusion", ""] + [f"- **R{i}** {_cell(r)}" for i, r in enumerate(ctx["reasons"], 1)] + [""]
    if ctx["obligations"]:
        L += ["### Obligations", ""]
        L += [f"- **O{i}** {_cell(x['ob'].text)}" + (f" ({_link(x['ob'].citation)})" if x["ob"].citation else "") + f" — {len(x['options'])} option(s)"
              for i, x in enumerate(ctx["obligations"], 1)] + [""]
    L += ["## Assumptions", ""]
    L += _table(["input", "value", "origin", "source", "as of"], [[f"`{a.name}`", f"{a.value}{' ' + a.unit if a.unit else ''}", a.origin, a.source, a.as_of] for a in ctx["assumptions"]])
    L += ["## Sources", ""]
    L += ["| table | row | source | as of |", "|---|---|---|---|"]
    L += [f"| {_cell(s.table)} | `{_cell(s.id)}`{' **(your catalog)**' if s.user_supplied else ''} | {_link(s.source) if s.source else '–'} | {_cell(s.as_of)} |" for s in ctx["sources"]] + [""]
    L += ["Deployscope is decision support: its compliance verdicts cite their rules but are not legal advice.", ""]
    return "\n".join(L)

