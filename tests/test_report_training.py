"""The plan shows what each training job takes — GPUs, days per run, GPU-hours, energy and yearly
cost with its basis — under every allowed option, API options included (they rent the training), and
the report states it in a table and in the question."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import deployscope
from deployscope.report import render_html, render_markdown

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "synthetic-identities.yaml"


@pytest.fixture(scope="module")
def plan():
    return deployscope.plan(EXAMPLE)


def _training(option):
    return {c.workload: c for c in option.performance.components if c.kind == "training"}


def test_every_allowed_option_lists_both_training_jobs_with_figures(plan):
    allowed = [o for o in plan.options if o.allowed]
    assert allowed
    for o in allowed:
        jobs = _training(o)
        assert set(jobs) == {"persona-lora", "portrait-finetune"}, o.id
        for c in jobs.values():
            assert c.runs_per_year in (48.0, 2.0)
            assert c.days_per_run is not None and c.days_per_run > 0
            assert c.gpu_hours_per_year == pytest.approx(c.days_per_run * 24 * c.gpus * c.runs_per_year, rel=1e-6)
            assert c.energy_kwh_per_year is not None and c.energy_kwh_per_year > 0
            assert c.cost_per_year is not None and c.cost_per_year > 0 and c.cost_basis


def test_rented_training_costs_gpu_hours_at_the_instance_rate(plan):
    from deployscope.catalog import default_catalog

    cat = default_catalog()
    for o in plan.options:
        if o.placement != "cloud" or not o.allowed:
            continue
        row = next(r for r in cat.cloud_instances if o.id.startswith(f"cloud-{r.provider}-{r.instance_type}"))
        pricing = o.id.rsplit("-", 1)[1]
        for c in _training(o).values():
            hand = c.gpu_hours_per_year * row.price(pricing) / row.gpu_count * plan.fx_rate_per_usd
            assert c.cost_per_year == pytest.approx(hand, rel=1e-9), (o.id, c.workload)
            assert row.instance_type in c.cost_basis


def test_owned_training_gets_its_gpu_share_of_the_fleet_cost(plan):
    o = next(o for o in plan.options if o.placement == "on_prem" and o.allowed)
    fleet_year = o.total_cost / plan.horizon_years
    for c in _training(o).values():
        assert c.cost_per_year == pytest.approx(fleet_year * c.gpus / o.performance.gpus, rel=1e-9)
        assert f"{c.gpus} of the fleet's {o.performance.gpus} GPUs" in c.cost_basis


def test_api_options_list_the_training_they_rent(plan):
    api = next(o for o in plan.options if o.placement == "api" and o.allowed)
    jobs = _training(api)
    assert set(jobs) == {"persona-lora", "portrait-finetune"}
    assert all("rates" in c.cost_basis for c in jobs.values())


def test_report_has_the_training_table_and_states_the_jobs(plan):
    html = render_html(plan)
    table = re.search(r'<section id="training-jobs">.*?</section>', html, re.DOTALL).group(0)
    best = plan.best
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.DOTALL)[1:]
    assert best.label.replace("&", "&amp;") in rows[0]  # the recommended option first
    assert len(rows) == 2 * sum(1 for o in plan.options if o.allowed)
    assert "kWh" in table and "per run" in table.lower()
    q = re.search(r'<section[^>]*id="question".*?</section>', html, re.DOTALL).group(0)
    assert "on 8,000 images at 1024 px, 48 runs a year" in q
    assert "None tokens" not in q
    md = render_markdown(plan)
    assert "## Training jobs" in md and "| persona-lora |" in md


def test_plans_without_training_have_no_training_section():
    html = render_html(deployscope.plan(EXAMPLE.with_name("saas-chat.yaml")))
    assert 'id="training-jobs"' not in html
