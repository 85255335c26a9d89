"""Economics: yearly cash flows of each deployment option, NPV, unit costs, break-even, and the
uncertainty around them. Pure functions over numbers (and numpy arrays, for Monte Carlo).

See docs/economics.md for every formula and default.
"""

from .api import api_cash_flows
from .cashflow import (
    Assumption,
    CashFlow,
    CostResult,
    break_even_month,
    cumulative_cost_at,
    discount_factors,
    npv,
    total,
    unit_costs,
)
from .cloud import cloud_cash_flows
from .defaults import EconomicInputs, economic_inputs
from .fleet import ServerPower, average_draw_kw, server_power, server_price_usd, staff_fte
from .hybrid import combine, hybrid_cash_flows, split_volume
from .hybrid_sizing import HybridSizing, size_hybrid_base
from .onprem import HOURS_PER_YEAR, average_power_w, onprem_cash_flows
from .uncertainty import TornadoBar, monte_carlo, sample, tornado

__all__ = [
    "Assumption",
    "CashFlow",
    "CostResult",
    "EconomicInputs",
    "HOURS_PER_YEAR",
    "HybridSizing",
    "ServerPower",
    "TornadoBar",
    "api_cash_flows",
    "average_draw_kw",
    "average_power_w",
    "break_even_month",
    "cloud_cash_flows",
    "combine",
    "cumulative_cost_at",
    "discount_factors",
    "economic_inputs",
    "hybrid_cash_flows",
    "monte_carlo",
    "npv",
    "onprem_cash_flows",
    "sample",
    "server_power",
    "server_price_usd",
    "size_hybrid_base",
    "split_volume",
    "staff_fte",
    "tornado",
    "total",
    "unit_costs",
]
