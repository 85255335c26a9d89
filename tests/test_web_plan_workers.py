"""How many plans the web app computes at once: one worker per usable core up to a ceiling,
or exactly what $DEPLOYSCOPE_PLAN_WORKERS says."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from deployscope.errors import DeployscopeError
from deployscope.web import offload


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 2), (8, 8), (16, 16), (64, offload.MAX_DEFAULT_WORKERS)])
def test_default_follows_the_cores_up_to_the_ceiling(monkeypatch: pytest.MonkeyPatch, cores: int, workers: int) -> None:
    monkeypatch.delenv(offload.WORKERS_ENV, raising=False)
    monkeypatch.setattr(offload, "usable_cores", lambda: cores)
    assert offload.PlanPool(processes=False).workers == workers


def test_the_ceiling_is_sixteen() -> None:
    assert offload.MAX_DEFAULT_WORKERS == 16


def test_usable_cores_is_a_positive_count() -> None:
    assert 1 <= offload.usable_cores()


@pytest.mark.parametrize("value", ["1", "3", "64"])
def test_environment_sets_the_count(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(offload.WORKERS_ENV, value)
    monkeypatch.setattr(offload, "usable_cores", lambda: 2)
    assert offload.PlanPool(processes=False).workers == int(value)


@pytest.mark.parametrize("value", ["0", "-2", "65", "four", "2.5"])
def test_a_bad_count_is_an_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(offload.WORKERS_ENV, value)
    with pytest.raises(DeployscopeError) as info:
        offload.PlanPool(processes=False)
    assert info.value.field == offload.WORKERS_ENV
    assert info.value.allowed == "1..64"
    assert value in str(info.value.to_dict().get("value"))


def test_worker_start_up_survives_a_bad_user_catalog(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # an error in the worker initializer would break the whole pool: the plan reports it instead
    from deployscope.catalog import default_catalog, set_default_catalog

    (tmp_path / "accelerators.yaml").write_text("- id: [not, text]\n", encoding="utf-8")
    monkeypatch.setenv("DEPLOYSCOPE_CATALOG", str(tmp_path))
    set_default_catalog(None)
    try:
        with pytest.raises(DeployscopeError):  # the catalog is bad indeed
            default_catalog().check()
        offload._warm()
    finally:
        monkeypatch.delenv("DEPLOYSCOPE_CATALOG")
        set_default_catalog(None)


def test_start_up_objects_are_frozen_out_of_full_collections():
    """Plan workers and the served app freeze what start-up built, so a full garbage collection
    during a request scans that request's objects only (the p95 of plan pages carried 45 ms
    collections of the whole catalog before)."""
    import gc

    from deployscope.web.offload import _warm

    gc.unfreeze()
    try:
        _warm()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # modules, the catalog's rows
        gc.collect()
        assert gc.get_freeze_count() == frozen  # a collection leaves them frozen
    finally:
        gc.unfreeze()


def _descendants(pid: int) -> set[int]:
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            out.update(kids)
            todo += kids
    return out


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_plan_workers_end_with_the_server(tmp_path: Path, signal_name: str) -> None:
    """Stopping the server (or killing it outright) leaves no plan worker behind."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    import httpx

    if not Path("/proc/self/task").exists():
        pytest.skip("needs /proc to find the workers")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "deployscope", "serve", "--port", str(port), "--db", f"sqlite:///{tmp_path}/w.db"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/api/health", timeout=1, trust_env=False)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        example = Path(__file__).resolve().parents[1] / "examples" / "saas-chat.yaml"
        r = httpx.post(base + "/api/plan", json={"yaml": example.read_text(encoding="utf-8")}, timeout=120, trust_env=False)
        assert r.status_code == 200
        workers = _descendants(server.pid)
        assert workers, "the plan ran in a worker process"
        server.send_signal(getattr(signal, signal_name))
        server.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
            time.sleep(0.2)
        left = [w for w in workers if Path(f"/proc/{w}").exists() and "Z" not in Path(f"/proc/{w}/stat").read_text().split()[2]]
        assert not left, f"workers still running after {signal_name}: {left}"
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGKILL)
