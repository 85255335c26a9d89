"""Page and plan latency against the running app: p50/p95 of POST /api/plan and of the main pages.

    python benchmarks/web.py [--url http://127.0.0.1:8000] [--requests 50] [--concurrency 1] [EXAMPLE.yaml]

Without --url it starts `deployscope serve` on a free loopback port with a temporary SQLite
store, measures, and stops it. Each request sends the example's YAML and receives the full
plan JSON; --save also stores scenario and plan on each request. The server's Server-Timing
header splits each plan request into parse, queue (waiting for a worker and passing data between
processes), plan and json; the rest is HTTP and the client.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "DEPLOYSCOPE_DATABASE_URL": f"sqlite:///{tmp}/bench.db"}
    proc = subprocess.Popen([sys.executable, "-m", "deployscope", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(base + "/api/health", timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def server_timing(header: str) -> dict[str, float]:
    """Seconds by part from a Server-Timing header (``parse;dur=1.2, queue;dur=3.4, ...`` in ms)."""
    out = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        if name and dur:
            out[name] = float(dur) / 1000
    return out


def page_latency(c: httpx.Client, body: dict, n: int) -> dict[str, list[float]]:
    """GET each main page n times (one at a time) after saving two plans to show."""
    r1 = c.post("/api/plan?save=true", json=body)
    r2 = c.post("/api/plan?save=true", json=body)
    r1.raise_for_status()
    r2.raise_for_status()
    a, b = r1.headers["X-Deployscope-Plan-Id"], r2.headers["X-Deployscope-Plan-Id"]
    sid = r1.headers["X-Deployscope-Scenario-Id"]
    paths = ["/", "/scenarios", "/scenarios/new", f"/scenarios/{sid}/edit", f"/plans/{a}", f"/compare?a={a}&b={b}",
             "/catalog/accelerators", "/measurements"]
    out: dict[str, list[float]] = {}
    for path in paths:
        c.get(path).raise_for_status()  # warm
        xs = []
        for _ in range(max(5, n // 2)):
            t = time.perf_counter()
            c.get(path).raise_for_status()
            xs.append(time.perf_counter() - t)
        out[path.split("?")[0]] = xs
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("example", nargs="?", type=Path, default=HERE.parent / "examples" / "saas-chat.yaml")
    ap.add_argument("--url")
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args()
    body = {"yaml": args.example.read_text()}
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = (None, args.url.rstrip("/")) if args.url else _start(tmp)
        try:
            with httpx.Client(base_url=base, timeout=120, limits=httpx.Limits(max_connections=args.concurrency)) as c:
                url = "/api/plan" + ("?save=true" if args.save else "")
                for _ in range(args.warmup):
                    c.post(url, json=body).raise_for_status()

                def one(_: int) -> tuple[float, int, dict[str, float]]:
                    t = time.perf_counter()
                    r = c.post(url, json=body)
                    r.raise_for_status()
                    return time.perf_counter() - t, len(r.content), server_timing(r.headers.get("server-timing", ""))

                t0 = time.perf_counter()
                with ThreadPoolExecutor(args.concurrency) as ex:
                    res = list(ex.map(one, range(args.requests)))
                wall = time.perf_counter() - t0
                pages = page_latency(c, body, args.requests)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)
    lat = [r[0] for r in res]
    print(f"POST /api/plan  {args.example.name}  requests={len(lat)} concurrency={args.concurrency} save={args.save}")
    print(f"  p50 {statistics.median(lat) * 1000:.0f} ms   p95 {pct(lat, 0.95) * 1000:.0f} ms   max {max(lat) * 1000:.0f} ms")
    print(f"  {len(lat) / wall:.2f} plans/s   response {res[0][1] / 1024:.0f} KiB")
    parts = [k for k in res[0][2]]
    if parts:  # where the time goes inside the server (Server-Timing); the rest is HTTP and the client
        inside = [sum(r[2].values()) for r in res]
        print("  server p50: " + ", ".join(f"{k} {statistics.median(r[2].get(k, 0.0) for r in res) * 1000:.1f} ms" for k in parts)
              + f"; HTTP and client {statistics.median(a - b for a, b in zip(lat, inside)) * 1000:.1f} ms")
    for path, xs in pages.items():
        print(f"GET {path:<28} p50 {statistics.median(xs) * 1000:6.1f} ms   p95 {pct(xs, 0.95) * 1000:6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
