"""Cloud GPU instance cash flows: on-demand, 1- and 3-year commitments, spot.

- On-demand and spot bill the hours instances run: instances x hours/year x utilization x price.
  ``utilization`` is the share of the year the instances are up (scale-to-zero possible).
- A commitment (1y, 3y) bills every hour of every committed instance (8760 h/year) whatever the
  use. Each instance is committed for a whole term from the year it is first needed (instances
  added in year 2 start their own term in year 2); a term that ends while the instance is still
  needed renews at that year's price. Terms running past the horizon are still owed: their
  remaining instance-years are charged in the last year (breakdown ``commitment_beyond_horizon``,
  stated in the notes as the remaining obligation).
- Spot may lose work to interruptions: ``spot_overhead_fraction`` adds that much extra
  instance time (default 0: no published figure; set it from your own runs).
- Energy and CO2 of cloud hardware are in the provider's price and not counted here.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..errors import DeployscopeError
from .cashflow import Assumption, CashFlow, CostResult, Number, check_horizon, check_nonneg, per_year
from .onprem import HOURS_PER_YEAR, _s, provenance_list

COMMITMENT_YEARS = {"1y": 1, "3y": 3}
PRICINGS = ("on_demand", "1y", "3y", "spot")

_UNITS = {
    "price_usd_per_hour": "USD per instance-hour",
    "pricing": "on_demand | 1y | 3y | spot",
    "instances": "instances",
    "hours_per_year": "h per instance and year",
    "utilization": "fraction of the year running",
    "spot_overhead_fraction": "fraction of extra instance time",
    "staff_fte": "FTE",
    "staff_usd_per_fte_year": "USD/FTE-year",
    "other_usd_per_year": "USD/year (egress, storage, support plan...)",
}


def cloud_cash_flows(
    *,
    horizon_years: int,
    price_usd_per_hour: Number,
    instances: Number | Sequence[Number],
    pricing: str = "on_demand",
    utilization: Number = 1.0,
    hours_per_year: float = HOURS_PER_YEAR,
    price_change_per_year: Number = 0.0,
    spot_overhead_fraction: Number = 0.0,
    staff_fte: Number = 0.0,
    staff_usd_per_fte_year: Number = 0.0,
    other_usd_per_year: Number | Sequence[Number] = 0.0,
    tokens_per_year: Number | Sequence[Number] = 0.0,
    images_per_year: Number | Sequence[Number] = 0.0,
    items_per_year: Number | Sequence[Number] = 0.0,
    provenance: Mapping[str, Assumption] | None = None,
) -> CostResult:
    """Yearly cash flows (year 0 = 0, years 1..H) of renting ``instances`` (per year) at
    ``price_usd_per_hour`` per instance under ``pricing``.

    ``price_change_per_year``: yearly relative change of the hourly price (-0.1 = 10 % cheaper each
    year; applies to on-demand and spot, and to commitments at each renewal).
    """
    check_horizon(horizon_years)
    if pricing not in PRICINGS:
        raise DeployscopeError("unknown cloud pricing", field="pricing", value=pricing, allowed=PRICINGS)
    check_nonneg("price_usd_per_hour", price_usd_per_hour)
    check_nonneg("utilization", utilization, upper=1.0)
    check_nonneg("hours_per_year", hours_per_year, upper=8784.0)
    check_nonneg("spot_overhead_fraction", spot_overhead_fraction)
    check_nonneg("economics.staff_fte", staff_fte)
    check_nonneg("economics.staff_usd_per_fte_year", staff_usd_per_fte_year)
    pc = np.asarray(price_change_per_year, dtype=float)
    if np.any(pc <= -1) or np.any(~np.isfinite(pc)):
        raise DeployscopeError("yearly price change must be above -1", field="price_change_per_year", value=price_change_per_year)
    H = horizon_years
    inst = per_year(instances, H, "instances")
    other = per_year(other_usd_per_year, H, "other_usd_per_year")
    tokens = per_year(tokens_per_year, H, "tokens_per_year")
    images = per_year(images_per_year, H, "images_per_year")
    items_ = per_year(items_per_year, H, "items_per_year")
    for v in inst:
        check_nonneg("instances", v)

    remaining: Number | None = None
    flows = [CashFlow(0, 0.0, 0.0, {})]
    term = COMMITMENT_YEARS.get(pricing)
    cohorts: list[tuple[int, Number, Number]] = []  # (first year, instances, price) of each commitment
    for year in range(1, H + 1):
        i = year - 1
        if term:
            # every instance is committed for a whole term from the year it is first needed; a
            # term that ends while the instance is still needed is renewed at that year's price
            active = sum((n for y0, n, _ in cohorts if y0 <= year < y0 + term), 0.0)
            new = np.maximum(np.asarray(inst[i], dtype=float) - active, 0.0)
            if np.any(new > 0):
                cohorts.append((year, new, price_usd_per_hour * (1.0 + pc) ** (year - 1)))
            rent = sum((n * HOURS_PER_YEAR * p for y0, n, p in cohorts if y0 <= year < y0 + term), 0.0)
            key = f"cloud_commitment_{pricing}"
        else:
            price = price_usd_per_hour * (1.0 + pc) ** (year - 1)
            hours = np.asarray(inst[i], dtype=float) * hours_per_year * utilization
            if pricing == "spot":
                hours = hours * (1.0 + spot_overhead_fraction)
            rent = hours * price
            key = f"cloud_{pricing}"
        staff = staff_fte * staff_usd_per_fte_year
        breakdown: dict[str, Number] = {key: rent, "staff": staff, "other": other[i]}
        opex = rent + staff + other[i]
        if term and year == H:
            # terms running past the horizon are still owed: their remaining years, at their
            # price and undiscounted beyond the horizon (a conservative value), charged in year H
            beyond = sum((n * HOURS_PER_YEAR * p * (y0 + term - 1 - H) for y0, n, p in cohorts if y0 + term - 1 > H), 0.0)
            if np.any(np.asarray(beyond) > 0):
                breakdown["commitment_beyond_horizon"] = beyond
                opex = opex + beyond
                remaining = beyond
        flows.append(CashFlow(year, 0.0, _s(opex), {k: _s(v) for k, v in breakdown.items()}))

    used: dict[str, object] = {
        "price_usd_per_hour": price_usd_per_hour,
        "pricing": pricing,
        "instances": instances,
        "staff_fte": staff_fte,
        "staff_usd_per_fte_year": staff_usd_per_fte_year,
        "other_usd_per_year": other_usd_per_year,
    }
    if not term:
        used["hours_per_year"] = hours_per_year
        used["utilization"] = utilization
    if pricing == "spot":
        used["spot_overhead_fraction"] = spot_overhead_fraction
    notes = [f"pricing: {pricing}"]
    if term:
        notes.append(f"each instance is committed for a whole {term}-year term from the year it is first needed")
        if remaining is not None:
            notes.append(
                f"remaining obligation past the horizon: {float(np.mean(remaining)):,.0f} USD "
                "(committed instance-years after the last year, charged in the last year)"
            )
    return CostResult(
        kind="cloud",
        flows=tuple(flows),
        assumptions=provenance_list(used, provenance, _UNITS),
        tokens=_s(sum(tokens, 0.0)),
        images=_s(sum(images, 0.0)),
        items=_s(sum(items_, 0.0)),
        notes=tuple(notes),
        output_by_year={k + 1: (tokens[k], images[k], items_[k]) for k in range(H)},
    )
