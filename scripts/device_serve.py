"""Serve Poisson arrivals on the local GPU with a minimal continuous-batching engine, and record
every request's time to first token and finish, beside the engine's step times measured alone.

The engine is scripts/device_forward.py's plain PyTorch decoder (random weights) under one of the
two policies deployscope's discrete-event simulation (`physics.simulation.simulate`) models for an
engine that does not chunk prompts:

- requests are admitted first come, first served while fewer than --max-batch are running;
- `prefill-first`: a step that has waiting prompts prefills as many whole prompts as fit in
  --step-tokens, and the running decodes wait; otherwise it decodes one token for every running
  sequence;
- `mixed`: every step decodes one token for every running sequence and, in the same pass (one GEMM
  over all rows), prefills as many waiting whole prompts as fit in --step-tokens less the decodes;
- a prompt emits its first token at the end of its step; a request is done after its last token
  (--output-len in all, the first included).

Every step is a CUDA graph (decode rows padded up to the next captured batch size; every sequence
attends to a cache of prompt + output tokens), replayed and synchronised as an engine samples.
Before serving, each graph's step time is measured alone the same way: those times are what a
simulation is given, and the served runs are what it must reproduce. Writes OUT/serve.json.

Usage: python scripts/device_serve.py --out DIR [--policy prefill-first|mixed] [--rates 10,25,40]
       [--requests 300] [--model ID]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import device_forward as fwd  # noqa: E402

BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def bucket(n: int) -> int:
    return next(b for b in BUCKETS if b >= n)


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def step_time(step, dev: torch.device, repeats: int = 20) -> float:  # noqa: ANN001
    """Median wall time of one step, replayed and synchronised as the serving loop does."""
    times = []
    for _ in range(repeats + 2):
        t0 = time.perf_counter()
        step()
        sync(dev)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[2:])


def serve(graphs: dict[str, dict], policy: str, arrival: list[float], input_len: int, output_len: int, max_batch: int,
          step_tokens: int, dev: torch.device) -> dict[str, object]:
    """Run the requests (arrival times in s from the start) and return each one's first-token and done times."""
    n = len(arrival)
    first = [float("nan")] * n
    done = [float("nan")] * n
    waiting: list[int] = []  # admitted, prompt not yet run
    left: dict[int, int] = {}  # running sequence -> tokens still to emit
    next_i = 0
    steps = {"prefill": 0, "decode": 0, "mixed": 0}
    t0 = time.perf_counter()
    while next_i < n or waiting or left:
        now = time.perf_counter() - t0
        while next_i < n and arrival[next_i] <= now and len(waiting) + len(left) < max_batch:
            waiting.append(next_i)
            next_i += 1
        if not waiting and not left:  # idle until the next arrival
            while time.perf_counter() - t0 < arrival[next_i]:
                pass
            continue
        d = len(left)
        if policy == "mixed" and d:
            take = waiting[:max(0, (step_tokens - d) // input_len)]
        elif waiting:
            take = waiting[:max(1, step_tokens // input_len)]
        else:
            take = []
        kind = "mixed" if (take and d and policy == "mixed") else "prefill" if take else "decode"
        key = f"{bucket(d)},{len(take)}" if kind == "mixed" else len(take) if kind == "prefill" else bucket(d)
        graphs[kind][key]()
        sync(dev)
        t = time.perf_counter() - t0
        steps[kind] += 1
        if kind != "prefill":  # every running sequence emits a token
            for j in list(left):
                left[j] -= 1
                if left[j] == 0:
                    done[j] = t
                    del left[j]
        waiting = waiting[len(take):]
        for j in take:
            first[j] = t
            if output_len <= 1:
                done[j] = t
            else:
                left[j] = output_len - 1
    return {"first": first, "done": done, "steps": steps}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", default="meta-llama/Llama-3.1-8B-Instruct")
    ap.add_argument("--format", default="bf16", choices=("bf16", "fp8"))
    ap.add_argument("--policy", default="prefill-first", choices=("prefill-first", "mixed"))
    ap.add_argument("--input-len", type=int, default=512)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--step-tokens", type=int, default=2048)
    ap.add_argument("--rates", default="10,25,40", help="requests/s, comma-separated: one run each")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tiny", action="store_true", help="tiny shapes and few requests: a check of the code on a CPU")
    args = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    shape = fwd.catalog_shape(args.model)
    if args.tiny:
        shape = fwd.tiny(shape)
    net = fwd.Decoder(shape, args.format, dev)
    ctx = args.input_len + args.output_len
    per_step = max(1, args.step_tokens // args.input_len)
    top = bucket(args.max_batch)
    caches = net.new_caches(top, ctx)  # one set, its first rows for each batch size
    graphs: dict[str, dict] = {
        "prefill": {n: fwd.captured(net.prefill_fn(args.input_len, seqs=n), dev) for n in range(1, per_step + 1)},
        "decode": {b: fwd.captured(net.decode_fn(b, ctx, caches)[0], dev) for b in BUCKETS if b <= top},
        "mixed": {},
    }
    if args.policy == "mixed":
        graphs["mixed"] = {f"{b},{n}": fwd.captured(net.mixed_fn(b, ctx, n, args.input_len, caches), dev)
                           for b in BUCKETS if b <= top for n in range(1, per_step + 1)
                           if n * args.input_len <= args.step_tokens - min(b, args.max_batch)}
    alone = {kind: {str(k): step_time(g, dev) for k, g in table.items()} for kind, table in graphs.items()}
    print(json.dumps(alone), flush=True)
    runs = []
    for rate in (float(r) for r in args.rates.split(",")):
        # the simulation draws its arrivals the same way from the same seed
        arrival = np.cumsum(np.random.default_rng(args.seed).exponential(1.0 / rate, args.requests)).tolist()
        got = serve(graphs, args.policy, arrival, args.input_len, args.output_len, args.max_batch, args.step_tokens, dev)
        ttft = [f - a for f, a in zip(got["first"], arrival)]
        print(json.dumps({"rate": rate, "mean_ttft_s": statistics.fmean(ttft), "steps": got["steps"]}), flush=True)
        runs.append({"rate": rate, "seed": args.seed, "arrival": arrival, **got})
    info = {"torch": torch.__version__, "name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "tiny": args.tiny}
    out = {"model": args.model, "format": args.format, "policy": args.policy, "input_len": args.input_len, "output_len": args.output_len,
           "max_batch": args.max_batch, "step_tokens": args.step_tokens, "context": ctx, "machine": info,
           "step_time_alone_s": alone, "runs": runs}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serve.json").write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
