"""Crash safety: SIGKILL the CLI, the web app and a bench run in the middle of saves, repeatedly.
Everything a process reported as saved (its commit had returned) is still there, intact, and the
store opens cleanly with ``PRAGMA integrity_check`` = ok.

Rounds per test: ``DEPLOYSCOPE_CRASH_ROUNDS`` (5 under CI=true, 20 otherwise). Kill times come
from a seeded generator, so a failing round can be replayed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx

from deployscope.store import Store

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "saas-chat.yaml"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROUNDS = int(os.environ.get("DEPLOYSCOPE_CRASH_ROUNDS", "5" if CI else "20"))


def _env(db_url: str, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DEPLOYSCOPE_DATABASE_URL"] = db_url
    env["XDG_DATA_HOME"] = str(tmp / "xdg")
    env.pop("DEPLOYSCOPE_CATALOG", None)
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def _open_clean(db_url: str) -> Store:
    s = Store(db_url)
    assert s.integrity_check() == "ok"
    return s


# ------------------------------------------------------------------------------ CLI: plan --save
def test_cli_plan_save_survives_sigkill(tmp_path):
    db = f"sqlite:///{tmp_path}/cli.db"
    env = _env(db, tmp_path)
    log = tmp_path / "saved.log"
    rng = random.Random(8)
    # `plan --save` in a loop; each run prints "saved scenario S ... and plan P" after its commits
    loop = f'while true; do "{sys.executable}" -m deployscope plan "{EXAMPLE}" --save --json >/dev/null 2>>"{log}"; done'
    committed: list[tuple[int, int]] = []
    for _round in range(ROUNDS):
        proc = subprocess.Popen(["bash", "-c", loop], env=env, start_new_session=True)
        time.sleep(rng.uniform(1.0, 5.0))
        _kill_group(proc)
        import re

        committed = [(int(a), int(b)) for a, b in re.findall(r"saved scenario (\d+) .* and plan (\d+)", log.read_text())]
        s = _open_clean(db)
        try:
            for sid, pid in committed:
                rec = s.get_plan(pid)
                assert rec.scenario_id == sid
                plan = rec.to_plan()  # the whole body parses back into a Plan
                assert plan.options and plan.scenario_name
                assert s.get_scenario(sid).yaml == EXAMPLE.read_text()
        finally:
            s.close()
    assert committed, "no plan was saved before the kills: raise the kill delays"
    print(f"\n[crash] plan --save: {ROUNDS} SIGKILLs, {len(committed)} acknowledged plans all intact")


# ------------------------------------------------------------------------------ store: tight loop
SAVER = textwrap.dedent(
    """
    import json, sys
    from deployscope.store import Store
    s = Store(sys.argv[1])
    plan = json.loads(open(sys.argv[2]).read())
    yaml_text = open(sys.argv[3]).read()
    i = int(sys.argv[4])
    while True:
        sid = s.save_scenario(f"crash-{i}", yaml_text + f"\\n# copy {i}\\n")
        pid = s.save_plan(sid, plan)
        sys.stdout.write(f"{i} {sid} {pid}\\n"); sys.stdout.flush()
        i += 1
    """
)


def test_store_tight_save_loop_survives_sigkill(tmp_path):
    """Saves back to back, so the kill lands inside a transaction in most rounds."""
    db = f"sqlite:///{tmp_path}/tight.db"
    plan_json = tmp_path / "plan.json"
    r = subprocess.run([sys.executable, "-m", "deployscope", "plan", str(EXAMPLE), "--json"], env=_env(db, tmp_path),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    plan_json.write_text(r.stdout)
    saver = tmp_path / "saver.py"
    saver.write_text(SAVER)
    rng = random.Random(11)
    acked: list[tuple[int, int, int]] = []
    start = 0
    for rnd in range(ROUNDS * 2):
        out = tmp_path / f"acks-{rnd}.log"
        with out.open("w") as f:
            proc = subprocess.Popen([sys.executable, str(saver), db, str(plan_json), str(EXAMPLE), str(start)],
                                    env=_env(db, tmp_path), stdout=f, start_new_session=True)
            time.sleep(rng.uniform(0.8, 2.5))
            _kill_group(proc)
        lines = [ln.split() for ln in out.read_text().splitlines() if ln.strip()]
        full = [tuple(map(int, ln)) for ln in lines if len(ln) == 3]
        acked += full
        start = (full[-1][0] + 1) if full else start + 1000
        s = _open_clean(db)
        try:
            for i, sid, pid in acked:
                sc = s.get_scenario(sid)
                assert sc.name == f"crash-{i}" and sc.yaml.endswith(f"# copy {i}\n")
                assert s.get_plan(pid).scenario_id == sid
            # the store still takes writes after the crash
            s.save_scenario(f"after-{rnd}", "name: x\n")
        finally:
            s.close()
    assert len(acked) > ROUNDS, f"too few saves acknowledged ({len(acked)})"
    print(f"\n[crash] store loop: {ROUNDS * 2} SIGKILLs, {len(acked)} acknowledged scenario+plan saves all intact")


# ------------------------------------------------------------------------------ web app under concurrent saves
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(env: dict[str, str], db: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "deployscope", "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1, trust_env=False)
            if r.status_code == 200:
                return proc, f"http://127.0.0.1:{port}"
        except httpx.HTTPError:
            time.sleep(0.2)
    _kill_group(proc)
    raise AssertionError("server did not start")


def test_web_app_saves_survive_sigkill(tmp_path):
    db = f"sqlite:///{tmp_path}/web.db"
    env = _env(db, tmp_path)
    yaml_text = EXAMPLE.read_text()
    rng = random.Random(5)
    acked_scenarios: dict[int, str] = {}
    acked_plans: dict[int, int] = {}
    lock = threading.Lock()
    for rnd in range(ROUNDS):
        proc, base = _start_server(env, db)
        stop = threading.Event()

        def scenario_writer(w: int, base: str = base, stop: threading.Event = stop, rnd: int = rnd) -> None:
            k = 0
            with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
                while not stop.is_set() and k < 2000:  # bounded
                    name = f"r{rnd}-w{w}-{k}"
                    try:
                        r = c.post("/api/scenarios", json={"name": name, "yaml": yaml_text + f"\n# {name}\n"})
                    except httpx.HTTPError:
                        return  # the server is gone
                    if r.status_code == 201:
                        with lock:
                            acked_scenarios[r.json()["id"]] = name
                    else:
                        assert r.status_code < 500, r.text
                    k += 1

        def plan_writer(base: str = base, stop: threading.Event = stop) -> None:
            with httpx.Client(base_url=base, timeout=60, trust_env=False) as c:
                for _ in range(50):  # bounded
                    if stop.is_set():
                        return
                    try:
                        r = c.post("/api/plan", params={"save": "true"}, json={"yaml": yaml_text})
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        with lock:
                            acked_plans[int(r.headers["X-Deployscope-Plan-Id"])] = int(r.headers["X-Deployscope-Scenario-Id"])

        threads = [threading.Thread(target=scenario_writer, args=(w,)) for w in range(6)] + [threading.Thread(target=plan_writer)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(1.5, 4.0))
        _kill_group(proc)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        s = _open_clean(db)
        try:
            for sid, name in acked_scenarios.items():
                rec = s.get_scenario(sid)
                assert rec.name == name and rec.yaml.endswith(f"# {name}\n")
            for pid, sid in acked_plans.items():
                assert s.get_plan(pid).scenario_id == sid
        finally:
            s.close()
    assert len(acked_scenarios) >= ROUNDS, "too few saves acknowledged"
    print(f"\n[crash] web app: {ROUNDS} SIGKILLs, {len(acked_scenarios)} scenarios and {len(acked_plans)} plans acknowledged, all intact")


# ------------------------------------------------------------------------------ bench --save
def _json_docs(text: str) -> list[dict]:
    dec = json.JSONDecoder()
    docs, i = [], 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        try:
            doc, i = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            break  # the document being written when the kill came
        docs.append(doc)
    return docs


def test_bench_save_survives_sigkill(tmp_path):
    from deployscope.bench.sse_server import ServerProcess

    db = f"sqlite:///{tmp_path}/bench.db"
    env = _env(db, tmp_path)
    rng = random.Random(3)
    out = tmp_path / "bench.out"
    srv = ServerProcess(ttft=0.005, itl=0.002, tokens=16).start()
    try:
        loop = (f'i=0; while true; do i=$((i+1)); "{sys.executable}" -m deployscope bench {srv.url} --requests 200 --concurrency 16 '
                f'--output-len 16 --input-len 16 --duration 20 --save --json --label "k$i" >>"{out}" 2>/dev/null; done')
        docs: list[dict] = []
        for _round in range(ROUNDS):
            proc = subprocess.Popen(["bash", "-c", loop], env=env, start_new_session=True)
            time.sleep(rng.uniform(1.5, 5.0))
            _kill_group(proc)
            docs = _json_docs(out.read_text())
            s = _open_clean(db)
            try:
                for d in docs:
                    run = s.get_bench_run(d["run_id"])
                    assert run.summary.get("completed") == d["completed"]
                    assert run.records_count == len(run.records) > 0
                    assert len([r for r in run.records if r.get("phase", "measured") != "warmup"]) >= d["completed"]
            finally:
                s.close()
        assert docs, "no bench run finished before the kills: raise the kill delays"
        print(f"\n[crash] bench --save: {ROUNDS} SIGKILLs, {len(docs)} finished runs "
              f"({sum(d['completed'] for d in docs)} measured requests) all intact")
    finally:
        srv.stop()
