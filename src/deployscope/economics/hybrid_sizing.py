"""Hybrid sizing as an optimization: the on-prem base, in whole servers and never sold, that
minimizes the NPV of owning it plus renting (or buying API volume for) whatever the base cannot
serve, hour by hour over each year's load profile.

Model (docs/economics.md, "Hybrid sizing"):

- ``demand_gpus[k]``: GPUs busy in each hour of year k+1 (a representative week of 168 hours,
  or any number of equally weighted hours standing for the year). The base serves
  min(demand, base GPUs) every hour, so every GPU bought is used before anything is rented; the
  burst serves the rest, so the peak is always covered.
- owning b servers in year k costs ``fixed_usd_per_server_year`` x b (support, space, staff
  share) + energy: b x idle + busy GPUs / gpus_per_server x (max - idle) kW, x hours x PUE x tariff;
  a server added for year k is paid at t = k-1 at ``server_usd`` (installation included) and
  credits its residual value at t = H (straight line over ``depreciation_years``).
- ``fixed_usd_per_year_if_owned`` is paid in every year with at least one server (the operations
  team's floor), so a base must pay for it too;
- ``spare_gpus``: GPUs a base of one or more servers holds back as its redundancy (N+1: one replica
  per serving pool, as the pure on-prem fleet does); they draw idle power and serve nothing, so b
  servers serve up to max(b x gpus_per_server - spare_gpus, 0) GPUs of the load;
- ``held_gpus[k]``: GPUs of the base that batch work kept on-prem (training jobs, batch pipeline
  stages) holds in year k+1: the base and the batch work are one fleet of whole servers, so a base
  must hold them (b x gpus_per_server >= held) and b servers serve up to
  max(b x gpus_per_server - spare_gpus - held, 0) GPUs of the load;
- the burst costs ``burst_usd_per_gpu_hour`` for each GPU-hour above the base, rounded up per
  hour to whole ``burst_unit_gpus`` (a cloud instance's GPUs; 0 = no rounding, API volume).

A dynamic programme over (year, servers owned) finds the optimum exactly: the cost of adding
servers is linear, so each year's step is a prefix minimum (O(years x servers)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DeployscopeError
from .cashflow import check_nonneg
from .onprem import HOURS_PER_YEAR


@dataclass(frozen=True)
class HybridSizing:
    """The chosen base and what it leaves to the burst."""

    base_servers: tuple[int, ...]  # servers owned in each operating year (non-decreasing)
    npv_usd: float  # NPV of the base plus the burst under this model
    onprem_gpu_hours: tuple[float, ...]  # per year
    burst_gpu_hours: tuple[float, ...]  # per year (before rounding to whole instances)
    peak_gpus: tuple[float, ...]  # per year
    why: str


def size_hybrid_base(
    *,
    demand_gpus: Sequence[Sequence[float]],
    gpus_per_server: int,
    server_usd: float,
    fixed_usd_per_server_year: float,
    idle_kw: float,
    max_kw: float,
    tariff_usd_per_kwh: float,
    pue: float,
    burst_usd_per_gpu_hour: float,
    discount_rate: float,
    depreciation_years: float,
    burst_unit_gpus: float = 0.0,
    fixed_usd_per_year_if_owned: float = 0.0,
    max_servers: int | None = None,
    fixed_base: Sequence[int] | None = None,
    spare_gpus: int = 0,
    held_gpus: Sequence[float] | None = None,
) -> HybridSizing:
    """The base (whole servers per year) that minimizes the NPV; see the module doc.

    ``fixed_base`` (servers per year, non-decreasing) costs that base instead of searching: the
    pure on-prem fleet (the peak's servers) or any other plan, under the same model.
    """
    H = len(demand_gpus)
    if H < 1:
        raise DeployscopeError("needs at least one year of demand", field="demand_gpus", value=[])
    if gpus_per_server < 1:
        raise DeployscopeError("a server holds at least one GPU", field="gpus_per_server", value=gpus_per_server)
    for name, v in (("server_usd", server_usd), ("fixed_usd_per_server_year", fixed_usd_per_server_year),
                    ("idle_kw", idle_kw), ("max_kw", max_kw), ("tariff_usd_per_kwh", tariff_usd_per_kwh),
                    ("burst_usd_per_gpu_hour", burst_usd_per_gpu_hour), ("discount_rate", discount_rate)):
        check_nonneg(name, v)
    check_nonneg("fixed_usd_per_year_if_owned", fixed_usd_per_year_if_owned)
    check_nonneg("spare_gpus", spare_gpus)
    held = [0.0] * len(demand_gpus) if held_gpus is None else [float(x) for x in held_gpus]
    if len(held) != len(demand_gpus) or any(not x >= 0 for x in held):
        raise DeployscopeError("one non-negative GPU count per year", field="held_gpus", value=list(held_gpus or []))
    if max_kw < idle_kw:
        raise DeployscopeError("maximum power below idle", field="max_kw", value=max_kw, allowed=f">= {idle_kw}")
    if not depreciation_years > 0:
        raise DeployscopeError("must be > 0", field="depreciation_years", value=depreciation_years)
    demand = [np.maximum(np.asarray(d, dtype=float), 0.0) for d in demand_gpus]
    for k, d in enumerate(demand):
        if d.ndim != 1 or d.size == 0:
            raise DeployscopeError("each year needs a non-empty list of hourly GPU demand", field=f"demand_gpus[{k}]", value="array")
    peak = [float(d.max()) for d in demand]
    n_max = max_servers if max_servers is not None else int(np.ceil((max(peak) + spare_gpus + max(held)) / gpus_per_server - 1e-9))
    n_max = max(n_max, int(np.ceil(max(held) / gpus_per_server - 1e-9)))  # the batch work always fits
    b = np.arange(n_max + 1)  # candidate server counts

    def year_cost(k: int) -> np.ndarray:
        """Running cost of year k+1 for every candidate count b (USD, undiscounted); inf where the
        servers cannot hold that year's batch work."""
        d = demand[k]
        scale = HOURS_PER_YEAR / d.size
        g = np.maximum(b * gpus_per_server - spare_gpus - held[k], 0)  # GPUs that serve (spare and batch held back)
        served = np.minimum(d[None, :], g[:, None])  # (B, hours)
        over = d[None, :] - served
        if burst_unit_gpus > 0:
            over = np.ceil(over / burst_unit_gpus - 1e-9) * burst_unit_gpus
        energy_kwh = (b * idle_kw * d.size + served.sum(axis=1) / gpus_per_server * (max_kw - idle_kw)) * scale * pue
        owned = np.where(b > 0, fixed_usd_per_year_if_owned, 0.0)  # the team any on-prem fleet needs
        cost = owned + b * fixed_usd_per_server_year + energy_kwh * tariff_usd_per_kwh + over.sum(axis=1) * scale * burst_usd_per_gpu_hour
        return np.where(b * gpus_per_server >= held[k] - 1e-9, cost, np.inf)

    # value of a server bought at t = k (for operating year k+1): price now, residual credit at H
    def unit_capex(k: int) -> float:
        residual = server_usd * max(0.0, 1.0 - (H - k) / depreciation_years)
        return server_usd / (1.0 + discount_rate) ** k - residual / (1.0 + discount_rate) ** H

    if fixed_base is not None:
        path_b = [int(x) for x in fixed_base]
        if len(path_b) != H or any(x < 0 for x in path_b) or path_b != sorted(path_b):
            raise DeployscopeError("one non-decreasing whole number of servers per year", field="fixed_base", value=list(fixed_base))
        n_max = max(n_max, path_b[-1])
        b = np.arange(n_max + 1)
        total = 0.0
        prev = 0
        for k, n in enumerate(path_b):
            total += unit_capex(k) * (n - prev) + float(year_cost(k)[n]) / (1.0 + discount_rate) ** (k + 1)
            prev = n
        return _result(tuple(path_b), total, demand, gpus_per_server, peak, fixed=True, spare_gpus=spare_gpus, held=held)

    # DP: V[b] = least NPV of years 1..k ending with b servers owned
    V = np.full(n_max + 1, np.inf)
    V[0] = 0.0  # nothing owned before the first purchase
    choice: list[np.ndarray] = []
    for k in range(H):
        c = unit_capex(k)
        # V_new[b] = min_{p <= b} V[p] + c (b - p) + cost_k[b] / (1+r)^(k+1)
        shifted = V - c * b
        best_prev = np.minimum.accumulate(shifted)
        arg = np.empty(n_max + 1, dtype=int)
        lowest, at = np.inf, 0
        for i, v in enumerate(shifted):
            if v < lowest:
                lowest, at = v, i
            arg[i] = at
        V = best_prev + c * b + year_cost(k) / (1.0 + discount_rate) ** (k + 1)
        choice.append(arg)
    end = int(np.argmin(V))
    path = [end]
    for k in range(H - 1, 0, -1):
        path.append(int(choice[k][path[-1]]))
    return _result(tuple(reversed(path)), float(V[end]), demand, gpus_per_server, peak, spare_gpus=spare_gpus, held=held)


def _result(base: tuple[int, ...], npv_usd: float, demand: list[np.ndarray], gpus_per_server: int, peak: list[float],
            fixed: bool = False, spare_gpus: int = 0, held: Sequence[float] | None = None) -> HybridSizing:
    held = held or [0.0] * len(base)
    on_h, burst_h = [], []
    for k, n in enumerate(base):
        d = demand[k]
        scale = HOURS_PER_YEAR / d.size
        served = np.minimum(d, max(n * gpus_per_server - spare_gpus - held[k], 0))
        on_h.append(float(served.sum() * scale))
        burst_h.append(float((d - served).sum() * scale))
    if base[-1] == 0 or (any(held) and not any(on_h)):
        why = ("the given base holds no server: everything bursts" if fixed else
               "no server pays for itself against the burst price at this load profile: everything bursts")
    elif all(n * gpus_per_server - spare_gpus - h >= p - 1e-9 for n, p, h in zip(base, peak, held, strict=True)):
        why = "the given base covers the whole peak: nothing bursts" if fixed else "owning capacity for the whole peak is cheapest: nothing bursts"
    else:
        why = (("the given base serves what it can" if fixed else "the base covers the hours where an owned GPU costs less than renting")
               + "; the rest "
               f"({sum(burst_h) / max(sum(on_h) + sum(burst_h), 1e-9):.0%} of GPU-hours) bursts")
    return HybridSizing(base, npv_usd, tuple(on_h), tuple(burst_h), tuple(peak), why)
