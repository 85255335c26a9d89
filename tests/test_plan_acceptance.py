"""Acceptance checks of the planner's economics at the scenario edge: a per-GPU override lowers
on-prem cost by the hand amount, bad price inputs exit 2 naming field, value and what is allowed,
a hybrid never costs more than its better pure part beyond whole-server rounding, and the weak
defaults are listed in the plan as assumptions with their override path."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import deployscope
from deployscope.cli import main
from deployscope.planner import Factors, build_options

ROOT = Path(__file__).resolve().parents[1]
HGX_H100 = 255_237.04  # catalog hgx-h100-8gpu (and dgx-h100), 8 GPUs included
H100_PER_GPU = 31_904.63  # its per-GPU share (the catalog accelerator row)


def saas(**candidates) -> dict:
    d = yaml.safe_load((ROOT / "examples" / "saas-chat.yaml").read_text())
    d["monte_carlo_samples"] = 0
    if candidates:
        d["candidates"] = candidates
    return d


def test_a_per_gpu_override_lowers_on_prem_cost_by_the_hand_amount():
    d = saas(placements=["on_prem"], gpus=["h100-sxm-80gb"])
    ctx, (base,) = build_options(d)
    over = copy.deepcopy(d)
    over["economics"]["hardware_prices"] = {"h100-sxm-80gb": 22_000}
    _, (cheap,) = build_options(over)
    r = ctx.econ.discount_rate
    a, b = base.cost(Factors()), cheap.cost(Factors())
    # servers bought each year, read from the catalog-price flows: whole HGX systems
    bought = [round(float(f.breakdown.get("servers", 0.0)) / HGX_H100, 9) for f in a.flows]
    assert all(n == int(n) for n in bought) and sum(bought) == 3
    delta = 8 * (H100_PER_GPU - 22_000)  # 79,237.04 per server
    assert round(delta, 2) == 79_237.04
    assert round(a.breakdown_totals()["servers"] - b.breakdown_totals()["servers"], 2) == round(3 * delta, 2)
    assert round(b.breakdown_totals()["servers"], 2) == 3 * 176_000.00
    # NPV by hand: each server's price and 10 % installation when bought (t = j), 10 % support a
    # year while in service (years j+1..H), its residual at H on a 5-year straight line
    H = ctx.H
    hand = 0.0
    for j, n in enumerate(bought):
        hand += n * delta * 1.1 / (1 + r) ** j
        hand += n * sum(0.1 * delta / (1 + r) ** k for k in range(j + 1, H + 1))
        hand -= n * delta * max(0.0, 1 - (H - j) / 5) / (1 + r) ** H
    assert round(float(a.npv(r)) - float(b.npv(r)), 2) == round(hand, 2)


@pytest.mark.parametrize(("prices", "field", "value", "allowed"), [
    ({"h100-sxm-80g": 22_000}, "economics.hardware_prices.h100-sxm-80g", "h100-sxm-80g", "h100-sxm-80gb"),
    ({"h100-sxm-80gb": -5}, "economics.hardware_prices.h100-sxm-80gb", "-5", ">= 0"),
])
def test_bad_price_overrides_exit_2_naming_field_value_and_allowed(tmp_path, capsys, prices, field, value, allowed):
    d = saas()
    d["economics"]["hardware_prices"] = prices
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(d))
    assert main(["plan", str(f), "--json"]) == 2
    err = capsys.readouterr().err
    assert field in err and value in err and allowed in err and "Traceback" not in err


def hybrid_case(users: int, pta: float) -> dict:
    d = saas(placements=["on_prem", "cloud", "hybrid"], providers=["lambda"], gpus=["h100-sxm-80gb"], cloud_pricing=["on_demand"])
    d["workloads"][0]["users"] = users
    d["load_profile"]["peak_to_average"] = pta
    return d


@settings(max_examples=6, deadline=None)
@given(users=st.integers(2_000, 60_000), pta=st.floats(1.5, 3.3))
def test_a_hybrid_never_costs_more_than_its_better_pure_part_beyond_whole_server_rounding(users, pta):
    p = deployscope.plan(hybrid_case(users, pta))
    by = {o.placement: o for o in p.options if o.allowed}
    pure = [o.npv for pl, o in by.items() if pl in ("on_prem", "cloud")]
    if "hybrid" in by and pure:
        # rounding to whole servers: at most one more HGX system (with its installation) than the better part
        assert by["hybrid"].npv <= min(pure) + HGX_H100 * 1.1
    else:  # not listed: the plan says which pure option it equals
        assert any(w.startswith("hybrid of on-prem") and "so it is the same as" in w for w in p.warnings) or not pure


def test_weak_defaults_are_listed_as_assumptions_with_their_override_path():
    p = deployscope.plan(saas(placements=["on_prem"], gpus=["h100-sxm-80gb", "mi300x"]))
    a = {x.name: x for x in p.assumptions}
    idle = a["power.idle_fraction"]
    assert idle.origin == "assumption" and idle.value == 0.29 and "arXiv:2605.23918" in idle.source
    assert "override" in idle.note and "--catalog DIR" in idle.note
    staff = a["staff.gpus_per_fte"]
    assert staff.origin == "assumption" and staff.value == 250 and "economics.staff_fte" in staff.note
    switch = a["network.ethernet-tor-switch-64p.price_usd"]
    assert switch.origin == "assumption" and switch.source.startswith("assumption") and "network.yaml" in switch.note
    host = a["servers.oam-mi300x-8gpu.host_power_kw"]
    assert host.origin == "assumption" and host.value == 4.6 and "host_power_kw" in host.note
    # the catalog rows say so too
    from deployscope.catalog import default_catalog

    cat = default_catalog()
    for rid in ("power.idle_fraction", "staff.gpus_per_fte"):
        row = cat.economic_defaults.get(rid)
        assert row.assumption and "assumption" in row.label and "Override" in row.notes
