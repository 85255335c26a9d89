"""Web app through its ASGI interface: headers, limits, errors, token, API, offline assets."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from web_helpers import EVIL, client, form_token, outside_loads, sample_plan, store  # noqa: F401  (shared fixtures)

warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

import deployscope.web as web_pkg  # noqa: E402
from deployscope.report.html import TEMPLATES as REPORT_TEMPLATES  # noqa: E402
from deployscope.web.app import create_app  # noqa: E402

WEB = Path(web_pkg.__file__).parent
TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.fixture
def saved(store):
    sid = store.save_scenario("demo " + EVIL, "name: demo\n")
    p1 = store.save_plan(sid, sample_plan(evil=True))
    p2 = store.save_plan(sid, sample_plan("second"))
    return sid, p1, p2


PAGES = ["/", "/scenarios", "/scenarios/new", "/plans", "/compare", "/catalog", "/catalog/accelerators", "/measurements", "/docs",
         "/openapi.json", "/api/health", "/api/scenarios", "/api/plans", "/api/catalog", "/api/bench-runs", "/nope", "/api/nope"]


def test_every_response_sends_csp(client, saved):
    sid, p1, p2 = saved
    urls = PAGES + [f"/scenarios/{sid}/edit", f"/plans/{p1}", f"/compare?a={p1}&b={p2}", f"/plans/{p1}/report.html",
                    "/static/deployscope-0.1.0.css", "/static/report-0.1.0.css", "/static/vendor/swagger-ui-5.35.0/swagger-ui.css"]
    for u in urls:
        r = client.get(u)
        assert r.headers["content-security-policy"] == "default-src 'self'", u
        assert r.headers["x-content-type-options"] == "nosniff", u
        assert r.status_code < 500, (u, r.text[:300])
    r = client.post("/api/scenarios", content=b"{" + b" " * (1024 * 1024) + b"}", headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.headers["content-security-policy"] == "default-src 'self'"


def test_pages_escape_user_strings(client, saved):
    sid, p1, p2 = saved
    for u in ("/", "/scenarios", "/plans", f"/plans/{p1}", f"/compare?a={p1}&b={p2}"):
        html = client.get(u).text
        assert "<script>alert" not in html, u
        assert "&lt;script&gt;alert(" in html, u


def test_request_size_limit_without_content_length(client):
    def gen():
        for _ in range(20):
            yield b"x" * 65536

    r = client.post("/api/scenarios", content=gen(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] == "body"


def test_validation_errors_name_the_field(client):
    r = client.post("/api/memory", json={"model": "llama-3.1-8b", "context": -1})
    assert r.status_code == 422 and r.json()["field"] == "context"
    r = client.post("/api/plan", json={"nonsense": 1})
    assert r.status_code == 422 and r.json()["field"] == "nonsense"
    r = client.post("/api/scenarios", json={"yaml": "name: x\nhorizon_years: 0\nworkloads: [{name: a, model: llama-3.1-8b, requests_per_day: 10}]\n"})
    assert r.status_code == 400 and r.json()["field"] == "horizon_years" and r.json()["value"] == 0
    r = client.post("/api/scenarios", json={"yaml": "name: [1"})
    assert r.status_code == 400 and "malformed YAML" in r.json()["error"]
    r = client.post("/api/memory", json={"model": "no-such-model"})
    assert r.status_code == 400 and r.json()["field"] == "model"
    r = client.get("/api/plans/999")
    assert r.status_code == 404 and r.json()["field"] == "plan_id"
    r = client.get("/api/plans/abc")
    assert r.status_code == 422 and r.json()["field"] == "pid"
    r = client.get("/plans/999")
    assert r.status_code == 404 and "no saved plan" in r.text and "Traceback" not in r.text


def test_scenario_form_shows_inline_error(client):
    r = client.get("/scenarios/new")
    assert r.status_code == 200 and 'name="f:horizon_years"' in r.text
    from deployscope.scenario import template

    tok = form_token(client)
    r = client.post("/scenarios/new", data={"mode": "form", "action": "check", "base_yaml": template(), "f:horizon_years": "0", "csrf_token": tok})
    assert r.status_code == 422
    assert 'id="fld-horizon_years-error"' in r.text and "must be &gt;= 1" in r.text
    r = client.post("/scenarios/new", data={"mode": "yaml", "action": "check", "yaml": "name: [1", "csrf_token": tok})
    assert r.status_code == 422 and 'id="yaml-error"' in r.text
    r = client.post("/scenarios/new", data={"mode": "form", "action": "save", "base_yaml": template(), "f:name": "form-made", "csrf_token": tok},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/edit?saved=1")


def test_token_is_required_on_every_request(store):
    c = TestClient(create_app(store, token=TOKEN))
    for u in ("/", "/api/health", "/static/deployscope-0.1.0.css", "/docs", "/openapi.json"):
        r = c.get(u)
        assert r.status_code == 401, u
        assert r.headers["content-security-policy"] == "default-src 'self'"
    assert c.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/login").status_code == 200 and 'name="token"' in c.get("/login").text
    tok = form_token(c, "/login")
    assert c.post("/login", data={"token": "wrong", "csrf_token": tok}).status_code == 401
    assert c.post("/login", data={"token": TOKEN}).status_code == 403  # no form token
    assert c.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    r = c.post("/login", data={"token": TOKEN, "csrf_token": tok}, follow_redirects=False)
    assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
    assert c.get("/").status_code == 200  # the cookie now carries the token


def test_host_and_cross_site_checks(store):
    c = TestClient(create_app(store, allowed_hosts=("127.0.0.1", "localhost")), base_url="http://127.0.0.1:8000")
    assert c.get("/api/health").status_code == 200
    assert c.get("/api/health", headers={"host": "evil.example"}).status_code == 421  # DNS rebinding
    r = c.post("/api/scenarios", json={"yaml": "name: x"}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403


def test_api_mirrors_the_cli(client, store):
    r = client.post("/api/memory", json={"model": "llama-3.1-8b", "quant": "fp8"})
    assert r.status_code == 200 and r.json()["weights_bytes"] > 0
    r = client.post("/api/fit", json={"model": "llama-3.1-8b", "gpus": ["h100-sxm-80gb"]})
    assert r.status_code == 200 and r.json()["rows"]
    r = client.post("/api/perf", json={"model": "llama-3.1-8b", "gpu": "h100-sxm-80gb", "input_len": 1000, "output_len": 200, "concurrency": 8})
    assert r.status_code == 200 and r.json()["output_tokens_per_s"] > 0
    r = client.post("/api/perf", json={"model": "llama-3.1-8b", "gpu": "h100-sxm-80gb", "input_len": 0, "output_len": 200})
    assert r.status_code == 422 and r.json()["field"] == "input_len"
    r = client.get("/api/catalog")
    assert r.status_code == 200 and r.json()["accelerators"] > 0
    rows = client.get("/api/catalog/accelerators").json()
    assert all(row["source"] and row["as_of"] for row in rows)
    yaml_text = "name: api-made\nworkloads:\n  - {name: chat, model: llama-3.1-8b-instruct, requests_per_day: 1000, input_tokens: {mean: 500}, output_tokens: {mean: 200}}\n"
    r = client.post("/api/scenarios", json={"yaml": yaml_text})
    assert r.status_code == 201 and r.json()["name"] == "api-made"
    assert [s["name"] for s in client.get("/api/scenarios").json()] == ["api-made"]
    assert client.delete("/api/scenarios/api-made").status_code == 200
    assert client.get("/api/scenarios/api-made").status_code == 404


def test_bench_runs_are_listed(client, store):
    rid = store.save_bench_run({"model": "tiny", "completed": 5, "errors": 0, "ttft_s": {"p50": 0.12}}, [{"ttft_s": 0.12, "status": 200}])
    assert client.get("/api/bench-runs").json()[0]["id"] == rid
    html = client.get("/measurements").text
    assert f"/measurements/{rid}" in html and "TTFT p50 (s) 0.12" in html
    page = client.get(f"/measurements/{rid}").text
    assert "ttft_s.p50" in page and "TTFT p50 (s)" in page
    assert "fewer than two completed requests" in page  # a chart with nothing to show says why


def test_reports_download(client, saved):
    sid, p1, _ = saved
    for fmt, ctype in (("html", "text/html"), ("pdf", "application/pdf"), ("csv", "text/csv"), ("json", "application/json"),
                       ("md", "text/markdown"), ("xlsx", "application/vnd.openxmlformats")):
        r = client.get(f"/plans/{p1}/report.{fmt}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(ctype), fmt
        assert "attachment" in r.headers["content-disposition"]
    assert client.get(f"/plans/{p1}/report.exe").status_code == 400
    assert client.get(f"/api/plans/{p1}/report.exe").status_code == 422


def test_docs_use_vendored_swagger(client):
    html = client.get("/docs").text
    assert "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js" in html and "<script>" not in html
    assert client.get("/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in ("/api/plan", "/api/memory", "/api/fit", "/api/perf", "/api/catalog/{table}", "/api/scenarios", "/api/plans/{pid}", "/api/bench-runs"):
        assert path in spec["paths"], path


def test_templates_and_static_files_load_nothing_from_outside():
    """Scan every template and static file; inline scripts and styles are banned by the CSP too."""
    problems = []
    for d in (WEB / "templates", REPORT_TEMPLATES):
        for f in d.iterdir():
            text = f.read_text()
            if f.suffix in (".html", ".j2"):
                problems += [f"{f.name}: {p}" for p in outside_loads(text, "html")]
                if d == WEB / "templates":
                    assert "<script>" not in text and " style=" not in text and "<style" not in text, f.name
            elif f.suffix == ".css":
                problems += [f"{f.name}: {p}" for p in outside_loads(text, "css")]
    for f in (WEB / "static").rglob("*"):
        if f.suffix == ".css":
            problems += [f"{f}: {p}" for p in outside_loads(f.read_text(), "css")]
        elif f.suffix == ".js":
            problems += [f"{f}: {p}" for p in outside_loads(f.read_text(), "js")]
    assert problems == []


def test_scanner_catches_outside_loads():
    assert outside_loads('<script src="https://cdn.example/x.js"></script>', "html")
    assert outside_loads('<link rel="stylesheet" href="//fonts.example/css">', "html")
    assert outside_loads("body{background:url(https://x.example/a.png)}", "css")
    assert outside_loads("@import 'https://x.example/a.css';", "css")
    assert outside_loads('fetch("https://telemetry.example/p")', "js")
    assert outside_loads('<img src="a.png">', "html", allow_local_paths=False)
    assert not outside_loads('<a href="https://eur-lex.europa.eu/">GDPR</a>', "html", allow_local_paths=False)
    assert not outside_loads('<script src="/static/deployscope-0.1.0.js"></script>', "html")


def test_serve_refuses_public_host_without_token():
    from deployscope.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert main(["serve", "--host", "0.0.0.0", "--port", "1", "--token", "short"]) == 2
    from deployscope.cli.serve_cmd import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")
