"""Run independent chunks of work in parallel: a local process pool by default, a Ray cluster on request.

A *chunk* is one call ``fn(arg)`` whose result depends on ``arg`` alone: a slice of a
design-space sweep (one model × GPU × format with its arrays of tp and lengths), or a block of
Monte Carlo samples with its own seed. Because a chunk never depends on which worker runs it,
when, or how many workers there are, the results are identical on one core, on a process pool
and on a Ray cluster; ``Executor.map`` returns them in the order of the inputs.

Monte Carlo blocks get their seeds from ``numpy.random.SeedSequence(seed).spawn(blocks)``, and the
block size is fixed (not derived from the number of workers), so ``n`` samples under one seed
are the same numbers whatever runs them.

Ray is optional (``pip install '.[ray]'`` in the clone) and imported only when a Ray address is
given: ``"auto"`` (the cluster this machine belongs to, or ``$RAY_ADDRESS``) or ``host:port`` of
a running head. Deployscope never starts a cluster and never reaches any address but the one
named. Workers on other machines need Deployscope installed; a user catalog directory must be
readable at the same path there.
"""

from __future__ import annotations

import math
import os
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .errors import DeployscopeError

#: Monte Carlo samples per block; fixed so results never depend on the number of workers.
MC_BLOCK_SIZE = 4096
#: Fewer chunks than this run inline: starting a pool costs more than the work.
INLINE_BELOW = 2

_ADDRESS_RE = re.compile(r"^(?:ray://)?(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.\-_]+):(\d{1,5})$")


def check_ray_address(address: str, field: str = "--ray") -> str:
    """``"auto"`` or ``host:port`` (optionally ``ray://host:port``); anything else is refused."""
    text = str(address).strip()
    if text == "auto":
        return text
    m = _ADDRESS_RE.match(text)
    if not m or not 1 <= int(m.group(2)) <= 65535:
        raise DeployscopeError(
            "not a Ray address", field=field, value=address, allowed="'auto' or HOST:PORT of a running Ray head"
        )
    return text


def check_workers(workers: Any, field: str = "--workers") -> int | None:
    if workers is None:
        return None
    try:
        w = int(workers)
    except (TypeError, ValueError):
        raise DeployscopeError("must be a whole number >= 1", field=field, value=workers) from None
    if isinstance(workers, bool) or w != workers or not 1 <= w <= 1024:
        raise DeployscopeError("must be a whole number from 1 to 1024", field=field, value=workers)
    return w


class Executor:
    """Runs ``fn`` over chunks; results in input order."""

    kind = "serial"
    workers = 1

    def map(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> list[Any]:
        return [fn(c) for c in chunks]

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workers": self.workers}

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class SerialExecutor(Executor):
    """Everything in this process, one chunk after the other."""


class LocalExecutor(Executor):
    """A pool of worker processes on this machine (``fork`` on Linux, else ``spawn``)."""

    kind = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = check_workers(workers) or (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing as mp

            method = "fork" if sys.platform.startswith("linux") else "spawn"
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context(method))
        return self._pool

    def map(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> list[Any]:
        chunks = list(chunks)
        if self.workers <= 1 or len(chunks) < INLINE_BELOW:
            return [fn(c) for c in chunks]
        # several chunks per round trip: small chunks would otherwise pay more in IPC than they cost
        return list(self._get_pool().map(fn, chunks, chunksize=_per_task(len(chunks), self.workers)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor(Executor):
    """Chunks as Ray tasks on the cluster at ``address`` (connects; never starts a cluster)."""

    kind = "ray"

    def __init__(self, address: str, workers: int | None = None) -> None:
        self.address = check_ray_address(address)
        self._ray = _import_ray()
        self._owns_connection = False
        ray = self._ray
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if not ray.is_initialized():
            _probe(self.address)
            try:
                ray.init(
                    address=self.address,
                    log_to_driver=False,
                    logging_level="ERROR",
                    configure_logging=False,
                    include_dashboard=False,
                )
            except Exception as exc:  # ConnectionError, RuntimeError, ValueError from ray
                raise DeployscopeError(
                    f"cannot connect to the Ray cluster: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                    field="--ray",
                    value=address,
                    allowed="'auto' or HOST:PORT of a running Ray head",
                ) from None
            self._owns_connection = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = check_workers(workers) or max(cpus, 1)
        self._remote: dict[Any, Any] = {}

    def map(self, fn: Callable[[Any], Any], chunks: Sequence[Any]) -> list[Any]:
        ray = self._ray
        remote = self._remote.get("batch")
        if remote is None:
            remote = self._remote["batch"] = ray.remote(num_cpus=1, max_retries=2)(_run_batch)
        chunks = list(chunks)
        # batches of chunks per task (a Ray task costs milliseconds of overhead), in order
        k = _per_task(len(chunks), self.workers)
        batches = [(fn, chunks[i : i + k]) for i in range(0, len(chunks), k)]
        out: list[Any] = [None] * len(batches)
        # at most 2 × workers tasks in flight: bounded memory on the driver
        window = max(2 * self.workers, 1)
        pending: dict[Any, int] = {}
        nxt = 0
        while nxt < len(batches) or pending:
            while nxt < len(batches) and len(pending) < window:
                pending[remote.remote(batches[nxt])] = nxt
                nxt += 1
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                out[pending.pop(ref)] = ray.get(ref)
        return [r for batch in out for r in batch]

    def close(self) -> None:
        if self._owns_connection and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_connection = False

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workers": self.workers, "address": self.address}


def _per_task(n: int, workers: int) -> int:
    """Chunks per task: about 4 tasks per worker (load balance) and never 0."""
    return max(1, -(-n // max(4 * workers, 1)))


def _run_batch(job: tuple[Callable[[Any], Any], list[Any]]) -> list[Any]:
    fn, chunks = job
    return [fn(c) for c in chunks]


def _probe(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on an address nobody listens at (Ray itself retries for minutes)."""
    target = address
    if target == "auto":
        target = os.environ.get("RAY_ADDRESS", "")
        if not target or target == "auto":
            return  # Ray looks for a cluster started on this machine and says if there is none
    target = target.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        return
    import socket

    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise DeployscopeError(
            f"cannot connect to the Ray cluster: nothing answers at {host}:{port} ({exc.strerror or exc})",
            field="--ray",
            value=address,
            allowed="'auto' or HOST:PORT of a running Ray head",
        ) from None


def _import_ray() -> Any:
    try:
        import ray  # noqa: PLC0415 - optional, imported only when asked for
    except ImportError:
        raise DeployscopeError(
            "Ray is not installed", field="--ray", allowed="pip install '.[ray]' in the Deployscope checkout"
        ) from None
    return ray


_CURRENT: list[Executor] = []


@contextmanager
def using(executor: Executor | None) -> Iterator[Executor | None]:
    """Make ``executor`` the one ``current()`` returns inside the block (a command's ``--ray``
    reaching the Monte Carlo deep inside the planner without threading it through every call)."""
    if executor is None:
        yield None
        return
    _CURRENT.append(executor)
    try:
        yield executor
    finally:
        _CURRENT.pop()


def current() -> Executor | None:
    """The executor set by ``using``, or None (run inline)."""
    return _CURRENT[-1] if _CURRENT else None


def get_executor(workers: int | None = None, ray_address: str | None = None) -> Executor:
    """The executor for these options: Ray when an address is given, else a local pool
    (``workers=1``: serial, in this process)."""
    if ray_address:
        return RayExecutor(ray_address, workers)
    w = check_workers(workers)
    if w == 1:
        return SerialExecutor()
    return LocalExecutor(w)


# ------------------------------------------------------------------------------ Monte Carlo
def block_sizes(n: int, block_size: int = MC_BLOCK_SIZE) -> list[int]:
    """Split n samples into fixed-size blocks (the last one shorter)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise DeployscopeError("number of samples must be a whole number >= 1", field="monte_carlo_samples", value=n)
    full, rest = divmod(int(n), int(block_size))
    return [block_size] * full + ([rest] if rest else [])


def block_seeds(seed: int, blocks: int) -> list[Any]:
    """One independent, reproducible seed per block, derived from ``seed``: block 0 draws from
    ``seed`` itself (so up to one block's worth of samples are exactly what a single
    ``default_rng(seed)`` gives), block k >= 1 from the k-th child of ``SeedSequence(seed)``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DeployscopeError("seed must be a whole number >= 0", field="seed", value=seed)
    if blocks < 1:
        return []
    return [int(seed), *np.random.SeedSequence(int(seed)).spawn(blocks - 1)]


@dataclass(frozen=True)
class _MCChunk:
    fn: Callable[..., Any]
    distributions: Mapping[str, Any]
    base_inputs: Mapping[str, Any]
    n: int
    seed: Any  # int or numpy SeedSequence


def _run_mc_chunk(chunk: _MCChunk) -> np.ndarray:
    from .economics.uncertainty import sample

    rng = np.random.default_rng(chunk.seed)
    draws = {name: sample(spec, chunk.n, rng, name) for name, spec in chunk.distributions.items()}
    out = np.asarray(chunk.fn(**dict(chunk.base_inputs), **draws), dtype=float)
    if out.shape[-1:] != (chunk.n,):
        out = np.broadcast_to(out, out.shape[:-1] + (chunk.n,) if out.ndim else (chunk.n,)).astype(float)
    return out


def monte_carlo_samples(
    fn_vectorized: Callable[..., Any],
    distributions: Mapping[str, Any],
    n: int,
    seed: int = 0,
    *,
    base_inputs: Mapping[str, Any] | None = None,
    executor: Executor | None = None,
    block_size: int = MC_BLOCK_SIZE,
) -> np.ndarray:
    """Evaluate ``fn_vectorized(**base_inputs, **draws)`` over n draws in blocks; returns the
    results concatenated along the last axis (shape ``(..., n)``).

    ``fn_vectorized`` takes arrays of one block's length and returns an array whose last axis is
    that length (e.g. one row per option). It must be picklable for a process pool or Ray (a
    module-level function, or a closure Ray's cloudpickle can carry).
    """
    sizes = block_sizes(n, block_size)
    seeds = block_seeds(seed, len(sizes))
    chunks = [_MCChunk(fn_vectorized, dict(distributions), dict(base_inputs or {}), s, sq) for s, sq in zip(sizes, seeds)]
    ex = executor or SerialExecutor()
    parts = ex.map(_run_mc_chunk, chunks)
    return np.concatenate(parts, axis=-1)


def monte_carlo(
    fn_vectorized: Callable[..., Any],
    distributions: Mapping[str, Any],
    n: int = 2000,
    seed: int = 0,
    *,
    base_inputs: Mapping[str, Any] | None = None,
    executor: Executor | None = None,
    block_size: int = MC_BLOCK_SIZE,
) -> dict[str, Any]:
    """Like ``economics.uncertainty.monte_carlo`` (P10/P50/P90, mean), but in seeded blocks that
    any executor may run: the same (n, seed) gives the same figures on any executor."""
    out = monte_carlo_samples(fn_vectorized, distributions, n, seed, base_inputs=base_inputs, executor=executor, block_size=block_size)
    out = out.reshape(-1) if out.ndim > 1 and out.shape[0] == 1 else out
    p10, p50, p90 = np.percentile(out, [10, 50, 90], axis=-1)
    return {"p10": _f(p10), "p50": _f(p50), "p90": _f(p90), "mean": _f(out.mean(axis=-1)), "n": int(n), "seed": seed, "samples": out}


def _f(x: Any) -> Any:
    a = np.asarray(x, dtype=float)
    return float(a) if a.ndim == 0 else a.tolist()


# ------------------------------------------------------------------------------ perf sweeps
SWEEP_COLUMNS = (
    "model", "gpu", "quant", "engine", "tp", "input_len", "output_len", "fits", "batch_size",
    "output_tokens_per_s", "output_tokens_per_s_per_gpu", "requests_per_s", "ttft_s", "tpot_s",
)


@dataclass(frozen=True)
class SweepChunk:
    """One model × GPU × format × engine, with the tp × input × output grid it covers."""

    model: str
    gpu: str
    quant: str
    engine: str
    tp: tuple[int, ...]
    input_len: tuple[int, ...]
    output_len: tuple[int, ...]
    catalog_dir: str | None = None
    best_only: bool = False  # reduce in the worker: only the best point per chunk travels back


def sweep_chunk(chunk: SweepChunk) -> dict[str, Any]:
    """Max-throughput operating points for one chunk's grid (vectorized). A combination the
    catalog rules out (e.g. an engine that lacks the format) comes back with ``skipped``."""
    from .catalog import Catalog
    from .physics import serving

    cat = Catalog(chunk.catalog_dir) if chunk.catalog_dir else None
    tp, i_len, o_len = np.meshgrid(
        np.asarray(chunk.tp, dtype=float), np.asarray(chunk.input_len, dtype=float), np.asarray(chunk.output_len, dtype=float), indexing="ij"
    )
    head = {"model": chunk.model, "gpu": chunk.gpu, "quant": chunk.quant, "engine": chunk.engine}
    try:
        ctx = serving.context(chunk.model, chunk.gpu, quant=chunk.quant, engine=chunk.engine, catalog=cat)
        pts = serving.max_throughput_points(chunk.model, chunk.gpu, tp=tp, input_len=i_len, output_len=o_len, ctx=ctx)
    except DeployscopeError as exc:
        return {**head, "skipped": str(exc), "points": 0}
    cols = {"tp": tp.ravel(), "input_len": i_len.ravel(), "output_len": o_len.ravel()}
    for k, v in pts.items():
        cols[k] = np.asarray(v).ravel()
    if chunk.best_only:
        per_gpu = np.where(cols["fits"], cols["output_tokens_per_s_per_gpu"], -np.inf)
        i = int(np.argmax(per_gpu))
        fitting = int(np.count_nonzero(cols["fits"]))
        best = {k: np.asarray([v[i]]) for k, v in cols.items()} if fitting else {k: np.asarray(v[:0]) for k, v in cols.items()}
        return {**head, "skipped": None, "points": int(tp.size), "fitting": fitting, "best_only": True, "columns": best}
    return {**head, "skipped": None, "points": int(tp.size), "columns": cols}


def sweep_chunks(
    models: Iterable[str],
    gpus: Iterable[str],
    quants: Iterable[str],
    tps: Sequence[int],
    input_lens: Sequence[int],
    output_lens: Sequence[int],
    *,
    engine: str = "vllm",
    catalog_dir: str | None = None,
    best_only: bool = False,
) -> list[SweepChunk]:
    """The chunks of a sweep, in a fixed order (model, GPU, format)."""
    return [
        SweepChunk(m, g, q, engine, tuple(int(t) for t in tps), tuple(int(i) for i in input_lens), tuple(int(o) for o in output_lens), catalog_dir, best_only)
        for m in models
        for g in gpus
        for q in quants
    ]


def run_sweep(chunks: Sequence[SweepChunk], executor: Executor | None = None) -> list[dict[str, Any]]:
    """Run sweep chunks on an executor; results in chunk order."""
    return (executor or SerialExecutor()).map(sweep_chunk, list(chunks))


def sweep_rows(results: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Flatten chunk results into one dict per point (NaN figures become None)."""
    for r in results:
        if r.get("skipped") or not r.get("points"):
            continue
        cols = r["columns"]
        n = len(cols["tp"])  # every point, or the one best point of a best_only chunk
        for i in range(n):
            row: dict[str, Any] = {"model": r["model"], "gpu": r["gpu"], "quant": r["quant"], "engine": r["engine"]}
            for k in SWEEP_COLUMNS[4:]:
                v = cols[k][i]
                if k == "fits":
                    row[k] = bool(v)
                elif k in ("tp", "input_len", "output_len"):
                    row[k] = int(v)
                else:
                    fv = float(v)
                    row[k] = None if math.isnan(fv) else fv
            yield row
