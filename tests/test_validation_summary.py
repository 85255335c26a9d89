"""scripts/validation_summary.py: the Markdown view of the held-out figures marks the groups that miss."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "validation_summary", Path(__file__).resolve().parents[1] / "scripts" / "validation_summary.py")
assert _spec and _spec.loader
vs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vs)


def _s(rows: int, med: float, p90: float, signed: float, cov: float = 1.0) -> dict[str, object]:
    return {"rows": rows, "scored": rows, "coverage": cov, "median_ape": med, "p90_ape": p90, "signed_median": signed}


def test_groups_of_ten_or_more_are_marked_by_the_targets_they_miss() -> None:
    report = {"heldout": {"by_class": {
        "throughput": {"all": _s(40, 0.07, 0.2, -0.02),
                       "engine": {"vllm": _s(12, 0.12, 0.3, 0.2), "sglang": _s(5, 0.5, 0.9, -0.5)}},
        "ttft": {"all": _s(20, 0.1, 0.5, 0.0, cov=0.8)},
    }}}
    text = vs.summary(report)
    lines = {ln.split("|")[1].strip(): ln for ln in text.splitlines() if ln.startswith("| ") and "group" not in ln}
    assert lines["engine: vllm"].rstrip().endswith("| median, p90, signed |")
    assert lines["engine: sglang"].rstrip().endswith("|  |")  # under ten rows: not judged
    assert "| coverage, p90 |" in text  # the TTFT row: 80 % covered, p90 50 %
    assert "**tpot**" not in text  # a class without rows is left out
