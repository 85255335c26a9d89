"""The options table as CSV or XLSX (openpyxl, in the `report` extra)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from .html import as_plan


def _plain(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _safe_text(v: Any) -> Any:
    """Neutralise spreadsheet formulas in user strings (CSV/XLSX injection)."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return _plain(v)


def options_csv(plan: Any) -> str:
    plan = as_plan(plan)
    rows = plan.options_table()
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else _safe_text(v)) for k, v in r.items()})
    return buf.getvalue()


def write_csv(plan: Any, path: str | Path) -> None:
    Path(path).write_text(options_csv(plan), encoding="utf-8", newline="")


def write_xlsx(plan: Any, path: str | Path) -> None:
    """Workbook with sheets Options, Cash flows, Policy, Assumptions, Sources."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter
    except ImportError:  # pragma: no cover
        from ..errors import DeployscopeError

        raise DeployscopeError("XLSX export needs openpyxl: pip install '.[report]' in the Deployscope checkout", field="report") from None
    plan = as_plan(plan)
    wb = Workbook()

    def sheet(title: str, header: list[str], rows: list[list[Any]], first: bool = False) -> None:
        ws = wb.active if first else wb.create_sheet()
        ws.title = title
        ws.append(header)
        for c in ws[1]:
            c.font = Font(bold=True)
        for r in rows:
            ws.append([_safe_text(v) for v in r])
        ws.freeze_panes = "A2"
        for i, h in enumerate(header, start=1):
            width = max([len(str(h))] + [len(str(r[i - 1])) for r in rows[:200] if r[i - 1] is not None]) + 2
            ws.column_dimensions[get_column_letter(i)].width = min(60, width)

    table = plan.options_table()
    header = list(table[0]) if table else ["id"]
    sheet("Options", header, [[r[k] for k in header] for r in table], first=True)
    sheet(
        "Cash flows",
        ["option", "year", "capex", "opex", "total"],
        [[o.id, c.year, c.capex, c.opex, c.capex + c.opex] for o in plan.options for c in sorted(o.cash_flows, key=lambda c: c.year)],
    )
    pol = []
    for o in plan.options:
        for r in o.excluded_because:
            pol.append([o.id, "excluded", r, None])
        for ob in o.obligations:
            pol.append([o.id, "obligation", ob.text, ob.citation])
    sheet("Policy", ["option", "kind", "text", "citation"], pol)
    sheet(
        "Assumptions",
        ["scope", "input", "value", "unit", "origin", "source", "as_of"],
        [["plan", a.name, str(a.value), a.unit, a.origin, a.source, a.as_of] for a in plan.assumptions]
        + [[o.id, a.name, str(a.value), a.unit, a.origin, a.source, a.as_of] for o in plan.options for a in o.assumptions],
    )
    sheet(
        "Sources",
        ["scope", "table", "id", "source", "as_of"],
        [["plan", s.table, s.id, s.source, s.as_of] for s in plan.sources] + [[o.id, s.table, s.id, s.source, s.as_of] for o in plan.options for s in o.sources],
    )
    wb.save(str(path))
