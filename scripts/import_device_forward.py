"""Turn runs of scripts/device_forward.py into the labelled validation file of own measurements.

Usage: python scripts/import_device_forward.py RUN_DIR [RUN_DIR ...] --date YYYY-MM-DD
           [--csv src/deployscope/validation/G_device_forward.csv]
           [--serving SERVE_DIR [SERVE_DIR ...] [--serving-json src/deployscope/validation/G_device_serving.json]]

Each RUN_DIR holds what one run wrote: machine.json, forward.jsonl and, where it was saved,
smi.txt (nvidia-smi's GPU name and driver). The CSV is rebuilt from the runs given, whole or not at
all. A record that failed or was skipped on the GPU is reported and left out; it never becomes a row.
Each SERVE_DIR holds the serve.json of one scripts/device_serve.py run; their served runs, each
with the step times measured alone in its session, become one labelled JSON file.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # run from a checkout

from deployscope.catalog import default_catalog  # noqa: E402
from deployscope.errors import DeployscopeError  # noqa: E402
from deployscope.paths import write_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "src/deployscope/validation/G_device_forward.csv"
SERVING_JSON = ROOT / "src/deployscope/validation/G_device_serving.json"
# what a served session must agree on to be one file: the engine and its load
SERVING_KEYS = ("model", "format", "input_len", "output_len", "max_batch", "step_tokens", "context")
COLUMNS = ("model", "hardware", "precision", "framework", "kind", "projection", "batch_size", "input_len", "context_len",
           "metric", "value", "unit", "spread", "replays", "gflop", "gemm_n", "gemm_k", "run", "source", "as_of", "notes")
METHOD = ("plain PyTorch decoder with random weights, one CUDA graph per pass, median of 20 replays timed with CUDA events "
          "(scripts/device_forward.py)")
NOTES = {
    "prefill": "one sequence; causal FlashAttention (SDPA) with K/V repeated per query head; logits of the last position",
    "decode": "one step; every sequence attends to a full cache of context_len tokens (SDPA, no split-KV); logits of every sequence",
    "gemm": "one projection of layer 0 alone; fp8 includes casting the bf16 input to e4m3 and padding rows to 16",
    "gemm_kernel": "one projection of layer 0 alone: the e4m3 GEMM kernel only, its input cast beforehand",
}


class RunError(ValueError):
    """A run folder that cannot be read: the message says which file and why."""


def _read_run(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    try:
        machine = json.loads((folder / "machine.json").read_text(encoding="utf-8"))
        records = [json.loads(line) for line in (folder / "forward.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise RunError(f"{folder}: {exc}") from exc
    driver = ""
    smi = folder / "smi.txt"
    if smi.is_file():
        m = re.search(r"^[^,\n]+,\s*([\d.]+)", smi.read_text(encoding="utf-8").split("\n", 1)[-1], re.M)
        driver = m.group(1) if m else ""
    return machine, records, driver


def catalog_gpu(folder: Path, name: str) -> str:
    """The catalog id of the GPU torch named ('NVIDIA H200' is the catalog's 'H200')."""
    row = default_catalog().accelerators.find(name.removeprefix("NVIDIA ").strip()) if name else None
    if row is None:
        raise RunError(f"{folder}: GPU {name!r} is not one the catalog names (deployscope catalog gpus lists them)")
    return str(row.id)


def _source(machine: dict[str, Any], driver: str, run: int) -> str:
    sw = f"torch {machine.get('torch', '?')}, CUDA {machine.get('cuda', '?')}" + (f", driver {driver}" if driver else "")
    return f"measured: scripts/device_forward.py on a lent {machine.get('name', '?')} ({sw}), run {run}"


def _ceiling_rows(machine: dict[str, Any], base: dict[str, str]) -> list[dict[str, str]]:
    """The GPU's ceilings the run measured (machine.json): matrix products, copies and reads."""
    rows = []
    for key, value in machine.items():
        m = re.fullmatch(r"(bf16|fp8)_gemm_tflops|(copy|read)(?:_(\d+)gib)?_tb_s", key)
        if not m:
            continue
        dtype, memory_op, gib = m.group(1), m.group(2), m.group(3) or "1"  # an unsized copy was 1 GiB
        if dtype:
            metric, unit, notes = key, "TFLOP/s", "an 8192 x 8192 x 8192 matrix product of random values"
        else:
            metric, unit = f"{memory_op}_{gib}gib_tb_s", "TB/s"
            notes = (f"a device-to-device copy of {gib} GiB (bytes read + written)" if memory_op == "copy"
                     else f"a read-only sum of {gib} GiB")
        rows.append({**base, "kind": "ceiling", "precision": dtype or "", "metric": metric, "value": f"{value:.4g}",
                     "unit": unit, "notes": notes})
    return rows


def _record_rows(r: dict[str, Any], base: dict[str, str]) -> list[dict[str, str]]:
    """The rows of one timed record: a prefill or decode step, or a layer's projections."""
    kind = r["kind"]
    common = {**base, "model": r["model"], "precision": r["format"], "kind": kind, "notes": NOTES[kind] + "; " + METHOD}
    if kind != "gemm":
        return [{**common, "batch_size": str(r["batch"]), "input_len": str(r.get("input_len", 1)), "context_len": str(r["ctx"]),
                 "metric": f"{kind}_step_time", "value": f"{r['ms']:.6g}", "unit": "ms",
                 "spread": f"{(r['ms_max'] - r['ms_min']) / r['ms']:.3f}", "replays": str(r["replays"])}]
    rows = []
    for proj, g in r["gemms"].items():
        gemm = {**common, "projection": proj, "batch_size": str(r["input_len"]), "input_len": str(r["input_len"]),
                "metric": "gemm_time", "value": f"{g['ms']:.6g}", "unit": "ms", "gflop": f"{g['gflop']:.6g}",
                "gemm_n": str(g["n"]), "gemm_k": str(g["k"])}
        rows.append(gemm)
        if "kernel_ms" in g:
            rows.append({**gemm, "metric": "gemm_kernel_time", "value": f"{g['kernel_ms']:.6g}",
                         "notes": f"{NOTES['gemm_kernel']}; {METHOD}"})
    return rows


def rows_of_run(folder: Path, run: int, as_of: str) -> tuple[list[dict[str, str]], list[str]]:
    """The CSV rows one run gives, and a line for each record it could not use."""
    machine, records, driver = _read_run(folder)
    base = {"hardware": catalog_gpu(folder, machine.get("name", "")),
            "framework": f"PyTorch {machine.get('torch', '?')} (plain forward, CUDA graphs)", "run": str(run),
            "source": _source(machine, driver, run), "as_of": as_of}
    rows = _ceiling_rows(machine, base)
    skipped: list[str] = []
    for r in records:
        if "error" in r or "skipped" in r:
            skipped.append(f"{folder.name}: {r.get('model')} {r.get('format')} {r.get('kind', '')} "
                           f"batch {r.get('batch', '')}: {r.get('error') or 'skipped (' + r['skipped'] + ')'}")
        elif r.get("kind") != "load":  # a model's load record holds no timing
            rows += _record_rows(r, base)
    return rows, skipped


def serving_of(folders: list[Path], as_of: str) -> dict[str, Any]:
    """The served runs of scripts/device_serve.py sessions as one labelled document."""
    sessions = []
    for folder in folders:
        try:
            sessions.append(json.loads((folder / "serve.json").read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise RunError(f"{folder}: {exc}") from exc
    first = sessions[0]
    for folder, other in zip(folders, sessions):
        differ = [k for k in SERVING_KEYS if other.get(k) != first.get(k)]
        if differ:
            raise RunError(f"{folder}: serve.json differs from the first session in {', '.join(differ)}")
        catalog_gpu(folder, other.get("machine", {}).get("name", ""))
    machine = first["machine"]
    # sessions before the engine had a choice of policy ran prefill-first
    runs = [{**run, "session": i, "policy": s.get("policy", "prefill-first"), "step_time_alone_s": s["step_time_alone_s"]}
            for i, s in enumerate(sessions, start=1) for run in s["runs"]]
    return {**{k: first[k] for k in SERVING_KEYS}, "hardware": catalog_gpu(folders[0], machine["name"]),
            "source": (f"measured: scripts/device_serve.py on a lent {machine['name']} (torch {machine.get('torch', '?')}), "
                       f"{len(sessions)} sessions"),
            "as_of": as_of, "runs": runs}


def render(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in COLUMNS})
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="folders written by scripts/device_forward.py --out")
    ap.add_argument("--date", required=True, help="the day the runs were measured (YYYY-MM-DD): each row's as_of")
    ap.add_argument("--csv", type=Path, default=CSV)
    ap.add_argument("--serving", nargs="+", type=Path, default=[], help="folders written by scripts/device_serve.py --out")
    ap.add_argument("--serving-json", type=Path, default=SERVING_JSON)
    args = ap.parse_args(argv)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.date):
        print(f"error: --date: {args.date!r} is not a date like 2026-12-04", file=sys.stderr)
        return 2
    rows: list[dict[str, str]] = []
    try:
        for i, folder in enumerate(args.runs, start=1):
            got, skipped = rows_of_run(folder, i, args.date)
            rows += got
            for line in skipped:
                print(f"left out: {line}", file=sys.stderr)
        served = serving_of(args.serving, args.date) if args.serving else None
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        write_atomic(args.csv, render(rows), field="--csv")
        if served is not None:
            write_atomic(args.serving_json, json.dumps(served) + "\n", field="--serving-json")
    except DeployscopeError as exc:
        print(f"error: {exc.field}: {exc.args[0]}", file=sys.stderr)
        return 2
    print(f"wrote {len(rows)} rows from {len(args.runs)} runs to {args.csv}")
    if served is not None:
        print(f"wrote {len(served['runs'])} served runs from {len(args.serving)} sessions to {args.serving_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
