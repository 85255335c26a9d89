"""`deployscope plan` end to end: every example plans; the JSON contract; reports; errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

import deployscope
from deployscope.cli import main
from deployscope.result import Plan

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ALL = sorted(EXAMPLES.glob("*.yaml"))
REQUIRED_EXAMPLES = {
    "synthetic-identities.yaml",
    "hospital-assistant.yaml",
    "marketing-images.yaml",
    "saas-chat.yaml",
    "quarterly-finetune-70b.yaml",
}
OPTION_KEYS = {
    "id", "placement", "placement_detail", "allowed", "excluded_because", "npv", "total_cost", "unit_costs",
    "cash_flows", "performance", "obligations", "assumptions", "sources",
}


def test_the_five_examples_exist():
    assert REQUIRED_EXAMPLES <= {p.name for p in ALL}


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {p.name: deployscope.plan(p) for p in ALL}


@pytest.mark.parametrize("name", sorted(REQUIRED_EXAMPLES))
def test_every_example_plans(plans, name):
    p = plans[name]
    assert p.recommended is not None
    best = p.option(p.recommended)
    assert best.allowed and best.rank == 1 and best.npv is not None and best.npv > 0
    assert p.rationale.summary and p.rationale.reasons
    assert p.candidates_evaluated > 0
    for o in p.options:
        assert o.allowed or o.excluded_because, o.id
        if o.npv is not None:
            assert o.npv > 0
            assert o.cash_flows[0].year == 0
            assert [f.year for f in o.cash_flows] == list(range(p.horizon_years + 1))


def test_json_contract(capsys):
    assert main(["plan", str(EXAMPLES / "saas-chat.yaml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data["recommended"], str)
    ids = [o["id"] for o in data["options"]]
    assert data["recommended"] in ids and len(ids) == len(set(ids))
    for o in data["options"]:
        assert OPTION_KEYS <= set(o), OPTION_KEYS - set(o)
        assert o["placement"] in ("on_prem", "cloud", "api", "hybrid")
        assert set(o["unit_costs"]) >= {"per_million_tokens", "per_image", "per_item"}
        for f in o["cash_flows"]:
            assert {"year", "capex", "opex"} <= set(f)
    assert {"rationale", "pareto", "sensitivity", "monte_carlo", "warnings", "scenario"} <= set(data)


def test_terminal_view_prints_the_recommendation_and_why(capsys):
    assert main(["plan", str(EXAMPLES / "hospital-assistant.yaml")]) == 0
    out = capsys.readouterr().out
    assert "recommended on_prem-" in out
    assert "Excluded options" in out and "air-gapped" in out


def test_placements_and_details(plans):
    p = plans["saas-chat.yaml"]
    kinds = {o.placement for o in p.options}
    assert {"on_prem", "api"} <= kinds
    # the hybrid's base is chosen by NPV: listed only where a base pays for itself, and the plan says why not elsewhere
    hybrids = [o for o in p.options if o.placement == "hybrid"]
    assert all("+" in h.placement_detail and any(w.startswith("hybrid base:") for w in h.warnings) for h in hybrids)
    assert hybrids or any(w.startswith("hybrid of on-prem") and "the same as" in w for w in p.warnings)
    frontier = [o for o in p.options if o.frontier]
    assert all(o.id != p.recommended for o in frontier)


def test_decision_views(plans):
    p = plans["saas-chat.yaml"]
    assert p.sensitivity and {b.input for b in p.sensitivity[0].bars} == {"tariff", "gpu_price", "utilization", "demand", "api_price"}
    assert p.monte_carlo is not None and p.monte_carlo.ranges
    for r in p.monte_carlo.ranges:
        assert r.p10 <= r.p50 <= r.p90
    assert abs(sum(r.prob_best or 0 for r in p.monte_carlo.ranges) - 1.0) < 1e-9
    assert p.pareto and all(p.option(pt.option_id).pareto for pt in p.pareto)
    assert p.rationale.what_would_change


def test_memory_and_curve_for_a_self_hosted_recommendation(plans):
    p = plans["hospital-assistant.yaml"]
    assert p.memory_breakdown is not None and p.memory_breakdown.parts
    assert p.latency_throughput and all(c.output_tokens_per_s > 0 for c in p.latency_throughput)


def test_plan_accepts_a_mapping_and_is_deterministic():
    data = yaml.safe_load((EXAMPLES / "marketing-images.yaml").read_text())
    a, b = deployscope.plan(data), deployscope.plan(dict(data))
    assert a.recommended == b.recommended
    assert [o.npv for o in a.options] == [o.npv for o in b.options]
    assert a.monte_carlo.ranges == b.monte_carlo.ranges


def test_report_json_is_written(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", str(EXAMPLES / "quarterly-finetune-70b.yaml"), "--report", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["recommended"] and data["options"]


def test_unknown_report_format_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "plan.txt"
    assert main(["plan", str(EXAMPLES / "saas-chat.yaml"), "--report", str(out)]) == 2
    assert "--report" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_bad_scenario_exits_2_naming_the_field(tmp_path, capsys):
    data = yaml.safe_load((EXAMPLES / "saas-chat.yaml").read_text())
    data["workloads"][0]["requests_per_user_per_day"] = "lots"
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(data))
    report = tmp_path / "r.json"
    assert main(["plan", str(f), "--report", str(report)]) == 2
    err = capsys.readouterr().err
    assert "workloads[0].requests_per_user_per_day" in err and "lots" in err
    assert not report.exists()


def test_unknown_model_in_plan_names_the_path(tmp_path, capsys):
    data = yaml.safe_load((EXAMPLES / "saas-chat.yaml").read_text())
    data["workloads"][0]["model"] = "gpt-17"
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(data))
    assert main(["plan", str(f), "--json"]) == 2
    assert "workloads[0].model" in capsys.readouterr().err


def test_to_dataframe(plans):
    import pandas as pd
    df = plans["saas-chat.yaml"].to_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert df.loc[plans["saas-chat.yaml"].recommended, "recommended"]


def test_to_dataframe_without_pandas_says_how_to_install(plans, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        plans["saas-chat.yaml"].to_dataframe()


def test_public_api_is_flat():
    assert deployscope.plan is not None and deployscope.Plan is Plan
    assert deployscope.load_scenario(EXAMPLES / "saas-chat.yaml").name == "saas-chat-assistant"
    assert "Scenario" in deployscope.__all__


def test_facility_rack_power_excludes_servers_with_the_reason():
    data = yaml.safe_load((EXAMPLES / "hospital-assistant.yaml").read_text())
    data["economics"]["facility_limits"] = {"kw_per_rack": 0.9, "cooling": "air"}
    data["monte_carlo_samples"] = 0
    # air-gapped, and no priced server fits a 0.9 kW rack (the lowest is a workstation with two 300 W
    # cards and a 350 W host, 0.95 kW): every option is excluded, each with its reason
    p = deployscope.plan(data)
    assert p.recommended is None
    assert p.options and all(not o.allowed and o.excluded_because for o in p.options)
    assert "No option is allowed" in p.rationale.summary
    data["policy"]["network_policy"] = "internet"
    data["policy"]["data_categories"] = ["none"]
    p = deployscope.plan(data)
    onprem = [o for o in p.options if o.placement == "on_prem"]
    assert onprem
    for o in onprem:
        assert not o.allowed
        assert any("per rack" in r for r in o.excluded_because), o.excluded_because


def test_facility_power_limit_excludes_large_fleets():
    data = yaml.safe_load((EXAMPLES / "saas-chat.yaml").read_text())
    data["economics"]["facility_limits"] = {"power_available_kw": 1, "cooling": "air"}
    data["candidates"]["placements"] = ["on_prem", "api"]
    data["monte_carlo_samples"] = 0
    p = deployscope.plan(data)
    onprem = [o for o in p.options if o.placement == "on_prem"]
    assert onprem and all(not o.allowed for o in onprem)
    # every option that fits the model and meets the latency targets is refused for the power it needs
    sized = [o for o in onprem if not o.excluded_because[0].startswith(("latency", "memory"))]
    assert sized and all("kW" in o.excluded_because[0] for o in sized)
    assert p.option(p.recommended).placement == "api"


def test_workloads_sharing_a_pool_share_the_spare():
    def case(pool_a, pool_b):
        wl = {"model": "llama-3.1-8b-instruct", "requests_per_day": 20000, "input_tokens": 800, "output_tokens": 200}
        return {
            "name": "pools",
            "workloads": [{**wl, "name": "a", "pool": pool_a}, {**wl, "name": "b", "pool": pool_b}],
            "candidates": {"placements": ["on_prem"], "gpus": ["h100-sxm-80gb"]},
            "monte_carlo_samples": 0,
        }

    separate = deployscope.plan(case("x", "y")).option("on_prem-h100-sxm-80gb")
    shared = deployscope.plan(case("x", "x")).option("on_prem-h100-sxm-80gb")
    per_replica = separate.performance.components[0].tp
    assert shared.performance.gpus == separate.performance.gpus - per_replica  # one N+1 spare instead of two
    assert shared.npv <= separate.npv
