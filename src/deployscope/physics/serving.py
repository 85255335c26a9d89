"""Serving capacity and latency under continuous (in-flight) batching.

Two paths share one step-cost model (:mod:`deployscope.physics.llm`):

* an **analytical mean-field path**, numpy-vectorized for sweeps: ``B`` sequences share every
  step; each request's ``O`` output tokens take ``O`` steps, the first of which also prefills its
  ``I`` prompt tokens, so an average step carries ``B (O-1)/O`` decode tokens reading ``I + O/2``
  tokens of KV each, and ``B I / O`` prefill tokens (chunked prefill spreads them; without
  chunking the work is the same, only the per-step jitter grows). Throughput = ``B`` tokens per
  step cycle. The KV cache caps ``B``: ``capacity / (I + O)`` when the engine reserves a
  sequence's final length up front (TensorRT-LLM), ``capacity / (I + O/2)`` when it allocates
  pages as tokens arrive (vLLM, SGLang). The engine's ``max_batch_size`` caps it too.
* a **discrete-event simulation** (:func:`simulate`) that steps the scheduler request by request
  under Poisson (or all-at-once) arrivals, for latency percentiles.

Load modes: ``max-throughput`` (the largest batch that fits), a fixed ``concurrency`` (closed
loop) or a request ``rate`` (open loop, Poisson). Encoder-only models are prefill-only.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..catalog.error_bands import ErrorBand
from ..catalog.loader import default_catalog
from ..errors import DeployscopeError
from . import llm

GIB = 2**30


# ----------------------------------------------------------------------------------------------
# result types
# ----------------------------------------------------------------------------------------------


class Percentiles(BaseModel):
    model_config = ConfigDict(frozen=True)
    mean: float | None
    p50: float | None
    p90: float | None
    p99: float | None


class PerfErrorBand(ErrorBand):
    """The band on the central figure (throughput), with the bands of the latency metrics."""

    by_metric: dict[str, ErrorBand] = Field(default_factory=dict, description="throughput, ttft and tpot bands")


class PerfResult(BaseModel):
    """One operating point of one deployment; ``model_dump()`` is the `perf --json` document."""

    model_config = ConfigDict(frozen=True)

    model: str
    gpu: str
    engine: str
    quant: str
    kv_quant: str
    gpus: int
    tp: int
    pp: int
    ep: int
    gpus_per_replica: int
    replicas: int
    input_len: float
    output_len: float
    load_mode: Literal["max-throughput", "concurrency", "rate", "slo"]
    concurrency: float | None = None
    rate: float | None = None
    output_tokens_per_s: float
    output_tokens_per_s_per_gpu: float
    total_tokens_per_s: float
    requests_per_s: float
    ttft_s: Percentiles
    tpot_s: Percentiles
    batch_size: float = Field(description="sequences in flight per replica")
    max_batch_size: float = Field(description="the most sequences a replica can hold (KV capacity, engine cap)")
    kv_capacity_tokens: float = Field(description="KV-cache tokens per replica")
    saturated: bool = Field(description="the offered load exceeds capacity (rate mode): queues grow without bound")
    bound: Literal["compute", "memory", "communication"]
    step_time_s: float
    error_band: PerfErrorBand = Field(
        description="low/high multipliers on output_tokens_per_s from held-out validation rows; by_metric adds TTFT and TPOT"
    )
    memory: dict[str, float]
    provenance: dict[str, Any]


# ----------------------------------------------------------------------------------------------
# the evaluation context: catalog rows resolved once
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    shape: llm.ModelShape
    hw: llm.Hardware
    engine: Any  # catalog Engine row
    gpu: Any  # catalog Accelerator row
    model: Any  # catalog ModelSpec row
    provenance: dict[str, Any] = field(default_factory=dict)
    quant_row: Any = None
    kv_row: Any = None
    mem_shape: Any = None  # physics.memory.ModelShape


def context(
    model: str,
    gpu: str,
    *,
    quant: str = "bf16",
    kv_quant: str | None = None,
    engine: str = "vllm",
    calibration: str | dict | None = None,
    catalog=None,  # noqa: ANN001
) -> Context:
    """Resolve catalog rows and build the model shape and the calibrated hardware."""
    from ..catalog.efficiency import lookup
    from .calibration import apply_calibration

    cat = default_catalog(catalog)
    m = cat.models.get(model, field="model")
    g = cat.accelerators.get(gpu, field="gpu")
    q = cat.quant.get(quant, field="quant")
    if kv_quant is None:
        kvq = cat.quant.get("fp8") if (q.kv_cache and (q.kv_bits or 16) < 16) else cat.quant.get(_sixteen(m.native_dtype))
    else:
        kvq = cat.quant.get(kv_quant, field="kv_quant")
        if not kvq.kv_cache:
            raise DeployscopeError(
                f"{kvq.id!r} is not a KV-cache format",
                field="kv_quant",
                value=kv_quant,
                allowed=[r.id for r in cat.quant if r.kv_cache],
            )
    e = cat.engines.get(engine, field="engine")
    if g.device_type not in e.devices:
        raise DeployscopeError(
            f"engine {e.id!r} does not run on a {g.device_type}", field="engine", value=engine, allowed=list(e.devices)
        )
    shape = llm.model_shape(m, q, kvq)
    if shape.sliding_layers and not e.perf.sliding_window_attention:
        # the engine gives sliding-window layers the full context (TensorRT-LLM's default
        # max_attention_window = max_seq_len): cost them as full-attention layers
        shape = dataclasses.replace(shape, full_layers=shape.full_layers + shape.sliding_layers, sliding_layers=0)
    eff = lookup(cat.efficiency, g.family, e.id)
    hw = llm.hardware(g, shape, eff, e.perf)
    hw, cal_info = apply_calibration(hw, calibration, engine=e.id, family=g.family)
    prov = {
        "catalog_rows": {
            "model": m.id,
            "gpu": g.id,
            "quant": q.id,
            "kv_quant": kvq.id,
            "engine": e.id,
            "efficiency": eff.id,
        },
        "efficiency": {
            "row": eff.id,
            "fitted_on": list(eff.fitted_on),
            "fitted_by": eff.fitted_by,
            "compute_efficiency": hw.compute_eff,
            "bandwidth_efficiency": hw.bandwidth_eff,
            "half_efficiency_gflop": hw.half_eff_flops / 1e9,
            "link_efficiency": hw.link_eff,
        },
        "engine_perf": e.perf.model_dump(),
        "gemm_dtype": hw.provenance.get("gemm_dtype"),
        "native_low_precision": hw.provenance.get("native"),
        "dequantization_cost": hw.dequant,
        "calibration": cal_info,
        "assumptions": [
            "in-flight batching steady state: each step reads the KV of the average context (input + output/2)",
            "fixed input and output lengths per request",
            "uniform expert routing for MoE (expected distinct experts per step)",
        ],
    }
    from . import memory as mm

    return Context(
        shape=shape, hw=hw, engine=e, gpu=g, model=m, provenance=prov, quant_row=q, kv_row=kvq, mem_shape=mm.shape_of(m.transformer)
    )


def _sixteen(native: str) -> str:
    return "fp16" if native == "fp16" else "bf16"


# ----------------------------------------------------------------------------------------------
# memory: KV capacity per replica (vectorized over tp / pp / ep)
# ----------------------------------------------------------------------------------------------


def memory_budget(ctx: Context, tp, pp=1, ep=1) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Per-GPU weights, engine reserves and the KV capacity of one replica (tokens), vectorized.

    Delegates to the memory model (:mod:`deployscope.physics.memory`: weights on the most loaded
    GPU, activation peak, the engine's budget semantics), so `perf` and `memory` agree byte for
    byte.
    """
    from . import memory as mm

    s = ctx.mem_shape
    ea = mm.engine_arrays(ctx.engine)
    q, kq = ctx.quant_row, ctx.kv_row
    tp_a = np.asarray(tp)
    pp_a = np.asarray(pp)
    ep_a = np.asarray(ep)
    dp, gpus = mm.parallel_layout(tp_a, pp_a, ep_a)
    w_g = mm.weights_per_gpu(s, q.weight_bits, mm._emb_bits(q), tp_a, pp_a, ep_a, mm._dense_bits(q))
    a_g = mm.activation_per_gpu(s, ea.tokens, ea.seqs, ea.logit_copies, tp_a)
    M = float(ctx.gpu.memory_bytes)
    cap = mm.capacity_bytes_per_gpu(M, w_g, a_g, ea, gpus)
    per_tok = mm.kv_bytes_per_token_arr(s, kq.kv_bits) * mm.kv_gpu_share(s, tp_a, pp_a)
    tokens = np.where(cap > 0, np.floor(np.maximum(cap, 0.0) / np.where(per_tok > 0, per_tok, 1.0)), 0.0) * dp
    reserve = a_g + mm.overhead_per_gpu(ea, gpus)
    return {
        "weights_per_gpu_bytes": np.asarray(w_g, dtype=float),
        "kv_bytes_per_gpu": np.maximum(np.asarray(cap, dtype=float), 0.0),
        "kv_capacity_tokens": np.asarray(tokens, dtype=float),
        "kv_bytes_per_token_per_gpu": np.asarray(per_tok, dtype=float) + 0.0 * np.asarray(tokens, dtype=float),
        "reserve_bytes": np.asarray(reserve, dtype=float),
        "gpu_memory_bytes": M + 0.0 * np.asarray(tokens, dtype=float),
    }


# ----------------------------------------------------------------------------------------------
# the analytical (mean-field) path
# ----------------------------------------------------------------------------------------------


def steady_state(ctx: Context, batch, input_len, output_len, *, tp=1, pp=1, ep=1, prefix_hit=0.0, spec=None):  # noqa: ANN001
    """Step time and throughput of one replica holding `batch` sequences (vectorized).

    Returns ``cycle`` (seconds per token per sequence = TPOT), ``tokens_per_s`` (output, replica),
    ``requests_per_s``, ``step`` (the per-stage step cost dict) and ``ttft_service`` (the time a
    request's own prefill takes inside such steps).
    """
    B = np.asarray(batch, dtype=float)
    I = np.asarray(input_len, dtype=float)
    O = np.asarray(output_len, dtype=float)
    pp_a = np.asarray(pp, dtype=float)
    encoder = ctx.shape.encoder_only
    O_eff = np.maximum(O, 1.0)
    I_new = I * (1.0 - np.asarray(prefix_hit, dtype=float))
    Bm = B / pp_a  # sequences per micro-batch
    if encoder:
        dec = 0.0 * Bm
        pre = Bm * I_new
        pre_seqs = Bm
    else:
        dec = Bm * (O_eff - 1.0) / O_eff
        pre = Bm * I_new / O_eff
        pre_seqs = Bm / O_eff
    dec_ctx = I + O_eff / 2.0
    pre_ctx = I - I_new / 2.0
    accept_tokens = 1.0
    if spec is not None and not encoder:
        k = float(spec.get("draft_tokens", 0))
        a = float(spec.get("acceptance", 0.0))
        accept_tokens = (1.0 - a ** (k + 1.0)) / (1.0 - a) if a < 1.0 else k + 1.0
        dec = dec * (k + 1.0)
    step = llm.step_cost(
        ctx.shape,
        ctx.hw,
        decode_tokens=dec,
        prefill_tokens=pre,
        decode_ctx=dec_ctx,
        prefill_ctx=pre_ctx,
        prefill_seqs=pre_seqs,
        tp=tp,
        pp=pp,
        ep=ep,
    )
    stage = step["time"]
    if spec is not None and not encoder:
        stage = stage * (1.0 + float(spec.get("draft_cost", 0.0)))
    cycle = pp_a * stage
    if encoder:
        req_s = B / cycle
        tok_s = 0.0 * req_s
        tpot = np.full_like(cycle, np.nan)
    else:
        tok_s = B * accept_tokens / cycle
        req_s = tok_s / O_eff
        tpot = cycle / accept_tokens
    # a request's own prefill: its prompt in chunks of the step token budget, alongside the decodes
    budget = np.maximum(float(ctx.engine.perf.max_num_tokens) - dec, 1.0)
    chunk = np.minimum(np.maximum(I_new, 1.0), budget) if ctx.engine.perf.chunked_prefill else np.maximum(I_new, 1.0)
    n_chunks = np.ceil(np.maximum(I_new, 1.0) / chunk)
    own = llm.step_cost(
        ctx.shape,
        ctx.hw,
        decode_tokens=dec,
        prefill_tokens=chunk,
        decode_ctx=dec_ctx,
        prefill_ctx=I - I_new + chunk / 2.0,
        prefill_seqs=1.0,
        tp=tp,
        pp=pp,
        ep=ep,
    )["time"]
    ttft_service = pp_a * own * n_chunks + ctx.hw.request_overhead_s
    return {
        "cycle": cycle,
        "tpot": tpot,
        "tokens_per_s": tok_s,
        "requests_per_s": req_s,
        "step": step,
        "ttft_service": ttft_service,
    }


def max_batch(ctx: Context, input_len, output_len, *, tp=1, pp=1, ep=1, kv_tokens=None):  # noqa: ANN001
    """The most sequences one replica holds: KV capacity / tokens reserved per sequence, and the engine cap."""
    if kv_tokens is None:
        kv_tokens = memory_budget(ctx, tp, pp, ep)["kv_capacity_tokens"]
    I = np.asarray(input_len, dtype=float)
    O = np.asarray(output_len, dtype=float)
    if ctx.shape.encoder_only:
        per_seq = I
    elif ctx.engine.perf.kv_reservation == "full":
        per_seq = I + O
    else:
        per_seq = I + O / 2.0
    return np.minimum(np.floor(kv_tokens / np.maximum(per_seq, 1.0)), float(ctx.engine.perf.max_batch_size))


def max_throughput_points(
    model: str,
    gpu: str,
    *,
    tp=1,  # noqa: ANN001
    pp=1,  # noqa: ANN001
    ep=1,  # noqa: ANN001
    input_len,  # noqa: ANN001
    output_len,  # noqa: ANN001
    quant: str = "bf16",
    kv_quant: str | None = None,
    engine: str = "vllm",
    calibration=None,  # noqa: ANN001
    catalog=None,  # noqa: ANN001
    ctx: Context | None = None,
) -> dict[str, np.ndarray]:
    """Max-throughput operating points for arrays of tp / pp / ep / lengths (broadcast together).

    Returns arrays: ``fits``, ``batch_size``, ``output_tokens_per_s`` (one replica),
    ``output_tokens_per_s_per_gpu``, ``requests_per_s``, ``ttft_s``, ``tpot_s``. Points that do not
    fit get batch 0 and NaN figures.
    """
    if ctx is None:
        ctx = context(model, gpu, quant=quant, kv_quant=kv_quant, engine=engine, calibration=calibration, catalog=catalog)
    tp_a, pp_a, ep_a, I, O = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (tp, pp, ep, input_len, output_len)))
    B = max_batch(ctx, I, O, tp=tp_a, pp=pp_a, ep=ep_a)
    t = ctx.model.transformer
    valid = (np.mod(t.num_attention_heads, tp_a) == 0) & (pp_a <= t.num_layers)
    if t.moe is not None:
        valid &= np.mod(t.moe.num_experts, ep_a) == 0
    else:
        valid &= ep_a == 1
    fits = (B >= 1) & valid
    Bs = np.where(fits, B, 1.0)
    s = steady_state(ctx, Bs, I, O, tp=tp_a, pp=pp_a, ep=ep_a)
    nan = np.nan
    gpus = pp_a * np.maximum(tp_a, ep_a)
    tok = np.where(fits, s["tokens_per_s"], nan)
    return {
        "fits": fits,
        "batch_size": np.where(fits, B, 0.0),
        "output_tokens_per_s": tok,
        "output_tokens_per_s_per_gpu": tok / gpus,
        "requests_per_s": np.where(fits, s["requests_per_s"], nan),
        "ttft_s": np.where(fits, s["ttft_service"], nan),
        "tpot_s": np.where(fits, s["tpot"], nan),
    }


def _solve_rate(ctx: Context, lam, I, O, *, tp, pp, ep, b_max, prefix_hit=0.0, spec=None):  # noqa: ANN001
    """Sequences in flight at an offered request rate `lam` (per replica): the root of
    g(B) = lam x (time a request holds a slot at batch B) - B on [0, b_max], by vectorized
    regula falsi (Illinois): TPOT is nearly affine in B, so a few iterations suffice."""
    lam = np.asarray(lam, dtype=float)
    O_eff = max(float(np.max(O)) if np.ndim(O) else float(O), 1.0)

    def g(B):  # noqa: ANN001, ANN202
        s = steady_state(ctx, np.maximum(B, 1e-9), I, O, tp=tp, pp=pp, ep=ep, prefix_hit=prefix_hit, spec=spec)
        hold = s["cycle"] if ctx.shape.encoder_only else (np.maximum(O, 1.0) * s["cycle"] / (s["tokens_per_s"] * s["cycle"] / np.maximum(B, 1e-9)))
        return lam * hold - B

    del O_eff
    lo = np.zeros_like(lam) + 1e-9
    hi = np.zeros_like(lam) + float(np.max(b_max))
    glo = g(lo)
    ghi = g(hi)
    saturated = ghi >= 0
    side = np.zeros_like(lam)
    B = hi.copy()
    for _ in range(40):
        B = np.where(saturated, hi, (lo * ghi - hi * glo) / np.where(ghi - glo == 0, 1.0, ghi - glo))
        B = np.clip(B, lo, hi)
        gb = g(B)
        done = np.abs(gb) <= 1e-6 * np.maximum(B, 1.0)
        if np.all(done | saturated):
            break
        pos = gb > 0
        lo = np.where(pos, B, lo)
        glo = np.where(pos, gb, np.where(side > 0, glo / 2.0, glo))
        hi = np.where(~pos, B, hi)
        ghi = np.where(~pos, gb, np.where(side < 0, ghi / 2.0, ghi))
        side = np.where(pos, 1.0, -1.0)
    return np.minimum(B, b_max)


def _percentiles_ttft(service, cycle, wait_mean) -> Percentiles:  # noqa: ANN001
    def q(p: float) -> float:
        return float(service + p * cycle + wait_mean * -math.log(1.0 - p))

    return Percentiles(mean=float(service + 0.5 * cycle + wait_mean), p50=q(0.5), p90=q(0.9), p99=q(0.99))


def _flat(x: float | None) -> Percentiles:
    if x is None or not math.isfinite(x):
        return Percentiles(mean=None, p50=None, p90=None, p99=None)
    return Percentiles(mean=x, p50=x, p90=x, p99=x)


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
            f"{ctx.engine.memory.memory_utilization:.0%} of {out['gpu_memory_bytes'] / GIB:,.1f} GiB; use more GPUs "
            "(--tp/--pp), a smaller --quant, or a bigger GPU",
            field="model",
            value=ctx.model.id,
        )
    return out


def estimate(
    model: str,
    gpu: str,
    *,
    gpus: int | None = None,
    tp: int = 1,
    pp: int = 1,
    ep: int = 1,
    quant: str = "bf16",
    kv_quant: str | None = None,
    engine: str = "vllm",
    input_len: float,
    output_len: float,
    concurrency: float | None = None,
    rate: float | None = None,
    calibration: str | dict | None = None,
    catalog=None,  # noqa: ANN001
    prefix_cache_hit_rate: float = 0.0,
    speculative: dict | None = None,
    simulate_requests: int | None = None,
) -> PerfResult:
    """Throughput and latency of a deployment at one load (max-throughput unless `concurrency` or `rate`).

    `simulate_requests` (rate or concurrency mode): take the TTFT/TPOT percentiles from a
    discrete-event simulation of that many requests on one replica (seed 0) instead of the
    analytical approximations.

    `gpus` is the whole deployment; replicas = gpus / (pp x max(tp, ep)). `rate` is requests/s
    for the whole deployment, `concurrency` the requests in flight for the whole deployment.
    `speculative` = {"draft_tokens": k, "acceptance": a, "draft_cost": c} (c: draft work as a
    fraction of a target step; MTP heads are cheap, a draft model costs its size ratio).
    """
    if concurrency is not None and rate is not None:
        raise DeployscopeError("give at most one of concurrency and rate", field="load", value="concurrency+rate")
    ctx = context(model, gpu, quant=quant, kv_quant=kv_quant, engine=engine, calibration=calibration, catalog=catalog)
    _check_lengths(input_len, output_len, ctx.shape.encoder_only)
    if not 0.0 <= prefix_cache_hit_rate < 1.0:
        raise DeployscopeError("prefix_cache_hit_rate must be in [0, 1)", field="prefix_cache_hit_rate", value=prefix_cache_hit_rate)
    if speculative is not None:
        a = speculative.get("acceptance", None)
        k = speculative.get("draft_tokens", None)
        c = speculative.get("draft_cost", 0.0)
        if a is None or not 0 <= float(a) <= 1 or k is None or int(k) < 1 or not 0 <= float(c) <= 10:
            raise DeployscopeError(
                "speculative needs draft_tokens >= 1 and acceptance in [0, 1]", field="speculative", value=speculative
            )
    gpus, replicas = _check_parallel(ctx, gpus, tp, pp, ep)
    I = float(input_len)
    O = 0.0 if ctx.shape.encoder_only else float(output_len)
    limit = ctx.model.transformer.max_context
    if I + O > limit:
        raise DeployscopeError(
            f"input_len + output_len = {I + O:,.0f} tokens exceeds {ctx.model.id}'s context window of {limit:,} tokens",
            field="input_len",
            value=input_len,
            allowed=f"input_len + output_len <= {limit}",
        )
    mem = _fit_or_raise(ctx, tp, pp, ep, I, O)
    b_max = float(max_batch(ctx, I, O, tp=tp, pp=pp, ep=ep, kv_tokens=mem["kv_capacity_tokens"]))
    kw = dict(tp=tp, pp=pp, ep=ep, prefix_hit=prefix_cache_hit_rate, spec=speculative)
    saturated = False
    if concurrency is None and rate is None:
        mode = "max-throughput"
        B = b_max
        s = steady_state(ctx, B, I, O, **kw)
        wait = 0.0
    elif concurrency is not None:
        if not concurrency > 0:
            raise DeployscopeError("concurrency must be > 0", field="concurrency", value=concurrency)
        mode = "concurrency"
        per = float(concurrency) / replicas
        B = min(per, b_max)
        s = steady_state(ctx, B, I, O, **kw)
        lam_max = float(s["requests_per_s"])
        wait = max(per - B, 0.0) / lam_max if lam_max > 0 else 0.0
    else:
        if not rate > 0:
            raise DeployscopeError("rate must be > 0 requests/s", field="rate", value=rate)
        mode = "rate"
        lam = float(rate) / replicas
        full = steady_state(ctx, b_max, I, O, **kw)
        lam_max = float(full["requests_per_s"])
        if lam >= lam_max:
            saturated = True
            B = b_max
            s = full
            wait = math.inf
        else:
            B = float(_solve_rate(ctx, lam, I, O, tp=tp, pp=pp, ep=ep, b_max=b_max, prefix_hit=prefix_cache_hit_rate, spec=speculative))
            s = steady_state(ctx, B, I, O, **kw)
            rho = lam / lam_max
            wait = rho / (2.0 * (1.0 - rho)) / lam_max  # M/D/1 admission queue once slots run short
    cycle = float(s["cycle"])
    service = float(s["ttft_service"])
    if mode == "max-throughput":
        ttft = _percentiles_ttft(service, cycle, 0.0)
    elif math.isinf(wait):
        ttft = Percentiles(mean=None, p50=None, p90=None, p99=None)
    else:
        ttft = _percentiles_ttft(service, cycle, wait)
    tpot = _flat(None if ctx.shape.encoder_only else float(s["tpot"]))
    sim_info = None
    if simulate_requests is not None and mode in ("rate", "concurrency"):
        if not isinstance(simulate_requests, (int, np.integer)) or not 1 <= simulate_requests <= 1_000_000:
            raise DeployscopeError("simulate_requests must be an integer from 1 to 1,000,000", field="simulate", value=simulate_requests)
        if speculative is not None or prefix_cache_hit_rate:
            raise DeployscopeError(
                "the simulation does not model speculative decoding or prefix caching; drop --simulate or those options",
                field="simulate",
                value=simulate_requests,
            )
        sim = simulate(
            ctx=ctx, tp=tp, pp=pp, ep=ep, input_len=I, output_len=O if O else 0.0,
            rate=(float(rate) / replicas) if mode == "rate" else None,
            concurrency=max(1, int(round(float(concurrency) / replicas))) if mode == "concurrency" else None,
            num_requests=int(simulate_requests), seed=0,
        )
        ttft = sim.ttft_s
        if not ctx.shape.encoder_only:
            tpot = sim.tpot_s
        sim_info = {"requests": sim.requests, "duration_s": sim.duration_s, "output_tokens_per_s_per_replica": sim.output_tokens_per_s,
                    "mean_batch": sim.mean_batch, "seed": 0}
    if mode == "rate" and not saturated:
        req_rep = float(rate) / replicas
    else:
        req_rep = float(s["requests_per_s"])
    tok_rep = req_rep * O if not ctx.shape.encoder_only else 0.0
    bound = str(llm.bound_of(s["step"]))
    from .calibration import error_bands

    by = error_bands(ctx.engine.id)
    main = by.get("throughput") or next(iter(by.values()))
    bands = PerfErrorBand(**main.model_dump(), by_metric=by)
    return PerfResult(
        model=ctx.model.id,
        gpu=ctx.gpu.id,
        engine=ctx.engine.id,
        quant=ctx.shape.quant,
        kv_quant=ctx.shape.kv_quant,
        gpus=gpus,
        tp=tp,
        pp=pp,
        ep=ep,
        gpus_per_replica=gpus // replicas,
        replicas=replicas,
        input_len=I,
        output_len=O,
        load_mode=mode,
        concurrency=concurrency,
        rate=rate,
        output_tokens_per_s=tok_rep * replicas,
        output_tokens_per_s_per_gpu=tok_rep * replicas / gpus,
        total_tokens_per_s=req_rep * (I + O) * replicas,
        requests_per_s=req_rep * replicas,
        ttft_s=ttft,
        tpot_s=tpot,
        batch_size=float(B),
        max_batch_size=b_max,
        kv_capacity_tokens=mem["kv_capacity_tokens"],
        saturated=saturated,
        bound=bound,  # type: ignore[arg-type]
        step_time_s=cycle,
        error_band=bands,
        memory={
            "weights_per_gpu_bytes": mem["weights_per_gpu_bytes"],
            "kv_bytes_per_gpu": mem["kv_bytes_per_gpu"],
            "engine_reserve_bytes": mem["reserve_bytes"],
            "gpu_memory_bytes": mem["gpu_memory_bytes"],
        },
        provenance={
            **ctx.provenance,
            "prefix_cache_hit_rate": prefix_cache_hit_rate,
            "speculative": speculative,
            "latency_percentiles": "discrete-event simulation" if sim_info else "analytical",
            "simulation": sim_info,
        },
    )


def capacity_meeting_slo(
    model: str,
    gpu: str,
    *,
    gpus: int | None = None,
    tp: int = 1,
    pp: int = 1,
    ep: int = 1,
    quant: str = "bf16",
    kv_quant: str | None = None,
    engine: str = "vllm",
    input_len: float,
    output_len: float,
    ttft_p95_s: float | None = None,
    tpot_p95_s: float | None = None,
    ttft_p99_s: float | None = None,
    tpot_p99_s: float | None = None,
    calibration: str | dict | None = None,
    catalog=None,  # noqa: ANN001
) -> PerfResult:
    """The highest request rate the deployment sustains with the latency targets met (analytical path).

    Targets are on percentiles of TTFT and TPOT (p95 or p99; give any of them). Raises
    DeployscopeError when even a trickle of load misses a target (the model is too slow on this
    hardware for the SLO). The result's ``load_mode`` is ``slo`` and ``rate`` the capacity.
    The search is vectorized: two grids of 64 rates per call.
    """
    kw = dict(gpus=gpus, tp=tp, pp=pp, ep=ep, quant=quant, kv_quant=kv_quant, engine=engine, input_len=input_len,
              output_len=output_len, calibration=calibration, catalog=catalog)
    base = estimate(model, gpu, **kw)  # validates everything, and the max-throughput point
    ctx = context(model, gpu, quant=quant, kv_quant=kv_quant, engine=engine, calibration=calibration, catalog=catalog)
    I = float(input_len)
    O = 0.0 if ctx.shape.encoder_only else float(output_len)
    reps = base.replicas
    lam_max = base.requests_per_s / reps
    b_max = base.max_batch_size

    def ok(lams: np.ndarray) -> np.ndarray:
        r = rate_percentiles(ctx, lams, I, O, tp=tp, pp=pp, ep=ep, b_max=b_max, lam_max=lam_max)
        good = np.ones(lams.shape, dtype=bool)
        if ttft_p95_s is not None:
            good &= r["ttft_p95"] <= ttft_p95_s
        if ttft_p99_s is not None:
            good &= r["ttft_p99"] <= ttft_p99_s
        if tpot_p95_s is not None and not ctx.shape.encoder_only:
            good &= r["tpot"] <= tpot_p95_s
        if tpot_p99_s is not None and not ctx.shape.encoder_only:
            good &= r["tpot"] <= tpot_p99_s
        return good & (lams < lam_max)

    grid = lam_max * np.geomspace(1e-4, 0.9999, 64)
    g = ok(grid)
    if not g[0]:
        lo_r = estimate(model, gpu, rate=grid[0] * reps, **kw)
        raise DeployscopeError(
            f"no load meets the latency targets: even a trickle of requests sees TTFT p99 "
            f"{lo_r.ttft_s.p99:.3g} s and TPOT {lo_r.tpot_s.mean if lo_r.tpot_s.mean is not None else float('nan'):.3g} s",
            field="slo",
            value={"ttft_p95_s": ttft_p95_s, "tpot_p95_s": tpot_p95_s, "ttft_p99_s": ttft_p99_s, "tpot_p99_s": tpot_p99_s},
        )
    i = int(np.flatnonzero(g)[-1])  # latency grows with load: the last passing rate
    lo = grid[i]
    if i + 1 < grid.size:
        fine = np.linspace(lo, grid[i + 1], 66)[1:-1]
        f = ok(fine)
        if f.any():
            lo = fine[int(np.flatnonzero(f)[-1])]
    best = estimate(model, gpu, rate=lo * reps, **kw)
    return best.model_copy(update={"load_mode": "slo"})


def rate_percentiles(ctx: Context, lam, I: float, O: float, *, tp=1, pp=1, ep=1, b_max=None, lam_max=None):  # noqa: ANN001
    """Analytical TTFT p90/p95/p99 and TPOT at request rates `lam` (per replica; vectorized)."""
    lam = np.asarray(lam, dtype=float)
    if b_max is None:
        b_max = float(max_batch(ctx, I, O, tp=tp, pp=pp, ep=ep))
    if lam_max is None:
        lam_max = float(steady_state(ctx, b_max, I, O, tp=tp, pp=pp, ep=ep)["requests_per_s"])
    safe = np.minimum(lam, 0.9999 * lam_max)
    B = _solve_rate(ctx, safe, I, O, tp=tp, pp=pp, ep=ep, b_max=b_max)
    st = steady_state(ctx, B, I, O, tp=tp, pp=pp, ep=ep)
    rho = safe / lam_max
    wait = rho / (2.0 * (1.0 - rho)) / lam_max
    service, cycle = st["ttft_service"], st["cycle"]
    p90 = service + 0.9 * cycle + wait * -math.log(0.1)
    p99 = service + 0.99 * cycle + wait * -math.log(0.01)
    f = (math.log(20) - math.log(10)) / (math.log(100) - math.log(10))
    return {
        "batch": B,
        "ttft_mean": service + 0.5 * cycle + wait,
        "ttft_p90": p90,
        "ttft_p95": p90 + f * (p99 - p90),
        "ttft_p99": p99,
        "tpot": st["tpot"],
    }


def _p95(p: Percentiles) -> float | None:
    if p.p90 is None or p.p99 is None:
        return None
    # between p90 and p99 on the log-tail the quantile grows with -ln(1 - q)
    f = (math.log(20) - math.log(10)) / (math.log(100) - math.log(10))
    return p.p90 + f * (p.p99 - p.p90)


# ----------------------------------------------------------------------------------------------
# discrete-event simulation
# ----------------------------------------------------------------------------------------------


class SimResult(BaseModel):
    model_config = ConfigDict(frozen=True)
    requests: int
    duration_s: float
    output_tokens_per_s: float
    requests_per_s: float
    ttft_s: Percentiles
    tpot_s: Percentiles
    itl_mean_s: float | None
    mean_batch: float
    steps: int


def _pct(x: np.ndarray) -> Percentiles:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Percentiles(mean=None, p50=None, p90=None, p99=None)
    p = np.percentile(x, [50, 90, 99])
    return Percentiles(mean=float(x.mean()), p50=float(p[0]), p90=float(p[1]), p99=float(p[2]))


def simulate(
    model: str | None = None,
    gpu: str | None = None,
    *,
    tp: int = 1,
    pp: int = 1,
    ep: int = 1,
    quant: str = "bf16",
    kv_quant: str | None = None,
    engine: str = "vllm",
    input_len: float | Sequence[float] = 512,
    output_len: float | Sequence[float] = 128,
    rate: float | None = None,
    num_requests: int = 500,
    concurrency: int | None = None,
    seed: int = 0,
    calibration=None,  # noqa: ANN001
    catalog=None,  # noqa: ANN001
    ctx: Context | None = None,
) -> SimResult:
    """Discrete-event simulation of one replica's scheduler under Poisson arrivals.

    ``rate`` is requests/s for the replica (``None`` or ``inf``: all requests arrive at t = 0);
    ``concurrency`` instead runs a closed loop of that many clients. Lengths may be sequences (one
    per request, cycled). Each step admits waiting requests (FIFO) while the batch cap and the KV
    reservations allow, spends the step token budget on decodes first and then on prefill chunks
    (whole prompts when the engine does not chunk), and advances the clock by the step cost of
    exactly that batch (the same cost model as the analytical path).
    """
    if ctx is None:
        ctx = context(model, gpu, quant=quant, kv_quant=kv_quant, engine=engine, calibration=calibration, catalog=catalog)  # type: ignore[arg-type]
    if num_requests < 1:
        raise DeployscopeError("num_requests must be >= 1", field="num_requests", value=num_requests)
    rng = np.random.default_rng(seed)
    n = int(num_requests)
    I = [float(x) for x in np.resize(np.asarray(input_len, dtype=float), n)]
    enc = ctx.shape.encoder_only
    O = [0.0 if enc else max(1.0, float(x)) for x in np.resize(np.asarray(output_len, dtype=float), n)]
    closed = concurrency is not None
    if closed:
        c = max(1, int(concurrency))
        arrival = [0.0 if i < c else math.inf for i in range(n)]
    elif rate is None or not math.isfinite(rate):
        arrival = [0.0] * n
    else:
        arrival = np.cumsum(rng.exponential(1.0 / rate, n)).tolist()
    kv_cap = float(memory_budget(ctx, tp, pp, ep)["kv_capacity_tokens"])
    full_res = ctx.engine.perf.kv_reservation == "full"
    max_b = int(ctx.engine.perf.max_batch_size)
    budget_tokens = float(ctx.engine.perf.max_num_tokens)
    chunked = ctx.engine.perf.chunked_prefill
    g = llm.scalar_step_fn(ctx.shape, ctx.hw, tp, pp, ep)
    ppf = float(pp)
    win = ctx.shape.sliding_window if ctx.shape.sliding_layers else 0.0
    n_all = ctx.shape.full_layers + ctx.shape.sliding_layers

    # integer output lengths: the simulator counts steps
    O = [0.0 if enc else float(max(1, round(x))) for x in O]
    pre_left = list(I)
    first = [math.nan] * n
    done_t = [math.nan] * n
    next_i = 0  # requests are admitted in arrival order (closed loop: in release order)
    order = list(range(n))
    t = 0.0
    steps = 0
    batch_acc = 0.0
    itl_sum, itl_n = 0.0, 0
    prefilling: list[int] = []  # FIFO of admitted requests with prompt tokens left
    # decoding sequences are kept as aggregates: how many, their total context, and the step at
    # which each emits its last token (O(1) work per step however large the batch)
    dec_count = 0
    sum_ctx = 0.0
    finish_at: dict[int, list[int]] = {}
    dec_start: dict[int, int] = {}  # sequence -> step of its first token (sliding windows only)
    reserved = 0.0  # KV tokens reserved (full) or held (average)
    released = c if closed else n
    overhead_first = ctx.hw.request_overhead_s
    while True:
        # admit (arrival order)
        while next_i < released and len(prefilling) + dec_count < max_b:
            j = order[next_i]
            if arrival[j] > t:
                break
            need = I[j] + O[j] if full_res else I[j]
            if (prefilling or dec_count) and reserved + need > kv_cap:
                break
            reserved += need
            prefilling.append(j)
            next_i += 1
        if not prefilling and not dec_count:
            if next_i >= released:
                break
            t = max(t, arrival[order[next_i]])
            continue
        d = float(dec_count)
        budget = max(budget_tokens - d, 0.0)
        chunks: list[tuple[int, float]] = []
        p_tokens = 0.0
        p_ctx_w = 0.0
        for k, j in enumerate(prefilling):
            if budget <= 0:
                break
            left = pre_left[j]
            if chunked:
                ch = min(left, budget)
            elif left <= budget or (k == 0 and d == 0):
                ch = left
            else:
                break
            chunks.append((j, ch))
            p_tokens += ch
            p_ctx_w += ch * (I[j] - left + ch / 2.0)
            budget -= ch
        if not chunks and not dec_count:
            j = prefilling[0]
            chunks.append((j, pre_left[j]))
            p_tokens = pre_left[j]
            p_ctx_w = p_tokens * p_tokens / 2.0
        n_fin_pre = sum(1 for j, ch in chunks if ch >= pre_left[j])
        mean_ctx = sum_ctx / d if d else 0.0
        if win and d:
            capped = sum(min(I[j] + 1 + steps - s0, win) for j, s0 in dec_start.items()) / d
            mean_ctx = (ctx.shape.full_layers * mean_ctx + ctx.shape.sliding_layers * capped) / n_all
        dt = ppf * g(d / ppf, p_tokens / ppf, mean_ctx, (p_ctx_w / p_tokens) if p_tokens else 0.0, max(n_fin_pre, 1.0 if p_tokens else 0.0) / ppf)
        t += dt
        batch_acc += len(prefilling) + dec_count
        # outcomes: every decoding sequence emits a token
        if dec_count:
            itl_sum += dt * d
            itl_n += dec_count
            sum_ctx += d
            if not full_res:
                reserved += d
        finished: list[int] = []
        for j in finish_at.pop(steps, ()):
            finished.append(j)
            dec_count -= 1
            sum_ctx -= I[j] + O[j]
            dec_start.pop(j, None)
        done_pre = []
        for j, ch in chunks:
            pre_left[j] -= ch
            if pre_left[j] <= 0:
                done_pre.append(j)
        if done_pre:
            fin_set = set(done_pre)
            prefilling = [j for j in prefilling if j not in fin_set]
            for j in done_pre:
                first[j] = t + overhead_first
                if enc or O[j] <= 1:
                    finished.append(j)
                    if not full_res and not enc:
                        reserved += 1.0
                    continue
                if not full_res:
                    reserved += 1.0
                dec_count += 1
                sum_ctx += I[j] + 1.0
                finish_at.setdefault(steps + int(O[j]) - 1, []).append(j)
                if win:
                    dec_start[j] = steps
        steps += 1
        for j in finished:
            done_t[j] = t
            reserved -= (I[j] + O[j]) if (full_res or not enc) else I[j]
            if closed and released < n:
                arrival[order[released]] = t
                released += 1
        if steps > 5_000_000:  # a bound so that a bad input never hangs
            break
    done = np.array(done_t)
    ok = np.isfinite(done)
    arr = np.array(arrival)
    fst = np.array(first)
    Oa = np.array(O)
    ttft = fst[ok] - arr[ok]
    denom = np.maximum(Oa[ok] - 1.0, 1.0)
    tpot = np.where(Oa[ok] > 1, (done[ok] - fst[ok]) / denom, np.nan)
    start = float(arr[ok].min()) if ok.any() else 0.0
    duration = float(done[ok].max() - start) if ok.any() else 0.0
    return SimResult(
        requests=int(ok.sum()),
        duration_s=duration,
        output_tokens_per_s=float(Oa[ok].sum() / duration) if duration > 0 else 0.0,
        requests_per_s=float(ok.sum() / duration) if duration > 0 else 0.0,
        ttft_s=_pct(ttft),
        tpot_s=_pct(tpot),
        itl_mean_s=itl_sum / itl_n if itl_n else None,
        mean_batch=batch_acc / steps if steps else 0.0,
        steps=steps,
    )
