"""A hand-computed TCO for a small on-prem case matches the planner's figures to the cent.

The planner decides the sizing (GPUs, servers, storage) from the physics; this test takes those
counts from the Plan and recomputes every cash flow by hand from the scenario's inputs and the
catalog rows, with the formulas of docs/plan.md: purchase at year 0, power, colocation, support,
staff each operating year, straight-line residual value credited at the horizon.
"""

from __future__ import annotations

import pytest

from deployscope import default_catalog, plan

SERVER_PRICE = 200_000.00
TARIFF = 0.10
PUE = 1.5
COLO = 150.0
SUPPORT = 0.10
INSTALL = 0.10
FTE = 0.5
FTE_COST = 100_000.0
RATE = 0.10
DEPRECIATION = 4.0
H = 2


def small_case() -> dict:
    return {
        "name": "tco-hand-check",
        "horizon_years": H,
        "workloads": [
            {
                "name": "chat",
                "kind": "llm",
                "model": "llama-3.1-8b-instruct",
                "requests_per_day": 1000,
                "input_tokens": {"mean": 500},
                "output_tokens": {"mean": 200},
            }
        ],
        "load_profile": {"shape": "flat"},
        "availability": {"redundancy": "n+1"},
        "economics": {
            "region": "us",
            "tariff_per_kwh": TARIFF,
            "pue": PUE,
            "facility": "colocation",
            "colocation_per_kw_month": COLO,
            "support_pct_capex": SUPPORT * 100,
            "installation_pct_capex": INSTALL * 100,
            "staff_fte": FTE,
            "staff_cost_per_fte": FTE_COST,
            "discount_rate": RATE,
            "depreciation_years": DEPRECIATION,
            "hardware_prices": {"hgx-h100-8gpu": SERVER_PRICE, "dgx-h100": 10 * SERVER_PRICE},
        },
        "candidates": {"placements": ["on_prem"], "gpus": ["h100-sxm-80gb"]},
        "monte_carlo_samples": 0,
    }


@pytest.fixture(scope="module")
def result():
    return plan(small_case())


def test_hand_computed_tco_matches_to_the_cent(result):
    opt = result.option("on_prem-h100-sxm-80gb")
    perf = opt.performance
    assert perf.server == "hgx-h100-8gpu"
    assert perf.gpus == 2  # one replica for 1,000 requests a day, plus the N+1 spare
    servers = perf.servers
    assert servers == 1

    cat = default_catalog()
    row = cat.servers.get("hgx-h100-8gpu")
    storage = min((s for s in cat.storage if s.tier == "nvme" and s.price_usd_per_tb), key=lambda s: s.price_usd_per_tb)
    max_kw = row.max_power_kw
    idle = cat.economic_defaults.get("power.idle_fraction")
    # average draw = idle + busy share of the installed GPUs x (maximum - idle) (docs/economics.md)
    idle_kw = max_kw * idle.value
    busy_share = perf.utilization * perf.gpus / (servers * row.gpu_slots)
    avg_kw = idle_kw + busy_share * (max_kw - idle_kw)

    hardware = servers * SERVER_PRICE + perf.storage_tb * storage.price_usd_per_tb
    capex0 = hardware * (1 + INSTALL)
    power = servers * avg_kw * 8760 * PUE * TARIFF
    space = COLO * servers * max_kw * 12
    support = SUPPORT * hardware
    staff = FTE * FTE_COST
    opex = power + space + support + staff
    residual = hardware * max(0.0, 1 - H / DEPRECIATION)

    flows = {f.year: f for f in opt.cash_flows}
    assert flows[0].capex == pytest.approx(capex0, abs=0.005)
    assert flows[0].opex == pytest.approx(0.0, abs=0.005)
    for y in (1, 2):
        assert flows[y].opex == pytest.approx(opex, abs=0.005)
    assert flows[2].capex == pytest.approx(-residual, abs=0.005)
    assert flows[1].breakdown["power"] == pytest.approx(power, abs=0.005)
    assert flows[1].breakdown["space_cooling"] == pytest.approx(space, abs=0.005)

    total = capex0 + 2 * opex - residual
    npv = capex0 + opex / (1 + RATE) + (opex - residual) / (1 + RATE) ** 2
    assert opt.total_cost == pytest.approx(total, abs=0.005)
    assert opt.npv == pytest.approx(npv, abs=0.005)
    assert result.recommended == opt.id


def test_user_inputs_are_reported_as_user_assumptions(result):
    by_name = {a.name: a for a in result.assumptions}
    assert by_name["economics.tariff_per_kwh"].origin == "user"
    assert by_name["economics.tariff_per_kwh"].value == pytest.approx(TARIFF)
    assert by_name["economics.discount_rate"].origin == "user"


def test_defaults_are_reported_with_their_catalog_source():
    case = small_case()
    case["economics"] = {"hardware_prices": case["economics"]["hardware_prices"]}
    p = plan(case)
    by_name = {a.name: a for a in p.assumptions}
    tariff = by_name["economics.tariff_per_kwh"]
    assert tariff.origin in ("catalog_default", "assumption")
    assert tariff.source and "electricity.us" in tariff.source
    assert p.discount_rate == pytest.approx(default_catalog().economic_defaults.get("discount_rate").value)


def test_currency_conversion_scales_every_money_figure():
    usd = plan(small_case())
    case = small_case()
    case["currency"] = {"code": "EUR", "per_usd": 0.5, "as_of": "2025-06-30"}
    # inputs are in the scenario currency: halve them so the USD economics are unchanged
    eco = case["economics"]
    for k in ("tariff_per_kwh", "colocation_per_kw_month", "staff_cost_per_fte"):
        eco[k] = eco[k] * 0.5
    eco["hardware_prices"] = {k: v * 0.5 for k, v in eco["hardware_prices"].items()}
    eur = plan(case)
    a, b = usd.option("on_prem-h100-sxm-80gb"), eur.option("on_prem-h100-sxm-80gb")
    assert eur.currency == "EUR"
    assert b.npv == pytest.approx(a.npv * 0.5, rel=1e-9)
    assert b.total_cost == pytest.approx(a.total_cost * 0.5, rel=1e-9)


def test_a_per_gpu_price_override_lowers_on_prem_by_the_hand_amount():
    base = small_case()
    base["economics"]["hardware_prices"] = {}
    cheap = small_case()
    cheap["economics"]["hardware_prices"] = {"h100-sxm-80gb": 22_000.0}
    a = plan(base).option("on_prem-h100-sxm-80gb")
    b = plan(cheap).option("on_prem-h100-sxm-80gb")
    assert a.performance.servers == b.performance.servers == 1
    catalog_gpu = default_catalog().accelerators.get("h100-sxm-80gb").price_usd
    # one 8-GPU server sold with its GPUs: 8 x (31,904.63 - 22,000) less, plus the installation on it
    saving = 8 * (catalog_gpu - 22_000.0)
    c0 = {f.year: f for f in a.cash_flows}[0].capex - {f.year: f for f in b.cash_flows}[0].capex
    assert c0 == pytest.approx(saving * (1 + INSTALL), abs=0.01)
    assert b.npv < a.npv


def test_a_typo_in_a_price_map_is_refused_with_did_you_mean(capsys, tmp_path):
    import yaml

    from deployscope.cli import main

    case = small_case()
    case["economics"]["hardware_prices"] = {"h100-sxm-80g": 22_000.0}
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(case))
    rc = main(["plan", str(p), "--json"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "economics.hardware_prices.h100-sxm-80g" in err and "did you mean" in err and "h100-sxm-80gb" in err


def test_staff_grows_with_the_fleet_above_the_floor():
    case = small_case()
    del case["economics"]["staff_fte"]
    case["workloads"][0]["requests_per_day"] = 2_000_000_000
    opt = plan(case).option("on_prem-h100-sxm-80gb")
    gpus = opt.performance.servers * 8
    assert gpus > 125  # above the floor
    staff = {f.year: f for f in opt.cash_flows}[H].breakdown["staff"]
    assert staff == pytest.approx(max(0.5, gpus / 250) * FTE_COST, rel=1e-9)
    # the servers share one 64-port top-of-rack switch
    assert {f.year: f for f in opt.cash_flows}[0].breakdown["network"] == pytest.approx(15_652.17)


def test_the_utilization_input_drives_power_between_idle_and_maximum():
    cat = default_catalog()
    row = cat.servers.get("hgx-h100-8gpu")
    idle = cat.economic_defaults.get("power.idle_fraction").value
    powers = {}
    for u in (0.2, 0.8):
        case = small_case()
        case["economics"]["utilization"] = u
        opt = plan(case).option("on_prem-h100-sxm-80gb")
        powers[u] = {f.year: f for f in opt.cash_flows}[1].breakdown["power"]
        # one server: (idle + u x (max - idle)) x 8,760 h x PUE x tariff, to the cent
        kw = row.max_power_kw * (idle + u * (1 - idle))
        assert powers[u] == pytest.approx(kw * 8760 * PUE * TARIFF, abs=0.005)
    assert powers[0.8] > powers[0.2]
