"""A served load on a lent GPU (``validation/G_device_serving.json``) against the simulation.

`scripts/device_serve.py` served Poisson arrivals with a minimal continuous-batching engine (the
plain PyTorch decoder of `scripts/device_forward.py`, random weights) and recorded every request's
first token and finish, and beside them each step's time measured alone. Two predictions of each
run are set against what was measured (JSON key ``device_serving`` of `deployscope validate`):

- ``scheduler``: `physics.simulation.simulate` given the measured step times. The arrivals are the
  same draw (same seed and rate), so this isolates the simulation's queueing and batching.
- ``physics``: the same simulation with the physics' own step times for the model on that GPU
  (TensorRT-LLM's fitted efficiencies and fixed costs): step-time error and queueing together.

Both run the engine's policy for that run: first come first served up to ``max_batch``
sequences, whole prompts (no chunking) up to ``step_tokens`` a step, and either the decodes wait
for a prefill (``prefill-first``) or share its step (``mixed``).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..physics import serving, simulation
from .device_rows import ENGINE
from .files import VALIDATION_DIR

SERVING_FILE = VALIDATION_DIR / "G_device_serving.json"


def load(path: Path = SERVING_FILE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def engine_context(data: dict[str, Any], catalog: Any, policy: str = "prefill-first") -> serving.Context:
    """The model on the GPU with the served engine's policy (``prefill-first`` or ``mixed``) and no
    per-request host time."""
    ctx = serving.context(data["model"], data["hardware"], quant=data["format"], kv_quant="bf16", engine=ENGINE, catalog=catalog)
    perf = ctx.engine.perf.model_copy(update={
        "max_batch_size": int(data["max_batch"]), "max_num_tokens": int(data["step_tokens"]), "chunked_prefill": False,
        "mixed_prefill": policy == "mixed", "kv_reservation": "full", "admission_interval_steps": 1})
    return replace(ctx, engine=ctx.engine.model_copy(update={"perf": perf}), hw=replace(ctx.hw, request_overhead_s=0.0))


def measured_step_fn(alone: dict[str, dict[str, float]], input_len: float) -> Any:
    """The engine's steps as measured alone in the run's session: a prefill of n whole prompts, or
    a decode padded up to the next captured batch size (the engine replays the graph of that size)."""
    prefill = {int(k): float(v) for k, v in alone["prefill"].items()}
    decode = {int(k): float(v) for k, v in alone["decode"].items()}
    mixed = {tuple(int(x) for x in k.split(",")): float(v) for k, v in alone.get("mixed", {}).items()}
    prompt = float(input_len)

    sizes = sorted(decode)  # the batch sizes the engine captured

    def step(d: float, p: float, _dec_ctx: float, _pre_ctx: float, _seqs: float) -> float:
        rows = next(b for b in sizes if b >= d) if d > 0 else 0
        prompts = max(1, round(p / prompt)) if p > 0 else 0
        if rows and prompts:
            return mixed[(rows, prompts)]
        return prefill[prompts] if prompts else decode[rows]

    return step


def _figures(arrival: np.ndarray, first: np.ndarray, done: np.ndarray, output_len: int) -> dict[str, float]:
    ttft = first - arrival
    tpot = (done - first) / max(output_len - 1, 1)
    span = float(done.max() - arrival.min())
    return {"mean_ttft_s": float(ttft.mean()), "p50_ttft_s": float(np.percentile(ttft, 50)),
            "p90_ttft_s": float(np.percentile(ttft, 90)), "p99_ttft_s": float(np.percentile(ttft, 99)),
            "mean_tpot_s": float(tpot.mean()), "requests_per_s": len(arrival) / span}


def _simulate(data: dict[str, Any], run: dict[str, Any], ctx: serving.Context, step_fn: Any = None) -> dict[str, Any]:
    """The run's arrivals (the same draw: rate and seed) through the simulation, its figures as measured ones'."""
    n = len(run["arrival"])
    r = simulation.simulate(input_len=float(data["input_len"]), output_len=float(data["output_len"]), rate=float(run["rate"]),
                            num_requests=n, seed=int(run["seed"]), ctx=ctx, step_fn=step_fn)
    return {"mean_ttft_s": r.ttft_s.mean, "p50_ttft_s": r.ttft_s.p50, "p90_ttft_s": r.ttft_s.p90, "p99_ttft_s": r.ttft_s.p99,
            "mean_tpot_s": r.tpot_s.mean, "requests_per_s": n / r.duration_s if r.duration_s else math.nan}


def score(path: Path = SERVING_FILE, catalog: Any = None) -> dict[str, Any]:
    """Each served run: measured figures, the two predictions and predicted / measured."""
    from ..catalog import default_catalog

    cat = default_catalog(catalog)
    data = load(path)
    contexts = {policy: engine_context(data, cat, policy) for policy in {run["policy"] for run in data["runs"]}}
    runs = []
    for run in data["runs"]:
        arrival = np.asarray(run["arrival"], dtype=float)
        n = len(arrival)
        measured = _figures(arrival, np.asarray(run["first"], dtype=float), np.asarray(run["done"], dtype=float),
                            int(data["output_len"]))
        ctx = contexts[run["policy"]]
        predicted = {"scheduler": _simulate(data, run, ctx, measured_step_fn(run["step_time_alone_s"], data["input_len"])),
                     "physics": _simulate(data, run, ctx)}
        ratios = {name: {k: (p[k] / measured[k] if p[k] is not None else None) for k in measured} for name, p in predicted.items()}
        runs.append({"rate": float(run["rate"]), "policy": run["policy"], "session": run["session"], "requests": n,
                     "measured": measured,
                     "predicted": predicted,
                     "predicted_over_measured": ratios})
    return {"file": path.name, "source": data["source"], "model": data["model"], "hardware": data["hardware"],
            "format": data["format"], "input_len": data["input_len"], "output_len": data["output_len"],
            "max_batch": data["max_batch"], "step_tokens": data["step_tokens"], "runs": runs}
