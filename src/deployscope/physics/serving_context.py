"""A deployment's catalog rows resolved once (:class:`Context`) and its memory budget per replica.

Every serving function takes a ``Context``: the model shape, the calibrated hardware figures and
the engine row, built by :func:`context` from a :class:`~deployscope.physics.perf_types.Deployment`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..catalog.loader import default_catalog
from ..errors import DeployscopeError
from . import llm
from .perf_types import Deployment


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
    engine_version: str | None = None,
) -> Context:
    """Resolve catalog rows and build the model shape and the calibrated hardware.

    ``engine_version``: the engine release whose speed factors apply (None: the current release)."""
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
    e = e.on_gpu(g)  # the scheduler limits and start-up profile the engine picks on this GPU
    shape = llm.model_shape(m, q, kvq)
    if shape.sliding_layers and not e.perf.sliding_window_attention:
        # the engine gives sliding-window layers the full context (TensorRT-LLM's default
        # max_attention_window = max_seq_len): cost them as full-attention layers
        shape = dataclasses.replace(shape, full_layers=shape.full_layers + shape.sliding_layers, sliding_layers=0)
    gemm_dtype = shape.gemm_dtype if llm.gemm_runs_native(shape, g.family) else "bf16"
    eff = lookup(cat.efficiency, g.family, e.id, gemm_dtype)
    try:
        perf = e.perf.for_version(engine_version)
    except ValueError as exc:
        raise DeployscopeError(str(exc), field="engine_version", value=engine_version) from None
    hw = llm.hardware(g, shape, eff, perf)
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
        "engine_perf": perf.model_dump(),
        "engine_version": engine_version or "current",
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



def for_deployment(dep: Deployment, catalog=None) -> Context:  # noqa: ANN001
    """The context of a typed deployment."""
    return context(dep.model, dep.gpu, quant=dep.quant, kv_quant=dep.kv_quant, engine=dep.engine,
                   calibration=dep.calibration, catalog=catalog, engine_version=dep.engine_version)


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
    ea = mm.with_utilization(ea, ctx.engine, M, tp_a, pp_a)
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

