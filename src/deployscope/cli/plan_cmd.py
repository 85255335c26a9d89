"""`deployscope plan`, `deployscope scenario init` and `deployscope scenario validate`: the main job.

A scenario file in; ranked, explained, costed options out (terminal summary, JSON, or a report
file). Heavy modules (planner, physics, economics, report) are imported inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import DeployscopeError
from ..paths import write_atomic
from .output import console, to_json

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


def render_plan(p: Any, max_rows: int = 15) -> None:
    """The terminal view: recommendation and why, options, exclusions, warnings."""
    from rich.panel import Panel
    from rich.table import Table

    c = console()
    if not c.is_terminal:
        c.width = max(c.width, 140)
    cur = p.currency
    r = p.rationale
    lines = [f"[bold]{r.summary}[/bold]"]
    lines += [f"• {x}" for x in r.reasons]
    if r.what_would_change:
        lines.append("")
        lines.append("[bold]What would change the answer[/bold]")
        lines += [f"• {x}" for x in r.what_would_change]
    title = f"{p.scenario_name}: recommended {p.recommended or '(none)'}"
    c.print(Panel("\n".join(lines), title=title, title_align="left"))

    t = Table(title=f"Options ({cur}, {p.horizon_years} years, discount rate {p.discount_rate:.1%})", title_justify="left")
    allowed = [o for o in p.options if o.allowed]
    units = [(k, label) for k, label in (("per_million_tokens", "/1M tok"), ("per_image", "/image"), ("per_item", "/item"))
             if any(getattr(o.unit_costs, k) is not None for o in allowed)]
    cols = [("#", "right"), ("option", "left"), ("placement", "left"), ("NPV", "right"), ("total", "right")]
    cols += [(label, "right") for _, label in units] + [("GPUs", "right"), ("format", "left"), ("latency s", "right")]
    for col, just in cols:
        t.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
    for o in allowed[:max_rows]:
        star = "★ " if o.id == p.recommended else ""
        perf = o.performance
        t.add_row(
            str(o.rank or ""), f"{star}{o.id}" + (" (frontier)" if o.frontier else ""), o.placement_detail,
            _money(o.npv, cur), _money(o.total_cost, cur), *[_small(getattr(o.unit_costs, k)) for k, _ in units],
            str(perf.gpus) if perf.gpus else "-", perf.quant or "-",
            f"{perf.ttft_p95_s:.2f} TTFT" if perf.ttft_p95_s else (f"{perf.image_latency_s:.1f} image" if perf.image_latency_s else "-"),
        )
    if len(allowed) > max_rows:
        t.caption = f"{len(allowed) - max_rows} more allowed option(s) in --json"
    c.print(t)

    excluded = [o for o in p.options if not o.allowed]
    if excluded:
        e = Table(title="Excluded options", title_justify="left")
        e.add_column("option")
        e.add_column("placement")
        e.add_column("why")
        for o in excluded[:max_rows]:
            why = _first_sentence(o.excluded_because[0]) if o.excluded_because else "excluded"
            if len(o.excluded_because) > 1:
                why += f" (+{len(o.excluded_because) - 1} more)"
            e.add_row(o.id, o.placement_detail, why)
        if len(excluded) > max_rows:
            e.caption = f"{len(excluded) - max_rows} more excluded option(s) in --json"
        c.print(e)
    best = p.best
    if best is not None and best.obligations:
        c.print("[bold]Obligations for the recommended option[/bold]")
        for ob in best.obligations[:8]:
            c.print(f"• {ob.text}" + (f" [{ob.citation}]" if ob.citation else ""), markup=False)
    if p.monte_carlo is not None:
        m = next((x for x in p.monte_carlo.ranges if x.option_id == p.recommended), None)
        if m is not None:
            c.print(f"NPV range of the recommendation (Monte Carlo, {p.monte_carlo.samples} draws): "
                    f"P10 {_money(m.p10, cur)} · P50 {_money(m.p50, cur)} · P90 {_money(m.p90, cur)} {cur}")
    for w in p.warnings[:6]:
        c.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    c.print(f"[dim]{p.candidates_evaluated} candidates evaluated in {p.elapsed_s or 0:.2f} s[/dim]")


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
