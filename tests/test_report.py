"""Reports: every format from one Plan, self-contained, escaped, charts present."""

from __future__ import annotations

import csv
import io
import json

import pytest

from deployscope.errors import DeployscopeError
from deployscope.report import FORMATS, all_charts, render_html, render_markdown, render_report
from deployscope.report.charts import money, nice_ticks
from web_helpers import EVIL, outside_loads, sample_plan

CHART_IDS = ["cumulative-cost", "unit-cost", "latency-throughput", "memory", "pareto", "tornado", "monte-carlo"]


@pytest.fixture(scope="module")
def plan():
    return sample_plan(evil=True)


def test_every_chart_is_drawn_as_csp_safe_svg(plan):
    charts = all_charts(plan)
    assert [c.id for c in charts] == CHART_IDS
    for c in charts:
        assert c.svg.startswith("<svg") and c.svg.endswith("</svg>")
        assert "style=" not in c.svg and "<style" not in c.svg and "<script" not in c.svg  # allowed under default-src 'self'
        assert "<script>alert" not in c.svg


def test_break_even_is_marked(plan):
    svg = all_charts(plan)[0].svg
    assert "break-even with AWS p5.48xlarge, 1-year reserved: month" in svg


def test_html_report_is_self_contained_and_escaped(plan, tmp_path):
    out = render_report(plan, tmp_path / "r.html")
    html = out.read_text()
    assert outside_loads(html, "html", allow_local_paths=False) == []
    assert "<script" not in html  # nothing to run: charts are inline SVG
    assert EVIL not in html and "&lt;script&gt;alert(" in html
    for cid in CHART_IDS:
        assert f'id="chart-{cid}"' in html
    # tables: policy verdicts with citations, assumptions, sources
    assert 'href="https://eur-lex.europa.eu/eli/reg/2016/679/oj#art_35"' in html
    for tid in ("options-table", "policy-table", "assumptions-table", "sources-table", "cashflow-table", "mc-table"):
        assert f'id="{tid}"' in html
    assert "special-category data may not leave the EU" in html


def test_citation_links_only_for_http_urls():
    from deployscope.report.html import cite

    assert str(cite("javascript:alert(1)")) == "javascript:alert(1)"
    assert "<a " not in str(cite('https://x.org/"onmouseover=1'))
    assert str(cite("https://eur-lex.europa.eu/x")).startswith('<a href="https://eur-lex.europa.eu/x"')


def test_markdown_report(plan, tmp_path):
    md = render_report(plan, tmp_path / "r.md").read_text()
    assert md.startswith("# Deployscope plan: ")
    assert "<script>" not in md
    for heading in ("## Options", "## Cumulative cost", "## Policy verdicts", "## Assumptions", "## Sources", "## Monte Carlo", "## Sensitivity"):
        assert heading in md
    assert "<https://eur-lex.europa.eu/eli/reg/2016/679/oj#art_35>" in md
    assert "![" not in md and outside_loads(md, "html", allow_local_paths=False) == []  # no images, nothing to load
    assert render_markdown(plan) == md


def test_json_report_round_trips(plan, tmp_path):
    from deployscope.result import Plan

    data = json.loads(render_report(plan, tmp_path / "r.json").read_text())
    assert data["recommended"] == "onprem-h100x8-fp8"
    assert Plan.model_validate(data) == plan


def test_csv_and_xlsx_options_table(plan, tmp_path):
    from openpyxl import load_workbook

    rows = list(csv.DictReader(io.StringIO(render_report(plan, tmp_path / "o.csv").read_text())))
    assert [r["id"] for r in rows] == [o.id for o in plan.options]
    assert rows[0]["npv"] == "610000.0" and rows[0]["recommended"] == "True"
    wb = load_workbook(render_report(plan, tmp_path / "o.xlsx"))
    assert wb.sheetnames == ["Options", "Cash flows", "Policy", "Assumptions", "Sources"]
    ws = wb["Options"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["id", "label", "placement"]
    assert ws.max_row == len(plan.options) + 1
    assert ws.cell(2, header.index("npv") + 1).value == 610000.0


def test_spreadsheet_formulas_in_user_strings_are_neutralised(tmp_path):
    p = sample_plan()
    p.options[0].label = "=HYPERLINK(\"http://x\")"
    text = render_report(p, tmp_path / "o.csv").read_text()
    assert "'=HYPERLINK" in text


def test_pdf_report(plan, tmp_path):
    out = render_report(plan, tmp_path / "r.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 20_000
    from weasyprint import HTML

    from deployscope.report.pdf import _no_fetch

    doc = HTML(string=render_html(plan, for_pdf=True), url_fetcher=_no_fetch).render()
    assert len(doc.pages) >= 2


def test_unknown_extension_and_missing_dir(plan, tmp_path):
    with pytest.raises(DeployscopeError) as e:
        render_report(plan, tmp_path / "r.docx")
    assert e.value.field == "report" and ".html" in str(e.value)
    with pytest.raises(DeployscopeError):
        render_report(plan, tmp_path / "missing" / "r.html")
    assert not list(tmp_path.glob(".r.*"))  # nothing half-written left behind
    assert set(FORMATS.values()) == {"html", "md", "json", "pdf", "csv", "xlsx"}


def test_report_from_mapping_and_json(plan):
    assert "Deployscope plan" in render_html(plan.model_dump(mode="json"))
    assert "Deployscope plan" in render_html(plan.to_json())


def test_plan_without_optional_sections_still_renders(tmp_path):
    p = sample_plan()
    p = p.model_copy(update={"pareto": [], "sensitivity": [], "monte_carlo": None, "memory_breakdown": None, "latency_throughput": [], "recommended": None})
    html = render_html(p)
    assert "No option is allowed" in html
    render_report(p, tmp_path / "x.pdf")


def test_number_formatting():
    assert money(610000) == "$610k" and money(0.42) == "$0.42" and money(-3.4e6) == "-$3.4M" and money(1.2, "EUR") == "€1.2"
    assert money(5, "XYZ") == "5 XYZ" and money(None) == "–"
    t = nice_ticks(0, 1.37e6)
    assert t[0] == 0 and t[-1] >= 1.37e6 and len(t) <= 8
