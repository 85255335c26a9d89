"""Yearly cash flows and what is computed from them: total, NPV, break-even month, unit costs.

Conventions (docs/economics.md):

- Costs are positive; a credit (the residual value of hardware at the horizon) is a negative
  capex.
- Flow year t is the instant t years after the first purchase, discounted by (1 + r)^t. Opex of
  operating year k sits at t = k (end-of-year convention); hardware needed from the start of
  year k is paid at t = k - 1 (the end of the year before). The break-even timeline pays every
  lump at month 12t and spreads opex over its year, so NPV and break-even agree.
- Every number may be a numpy array (one value per Monte Carlo sample): the functions broadcast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence, Union

import numpy as np

from ..errors import DeployscopeError

Number = Union[float, np.ndarray]


def _scalar(x: Any) -> Any:
    """Plain float for 0-d values, the array otherwise."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return float(x)
    if isinstance(x, (np.floating, np.integer)):
        return float(x)
    return x


@dataclass(frozen=True)
class CashFlow:
    """Money spent in one year (USD). ``breakdown`` says where it goes; its values sum to
    ``capex + opex``. Keys are stable names (``servers``, ``power``, ``staff``, ``residual_value``...)."""

    year: int
    capex: Number = 0.0
    opex: Number = 0.0
    breakdown: dict[str, Number] = field(default_factory=dict)

    @property
    def total(self) -> Number:
        return self.capex + self.opex

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "capex": _scalar(self.capex),
            "opex": _scalar(self.opex),
            "breakdown": {k: _scalar(v) for k, v in self.breakdown.items()},
        }


@dataclass(frozen=True)
class Assumption:
    """An input the cost rests on: shown in the report with its unit and where it comes from."""

    name: str
    value: Any
    unit: str
    source: str
    assumption: bool = False  # True: a chosen default, not a sourced fact

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": _scalar(self.value) if not isinstance(self.value, (str, list, tuple)) else self.value,
            "unit": self.unit,
            "source": self.source,
            "assumption": self.assumption,
        }


@dataclass(frozen=True)
class CostResult:
    """The cash flows of one option plus its physical and output totals over the horizon.

    ``tokens``/``images``/``items`` are totals over the horizon (for unit costs);
    ``energy_kwh`` and ``co2_kg`` are totals at the meter (PUE included) where the option owns
    hardware (zero for cloud and API: their energy is in the provider's price).
    """

    kind: str  # on_prem | cloud | api | hybrid
    flows: tuple[CashFlow, ...]
    assumptions: tuple[Assumption, ...] = ()
    energy_kwh: Number = 0.0
    co2_kg: Number = 0.0
    tokens: Number = 0.0
    images: Number = 0.0
    items: Number = 0.0
    parts: tuple[tuple[str, "CostResult"], ...] = ()  # hybrids: the results they combine
    notes: tuple[str, ...] = ()
    output_by_year: dict[int, tuple[Number, Number, Number]] = field(default_factory=dict)  # year -> (tokens, images, items)

    @property
    def horizon_years(self) -> int:
        return max(f.year for f in self.flows) if self.flows else 0

    def total(self) -> Number:
        return total(self.flows)

    def npv(self, discount_rate: Number) -> Number:
        return npv(self.flows, discount_rate)

    def breakdown_totals(self) -> dict[str, Number]:
        """Sum of each breakdown key over all years: where the money goes."""
        out: dict[str, Number] = {}
        for f in self.flows:
            for k, v in f.breakdown.items():
                out[k] = out.get(k, 0.0) + v
        return out

    def unit_costs(self, discount_rate: Number | None = None) -> dict[str, Number | None]:
        """Cost per unit of output: ``per_million_tokens``, ``per_image``, ``per_item``.

        Without a discount rate: total cost / total units. With one: levelized, NPV of cost /
        present value of units (each year's output discounted like its cost). Each figure charges
        the whole cost of the option to that output; an option serving several workloads
        should be split before (or read ``per_item``). None where the option has no such output.
        """
        return unit_costs(self, discount_rate)

    def to_dict(self, discount_rate: float | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "total_cost": _scalar(self.total()),
            "cash_flows": [f.to_dict() for f in self.flows],
            "breakdown_totals": {k: _scalar(v) for k, v in self.breakdown_totals().items()},
            "energy_kwh": _scalar(self.energy_kwh),
            "co2_kg": _scalar(self.co2_kg),
            "unit_costs": {k: _scalar(v) for k, v in self.unit_costs().items()},
            "assumptions": [a.to_dict() for a in self.assumptions],
            "notes": list(self.notes),
        }
        if discount_rate is not None:
            d["npv"] = _scalar(self.npv(discount_rate))
        return d


# --- core functions ---------------------------------------------------------------


def _check_rate(discount_rate: Number) -> None:
    r = np.asarray(discount_rate, dtype=float)
    if np.any(~np.isfinite(r)) or np.any(r <= -1):
        raise DeployscopeError(
            "discount rate must be a finite number above -1 (0.08 means 8 % a year)",
            field="economics.discount_rate",
            value=discount_rate if np.ndim(discount_rate) == 0 else "array",
        )


def total(flows: Iterable[CashFlow]) -> Number:
    """Undiscounted sum of all costs (capex + opex, credits included)."""
    s: Number = 0.0
    for f in flows:
        s = s + f.capex + f.opex
    return _scalar(s)


def npv(flows: Iterable[CashFlow], discount_rate: Number) -> Number:
    """Present value of the costs: sum of (capex + opex) / (1 + r)^year; year 0 undiscounted.

    Costs are positive, so a lower NPV is better.
    """
    _check_rate(discount_rate)
    s: Number = 0.0
    for f in flows:
        s = s + (f.capex + f.opex) / (1.0 + np.asarray(discount_rate, dtype=float)) ** f.year
    return _scalar(s)


def discount_factors(horizon_years: int, discount_rate: float) -> np.ndarray:
    """1 / (1 + r)^k for k = 0..horizon."""
    _check_rate(discount_rate)
    return 1.0 / (1.0 + discount_rate) ** np.arange(horizon_years + 1)


def _by_year(flows: Iterable[CashFlow]) -> dict[int, tuple[float, float]]:
    """year -> (lump paid at month 12 x year: capex and credits, opex accrued over the year before)."""
    out: dict[int, list[float]] = {}
    for f in flows:
        cur = out.setdefault(f.year, [0.0, 0.0])
        cur[0] += float(np.asarray(f.capex))
        cur[1] += float(np.asarray(f.opex))
    return {y: (v[0], v[1]) for y, v in out.items()}


def cumulative_cost_at(flows: Iterable[CashFlow], month: float) -> float:
    """Cumulative cost at `month` months after the first purchase (the break-even timeline).

    The same timing as the NPV: flow year t's capex (a purchase, or a credit such as the residual
    value) is paid at month 12t, the instant it is discounted to; its opex accrues linearly over
    months 12(t-1)..12t (operating year t). Year 0 is paid at month 0.
    """
    s = 0.0
    for y, (lump, op) in _by_year(flows).items():
        if month >= 12.0 * y:
            s += lump
        if y >= 1:
            s += op * min(1.0, max(0.0, (month - 12.0 * (y - 1)) / 12.0))
        elif month >= 0:
            s += op
    return s


def break_even_month(flows_a: Sequence[CashFlow], flows_b: Sequence[CashFlow], eps: float = 1e-6) -> float | None:
    """The first month at which option a's cumulative cost becomes <= option b's, after a was
    costlier (e.g. on-prem a catching up with cloud b after its purchase).

    Timing as in ``cumulative_cost_at`` (and the NPV): lumps at month 12t, opex linear within
    each year, so the answer is exact, in months (fractional) after the first purchase. 0.0 if a
    is never costlier from the start; None if a never catches up within the horizon. Scalar flows only.
    """
    ya, yb = _by_year(flows_a), _by_year(flows_b)
    horizon = max([0, *ya, *yb])
    zero = (0.0, 0.0)

    def lump(y: int) -> float:
        return ya.get(y, zero)[0] - yb.get(y, zero)[0]

    def slope(y: int) -> float:  # per month over operating year y
        return (ya.get(y, zero)[1] - yb.get(y, zero)[1]) / 12.0

    d = lump(0) + ya.get(0, zero)[1] - yb.get(0, zero)[1]  # D(0) = C_a(0) - C_b(0)
    if horizon == 0:
        return 0.0 if d <= eps else None
    if d < -eps or (abs(d) <= eps and slope(1) <= eps / 12.0):
        return 0.0
    for y in range(1, horizon + 1):
        start = 12.0 * (y - 1)
        if y > 1 and d <= eps:
            return start
        m = slope(y)
        if m < 0 and d + m * 12.0 <= eps:
            return min(start + max(0.0, d) / (-m), start + 12.0)
        d += m * 12.0 + lump(y)
        if d <= eps:
            return 12.0 * y
    return None


def unit_costs(result: CostResult, discount_rate: Number | None = None) -> dict[str, Number | None]:
    """See ``CostResult.unit_costs``."""
    if discount_rate is None:
        cost = total(result.flows)
        tokens, images, items = result.tokens, result.images, result.items
    else:
        cost = npv(result.flows, discount_rate)
        pv = _output_pv(result, discount_rate)
        tokens, images, items = pv
    out: dict[str, Number | None] = {}
    out["per_million_tokens"] = _div(cost, np.asarray(tokens) / 1e6)
    out["per_image"] = _div(cost, images)
    out["per_item"] = _div(cost, items)
    return out


def _output_pv(result: CostResult, discount_rate: Number) -> tuple[Number, Number, Number]:
    per_year = result.output_by_year
    if not per_year:
        # spread evenly over operating years when the per-year output is not known
        h = max(result.horizon_years, 1)
        f = sum(1.0 / (1.0 + np.asarray(discount_rate, dtype=float)) ** k for k in range(1, h + 1)) / h
        return result.tokens * f, result.images * f, result.items * f
    t = i = it = 0.0
    for k, (tok, img, itm) in per_year.items():
        df = 1.0 / (1.0 + np.asarray(discount_rate, dtype=float)) ** k
        t, i, it = t + tok * df, i + img * df, it + itm * df
    return t, i, it


def _div(cost: Number, units: Number) -> Number | None:
    u = np.asarray(units, dtype=float)
    if np.all(u <= 0):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        return _scalar(np.where(u > 0, np.asarray(cost, dtype=float) / np.where(u > 0, u, 1.0), np.nan))


# --- helpers used by the option modules ---------------------------------------------


def per_year(value: Number | Sequence[Number], horizon_years: int, name: str) -> list[Number]:
    """A per-operating-year list (years 1..H) from a scalar or a sequence of length H."""
    if isinstance(value, (list, tuple)):
        if len(value) != horizon_years:
            raise DeployscopeError(
                f"needs one value per year of the horizon ({horizon_years}), got {len(value)}",
                field=name,
                value=list(value),
            )
        return list(value)
    return [value] * horizon_years


def check_horizon(horizon_years: int) -> None:
    if not isinstance(horizon_years, (int, np.integer)) or isinstance(horizon_years, bool) or not 1 <= horizon_years <= 30:
        raise DeployscopeError(
            "horizon must be a whole number of years from 1 to 30", field="horizon_years", value=horizon_years
        )


def check_nonneg(name: str, value: Any, upper: float | None = None) -> None:
    if isinstance(value, (float, int)) and not isinstance(value, bool):  # the common case, no array built
        v = float(value)
        bad = not (0.0 <= v < math.inf) or (upper is not None and v > upper)
    else:
        arr = np.asarray(value, dtype=float)
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        # NaN makes min and max NaN, and every comparison with NaN is false
        bad = not (lo >= 0.0 and hi < math.inf) or (upper is not None and hi > upper)
    if bad:
        allowed = f"0 to {upper}" if upper is not None else "a number >= 0"
        raise DeployscopeError(
            f"must be {allowed}", field=name, value=value if np.ndim(value) == 0 else "array", allowed=allowed
        )
