"""Performance views of a candidate: the summary each option reports (GPUs, servers, power,
latency, throughput, components), and the memory breakdown and latency-throughput curve the plan
draws for its main LLM pool."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..physics import serving
from ..physics.memory import estimate_memory, max_sequences, weight_bytes
from ..result import ComponentSizing, CurvePoint, HeldOutBias, MemoryBreakdown, Option, Performance
from .api_latency import api_prefill_rate, ttft_at_prompt
from .candidates import HOURS_PER_YEAR, Candidate, Factors, Piece
from .costing import OnPremCost, cloud_instances_needed
from .hardware import Hardware
from .inputs import Inputs
from .sizing import component, gpus_per_year, peak_rate, utilization

#: concurrencies the latency-throughput curve is drawn at
CURVE_CONCURRENCY = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def _error_band(pieces: list[Piece]) -> dict[str, float] | None:
    return next((pc.serve.error_band for pc in pieces if pc.serve is not None and pc.serve.error_band), None)


def _held_out_bias(pieces: list[Piece]) -> list[HeldOutBias]:
    """The held-out groups the serving pieces' predictions lean with, each once (by band)."""
    out: dict[str, HeldOutBias] = {}
    for pc in pieces:
        for b in pc.serve.held_out_bias if pc.serve is not None else ():
            out.setdefault(b.band_id, b)
    return list(out.values())


def _quant(pieces: list[Piece]) -> str | None:
    return next((pc.serve.quant for pc in pieces if pc.serve is not None), None)


@dataclass
class OnPremPerformance:
    inputs: Inputs
    hardware: Hardware
    pieces: list[Piece]
    base_share: float | None = None
    base_cost: OnPremCost | None = None  # a hybrid's chosen base (its fleet, volume share and busy share)

    def __call__(self) -> Performance:
        inputs, hw, pieces, base_share = self.inputs, self.hardware, self.pieces, self.base_share
        f = Factors()
        base = self.base_cost
        need = base.fleet_need(f) if base is not None else gpus_per_year(inputs, pieces, f, base_share)
        comps = []
        quality = 0.0
        ttft = tpot = img_lat = None
        tok_s = img_s = 0.0
        for pc in pieces:
            comps.append(component(inputs, pc, "on_prem", f, base_share))
            if pc.serve is not None:
                quality = max(quality, pc.serve.quality_delta)
                ttft = max(ttft or 0.0, pc.serve.ttft_s or 0.0) or None
                tpot = max(tpot or 0.0, pc.serve.tpot_s or 0.0) or None
                if pc.serve.tokens_per_s:
                    tok_s += pc.serve.tokens_per_s * float(comps[-1].replicas or 0)
            elif pc.image is not None:
                img_lat = max(img_lat or 0.0, pc.image.latency_s)
                img_s += pc.cap * float(comps[-1].replicas or 0)
        gpus = int(sum(float(np.asarray(v)[-1]) for v in need.values()))
        main = max(need, key=lambda g: float(np.asarray(need[g])[-1])) if need else None
        srv = hw.server_for(main, max([pc.per_replica_gpus for pc in pieces if pc.gpu == main] + [1]))[0] if main else None
        servers = int(sum(math.ceil(float(np.asarray(v)[-1]) / hw.server_for(g, 1)[0].gpu_slots - 1e-9)
                          for g, v in need.items() if hw.server_for(g, 1)[0]))
        res = (base if base is not None else OnPremCost(inputs, hw, pieces, base_share))(f)
        comps = [_with_fleet_share(inputs, c, float(res.total()), gpus) for c in comps]
        power_kw = None
        energy = float(res.energy_kwh) / inputs.H if res.energy_kwh else None
        if energy:
            power_kw = energy / HOURS_PER_YEAR / inputs.econ.pue
        lim = inputs.scenario.economics.facility_limits
        racks = None
        if lim.kw_per_rack and srv is not None:
            per_rack = max(1, int(lim.kw_per_rack // hw.power(srv).max_kw))
            racks = math.ceil(servers / per_rack)
        storage = hw.storage_row()
        weights = 0.0
        for pc in pieces:
            if pc.serve is not None:
                try:
                    weights = max(weights, float(weight_bytes(pc.model, pc.serve.quant, inputs.catalog)))
                except Exception:  # noqa: BLE001, S110 - descriptive figure only
                    pass
        cold = weights / (storage.read_gb_s * 1e9) if storage is not None and storage.read_gb_s and weights else None
        return Performance(
            gpu=main, gpus=gpus, server=srv.id if srv else None, servers=servers, racks=racks,
            power_kw=power_kw, peak_power_kw=(servers * hw.power(srv).max_kw) if srv else None,
            quant=_quant(pieces), quality_delta=quality,
            ttft_p95_s=ttft, tpot_p95_s=tpot, image_latency_s=img_lat,
            output_tokens_per_s=tok_s or None, images_per_s=img_s or None,
            utilization=float(base.util_base[-1] if base is not None else utilization(inputs, pieces, base_share)[-1]),
            cold_start_s=cold,
            storage_tb=hw.storage_tb(pieces),
            energy_kwh_per_year=energy, co2_kg_per_year=(float(res.co2_kg) / inputs.H) if res.co2_kg else None,
            error_band=_error_band(pieces),
            held_out_bias=_held_out_bias(pieces),
            components=comps,
        )


@dataclass
class CloudPerformance:
    inputs: Inputs
    pieces: list[Piece]
    row: Any
    pricing: str

    def __call__(self) -> Performance:
        pieces, row = self.pieces, self.row
        f = Factors()
        inst = np.asarray(cloud_instances_needed(self.inputs, pieces, row, self.pricing, f), dtype=float)
        comps = [_with_rental_cost(self.inputs, component(self.inputs, pc, "cloud", f), row, self.pricing) for pc in pieces]
        serves = [pc.serve for pc in pieces if pc.serve is not None]
        ttft = max([s.ttft_s or 0.0 for s in serves] + [0.0]) or None
        tpot = max([s.tpot_s or 0.0 for s in serves] + [0.0]) or None
        img = max([pc.image.latency_s for pc in pieces if pc.image is not None] + [0.0]) or None
        batch_gpus = max([pc.fixed_gpus for pc in pieces if pc.kind in ("training", "pipeline")] + [0])
        serving_gpus = int(math.ceil(float(inst[-1]) * row.gpu_count)) if inst.size else 0
        return Performance(
            gpu=row.gpu_id, gpus=max(serving_gpus, batch_gpus) or None,
            server=row.instance_type, servers=int(math.ceil(max(serving_gpus, batch_gpus) / row.gpu_count)) or None,
            quant=_quant(pieces),
            quality_delta=max([s.quality_delta for s in serves] + [0.0]),
            ttft_p95_s=ttft, tpot_p95_s=tpot, image_latency_s=img,
            error_band=_error_band(pieces),
            held_out_bias=_held_out_bias(pieces),
            components=comps,
        )


def _with_fleet_share(inputs: Inputs, comp: ComponentSizing, fleet_total: float, fleet_gpus: int) -> ComponentSizing:
    """A training job on owned GPUs: the share of the fleet's yearly cost its GPUs hold."""
    if comp.kind != "training" or not comp.gpus or fleet_gpus <= 0 or inputs.H <= 0:
        return comp
    share = min(1.0, comp.gpus / fleet_gpus)
    return comp.model_copy(update={
        "cost_per_year": fleet_total * inputs.fx_per_usd / inputs.H * share,
        "cost_basis": f"{comp.gpus} of the fleet's {fleet_gpus} GPUs: that share of its average yearly cost "
                      "(purchase, power, space, support and staff, less resale)"})


def _with_rental_cost(inputs: Inputs, comp: ComponentSizing, row: Any, pricing: str) -> ComponentSizing:
    """A training job's yearly GPU-hours at this instance's rate, in the scenario's currency, in its note."""
    price = row.price(pricing) if comp.kind == "training" and comp.gpu_hours_per_year else None
    if not price:
        return comp
    cost = comp.gpu_hours_per_year * price / row.gpu_count * inputs.fx_per_usd
    basis = f"{row.provider} {row.instance_type} {pricing.replace('_', '-')} rates"
    return comp.model_copy(update={"note": f"{comp.note}, {cost:,.0f} {inputs.currency} a year at {basis}",
                                   "cost_per_year": cost, "cost_basis": basis})


@dataclass
class WithRentedTraining:
    """An API option's performance plus the training jobs it rents from a cloud (their GPUs,
    days, energy and yearly rental)."""

    perf: Any
    batch: Candidate

    def __call__(self) -> Performance:
        own: Performance = self.perf()
        rented = [c for c in self.batch.perf().components if c.kind == "training"]
        return own.model_copy(update={"components": [*own.components, *rented]})


@dataclass
class ApiPerformance:
    inputs: Inputs
    rows: dict[str, Any]  # workload name -> api_prices row

    def __call__(self) -> Performance:
        comps = [ComponentSizing(workload=d.name, kind=d.kind, model=d.model.id, placement="api", api_model=r.id,
                                 demand_peak=float(peak_rate(d, Factors())[-1]), quant=r.quantization)
                 for d, r in ((d, self.rows[d.name]) for d in self.inputs.demands)]
        chat = [r for r in self.rows.values() if r.mode == "chat"]
        ttft = [r.ttft_s for r in chat if r.ttft_s is not None]
        speed = [r.output_tokens_per_s for r in chat if r.output_tokens_per_s is not None]
        workloads = {d.name: d.workload for d in self.inputs.demands}
        scaled = {name: ttft_at_prompt(r, workloads[name].input_tokens.mean, api_prefill_rate(self.inputs))
                  for name, r in self.rows.items() if r.mode == "chat" and name in workloads}
        at_prompt = [t.at_prompt_s for t in scaled.values() if t is not None]
        notes = {f"{r.id}: {r.latency_note()}" + (f"; {scaled[n].note()}" if scaled.get(n) is not None else ""): None  # type: ignore[union-attr]
                 for n, r in self.rows.items() if r.mode == "chat"}
        return Performance(
            components=comps, quant=next((r.quantization for r in self.rows.values() if r.quantization), None),
            published_ttft_s=max(ttft) if chat and len(ttft) == len(chat) else None,
            published_output_tokens_per_s=min(speed) if chat and len(speed) == len(chat) else None,
            ttft_at_prompt_s=max(at_prompt) if chat and len(at_prompt) == len(chat) else None,
            latency_note="; ".join(notes) or None,
        )


def memory_and_curve(inputs: Inputs, cand: Candidate, opt: Option) -> tuple[MemoryBreakdown | None, list[CurvePoint]]:
    """Memory breakdown per GPU and latency-throughput curve of an option's main LLM pool."""
    comp = next((c for c in opt.performance.components if c.kind == "llm" and c.gpu), None)
    if comp is None or comp.gpu is None:
        return None, []
    d = next((d for d in inputs.demands if d.name == comp.workload), None)
    if d is None:
        return None, []
    w = d.workload
    engine = inputs.scenario.candidates.engine
    # context per sequence for the memory view: the longest request if given, else the p95 lengths
    ctx_len = int(round((w.input_tokens.max or w.input_tokens.p95_tokens) + (w.output_tokens.max or w.output_tokens.p95_tokens)))
    memory = None
    try:
        memory = _memory_per_gpu(inputs, comp, opt.id, d.model.id, ctx_len, engine)
    except Exception as exc:  # noqa: BLE001 - descriptive view only
        inputs.warnings.append(f"memory breakdown unavailable: {exc}")
    curve: list[CurvePoint] = []
    try:
        for c in CURVE_CONCURRENCY:
            res = serving.estimate(d.model.id, comp.gpu, gpus=comp.tp or 1, tp=comp.tp or 1, quant=comp.quant or "bf16",
                                   engine=engine, input_len=int(round(w.input_tokens.mean)),
                                   output_len=int(round(w.output_tokens.mean)), concurrency=c, catalog=inputs.catalog,
                                   calibration=inputs.scenario.candidates.calibration)
            ttft, tpot = _field(res, "ttft_s"), _field(res, "tpot_s")
            curve.append(CurvePoint(
                concurrency=float(c), output_tokens_per_s=float(_field(res, "output_tokens_per_s")),
                requests_per_s=_float(_field(res, "requests_per_s")),
                ttft_s=_float(ttft if isinstance(ttft, (int, float)) else _field(ttft, "p50")),
                tpot_s=_float(tpot if isinstance(tpot, (int, float)) else _field(tpot, "p50")),
            ))
    except Exception as exc:  # noqa: BLE001 - descriptive view only
        inputs.warnings.append(f"latency-throughput curve unavailable: {exc}")
    return memory, curve


def _memory_per_gpu(inputs: Inputs, comp: ComponentSizing, option_id: str, model: str, ctx_len: int, engine: str) -> MemoryBreakdown:
    """One GPU of the pool: weights, activation peak and runtime overhead, and the KV cache of the
    sequences of `ctx_len` tokens that fit beside them (at most the engine's sequence cap), in the
    KV format the plan sized with. By construction the parts stay within the GPU's memory."""
    cat = inputs.catalog
    gpu = cat.accelerators.get(comp.gpu)
    quant, tp = comp.quant or "bf16", comp.tp or 1
    fit = int(max_sequences(model, gpu.id, context=ctx_len, quant=quant, kv_quant=comp.kv_quant, tp=tp, engine=engine, catalog=cat))
    eng = cat.engines.find(engine)
    batch = min(fit, int(eng.on_gpu(gpu).perf.max_batch_size)) if eng is not None else fit
    m = estimate_memory(model, quant=quant, kv_quant=comp.kv_quant, context=ctx_len, batch=max(batch, 1), tp=tp,
                        engine=engine, catalog=cat, gpu=gpu)
    parts = {k: float(v) for k, v in m.per_gpu.items()}
    if batch < 1:  # not one whole sequence of this length fits: no KV cache to show
        parts["kv_cache"] = 0.0
        inputs.warnings.append(f"memory breakdown: not one {ctx_len}-token sequence of {model} fits beside the weights on {gpu.id}")
    used = sum(parts.values())
    if used < gpu.memory_bytes:
        parts["free"] = float(gpu.memory_bytes - used)
    return MemoryBreakdown(option_id=option_id, workload=comp.workload, model=model, gpu=gpu.id, quant=comp.quant, tp=tp, pp=1,
                           total_bytes=float(gpu.memory_bytes), parts=parts, kv_quant=m.kv_quant, context_tokens=ctx_len,
                           batch=batch)


def _field(x: Any, k: str) -> Any:
    if x is None:
        return None
    return x.get(k) if isinstance(x, dict) else getattr(x, k, None)


def _float(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None
