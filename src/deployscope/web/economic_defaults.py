"""The values the planner takes for the `economics` fields a scenario leaves out, in the
scenario's currency and units, so the form can show each one beside its empty field.

They come from the same place as the plan's assumptions: the economic_defaults catalog rows for
the scenario's region and facility (``economics.economic_inputs``), converted from USD with the
scenario's rate (``currency.per_usd``) or the catalog's fx_rates row.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..errors import DeployscopeError

_PERCENT = {"support_pct_of_capex", "installation_pct_of_capex"}  # catalog fractions, scenario percentages


def _per_usd(code: Any, given: Any, catalog: Any) -> float | None:
    """Units of the scenario's currency per USD, as the planner takes it (None: unknown)."""
    if code == "USD":
        return 1.0
    if isinstance(given, (int, float)) and not isinstance(given, bool) and given > 0:
        return float(given)
    row = catalog.fx_rates.find(code) if isinstance(code, str) else None
    return 1.0 / row.usd_per_unit if row is not None and row.usd_per_unit else None


def left_out_values(data: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """Scenario field name (``tariff_per_kwh``) -> (value in scenario units, where it comes from)
    for every economics default; empty when the region, facility or currency cannot be read."""
    eco = data.get("economics") if isinstance(data.get("economics"), dict) else {}
    region, facility = eco.get("region", "us"), eco.get("facility") or "colocation"
    currency = data.get("currency", "USD")
    code = currency.get("code", "USD") if isinstance(currency, dict) else currency
    per_usd = currency.get("per_usd") if isinstance(currency, dict) else None
    if not isinstance(region, str) or len(region) > 16 or facility not in ("colocation", "own") or not isinstance(code, str) or len(code) != 3:
        return {}  # not a region or currency code the planner would take: the form names the catalog row instead
    if not isinstance(per_usd, (int, float)) or isinstance(per_usd, bool):
        per_usd = None
    return dict(_values(region, facility, code, per_usd))


@lru_cache(maxsize=64)  # the catalog is read once per process; a form page asks again and again
def _values(region: str, facility: str, code: str, per_usd: float | None) -> tuple[tuple[str, tuple[float, str]], ...]:
    from ..catalog import default_catalog
    from ..economics import economic_inputs
    from ..planning.inputs import SCENARIO_FIELD

    try:
        catalog = default_catalog()
        fx = _per_usd(code, per_usd, catalog)
        inputs = economic_inputs(catalog, region=region, facility=facility)
    except DeployscopeError:
        return ()
    out: dict[str, tuple[float, str]] = {}
    for name, a in inputs.provenance.items():
        field = SCENARIO_FIELD.get(name, "").removeprefix("economics.")
        if not field:
            continue
        value = float(a.value)
        if "usd" in name:
            if fx is None:
                continue
            value *= fx
        elif name in _PERCENT:
            value *= 100.0
        out[field] = (value, f"economic_defaults, region {inputs.region}")
    return tuple(out.items())


def number(v: float) -> str:
    """A default as a person reads it: 76,791 · 184.1 · 0.2351."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
