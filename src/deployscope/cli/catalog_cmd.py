"""`deployscope catalog`: browse the catalog tables, show one row with its source, and check the
bundled data plus the user catalog (`--catalog DIR`) for errors."""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Optional
from urllib.parse import urlparse

import typer

from ..errors import CatalogError, DeployscopeError, UnknownName
from .output import console, emit, plain_output, print_table

catalog_app = typer.Typer(
    help="Browse the sourced catalog: GPUs, models, quantization formats, engines, prices, rules.",
    no_args_is_help=True,
)

# Columns worth showing per table, besides id, name and source; missing fields are skipped, so a
# table whose schema grows or changes still renders.
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "models": ("family", "modality", "params_b", "active_params_b", "native_dtype", "license"),
    "quant": ("weight_bits", "weight_dtype", "compute_dtype", "quality_delta", "quality_metric"),
    "engines": ("formats", "devices"),
}
MAX_GENERIC_FIELDS = 6


# ----------------------------------------------------------------------------------------- helpers
def _catalog():
    from ..catalog import default_catalog

    return default_catalog()


def _tables() -> list[str]:
    from ..catalog import table_names

    return table_names()


def _check_table(name: str) -> str:
    names = _tables()
    if name in names:
        return name
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise DeployscopeError(f"unknown catalog table {name!r}{hint}", field="table", value=name, allowed=names)


def row_dict(row: Any) -> dict[str, Any]:
    """A row as JSON-ready data, plus SI convenience fields where the row type has them."""
    data = row.model_dump(mode="json")
    for prop in ("memory_bytes", "memory_bandwidth_bytes_per_s", "link_bytes_per_s"):
        if hasattr(type(row), prop):
            data[prop] = getattr(row, prop)
    if hasattr(row, "peak_flops") and isinstance(getattr(row, "tflops", None), dict):
        data["peak_flops_per_s"] = {dtype: tf * 1e12 for dtype, tf in row.tflops.items()}
    return data


def _rows(table: str, user_only: bool = False) -> tuple[list[Any], set[str]]:
    cat = _catalog()
    rows = list(cat.table(table))
    user = cat.user_rows(table)
    if user_only:
        rows = [r for r in rows if r.id in user]
    return rows, user


def _source_cell(source: str | None) -> str:
    """The whole source in a pipe (TSV, nothing cut); its host or a short form on a terminal."""
    if plain_output():
        return source or "-"
    return _short_source(source)


def _short_source(source: str | None, width: int = 28) -> str:
    if not source:
        return "-"
    for word in source.replace("(", " ").split():
        if word.startswith(("http://", "https://")):
            host = urlparse(word).netloc
            return host[4:] if host.startswith("www.") else host
    return source if len(source) <= width else source[: width - 1] + "…"


def _num(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value) or "-"
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    return str(value)


def _list_payload(table: str, rows: Iterable[Any], user: set[str]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        d = row_dict(row)
        d["from_user_catalog"] = row.id in user
        out.append(d)
    return out


# ------------------------------------------------------------------------------------- renderers
def _render_gpus(rows: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.table import Table

    c = console()
    t = Table(
        title="Accelerators (dense peak TFLOP/s; * = row from your catalog)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    wide = c.width >= 150  # the long names only where they fit
    with_source = c.width >= 110 or not c.is_terminal  # on a narrow terminal ids and numbers stay whole and the source is left out
    # Numbers never wrap; without the source column the ids take the width the numbers leave
    t.add_column("id", overflow="fold", min_width=14, no_wrap=wide)
    if wide:
        t.add_column("name", overflow="fold")
    t.add_column("memory", justify="right", no_wrap=True)
    t.add_column("GB/s", justify="right", no_wrap=True)
    for dtype in ("bf16", "fp8", "fp4"):
        t.add_column(dtype, justify="right", no_wrap=True)
    t.add_column("TDP W", justify="right", no_wrap=True)
    t.add_column("price $", justify="right", no_wrap=True)
    if with_source:
        t.add_column("source", overflow="fold", min_width=10)
    for r in rows:
        mem = f"{_num(r['memory_gib'])} GiB" if r.get("memory_gib") is not None else f"{_num(r['memory_gb'])} GB"
        tf = r.get("tflops") or {}
        derived = set(r.get("sparse_derived") or ())

        def flops(dtype: str, tf: dict[str, Any] = tf, derived: set[str] = derived) -> str:
            if dtype not in tf:
                return "-"
            return _num(tf[dtype]) + ("ˢ" if dtype in derived else "")

        cells = [r["id"] + ("*" if r.get("from_user_catalog") else "")]
        if wide:
            cells.append(r.get("name", ""))
        cells += [
            mem,
            _num(r.get("memory_bandwidth_gb_s")),
            flops("bf16") if "bf16" in tf else flops("fp16") if "fp16" in tf else flops("fp32"),
            flops("fp8"),
            flops("fp4"),
            _num(r.get("tdp_w")),
            _num(r.get("price_usd")),
        ] + ([_source_cell(r.get("source"))] if with_source else [])
        t.add_row(*cells)
    print_table(t, c)
    c.print(
        "ˢ = half the datasheet's sparse figure; bf16 falls back to fp16/fp32 where absent. "
        + ("" if with_source else "Sources are left out at this width (a wider terminal, a pipe or --json shows them). ")
        + "`deployscope catalog show ID` prints a row with its full source."
    )


def _generic_columns(table: str, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    present = set().union(*(r.keys() for r in rows))
    skip = {"id", "name", "aliases", "source", "as_of", "as_of_note", "notes", "from_user_catalog"}
    wanted = [f for f in KEY_FIELDS.get(table, ()) if f in present]
    if wanted:
        return wanted
    # Unknown table: the first few scalar fields in schema order.
    cols = []
    for key, value in rows[0].items():
        if key not in skip and not isinstance(value, dict) and len(cols) < MAX_GENERIC_FIELDS:
            cols.append(key)
    return cols


ID_FOLD = 24  # on a terminal, ids longer than this fold onto a second line; shorter ones stay whole
CELL_WIDTH = 16  # a longer cell wraps within its column
SOURCE_WIDTH = 16  # room for a source's host (huggingface.co) before it folds


def _fitting_columns(width: int, ids: list[str], candidates: list[tuple[str, list[str]]]) -> list[str]:
    """The columns that fit a terminal `width` beside the id and source, in order: each needs room
    for its header and its typical cell, so no header breaks inside a word."""
    def need(header: str, cells: list[str]) -> int:
        longest = sorted(len(c) for c in cells)[int(0.9 * (len(cells) - 1))] if cells else 0  # a rare long cell may wrap
        return max(len(header), min(longest, CELL_WIDTH)) + 2  # cell padding

    used = min(max((len(i) for i in ids), default=2), ID_FOLD) + 2 + SOURCE_WIDTH + 2  # the id and the source's host
    shown = []
    for header, cells in candidates:
        if used + need(header, cells) <= width:
            shown.append(header)
            used += need(header, cells)
    return shown


def _render_generic(table: str):
    def render(rows: list[dict[str, Any]]) -> None:
        from rich import box
        from rich.table import Table

        c = console()
        t = Table(
            title=f"{table} (* = row from your catalog)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
        )
        ids = [r["id"] + ("*" if r.get("from_user_catalog") else "") for r in rows]
        # the table's key figures first; the name (often the id again in words) where room is left
        cols = _generic_columns(table, rows) + (["name"] if any("name" in r for r in rows) else [])
        cells = {col: [_plain(r.get(col)) for r in rows] for col in cols}
        shown = cols if plain_output() else _fitting_columns(c.width, ids, [(col, cells[col]) for col in cols])
        t.add_column("id", overflow="fold", min_width=min(max((len(i) for i in ids), default=2), ID_FOLD))
        for col in shown:
            t.add_column(col, overflow="fold", min_width=len(col), max_width=max(len(col), CELL_WIDTH))
        t.add_column("source", overflow="fold", min_width=SOURCE_WIDTH)
        for i, r in enumerate(rows):
            t.add_row(ids[i], *[cells[col][i] for col in shown], _source_cell(r.get("source")))
        left_out = [col for col in cols if col not in shown]
        if left_out:
            t.caption = f"not shown at this width: {', '.join(left_out)} (a wider terminal, a pipe or --json shows them)"
            t.caption_justify = "left"
        print_table(t, c)
        if not rows:
            c.print(f"(no rows in table {table})")

    return render


def _render_row(payload: dict[str, Any]) -> None:
    from rich.table import Table

    row = payload["row"]
    t = Table(title=f"{payload['table']} / {row['id']}", title_justify="left", show_header=False)
    t.add_column("field", style="bold", no_wrap=True)
    t.add_column("value", overflow="fold")
    first = ("id", "name", "source", "as_of", "as_of_note")
    for key in first:
        if key in row:
            t.add_row(key, _plain(row[key]))
    for key, value in row.items():
        if key not in first:
            t.add_row(key, _plain(value))
    console().print(t)


def _render_check(payload: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=f"catalog check (user catalog: {payload['user_dir'] or 'none'})", title_justify="left")
    t.add_column("table")
    t.add_column("rows", justify="right")
    t.add_column("from user catalog", justify="right")
    t.add_column("status", overflow="fold")
    for name, info in payload["tables"].items():
        status = "ok" if info["ok"] else f"error: {info['error']}"
        t.add_row(name, _num(info["rows"]) if info["ok"] else "-", _num(info["user_rows"]), status)
    console().print(t)


# -------------------------------------------------------------------------------------- commands
def _vendor_filter(rows: list[Any], vendor: str | None) -> list[Any]:
    if vendor is None:
        return rows
    vendors = sorted({r.vendor for r in rows})
    if vendor.lower() not in vendors:
        raise DeployscopeError(f"no accelerator from vendor {vendor!r}", field="vendor", value=vendor, allowed=vendors)
    return [r for r in rows if r.vendor == vendor.lower()]


def gpus(
    vendor: Optional[str] = typer.Option(None, "--vendor", help="Only this vendor (nvidia, amd, intel)."),
    device_type: Optional[str] = typer.Option(None, "--type", help="Only this device type (gpu, npu, cpu, soc)."),
    user: bool = typer.Option(False, "--user", help="Only rows from your catalog."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (row fields plus SI fields like memory_bytes)."),
) -> None:
    """Accelerators: memory, bandwidth, dense bf16/fp8/fp4 TFLOP/s, TDP, price, source."""
    rows, user_ids = _rows("accelerators", user_only=user)
    rows = _vendor_filter(rows, vendor)
    if device_type is not None:
        allowed = ("gpu", "npu", "cpu", "soc")
        if device_type not in allowed:
            raise DeployscopeError(f"unknown device type {device_type!r}", field="type", value=device_type, allowed=allowed)
        rows = [r for r in rows if r.device_type == device_type]
    emit(_list_payload("accelerators", rows, user_ids), as_json, _render_gpus)


def _table_command(table: str, doc: str):
    def command(
        user: bool = typer.Option(False, "--user", help="Only rows from your catalog."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        rows, user_ids = _rows(table, user_only=user)
        emit(_list_payload(table, rows, user_ids), as_json, _render_generic(table))

    command.__doc__ = doc
    return command


def list_table(
    table: str = typer.Argument(..., help="Table name (see `deployscope catalog tables`)."),
    user: bool = typer.Option(False, "--user", help="Only rows from your catalog."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Rows of any catalog table (prices, servers, policy rules, ...)."""
    table = _check_table(table)
    rows, user_ids = _rows(table, user_only=user)
    render = _render_gpus if table == "accelerators" else _render_generic(table)
    emit(_list_payload(table, rows, user_ids), as_json, render)


def tables(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The catalog's tables."""
    names = _tables()
    emit(names, as_json, lambda ns: console().print("\n".join(ns)))


def show(
    name: str = typer.Argument(..., help="Row id or alias, e.g. h100-sxm-80gb, llama-3.1-70b, fp8."),
    table: Optional[str] = typer.Option(None, "--table", "-t", help="Look only in this table."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One row of any table, every field, with its source."""
    cat = _catalog()
    names = [_check_table(table)] if table else _tables()
    # Exact ids win over aliases, so `show fp8` finds the format even if a GPU lists fp8 somewhere.
    hits = [(t, cat.table(t)) for t in names]
    exact = [(t, tab.find(name)) for t, tab in hits if name in tab.ids()]
    found = exact or [(t, row) for t, tab in hits if (row := tab.find(name)) is not None]
    if not found:
        suggestions: list[str] = []
        for _, tab in hits:
            suggestions += [s for s in tab.suggest(name, n=3) if s not in suggestions]
        raise UnknownName("catalog row", name, suggestions[:6], field="id")
    if len(found) > 1:
        where = ", ".join(f"{t}/{row.id}" for t, row in found)
        raise DeployscopeError(
            f"{name!r} names rows in several tables ({where}); pass --table",
            field="id",
            value=name,
            allowed=[t for t, _ in found],
        )
    t, row = found[0]
    payload = {"table": t, "from_user_catalog": row.id in cat.user_rows(t), "row": row_dict(row)}
    emit(payload, as_json, _render_row)


def check(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Validate every table (bundled data plus your --catalog DIR) and count rows per table."""
    cat = _catalog()
    report: dict[str, Any] = {"user_dir": str(cat.user_dir) if cat.user_dir else None, "tables": {}}
    failed = []
    for name in _tables():
        try:
            rows = len(cat.table(name))
            report["tables"][name] = {"ok": True, "rows": rows, "user_rows": len(cat.user_rows(name)), "error": None}
        except DeployscopeError as exc:
            failed.append(name)
            report["tables"][name] = {"ok": False, "rows": None, "user_rows": None, "error": str(exc)}
    report["ok"] = not failed
    emit(report, as_json, _render_check)
    if failed:
        raise CatalogError(
            f"{len(failed)} catalog table(s) failed validation: {', '.join(failed)}",
            field="catalog",
            value=report["user_dir"],
        )


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    catalog_app.command("gpus")(gpus)
    catalog_app.command("models")(_table_command("models", "Models: family, modality, parameters, licence, source."))
    catalog_app.command("quant")(
        _table_command("quant", "Quantization formats: bits per weight, compute dtype, quality delta, source.")
    )
    catalog_app.command("engines")(_table_command("engines", "Serving engines: formats, devices, source."))
    catalog_app.command("list")(list_table)
    catalog_app.command("tables")(tables)
    catalog_app.command("show")(show)
    catalog_app.command("check")(check)
    app.add_typer(catalog_app, name="catalog")
