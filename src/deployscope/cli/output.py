"""Shared output helpers: JSON for machines, rich tables for people, errors on stderr."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Callable

from ..errors import DeployscopeError

# The exit codes, the same in every output mode (terminal, piped, --json, --report); docs/cli.md.
EXIT_OK = 0  # done; the answer is in the output
EXIT_NO_ANSWER = 1  # it ran, but there is no usable answer: no option allowed, every bench request failed
EXIT_USAGE = 2  # a bad command line or bad input (scenario, catalog, file): the message names the field
EXIT_INTERRUPTED = 130  # Ctrl-C


def _default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _finite(obj: Any) -> Any:
    """JSON has no NaN/Infinity: turn them into null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def to_json(data: Any, indent: int | None = 2) -> str:
    data = json.loads(json.dumps(data, default=_default))
    return json.dumps(_finite(data), indent=indent, allow_nan=False)


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print `data` as JSON, or hand it to `render` for a human view."""
    if as_json:
        sys.stdout.write(to_json(data) + "\n")
    else:
        render(data)


def console():
    from rich.console import Console

    return Console()


def plain_output() -> bool:
    """True when stdout is not a terminal (a pipe, a file): print plain text and TSV, cut nothing."""
    try:
        return not sys.stdout.isatty()
    except (AttributeError, ValueError):
        return True


def print_table(table: Any, c: Any = None) -> None:
    """A rich table on a terminal; in a pipe, its title, then a header row and one tab-separated
    line per row, every cell in full."""
    if not plain_output():
        (c or console()).print(table)
        return
    from rich.text import Text

    def plain(cell: Any) -> str:
        if isinstance(cell, Text):
            return cell.plain
        if not isinstance(cell, str):
            return str(cell)
        try:
            return Text.from_markup(cell).plain  # the markup a terminal would have drawn
        except Exception:  # noqa: BLE001 - not markup after all: the text as it is
            return cell

    out = sys.stdout.write
    if table.title:
        out(plain(table.title) + "\n")
    if table.show_header:
        out(tsv_row(plain(col.header) for col in table.columns))
    for row in zip(*(list(col.cells) for col in table.columns)):
        out(tsv_row(plain(cell) for cell in row))
    if table.caption:
        out(plain(table.caption) + "\n")


def tsv_row(cells: Any) -> str:
    """One tab-separated line; tabs and newlines inside a cell become spaces, None is empty."""
    return "\t".join("" if c is None else str(c).replace("\t", " ").replace("\n", " ") for c in cells) + "\n"


def print_error(exc: DeployscopeError) -> None:
    sys.stderr.write(f"error: {exc}\n")


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    return f"{n / 2**30:,.1f} GiB"
