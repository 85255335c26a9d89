"""The planner: scenario -> candidates -> physics -> economics -> policy -> decide -> Plan.

This is the one file that shows the whole flow:

1. ``_Context``: the validated scenario, the catalog, the economic inputs (scenario values over
   ``economic_defaults`` rows, each an assumption with provenance), the load profile and the
   demand of every workload per year.
2. ``_serving_configs`` / ``_image_configs`` / ``_training_configs``: for each GPU type, the
   configurations (format x tensor parallelism, or batch) that meet the targets and the quality
   floor, with their capacity per replica from the physics models. Cached per GPU.
3. Option builders (``_onprem_options``, ``_cloud_options``, ``_api_options``, ``_hybrid_options``):
   each option is sized (replicas for the peak of every year, N+1, servers from the servers table,
   facility limits) and carries a ``cost(factors)`` function that returns the economics module's
   ``CostResult``. Factors (tariff, gpu_price, utilization, demand, api_price, cloud_price) are
   plain floats, or numpy arrays for Monte Carlo, so one call prices thousands of draws.
4. Policy: every option's parts (on-prem, cloud provider, API provider, with jurisdiction and
   certifications) go through ``deployscope.policy.engine``; excluded options stay in the plan
   with the reason.
5. ``deployscope.decide`` ranks, builds the Pareto front, the rationale, the tornado and the
   Monte Carlo ranges, and the Plan (``deployscope.result``) is returned.

Money is USD inside; the Plan is converted to the scenario's currency at the end.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import DeployscopeError
from .result import (
    Assumption,
    ComponentSizing,
    Performance,
    Plan,
    Source,
)
from .scenario import DiffusionWorkload, LLMWorkload, Scenario, load_scenario

HOURS_PER_YEAR = 8760.0
DAYS_PER_YEAR = 365.0
SECONDS_PER_DAY = 86400.0
TP_CHOICES = (1, 2, 4, 8)
FACTORS = ("tariff", "gpu_price", "utilization", "demand", "api_price", "cloud_price")

# Labelled assumptions (reported in every plan; override in the scenario). -----------------
#: uncertainty of each input as (low, mode, high) multipliers of the base value
UNCERTAINTY_DEFAULTS: dict[str, tuple[float, float, float]] = {
    "tariff": (0.8, 1.0, 1.3),
    "gpu_price": (0.85, 1.0, 1.2),
    "utilization": (0.7, 1.0, 1.1),
    "demand": (0.6, 1.0, 1.6),
    "api_price": (0.5, 1.0, 1.1),
    "cloud_price": (0.8, 1.0, 1.1),
}
#: built-in load shapes: business_hours = weekdays 08-18 busy, other hours at this share of busy
OFF_HOURS_SHARE = 0.1
#: consumer shape: daily sinusoid peaking at 20:00 with this relative amplitude
CONSUMER_AMPLITUDE = 0.6
#: request logs kept for this many days (EU AI Act Art. 26(6): at least six months) at this many bytes per token
LOG_RETENTION_DAYS = 183
LOG_BYTES_PER_TOKEN = 4.0


@dataclass
class Factors:
    tariff: Any = 1.0
    gpu_price: Any = 1.0
    utilization: Any = 1.0
    demand: Any = 1.0
    api_price: Any = 1.0
    cloud_price: Any = 1.0

    def broadcast(self) -> "Factors":
        """All factors as arrays of one length when any is an array (Monte Carlo, sweeps)."""
        vals = [np.asarray(getattr(self, k), dtype=float) for k in FACTORS]
        n = max((v.size for v in vals if v.ndim), default=0)
        if not n:
            return self
        return Factors(**{k: (v if v.ndim else np.full(n, float(v))) for k, v in zip(FACTORS, vals)})

    def replace(self, **kw: Any) -> "Factors":
        d = {k: getattr(self, k) for k in FACTORS}
        d.update(kw)
        return Factors(**d)


# ------------------------------------------------------------------------------ context
@dataclass
class _Demand:
    name: str
    kind: str  # llm | diffusion
    workload: Any
    model: Any  # ModelSpec
    daily: np.ndarray  # requests (or images) per day, years 1..H
    profile: np.ndarray  # 168 hourly weights, mean 1
    pta: float
    pool: str


@dataclass
class _Context:
    scenario: Scenario
    catalog: Any
    H: int
    econ: Any  # economics.EconomicInputs
    fx_per_usd: float
    currency: str
    profile: np.ndarray
    demands: list[_Demand]
    assumptions: list[Assumption] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sources: dict[tuple[str, str], Source] = field(default_factory=dict)
    evaluated: int = 0
    cache: dict[Any, Any] = field(default_factory=dict)

    def source(self, table: str, row: Any) -> Source:
        key = (table, row.id)
        if key not in self.sources:
            self.sources[key] = Source(table=table, id=row.id, source=getattr(row, "source", None), as_of=str(getattr(row, "as_of", "") or "") or None)
        return self.sources[key]

    def money_in(self, value: float) -> float:
        """A money figure in the scenario's currency -> USD."""
        return value / self.fx_per_usd


def _profile(scn: Scenario, pta: float | None) -> tuple[np.ndarray, list[Assumption]]:
    """168 hourly weights (Monday 00:00 first), mean 1, and the assumptions behind them."""
    lp = scn.load_profile
    notes: list[Assumption] = []
    if lp.hourly or lp.weekly:
        hourly = np.asarray(lp.hourly or [1.0] * 24, dtype=float)
        weekly = np.asarray(lp.weekly or [1.0] * 7, dtype=float)
        p = (weekly[:, None] * hourly[None, :]).ravel()
    elif lp.shape in ("flat", "batch"):
        p = np.ones(168)
    elif lp.shape == "consumer":
        h = np.arange(168) % 24
        p = 1.0 + CONSUMER_AMPLITUDE * np.cos(2 * np.pi * (h - 20) / 24.0)
        notes.append(Assumption(name="load_profile.shape", value="consumer", origin="assumption",
                                note=f"daily sinusoid peaking at 20:00, amplitude {CONSUMER_AMPLITUDE} of the mean; give load_profile.hourly to replace it"))
    else:
        d, h = np.divmod(np.arange(168), 24)
        busy = (d < 5) & (h >= 8) & (h < 18)
        p = np.where(busy, 1.0, OFF_HOURS_SHARE)
        notes.append(Assumption(name="load_profile.shape", value="business_hours", origin="assumption",
                                note=f"weekdays 08:00-18:00 busy, other hours at {OFF_HOURS_SHARE:.0%} of busy; give load_profile.hourly/weekly to replace it"))
    p = p / p.mean()
    if pta is not None:
        cur = float(p.max())
        if cur <= 1.0 + 1e-9:
            if pta > 1.0:
                d, h = np.divmod(np.arange(168), 24)
                p = np.where((d < 5) & (h >= 8) & (h < 18), 1.0, OFF_HOURS_SHARE)
                p = p / p.mean()
                cur = float(p.max())
        if cur > 1.0 + 1e-9:
            k = (pta - 1.0) / (cur - 1.0)
            q = 1.0 + (p - 1.0) * k
            if q.min() < 0:  # too peaky for this shape: clip and renormalize the troughs
                q = np.clip(q, 0.0, None)
                q = q / q.mean()
            p = q
    return p, notes


def _check_candidates(scn: Scenario, catalog: Any) -> None:
    """Names in the candidate filters must exist in the catalog (a typo would silently filter everything)."""
    c = scn.candidates
    providers = sorted({r.provider for r in catalog.cloud_instances} | {r.provider for r in catalog.api_prices})
    for i, p in enumerate(c.providers):
        if p not in providers:
            raise DeployscopeError(f"unknown provider {p!r}", field=f"candidates.providers[{i}]", value=p, allowed=providers)
    for i, q in enumerate(c.quants):
        catalog.quant.get(q, field=f"candidates.quants[{i}]")
    catalog.engines.get(c.engine, field="candidates.engine")
    for i, g in enumerate(c.gpus):
        catalog.accelerators.get(g, field=f"candidates.gpus[{i}]")


def _context(scn: Scenario, catalog: Any) -> _Context:
    from .economics import economic_inputs
    from .references import check_references

    check_references(scn, catalog)  # a name that resolves to nothing is an error, never an empty filter
    eco = scn.economics
    cur = scn.currency
    assumptions: list[Assumption] = []
    fx = 1.0
    if cur.code != "USD":
        if cur.per_usd is not None:
            fx = cur.per_usd
            assumptions.append(Assumption(name="currency.per_usd", value=fx, unit=f"{cur.code}/USD", origin="user", as_of=cur.as_of))
        else:
            row = catalog.fx_rates.find(cur.code)
            if row is None:
                raise DeployscopeError(
                    f"no default conversion rate for {cur.code}: give currency.per_usd",
                    field="currency.code", value=cur.code, allowed=["USD", *catalog.fx_rates.ids()],
                )
            fx = 1.0 / row.usd_per_unit
            assumptions.append(Assumption(name="currency.per_usd", value=fx, unit=f"{cur.code}/USD", origin="catalog_default",
                                          source=row.source, as_of=str(row.as_of)))

    def usd(v: float | None) -> float | None:
        return None if v is None else v / fx

    overrides: dict[str, float] = {}
    pairs = {
        "tariff_usd_per_kwh": usd(eco.tariff_per_kwh),
        "grid_kg_co2_per_kwh": eco.carbon_kg_per_kwh,
        "pue": eco.pue,
        "colocation_usd_per_kw_month": usd(eco.colocation_per_kw_month),
        "own_facility_usd_per_kw_year": usd(eco.own_facility_per_kw_year),
        "support_pct_of_capex": None if eco.support_pct_capex is None else eco.support_pct_capex / 100.0,
        "installation_pct_of_capex": None if eco.installation_pct_capex is None else eco.installation_pct_capex / 100.0,
        "staff_usd_per_fte_year": usd(eco.staff_cost_per_fte),
        "staff_fte_onprem": eco.staff_fte,
        "staff_fte_cloud": eco.staff_fte_cloud,
        "discount_rate": eco.discount_rate,
        "depreciation_years": eco.depreciation_years,
    }
    overrides = {k: float(v) for k, v in pairs.items() if v is not None}
    try:
        econ = economic_inputs(catalog, region=eco.region, facility=eco.facility or "colocation", overrides=overrides)
    except DeployscopeError as exc:
        if exc.field and exc.field.startswith("economics.") and "region" in str(exc):
            raise
        raise
    scenario_name = {
        "tariff_usd_per_kwh": "economics.tariff_per_kwh", "grid_kg_co2_per_kwh": "economics.carbon_kg_per_kwh",
        "pue": "economics.pue", "colocation_usd_per_kw_month": "economics.colocation_per_kw_month",
        "own_facility_usd_per_kw_year": "economics.own_facility_per_kw_year",
        "support_pct_of_capex": "economics.support_pct_capex", "installation_pct_of_capex": "economics.installation_pct_capex",
        "staff_usd_per_fte_year": "economics.staff_cost_per_fte", "staff_fte_onprem": "economics.staff_fte",
        "staff_fte_cloud": "economics.staff_fte_cloud", "discount_rate": "economics.discount_rate",
        "depreciation_years": "economics.depreciation_years",
    }
    for name, a in econ.provenance.items():
        user = name in overrides
        assumptions.append(Assumption(
            name=scenario_name.get(name, f"economics.{name}"),
            value=a.value, unit=a.unit or None,
            origin="user" if user else ("assumption" if a.assumption else "catalog_default"),
            source=None if user else a.source,
            note=None if user else "default from the economic_defaults catalog table; set it in the scenario to override",
        ))
    if eco.facility is None:
        assumptions.append(Assumption(name="economics.facility", value="colocation", origin="assumption",
                                      note="on-prem hardware sits in a colocation facility paid per kW-month"))
    _check_candidates(scn, catalog)
    H = scn.horizon_years
    base_profile, notes = _profile(scn, scn.load_profile.peak_to_average)
    assumptions += notes
    if scn.load_profile.peak_to_average is None:
        assumptions.append(Assumption(name="load_profile.peak_to_average", value=round(float(base_profile.max()), 3), origin="derived",
                                      note=f"from the {scn.load_profile.shape} shape"))
    demands: list[_Demand] = []
    for i, w in enumerate(scn.workloads):
        model = catalog.models.get(w.model, field=f"workloads[{i}].model")
        if isinstance(w, LLMWorkload):
            if model.modality not in ("llm",):
                raise DeployscopeError(f"{model.id} is a {model.modality} model, not an LLM", field=f"workloads[{i}].model",
                                       value=w.model, allowed="a text-generation model (kind: llm), or set kind: diffusion")
            base = w.daily_requests
        else:
            if model.modality not in ("diffusion", "gan"):
                raise DeployscopeError(f"{model.id} is a {model.modality} model, not an image model", field=f"workloads[{i}].model",
                                       value=w.model, allowed="a diffusion or GAN model")
            base = w.images_per_day
        daily = base * w.growth_factor_per_year ** np.arange(H)
        prof = base_profile if w.peak_to_average is None else _profile(scn, w.peak_to_average)[0]
        demands.append(_Demand(name=w.name, kind=w.kind, workload=w, model=model, daily=daily, profile=prof,
                               pta=float(prof.max()), pool=w.pool or f"_{w.name}"))
    if catalog.economic_defaults.find("power.idle_fraction") is None:
        assumptions.append(Assumption(name="power.idle_fraction", value=1.0, origin="assumption",
                                      note="no idle-power row in the catalog: on-prem servers draw their typical power every hour"))
    ctx = _Context(scenario=scn, catalog=catalog, H=H, econ=econ, fx_per_usd=fx, currency=cur.code,
                   profile=base_profile, demands=demands, assumptions=assumptions)
    for name, (lo, mode, hi) in {**UNCERTAINTY_DEFAULTS, **scn.uncertainty}.items():
        if name not in FACTORS:
            raise DeployscopeError("unknown uncertain input", field=f"uncertainty.{name}", value=name, allowed=FACTORS)
        if not 0 < lo <= mode <= hi:
            raise DeployscopeError("needs 0 < low <= mode <= high", field=f"uncertainty.{name}", value=[lo, mode, hi])
    for name, rng in UNCERTAINTY_DEFAULTS.items():
        if name not in scn.uncertainty:
            ctx.assumptions.append(Assumption(name=f"uncertainty.{name}", value=list(rng), unit="factor (low, mode, high)",
                                              origin="assumption", note="triangular range for sensitivity and Monte Carlo"))
    return ctx


# ------------------------------------------------------------------------------ physics
@dataclass
class _ServeCfg:
    gpu: str
    quant: str
    tp: int
    cap_rps: float  # requests/s per replica meeting the targets
    ttft_s: float | None
    tpot_s: float | None
    quality_delta: float
    tokens_per_s: float | None
    error_band: dict[str, float] | None
    weight_bytes: float | None = None
    batch: float = 1.0  # sequences in flight per replica at the SLO capacity


def _quants(ctx: _Context, gpu_row: Any, field_path: str) -> list[Any]:
    scn = ctx.scenario
    cat = ctx.catalog
    engine = cat.engines.find(scn.candidates.engine)
    wanted = scn.candidates.quants
    out = []
    for q in cat.quant:
        if wanted and q.id not in wanted:
            continue
        if q.id.endswith("-kv") or (q.kv_cache and q.weight_dtype == "none"):
            continue
        if q.family == "gguf" and scn.candidates.engine != "llamacpp" and scn.candidates.engine != "llama.cpp":
            continue
        if engine is not None and engine.formats and q.id not in engine.formats:
            continue
        qd = q.quality_delta if q.quality_delta is not None else (0.0 if q.id in ("bf16", "fp16") else None)
        if qd is None or qd > scn.quality.max_quality_loss:
            continue
        if q.compute_dtype not in ("bf16", "fp16") and q.native_families and gpu_row.family not in q.native_families and q.weight_dtype == q.compute_dtype:
            continue  # needs native low-precision tensor cores this GPU lacks
        out.append(q)
    return out


def _serving_configs(ctx: _Context, d: _Demand, gpu_id: str, max_tp: int = 8, exact: bool = True) -> tuple[list[_ServeCfg], str | None]:
    """The best (format, tp) on one GPU that meets the workload's targets, or the reason none does.

    Screening is vectorized: ``max_throughput_points`` over every tp for each format within the
    quality floor gives the smallest fitting tp and the throughput per GPU; the SLO search
    (``capacity_meeting_slo``) then runs only for the best formats, in that order.
    """
    key = ("serve", d.name, gpu_id, exact)
    if key not in ctx.cache:
        ctx.cache[key] = _serving_configs_all(ctx, d, gpu_id, exact)
    cfgs, reason = ctx.cache[key]
    ok = [c for c in cfgs if c.tp <= max_tp]
    if not ok and cfgs:
        reason = f"{d.model.id} needs {min(c.tp for c in cfgs)} x {gpu_id} per replica, more than this instance has"
    return ok, (None if ok else reason)


def _serving_configs_all(ctx: _Context, d: _Demand, gpu_id: str, exact: bool = True) -> tuple[list[_ServeCfg], str | None]:
    from .physics import serving

    cat = ctx.catalog
    w: LLMWorkload = d.workload
    scn = ctx.scenario
    gpu = cat.accelerators.get(gpu_id)
    ttft = w.ttft_p95_s or scn.targets.ttft_p95_s
    tpot = w.tpot_p95_s or scn.targets.tpot_p95_s
    quants = _quants(ctx, gpu, f"workloads.{d.name}")
    if not quants:
        return [], f"no weight format within the quality floor ({scn.quality.max_quality_loss} %) runs on {gpu_id}"
    domain = max(1, int(getattr(gpu.interconnect, "domain_size", 1) or 1))
    tps = np.array([t for t in TP_CHOICES if t <= domain], dtype=float)
    I, O = int(round(w.input_tokens.mean)), int(round(w.output_tokens.mean))
    screened = []
    reason = None
    for q in quants:
        ctx.evaluated += len(tps)
        try:
            pts = serving.max_throughput_points(d.model.id, gpu.id, tp=tps, input_len=I, output_len=O, quant=q.id,
                                                engine=scn.candidates.engine, calibration=scn.candidates.calibration,
                                                catalog=cat)
        except DeployscopeError as exc:
            reason = reason or str(exc.args[0])
            continue
        fits = np.asarray(pts["fits"], dtype=bool)
        if not fits.any():
            reason = reason or f"{d.model.id} in {q.id} does not fit on up to {int(tps[-1])} x {gpu_id}"
            continue
        i = int(np.argmax(fits))
        per_gpu = float(pts["requests_per_s"][i]) / float(tps[i])
        screened.append((per_gpu, q, int(tps[i])))
    if not screened:
        return [], reason or f"{d.model.id} does not fit on {gpu_id}"
    # best throughput per GPU first; among near-equals (within 5 %) the smaller quality loss
    top = max(s[0] for s in screened)
    near = [s for s in screened if s[0] >= 0.95 * top]
    far = [s for s in screened if s[0] < 0.95 * top]
    screened = sorted(near, key=lambda s: (float(s[1].quality_delta or 0.0), -s[0])) + sorted(far, key=lambda s: -s[0])
    if not exact:
        # an upper bound on capacity (max-throughput point, no latency target): a lower bound on cost
        per_gpu, q, tp0 = max(screened, key=lambda s: s[0])
        return [_ServeCfg(gpu=gpu.id, quant=q.id, tp=tp0, cap_rps=per_gpu * tp0, ttft_s=None, tpot_s=None,
                          quality_delta=float(q.quality_delta or 0.0), tokens_per_s=None, error_band=None)], None
    for per_gpu, q, tp0 in screened[:2]:
        for tp in [t for t in TP_CHOICES if tp0 <= t <= domain]:
            ctx.evaluated += 1
            try:
                res = serving.capacity_meeting_slo(
                    d.model.id, gpu.id, tp=tp, gpus=tp, quant=q.id, engine=scn.candidates.engine,
                    input_len=I, output_len=O, ttft_p95_s=ttft, tpot_p95_s=tpot, catalog=cat,
                    calibration=scn.candidates.calibration,
                )
            except DeployscopeError as exc:
                reason = reason or f"{d.model.id} ({q.id}, tp {tp}) on {gpu_id}: {exc.args[0]}"
                continue
            rps = float(_get(res, "requests_per_s", 0.0) or 0.0)
            if not rps > 0:
                continue
            cfg = _ServeCfg(
                gpu=gpu.id, quant=q.id, tp=tp, cap_rps=rps,
                ttft_s=_pct(_get(res, "ttft_s", None)), tpot_s=_pct(_get(res, "tpot_s", None)),
                quality_delta=float(q.quality_delta or 0.0),
                tokens_per_s=_f(_get(res, "output_tokens_per_s", None)),
                error_band=_band(_get(res, "error_band", None)),
                batch=max(1.0, float(_get(res, "batch_size", 1.0) or 1.0)),
            )
            return [cfg], None
    return [], reason or f"{d.model.id} on {gpu_id} cannot meet TTFT p95 {ttft} s and TPOT p95 {tpot} s"


def _image_configs(ctx: _Context, d: _Demand, gpu_id: str) -> tuple[list[dict[str, Any]], str | None]:
    key = ("img", d.name, gpu_id)
    if key in ctx.cache:
        return ctx.cache[key]
    from .physics import diffusion

    w: DiffusionWorkload = d.workload
    target = w.image_latency_s or ctx.scenario.targets.image_latency_s
    out: list[dict[str, Any]] = []
    reason = None
    for batch in (1, 2, 4, 8):
        ctx.evaluated += 1
        try:
            res = diffusion.estimate(d.model.id, gpu_id, gpus=1, resolution=tuple(w.resolution), steps=w.steps, cfg=w.cfg,
                                     batch=batch, quant=w.quant or "fp16", catalog=ctx.catalog)
        except DeployscopeError as exc:
            reason = reason or str(exc.args[0])
            break
        lat = float(_get(res, "latency_s"))
        if lat > target:
            reason = reason or f"one image takes {lat:.1f} s on {gpu_id}, above the {target} s target"
            break
        out.append({"batch": batch, "latency_s": lat, "img_per_s_per_gpu": float(_get(res, "images_per_s_per_gpu")),
                    "error_band": _band(_get(res, "error_band", None))})
    best = max(out, key=lambda c: c["img_per_s_per_gpu"]) if out else None
    ctx.cache[key] = ([best] if best else [], None if best else reason)
    return ctx.cache[key]


def _training_config(ctx: _Context, j: Any, gpu_id: str) -> tuple[dict[str, Any] | None, str | None]:
    key = ("train", j.name, gpu_id)
    if key in ctx.cache:
        return ctx.cache[key]
    from .physics import training

    ans: tuple[dict[str, Any] | None, str | None] = (None, None)
    n = 8
    reason = None
    tried: set[int] = set()
    while n <= 1024 and n not in tried:
        tried.add(n)
        ctx.evaluated += 1
        try:
            res = training.estimate(j.model, gpu_id, n, j.tokens, j.method, j.seq_len, catalog=ctx.catalog)
        except DeployscopeError as exc:
            reason = str(exc.args[0])
            n *= 2
            continue
        min_gpus = int(_get(res, "min_gpus", 0) or 0)
        if not bool(_get(res, "fits", True)):
            reason = f"{j.model} {j.method} does not fit on {n} x {gpu_id}"
            n = max(2 * n, _round8(min_gpus))  # jump to the fewest GPUs that hold it
            continue
        wall = float(_get(res, "wall_days"))
        if j.deadline_days is None or wall <= j.deadline_days:
            ans = ({"gpus": n, "gpu_hours": float(_get(res, "gpu_hours")), "wall_days": wall,
                    "energy_kwh": _f(_get(res, "energy_kwh", None))}, None)
            break
        reason = f"{n} x {gpu_id} needs {wall:.1f} days per run, above the {j.deadline_days}-day deadline"
        # scale out in proportion to the overrun (then check: scaling is sub-linear)
        n = max(2 * n if n < 16 else n + 8, _round8(n * wall / j.deadline_days))
    if ans[0] is None:
        ans = (None, reason or f"{j.model} cannot be trained on {gpu_id}")
    ctx.cache[key] = ans
    return ans


def _round8(n: float) -> int:
    """GPUs in whole 8-GPU servers (at least 8)."""
    return max(8, int(math.ceil(n / 8.0 - 1e-9)) * 8)


def _pipeline_sizing(ctx: _Context, p: Any, gpu_id: str | None) -> tuple[Any, str | None]:
    key = ("pipe", p.name, gpu_id)
    if key in ctx.cache:
        return ctx.cache[key]
    from .pipeline import size_pipeline

    spec = p
    if gpu_id is not None:
        spec = p.model_copy(update={"stages": [s.model_copy(update={"gpu": gpu_id}) for s in p.stages]})
    ctx.evaluated += len(p.stages)
    try:
        ans = (size_pipeline(spec, ctx.catalog), None)
    except DeployscopeError as exc:
        ans = (None, str(exc.args[0]))
    ctx.cache[key] = ans
    return ans


def _get(obj: Any, key: str, default: Any = ...) -> Any:
    if isinstance(obj, dict):
        return obj[key] if default is ... else obj.get(key, default)
    return getattr(obj, key) if default is ... else getattr(obj, key, default)


def _f(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


def _pct(x: Any) -> float | None:
    """The p95 of a latency summary ({mean, p50, p90, p99}), between p90 and p99 as the serving model does."""
    if x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x)
    p90, p99 = _f(_get(x, "p90", None)), _f(_get(x, "p99", None))
    if p90 is not None and p99 is not None:  # exponential tail: the quantile grows with -ln(1 - q)
        return p90 + (p99 - p90) * (math.log(20) - math.log(10)) / (math.log(100) - math.log(10))
    return _f(_get(x, "mean", None))


def _band(x: Any) -> dict[str, float] | None:
    if x is None:
        return None
    lo, hi = _f(_get(x, "low", None)), _f(_get(x, "high", None))
    return {"low": lo, "high": hi} if lo is not None and hi is not None else None


# ------------------------------------------------------------------------------ sizing helpers
def _spare(ctx: _Context) -> int:
    return {"none": 0, "n+1": 1, "n+2": 2}[ctx.scenario.availability.redundancy]


def _peak_rate(d: _Demand, f: Any) -> np.ndarray:
    """Peak requests (images) per second per year, shape (H,) or (S, H)."""
    base = d.daily / SECONDS_PER_DAY * d.pta
    return np.multiply.outer(np.asarray(f.demand, dtype=float), base) if np.ndim(f.demand) else base * f.demand


def _ceil(x: Any) -> Any:
    return np.ceil(np.asarray(x, dtype=float) - 1e-9)


@dataclass
class _Piece:
    """One workload's share of an option: what it needs and how it is served."""

    d: _Demand | None
    kind: str  # llm | diffusion | training | pipeline
    name: str
    model: str
    gpu: str | None
    per_replica_gpus: int = 1
    cap: float = 0.0  # requests|images /s per replica
    cfg: Any = None
    fixed_gpus: int = 0  # training / batch pipelines: GPUs independent of demand
    gpu_hours_per_year: float = 0.0  # busy GPU-hours a year (training, pipelines)
    pool: str = ""
    busy_share: float = 1.0  # pipelines: share of each day busy
    pipe_daily_gpus: float = 0.0  # continuous pipeline: GPUs at demand factor 1 (fractional)
    note: str | None = None

    def replicas(self, peak: Any) -> Any:
        return _ceil(peak / self.cap)


def _pieces_for_gpu(ctx: _Context, gpu_id: str, *, max_tp: int = 8, for_cloud: bool = False, exact: bool = True) -> tuple[list[_Piece], str | None]:
    """Serve every workload of the scenario on one GPU type; None with the reason if one cannot be."""
    pieces: list[_Piece] = []
    scn = ctx.scenario
    for d in ctx.demands:
        if d.kind == "llm":
            cfgs, why = _serving_configs(ctx, d, gpu_id, max_tp, exact)
            if not cfgs:
                return [], f"{d.name}: {why}"
            # fewest GPUs at the final-year peak, then least quality loss
            peak = float(_peak_rate(d, Factors())[-1])
            best = min(cfgs, key=lambda c: (math.ceil(peak / c.cap_rps - 1e-9) * c.tp, c.quality_delta, c.tp))
            pieces.append(_Piece(d=d, kind="llm", name=d.name, model=d.model.id, gpu=gpu_id, per_replica_gpus=best.tp,
                                 cap=best.cap_rps, cfg=best, pool=d.pool))
        else:
            cfgs, why = _image_configs(ctx, d, gpu_id)
            if not cfgs:
                return [], f"{d.name}: {why}"
            c = cfgs[0]
            pieces.append(_Piece(d=d, kind="diffusion", name=d.name, model=d.model.id, gpu=gpu_id, per_replica_gpus=1,
                                 cap=c["img_per_s_per_gpu"], cfg=c, pool=d.pool))
    for j in scn.training:
        g = j.gpu or gpu_id
        cfg, why = _training_config(ctx, j, ctx.catalog.accelerators.get(g, field="training.gpu").id)
        if cfg is None:
            return [], f"{j.name}: {why}"
        pieces.append(_Piece(d=None, kind="training", name=j.name, model=j.model, gpu=g, fixed_gpus=cfg["gpus"],
                             gpu_hours_per_year=cfg["gpu_hours"] * j.runs_per_year, cfg=cfg, pool=f"_train_{j.name}",
                             note=f"{cfg['gpus']} GPUs, {cfg['wall_days']:.1f} days per run, {j.runs_per_year:g} runs a year"))
    for p in scn.pipelines:
        sz, why = _pipeline_sizing(ctx, p, gpu_id)
        if sz is None:
            sz, why2 = _pipeline_sizing(ctx, p, None)  # the GPUs the stages name
            if sz is None:
                return [], f"{p.name}: {why}"
        runs = _pipeline_runs(ctx, p)
        for st in sz.stages:
            gh_year = st.gpu_hours * runs
            pieces.append(_Piece(d=None, kind="pipeline", name=f"{p.name}/{st.name}", model=st.model, gpu=st.gpu,
                                 per_replica_gpus=st.gpus_per_replica, fixed_gpus=st.gpus, gpu_hours_per_year=gh_year,
                                 pool=f"_pipe_{p.name}_{st.name}", busy_share=p.utilization, cfg=st,
                                 pipe_daily_gpus=st.gpu_hours_per_day / (24.0 * p.utilization)))
    return pieces, None


def _pipeline_runs(ctx: _Context, p: Any) -> float:
    if p.items_per_day is not None:
        return DAYS_PER_YEAR  # a daily volume: sized per day, runs every day
    return float(ctx.scenario.pipeline_runs_per_year.get(p.name, 1.0))


def _pipe_items_per_year(ctx: _Context) -> np.ndarray:
    total = 0.0
    for p in ctx.scenario.pipelines:
        total += p.daily_items * p.period_days * _pipeline_runs(ctx, p) if p.items_per_day is None else p.daily_items * DAYS_PER_YEAR
    return np.full(ctx.H, total)


def _gpus_per_year(ctx: _Context, pieces: list[_Piece], f: Factors, base_share: float | None = None) -> dict[str, Any]:
    """GPUs of each type needed in each year (N+1 per pool), shape (H,) or (S, H)."""
    spare = _spare(ctx)
    by_pool: dict[tuple[str, str], Any] = {}
    pool_tp: dict[tuple[str, str], int] = {}
    for pc in pieces:
        key = (pc.pool, pc.gpu or "")
        if pc.kind in ("llm", "diffusion"):
            d = pc.d
            assert d is not None
            if base_share is None:
                peak = _peak_rate(d, f)
            else:  # hybrid: on-prem serves up to the base level
                lvl = float(np.percentile(d.profile, ctx.scenario.load_profile.base_load_percentile))
                peak = _peak_rate(d, f) / d.pta * lvl
            g = pc.replicas(peak) * pc.per_replica_gpus
        elif pc.kind == "pipeline" and pc.pipe_daily_gpus:  # daily volume, or items / deadline: same rate
            g = _ceil(pc.pipe_daily_gpus * np.asarray(f.demand, dtype=float) / pc.per_replica_gpus) * pc.per_replica_gpus
            g = np.maximum(g, pc.per_replica_gpus)
            g = np.multiply.outer(g, np.ones(ctx.H)) if np.ndim(g) else np.full(ctx.H, float(g))
        else:
            g = np.full(ctx.H, float(pc.fixed_gpus))
            if np.ndim(f.demand):
                g = np.broadcast_to(g, (np.size(f.demand), ctx.H))
        by_pool[key] = by_pool.get(key, 0.0) + g
        pool_tp[key] = max(pool_tp.get(key, 1), pc.per_replica_gpus)
    out: dict[str, Any] = {}
    for (pool, gpu), g in by_pool.items():
        extra = spare * pool_tp[(pool, gpu)] if not pool.startswith("_train_") else 0
        out[gpu] = out.get(gpu, 0.0) + np.asarray(g, dtype=float) + extra
    return out


# ------------------------------------------------------------------------------ volumes
def _volumes(ctx: _Context, f: Factors, share: Any = 1.0) -> dict[str, Any]:
    """Per-year input/output tokens and images over all workloads, shape (H,) or (S, H)."""
    dem = np.asarray(f.demand, dtype=float)
    tin = tout = img = 0.0
    for d in ctx.demands:
        yearly = d.daily * DAYS_PER_YEAR
        yearly = np.multiply.outer(dem, yearly) if dem.ndim else yearly * dem
        if d.kind == "llm":
            tin = tin + yearly * d.workload.input_tokens.mean * share
            tout = tout + yearly * d.workload.output_tokens.mean * share
        else:
            img = img + yearly * share
    H = ctx.H
    z = np.zeros(H) if not dem.ndim else np.zeros((dem.size, H))
    return {"tin": tin + z, "tout": tout + z, "img": img + z}


def _seq(x: Any, H: int) -> list[Any]:
    """(H,) or (S, H) -> list of H entries (floats or (S,) arrays) for the economics functions."""
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        return [float(v) for v in a]
    return [a[:, k] for k in range(H)]


# ------------------------------------------------------------------------------ options
@dataclass
class _Opt:
    id: str
    label: str
    placement: str
    detail: str
    provider: str | None
    parts: list[dict[str, Any]]
    cost: Callable[[Factors], Any]
    perf: Callable[[], Performance]
    sources: list[Source]
    frontier: bool = False
    excluded: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    quality_delta: float = 0.0
    latency_s: float | None = None
    memory: Any = None
    curve: Any = None
    burst_cost: Callable[[Factors], Any] | None = None  # cost as a hybrid's burst part (no own staff)
    batch_cost: Callable[[Factors], Any] | None = None  # training / batch pipelines alone, on demand


def _server_for(ctx: _Context, gpu_id: str, max_tp: int) -> tuple[Any, list[str]]:
    """The cheapest server per GPU slot for this GPU that the facility can host, and why others cannot."""
    lim = ctx.scenario.economics.facility_limits
    best = None
    best_cost = math.inf
    why: list[str] = []
    gpu = ctx.catalog.accelerators.get(gpu_id)
    for s in ctx.catalog.servers:
        if gpu_id not in s.accepts_gpu_ids:
            continue
        if s.gpu_slots < max_tp:
            continue
        kw_max = _server_kw(ctx, s, note=False)[0]
        if lim.kw_per_rack is not None and kw_max > lim.kw_per_rack:
            why.append(f"server {s.id} draws up to {kw_max:g} kW, above the facility's {lim.kw_per_rack:g} kW per rack")
            continue
        if s.cooling == "liquid" and lim.cooling != "liquid":
            why.append(f"server {s.id} needs liquid cooling, which the facility lacks")
            continue
        price = _server_price(ctx, s, gpu)
        if price is None:
            continue
        per_slot = price / s.gpu_slots
        if per_slot < best_cost:
            best, best_cost = s, per_slot
    return best, why


def _gpu_price(ctx: _Context, gpu: Any) -> float | None:
    hp = ctx.scenario.economics.hardware_prices
    if gpu.id in hp:
        return ctx.money_in(hp[gpu.id])
    return gpu.price_usd


def _server_price(ctx: _Context, s: Any, gpu: Any) -> float | None:
    """Full server price with all slots populated (GPUs included), USD."""
    hp = ctx.scenario.economics.hardware_prices
    if s.id in hp:
        base = ctx.money_in(hp[s.id])
    elif s.price_usd is None:
        return None
    else:
        base = s.price_usd
    if s.includes_gpus:
        if s.accepts_gpu_ids and s.accepts_gpu_ids[0] != gpu.id:
            gp0 = ctx.catalog.accelerators.find(s.accepts_gpu_ids[0])
            g0, g1 = (_gpu_price(ctx, gp0) if gp0 else None), _gpu_price(ctx, gpu)
            if g0 is None or g1 is None:
                return None
            return base + s.gpu_slots * (g1 - g0)
        return base
    g = _gpu_price(ctx, gpu)
    return None if g is None else base + s.gpu_slots * g


def _onprem_cost_fn(ctx: _Context, pieces: list[_Piece], base_share: float | None = None, burst: Callable | None = None) -> Callable[[Factors], Any]:
    from .economics import average_power_w, combine, onprem_cash_flows

    cat = ctx.catalog
    econ = ctx.econ
    H = ctx.H
    gpu_ids = sorted({pc.gpu for pc in pieces if pc.gpu})
    max_tp = {g: max([pc.per_replica_gpus for pc in pieces if pc.gpu == g] + [1]) for g in gpu_ids}
    servers = {g: _server_for(ctx, g, max_tp[g])[0] for g in gpu_ids}
    storage = _storage_row(ctx)
    switch = _switch_row(ctx)
    fabric = _fabric_row(ctx)
    weights_tb = _storage_tb(ctx, pieces)
    util_base = _utilization(ctx, pieces, base_share)
    training_gpus = sum(pc.fixed_gpus for pc in pieces if pc.kind == "training")

    def cost(f: Factors) -> Any:
        f = f.broadcast()
        need = _gpus_per_year(ctx, pieces, f, base_share)
        capex_y: list[dict[str, Any]] = [dict() for _ in range(H)]  # purchase for year k+1
        avg_w_y = [0.0] * H
        prov_y = [0.0] * H
        for g, n in need.items():
            s = servers[g]
            gpu = cat.accelerators.get(g)
            n = np.maximum.accumulate(np.asarray(n, dtype=float), axis=-1)  # never sell hardware mid-horizon
            srv = _ceil(n / s.gpu_slots)
            gp = _col(f.gpu_price)
            price = _server_price(ctx, s, gpu) * gp
            gprice = (_gpu_price(ctx, gpu) or 0.0) * gp
            chassis = price - (0.0 if s.includes_gpus else s.gpu_slots * (_gpu_price(ctx, gpu) or 0.0)) * gp
            # cost of the fleet each year: full servers for HGX-style systems, chassis + GPUs otherwise
            fleet = srv * price if s.includes_gpus else srv * chassis + n * gprice
            prev = 0.0
            for k in range(H):
                fk = fleet[..., k]
                capex_y[k]["servers"] = capex_y[k].get("servers", 0.0) + (fk - prev)
                prev = fk
            max_w = _server_kw(ctx, s)[0] * 1000.0
            typ_w = _server_kw(ctx, s)[1] * 1000.0
            idle_w = _idle_w(ctx, s, gpu)
            for k in range(H):
                u = np.clip(util_base[k] * np.asarray(f.utilization, dtype=float), 0.0, 1.0)
                per_server = average_power_w(idle_w, typ_w, u)
                avg_w_y[k] = avg_w_y[k] + srv[..., k] * per_server
                prov_y[k] = prov_y[k] + srv[..., k] * max_w / 1000.0
            if switch is not None and np.any(srv > 1):
                sw = _ceil(srv / (switch.ports or 32)) * (srv > 1)
                prevs = 0.0
                for k in range(H):
                    capex_y[k]["network"] = capex_y[k].get("network", 0.0) + (sw[..., k] - prevs) * switch.price_usd * f.gpu_price
                    prevs = sw[..., k]
        if training_gpus and fabric is not None:
            capex_y[0]["network"] = capex_y[0].get("network", 0.0) + training_gpus * fabric.price_usd * f.gpu_price
        if storage is not None and storage.price_usd_per_tb:
            capex_y[0]["storage"] = weights_tb * storage.price_usd_per_tb * f.gpu_price
        vol = _volumes(ctx, f, 1.0 if base_share is None else _base_volume_share(ctx))
        tokens = vol["tin"] + vol["tout"]
        kw = econ.onprem_kwargs()
        kw["tariff_usd_per_kwh"] = econ.tariff_usd_per_kwh * f.tariff
        res = onprem_cash_flows(
            horizon_years=H,
            capex_usd=capex_y[0],
            additions={k + 1: {kk: np.maximum(v, 0.0) for kk, v in capex_y[k].items()} for k in range(1, H)},
            average_power_w=avg_w_y,
            provisioned_kw=prov_y,
            tokens_per_year=_seq(tokens, H),
            images_per_year=_seq(vol["img"], H),
            items_per_year=_seq(np.broadcast_to(_pipe_items_per_year(ctx), np.shape(tokens)) if np.ndim(tokens) else _pipe_items_per_year(ctx), H),
            **kw,
        )
        if burst is not None:
            return combine({"on_prem": res, "burst": burst(f)})
        return res

    return cost


def _server_kw(ctx: _Context, s: Any, note: bool = True) -> tuple[float, float]:
    """(maximum, average-while-serving) power of a server, kW.

    The server row's figures where it has them; the average is the typical draw, else the maximum
    (no typical figure: every hour at full power, a stated, conservative assumption). A row
    without any power figure gets its GPUs' TDP x slots (derived from the accelerator rows, the
    host's own draw left out), and the plan says so.
    """
    key = ("server_kw", s.id)
    if key in ctx.cache:
        return ctx.cache[key]
    if not note:  # a quick look (facility checks): no assumption recorded, nothing cached
        gpu = ctx.catalog.accelerators.find(s.accepts_gpu_ids[0])
        mx0 = s.max_power_kw if s.max_power_kw is not None else ((gpu.tdp_w * s.gpu_slots / 1000.0) if gpu is not None else 0.0)
        return float(mx0), float(s.typical_power_kw or mx0)
    mx = s.max_power_kw
    if mx is None:
        gpu = ctx.catalog.accelerators.find(s.accepts_gpu_ids[0])
        mx = (gpu.tdp_w * s.gpu_slots / 1000.0) if gpu is not None else 0.0
        ctx.assumptions.append(Assumption(
            name=f"servers.{s.id}.max_power_kw", value=mx, unit="kW", origin="derived",
            note=f"the server row has no power figure: {s.gpu_slots} x the GPU's TDP (host CPUs, fans and NICs not included); "
                 "add max_power_kw to a user catalog row to replace it"))
    typ = s.typical_power_kw or mx
    if s.typical_power_kw is None:
        ctx.assumptions.append(Assumption(
            name=f"servers.{s.id}.typical_power_kw", value=typ, unit="kW", origin="assumption",
            note="no typical draw in the catalog: the server is costed at its maximum power every hour"))
    ctx.cache[key] = (float(mx), float(typ))
    return ctx.cache[key]


def _col(x: Any) -> Any:
    """A per-sample factor (S,) as a column (S, 1) to scale (S, H) arrays; scalars unchanged."""
    a = np.asarray(x, dtype=float)
    return a[:, None] if a.ndim else float(a)


def _idle_w(ctx: _Context, s: Any, gpu: Any) -> float:
    row = ctx.catalog.economic_defaults.find("power.idle_fraction")
    typ = _server_kw(ctx, s)[1] * 1000.0
    if row is not None:
        return typ * float(row.value)
    return typ  # no idle figure: every hour at the typical draw (conservative)


def _utilization(ctx: _Context, pieces: list[_Piece], base_share: float | None) -> list[float]:
    """Average busy share of the serving fleet per year at demand factor 1."""
    f = Factors()
    need = _gpus_per_year(ctx, pieces, f, base_share)
    total = sum(np.asarray(v, dtype=float) for v in need.values()) if need else np.ones(ctx.H)
    busy = np.zeros(ctx.H)
    for pc in pieces:
        if pc.kind in ("llm", "diffusion") and pc.d is not None:
            avg = pc.d.daily / SECONDS_PER_DAY
            if base_share is not None:
                avg = avg * _base_volume_share(ctx)
            busy += avg / pc.cap * pc.per_replica_gpus
        else:
            busy += pc.gpu_hours_per_year / HOURS_PER_YEAR
    return list(np.clip(busy / np.maximum(total, 1e-9), 0.0, 1.0))


def _base_volume_share(ctx: _Context) -> float:
    q = ctx.scenario.load_profile.base_load_percentile
    p = ctx.profile
    lvl = float(np.percentile(p, q))
    return float(np.minimum(p, lvl).mean())


def _storage_row(ctx: _Context) -> Any:
    rows = [r for r in ctx.catalog.storage if r.price_usd_per_tb]
    nvme = [r for r in rows if r.tier == "nvme"]
    pick = nvme or rows
    return min(pick, key=lambda r: r.price_usd_per_tb) if pick else None


def _switch_row(ctx: _Context) -> Any:
    rows = [r for r in ctx.catalog.network if r.item == "switch" and r.fabric == "ethernet" and r.price_usd]
    return min(rows, key=lambda r: r.price_usd) if rows else None


def _fabric_row(ctx: _Context) -> Any:
    rows = [r for r in ctx.catalog.network if r.item in ("fabric_per_gpu", "cabling_per_gpu") and r.fabric == "infiniband" and r.price_usd]
    return min(rows, key=lambda r: r.price_usd) if rows else None


def _storage_tb(ctx: _Context, pieces: list[_Piece]) -> float:
    """Weights, training checkpoints, datasets and request logs, TB (1e12 bytes)."""
    from .physics.memory import weight_bytes

    total = 0.0
    seen = set()
    for pc in pieces:
        if pc.model in seen:
            continue
        seen.add(pc.model)
        try:
            total += float(weight_bytes(pc.model, getattr(pc.cfg, "quant", None) or "bf16", ctx.catalog))
        except Exception:  # noqa: BLE001 - image models: the published size or none
            m = ctx.catalog.models.find(pc.model)
            total += float(getattr(m, "safetensors_bytes", 0) or 0)
    for j in ctx.scenario.training:
        m = ctx.catalog.models.find(j.model)
        if m is not None:
            total += 3 * m.params_b * 1e9 * 2 * (1 if j.method in ("lora", "qlora") else 7)  # bf16 weights (+ fp32 Adam states for full)
        total += (j.dataset_gb or 0.0) * 1e9
    for d in ctx.demands:
        if d.kind == "llm":
            toks = float(d.daily[-1]) * (d.workload.input_tokens.mean + d.workload.output_tokens.mean)
            total += toks * LOG_BYTES_PER_TOKEN * LOG_RETENTION_DAYS
    return total / 1e12


def _onprem_perf(ctx: _Context, pieces: list[_Piece], base_share: float | None = None) -> Callable[[], Performance]:
    def perf() -> Performance:
        f = Factors()
        need = _gpus_per_year(ctx, pieces, f, base_share)
        comps = []
        quality = 0.0
        ttft = tpot = img_lat = None
        tok_s = img_s = 0.0
        for pc in pieces:
            comps.append(_component(ctx, pc, "on_prem", f, base_share))
            if pc.kind == "llm":
                quality = max(quality, pc.cfg.quality_delta)
                ttft = max(ttft or 0.0, pc.cfg.ttft_s or 0.0) or None
                tpot = max(tpot or 0.0, pc.cfg.tpot_s or 0.0) or None
                if pc.cfg.tokens_per_s:
                    tok_s += pc.cfg.tokens_per_s * float(comps[-1].replicas or 0)
            elif pc.kind == "diffusion":
                img_lat = max(img_lat or 0.0, pc.cfg["latency_s"])
                img_s += pc.cap * float(comps[-1].replicas or 0)
        gpus = int(sum(float(np.asarray(v)[-1]) for v in need.values()))
        main = max(need, key=lambda g: float(np.asarray(need[g])[-1])) if need else None
        srv = _server_for(ctx, main, max([pc.per_replica_gpus for pc in pieces if pc.gpu == main] + [1]))[0] if main else None
        servers = int(sum(math.ceil(float(np.asarray(v)[-1]) / _server_for(ctx, g, 1)[0].gpu_slots - 1e-9) for g, v in need.items() if _server_for(ctx, g, 1)[0]))
        res = _onprem_cost_fn(ctx, pieces, base_share)(f)
        last = res.flows[-1]
        power_kw = None
        energy = float(res.energy_kwh) / ctx.H if res.energy_kwh else None
        if energy:
            power_kw = energy / HOURS_PER_YEAR / ctx.econ.pue
        lim = ctx.scenario.economics.facility_limits
        racks = None
        if lim.kw_per_rack and srv is not None:
            per_rack = max(1, int(lim.kw_per_rack // _server_kw(ctx, srv)[0]))
            racks = math.ceil(servers / per_rack)
        storage = _storage_row(ctx)
        weights = 0.0
        for pc in pieces:
            if pc.kind == "llm":
                try:
                    from .physics.memory import weight_bytes

                    weights = max(weights, float(weight_bytes(pc.model, pc.cfg.quant, ctx.catalog)))
                except Exception:  # noqa: BLE001
                    pass
        cold = weights / (storage.read_gb_s * 1e9) if storage is not None and storage.read_gb_s and weights else None
        _ = last
        return Performance(
            gpu=main, gpus=gpus, server=srv.id if srv else None, servers=servers, racks=racks,
            power_kw=power_kw, peak_power_kw=(servers * _server_kw(ctx, srv)[0]) if srv else None,
            quant=next((pc.cfg.quant for pc in pieces if pc.kind == "llm"), None), quality_delta=quality,
            ttft_p95_s=ttft, tpot_p95_s=tpot, image_latency_s=img_lat,
            output_tokens_per_s=tok_s or None, images_per_s=img_s or None,
            utilization=float(_utilization(ctx, pieces, base_share)[-1]), cold_start_s=cold,
            storage_tb=_storage_tb(ctx, pieces),
            energy_kwh_per_year=energy, co2_kg_per_year=(float(res.co2_kg) / ctx.H) if res.co2_kg else None,
            error_band=next((pc.cfg.error_band for pc in pieces if pc.kind == "llm" and pc.cfg.error_band), None),
            components=comps,
        )

    return perf


def _component(ctx: _Context, pc: _Piece, placement: str, f: Factors, base_share: float | None = None) -> ComponentSizing:
    if pc.kind in ("llm", "diffusion") and pc.d is not None:
        peak = float(_peak_rate(pc.d, f)[-1])
        if base_share is not None:
            peak = peak / pc.d.pta * float(np.percentile(pc.d.profile, ctx.scenario.load_profile.base_load_percentile))
        rep = int(math.ceil(peak / pc.cap - 1e-9)) + _spare(ctx)
        avg = float(pc.d.daily[-1]) / SECONDS_PER_DAY
        return ComponentSizing(
            workload=pc.name, kind=pc.kind, model=pc.model, placement=placement, gpu=pc.gpu,
            gpus=rep * pc.per_replica_gpus, quant=getattr(pc.cfg, "quant", None) if pc.kind == "llm" else (pc.d.workload.quant or "fp16"),
            tp=pc.per_replica_gpus, pp=1, replicas=rep, capacity_per_replica=pc.cap, demand_peak=peak,
            utilization=min(1.0, avg / (rep * pc.cap)) if rep else None,
        )
    return ComponentSizing(
        workload=pc.name, kind="training" if pc.kind == "training" else "pipeline_stage", model=pc.model,
        placement=placement, gpu=pc.gpu, gpus=pc.fixed_gpus, gpu_hours_per_year=pc.gpu_hours_per_year, note=pc.note,
        tp=pc.per_replica_gpus,
    )


def _onprem_options(ctx: _Context, gpu_ids: list[str]) -> tuple[list[_Opt], dict[str, list[_Piece]]]:
    """One on-prem option per GPU type, found by branch and bound.

    Every GPU type is first costed with the max-throughput capacity (no latency target): more
    capacity per replica than the targets allow, so a lower bound on its cost. GPU types are then
    sized exactly (the SLO search) cheapest bound first, until the bound exceeds the best exact
    cost found: those GPU types cannot win and are reported as pruned.
    """
    bounds = []
    for g in gpu_ids:
        o = _onprem_option(ctx, g, exact=False)
        if o is None:
            continue
        lb = float(np.asarray(_npv_of(ctx, o.cost(Factors())))) if not o.excluded else math.inf
        bounds.append((lb, g, o))
    bounds.sort(key=lambda t: t[0])
    opts: list[_Opt] = []
    pieces_by_gpu: dict[str, list[_Piece]] = {}
    best = math.inf
    pruned = []
    for lb, g, o_lb in bounds:
        if o_lb.excluded:
            opts.append(o_lb)  # excluded by the facility: shown with the reason, not costed
            continue
        if lb > best and pieces_by_gpu:
            pruned.append(g)
            continue
        o = _onprem_option(ctx, g, exact=True)
        if o is None:
            continue
        opts.append(o)
        if not o.excluded:
            pieces_by_gpu[g] = ctx.cache[("onprem_pieces", g)]
            best = min(best, float(np.asarray(_npv_of(ctx, o.cost(Factors())))))
    if pruned:
        ctx.warnings.append(
            f"{len(pruned)} on-prem GPU type(s) not sized in detail: even at their max-throughput capacity they cost more "
            f"than the best on-prem option ({', '.join(pruned)})"
        )
    return opts, pieces_by_gpu


def _onprem_option(ctx: _Context, g: str, exact: bool) -> _Opt | None:
    net = _network(ctx)
    detail = "on_prem_air_gapped" if net == "air_gapped" else "on_prem"
    lim = ctx.scenario.economics.facility_limits
    gpu = ctx.catalog.accelerators.get(g)
    pieces, why = _pieces_for_gpu(ctx, g, exact=exact)
    if not pieces:
        return None
    tps = {pc.gpu: max(pc.per_replica_gpus, 1) for pc in pieces}
    excluded: list[str] = []
    for gg in {pc.gpu for pc in pieces}:
        srv, reasons = _server_for(ctx, gg, tps.get(gg, 1))
        if srv is None:
            if reasons:
                excluded += reasons
            else:
                return None  # no priced server for this GPU: not a buyable option
    if exact:
        ctx.cache[("onprem_pieces", g)] = pieces
    cost = _onprem_cost_fn(ctx, pieces) if not excluded else (lambda f: None)
    opt = _Opt(
        id=f"on_prem-{g}", label=f"On-prem {gpu.name}", placement="on_prem", detail=detail, provider=None,
        parts=[{"kind": "on_prem", "name": g, "network": "air_gapped" if net == "air_gapped" else "connected"}],
        cost=cost, perf=_onprem_perf(ctx, pieces), sources=[ctx.source("accelerators", gpu)],
        excluded=excluded,
        quality_delta=max([pc.cfg.quality_delta for pc in pieces if pc.kind == "llm"] + [0.0]),
    )
    for gg in {pc.gpu for pc in pieces}:
        srv, _ = _server_for(ctx, gg, tps.get(gg, 1))
        if srv is not None:
            opt.sources.append(ctx.source("servers", srv))
    for table, row in (("storage", _storage_row(ctx)), ("network", _switch_row(ctx)), ("network", _fabric_row(ctx))):
        if row is not None and (table == "storage" or len(pieces) > 1 or any(pc.kind == "training" for pc in pieces)):
            opt.sources.append(ctx.source(table, row))
    opt.sources += _model_sources(ctx, pieces)
    if exact and not excluded and lim.power_available_kw is not None:
        need = _gpus_per_year(ctx, pieces, Factors())
        kw = 0.0
        for gg, n in need.items():
            srv, _ = _server_for(ctx, gg, tps.get(gg, 1))
            kw += math.ceil(float(np.max(n)) / srv.gpu_slots - 1e-9) * _server_kw(ctx, srv)[0]
        if kw > lim.power_available_kw:
            opt.excluded.append(f"needs {kw:.0f} kW of server power at the final year's peak, above the {lim.power_available_kw:g} kW the facility has")
            opt.cost = lambda f: None
    if not exact and excluded:
        opt.warnings.append("sized at the max-throughput point (not costed: excluded by the facility)")
    opt.latency_s = _latency(pieces)
    return opt


def _model_sources(ctx: _Context, pieces: list[_Piece]) -> list[Source]:
    """Catalog rows the sizing rests on: each model, its weight format and the serving engine."""
    out: list[Source] = []
    cat = ctx.catalog
    for pc in pieces:
        m = cat.models.find(pc.model)
        if m is not None:
            out.append(ctx.source("models", m))
        q = getattr(pc.cfg, "quant", None)
        if isinstance(q, str) and cat.quant.find(q) is not None:
            out.append(ctx.source("quant", cat.quant.find(q)))
    if any(pc.kind == "llm" for pc in pieces):
        e = cat.engines.find(ctx.scenario.candidates.engine)
        if e is not None:
            out.append(ctx.source("engines", e))
    seen: set[tuple[str, str]] = set()
    return [s for s in out if not ((s.table, s.id) in seen or seen.add((s.table, s.id)))]


def _network(ctx: _Context) -> str:
    pol = ctx.scenario.policy
    return str(pol.get("network_policy", "internet") if isinstance(pol, dict) else pol.network_policy)


def _latency(pieces: list[_Piece]) -> float | None:
    vals = []
    for pc in pieces:
        if pc.kind == "llm" and pc.cfg.ttft_s is not None and pc.cfg.tpot_s is not None and pc.d is not None:
            vals.append(pc.cfg.ttft_s + pc.cfg.tpot_s * pc.d.workload.output_tokens.mean)
        elif pc.kind == "diffusion":
            vals.append(pc.cfg["latency_s"])
    return max(vals) if vals else None


def _policy_part(row: Any, kind: str) -> dict[str, Any]:
    """A policy-engine PlacementPart (as keyword arguments) for a cloud or API catalog row."""
    return {
        "kind": kind, "name": row.id, "provider": row.provider, "jurisdiction": row.jurisdiction,
        "data_region": row.data_region, "certifications": list(row.certifications), "network": "connected",
    }


def _row_placement(ctx: _Context, row: Any) -> str:
    """The policy placement class of a cloud or API row (eu_sovereign_cloud, us_cloud, api_eu ...)."""
    try:
        from .policy.engine import placement_for_row

        return placement_for_row(row, ctx.catalog)
    except ImportError:  # pragma: no cover
        return "api" if hasattr(row, "model_family") else "cloud"


def _cloud_options(ctx: _Context) -> list[_Opt]:
    """Cloud instance options (one per provider x GPU x pricing), found by branch and bound like
    the on-prem ones: options the policy allows are sized exactly cheapest lower bound first; an
    option whose lower bound exceeds the best exact cost of its pricing is pruned. Options the
    policy excludes are kept (with their screening figures) so the plan shows why."""
    scn = ctx.scenario
    pricings = {"on_demand": "on_demand", "reserved_1y": "1y", "reserved_3y": "3y", "spot": "spot"}
    wanted = [pricings[p] for p in scn.candidates.cloud_pricing]
    stale_days = _stale_days(ctx)
    cands: list[tuple[float, Any, Any, str, float, _Opt]] = []
    for row in ctx.catalog.cloud_instances:
        if scn.candidates.providers and row.provider not in scn.candidates.providers:
            continue
        if scn.candidates.gpus and row.gpu_id not in scn.candidates.gpus:
            continue
        gpu = ctx.catalog.accelerators.find(row.gpu_id)
        if gpu is None:
            continue
        pieces, why = _cloud_pieces(ctx, gpu.id, row.gpu_count, exact=False)
        if not pieces:
            continue
        for pricing in wanted:
            price = row.price(pricing)
            if price is None:
                continue
            ctx.evaluated += 1
            opt = _cloud_option(ctx, row, gpu, pieces, pricing, price, stale_days)
            allowed = _verdict(ctx, opt)[0]
            lb = float(np.asarray(_npv_of(ctx, opt.cost(Factors()))))
            cands.append((lb if allowed else math.inf, row, gpu, pricing, price, opt))
    cands.sort(key=lambda t: t[0])
    best_by: dict[tuple[str, str, str], tuple[float, _Opt]] = {}
    best_pricing: dict[str, float] = {}
    pruned = 0
    for lb, row, gpu, pricing, price, opt in cands:
        key = (row.provider, row.gpu_id, pricing)
        if lb == math.inf:  # excluded by policy: keep one per key, with screening figures
            if key not in best_by:
                opt.warnings.append("sized at the max-throughput point (excluded by policy, not sized in detail)")
                best_by[key] = (math.inf, opt)
            continue
        if lb > best_pricing.get(pricing, math.inf) or (key in best_by and lb > best_by[key][0]):
            pruned += 1
            continue
        pieces, why = _cloud_pieces(ctx, gpu.id, row.gpu_count, exact=True)
        if not pieces:
            continue
        o = _cloud_option(ctx, row, gpu, pieces, pricing, price, stale_days)
        val = float(np.asarray(_npv_of(ctx, o.cost(Factors()))))
        best_pricing[pricing] = min(best_pricing.get(pricing, math.inf), val)
        if key not in best_by or val < best_by[key][0]:
            best_by[key] = (val, o)
    if pruned:
        ctx.warnings.append(f"{pruned} cloud offer(s) not sized in detail: even at their max-throughput capacity they cost more than the best offer of the same pricing")
    return [o for _, o in best_by.values()]


def _cloud_pieces(ctx: _Context, gpu_id: str, count: int, exact: bool) -> tuple[list[_Piece], str | None]:
    key = ("pieces", gpu_id, count, exact)
    if key not in ctx.cache:
        ctx.cache[key] = _pieces_for_gpu(ctx, gpu_id, max_tp=count, for_cloud=True, exact=exact)
    return ctx.cache[key]


def _cloud_option(ctx: _Context, row: Any, gpu: Any, pieces: list[_Piece], pricing: str, price: float, stale_days: int) -> _Opt:
    cost = _cloud_cost_fn(ctx, pieces, row, pricing, price)
    opt = _Opt(
        id=f"cloud-{row.provider}-{row.instance_type}-{pricing}".replace("/", "_").replace(" ", "_"),
        label=f"{row.provider} {row.instance_type} ({row.gpu_count}x {gpu.name}), {pricing.replace('_', '-')}",
        placement="cloud", detail=_row_placement(ctx, row), provider=row.provider,
        parts=[_policy_part(row, "cloud")], cost=cost, perf=_cloud_perf(ctx, pieces, row, pricing),
        sources=[ctx.source("cloud_instances", row), ctx.source("accelerators", gpu), *_model_sources(ctx, pieces)],
        quality_delta=max([pc.cfg.quality_delta for pc in pieces if pc.kind == "llm"] + [0.0]),
        latency_s=_latency(pieces),
    )
    opt.burst_cost = _cloud_cost_fn(ctx, pieces, row, pricing, price, staff=False)
    if any(pc.kind in ("training", "pipeline") for pc in pieces):
        opt.batch_cost = _cloud_cost_fn(ctx, pieces, row, pricing, price, staff=False, serving_part=False)
    if row.is_stale(stale_days):
        opt.warnings.append(f"price of {row.id} is from {row.as_of} (older than {stale_days} days): check it")
    if pricing == "spot" and any(pc.kind in ("llm", "diffusion") for pc in pieces):
        opt.warnings.append("spot instances can be reclaimed at short notice: unsuitable for interactive serving without fallback")
    return opt


def _stale_days(ctx: _Context) -> int:
    from .catalog.prices import stale_after_days

    return stale_after_days(ctx.catalog)


def _cloud_instances_needed(ctx: _Context, pieces: list[_Piece], row: Any, pricing: str, f: Factors, share_profile: bool = False) -> Any:
    """Instances per year (H,) or (S, H): committed fleets sized for the peak with N+1; on-demand
    and spot fleets follow the hourly load profile (the yearly mean of instances running)."""
    g = row.gpu_count
    serving = [pc for pc in pieces if pc.kind in ("llm", "diffusion")]
    if pricing in ("1y", "3y"):
        need = _gpus_per_year(ctx, serving, f) if serving else {}
        gpus = sum(np.asarray(v, dtype=float) for v in need.values()) if need else np.zeros(ctx.H)
        return _ceil(gpus / g)
    dem = np.asarray(f.demand, dtype=float)
    total = 0.0
    for pc in serving:
        d = pc.d
        assert d is not None
        avg = d.daily / SECONDS_PER_DAY  # (H,)
        rate = np.multiply.outer(d.profile, avg)  # (168, H)
        rate = np.multiply.outer(dem, rate) if dem.ndim else rate * dem
        gp = _ceil(rate / pc.cap) * pc.per_replica_gpus
        gp = np.maximum(gp, pc.per_replica_gpus)  # keep one replica up
        total = total + gp
    if isinstance(total, float):
        return np.zeros(ctx.H) if not dem.ndim else np.zeros((dem.size, ctx.H))
    inst = _ceil(total / g)
    return inst.mean(axis=-2)


def _cloud_cost_fn(ctx: _Context, pieces: list[_Piece], row: Any, pricing: str, price: float,
                   staff: bool = True, serving_part: bool = True) -> Callable[[Factors], Any]:
    """Cash flows of a cloud option: the serving fleet (with the self-hosting staff unless
    ``staff`` is False, as for a hybrid's burst part) plus batch work rented on demand."""
    from .economics import cloud_cash_flows, combine

    H = ctx.H
    batch = [pc for pc in pieces if pc.kind in ("training", "pipeline")]
    od = row.price("on_demand") or price

    def cost(f: Factors) -> Any:
        f = f.broadcast()
        inst = _cloud_instances_needed(ctx, pieces, row, pricing, f) if serving_part else np.zeros(H)
        vol = _volumes(ctx, f) if serving_part else {"tin": np.zeros(H), "tout": np.zeros(H), "img": np.zeros(H)}
        kw = ctx.econ.cloud_kwargs()
        if not staff:
            kw["staff_fte"] = 0.0
        parts = {}
        serving = cloud_cash_flows(
            horizon_years=H, price_usd_per_hour=price * f.cloud_price, instances=_seq(inst, H), pricing=pricing,
            tokens_per_year=_seq(vol["tin"] + vol["tout"], H), images_per_year=_seq(vol["img"], H), **kw,
        )
        parts["serving"] = serving
        if batch and not serving_part:
            parts = {}
        if batch:
            gh = sum(pc.gpu_hours_per_year for pc in batch)
            dem = np.asarray(f.demand, dtype=float)
            inst_b = gh / row.gpu_count / HOURS_PER_YEAR
            inst_b = dem * inst_b if dem.ndim else inst_b * float(dem)
            parts["batch"] = cloud_cash_flows(
                horizon_years=H, price_usd_per_hour=od * f.cloud_price, instances=inst_b, pricing="on_demand",
                items_per_year=_seq(_pipe_items_per_year(ctx), H),
            )
        return combine(parts, kind="cloud") if len(parts) > 1 else next(iter(parts.values()))

    return cost


def _cloud_perf(ctx: _Context, pieces: list[_Piece], row: Any, pricing: str) -> Callable[[], Performance]:
    def perf() -> Performance:
        f = Factors()
        inst = np.asarray(_cloud_instances_needed(ctx, pieces, row, pricing, f), dtype=float)
        comps = [_component(ctx, pc, "cloud", f) for pc in pieces]
        ttft = max([pc.cfg.ttft_s or 0.0 for pc in pieces if pc.kind == "llm"] + [0.0]) or None
        tpot = max([pc.cfg.tpot_s or 0.0 for pc in pieces if pc.kind == "llm"] + [0.0]) or None
        img = max([pc.cfg["latency_s"] for pc in pieces if pc.kind == "diffusion"] + [0.0]) or None
        batch_gpus = max([pc.fixed_gpus for pc in pieces if pc.kind in ("training", "pipeline")] + [0])
        serving_gpus = int(math.ceil(float(inst[-1]) * row.gpu_count)) if inst.size else 0
        return Performance(
            gpu=row.gpu_id, gpus=max(serving_gpus, batch_gpus) or None,
            server=row.instance_type, servers=int(math.ceil(max(serving_gpus, batch_gpus) / row.gpu_count)) or None,
            quant=next((pc.cfg.quant for pc in pieces if pc.kind == "llm"), None),
            quality_delta=max([pc.cfg.quality_delta for pc in pieces if pc.kind == "llm"] + [0.0]),
            ttft_p95_s=ttft, tpot_p95_s=tpot, image_latency_s=img,
            error_band=next((pc.cfg.error_band for pc in pieces if pc.kind == "llm" and pc.cfg.error_band), None),
            components=comps,
        )

    return perf


def _api_rows(ctx: _Context, d: _Demand) -> list[Any]:
    scn = ctx.scenario
    w = d.workload
    mode = "chat" if d.kind == "llm" else "image"
    out = []
    for r in ctx.catalog.api_prices:
        if r.mode != mode:
            continue
        if scn.candidates.providers and r.provider not in scn.candidates.providers:
            continue
        if w.api_models:
            if r.id in w.api_models:
                out.append(r)
            continue
        if r.frontier:
            if scn.candidates.include_frontier_apis and d.kind == "llm":
                out.append(r)
            continue
        same = ctx.catalog.models.find(r.model)
        if (same is not None and same.id == d.model.id) or (r.model_family == d.model.family and _similar_size(r, d.model)):
            out.append(r)
    return out


def _similar_size(r: Any, m: Any) -> bool:
    if r.params_b is None:
        return False
    return 0.5 <= r.params_b / m.params_b <= 2.0


def _api_options(ctx: _Context, cloud_for_batch: _Opt | None) -> list[_Opt]:
    from .economics import api_cash_flows, combine

    scn = ctx.scenario
    H = ctx.H
    if scn.pipelines and not ctx.demands:
        return _pipeline_api_options(ctx)
    if not ctx.demands:
        return []
    # per provider: one row per workload (cheapest); frontier rows: one option each
    per_provider: dict[str, dict[str, Any]] = {}
    frontier: list[tuple[Any, _Demand]] = []
    for d in ctx.demands:
        for r in _api_rows(ctx, d):
            if r.frontier:
                frontier.append((r, d))
                continue
            cur = per_provider.setdefault(r.provider, {})
            if d.name not in cur or _row_cost(r, d) < _row_cost(cur[d.name], d):
                cur[d.name] = r
    combos: list[tuple[str, dict[str, Any], bool]] = []
    for prov, rows in per_provider.items():
        if len(rows) == len(ctx.demands):
            combos.append((prov, rows, False))
    if len(ctx.demands) == 1:
        for r, d in frontier:
            combos.append((r.provider, {d.name: r}, True))
    opts = []
    disc = 1.0 - scn.economics.api_discount_pct / 100.0
    stale_days = _stale_days(ctx)
    for prov, rows, is_frontier in combos:
        ctx.evaluated += 1

        def cost(f: Factors, rows: dict[str, Any] = rows) -> Any:
            f = f.broadcast()
            parts = {}
            dem = np.asarray(f.demand, dtype=float)
            for d in ctx.demands:
                r = rows[d.name]
                yearly = d.daily * DAYS_PER_YEAR
                yearly = np.multiply.outer(dem, yearly) if dem.ndim else yearly * dem
                if d.kind == "llm":
                    parts[d.name] = api_cash_flows(
                        horizon_years=H,
                        input_tokens_per_year=_seq(yearly * d.workload.input_tokens.mean, H),
                        output_tokens_per_year=_seq(yearly * d.workload.output_tokens.mean, H),
                        input_usd_per_million_tokens=r.input_usd_per_million_tokens * f.api_price * disc,
                        output_usd_per_million_tokens=r.output_usd_per_million_tokens * f.api_price * disc,
                    )
                else:
                    parts[d.name] = api_cash_flows(horizon_years=H, images_per_year=_seq(yearly, H),
                                                   usd_per_image=r.usd_per_image * f.api_price * disc)
            if scn.training and cloud_for_batch is not None:
                parts["training"] = (cloud_for_batch.batch_cost or cloud_for_batch.cost)(f)
            return combine(parts, kind="api") if len(parts) > 1 else next(iter(parts.values()))

        def perf(rows: dict[str, Any] = rows) -> Performance:
            comps = [ComponentSizing(workload=d.name, kind=d.kind, model=d.model.id, placement="api", api_model=r.id,
                                     demand_peak=float(_peak_rate(d, Factors())[-1]), quant=r.quantization)
                     for d, r in ((d, rows[d.name]) for d in ctx.demands)]
            return Performance(components=comps, quant=next((r.quantization for r in rows.values() if r.quantization), None))

        first = next(iter(rows.values()))
        parts = [_policy_part(r, "api") for r in rows.values()]
        if scn.training and cloud_for_batch is not None:
            parts += cloud_for_batch.parts
        label = f"API {prov} (" + ", ".join(sorted({r.model.split("/")[-1] for r in rows.values()})) + ")"
        opt = _Opt(
            id=(f"api-{prov}-{first.id}" if is_frontier else f"api-{prov}").replace("/", "_"),
            label=label + (", a frontier model, not the same weights" if is_frontier else ""),
            placement="api", detail=_row_placement(ctx, first), provider=prov, parts=parts, cost=cost, perf=perf,
            sources=[ctx.source("api_prices", r) for r in rows.values()], frontier=is_frontier,
            quality_delta=0.0,
        )
        for r in rows.values():
            if r.is_stale(stale_days):
                opt.warnings.append(f"price of {r.id} is from {r.as_of} (older than {stale_days} days): check it")
        if scn.training and cloud_for_batch is None:
            opt.excluded.append("the training jobs need GPUs, and no cloud instance can run them")
        opts.append(opt)
    return opts


def _pipeline_api_options(ctx: _Context) -> list[_Opt]:
    """Pipelines through hosted APIs: each LLM stage at per-token prices, each image stage per image."""
    from .economics import api_cash_flows, combine

    H = ctx.H
    scn = ctx.scenario
    by_provider: dict[str, dict[str, Any]] = {}
    stages = []
    for p in scn.pipelines:
        runs = _pipeline_runs(ctx, p)
        items = p.daily_items * (DAYS_PER_YEAR if p.items_per_day is not None else p.period_days * runs)
        for st in p.stages:
            stages.append((p, st, items))
    for r in ctx.catalog.api_prices:
        if r.frontier or (scn.candidates.providers and r.provider not in scn.candidates.providers):
            continue
        for p, st, items in stages:
            m = ctx.catalog.models.find(st.model)
            if m is None:
                continue
            mode = "chat" if st.kind == "llm" else "image"
            if r.mode != mode:
                continue
            same = ctx.catalog.models.find(r.model)
            if (same is not None and same.id == m.id) or (r.model_family == m.family and (st.kind != "llm" or _similar_size(r, m))):
                key = f"{p.name}/{st.name}"
                cur = by_provider.setdefault(r.provider, {})
                if key not in cur:
                    cur[key] = r
    opts = []
    for prov, rows in by_provider.items():
        if len(rows) != len(stages):
            continue
        ctx.evaluated += 1

        def cost(f: Factors, rows: dict[str, Any] = rows) -> Any:
            f = f.broadcast()
            parts = {}
            dem = np.asarray(f.demand, dtype=float)
            for p, st, items in stages:
                r = rows[f"{p.name}/{st.name}"]
                n = np.full(H, items)
                n = np.multiply.outer(dem, n) if dem.ndim else n * dem
                if st.kind == "llm":
                    calls = n * st.calls_per_item
                    parts[st.name] = api_cash_flows(
                        horizon_years=H, input_tokens_per_year=_seq(calls * st.input_len, H),
                        output_tokens_per_year=_seq(calls * st.output_len, H),
                        input_usd_per_million_tokens=r.input_usd_per_million_tokens * f.api_price,
                        output_usd_per_million_tokens=r.output_usd_per_million_tokens * f.api_price,
                        items_per_year=_seq(n, H) if not parts else 0.0,
                    )
                else:
                    parts[st.name] = api_cash_flows(horizon_years=H, images_per_year=_seq(n * st.images_per_item, H),
                                                    usd_per_image=r.usd_per_image * f.api_price,
                                                    items_per_year=_seq(n, H) if not parts else 0.0)
            return combine(parts, kind="api")

        def perf(rows: dict[str, Any] = rows) -> Performance:
            return Performance(components=[ComponentSizing(workload=k, kind="pipeline_stage", model=r.model, placement="api", api_model=r.id)
                                           for k, r in rows.items()])

        first = next(iter(rows.values()))
        opts.append(_Opt(id=f"api-{prov}".replace("/", "_"), label=f"API {prov}", placement="api", detail=_row_placement(ctx, first),
                         provider=prov, parts=[_policy_part(r, "api") for r in rows.values()], cost=cost, perf=perf,
                         sources=[ctx.source("api_prices", r) for r in rows.values()]))
    return opts


def _row_cost(r: Any, d: _Demand) -> float:
    if d.kind == "llm":
        return (r.input_usd_per_million_tokens or math.inf) * d.workload.input_tokens.mean + (r.output_usd_per_million_tokens or math.inf) * d.workload.output_tokens.mean
    return r.usd_per_image if r.usd_per_image is not None else math.inf


def _hybrid_options(ctx: _Context, onprem: list[_Opt], pieces_by_gpu: dict[str, list[_Piece]], bursts: list[_Opt]) -> list[_Opt]:
    """On-prem sized for the base load percentile, bursts to an API or a cloud on-demand fleet."""
    if not onprem or not bursts or not ctx.demands:
        return []
    share = _base_volume_share(ctx)
    burst_share = max(0.0, 1.0 - share)  # a share summed in floating point may exceed 1 by a rounding step
    q = ctx.scenario.load_profile.base_load_percentile
    out = []
    for o in onprem[:2]:
        g = o.id.split("on_prem-", 1)[1]
        pieces = pieces_by_gpu[g]
        for b in bursts[:2]:
            ctx.evaluated += 1

            def burst(f: Factors, b: _Opt = b) -> Any:
                fn = b.burst_cost or b.cost  # the on-prem team runs the burst fleet too: no second staff
                return fn(f.replace(demand=np.asarray(f.demand, dtype=float) * burst_share))

            cost = _onprem_cost_fn(ctx, pieces, base_share=share, burst=burst) if not o.excluded else (lambda f: None)
            h = _Opt(
                id=f"hybrid-{g}+{b.id}", label=f"Hybrid: on-prem {g} for the base load (P{q:g}), bursts to {b.label}",
                placement="hybrid", detail=f"{o.detail}+{b.detail}", provider=b.provider,
                parts=o.parts + b.parts, cost=cost, perf=_onprem_perf(ctx, pieces, base_share=share),
                sources=o.sources + b.sources, excluded=list(o.excluded), warnings=list(b.warnings),
                quality_delta=max(o.quality_delta, b.quality_delta), latency_s=o.latency_s, frontier=b.frontier,
            )
            out.append(h)
    return out


# ------------------------------------------------------------------------------ policy
def _verdict(ctx: _Context, o: _Opt) -> tuple[bool, list[str], list[Any]]:
    """Allowed, reasons (with citations) and obligations for one option, from the policy engine.

    The option is evaluated once per distinct model licence among the models it runs; findings
    are merged. Cached by the option's placement and parts (equal parts, equal verdict).
    """
    from .policy import engine

    placement = "hybrid" if o.placement == "hybrid" else o.detail
    key = ("verdict", placement, tuple(tuple(sorted((k, str(v)) for k, v in p.items() if k != "name")) for p in o.parts))
    if key in ctx.cache:
        return ctx.cache[key]
    licenses = sorted({d.model.license for d in ctx.demands} | _other_licenses(ctx)) or [None]
    popt = engine.PlacementOption(id=o.id, placement=placement, parts=[engine.PlacementPart(**p) for p in o.parts])
    reasons: list[str] = []
    obligations: list[Any] = []
    seen: set[str] = set()
    allowed = True
    for lic in licenses:
        v = engine.evaluate(ctx.scenario.policy, popt, ctx.catalog, model_license=lic)
        allowed = allowed and v.allowed
        for f in v.excluded_because:
            if str(f) not in reasons:
                reasons.append(str(f))
        for f in v.obligations:
            if f.rule_id not in seen:
                seen.add(f.rule_id)
                obligations.append(f)
    ctx.cache[key] = (allowed, reasons, obligations)
    return ctx.cache[key]


def _policy(ctx: _Context, opts: list[_Opt]) -> dict[str, tuple[bool, list[str], list[Any]]]:
    """Verdict per option id (see ``_verdict``)."""
    return {o.id: _verdict(ctx, o) for o in opts}


def _other_licenses(ctx: _Context) -> set[str]:
    out = set()
    for j in ctx.scenario.training:
        m = ctx.catalog.models.find(j.model)
        if m is not None:
            out.add(m.license)
    for p in ctx.scenario.pipelines:
        for st in p.stages:
            m = ctx.catalog.models.find(st.model)
            if m is not None:
                out.add(m.license)
    return out


# ------------------------------------------------------------------------------ entry point
def _npv_of(ctx: _Context, res: Any) -> Any:
    return res.npv(ctx.econ.discount_rate)


def _candidate_gpus(ctx: _Context) -> list[str]:
    scn = ctx.scenario
    if scn.candidates.gpus:
        return [ctx.catalog.accelerators.get(g, field=f"candidates.gpus[{i}]").id for i, g in enumerate(scn.candidates.gpus)]
    out = []
    for a in ctx.catalog.accelerators:
        if a.device_type != "gpu":
            continue
        if any(a.id in s.accepts_gpu_ids for s in ctx.catalog.servers):
            out.append(a.id)
    return out


def build_options(scenario: str | Path | dict[str, Any] | Scenario, catalog: Any = None) -> tuple[_Context, list[_Opt]]:
    """Steps 1-3 of the flow: the context and every costed candidate option (before policy and
    ranking). Each option's ``cost(Factors(...))`` returns an economics ``CostResult``."""
    scn = load_scenario(scenario)
    if catalog is None:
        from .catalog import default_catalog

        catalog = default_catalog()
    ctx = _context(scn, catalog)
    placements = set(scn.candidates.placements)
    opts: list[_Opt] = []
    onprem: list[_Opt] = []
    pieces_by_gpu: dict[str, list[_Piece]] = {}
    if "on_prem" in placements or "hybrid" in placements:
        onprem, pieces_by_gpu = _onprem_options(ctx, _candidate_gpus(ctx))
        if "on_prem" in placements:
            opts += onprem
    cloud: list[_Opt] = []
    if "cloud" in placements or "api" in placements or "hybrid" in placements:
        cloud = _cloud_options(ctx)
        if "cloud" in placements:
            opts += cloud
    api: list[_Opt] = []
    if "api" in placements or "hybrid" in placements:
        od = [c for c in cloud if c.id.endswith("-on_demand") and _verdict(ctx, c)[0]]
        batch_cloud = min(od, key=lambda c: float(_npv_of(ctx, c.cost(Factors())))) if od and scn.training else None
        api = _api_options(ctx, batch_cloud)
        if "api" in placements:
            opts += api
    if "hybrid" in placements:
        ranked_onprem = sorted([o for o in onprem if not o.excluded], key=lambda o: float(_npv_of(ctx, o.cost(Factors()))))
        ok = [o for o in api + cloud if not o.excluded and _verdict(ctx, o)[0]]  # bursts the policy allows
        burst_api = sorted([a for a in ok if a.placement == "api" and not a.frontier], key=lambda o: float(_npv_of(ctx, o.cost(Factors()))))
        burst_cloud = sorted([c for c in ok if c.placement == "cloud" and c.id.endswith("-on_demand")],
                             key=lambda o: float(_npv_of(ctx, o.cost(Factors()))))
        opts += _hybrid_options(ctx, ranked_onprem, pieces_by_gpu, burst_api[:1] + burst_cloud[:1])
    if not opts:
        raise DeployscopeError(
            "no option can serve this scenario: no GPU in the catalog meets the targets and no API serves the model",
            field="candidates", value=None,
            allowed="relax targets (targets.ttft_p95_s, targets.tpot_p95_s), the quality floor, or widen candidates",
        )
    return ctx, opts


def plan(scenario: str | Path | dict[str, Any] | Scenario, catalog: Any = None) -> Plan:
    """Plan a scenario (a YAML path, a mapping or a Scenario): ranked, explained on-prem / cloud /
    API / hybrid options in one typed :class:`~deployscope.result.Plan` (see the module doc)."""
    from .decide import decide

    t0 = time.perf_counter()
    ctx, opts = build_options(scenario, catalog)
    verdicts = _policy(ctx, opts)
    return decide(ctx, opts, verdicts, t0)
