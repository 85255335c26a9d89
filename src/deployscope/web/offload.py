"""Work that must not run on the event loop, and the bounds on what one request may ask for.

Untrusted text (form YAML, API bodies) is parsed in a thread with the safe loader's limits, so a
hostile body can slow only its own request; `/api/health` and every other request keep being
answered. Plans run in a bounded pool (processes by default, threads when asked): at most
``workers`` plans compute at once and the rest wait in line, so latency grows with the queue
instead of every request slowing together, and memory has a ceiling.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from starlette.concurrency import run_in_threadpool

from ..errors import DeployscopeError

T = TypeVar("T")

# Bounds per request, checked before any planning starts (docs/web.md lists them).
MAX_WORKLOADS = 64  # workloads + training jobs + pipelines
MAX_LIST_ITEMS = 256  # any list in a scenario (GPUs, providers, api_models, hourly weights, ...)
MAX_CANDIDATE_FILTERS = 64  # distinct ids in candidates.gpus / providers / quants
MAX_QUEUED_PLANS = 256  # plans waiting for the pool; beyond this the server answers 503

WORKERS_ENV = "DEPLOYSCOPE_PLAN_WORKERS"
PROCESSES_ENV = "DEPLOYSCOPE_PLAN_PROCESSES"
# Default plan workers: one per usable core, at most this many. Each worker process holds its own
# interpreter, planner and catalog (docs/web.md states its resident memory and the ceiling).
MAX_DEFAULT_WORKERS = 16
MAX_WORKERS = 64  # the most $DEPLOYSCOPE_PLAN_WORKERS may ask for


class LimitExceeded(DeployscopeError):
    """A request asks for more work than one request may (HTTP 413)."""


class Overloaded(DeployscopeError):
    """Too many plans are waiting already (HTTP 503 with Retry-After)."""

    retry_after_s = 5


PARSE_THREADS = 1  # untrusted text is parsed one request at a time (see parse_off_loop)
_parse_pool: ThreadPoolExecutor | None = None


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking work (store calls) in the shared worker threads."""
    return await run_in_threadpool(fn, *args, **kwargs)


async def parse_off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Work on untrusted text (YAML parsing, validation, editing) in its own small thread pool.

    The pure-Python parser holds the interpreter lock while it runs; with many such threads the
    event loop waits its turn behind each of them and `/api/health` stalls. One parse thread
    leaves the loop a turn every switch interval, whatever arrives; bodies queue behind it.
    """
    global _parse_pool
    if _parse_pool is None:
        _parse_pool = ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="deployscope-parse")
    return await asyncio.get_running_loop().run_in_executor(_parse_pool, lambda: fn(*args))


def parse_yaml(text: str, source: str) -> Any:
    from ..safe_yaml import load

    return load(text, source=source)


def check_bounds(data: Any, source: str = "scenario") -> None:
    """Refuse scenarios asking for more work than one request may; the error names the limit."""
    if not isinstance(data, dict):
        return
    n = sum(len(data.get(k) or []) for k in ("workloads", "training", "pipelines") if isinstance(data.get(k), list))
    if n > MAX_WORKLOADS:
        raise LimitExceeded(f"{n} workloads, training jobs and pipelines exceed the limit of {MAX_WORKLOADS} per request",
                            field="workloads", value=n, allowed=f"at most {MAX_WORKLOADS}")
    cands = data.get("candidates")
    if isinstance(cands, dict):
        for key in ("gpus", "providers", "quants"):
            items = cands.get(key)
            if isinstance(items, list):
                distinct = len({str(x) for x in items})
                if distinct > MAX_CANDIDATE_FILTERS or len(items) > MAX_LIST_ITEMS:
                    raise LimitExceeded(f"{len(items)} entries exceed the limit of {MAX_CANDIDATE_FILTERS} distinct ids per request",
                                        field=f"candidates.{key}", value=len(items), allowed=f"at most {MAX_CANDIDATE_FILTERS}")
    _check_lists(data, "")


def _check_lists(node: Any, path: str) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _check_lists(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        if len(node) > MAX_LIST_ITEMS:
            raise LimitExceeded(f"a list of {len(node)} items exceeds the limit of {MAX_LIST_ITEMS} per request",
                                field=path, value=len(node), allowed=f"at most {MAX_LIST_ITEMS} items")
        for i, v in enumerate(node):
            _check_lists(v, f"{path}[{i}]")


def scenario_from_data(data: Any, source: str = "yaml") -> Any:
    """Validate a parsed scenario mapping (bounds first); errors name the field."""
    from ..scenario import parse_scenario

    if not isinstance(data, dict):
        raise DeployscopeError("a scenario must be a YAML mapping of fields", field=source,
                               value=type(data).__name__, allowed="name, workloads, ...")
    check_bounds(data)
    return parse_scenario(data)


def scenario_from_text(text: str, source: str = "yaml") -> tuple[Any, dict[str, Any]]:
    """(Scenario, mapping) from untrusted YAML text: safe loader, bounds, schema."""
    data = parse_yaml(text, source)
    return scenario_from_data(data, source), data


# ----------------------------------------------------------------------------- the plan pool
def _plan(scenario: Any, as_json: bool = False) -> tuple[str, Any, dict[str, float]]:
    """Runs in a worker: the Plan (or its JSON text, which spares the server serializing it) and
    the seconds spent planning and serializing; errors come back as plain fields (exception
    classes with keyword-only arguments do not survive pickling)."""
    from ..planner import plan

    t0 = time.perf_counter()
    try:
        result = plan(scenario)
        t1 = time.perf_counter()
        if not as_json:
            return "ok", result, {"plan": t1 - t0}
        from .rendering import json_text

        text = json_text(result)
        return "ok", text, {"plan": t1 - t0, "json": time.perf_counter() - t1}
    except DeployscopeError as exc:
        return "error", (type(exc).__module__, type(exc).__qualname__, exc.args[0] if exc.args else str(exc), exc.field,
                         exc.to_dict().get("value"), exc.allowed), {"plan": time.perf_counter() - t0}


def _raise(payload: tuple[Any, ...]) -> None:
    module, qualname, message, field, value, allowed = payload
    cls: type[DeployscopeError] = DeployscopeError
    try:
        import importlib

        found = getattr(importlib.import_module(module), qualname, None)
        if isinstance(found, type) and issubclass(found, DeployscopeError) and found.__init__ is DeployscopeError.__init__:
            cls = found
    except ImportError:
        pass
    raise cls(message, field=field, value=value, allowed=allowed)


def _read_catalog_now() -> None:
    """Parse every catalog table now (they are parsed on first use otherwise)."""
    from ..catalog import default_catalog

    try:
        default_catalog().check()
    except DeployscopeError:  # a bad user catalog: the request that reads it reports the error
        pass


def warm_server() -> None:
    """The serving process before its first request: the catalog read, the report renderer
    imported, and those objects frozen out of full collections."""
    _read_catalog_now()
    from ..report import html  # noqa: F401

    freeze_startup_objects()


def _warm() -> None:
    """Worker start-up: import the planner and the JSON writer and read the catalog once, not on
    the first request."""
    _read_catalog_now()
    import deployscope.planner  # noqa: F401
    import deployscope.web.rendering  # noqa: F401

    _exit_with_parent(os.getppid())
    freeze_startup_objects()


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    """A plan worker ends when the server that started it is gone, however the server ended
    (killed, out of memory): a watch thread sees it re-parented."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(every_s)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="deployscope-parent-watch", daemon=True).start()


def freeze_startup_objects() -> None:
    """Move what start-up built (modules, the catalog) out of the garbage collector's sight: a
    full collection then scans one request's objects, not the whole heap (45 ms -> under 1 ms
    with the catalog loaded), so page and plan tails do not carry it."""
    import gc

    gc.collect()
    gc.freeze()


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def _default_workers() -> int:
    """$DEPLOYSCOPE_PLAN_WORKERS, else one worker per usable core up to MAX_DEFAULT_WORKERS: a plan
    is CPU-bound, so more workers than cores only add memory, and fewer leave cores idle while
    requests queue."""
    raw = os.environ.get(WORKERS_ENV)
    if raw:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if not 1 <= n <= MAX_WORKERS:
            raise DeployscopeError(f"{WORKERS_ENV} must be a whole number from 1 to {MAX_WORKERS}", field=WORKERS_ENV,
                                   value=raw, allowed=f"1..{MAX_WORKERS}")
        return n
    return max(1, min(usable_cores(), MAX_DEFAULT_WORKERS))


class PlanPool:
    """At most `workers` plans at once; at most MAX_QUEUED_PLANS more waiting."""

    def __init__(self, workers: int | None = None, processes: bool | None = None) -> None:
        self.workers = workers or _default_workers()
        if processes is None:
            processes = os.environ.get(PROCESSES_ENV, "1").strip().lower() not in ("0", "false", "no")
        self.processes = processes
        self._executor: Executor | None = None
        self._waiting = 0

    def _pool(self) -> Executor:
        if self._executor is None:
            if self.processes:
                import multiprocessing

                self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_warm)
            else:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="deployscope-plan")
        return self._executor

    async def plan_json(self, scenario: Any) -> tuple[str, dict[str, float]]:
        """The plan of `scenario` as the API's JSON text, and its timing: seconds waiting for a
        worker and passing the scenario and the text between processes (``queue``), computing
        (``plan``) and serializing (``json``)."""
        t0 = time.perf_counter()
        text, worker = await self._run(scenario, as_json=True)
        total = time.perf_counter() - t0
        return text, {"queue": max(0.0, total - sum(worker.values())), **worker}

    async def plan(self, scenario: Any) -> Any:
        """The Plan of `scenario`, computed in the pool."""
        return (await self._run(scenario, as_json=False))[0]

    async def _run(self, scenario: Any, as_json: bool) -> tuple[Any, dict[str, float]]:
        if self._waiting >= self.workers + MAX_QUEUED_PLANS:
            raise Overloaded(f"{self._waiting} plans are being computed or waiting; try again shortly", field="server",
                             value=self._waiting, allowed=f"at most {self.workers + MAX_QUEUED_PLANS} at once")
        self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            try:
                kind, result, worker_s = await loop.run_in_executor(self._pool(), _plan, scenario, as_json)
            except BrokenExecutor:  # a worker died (killed, out of memory): start a fresh pool next time
                self.close()
                raise Overloaded("a plan worker stopped; try again shortly", field="server") from None
            if kind == "error":
                _raise(result)
            return result, worker_s
        finally:
            self._waiting -= 1

    def close(self) -> None:
        """Stop the workers: queued plans are cancelled, a plan being computed finishes first."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
