"""Cash flows, NPV, break-even, unit costs: hand-computed cases to the cent and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope.economics import (
    Assumption,
    CashFlow,
    api_cash_flows,
    average_power_w,
    break_even_month,
    cloud_cash_flows,
    cumulative_cost_at,
    economic_inputs,
    hybrid_cash_flows,
    npv,
    onprem_cash_flows,
    total,
)
from deployscope.economics.hybrid import split_volume
from deployscope.errors import DeployscopeError


def small_onprem(**kw):
    args = dict(
        horizon_years=3,
        capex_usd={"servers": 100_000.0},
        average_power_w=1000.0,
        tariff_usd_per_kwh=0.10,
        pue=1.5,
        provisioned_kw=2.0,
        facility="colocation",
        colocation_usd_per_kw_month=200.0,
        support_pct_of_capex=0.10,
        staff_fte=0.5,
        staff_usd_per_fte_year=100_000.0,
        software_usd_per_year=1200.0,
        installation_pct_of_capex=0.10,
        depreciation_years=5,
    )
    args.update(kw)
    return onprem_cash_flows(**args)


# --- hand-computed case --------------------------------------------------------------


def test_onprem_hand_computed_to_the_cent():
    r = small_onprem()
    f0, f1, f2, f3 = r.flows
    # year 0: 100,000 hardware + 10 % installation
    assert f0.capex == pytest.approx(110_000.00, abs=0.005) and f0.opex == 0
    # power: 1000 W x 8760 h / 1000 x PUE 1.5 = 13,140 kWh x 0.10 = 1,314.00
    assert f1.breakdown["power"] == pytest.approx(1314.00, abs=0.005)
    # colocation: 200 $/kW-month x 2 kW x 12 = 4,800.00
    assert f1.breakdown["space_cooling"] == pytest.approx(4800.00, abs=0.005)
    assert f1.breakdown["support"] == pytest.approx(10_000.00, abs=0.005)
    assert f1.breakdown["staff"] == pytest.approx(50_000.00, abs=0.005)
    assert f1.opex == pytest.approx(67_314.00, abs=0.005)
    assert f2.opex == pytest.approx(67_314.00, abs=0.005)
    # residual: 100,000 x (1 - 3/5) = 40,000 credited at the end of year 3
    assert f3.breakdown["residual_value"] == pytest.approx(-40_000.00, abs=0.005)
    assert f3.capex == pytest.approx(-40_000.00, abs=0.005)
    assert round(r.total(), 2) == 271_942.00
    # NPV at 10 %: 110,000 + 67,314/1.1 + 67,314/1.21 + 27,314/1.331
    assert round(r.npv(0.10), 2) == 247_347.36
    assert r.energy_kwh == pytest.approx(3 * 13_140)
    # every year's breakdown sums to capex + opex
    for f in r.flows:
        assert sum(f.breakdown.values()) == pytest.approx(f.capex + f.opex)


def test_onprem_co2_and_unit_costs():
    r = small_onprem(grid_kg_co2_per_kwh=0.4, tokens_per_year=1e9)
    assert r.co2_kg == pytest.approx(3 * 13_140 * 0.4)
    uc = r.unit_costs()
    assert uc["per_million_tokens"] == pytest.approx(271_942.00 / 3000)
    assert uc["per_image"] is None and uc["per_item"] is None
    lev = r.unit_costs(0.10)["per_million_tokens"]
    pv_units = sum(1000 / 1.1**k for k in (1, 2, 3))
    assert lev == pytest.approx(r.npv(0.10) / pv_units)


def test_onprem_additions_and_residual_age():
    # 50k needed from the start of year 2 of 3: paid at t = 1 (end of year 1, discounted once),
    # used 2 years -> residual 50k x (1 - 2/5)
    r = small_onprem(additions={2: {"servers": 50_000.0}}, installation_pct_of_capex=0.0)
    assert r.flows[1].capex == pytest.approx(50_000.0)
    assert r.flows[2].capex == 0.0
    assert r.flows[1].breakdown["support"] == pytest.approx(10_000.0)  # year 1 runs 100k only
    assert r.flows[2].breakdown["support"] == pytest.approx(15_000.0)
    assert r.flows[3].breakdown["residual_value"] == pytest.approx(-(40_000.0 + 30_000.0))


def test_growth_purchase_discounted_as_end_of_year_before_to_the_cent():
    # convention worked in docs/economics.md: r = 10 %, H = 2, 100k at t=0, 50k for year 2
    r = onprem_cash_flows(horizon_years=2, capex_usd={"servers": 100_000.0}, additions={2: {"servers": 50_000.0}},
                          average_power_w=0.0, tariff_usd_per_kwh=0.0, pue=1.0, depreciation_years=4)
    # residual: 100k x (1 - 2/4) + 50k x (1 - 1/4) = 50,000 + 37,500
    assert r.flows[2].capex == pytest.approx(-87_500.0)
    # NPV: 100,000 + 50,000 / 1.1 - 87,500 / 1.21 = 100,000 + 45,454.55 - 72,314.05 = 73,140.50
    assert round(r.npv(0.10), 2) == 73_140.50
    # the break-even timeline pays the 50k at month 12, where the NPV discounts it
    assert cumulative_cost_at(r.flows, 11.99) == pytest.approx(100_000.0)
    assert cumulative_cost_at(r.flows, 12.0) == pytest.approx(150_000.0)


def test_refresh_at_depreciation_life_and_residual_from_the_same_schedule():
    # H = 7, life 5: the year-0 server is bought again at t = 5 (start of year 6), 2 years old at the end
    r = small_onprem(horizon_years=7, depreciation_years=5)
    assert r.flows[5].breakdown["hardware_refresh"] == pytest.approx(100_000.0)
    assert r.flows[5].capex == pytest.approx(110_000.0)  # installed again (10 %)
    assert "hardware_refresh" not in r.flows[4].breakdown
    assert r.flows[-1].breakdown["residual_value"] == pytest.approx(-60_000.0)  # 100k x (1 - 2/5)
    # a life that ends exactly at the horizon is not refreshed; its residual is zero
    r5 = small_onprem(horizon_years=5, depreciation_years=5)
    assert all("hardware_refresh" not in f.breakdown for f in r5.flows)
    assert r5.flows[-1].breakdown["residual_value"] == 0.0
    # a 10-year horizon with a 3-year life: refreshed at t = 3, 6, 9; residual 100k x (1 - 1/3)
    r10 = small_onprem(horizon_years=10, depreciation_years=3)
    assert [f.year for f in r10.flows if "hardware_refresh" in f.breakdown] == [3, 6, 9]
    assert r10.flows[-1].breakdown["residual_value"] == pytest.approx(-100_000.0 * 2 / 3)


def test_refresh_vectorized_over_depreciation_samples():
    r = small_onprem(horizon_years=7, depreciation_years=np.array([5.0, 8.0]))
    assert np.allclose(r.flows[5].breakdown["hardware_refresh"], [100_000.0, 0.0])
    assert np.allclose(r.flows[-1].breakdown["residual_value"], [-60_000.0, -12_500.0])


def test_own_facility_and_assumptions():
    prov = {"pue": Assumption("pue", 1.58, "ratio", "Uptime 2023", True)}
    r = small_onprem(facility="own", own_facility_usd_per_kw_year=100.0, pue=1.58, provenance=prov)
    assert r.flows[1].breakdown["space_cooling"] == pytest.approx(200.0)
    names = {a.name: a for a in r.assumptions}
    assert names["pue"].source == "Uptime 2023" and names["pue"].assumption
    assert names["tariff_usd_per_kwh"].source == "scenario input"
    assert "own_facility_usd_per_kw_year" in names and "colocation_usd_per_kw_month" not in names


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"pue": 0.9}, "economics.pue"),
        ({"tariff_usd_per_kwh": -1}, "economics.tariff_usd_per_kwh"),
        ({"horizon_years": 0}, "horizon_years"),
        ({"facility": "cave"}, "economics.facility"),
        ({"support_pct_of_capex": 2.0}, "economics.support_pct_of_capex"),
        ({"average_power_w": [1.0, 2.0]}, "average_power_w"),
        ({"additions": {9: {"x": 1.0}}}, "additions"),
        ({"depreciation_years": 0}, "economics.depreciation_years"),
    ],
)
def test_onprem_bad_input_names_field(kw, field):
    with pytest.raises(DeployscopeError) as ei:
        small_onprem(**kw)
    assert ei.value.field == field


# --- cloud / API / hybrid ---------------------------------------------------------------


def test_cloud_on_demand_hand_computed():
    r = cloud_cash_flows(horizon_years=3, price_usd_per_hour=10.0, instances=2, pricing="on_demand", utilization=0.5)
    assert [f.opex for f in r.flows] == [0.0, 87_600.0, 87_600.0, 87_600.0]
    assert r.flows[1].breakdown["cloud_on_demand"] == 87_600.0


def test_cloud_commitment_bills_every_hour_and_beyond_horizon():
    r = cloud_cash_flows(horizon_years=2, price_usd_per_hour=6.0, instances=2, pricing="3y", utilization=0.1)
    assert r.flows[1].opex == pytest.approx(105_120.0)
    # a 3-year term on a 2-year horizon: the third year is still owed, charged in year 2
    assert r.flows[2].breakdown["commitment_beyond_horizon"] == pytest.approx(105_120.0)
    assert r.total() == pytest.approx(3 * 105_120.0)
    r1 = cloud_cash_flows(horizon_years=3, price_usd_per_hour=6.0, instances=1, pricing="1y")
    assert "commitment_beyond_horizon" not in r1.flows[3].breakdown


def test_cloud_spot_overhead_and_price_decline():
    r = cloud_cash_flows(horizon_years=2, price_usd_per_hour=1.0, instances=1, pricing="spot", spot_overhead_fraction=0.1, price_change_per_year=-0.5)
    assert r.flows[1].opex == pytest.approx(8760 * 1.1)
    assert r.flows[2].opex == pytest.approx(8760 * 1.1 * 0.5)
    with pytest.raises(DeployscopeError) as ei:
        cloud_cash_flows(horizon_years=2, price_usd_per_hour=1.0, instances=1, pricing="monthly")
    assert ei.value.field == "pricing"


def test_api_hand_computed_with_growth():
    r = api_cash_flows(
        horizon_years=3,
        input_tokens_per_year=1e9,
        output_tokens_per_year=5e8,
        input_usd_per_million_tokens=0.5,
        output_usd_per_million_tokens=1.5,
        growth_per_year=1.0,
    )
    assert [round(f.opex, 2) for f in r.flows] == [0.0, 1250.00, 2500.00, 5000.00]
    assert r.tokens == pytest.approx(1.5e9 * 7)
    assert r.unit_costs()["per_million_tokens"] == pytest.approx(8750 / (1.5e3 * 7))


def test_api_images_and_missing_price():
    r = api_cash_flows(horizon_years=1, images_per_year=1000, usd_per_image=0.04)
    assert r.flows[1].breakdown["api_images"] == pytest.approx(40.0)
    assert r.unit_costs()["per_image"] == pytest.approx(0.04)
    with pytest.raises(DeployscopeError):
        api_cash_flows(horizon_years=1, images_per_year=1000)
    with pytest.raises(DeployscopeError):
        api_cash_flows(horizon_years=1, input_tokens_per_year=1e6, output_tokens_per_year=1e6)


def test_hybrid_adds_parts_and_prefixes_breakdown():
    base = small_onprem(tokens_per_year=8e8)
    burst = api_cash_flows(horizon_years=3, input_tokens_per_year=1e8, output_tokens_per_year=1e8, input_usd_per_million_tokens=1, output_usd_per_million_tokens=1)
    h = hybrid_cash_flows(base, burst)
    assert h.kind == "hybrid"
    assert h.total() == pytest.approx(base.total() + burst.total())
    assert h.npv(0.08) == pytest.approx(base.npv(0.08) + burst.npv(0.08))
    assert "on_prem.power" in h.flows[1].breakdown and "burst.api_input_tokens" in h.flows[1].breakdown
    assert h.tokens == pytest.approx(base.tokens + burst.tokens)
    assert h.energy_kwh == base.energy_kwh
    assert split_volume(100.0, 0.25) == (75.0, 25.0)


def test_to_dict_is_json_ready():
    import json

    d = small_onprem().to_dict(discount_rate=0.1)
    json.dumps(d)
    assert d["cash_flows"][0] == {"year": 0, "capex": 110000.0, "opex": 0.0, "breakdown": {"servers": 100000.0, "installation": 10000.0}}
    assert round(d["npv"], 2) == 247347.36


# --- NPV / break-even ----------------------------------------------------------------------


def test_npv_conventions():
    flows = [CashFlow(0, 100.0, 0.0), CashFlow(1, 0.0, 110.0)]
    assert npv(flows, 0.10) == pytest.approx(200.0)
    assert npv(flows, 0.0) == total(flows) == 210.0
    with pytest.raises(DeployscopeError):
        npv(flows, -1.0)


def flows_of(capex0, opex, horizon=3):
    return [CashFlow(0, capex0, 0.0)] + [CashFlow(y, 0.0, opex) for y in range(1, horizon + 1)]


def test_break_even_cases():
    assert break_even_month(flows_of(1200, 0), flows_of(0, 1200)) == pytest.approx(12.0)
    assert break_even_month(flows_of(600, 0), flows_of(0, 1200)) == pytest.approx(6.0)
    assert break_even_month(flows_of(1200, 600), flows_of(0, 1200)) == pytest.approx(24.0)
    assert break_even_month(flows_of(1200, 1200), flows_of(0, 1200)) is None
    assert break_even_month(flows_of(0, 100), flows_of(0, 1200)) == 0.0
    # residual credit at the horizon end can be what makes a break even
    a = flows_of(1000, 0, horizon=1)
    a[-1] = CashFlow(1, -500.0, 0.0)
    assert break_even_month(a, flows_of(0, 600, horizon=1)) == pytest.approx(12.0)


@settings(max_examples=60, deadline=None)
@given(
    capex=st.floats(0, 1e6),
    opex_a=st.floats(0, 1e5),
    opex_b=st.floats(0, 1e5),
    horizon=st.integers(1, 8),
)
def test_break_even_is_a_crossing(capex, opex_a, opex_b, horizon):
    a, b = flows_of(capex, opex_a, horizon), flows_of(0, opex_b, horizon)
    m = break_even_month(a, b)
    if m is None:
        assert cumulative_cost_at(a, 12 * horizon) > cumulative_cost_at(b, 12 * horizon) - 1e-6
    else:
        assert 0 <= m <= 12 * horizon
        assert cumulative_cost_at(a, m) <= cumulative_cost_at(b, m) + 1e-3 * max(1.0, capex)


# --- invariants ----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(t1=st.floats(0, 1), dt=st.floats(0, 1), power=st.floats(0, 1e5), rate=st.floats(0, 0.3))
def test_higher_tariff_never_lowers_onprem_cost(t1, dt, power, rate):
    lo = small_onprem(tariff_usd_per_kwh=t1, average_power_w=power)
    hi = small_onprem(tariff_usd_per_kwh=t1 + dt, average_power_w=power)
    assert hi.total() >= lo.total() - 1e-6
    assert hi.npv(rate) >= lo.npv(rate) - 1e-6


@settings(max_examples=60, deadline=None)
@given(
    demand=st.floats(0, 1e12),
    more=st.floats(0, 1e12),
    growth=st.floats(0, 3),
    rate=st.floats(0, 0.3),
    pricing=st.sampled_from(["on_demand", "1y", "3y", "spot"]),
)
def test_more_demand_never_lowers_any_option_cost(demand, more, growth, rate, pricing):
    # API: more tokens and images
    api = lambda d: api_cash_flows(  # noqa: E731
        horizon_years=4, input_tokens_per_year=d, output_tokens_per_year=d / 2, input_usd_per_million_tokens=0.2,
        output_usd_per_million_tokens=0.6, images_per_year=d / 1e6, usd_per_image=0.01, growth_per_year=growth,
    )
    assert api(demand + more).npv(rate) >= api(demand).npv(rate) - 1e-6
    # cloud: demand -> instances (more demand never means fewer instances)
    inst = lambda d: float(np.ceil(d / 1e11))  # noqa: E731
    cloud = lambda d: cloud_cash_flows(horizon_years=4, price_usd_per_hour=5.0, instances=inst(d), pricing=pricing)  # noqa: E731
    assert cloud(demand + more).npv(rate) >= cloud(demand).npv(rate) - 1e-6
    # on-prem: demand -> servers, power and space
    servers = lambda d: float(np.ceil(d / 1e11))  # noqa: E731
    onp = lambda d: small_onprem(  # noqa: E731
        capex_usd={"servers": 250_000.0 * servers(d)}, average_power_w=8000.0 * servers(d), provisioned_kw=10.2 * servers(d)
    )
    assert onp(demand + more).npv(rate) >= onp(demand).npv(rate) - 1e-6
    # hybrid: a larger burst share on top of the same base
    h = lambda d: hybrid_cash_flows(onp(0.0), api(d))  # noqa: E731
    assert h(demand + more).npv(rate) >= h(demand).npv(rate) - 1e-6


def test_vectorized_inputs_match_scalar_runs():
    tariffs = np.array([0.05, 0.1, 0.2])
    vec = small_onprem(tariff_usd_per_kwh=tariffs).npv(0.08)
    one = [small_onprem(tariff_usd_per_kwh=float(t)).npv(0.08) for t in tariffs]
    assert np.allclose(vec, one)


def test_average_power_linear_model():
    assert average_power_w(100.0, 700.0, 0.5) == pytest.approx(400.0)
    with pytest.raises(DeployscopeError):
        average_power_w(100.0, 700.0, 1.5)


# --- defaults from the catalog -------------------------------------------------------------------


def test_economic_inputs_from_catalog_with_provenance():
    from deployscope.catalog import Catalog

    cat = Catalog("")
    e = economic_inputs(cat, region="us")
    assert e.tariff_usd_per_kwh == pytest.approx(0.0806)
    assert e.provenance["tariff_usd_per_kwh"].source.startswith("electricity.us")
    assert e.provenance["discount_rate"].assumption is True
    de = economic_inputs(cat, region="de", facility="own")
    # EUR tariff converted with the catalog's FX rate
    assert de.tariff_usd_per_kwh == pytest.approx(0.199 * 1.1814)
    assert de.pue == pytest.approx(1.58)
    o = economic_inputs(cat, overrides={"tariff_usd_per_kwh": 0.3})
    assert o.tariff_usd_per_kwh == 0.3 and o.provenance["tariff_usd_per_kwh"].source == "scenario"
    with pytest.raises(DeployscopeError) as ei:
        economic_inputs(cat, overrides={"tarif": 0.3})
    assert ei.value.field == "economics.tarif"
    r = onprem_cash_flows(horizon_years=2, capex_usd={"servers": 1e5}, average_power_w=5000, **e.onprem_kwargs())
    assert any(a.name == "staff_fte" and "staff.fte_onprem" in a.source for a in r.assumptions)


# --- commitments: whole terms -------------------------------------------------------------------


def test_commitment_added_in_year_two_is_charged_its_whole_term_to_the_cent():
    # 3y at 2 USD/h: 1 instance from year 1, 2 from year 2, horizon 3
    r = cloud_cash_flows(horizon_years=3, price_usd_per_hour=2.0, instances=[1, 2, 2], pricing="3y")
    assert r.flows[1].breakdown["cloud_commitment_3y"] == pytest.approx(17_520.00)
    assert r.flows[2].breakdown["cloud_commitment_3y"] == pytest.approx(35_040.00)
    # the year-2 instance's term runs through year 4: one instance-year past the horizon
    assert r.flows[3].breakdown["commitment_beyond_horizon"] == pytest.approx(17_520.00)
    assert round(r.total(), 2) == 17_520.00 + 35_040.00 * 2 + 17_520.00
    assert any("remaining obligation past the horizon: 17,520 USD" in n for n in r.notes)


def test_commitment_renews_at_that_years_price_and_never_shrinks_mid_term():
    r = cloud_cash_flows(horizon_years=3, price_usd_per_hour=1.0, instances=[2, 1, 1], pricing="1y",
                         price_change_per_year=-0.5)
    # 1y terms: year 1 two at 1.0; year 2 one renewed at 0.5; year 3 one at 0.25
    assert [round(f.opex, 2) for f in r.flows] == [0.0, 17_520.00, 4_380.00, 2_190.00]
    r3 = cloud_cash_flows(horizon_years=3, price_usd_per_hour=1.0, instances=[2, 1, 1], pricing="3y")
    # a 3-year commitment on two instances is owed in full although year 2 needs one
    assert [round(f.opex, 2) for f in r3.flows] == [0.0, 17_520.00, 17_520.00, 17_520.00]


@settings(max_examples=60, deadline=None)
@given(
    inst=st.lists(st.integers(0, 20), min_size=1, max_size=6),
    price=st.floats(0.1, 100),
    pricing=st.sampled_from(["1y", "3y"]),
)
def test_commitments_never_cost_less_than_their_whole_term(inst, price, pricing):
    term = {"1y": 1, "3y": 3}[pricing]
    r = cloud_cash_flows(horizon_years=len(inst), price_usd_per_hour=price, instances=inst, pricing=pricing)
    # 1y: every needed instance-year is committed; 3y: the peak count is held for a whole term
    floor_cost = sum(inst) * 8760 * price if term == 1 else max(inst) * 8760 * price * term
    assert r.total() >= floor_cost * (1 - 1e-9) - 1e-6
