"""On-premise cash flows: buy hardware at year 0 (and later, as demand grows), run it for the
horizon, get its residual value back at the end.

Formulas (docs/economics.md):

Timing: flow year t is the instant t years after the first purchase. Opex of operating year k
is booked at t = k (end of the year); hardware needed from the start of year k is paid at
t = k - 1 (end of the year before). NPV discounts flow year t by (1 + r)^t and the break-even
timeline pays it at month 12t: both views agree.

- capex(t = 0)    = sum of hardware items (servers, GPUs, network, storage...) x (1 + installation)
- capex(t = k-1)  = hardware added at the start of operating year k x (1 + installation)
- refresh         = each purchase is bought again (same price, installation again) every
                    ceil(depreciation_years) years while that is before the horizon's end
- power(k)        = average IT draw [W] x hours/year / 1000 x PUE x tariff [USD/kWh]
- space(k)        = colocation [USD/kW-month] x provisioned IT kW x 12, or own facility [USD/kW-year] x kW
- staff(k)        = FTE(k) x cost per FTE-year (FTE per year: it grows with the fleet, see fleet.py);  software(k) as given
- support(k)      = support fraction x hardware in service during year k
- residual value  = for each purchase P: P x max(0, 1 - age / depreciation_years), age = H - (time
                    of its latest purchase or refresh); paid back as a negative capex at t = H
                    (breakdown ``residual_value``). Depreciation itself is not a cash flow.

Every input may be a numpy array (Monte Carlo): the result's numbers are then arrays.
"""

from __future__ import annotations

from typing import Literal, Mapping, Sequence

import numpy as np

from ..errors import DeployscopeError
from .cashflow import (
    Assumption,
    CashFlow,
    CostResult,
    Number,
    check_horizon,
    check_nonneg,
    per_year,
)

HOURS_PER_YEAR = 8760.0

_UNITS = {
    "tariff_usd_per_kwh": "USD/kWh",
    "pue": "ratio",
    "colocation_usd_per_kw_month": "USD/kW-month",
    "own_facility_usd_per_kw_year": "USD/kW-year",
    "support_pct_of_capex": "fraction of hardware capex per year",
    "staff_fte": "FTE",
    "staff_usd_per_fte_year": "USD/FTE-year",
    "software_usd_per_year": "USD/year",
    "installation_pct_of_capex": "fraction of hardware capex",
    "depreciation_years": "years",
    "grid_kg_co2_per_kwh": "kgCO2/kWh",
    "average_power_w": "W (IT load, yearly average)",
    "provisioned_kw": "kW (IT load provisioned)",
    "hours_per_year": "h",
}


def provenance_list(values: Mapping[str, object], provenance: Mapping[str, Assumption] | None, units: Mapping[str, str]) -> tuple[Assumption, ...]:
    """One Assumption per input: its provenance if given (with the value actually used), else 'input'."""
    out = []
    prov = provenance or {}
    for name, value in values.items():
        if isinstance(value, (list, tuple)):
            shown: object = [float(np.mean(v)) if np.ndim(v) else float(v) for v in value]
        elif np.ndim(value):
            shown = float(np.mean(value))  # Monte Carlo: the mean of the samples
        else:
            shown = float(value) if isinstance(value, (int, float, np.floating, np.integer)) else value
        p = prov.get(name)
        if p is not None:
            out.append(Assumption(name, shown, p.unit or units.get(name, ""), p.source, p.assumption))
        else:
            out.append(Assumption(name, shown, units.get(name, ""), "scenario input"))
    return tuple(out)


def onprem_cash_flows(
    *,
    horizon_years: int,
    capex_usd: Mapping[str, Number],
    average_power_w: Number | Sequence[Number],
    tariff_usd_per_kwh: Number,
    pue: Number,
    provisioned_kw: Number | Sequence[Number] = 0.0,
    facility: Literal["colocation", "own"] = "colocation",
    colocation_usd_per_kw_month: Number = 0.0,
    own_facility_usd_per_kw_year: Number = 0.0,
    support_pct_of_capex: Number = 0.0,
    staff_fte: Number | Sequence[Number] = 0.0,
    staff_usd_per_fte_year: Number = 0.0,
    software_usd_per_year: Number | Sequence[Number] = 0.0,
    installation_pct_of_capex: Number = 0.0,
    depreciation_years: Number = 5.0,
    additions: Mapping[int, Mapping[str, Number]] | None = None,
    grid_kg_co2_per_kwh: Number = 0.0,
    tokens_per_year: Number | Sequence[Number] = 0.0,
    images_per_year: Number | Sequence[Number] = 0.0,
    items_per_year: Number | Sequence[Number] = 0.0,
    hours_per_year: float = HOURS_PER_YEAR,
    provenance: Mapping[str, Assumption] | None = None,
) -> CostResult:
    """Yearly cash flows (years 0..H) of owning the hardware.

    ``capex_usd``: hardware bought at year 0 by item (``servers``, ``gpus``, ``network``,
    ``storage``...), USD. ``additions``: {year k: {item: USD}} bought at the start of year k (growth).
    ``average_power_w`` / ``provisioned_kw``: per operating year (scalar = every year).
    Fractions are fractions (0.1 = 10 %). Output volumes feed unit costs.
    """
    check_horizon(horizon_years)
    if facility not in ("colocation", "own"):
        raise DeployscopeError("unknown facility", field="economics.facility", value=facility, allowed=["colocation", "own"])
    for name, v in (
        ("economics.tariff_usd_per_kwh", tariff_usd_per_kwh),
        ("economics.colocation_usd_per_kw_month", colocation_usd_per_kw_month),
        ("economics.own_facility_usd_per_kw_year", own_facility_usd_per_kw_year),
        ("economics.staff_usd_per_fte_year", staff_usd_per_fte_year),
        ("economics.grid_kg_co2_per_kwh", grid_kg_co2_per_kwh),
    ):
        check_nonneg(name, v)
    check_nonneg("economics.support_pct_of_capex", support_pct_of_capex, upper=1.0)
    check_nonneg("economics.installation_pct_of_capex", installation_pct_of_capex, upper=1.0)
    check_nonneg("economics.hours_per_year", hours_per_year, upper=8784.0)
    pue_arr = np.asarray(pue, dtype=float)
    if np.any(~np.isfinite(pue_arr)) or np.any(pue_arr < 1.0):
        raise DeployscopeError("PUE is facility power / IT power, so at least 1.0", field="economics.pue", value=pue if np.ndim(pue) == 0 else "array", allowed=">= 1.0")
    dep = np.asarray(depreciation_years, dtype=float)
    if np.any(~np.isfinite(dep)) or np.any(dep <= 0):
        raise DeployscopeError("depreciation years must be > 0", field="economics.depreciation_years", value=depreciation_years)
    for item, v in capex_usd.items():
        check_nonneg(f"capex.{item}", v)
    additions = dict(additions or {})
    for k, items in additions.items():
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= horizon_years:
            raise DeployscopeError(
                f"hardware additions must be in years 1..{horizon_years}", field="additions", value=k
            )
        for item, v in items.items():
            check_nonneg(f"additions.{k}.{item}", v)

    H = horizon_years
    power_w = per_year(average_power_w, H, "average_power_w")
    prov_kw = per_year(provisioned_kw, H, "provisioned_kw")
    software = per_year(software_usd_per_year, H, "economics.software_usd_per_year")
    staff_y = per_year(staff_fte, H, "economics.staff_fte")
    for v in staff_y:
        check_nonneg("economics.staff_fte", v)
    tokens = per_year(tokens_per_year, H, "tokens_per_year")
    images = per_year(images_per_year, H, "images_per_year")
    items_ = per_year(items_per_year, H, "items_per_year")
    for name, seq in (("average_power_w", power_w), ("provisioned_kw", prov_kw), ("tokens_per_year", tokens),
                      ("images_per_year", images), ("items_per_year", items_)):
        for v in seq:
            check_nonneg(name, v)

    # flow year t = a point in time t years after the first purchase: hardware for operating
    # year k is paid at t = k - 1 (the start of year k), opex of year k at t = k (its end)
    purchases: list[tuple[int, dict[str, Number]]] = [(0, dict(capex_usd))] + sorted(
        (k - 1, dict(v)) for k, v in additions.items()
    )
    life = np.ceil(dep)  # refresh after whole years of service
    flows: list[CashFlow] = []
    energy_total: Number = 0.0
    co2_total: Number = 0.0
    for year in range(H + 1):
        breakdown: dict[str, Number] = {}
        capex: Number = 0.0
        opex: Number = 0.0
        in_service: Number = 0.0  # hardware (list price) running during operating year `year`
        for t0, items in purchases:
            hw = sum(items.values(), 0.0)
            if t0 == year:
                for item, v in items.items():
                    breakdown[item] = breakdown.get(item, 0.0) + v
                breakdown["installation"] = breakdown.get("installation", 0.0) + hw * installation_pct_of_capex
                capex = capex + hw + hw * installation_pct_of_capex
            elif t0 < year < H:
                # refreshed at the end of its depreciation life, same price, re-installed
                due = np.asarray((year - t0) % life == 0, dtype=float)
                if np.any(due):
                    refresh = hw * due
                    breakdown["hardware_refresh"] = breakdown.get("hardware_refresh", 0.0) + refresh
                    breakdown["installation"] = breakdown.get("installation", 0.0) + refresh * installation_pct_of_capex
                    capex = capex + refresh + refresh * installation_pct_of_capex
            if year >= 1 and t0 <= year - 1:
                in_service = in_service + hw
        if year >= 1:
            i = year - 1
            kwh = np.asarray(power_w[i], dtype=float) * hours_per_year / 1000.0 * pue
            power_cost = kwh * tariff_usd_per_kwh
            if facility == "colocation":
                space = colocation_usd_per_kw_month * np.asarray(prov_kw[i], dtype=float) * 12.0
            else:
                space = own_facility_usd_per_kw_year * np.asarray(prov_kw[i], dtype=float)
            support = support_pct_of_capex * in_service
            staff = staff_y[i] * staff_usd_per_fte_year
            breakdown.update(
                power=power_cost, space_cooling=space, support=support, staff=staff, software=software[i]
            )
            opex = power_cost + space + support + staff + software[i]
            energy_total = energy_total + kwh
            co2_total = co2_total + kwh * grid_kg_co2_per_kwh
        if year == H:
            residual: Number = 0.0
            for t0, items in purchases:
                hw = sum(items.values(), 0.0)
                last = t0 + np.floor((H - 1 - t0) / life) * life  # latest purchase or refresh
                residual = residual + hw * np.maximum(0.0, 1.0 - (H - last) / dep)
            breakdown["residual_value"] = -residual
            capex = capex - residual
        flows.append(CashFlow(year, _s(capex), _s(opex), {k: _s(v) for k, v in breakdown.items()}))

    used = {
        "tariff_usd_per_kwh": tariff_usd_per_kwh,
        "pue": pue,
        "average_power_w": average_power_w,
        "provisioned_kw": provisioned_kw,
        "support_pct_of_capex": support_pct_of_capex,
        "staff_fte": staff_fte,
        "staff_usd_per_fte_year": staff_usd_per_fte_year,
        "software_usd_per_year": software_usd_per_year,
        "installation_pct_of_capex": installation_pct_of_capex,
        "depreciation_years": depreciation_years,
        "grid_kg_co2_per_kwh": grid_kg_co2_per_kwh,
        "hours_per_year": hours_per_year,
    }
    if facility == "colocation":
        used["colocation_usd_per_kw_month"] = colocation_usd_per_kw_month
    else:
        used["own_facility_usd_per_kw_year"] = own_facility_usd_per_kw_year
    return CostResult(
        kind="on_prem",
        flows=tuple(flows),
        assumptions=provenance_list(used, provenance, _UNITS),
        energy_kwh=_s(energy_total),
        co2_kg=_s(co2_total),
        tokens=_s(sum(tokens, 0.0)),
        images=_s(sum(images, 0.0)),
        items=_s(sum(items_, 0.0)),
        notes=(
            "purchases are paid at the start of the year they are needed (discounted as the end of the year before)",
            "hardware is refreshed at the end of its depreciation life within the horizon, at the same price",
            "residual value: straight-line depreciation of hardware since its latest purchase or refresh (installation excluded), credited at the end of the horizon",
            f"facility: {facility}",
        ),
        output_by_year={k + 1: (tokens[k], images[k], items_[k]) for k in range(H)},
    )


def average_power_w(idle_w: Number, max_w: Number, utilization: Number) -> Number:
    """Average draw of a device between idle and max power at a mean utilization (0..1):
    idle + u x (max - idle). A linear model; see docs/economics.md."""
    check_nonneg("utilization", utilization, upper=1.0)
    return idle_w + np.asarray(utilization, dtype=float) * (np.asarray(max_w, dtype=float) - idle_w)


def _s(x: Number) -> Number:
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return float(x)
    if isinstance(x, (np.floating, np.integer)):
        return float(x)
    return x
