"""Load the web app with a bounded number of concurrent plan requests on loopback.

Starts `deployscope serve` on 127.0.0.1 with a throw-away SQLite store (or uses --url), sends
--requests POST /api/plan requests (the example scenario as YAML) with at most --concurrency in
flight, stops at --duration seconds whatever happens, and meanwhile probes GET /api/health once a
second to show the app keeps answering. Prints the host's cores and load average (before and
after), throughput, p50/p99 latency, errors (by kind), the server's resident memory (RSS) after
warm-up and after the run, and the RSS of each plan worker and of the server without them.

    python benchmarks/web_load.py                       # 60 plans, 8 in flight
    python benchmarks/web_load.py --requests 400 --concurrency 32 --save
    python benchmarks/web_load.py --requests 200 --concurrency 32 --rounds 3   # does memory plateau?
    python benchmarks/web_load.py --url http://127.0.0.1:8000 --token T
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _own_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                out += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    except OSError:
        pass
    return out


def worker_pids(pid: int) -> list[int]:
    """The server's plan worker processes (multiprocessing's spawned children, not its resource tracker)."""
    out = []
    for child in _children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                out.append(child)
        except OSError:
            continue
    return out


def host() -> dict:
    """The machine the figures come from: cores and load average (other work on it slows every figure)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cores": os.cpu_count(), "usable_cores": usable, "load_average_1_5_15_min": list(load) if load else None}


def rss_bytes(pid: int) -> int | None:
    """Resident memory of the server and every process under it (the plan workers included)."""
    if not Path(f"/proc/{pid}").exists():
        return None
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _own_rss(p)
        todo += _children(p)
    return total


class PeakRss:
    """Samples the server's RSS (with its workers) every 0.2 s while a load runs."""

    def __init__(self, pid: int | None) -> None:
        import threading

        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and self.pid:
            self.peak = max(self.peak, rss_bytes(self.pid) or 0)
            self._stop.wait(0.2)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def start_server(db_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, DEPLOYSCOPE_DATABASE_URL=db_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "deployscope", "serve", "--host", "127.0.0.1", "--port", str(port), "--db", db_url],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/api/health", timeout=1, trust_env=False).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("server did not start within 60 s")


def pct(a: list[float], q: float) -> float | None:
    return float(np.percentile(a, q)) if a else None


async def run_load(base: str, body: dict, n: int, concurrency: int, duration: float, save: bool, headers: dict) -> dict:
    lat: list[float] = []
    timing: dict[str, list[float]] = {"queue": [], "plan": []}  # from the Server-Timing header
    health: list[float] = []
    errors: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
    timeout = httpx.Timeout(max(duration, 1.0))
    deadline = time.monotonic() + duration
    next_i = 0
    lock = asyncio.Lock()

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout, headers=headers, trust_env=False) as c:

        async def worker() -> None:
            nonlocal next_i
            while True:
                async with lock:
                    if next_i >= n or time.monotonic() >= deadline:
                        return
                    next_i += 1
                t0 = time.perf_counter()
                try:
                    r = await asyncio.wait_for(
                        c.post("/api/plan", params={"save": "true"} if save else None, json=body),
                        timeout=max(deadline - time.monotonic(), 0.01),
                    )
                    statuses[r.status_code] += 1
                    if r.status_code == 200:
                        lat.append(time.perf_counter() - t0)
                        for part in r.headers.get("server-timing", "").split(","):
                            name, _, dur = part.strip().partition(";dur=")
                            if name in timing and dur:
                                timing[name].append(float(dur) / 1000)
                    else:
                        errors[f"http {r.status_code}"] += 1
                except TimeoutError:
                    errors["deadline"] += 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1

        async def prober(stop: asyncio.Event) -> None:
            while not stop.is_set() and time.monotonic() < deadline:
                t0 = time.perf_counter()
                try:
                    r = await c.get("/api/health", timeout=30)
                    if r.status_code == 200:
                        health.append(time.perf_counter() - t0)
                    else:
                        errors[f"health http {r.status_code}"] += 1
                except httpx.HTTPError as exc:
                    errors[f"health {type(exc).__name__}"] += 1
                try:
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                except TimeoutError:
                    pass

        stop = asyncio.Event()
        t_start = time.perf_counter()
        probe = asyncio.create_task(prober(stop))
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t_start
        stop.set()
        await probe
    return {
        "requests": next_i,
        "completed": len(lat),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "elapsed_s": elapsed,
        "throughput_rps": len(lat) / elapsed if elapsed > 0 else None,
        "latency_s": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99), "max": max(lat) if lat else None},
        "server_timing_s": {k: {"p50": pct(v, 50), "p99": pct(v, 99)} for k, v in timing.items()},
        "health_probe_s": {"n": len(health), "p50": pct(health, 50), "p99": pct(health, 99), "max": max(health) if health else None},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=60, help="plan requests in all (bounded)")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight at most")
    ap.add_argument("--duration", type=float, default=600.0, help="stop after this many seconds whatever happens")
    ap.add_argument("--warmup", type=int, default=4, help="requests sent first and left out of every figure")
    ap.add_argument("--example", default=str(ROOT / "examples" / "saas-chat.yaml"), help="scenario YAML to plan")
    ap.add_argument("--save", action="store_true", help="also save every plan (POST /api/plan?save=true)")
    ap.add_argument("--url", help="an app already running (default: start one on 127.0.0.1)")
    ap.add_argument("--token", help="bearer token for --url")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the whole load this many times on the same server (RSS after each)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args(argv)
    if not (1 <= a.requests <= 1_000_000 and 1 <= a.concurrency <= 1024 and 0 < a.duration <= 86_400):
        ap.error("--requests 1..1e6, --concurrency 1..1024, --duration 0..86400")
    body = {"yaml": Path(a.example).read_text(encoding="utf-8")}
    headers = {"Authorization": f"Bearer {a.token}"} if a.token else {}
    proc = None
    host_before = host()
    workers_rss: list[int] = []
    own_rss = None
    tmp = tempfile.TemporaryDirectory(prefix="ds-web-load-")
    try:
        if a.url:
            base = a.url.rstrip("/")
        else:
            proc, base = start_server(f"sqlite:///{tmp.name}/load.db")
        rss_start = rss_bytes(proc.pid) if proc else None
        if a.warmup:
            asyncio.run(run_load(base, body, a.warmup, min(a.concurrency, a.warmup), a.duration, a.save, headers))
        rss_warm = rss_bytes(proc.pid) if proc else None
        rss_rounds = []
        peak = PeakRss(proc.pid if proc else None)
        with peak:
            for _ in range(max(1, min(a.rounds, 100))):
                res = asyncio.run(run_load(base, body, a.requests, a.concurrency, a.duration, a.save, headers))
                rss_rounds.append(rss_bytes(proc.pid) if proc else None)
                if res["errors"]:
                    break
        rss_end = rss_rounds[-1]
        if proc is not None:
            workers_rss = [_own_rss(w) for w in worker_pids(proc.pid)]
            own_rss = _own_rss(proc.pid)
        alive = httpx.get(base + "/api/health", timeout=10, headers=headers, trust_env=False).status_code == 200
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        tmp.cleanup()
    res.update(
        concurrency=a.concurrency, example=Path(a.example).name, save=a.save, answering_after=alive,
        host={**host_before, "load_average_after": host()["load_average_1_5_15_min"]},
        plan_workers={"count": len(workers_rss) if proc else None, "rss_bytes_each": workers_rss, "server_alone_rss_bytes": own_rss},
        server_rss_bytes={"start": rss_start, "after_warmup": rss_warm, "after_run": rss_end, "peak": peak.peak or None,
                          "after_each_round": rss_rounds},
    )
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    mib = lambda b: "-" if b is None else f"{b / 2**20:,.0f} MiB"  # noqa: E731
    ms = lambda s: "-" if s is None else f"{s * 1000:,.0f} ms"  # noqa: E731
    hb = res["host"]
    la = lambda x: "-" if x is None else " / ".join(f"{v:.2f}" for v in x)  # noqa: E731
    print(f"host: {hb['cores']} cores ({hb['usable_cores']} usable); load average 1/5/15 min before {la(hb['load_average_1_5_15_min'])}, "
          f"after {la(hb['load_average_after'])}")
    print(f"plan requests: {res['requests']} sent, {res['completed']} ok, {res['errors']} errors {res['error_kinds'] or ''}")
    print(f"concurrency {a.concurrency}, {res['elapsed_s']:.1f} s: {res['throughput_rps']:.2f} plans/s")
    print(f"latency p50 {ms(res['latency_s']['p50'])}, p90 {ms(res['latency_s']['p90'])}, p99 {ms(res['latency_s']['p99'])}, max {ms(res['latency_s']['max'])}")
    st = res["server_timing_s"]
    if st["plan"]["p50"] is not None:
        print(f"of which waiting for a plan worker: p50 {ms(st['queue']['p50'])}, p99 {ms(st['queue']['p99'])}; "
              f"computing: p50 {ms(st['plan']['p50'])}, p99 {ms(st['plan']['p99'])}")
    h = res["health_probe_s"]
    print(f"health probe during load: {h['n']} answered, p50 {ms(h['p50'])}, p99 {ms(h['p99'])}; answering after the run: {alive}")
    r = res["server_rss_bytes"]
    print(f"server RSS (with plan workers): start {mib(r['start'])}, after warm-up {mib(r['after_warmup'])}, "
          f"peak {mib(r['peak'])}, after run {mib(r['after_run'])}"
          + (f"; after each round: {', '.join(mib(x) for x in r['after_each_round'])}" if len(r["after_each_round"]) > 1 else ""))
    pw = res["plan_workers"]
    if pw["rss_bytes_each"]:
        each = sorted(pw["rss_bytes_each"])
        print(f"plan workers: {pw['count']}, RSS each {mib(each[0])} .. {mib(each[-1])} (median {mib(each[len(each) // 2])}); "
              f"server without them {mib(pw['server_alone_rss_bytes'])}")
    return 0 if alive and res["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
