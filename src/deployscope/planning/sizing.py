"""Sizing: for each GPU type, the configuration (weight format x tensor parallelism, image batch,
training GPU count, pipeline stage replicas) that meets the targets and the quality floor, with its
capacity per replica from the physics models; then replicas per year for the peak, with the spare.

:class:`Sizer` remembers each (workload, GPU) answer for the plan it sizes; fleet arithmetic
(``gpus_per_year``, ``utilization``) are plain functions of the pieces and the factors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import DeployscopeError
from ..feasibility import training_run_limit
from ..physics import serving
from ..result import ComponentSizing, HeldOutBias
from ..scenario import DiffusionWorkload, LLMWorkload
from . import pipelines
from .candidates import (
    HOURS_PER_YEAR,
    SECONDS_PER_DAY,
    Demand,
    Factors,
    ImageConfig,
    Piece,
    PlacementName,
    ServeConfig,
    TrainingConfig,
)
from .image_training import size_job as size_image_job
from .inputs import Inputs
from .unservable import Unservable


def _get(obj: Any, key: str, default: Any = ...) -> Any:
    if isinstance(obj, dict):
        return obj[key] if default is ... else obj.get(key, default)
    return getattr(obj, key) if default is ... else getattr(obj, key, default)


def _f(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


def p95(x: Any) -> float | None:
    """The p95 of a latency summary ({mean, p50, p90, p99}), between p90 and p99 as the serving model does."""
    if x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x)
    p90, p99 = _f(_get(x, "p90", None)), _f(_get(x, "p99", None))
    if p90 is not None and p99 is not None:  # exponential tail: the quantile grows with -ln(1 - q)
        return p90 + (p99 - p90) * (math.log(20) - math.log(10)) / (math.log(100) - math.log(10))
    return _f(_get(x, "mean", None))


def band(x: Any) -> dict[str, float] | None:
    if x is None:
        return None
    lo, hi = _f(_get(x, "low", None)), _f(_get(x, "high", None))
    return {"low": lo, "high": hi} if lo is not None and hi is not None else None


def round8(n: float) -> int:
    """GPUs in whole 8-GPU servers (at least 8)."""
    return max(8, int(math.ceil(n / 8.0 - 1e-9)) * 8)


def ceil(x: Any) -> Any:
    return np.ceil(np.asarray(x, dtype=float) - 1e-9)


class Sizer:
    """Serving, image, training and pipeline configurations per GPU type, each found once."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self._serve: dict[tuple[str, str, bool], tuple[list[ServeConfig], Unservable | None]] = {}
        self._image: dict[tuple[str, str], tuple[list[ImageConfig], Unservable | None]] = {}
        self._training: dict[tuple[str, str], tuple[TrainingConfig | None, Unservable | None]] = {}
        self._pipeline: dict[tuple[str, str | None], tuple[Any, Unservable | None]] = {}
        self._pieces: dict[tuple[str, int, bool], tuple[list[Piece], Unservable | None]] = {}
        self._screen: dict[tuple[str, str], tuple[list[tuple[float, Any, int]], Unservable | None, int]] = {}
        self._contexts: dict[tuple[str, str, str], serving.Context] = {}

    def _context(self, model: str, gpu: str, quant: str) -> serving.Context:
        """The serving context (catalog rows, model shape, calibrated hardware) of one model, GPU and
        weight format, resolved once: the screen and every tp of the SLO search share it."""
        key = (model, gpu, quant)
        if key not in self._contexts:
            c = self.inputs.scenario.candidates
            self._contexts[key] = serving.context(model, gpu, quant=quant, engine=c.engine, calibration=c.calibration,
                                                  catalog=self.inputs.catalog)
        return self._contexts[key]

    # -------------------------------------------------------------------------- LLM serving
    def quants(self, gpu_row: Any) -> list[Any]:
        """Weight formats the engine runs on this GPU within the quality floor."""
        scn = self.inputs.scenario
        cat = self.inputs.catalog
        engine = cat.engines.find(scn.candidates.engine)
        wanted = scn.candidates.quants
        out = []
        for q in cat.quant:
            if wanted and q.id not in wanted:
                continue
            if q.kv_only or (q.kv_cache and q.weight_dtype == "none"):  # KV-cache formats are not weight formats
                continue
            if q.family == "gguf" and scn.candidates.engine != "llamacpp" and scn.candidates.engine != "llama.cpp":
                continue
            if engine is not None and engine.formats and q.id not in engine.formats:
                continue
            qd = q.quality_delta if q.quality_delta is not None else (0.0 if q.id in ("bf16", "fp16") else None)
            if qd is None or qd > scn.quality.max_quality_loss:
                continue
            if (q.compute_dtype not in ("bf16", "fp16") and q.native_families and gpu_row.family not in q.native_families
                    and q.weight_dtype == q.compute_dtype):
                continue  # needs native low-precision tensor cores this GPU lacks
            out.append(q)
        return out

    def serving_configs(self, d: Demand, gpu_id: str, max_tp: int = 8, exact: bool = True) -> tuple[list[ServeConfig], Unservable | None]:
        """The best (format, tp) on one GPU that meets the workload's targets, or the reason none does.

        Screening is vectorized: ``max_throughput_points`` over every tp for each format within the
        quality floor gives the smallest fitting tp and the throughput per GPU; the SLO search
        (``capacity``) then runs only for the best formats, in that order.
        """
        key = (d.name, gpu_id, exact)
        if key not in self._serve:
            self._serve[key] = self._serving_configs_all(d, gpu_id, exact)
        cfgs, reason = self._serve[key]
        ok = [c for c in cfgs if c.tp <= max_tp]
        if not ok and cfgs:
            reason = Unservable("memory", f"{d.model.id} needs {min(c.tp for c in cfgs)} x {gpu_id} per replica, more than this instance has")
        return ok, (None if ok else reason)

    def _screen_formats(self, d: Demand, gpu_id: str, gpu: Any, domain: int, n_in: int, n_out: int,
                        ) -> tuple[list[tuple[float, Any, int]], Unservable | None, int]:
        """(throughput per GPU, format, smallest fitting tp) for each format that fits, the reason
        when none does, and the configurations screened (counted again at every use)."""
        scn = self.inputs.scenario
        cat = self.inputs.catalog
        quants = self.quants(gpu)
        if not quants:
            return [], Unservable("quality floor", f"no weight format within the quality floor ({scn.quality.max_quality_loss} %) runs on {gpu_id}"), 0
        tps = np.array([t for t in self.inputs.search.tp_choices if t <= domain], dtype=float)
        screened: list[tuple[float, Any, int]] = []
        reason: Unservable | None = None
        for q in quants:
            try:
                pts = serving.max_throughput_points(d.model.id, gpu.id, tp=tps, input_len=n_in, output_len=n_out, quant=q.id,
                                                    engine=scn.candidates.engine, calibration=scn.candidates.calibration,
                                                    catalog=cat, ctx=self._context(d.model.id, gpu.id, q.id), ttft=False)
            except DeployscopeError as exc:
                reason = reason or Unservable.from_error(exc)
                continue
            fits = np.asarray(pts["fits"], dtype=bool)
            if not fits.any():
                reason = reason or Unservable("memory", f"{d.model.id} in {q.id} does not fit on up to {int(tps[-1])} x {gpu_id}")
                continue
            i = int(np.argmax(fits))
            per_gpu = float(pts["requests_per_s"][i]) / float(tps[i])
            screened.append((per_gpu, q, int(tps[i])))
        if not screened:
            reason = reason or Unservable("memory", f"{d.model.id} does not fit on {gpu_id}")
        return screened, reason, len(tps) * len(quants)

    def _serving_configs_all(self, d: Demand, gpu_id: str, exact: bool) -> tuple[list[ServeConfig], Unservable | None]:
        inputs = self.inputs
        search = inputs.search
        cat = inputs.catalog
        w: LLMWorkload = d.workload
        scn = inputs.scenario
        gpu = cat.accelerators.get(gpu_id)
        ttft = w.ttft_p95_s or scn.targets.ttft_p95_s
        tpot = w.tpot_p95_s or scn.targets.tpot_p95_s
        domain = max(1, int(getattr(gpu.interconnect, "domain_size", 1) or 1))
        n_in, n_out = int(round(w.input_tokens.mean)), int(round(w.output_tokens.mean))
        key = (d.name, gpu_id)
        if key not in self._screen:  # the bound (exact=False) and the exact sizing screen alike
            self._screen[key] = self._screen_formats(d, gpu_id, gpu, domain, n_in, n_out)
        screened, reason, evaluated = self._screen[key]
        inputs.evaluated += evaluated
        if not screened:
            return [], reason
        # best throughput per GPU first; among near-equals the smaller quality loss
        top = max(s[0] for s in screened)
        near = [s for s in screened if s[0] >= search.near_best * top]
        far = [s for s in screened if s[0] < search.near_best * top]
        screened = sorted(near, key=lambda s: (float(s[1].quality_delta or 0.0), -s[0])) + sorted(far, key=lambda s: -s[0])
        if not exact:
            # an upper bound on capacity (max-throughput point, no latency target): a lower bound on cost
            per_gpu, q, tp0 = max(screened, key=lambda s: s[0])
            return [ServeConfig(gpu=gpu.id, quant=q.id, tp=tp0, cap_rps=per_gpu * tp0, ttft_s=None, tpot_s=None,
                                quality_delta=float(q.quality_delta or 0.0), tokens_per_s=None, error_band=None)], None
        for _per_gpu, q, tp0 in screened[: search.exact_formats]:
            for tp in [t for t in search.tp_choices if tp0 <= t <= domain]:
                inputs.evaluated += 1
                try:
                    dep = serving.Deployment(model=d.model.id, gpu=gpu.id, gpus=tp, tp=tp, quant=q.id,
                                             engine=scn.candidates.engine, calibration=scn.candidates.calibration)
                    res = serving.capacity(dep, serving.Load(input_len=n_in, output_len=n_out),
                                           serving.LatencyTargets(ttft_p95_s=ttft, tpot_p95_s=tpot), catalog=cat,
                                           ctx=self._context(d.model.id, gpu.id, q.id))
                except DeployscopeError as exc:
                    reason = reason or Unservable.from_error(exc, f"{d.model.id} ({q.id}, tp {tp}) on {gpu_id}: {exc.args[0]}")
                    continue
                rps = float(_get(res, "requests_per_s", 0.0) or 0.0)
                if not rps > 0:
                    continue
                cfg = ServeConfig(
                    gpu=gpu.id, quant=q.id, tp=tp, cap_rps=rps,
                    ttft_s=p95(_get(res, "ttft_s", None)), tpot_s=p95(_get(res, "tpot_s", None)),
                    quality_delta=float(q.quality_delta or 0.0),
                    tokens_per_s=_f(_get(res, "output_tokens_per_s", None)),
                    error_band=band(_get(res, "error_band", None)),
                    batch=max(1.0, float(_get(res, "batch_size", 1.0) or 1.0)),
                    kv_quant=_get(res, "kv_quant", None),
                    max_batch=_f(_get(res, "max_batch_size", None)),
                    held_out_bias=[HeldOutBias.model_validate(b)
                                   for b in _get(_get(res, "error_band", None), "held_out_bias", None) or ()],
                )
                return [cfg], None
        return [], reason or Unservable("latency", f"{d.model.id} on {gpu_id} cannot meet TTFT p95 {ttft} s and TPOT p95 {tpot} s")

    # -------------------------------------------------------------------------- images
    def image_configs(self, d: Demand, gpu_id: str) -> tuple[list[ImageConfig], Unservable | None]:
        """The image batch with the most images per GPU-second within the latency target."""
        from ..physics import diffusion  # only image workloads need it: LLM-only plans start faster

        key = (d.name, gpu_id)
        if key in self._image:
            return self._image[key]
        inputs = self.inputs
        w: DiffusionWorkload = d.workload
        target = w.image_latency_s or inputs.scenario.targets.image_latency_s
        out: list[ImageConfig] = []
        reason: Unservable | None = None
        for batch in inputs.search.image_batches:
            inputs.evaluated += 1
            try:
                res = diffusion.estimate(d.model.id, gpu_id, gpus=1, resolution=(w.resolution[0], w.resolution[1]), steps=w.steps, cfg=w.cfg,
                                         batch=batch, quant=w.quant or "fp16", catalog=inputs.catalog)
            except DeployscopeError as exc:
                reason = reason or Unservable.from_error(exc)
                break
            lat = float(_get(res, "latency_s"))
            if lat > target:
                reason = reason or Unservable("image latency", f"one image takes {lat:.1f} s on {gpu_id}, above the {target} s target")
                break
            out.append(ImageConfig(batch=batch, latency_s=lat, img_per_s_per_gpu=float(_get(res, "images_per_s_per_gpu")),
                                   error_band=band(_get(res, "error_band", None))))
        best = max(out, key=lambda c: c.img_per_s_per_gpu) if out else None
        self._image[key] = ([best] if best else [], None if best else reason)
        return self._image[key]

    # -------------------------------------------------------------------------- training
    def training_config(self, j: Any, gpu_id: str) -> tuple[TrainingConfig | None, Unservable | None]:
        """The fewest GPUs (whole servers) that finish one run of a training job within its deadline."""
        from ..physics import training  # only training jobs need it: serving-only plans start faster

        key = (j.name, gpu_id)
        if key in self._training:
            return self._training[key]
        inputs = self.inputs
        if getattr(j, "kind", "llm") == "image_training":
            inputs.evaluated += 1
            sized, why = size_image_job(j, gpu_id, inputs.catalog)
            self._training[key] = (TrainingConfig(gpus=sized.gpus, gpu_hours=sized.gpu_hours, wall_days=sized.wall_days,
                                                  energy_kwh=sized.energy_kwh, fabric_kind=sized.fabric_kind), None) if sized else (None, why)
            return self._training[key]
        ans: tuple[TrainingConfig | None, Unservable | None] = (None, None)
        limit = training_run_limit(j, inputs.scenario.horizon_years)  # deadline, gap between runs, horizon
        n = inputs.search.training_start_gpus
        reason: Unservable | None = None
        tried: set[int] = set()
        while n <= inputs.search.training_max_gpus and n not in tried:
            tried.add(n)
            inputs.evaluated += 1
            try:
                res = training.estimate(j.model, gpu_id, n, j.tokens, j.method, j.seq_len, catalog=inputs.catalog)
            except DeployscopeError as exc:
                reason = Unservable.from_error(exc)
                n *= 2
                continue
            min_gpus = int(_get(res, "min_gpus", 0) or 0)
            if not bool(_get(res, "fits", True)):
                reason = Unservable("memory", f"{j.model} {j.method} does not fit on {n} x {gpu_id}")
                n = max(2 * n, round8(min_gpus))  # jump to the fewest GPUs that hold it
                continue
            wall = float(_get(res, "wall_days"))
            if wall <= limit.days:
                ans = (TrainingConfig(gpus=n, gpu_hours=float(_get(res, "gpu_hours")), wall_days=wall,
                                      energy_kwh=_f(_get(res, "energy_kwh", None))), None)
                break
            reason = Unservable("deadline", limit.exceeded(wall, f"{n} x {gpu_id}"))
            # scale out in proportion to the overrun (then check: scaling is sub-linear)
            n = max(2 * n if n < 16 else n + 8, round8(n * wall / limit.days))
        if ans[0] is None:
            ans = (None, reason or Unservable("sizing", f"{j.model} cannot be trained on {gpu_id}"))
        self._training[key] = ans
        return ans

    # -------------------------------------------------------------------------- pipelines
    def pipeline_sizing(self, p: Any, gpu_id: str | None) -> tuple[Any, Unservable | None]:
        """A pipeline's stages sized on one GPU type (None: the GPUs its stages name)."""
        key = (p.name, gpu_id)
        if key not in self._pipeline:
            self.inputs.evaluated += len(p.stages)
            self._pipeline[key] = pipelines.size(p, gpu_id, self.inputs.catalog)
        return self._pipeline[key]

    # -------------------------------------------------------------------------- all workloads
    def pieces(self, gpu_id: str, *, max_tp: int = 8, exact: bool = True) -> tuple[list[Piece], Unservable | None]:
        """Serve every workload of the scenario on one GPU type ([] with the reason if one cannot be)."""
        key = (gpu_id, max_tp, exact)
        if key not in self._pieces:
            self._pieces[key] = self._pieces_for_gpu(gpu_id, max_tp, exact)
        return self._pieces[key]

    def _pieces_for_gpu(self, gpu_id: str, max_tp: int, exact: bool) -> tuple[list[Piece], Unservable | None]:
        inputs = self.inputs
        out: list[Piece] = []
        for d in inputs.demands:
            if d.kind == "llm":
                cfgs, why = self.serving_configs(d, gpu_id, max_tp, exact)
                if not cfgs:
                    return [], why.of(d.name) if why else None
                # fewest GPUs at the final-year peak, then least quality loss
                peak = float(peak_rate(d, Factors())[-1])
                best = min(cfgs, key=lambda c: (math.ceil(peak / c.cap_rps - 1e-9) * c.tp, c.quality_delta, c.tp))
                out.append(Piece(d=d, kind="llm", name=d.name, model=d.model.id, gpu=gpu_id, per_replica_gpus=best.tp,
                                 cap=best.cap_rps, serve=best, pool=d.pool))
            else:
                imgs, why = self.image_configs(d, gpu_id)
                if not imgs:
                    return [], why.of(d.name) if why else None
                c = imgs[0]
                out.append(Piece(d=d, kind="diffusion", name=d.name, model=d.model.id, gpu=gpu_id, per_replica_gpus=1,
                                 cap=c.img_per_s_per_gpu, image=c, pool=d.pool))
        for j in inputs.scenario.training:
            g = j.gpu or gpu_id
            tc, why = self.training_config(j, inputs.catalog.accelerators.get(g, field="training.gpu").id)
            if tc is None:
                return [], why.of(j.name) if why else None
            out.append(Piece(d=None, kind="training", name=j.name, model=j.model, gpu=g, fixed_gpus=tc.gpus,
                             gpu_hours_per_year=tc.gpu_hours * j.runs_per_year, runs_per_year=j.runs_per_year, training=tc,
                             pool=f"_train_{j.name}",
                             note=f"{tc.gpus} GPUs, {tc.wall_days:.1f} days per run, {j.runs_per_year:g} runs a year"
                             + (f", {tc.energy_kwh * j.runs_per_year:,.0f} kWh a year before PUE" if tc.energy_kwh else "")))
        for p in inputs.scenario.pipelines:
            sz, why = self.pipeline_sizing(p, gpu_id)
            if sz is None:
                sz, _ = self.pipeline_sizing(p, None)  # the GPUs the stages name
                if sz is None:
                    return [], why.of(p.name) if why else None
            runs = pipelines.runs_per_year(inputs, p)
            for st in sz.stages:
                out.append(Piece(d=None, kind="pipeline", name=f"{p.name}/{st.name}", model=st.model, gpu=st.gpu,
                                 per_replica_gpus=st.gpus_per_replica, fixed_gpus=st.gpus, gpu_hours_per_year=st.gpu_hours * runs,
                                 pool=f"_pipe_{p.name}_{st.name}", busy_share=p.utilization, stage=st,
                                 pipe_daily_gpus=st.gpu_hours_per_day / (24.0 * p.utilization)))
        return out, None


# ------------------------------------------------------------------------------ fleet arithmetic
def peak_rate(d: Demand, f: Factors) -> np.ndarray:
    """Peak requests (images) per second per year, shape (H,) or (S, H)."""
    base = d.daily / SECONDS_PER_DAY * d.pta
    out: np.ndarray = np.multiply.outer(np.asarray(f.demand, dtype=float), base) if np.ndim(f.demand) else base * f.demand
    return out


def base_level(inputs: Inputs, d: Demand) -> float:
    """A hybrid's on-prem level for one workload: its profile at the base-load percentile."""
    q = inputs.scenario.load_profile.base_load_percentile
    return float(np.percentile(d.profile, 50.0 if q is None else q))


def base_volume_share(inputs: Inputs) -> float:
    """Share of the volume at or below the base-load percentile (what a hybrid serves on-prem)."""
    p = inputs.profile
    q = inputs.scenario.load_profile.base_load_percentile
    lvl = float(np.percentile(p, 50.0 if q is None else q))
    return float(np.minimum(p, lvl).mean())


def gpus_per_year(inputs: Inputs, pieces: list[Piece], f: Factors, base_share: float | None = None) -> dict[str, Any]:
    """GPUs of each type needed in each year (N+1 per pool), shape (H,) or (S, H)."""
    spare = inputs.spare
    H = inputs.H
    by_pool: dict[tuple[str, str], Any] = {}
    pool_tp: dict[tuple[str, str], int] = {}
    for pc in pieces:
        key = (pc.pool, pc.gpu or "")
        if pc.kind in ("llm", "diffusion"):
            d = pc.d
            assert d is not None
            if base_share is None:
                peak = peak_rate(d, f)
            else:  # hybrid: on-prem serves up to the base level
                peak = peak_rate(d, f) / d.pta * base_level(inputs, d)
            g = ceil(peak / pc.cap) * pc.per_replica_gpus
        elif pc.kind == "pipeline" and pc.pipe_daily_gpus:  # daily volume, or items / deadline: same rate
            g = ceil(pc.pipe_daily_gpus * np.asarray(f.demand, dtype=float) / pc.per_replica_gpus) * pc.per_replica_gpus
            g = np.maximum(g, pc.per_replica_gpus)
            g = np.multiply.outer(g, np.ones(H)) if np.ndim(g) else np.full(H, float(g))
        else:
            g = np.full(H, float(pc.fixed_gpus))
            if np.ndim(f.demand):
                g = np.broadcast_to(g, (np.size(f.demand), H))
        by_pool[key] = by_pool.get(key, 0.0) + g
        pool_tp[key] = max(pool_tp.get(key, 1), pc.per_replica_gpus)
    out: dict[str, Any] = {}
    for (pool, gpu), g in by_pool.items():
        extra = spare * pool_tp[(pool, gpu)] if not pool.startswith("_train_") else 0
        out[gpu] = out.get(gpu, 0.0) + np.asarray(g, dtype=float) + extra
    return out


def utilization(inputs: Inputs, pieces: list[Piece], base_share: float | None) -> list[float]:
    """Average busy share of the serving fleet per year at demand factor 1."""
    need = gpus_per_year(inputs, pieces, Factors(), base_share)
    total = sum(np.asarray(v, dtype=float) for v in need.values()) if need else np.ones(inputs.H)
    busy = np.zeros(inputs.H)
    for pc in pieces:
        if pc.kind in ("llm", "diffusion") and pc.d is not None:
            avg = pc.d.daily / SECONDS_PER_DAY
            if base_share is not None:
                avg = avg * base_volume_share(inputs)
            busy += avg / pc.cap * pc.per_replica_gpus
        else:
            busy += pc.gpu_hours_per_year / HOURS_PER_YEAR
    return list(np.clip(busy / np.maximum(total, 1e-9), 0.0, 1.0))


def component(inputs: Inputs, pc: Piece, placement: PlacementName, f: Factors, base_share: float | None = None) -> ComponentSizing:
    """One workload's sizing as the plan reports it."""
    if pc.kind in ("llm", "diffusion") and pc.d is not None:
        peak = float(peak_rate(pc.d, f)[-1])
        if base_share is not None:
            peak = peak / pc.d.pta * base_level(inputs, pc.d)
        rep = int(math.ceil(peak / pc.cap - 1e-9)) + inputs.spare
        avg = float(pc.d.daily[-1]) / SECONDS_PER_DAY
        return ComponentSizing(
            workload=pc.name, kind=pc.kind, model=pc.model, placement=placement, gpu=pc.gpu,
            gpus=rep * pc.per_replica_gpus, quant=pc.quant if pc.kind == "llm" else (pc.d.workload.quant or "fp16"),
            tp=pc.per_replica_gpus, pp=1, replicas=rep, capacity_per_replica=pc.cap, demand_peak=peak,
            utilization=min(1.0, avg / (rep * pc.cap)) if rep else None,
            kv_quant=pc.serve.kv_quant if pc.serve is not None else None,
            max_batch_per_replica=int(pc.serve.max_batch) if pc.serve is not None and pc.serve.max_batch else None,
        )
    tc = pc.training if pc.kind == "training" else None
    return ComponentSizing(
        workload=pc.name, kind="training" if pc.kind == "training" else "pipeline_stage", model=pc.model,
        placement=placement, gpu=pc.gpu, gpus=pc.fixed_gpus, gpu_hours_per_year=pc.gpu_hours_per_year, note=pc.note,
        tp=pc.per_replica_gpus,
        # training: runs, days per run and yearly energy (before PUE)
        runs_per_year=pc.runs_per_year if tc is not None else None, days_per_run=tc.wall_days if tc is not None else None,
        energy_kwh_per_year=tc.energy_kwh * pc.runs_per_year if tc is not None and tc.energy_kwh else None,
    )


def latency(pieces: list[Piece]) -> float | None:
    """End-to-end latency of the slowest served workload (TTFT + output x TPOT, or one image)."""
    vals = []
    for pc in pieces:
        if pc.serve is not None and pc.serve.ttft_s is not None and pc.serve.tpot_s is not None and pc.d is not None:
            vals.append(pc.serve.ttft_s + pc.serve.tpot_s * pc.d.workload.output_tokens.mean)
        elif pc.image is not None:
            vals.append(pc.image.latency_s)
    return max(vals) if vals else None


def quality_delta(pieces: list[Piece]) -> float:
    return max([pc.serve.quality_delta for pc in pieces if pc.serve is not None] + [0.0])
