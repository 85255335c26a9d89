"""Multi-stage pipelines: a workload made of chained LLM and diffusion calls, sized per stage.

A *pipeline* is the ``pipelines`` part of a scenario file. One item (a synthetic identity, a
product listing, a support ticket) passes through every stage in order; each stage is one
model on one GPU type:

.. code-block:: yaml

    pipelines:
      - name: synthetic-identities
        items: 100000            # either items + deadline_days ...
        deadline_days: 7
        # items_per_day: 14286   # ... or a steady daily volume
        stages:
          - name: profile
            kind: llm            # optional: inferred from the fields (steps/resolution => diffusion)
            model: llama-3.1-8b-instruct
            gpu: h100-sxm-80gb
            quant: fp8
            input_len: 200
            output_len: 400
          - name: portrait
            kind: diffusion
            model: sdxl
            gpu: l40s
            resolution: 1024x1024
            steps: 30
            cfg: true
          - name: posts
            model: llama-3.1-8b-instruct
            gpu: h100-sxm-80gb
            input_len: 600
            output_len: 120
            calls_per_item: 5

Sizing (:func:`size_pipeline`) turns each stage into GPU-seconds per item from the physics models
(LLM: :func:`deployscope.physics.serving.estimate` at its max-throughput operating point;
diffusion: :func:`deployscope.physics.diffusion.estimate`), then into GPU-hours per day, the GPUs
each stage needs to meet the daily volume (or the deadline) at the target utilization, and the
bottleneck stage. Conservation holds by construction: the total GPU time is the sum of the stages'.

The schema types (:class:`Pipeline`, :class:`LLMStage`, :class:`DiffusionStage`) and
:func:`parse_pipelines` are part of the scenario schema (:mod:`deployscope.scenario.pipelines`) and
are re-exported here.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import DeployscopeError
from .scenario.pipelines import (
    DiffusionStage,
    LLMStage,
    Pipeline,
    Stage,
    load_pipelines,
    parse_pipelines,
    parse_resolution,
)

SECONDS_PER_DAY = 86_400.0

__all__ = [
    "DiffusionStage",
    "LLMStage",
    "Pipeline",
    "PipelineSizing",
    "Stage",
    "StageSizing",
    "load_pipelines",
    "parse_resolution",
    "parse_pipelines",
    "size_pipeline",
    "size_pipelines",
]


# --------------------------------------------------------------------------------------- sizing
class StageSizing(BaseModel):
    """One stage's share of the work: rate per GPU, GPU time, GPUs needed."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: Literal["llm", "diffusion"]
    model: str
    gpu: str
    gpus_per_replica: int
    calls_per_item: float = Field(description="LLM calls or images per item")
    gpu_seconds_per_call: float = Field(description="GPU-seconds per LLM call or per image, at the max-throughput rate")
    gpu_seconds_per_item: float
    items_per_day_per_gpu: float = Field(description="items one GPU completes in a day at the pipeline's utilization")
    gpu_hours_per_day: float = Field(description="busy GPU-hours a day to sustain the daily volume")
    gpu_hours: float = Field(description="busy GPU-hours over the pipeline's period (the deadline, or one day)")
    gpus: int = Field(description="GPUs this stage needs (whole replicas) to meet the volume at the utilization")
    capacity_items_per_day: float = Field(description="items a day the sized stage can sustain at the utilization")
    latency_s: float | None = Field(default=None, description="one call's latency (LLM: TTFT + output x TPOT; image: one batch)")
    error_band: dict[str, Any] | None = None
    sources: list[str] = Field(default_factory=list)


class PipelineSizing(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    items_per_day: float
    period_days: float
    utilization: float
    stages: list[StageSizing]
    bottleneck_stage: str = Field(description="the stage needing the most GPU time per item")
    total_gpu_hours: float = Field(description="sum of the stages' gpu_hours over the period")
    total_gpu_hours_per_day: float = Field(description="sum of the stages' gpu_hours_per_day")
    total_gpus: int
    gpu_hours_by_gpu: dict[str, float] = Field(description="total GPU-hours per accelerator id")
    gpus_by_gpu: dict[str, int] = Field(description="GPUs needed per accelerator id (stages on the same GPU type add up)")
    assumptions: list[str] = Field(default_factory=list)


def _llm_rate(stage: LLMStage, catalog: Any) -> tuple[int, float, float | None, dict | None, list[str]]:
    """(gpus per replica, GPU-seconds per call, latency, error band, sources) for an LLM stage."""
    from .physics import serving

    candidates = [stage.gpus_per_replica] if stage.gpus_per_replica else [1, 2, 4, 8]
    best: tuple[float, int, Any] | None = None
    last_err: DeployscopeError | None = None
    ctx = None  # the catalog rows, shape and hardware of the stage: the same for every tp
    load = serving.Load(input_len=stage.input_len, output_len=stage.output_len)
    for tp in candidates:
        try:
            if ctx is None:
                ctx = serving.context(stage.model, stage.gpu, quant=stage.quant, engine=stage.engine, catalog=catalog)
            dep = serving.Deployment(model=stage.model, gpu=stage.gpu, gpus=tp, tp=tp, quant=stage.quant, engine=stage.engine)
            res = serving.evaluate(dep, load, catalog=catalog, ctx=ctx)
        except DeployscopeError as exc:
            last_err = exc
            continue
        rps = float(_get(res, "requests_per_s"))
        if not rps > 0:
            continue
        gpu_s = tp / rps
        if best is None or gpu_s < best[0] * 0.999:
            best = (gpu_s, tp, res)
        if stage.gpus_per_replica is None and best is not None and tp >= 2 * best[1]:
            break  # more tensor parallelism past a fitting size rarely pays per GPU
    if best is None:
        if last_err is not None:
            raise last_err
        raise DeployscopeError(f"no configuration of up to 8 {stage.gpu} GPUs serves {stage.model}", field="gpu", value=stage.gpu)
    gpu_s, tp, res = best
    ttft = _get(res, "ttft_s")
    tpot = _get(res, "tpot_s")
    latency = None
    try:
        latency = float(_get(ttft, "mean")) + stage.output_len * float(_get(tpot, "mean"))
    except Exception:  # noqa: BLE001 - latency is informative only
        latency = None
    band = _get(res, "error_band", None)
    return tp, gpu_s, latency, _plain(band), _llm_sources(res, catalog)


#: the serving result's provenance keys -> the catalog tables those rows are in
_LLM_ROW_TABLES = {"model": "models", "gpu": "accelerators", "quant": "quant", "kv_quant": "quant",
                   "engine": "engines", "efficiency": "efficiency"}


def _llm_sources(res: Any, catalog: Any) -> list[str]:
    """The sources of the catalog rows a serving estimate rests on (model, GPU, formats, engine, efficiency)."""
    from .catalog.loader import default_catalog

    cat = default_catalog(catalog)
    rows = (_get(res, "provenance", None) or {}).get("catalog_rows") or {}
    out: list[str] = []
    for key, table in _LLM_ROW_TABLES.items():
        row = cat.table(table).find(rows[key]) if rows.get(key) else None
        if row is not None and row.source not in out:
            out.append(str(row.source))
    return out


def _diffusion_rate(stage: DiffusionStage, catalog: Any) -> tuple[int, float, float | None, dict | None, list[str]]:
    from .physics import diffusion

    gpus = stage.gpus_per_replica or 1
    res = diffusion.estimate(
        stage.model,
        stage.gpu,
        gpus=gpus,
        resolution=stage.resolution,
        steps=stage.steps,
        cfg=stage.cfg,
        batch=stage.batch,
        quant=stage.quant,
        engine=stage.engine,
        catalog=catalog,
    )
    if not res.fits:
        raise DeployscopeError(
            f"{stage.model} needs {res.memory_bytes / 2**30:,.1f} GiB per GPU; {res.gpu} holds less",
            field="gpu",
            value=stage.gpu,
            constraint="memory",
        )
    gpu_s = 1.0 / res.images_per_s_per_gpu
    return 1, gpu_s, res.latency_s, _plain(res.error_band), list(res.sources)


def _get(obj: Any, key: str, default: Any = ...) -> Any:
    if isinstance(obj, dict):
        if default is ...:
            return obj[key]
        return obj.get(key, default)
    if default is ...:
        return getattr(obj, key)
    return getattr(obj, key, default)


def _plain(obj: Any) -> Any:
    if obj is None:
        return None
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, dict):
        return obj
    return {"value": repr(obj)}


def size_pipeline(spec: Pipeline | dict[str, Any], catalog: Any = None) -> PipelineSizing:
    """GPU time per stage and in total, the bottleneck stage and GPUs per stage for one pipeline."""
    if isinstance(spec, dict):
        spec = parse_pipelines(spec, prefix="pipeline")[0]
    if catalog is None:
        from .catalog import default_catalog

        catalog = default_catalog()
    daily = spec.daily_items
    util = spec.utilization
    stages: list[StageSizing] = []
    for i, st in enumerate(spec.stages):
        try:
            if isinstance(st, LLMStage):
                per_replica, gpu_s_call, latency, band, sources = _llm_rate(st, catalog)
                per_item = st.calls_per_item
            else:
                per_replica, gpu_s_call, latency, band, sources = _diffusion_rate(st, catalog)
                per_item = st.images_per_item
        except DeployscopeError as exc:
            field = f"pipelines[{spec.name}].stages[{i}]"
            sub = f".{exc.field}" if exc.field else ""
            raise DeployscopeError(f"stage {st.name!r}: {exc.args[0]}", field=field + sub, value=exc.value, allowed=exc.allowed,
                                   constraint=exc.constraint) from None
        gpu_s_item = gpu_s_call * per_item
        if not gpu_s_item > 0:  # a per-item count so small the GPU time underflows to zero
            name = "calls_per_item" if isinstance(st, LLMStage) else "images_per_item"
            raise DeployscopeError(f"stage {st.name!r}: {per_item!r} is too small to size", field=f"pipelines[{spec.name}].stages[{i}].{name}",
                                   value=per_item, allowed="a count whose GPU time per item is above zero")
        gpu_h_day = daily * gpu_s_item / 3600.0
        gpus_raw = gpu_h_day / (24.0 * util)
        replicas = max(1, math.ceil(gpus_raw / per_replica - 1e-9))
        gpus = replicas * per_replica
        gpu_id = _gpu_id(st.gpu, catalog)
        stages.append(
            StageSizing(
                name=st.name,
                kind=st.kind,
                model=st.model,
                gpu=gpu_id,
                gpus_per_replica=per_replica,
                calls_per_item=per_item,
                gpu_seconds_per_call=gpu_s_call,
                gpu_seconds_per_item=gpu_s_item,
                items_per_day_per_gpu=SECONDS_PER_DAY * util / gpu_s_item,
                gpu_hours_per_day=gpu_h_day,
                gpu_hours=gpu_h_day * spec.period_days,
                gpus=gpus,
                capacity_items_per_day=gpus * SECONDS_PER_DAY * util / gpu_s_item,
                latency_s=latency,
                error_band=band,
                sources=sources,
            )
        )
    bottleneck = max(stages, key=lambda s: s.gpu_hours_per_day)
    by_gpu_h: dict[str, float] = {}
    by_gpu_n: dict[str, int] = {}
    for s in stages:
        by_gpu_h[s.gpu] = by_gpu_h.get(s.gpu, 0.0) + s.gpu_hours
        by_gpu_n[s.gpu] = by_gpu_n.get(s.gpu, 0) + s.gpus
    return PipelineSizing(
        name=spec.name,
        items_per_day=daily,
        period_days=spec.period_days,
        utilization=util,
        stages=stages,
        bottleneck_stage=bottleneck.name,
        total_gpu_hours=math.fsum(s.gpu_hours for s in stages),
        total_gpu_hours_per_day=math.fsum(s.gpu_hours_per_day for s in stages),
        total_gpus=sum(s.gpus for s in stages),
        gpu_hours_by_gpu=by_gpu_h,
        gpus_by_gpu=by_gpu_n,
        assumptions=[
            "each stage runs at its max-throughput operating point (LLM: continuous batching; images: the given batch)",
            f"GPUs are busy {util:.0%} of each day (utilization); GPUs per stage are rounded up to whole replicas",
            "stages run concurrently on separate GPU pools; stages on the same GPU type may share a pool (gpus_by_gpu)",
            "GPU-hours are busy time; idle and model-load time are not counted",
        ],
    )


def _gpu_id(name: str, catalog: Any) -> str:
    try:
        return catalog.accelerators.get(name).id
    except Exception:  # noqa: BLE001 - the stage already resolved it; keep the user's spelling if not
        return name


def size_pipelines(data: Any, catalog: Any = None) -> list[PipelineSizing]:
    """Size every pipeline of a scenario's raw ``pipelines`` value (or of parsed Pipelines)."""
    if isinstance(data, list) and data and all(isinstance(p, Pipeline) for p in data):
        pipes = data
    else:
        pipes = parse_pipelines(data)
    out = []
    for i, p in enumerate(pipes):
        try:
            out.append(size_pipeline(p, catalog))
        except DeployscopeError as exc:
            field = (exc.field or "").replace(f"pipelines[{p.name}]", f"pipelines[{i}]")
            raise DeployscopeError(exc.args[0], field=field, value=exc.value, allowed=exc.allowed, constraint=exc.constraint) from None
    return out
