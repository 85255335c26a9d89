"""Predicting one LLM-inference row (A schema) with the serving model `perf` and `plan` use.

Every prediction goes through :mod:`deployscope.physics.serving`'s public functions: the
max-throughput point and the rate mode (:func:`~deployscope.physics.serving.evaluate`), the SLO
search (:func:`~deployscope.physics.serving.max_rate`), the operating point at a measured load
(:func:`~deployscope.physics.serving.rate_point`), the parallelism choice, static batches and the
simulation. Nothing here re-implements them: the harness checks the physics itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Callable, Literal

import numpy as np

from ..catalog import Catalog, default_catalog, normalize
from ..catalog.quant import QuantFormat
from ..errors import DeployscopeError
from ..physics import serving
from ..physics.perf_types import Deployment, LatencyTargets, Load, SimResult
from . import server_flags
from .files import dataset_of, num


class Skip(Exception):
    """A row that cannot be predicted; the message is the reason."""


@dataclass
class Params:
    """Overrides of the fitted figures, used by scripts/fit_perf.py while it searches."""

    eff: dict[str, tuple[float, float]] = field(default_factory=dict)  # family -> (compute, bandwidth)
    half_gflop: float | None = None
    link_eff: float | None = None
    overhead: dict[str, tuple[float, ...]] = field(default_factory=dict)  # engine -> (step, layer, prefill layer, request[, sequence]) s
    hw: dict[str, dict[str, float]] = field(default_factory=dict)  # engine -> {Hardware field: value}, applied last


class Contexts:
    """Serving contexts, built once per (model, gpu, formats, engine, release, engine settings) and reused."""

    def __init__(self, catalog: Catalog, params: Params | None, base: dict[tuple[Any, ...], Any] | None = None) -> None:
        self.catalog = catalog
        self.params = params
        self._base = base if base is not None else {}
        self._cache: dict[tuple[Any, ...], Any] = {}
        self.sims: dict[tuple[Any, ...], SimResult] = {}

    def get(self, model: str, gpu: str, quant: str, kv: str | None, engine: str, version: str | None = None,
            settings: server_flags.Settings = ()) -> serving.Context:
        """The context; `settings` (a row's engine settings) apply to a copy of the engine row."""
        base_key = (model, gpu, quant, kv, engine, version)
        key = (*base_key, settings)
        if key not in self._cache:
            if base_key not in self._base:
                try:
                    self._base[base_key] = serving.context(model, gpu, quant=quant, kv_quant=kv, engine=engine, catalog=self.catalog,
                                                           engine_version=version)
                except DeployscopeError as exc:
                    self._base[base_key] = exc
            c = self._base[base_key]
            if not isinstance(c, DeployscopeError) and settings:
                c = replace(c, engine=server_flags.apply(c.engine, settings))
            self._cache[key] = c if isinstance(c, DeployscopeError) else self._apply(c)
        c = self._cache[key]
        if isinstance(c, DeployscopeError):
            raise Skip(str(c))
        ctx: serving.Context = c
        return ctx

    def _apply(self, c: serving.Context) -> serving.Context:
        p = self.params
        if p is None:
            return c
        hw = c.hw
        if hw.family in p.eff:
            ce, be = p.eff[hw.family]
            hw = replace(hw, compute_eff=ce, attention_eff=ce, bandwidth_eff=be)
        if p.half_gflop is not None:
            hw = replace(hw, half_eff_flops=p.half_gflop * 1e9)
        if p.link_eff is not None:
            hw = replace(hw, link_eff=p.link_eff)
        if c.engine.id in p.overhead:
            so, lo, plo, ro, *seq = p.overhead[c.engine.id]
            hw = replace(hw, step_overhead_s=so, layer_overhead_s=lo, prefill_layer_overhead_s=plo, request_overhead_s=ro)
            if seq:
                hw = replace(hw, sequence_overhead_s=seq[0])
        if c.engine.id in p.hw:
            fields: dict[str, Any] = dict(p.hw[c.engine.id])
            hw = replace(hw, **fields)
        return replace(c, hw=hw)


# ----------------------------------------------------------------------------------------------
# reading a row: engine, formats, lengths, load
# ----------------------------------------------------------------------------------------------


def engine_of(framework: str) -> str:
    """The modeled engine a row's framework is, or is built on (a vLLM docker is vLLM)."""
    f = framework.lower()
    if "tensorrt" in f or "trt" in f:
        return "trtllm"
    if "sglang" in f:
        return "sglang"
    if "vllm" in f:
        return "vllm"
    if "llama.cpp" in f:
        return "llamacpp"
    raise Skip(f"framework {framework!r} is not one of the modeled engines (TensorRT-LLM, vLLM, SGLang, llama.cpp)")


_RELEASE = re.compile(r"(?:vllm|tensorrt-llm|sglang)[\s_:-]*v?(\d+\.\d+(?:\.\d+)*)", re.I)


_BEFORE = re.compile(r"release before (\d+\.\d+(?:\.\d+)*)", re.I)


def engine_version(framework: str) -> str | None:
    """The engine release a row's framework names ('vLLM 0.4.3+rocm614', 'rocm/vllm:rocm6.4.1_vllm_0.9.1_...'),
    '<X' where it says only 'release before X' (a date bound), or None."""
    b = _BEFORE.search(framework)
    if b:
        return f"<{b.group(1)}"
    m = _RELEASE.search(framework)
    return m.group(1) if m else None


_DAY = re.compile(r"\b(20\d\d)-(\d\d)-(\d\d)\b")
_MONTH = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(20\d\d)\b", re.I)
_YEAR = re.compile(r"\b(20\d\d)\b")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


# Results announcements of the MLPerf Inference rounds whose rows name no engine release (their
# framework names TensorRT, not TensorRT-LLM): v4.1 on 2024-08-28 (https://mlcommons.org/2024/08/
# mlperf-inference-v4-1-results/, Business Wire release of that day), v5.0 on 2025-04-02 (MLCommons
# release, https://insideainews.com/2025/04/02/mlcommons-releases-mlperf-inference-v5-0-benchmark-results)
_ROUND_PUBLISHED = {
    ("MLPerf Inference", "v4.1"): date(2024, 8, 28),
    ("MLPerf Inference", "v5.0"): date(2025, 4, 2),
}


def published_by(row: dict[str, str]) -> date | None:
    """The latest date a row's source can have been published on: the announcement of its MLPerf
    round, else read from its round or version ('2025-05-05'; 'Aug 2024': the month's last day;
    '2024 blog': the year's), else from its framework; None when nothing dates it."""
    known = _ROUND_PUBLISHED.get((row.get("source_type", "").strip(), row.get("round_or_version", "").strip()))
    if known is not None:
        return known
    for text in (row.get("round_or_version", ""), row.get("framework", "")):
        d = _DAY.search(text or "")
        if d:
            return date(int(d.group(1)), int(d.group(2)), int(d.group(3)))
        mo = _MONTH.search(text or "")
        if mo:
            year, month = int(mo.group(2)), _MONTHS.index(mo.group(1).lower()) + 1
            return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        y = _YEAR.search(text or "")
        if y:
            return date(int(y.group(1)), 12, 31)
    return None


def row_engine_version(row: dict[str, str], cat: Any, engine: str) -> str | None:
    """The release a row ran: the one its framework names, else the newest one out when its source
    was published (a '<X' bound; see EnginePerf.release_by), else None (the current release)."""
    v = engine_version(row.get("framework", ""))
    if v is not None:
        return v
    published = published_by(row)
    eng = cat.engines.get(engine)
    return eng.perf.release_by(published) if published is not None and eng is not None else None


# The weight formats the harness reads: the catalog's float and microscaling formats (16 bit, FP8,
# FP4 and its MoE-expert layouts). The LLM validation rows, and the figures fitted on them, are in
# these formats only; a row in an integer or GGUF format would be scored by a model never checked
# on one, so it is skipped. Any other catalog format of these families is read with no edit here.
_READ_FAMILIES = ("float", "microscaling")
# components whose weights carry the GEMMs (a per-component map is read by these)
_GEMM_PARTS = ("matmul", "gemm", "linear", "mlp", "ffn", "expert", "moe", "weights")


def _read(q: QuantFormat) -> bool:
    """Whether the harness reads a row in catalog format `q` (weights; KV cache too where ``kv_cache``)."""
    return q.family in _READ_FAMILIES and not q.kv_only


def _vendor_fp4(vendor: str) -> str:
    """A bare ``fp4`` is the vendor's FP4: MXFP4 on AMD, NVFP4 elsewhere. The catalog lists fp4 as
    an NVFP4 alias (NVIDIA's usage); an AMD page's "FP4" is MXFP4, the format its hardware runs."""
    return "mxfp4" if vendor == "amd" else "nvfp4"


def _format(name: str, vendor: str, cat: Catalog) -> str | None:
    """The catalog id of the format a precision names (its text before any parenthesised remark:
    an id or alias of the catalog's quant table, any case or punctuation), when the harness reads
    it; None otherwise."""
    head = name.split(" (")[0].strip()
    if "/" in head:  # 'A/B' names two formats; only 'A (selected layers)/B' is read (by formats)
        return None
    if normalize(head) == "fp4":
        return _vendor_fp4(vendor)
    q = cat.quant.find(head) if head else None
    return q.id if q is not None and _read(q) else None


def formats(precision: str, engine: str, vendor: str, catalog: Catalog | None = None) -> tuple[str, str | None]:
    """(weight format, KV format or None for the engine's default) of a row's `precision`.

    A plain format is read through the catalog's quantization ids and aliases (``bfloat16`` is
    bf16, ``fp8_e4m3`` fp8, ``gpt-oss-mxfp4`` mxfp4-moe); ``fp4`` is the vendor's FP4 (NVFP4 on
    NVIDIA, MXFP4 on AMD). Only the float and microscaling formats are read (``_READ_FAMILIES``).
    A per-component map (``fp8 (matmul/dispatch) + bf16 (MLA/combine)``, or a JSON-like
    ``{"experts": "fp4", ...}``) is read by the format of its GEMM weights; ``A (selected
    layers)/B`` is read as B, the format of the rest of the model. The KV cache is what the engine
    keeps with those weights: the weights' own format where it is a KV-cache format too (FP8 with
    FP8 weights, 16 bit with 16-bit weights), FP8 in TensorRT-LLM with FP4 weights, the engine's
    default otherwise; a component named KV cache sets the KV format.
    """
    cat = default_catalog(catalog)
    readable = [q for q in cat.quant if _read(q)]
    kv_formats = [q.id for q in readable if q.kv_cache]
    p = precision.strip().lower()
    if not p:
        raise Skip("precision not stated")
    sel = re.match(r"^(\w+) \(selected layers\)\s*/\s*(\w+)$", p)
    fmt = _format(sel.group(2) if sel else p, vendor, cat)
    if fmt is None:
        if p.count("(") > 1 or "{" in p:
            gemm = (_format(name, vendor, cat) for name, comp in _components(p) if any(k in comp for k in _GEMM_PARTS))
            fmt = next((f for f in gemm if f is not None), None)
    if fmt is None:
        takes = ", ".join(["fp4 (the vendor's FP4)", *(q.id for q in readable)])
        raise Skip(f"precision {precision!r} names no weight format the model takes ({takes}, or a catalog alias of one)")
    stated_kv = [f for f, comp in _components(p) if "kv" in comp]
    kv = next((k for k in (_format(name, vendor, cat) for name in stated_kv) if k in kv_formats), None)
    if kv is not None:  # a stated KV-cache component ("fp8 (weights) + bf16 (KV cache)")
        return fmt, kv
    if stated_kv:  # a KV format the model does not take is not replaced by the engine's default
        raise Skip(f"precision {precision!r} names a KV-cache format ({stated_kv[0]}) that is not {_one_of(kv_formats)}")
    if fmt in kv_formats:
        return fmt, fmt
    return fmt, ("fp8" if engine == "trtllm" else None)


def _one_of(names: list[str]) -> str:
    """'a, b or c'."""
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _components(p: str) -> list[tuple[str, str]]:
    """(format, component text) pairs of a per-component precision."""
    out = [(f, comp) for f, comp in re.findall(r"(\w+)\s*\(([^)]*)\)", p)]
    out += [(f, comp) for comp, f in re.findall(r"\"?(\w+)\"?\s*:\s*\"?(\w+)\"?", p)]
    return out


_OUT = re.compile(r"reference mean output ~?([\d.]+) tok/sample")


def lengths(row: dict[str, str]) -> tuple[float, float]:
    """(mean input, mean output) tokens: stated, or the dataset's published means."""
    I = num(row.get("input_len"))
    O = num(row.get("output_len"))
    notes = row.get("notes", "")
    if O is None:
        m = _OUT.search(notes)
        if m:
            O = float(m.group(1))
    ds = dataset_of(notes) if (I is None or O is None) else None
    if I is None:
        if ds is None:
            raise Skip("input length not stated and the dataset has no published mean input length (validation/datasets.yaml)")
        I = float(ds["mean_input_tokens"])
    if O is None:
        if ds is None or ds.get("mean_output_tokens") is None:
            raise Skip("output length not stated")
        O = float(ds["mean_output_tokens"])
    return I, O


def measured_rate(row: dict[str, str]) -> float | None:
    """Requests/s a load-dependent row was measured at: the completed rate, else the target."""
    notes = row.get("notes", "")
    for pat in (r"at completed ([\d.]+) samples/s", r"completed samples/s=([\d.]+)", r"target_qps=([\d.]+)"):
        m = re.search(pat, notes)
        if m:
            return float(m.group(1))
    return None


_SLO = re.compile(r"p99 TTFT<=(\d+)ms; p99 TPOT<=(\d+)ms")


# ----------------------------------------------------------------------------------------------
# predicting a row
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    ctx: serving.Context
    dep: Deployment
    I: float
    O: float
    replicas: int
    gpus: int
    unit: str

    def scale(self, tokens_per_s: float, requests_per_s: float) -> float:
        """A system figure in the row's own unit."""
        u = self.unit.lower()
        if u.startswith("samples/s"):
            return requests_per_s
        if "input+output" in u:
            return requests_per_s * (self.I + self.O)
        if "(as labeled" in u:
            # AMD pages: "tokens/s" without saying output or total. Within this file a metric named
            # "throughput" counts output tokens (TensorRT-LLM rows), so read it the same way; the
            # alternative (input + output) is reported in docs/validation.md.
            return tokens_per_s
        if u.startswith("output_tokens/s/gpu"):
            return tokens_per_s / self.gpus
        if u.startswith("output_tokens/s"):
            return tokens_per_s
        raise Skip(f"unit {self.unit!r} is not one the harness reads")


def _row(row: dict[str, str], ctxs: Contexts) -> _Row:
    metric = row.get("metric", "").strip()
    unit = row.get("unit", "").strip()
    if "per_node" in metric or "per node" in unit or "per 8-GPU node" in unit:
        raise Skip("prefill/decode-disaggregated production serving with wide expert parallelism is not modeled")
    cat = ctxs.catalog
    model, gpu = row.get("model", "").strip(), row.get("hardware", "").strip()
    m = cat.models.find(model)
    if m is None:
        raise Skip(f"model {model!r} is not in the catalog")
    g = cat.accelerators.find(gpu)
    if g is None:
        raise Skip(f"hardware {gpu!r} is not in the catalog")
    engine = engine_of(row.get("framework", ""))
    quant, kv = formats(row.get("precision", ""), engine, str(getattr(g, "vendor", "")).lower(), cat)
    if engine in ("vllm", "sglang") and "kv as the engine defaults" in row.get("notes", "").lower():
        # the run left kv_cache_dtype at `auto`: vLLM and SGLang keep the cache in the model's
        # activation dtype (16-bit), FP8 weights or not
        kv = "bf16"
    try:
        settings = server_flags.parse(row.get("notes", ""), engine)
    except server_flags.BadSettings as exc:
        raise Skip(str(exc)) from None
    ctx = ctxs.get(m.id, g.id, quant, kv, engine, row_engine_version(row, cat, engine), settings)
    gpus = int(num(row.get("gpu_count")) or 1)
    I, O = lengths(row)
    tp_s, pp_s = num(row.get("tp")), num(row.get("pp"))
    if tp_s:
        tp, pp, ep = int(tp_s), int(pp_s or 1), 1
        if gpus % (tp * pp):
            raise Skip(f"{gpus} GPUs do not split into tp={tp} x pp={pp} replicas")
    else:
        try:
            tp, pp, ep = serving.choose_parallelism(ctx, gpus, I, O)
        except ValueError as exc:
            raise Skip(str(exc)) from None
    dep = Deployment(model=m.id, gpu=g.id, gpus=gpus, tp=tp, pp=pp, ep=ep, quant=quant, kv_quant=kv, engine=engine)
    kv_tokens = float(serving.memory_budget(ctx, tp, pp, ep)["kv_capacity_tokens"])
    if kv_tokens < I + O:
        raise Skip("the model does not fit with this parallelism (predicted out of memory)")
    return _Row(ctx=ctx, dep=dep, I=I, O=O, replicas=gpus // (pp * max(tp, ep)), gpus=gpus, unit=unit)


#: latency metrics a simulated run answers, each read off the simulation's result (a metric not
#: listed, such as a p99 ITL the simulation does not give, is skipped with a reason)
_SIMULATED_LATENCY: dict[str, Callable[[SimResult], float | None]] = {
    "mean_ttft": lambda sim: sim.ttft_s.mean,
    "median_ttft": lambda sim: sim.ttft_s.p50,
    "p99_ttft": lambda sim: sim.ttft_s.p99,
    "mean_tpot": lambda sim: sim.tpot_s.mean,
    "mean_itl": lambda sim: sim.itl_mean_s,
}


_QPS = re.compile(r"QPS=([\d.]+|INF)")
LOAD_SHAPES = ("offline", "server scenario", "static batch", "closed loop", "burst", "request rate", "other")


def load_shape(row: dict[str, str]) -> str:
    """How the row's load was offered, read as :func:`predict_llm_row` reads it (the branch it takes):
    ``server scenario`` (MLPerf server or interactive: Poisson arrivals under latency limits),
    ``static batch``, ``closed loop`` (a fixed number of clients), ``burst`` (every request sent at
    once), ``request rate`` (Poisson arrivals at a rate), ``offline`` (the engine's maximum
    throughput), or ``other`` (a row the harness does not predict)."""
    metric = row.get("metric", "").strip()
    scenario = row.get("scenario", "")
    if metric.startswith(("server_", "interactive_")):
        return "server scenario"
    if metric in ("ttft", "end_to_end_batch_latency", "throughput_per_gpu") or (
            "throughput" in metric and "static batch" in scenario.lower()):
        return "static batch"
    try:
        if _concurrency(row):
            return "closed loop"
    except Skip:
        return "other"
    qps = _QPS.search(scenario)
    if qps:
        return "burst" if qps.group(1) == "INF" else "request rate"
    return "offline" if "throughput" in metric else "other"


def predict_llm_row(row: dict[str, str], ctxs: Contexts) -> float:
    """Predicted value of one A-schema row in its own metric and unit (raises Skip)."""
    r = _row(row, ctxs)
    metric = row.get("metric", "").strip()
    scenario = row.get("scenario", "").lower()
    B_row = num(row.get("batch_size"))
    qps = _QPS.search(row.get("scenario", ""))
    if "throughput" in metric:
        return _throughput(row, r, metric, scenario, B_row, qps, ctxs)
    scale = 1e3 if r.unit == "ms" else 1.0 if r.unit == "s" else None
    if scale is None:
        raise Skip(f"latency unit {r.unit!r} is not ms or s")
    if metric == "ttft":
        return serving.static_batch(r.ctx, B_row or 1.0, r.I, r.O, tp=r.dep.tp, pp=r.dep.pp, ep=r.dep.ep)[1] * scale
    if metric == "end_to_end_batch_latency":
        if B_row is None:
            raise Skip("batch latency row without a batch size")
        return serving.static_batch(r.ctx, B_row, r.I, r.O, tp=r.dep.tp, pp=r.dep.pp, ep=r.dep.ep)[0] * scale
    conc = _concurrency(row)
    if metric in _SIMULATED_LATENCY and (qps or conc):
        sim = _sim(r, qps.group(1) if qps else None, _requests(row, conc), ctxs, conc, length_draw(row))
        v = _SIMULATED_LATENCY[metric](sim)
        if v is None:
            raise Skip("the simulation produced no completed requests")
        return v * scale
    m_srv = re.match(r"(server|interactive)_(mean|p99)_(ttft|tpot)", metric)
    if m_srv:
        lam = measured_rate(row)
        if lam is None:
            raise Skip("server latency row without the load it was measured at (completed samples/s or target_qps) in its notes")
        slo = _SLO.search(row.get("constraints", ""))
        # the scenario's TPOT limit is what the engine's scheduler was tuned to; a load at or past
        # the predicted capacity is read at the near-saturation point (flagged, never unbounded)
        pt = serving.rate_point(r.ctx, np.array([lam / r.replicas]), r.I, r.O, tp=r.dep.tp, pp=r.dep.pp, ep=r.dep.ep,
                                b_max=_b_max(r), tpot_limit=float(slo.group(2)) / 1e3 if slo else None)
        if m_srv.group(3) == "tpot":
            return float(pt["tpot"][0]) * scale
        return float(pt["ttft_mean" if m_srv.group(2) == "mean" else "ttft_p99"][0]) * scale
    raise Skip(f"metric {metric!r} is not one the harness predicts")


def _b_max(r: _Row) -> float:
    return float(serving.evaluate(r.dep, Load(input_len=r.I, output_len=r.O), ctx=r.ctx).max_batch_size)


def _throughput(row: dict[str, str], r: _Row, metric: str, scenario: str, B_row: float | None, qps: re.Match[str] | None,
                ctxs: Contexts) -> float:
    if metric.startswith("server_") or metric.startswith("interactive_"):
        slo = _SLO.search(row.get("constraints", ""))
        if not slo:
            raise Skip("server scenario without readable p99 TTFT/TPOT limits in constraints")
        targets = LatencyTargets(ttft_p99_s=float(slo.group(1)) / 1e3, tpot_p99_s=float(slo.group(2)) / 1e3)
        lam = serving.max_rate(r.ctx, r.I, r.O, targets, tp=r.dep.tp, pp=r.dep.pp, ep=r.dep.ep, b_max=_b_max(r))
        if lam is None:
            raise Skip("no load meets the scenario's latency limits in the model")
        return r.scale(lam * r.O * r.replicas, lam * r.replicas)
    if "static batch" in scenario or metric == "throughput_per_gpu":
        if B_row is None:
            raise Skip("static-batch row without a batch size")
        e2e, _ = serving.static_batch(r.ctx, B_row, r.I, r.O, tp=r.dep.tp, pp=r.dep.pp, ep=r.dep.ep)
        tok = B_row * r.O / e2e * r.replicas
        return r.scale(tok, tok / r.O)
    conc = _concurrency(row)
    if qps or conc:
        sim = _sim(r, qps.group(1) if qps else None, _requests(row, conc), ctxs, conc, length_draw(row))
        return r.scale(sim.output_tokens_per_s * r.replicas, sim.requests_per_s * r.replicas)
    res = serving.evaluate(r.dep, Load(input_len=r.I, output_len=r.O), ctx=r.ctx)  # max throughput
    return r.scale(res.output_tokens_per_s, res.requests_per_s)


MAX_CONCURRENCY = 100_000  # clients of one closed-loop row; far above published sweeps, and a simulation that fits in memory


def _concurrency(row: dict[str, str]) -> int | None:
    """Clients of a closed-loop (fixed-concurrency) row: ``concurrency=N`` in its scenario."""
    m = re.search(r"concurrency\s*=\s*(\S*)", row.get("scenario", ""))
    if m is None:
        return None
    text = m.group(1).rstrip(",;)")
    if not re.fullmatch(r"[0-9]+", text) or not 1 <= int(text) <= MAX_CONCURRENCY:
        raise Skip(f"scenario concurrency={text!r}: a closed loop needs a whole number of clients from 1 to {MAX_CONCURRENCY:,}")
    return int(text)


_UNIFORM = re.compile(r"random uniform \[([0-9.]+) L, L\]")


@dataclass(frozen=True)
class LengthDraw:
    """How a row's requests vary in length around its mean input and output: ``fixed`` (every
    request at the means), ``exponential`` (a dataset's means: variable_lengths) or ``uniform`` (a
    benchmark client that draws each length from the integers [int(ratio L), L]: uniform_lengths)."""

    kind: Literal["fixed", "exponential", "uniform"] = "fixed"
    ratio: float = 1.0

    def lengths(self, mean_input: float, mean_output: float, n: int) -> tuple[Any, Any]:
        """The n requests' input and output lengths (arrays), or the two means for fixed lengths."""
        if self.kind == "exponential":
            return variable_lengths(mean_input, mean_output, n)
        if self.kind == "uniform":
            return uniform_lengths(mean_input, mean_output, self.ratio, n)
        return mean_input, mean_output


FIXED_LENGTHS = LengthDraw()


def length_draw(row: dict[str, str]) -> LengthDraw:
    """How the row's requests vary in length, read from its ``length_kind``."""
    kind = row.get("length_kind", "").strip()
    if kind.startswith("dataset (variable)"):
        return LengthDraw("exponential")
    m = _UNIFORM.match(kind)
    if m:
        ratio = float(m.group(1))
        if not 0 < ratio <= 1:
            raise Skip(f"length_kind {kind!r}: the range ratio must lie in (0, 1]")
        return LengthDraw("uniform", ratio)
    return FIXED_LENGTHS


def _requests(row: dict[str, str], conc: int | None = None) -> int:
    m = re.search(r"(\d+) requests", row.get("notes", ""))
    if m:
        return int(m.group(1))
    # a concurrency sweep that does not state its request count: enough requests for every client
    # to complete several (an ASSUMPTION; benchmark clients default to a few hundred requests)
    return max(500, 10 * conc) if conc else 500


# Lengths of a row that states only a dataset's mean input and output tokens: each request's
# lengths drawn from an exponential distribution with that mean (an ASSUMPTION: the maximum-
# entropy distribution when only the mean is known; no shape is fitted), seeded, at least 1 token.
# A burst of such requests drains through a long tail at a small batch, which fixed lengths at
# the mean do not have: throughput and inter-token latency both come out lower.
VARIABLE_LENGTH_SEED = 1


def variable_lengths(mean_input: float, mean_output: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(VARIABLE_LENGTH_SEED)
    return (np.maximum(1.0, np.round(rng.exponential(mean_input, n))),
            np.maximum(1.0, np.round(rng.exponential(mean_output, n))))


def uniform_lengths(mean_input: float, mean_output: float, ratio: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Lengths of a client that draws each uniformly from the integers [int(ratio L), L], L the
    nominal length whose range has the given mean (seeded like variable_lengths)."""
    rng = np.random.default_rng(VARIABLE_LENGTH_SEED)

    def draw(mean: float) -> np.ndarray:
        nominal = round(2 * mean / (1 + ratio))
        for L in (nominal, nominal - 1, nominal + 1):
            if (int(ratio * L) + L) / 2 == mean:
                return rng.integers(int(ratio * L), L + 1, n).astype(float)
        raise Skip(f"mean length {mean} is not the mean of a range [int({ratio} L), L]")

    return draw(mean_input), draw(mean_output)


def _sim(r: _Row, qps: str | None, n_req: int, ctxs: Contexts, conc: int | None = None,
         draw: LengthDraw = FIXED_LENGTHS) -> SimResult:
    key = (id(r.ctx), r.dep.tp, r.dep.pp, r.dep.ep, r.I, r.O, qps, n_req, r.replicas, conc, draw)
    if key not in ctxs.sims:
        rate = None if qps in (None, "INF") else float(qps) / r.replicas
        n = max(1, n_req // r.replicas)
        I, O = draw.lengths(r.I, r.O, n)
        clients = max(1, round(conc / r.replicas)) if conc else None
        ctxs.sims[key] = serving.simulate(ctx=r.ctx, tp=r.dep.tp, pp=r.dep.pp, ep=r.dep.ep, input_len=I, output_len=O,
                                          rate=None if clients else rate, concurrency=clients, num_requests=n, seed=0,
                                          start_delay_s=r.ctx.hw.first_wave_delay_s)
    return ctxs.sims[key]


def is_finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
