#!/usr/bin/env python
"""How fast the performance model answers, on one CPU core.

    python benchmarks/perf_sweep.py [--points N] [--repeats R]

Prints:
* full max-throughput operating points per second: model x GPU x format x tp x input length x
  output length -> KV-capacity batch, throughput, TTFT, TPOT (``max_throughput_points``, numpy
  vectorized; catalog rows resolved once per model x GPU x format, as a sweep would);
* the wall time of one discrete-event simulation (1,000 Poisson requests through a 70B replica),
  and of an 8k-prompt 8B case (goal: under 1 s);
* the wall time of ``deployscope validate`` on the shipped data.
Goal: >= 1,000,000 operating points per second; validate well under 40 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from deployscope.catalog import Catalog  # noqa: E402
from deployscope.physics import serving  # noqa: E402

MODELS = ["Llama-3.1-8B", "Llama-3.1-70B", "Mixtral-8x7B", "Mistral-7B", "Llama-3.1-405B"]
GPUS = ["H100", "H200", "A100", "L40S", "MI300X", "B200"]
FORMATS = [("fp8", "trtllm"), ("bf16", "vllm")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lengths", type=int, default=64, help="input and output lengths per axis (points = lengths^2 x tp x combos)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    cat = Catalog()
    combos = []
    for m in MODELS:
        for g in GPUS:
            for q, e in FORMATS:
                try:
                    combos.append(serving.context(m, g, quant=q, engine=e, catalog=cat))
                except Exception:  # noqa: BLE001 - a format the GPU's engine does not serve
                    continue
    tp = np.array([1, 2, 4, 8], dtype=float).reshape(-1, 1, 1)
    I = np.geomspace(64, 32768, args.lengths).round().reshape(1, -1, 1)
    O = np.geomspace(16, 8192, args.lengths).round().reshape(1, 1, -1)
    per_combo = tp.size * I.size * O.size
    n_points = per_combo * len(combos)

    def sweep() -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        fits = 0
        for ctx in combos:
            out = serving.max_throughput_points(None, None, ctx=ctx, tp=tp, input_len=I, output_len=O)
            fits += int(out["fits"].sum())
        return time.perf_counter() - t0, time.process_time() - c0

    sweep()  # warm-up
    runs = [sweep() for _ in range(args.repeats)]
    times = [w for w, _ in runs]
    best = min(times)
    med = statistics.median(times)
    cpu = min(c for _, c in runs)
    print(f"max-throughput operating points: {n_points:,} per sweep ({len(combos)} model x GPU x format combos x 4 tp x {args.lengths}^2 lengths)")
    print(f"  {n_points / med:,.0f} points/s median, {n_points / best:,.0f} points/s best (one core, {args.repeats} sweeps)")
    print(f"  {n_points / cpu:,.0f} points per CPU-second (best sweep; the figure to read on a shared machine)")

    ctx = serving.context("Llama-3.1-70B", "H100", quant="fp8", engine="trtllm", catalog=cat)
    mx = serving.estimate("Llama-3.1-70B", "H100", tp=4, quant="fp8", engine="trtllm", input_len=1000, output_len=300, catalog=cat)
    t0 = time.perf_counter()
    sim = serving.simulate(ctx=ctx, tp=4, input_len=1000, output_len=300, rate=0.8 * mx.requests_per_s, num_requests=1000, seed=0)
    des = time.perf_counter() - t0
    print(f"discrete-event simulation: 1,000 Poisson requests, {sim.steps:,} scheduler steps in {des * 1e3:.0f} ms")
    # an 8k-prompt case on an engine that does not chunk prompts (goal: under 1 s)
    for engine in ("trtllm", "vllm"):
        ctx8 = serving.context("Llama-3.1-8B", "H100", quant="fp8", engine=engine, catalog=cat)
        mx8 = serving.estimate("Llama-3.1-8B", "H100", quant="fp8", engine=engine, input_len=8192, output_len=256, catalog=cat)
        t0 = time.perf_counter()
        sim8 = serving.simulate(ctx=ctx8, input_len=8192, output_len=256, rate=0.5 * mx8.requests_per_s, num_requests=1000, seed=0, warmup=0.1)
        des8 = time.perf_counter() - t0
        print(f"discrete-event simulation, Llama-3.1-8B on H100 ({engine}), 8,192-token prompts, 1,000 requests at half capacity: "
              f"{sim8.steps:,} steps in {des8 * 1e3:.0f} ms (goal < 1,000 ms); mean TTFT {sim8.ttft_s.mean:.3f} s")

    from deployscope import validate

    t0 = time.perf_counter()
    rep = validate.run(catalog=cat)
    print(f"deployscope validate (shipped data, {rep['rows']:,} rows, {rep['predicted']:,} predicted): {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
