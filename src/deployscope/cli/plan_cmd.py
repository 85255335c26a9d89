"""`deployscope plan`, `deployscope scenario init` and `deployscope scenario validate`: the main job.

A scenario file in; ranked, explained, costed options out (terminal summary, JSON, or a report
file). Heavy modules (planner, physics, economics, report) are imported inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from ..errors import DeployscopeError
from ..paths import check_file_name, write_atomic
from .output import EXIT_NO_ANSWER, console, plain_output, to_json, tsv_row

scenario_app = typer.Typer(help="Write and check scenario files.", no_args_is_help=True)

REPORT_FORMATS = (".html", ".htm", ".md", ".markdown", ".json", ".pdf", ".csv", ".xlsx")


def write_report(plan: Any, path: Path) -> None:
    """Render the plan to `path` in the format its extension names (via deployscope.report)."""
    ext = path.suffix.lower()
    if ext not in REPORT_FORMATS:
        raise DeployscopeError(
            f"unknown report format {ext or '(no extension)'!r}", field="--report", value=str(path), allowed=REPORT_FORMATS
        )
    try:
        from ..report import render_report
    except ImportError:
        render_report = None  # type: ignore[assignment]
    if render_report is not None:
        render_report(plan, path)
        return
    if ext != ".json":
        raise DeployscopeError(
            f"this installation cannot write {ext} reports (deployscope.report is missing); use .json",
            field="--report", value=str(path), allowed=".json",
        )
    write_atomic(path, (plan.to_json() + "\n").encode("utf-8"))


def plan(
    scenario: Path = typer.Argument(..., help="Scenario YAML file (`deployscope scenario init` writes a template).", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the whole plan as JSON."),
    report: Optional[Path] = typer.Option(
        None, "--report", metavar="FILE", help="Also write a report: .html, .md, .json, .pdf, .csv or .xlsx (by extension)."
    ),
    save: bool = typer.Option(False, "--save", help="Also save the scenario and the plan in the store (see `deployscope scenarios`)."),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="ADDRESS", help="Run the Monte Carlo on a Ray cluster: 'auto' or HOST:PORT (same figures as locally)."),
    calibration: Optional[str] = typer.Option(
        None, "--calibration", metavar="NAME", help="Calibration profile from `deployscope calibrate` for the serving model."
    ),
) -> None:
    """Plan a scenario: ranked on-prem / cloud / API / hybrid options with cost, compliance and why."""
    if report is not None and report.suffix.lower() not in REPORT_FORMATS:
        raise DeployscopeError(
            f"unknown report format {report.suffix or '(no extension)'!r}", field="--report", value=str(report), allowed=REPORT_FORMATS
        )
    if report is not None:
        check_file_name(report, field="--report")  # before the planning, not after it
    from ..planner import plan as make_plan

    planned: Any = scenario
    if calibration:
        from ..physics.calibration import load_calibration
        from ..scenario import load_scenario

        load_calibration(calibration)  # an unknown name fails here, naming the profiles there are
        loaded = load_scenario(scenario)
        planned = loaded.model_copy(update={"candidates": loaded.candidates.model_copy(update={"calibration": calibration})})
    if ray:
        from .. import parallel

        with parallel.get_executor(ray_address=ray) as ex, parallel.using(ex):
            result = make_plan(planned)
    else:
        result = make_plan(planned)
    if report is not None:
        write_report(result, report)
    if save:
        from ..store import Store

        store = Store()
        from ..safe_yaml import decode

        sid = store.save_scenario(result.scenario_name, decode(scenario.read_bytes(), source=str(scenario)))  # UTF-16 too
        pid = store.save_plan(sid, result)
        sys.stderr.write(f"saved scenario {sid} {result.scenario_name!r} and plan {pid} in {store.display_url}\n")
    if as_json:
        sys.stdout.write(to_json(result.model_dump(mode="json")) + "\n")
    else:
        render_plan(result)
        if report is not None:
            sys.stdout.write(f"report written to {report}\n")
    if result.recommended is None:  # the same in every output mode (docs/cli.md)
        sys.stderr.write("no option is allowed: every candidate was excluded (the reasons are in the plan)\n")
        raise SystemExit(EXIT_NO_ANSWER)


def _money(v: float | None, cur: str) -> str:
    if v is None:
        return "-"
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.2f} M"
    if abs(v) >= 1e3:
        return f"{v / 1e3:,.1f} k"
    return f"{v:,.2f}"


def _small(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.4f}" if abs(v) < 1 else f"{v:,.2f}"


def _first_sentence(text: str, limit: int = 140) -> str:
    cut = text.split(". ")[0]
    cite = text[text.rfind(" ["):] if text.endswith("]") and " [" in text else ""
    out = cut if cut.endswith(".") or cut == text else cut + "."
    if cite and cite not in out:
        out += cite
    return out if len(out) <= limit + len(cite) else out[:limit] + "…"


def _per_user(o: Any) -> float | None:
    t = o.performance.tpot_p95_s
    return 1.0 / t if t else None


def _per_gpu(o: Any) -> float | None:
    p = o.performance
    return p.output_tokens_per_s / p.gpus if p.output_tokens_per_s and p.gpus else None


def _rate(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _latency(o: Any) -> str:
    perf = o.performance
    if perf.ttft_p95_s:
        return f"{perf.ttft_p95_s:.2f} TTFT"
    if o.placement == "api" and perf.latency_note:  # a hosted API: its published figure, or none on record
        if perf.ttft_at_prompt_s is not None:
            return f"{perf.ttft_at_prompt_s:.2f} TTFT (published {perf.published_ttft_s:.2f} + prompt)"
        return f"{perf.published_ttft_s:.2f} TTFT (published)" if perf.published_ttft_s is not None else "unknown"
    if perf.image_latency_s:
        return f"{perf.image_latency_s:.1f} image"
    return "-"


def _unit_columns(p: Any) -> list[tuple[str, str]]:
    allowed = [o for o in p.options if o.allowed]
    return [(k, label) for k, label in (("per_million_tokens", "/1M tok"), ("per_image", "/image"), ("per_item", "/item"))
            if any(getattr(o.unit_costs, k) is not None for o in allowed)]


def cost_drivers(p: Any) -> list[str]:
    from ..report.case import driver_sentences

    return driver_sentences(p)


def shown_reasons(p: Any) -> list[str]:
    from ..report.case import shown_reasons as reasons

    return reasons(p)


def render_plan(p: Any, max_rows: int = 15) -> None:
    """The terminal view: recommendation and why, options, exclusions, warnings. Piped (not a
    terminal), the same content comes as plain text with tab-separated tables, nothing cut."""
    if plain_output():
        render_plan_plain(p)
        return
    from rich import box
    from rich.panel import Panel
    from rich.table import Table

    c = console()
    narrow = c.width < 140  # below this, the columns that matter most only
    cur = p.currency
    r = p.rationale
    lines = [f"[bold]{escape(r.summary)}[/bold]"]
    lines += [f"• {escape(x)}" for x in shown_reasons(p)]
    best = p.best
    if best is not None and (_per_user(best) or _per_gpu(best)):
        lines.append(f"• Speed: {_rate(_per_user(best))} tokens/s per user (1 / TPOT p95), "
                     f"{_rate(_per_gpu(best))} tokens/s per GPU (installed capacity).")
    drivers = cost_drivers(p)
    if drivers:
        lines.append("")
        lines.append("[bold]What the cost rests on[/bold]")
        lines += [f"• {escape(x)}" for x in drivers]
    if r.what_would_change:
        lines.append("")
        lines.append("[bold]What would change the answer[/bold]")
        lines += [f"• {escape(x)}" for x in r.what_would_change]
    title = f"{escape(p.scenario_name)}: recommended {escape(p.recommended or '(none)')}"
    c.print(Panel("\n".join(lines), title=title, title_align="left"))

    t = Table(title=f"Options ({cur}, {p.horizon_years} years, discount rate {p.discount_rate:.1%})", title_justify="left",
              box=box.SIMPLE_HEAD, pad_edge=False)
    allowed = [o for o in p.options if o.allowed]
    units = _unit_columns(p)
    id_width = min(max((len(o.id) for o in allowed[:max_rows]), default=10) + 2, 30 if narrow else 36)
    t.add_column("#", justify="right")
    t.add_column("option", min_width=id_width, overflow="fold", ratio=None)
    if not narrow:
        t.add_column("placement", overflow="fold")
    t.add_column("NPV", justify="right", no_wrap=True)
    if not narrow:
        t.add_column("total", justify="right", no_wrap=True)
    for _, label in units[: 1 if narrow else 3]:
        t.add_column(label, justify="right", no_wrap=True)
    t.add_column("GPUs", justify="right", no_wrap=True)
    if not narrow:
        t.add_column("format", no_wrap=True)
        t.add_column("tok/s/user", justify="right", no_wrap=True)
        t.add_column("tok/s/GPU", justify="right", no_wrap=True)
    t.add_column("latency s", justify="right", no_wrap=True)
    for o in allowed[:max_rows]:
        star = "★ " if o.id == p.recommended else ""
        perf = o.performance
        row = [str(o.rank or ""), f"{star}{o.id}" + (" (frontier)" if o.frontier and not narrow else "")]
        if not narrow:
            row.append(o.placement_detail)
        row.append(_money(o.npv, cur))
        if not narrow:
            row.append(_money(o.total_cost, cur))
        row += [_small(getattr(o.unit_costs, k)) for k, _ in units[: 1 if narrow else 3]]
        row.append(str(perf.gpus) if perf.gpus else "-")
        if not narrow:
            row += [perf.quant or "-", _rate(_per_user(o)), _rate(_per_gpu(o))]
        row.append(_latency(o))
        t.add_row(*row)
    if len(allowed) > max_rows:
        t.caption = f"{len(allowed) - max_rows} more allowed option(s) in --json"
    c.print(t)

    excluded = [o for o in p.options if not o.allowed]
    if excluded:
        e = Table(title="Excluded options", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        e.add_column("option", min_width=min(max(len(o.id) for o in excluded[:max_rows]) + 1, 24 if narrow else 44), overflow="fold")
        if not narrow:
            e.add_column("placement")
        e.add_column("why", overflow="fold")
        for o in excluded[:max_rows]:
            why = _first_sentence(o.excluded_because[0]) if o.excluded_because else "excluded"
            if len(o.excluded_because) > 1:
                why += f" (+{len(o.excluded_because) - 1} more)"
            e.add_row(o.id, *([] if narrow else [o.placement_detail]), escape(why))
        if len(excluded) > max_rows:
            e.caption = f"{len(excluded) - max_rows} more excluded option(s) in --json"
        c.print(e)
    _render_training(c, p, allowed)
    if best is not None and best.obligations:
        c.print("[bold]Obligations for the recommended option[/bold]")
        for ob in best.obligations[:8]:
            c.print(f"• {ob.text}" + (f" [{ob.citation}]" if ob.citation else ""), markup=False)
    mc_line = _monte_carlo_line(p)
    if mc_line:
        c.print(mc_line, markup=False)
    for w in p.warnings[:6]:
        c.print(f"[yellow]warning:[/yellow] {escape(w)}", highlight=False)
    c.print(f"[dim]{p.candidates_evaluated} candidates evaluated in {p.elapsed_s or 0:.2f} s[/dim]")


def _training_jobs(p: Any, allowed: list[Any]) -> tuple[Any, list[Any]]:
    """The training jobs (LLM and image models) of the recommended option, or of the best one that runs them."""

    def jobs(o: Any) -> list[Any]:
        return [c for c in (o.performance.components or []) if c.kind == "training"]

    opt = next((o for o in allowed if o.id == p.recommended and jobs(o)), None) or next((o for o in allowed if jobs(o)), None)
    return opt, (jobs(opt) if opt is not None else [])


def _render_training(c: Any, p: Any, allowed: list[Any]) -> None:
    """The training jobs table of the terminal view."""
    from rich.table import Table

    opt, jobs = _training_jobs(p, allowed)
    if opt is None:
        return
    t = Table(title=f"Training jobs on {opt.id} (their cost is inside its NPV)", title_justify="left")
    for col, just in (("job", "left"), ("GPUs", "right"), ("per run", "right"), ("runs/yr", "right"), ("GPU-h/yr", "right"),
                      ("kWh/yr", "right"), (f"{p.currency}/yr", "right")):
        t.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for j in jobs:
        t.add_row(j.workload, f"{j.gpus or '-'} x {j.gpu or '-'}", _duration(j.days_per_run), _count(j.runs_per_year),
                  _count(j.gpu_hours_per_year), _count(j.energy_kwh_per_year), _count(j.cost_per_year))
    c.print(t)
    bases = sorted({j.cost_basis for j in jobs if j.cost_basis})
    if bases:
        c.print("cost basis: " + "; ".join(bases), style="dim")


def _duration(days: float | None) -> str:
    if days is None:
        return "-"
    return f"{days:.3g} days" if days >= 1 else f"{days * 24:.3g} h"


def _count(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}" if v >= 10 else f"{v:.3g}"


def _monte_carlo_line(p: Any) -> str | None:
    """The Monte Carlo range of the recommendation, when there is a choice for it to inform."""
    if p.monte_carlo is None or sum(1 for o in p.options if o.allowed) < 2:
        return None
    m = next((x for x in p.monte_carlo.ranges if x.option_id == p.recommended), None)
    if m is None:
        return None
    cur = p.currency
    return (f"NPV range of the recommendation (Monte Carlo, {p.monte_carlo.samples} draws): "
            f"P10 {_money(m.p10, cur)} · P50 {_money(m.p50, cur)} · P90 {_money(m.p90, cur)} {cur}")


def render_plan_plain(p: Any) -> None:
    """The terminal view for a pipe: plain text, tables as tab-separated values with a header
    row, every option and every reason in full."""
    out = sys.stdout.write
    r = p.rationale
    out(f"{p.scenario_name}: recommended {p.recommended or '(none)'}\n{r.summary}\n")
    for x in shown_reasons(p):
        out(f"- {x}\n")
    drivers = cost_drivers(p)
    if drivers:
        out("What the cost rests on\n")
        for x in drivers:
            out(f"- {x}\n")
    if r.what_would_change:
        out("What would change the answer\n")
        for x in r.what_would_change:
            out(f"- {x}\n")
    units = _unit_columns(p)
    out(f"\nOptions ({p.currency}, {p.horizon_years} years, discount rate {p.discount_rate:.1%})\n")
    out(tsv_row(["rank", "option", "placement", "npv", "total_cost", *[k for k, _ in units], "gpus", "format",
                 "ttft_p95_s", "tpot_p95_s", "image_latency_s", "tokens_per_s_per_user", "tokens_per_s_per_gpu", "frontier", "api_latency", "api_ttft_at_prompt_s"]))
    for o in p.options:
        if not o.allowed:
            continue
        perf = o.performance
        out(tsv_row([o.rank, o.id, o.placement_detail, _fixed(o.npv), _fixed(o.total_cost),
                     *[_fixed(getattr(o.unit_costs, k), 6) for k, _ in units], perf.gpus, perf.quant,
                     _fixed(perf.ttft_p95_s, 4), _fixed(perf.tpot_p95_s, 4), _fixed(perf.image_latency_s, 3),
                     _fixed(_per_user(o), 1), _fixed(_per_gpu(o), 1), "yes" if o.frontier else "no",
                     perf.latency_note or "", _fixed(perf.ttft_at_prompt_s, 4)]))
    excluded = [o for o in p.options if not o.allowed]
    if excluded:
        out("\nExcluded options\n")
        out(tsv_row(["option", "placement", "why"]))
        for o in excluded:
            out(tsv_row([o.id, o.placement_detail, " | ".join(o.excluded_because) or "excluded"]))
    opt, jobs = _training_jobs(p, [o for o in p.options if o.allowed])
    if opt is not None:
        out(f"\nTraining jobs on {opt.id}\n")
        out(tsv_row(["job", "model", "gpu", "gpus", "days_per_run", "runs_per_year", "gpu_hours_per_year", "energy_kwh_per_year",
                     "cost_per_year", "cost_basis"]))
        for j in jobs:
            out(tsv_row([j.workload, j.model, j.gpu, j.gpus, _fixed(j.days_per_run, 4), _fixed(j.runs_per_year, 2),
                         _fixed(j.gpu_hours_per_year, 1), _fixed(j.energy_kwh_per_year, 1), _fixed(j.cost_per_year, 2), j.cost_basis]))
    best = p.best
    if best is not None and best.obligations:
        out("\nObligations for the recommended option\n")
        for ob in best.obligations:
            out(f"- {ob.text}" + (f" [{ob.citation}]" if ob.citation else "") + "\n")
    mc_line = _monte_carlo_line(p)
    if mc_line:
        out(mc_line + "\n")
    for w in p.warnings:
        out(f"warning: {w}\n")
    out(f"{p.candidates_evaluated} candidates evaluated in {p.elapsed_s or 0:.2f} s\n")


def _fixed(v: float | None, digits: int = 2) -> str:
    return "" if v is None else f"{v:.{digits}f}"


@scenario_app.command("init")
def scenario_init(
    file: Optional[Path] = typer.Argument(None, help="Where to write the template (default: print it)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented scenario template."""
    from ..scenario import template

    text = template()
    if file is None:
        sys.stdout.write(text)
        return
    if file.exists() and not force:
        raise DeployscopeError(f"{file} exists; pass --force to overwrite it", field="FILE", value=str(file))
    write_atomic(file, text.encode("utf-8"))
    sys.stdout.write(f"wrote {file}; edit it, then run: deployscope plan {file}\n")


@scenario_app.command("validate")
def scenario_validate(
    file: Path = typer.Argument(..., help="Scenario YAML file."),
    as_json: bool = typer.Option(False, "--json", help="Print the validated scenario (defaults filled in) as JSON."),
) -> None:
    """Check a scenario file: every error names the field path, the value and what is allowed."""
    from ..catalog import default_catalog
    from ..references import check_references
    from ..scenario import load_scenario

    scn = load_scenario(file)
    check_references(scn, default_catalog())  # every name the plan would look up: models, GPUs, APIs, profiles...
    if as_json:
        sys.stdout.write(to_json(scn.model_dump(mode="json")) + "\n")
    else:
        n = len(scn.workloads) + len(scn.training) + len(scn.pipelines)
        sys.stdout.write(f"{file}: valid scenario {scn.name!r} ({n} workload(s), {scn.horizon_years}-year horizon)\n")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command("plan")(plan)
    app.add_typer(scenario_app, name="scenario")
