"""The steps the validation-row importers share (import_apex.py, import_gpustack.py,
import_inferencex.py): one family's rows put in place in the CSV text, and the text written to the
shipped CSV, whole or not at all."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # run from a checkout

from deployscope.errors import DeployscopeError  # noqa: E402
from deployscope.paths import rewrite_text  # noqa: E402


def write_rows(csv_path: Path, edit: Callable[[str], str]) -> int:
    """Replace the CSV's text by ``edit(text)``: 0, or 2 with the reason on stderr (a missing file,
    say). The new text is built before the file is touched and written atomically, so a failure
    leaves the rows as they were."""
    try:
        rewrite_text(csv_path, edit, field="--csv")
    except DeployscopeError as exc:
        print(f"error: --csv: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0


def replace_family(csv_text: str, source_type: str, rows: list[dict[str, str]], before: Sequence[str] = ()) -> str:
    """The CSV text with every row of `source_type` replaced by `rows`, written just before the first
    row of the first family in `before` the file holds (else at its end), every other row as it was;
    a row's missing columns are left blank."""
    reader = csv.DictReader(io.StringIO(csv_text, newline=""))
    fields = list(reader.fieldnames or [])
    kept = [row for row in reader if row["source_type"] != source_type]
    at = next((i for anchor in before for i, row in enumerate(kept) if row["source_type"] == anchor), len(kept))
    new = [{f: row.get(f, "") for f in fields} for row in rows]
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(kept[:at] + new + kept[at:])
    return out.getvalue()
