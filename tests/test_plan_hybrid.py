"""Hybrids in the plan: the on-prem base chosen by NPV, bursts only above it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import deployscope

ROOT = Path(__file__).resolve().parents[1]


def case(provider: str) -> dict:
    d = yaml.safe_load((ROOT / "examples" / "saas-chat.yaml").read_text())
    d["candidates"] = {"placements": ["on_prem", "cloud", "hybrid"], "providers": [provider], "gpus": ["h100-sxm-80gb"],
                       "cloud_pricing": ["on_demand"]}
    d["load_profile"]["peak_to_average"] = 3.0
    d["monte_carlo_samples"] = 0
    return d


@pytest.fixture(scope="module")
def lambda_plan():
    return deployscope.plan(case("lambda"))


def test_hybrid_base_is_chosen_by_npv_and_beats_both_pure_parts(lambda_plan):
    opts = {o.placement: o for o in lambda_plan.options}
    hyb, onp, cld = opts["hybrid"], opts["on_prem"], opts["cloud"]
    # never above the better pure part (the base search includes both ends)
    assert hyb.npv <= min(onp.npv, cld.npv) + 1e-6
    note = next(w for w in hyb.warnings if w.startswith("hybrid base:"))
    assert "whole servers, never sold" in note
    # every GPU bought is used first: the base's busy share is positive, and smaller than the peak fleet
    assert 0 < hyb.performance.servers < onp.performance.servers
    assert hyb.performance.utilization > onp.performance.utilization


def test_a_degenerate_hybrid_is_not_listed_and_the_plan_says_why():
    p = deployscope.plan(case("aws"))
    assert not [o for o in p.options if o.placement == "hybrid"]
    assert any("nothing bursts, so it is the same as on_prem-h100-sxm-80gb" in w for w in p.warnings)


def test_a_given_base_percentile_is_honoured():
    d = case("lambda")
    d["load_profile"]["base_load_percentile"] = 10
    p = deployscope.plan(d)
    hyb = next(o for o in p.options if o.placement == "hybrid")
    assert "fixed at P10 of the hourly load" in hyb.label
    # the optimum is never worse than a fixed base under the same model
    best = next(o for o in deployscope.plan(case("lambda")).options if o.placement == "hybrid")
    assert best.npv <= hyb.npv + 1e-6


@pytest.mark.parametrize("example", ["saas-chat", "marketing-images"])
def test_no_listed_hybrid_costs_more_than_its_burst_option_or_its_on_prem_option(example):
    p = deployscope.plan(ROOT / "examples" / f"{example}.yaml")
    by_id = {o.id: o for o in p.options}
    for h in (o for o in p.options if o.placement == "hybrid"):
        gpu, burst = h.id.removeprefix("hybrid-").split("+", 1)
        for pure in (by_id.get(burst), by_id.get(f"on_prem-{gpu}")):
            if pure is not None and pure.npv is not None:
                # rounding to whole servers and whole instances is the only slack
                assert h.npv <= pure.npv * 1.02, (h.id, pure.id, h.npv, pure.npv)
