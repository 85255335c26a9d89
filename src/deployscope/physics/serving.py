"""Serving capacity and latency of a deployment under continuous (in-flight) batching.

The public face of the serving model. A :class:`Deployment` (model, GPU, format, tp/pp/ep,
engine) and a :class:`Load` (token lengths, rate or concurrency) go in; a :class:`PerfResult`
comes out of :func:`evaluate`, and :func:`capacity` finds the highest rate meeting
:class:`LatencyTargets`. `perf`, `plan` and `validate` all call these. The concerns behind it:

* :mod:`.serving_context` resolves catalog rows once (:class:`Context`) and the memory budget;
* :mod:`.batching` is the mean-field model of one replica (vectorized for sweeps): steady state,
  KV-capped batch, the rate operating point, static batches, the parallelism choice;
* :mod:`.slo` is the SLO capacity search;
* :mod:`.simulation` is the discrete-event simulation, for latency percentiles.

Load modes: ``max-throughput`` (the largest batch that fits), a fixed ``concurrency`` (closed
loop) or a request ``rate`` (open loop, Poisson). Encoder-only models are prefill-only.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DeployscopeError
from . import llm
from . import memory as mm
from .batching import (
    batch_at_rate,
    batch_meeting_tpot,
    choose_parallelism,
    max_batch,
    max_throughput_points,
    rate_point,
    static_batch,
    steady_state,
    ttft_percentiles,
)
from .perf_types import (
    Deployment,
    ErrorBand,
    LatencyTargets,
    Load,
    Percentiles,
    PerfErrorBand,
    PerfResult,
    SimResult,
    Speculative,
)
from .serving_context import Context, context, for_deployment, memory_budget
from .simulation import simulate
from .slo import against_targets, max_rate, tpot_limit

__all__ = [
    "Context", "Deployment", "ErrorBand", "LatencyTargets", "Load", "PerfErrorBand", "PerfResult", "Percentiles",
    "SimResult", "Speculative", "batch_at_rate", "batch_meeting_tpot", "capacity", "capacity_meeting_slo",
    "choose_parallelism", "context", "estimate", "evaluate", "for_deployment", "max_batch", "max_rate",
    "max_throughput_points", "memory_budget", "rate_point", "simulate", "static_batch", "steady_state",
    "ttft_percentiles",
]

GIB = 2**30
# `perf --simulate` estimates the steady state: the first tenth of the simulated requests warm
# the engine up and are not counted (an ASSUMPTION: a tenth covers the fill-up of the batch)
SIM_WARMUP = 0.1


# ----------------------------------------------------------------------------------------------
# input checks: every bad input is a DeployscopeError naming the field
# ----------------------------------------------------------------------------------------------


def _check_parallel(ctx: Context, gpus, tp: int, pp: int, ep: int) -> tuple[int, int]:
    for name, v in (("tp", tp), ("pp", pp), ("ep", ep)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise DeployscopeError(f"{name} must be a positive integer", field=name, value=v)
    t = ctx.model.transformer
    if t.num_attention_heads % tp:
        raise DeployscopeError(
            f"tensor parallelism {tp} does not divide the model's {t.num_attention_heads} attention heads",
            field="tp",
            value=tp,
            allowed=[d for d in (1, 2, 4, 8, 16, 32, 64) if t.num_attention_heads % d == 0],
        )
    if pp > t.num_layers:
        raise DeployscopeError(f"pipeline parallelism {pp} exceeds the model's {t.num_layers} layers", field="pp", value=pp)
    if ep > 1:
        if t.moe is None:
            raise DeployscopeError("expert parallelism needs a mixture-of-experts model", field="ep", value=ep, allowed="1")
        if t.moe.num_experts % ep:
            raise DeployscopeError(f"ep {ep} does not divide the {t.moe.num_experts} experts", field="ep", value=ep)
        if ep % tp and tp % ep:
            raise DeployscopeError("ep must divide tp or be a multiple of it", field="ep", value=ep)
    per_replica = pp * max(tp, ep)
    if gpus is None:
        gpus = per_replica
    if not isinstance(gpus, (int, np.integer)) or gpus < 1:
        raise DeployscopeError("gpus must be a positive integer", field="gpus", value=gpus)
    if gpus % per_replica:
        raise DeployscopeError(
            f"{gpus} GPUs do not split into replicas of tp x pp x ep-groups = {per_replica} GPUs",
            field="gpus",
            value=gpus,
            allowed=f"a multiple of {per_replica}",
        )
    return int(gpus), int(gpus // per_replica)


def _check_lengths(input_len, output_len, encoder: bool) -> None:  # noqa: ANN001
    for name, v, lo in (("input_len", input_len, 1), ("output_len", output_len, 0 if encoder else 1)):
        try:
            ok = v is not None and float(v) >= lo and math.isfinite(float(v))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise DeployscopeError(f"{name} must be a number >= {lo}", field=name, value=v)


def _fit_or_raise(ctx: Context, tp: int, pp: int, ep: int, I: float, O: float) -> dict[str, float]:
    mb = memory_budget(ctx, tp, pp, ep)
    out = {k: float(np.asarray(v)) for k, v in mb.items()}
    need_seq = (I + (0 if ctx.shape.encoder_only else O)) * out["kv_bytes_per_token_per_gpu"]
    if out["kv_capacity_tokens"] < I + (0 if ctx.shape.encoder_only else O):
        needed = out["weights_per_gpu_bytes"] + out["reserve_bytes"] + need_seq
        raise DeployscopeError(
            f"{ctx.model.id} ({ctx.shape.quant} weights, {ctx.shape.kv_quant} KV) does not fit on {ctx.gpu.id} with "
            f"tp={tp} pp={pp} ep={ep} under {ctx.engine.id}: needs about {needed / GIB:,.1f} GiB per GPU "
            f"(weights {out['weights_per_gpu_bytes'] / GIB:,.1f} GiB + engine reserve {out['reserve_bytes'] / GIB:,.1f} GiB "
            f"+ KV for one {int(I + O)}-token sequence {need_seq / GIB:,.2f} GiB) but the engine may use "
            f"{float(np.max(mm.utilization_for(ctx.engine, float(out['gpu_memory_bytes']), tp, pp))):.0%} of "
            f"{out['gpu_memory_bytes'] / GIB:,.1f} GiB; use more GPUs "
            "(--tp/--pp), a smaller --quant, or a bigger GPU",
            field="model",
            value=ctx.model.id,
            constraint="memory",
        )
    return out




def _check_load(ctx: Context, load: Load) -> None:
    _check_lengths(load.input_len, load.output_len, ctx.shape.encoder_only)
    if load.concurrency is not None and load.rate is not None:
        raise DeployscopeError("give at most one of concurrency and rate", field="load", value="concurrency+rate")
    if load.concurrency is not None and not load.concurrency > 0:
        raise DeployscopeError("concurrency must be > 0", field="concurrency", value=load.concurrency)
    if load.rate is not None and not load.rate > 0:
        raise DeployscopeError("rate must be > 0 requests/s", field="rate", value=load.rate)
    if load.tpot_limit_s is not None and not (
        isinstance(load.tpot_limit_s, (int, float)) and 0 < load.tpot_limit_s and math.isfinite(load.tpot_limit_s)
    ):
        raise DeployscopeError("the TPOT limit must be a finite number of seconds > 0", field="tpot_limit", value=load.tpot_limit_s)
    if not 0.0 <= load.prefix_cache_hit_rate < 1.0:
        raise DeployscopeError("prefix_cache_hit_rate must be in [0, 1)", field="prefix_cache_hit_rate", value=load.prefix_cache_hit_rate)
    sp = load.speculative
    if sp is not None:
        try:
            good = int(sp.draft_tokens) >= 1 and 0 <= float(sp.acceptance) <= 1 and 0 <= float(sp.draft_cost) <= 10
        except (TypeError, ValueError):
            good = False
        if not good:
            raise DeployscopeError("speculative needs draft_tokens >= 1 and acceptance in [0, 1]", field="speculative", value=sp.as_dict())
    limit = ctx.model.transformer.max_context
    if float(load.input_len) + (0.0 if ctx.shape.encoder_only else float(load.output_len)) > limit:
        raise DeployscopeError(
            f"input_len + output_len = {float(load.input_len) + float(load.output_len):,.0f} tokens exceeds {ctx.model.id}'s "
            f"context window of {limit:,} tokens",
            field="input_len",
            value=load.input_len,
            allowed=f"input_len + output_len <= {limit}",
        )


def _batch_cap(ctx: Context, dep: Deployment, I: float, O: float, kv_tokens: float) -> float:
    """The scheduler cap of one replica: KV capacity and the engine's batch cap, which the
    deployment's own ``max_batch_size`` (vLLM --max-num-seqs) replaces when given."""
    b = float(max_batch(ctx, I, O, tp=dep.tp, pp=dep.pp, ep=dep.ep, kv_tokens=kv_tokens))
    if dep.max_batch_size is not None:
        if not isinstance(dep.max_batch_size, (int, np.integer)) or dep.max_batch_size < 1:
            raise DeployscopeError("max_batch_size must be a positive integer", field="max_batch_size", value=dep.max_batch_size)
        kv_only = float(max_batch(ctx, I, O, tp=dep.tp, pp=dep.pp, ep=dep.ep, kv_tokens=kv_tokens, engine_cap=False))
        b = min(kv_only, float(dep.max_batch_size))
    return b


def evaluate(
    dep: Deployment,
    load: Load,
    *,
    catalog=None,  # noqa: ANN001
    simulate_requests: int | None = None,
    ctx: Context | None = None,
) -> PerfResult:
    """Throughput and latency of a deployment at one load (max-throughput unless the load gives
    a concurrency or a rate, both for the whole deployment).

    `simulate_requests` (rate or concurrency mode): take the TTFT/TPOT percentiles from a
    discrete-event simulation of that many requests on one replica (seed 0) instead of the
    analytical approximations. `ctx` reuses resolved catalog rows (a sweep, or validate with
    its fitted figures).
    """
    if ctx is None:
        ctx = for_deployment(dep, catalog)
    _check_load(ctx, load)
    tp, pp, ep = dep.tp, dep.pp, dep.ep
    gpus, replicas = _check_parallel(ctx, dep.gpus, tp, pp, ep)
    I = float(load.input_len)
    O = 0.0 if ctx.shape.encoder_only else float(load.output_len)
    spec = load.speculative.as_dict() if load.speculative is not None else None
    mem = _fit_or_raise(ctx, tp, pp, ep, I, O)
    b_max = _batch_cap(ctx, dep, I, O, mem["kv_capacity_tokens"])
    kw = dict(tp=tp, pp=pp, ep=ep, prefix_hit=load.prefix_cache_hit_rate, spec=spec)
    mode = load.mode
    saturated = False
    if mode == "max-throughput":
        B = b_max
        s = steady_state(ctx, B, I, O, **kw)
        ttft = ttft_percentiles(float(s["ttft_service"]), float(s["cycle"]), 0.0)
        req_rep = float(s["requests_per_s"])
    elif mode == "concurrency":
        per = float(load.concurrency) / replicas  # type: ignore[arg-type]
        B = min(per, b_max)
        s = steady_state(ctx, B, I, O, **kw)
        req_rep = float(s["requests_per_s"])
        wait = max(per - B, 0.0) / req_rep if req_rep > 0 else 0.0
        ttft = ttft_percentiles(float(s["ttft_service"]), float(s["cycle"]), wait)
    else:
        lam = float(load.rate) / replicas  # type: ignore[arg-type]
        r = rate_point(ctx, np.array([lam]), I, O, b_max=b_max, tpot_limit=load.tpot_limit_s, **kw)
        saturated = bool(r["saturated"][0])
        if saturated:  # queues grow without bound: the saturated point, no TTFT
            B = b_max
            s = steady_state(ctx, B, I, O, **kw)
            ttft = Percentiles.flat(None)
            req_rep = float(s["requests_per_s"])
        else:
            B = float(r["batch"][0])
            s = {"cycle": r["cycle"][0], "tpot": r["tpot"][0], "step": r["step"]}
            ttft = Percentiles(mean=float(r["ttft_mean"][0]), p50=float(r["ttft_p50"][0]), p90=float(r["ttft_p90"][0]),
                               p99=float(r["ttft_p99"][0]))
            req_rep = lam
    cycle = float(np.asarray(s["cycle"]).reshape(-1)[0])
    tpot = Percentiles.flat(None if ctx.shape.encoder_only else float(np.asarray(s["tpot"]).reshape(-1)[0]))
    sim_info = None
    if simulate_requests is not None and mode in ("rate", "concurrency"):
        ttft, tpot, sim_info = _simulated(ctx, dep, load, replicas, I, O, simulate_requests, ttft, tpot)
    tok_rep = req_rep * O if not ctx.shape.encoder_only else 0.0
    bound = str(np.asarray(llm.bound_of(s["step"])).reshape(-1)[0])
    from .calibration import error_bands, held_out_biases

    by = error_bands(ctx.engine.id)
    main = by.get("throughput") or next(iter(by.values()))
    bias = held_out_biases(ctx.engine.id, ctx.gpu.family, ctx.shape.quant)
    return PerfResult(
        model=ctx.model.id, gpu=ctx.gpu.id, engine=ctx.engine.id, quant=ctx.shape.quant, kv_quant=ctx.shape.kv_quant,
        gpus=gpus, tp=tp, pp=pp, ep=ep, gpus_per_replica=gpus // replicas, replicas=replicas, input_len=I, output_len=O,
        load_mode=mode, concurrency=load.concurrency, rate=load.rate,
        output_tokens_per_s=tok_rep * replicas,
        output_tokens_per_s_per_gpu=tok_rep * replicas / gpus,
        total_tokens_per_s=req_rep * (I + O) * replicas,
        requests_per_s=req_rep * replicas,
        ttft_s=ttft, tpot_s=tpot, batch_size=float(B), max_batch_size=b_max,
        kv_capacity_tokens=mem["kv_capacity_tokens"], saturated=saturated,
        bound=bound,  # type: ignore[arg-type]
        step_time_s=cycle,
        error_band=PerfErrorBand(**main.model_dump(), by_metric=by, held_out_bias=bias),
        memory={
            "weights_per_gpu_bytes": mem["weights_per_gpu_bytes"],
            "kv_bytes_per_gpu": mem["kv_bytes_per_gpu"],
            "engine_reserve_bytes": mem["reserve_bytes"],
            "gpu_memory_bytes": mem["gpu_memory_bytes"],
        },
        provenance={
            **ctx.provenance,
            "prefix_cache_hit_rate": load.prefix_cache_hit_rate,
            "speculative": spec,
            "latency_percentiles": "discrete-event simulation" if sim_info else "analytical",
            "simulation": sim_info,
        },
    )


def _simulated(ctx, dep, load, replicas, I, O, n, ttft, tpot):  # noqa: ANN001, ANN202
    if not isinstance(n, (int, np.integer)) or not 1 <= n <= 1_000_000:
        raise DeployscopeError("simulate_requests must be an integer from 1 to 1,000,000", field="simulate", value=n)
    if load.speculative is not None or load.prefix_cache_hit_rate:
        raise DeployscopeError(
            "the simulation does not model speculative decoding or prefix caching; drop --simulate or those options",
            field="simulate",
            value=n,
        )
    sim = simulate(
        ctx=ctx, tp=dep.tp, pp=dep.pp, ep=dep.ep,
        input_len=load.input_lens if load.input_lens is not None else I,
        output_len=load.output_lens if load.output_lens is not None else (O if O else 0.0),
        rate=(float(load.rate) / replicas) if load.rate is not None else None,
        concurrency=max(1, int(round(float(load.concurrency) / replicas))) if load.concurrency is not None else None,
        num_requests=int(n), seed=0, warmup=SIM_WARMUP,
    )
    info = {"requests": sim.requests, "counted_requests": sim.counted_requests, "warmup_fraction": SIM_WARMUP,
            "duration_s": sim.duration_s, "output_tokens_per_s_per_replica": sim.output_tokens_per_s,
            "mean_batch": sim.mean_batch, "seed": 0}
    return sim.ttft_s, (tpot if ctx.shape.encoder_only else sim.tpot_s), info


def capacity(dep: Deployment, load: Load, targets: LatencyTargets, *, catalog=None, ctx: Context | None = None) -> PerfResult:  # noqa: ANN001
    """The highest request rate the deployment sustains with the latency targets met (analytical path).

    Raises DeployscopeError when even a trickle of load misses a target (the model is too slow on
    this hardware for the SLO). The result's ``load_mode`` is ``slo`` and ``rate`` the capacity.
    """
    load = load.replace(rate=None, concurrency=None)
    if ctx is None:  # resolved once for the three evaluations below
        ctx = for_deployment(dep, catalog)
    base = evaluate(dep, load, catalog=catalog, ctx=ctx)  # validates everything, and the max-throughput point
    I, O = float(load.input_len), (0.0 if ctx.shape.encoder_only else float(load.output_len))
    spec = load.speculative.as_dict() if load.speculative is not None else None
    lam = max_rate(ctx, I, O, targets, tp=dep.tp, pp=dep.pp, ep=dep.ep, b_max=base.max_batch_size,
                   prefix_hit=load.prefix_cache_hit_rate, spec=spec)
    reps = base.replicas
    if lam is None:
        trickle = rate_point(ctx, np.array([1e-4 * base.requests_per_s / reps]), I, O, tp=dep.tp, pp=dep.pp, ep=dep.ep,
                             b_max=base.max_batch_size, tpot_limit=tpot_limit(targets), prefix_hit=load.prefix_cache_hit_rate, spec=spec)
        raise DeployscopeError(
            f"no load meets the latency targets: even a trickle of requests sees "
            f"{against_targets(trickle, targets, encoder_only=ctx.shape.encoder_only)}",
            field="slo",
            value=targets.as_dict(),
            constraint="latency",
        )
    best = evaluate(dep, load.replace(rate=lam * reps, tpot_limit_s=tpot_limit(targets)), ctx=ctx)
    return best.model_copy(update={"load_mode": "slo"})


# ----------------------------------------------------------------------------------------------
# keyword forms, for callers not yet on Deployment / Load
# ----------------------------------------------------------------------------------------------


def _split(model: str, gpu: str, kw: dict) -> tuple[Deployment, Load]:  # noqa: ANN001
    spec = kw.pop("speculative", None)
    if isinstance(spec, dict):
        spec = Speculative(draft_tokens=spec.get("draft_tokens"), acceptance=spec.get("acceptance"),  # type: ignore[arg-type]
                           draft_cost=spec.get("draft_cost", 0.0))
    dep = Deployment(model=model, gpu=gpu, **{k: kw.pop(k) for k in list(kw) if k in _DEP_FIELDS})
    load = Load(speculative=spec, **{k: kw.pop(k) for k in list(kw) if k in _LOAD_FIELDS})
    if kw:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(kw))}")
    return dep, load


_DEP_FIELDS = {"gpus", "tp", "pp", "ep", "quant", "kv_quant", "engine", "calibration", "max_batch_size", "engine_version"}
_LOAD_FIELDS = {"input_len", "output_len", "rate", "concurrency", "prefix_cache_hit_rate", "tpot_limit_s"}


def estimate(model: str, gpu: str, *, catalog=None, simulate_requests: int | None = None, **kw) -> PerfResult:  # noqa: ANN001, ANN003
    """:func:`evaluate` with the deployment and the load as keywords (fields of :class:`Deployment`
    and :class:`Load`; ``speculative`` may be a dict)."""
    dep, load = _split(model, gpu, dict(kw))
    return evaluate(dep, load, catalog=catalog, simulate_requests=simulate_requests)


def capacity_meeting_slo(model: str, gpu: str, *, catalog=None, ttft_p95_s=None, tpot_p95_s=None, ttft_p99_s=None,  # noqa: ANN001
                         tpot_p99_s=None, **kw) -> PerfResult:  # noqa: ANN001, ANN003
    """:func:`capacity` with the deployment, the load and the targets as keywords."""
    dep, load = _split(model, gpu, dict(kw))
    targets = LatencyTargets(ttft_p95_s=ttft_p95_s, tpot_p95_s=tpot_p95_s, ttft_p99_s=ttft_p99_s, tpot_p99_s=tpot_p99_s)
    return capacity(dep, load, targets, catalog=catalog)
