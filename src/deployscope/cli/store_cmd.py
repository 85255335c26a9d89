"""`deployscope scenarios ...` and `deployscope plans ...`: the saved workspace (see docs/store.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import DeployscopeError

scenarios_app = typer.Typer(
    name="scenarios",
    help="Saved scenarios: list, show, add, rm. The store is SQLite in your data directory, or $DEPLOYSCOPE_DATABASE_URL.",
    no_args_is_help=True,
)
plans_app = typer.Typer(name="plans", help="Saved plans: list, show, report.", no_args_is_help=True)

_DB = typer.Option(None, "--db", metavar="URL", help="Database URL or SQLite file (default: $DEPLOYSCOPE_DATABASE_URL, else the user data directory).")


def _store(db: str | None):
    from ..store import Store

    return Store(db)


@scenarios_app.command("list")
def scenarios_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    db: Optional[str] = _DB,
) -> None:
    """List saved scenarios, newest first."""
    from .output import console, emit, print_table

    store = _store(db)
    rows = store.list_scenarios()
    counts: dict[int, int] = {}
    for p in store.list_plans(limit=100_000):
        if p.scenario_id is not None:
            counts[p.scenario_id] = counts.get(p.scenario_id, 0) + 1
    data = [{"id": r.id, "name": r.name, "plans": counts.get(r.id, 0), "updated_at": r.updated_at} for r in rows]

    def render(items):
        from rich.table import Table
        from rich.text import Text

        if not items:
            console().print(f"no saved scenarios in {store.display_url}")
            return
        t = Table("id", "name", "plans", "updated (UTC)")
        for it in items:
            t.add_row(str(it["id"]), Text(it["name"]), str(it["plans"]), it["updated_at"][:19].replace("T", " "))
        print_table(t)

    emit(data, as_json, render)


@scenarios_app.command("show")
def scenarios_show(
    name: str = typer.Argument(..., help="Scenario name or id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (the YAML text and its plans)."),
    db: Optional[str] = _DB,
) -> None:
    """Print a saved scenario's YAML and list its plans."""
    from .output import console, emit

    store = _store(db)
    rec = store.get_scenario(name)
    plans = store.list_plans(rec.id)
    data = {**rec.to_dict(), "plans": [p.to_dict() for p in plans]}

    def render(d):
        import sys

        from rich.markup import escape

        sys.stdout.write(d["yaml"] if d["yaml"].endswith("\n") else d["yaml"] + "\n")
        c = console()
        c.print(f"[dim]# scenario {d['id']} {escape(repr(d['name']))}, updated {d['updated_at'][:19]} UTC[/dim]", highlight=False)
        for p in d["plans"]:
            c.print(f"[dim]# plan {p['id']} ({p['created_at'][:19]} UTC): recommended {escape(str(p['recommended']))}[/dim]", highlight=False)

    emit(data, as_json, render)


@scenarios_app.command("add")
def scenarios_add(
    file: Path = typer.Argument(..., help="Scenario YAML file."),
    name: Optional[str] = typer.Option(None, "--name", help="Name to save under (default: the scenario's own name)."),
    db: Optional[str] = _DB,
) -> None:
    """Validate a scenario file and save it (a saved scenario of the same name is replaced)."""
    from ..scenario import load_scenario

    if not file.is_file():
        raise DeployscopeError(f"no such scenario file: {str(file)!r}", field="FILE", value=str(file))
    scenario = load_scenario(file)
    from ..safe_yaml import decode

    text = decode(file.read_bytes(), source=str(file))  # the same decoding the scenario was validated with
    sid = _store(db).save_scenario(name or scenario.name, text)
    typer.echo(f"saved scenario {sid} {name or scenario.name!r}")


@scenarios_app.command("rm")
def scenarios_rm(
    name: str = typer.Argument(..., help="Scenario name or id."),
    db: Optional[str] = _DB,
) -> None:
    """Delete a saved scenario and its plans."""
    store = _store(db)
    rec = store.get_scenario(name)
    n = store.delete_scenario(rec.id)
    typer.echo(f"deleted scenario {rec.id} {rec.name!r} and {n} plan(s)")


@plans_app.command("list")
def plans_list(
    scenario: Optional[str] = typer.Option(None, "--scenario", help="Only this scenario's plans (name or id)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    db: Optional[str] = _DB,
) -> None:
    """List saved plans, newest first."""
    from .output import emit, print_table

    rows = [p.to_dict() for p in _store(db).list_plans(scenario)]

    def render(items):
        from rich.table import Table
        from rich.text import Text

        t = Table("id", "scenario", "recommended", "created (UTC)")
        for it in items:
            t.add_row(str(it["id"]), Text(str(it["scenario_name"])), Text(str(it["recommended"])), it["created_at"][:19].replace("T", " "))
        print_table(t)

    emit(rows, as_json, render)


@plans_app.command("show")
def plans_show(plan_id: int = typer.Argument(..., help="Plan id."), db: Optional[str] = _DB) -> None:
    """Print a saved plan as JSON."""
    import sys

    sys.stdout.write(_store(db).get_plan(plan_id).plan_json + "\n")


@plans_app.command("report")
def plans_report(
    plan_id: int = typer.Argument(..., help="Plan id."),
    out: Path = typer.Argument(..., help="Report file: .html, .md, .json, .pdf, .csv or .xlsx."),
    db: Optional[str] = _DB,
) -> None:
    """Write a report of a saved plan; the format follows the file extension."""
    from ..report import render_report

    plan = _store(db).get_plan(plan_id).to_plan()
    path = render_report(plan, out)
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.add_typer(scenarios_app, name="scenarios")
    app.add_typer(plans_app, name="plans")
