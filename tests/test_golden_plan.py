"""Golden outputs: `deployscope plan EXAMPLE --json` for every shipped example.

A change to the planner must reproduce these exactly (floats to 1e-9 relative), except where a
commit names a fix; that commit regenerates the files with

    DEPLOYSCOPE_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_plan.py

and says in its message why the figures moved.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from deployscope.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).with_name("golden")
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
# Fields that describe the run, not the answer.
VOLATILE = {"elapsed_s", "deployscope_version"}


def _plan_json(example: Path, capsys) -> dict:
    rc = main(["plan", str(example), "--json"])
    out = capsys.readouterr().out
    assert rc in (0, None), out
    data = json.loads(out)
    for key in VOLATILE:
        data.pop(key, None)
    return data


def _diff(path: str, want, got, out: list[str]) -> None:
    if len(out) > 20:
        return
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            if k not in got:
                out.append(f"{path}.{k}: missing")
            elif k not in want:
                out.append(f"{path}.{k}: new key")
            else:
                _diff(f"{path}.{k}", want[k], got[k], out)
    elif isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            out.append(f"{path}: length {len(want)} -> {len(got)}")
        for i, (a, b) in enumerate(zip(want, got)):
            _diff(f"{path}[{i}]", a, b, out)
    elif isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if not math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-9):
            out.append(f"{path}: {want!r} -> {got!r}")
    elif want != got:
        out.append(f"{path}: {want!r} -> {got!r}")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_plan_matches_golden(example: Path, capsys) -> None:
    got = _plan_json(example, capsys)
    golden = GOLDEN / f"plan-{example.stem}.json"
    if os.environ.get("DEPLOYSCOPE_UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    want = json.loads(golden.read_text())
    differences: list[str] = []
    _diff("plan", want, got, differences)
    assert not differences, "\n".join(differences)
