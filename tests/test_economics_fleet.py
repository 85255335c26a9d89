"""Fleet-size costs and the server power model: hand-computed cases and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope.catalog import default_catalog
from deployscope.economics import onprem_cash_flows
from deployscope.economics.fleet import (
    average_draw_kw,
    ethernet_switches,
    facility_warning,
    needs_scale_out_fabric,
    server_power,
    staff_fte,
)
from deployscope.errors import DeployscopeError


def test_every_server_row_has_power_on_one_basis():
    cat = default_catalog()
    idle = cat.economic_defaults.get("power.idle_fraction").value
    for s in cat.servers:
        if s.form_factor in ("pcie", "workstation"):
            continue  # chassis rows carry the host allowance with their price (see test below)
        gpu = cat.accelerators.get(s.accepts_gpu_ids[0])
        p = server_power(gpu_tdp_w=gpu.tdp_w, gpu_slots=s.gpu_slots, max_power_kw=s.max_power_kw,
                         host_power_kw=s.host_power_kw, idle_power_kw=s.idle_power_kw, idle_fraction=idle)
        # the system maximum always exceeds the GPUs' TDP alone (host, fans, NICs included)
        assert p.max_kw > gpu.tdp_w * s.gpu_slots / 1000.0, s.id


def test_mi300x_server_on_the_system_basis_to_the_watt():
    # 8 x 750 W + 4.6 kW host allowance = 10.6 kW, idle 0.29 x 10.6 = 3.074 kW (the catalog default)
    assert default_catalog().economic_defaults.get("power.idle_fraction").value == 0.29
    p = server_power(gpu_tdp_w=750, gpu_slots=8, host_power_kw=4.6, idle_fraction=0.29)
    assert p.max_kw == pytest.approx(10.6) and p.basis == "components"
    assert p.idle_kw == pytest.approx(3.074)
    # at 35 % utilization: 3.074 + 0.35 x 7.526 = 5.7081 kW; a year at PUE 1.3 and 0.10 USD/kWh: 6,500.38 USD
    assert average_draw_kw(p, 0.35) == pytest.approx(5.7081)
    assert round(average_draw_kw(p, 0.35) * 8_760 * 1.3 * 0.10, 2) == 6_500.38


def test_server_power_refuses_a_row_without_power_and_idle_above_max():
    with pytest.raises(DeployscopeError) as ei:
        server_power(gpu_tdp_w=700, gpu_slots=8, idle_fraction=0.2)
    assert ei.value.field == "servers.max_power_kw"
    with pytest.raises(DeployscopeError):
        server_power(gpu_tdp_w=700, gpu_slots=8, max_power_kw=1.0, idle_power_kw=2.0, idle_fraction=0.2)


@settings(max_examples=80, deadline=None)
@given(u1=st.floats(0, 1), du=st.floats(0, 1), idle=st.floats(0, 1), mx=st.floats(0.1, 20))
def test_higher_utilization_never_lowers_power_cost(u1, du, idle, mx):
    p = server_power(gpu_tdp_w=700, gpu_slots=8, max_power_kw=mx, idle_fraction=idle)
    u2 = min(1.0, u1 + du)
    lo = onprem_cash_flows(horizon_years=2, capex_usd={}, average_power_w=average_draw_kw(p, u1) * 1000,
                           tariff_usd_per_kwh=0.1, pue=1.3)
    hi = onprem_cash_flows(horizon_years=2, capex_usd={}, average_power_w=average_draw_kw(p, u2) * 1000,
                           tariff_usd_per_kwh=0.1, pue=1.3)
    assert hi.flows[1].breakdown["power"] >= lo.flows[1].breakdown["power"] - 1e-9


def test_staff_scales_with_gpus_above_a_floor():
    assert staff_fte(8, gpus_per_fte=250, floor_fte=0.5) == pytest.approx(0.5)
    assert staff_fte(5288, gpus_per_fte=250, floor_fte=0.5) == pytest.approx(21.152)
    assert np.allclose(staff_fte(np.array([0, 250, 500]), gpus_per_fte=250, floor_fte=0.5), [0.5, 1.0, 2.0])
    # per-year staff in the cash flows: 0.5 then 2 FTE at 100k
    r = onprem_cash_flows(horizon_years=2, capex_usd={}, average_power_w=0.0, tariff_usd_per_kwh=0.0, pue=1.0,
                          staff_fte=[0.5, 2.0], staff_usd_per_fte_year=100_000.0)
    assert [f.breakdown.get("staff") for f in r.flows[1:]] == [50_000.0, 200_000.0]


def test_ethernet_per_group_of_servers_and_fabric_only_for_multi_node_jobs():
    assert list(ethernet_switches(np.array([0, 1, 2, 64, 65, 661]), 64)) == [0, 0, 1, 1, 2, 11]
    assert not needs_scale_out_fabric(8, 8)   # a LoRA job on one 8-GPU server
    assert needs_scale_out_fabric(16, 8)


def test_facility_warning_above_the_quoted_size():
    assert facility_warning(400, 500, "CBRE") is None
    w = facility_warning(6_742, 500, "CBRE H2 2024")
    assert "6,742 kW" in w and "500 kW" in w


def test_server_price_with_a_per_gpu_override_to_the_cent():
    from deployscope.economics.fleet import server_price_usd

    # HGX H100: 255,237.04 sold with 8 GPUs at 31,904.63 each in the catalog; override 22,000
    # -> 255,237.04 - 8 x 31,904.63 + 8 x 22,000 = 176,000.00 (lower by 8 x 9,904.63 = 79,237.04)
    p = server_price_usd(server_price=255_237.04, includes_gpus=True, gpu_slots=8, gpu_price=22_000.0,
                         included_gpu_price=31_904.63)
    assert round(p, 2) == 176_000.00
    # no override: the catalog price
    assert server_price_usd(server_price=255_237.04, includes_gpus=True, gpu_slots=8, gpu_price=31_904.63,
                            included_gpu_price=31_904.63) == pytest.approx(255_237.04)
    # a chassis sold without GPUs: 6,000 + 4 x 8,565
    assert server_price_usd(server_price=6_000.0, includes_gpus=False, gpu_slots=4, gpu_price=8_565.0) == 40_260.0
    assert server_price_usd(server_price=None, includes_gpus=False, gpu_slots=4, gpu_price=1.0) is None


@settings(max_examples=80, deadline=None)
@given(base=st.floats(1e3, 1e6), slots=st.integers(1, 8), g=st.floats(0, 1e5), dg=st.floats(0, 1e5),
       inc=st.booleans())
def test_a_higher_gpu_price_never_lowers_the_server_price(base, slots, g, dg, inc):
    from deployscope.economics.fleet import server_price_usd

    lo = server_price_usd(server_price=base, includes_gpus=inc, gpu_slots=slots, gpu_price=g, included_gpu_price=base / slots / 2)
    hi = server_price_usd(server_price=base, includes_gpus=inc, gpu_slots=slots, gpu_price=g + dg, included_gpu_price=base / slots / 2)
    assert hi - lo == pytest.approx(slots * dg, rel=1e-9, abs=1e-6)


def test_hardware_price_keys_are_checked_with_did_you_mean():
    from deployscope.catalog.prices import resolve_hardware_prices

    ok = resolve_hardware_prices({"h100-sxm-80gb": 22_000, "hgx-h100-8gpu": 250_000})
    assert ok["h100-sxm-80gb"] == ("accelerators", "h100-sxm-80gb", 22_000.0)
    assert ok["hgx-h100-8gpu"][0] == "servers"
    with pytest.raises(DeployscopeError) as ei:
        resolve_hardware_prices({"h100-sxm-80g": 22_000})
    assert ei.value.field == "economics.hardware_prices.h100-sxm-80g"
    assert "did you mean" in str(ei.value) and "h100-sxm-80gb" in str(ei.value)
    with pytest.raises(DeployscopeError) as ei:
        resolve_hardware_prices({"h100-sxm-80gb": -5})
    assert "above zero" in str(ei.value) and ei.value.value == -5
