"""Reports state the case: the question on the first page, the answer and its reasons, what the
cost rests on (defaults named as defaults), why each option was excluded, page numbers and the
decision-support line in the PDF, and the Monte Carlo sentence only when there is a choice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import deployscope
from deployscope.report import render_html, render_markdown

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def plans():
    return {n: deployscope.plan(EXAMPLES / f"{n}.yaml") for n in ("quarterly-finetune-70b", "hospital-assistant", "saas-chat")}


def _section(html: str, sid: str) -> str:
    m = re.search(rf'<section[^>]*id="{sid}".*?</section>', html, re.DOTALL)
    assert m, sid
    return m.group(0)


def test_first_section_states_the_question(plans):
    html = render_html(plans["hospital-assistant"])
    assert html.index('id="question"') < html.index('id="answer"') < html.index("Charts")
    q = _section(html, "question")
    for needle in ("llama-3.3-70b-instruct answering 1,500 users × 20 requests a day", "about 3,000 tokens in and 400 out",
                   "time to first token ≤ 3 s (p95)", "time per output token ≤ 80 ms (p95)", "network: air-gapped",
                   "data: health, special category, personal", "5-year horizon, EUR"):
        assert needle in q, needle


def test_a_cost_dominated_by_a_default_says_so(plans):
    html = render_html(plans["quarterly-finetune-70b"])
    drivers = re.search(r'<ul id="cost-drivers">(.*?)</ul>', html, re.DOTALL).group(1)
    first = re.search(r"<li>(.*?)</li>", drivers, re.DOTALL).group(1)
    assert first.startswith("Staff: 99% of the cost over 3 years")
    assert "defaults the scenario did not set" in first and "0.5 FTE of staff (economics.staff_fte_cloud)" in first
    md = render_markdown(plans["quarterly-finetune-70b"])
    assert "### What the cost rests on" in md and "0.5 FTE of staff" in md


def test_user_set_inputs_are_not_called_defaults(plans):
    html = render_html(plans["hospital-assistant"])  # staff_fte: 1.0 is in the scenario
    drivers = re.search(r'<ul id="cost-drivers">(.*?)</ul>', html, re.DOTALL).group(1)
    assert "Staff:" in drivers and "FTE of staff" not in drivers


def test_options_table_gives_the_reason_for_each_exclusion(plans):
    plan = plans["hospital-assistant"]  # air-gapped: every cloud and API option is excluded, with a reason
    html = render_html(plan)
    table = re.search(r'<table class="ds-table" id="options-table">.*?</table>', html, re.DOTALL).group(0)
    assert "<th>Why excluded</th>" in table
    excluded = [o for o in plan.options if not o.allowed]
    assert excluded
    for o in excluded:
        row = re.search(rf"<code>{re.escape(o.id)}</code>.*?</tr>", table, re.DOTALL).group(0)
        first = o.excluded_because[0].split(". ")[0].rstrip(".")[:60]
        assert first.replace("'", "&#39;") in row or first in row, (o.id, first)
    assert "tok/s per user" in table and "tok/s per GPU" in table


def one_option_plan():
    """The air-gapped hospital with one GPU type to buy: a single allowed option."""
    data = yaml.safe_load((EXAMPLES / "hospital-assistant.yaml").read_text())
    data["candidates"]["gpus"] = ["rtx-pro-6000-blackwell"]
    return deployscope.plan(data)


def test_monte_carlo_only_when_there_is_a_choice(plans):
    one = one_option_plan()
    assert sum(o.allowed for o in one.options) == 1
    html = render_html(one)
    assert 'id="mc-table"' not in html and "Monte Carlo draws" not in _section(html, "answer")
    assert "Monte Carlo ranges</strong> not shown: Only one option is allowed" in html
    assert "## Monte Carlo" not in render_markdown(one)
    many = render_html(plans["saas-chat"])
    assert 'id="mc-table"' in many and "Monte Carlo draws" in _section(many, "answer")


def test_pdf_has_page_numbers_and_the_decision_support_line_on_every_page(plans):
    weasyprint = pytest.importorskip("weasyprint")
    from deployscope.report.pdf import _no_fetch

    doc = weasyprint.HTML(string=render_html(plans["quarterly-finetune-70b"], for_pdf=True), url_fetcher=_no_fetch).render()
    n = len(doc.pages)
    assert n >= 3
    for i, page in enumerate(doc.pages, 1):
        texts = [b.text for b in page._page_box.descendants() if getattr(b, "text", None)]
        assert f"page {i} of {n}" in texts
        assert any("decision support, not legal advice" in t for t in texts)
    first = " ".join(b.text for b in doc.pages[0]._page_box.descendants() if getattr(b, "text", None))
    assert "The question" in first and "The answer" in first and "What the cost rests on" in first
