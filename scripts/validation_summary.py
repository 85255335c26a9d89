"""Print the held-out serving figures of `deployscope validate --json` as Markdown tables.

    python scripts/validation_summary.py              # runs validate on the shipped data
    python scripts/validation_summary.py out.json     # reads a saved `validate --json`

One table per metric class (throughput, TTFT, TPOT), one line per group of held-out rows, and a
mark on every group of ten or more scored rows that misses the issue-13 targets (throughput:
median <= 10 %, p90 <= 25 %; TTFT/TPOT: median <= 20 %, p90 <= 45 %; coverage >= 95 % / 90 %;
signed median within +-15 %). docs/validation.md quotes its output. A last table gives how far
repeated measurements of one configuration lie apart (validate's ``repeatability``), and one
more the project's own measurements on a lent GPU against the physics (``device_measurements``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

#: metric class -> (coverage floor, median ceiling, p90 ceiling)
TARGETS = {"throughput": (0.95, 0.10, 0.25), "ttft": (0.90, 0.20, 0.45), "tpot": (0.90, 0.20, 0.45)}
SIGNED_LIMIT = 0.15
MIN_ROWS = 10
GROUPS = ("family", "format", "moe", "engine", "pipeline", "load", "source")


def load_report(argv: list[str]) -> dict[str, Any]:
    if argv:
        with open(argv[0], encoding="utf-8") as f:
            return json.load(f)
    out = subprocess.run([sys.executable, "-m", "deployscope", "validate", "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x * 100:+.1f} %" if signed else f"{x * 100:.1f} %"


def _misses(cls: str, s: dict[str, Any]) -> list[str]:
    if (s.get("scored") or 0) < MIN_ROWS:
        return []
    cov, med, p90 = TARGETS[cls]
    out = []
    if s["coverage"] < cov:
        out.append("coverage")
    if s["median_ape"] is not None and s["median_ape"] > med:
        out.append("median")
    if s["p90_ape"] is not None and s["p90_ape"] > p90:
        out.append("p90")
    if s["signed_median"] is not None and abs(s["signed_median"]) > SIGNED_LIMIT:
        out.append("signed")
    return out


def _line(cls: str, group: str, s: dict[str, Any]) -> str:
    miss = ", ".join(_misses(cls, s))
    return (f"| {group} | {s['rows']} | {s['coverage'] * 100:.0f} % | {_pct(s['median_ape'])} | "
            f"{_pct(s['p90_ape'])} | {_pct(s['signed_median'], signed=True)} | {miss} |")


def summary(report: dict[str, Any]) -> str:
    """The Markdown tables for the held-out serving classes."""
    by_class = report["heldout"]["by_class"]
    parts = []
    for cls in TARGETS:
        data = by_class.get(cls) or {}
        if "all" not in data:
            continue
        lines = [f"**{cls}** (held-out rows)", "",
                 "| group | rows | coverage | median APE | p90 APE | signed median | misses |",
                 "|---|---|---|---|---|---|---|", _line(cls, "all", data["all"])]
        for key in GROUPS:
            for name, s in sorted((data.get(key) or {}).items()):
                if isinstance(s, dict) and s.get("rows"):
                    lines.append(_line(cls, f"{key}: {name}", s))
        parts.append("\n".join(lines))
    rep = report.get("repeatability") or {}
    if rep:
        lines = ["**repeat measurements** (every row: configurations measured more than once)", "",
                 "| class | configurations | rows | median | p90 | model median APE | model p90 APE |",
                 "|---|---|---|---|---|---|---|"]
        lines += [f"| {cls} | {s['configurations']} | {s['rows']} | {_pct(s['median_ape'])} | {_pct(s['p90_ape'])} | "
                  f"{_pct(s['model_median_ape'])} | {_pct(s['model_p90_ape'])} |" for cls, s in rep.items()]
        parts.append("\n".join(lines))
    dev = report.get("device_measurements") or {}
    if dev.get("groups"):
        lines = [f"**own measurements on a lent GPU** ({dev['file']}; measured / predicted, not scored)", "",
                 "| group | rows | median | min | max |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {g['rows']} | {g['median_ratio']:.2f} | {g['min_ratio']:.2f} | {g['max_ratio']:.2f} |"
                  for name, g in dev["groups"].items()]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    sys.stdout.write(summary(load_report(sys.argv[1:])))
