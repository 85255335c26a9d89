"""A plan says how far predictions like its recommendation's were off on held-out measurements: the
groups (engine, GPU family, weight format) its serving predictions lean with, in the JSON, the HTML
and the Markdown report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from deployscope.catalog import Catalog
from deployscope.cli import main
from deployscope.report import render_html, render_markdown
from deployscope.result import Plan

GOLDEN = Path(__file__).with_name("golden")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: the shipped examples serve on vLLM; a user catalog makes its TTFT band lean past the limit
LEANING_SIGNED_MEDIAN = -0.2


def _plan(name: str) -> Plan:
    """A shipped example's golden plan (the run's volatile fields, left out of the golden file, put back)."""
    d = json.loads((GOLDEN / f"plan-{name}.json").read_text(encoding="utf-8"))
    return Plan.model_validate({"deployscope_version": "test", "elapsed_s": 0.0, **d})


@pytest.fixture
def leaning_catalog(tmp_path, monkeypatch):
    """A user catalog whose vLLM TTFT band (the bundled row, its signed median changed) leans past
    error_bands.BIAS_LIMIT."""
    from deployscope.catalog.loader import BUNDLED_DIR, set_default_catalog

    rows = yaml.safe_load((BUNDLED_DIR / "error_bands.yaml").read_text(encoding="utf-8"))
    row = next(r for r in rows if r["id"] == "llm-ttft-vllm")
    user = tmp_path / "catalog"
    user.mkdir()
    (user / "error_bands.yaml").write_text(yaml.safe_dump([{**row, "signed_median": LEANING_SIGNED_MEDIAN}]), encoding="utf-8")
    monkeypatch.setenv("DEPLOYSCOPE_CATALOG", str(user))
    set_default_catalog(None)
    yield user
    set_default_catalog(None)


def _planned(capsys, example: str) -> dict:
    assert main(["plan", str(EXAMPLES / f"{example}.yaml"), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_golden_plans_carry_the_bundled_catalogs_leaning_bands():
    """Every notice in a shipped example's golden plan is a bundled catalog row beyond the limit (its
    signed median and rows as the catalog has them), and a hosted API carries none: the model does not
    predict it."""
    rows = {r.id: r for r in Catalog().error_bands}
    for name in ("hospital-assistant", "saas-chat"):
        plan = _plan(name)
        for o in plan.options:
            for b in o.performance.held_out_bias:
                row = rows[b.band_id]
                assert row.signed_median == b.signed_median and row.rows == b.rows and row.metric == b.metric_class
                assert abs(b.signed_median) > 0.15 and o.placement != "api"


def test_the_notices_are_the_catalogs_leaning_bands(capsys, leaning_catalog):
    """Every notice in a plan is a catalog row beyond the limit, in the option's own engine group or a
    family / format group; a hosted API carries none."""
    rows = {r.id: r for r in Catalog().error_bands}
    d = _planned(capsys, "hospital-assistant")
    seen = [b for o in d["options"] for b in o["performance"]["held_out_bias"]]
    assert seen
    for b in seen:
        row = rows[b["band_id"]]
        assert row.signed_median == b["signed_median"] == LEANING_SIGNED_MEDIAN and row.rows == b["rows"]
        assert row.metric == b["metric_class"]
    api = [o for o in _planned(capsys, "saas-chat")["options"] if o["placement"] == "api"]
    assert api and all(o["performance"]["held_out_bias"] == [] for o in api)


def test_the_report_says_it_beside_the_recommendation(capsys, leaning_catalog):
    plan = Plan.model_validate(_planned(capsys, "hospital-assistant"))
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


def test_the_plan_json_carries_it(capsys, leaning_catalog):
    d = _planned(capsys, "hospital-assistant")
    best = next(o for o in d["options"] if o["id"] == d["recommended"])
    assert {"metric_class", "group", "signed_median", "rows", "band_id"} <= set(best["performance"]["held_out_bias"][0])
