"""The case a report states, read from the Plan: the question it answered (workloads, demand,
targets, facts, horizon, currency) and what the answer's cost rests on (the biggest cost lines,
and which of them come from defaults the scenario never set).

Views only: everything here is read from the Plan's own fields (the validated scenario, the
options' cash-flow breakdowns and assumptions); nothing is computed anew.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .charts import money, num

# cost lines, as the cash-flow breakdowns name them, in words
COST_LINES = {
    "staff": "staff",
    "power": "power",
    "space_cooling": "space and cooling",
    "support": "hardware support",
    "software": "software",
    "installation": "installation",
    "servers": "server purchase",
    "storage": "storage",
    "network": "network",
    "other": "other cloud costs",
    "cloud_on_demand": "cloud instances (on demand)",
    "cloud_spot": "cloud instances (spot)",
    "cloud_commitment_1y": "cloud instances (1-year commitment)",
    "cloud_commitment_3y": "cloud instances (3-year commitment)",
    "commitment_beyond_horizon": "commitment beyond the horizon",
    "api_input_tokens": "API input tokens",
    "api_output_tokens": "API output tokens",
    "api_images": "API images",
    "residual_value": "residual hardware value",
}

# the option assumptions a cost line rests on, and the scenario field that overrides each
LINE_INPUTS = {
    "staff": ("staff_fte", "staff_usd_per_fte_year"),
    "power": ("tariff_usd_per_kwh", "pue"),
    "support": ("support_pct_of_capex",),
    "installation": ("installation_pct_of_capex",),
    "space_cooling": ("own_facility_usd_per_kw_year", "colocation_usd_per_kw_month"),
}
SCENARIO_FIELD = {
    "staff_fte": "economics.staff_fte",
    "staff_usd_per_fte_year": "economics.staff_cost_per_fte",
    "tariff_usd_per_kwh": "economics.tariff_per_kwh",
    "pue": "economics.pue",
    "support_pct_of_capex": "economics.support_pct_capex",
    "installation_pct_of_capex": "economics.installation_pct_capex",
    "own_facility_usd_per_kw_year": "economics.own_facility_per_kw_year",
    "colocation_usd_per_kw_month": "economics.colocation_per_kw_month",
}


DEFAULT_WORDS = {
    "staff_fte": "{value} FTE of staff",
    "staff_usd_per_fte_year": "USD {value} per FTE-year",
    "tariff_usd_per_kwh": "USD {value} per kWh",
    "pue": "a PUE of {value}",
    "support_pct_of_capex": "support at {pct} of the purchase price a year",
    "installation_pct_of_capex": "installation at {pct} of the purchase price",
    "own_facility_usd_per_kw_year": "USD {value} per kW-year of own facility",
    "colocation_usd_per_kw_month": "USD {value} per kW-month of colocation",
}


@dataclass
class Default:
    """An input the plan took as a labelled default: the scenario did not set it."""

    name: str
    value: Any
    unit: str | None
    scenario_field: str | None

    def text(self) -> str:
        v = self.value
        value = num(v) if isinstance(v, float) else str(v)
        words = DEFAULT_WORDS.get(self.name)
        said = words.format(value=value, pct=f"{v:.0%}" if isinstance(v, (int, float)) else value) if words else (
            f"{self.name.replace('_', ' ')} {value}{' ' + self.unit if self.unit else ''}")
        return said + (f" ({self.scenario_field})" if self.scenario_field else "")


@dataclass
class CostDriver:
    line: str  # the breakdown key, e.g. "staff"
    name: str  # in words
    amount: float  # over the horizon, undiscounted, in the plan's currency
    share: float  # of the option's total cost
    defaults: list[Default] = field(default_factory=list)


def cost_drivers(plan: Any, option: Any | None = None, top: int = 3, min_share: float = 0.05) -> list[CostDriver]:
    """The largest cost lines of `option` (default: the recommendation) over the horizon."""
    option = option or plan.best
    if option is None or not option.cash_flows:
        return []
    totals: dict[str, float] = {}
    for cf in option.cash_flows:
        itemized = 0.0
        for key, v in cf.breakdown.items():
            line = key.rsplit(".", 1)[-1]
            totals[line] = totals.get(line, 0.0) + v
            itemized += v
        rest = cf.capex + cf.opex - itemized
        if abs(rest) > 1e-6 * max(1.0, abs(cf.capex + cf.opex)):
            line = "servers" if cf.year == 0 and cf.capex > 0 and not cf.breakdown else "unitemized"
            totals[line] = totals.get(line, 0.0) + rest
    spend = sum(v for v in totals.values() if v > 0)
    if spend <= 0:
        return []
    out = []
    for line, amount in sorted(totals.items(), key=lambda kv: -kv[1]):
        share = amount / spend
        if amount <= 0 or share < min_share or len(out) >= top:
            break
        out.append(CostDriver(line, COST_LINES.get(line, line.replace("_", " ")), amount, share, _defaults(plan, option, line)))
    return out


def _defaults(plan: Any, option: Any, line: str) -> list[Default]:
    wanted = LINE_INPUTS.get(line, ())
    found: dict[str, Default] = {}
    for a in option.assumptions:
        name = a.name.rsplit(".", 1)[-1]
        if name in wanted and a.origin == "assumption" and name not in found and _matters(a.value):
            scen_field = SCENARIO_FIELD.get(name)
            if name == "staff_fte" and option.placement in ("cloud", "api"):
                scen_field = "economics.staff_fte_cloud"
            found[name] = Default(name, a.value, a.unit, scen_field)
    return [found[n] for n in wanted if n in found]


def _matters(value: Any) -> bool:
    return not (isinstance(value, (int, float)) and value == 0)


def driver_sentences(plan: Any, option: Any | None = None) -> list[str]:
    """The cost drivers in words, defaults named as defaults."""
    cur = plan.currency
    out = []
    for d in cost_drivers(plan, option):
        s = f"{d.name[:1].upper() + d.name[1:]}: {d.share:.0%} of the cost over {plan.horizon_years} years ({money(d.amount, cur)})."
        if d.defaults:
            s += " It rests on defaults the scenario did not set: " + "; ".join(x.text() for x in d.defaults) + "."
        out.append(s)
    return out


# ----------------------------------------------------------------------------- the question
def _n(v: Any) -> str:
    return num(float(v)) if isinstance(v, (int, float)) and math.isfinite(v) else str(v)


def _tokens(spec: Any) -> str:
    if isinstance(spec, dict):
        return _n(spec.get("mean"))
    return _n(spec)


def _growth(w: dict[str, Any]) -> str:
    g = w.get("growth_factor_per_year")
    return f", growing {(g - 1):+.0%} a year" if isinstance(g, (int, float)) and g != 1 else ""


def workload_lines(scenario: dict[str, Any]) -> list[str]:
    out = []
    for w in scenario.get("workloads") or []:
        kind = w.get("kind")
        if kind == "llm":
            if w.get("requests_per_day"):
                demand = f"{_n(w['requests_per_day'])} requests a day"
            else:
                demand = f"{_n(w.get('users'))} users × {_n(w.get('requests_per_user_per_day'))} requests a day"
            out.append(f"{w.get('name')}: {w.get('model')} answering {demand}, about {_tokens(w.get('input_tokens'))} tokens in "
                       f"and {_tokens(w.get('output_tokens'))} out per request{_growth(w)}.")
        elif kind == "diffusion":
            res = w.get("resolution") or []
            size = f" at {res[0]}×{res[1]}" if len(res) == 2 else ""
            out.append(f"{w.get('name')}: {w.get('model')} making {_n(w.get('images_per_day'))} images a day{size}, "
                       f"{_n(w.get('steps'))} steps{_growth(w)}.")
        else:
            out.append(f"{w.get('name')}: {w.get('model')} ({kind}).")
    for j in scenario.get("training") or []:
        runs = j.get("runs_per_year")
        dl = f", each within {_n(j['deadline_days'])} days" if j.get("deadline_days") else ""
        if j.get("kind") == "image_training":
            res = str(j.get("resolution"))
            data = f"{_n(j.get('images'))} images at " + (f"a {res} px schedule" if ":" in res else f"{res} px")
        else:
            data = f"{_n(j.get('tokens'))} tokens"
        out.append(f"{j.get('name')}: {j.get('method')} training of {j.get('model')} on {data}"
                   f"{f', {_n(runs)} runs a year' if runs else ''}{dl}.")
    for p in scenario.get("pipelines") or []:
        stages = ", ".join(str(s.get("name")) for s in p.get("stages") or [])
        amount = f"{_n(p['items_per_day'])} items a day" if p.get("items_per_day") else f"{_n(p.get('items'))} items"
        dl = f" within {_n(p['deadline_days'])} days" if p.get("deadline_days") else ""
        out.append(f"{p.get('name')}: a pipeline ({stages}) producing {amount}{dl}.")
    return out


def target_lines(scenario: dict[str, Any]) -> list[str]:
    t = scenario.get("targets") or {}
    kinds = {w.get("kind") for w in scenario.get("workloads") or []}
    parts = []
    if "llm" in kinds:
        if t.get("ttft_p95_s") is not None:
            parts.append(f"time to first token ≤ {_n(t['ttft_p95_s'])} s (p95)")
        if t.get("tpot_p95_s") is not None:
            parts.append(f"time per output token ≤ {_n(t['tpot_p95_s'] * 1000)} ms (p95)")
    if "diffusion" in kinds and t.get("image_latency_s") is not None:
        parts.append(f"≤ {_n(t['image_latency_s'])} s per image")
    q = (scenario.get("quality") or {}).get("max_quality_loss")
    if q is not None and kinds & {"llm", "diffusion"}:
        parts.append(f"at most {_n(q)} % quality lost to quantization")
    red = (scenario.get("availability") or {}).get("redundancy")
    if red and red != "none":
        parts.append(f"redundancy {red}")
    return parts


def fact_lines(scenario: dict[str, Any]) -> list[str]:
    pol = scenario.get("policy") or {}
    parts = []
    cats = [str(x).replace("_", " ") for x in pol.get("data_categories") or [] if x != "none"]
    if cats:
        parts.append("data: " + ", ".join(cats))
    if pol.get("data_subject_jurisdictions"):
        parts.append("data subjects in " + ", ".join(pol["data_subject_jurisdictions"]))
    if pol.get("organization_jurisdiction"):
        parts.append(f"organization in {pol['organization_jurisdiction']}")
    if pol.get("network_policy"):
        parts.append(f"network: {str(pol['network_policy']).replace('_', '-')}")
    if pol.get("sector") and pol["sector"] != "none":
        parts.append(f"sector: {pol['sector']}")
    flags = [label for key, label in (("high_risk_use", "high-risk use under the AI Act"), ("interacts_with_people", "interacts with people"),
                                      ("synthetic_content", "makes synthetic content"), ("fine_tuning", "fine-tunes models"))
             if pol.get(key)]
    parts += flags
    return parts


OBJECTIVES = {"npv": "net present value of costs"}


def question(plan: Any) -> list[tuple[str, list[str]]]:
    """The question the plan answered, as labelled lines for the report's first page."""
    scn = plan.scenario or {}
    econ = scn.get("economics") or {}
    cand = scn.get("candidates") or {}
    rows: list[tuple[str, list[str]]] = []
    if scn.get("description"):
        rows.append(("Scenario", [str(scn["description"])]))
    rows.append(("Workloads and demand", workload_lines(scn) or ["none"]))
    targets = target_lines(scn)
    if targets:
        rows.append(("Targets", ["; ".join(targets) + "."]))
    facts = fact_lines(scn)
    if facts:
        rows.append(("Facts the rules apply to", ["; ".join(facts) + "."]))
    money_line = (f"{plan.horizon_years}-year horizon, {plan.currency}, discount rate {plan.discount_rate:.1%}, "
                  f"ranked by {OBJECTIVES.get(plan.objective, plan.objective.replace('_', ' '))}")
    if econ.get("region"):
        money_line += f"; prices and tariffs for region {econ['region']}"
    rows.append(("Horizon and money", [money_line + "."]))
    if cand.get("placements"):
        rows.append(("Options considered", [", ".join(str(p).replace("_", "-") for p in cand["placements"]) +
                                            f"; {plan.candidates_evaluated} candidates evaluated."]))
    return rows


def shown_reasons(plan: Any) -> list[str]:
    """The rationale's reasons, less the Monte Carlo sentence when there is no choice to inform
    (one allowed option is best in every draw by definition)."""
    reasons = list(plan.rationale.reasons)
    if sum(1 for o in plan.options if o.allowed) < 2:
        reasons = [r for r in reasons if "Monte Carlo draws" not in r]
    return reasons


def exclusion_summary(option: Any, limit: int = 160) -> str:
    """The first reason an option was excluded, in one sentence (the rest are counted)."""
    if not option.excluded_because:
        return ""
    first = option.excluded_because[0].strip()
    cut = first.split(". ")[0].rstrip(".") + "."
    if len(cut) > limit:
        cut = cut[: limit - 1].rstrip() + "…"
    more = len(option.excluded_because) - 1
    return cut + (f" (+{more} more)" if more else "")
