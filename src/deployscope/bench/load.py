"""Load patterns: fixed concurrency (closed loop), constant and Poisson request rates (open
loop), a sweep (synchronous → saturation → rates spaced between) and a search for the highest
rate that meets the SLOs. Synthetic prompts with length distributions; warm-up requests first,
kept in the records but out of every figure.

Every run is bounded twice: by a number of requests and by a wall-clock duration. At the time
bound, requests still in flight are cancelled and recorded as ``cancelled``; the records measured
so far are always returned (Ctrl-C included, see :class:`Run`).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..errors import DeployscopeError
from . import metrics
from .client import Client, ClientConfig
from .records import RequestRecord, RequestSpec

WORDS = (
    "the quick brown fox jumps over lazy dog load test server token stream latency throughput "
    "request response model chat completion hello world python benchmark concurrency batch queue "
    "worker async event loop socket http json fast slow small large first last time rate limit"
).split()

MAX_REQUESTS = 1_000_000
MAX_DURATION_S = 7 * 24 * 3600.0
MAX_CONCURRENCY = 4096
SLO_ATTAINMENT = 0.9  # a load meets the SLOs when >= 90 % of its requests meet every SLO (DistServe)


@dataclass(frozen=True)
class LengthDist:
    """A token-length distribution: normal(mean, std) rounded and clipped to [min, max]."""

    mean: int
    std: float = 0.0
    min: int = 1
    max: int | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.mean, int) and self.mean >= 1):
            raise DeployscopeError("a length must be a whole number >= 1", field="length", value=self.mean)
        if self.std < 0:
            raise DeployscopeError("a length spread must be >= 0", field="length_std", value=self.std)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.std == 0:
            x = np.full(n, self.mean)
        else:
            x = np.rint(rng.normal(self.mean, self.std, n))
        hi = self.max if self.max is not None else np.inf
        return np.clip(x, max(1, self.min), hi).astype(int)


def make_prompt(rng: np.random.Generator, n_words: int) -> str:
    """`n_words` random common words: about one token each for BPE vocabularies."""
    idx = rng.integers(0, len(WORDS), n_words)
    return " ".join(WORDS[i] for i in idx)


def make_specs(n: int, start: int, inp: LengthDist, out: LengthDist, rng: np.random.Generator, phase: str) -> Iterator[RequestSpec]:
    """`n` request specs, made lazily (a million-request run costs nothing up front)."""
    words = np.array(WORDS)
    for i in range(n):
        il = int(inp.sample(rng, 1)[0])
        ol = int(out.sample(rng, 1)[0])
        yield RequestSpec(start + i, " ".join(words[rng.integers(0, len(words), il)]), il, ol, phase)


@dataclass
class LoadSpec:
    """What load to offer and for how long."""

    mode: str = "concurrency"  # concurrency | rate
    concurrency: int | None = 1
    rate: float | None = None
    arrival: str = "constant"  # constant | poisson (rate mode)
    requests: int = 100
    warmup: int = 0
    duration_s: float = 600.0
    input: LengthDist = field(default_factory=lambda: LengthDist(128))
    output: LengthDist = field(default_factory=lambda: LengthDist(128))
    max_in_flight: int = 1024  # rate mode: the most requests outstanding at once
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("concurrency", "rate"):
            raise DeployscopeError(f"unknown load mode {self.mode!r}", field="mode", value=self.mode, allowed=("concurrency", "rate"))
        if not (1 <= self.requests <= MAX_REQUESTS):
            raise DeployscopeError(f"requests must be between 1 and {MAX_REQUESTS:,}", field="requests", value=self.requests)
        if not (0 <= self.warmup <= MAX_REQUESTS):
            raise DeployscopeError("warmup must be >= 0", field="warmup", value=self.warmup)
        if not (0 < self.duration_s <= MAX_DURATION_S):
            raise DeployscopeError("duration must be > 0 seconds and at most a week", field="duration_s", value=self.duration_s)
        if self.mode == "concurrency":
            if self.concurrency is None or not (1 <= self.concurrency <= MAX_CONCURRENCY):
                raise DeployscopeError(f"concurrency must be between 1 and {MAX_CONCURRENCY}", field="concurrency", value=self.concurrency)
        else:
            if self.rate is None or not (0 < self.rate <= 1e6):
                raise DeployscopeError("rate must be > 0 requests/s", field="rate", value=self.rate)
            if self.arrival not in ("constant", "poisson"):
                raise DeployscopeError(f"unknown arrival pattern {self.arrival!r}", field="arrival", value=self.arrival, allowed=("constant", "poisson"))
            if not (1 <= self.max_in_flight <= MAX_CONCURRENCY):
                raise DeployscopeError(f"max_in_flight must be between 1 and {MAX_CONCURRENCY}", field="max_in_flight", value=self.max_in_flight)

    @property
    def connections(self) -> int:
        return int(self.concurrency if self.mode == "concurrency" else self.max_in_flight)

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "concurrency": self.concurrency if self.mode == "concurrency" else None,
            "rate": self.rate if self.mode == "rate" else None,
            "arrival": self.arrival if self.mode == "rate" else None,
            "requests": self.requests,
            "warmup": self.warmup,
            "duration_s": self.duration_s,
            "input_len": self.input.mean,
            "input_len_std": self.input.std,
            "output_len": self.output.mean,
            "output_len_std": self.output.std,
            "seed": self.seed,
        }


class Run:
    """Records of a run as they arrive; readable at any time (partial results on interrupt)."""

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []
        self.status = "running"
        self.started = time.perf_counter()
        self.started_at = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        self.cpu0 = time.process_time()
        self.cpu_s: float | None = None
        self.wall_s: float | None = None
        self.steps: list[dict[str, Any]] = []
        self.done = 0
        self.failed = 0
        self.planned = 0
        self.on_progress: Callable[["Run"], None] | None = None

    def finish(self, status: str) -> None:
        if self.status == "running":
            self.status = status
        self.cpu_s = time.process_time() - self.cpu0
        self.wall_s = time.perf_counter() - self.started
        for r in self.records:  # anything still open when the run stopped
            if r.open:
                r.fail("cancelled", "in flight when the run stopped")

    def record_dicts(self) -> list[dict[str, Any]]:
        """The records in their stored form (what is saved, exported and summarized)."""
        return [r.to_dict() for r in self.records]

    def _completed(self, rec: RequestRecord) -> None:
        self.done += 1
        if rec.error and rec.error != "cancelled":
            self.failed += 1
        if self.on_progress is not None:
            self.on_progress(self)


async def _one(client: Client, spec: RequestSpec, run: Run, step: int, scheduled: float | None = None) -> None:
    rec = client.new_record(spec)
    rec.step = step
    if scheduled is not None:  # open loop: when the arrival process wanted it sent
        rec.scheduled = scheduled - run.started
    run.records.append(rec)
    try:
        await client.request(spec, rec)
    finally:
        if not rec.open:
            run._completed(rec)


async def _closed_loop(client: Client, specs: Iterable[RequestSpec], n: int, concurrency: int, deadline: float, run: Run, step: int) -> None:
    it = iter(specs)

    async def worker() -> None:
        for spec in it:
            if time.perf_counter() >= deadline:
                return
            await _one(client, spec, run, step)

    tasks = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, n))]
    await _bounded_wait(tasks, deadline)


async def _open_loop(client: Client, specs: Iterable[RequestSpec], spec: LoadSpec, deadline: float, run: Run, step: int, rng: np.random.Generator) -> None:
    n = spec.requests
    rate = float(spec.rate or 1.0)
    if spec.arrival == "poisson":
        offsets = np.cumsum(rng.exponential(1.0 / rate, n)) - 0.0
        offsets -= offsets[0]
    else:
        offsets = np.arange(n) / rate
    sem = asyncio.Semaphore(spec.max_in_flight)
    tasks: list[asyncio.Task] = []
    t0 = time.perf_counter()

    async def guarded(s: RequestSpec, target: float) -> None:
        try:
            await _one(client, s, run, step, target)
        finally:
            sem.release()

    for s, off in zip(specs, offsets):
        now = time.perf_counter()
        target = t0 + float(off)
        if target >= deadline:
            break
        if target > now:
            await asyncio.sleep(target - now)
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        try:
            await asyncio.wait_for(sem.acquire(), remaining)
        except TimeoutError:
            break
        tasks.append(asyncio.ensure_future(guarded(s, target)))
    await _bounded_wait(tasks, deadline)


async def _bounded_wait(tasks: list[asyncio.Task], deadline: float) -> None:
    if not tasks:
        return
    try:
        _done, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.perf_counter()))
    except asyncio.CancelledError:
        pending = {t for t in tasks if not t.done()}
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    for t in tasks:
        if t.done() and not t.cancelled() and t.exception() is not None:
            raise t.exception()  # a bug, not a fault of the server: surface it


async def run_step(client: Client, spec: LoadSpec, run: Run, step: int = 0, label: str | None = None) -> dict[str, Any]:
    """Warm-up (closed loop) then the measured phase of one load spec; returns the step summary."""
    rng = np.random.default_rng(spec.seed + 1000 * step)
    base = len(run.records)
    start = time.perf_counter()
    deadline = start + spec.duration_s
    run.planned += spec.warmup + spec.requests
    if spec.warmup:
        warm = make_specs(spec.warmup, base, spec.input, spec.output, rng, "warmup")
        await _closed_loop(client, warm, spec.warmup, min(spec.connections, spec.warmup), deadline, run, step)
    specs = make_specs(spec.requests, base + spec.warmup, spec.input, spec.output, rng, "measured")
    if spec.mode == "concurrency":
        await _closed_loop(client, specs, spec.requests, int(spec.concurrency or 1), deadline, run, step)
    else:
        await _open_loop(client, specs, spec, deadline, run, step, rng)
    timed_out = time.perf_counter() >= deadline
    recs = [r.to_dict() for r in run.records[base:]]
    summ = metrics.summarize(recs)
    info = {"step": step, "label": label or spec.mode, **spec.describe(), "time_limited": timed_out, "summary": summ}
    run.steps.append(info)
    return info


async def run_load(config: ClientConfig, spec: LoadSpec, run: Run | None = None) -> Run:
    """One load spec against one endpoint."""
    run = run or Run()
    config.max_connections = max(config.max_connections, spec.connections)
    client = Client(config, t0=run.started)
    try:
        info = await run_step(client, spec, run)
        run.finish("time_limit" if info["time_limited"] else "complete")
    except asyncio.CancelledError:
        run.finish("interrupted")
    finally:
        await client.aclose()
    return run


def _step_spec(base: LoadSpec, **kw: Any) -> LoadSpec:
    d = dict(base.__dict__)
    d.update(kw)
    return LoadSpec(**d)


async def run_sweep(config: ClientConfig, spec: LoadSpec, *, max_concurrency: int = 256, rates: int = 4, run: Run | None = None) -> Run:
    """guidellm-style sweep: synchronous (concurrency 1), then throughput (max_concurrency), then
    `rates` constant/Poisson rates spaced evenly strictly between the two measured request rates.
    Each step runs `spec.requests` measured requests within `spec.duration_s`."""
    run = run or Run()
    config.max_connections = max(config.max_connections, max_concurrency, spec.max_in_flight)
    client = Client(config, t0=run.started)
    try:
        s0 = await run_step(client, _step_spec(spec, mode="concurrency", concurrency=1), run, 0, "synchronous")
        s1 = await run_step(client, _step_spec(spec, mode="concurrency", concurrency=max_concurrency, warmup=0), run, 1, "throughput")
        lo, hi = s0["summary"]["requests_per_s"], s1["summary"]["requests_per_s"]
        if lo and hi and hi > lo and rates > 0:
            for k, r in enumerate(np.linspace(lo, hi, rates + 2)[1:-1]):
                await run_step(client, _step_spec(spec, mode="rate", rate=float(r), warmup=0), run, 2 + k, f"rate {r:.3g}/s")
        run.finish("complete")
    except asyncio.CancelledError:
        run.finish("interrupted")
    finally:
        await client.aclose()
    return run


async def run_slo_search(
    config: ClientConfig, spec: LoadSpec, slo: dict[str, float], *, max_concurrency: int = 256, iterations: int = 5,
    attainment: float = SLO_ATTAINMENT, run: Run | None = None,
) -> tuple[Run, dict[str, Any]]:
    """The highest constant request rate at which at least `attainment` of the requests meet
    every SLO: a synchronous and a throughput step bracket it, then bisection on the rate."""
    if not slo:
        raise DeployscopeError("an SLO search needs at least one SLO", field="slo", allowed="--slo-ttft-s, --slo-tpot-s, --slo-e2e-s")
    run = run or Run()
    config.max_connections = max(config.max_connections, max_concurrency, spec.max_in_flight)
    client = Client(config, t0=run.started)
    result: dict[str, Any] = {"slo": slo, "attainment_target": attainment, "best": None, "tried": []}

    def check(info: dict[str, Any]) -> bool:
        s = metrics.summarize([r.to_dict() for r in run.records if r.step == info["step"]], slo)
        info["summary"] = s
        ok = (s["slo_attainment"] or 0.0) >= attainment
        result["tried"].append({"step": info["step"], "label": info["label"], "rate": info.get("rate"),
                                "concurrency": info.get("concurrency"), "requests_per_s": s["requests_per_s"],
                                "slo_attainment": s["slo_attainment"], "meets": ok})
        return ok

    try:
        s0 = await run_step(client, _step_spec(spec, mode="concurrency", concurrency=1), run, 0, "synchronous")
        if not check(s0):
            result["note"] = "even one request at a time misses the SLOs"
        else:
            result["best"] = {"requests_per_s": s0["summary"]["requests_per_s"], "step": 0, "label": "synchronous"}
            s1 = await run_step(client, _step_spec(spec, mode="concurrency", concurrency=max_concurrency, warmup=0), run, 1, "throughput")
            lo = s0["summary"]["requests_per_s"] or 0.0
            hi = s1["summary"]["requests_per_s"] or lo
            if check(s1):
                result["best"] = {"requests_per_s": hi, "step": 1, "label": "throughput", "concurrency": max_concurrency}
                result["note"] = "the SLOs hold at the largest load tried"
            else:
                step = 2
                for _ in range(iterations):
                    if hi <= lo * 1.02:
                        break
                    mid = (lo + hi) / 2
                    info = await run_step(client, _step_spec(spec, mode="rate", rate=mid, warmup=0), run, step, f"rate {mid:.3g}/s")
                    step += 1
                    if check(info):
                        lo = mid
                        result["best"] = {"requests_per_s": info["summary"]["requests_per_s"], "rate": mid, "step": info["step"], "label": info["label"]}
                    else:
                        hi = mid
        run.finish("complete")
    except asyncio.CancelledError:
        run.finish("interrupted")
    finally:
        await client.aclose()
    return run, result
