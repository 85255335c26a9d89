"""Median measured / predicted of the held-out GPUStack performance-lab rows, by GPU, load and prompt kind.

    python scripts/gpustack_bursts.py            # runs validate on the shipped data
    python scripts/gpustack_bursts.py out.json   # reads a saved `deployscope validate --json`

Every engine's runs together, one line per (GPU, load, prompts, metric class): the load is a burst
(all requests sent at once) or a closed loop of clients; the prompts are the 128-token random
prompts with 4 output tokens, ShareGPT, or random prompts of 2,000 tokens or more. A ratio above 1
means the run was slower (TTFT, TPOT) or faster (throughput) than predicted. docs/validation.md
("Bursts of short requests on Hopper") quotes its output.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from validation_summary import load_report  # noqa: E402

from deployscope import validate  # noqa: E402

SOURCE = "GPUStack performance lab"


def prompts(row: dict[str, str]) -> str:
    if float(row["output_len"]) <= 4:
        return "128 in / 4 out"
    return "2k+ in" if float(row["input_len"]) >= 1900 else "ShareGPT"


def table(report: dict) -> str:
    _, rows = validate.read_csv(validate.VALIDATION_DIR / "A_llm_inference.csv")
    ratios: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for p in report["predictions"]:
        if p["file"] != "A_llm_inference.csv" or p["fitted_on"] or p["predicted"] is None or not p["measured"]:
            continue
        row = rows[p["index"]]
        if row["source_type"] != SOURCE:
            continue
        load = "burst" if "QPS=INF" in row["scenario"] else "clients"
        ratios[(row["hardware"].split("-")[0], load, prompts(row), p["metric_class"])].append(p["measured"] / p["predicted"])
    lines = ["| GPU | load | prompts | class | rows | measured / predicted (median) | range |", "|---|---|---|---|---|---|---|"]
    for (gpu, load, kind, cls), r in sorted(ratios.items()):
        a = np.array(r)
        lines.append(f"| {gpu} | {load} | {kind} | {cls} | {a.size} | {np.median(a):.2f} | {a.min():.2f} - {a.max():.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(table(load_report(sys.argv[1:])))
