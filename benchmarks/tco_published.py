"""Deployscope's break-even months and $/M tokens for a Llama 3.3 70B chat service on owned 8x H100
servers, at three loads, next to the cloud and API options it is compared with.

Run: PYTHONPATH=src python benchmarks/tco_published.py

The scenario mirrors the published TCO analyses compared in docs/economics.md ("Published
comparisons"): a flat load (continuous production), 5 years, US tariff and colocation, 1,500
input + 300 output tokens a request. Unit costs count input and output tokens.
"""

from __future__ import annotations

from pathlib import Path

import yaml

import deployscope
from deployscope.economics import CashFlow, break_even_month

ROOT = Path(__file__).resolve().parents[1]


def scenario(requests_per_day: int) -> dict:
    d = yaml.safe_load((ROOT / "examples" / "saas-chat.yaml").read_text())
    d["horizon_years"] = 5
    w = d["workloads"][0]
    for k in ("users", "requests_per_user_per_day"):
        w.pop(k, None)
    w["requests_per_day"] = requests_per_day
    w["growth_factor_per_year"] = 1.0
    d["load_profile"] = {"shape": "flat"}
    d["economics"] = {"region": "us", "facility": "colocation"}
    d["policy"] = {"data_categories": ["none"], "organization_jurisdiction": "US"}
    d["candidates"] = {"placements": ["on_prem", "cloud", "api"], "gpus": ["h100-sxm-80gb"],
                       "providers": ["aws", "deepinfra", "together_ai"], "cloud_pricing": ["on_demand"]}
    d["monte_carlo_samples"] = 0
    return d


def flows(o) -> list[CashFlow]:
    return [CashFlow(f.year, f.capex, f.opex) for f in o.cash_flows]


def main() -> None:
    print("requests/day | on-prem GPUs | busy share | on-prem $/M tok | option | its $/M tok | on-prem break-even (months)")
    for rpd in (200_000, 2_000_000, 6_000_000):
        p = deployscope.plan(scenario(rpd))
        op = next(o for o in p.options if o.placement == "on_prem" and o.allowed)
        for o in p.options:
            if o.id == op.id or not o.allowed:
                continue
            be = break_even_month(flows(op), flows(o))
            print(f"{rpd:>12,} | {op.performance.gpus:>12} | {op.performance.utilization:>10.2f} | "
                  f"{op.unit_costs.per_million_tokens:>14.3f} | {o.id} | {o.unit_costs.per_million_tokens:.3f} | "
                  f"{'never' if be is None else f'{be:.1f}'}")


if __name__ == "__main__":
    main()
