"""The write step the validation-row importers share (import_gpustack.py, import_inferencex.py):
their rows into the shipped CSV, whole or not at all."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

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
