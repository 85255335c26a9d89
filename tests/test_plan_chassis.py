"""On-prem options buy the chassis that gives the lowest NPV for their fleet, not the cheapest per
GPU slot: two GPUs go in a 2-GPU workstation rather than an 8-slot PCIe server, eight in the server."""

from __future__ import annotations

import copy

import pytest
import yaml

import deployscope

SMALL = {
    "name": "small-team", "horizon_years": 3, "currency": "USD",
    "workloads": [{"name": "helper", "kind": "llm", "model": "llama-3.1-8b-instruct", "users": 50, "requests_per_user_per_day": 10,
                   "input_tokens": {"mean": 800}, "output_tokens": {"mean": 200}}],
    "targets": {"ttft_p95_s": 2, "tpot_p95_s": 0.1},
    "policy": {"data_categories": ["personal"], "data_subject_jurisdictions": ["EU"], "organization_jurisdiction": "DE"},
    "candidates": {"placements": ["on_prem"], "gpus": ["rtx-6000-ada"]},
}


def _plan(tmp_path, scenario):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(scenario))
    plan = deployscope.plan(p)
    return next(o for o in plan.options if o.id == "on_prem-rtx-6000-ada")


def test_two_gpus_go_in_a_workstation_and_that_is_cheaper_than_the_server(tmp_path):
    chosen = _plan(tmp_path, SMALL)
    assert chosen.allowed and chosen.performance.server == "workstation-2gpu"
    assert chosen.performance.gpus <= 2
    # price the workstation out of reach: the same fleet in the 8-slot server costs more
    forced = copy.deepcopy(SMALL)
    forced["economics"] = {"hardware_prices": {"workstation-2gpu": 10_000_000}}
    in_server = _plan(tmp_path, forced)
    assert in_server.performance.server == "pcie-8gpu-server"
    assert in_server.npv > chosen.npv


def test_four_gpus_go_in_the_server(tmp_path):
    scn = copy.deepcopy(SMALL)
    scn["workloads"][0]["model"] = "llama-3.3-70b-instruct"
    chosen = _plan(tmp_path, scn)
    assert chosen.performance.server == "pcie-8gpu-server" and chosen.performance.gpus >= 4


@pytest.mark.parametrize(("model", "users"), [("llama-3.1-8b-instruct", 50), ("llama-3.3-70b-instruct", 200),
                                              ("llama-3.3-70b-instruct", 20_000)])
def test_the_chosen_chassis_is_never_dearer_than_the_other(tmp_path, model, users):
    scn = copy.deepcopy(SMALL)
    scn["workloads"][0].update(model=model, users=users)
    chosen = _plan(tmp_path, scn)
    other = "pcie-8gpu-server" if chosen.performance.server == "workstation-2gpu" else "workstation-2gpu"
    scn["economics"] = {"hardware_prices": {chosen.performance.server: 10_000_000}}
    alternative = _plan(tmp_path, scn)
    assert alternative.performance.server == other
    assert chosen.npv <= alternative.npv + 1e-6
