"""TensorRT-LLM's per-layer step costs: a fixed part, an extra part in prefill-carrying steps, and a
part that grows with the sequences in a step and saturates (physics/llm.py). Run through
``python scripts/fit_perf.py --decode-overhead [--dry-run] [--maxiter N]``; see docs/validation.md.
"""

from __future__ import annotations

import math
import time

import numpy as np
from fit_perf import DATA, ENGINE, _fmt, fit_rows, lines_by_engine

from deployscope import validate

# (name, lower, upper, start): per-layer fixed, extra per-layer in prefill steps, the saturating
# batch-dependent per-layer part at full value, and the sequences at which it is half of that
DECODE_SPEC: list[tuple[str, float, float, float]] = [
    ("layer_overhead_s", 1e-6, 3e-4, 4e-5),
    ("prefill_layer_overhead_s", 1e-8, 3e-4, 6e-5),
    ("layer_batch_overhead_s", 1e-6, 3e-4, 9e-5),
    ("layer_batch_half_seqs", 0.1, 1000.0, 4.0),
]


# each row's |log error| is capped at log 2 in this fit: a row missed by more than 2x (MLPerf server
# TTFT at a load the model puts at saturation, where queueing dominates) says nothing about a
# per-layer latency of tens of microseconds, and would otherwise steer it
DECODE_LOSS_CAP = math.log(2.0)


def _decode_values(z: np.ndarray) -> dict[str, float]:
    out = {}
    for (name, lo, hi, _), zi in zip(DECODE_SPEC, z):
        out[name] = math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) / (1 + math.exp(-zi)))
    return out


def _decode_z(vals: dict[str, float]) -> np.ndarray:
    z = []
    for name, lo, hi, start in DECODE_SPEC:
        v = min(max(vals.get(name, start), lo * 1.0001), hi * 0.9999)
        u = (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
        z.append(math.log(u / (1 - u)))
    return np.array(z)


def fit_decode_overhead(catalog, dry_run: bool, maxiter: int) -> dict[str, float]:  # noqa: ANN001
    """Fit the per-layer costs of a step - fixed, prefill-step extra, and the part that grows with
    the step's sequences and saturates - on every fitting row of the global fit (MLPerf v4.x,
    TensorRT-LLM v0.9 and the fitting_split.yaml `llm_fit_rows` of the v0.14 online-serving table),
    efficiencies and the step / request overheads kept. Loss: mean |log error|, each row's capped at
    log 2 (DECODE_LOSS_CAP). Prints the held-out
    rows of the same sources beside it (shown, never fitted on)."""
    from scipy.optimize import minimize

    path, rows = fit_rows(catalog)
    _, all_rows = validate.read_csv(path)
    check = [r for r in all_rows if "online serving" in r.get("source_type", "") and not validate.is_fitted(r)
             and validate.num(r.get("value")) is not None]
    meas = np.array([validate.num(r["value"]) for r in rows])
    m_check = np.array([validate.num(r["value"]) for r in check])
    base: dict = {}

    def preds(rs, vals):  # noqa: ANN001, ANN202
        P = validate.Params(hw={ENGINE: vals})
        return np.array([p["predicted"] if p["predicted"] is not None else np.nan
                         for p in validate.predict_file(path, "llm", rs, catalog, P, base)], dtype=float)

    def loss(z: np.ndarray) -> float:
        pr = preds(rows, _decode_values(z))
        ok = np.isfinite(pr) & (pr > 0)
        err = np.minimum(np.abs(np.log(pr[ok] / meas[ok])), DECODE_LOSS_CAP)
        return float(np.mean(err)) if ok.sum() >= 0.8 * len(rows) else 10.0

    def report(tag: str, vals: dict[str, float]) -> None:
        pr = preds(check, vals)
        itl = np.array([r["metric"] == "mean_itl" for r in check])
        sig = pr / m_check - 1
        print(f"  {tag}: held-out online-serving rows (check, not fitted): ITL signed median {np.nanmedian(sig[itl]) * 100:+.1f} %, "
              f"median APE {np.nanmedian(np.abs(sig[itl])) * 100:.1f} %; all {len(check)} rows median APE {np.nanmedian(np.abs(sig)) * 100:.1f} %")

    perf = catalog.engines.get(ENGINE).perf
    cur = {"layer_overhead_s": perf.layer_overhead_s, "prefill_layer_overhead_s": perf.prefill_layer_overhead_s,
           "layer_batch_overhead_s": perf.layer_batch_overhead_s, "layer_batch_half_seqs": perf.layer_batch_half_seqs}
    print(f"fitting {len(DECODE_SPEC)} per-layer costs on {len(rows)} rows "
          f"({', '.join(sorted({validate.source_key(r) for r in rows}))}; rows {', '.join(validate.fit_split().llm_fit_rows)})")
    t0 = time.perf_counter()
    start = {k: cur[k] if cur["layer_batch_overhead_s"] else s for (k, *_x, s) in DECODE_SPEC}
    f0 = loss(_decode_z(cur))
    print(f"  loss now (mean |log error|, capped at log 2): {f0:.4f}")
    report("now", cur)
    res = minimize(loss, _decode_z(start), method="Nelder-Mead",
                   options={"maxfev": maxiter, "xatol": 1e-2, "fatol": 2e-4, "adaptive": True})
    vals = {k: float(f"{v:.4g}") for k, v in _decode_values(res.x).items()}
    print(f"  loss fitted: {loss(_decode_z(vals)):.4f} ({res.nfev} evaluations, {time.perf_counter() - t0:.0f} s)")
    for k, v in vals.items():
        print(f"    {k:26s} {v:.4g}")
    report("fitted", vals)
    if not dry_run:
        whole = sorted({validate.source_key(r) for r in rows} & set(validate.FIT_SOURCES))
        write_decode_overhead(vals, whole, list(validate.fit_split().llm_fit_rows))
    return vals


def write_decode_overhead(vals: dict[str, float], sources: list[str], fit_rows_: list[str]) -> None:
    """Write the per-layer costs into the fitted engine's perf block, with the rows they were fitted
    on. Other engines keep their flat per-layer cost: the batch-dependent shape is TensorRT-LLM's
    (compiled engine, CUDA graphs); carried over to vLLM it made the held-out MI300X vLLM rows at
    one to four sequences 20-40 % optimistic (docs/validation.md)."""
    path = DATA / "engines.yaml"
    out = []
    for cur, line in lines_by_engine(path.read_text(encoding="utf-8")):
        key = line.strip().split(":")[0]
        if cur == ENGINE and line.startswith("    ") and not line.startswith("     ") and key in (
                "layer_overhead_s", "prefill_layer_overhead_s", "layer_batch_overhead_s", "layer_batch_half_seqs", "layer_batch_fitted_on"):
            continue
        out.append(line)
        if cur == ENGINE and line.startswith("    step_overhead_s:"):
            out.append(f"    layer_overhead_s: {_fmt(vals['layer_overhead_s'])}\n")
            out.append(f"    prefill_layer_overhead_s: {_fmt(vals['prefill_layer_overhead_s'])}\n")
            out.append(f"    layer_batch_overhead_s: {_fmt(vals['layer_batch_overhead_s'])}\n")
            out.append(f"    layer_batch_half_seqs: {_fmt(vals['layer_batch_half_seqs'])}\n")
            out.append(f"    layer_batch_fitted_on: [{', '.join(repr(x) for x in [*sources, *fit_rows_])}]\n")
    path.write_text("".join(out), encoding="utf-8")
    print(f"wrote the per-layer costs to {path} (fitted on {', '.join(sources)}; rows {', '.join(fit_rows_)})")
