"""The main flow in headless Chromium (Debian's /usr/bin/chromium driven by playwright) against a
`deployscope serve` the test starts on 127.0.0.1 with a temporary SQLite store, running the real
planner on a real example. Every request the browser makes is recorded: any that leaves the
server fails the test. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from deployscope.store import Store
from web_helpers import EXAMPLES, REPO, start_server

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
EXAMPLE = EXAMPLES / "saas-chat.yaml"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("browser") / "ds.db"
    proc, base = start_server(f"sqlite:///{db}")
    yield base, db
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except Exception:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: scripts/test.sh installs it"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


class Watch:
    """Records every request and every CSP report of a page."""

    def __init__(self, page, base: str) -> None:
        self.base = base
        self.outside: list[str] = []
        self.csp: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _request(self, req) -> None:
        url = req.url
        if not (url.startswith(self.base + "/") or url.startswith("data:") or url.startswith("blob:") or url.startswith("file://")):
            self.outside.append(url)

    def _console(self, msg) -> None:
        text = msg.text
        if "Content Security Policy" not in text:
            return
        m = re.search(r"(?:Loading|load) (?:the )?[\w -]*?'([^'\s]*)", text)
        target = m.group(1) if m else ""
        if target.startswith(("data:", "blob:", self.base + "/")) or "inline" in text.split("violates")[0]:
            return  # inline styles and data: images that the CSP blocks are not loads from outside
        self.csp.append(text)

    def check(self) -> None:
        assert self.outside == [], f"requests left the server: {self.outside}"
        assert self.csp == [], f"blocked attempts to load from outside: {self.csp}"
        assert self.errors == [], f"JavaScript errors: {self.errors}"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_main_flow(server, browser):
    base, db = server
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    watch = Watch(page, base)

    # 1. create a scenario: paste a real example into the YAML view and check it
    page.goto(base + "/scenarios/new")
    page.click("#tab-yaml")
    page.fill("#yaml-text", EXAMPLE.read_text())
    page.click("#yaml-check")
    page.wait_for_selector("#form-message")
    assert "valid" in page.inner_text("#form-message")
    assert page.input_value("#fld-name") == "saas-chat-assistant"

    # 2. a bad value in the form gets an inline message next to its field
    page.fill("#fld-horizon_years", "0")
    page.click("#form-check")
    page.wait_for_selector("#fld-horizon_years-error")
    assert "must be >= 1" in page.inner_text("#fld-horizon_years-error")
    assert page.get_attribute("#fld-horizon_years", "aria-invalid") == "true"
    shot(page, "01-validation-error")

    # 3. fix it and run the plan: the charts appear
    page.fill("#fld-horizon_years", "3")
    page.click("#form-plan")
    page.wait_for_selector("#chart-cumulative-cost", timeout=60_000)
    for cid in ("cumulative-cost", "unit-cost", "pareto", "tornado", "monte-carlo"):
        assert page.is_visible(f"#chart-{cid}"), cid
    box = page.locator("#chart-cumulative-cost").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150
    assert page.locator("#options-table tbody tr").count() > 3
    shot(page, "02-plan-preview")

    # 4. save the scenario and its plan
    page.click("#save-plan")
    page.wait_for_selector("#plan-meta")
    first_plan = page.url.rsplit("/", 1)[1]
    assert first_plan.isdigit()
    assert page.is_visible("#chart-cumulative-cost") and page.is_visible("#download-pdf")

    # 5. reopen the saved scenario from the list and plan it again
    page.goto(base + "/scenarios")
    page.click("text=saas-chat-assistant")
    page.wait_for_selector("#fld-name")
    assert page.input_value("#fld-horizon_years") == "3"
    page.click("#plan-saved")
    page.wait_for_selector("#plan-meta", timeout=60_000)
    second_plan = page.url.rsplit("/", 1)[1]
    assert second_plan != first_plan

    # 6. compare the two plans side by side
    page.goto(base + "/plans")
    page.click("#compare-button")
    page.wait_for_selector("#compare-sides")
    assert page.locator(".ds-side").count() == 2
    assert page.locator(".ds-side svg.chart").count() >= 2
    shot(page, "03-compare")

    # 7. the catalog browser shows sources; the API docs render from vendored assets
    page.goto(base + "/catalog/accelerators")
    assert page.locator("#catalog-rows tbody tr").count() > 3
    assert page.locator("#catalog-rows a[href^='http']").count() > 0  # citations
    page.goto(base + "/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=30_000)
    assert "Deployscope" in page.inner_text(".swagger-ui .info")
    # the scenario's fields are in the API docs with the range, default and unit the form shows
    targets = page.locator("section.models article.json-schema-2020-12",
                           has=page.locator("strong.json-schema-2020-12__title", has_text="Targets")).first
    targets.locator("button.json-schema-2020-12-expand-deep-button").first.click()
    page.wait_for_selector("text=x-unit")
    text = targets.inner_text()
    assert "ttft_p95_s" in text and "[0.0001, 86400]" in text and "time to first token" in text and 'x-unit"s"' in text.replace("\n", "")
    shot(page, "04-api-docs")
    watch.errors = [e for e in watch.errors if "Refused" not in e]
    watch.check()

    # what the browser saved is in the store
    s = Store(str(db))
    assert [r.name for r in s.list_scenarios()] == ["saas-chat-assistant"]
    assert {p.id for p in s.list_plans()} >= {int(first_plan), int(second_plan)}
    s.close()
    ctx.close()


def test_guided_editor_flow(server, browser, tmp_path):
    """Acceptance: a two-workload scenario built with the form only (no YAML), a field error for an
    unknown model at Check, save, plan, open the report, then a second plan in another currency
    and the comparison that warns about it."""
    base, db = server
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    watch = Watch(page, base)
    plan_timeout = 180_000

    page.goto(base + "/scenarios/new")
    # beside each number: its range with the unit and its default, inside the field's own row
    page.click("#grp-economics > summary")
    for fid, facts in (("horizon_years", re.escape("1 to 15 years · default 3 years")),
                       ("targets-ttft_p95_s", re.escape("0.0001 to 86400 s · default 2.0 s")),
                       ("economics-tariff_per_kwh", r"0 to 100000 USD per kWh · default [\d.]+ USD per kWh \(economic_defaults, region us\)")):
        assert page.is_visible(f"#fld-{fid}-facts"), fid
        assert re.fullmatch(facts, page.inner_text(f"#fld-{fid}-facts")), fid
        row, fact = page.locator(f"#fld-{fid}-row").bounding_box(), page.locator(f"#fld-{fid}-facts").bounding_box()
        assert row["y"] <= fact["y"] and fact["y"] + fact["height"] <= row["y"] + row["height"] + 1, fid
    assert "(years)" in page.inner_text("label[for=fld-horizon_years]")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#fld-targets-ttft_p95_s-row").screenshot(path=str(ARTIFACTS / "09-editor-field-facts.png"))
    page.fill("#fld-name", "guided-two-workloads")
    page.click("#add-rep-workloads-llm")
    page.wait_for_selector("#fld-workloads-1--model")
    assert "Added an item" in page.inner_text("#form-message")
    assert page.input_value("#fld-name") == "guided-two-workloads"  # edits made before Add are kept
    page.fill("#fld-workloads-1--name", "summaries")
    page.fill("#fld-workloads-1--model", "llama-3.1-8b-instruc")  # a typo
    page.fill("#fld-workloads-1--requests_per_day", "4000")
    assert page.inner_text("#fld-workloads-1--requests_per_day-facts") == "> 0, <= 1e+12 requests a day · optional"
    assert page.inner_text("#fld-workloads-1--input_tokens-mean-facts") == "1 to 1e+08 tokens · required"
    page.fill("#fld-workloads-1--input_tokens-mean", "900")
    page.fill("#fld-workloads-1--output_tokens-mean", "150")
    page.click("#form-check")
    page.wait_for_selector("#fld-workloads-1--model-error")
    err = page.inner_text("#fld-workloads-1--model-error")
    assert "unknown model" in err and "did you mean" in err and "Catalog page" in err and "`deployscope" not in err
    assert page.get_attribute("#fld-workloads-1--model", "aria-invalid") == "true"
    shot(page, "10-editor-unknown-model")

    page.fill("#fld-workloads-1--model", "llama-3.1-8b-instruct")
    page.click("#form-check")
    page.wait_for_selector("#form-message")
    assert "valid" in page.inner_text("#form-message")
    page.click("#form-save")
    page.wait_for_selector("#plan-saved")
    assert "Saved" in page.inner_text("#form-message")
    shot(page, "11-editor-saved")

    page.click("#plan-saved")
    page.wait_for_selector("#plan-meta", timeout=plan_timeout)
    usd_plan = page.url.rsplit("/", 1)[1]
    assert page.is_visible("#chart-cumulative-cost")
    with page.expect_download() as dl:
        page.click("#download-html")
    report = tmp_path / "report.html"
    dl.value.save_as(report)
    report_page = ctx.new_page()
    report_page.goto(report.as_uri())
    assert report_page.is_visible("#chart-cumulative-cost") and "guided-two-workloads" in report_page.content()
    shot(report_page, "12-report")
    report_page.close()

    # the same scenario in euros, again through the form only
    page.goto(base + "/scenarios")
    page.click("text=guided-two-workloads")
    page.wait_for_selector("#fld-currency-code")  # the currency section is open by default
    page.fill("#fld-currency-code", "EUR")
    page.click("#form-save")
    page.wait_for_selector("#plan-saved")
    page.click("#plan-saved")
    page.wait_for_selector("#plan-meta", timeout=plan_timeout)
    eur_plan = page.url.rsplit("/", 1)[1]

    page.goto(f"{base}/compare?a={usd_plan}&b={eur_plan}")
    page.wait_for_selector("#compare-warnings")
    text = page.inner_text("#compare-warnings")
    assert "Different currencies" in text and "USD" in text and "EUR" in text
    assert "currency.code" in page.inner_text("#compare-differences")
    shot(page, "13-compare-currencies")
    watch.check()

    s = Store(str(db))
    saved = s.get_scenario("guided-two-workloads").yaml
    s.close()
    assert "summaries" in saved and "# time to first token, 95th percentile" in saved  # the template's comments kept
    ctx.close()


_MARKS_OUTSIDE = """() => {
  const out = {charts: {}, outside: [], clipped: []};
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect();
    if (box.width < 200 || box.left < -1 || box.right > document.documentElement.clientWidth + 1) out.clipped.push(svg.id);
    let n = 0;
    for (const g of svg.querySelectorAll('g.ds-plot')) {
      const [l, t, r, b] = g.getAttribute('data-plot').split(' ').map(Number);
      const m = g.getScreenCTM();
      const p0 = new DOMPoint(l, t).matrixTransform(m), p1 = new DOMPoint(r, b).matrixTransform(m);
      const tol = 6;  // a dot's radius or a line's width may stand past the plot edge, its position may not
      for (const el of g.querySelectorAll('.ds-mark')) {
        const bb = el.getBoundingClientRect();
        n += 1;
        if (bb.left < p0.x - tol || bb.right > p1.x + tol || bb.top < p0.y - tol || bb.bottom > p1.y + tol)
          out.outside.push(svg.id + ' ' + el.tagName + ' ' + [bb.left, bb.top, bb.right, bb.bottom].map(Math.round) + ' in ' + [p0.x, p0.y, p1.x, p1.y].map(Math.round));
      }
    }
    out.charts[svg.id] = n;
  }
  return out;
}"""


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_chart_of_every_example_draws_its_data_inside_its_axes_in_chromium(browser, example):
    """The report as Chromium lays it out: every data mark of every chart within its plot area,
    every chart whole on the page, and a chart with nothing to show is replaced by its sentence."""
    import deployscope
    from deployscope.report import render_html
    from deployscope.report.charts import chart_results

    plan = deployscope.plan(EXAMPLES / example)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    page = ctx.new_page()
    page.set_content(render_html(plan))
    found = page.evaluate(_MARKS_OUTSIDE)
    drawn = {f"chart-{c.id}" for c in chart_results(plan) if hasattr(c, "svg")}
    assert drawn and set(found["charts"]) >= drawn
    assert all(found["charts"][c] > 0 for c in drawn), found["charts"]
    assert found["outside"] == [] and found["clipped"] == [], found
    shot(page, f"20-charts-{example.removesuffix('.yaml')}")
    ctx.close()


def test_downloaded_report_opens_offline(server, browser, tmp_path):
    """A report file opened from disk makes no request at all besides itself."""
    base, _ = server
    with httpx.Client(base_url=base, timeout=60) as c:
        r = c.post("/api/plan?save=true", json={"yaml": EXAMPLE.read_text()})
        assert r.status_code == 200, r.text
        pid = r.headers["x-deployscope-plan-id"]
        html = c.get(f"/plans/{pid}/report.html").content
    path = tmp_path / "report.html"
    path.write_bytes(html)
    ctx = browser.new_context(offline=True)
    page = ctx.new_page()
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(path.as_uri())
    assert page.is_visible("#chart-cumulative-cost")
    assert requests == [path.as_uri()]
    shot(page, "05-report-file")
    ctx.close()


def test_sigkill_during_saves_keeps_committed_data(tmp_path):
    """Kill the server with SIGKILL while clients are saving: every save it acknowledged survives
    and the database stays readable."""
    db = tmp_path / "kill.db"
    proc, base = start_server(f"sqlite:///{db}")
    acked: list[str] = []
    stop = threading.Event()
    body = "name: n\n" + "# pad\n" * 3000

    def saver(k: int) -> None:
        with httpx.Client(base_url=base, timeout=10) as c:
            i = 0
            while not stop.is_set():
                name = f"w{k}-{i}"
                try:
                    r = c.post("/api/scenarios", json={"name": name, "yaml": body.replace("name: n", f"name: {name}") + _WL})
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    acked.append(name)
                i += 1

    threads = [threading.Thread(target=saver, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # mid-flight: the savers are still posting
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 60
    s = Store(str(db))
    assert s.integrity_check() == "ok"
    names = {r.name for r in s.list_scenarios()}
    missing = [n for n in acked if n not in names]
    assert missing == []
    s.close()
    # the server starts again on the same file
    proc2, base2 = start_server(f"sqlite:///{db}")
    try:
        assert len(httpx.get(base2 + "/api/scenarios", timeout=10).json()) == len(names)
    finally:
        proc2.kill()
        proc2.wait()


_WL = "workloads:\n  - {name: chat, model: llama-3.1-8b-instruct, requests_per_day: 1000, input_tokens: {mean: 500}, output_tokens: {mean: 200}}\n"
