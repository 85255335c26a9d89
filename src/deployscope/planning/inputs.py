"""Resolve a scenario against the catalog: economic inputs (scenario values over the
``economic_defaults`` rows, each an assumption with provenance), currency, the load profile and
the demand of every workload per year. The result, :class:`Inputs`, also collects what the plan
reports about itself: assumptions, warnings, the catalog rows used, candidates evaluated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..economics import EconomicInputs, economic_inputs
from ..errors import DeployscopeError
from ..references import check_references, user_supplied
from ..result import Assumption, Source
from ..scenario import LLMWorkload, Scenario
from .candidates import FACTORS, UNCERTAINTY_DEFAULTS, Demand, Search

#: built-in load shapes: business_hours = weekdays 08-18 busy, other hours at this share of busy
OFF_HOURS_SHARE = 0.1
#: consumer shape: daily sinusoid peaking at 20:00 with this relative amplitude
CONSUMER_AMPLITUDE = 0.6

#: the scenario field each economic input is set by
SCENARIO_FIELD = {
    "tariff_usd_per_kwh": "economics.tariff_per_kwh", "grid_kg_co2_per_kwh": "economics.carbon_kg_per_kwh",
    "pue": "economics.pue", "colocation_usd_per_kw_month": "economics.colocation_per_kw_month",
    "own_facility_usd_per_kw_year": "economics.own_facility_per_kw_year",
    "support_pct_of_capex": "economics.support_pct_capex", "installation_pct_of_capex": "economics.installation_pct_capex",
    "staff_usd_per_fte_year": "economics.staff_cost_per_fte", "staff_fte_onprem": "economics.staff_fte",
    "staff_fte_cloud": "economics.staff_fte_cloud", "discount_rate": "economics.discount_rate",
    "depreciation_years": "economics.depreciation_years",
}


@dataclass
class Inputs:
    """The resolved scenario every stage reads, and the plan's own ledger."""

    scenario: Scenario
    catalog: Any
    H: int
    econ: EconomicInputs
    fx_per_usd: float
    currency: str
    profile: np.ndarray
    demands: list[Demand]
    search: Search = field(default_factory=Search)
    assumptions: list[Assumption] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sources: dict[tuple[str, str], Source] = field(default_factory=dict)
    evaluated: int = 0

    def source(self, table: str, row: Any) -> Source:
        """The plan's Source for a catalog row (recorded once, in the order first used)."""
        key = (table, row.id)
        if key not in self.sources:
            self.sources[key] = Source(table=table, id=row.id, source=getattr(row, "source", None),
                                       as_of=str(getattr(row, "as_of", "") or "") or None,
                                       user_supplied=user_supplied(self.catalog, table, row.id, self.warnings))
        return self.sources[key]

    def assume(self, name: str, value: Any, row: Any, note: str, unit: str | None = None) -> None:
        """Record a labelled assumption the costing rests on (once per plan), with its source row and
        how to override it."""
        if any(a.name == name for a in self.assumptions):
            return
        self.assumptions.append(Assumption(name=name, value=value, unit=unit, origin="assumption",
                                           source=getattr(row, "source", None), as_of=str(getattr(row, "as_of", "") or "") or None,
                                           note=note))

    def money_in(self, value: float) -> float:
        """A money figure in the scenario's currency -> USD."""
        return value / self.fx_per_usd

    @property
    def spare(self) -> int:
        """Spare replicas per pool from the availability target."""
        return {"none": 0, "n+1": 1, "n+2": 2}[self.scenario.availability.redundancy]

    @property
    def network(self) -> str:
        return str(self.scenario.policy.network_policy)

    def npv(self, res: Any) -> Any:
        return res.npv(self.econ.discount_rate)


def profile(scn: Scenario, pta: float | None, field: str = "load_profile.peak_to_average") -> tuple[np.ndarray, list[Assumption]]:
    """168 hourly weights (Monday 00:00 first), mean 1, and the assumptions behind them.

    A peak-to-average stretches the shape around its mean; one the shape cannot reach (its quietest
    hour would fall below zero) is refused with the range it supports, never clipped."""
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
        if cur <= 1.0 + 1e-9 and pta > 1.0:
            d, h = np.divmod(np.arange(168), 24)
            p = np.where((d < 5) & (h >= 8) & (h < 18), 1.0, OFF_HOURS_SHARE)
            p = p / p.mean()
            cur = float(p.max())
        if cur > 1.0 + 1e-9:
            most = 1.0 + (cur - 1.0) / (1.0 - float(p.min()))  # the quietest hour reaches zero
            if pta > most + 1e-9:
                shape = "hourly/weekly weights" if (lp.hourly or lp.weekly) else f"shape {lp.shape}"
                raise DeployscopeError(
                    f"a peak-to-average of {pta:g} is beyond what the load profile ({shape}) can reach: its quietest "
                    "hour would carry negative load; give load_profile.hourly/weekly with the peak you expect",
                    field=field, value=pta, allowed=f"1 to {most:.2f} for this load profile",
                )
            k = (pta - 1.0) / (cur - 1.0)
            p = 1.0 + (p - 1.0) * k
    return p, notes


def check_candidates(scn: Scenario, catalog: Any) -> None:
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


def _currency(scn: Scenario, catalog: Any) -> tuple[float, list[Assumption]]:
    cur = scn.currency
    if cur.code == "USD":
        return 1.0, []
    if cur.per_usd is not None:
        return cur.per_usd, [Assumption(name="currency.per_usd", value=cur.per_usd, unit=f"{cur.code}/USD", origin="user", as_of=cur.as_of)]
    row = catalog.fx_rates.find(cur.code)
    if row is None:
        raise DeployscopeError(
            f"no default conversion rate for {cur.code}: give currency.per_usd",
            field="currency.code", value=cur.code, allowed=["USD", *catalog.fx_rates.ids()],
        )
    fx = 1.0 / row.usd_per_unit
    return fx, [Assumption(name="currency.per_usd", value=fx, unit=f"{cur.code}/USD", origin="catalog_default",
                           source=row.source, as_of=str(row.as_of))]


def _economics(scn: Scenario, catalog: Any, fx: float) -> tuple[EconomicInputs, list[Assumption]]:
    eco = scn.economics

    def usd(v: float | None) -> float | None:
        return None if v is None else v / fx

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
    econ = economic_inputs(catalog, region=eco.region, facility=eco.facility or "colocation", overrides=overrides)
    notes: list[Assumption] = []
    for name, a in econ.provenance.items():
        user = name in overrides
        notes.append(Assumption(
            name=SCENARIO_FIELD.get(name, f"economics.{name}"),
            value=a.value, unit=a.unit or None,
            origin="user" if user else ("assumption" if a.assumption else "catalog_default"),
            source=None if user else a.source,
            note=None if user else "default from the economic_defaults catalog table; set it in the scenario to override",
        ))
    if eco.facility is None:
        notes.append(Assumption(name="economics.facility", value="colocation", origin="assumption",
                                note="on-prem hardware sits in a colocation facility paid per kW-month"))
    return econ, notes


def _demands(scn: Scenario, catalog: Any, base_profile: np.ndarray) -> list[Demand]:
    demands: list[Demand] = []
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
        daily = base * w.growth_factor_per_year ** np.arange(scn.horizon_years)
        prof = base_profile if w.peak_to_average is None else profile(scn, w.peak_to_average, f"workloads[{i}].peak_to_average")[0]
        demands.append(Demand(name=w.name, kind=w.kind, workload=w, model=model, daily=daily, profile=prof,
                              pta=float(prof.max()), pool=w.pool or f"_{w.name}"))
    return demands


def resolve(scn: Scenario, catalog: Any) -> Inputs:
    """The scenario resolved against the catalog, with every default it took named as an assumption."""
    check_references(scn, catalog)  # a name that resolves to nothing is an error, never an empty filter
    fx, assumptions = _currency(scn, catalog)
    econ, notes = _economics(scn, catalog, fx)
    assumptions += notes
    check_candidates(scn, catalog)
    base_profile, notes = profile(scn, scn.load_profile.peak_to_average)
    assumptions += notes
    if scn.load_profile.peak_to_average is None:
        assumptions.append(Assumption(name="load_profile.peak_to_average", value=round(float(base_profile.max()), 3), origin="derived",
                                      note=f"from the {scn.load_profile.shape} shape"))
    demands = _demands(scn, catalog, base_profile)
    if catalog.economic_defaults.find("power.idle_fraction") is None:
        assumptions.append(Assumption(name="power.idle_fraction", value=1.0, origin="assumption",
                                      note="no idle-power row in the catalog: on-prem servers draw their typical power every hour"))
    for name, (lo, mode, hi) in {**UNCERTAINTY_DEFAULTS, **scn.uncertainty}.items():
        if name not in FACTORS:
            raise DeployscopeError("unknown uncertain input", field=f"uncertainty.{name}", value=name, allowed=FACTORS)
        if not 0 < lo <= mode <= hi:
            raise DeployscopeError("needs 0 < low <= mode <= high", field=f"uncertainty.{name}", value=[lo, mode, hi])
    for name, rng in UNCERTAINTY_DEFAULTS.items():
        if name not in scn.uncertainty:
            assumptions.append(Assumption(name=f"uncertainty.{name}", value=list(rng), unit="factor (low, mode, high)",
                                          origin="assumption", note="triangular range for sensitivity and Monte Carlo"))
    return Inputs(scenario=scn, catalog=catalog, H=scn.horizon_years, econ=econ, fx_per_usd=fx, currency=scn.currency.code,
                  profile=base_profile, demands=demands, assumptions=assumptions)
