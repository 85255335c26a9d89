"""Every JSON API operation, fuzzed by schemathesis from the app's own OpenAPI document, in process
(ASGI transport, no socket): never a 5xx; every 4xx JSON answer says what was wrong and names the
field where there is one. Cases per operation: ``DEPLOYSCOPE_FUZZ_EXAMPLES`` (25 under CI=true,
500 otherwise); the number generated is written to the terminal and to
``$DEPLOYSCOPE_FUZZ_COUNT_FILE`` when set.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis comes with the test extra")
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from deployscope.store import Store  # noqa: E402
from deployscope.web.app import create_app  # noqa: E402

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
N = int(os.environ.get("DEPLOYSCOPE_FUZZ_EXAMPLES", "25" if CI else "500"))
# in CI a failure is reported as found (shrinking can take minutes); full runs shrink it
PHASES = (Phase.explicit, Phase.reuse, Phase.generate) if CI else tuple(Phase)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

_DB_DIR = tempfile.mkdtemp(prefix="ds-fuzz-api-")
atexit.register(shutil.rmtree, _DB_DIR, True)
_STORE = Store(f"sqlite:///{_DB_DIR}/fuzz.db")
# something to find: a saved scenario and a plan, so lookups by id/name hit real rows too
_SID = _STORE.save_scenario("saas-chat", (EXAMPLES / "saas-chat.yaml").read_text())
APP = create_app(store=_STORE)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

COUNTS: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    total = sum(COUNTS.values())
    line = {"suite": "api", "cases": total, "per_operation": dict(COUNTS), "statuses": {str(k): v for k, v in sorted(STATUSES.items())}}
    print(f"\n[fuzz] api: {total} generated requests over {len(COUNTS)} operations; statuses {dict(sorted(STATUSES.items()))}")
    out = os.environ.get("DEPLOYSCOPE_FUZZ_COUNT_FILE")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


def _rejection_names_the_problem(response) -> None:  # noqa: ANN001
    status = response.status_code
    if not 400 <= status < 500:
        return
    ctype = response.headers.get("content-type", [""])
    ctype = ctype[0] if isinstance(ctype, list) else ctype
    assert "json" in ctype, f"{status} answered with {ctype!r}"
    body = json.loads(response.content)
    assert isinstance(body.get("error"), str) and body["error"], body
    assert "field" in body, body
    if status == 422:
        assert body["field"], body


@schema.parametrize()
@settings(max_examples=N, deadline=None, phases=PHASES, suppress_health_check=list(HealthCheck), derandomize=CI)
def test_api_operation_never_5xx(case):
    case_mode = getattr(case, "meta", None)
    response = case.call()
    COUNTS[case.operation.label] += 1
    STATUSES[response.status_code] += 1
    assert response.status_code < 500, f"{case.method} {case.path} -> {response.status_code}: {response.text[:2000]}\n{case_mode}"
    case.validate_response(response, checks=[not_a_server_error])
    _rejection_names_the_problem(response)


def test_schema_covers_the_api():
    ops = {f"{op.method.upper()} {op.path}" for op in (r.ok() for r in schema.get_all_operations())}
    for must in ("POST /api/plan", "POST /api/memory", "POST /api/fit", "GET /api/catalog", "GET /api/scenarios", "GET /api/plans"):
        assert must in ops, sorted(ops)


# ----------------------------------------------------------------------------- every web form
# The pages' forms are not in the OpenAPI document; these generators cover them: alias and depth
# bombs in every text a form parses, and cross-site origins against every form.
import html as _html  # noqa: E402
import re as _re  # noqa: E402
import time as _time  # noqa: E402

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

OWN = "http://127.0.0.1:8000"
_FORM_CLIENT = TestClient(create_app(store=_STORE, plan_processes=False), base_url=OWN)
_TOKEN = _html.unescape(_re.search(r'name="csrf_token" value="([^"]+)"', _FORM_CLIENT.get("/scenarios/new").text).group(1))

# (path, the field that carries YAML text or None, other fields)
FORMS = [
    ("/scenarios/new", "yaml", {"mode": "yaml", "action": "check"}),
    ("/scenarios/new", "base_yaml", {"mode": "form", "action": "check"}),
    ("/scenarios/new", "base_yaml", {"mode": "form", "action": "add:workloads:llm"}),
    (f"/scenarios/{_SID}/edit", "yaml", {"mode": "yaml", "action": "save"}),
    (f"/scenarios/{_SID}/edit", "base_yaml", {"mode": "form", "action": "plan"}),
    ("/plans/save", "yaml", {}),
    (f"/scenarios/{_SID}/plan", None, {}),
    ("/login", None, {"token": "x"}),
]
API_TEXT = [("/api/scenarios", "yaml"), ("/api/plan", "yaml"), ("/api/scenarios/check", "yaml")]


@st.composite
def alias_bombs(draw) -> str:  # noqa: ANN001
    width = draw(st.integers(2, 12))
    levels = draw(st.integers(2, 10))
    style = draw(st.sampled_from(["flow", "block"]))
    lines = ["name: bomb", "a0: &a0 [" + ", ".join(["x"] * width) + "]"]
    for i in range(1, levels):
        refs = [f"*a{i - 1}"] * width
        lines.append(f"a{i}: &a{i} [" + ", ".join(refs) + "]" if style == "flow" else f"a{i}: &a{i}\n" + "\n".join(f"  - {r}" for r in refs))
    return "\n".join(lines) + "\n"


@st.composite
def depth_bombs(draw) -> str:  # noqa: ANN001
    n = draw(st.integers(60, 3000))
    kind = draw(st.sampled_from(["[", "{a: ", "- "]))
    if kind == "- ":
        return "name: deep\nworkloads:\n" + "".join("  " * i + "-\n" for i in range(min(n, 400)))
    close = "]" if kind == "[" else "}"
    return "name: deep\nworkloads: " + kind * n + "1" + close * n + "\n"


hostile_text = st.one_of(alias_bombs(), depth_bombs(), st.text(max_size=2000))

# anything but exactly this server's origin, or Sec-Fetch-Site other than same-origin
hostile_origins = st.one_of(
    st.builds(lambda scheme, host, port: {"origin": f"{scheme}://{host}" + (f":{port}" if port else "")},
              st.sampled_from(["http", "https", "ftp"]), st.sampled_from(["127.0.0.1", "localhost", "evil.example", "[::1]", "127.0.0.2"]),
              st.one_of(st.none(), st.integers(1, 65535))).filter(lambda h: h["origin"] not in (OWN, "http://127.0.0.1:8000")),
    st.just({"origin": "null"}),
    st.builds(lambda s: {"sec-fetch-site": s}, st.sampled_from(["same-site", "cross-site", "none"])),
    st.builds(lambda s: {"sec-fetch-site": s, "origin": OWN}, st.sampled_from(["same-site", "cross-site"])),
)


@given(form=st.sampled_from(FORMS), text=hostile_text)
@settings(max_examples=N, deadline=None, phases=PHASES, suppress_health_check=list(HealthCheck), derandomize=CI)
def test_every_form_survives_bombs_and_garbage(form, text):
    path, field, extra = form
    data = {"csrf_token": _TOKEN, **extra}
    if field:
        data[field] = text
    t = _time.perf_counter()
    r = _FORM_CLIENT.post(path, data=data, follow_redirects=False)
    COUNTS[f"form {path} {field}"] += 1
    STATUSES[r.status_code] += 1
    assert r.status_code < 500, (path, field, text[:200], r.text[:500])
    assert _time.perf_counter() - t < 10, "a form request took over 10 s"
    assert len(r.content) < 2_000_000


@given(api=st.sampled_from(API_TEXT), text=st.one_of(alias_bombs(), depth_bombs()))
@settings(max_examples=N, deadline=None, phases=PHASES, suppress_health_check=list(HealthCheck), derandomize=CI)
def test_api_text_fields_refuse_bombs(api, text):
    path, field = api
    r = _FORM_CLIENT.post(path, json={field: text})
    COUNTS[f"api-bomb {path}"] += 1
    STATUSES[r.status_code] += 1
    assert 400 <= r.status_code < 500 or (r.status_code in (200, 201) and text.count("*") < 50), (path, r.status_code, r.text[:300])


@given(form=st.sampled_from(FORMS), headers=hostile_origins)
@settings(max_examples=N, deadline=None, phases=PHASES, suppress_health_check=list(HealthCheck), derandomize=CI)
def test_every_form_refuses_cross_site_origins(form, headers):
    path, field, extra = form
    data = {"csrf_token": _TOKEN, **extra}
    if field:
        data[field] = "name: planted\nworkloads: [{name: a, model: llama-3.1-8b, requests_per_day: 1, input_tokens: 1, output_tokens: 1}]\n"
    r = _FORM_CLIENT.post(path, data=data, headers=headers, follow_redirects=False)
    COUNTS[f"origin {path}"] += 1
    STATUSES[r.status_code] += 1
    assert r.status_code == 403, (path, headers, r.status_code)
    assert "planted" not in {s.name for s in _STORE.list_scenarios()}
