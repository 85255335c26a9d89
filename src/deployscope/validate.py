"""The accuracy harness: predict published measurements and report how far off the predictions are.

``run(files)`` reads CSV files in the schema of the shipped validation files (``validation/``:
A = LLM inference, B = diffusion, C = training, D = memory; the kind is told by the header),
predicts every row it can from model, hardware, precision, parallelism, engine and workload
alone, and scores predicted against measured: coverage, median and p90 absolute percentage
error (APE), overall, by source, hardware, precision and metric, and over the held-out rows only
(rows whose source was not used for fitting).

A prediction never reads the row's measured ``value`` (nor ``value_per_gpu``): it is computed
first and compared afterwards. Row content never makes the harness fail: a row that cannot be
read gets ``predicted: null`` and a ``reason``.

Fitting split (see docs/validation.md): the LLM inference model's efficiency and overhead figures
were fitted on :data:`FIT_SOURCES` only (MLPerf Inference v4.x and TensorRT-LLM v0.9); every
other source is held out.
"""

from __future__ import annotations

import csv
import math
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .errors import DeployscopeError

VALIDATION_DIR = Path(__file__).resolve().parent / "validation"
DEFAULT_FILES = ("A_llm_inference.csv", "B_diffusion_inference.csv", "C_training.csv", "D_memory.csv", "E_image_training.csv", "E_image_training_fit.csv")

# Sources (as `source_type | round_or_version` prefixes) the LLM inference figures were fitted on.
FIT_SOURCES: tuple[str, ...] = ("MLPerf Inference|v4.0", "MLPerf Inference|v4.1", "TensorRT-LLM perf-overview|v0.9.0")

# Published dataset statistics for rows whose lengths vary per request (MLPerf). Only figures a
# source states are listed; a dataset without a published mean input length is not predicted.
DATASETS: dict[str, dict[str, Any]] = {
    "openorca": {
        "match": "OpenOrca subset (24,576",
        "mean_input": None,
        "mean_output_note": "reference mean output 294.45 tok/sample (mlcommons/inference language/llama2-70b/README.md)",
        "source": "https://github.com/mlcommons/inference/tree/master/language/llama2-70b",
    },
    "cnn_dailymail": {"match": "CNN-DailyMail", "mean_input": None, "source": "https://github.com/mlcommons/inference/tree/master/language/gpt-j"},
    "mixtral_mix": {"match": "OpenOrca 5k + GSM8K 5k + MBXP 5k", "mean_input": None, "source": "https://github.com/mlcommons/inference/tree/master/language/mixtral-8x7b"},
}


# ----------------------------------------------------------------------------------------------
# reading files
# ----------------------------------------------------------------------------------------------


def file_kind(header: Iterable[str]) -> str:
    h = set(header)
    if "images_seen" in h:
        return "image_training"
    if "resolution" in h:
        return "diffusion"
    if "training_tokens_b" in h:
        return "training"
    if "workload" in h:
        return "memory"
    if {"metric", "value", "hardware", "model"} <= h:
        return "llm"
    return "unknown"


def read_csv(path: Path) -> tuple[str, list[dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = [dict(r) for r in reader]
            header = reader.fieldnames or []
    except OSError as exc:
        raise DeployscopeError(f"cannot read {path}: {exc.strerror}", field="data", value=str(path)) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DeployscopeError(f"{path} is not a readable CSV file: {exc}", field="data", value=str(path)) from None
    return file_kind(header), rows


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(str(x).replace(",", "").strip())
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def source_key(row: dict[str, str]) -> str:
    return f"{row.get('source_type', '').strip()}|{row.get('round_or_version', '').strip()}"


def is_fitted(row: dict[str, str]) -> bool:
    return source_key(row) in FIT_SOURCES


# ----------------------------------------------------------------------------------------------
# LLM rows
# ----------------------------------------------------------------------------------------------


class Skip(Exception):
    """A row that cannot be predicted; the message is the reason."""


@dataclass
class Params:
    """Overrides of the fitted figures, used by scripts/fit_perf.py while it searches."""

    eff: dict[str, tuple[float, float]] = field(default_factory=dict)  # family -> (compute, bandwidth)
    half_gflop: float | None = None
    link_eff: float | None = None
    overhead: dict[str, tuple[float, ...]] = field(default_factory=dict)  # engine -> (step, layer, prefill layer, request) s


def _engine_of(framework: str) -> str:
    f = framework.lower()
    if "tensorrt" in f or "trt" in f:
        return "trtllm"
    if "vllm" in f:
        return "vllm"
    if "sglang" in f:
        return "sglang"
    if "llama.cpp" in f:
        return "llamacpp"
    raise Skip(f"framework {framework!r} is not one of the modeled engines (TensorRT-LLM, vLLM, SGLang, llama.cpp)")


def _formats(precision: str) -> tuple[str, str]:
    p = precision.strip().lower()
    if p in ("fp8", "fp8 (w8a8)"):
        return "fp8", "fp8"
    if p in ("bf16", "bfloat16"):
        return "bf16", "bf16"
    if p in ("fp16", "float16"):
        return "fp16", "fp16"
    if not p:
        raise Skip("precision not stated")
    raise Skip(f"precision {precision!r} is a mixed or per-component format the model does not take")


class _Ctxs:
    """Evaluation contexts, built once per (model, gpu, formats, engine) and reused."""

    def __init__(self, catalog, params: Params | None, base: dict | None = None) -> None:  # noqa: ANN001
        self.catalog = catalog
        self.params = params
        self._base = base if base is not None else {}
        self._cache: dict[tuple, Any] = {}

    def get(self, model: str, gpu: str, quant: str, kv: str, engine: str):  # noqa: ANN201
        key = (model, gpu, quant, kv, engine)
        if key not in self._cache:
            from .physics import serving

            if key not in self._base:
                try:
                    self._base[key] = serving.context(model, gpu, quant=quant, kv_quant=kv, engine=engine, catalog=self.catalog)
                except DeployscopeError as exc:
                    self._base[key] = exc
            c = self._base[key]
            self._cache[key] = c if isinstance(c, DeployscopeError) else self._apply(c)
        c = self._cache[key]
        if isinstance(c, DeployscopeError):
            raise Skip(str(c))
        return c

    def _apply(self, c):  # noqa: ANN001, ANN202
        p = self.params
        if p is None:
            return c
        hw = c.hw
        fam = hw.family
        if fam in p.eff:
            ce, be = p.eff[fam]
            hw = replace(hw, compute_eff=ce, attention_eff=ce, bandwidth_eff=be)
        if p.half_gflop is not None:
            hw = replace(hw, half_eff_flops=p.half_gflop * 1e9)
        if p.link_eff is not None:
            hw = replace(hw, link_eff=p.link_eff)
        if c.engine.id in p.overhead:
            so, lo, plo, ro = p.overhead[c.engine.id]
            hw = replace(hw, step_overhead_s=so, layer_overhead_s=lo, prefill_layer_overhead_s=plo, request_overhead_s=ro)
        return replace(c, hw=hw)


def _lengths(row: dict[str, str]) -> tuple[float, float]:
    I = _num(row.get("input_len"))
    O = _num(row.get("output_len"))
    notes = row.get("notes", "")
    if O is None:
        m = re.search(r"reference mean output ~?([\d.]+) tok/sample", notes)
        if m:
            O = float(m.group(1))
    if I is None:
        for ds in DATASETS.values():
            if ds["match"] in notes:
                if ds["mean_input"] is None:
                    raise Skip("dataset mean input length is not published in the row, its notes or a cited source")
                I = float(ds["mean_input"])
        if I is None:
            raise Skip("input length not stated")
    if O is None:
        raise Skip("output length not stated")
    return I, O


def _divisors(n: int) -> list[int]:
    return [d for d in (1, 2, 4, 8, 16, 32, 64) if d <= n and n % d == 0]


def _max_tp_throughput(ctx, I: float, O: float, tp: int, pp: int, ep: int) -> float:  # noqa: ANN001
    from .physics import serving

    B = float(serving.max_batch(ctx, I, O, tp=tp, pp=pp, ep=ep))
    if B < 1:
        return float("nan")
    return float(serving.steady_state(ctx, B, I, O, tp=tp, pp=pp, ep=ep)["tokens_per_s"])


def _choose_parallel(ctx, gpus: int, I: float, O: float, tp: int | None, pp: int | None):  # noqa: ANN001, ANN202
    """(tp, pp, replicas): the stated split, or the one with the highest max throughput."""
    heads = ctx.model.transformer.num_attention_heads
    if tp is not None:
        pp = pp or 1
        if gpus % (tp * pp):
            raise Skip(f"{gpus} GPUs do not split into tp={tp} x pp={pp} replicas")
        return tp, pp, gpus // (tp * pp)
    best = None
    for t in _divisors(gpus):
        if heads % t:
            continue
        thr = _max_tp_throughput(ctx, I, O, t, 1, 1)
        if math.isnan(thr):
            continue
        total = thr * (gpus // t)
        if best is None or total > best[0]:
            best = (total, t)
    if best is None:
        raise Skip("the model does not fit on these GPUs at any tensor-parallel size")
    return best[1], 1, gpus // best[1]


_SLO = re.compile(r"p99 TTFT<=(\d+)ms; p99 TPOT<=(\d+)ms")


def predict_llm_row(row: dict[str, str], ctxs: _Ctxs) -> tuple[float, str | None]:
    """Predicted value of one A-schema row in its own metric and unit (raises Skip)."""
    from .physics import serving

    metric = row.get("metric", "").strip()
    unit = row.get("unit", "").strip()
    if "per_node" in metric or "per node" in unit or "per 8-GPU node" in unit:
        raise Skip("prefill/decode-disaggregated production serving with wide expert parallelism is not modeled")
    model = row.get("model", "").strip()
    gpu = row.get("hardware", "").strip()
    cat = ctxs.catalog
    m = cat.models.find(model)
    if m is None:
        raise Skip(f"model {model!r} is not in the catalog")
    g = cat.accelerators.find(gpu)
    if g is None:
        raise Skip(f"hardware {gpu!r} is not in the catalog")
    quant, kv = _formats(row.get("precision", ""))
    engine = _engine_of(row.get("framework", ""))
    ctx = ctxs.get(m.id, g.id, quant, kv, engine)
    gpus = int(_num(row.get("gpu_count")) or 1)
    I, O = _lengths(row)
    tp_s = _num(row.get("tp"))
    pp_s = _num(row.get("pp"))
    tp, pp, replicas = _choose_parallel(ctx, gpus, I, O, int(tp_s) if tp_s else None, int(pp_s) if pp_s else None)
    ep = 1
    scenario = row.get("scenario", "").lower()
    B_row = _num(row.get("batch_size"))
    mb = serving.memory_budget(ctx, tp, pp, ep)
    kv_tokens = float(mb["kv_capacity_tokens"])
    if kv_tokens < I + O:
        raise Skip("the model does not fit with this parallelism (predicted out of memory)")

    def unit_scale(tokens_per_s_system: float, requests_per_s_system: float) -> float:
        u = unit.lower()
        if u.startswith("samples/s"):
            return requests_per_s_system
        if "input+output" in u:
            return requests_per_s_system * (I + O)
        if "(as labeled" in u:
            # AMD pages: "tokens/s" without saying output or total. Within this file a metric named
            # "throughput" counts output tokens (TensorRT-LLM rows), so read it the same way; the
            # alternative (input + output) is reported in docs/validation.md.
            return tokens_per_s_system
        if u.startswith("output_tokens/s/gpu"):
            return tokens_per_s_system / gpus
        if u.startswith("output_tokens/s"):
            return tokens_per_s_system
        raise Skip(f"unit {unit!r} is not one the harness reads")

    def static_batch(B: float) -> tuple[float, float]:
        """(end-to-end seconds, TTFT seconds) of one static batch of B requests."""
        pre = llm_step(ctx, decode=0.0, prefill=B * I, dctx=0.0, pctx=I / 2.0, seqs=B, tp=tp, pp=pp)
        if O <= 1:
            return pre + ctx.hw.request_overhead_s, pre + ctx.hw.request_overhead_s
        dec = llm_step(ctx, decode=B, prefill=0.0, dctx=I + O / 2.0, pctx=0.0, seqs=0.0, tp=tp, pp=pp)
        return pre + (O - 1.0) * dec + ctx.hw.request_overhead_s, pre + ctx.hw.request_overhead_s

    # --- throughput rows -----------------------------------------------------------------------
    if "throughput" in metric:
        if metric.startswith("server_") or metric.startswith("interactive_"):
            slo = _SLO.search(row.get("constraints", ""))
            if not slo:
                raise Skip("server scenario without readable p99 TTFT/TPOT limits in constraints")
            lam = _slo_rate(ctx, I, O, tp, pp, float(slo.group(1)) / 1e3, float(slo.group(2)) / 1e3)
            return unit_scale(lam * O * replicas, lam * replicas), None
        if "static batch" in scenario or metric == "throughput_per_gpu":
            if B_row is None:
                raise Skip("static-batch row without a batch size")
            e2e, _ = static_batch(B_row)
            tok = B_row * O / e2e * replicas
            return unit_scale(tok, tok / O), None
        m_qps = re.search(r"QPS=([\d.]+|INF)", row.get("scenario", ""))
        if m_qps:
            n_req = int(_num(re.search(r"(\d+) requests", row.get("notes", "")).group(1)) if re.search(r"(\d+) requests", row.get("notes", "")) else 500)
            sim = _sim(ctx, tp, pp, I, O, m_qps.group(1), n_req, replicas)
            return unit_scale(sim.output_tokens_per_s * replicas, sim.requests_per_s * replicas), None
        # max throughput (offline / infinite rate)
        B = float(serving.max_batch(ctx, I, O, tp=tp, pp=pp, ep=ep, kv_tokens=kv_tokens))
        mns = re.search(r"max_num_seqs=(\d+)", row.get("notes", ""))
        if mns:  # the run's own scheduler cap replaces the engine default
            B = min(float(mns.group(1)), math.floor(kv_tokens / _per_seq(ctx, I, O)))
        s = serving.steady_state(ctx, B, I, O, tp=tp, pp=pp, ep=ep)
        tok = float(s["tokens_per_s"]) * replicas
        return unit_scale(tok, tok / O), None

    # --- latency rows --------------------------------------------------------------------------
    scale = 1e3 if unit == "ms" else 1.0 if unit == "s" else None
    if scale is None:
        raise Skip(f"latency unit {unit!r} is not ms or s")
    if metric == "ttft":
        B = B_row or 1.0
        _, ttft = static_batch(B)
        return ttft * scale, None
    if metric == "end_to_end_batch_latency":
        if B_row is None:
            raise Skip("batch latency row without a batch size")
        e2e, _ = static_batch(B_row)
        return e2e * scale, None
    m_qps = re.search(r"QPS=([\d.]+|INF)", row.get("scenario", ""))
    if metric in ("mean_ttft", "mean_itl", "mean_tpot", "p99_ttft", "p99_itl") and m_qps:
        n_req = int(re.search(r"(\d+) requests", row.get("notes", "")).group(1)) if re.search(r"(\d+) requests", row.get("notes", "")) else 500
        sim = _sim(ctx, tp, pp, I, O, m_qps.group(1), n_req, replicas)
        if metric == "mean_ttft":
            v = sim.ttft_s.mean
        elif metric == "p99_ttft":
            v = sim.ttft_s.p99
        elif metric == "mean_itl":
            v = sim.itl_mean_s
        else:
            v = sim.tpot_s.mean
        if v is None:
            raise Skip("the simulation produced no completed requests")
        return v * scale, None
    m_srv = re.match(r"(server|interactive)_(mean|p99)_(ttft|tpot)", metric)
    if m_srv:
        q = re.search(r"target_qps=([\d.]+)", row.get("notes", ""))
        if not q:
            raise Skip("server latency row without the offered load (target_qps) in its notes")
        lam = float(q.group(1)) / replicas
        r = _rate_point(ctx, I, O, tp, pp, lam)
        if r is None:
            raise Skip("the offered load exceeds the predicted capacity (latency unbounded)")
        ttft, tpot = r
        pick = ttft if m_srv.group(3) == "ttft" else tpot
        v = pick.mean if m_srv.group(2) == "mean" else pick.p99
        return v * scale, None
    raise Skip(f"metric {metric!r} is not one the harness predicts")


def _per_seq(ctx, I: float, O: float) -> float:  # noqa: ANN001
    return I + O if ctx.engine.perf.kv_reservation == "full" else I + O / 2.0


def llm_step(ctx, *, decode, prefill, dctx, pctx, seqs, tp, pp, ep=1) -> float:  # noqa: ANN001
    """One full step (all pipeline stages) as a float."""
    from .physics import llm

    c = llm.step_cost(
        ctx.shape, ctx.hw, decode_tokens=decode / pp, prefill_tokens=prefill / pp, decode_ctx=dctx, prefill_ctx=pctx,
        prefill_seqs=seqs / pp, tp=tp, pp=pp, ep=ep,
    )
    return float(pp * c["time"])


def _sim(ctx, tp: int, pp: int, I: float, O: float, qps: str, n_req: int, replicas: int):  # noqa: ANN001, ANN202
    key = (id(ctx), tp, pp, I, O, qps, n_req, replicas)
    hit = _SIM_CACHE.get(key)
    if hit is not None and hit[0] is ctx:
        return hit[1]
    from .physics import serving

    rate = None if qps == "INF" else float(qps) / replicas
    sim = serving.simulate(ctx=ctx, tp=tp, pp=pp, input_len=I, output_len=O, rate=rate, num_requests=max(1, n_req // replicas), seed=0)
    _SIM_CACHE[key] = (ctx, sim)
    return sim


_SIM_CACHE: dict[tuple, Any] = {}


def _rate_point(ctx, I: float, O: float, tp: int, pp: int, lam: float):  # noqa: ANN001, ANN202
    """(ttft Percentiles, tpot Percentiles) of the analytical path at `lam` requests/s per replica."""
    from .physics import serving

    b_max = float(serving.max_batch(ctx, I, O, tp=tp, pp=pp))
    if b_max < 1:
        return None
    full = serving.steady_state(ctx, b_max, I, O, tp=tp, pp=pp)
    lam_max = float(full["requests_per_s"])
    if lam >= lam_max:
        return None
    B = float(serving._solve_rate(ctx, lam, I, O, tp=tp, pp=pp, ep=1, b_max=b_max))
    s = serving.steady_state(ctx, B, I, O, tp=tp, pp=pp)
    rho = lam / lam_max
    wait = rho / (2.0 * (1.0 - rho)) / lam_max
    ttft = serving._percentiles_ttft(float(s["ttft_service"]), float(s["cycle"]), wait)
    tpot = serving._flat(float(s["tpot"]))
    return ttft, tpot


def _slo_rate(ctx, I: float, O: float, tp: int, pp: int, ttft_p99: float, tpot_p99: float) -> float:  # noqa: ANN001
    """Highest request rate per replica whose p99 TTFT and TPOT meet the limits (bisection)."""
    from .physics import serving

    b_max = float(serving.max_batch(ctx, I, O, tp=tp, pp=pp))
    lam_max = float(serving.steady_state(ctx, b_max, I, O, tp=tp, pp=pp)["requests_per_s"])
    lo, hi = 0.0, lam_max * 0.9999

    def ok(lam: float) -> bool:
        r = _rate_point(ctx, I, O, tp, pp, lam)
        return r is not None and r[0].p99 <= ttft_p99 and r[1].p99 <= tpot_p99

    if ok(hi):
        return hi
    if not ok(lam_max * 1e-3):
        raise Skip("no load meets the scenario's latency limits in the model")
    lo = lam_max * 1e-3
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


# ----------------------------------------------------------------------------------------------
# scoring
# ----------------------------------------------------------------------------------------------


def metric_class(metric: str) -> str:
    m = metric.lower()
    if "throughput" in m:
        return "throughput"
    if "ttft" in m:
        return "ttft"
    if "tpot" in m or "itl" in m:
        return "tpot"
    if "latency" in m:
        return "latency"
    return "other"


def _summary(preds: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(preds)
    predicted = [p for p in preds if p["predicted"] is not None]
    apes = np.array([p["ape"] for p in preds if p["ape"] is not None], dtype=float)
    scored = [p for p in preds if p["measured"] is not None]
    return {
        "rows": n,
        "predicted": len(predicted),
        "coverage": (len([p for p in scored if p["predicted"] is not None]) / len(scored)) if scored else None,
        "scored": int(apes.size),
        "median_ape": float(np.median(apes)) if apes.size else None,
        "p90_ape": float(np.percentile(apes, 90)) if apes.size else None,
    }


def _groups(preds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in ("source", "hardware", "precision", "metric", "metric_class", "file"):
        buckets: dict[str, list[dict[str, Any]]] = {}
        for p in preds:
            buckets.setdefault(str(p.get(key, "")), []).append(p)
        out[key] = {k: _summary(v) for k, v in sorted(buckets.items())}
    return out


def _predict_file(
    path: Path, kind: str, rows: list[dict[str, str]], catalog, params: Params | None, base: dict | None = None  # noqa: ANN001
) -> list[dict[str, Any]]:
    preds: list[dict[str, Any]] = []
    fn: Callable[..., tuple[float | None, str | None]] | None = None
    fitted_sources: list[str] = []
    if kind in ("diffusion", "training", "memory"):
        from . import validate_workloads as vw

        fn = {"diffusion": vw.predict_diffusion_row, "training": vw.predict_training_row, "memory": vw.predict_memory_row}[kind]
        fitted_sources = list(vw.FITTED_SOURCES.get(kind, []))
    elif kind == "image_training":
        from . import validate_image_training as vit

        fn = vit.predict_row
        fitted_sources = [s for v in vit.FITTED_SOURCES.values() for s in v]
    ctxs = _Ctxs(catalog, params, base)
    for i, row in enumerate(rows):
        measured = _num(row.get("value"))
        pred: float | None = None
        reason: str | None = None
        metric = (row.get("metric") or "").strip()
        if kind == "llm":
            fitted = is_fitted(row)
            try:
                pred, reason = predict_llm_row(row, ctxs)
            except Skip as exc:
                pred, reason = None, str(exc)
            except DeployscopeError as exc:
                pred, reason = None, str(exc)
            except Exception as exc:  # noqa: BLE001 - row content never makes validate fail
                pred, reason = None, f"internal error on this row: {type(exc).__name__}: {exc}"
        elif kind == "unknown":
            fitted = False
            reason = "file schema not recognised (no known header)"
        else:
            src = (row.get("source") or "") + " " + (row.get("source_type") or "")
            fitted = any(s and s in src for s in fitted_sources)
            try:  # row content never makes validate fail
                pred, reason = fn(row, catalog)  # type: ignore[misc]
            except Exception as exc:  # noqa: BLE001
                pred, reason = None, f"internal error on this row: {type(exc).__name__}: {exc}"
        if pred is not None and not (isinstance(pred, (int, float)) and math.isfinite(pred)):
            pred, reason = None, reason or "prediction is not a finite number"
        ape = abs(pred - measured) / abs(measured) if (pred is not None and measured not in (None, 0.0)) else None
        if measured is None and reason is None and pred is not None:
            reason = None
        preds.append(
            {
                "file": path.name,
                "index": i,
                "metric": metric,
                "unit": (row.get("unit") or "").strip(),
                "measured": measured,
                "predicted": pred,
                "ape": ape,
                "fitted_on": bool(fitted),
                "reason": reason if pred is None else None,
                "source": _source_label(row, kind),
                "hardware": (row.get("hardware") or "").strip(),
                "precision": (row.get("precision") or "").strip(),
                "model": (row.get("model") or "").strip(),
                "metric_class": metric_class(metric) if kind == "llm" else kind,
            }
        )
    return preds


def _source_label(row: dict[str, str], kind: str) -> str:
    if kind == "llm":
        st = (row.get("source_type") or "").strip()
        rv = (row.get("round_or_version") or "").strip()
        if st.startswith("AMD ROCm"):
            return "AMD ROCm performance pages"
        return f"{st} {rv}".strip()
    return (row.get("source_type") or row.get("source") or "").strip()[:60]


def run(files: Iterable[str | Path] | None = None, *, catalog=None, params: Params | None = None) -> dict[str, Any]:  # noqa: ANN001
    """Predict every row of the files (default: the four shipped ones) and score them."""
    if catalog is None:
        from .catalog import default_catalog

        catalog = default_catalog()
    t0 = time.perf_counter()
    paths = [Path(f) for f in files] if files else [VALIDATION_DIR / f for f in DEFAULT_FILES]
    for p in paths:
        try:
            ok = p.is_file()
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise DeployscopeError(f"no such file: {p}", field="data", value=str(p))
    _SIM_CACHE.clear()
    preds: list[dict[str, Any]] = []
    for p in paths:
        kind, rows = read_csv(p)
        preds.extend(_predict_file(p, kind, rows, catalog, params))
    held = [p for p in preds if not p["fitted_on"]]
    out: dict[str, Any] = {**_summary(preds)}
    out["groups"] = _groups(preds)
    out["heldout"] = {**_summary(held), "groups": _groups(held)}
    from .validate_image_training import fitting_split as image_fitting_split

    out["fitting_split"] = {"llm_fit_sources": list(FIT_SOURCES), "image_training": image_fitting_split()}
    out["predictions"] = preds
    out["wall_time_s"] = time.perf_counter() - t0
    return out
