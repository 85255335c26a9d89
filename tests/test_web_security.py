"""Hostile input and concurrency against the web app, one test per finding (the reproducer is the
test): cross-site requests from another port, scheme or a null origin; YAML alias and depth bombs
on the form and the API; small hostile JSON bodies; work bounds per request; a locked store."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from web_helpers import (
    form_token,
    start_server,
    store,  # noqa: F401  (shared fixture)
)

warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

from deployscope.store import Store  # noqa: E402
from deployscope.web.app import create_app  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BASE = "http://127.0.0.1:8000"
GOOD = "name: x\nworkloads: [{name: a, model: llama-3.1-8b, requests_per_day: 10, input_tokens: 100, output_tokens: 10}]\n"


def bomb(levels: int = 9) -> str:
    """Billion laughs: each level is nine references to the one before."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "name: x\n" + "\n".join(lines) + "\n"


DEEP = "name: x\nworkloads: " + "[" * 600 + "]" * 600 + "\n"


@pytest.fixture
def client(store):
    return TestClient(create_app(store, plan_processes=False), base_url=BASE)


@pytest.fixture
def sid(store):
    return store.save_scenario("saas-chat", (EXAMPLES / "saas-chat.yaml").read_text())


# ----------------------------------------------------------------------------- cross-site requests
def form_posts(sid: int, tok: str) -> list[tuple[str, dict]]:
    """Every form the pages post, with a body that would be accepted from the app's own page."""
    return [
        ("/scenarios/new", {"mode": "yaml", "action": "check", "yaml": GOOD, "csrf_token": tok}),
        (f"/scenarios/{sid}/edit", {"mode": "yaml", "action": "check", "yaml": GOOD, "csrf_token": tok}),
        (f"/scenarios/{sid}/plan", {"csrf_token": tok}),
        (f"/scenarios/{sid}/delete", {"csrf_token": tok}),
        ("/plans/save", {"yaml": GOOD, "csrf_token": tok}),
        ("/login", {"token": "x", "csrf_token": tok}),
    ]


HOSTILE_ORIGINS = [
    {"origin": "http://127.0.0.1:9999"},  # another port on the same host (the probe's finding)
    {"origin": "https://127.0.0.1:8000"},  # another scheme
    {"origin": "http://localhost:8000"},  # another host name
    {"origin": "null"},  # sandboxed frames, file: pages
    {"origin": "http://127.0.0.1:8000.evil.example"},
    {"sec-fetch-site": "same-site"},  # a sibling origin, with or without an Origin header
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site", "origin": "http://127.0.0.1:8000"},
]


@pytest.mark.parametrize("headers", HOSTILE_ORIGINS, ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()))
def test_cross_site_posts_are_refused_even_with_a_valid_form_token(client, sid, store, headers):
    tok = form_token(client)
    for path, data in form_posts(sid, tok):
        r = client.post(path, data=data, headers=headers, follow_redirects=False)
        assert r.status_code == 403, (path, headers, r.status_code)
    r = client.post("/api/scenarios", json={"yaml": GOOD}, headers=headers)
    assert r.status_code == 403 and r.json()["field"] == "origin"
    r = client.delete(f"/api/scenarios/{sid}", headers=headers)
    assert r.status_code == 403
    assert store.get_scenario(sid).name == "saas-chat"  # nothing deleted, nothing planted
    assert [s.name for s in store.list_scenarios()] == ["saas-chat"]


def test_same_origin_posts_with_the_form_token_go_through(client, sid):
    tok = form_token(client)
    same = {"origin": BASE, "sec-fetch-site": "same-origin"}
    r = client.post("/scenarios/new", data={"mode": "yaml", "action": "check", "yaml": GOOD, "csrf_token": tok}, headers=same)
    assert r.status_code == 200 and "The scenario is valid." in r.text
    # the default port is the same origin written with or without it
    c = TestClient(client.app, base_url="http://127.0.0.1")
    tok2 = form_token(c)
    r = c.post("/scenarios/new", data={"mode": "yaml", "action": "check", "yaml": GOOD, "csrf_token": tok2},
               headers={"origin": "http://127.0.0.1:80"})
    assert r.status_code == 200


def test_referrer_policy_lets_browsers_send_the_real_origin(client):
    """Under `no-referrer` a browser sends `Origin: null` on same-origin form posts (found in
    Chromium), which the origin check refuses; `same-origin` keeps referrers off other sites."""
    assert client.get("/").headers["referrer-policy"] == "same-origin"


def test_forms_need_the_session_token(client, sid, store):
    tok = form_token(client)
    for path, data in form_posts(sid, tok):
        missing = {k: v for k, v in data.items() if k != "csrf_token"}
        assert client.post(path, data=missing, follow_redirects=False).status_code == 403, path
        assert client.post(path, data={**data, "csrf_token": "x" * 43}, follow_redirects=False).status_code == 403, path
    other = TestClient(client.app, base_url=BASE)  # another browser: its own cookie, so this token is not its
    r = other.post("/scenarios/new", data={"mode": "yaml", "action": "check", "yaml": GOOD, "csrf_token": tok})
    assert r.status_code == 403
    assert store.get_scenario(sid)  # still there


def test_every_form_on_every_page_carries_the_token(client, sid, store):
    from web_helpers import sample_plan

    pid = store.save_plan(sid, sample_plan())
    tok = form_token(client)
    for path in ("/scenarios", "/scenarios/new", f"/scenarios/{sid}/edit", f"/plans/{pid}", "/login"):
        html = client.get(path).text
        posts = html.count('method="post"')
        assert html.count(f'name="csrf_token" value="{tok}"') >= posts, path
        assert posts > 0 or path.startswith("/plans/"), path


# ----------------------------------------------------------------------------- bombs and hostile bodies
def test_alias_bomb_is_refused_quickly_on_form_and_api(client):
    tok = form_token(client)
    t = time.perf_counter()
    r = client.post("/api/scenarios", json={"yaml": bomb()})
    assert r.status_code == 400 and "alias bomb" in r.json()["error"]
    r = client.post("/api/plan", json={"yaml": bomb()})
    assert r.status_code == 400
    r = client.post("/scenarios/new", data={"mode": "yaml", "action": "check", "yaml": bomb(), "csrf_token": tok})
    assert r.status_code == 422 and "alias bomb" in r.text
    r = client.post("/scenarios/new", data={"mode": "form", "action": "check", "base_yaml": bomb(), "csrf_token": tok})
    assert r.status_code == 422 and "alias bomb" in r.text
    assert time.perf_counter() - t < 5
    assert len(r.content) < 200_000  # no expanded reply


def test_deep_nesting_is_a_4xx(client):
    tok = form_token(client)
    assert client.post("/api/scenarios", json={"yaml": DEEP}).status_code == 400
    r = client.post("/scenarios/new", data={"mode": "yaml", "action": "check", "yaml": DEEP, "csrf_token": tok})
    assert r.status_code == 422 and "nests deeper than 64 levels" in r.text
    body = '{"scenario": ' + "[" * 600 + "]" * 600 + "}"
    r = client.post("/api/plan", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "deeper than" in r.json()["error"]


def test_infinity_and_nan_json_literals_are_a_4xx(client):
    for lit in ("Infinity", "-Infinity", "NaN"):
        body = '{"model": "llama-3.1-8b", "gpu": "h100-sxm-80gb", "input_len": ' + lit + ', "output_len": 10}'
        r = client.post("/api/perf", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400 and lit.lstrip("-") in r.json()["error"], lit


def test_lone_surrogate_in_a_name_is_a_4xx(client, store):
    body = '{"name": "bad\\ud800name", "yaml": "name: x\\n"}'
    r = client.post("/api/scenarios", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "name"
    r = client.post("/api/scenarios", json={"yaml": "name: \"bad\\ud800\"\n" + GOOD[8:]})
    assert r.status_code == 400
    r = client.post("/api/scenarios", content=b'{"yaml": "name: \xff"}', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert store.list_scenarios() == []


def test_form_fields_with_numbers_out_of_range_are_field_errors(client):
    from deployscope.scenario import template

    tok = form_token(client)
    for text in ("inf", "1e400", "nan", "abc"):
        r = client.post("/scenarios/new", data={"mode": "form", "action": "check", "base_yaml": template(),
                                                "f:horizon_years": text, "csrf_token": tok})
        assert r.status_code == 422 and 'id="fld-horizon_years-error"' in r.text, text


# ----------------------------------------------------------------------------- bounded work
def test_too_many_workloads_is_a_413_naming_the_limit(client):
    wl = [{"name": f"w{i}", "model": "llama-3.1-8b", "requests_per_day": 10, "input_tokens": 10, "output_tokens": 10} for i in range(400)]
    r = client.post("/api/plan", json={"scenario": {"name": "x", "workloads": wl}})
    assert r.status_code == 413 and r.json()["field"] == "workloads" and "limit of 64" in r.json()["error"]


def test_thirty_thousand_duplicate_gpu_ids_is_a_413(client):
    text = GOOD + "candidates: {gpus: [" + ", ".join(["h100-sxm-80gb"] * 30_000) + "]}\n"
    t = time.perf_counter()
    r = client.post("/api/plan", json={"yaml": text})
    assert r.status_code == 413 and r.json()["field"] == "candidates.gpus"
    assert time.perf_counter() - t < 10


def test_long_lists_anywhere_are_a_413(client):
    r = client.post("/api/plan", json={"scenario": {"name": "x", "workloads": [], "uncertainty": {}, "load_profile": {"hourly": [1.0] * 5000}}})
    assert r.status_code == 413 and r.json()["field"] == "load_profile.hourly"


# ----------------------------------------------------------------------------- the store under lock
def test_a_locked_store_is_retried_then_a_503_with_retry_after(tmp_path, monkeypatch):
    import deployscope.store.store as store_mod

    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(store_mod, "LOCK_BACKOFF_S", 0.01)
    db = tmp_path / "locked.db"
    store = Store(str(db))
    c = TestClient(create_app(store, plan_processes=False), base_url=BASE)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        r = c.post("/api/scenarios", json={"yaml": GOOD})
        assert r.status_code == 503 and r.headers["retry-after"] == "2" and "busy" in r.json()["error"]
    finally:
        holder.execute("ROLLBACK")
    # a lock released while the retries run: the save goes through
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.05, lambda: holder.execute("ROLLBACK")).start()
    monkeypatch.setattr(store_mod, "LOCK_BACKOFF_S", 0.05)
    r = c.post("/api/scenarios", json={"yaml": GOOD})
    assert r.status_code == 201, r.text
    holder.close()
    store.close()


def test_concurrent_saves_all_succeed(client, store):
    def save(i: int) -> int:
        return client.post("/api/scenarios", json={"yaml": GOOD.replace("name: x", f"name: s{i}")}).status_code

    with ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(save, range(64)))
    assert codes == [201] * 64
    assert len(store.list_scenarios()) == 64


# ----------------------------------------------------------------------------- the plan pool
def test_plans_in_worker_processes_return_plans_and_field_errors(store):
    c = TestClient(create_app(store, plan_workers=1, plan_processes=True), base_url=BASE)
    try:
        r = c.post("/api/plan", json={"yaml": (EXAMPLES / "saas-chat.yaml").read_text()})
        assert r.status_code == 200 and r.json()["recommended"]
        assert re.fullmatch(r"parse;dur=[0-9.]+, queue;dur=[0-9.]+, plan;dur=[0-9.]+, json;dur=[0-9.]+", r.headers["server-timing"])
        bad = GOOD.replace("llama-3.1-8b", "no-such-model")
        r = c.post("/api/plan", json={"yaml": bad})
        assert r.status_code == 400 and r.json()["field"].startswith("workloads[0]") and "no-such-model" in r.json()["error"]
    finally:
        c.app.state.plans.close()


# ----------------------------------------------------------------------------- a real server
def test_health_answers_within_a_second_while_bombs_and_huge_bodies_are_parsed(tmp_path):
    proc, base = start_server(f"sqlite:///{tmp_path}/live.db", env={"DEPLOYSCOPE_PLAN_PROCESSES": "0"})
    try:
        # near the size limit, legal YAML that takes the parser a while; and bombs
        huge = "name: x\nnotes: [" + ", ".join(["word"] * 150_000) + "]\n"
        bodies = [json.dumps({"yaml": huge}), json.dumps({"yaml": bomb()}), json.dumps({"yaml": DEEP})] * 3
        stop = threading.Event()
        worst: list[float] = []

        def probe() -> None:
            with httpx.Client(base_url=base, trust_env=False, timeout=10) as h:
                while not stop.is_set():
                    t = time.perf_counter()
                    assert h.get("/api/health").status_code == 200
                    worst.append(time.perf_counter() - t)
                    time.sleep(0.05)

        def send(body: str) -> int:
            with httpx.Client(base_url=base, trust_env=False, timeout=60) as h:
                return h.post("/api/plan", content=body, headers={"content-type": "application/json"}).status_code

        t = threading.Thread(target=probe)
        t.start()
        try:
            with ThreadPoolExecutor(4) as ex:
                codes = list(ex.map(send, bodies))
        finally:
            stop.set()
            t.join()
        assert all(400 <= c < 500 for c in codes), codes
        assert len(worst) > 3 and max(worst) < 1.0, max(worst)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_full_plan_queue_is_a_503_with_retry_after(store, monkeypatch):
    import asyncio

    import deployscope.web.offload as offload

    def slow_plan(scenario, as_json=False):  # noqa: ANN001
        time.sleep(0.5)
        return "ok", "{}", 0.5

    monkeypatch.setattr(offload, "_plan", slow_plan)
    monkeypatch.setattr(offload, "MAX_QUEUED_PLANS", 1)
    pool = offload.PlanPool(workers=1, processes=False)

    async def burst() -> list:
        return await asyncio.gather(*(pool.plan(None) for _ in range(3)), return_exceptions=True)

    results = asyncio.run(burst())
    pool.close()
    refused = [r for r in results if isinstance(r, offload.Overloaded)]
    assert len(refused) == 1 and results.count("{}") == 2
    from deployscope.web.errors import retry_headers, status_of

    assert status_of(refused[0]) == 503 and retry_headers(refused[0]) == {"Retry-After": "5"}


def test_keep_alive_responses_are_not_held_back_by_nagle(tmp_path):
    """`serve` listens on a socket it binds itself; without the TCP protocol number asyncio left
    Nagle's algorithm on and every response after the first on a connection waited ~40 ms."""
    import socket

    proc, base = start_server(f"sqlite:///{tmp_path}/nagle.db")
    try:
        host, port = base[len("http://"):].split(":")
        with socket.create_connection((host, int(port))) as s:
            times = []
            for _ in range(8):
                t = time.perf_counter()
                s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                data = b""
                while b'"store"' not in data:
                    data += s.recv(65536)
                times.append(time.perf_counter() - t)
        assert sorted(times[1:])[3] < 0.03, times  # the median keep-alive request
    finally:
        proc.terminate()
        proc.wait(timeout=10)
