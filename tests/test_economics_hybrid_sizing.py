"""Hybrid sizing: the NPV-optimal on-prem base in whole servers, checked against hand sums."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope.economics.hybrid_sizing import size_hybrid_base


def sized(**kw):
    args = {"gpus_per_server": 1, "server_usd": 10_000.0, "fixed_usd_per_server_year": 0.0, "idle_kw": 0.0, "max_kw": 0.0,
                "tariff_usd_per_kwh": 0.0, "pue": 1.0, "burst_usd_per_gpu_hour": 1.0, "discount_rate": 0.0, "depreciation_years": 1.0}
    args.update(kw)
    return size_hybrid_base(**args)


def test_one_year_hand_computed():
    # four hours standing for 2,190 h each: demand 1,1,1,3 GPUs
    week = [1, 1, 1, 3]
    # server 10,000: b=0 -> 6 x 2,190 = 13,140 of burst; b=1 -> 10,000 + 4,380 = 14,380: everything bursts
    r = sized(demand_gpus=[week])
    assert r.base_servers == (0,) and r.npv_usd == pytest.approx(13_140.0)
    assert "everything bursts" in r.why
    # server 5,000: b=1 -> 5,000 + 4,380 = 9,380 beats b=0 (13,140) and b=2 (10,000 + 2,190)
    r = sized(demand_gpus=[week], server_usd=5_000.0)
    assert r.base_servers == (1,) and r.npv_usd == pytest.approx(9_380.0)
    assert r.onprem_gpu_hours == (8_760.0,) and r.burst_gpu_hours == (4_380.0,)


def test_growth_buys_for_the_year_it_is_needed_with_residual_value():
    # 1 GPU all year 1, 2 GPUs all year 2; server 8,000, life 2 years, r = 0
    # (1, 2): 8,000 + 8,000 - 4,000 residual of the second = 12,000 (the optimum; (1,1) = 16,760, (2,2) = 16,000)
    r = sized(demand_gpus=[[1, 1], [2, 2]], server_usd=8_000.0, depreciation_years=2.0)
    assert r.base_servers == (1, 2) and r.npv_usd == pytest.approx(12_000.0)


def test_a_fixed_base_is_costed_under_the_same_model():
    r = sized(demand_gpus=[[1, 1], [2, 2]], server_usd=8_000.0, depreciation_years=2.0, fixed_base=[1, 1])
    assert r.npv_usd == pytest.approx(16_760.0)  # 8,000 + 8,760 of burst in year 2
    assert sized(demand_gpus=[[1, 1], [2, 2]], server_usd=8_000.0, depreciation_years=2.0, fixed_base=[2, 2]).npv_usd == pytest.approx(16_000.0)


def test_whole_instances_for_cloud_bursts_and_energy():
    # 8-GPU servers, 4-GPU burst instances: demand 10 GPUs every hour, one server owned
    r = sized(demand_gpus=[[10.0]], gpus_per_server=8, server_usd=1.0, burst_unit_gpus=4, max_servers=1,
              idle_kw=1.0, max_kw=3.0, tariff_usd_per_kwh=0.1, pue=1.5)
    # burst: 2 GPUs rounded to one 4-GPU instance every hour = 4 x 8,760; energy: (1 + 8/8 x 2) kW x 8,760 x 1.5 x 0.1
    assert r.base_servers == (1,)
    assert r.npv_usd == pytest.approx(1.0 + 4 * 8_760 + 3.0 * 8_760 * 1.5 * 0.1)


# the fleets the property tests draw: demand per year x hour, slots per server, server price, burst
# price per GPU-hour, discount rate, spare servers
_FLEET = dict(
    demand=st.lists(st.lists(st.floats(0, 40), min_size=1, max_size=24), min_size=1, max_size=4),
    slots=st.sampled_from([1, 4, 8]),
    price=st.floats(1_000, 400_000),
    rate=st.floats(0, 0.2),
    spare=st.integers(0, 4),
)


@settings(max_examples=40, deadline=None)
@given(burst=st.floats(0.1, 20), **_FLEET)
def test_hybrid_never_costs_more_than_the_better_pure_part(demand, slots, price, burst, rate, spare):
    kw = {"demand_gpus": demand, "gpus_per_server": slots, "server_usd": price, "fixed_usd_per_server_year": price * 0.1,
              "idle_kw": 1.0, "max_kw": 5.0, "tariff_usd_per_kwh": 0.1, "pue": 1.3, "burst_usd_per_gpu_hour": burst,
              "discount_rate": rate, "depreciation_years": 5.0, "spare_gpus": spare}
    best = size_hybrid_base(**kw)
    peak = max(max(d) for d in demand)
    n = math.ceil((peak + spare) / slots - 1e-9)  # the pure on-prem fleet: the peak plus the spare
    all_burst = size_hybrid_base(**kw, max_servers=0).npv_usd
    all_onprem = size_hybrid_base(**kw, fixed_base=[n] * len(demand)).npv_usd  # the peak's servers from year 1
    assert best.npv_usd <= min(all_burst, all_onprem) + 1e-6
    assert list(best.base_servers) == sorted(best.base_servers)  # never sold
    assert max(best.base_servers) <= n
    # the peak is always covered: on-prem + burst = demand
    for k, d in enumerate(demand):
        assert best.onprem_gpu_hours[k] + best.burst_gpu_hours[k] == pytest.approx(sum(d) * 8760 / len(d), rel=1e-9, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(demand=st.lists(st.floats(0, 30), min_size=1, max_size=12), more=st.floats(0, 10), price=st.floats(1e3, 3e5))
def test_more_demand_never_lowers_the_hybrid_cost(demand, more, price):
    kw = {"gpus_per_server": 8, "server_usd": price, "fixed_usd_per_server_year": 0.0, "idle_kw": 1.0, "max_kw": 6.0,
              "tariff_usd_per_kwh": 0.1, "pue": 1.3, "burst_usd_per_gpu_hour": 3.0, "discount_rate": 0.08, "depreciation_years": 5.0}
    lo = size_hybrid_base(demand_gpus=[demand], **kw).npv_usd
    hi = size_hybrid_base(demand_gpus=[list(np.asarray(demand) + more)], **kw).npv_usd
    assert hi >= lo - 1e-6


def test_the_team_floor_must_be_paid_by_the_base():
    # one server at 5,000 would win (9,380 < 13,140) but an owned fleet also needs 4,000 a year of staff
    r = sized(demand_gpus=[[1, 1, 1, 3]], server_usd=5_000.0, fixed_usd_per_year_if_owned=4_000.0)
    assert r.base_servers == (0,) and r.npv_usd == pytest.approx(13_140.0)


def test_the_redundancy_spare_serves_nothing_hand_computed():
    # 1-GPU servers at 1,000, burst 1 USD per GPU-hour, 2 GPUs busy all year (one hour standing for 8,760)
    # no spare: 2 servers, 2,000; one spare GPU: 3 servers (2 serve, 1 idle), 3,000 beats any burst
    assert sized(demand_gpus=[[2.0]], server_usd=1_000.0).base_servers == (2,)
    r = sized(demand_gpus=[[2.0]], server_usd=1_000.0, spare_gpus=1)
    assert r.base_servers == (3,) and r.npv_usd == pytest.approx(3_000.0)
    assert r.onprem_gpu_hours == (2 * 8_760.0,) and r.burst_gpu_hours == (0.0,)
    # a fixed base of 2 servers with a spare serves 1 GPU: 2,000 + 8,760 of burst
    r = sized(demand_gpus=[[2.0]], server_usd=1_000.0, spare_gpus=1, fixed_base=[2])
    assert r.npv_usd == pytest.approx(10_760.0) and r.burst_gpu_hours == (8_760.0,)
    # the spare draws idle power only: 8-GPU server, idle 1 kW, max 3 kW, 0.1 USD/kWh, PUE 1; 6 GPUs busy + 2 spare
    r = sized(demand_gpus=[[6.0]], gpus_per_server=8, server_usd=1.0, spare_gpus=2, idle_kw=1.0, max_kw=3.0,
              tariff_usd_per_kwh=0.1, fixed_base=[1])
    assert r.npv_usd == pytest.approx(1.0 + (1.0 + 6 / 8 * 2.0) * 8_760 * 0.1)


def test_batch_work_runs_in_the_bases_servers_hand_computed():
    # 8-GPU servers at 10,000, burst 1 USD per GPU-hour, one hour standing for 8,760, r = 0
    # serving needs 3 GPUs, a training job holds 4: one server holds both (3 + 4 <= 8): 10,000, nothing bursts
    r = sized(demand_gpus=[[3.0]], gpus_per_server=8, server_usd=10_000.0, held_gpus=[4.0])
    assert r.base_servers == (1,) and r.npv_usd == pytest.approx(10_000.0) and r.burst_gpu_hours == (0.0,)
    # rounded apart, the job would take a server of its own: the serving base (1 server, 10,000 < 3 x 8,760 of
    # burst) plus ceil(4 / 8) = 1 server for the job = 20,000
    apart = sized(demand_gpus=[[3.0]], gpus_per_server=8, server_usd=10_000.0).npv_usd + 10_000.0
    assert apart == pytest.approx(20_000.0) and r.npv_usd == apart - 10_000.0
    # a job of 6 GPUs leaves 2 to serve: 1 server + 1 GPU of burst all year = 18,760 beats 2 servers (20,000)
    r = sized(demand_gpus=[[3.0]], gpus_per_server=8, server_usd=10_000.0, held_gpus=[6.0])
    assert r.base_servers == (1,) and r.npv_usd == pytest.approx(18_760.0) and r.burst_gpu_hours == (8_760.0,)
    # the base always holds the batch work, even where bursting everything would be cheaper: 9 GPUs need 2 servers
    r = sized(demand_gpus=[[1.0]], gpus_per_server=8, server_usd=10_000.0, held_gpus=[9.0])
    assert r.base_servers == (2,) and r.npv_usd == pytest.approx(20_000.0)
    # with the spare: 8 - 1 spare - 4 held = 3 serve
    r = sized(demand_gpus=[[3.0]], gpus_per_server=8, server_usd=10_000.0, held_gpus=[4.0], spare_gpus=1)
    assert r.base_servers == (1,) and r.burst_gpu_hours == (0.0,)


def test_held_gpus_are_checked():
    from deployscope.errors import DeployscopeError

    with pytest.raises(DeployscopeError, match="held_gpus"):
        sized(demand_gpus=[[1.0]], held_gpus=[1.0, 2.0])
    with pytest.raises(DeployscopeError, match="held_gpus"):
        sized(demand_gpus=[[1.0]], held_gpus=[-1.0])


@settings(max_examples=40, deadline=None)
@given(burst=st.floats(0.3, 20), held=st.integers(0, 20), **_FLEET)
def test_one_fleet_never_costs_more_than_the_batch_work_rounded_apart_and_within_a_server_of_the_better_pure_part(
        demand, slots, price, burst, rate, spare, held):
    # burst at least the power an owned GPU draws busy (4 kW / 8 GPUs x 0.1 USD/kWh x 1.3 = 0.065 USD per GPU-hour)
    kw = {"demand_gpus": demand, "gpus_per_server": slots, "server_usd": price, "fixed_usd_per_server_year": price * 0.1,
          "idle_kw": 1.0, "max_kw": 5.0, "tariff_usd_per_kwh": 0.1, "pue": 1.3, "burst_usd_per_gpu_hour": burst,
          "discount_rate": rate, "depreciation_years": 5.0, "spare_gpus": spare}
    H = len(demand)
    one = size_hybrid_base(**kw, held_gpus=[held] * H)
    batch_servers = math.ceil(held / slots - 1e-9)
    # the batch work's own servers, costed under the same model (no load: capex, fixed costs and idle power)
    own = size_hybrid_base(**{**kw, "demand_gpus": [[0.0]] * H, "spare_gpus": 0}, fixed_base=[batch_servers] * H).npv_usd
    apart = size_hybrid_base(**kw).npv_usd + own
    assert one.npv_usd <= apart + 1e-6 * max(1.0, apart)
    assert all(n * slots >= held for n in one.base_servers)  # every year's batch work fits
    # the better pure part: everything on-prem (the peak, spare and batch in whole servers) or the least base that
    # holds the batch work with everything else bursting; the optimum is never above either
    peak = max(max(d) for d in demand)
    n = math.ceil((peak + spare + held) / slots - 1e-9)
    pure_onprem = size_hybrid_base(**kw, held_gpus=[held] * H, fixed_base=[n] * H).npv_usd
    pure_burst = size_hybrid_base(**kw, held_gpus=[held] * H, fixed_base=[batch_servers] * H).npv_usd
    assert one.npv_usd <= min(pure_onprem, pure_burst) + 1e-6 * max(1.0, pure_onprem)
    # rounded apart, the batch work costs up to one whole server (bought in year 1, run all horizon) more: never more
    one_server = size_hybrid_base(**{**kw, "demand_gpus": [[0.0]] * H, "spare_gpus": 0}, fixed_base=[1] * H).npv_usd
    assert apart - one.npv_usd <= one_server + 1e-6 * max(1.0, apart)
