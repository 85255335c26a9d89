"""Invariants of the planner's cost models under the uncertainty factors: a higher GPU price or
utilization never lowers an owned fleet's cost; commitments are owed for their whole term."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployscope.planner import Factors, build_options

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
factor = st.floats(min_value=0.05, max_value=5.0, allow_nan=False, allow_infinity=False)


@pytest.fixture(scope="module")
def owned():
    import yaml

    ctx, opts = build_options(EXAMPLES / "hospital-assistant.yaml")
    out = [o for o in opts if o.placement in ("on_prem", "hybrid") and not o.excluded]
    # and a hybrid (an owned base bursting to cloud), with a training job it keeps on-prem
    d = yaml.safe_load((EXAMPLES / "saas-chat.yaml").read_text())
    d["candidates"] = {"placements": ["on_prem", "cloud", "hybrid"], "providers": ["lambda"], "gpus": ["h100-sxm-80gb"],
                       "cloud_pricing": ["on_demand"]}
    d["load_profile"]["peak_to_average"] = 3.0
    d["training"] = [{"name": "refresh", "model": "llama-3.3-70b-instruct", "method": "lora", "tokens": "10B", "seq_len": 4096,
                      "runs_per_year": 30, "deadline_days": 10, "dataset_gb": 2}]
    hctx, hopts = build_options(d)
    hybrids = [o for o in hopts if o.placement == "hybrid" and not o.excluded]
    assert hybrids and out and hctx.econ.discount_rate == ctx.econ.discount_rate
    return ctx, out + hybrids


def power(res) -> float:
    """Energy cost over the horizon: the on-prem power line (a hybrid's is on_prem.power)."""
    return sum(float(v) for k, v in res.breakdown_totals().items() if k == "power" or k.endswith(".power"))


@SETTINGS
@given(a=factor, b=factor)
def test_a_higher_gpu_price_never_lowers_on_prem_cost(owned, a, b):
    ctx, opts = owned
    lo, hi = min(a, b), max(a, b)
    for o in opts:
        assert float(o.cost(Factors(gpu_price=hi)).npv(ctx.econ.discount_rate)) >= float(
            o.cost(Factors(gpu_price=lo)).npv(ctx.econ.discount_rate)) - 1e-6


@SETTINGS
@given(a=st.floats(0.05, 1.2), b=st.floats(0.05, 1.2))
def test_higher_utilization_never_lowers_power_cost(owned, a, b):
    lo, hi = min(a, b), max(a, b)
    _, opts = owned
    for o in opts:
        p_lo = power(o.cost(Factors(utilization=lo)))
        p_hi = power(o.cost(Factors(utilization=hi)))
        assert p_hi >= p_lo - 1e-6


def test_utilization_moves_on_prem_power_visibly(owned):
    _, opts = owned
    o = opts[0]
    assert o.cost(Factors(utilization=1.1)).breakdown_totals()["power"] > o.cost(Factors(utilization=0.7)).breakdown_totals()["power"] * 1.01


def test_a_commitments_remaining_obligation_is_stated_in_the_plan():
    import yaml

    import deployscope

    d = yaml.safe_load((EXAMPLES / "saas-chat.yaml").read_text())
    d["monte_carlo_samples"] = 0
    d["candidates"] = {"placements": ["cloud"], "cloud_pricing": ["reserved_3y"]}
    p = deployscope.plan(d)
    o = next(o for o in p.options if o.id.endswith("-3y"))
    # demand triples every year: instances added in years 2 and 3 are owed past the 3-year horizon
    last = max(o.cash_flows, key=lambda f: f.year)
    owed = sum(v for k, v in last.breakdown.items() if k.endswith("commitment_beyond_horizon"))
    assert owed > 0
    assert any(w.startswith("commitments run past the horizon") and f"{owed:,.0f} USD" in w for w in o.warnings)
