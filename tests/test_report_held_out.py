"""A plan says how far predictions like its recommendation's were off on held-out measurements: the
groups (engine, GPU family, weight format) its serving predictions lean with, in the JSON, the HTML
and the Markdown report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployscope.catalog import Catalog
from deployscope.cli import main
from deployscope.report import render_html, render_markdown
from deployscope.result import Plan

GOLDEN = Path(__file__).with_name("golden")


def _plan(name: str) -> Plan:
    """A shipped example's golden plan (the run's volatile fields, left out of the golden file, put back)."""
    d = json.loads((GOLDEN / f"plan-{name}.json").read_text(encoding="utf-8"))
    return Plan.model_validate({"deployscope_version": "test", "elapsed_s": 0.0, **d})


def test_the_notices_are_the_catalogs_leaning_bands():
    """Every notice in a shipped example's plan is a catalog row beyond the limit, in the option's
    own engine group or a family / format group."""
    cat = Catalog()
    rows = {r.id: r for r in cat.error_bands}
    plan = _plan("hospital-assistant")
    seen = [b for o in plan.options for b in o.performance.held_out_bias]
    assert seen
    for b in seen:
        row = rows[b.band_id]
        assert row.signed_median == b.signed_median and row.rows == b.rows and row.metric == b.metric_class
    api = [o for o in _plan("saas-chat").options if o.placement == "api"]
    assert api and all(o.performance.held_out_bias == [] for o in api)  # a hosted API is not predicted by the model


def test_the_report_says_it_beside_the_recommendation():
    plan = _plan("hospital-assistant")
    best = next(o for o in plan.options if o.id == plan.recommended)
    assert best.performance.held_out_bias
    sentences = [b.sentence() for b in best.performance.held_out_bias]
    html, md = render_html(plan), render_markdown(plan)
    assert 'id="held-out-bias"' in html and all(s in html for s in sentences)
    assert "### How far such predictions were off" in md and all(f"- {s}" in md for s in sentences)
    assert "too low (median)" in sentences[0] or "too high (median)" in sentences[0]


def test_no_section_when_the_recommendation_leans_on_nothing():
    plan = _plan("saas-chat")
    assert not next(o for o in plan.options if o.id == plan.recommended).performance.held_out_bias
    assert 'id="held-out-bias"' not in render_html(plan)
    assert "How far such predictions were off" not in render_markdown(plan)


@pytest.mark.parametrize("example", ["hospital-assistant"])
def test_the_plan_json_carries_it(capsys, example):
    root = Path(__file__).resolve().parents[1]
    assert main(["plan", str(root / "examples" / f"{example}.yaml"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    best = next(o for o in d["options"] if o["id"] == d["recommended"])
    assert {"metric_class", "group", "signed_median", "rows", "band_id"} <= set(best["performance"]["held_out_bias"][0])
