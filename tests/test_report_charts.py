"""Charts that tell the truth: on every example, every data mark lies inside its plot area; the
memory bar stays within the GPU; an outlier latency is clipped and marked, not scaled to; the
Pareto chart holds every allowed option; a chart with nothing to show says why."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

import deployscope
from deployscope.report.charts import (
    chart_results,
    hidden_charts,
    latency_throughput_chart,
    memory_chart,
    pareto_chart,
)

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))
NS = "{http://www.w3.org/2000/svg}"
TOL = 0.6  # coordinates are written with one decimal


@pytest.fixture(scope="module")
def plans():
    return {p.stem: deployscope.plan(p) for p in EXAMPLES}


def _mark_boxes(el):
    tag = el.tag.replace(NS, "")
    if tag == "circle":
        x, y = float(el.get("cx")), float(el.get("cy"))
        return [(x, y, x, y)]
    if tag == "rect":
        x, y, w, h = (float(el.get(k)) for k in ("x", "y", "width", "height"))
        return [(x, y, x + w, y + h)]
    if tag in ("polyline", "polygon"):
        pts = [tuple(map(float, p.split(","))) for p in el.get("points").split()]
        return [(x, y, x, y) for x, y in pts]
    raise AssertionError(f"unexpected data mark <{tag}>")


def assert_marks_inside(svg: str) -> int:
    root = ET.fromstring(svg)
    plots = [g for g in root.iter(NS + "g") if g.get("class") == "ds-plot"]
    assert plots, "a chart draws its data in at least one plot area"
    n = 0
    for g in plots:
        l, t, r, b = map(float, g.get("data-plot").split())
        for el in g.iter():
            if el.get("class") != "ds-mark":
                continue
            for x0, y0, x1, y1 in _mark_boxes(el):
                n += 1
                assert l - TOL <= x0 <= x1 <= r + TOL and t - TOL <= y0 <= y1 <= b + TOL, (el.tag, el.attrib, (l, t, r, b))
    marks_outside = [el for el in root.iter() if el.get("class") == "ds-mark" and not any(el in set(g.iter()) for g in plots)]
    assert not marks_outside, "every data mark is inside a plot area"
    return n


@pytest.mark.parametrize("name", [p.stem for p in EXAMPLES])
def test_every_chart_on_every_example_has_its_data_inside_its_axes(plans, name):
    results = chart_results(plans[name])
    assert len(results) == 7
    for ch in results:
        if hasattr(ch, "svg"):
            assert assert_marks_inside(ch.svg) > 0, ch.id
        else:
            assert ch.reason.endswith(".") and len(ch.reason) > 30  # a sentence, not a blank


def test_memory_bar_stays_within_the_gpu_when_the_batch_needs_more_kv(plans):
    plan = plans["hospital-assistant"].model_copy(deep=True)
    mb = plan.memory_breakdown
    gib = 2**30
    mb.total_bytes = 48 * gib  # the case: 8.5 GiB weights + 69.3 GiB KV on a 48 GiB GPU
    mb.parts = {"weights": 8.5 * gib, "kv_cache": 69.3 * gib, "activation": 1.0 * gib, "overhead": 1.5 * gib}
    ch = memory_chart(plan)
    assert_marks_inside(ch.svg)
    widths = [float(w) for w in re.findall(r'<rect class="ds-mark" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', ch.svg)]
    plot = re.search(r'data-plot="([\d.]+) [\d.]+ ([\d.]+) ', ch.svg)
    assert sum(widths) <= float(plot.group(2)) - float(plot.group(1)) + 1  # the parts fill at most the GPU
    assert "GPU memory 48.0 GiB" in ch.svg and "37.0 GiB fit" in ch.caption and "69.3 GiB" in ch.caption


def test_latency_outlier_is_clipped_and_marked(plans):
    plan = plans["hospital-assistant"].model_copy(deep=True)
    top = max(p.concurrency for p in plan.latency_throughput)
    for p in plan.latency_throughput:  # one outlier: only the highest concurrency queues for long
        if p.concurrency != top and p.ttft_s:
            p.ttft_s = min(p.ttft_s, 1.0)
    worst = max(p.ttft_s for p in plan.latency_throughput)
    assert worst > 10  # queueing at the highest concurrency
    ch = latency_throughput_chart(plan)
    assert_marks_inside(ch.svg)
    assert "off the scale" in ch.svg and "Off the scale" in ch.caption and f"{worst:.3g} s" in ch.caption
    assert "p95 target 3 s" in ch.svg and "p95 target 0.08 s" in ch.svg  # both targets drawn
    ticks = [t for t in re.findall(r'>([\d.]+) s</text>', ch.svg)]
    assert max(map(float, ticks)) < 10  # the axis follows the data, not the outlier


def test_pareto_shows_every_allowed_option_apis_included(plans):
    plan = plans["saas-chat"]
    allowed = plan.allowed_options()
    ch = pareto_chart(plan)
    assert len(allowed) > 2
    assert ch.svg.count('<circle class="ds-mark"') == len(allowed)
    assert any(o.placement == "api" for o in allowed) and "latency not estimated" in ch.svg
    assert "NPV of costs over 3 years (USD, lower is better)" in ch.svg and "TTFT p95 (lower is better)" in ch.svg


def test_charts_with_nothing_to_show_say_why(plans):
    data = yaml.safe_load((EXAMPLES[0].parent / "hospital-assistant.yaml").read_text())
    data["candidates"]["gpus"] = ["rtx-pro-6000-blackwell"]  # one GPU type to buy: a single allowed option
    hidden = {h.id: h.reason for h in hidden_charts(deployscope.plan(data))}
    assert set(hidden) == {"pareto", "monte-carlo"}  # one option allowed: no trade-off, no choice
    assert "Only one option is allowed" in hidden["pareto"]
    train = {h.id for h in hidden_charts(plans["quarterly-finetune-70b"])}
    assert {"latency-throughput", "memory", "unit-cost", "pareto"} <= train
