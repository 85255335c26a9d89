"""Fit the performance model's efficiency factors to measured bench runs.

Each measured load point (a run, or each step of a sweep) becomes an observation: the model,
the hardware, the engine and the quantization it ran with, the mean prompt and output tokens
the server reported, the offered load (concurrency or rate), and the measured mean TTFT, mean
TPOT and output tokens/s. The fit searches the factors of one calibration row
(``physics/calibration.py``) for the (engine, hardware family) pair:

- ``compute``   multiplies GEMM and attention efficiency (capped at 1),
- ``bandwidth`` multiplies memory-bandwidth efficiency (capped at 1),
- ``half_eff``  multiplies the GEMM size at which efficiency reaches half its peak,
- ``overhead_add_s`` adds seconds to every engine step,
- ``request_add_s`` adds seconds to each request's time to first token, outside the engine's
  steps (the API server, tokenization, the first chunk's way to the client). Published runs of
  large MoE models on vLLM, SGLang and TensorRT-LLM measure TTFTs 0.1-0.4 s above the model's at
  low load, a gap that behaves like such a time (docs/validation.md, "Where the missing TTFT is
  not") and that no catalog source sizes, so a user's own runs do,

minimizing Σ over observations and metrics of ln(predicted / measured)², with a small pull
towards no change (so factors the data cannot see stay at 1). The search is a compass (pattern)
search in log space from several starting points; it needs no SciPy. The result is saved as a
named profile that ``perf`` and ``plan`` read with ``--calibration NAME``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import DeployscopeError

METRICS = ("ttft_s", "tpot_s", "output_tokens_per_s")
BOUNDS = {  # log-space bounds of the fitted parameters
    "compute": (math.log(1e-3), math.log(10.0)),
    "bandwidth": (math.log(1e-3), math.log(10.0)),
    "half_eff": (math.log(1e-7), math.log(1e6)),
    "overhead_add_s": (math.log(1e-8), math.log(1.0)),
    "request_add_s": (math.log(1e-8), math.log(10.0)),
}
# parameters whose lower bound means "nothing added" (0 s), not a tiny positive time
ADDED_SECONDS = ("overhead_add_s", "request_add_s")
REG = 1e-3


@dataclass
class Observation:
    run: str
    label: str
    model: str
    gpu: str
    engine: str
    quant: str
    input_len: float
    output_len: float
    concurrency: float | None
    rate: float | None
    measured: dict[str, float]


def load_run(ref: str, store: Any = None) -> dict[str, Any]:
    """A bench run from an exported JSON file or a saved run id: ``{"id", "summary", "records"}``."""
    p = Path(ref)
    try:
        is_path = p.suffix.lower() == ".json" or p.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        is_path = False
    if is_path:
        if not p.is_file():
            raise DeployscopeError(f"no such file: {ref}", field="run", value=ref, allowed="a saved run id or an exported .json file")
        from .. import safe_yaml

        try:
            data = safe_yaml.load_file(p, source=ref)
        except safe_yaml.UnsafeInput as exc:
            raise DeployscopeError(f"cannot read bench export: {exc}", field="run", value=ref) from None
        if not isinstance(data, dict) or not isinstance(data.get("summary"), dict):
            raise DeployscopeError(f"{ref} is not a deployscope bench export (no 'summary')", field="run", value=ref)
        return {"id": str(p), "summary": data["summary"], "records": data.get("records") or []}
    try:
        rid = int(ref)
    except ValueError:
        raise DeployscopeError(f"not a run id or a .json file: {ref!r}", field="run", value=ref,
                               allowed="a saved run id (deployscope store bench) or an exported .json file") from None
    if store is None:
        from ..store import Store

        store = Store()
    rec = store.get_bench_run(rid)
    return {"id": str(rec.id), "summary": rec.summary, "records": rec.records or []}


def observations(run: dict[str, Any], *, model: str | None = None, gpu: str | None = None, engine: str | None = None,
                 quant: str | None = None) -> list[Observation]:
    """The load points of one run that measured something."""
    s = run["summary"]
    target = s.get("target") or {}
    m = model or target.get("catalog_model") or target.get("model") or s.get("model")
    g = gpu or target.get("gpu") or s.get("gpu")
    e = engine or target.get("engine") or s.get("engine")
    q = quant or target.get("quant") or s.get("quant") or "bf16"
    missing = [k for k, v in (("model", m), ("gpu", g), ("engine", e)) if not v]
    if missing:
        raise DeployscopeError(
            f"run {run['id']} does not record its {', '.join(missing)}; pass --{' --'.join(missing)}",
            field=missing[0], value=None,
        )
    steps = s.get("steps") or [dict(s.get("load") or {}, summary=s, label=(s.get("load") or {}).get("mode", "run"))]
    out = []
    for st in steps:
        sm = st.get("summary") or {}
        ttft = (sm.get("ttft_s") or {}).get("mean")
        tpot = (sm.get("tpot_s") or {}).get("mean")
        tput = sm.get("output_tokens_per_s")
        if not sm.get("completed") or ttft is None or tpot is None or not tput:
            continue
        n_ok = sm["completed"]
        in_len = (sm.get("input_tokens") or 0) / n_ok or st.get("input_len") or s.get("input_len")
        out_len = (sm.get("output_tokens") or 0) / n_ok or st.get("output_len")
        conc = st.get("concurrency") if st.get("mode") == "concurrency" else None
        rate = st.get("rate") if st.get("mode") == "rate" else None
        if conc is None and rate is None:
            conc = sm.get("mean_concurrency") or 1
        out.append(Observation(run["id"], str(st.get("label") or st.get("mode")), str(m), str(g), str(e), str(q),
                               float(in_len), float(out_len), conc, rate,
                               {"ttft_s": float(ttft), "tpot_s": float(tpot), "output_tokens_per_s": float(tput)}))
    return out


def _factors(x: dict[str, float]) -> dict[str, float]:
    out = {k: math.exp(x[k]) for k in ("compute", "bandwidth", "half_eff")}
    for k in ADDED_SECONDS:
        out[k] = math.exp(x[k]) if x[k] > BOUNDS[k][0] + 1e-9 else 0.0
    return out


def predict(obs: Observation, factors: dict[str, float] | None) -> dict[str, float]:
    import warnings

    from ..physics.serving import estimate

    cal = None if factors is None else {"factors": [dict(factors)]}
    kw: dict[str, Any] = {"concurrency": obs.concurrency} if obs.rate is None else {"rate": obs.rate}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = estimate(obs.model, obs.gpu, engine=obs.engine, quant=obs.quant, input_len=max(1.0, obs.input_len),
                     output_len=max(1.0, obs.output_len), calibration=cal, **kw)
    return {"ttft_s": r.ttft_s.mean, "tpot_s": r.tpot_s.mean, "output_tokens_per_s": r.output_tokens_per_s}


def log_error(pred: dict[str, float], meas: dict[str, float]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for k in METRICS:
        p, m = pred.get(k), meas.get(k)
        out[k] = math.log(p / m) if (p and m and p > 0 and m > 0 and math.isfinite(p)) else None
    return out


def _loss(obs: list[Observation], x: dict[str, float], cache: dict) -> float:
    key = tuple(round(x[k], 6) for k in BOUNDS)
    if key in cache:
        return cache[key]
    f = _factors(x)
    total = 0.0
    for o in obs:
        try:
            pred = predict(o, f)
        except DeployscopeError:
            cache[key] = float("inf")
            return cache[key]
        for _k, e in log_error(pred, o.measured).items():
            total += 25.0 if e is None else e * e
    total += REG * sum(x[k] ** 2 for k in ("compute", "bandwidth", "half_eff"))
    cache[key] = total
    return total


#: each parameter's "no change": factors 1 (0 in log space), added times 0 (their lower bound)
NEUTRAL = {"compute": 0.0, "bandwidth": 0.0, "half_eff": 0.0,
           **{k: BOUNDS[k][0] for k in ADDED_SECONDS}}


def _descend(obs: list[Observation], x: dict[str, float], cache: dict, budget: int, tol: float) -> tuple[dict[str, float], float, int]:
    """Compass search from x: (the point it stops at, its loss, evaluations spent)."""
    lx = _loss(obs, x, cache)
    step, evals = 2.0, 0
    while step > tol and evals < budget:
        improved = False
        for k in BOUNDS:
            for d in (step, -step):
                y = dict(x)
                y[k] = min(max(x[k] + d, BOUNDS[k][0]), BOUNDS[k][1])
                if y[k] == x[k]:
                    continue
                ly = _loss(obs, y, cache)
                evals += 1
                if ly < lx - 1e-12:
                    x, lx, improved = y, ly, True
        if not improved:
            step /= 2
    return x, lx, evals


def fit(obs: list[Observation], *, max_evals: int = 1500, tol: float = 0.04) -> tuple[dict[str, float], float]:
    """Compass search in log space from a few starts, then from the best point with every parameter
    but one put back to no change, for each one in turn (two parameters that offset each other, a
    faster memory and a longer step say, can hold a search in a valley the plainer answer is below);
    returns (factors, loss)."""
    if not obs:
        raise DeployscopeError("no measured load point to fit (every run had no completed request)", field="run")
    cache: dict = {}
    starts = [
        dict(NEUTRAL),
        {**NEUTRAL, "half_eff": math.log(1e-3)},
        {**NEUTRAL, "half_eff": math.log(1e-6), "overhead_add_s": math.log(1e-4), "request_add_s": math.log(1e-2)},
    ]
    best_x, best_l = starts[0], _loss(obs, starts[0], cache)
    evals = 0
    for x in starts:
        x, lx, n = _descend(obs, x, cache, max_evals - evals, tol)
        evals += n
        if lx < best_l:
            best_x, best_l = x, lx
    polish = 0  # the polish has a budget of its own, as large as the search's
    for k in BOUNDS:
        if best_x[k] == NEUTRAL[k] or polish >= max_evals:
            continue
        # a finer last step: the plainer answer may lie between the coarse search's grid points
        x, lx, n = _descend(obs, {**NEUTRAL, k: best_x[k]}, cache, max_evals - polish, tol / 10)
        polish += n
        if lx < best_l:
            best_x, best_l = x, lx
    return _factors(best_x), best_l


def calibrate(refs: list[str], *, name: str | None = None, model: str | None = None, gpu: str | None = None,
              engine: str | None = None, quant: str | None = None, store: Any = None, save: bool = True) -> dict[str, Any]:
    """Fit, save the profile (YAML for ``--calibration NAME``, and the store), and report
    predicted vs measured before and after."""
    from ..catalog import default_catalog
    from ..physics.calibration import CalibrationFactor, CalibrationProfile, save_calibration

    if not refs:
        raise DeployscopeError("name at least one bench run", field="run", allowed="saved run ids or exported .json files")
    runs = [load_run(r, store) for r in refs]
    obs = [o for r in runs for o in observations(r, model=model, gpu=gpu, engine=engine, quant=quant)]
    if not obs:
        raise DeployscopeError("the runs hold no completed requests to calibrate on", field="run", value=refs)
    pairs = {(o.engine, o.gpu) for o in obs}
    cat = default_catalog()
    fams = set()
    engines = set()
    for e, g in pairs:
        engines.add(cat.engines.get(e, field="engine").id)
        fams.add(cat.accelerators.get(g, field="gpu").family)
    if len(engines) > 1 or len(fams) > 1:
        raise DeployscopeError(
            "calibrate fits one engine on one hardware family at a time", field="run", value=sorted(f"{e}@{g}" for e, g in pairs)
        )
    eng, fam = engines.pop(), fams.pop()
    before = [predict(o, None) for o in obs]
    factors, loss = fit(obs)
    after = [predict(o, factors) for o in obs]
    rows = []
    for o, b, a in zip(obs, before, after):
        rows.append({"run": o.run, "load": o.label, "concurrency": o.concurrency, "rate": o.rate,
                     "measured": o.measured, "before": b, "after": a,
                     "error_before": _pct_err(b, o.measured), "error_after": _pct_err(a, o.measured)})
    rms_b = _rms(rows, "error_before")
    rms_a = _rms(rows, "error_after")
    name = name or f"{eng}-{fam}-{date.today().isoformat()}"
    prof = CalibrationProfile(
        name=name,
        source=f"deployscope bench runs {', '.join(r['id'] for r in runs)} ({len(obs)} load points)",
        as_of=date.today(),
        factors=(CalibrationFactor(engine=eng, family=fam, compute=round(factors["compute"], 6),
                                   bandwidth=round(factors["bandwidth"], 6), half_eff=float(f"{factors['half_eff']:.6g}"),
                                   overhead_add_s=float(f"{factors['overhead_add_s']:.6g}"),
                                   request_add_s=float(f"{factors['request_add_s']:.6g}")),),
        runs=tuple(r["id"] for r in runs),
        notes=f"fitted on model {obs[0].model}, hardware {obs[0].gpu}; RMS log error {rms_b:.3f} before, {rms_a:.3f} after",
    )
    out: dict[str, Any] = {"name": name, "engine": eng, "family": fam, "factors": prof.factors[0].model_dump(),
                           "loss": loss, "rms_log_error_before": rms_b, "rms_log_error_after": rms_a, "points": rows}
    delay = cat.engines.get(eng).perf.first_wave_delay_s
    out["notices"] = [n for r in runs if (n := cold_start_notice(r, eng, delay)) is not None]
    if save:
        out["path"] = str(save_calibration(prof))
        try:
            if store is None:
                from ..store import Store

                store = Store()
            out["store_id"] = store.save_calibration(name, prof.model_dump(mode="json"))
        except DeployscopeError as exc:  # the YAML profile is what perf reads; the store is a copy
            out["store_error"] = str(exc)
    return out


def cold_start_notice(run: dict[str, Any], engine: str, first_wave_delay_s: float) -> str | None:
    """A note for a run whose first measured requests followed no warm-up requests: on a freshly
    started server they carry a one-off wait (docs/validation.md, "The first wave of a benchmark
    run") that the fit would read as time per request. None when the run warmed up, or does not say."""
    s = run["summary"]
    first = (s.get("steps") or [s.get("load") or {}])[0]
    if first.get("warmup") != 0:
        return None
    known = f" (published {engine} runs put it at {first_wave_delay_s:.2g} s)" if first_wave_delay_s > 0 else ""
    return (f"run {run['id']} sent no warm-up requests before its first measured ones: if the server had just started, "
            f"they carry a one-off wait{known} that this fit reads as time per request (request_add_s); "
            "`deployscope bench --warmup N`, N at least the concurrency, leaves it out of the figures")


def _pct_err(pred: dict[str, float], meas: dict[str, float]) -> dict[str, float | None]:
    return {k: ((pred[k] / meas[k] - 1.0) if pred.get(k) and meas.get(k) else None) for k in METRICS}


def _rms(rows: list[dict[str, Any]], key: str) -> float:
    vals = []
    for r in rows:
        for k in METRICS:
            e = r[key][k]
            if e is not None and e > -1:
                vals.append(math.log1p(e) ** 2)
    return math.sqrt(sum(vals) / len(vals)) if vals else float("nan")
