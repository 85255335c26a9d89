#!/usr/bin/env python
"""Fit the LLM performance model's few physical parameters on the held-in validation sources only.

    python scripts/fit_perf.py            # fit, write the data files, print the before/after figures
    python scripts/fit_perf.py --dry-run  # fit and print, write nothing

Parameters (all physically meaningful, kept few so they carry over to hardware in no row):

* per GPU family seen in the fitting rows (hopper, ada, ampere): the achievable fraction of the
  dense tensor-core peak (``compute_efficiency``, also used for attention) and of the datasheet
  memory bandwidth (``bandwidth_efficiency``);
* global: the GEMM size at half efficiency (``half_efficiency_gflop``) and the fraction of link
  bandwidth collectives reach (``link_efficiency``);
* per engine with fitting rows (TensorRT-LLM): a fixed overhead per step and per layer per step.

Fitting rows: the sources in ``deployscope.validate.FIT_SOURCES`` (MLPerf Inference v4.x and
TensorRT-LLM perf-overview v0.9.0) - every other source stays held out and is only scored.
Loss: mean absolute log error (robust to the odd outlier row). Optimizer: scipy Nelder-Mead on
bounded, log/logit-transformed parameters (scipy is a development dependency of this script only).

``--decode-overhead`` (``scripts/fit_decode.py``): fit only TensorRT-LLM's per-layer step costs - fixed, extra in prefill steps,
and the part that grows with the step's sequences and saturates - on the same fitting rows plus
``fitting_split.yaml`` ``llm_fit_rows`` (the 8B rows of the v0.14 online-serving table), each row's
|log error| capped at log 2; efficiencies kept; other engines keep their flat per-layer cost.

The one-figure fits below (``--prefill-mla``, ``--family-layer-overhead``, ``--engine-layer-overhead``,
``--first-wave-delay``, ``--family-first-wave-delay``, ``--sequence-overhead``) live in
``scripts/fit_figures.py``.

``--prefill-mla ENGINE``: fit only the engine's extra time per MLA layer in a step that carries a
prefill (``prefill_mla_layer_overhead_s``) on its fitting rows of an MLA model (fitting_split.yaml
``llm_fit_rows``: the B200 rows of SemiAnalysis InferenceX); writes that figure and
``prefill_mla_fitted_on``.

``--family-layer-overhead EFFICIENCY_ROW``: fit only the per-layer step time an efficiency row sets
for its family x engine x format, on the fitting rows that use the row (cdna3-sglang-fp8: the MI300X
rows of SemiAnalysis InferenceX).

``--first-wave-delay ENGINE``: fit only a benchmark run's one-off wait on a fresh server
(``first_wave_delay_s``, applied by the validation harness alone) on every metric of the engine's
simulated fitting runs (closed loops and request rates), every family's at the engine's figure (the
pooled figure a family without fitting runs of its own gets); records the rows in
``first_wave_fitted_on``.

``--family-first-wave-delay EFFICIENCY_ROW``: fit only the first-wave wait an efficiency row sets for
its family x engine x format, on the simulated fitting runs that use the row (cdna3-sglang-fp8: the
MI300X rows of SemiAnalysis InferenceX).

``--engine-layer-overhead ENGINE``: fit only the engine's own per-layer step time (``layer_overhead_s``)
on its fitting rows whose efficiency row sets none (SGLang: the B200 rows of SemiAnalysis InferenceX
and the GPUStack Qwen3-32B H100 page); records the rows in ``layer_batch_fitted_on``.

``--bands``: fit nothing; rescore the held-out rows and rewrite the llm rows of ``error_bands.yaml``
(after a change to the model that moves held-out predictions).

``--family-rows``: fit the compute efficiency of each family x engine x format in the labelled fitting
files (``validation/fitting_split.yaml`` ``fitting_files``: Blackwell x FP4 with TensorRT-LLM, CDNA3 x
vLLM from MLPerf Inference v5.0) and, for families with neither a global fit nor rows there, in the
fitting sources of ``A_llm_inference.csv`` (CDNA4 x vLLM), one row each, everything else kept.

Writes: ``catalog/data/efficiency.yaml`` (one fitted row per family x engine, and the '*' x '*'
prior replaced by the mean of the fitted families), the ``perf:`` overheads of the fitted engine
in ``catalog/data/engines.yaml`` (other engines get the same figures, marked as carried over),
and the llm rows of ``catalog/data/error_bands.yaml`` (held-out error bands per metric class).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from datetime import date
from pathlib import Path
from typing import Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from deployscope import validate  # noqa: E402
from deployscope.catalog import Catalog  # noqa: E402

DATA = ROOT / "src" / "deployscope" / "catalog" / "data"
FAMILIES = ("hopper", "ada", "ampere")
ENGINE = "trtllm"
SCRIPT = "scripts/fit_perf.py"

# parameter layout: (name, lower, upper, start)
SPEC: list[tuple[str, float, float, float]] = []
for fam in FAMILIES:
    SPEC += [(f"{fam}.compute", 0.1, 1.0, 0.6), (f"{fam}.bandwidth", 0.3, 1.0, 0.8)]
SPEC += [("half_gflop", 0.01, 200.0, 1.0), ("link_eff", 0.1, 1.0, 0.7), ("step_s", 1e-5, 0.05, 1e-3), ("layer_s", 1e-7, 1e-3, 2e-5), ("prefill_layer_s", 1e-7, 1e-3, 5e-5), ("request_s", 1e-6, 0.05, 1e-3)]


OVERHEADS = ("step_s", "layer_s", "prefill_layer_s", "request_s")
# The rows the efficiencies (per-family compute and bandwidth, GEMM size at half efficiency, link
# efficiency) were fitted on: the MLPerf v4.x rows could not be read when the global fit ran, so it
# ran on these 126 rows (docs/validation.md, "Fitting split"); --efficiencies refits on the same rows.
EFFICIENCY_FIT_SOURCES = ("TensorRT-LLM perf-overview|v0.9.0",)


def to_params(x: np.ndarray) -> validate.Params:
    vals = {}
    for (name, lo, hi, _), xi in zip(SPEC, x):
        if lo > 0 and hi / lo > 20:  # log scale
            v = math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) / (1 + math.exp(-xi)))
        else:
            v = lo + (hi - lo) / (1 + math.exp(-xi))
        vals[name] = v
    p = validate.Params(
        eff={fam: (vals[f"{fam}.compute"], vals[f"{fam}.bandwidth"]) for fam in FAMILIES},
        half_gflop=vals["half_gflop"],
        link_eff=vals["link_eff"],
        overhead={ENGINE: (vals["step_s"], vals["layer_s"], vals["prefill_layer_s"], vals["request_s"])},
    )
    p.values = vals  # type: ignore[attr-defined]
    return p


def from_values(vals: dict[str, float]) -> np.ndarray:
    x = []
    for name, lo, hi, start in SPEC:
        v = min(max(vals.get(name, start), lo * 1.0001), hi * 0.9999)
        if lo > 0 and hi / lo > 20:
            u = (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            u = (v - lo) / (hi - lo)
        x.append(math.log(u / (1 - u)))
    return np.array(x)


def fit_rows(catalog) -> tuple[Path, list[dict[str, str]]]:  # noqa: ANN001
    path = validate.VALIDATION_DIR / "A_llm_inference.csv"
    kind, rows = validate.read_csv(path)
    def family(r: dict[str, str]) -> str | None:
        g = catalog.accelerators.find(r.get("hardware", ""))
        return g.family if g is not None else None

    # the global fit covers the families in FAMILIES; other families get their own rows (--family-rows)
    keep = [r for r in rows if validate.is_fitted(r) and validate.num(r.get("value")) is not None and family(r) in FAMILIES]
    preds = validate.predict_file(path, "llm", keep, catalog, None)
    keep = [r for r, p in zip(keep, preds) if p["predicted"] is not None]  # rows the model can read
    return path, keep


def fitted_sources(rows: list[dict[str, str]]) -> list[str]:
    """`source_type|round_or_version` of the rows a fit ran on, in the order they first appear."""
    return list(dict.fromkeys(f"{r['source_type']}|{r['round_or_version']}" for r in rows))


def loss_fn(catalog, path, rows, base):  # noqa: ANN001, ANN201
    meas = np.array([validate.num(r["value"]) for r in rows])

    def f(x: np.ndarray) -> float:
        preds = validate.predict_file(path, "llm", rows, catalog, to_params(x), base)
        pr = np.array([p["predicted"] if p["predicted"] is not None else np.nan for p in preds], dtype=float)
        ok = np.isfinite(pr) & (pr > 0)
        if ok.sum() < 0.8 * len(rows):
            return 10.0
        return float(np.mean(np.abs(np.log(pr[ok] / meas[ok]))))

    return f


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def write_efficiency(vals: dict[str, float], n_rows: int, fit_sources: tuple[str, ...] | None = None) -> None:
    fit_sources = fit_sources or validate.FIT_SOURCES
    sources = ", ".join(fit_sources)
    today = date.today().isoformat()
    head = (DATA / "efficiency.yaml").read_text(encoding="utf-8")
    default_block = head[head.index("- id: default") :]
    default_block = default_block.split("\n- id:")[0]
    lines = [
        "# Achievable fractions of datasheet peaks per accelerator family x engine (see",
        "# src/deployscope/catalog/efficiency.py and docs/performance.md). Rows with `fitted_on` were",
        f"# written by {SCRIPT} from the listed validation sources only ({n_rows} rows); every other",
        "# source in src/deployscope/validation/ is held out. The ('*', '*') row is the fallback for",
        "# (family, engine) pairs no fitted row covers: the mean of the fitted families.",
        "",
    ]
    fams = []
    for fam in FAMILIES:
        c, b = vals[f"{fam}.compute"], vals[f"{fam}.bandwidth"]
        fams.append((c, b))
        lines += [
            f"- id: {fam}-{ENGINE}",
            f"  family: {fam}",
            f"  engine: {ENGINE}",
            f"  compute_efficiency: {_fmt(c)}",
            f"  half_efficiency_gflop: {_fmt(vals['half_gflop'])}",
            f"  bandwidth_efficiency: {_fmt(b)}",
            f"  attention_efficiency: {_fmt(c)}",
            f"  link_efficiency: {_fmt(vals['link_eff'])}",
            f"  fitted_on: [{', '.join(repr(s) for s in fit_sources)}]",
            f"  fitted_by: {SCRIPT}",
            f"  source: fitted by {SCRIPT} on {sources} rows of src/deployscope/validation/A_llm_inference.csv",
            f"  as_of: {today}",
            "  as_of_note: date of the fit",
            "",
        ]
    c = float(np.mean([f[0] for f in fams]))
    b = float(np.mean([f[1] for f in fams]))
    lines += [
        "- id: default",
        '  family: "*"',
        '  engine: "*"',
        f"  compute_efficiency: {_fmt(c)}",
        f"  half_efficiency_gflop: {_fmt(vals['half_gflop'])}",
        f"  bandwidth_efficiency: {_fmt(b)}",
        f"  attention_efficiency: {_fmt(c)}",
        f"  link_efficiency: {_fmt(vals['link_eff'])}",
        f"  fitted_on: [{', '.join(repr(s) for s in fit_sources)}]",
        f"  fitted_by: {SCRIPT}",
        f"  source: mean of the fitted {', '.join(FAMILIES)} rows ({SCRIPT}); used for families and engines no row covers",
        f"  as_of: {today}",
        "  as_of_note: date of the fit",
        "  notes: >-",
        "    a fallback, not a measurement of any particular GPU: predictions that use it (for example",
        "    Blackwell, or vLLM on an NVIDIA family) carry its provenance and the validation error band",
        "",
    ]
    # keep the rows that come from published sources (e.g. cdna3) or from another fit (--family-rows)
    blocks = re.split(r"\n(?=- id: )", head)
    kept = [b.strip("\n") for b in blocks if b.startswith("- id: ") and f"fitted_by: {SCRIPT}\n" not in b + "\n"
            and not b.startswith("- id: default")]
    text = "\n".join(lines) + ("\n" + "\n\n".join(kept) + "\n" if kept else "")
    (DATA / "efficiency.yaml").write_text(text, encoding="utf-8")


def lines_by_engine(text: str) -> Iterator[tuple[str | None, str]]:
    """Each line of engines.yaml with the id of the engine row it belongs to (None before the first),
    for the writers that edit a row's perf: figures in place (keeping the file's comments)."""
    engine = None
    for line in text.splitlines(keepends=True):
        m = re.match(r"- id: (\S+)", line)
        if m:
            engine = m.group(1)
        yield engine, line


def write_engine_overheads(vals: dict[str, float], sources: list[str]) -> None:
    """Write the fitted overheads into engines.yaml in place: every engine's step and request
    overheads (the others carry the fit over, as their fitted_by says), the fitted engine's per-layer
    costs and its fitted_on / fitted_by. Lines keep their order and comments, so a rerun with the
    same figures leaves the file byte-identical; the other engines keep their own flat per-layer cost
    (see write_decode_overhead). ``sources``: the `source_type|round_or_version` of the fitted rows."""
    path = DATA / "engines.yaml"
    text = path.read_text(encoding="utf-8")
    every_engine = {"step_overhead_s": _fmt(vals["step_s"]), "request_overhead_s": _fmt(vals["request_s"])}
    fitted_engine = {
        "layer_overhead_s": _fmt(vals["layer_s"]),
        "prefill_layer_overhead_s": _fmt(vals["prefill_layer_s"]),
        "fitted_on": "[" + ", ".join(repr(s) for s in sources) + "]",
        "fitted_by": SCRIPT,
    }
    out = []
    for cur, line in lines_by_engine(text):
        m = re.match(r"    (\w+): ", line)  # a figure of the row's perf: block (releases sit deeper)
        key = m.group(1) if m else None
        if key in every_engine:
            line = f"    {key}: {every_engine[key]}\n"
        elif cur == ENGINE and key in fitted_engine:
            line = f"    {key}: {fitted_engine[key]}\n"
        out.append(line)
    path.write_text("".join(out), encoding="utf-8")


def golden_section(loss, lo: float, hi: float, iterations: int) -> float:
    """The minimum of a one-parameter loss on [lo, hi] by golden-section search (the midpoint of
    the last bracket)."""
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = loss(b)
    return (lo + hi) / 2


#: an engine gets bands of its own where it has at least this many held-out rows of a metric class
MIN_ENGINE_BAND_ROWS = 30
BAND_ENGINES = ("trtllm", "vllm", "sglang")


def _band(sel: list[dict]) -> dict:
    """5th / 95th percentile of measured / predicted, widened to hold the prediction itself: where
    every row of an engine sits on one side (SGLang's TTFT is under-predicted on all of them), the
    prediction is the other bound, so the band reads "up to N x slower", never a range that excludes
    the figure it is printed beside. With the median error and the signed median (predicted /
    measured - 1: which way the predictions leaned, as `deployscope validate` scores it)."""
    from deployscope.validate.scoring import summary

    r = np.array([p["measured"] / p["predicted"] for p in sel])
    scored = summary(sel)
    return {"low": round(min(float(np.percentile(r, 5)), 1.0), 4), "high": round(max(float(np.percentile(r, 95)), 1.0), 4),
            "rows": len(sel), "median_ape": round(scored["median_ape"], 4), "signed_median": round(scored["signed_median"], 4)}


def _leaning_groups(sel: list[dict]) -> dict[tuple[str, str], dict]:
    """The GPU-family and weight-format groups of one class's held-out rows whose predictions lean
    beyond the catalog's BIAS_LIMIT (BIAS_MIN_ROWS rows or more): (key, name) -> band."""
    from deployscope.catalog.error_bands import BIAS_LIMIT, BIAS_MIN_ROWS

    out: dict[tuple[str, str], dict] = {}
    for key in ("family", "format"):
        for name in sorted({p[key] for p in sel if p.get(key)}):
            mine = [p for p in sel if p.get(key) == name]
            if len(mine) >= BIAS_MIN_ROWS:
                b = _band(mine)
                if abs(b["signed_median"]) > BIAS_LIMIT:
                    out[(key, name)] = b
    return out


def write_error_bands(report: dict) -> dict:
    """Held-out bands per metric class: the 5th and 95th percentiles of measured / predicted, over
    every engine ("*") and, for an engine with MIN_ENGINE_BAND_ROWS held-out rows of the class or
    more, over that engine's rows alone (a plan prints the band of the engine it sizes for)."""
    bands: dict[str, dict] = {"*": {}}
    leaning: dict[str, dict[tuple[str, str], dict]] = {}
    preds = [p for p in report["predictions"] if not p["fitted_on"] and p["ape"] is not None and p["file"].startswith("A_")]
    classes = {"throughput": ("throughput",), "ttft": ("ttft", "latency"), "tpot": ("tpot",)}
    for cls, members in classes.items():
        sel = [p for p in preds if p["metric_class"] in members and p["predicted"]]
        if not sel:
            continue
        bands["*"][cls] = _band(sel)
        leaning[cls] = _leaning_groups(sel)
        for engine in BAND_ENGINES:
            mine = [p for p in sel if p.get("engine") == engine]
            if len(mine) >= MIN_ENGINE_BAND_ROWS:
                bands.setdefault(engine, {})[cls] = _band(mine)
    from deployscope.validate_workloads import write_error_band_rows

    source = (
        f"held-out rows of src/deployscope/validation/A_llm_inference.csv (sources other than "
        f"{', '.join(validate.FIT_SOURCES)}, and the single rows fitting_split.yaml lists under llm_fit_rows), "
        f"scored by deployscope validate after {SCRIPT}; "
        "low/high = 5th/95th percentile of measured / predicted"
    )
    applies = {"throughput": "output tokens/s and requests/s", "ttft": "time to first token", "tpot": "time per output token"}
    rows = [
        {"id": f"llm-{cls}" if engine == "*" else f"llm-{cls}-{engine}", "workload": "llm", "metric": cls,
         "engine": engine, **b, "percentiles": [5, 95], "applies_to": applies[cls],
         "source": source if engine == "*" else f"{source}; this engine's rows only", "as_of": date.today().isoformat()}
        for engine, by_cls in bands.items() for cls, b in by_cls.items()
    ] + [
        {"id": f"llm-{cls}-{key}-{name}", "workload": "llm", "metric": cls, "engine": "*", key: name, **b,
         "percentiles": [5, 95], "applies_to": applies[cls],
         "source": f"{source}; the rows of {key} {name} only, a group whose predictions lean beyond "
                   "error_bands.BIAS_LIMIT (a notice printed with its predictions, not their band)",
         "as_of": date.today().isoformat()}
        for cls, groups in leaning.items() for (key, name), b in groups.items()
    ]
    write_error_band_rows(rows, DATA / "error_bands.yaml", replaces_workload="llm")
    return bands


def current_values(catalog) -> dict[str, float]:  # noqa: ANN001
    from deployscope.catalog.efficiency import lookup

    vals: dict[str, float] = {}
    for fam in FAMILIES:
        r = lookup(catalog.efficiency, fam, ENGINE)
        vals[f"{fam}.compute"] = r.compute_efficiency
        vals[f"{fam}.bandwidth"] = r.bandwidth_efficiency
        vals["half_gflop"] = r.half_efficiency_gflop
        vals["link_eff"] = r.link_efficiency
    e = catalog.engines.get(ENGINE)
    vals["step_s"] = max(e.perf.step_overhead_s, 1e-4)
    vals["layer_s"] = max(e.perf.layer_overhead_s, 1e-6)
    vals["prefill_layer_s"] = max(e.perf.prefill_layer_overhead_s, 1e-6)
    vals["request_s"] = max(e.perf.request_overhead_s, 1e-4)
    return vals


# ----------------------------------------------------------------------------------------------
# family rows: one (family x engine) at a time, on the labelled rows of the fitting files
# ----------------------------------------------------------------------------------------------

FAMILY_ROW_METRICS = ("offline_throughput", "server_throughput_completed")


def fit_family_rows(catalog, dry_run: bool) -> dict[str, dict]:  # noqa: ANN001
    """Fit the compute efficiency of each (family, engine) in the fitting files (offline and
    server throughput rows; other figures from the existing rows) by golden-section search on the
    mean |log error|, and write one efficiency row per pair."""
    from deployscope.catalog.efficiency import lookup
    from deployscope.validate.llm_rows import Skip, engine_of

    split = validate.fit_split()
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    files: dict[tuple[str, str, str], str] = {}

    def add(r: dict[str, str], name: str) -> None:
        g = catalog.accelerators.find(r.get("hardware", ""))
        if g is None or r.get("metric") not in FAMILY_ROW_METRICS or validate.num(r.get("value")) is None:
            return
        eng = engine_of(r.get("framework", ""))
        try:
            key = (g.family, eng, llm_rows_formats(r, eng, catalog))
        except Skip:  # a format the model does not take (a mixed MXFP4 x MXFP6 GEMM): not a fitting row
            return
        if catalog.models.find(r.get("model", "")) is None:
            return
        groups.setdefault(key, []).append(r)
        files[key] = name

    for name in split.fitting_files:
        for r in validate.read_csv(validate.VALIDATION_DIR / name)[1]:
            add(r, name)
    # families with neither a global fit nor rows in the fitting files are fitted on the fitting
    # sources of A_llm_inference.csv (fitting_split.yaml llm_fit_sources; CDNA4 x vLLM)
    covered = set(FAMILIES) | {k[0] for k in groups}
    for r in validate.read_csv(validate.VALIDATION_DIR / "A_llm_inference.csv")[1]:
        g = catalog.accelerators.find(r.get("hardware", ""))
        if g is not None and g.family not in covered and validate.is_fitted(r):
            add(r, "A_llm_inference.csv")
    out: dict[str, dict] = {}
    for (fam, eng, _fmt), rows in sorted(groups.items()):
        # the bandwidth the family has without the rows this fit writes (its own published row, or
        # the default row), so a refit follows a changed default instead of keeping its old copy
        others = [e for e in catalog.efficiency if not (e.family == fam and _fmt in e.formats and (e.fitted_by or "").endswith("--family-rows"))]
        be = lookup(others, fam, eng, _fmt).bandwidth_efficiency
        meas = np.array([validate.num(r["value"]) for r in rows])
        path = validate.VALIDATION_DIR / files[(fam, eng, _fmt)]

        def loss(ce: float, rows=rows, meas=meas, fam=fam, be=be, path=path) -> float:  # noqa: ANN001
            preds = validate.predict_file(path, "llm", rows, catalog, validate.Params(eff={fam: (ce, be)}))
            pr = np.array([p["predicted"] if p["predicted"] is not None else np.nan for p in preds], dtype=float)
            ok = np.isfinite(pr) & (pr > 0)
            return float(np.mean(np.abs(np.log(pr[ok] / meas[ok])))) if ok.any() else 10.0

        ce = round(golden_section(loss, 0.1, 1.0, 30), 4)
        sources = sorted({validate.source_key(r) for r in rows})
        link, link_rows = fit_link(catalog, fam, eng, ce, be)
        if link is not None:
            sources = sorted(set(sources) | {validate.source_key(r) for r in link_rows})
        fmts = sorted({llm_rows_formats(r, eng, catalog) for r in rows})
        out[f"{fam}-{eng}-{'-'.join(fmts)}"] = {"family": fam, "engine": eng, "formats": fmts, "compute_efficiency": ce, "bandwidth_efficiency": be, "link_efficiency": link, "link_rows": len(link_rows), "rows": len(rows), "loss": loss(ce),
                               "sources": sources, "files": [files[(fam, eng, _fmt)]]}
        print(f"{fam} x {eng}: compute_efficiency {ce} on {len(rows)} rows ({', '.join(sources)}), mean |log error| {loss(ce):.4f}")
    # engines without rows of their own on that family x format get the fitted figures, marked as
    # carried over (an assumption, below the engine's own row in the lookup order)
    for _rid, f in list(out.items()):
        anyrow = f"{f['family']}-any-{'-'.join(f['formats'])}"
        if anyrow not in out:
            out[anyrow] = {**f, "engine": "*", "carried_from": f["engine"]}
    if not dry_run:
        write_family_rows(out)
    return out


def fit_link(catalog, fam: str, eng: str, ce: float, be: float) -> tuple[float | None, list[dict[str, str]]]:  # noqa: ANN001
    """Link efficiency of a family x engine on the tensor-parallel max-throughput rows of
    A_llm_inference.csv whose source is a fitting source (the compute efficiency held at `ce`)."""
    from deployscope.validate.llm_rows import engine_of

    path = validate.VALIDATION_DIR / "A_llm_inference.csv"
    _, rows = validate.read_csv(path)
    sel = []
    for r in rows:
        g = catalog.accelerators.find(r.get("hardware", ""))
        if g is None or g.family != fam or not validate.is_fitted(r) or r.get("metric") != "throughput":
            continue
        try:
            same_engine = engine_of(r.get("framework", "")) == eng
        except Exception:  # noqa: BLE001 - a framework no engine models
            same_engine = False
        if same_engine and (validate.num(r.get("tp")) or 1) > 1 and validate.num(r.get("value")) is not None:
            sel.append(r)
    if not sel:
        return None, []
    meas = np.array([validate.num(r["value"]) for r in sel])

    def loss(x: float) -> float:
        preds = validate.predict_file(path, "llm", sel, catalog, validate.Params(eff={fam: (ce, be)}, link_eff=x))
        pr = np.array([p["predicted"] if p["predicted"] is not None else np.nan for p in preds], dtype=float)
        ok = np.isfinite(pr) & (pr > 0)
        return float(np.mean(np.abs(np.log(pr[ok] / meas[ok])))) if ok.any() else 10.0

    lo, hi = 0.05, 1.0
    for _ in range(30):
        a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        if loss(a) < loss(b):
            hi = b
        else:
            lo = a
    x = round((lo + hi) / 2, 4)
    print(f"  {fam} x {eng}: link_efficiency {x} on {len(sel)} tensor-parallel rows, mean |log error| {loss(x):.4f}")
    return x, sel


def llm_rows_formats(row: dict[str, str], engine: str, catalog) -> str:  # noqa: ANN001
    """The GEMM dtype a fitting row ran in (its weight format's compute dtype)."""
    from deployscope.validate.llm_rows import formats

    g = catalog.accelerators.find(row.get("hardware", ""))
    quant, _ = formats(row.get("precision", ""), engine, str(getattr(g, "vendor", "")).lower())
    return catalog.quant.get(quant).compute_dtype


def write_family_rows(fitted: dict[str, dict]) -> None:
    """Replace (or add) the family x engine rows in efficiency.yaml, leaving every other row as it is."""
    path = DATA / "efficiency.yaml"
    text = path.read_text(encoding="utf-8")
    today = date.today().isoformat()
    for rid, f in fitted.items():
        block = "\n".join([
            f"- id: {rid}",
            f"  family: {f['family']}",
            f"  engine: {f['engine']!r}" if f['engine'] == '*' else f"  engine: {f['engine']}",
            f"  compute_efficiency: {f['compute_efficiency']}",
            f"  attention_efficiency: {f['compute_efficiency']}",
            f"  bandwidth_efficiency: {f['bandwidth_efficiency']}",
            *([f"  link_efficiency: {f['link_efficiency']}"] if f.get("link_efficiency") is not None else []),
            f"  formats: [{', '.join(f['formats'])}]",
            f"  fitted_on: [{', '.join(repr(s) for s in f['sources'])}]",
            f"  fitted_by: {SCRIPT} --family-rows",
            "  source: >-",
            f"    fitted by {SCRIPT} --family-rows on the {f['rows']} offline and server throughput rows of",
            f"    src/deployscope/validation/{', '.join(f['files'])} for this family x engine (sources in the rows);",
            "    bandwidth efficiency held at the family's row during the fit; the other figures come from the default row",
            *([f"    link efficiency fitted next on {f['link_rows']} tensor-parallel throughput rows of A_llm_inference.csv from",
               "    fitting sources of this family (fitting_split.yaml)"] if f.get("link_efficiency") is not None else []),
            f"  as_of: {today}",
            "  as_of_note: date of the fit",
            *([f"  notes: ASSUMPTION - the {f['carried_from']} fit carried over to engines without a row of their own for this family and format"]
              if f.get("carried_from") else []),
            "",
        ])
        m = re.search(rf"^- id: {re.escape(rid)}\n(?:.*\n)*?(?=^- id: |\Z)", text, flags=re.M)
        text = text[: m.start()] + block + "\n" + text[m.end():] if m else text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


# ----------------------------------------------------------------------------------------------
# sequence overhead of an engine's current releases, on the fitting rows of those releases
# ----------------------------------------------------------------------------------------------


def scan_decode_overhead(catalog) -> None:  # noqa: ANN001
    """How well the fitting rows pin a flat (batch-independent) fixed cost of a decode step, the
    form before --decode-overhead: the batch-dependent part set to zero, the per-layer overhead of
    every step is moved with the prefill-step total (layer + prefill layer) held, and the mean
    |log error| on the fitting rows printed beside the held-out TensorRT-LLM v0.14 ITL rows'
    signed median (shown, never fitted on)."""
    path, rows = fit_rows(catalog)
    _, all_rows = validate.read_csv(path)
    itl = [r for r in all_rows if r.get("metric") == "mean_itl" and not validate.is_fitted(r)]
    perf = catalog.engines.get(ENGINE).perf
    total = perf.layer_overhead_s + perf.prefill_layer_overhead_s
    meas = np.array([validate.num(r["value"]) for r in rows])

    def err(rs, P, m):  # noqa: ANN001, ANN202
        pr = np.array([p["predicted"] if p["predicted"] is not None else np.nan
                       for p in validate.predict_file(path, "llm", rs, catalog, P)], dtype=float)
        ok = np.isfinite(pr) & (pr > 0)
        return float(np.mean(np.abs(np.log(pr[ok] / m[ok])))), float(np.median(pr[ok] / m[ok] - 1))

    m_itl = np.array([validate.num(r["value"]) for r in itl])
    print(f"{'decode layer us':>16} {'fit |log err|':>14} {'held-out ITL signed':>20}")
    for layer in (total, 100e-6, 70e-6, 40e-6):
        P = validate.Params(overhead={ENGINE: (perf.step_overhead_s, layer, total - layer, perf.request_overhead_s)},
                            hw={ENGINE: {"layer_batch_overhead_s": 0.0}})
        f, _ = err(rows, P, meas)
        _, s_itl = err(itl, P, m_itl)
        print(f"{layer * 1e6:16.0f} {f:14.4f} {s_itl * 100:+19.1f}%")


def fit_efficiencies(catalog, dry_run: bool, maxiter: int) -> dict[str, float]:  # noqa: ANN001
    """Refit only the efficiencies (per-family compute and bandwidth, the GEMM size at half
    efficiency, the link efficiency) on the rows they were fitted on (EFFICIENCY_FIT_SOURCES), by
    the global fit's loss and search (Nelder-Mead from the present figures and from the priors,
    the better kept); the engine overheads stay as engines.yaml has them (fitted after the
    efficiencies, see --decode-overhead and --sequence-overhead). Writes efficiency.yaml and the
    held-out error bands."""
    from scipy.optimize import minimize

    path, rows = fit_rows(catalog)
    rows = [r for r in rows if validate.source_key(r) in EFFICIENCY_FIT_SOURCES]
    meas = np.array([validate.num(r["value"]) for r in rows])
    free = [i for i, (name, *_rest) in enumerate(SPEC) if name not in OVERHEADS]
    x0 = from_values(current_values(catalog))

    def params(x: np.ndarray) -> validate.Params:
        p = to_params(x)
        p.overhead = {}  # engines.yaml's overheads, not the search's
        return p

    def f(x: np.ndarray) -> float:
        preds = validate.predict_file(path, "llm", rows, catalog, params(x))
        pr = np.array([p["predicted"] if p["predicted"] is not None else np.nan for p in preds], dtype=float)
        ok = np.isfinite(pr) & (pr > 0)
        return 10.0 if ok.sum() < 0.8 * len(rows) else float(np.mean(np.abs(np.log(pr[ok] / meas[ok]))))

    def sub(z: np.ndarray, at: np.ndarray) -> np.ndarray:
        x = at.copy()
        x[free] = z
        return x

    print(f"fitting {len(free)} efficiencies on {len(rows)} rows from {', '.join(EFFICIENCY_FIT_SOURCES)}")
    print(f"start loss (mean |log error|): {f(x0):.4f}")
    best = None
    for start in (x0, sub(from_values({})[free], x0)):
        res = minimize(lambda z, s=start: f(sub(z, s)), start[free], method="Nelder-Mead",
                       options={"maxiter": maxiter, "xatol": 1e-3, "fatol": 1e-5, "adaptive": True})
        print(f"  from {'present figures' if best is None else 'priors'}: loss {res.fun:.4f} ({res.nfev} evaluations)")
        if best is None or res.fun < best.fun:
            best, best_x = res, sub(res.x, start)
    vals = to_params(best_x).values  # type: ignore[attr-defined]
    old = to_params(x0).values  # type: ignore[attr-defined]
    print(f"end loss: {best.fun:.4f}")
    for k in vals:
        if k not in OVERHEADS:
            print(f"  {k:18s} {old[k]:.4g} -> {vals[k]:.4g}")
    if not dry_run:
        write_efficiency(vals, len(rows), EFFICIENCY_FIT_SOURCES)
        report = validate.run([validate.VALIDATION_DIR / "A_llm_inference.csv"], catalog=Catalog())
        print("bands:", write_error_bands(report))
    return vals


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--maxiter", type=int, default=1500)
    ap.add_argument("--family-rows", action="store_true", help="fit only the family x engine rows of the fitting files (no scipy)")
    ap.add_argument("--overheads", action="store_true",
                    help="refit only the engine's four fixed overheads (step, layer, prefill layer, request), efficiencies kept")
    ap.add_argument("--sequence-overhead", nargs=2, metavar=("ENGINE", "FROM_VERSION"),
                    help="fit only the engine's host time per sampled sequence on fitting rows of releases from FROM_VERSION on")
    from fit_figures import ONE_FIGURE_FITS, fit_sequence_overhead  # it imports this module: loaded here, not at the top

    for option, (names, help_text, _fit) in ONE_FIGURE_FITS.items():
        ap.add_argument(f"--{option}", metavar=names, help=help_text)
    ap.add_argument("--scan-decode-overhead", action="store_true",
                    help="print how the fitting loss and the held-out v0.14 ITL move with the decode-step fixed cost (writes nothing)")
    ap.add_argument("--decode-overhead", action="store_true",
                    help="fit only the per-layer step costs (fixed, prefill extra, batch-dependent and saturating)")
    ap.add_argument("--efficiencies", action="store_true",
                    help="refit only the efficiencies on the rows they were fitted on (TensorRT-LLM v0.9), engine overheads kept")
    ap.add_argument("--bands", action="store_true",
                    help="fit nothing: rescore the held-out rows and rewrite the llm error bands (after a model change)")
    args = ap.parse_args(argv)
    if args.bands:
        report = validate.run([validate.VALIDATION_DIR / "A_llm_inference.csv"], catalog=Catalog())
        print("bands:", write_error_bands(report) if not args.dry_run else "(dry run, not written)")
        return 0
    if args.efficiencies:
        fit_efficiencies(Catalog(), args.dry_run, args.maxiter)
        return 0
    if args.decode_overhead:
        from fit_decode import fit_decode_overhead

        fit_decode_overhead(Catalog(), args.dry_run, args.maxiter if args.maxiter != 1500 else 120)
        return 0
    if args.scan_decode_overhead:
        scan_decode_overhead(Catalog())
        return 0
    for option, (_names, _help, fit) in ONE_FIGURE_FITS.items():
        value = getattr(args, option.replace("-", "_"))
        if value:
            fit(Catalog(), value, args.dry_run)
            return 0
    if args.sequence_overhead:
        fit_sequence_overhead(Catalog(), args.sequence_overhead[0], args.sequence_overhead[1], args.dry_run)
        return 0
    if args.family_rows:
        fit_family_rows(Catalog(), args.dry_run)
        return 0
    from scipy.optimize import minimize

    catalog = Catalog()
    path, rows = fit_rows(catalog)
    base: dict = {}
    f = loss_fn(catalog, path, rows, base)
    x0 = from_values(current_values(catalog))
    t0 = time.perf_counter()
    free = [i for i, (name, *_rest) in enumerate(SPEC) if not args.overheads or name in OVERHEADS]
    print(f"fitting {len(free)} parameters on {len(rows)} rows from {', '.join(validate.FIT_SOURCES)}")
    print(f"start loss (mean |log error|): {f(x0):.4f}")

    def sub(z: np.ndarray, at: np.ndarray = x0) -> np.ndarray:
        x = at.copy()
        x[free] = z
        return x

    best = None
    for start in (x0,) if args.overheads else (x0, from_values({})):
        res = minimize(lambda z, s=start: f(sub(z, s)), start[free], method="Nelder-Mead",
                       options={"maxiter": args.maxiter, "xatol": 1e-3, "fatol": 1e-5, "adaptive": True})
        if best is None or res.fun < best.fun:
            best, best_x = res, sub(res.x, start)
    vals = to_params(best_x).values  # type: ignore[attr-defined]
    print(f"end loss: {best.fun:.4f}  ({time.perf_counter() - t0:.1f} s, {best.nfev} evaluations)")
    for k, v in vals.items():
        print(f"  {k:18s} {v:.4g}")
    if args.dry_run:
        return 0
    write_efficiency(vals, len(rows))
    write_engine_overheads(vals, fitted_sources(rows))
    report = validate.run([validate.VALIDATION_DIR / "A_llm_inference.csv"], catalog=Catalog())
    bands = write_error_bands(report)
    print("held-out:", {k: report["heldout"][k] for k in ("rows", "predicted", "coverage", "median_ape", "p90_ape")})
    print("bands:", bands)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
