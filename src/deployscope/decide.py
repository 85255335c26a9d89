"""Decide: rank the options by the scenario's objective, find the Pareto front over cost x latency x
quality, explain the choice in plain language (why this option, what would change the answer),
and measure how sure the answer is (tornado over tariff, GPU price, utilization, demand, API
price; Monte Carlo P10/P50/P90 of each leading option's NPV).

Every option's ``cost(factors)`` accepts numpy arrays, so a sweep of one input (for the crossover
points) and thousands of Monte Carlo draws are one call per option.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ._version import __version__
from .catalog.prices import summarize_price_warnings
from .economics import break_even_month
from .economics.uncertainty import tornado
from .parallel import current, monte_carlo_samples
from .planning.candidates import FACTORS, UNCERTAINTY_DEFAULTS, Candidate, Factors, Verdict
from .planning.inputs import Inputs
from .planning.performance import memory_and_curve
from .result import (
    Assumption,
    CashFlowYear,
    Crossover,
    MonteCarlo,
    MonteCarloRange,
    Obligation,
    Option,
    ParetoPoint,
    Plan,
    Rationale,
    Sensitivity,
    TornadoBar,
    UnitCosts,
)

#: options compared in sweeps and Monte Carlo (the best allowed ones)
TOP_K = 6
SWEEP = np.geomspace(0.05, 20.0, 79)
INPUT_WORDS = {
    "tariff": "the electricity tariff",
    "gpu_price": "the hardware price",
    "utilization": "the GPUs' average utilization",
    "demand": "the demand",
    "api_price": "API prices",
    "cloud_price": "cloud prices",
}


def _fl(x: Any) -> float:
    return float(np.asarray(x, dtype=float))


def pareto_front(points: list[tuple[str, float, float, float]]) -> list[str]:
    """Ids of points not dominated on (cost, latency, quality loss), all lower-is-better."""
    out = []
    for i, (pid, c, l, q) in enumerate(points):
        dominated = False
        for j, (_, c2, l2, q2) in enumerate(points):
            if j != i and c2 <= c and l2 <= l and q2 <= q and (c2 < c or l2 < l or q2 < q):
                dominated = True
                break
        if not dominated:
            out.append(pid)
    return out


def _objective_key(objective: str, o: Option, latency: float | None) -> tuple:
    npv = o.npv if o.npv is not None else math.inf
    if objective == "total_cost":
        return (o.total_cost if o.total_cost is not None else math.inf, npv)
    if objective == "unit_cost":
        u = o.unit_costs
        v = u.per_million_tokens if u.per_million_tokens is not None else (u.per_image if u.per_image is not None else u.per_item)
        return (v if v is not None else math.inf, npv)
    if objective == "latency":
        return (latency if latency is not None else math.inf, npv)
    return (npv,)


def decide(ctx: Inputs, opts: list[Candidate], verdicts: dict[str, Verdict], t0: float) -> Plan:
    """Rank the screened candidates and assemble the Plan (``t0``: when planning started)."""
    scn = ctx.scenario
    fx = ctx.fx_per_usd
    r = ctx.econ.discount_rate
    base = Factors()
    results: dict[str, Any] = {}
    options: list[Option] = []
    latency: dict[str, float | None] = {}
    for o in opts:
        allowed, reasons, obligations = verdicts.get(o.id, Verdict(True, [], []))
        excluded = list(o.excluded) + list(reasons)
        res = o.cost(base) if not o.excluded else None
        if res is not None:
            results[o.id] = res
        npv = _fl(res.npv(r)) * fx if res is not None else None
        total = _fl(res.total()) * fx if res is not None else None
        uc = res.unit_costs() if res is not None else {}
        unit = UnitCosts(**{k: (None if v is None or not math.isfinite(_fl(v)) else _fl(v) * fx) for k, v in uc.items()})
        flows = [CashFlowYear(year=f.year, capex=_fl(f.capex) * fx, opex=_fl(f.opex) * fx,
                              breakdown={k: _fl(v) * fx for k, v in f.breakdown.items()}) for f in (res.flows if res else [])]
        assumptions = [Assumption(name=a.name, value=_plain(a.value), unit=a.unit or None,
                                  origin="assumption" if a.assumption else ("user" if a.source == "scenario" else "catalog_default"),
                                  source=a.source) for a in (res.assumptions if res else ())]
        options.append(Option(
            id=o.id, label=o.label, placement=o.placement, placement_detail=o.detail, provider=o.provider, frontier=o.frontier,
            allowed=bool(allowed) and not o.excluded, excluded_because=excluded, npv=npv, total_cost=total, unit_costs=unit,
            cash_flows=flows, obligations=[_obligation(x) for x in obligations], assumptions=assumptions,
            sources=list(o.sources), warnings=list(o.stale_prices) + list(o.warnings),
        ))
        latency[o.id] = o.latency_s
    by_id = {o.id: o for o in opts}

    # rank the allowed options
    allowed = [o for o in options if o.allowed and o.npv is not None]
    # like-for-like options first: a frontier API runs a different model, so it is ranked after
    # them and named in the rationale as an alternative, never recommended over the same weights
    has_same_weights = any(not x.frontier for x in allowed)
    allowed.sort(key=lambda o: (o.frontier and has_same_weights, _objective_key(scn.objective, o, latency[o.id])))
    for i, o in enumerate(allowed):
        o.rank = i + 1
    recommended = allowed[0] if allowed else None

    # keep the plan readable: best options, plus the best of every placement, plus exclusions
    keep: list[Option] = allowed[: scn.candidates.max_options]
    for pl in ("on_prem", "cloud", "api", "hybrid"):
        best_pl = next((o for o in allowed if o.placement == pl), None)
        if best_pl is not None and best_pl not in keep:
            keep.append(best_pl)
    excluded_opts = [o for o in options if not o.allowed]
    excluded_opts.sort(key=lambda o: (o.npv if o.npv is not None else math.inf))
    keep += excluded_opts[: scn.candidates.max_options]
    for pl in ("on_prem", "cloud", "api", "hybrid"):  # every placement's reason shows, even past the cap
        first = next((o for o in excluded_opts if o.placement == pl), None)
        if first is not None and first not in keep:
            keep.append(first)
    kept_ids = {o.id for o in keep}

    # performance, only for the kept options (it re-runs sizing)
    for o in keep:
        try:
            o.performance = by_id[o.id].perf()
        except Exception as exc:  # noqa: BLE001 - performance is descriptive; never lose the plan for it
            o.warnings.append(f"performance summary unavailable: {exc}")
        o.performance.quality_delta = o.performance.quality_delta if o.performance.quality_delta is not None else by_id[o.id].quality_delta

    # Pareto front over cost x latency x quality (options with a latency estimate)
    pts = [(o.id, o.npv, latency[o.id], by_id[o.id].quality_delta) for o in allowed if latency[o.id] is not None and o.id in kept_ids]
    front = set(pareto_front([(i, c, l, q) for i, c, l, q in pts]))  # type: ignore[misc]
    pareto = [ParetoPoint(option_id=i, cost=c, latency_s=l, quality_delta=q) for i, c, l, q in pts if i in front]  # type: ignore[arg-type]
    for o in keep:
        o.pareto = o.id in front

    # break-even months of the recommended option against the others
    if recommended is not None:
        rf = results[recommended.id].flows
        for o in keep:
            if o.id == recommended.id or o.id not in results:
                continue
            be = break_even_month(rf, results[o.id].flows)
            recommended.break_even_month[o.id] = be
            be2 = break_even_month(results[o.id].flows, rf)
            o.break_even_month[recommended.id] = be2

    # sweeps, tornado, Monte Carlo over the leading options
    lead = _leaders(allowed)
    sensitivity: list[Sensitivity] = []
    crossovers: list[Crossover] = []
    mc: MonteCarlo | None = None
    ranges = {**UNCERTAINTY_DEFAULTS, **scn.uncertainty}
    if recommended is not None:
        inputs = ("tariff", "gpu_price", "utilization", "demand", "api_price")
        for o in lead[:2]:

            def npv_at(_o: Option = o, **factors: float) -> float:
                return float(np.asarray(by_id[_o.id].cost(Factors(**factors)).npv(r))) * fx

            raw = tornado(npv_at, {k: 1.0 for k in FACTORS}, {k: (ranges[k][0], ranges[k][2]) for k in inputs})
            bars = [TornadoBar(input=b.name, low_factor=ranges[b.name][0], high_factor=ranges[b.name][2],
                               npv_low=b.low_result, npv_high=b.high_result, swing=b.swing) for b in raw]
            sensitivity.append(Sensitivity(option_id=o.id, base_npv=o.npv or 0.0, bars=bars))
        crossovers = _crossovers(ctx, lead, by_id, recommended, r, fx)
        if scn.monte_carlo_samples > 0 and lead:
            mc = _monte_carlo(ctx, lead, by_id, ranges, r, fx, FACTORS)

    # memory breakdown and latency-throughput curve of the main LLM pool: the recommended option's,
    # or, when an API wins, the best self-hosted option's (what would run if the answer changed)
    memory, curve = (None, [])
    ranked = sorted(allowed, key=lambda o: o.rank if o.rank is not None else 10**6)
    for o in ([recommended] if recommended is not None else []) + ranked:
        if o.placement in ("on_prem", "cloud", "hybrid"):
            memory, curve = memory_and_curve(ctx, by_id[o.id], o)
            if memory is not None or curve:
                break

    rationale = _rationale(ctx, recommended, allowed, options, crossovers, mc, latency)
    warnings = list(ctx.warnings)
    stale: list[str] = []
    for o in keep:  # stale prices of the options one could choose are worth a plan-level warning
        if o.allowed:
            stale += [w for w in by_id[o.id].stale_prices if w not in stale and w not in warnings]
    warnings += summarize_price_warnings(stale)
    sources = list(ctx.sources.values())
    plan = Plan(
        deployscope_version=__version__, scenario_name=scn.name, scenario=scn.model_dump(mode="json"),
        currency=ctx.currency, fx_rate_per_usd=fx, horizon_years=ctx.H, discount_rate=r, objective=scn.objective,
        recommended=recommended.id if recommended else None,
        options=sorted(keep, key=lambda o: (o.rank if o.rank is not None else 10**6, o.npv if o.npv is not None else math.inf)),
        rationale=rationale, pareto=pareto, sensitivity=sensitivity, monte_carlo=mc, memory_breakdown=memory,
        latency_throughput=curve, assumptions=list(ctx.assumptions), sources=sources, warnings=warnings,
        candidates_evaluated=ctx.evaluated + len(opts),
    )
    plan.elapsed_s = time.perf_counter() - t0
    return plan


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _obligation(x: Any) -> Obligation:
    if isinstance(x, Obligation):
        return x
    if isinstance(x, str):
        return Obligation(id=x[:40], text=x)
    g = (lambda k, d=None: x.get(k, d)) if isinstance(x, dict) else (lambda k, d=None: getattr(x, k, d))
    return Obligation(id=str(g("id") or g("rule") or g("rule_id") or "obligation"), text=str(g("text") or x), citation=g("citation"))


def _leaders(allowed: list[Option]) -> list[Option]:
    """The best allowed options, at least the best of each placement, at most TOP_K. Frontier
    APIs (a different model) only when nothing else is allowed."""
    if any(not o.frontier for o in allowed):
        allowed = [o for o in allowed if not o.frontier]
    lead: list[Option] = []
    for pl in ("on_prem", "cloud", "api", "hybrid"):
        b = next((o for o in allowed if o.placement == pl), None)
        if b is not None:
            lead.append(b)
    for o in allowed:
        if len(lead) >= TOP_K:
            break
        if o not in lead:
            lead.append(o)
    lead.sort(key=lambda o: o.rank or 0)
    return lead[:TOP_K]


def _crossovers(ctx: Inputs, lead: list[Option], by_id: dict[str, Candidate], best: Option, r: float, fx: float) -> list[Crossover]:
    """For each input, the smallest factor (above or below 1) at which another option becomes best."""
    if len(lead) < 2:
        return []
    out = []
    for name in ("demand", "tariff", "gpu_price", "api_price", "utilization", "cloud_price"):
        f = Factors().replace(**{name: SWEEP})
        npv = np.vstack([np.asarray(by_id[o.id].cost(f).npv(r), dtype=float) * np.ones_like(SWEEP) for o in lead])
        winner = npv.argmin(axis=0)
        i_best = [o.id for o in lead].index(best.id)
        base_idx = int(np.argmin(np.abs(np.log(SWEEP))))
        found = None
        for direction in (1, -1):
            j = base_idx
            while 0 <= j + direction < len(SWEEP):
                j += direction
                if winner[j] != i_best:
                    found_j = j
                    cand = (SWEEP[found_j], lead[int(winner[found_j])])
                    if found is None or abs(math.log(cand[0])) < abs(math.log(found[0])):
                        found = cand
                    break
        if found is None:
            continue
        factor, other = found
        word = INPUT_WORDS[name]
        text = f"at {factor:.2g}x {word}, {other.label} overtakes {best.label}"
        out.append(Crossover(input=name, factor=float(factor), new_best=other.id, text=text))
    out.sort(key=lambda c: abs(math.log(c.factor)))
    return out


def _monte_carlo(ctx: Inputs, lead: list[Option], by_id: dict[str, Candidate], ranges: dict[str, tuple[float, float, float]],
                 r: float, fx: float, factors: tuple[str, ...]) -> MonteCarlo:
    n = ctx.scenario.monte_carlo_samples
    seed = ctx.scenario.seed

    def _npvs(**draws: Any) -> np.ndarray:  # one seeded block of draws -> NPV per leading option
        m = len(next(iter(draws.values())))
        f = Factors(**draws)
        return np.vstack([np.asarray(by_id[o.id].cost(f).npv(r), dtype=float) * np.ones(m) * fx for o in lead])

    # in seeded blocks on the executor `plan --ray` sets (inline by default): same figures anywhere
    npvs = monte_carlo_samples(_npvs, {k: ("triangular", *ranges[k]) for k in factors}, n, seed, executor=current())
    win = np.bincount(npvs.argmin(axis=0), minlength=len(lead)) / n
    rng_out = []
    for i, o in enumerate(lead):
        p10, p50, p90 = np.percentile(npvs[i], [10, 50, 90])
        rng_out.append(MonteCarloRange(option_id=o.id, p10=float(p10), p50=float(p50), p90=float(p90), prob_best=float(win[i])))
    return MonteCarlo(samples=n, seed=seed, inputs={k: {"low": ranges[k][0], "mode": ranges[k][1], "high": ranges[k][2]} for k in factors},
                      ranges=rng_out)


def _money(ctx: Inputs, v: float | None) -> str:
    if v is None:
        return "-"
    cur = ctx.currency
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.2f} M {cur}"
    if abs(v) >= 1e3:
        return f"{v / 1e3:,.0f} k {cur}"
    return f"{v:,.2f} {cur}"


def _rationale(ctx: Inputs, best: Option | None, allowed: list[Option], options: list[Option], crossovers: list[Crossover],
               mc: MonteCarlo | None, latency: dict[str, float | None]) -> Rationale:
    if best is None:
        reasons = sorted({r for o in options for r in o.excluded_because})[:6]
        return Rationale(summary="No option is allowed: every candidate is excluded by policy or facility limits.", reasons=reasons,
                         what_would_change=["change the policy facts or facility limits, or widen the candidates"])
    H = ctx.H
    objective = {"npv": "lowest present value of costs", "total_cost": "lowest total cost", "unit_cost": "lowest cost per unit",
                 "latency": "lowest latency"}[ctx.scenario.objective]
    summary = f"{best.label}: {objective} over {H} years ({_money(ctx, best.npv)} NPV at {ctx.econ.discount_rate:.1%})."
    reasons = []
    nxt = [o for o in allowed if o.placement != best.placement]
    if nxt:
        o = nxt[0]
        diff = (o.npv or 0) - (best.npv or 0)
        pct = diff / o.npv * 100 if o.npv else 0
        reasons.append(f"{_money(ctx, diff)} ({pct:.0f} %) cheaper in present value than the best {o.placement.replace('_', '-')} option, {o.label}.")
        be = best.break_even_month.get(o.id)
        if best.placement in ("on_prem", "hybrid") and be is not None and be > 0:
            reasons.append(f"Its purchase pays back against {o.label} after {be:.0f} months.")
    u = best.unit_costs
    if u.per_million_tokens is not None:
        reasons.append(f"{_money(ctx, u.per_million_tokens)} per million tokens over the horizon.")
    if u.per_image is not None:
        reasons.append(f"{_money(ctx, u.per_image)} per image.")
    if u.per_item is not None and u.per_million_tokens is None and u.per_image is None:
        reasons.append(f"{_money(ctx, u.per_item)} per item.")
    p = best.performance
    if p.gpus:
        reasons.append(f"{p.gpus} x {p.gpu}" + (f" in {p.servers} x {p.server}" if p.servers else "") +
                       (f", {p.quant}" if p.quant else "") + f", {ctx.scenario.availability.redundancy} redundancy; meets the latency targets at the final year's peak.")
    cheaper_frontier = [o for o in allowed if o.frontier and (o.npv or 0) < (best.npv or 0)]
    if cheaper_frontier and not best.frontier:
        f = cheaper_frontier[0]
        name = f.label.split(", a frontier")[0]
        reasons.append(f"A frontier API, {name}, would cost {_money(ctx, f.npv)}; it runs a different model, so compare quality before switching.")
    binding = binding_constraints(options)
    reasons += binding
    if best.placement == "api":
        reasons += api_latency_reasons(ctx, best)
    excluded = [o for o in options if not o.allowed]
    if excluded and not binding:
        # the example: an option that could have served (excluded by policy or a limit), else any
        ex = next((o for o in excluded if o.npv is not None), excluded[0])
        why = ex.excluded_because[0].split(". ")[0].rstrip(".") if ex.excluded_because else "excluded"
        reasons.append(f"{len(excluded)} option(s) excluded (reasons in the options list), e.g. {ex.label}: {why}.")
    elif excluded:
        reasons.append(f"{len(excluded)} option(s) excluded in all (reasons in the options list).")
    if mc is not None:
        mine = next((m for m in mc.ranges if m.option_id == best.id), None)
        if mine is not None and mine.prob_best is not None:
            reasons.append(f"Best in {mine.prob_best:.0%} of {mc.samples} Monte Carlo draws (NPV P10-P90 {_money(ctx, mine.p10)} to {_money(ctx, mine.p90)}).")
    change = [c.text for c in crossovers[:4]]
    if not change:
        change = ["No single input between 0.05x and 20x of its base value changes the recommendation."]
    return Rationale(summary=summary, reasons=reasons, what_would_change=change, crossovers=crossovers)


#: the constraints a sizing failure names first (planning.options.binding_reason)
SIZING_KINDS = ("memory", "latency (TTFT/TPOT)", "latency (TTFT)", "latency (TPOT)", "latency (TTFT and TPOT)", "image latency",
                "deadline", "quality floor", "facility")


def binding_constraints(options: list[Option]) -> list[str]:
    """For each self-hosted placement whose every option fails to serve the scenario, the constraint
    that ruled them out (memory, TTFT/TPOT, facility...), so the rationale says what decided the
    answer. A placement where some option could serve but is excluded (policy, spot) is left to the
    exclusion reasons."""
    out = []
    for pl, word in (("on_prem", "on-prem"), ("cloud", "cloud")):
        mine = [o for o in options if o.placement == pl]
        if not mine or any(o.allowed for o in mine):
            continue
        kinds: dict[str, list[str]] = {}
        for o in mine:
            first = o.excluded_because[0] if o.excluded_because else "excluded"
            kind = first.split(":", 1)[0]
            kinds.setdefault(kind if kind in SIZING_KINDS else "policy", []).append(o.label)
        if "policy" in kinds:
            continue  # some could serve but the policy or a limit rules them out: the verdicts explain it
        parts = [f"{k} ({len(v)} option(s))" for k, v in sorted(kinds.items(), key=lambda kv: -len(kv[1]))]
        example = next(o for o in mine if o.excluded_because and o.excluded_because[0].split(":", 1)[0] in SIZING_KINDS)
        out.append(f"No {word} option can serve this scenario; the binding constraint: {', '.join(parts)}. "
                   f"E.g. {example.label}: {example.excluded_because[0].split(': ', 1)[-1]}")
    return out


def api_latency_reasons(ctx: Inputs, best: Option) -> list[str]:
    """What is known about a recommended API's latency against the scenario's targets."""
    if not any(d.kind == "llm" for d in ctx.demands):
        return []
    t = ctx.scenario.targets
    p = best.performance
    target = f"TTFT p95 <= {t.ttft_p95_s:g} s, TPOT p95 <= {t.tpot_p95_s:g} s"
    if p.published_ttft_s is None and p.published_output_tokens_per_s is None:
        return [f"Latency unknown: no published latency for this API is in the catalog, so the targets ({target}) are not "
                "checked; measure it (deployscope bench) before relying on it."]
    parts = []
    if p.ttft_at_prompt_s is not None:
        parts.append(f"TTFT {p.ttft_at_prompt_s:.3g} s at the scenario's mean prompt (published {p.published_ttft_s:g} s on "
                     f"a short prompt, plus the prompt's prefill) is within the {t.ttft_p95_s:g} s TTFT target")
    elif p.published_ttft_s is not None:
        parts.append(f"published TTFT {p.published_ttft_s:g} s is within the {t.ttft_p95_s:g} s TTFT target")
    else:
        parts.append(f"its TTFT is unknown, so the {t.ttft_p95_s:g} s TTFT target is not checked")
    if p.published_output_tokens_per_s is not None:
        parts.append(f"published output speed {p.published_output_tokens_per_s:g} tokens/s "
                     f"({1.0 / p.published_output_tokens_per_s:.3g} s per token) is within the {t.tpot_p95_s:g} s TPOT target")
    else:
        parts.append(f"its output speed is unknown, so the {t.tpot_p95_s:g} s TPOT target is not checked")
    scaled = "; the TTFT is scaled to the prompt length as the note says" if p.ttft_at_prompt_s is not None else ""
    return ["Latency: " + "; ".join(parts) + f". Published figures are typical (median) values, not a p95{scaled} "
            f"({p.latency_note})."]
