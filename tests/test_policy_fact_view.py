"""The planner evaluates every candidate's policy verdict with one FactView per plan (each rule's
fact condition read once): the verdicts must be those of evaluations that read the facts afresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployscope.catalog import default_catalog
from deployscope.policy import engine
from deployscope.scenario import load_scenario

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_a_shared_fact_view_gives_the_verdicts_of_fresh_evaluations() -> None:
    # the planner reads each rule's fact condition once per plan; every verdict must be the same
    cat = default_catalog()
    for example in ("hospital-assistant", "saas-chat"):
        facts = load_scenario(EXAMPLES / f"{example}.yaml").policy
        view = engine.FactView.of(facts, cat)
        for row in list(cat.cloud_instances)[:40] + list(cat.api_prices)[:40]:
            option = engine.option_from_row(row, catalog=cat)
            for lic in ("llama3.1", "llama4", "apache-2.0", "gemma", None):
                fresh = engine.evaluate(facts, option, cat, model_license=lic)
                shared = engine.evaluate(facts, option, cat, model_license=lic, view=view)
                assert shared.model_dump() == fresh.model_dump()
    with pytest.raises(ValueError):
        engine.evaluate(load_scenario(EXAMPLES / "saas-chat.yaml").policy, option, cat, view=view)
