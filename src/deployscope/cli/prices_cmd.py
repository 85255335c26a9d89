"""`deployscope prices`: list the cloud and API price catalogs with their age, and import a
SkyPilot or LiteLLM price snapshot from disk into the user catalog (offline)."""

from __future__ import annotations

import os
from datetime import date
from typing import Any, Optional

import typer

from ..errors import DeployscopeError
from .output import console, emit

prices_app = typer.Typer(help="Cloud GPU and hosted-API prices: list them (with age) or import a snapshot.", no_args_is_help=True)


def _row(r: Any, today: date, stale_days: int) -> dict[str, Any]:
    d = r.model_dump(mode="json")
    d["age_days"] = r.age_days(today)  # from the publication date, else from the date the row was read
    d["price_date_known"] = r.price_as_of is not None
    d["stale"] = r.is_stale(stale_days, today)
    return d


def _age(r: dict[str, Any]) -> str:
    """Age column: days since the price was published; '?' marks a row whose publication date is
    unknown (the age is then since it was read, a lower bound)."""
    return f"{r['age_days']}" + ("" if r["price_date_known"] else "+ ?") + (" STALE" if r["stale"] else "")


@prices_app.command("list")
def list_prices(
    cloud: bool = typer.Option(False, "--cloud", help="Only cloud GPU instances."),
    api: bool = typer.Option(False, "--api", help="Only hosted-API prices."),
    provider: Optional[str] = typer.Option(None, "--provider", help="Only this provider."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Price rows with their age in days since the price was published ("+ ?" where that date is
    unknown: the age since the row was read); rows older than prices.stale_after_days are flagged."""
    from ..catalog import default_catalog
    from ..catalog.prices import stale_after_days

    cat = default_catalog()
    days = stale_after_days(cat)
    today = date.today()
    show_cloud = cloud or not api
    show_api = api or not cloud
    data: dict[str, Any] = {"stale_after_days": days}
    if show_cloud:
        data["cloud_instances"] = [
            _row(r, today, days) for r in cat.cloud_instances if provider is None or r.provider == provider
        ]
    if show_api:
        data["api_prices"] = [_row(r, today, days) for r in cat.api_prices if provider is None or r.provider == provider]

    def render(d: dict[str, Any]) -> None:
        from rich.table import Table

        c = console()

        def money(x: Any) -> str:
            return "-" if x is None else f"{x:,.4g}"

        if "cloud_instances" in d:
            t = Table(title=f"Cloud GPU instances (USD per instance-hour; stale after {days} days)")
            for col in ("id", "GPUs", "on-demand", "1y", "3y", "spot", "jurisdiction/region", "age (d)"):
                t.add_column(col)
            for r in d["cloud_instances"]:
                t.add_row(
                    r["id"],
                    f"{r['gpu_count']}x {r['gpu_id']}",
                    money(r["price_usd_per_hour"]),
                    money(r["price_1y_usd_per_hour"]),
                    money(r["price_3y_usd_per_hour"]),
                    money(r["spot_usd_per_hour"]),
                    f"{r['jurisdiction']}/{r['data_region']}",
                    _age(r),
                )
            c.print(t)
        if "api_prices" in d:
            t = Table(title=f"Hosted-API prices (USD per 1M tokens in/out, or per image; stale after {days} days)")
            for col in ("id", "model", "in", "out", "image", "kind", "jurisdiction/region", "age (d)"):
                t.add_column(col)
            for r in d["api_prices"]:
                kind = "frontier" if r["frontier"] else ("open-weight" if r["open_weight"] else "")
                t.add_row(
                    r["id"],
                    r["model"],
                    money(r["input_usd_per_million_tokens"]),
                    money(r["output_usd_per_million_tokens"]),
                    money(r["usd_per_image"]),
                    kind,
                    f"{r['jurisdiction']}/{r['data_region']}",
                    _age(r),
                )
            c.print(t)

    emit(data, as_json, render)


@prices_app.command("import")
def import_cmd(
    file: str = typer.Argument(..., metavar="FILE", help="SkyPilot vms.csv or LiteLLM model_prices_and_context_window.json on disk."),
    kind: Optional[str] = typer.Option(None, "--kind", help="skypilot | litellm (default: from the file extension)."),
    catalog: Optional[str] = typer.Option(
        None, "--catalog", metavar="DIR", help="User catalog directory to write into (default: $DEPLOYSCOPE_CATALOG)."
    ),
    provider: Optional[str] = typer.Option(None, "--provider", help="Cloud name for a SkyPilot CSV (default: its folder name)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="Date of the prices (default: the file's date)."),
    match: Optional[str] = typer.Option(None, "--match", help="LiteLLM: only keys containing this text."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Import a price snapshot into the user catalog, atomically, keeping rows already there."""
    from ..catalog.price_import import import_prices

    target = catalog or os.environ.get("DEPLOYSCOPE_CATALOG")
    if not target:
        raise DeployscopeError(
            "say where to write the prices: --catalog DIR (or set DEPLOYSCOPE_CATALOG); the bundled catalog is never written",
            field="catalog",
            value=None,
        )
    day = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise DeployscopeError("not a date", field="as_of", value=as_of, allowed="YYYY-MM-DD") from None
    summary = import_prices(file, target, kind=kind, provider=provider, as_of=day, match=match)

    def render(s: dict[str, Any]) -> None:
        console().print(
            f"imported {s['added'] + s['updated']} rows ({s['added']} new, {s['updated']} replaced, {s['kept']} kept) "
            f"from {s['file']} into {s['target']} (as of {s['as_of']})"
        )
        skipped = {k: v for k, v in s["parsed"].items() if k.startswith("skipped")}
        if skipped:
            console().print("skipped: " + ", ".join(f"{k}: {v}" for k, v in skipped.items()))
        for k, v in s["parsed"].items():
            if k != "rows" and k not in skipped:
                console().print(f"note: {v} row(s) {k}")

    emit(summary, as_json, render)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.add_typer(prices_app, name="prices")
