"""Enumerate the candidates (on-prem GPU types, cloud offers, hosted APIs, hybrids) and prune
them by branch and bound.

Every on-prem GPU type and cloud offer is first costed with the max-throughput capacity (no
latency target): more capacity per replica than the targets allow, so a lower bound on its cost.
Candidates are then sized exactly (the SLO search) cheapest bound first, until the bound exceeds
the best exact cost found: those cannot win and are reported as pruned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..catalog.prices import price_age_warnings, stale_after_days
from ..economics.fleet import facility_warning
from ..errors import DeployscopeError
from ..feasibility import check_training_feasible
from ..physics.slo import missed_metrics
from ..result import Performance, Source
from .api_latency import api_prefill_rate, assume_api_prefill, context_window_reason, ttft_at_prompt
from .candidates import Candidate, Demand, Factors, Piece
from .costing import ApiCost, CloudCost, OnPremCost, Uncosted, row_cost
from .hardware import Hardware
from .hybrid import HybridCost, burst_spec, serving_pieces
from .inputs import Inputs
from .performance import ApiPerformance, CloudPerformance, OnPremPerformance, WithRentedTraining
from .pipelines import PipelineApiCost, PipelineApiPerformance, stage_volumes
from .sizing import Sizer, gpus_per_year, latency, quality_delta
from .unservable import Unservable
from .verdicts import Verdicts, policy_part, row_placement

#: cloud pricing names in the scenario -> the catalog's
PRICINGS = {"on_demand": "on_demand", "reserved_1y": "1y", "reserved_3y": "3y", "spot": "spot"}


def base_npv(inputs: Inputs, c: Candidate) -> float:
    """A candidate's NPV at the base inputs, USD."""
    return float(np.asarray(inputs.npv(c.cost(Factors()))))


def model_sources(inputs: Inputs, pieces: list[Piece]) -> list[Source]:
    """Catalog rows the sizing rests on: each model, its weight format and the serving engine."""
    out: list[Source] = []
    cat = inputs.catalog
    for pc in pieces:
        m = cat.models.find(pc.model)
        if m is not None:
            out.append(inputs.source("models", m))
        q = pc.quant
        if isinstance(q, str) and cat.quant.find(q) is not None:
            out.append(inputs.source("quant", cat.quant.find(q)))
    if any(pc.kind == "llm" for pc in pieces):
        e = cat.engines.find(inputs.scenario.candidates.engine)
        if e is not None:
            out.append(inputs.source("engines", e))
    seen: set[tuple[str, str]] = set()
    return [s for s in out if not ((s.table, s.id) in seen or seen.add((s.table, s.id)))]  # type: ignore[func-returns-value]


def candidate_gpus(inputs: Inputs) -> list[str]:
    """GPU types to consider on-prem: the scenario's list, else every GPU a catalog server takes."""
    scn, cat = inputs.scenario, inputs.catalog
    if scn.candidates.gpus:
        return [cat.accelerators.get(g, field=f"candidates.gpus[{i}]").id for i, g in enumerate(scn.candidates.gpus)]
    return [a.id for a in cat.accelerators if a.device_type == "gpu" and any(a.id in s.accepts_gpu_ids for s in cat.servers)]


# ------------------------------------------------------------------------------ on-prem
def stale_input_rows(inputs: Inputs) -> list[str]:
    """Warnings for the dated catalog rows every on-prem cost rests on: the tariff, colocation and
    currency rows the economic inputs came from, when their price is older than the limit."""
    cat, econ = inputs.catalog, inputs.econ
    out: list[str] = []
    used_fx = inputs.currency != "USD" and inputs.scenario.currency.per_usd is None
    for name in ("tariff_usd_per_kwh", "colocation_usd_per_kw_month"):
        a = econ.provenance.get(name)
        if a is None or ":" not in a.source:
            continue
        row = cat.economic_defaults.find(a.source.split(":", 1)[0])
        if row is not None and row.price_as_of is not None:
            out += price_age_warnings([row], "economic_defaults", catalog=cat)
        used_fx = used_fx or "fx_rates" in a.source
    if used_fx:
        code = inputs.currency if inputs.currency != "USD" else "EUR"
        fx = cat.fx_rates.find(code)
        if fx is not None:
            out += price_age_warnings([fx], "fx_rates", catalog=cat)
    return out


def on_prem(inputs: Inputs, sizer: Sizer, hw: Hardware) -> list[Candidate]:
    """One on-prem candidate per GPU type, found by branch and bound (see the module doc)."""
    for w in stale_input_rows(inputs):
        if w not in inputs.warnings:
            inputs.warnings.append(w)
    bounds = []
    for g in candidate_gpus(inputs):
        o = _on_prem(inputs, sizer, hw, g, exact=False)
        if o is None:
            continue
        lb = base_npv(inputs, o) if not o.excluded else math.inf
        bounds.append((lb, g, o))
    bounds.sort(key=lambda t: t[0])
    out: list[Candidate] = []
    best = math.inf
    exact_found = False
    pruned = []
    for lb, g, o_lb in bounds:
        if o_lb.excluded:
            out.append(o_lb)  # excluded by the facility: shown with the reason, not costed
            continue
        if lb > best and exact_found:
            pruned.append(g)
            continue
        o = _on_prem(inputs, sizer, hw, g, exact=True)
        if o is None:
            continue
        out.append(o)
        if not o.excluded:
            exact_found = True
            best = min(best, base_npv(inputs, o))
    if pruned:
        inputs.warnings.append(
            f"{len(pruned)} on-prem GPU type(s) not sized in detail: even at their max-throughput capacity they cost more "
            f"than the best on-prem option ({', '.join(pruned)})"
        )
    return out


@dataclass
class NoPerformance:
    """The performance of an option that cannot serve the scenario: only its GPU."""

    gpu: str

    def __call__(self) -> Performance:
        return Performance(gpu=self.gpu)


def latency_kind(reason: str, targets: Any = None) -> str:
    """Which latency target a 'no load meets the targets' reason misses: TTFT, TPOT or both."""
    if targets is None:
        return "latency (TTFT/TPOT)"
    missed = missed_metrics(reason)  # the physics marks each target a trickle of load misses
    return f"latency ({' and '.join(missed)})" if missed else "latency (TTFT/TPOT)"


def binding_reason(reason: Unservable, targets: Any = None) -> str:
    """An exclusion reason, "<constraint>: <why>": the constraint sizing ran into (memory, image
    latency, deadline, quality floor), and for latency the target(s) even a trickle of load misses
    when the scenario's ``targets`` are given."""
    kind = latency_kind(reason.text, targets) if reason.kind == "latency" else reason.kind
    return f"{kind}: {reason.text}"


def _warn_if_none_serves(inputs: Inputs, options: list[Candidate], what: str, each: str,
                         which: Callable[[list[Candidate]], str], reason_of: str) -> None:
    """A plan warning naming the binding constraint when no option of a placement can serve."""
    cannot = [c for c in options if c.excluded and not c.pieces]
    if options and len(cannot) == len(options):
        kinds = sorted({c.excluded[0].split(":", 1)[0] for c in cannot})
        inputs.warnings.append(f"{what} can serve this scenario: the binding constraint is {' / '.join(kinds)} on every "
                               f"{each} ({which(cannot)}); see each {reason_of}'s reason")


def cheapest_chassis(inputs: Inputs, hw: Hardware, pieces: list[Piece], tps: dict[str, int]) -> Hardware:
    """The hardware view with each GPU type in the chassis that gives the lowest NPV for this fleet:
    the cheapest per slot can be the dearest buy for one or two GPUs (an 8-slot server against a
    2-GPU workstation)."""
    for gg in sorted({pc.gpu for pc in pieces if pc.gpu is not None}):
        servers, _ = hw.servers_for(gg, tps.get(gg, 1))
        if len(servers) < 2:
            continue
        npv = {s.id: float(np.asarray(inputs.npv(OnPremCost(inputs, hw.pinned({gg: s.id}), pieces)(Factors())))) for s in servers}
        hw = hw.pinned({gg: min(servers, key=lambda s: npv[s.id]).id})
    return hw


def _on_prem(inputs: Inputs, sizer: Sizer, hw: Hardware, g: str, exact: bool) -> Candidate | None:
    net = inputs.network
    detail = "on_prem_air_gapped" if net == "air_gapped" else "on_prem"
    lim = inputs.scenario.economics.facility_limits
    gpu = inputs.catalog.accelerators.get(g)
    pieces, why_not = sizer.pieces(g, exact=exact)
    if not pieces:
        if not why_not or hw.server_for(g, 1)[0] is None:
            return None  # no priced server takes this GPU: not a buyable option at all
        # listed with the constraint that rules it out, so the plan says why nothing self-hosted fits
        return Candidate(
            id=f"on_prem-{g}", label=f"On-prem {gpu.name}", placement="on_prem", detail=detail, provider=None,
            parts=[{"kind": "on_prem", "name": g, "network": "air_gapped" if net == "air_gapped" else "connected"}],
            cost=Uncosted(), perf=NoPerformance(g), sources=[inputs.source("accelerators", gpu)],
            gpu=g, pieces=[], excluded=[binding_reason(why_not, inputs.scenario.targets)],
        )
    tps = {pc.gpu: max(pc.per_replica_gpus, 1) for pc in pieces if pc.gpu is not None}
    excluded: list[str] = []
    for gg in {pc.gpu for pc in pieces if pc.gpu is not None}:
        srv, reasons = hw.server_for(gg, tps.get(gg, 1))
        if srv is None:
            if reasons:
                excluded += reasons
            else:
                return None  # no priced server for this GPU: not a buyable option
    if not excluded:
        hw = cheapest_chassis(inputs, hw, pieces, tps)
    opt = Candidate(
        id=f"on_prem-{g}", label=f"On-prem {gpu.name}", placement="on_prem", detail=detail, provider=None,
        parts=[{"kind": "on_prem", "name": g, "network": "air_gapped" if net == "air_gapped" else "connected"}],
        cost=OnPremCost(inputs, hw, pieces) if not excluded else Uncosted(),
        perf=OnPremPerformance(inputs, hw, pieces), sources=[inputs.source("accelerators", gpu)],
        gpu=g, pieces=pieces, excluded=excluded, quality_delta=quality_delta(pieces),
    )
    for gg in {pc.gpu for pc in pieces if pc.gpu is not None}:
        srv, _ = hw.server_for(gg, tps.get(gg, 1))
        if srv is not None:
            opt.sources.append(inputs.source("servers", srv))
    dated: list[tuple[str, Any]] = []  # price rows this option's cost rests on, warned about by price date
    for table, row in (("storage", hw.storage_row()), ("network", hw.switch_row()), ("network", hw.fabric_row())):
        if row is not None and (table == "storage" or len(pieces) > 1 or any(pc.kind == "training" for pc in pieces)):
            opt.sources.append(inputs.source(table, row))
            dated.append((table, row))
    opt.sources += model_sources(inputs, pieces)
    if exact and not excluded:
        need = gpus_per_year(inputs, pieces, Factors())
        kw = 0.0
        for gg, n in need.items():
            srv, _ = hw.server_for(gg, tps.get(gg, 1))
            kw += math.ceil(float(np.max(n)) / srv.gpu_slots - 1e-9) * hw.power(srv).max_kw
        if lim.power_available_kw is not None and kw > lim.power_available_kw:
            opt.excluded.append(f"facility: needs {kw:.0f} kW of server power at the final year's peak, above the "
                                f"{lim.power_available_kw:g} kW the facility has")
            opt.cost = Uncosted()
        quoted = inputs.catalog.economic_defaults.find("colocation.max_kw")
        if inputs.econ.facility == "colocation" and quoted is not None:
            w = facility_warning(kw, float(quoted.value), f"{quoted.id}: {quoted.source}")
            if w:
                opt.warnings.append(w)
        quotes = inputs.scenario.economics.hardware_prices
        for gg in {pc.gpu for pc in pieces if pc.gpu is not None}:
            srv, _ = hw.server_for(gg, tps.get(gg, 1))
            if srv is None:
                continue
            if srv.id not in quotes:
                dated.append(("servers", srv))
            gpu_row = inputs.catalog.accelerators.find(gg)
            if gpu_row is not None and gpu_row.price_usd is not None and not srv.includes_gpus and gg not in quotes:
                dated.append(("accelerators", gpu_row))  # a chassis price: the GPU cards are priced on their own
        for table, row in dated:
            opt.stale_prices += [w for w in price_age_warnings([row], table, catalog=inputs.catalog) if w not in opt.stale_prices]
    if not exact and excluded:
        opt.warnings.append("sized at the max-throughput point (not costed: excluded by the facility)")
    opt.latency_s = latency(pieces)
    return opt


# ------------------------------------------------------------------------------ cloud
def cloud(inputs: Inputs, sizer: Sizer, verdicts: Verdicts) -> list[Candidate]:
    """Cloud instance candidates (one per provider x GPU x pricing), found by branch and bound like
    the on-prem ones: candidates the policy allows are sized exactly cheapest lower bound first; one
    whose lower bound exceeds the best exact cost of its pricing is pruned. Candidates the policy
    excludes are kept (with their screening figures) so the plan shows why."""
    scn = inputs.scenario
    wanted = [PRICINGS[p] for p in scn.candidates.cloud_pricing]
    stale_days = stale_after_days(inputs.catalog)
    cands: list[tuple[float, Any, Any, str, float, Candidate]] = []
    cannot: dict[tuple[str, str], tuple[Any, Any, Unservable]] = {}  # (provider, gpu) -> the largest offer that cannot serve, why
    for row in inputs.catalog.cloud_instances:
        if scn.candidates.providers and row.provider not in scn.candidates.providers:
            continue
        if scn.candidates.gpus and row.gpu_id not in scn.candidates.gpus:
            continue
        gpu = inputs.catalog.accelerators.find(row.gpu_id)
        if gpu is None:
            continue
        pieces, why_not = sizer.pieces(gpu.id, max_tp=row.gpu_count, exact=False)
        if not pieces:
            key2 = (row.provider, gpu.id)
            if why_not and any(row.price(p) is not None for p in wanted) and (
                    key2 not in cannot or row.gpu_count > cannot[key2][0].gpu_count):
                cannot[key2] = (row, gpu, why_not)
            continue
        for pricing in wanted:
            price = row.price(pricing)
            if price is None:
                continue
            inputs.evaluated += 1
            opt = _cloud(inputs, row, gpu, pieces, pricing, price, stale_days)
            allowed = verdicts.allows(opt)
            lb = base_npv(inputs, opt)
            cands.append((lb if allowed else math.inf, row, gpu, pricing, price, opt))
    cands.sort(key=lambda t: t[0])
    best_by: dict[tuple[str, str, str], tuple[float, Candidate]] = {}
    best_pricing: dict[str, float] = {}
    pruned = 0
    untried: set[tuple[str, str]] = set()
    for lb, row, gpu, pricing, price, opt in cands:
        key = (row.provider, row.gpu_id, pricing)
        if lb == math.inf:  # excluded by policy: keep one per key, with screening figures
            if key not in best_by:
                opt.warnings.append("sized at the max-throughput point (excluded by policy, not sized in detail)")
                best_by[key] = (math.inf, opt)
            continue
        if lb > best_pricing.get(pricing, math.inf) or (key in best_by and lb > best_by[key][0]):
            pruned += 1
            untried.add((row.provider, row.gpu_id))  # might serve: never listed as unable to
            continue
        pieces, why_not = sizer.pieces(gpu.id, max_tp=row.gpu_count, exact=True)
        if not pieces:  # fits at the max-throughput point but no load meets the targets
            key2 = (row.provider, gpu.id)
            if why_not and (key2 not in cannot or row.gpu_count >= cannot[key2][0].gpu_count):
                cannot[key2] = (row, gpu, why_not)
            continue
        o = _cloud(inputs, row, gpu, pieces, pricing, price, stale_days)
        val = base_npv(inputs, o)
        best_pricing[pricing] = min(best_pricing.get(pricing, math.inf), val)
        if key not in best_by or val < best_by[key][0]:
            best_by[key] = (val, o)
    if pruned:
        inputs.warnings.append(f"{pruned} cloud offer(s) not sized in detail: even at their max-throughput capacity they cost "
                               "more than the best offer of the same pricing")
    served = {(k[0], k[1]) for k in best_by} | untried
    return [o for _, o in best_by.values()] + [
        _cloud_cannot(inputs, row, gpu, why) for key, (row, gpu, why) in cannot.items() if key not in served]


def _cloud_cannot(inputs: Inputs, row: Any, gpu: Any, why_not: Unservable) -> Candidate:
    """A cloud offer that cannot serve the scenario (its largest instance of that GPU at that provider),
    listed with the binding constraint so the plan says why no cloud option fits."""
    return Candidate(
        id=f"cloud-{row.provider}-{row.instance_type}".replace("/", "_").replace(" ", "_"),
        label=f"{row.provider} {row.instance_type} ({row.gpu_count}x {gpu.name})",
        placement="cloud", detail=row_placement(inputs, row), provider=row.provider,
        parts=[policy_part(row, "cloud")], cost=Uncosted(), perf=NoPerformance(gpu.id),
        sources=[inputs.source("cloud_instances", row), inputs.source("accelerators", gpu)],
        gpu=gpu.id, pieces=[], excluded=[binding_reason(why_not, inputs.scenario.targets)],
    )


def _cloud(inputs: Inputs, row: Any, gpu: Any, pieces: list[Piece], pricing: str, price: float, stale_days: int) -> Candidate:
    opt = Candidate(
        id=f"cloud-{row.provider}-{row.instance_type}-{pricing}".replace("/", "_").replace(" ", "_"),
        label=f"{row.provider} {row.instance_type} ({row.gpu_count}x {gpu.name}), {pricing.replace('_', '-')}",
        placement="cloud", detail=row_placement(inputs, row), provider=row.provider,
        parts=[policy_part(row, "cloud")], cost=CloudCost(inputs, pieces, row, pricing, price),
        perf=CloudPerformance(inputs, pieces, row, pricing),
        sources=[inputs.source("cloud_instances", row), inputs.source("accelerators", gpu), *model_sources(inputs, pieces)],
        gpu=gpu.id, pricing=pricing, pieces=pieces, quality_delta=quality_delta(pieces), latency_s=latency(pieces),
    )
    opt.burst_cost = CloudCost(inputs, pieces, row, pricing, price, staff=False)
    if any(pc.kind in ("training", "pipeline") for pc in pieces):
        opt.batch_cost = CloudCost(inputs, pieces, row, pricing, price, staff=False, serving_part=False)
    opt.stale_prices += price_age_warnings([row], "cloud_instances", stale_after=stale_days)
    if pricing in ("1y", "3y"):
        totals = opt.cost(Factors()).breakdown_totals()
        beyond = sum(float(v) for k, v in totals.items() if k.endswith("commitment_beyond_horizon"))
        if beyond > 0:
            opt.warnings.append(
                f"commitments run past the horizon: {beyond:,.0f} USD of remaining obligation (committed instance-years "
                "after the last year) is charged in the last year")
    if pricing == "spot" and any(pc.kind in ("llm", "diffusion") for pc in pieces) and inputs.scenario.load_profile.shape != "batch":
        opt.excluded.append("spot: instances can be reclaimed at short notice, so spot is not offered for an interactive "
                            "service (set load_profile.shape: batch for work that can wait)")
    return opt


# ------------------------------------------------------------------------------ APIs
def similar_size(r: Any, m: Any) -> bool:
    """An API row of the same family counts as the same model within a factor of two in parameters."""
    if r.params_b is None:
        return False
    return bool(0.5 <= r.params_b / m.params_b <= 2.0)


def _api_rows(inputs: Inputs, d: Demand) -> list[Any]:
    scn = inputs.scenario
    w = d.workload
    mode = "chat" if d.kind == "llm" else "image"
    out = []
    for r in inputs.catalog.api_prices:
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
        same = inputs.catalog.models.find(r.model)
        if (same is not None and same.id == d.model.id) or (r.model_family == d.model.family and similar_size(r, d.model)):
            out.append(r)
    return out


def batch_cloud(inputs: Inputs, clouds: list[Candidate], verdicts: Verdicts) -> Candidate | None:
    """The cheapest allowed on-demand cloud candidate, to run an API option's training jobs."""
    od = [c for c in clouds if c.pricing == "on_demand" and verdicts.allows(c)]
    return min(od, key=lambda c: base_npv(inputs, c)) if od and inputs.scenario.training else None


def api(inputs: Inputs, clouds: list[Candidate], verdicts: Verdicts) -> list[Candidate]:
    """One API candidate per provider serving every workload (its cheapest matching rows), and one
    per frontier row for a single workload."""
    scn = inputs.scenario
    cloud_for_batch = batch_cloud(inputs, clouds, verdicts)
    if scn.pipelines and not inputs.demands:
        return pipeline_api(inputs, cloud_for_batch)
    if not inputs.demands:
        return []
    per_provider: dict[str, dict[str, Any]] = {}
    frontier: list[tuple[Any, Demand]] = []
    for d in inputs.demands:
        for r in _api_rows(inputs, d):
            if r.frontier:
                frontier.append((r, d))
                continue
            cur = per_provider.setdefault(r.provider, {})
            # the cheapest row whose context window takes the prompts; one that cannot only where none can
            if d.name not in cur or _row_key(r, d) < _row_key(cur[d.name], d):
                cur[d.name] = r
    combos: list[tuple[str, dict[str, Any], bool]] = []
    for prov, rows in per_provider.items():
        if len(rows) == len(inputs.demands):
            combos.append((prov, rows, False))
    if len(inputs.demands) == 1:
        for r, d in frontier:
            combos.append((r.provider, {d.name: r}, True))
    out = []
    disc = 1.0 - scn.economics.api_discount_pct / 100.0
    stale_days = stale_after_days(inputs.catalog)
    batch = (cloud_for_batch.batch_cost or cloud_for_batch.cost) if cloud_for_batch is not None else None
    for prov, rows, is_frontier in combos:
        inputs.evaluated += 1
        first = next(iter(rows.values()))
        parts = [policy_part(r, "api") for r in rows.values()]
        if scn.training and cloud_for_batch is not None:
            parts += cloud_for_batch.parts
        label = f"API {prov} (" + ", ".join(sorted({r.model.split("/")[-1] for r in rows.values()})) + ")"
        opt = Candidate(
            id=(f"api-{prov}-{first.id}" if is_frontier else f"api-{prov}").replace("/", "_"),
            label=label + (", a frontier model, not the same weights" if is_frontier else ""),
            placement="api", detail=row_placement(inputs, first), provider=prov, parts=parts,
            cost=ApiCost(inputs, rows, disc, batch), perf=_with_training(ApiPerformance(inputs, rows), cloud_for_batch),
            sources=[inputs.source("api_prices", r) for r in rows.values()], frontier=is_frontier,
        )
        for name, r in rows.items():
            opt.stale_prices += [w for w in price_age_warnings([r], "api_prices", stale_after=stale_days) if w not in opt.stale_prices]
            if r.mode != "chat":
                continue
            opt.excluded += api_latency_exclusions(inputs, r, next(d.workload for d in inputs.demands if d.name == name))
            note = r.latency_note()
            if note.startswith("latency unknown"):
                note += "; the TTFT/TPOT targets cannot be checked for this option"
            opt.warnings.append(note)
        if scn.training and cloud_for_batch is None:
            opt.excluded.append("the training jobs need GPUs, and no cloud instance can run them")
        out.append(opt)
    return out


def _row_key(r: Any, d: Demand) -> tuple[bool, float]:
    """Order of preference among a provider's rows for a workload: those whose context window takes
    its prompts first, then the cheapest."""
    too_long = d.kind == "llm" and context_window_reason(r, d.workload) is not None
    return too_long, row_cost(r, d)


def api_latency_exclusions(inputs: Inputs, r: Any, w: Any) -> list[str]:
    """Why an API row cannot serve workload `w`: prompts beyond its context window, or its TTFT at
    the workload's prompt length (planning.api_latency) or its published output speed outside the targets."""
    out = []
    window = context_window_reason(r, w)
    if window:
        out.append(window)
    ttft_target = w.ttft_p95_s or inputs.scenario.targets.ttft_p95_s
    tpot_target = w.tpot_p95_s or inputs.scenario.targets.tpot_p95_s
    t = ttft_at_prompt(r, w.input_tokens.mean, api_prefill_rate(inputs))
    if t is not None:
        if not t.prefill_published and t.prompt_tokens > t.reference_tokens:
            assume_api_prefill(inputs)
        if t.at_prompt_s > ttft_target:
            out.append(f"latency (TTFT): {r.id}: {t.note()}, above the {ttft_target:g} s "
                       f"p95 target ({r.latency_source})")
    if r.output_tokens_per_s is not None and 1.0 / r.output_tokens_per_s > tpot_target:
        out.append(f"latency (TPOT): {r.id} has a published output speed of {r.output_tokens_per_s:g} tokens/s "
                   f"({1.0 / r.output_tokens_per_s:.3g} s per token), slower than the {tpot_target:g} s "
                   f"p95 TPOT target ({r.latency_source})")
    return out


def _with_training(perf: Any, cloud_for_batch: Candidate | None) -> Any:
    """An API option's performance, with the training jobs it rents listed when it has any."""
    return WithRentedTraining(perf, cloud_for_batch) if cloud_for_batch is not None else perf


def pipeline_api(inputs: Inputs, cloud_for_batch: Candidate | None = None) -> list[Candidate]:
    """Pipelines through hosted APIs: one candidate per provider that serves every stage (training
    jobs, if any, rented from the cheapest allowed cloud)."""
    scn = inputs.scenario
    by_provider: dict[str, dict[str, Any]] = {}
    stages = stage_volumes(inputs)
    for r in inputs.catalog.api_prices:
        if r.frontier or (scn.candidates.providers and r.provider not in scn.candidates.providers):
            continue
        for sv in stages:
            st = sv.stage
            m = inputs.catalog.models.find(st.model)
            if m is None:
                continue
            if r.mode != ("chat" if st.kind == "llm" else "image"):
                continue
            same = inputs.catalog.models.find(r.model)
            if (same is not None and same.id == m.id) or (r.model_family == m.family and (st.kind != "llm" or similar_size(r, m))):
                by_provider.setdefault(r.provider, {}).setdefault(sv.key, r)
    out = []
    for prov, rows in by_provider.items():
        if len(rows) != len(stages):
            continue
        inputs.evaluated += 1
        first = next(iter(rows.values()))
        batch = (cloud_for_batch.batch_cost or cloud_for_batch.cost) if scn.training and cloud_for_batch is not None else None
        opt = Candidate(id=f"api-{prov}".replace("/", "_"), label=f"API {prov}", placement="api",
                        detail=row_placement(inputs, first), provider=prov,
                        parts=[policy_part(r, "api") for r in rows.values()] + (list(cloud_for_batch.parts) if batch and cloud_for_batch is not None else []),
                        cost=PipelineApiCost(inputs.H, stages, rows, batch),
                        perf=_with_training(PipelineApiPerformance(rows), cloud_for_batch if batch else None),
                        sources=[inputs.source("api_prices", r) for r in rows.values()])
        for r in rows.values():
            opt.stale_prices += [w for w in price_age_warnings([r], "api_prices", catalog=inputs.catalog) if w not in opt.stale_prices]
        if scn.training and cloud_for_batch is None:
            opt.excluded.append("the training jobs need GPUs, and no cloud instance can run them")
        out.append(opt)
    return out


# ------------------------------------------------------------------------------ hybrids
def hybrid(inputs: Inputs, hw: Hardware, on_prems: list[Candidate], bursts: list[Candidate], verdicts: Verdicts) -> list[Candidate]:
    """An on-prem base chosen by NPV over each year's hourly load (whole servers, every GPU used
    first, the redundancy spare held as on-prem), bursting the hours and volume above it to the
    cheapest allowed API or on-demand cloud fleet; training and batch pipelines costed on-prem or
    rented, whichever is cheaper (planning.hybrid, hybrid_cost)."""
    search = inputs.search
    ranked = sorted([o for o in on_prems if not o.excluded], key=lambda o: base_npv(inputs, o))
    ok = [o for o in bursts if not o.excluded and verdicts.allows(o)]  # bursts the policy allows
    burst_api = sorted([a for a in ok if a.placement == "api" and not a.frontier], key=lambda o: base_npv(inputs, o))
    burst_cloud = sorted([c for c in ok if c.placement == "cloud" and c.pricing == "on_demand"], key=lambda o: base_npv(inputs, o))
    picks = burst_api[:1] + burst_cloud[:1]
    if not inputs.demands and (inputs.scenario.pipelines or inputs.scenario.training):
        inputs.warnings.append("no hybrid option: a hybrid splits served requests hour by hour between an on-prem base and a "
                               "burst, and this scenario has only batch work (training jobs, pipelines), which the on-prem and "
                               "cloud options cost whole")
        return []
    if ranked and not picks and inputs.demands:
        inputs.warnings.append("no hybrid option: no burst (a hosted API or an on-demand cloud offer) is allowed for this "
                               "scenario, so an on-prem base has nothing to burst to")
    if not ranked or not picks or not inputs.demands:
        return []
    out = []
    for o in ranked[: search.hybrid_on_prem]:
        g = o.gpu
        if g is None:
            continue
        for b in picks[: search.hybrid_bursts]:
            spec = burst_spec(inputs, o.pieces, b)
            if spec is None:
                continue
            inputs.evaluated += 1
            cost, batch_note = hybrid_cost(inputs, hw, o, b, g, spec)
            sz = cost.sizing
            if sz.base_servers[-1] == 0 or sum(sz.burst_gpu_hours) <= 0:
                same = b.id if sz.base_servers[-1] == 0 else o.id
                inputs.warnings.append(f"hybrid of on-prem {g} and {b.id} not listed: {sz.why}, so it is the same as {same}")
                continue
            srv = hw.server_for(g, max([pc.per_replica_gpus for pc in o.pieces] + [1]))[0]
            q = inputs.scenario.load_profile.base_load_percentile
            how = "chosen by NPV" if q is None else f"fixed at P{q:g} of the hourly load (load_profile.base_load_percentile)"
            label = f"Hybrid: on-prem {g} base of {sz.base_servers[-1]} server(s) {how}, bursts above it to {b.label}"
            cand = Candidate(
                id=f"hybrid-{g}+{b.id}", label=label,
                placement="hybrid", detail=f"{o.detail}+{b.detail}", provider=b.provider,
                parts=o.parts + b.parts, cost=cost,
                perf=hybrid_performance(inputs, hw, o, b, cost),
                sources=o.sources + b.sources, gpu=g, pieces=o.pieces, excluded=list(o.excluded),
                warnings=list(b.warnings), stale_prices=list(b.stale_prices),
                quality_delta=max(o.quality_delta, b.quality_delta), latency_s=o.latency_s, frontier=b.frontier,
            )
            per_year = ", ".join(str(n) for n in sz.base_servers)
            cand.warnings.append(
                f"hybrid base: {per_year} {srv.id if srv else g} server(s) by year (whole servers, never sold); {sz.why}"
                + (f"; {cost.spare} GPU(s) of the base held back as the {inputs.scenario.availability.redundancy} spare, "
                   "as in the on-prem option" if cost.spare else "")
                + (f"; {int(cost.held[-1])} GPU(s) of the base run the on-prem batch work (base and batch work are one fleet "
                   "of whole servers)" if cost.held[-1] > 0 else ""))
            if batch_note:
                cand.warnings.append(batch_note)
            if cost.batch_rented is not None:
                cand.parts = cand.parts + [p for p in getattr(b, "parts", []) if p not in cand.parts]
            out.append(cand)
    return out


def hybrid_cost(inputs: Inputs, hw: Hardware, o: Candidate, b: Candidate, g: str, spec: Any) -> tuple[HybridCost, str | None]:
    """A hybrid's cost model. Training jobs and batch pipeline stages go where a pure option would run
    them more cheaply at the base inputs: on-prem as the on-prem option sizes them, or rented on demand as
    the burst option rents them; the note says which and what the other would have cost."""
    batch = [pc.name for pc in o.pieces if pc.kind in ("training", "pipeline")]
    on_prem = HybridCost(inputs, hw, o.pieces, g, spec)
    if not batch:
        return on_prem, None
    rent = b.batch_cost if b.placement == "cloud" else getattr(b.cost, "batch", None)
    names = ", ".join(batch)
    if rent is None:
        return on_prem, (f"hybrid batch work ({names}) on-prem, sized and costed as in {o.id}: {b.id} rents no GPUs for it")
    rented = HybridCost(inputs, hw, o.pieces, g, spec, batch_rented=rent)
    npv_on, npv_rent = (float(np.asarray(inputs.npv(c(Factors())))) for c in (on_prem, rented))
    if npv_rent < npv_on:
        return rented, (f"hybrid batch work ({names}) rented on demand as {b.id} rents it: NPV {npv_rent:,.0f} USD, "
                        f"against {npv_on:,.0f} USD with it on-prem as in {o.id}")
    return on_prem, (f"hybrid batch work ({names}) on-prem, sized and costed as in {o.id}: NPV {npv_on:,.0f} USD, "
                     f"against {npv_rent:,.0f} USD renting it on demand as {b.id} does")


def hybrid_performance(inputs: Inputs, hw: Hardware, o: Candidate, b: Candidate, cost: HybridCost) -> Any:
    """The base's performance; training the hybrid rents is shown as the burst option rents it."""
    if cost.batch_rented is None:
        return OnPremPerformance(inputs, hw, o.pieces, base_cost=cost.base)
    return WithRentedTraining(OnPremPerformance(inputs, hw, serving_pieces(o.pieces), base_cost=cost.base), b)


# ------------------------------------------------------------------------------ the table
def enumerate_candidates(inputs: Inputs, sizer: Sizer, hw: Hardware, verdicts: Verdicts) -> list[Candidate]:
    """Every sized and costed candidate of the placements the scenario asks for."""
    check_training_feasible(inputs, sizer.training_config)  # a job no cluster can finish in time is an error
    wanted = set(inputs.scenario.candidates.placements)
    on_prems = on_prem(inputs, sizer, hw) if wanted & {"on_prem", "hybrid"} else []
    clouds = cloud(inputs, sizer, verdicts) if wanted & {"cloud", "api", "hybrid"} else []
    apis = api(inputs, clouds, verdicts) if wanted & {"api", "hybrid"} else []
    hybrids = hybrid(inputs, hw, on_prems, apis + clouds, verdicts) if "hybrid" in wanted else []
    table = [c for group, kind in ((on_prems, "on_prem"), (clouds, "cloud"), (apis, "api"), (hybrids, "hybrid"))
             if kind in wanted for c in group]
    _warn_if_none_serves(inputs, on_prems, "no self-hosted option", "GPU type",
                         lambda cannot: ", ".join(c.gpu or c.id for c in cannot), "on-prem option")
    _warn_if_none_serves(inputs, clouds, "no cloud offer", "offer",
                         lambda cannot: f"{len(cannot)} provider x GPU type(s)", "cloud option")
    if not table:
        raise DeployscopeError(
            "no option can serve this scenario: no GPU in the catalog meets the targets and no API serves the model",
            field="candidates", value=None,
            allowed="relax targets (targets.ttft_p95_s, targets.tpot_p95_s), the quality floor, or widen candidates",
        )
    return table
