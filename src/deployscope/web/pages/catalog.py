"""Catalog pages: every table as a sortable, filterable table with rounded numbers and the
source and date of each row (sorting and filtering run on the server, so they work without
JavaScript and the URL can be shared)."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ...errors import DeployscopeError
from ...store import NotFound
from ..rendering import page

router = APIRouter(include_in_schema=False)
HIDDEN_COLUMNS = {"id", "source", "as_of", "as_of_note", "notes", "aliases"}


def catalog() -> Any:
    from ...catalog import default_catalog

    return default_catalog()


def table_rows(table: str) -> list[Any]:
    from ...catalog import table_names

    names = table_names()
    if table not in names:
        raise NotFound(f"no catalog table {table!r}", field="table", value=table, allowed=names)
    return list(catalog().table(table))


def row_dict(row: Any) -> dict[str, Any]:
    return row.model_dump(mode="json") if hasattr(row, "model_dump") else dict(row)


def catalog_tables() -> list[tuple[str, int]]:
    from ...catalog import table_names

    cat = catalog()
    out = []
    for name in table_names():
        try:
            out.append((name, len(cat.table(name))))
        except DeployscopeError:
            out.append((name, -1))
    return out


def rounded(v: Any) -> str:
    """A figure as people read it: 4 significant digits, thousands separated, no exponent."""
    if isinstance(v, bool) or v is None:
        return "–" if v is None else ("yes" if v else "no")
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        if v == 0:
            return "0"
        digits = max(0, 3 - int(math.floor(math.log10(abs(v)))))
        s = f"{v:,.{digits}f}"
        return s.rstrip("0").rstrip(".") if "." in s else s
    return str(v)


def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (1, int(v))
    if isinstance(v, (int, float)):
        return (0, v)
    if v is None:
        return (3, "")
    return (2, str(v).lower())


def sorted_rows(table: str, q: str, sort: str, desc: bool) -> tuple[list[dict[str, Any]], list[str]]:
    rows = [row_dict(r) for r in table_rows(table)]
    if q:
        needle = q.lower()
        rows = [r for r in rows if needle in str(r).lower()]
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in HIDDEN_COLUMNS and k not in cols:
                cols.append(k)
    if sort and (sort in cols or sort in ("id", "as_of")):
        rows.sort(key=lambda r: _sort_key(r.get(sort)), reverse=desc)
    return rows, cols


@router.get("/catalog", response_class=HTMLResponse)
def catalog_page(request: Request) -> Response:
    return page(request, "catalog.html", tables=catalog_tables())


@router.get("/catalog/{table}", response_class=HTMLResponse)
def catalog_table_page(request: Request, table: str, q: str = "", sort: str = "", desc: int = 0) -> Response:
    n_rows, html = rows_html(table, q[:200], sort[:100], bool(desc), id(catalog()))
    return page(request, "catalog_table.html", table=table, n_rows=n_rows, rows_html=html, q=q, sort=sort, desc=bool(desc),
                tables=catalog_tables())


@lru_cache(maxsize=32)
def rows_html(table: str, q: str, sort: str, desc: bool, catalog_id: int) -> tuple[int, Any]:
    """A table's rows as HTML for one filter and sort (they depend on the catalog alone: the
    last few are kept per catalog)."""
    from markupsafe import Markup

    from ..rendering import templates

    rows, columns = sorted_rows(table, q, sort, desc)
    html = templates().env.get_template("_catalog_rows.html").render(
        table=table, rows=rows, columns=columns, q=q, sort=sort, desc=desc, rounded=rounded)
    return len(rows), Markup(html)
