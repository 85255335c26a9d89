"""The web side of the deployment loop: a saved plan's Export panel and downloads, and a saved bench
run verified against a saved plan (HTML beside the prediction, and JSON)."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path

import pytest
import yaml

warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

from deployscope.store import Store  # noqa: E402
from deployscope.web.app import create_app  # noqa: E402

SAAS = Path(__file__).resolve().parent.parent / "examples" / "saas-chat.yaml"


@pytest.fixture(scope="module")
def saas():
    from deployscope.planner import plan

    return plan(SAAS)


@pytest.fixture
def app(tmp_path, saas):
    store = Store(str(tmp_path / "web.db"))
    pid = store.save_plan(store.save_scenario("saas", SAAS.read_text()), saas)
    yield TestClient(create_app(store)), store, pid
    store.close()


def test_plan_page_has_the_export_panel_and_files_download(app):
    client, _, pid = app
    r = client.get(f"/plans/{pid}")
    assert r.status_code == 200 and 'id="export-panel"' in r.text and f"/plans/{pid}/export?format=k8s" in r.text
    r = client.get(f"/plans/{pid}/export?format=k8s")
    assert r.status_code == 200 and r.headers["content-security-policy"] == "default-src 'self'"
    assert "on_prem-mi300x" in r.text and "k8s.yaml" in r.text and "verify.sh" in r.text
    f = client.get(f"/plans/{pid}/export/k8s/k8s.yaml?option=on_prem-mi300x")
    assert f.status_code == 200 and "attachment" in f.headers["content-disposition"]
    kinds = [d["kind"] for d in yaml.safe_load_all(f.text) if d]
    assert kinds == ["PersistentVolumeClaim", "Deployment", "Service"]
    z = client.get(f"/plans/{pid}/export/vllm.zip")
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert z.status_code == 200 and any(n.endswith("assistant.vllm.sh") for n in names) and any(n.endswith("verify.sh") for n in names)
    api = client.get(f"/api/plans/{pid}/export", params={"format": "compose"})
    assert api.status_code == 200 and "compose.yaml" in api.json()["files"]


def test_export_errors_are_4xx_or_shown(app):
    client, _, pid = app
    assert client.get(f"/api/plans/{pid}/export", params={"format": "vllm", "option": "api-nebius"}).status_code == 400
    r = client.get(f"/plans/{pid}/export?format=llamacpp")  # fp8 is not a GGUF format
    assert r.status_code == 200 and 'id="export-error"' in r.text and "cannot serve weight format" in r.text
    assert client.get(f"/plans/{pid}/export/vllm/nope.txt").status_code == 404
    assert client.get("/plans/999/export").status_code == 404


def _summary(ttft_p95: float, tpot_p95: float, rate: float) -> dict:
    stat = lambda v: {"mean": v, "p50": v, "p90": v, "p95": v, "p99": v, "min": v, "max": v, "n": 20}  # noqa: E731
    return {"completed": 20, "errors": 0, "requests": 20, "ttft_s": stat(ttft_p95), "tpot_s": stat(tpot_p95),
            "requests_per_s": rate, "output_tokens_per_s": rate * 300, "load": {"mode": "rate", "rate": rate}}


def test_measurement_verified_against_a_plan(app, saas):
    client, store, pid = app
    opt = saas.option("on_prem-mi300x")
    cap = opt.performance.components[0].capacity_per_replica
    rid = store.save_bench_run(_summary(opt.performance.ttft_p95_s, opt.performance.tpot_p95_s, cap), [], label="verify")
    page = client.get(f"/measurements/{rid}")
    assert 'id="verify-panel"' in page.text
    r = client.get(f"/measurements/{rid}/verify", params={"plan": pid})
    assert r.status_code == 200 and "PASS" in r.text and 'id="verify-checks"' in r.text
    slow = store.save_bench_run(_summary(opt.performance.ttft_p95_s * 3, opt.performance.tpot_p95_s * 3, cap), [])
    j = client.get(f"/api/bench-runs/{slow}/verify", params={"plan": pid}).json()
    assert j["passed"] is False and j["slo"]["holds"] is False
    assert {c["metric"]: c["held"] for c in j["checks"]} == {"ttft_p95_s": False, "tpot_p95_s": False, "requests_per_s": None}
    assert "--calibrate" in client.get(f"/measurements/{slow}/verify", params={"plan": pid}).text
    assert json.dumps(j)  # plain JSON
