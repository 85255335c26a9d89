"""The accuracy harness: predict published measurements and report how far off the predictions are.

``run(files)`` reads CSV files in the schema of the shipped validation files (``validation/``:
A = LLM inference, B = diffusion, C = training, D = memory; the kind is told by the header),
predicts every row it can from model, hardware, precision, parallelism, engine and workload
alone, and scores predicted against measured: coverage, median and p90 absolute percentage
error (APE) and the signed median, overall, by source, hardware, precision, metric, hardware
family, format, dense/MoE, pipeline parallelism and engine, and over the held-out rows only
(rows whose source was not used for fitting).

A prediction never reads the row's measured ``value`` (nor ``value_per_gpu``): it is computed
first and compared afterwards. Row content never makes the harness fail: a row that cannot be
read gets ``predicted: null`` and a ``reason``.

LLM rows are predicted by the serving functions `perf` and `plan` call (:mod:`.llm_rows`);
diffusion, training and memory rows by :mod:`deployscope.validate_workloads`. The fitting split
and the dataset figures are data beside the CSVs (``validation/fitting_split.yaml``,
``validation/datasets.yaml``). A run over the shipped files also reports the project's own
measurements on a lent GPU (:mod:`.device_rows`, key ``device_measurements``; a served load against
the simulation, :mod:`.device_serving`, key ``device_serving``), apart from the scores.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from ..catalog import Catalog
from ..errors import DeployscopeError
from . import device_rows, device_serving, repeats
from .files import DEFAULT_FILES, VALIDATION_DIR, dataset_of, fit_key, fit_split, is_fitted, num, read_csv, row_key, source_key
from .llm_rows import Contexts, Params, Skip, load_shape, predict_llm_row
from .scoring import by_class, groups, metric_class, summary

__all__ = [
    "DEFAULT_FILES", "FIT_SOURCES", "VALIDATION_DIR", "Params", "dataset_of", "fit_key", "fit_split", "is_fitted", "metric_class",
    "num", "predict_file", "read_csv", "row_key", "run", "source_key",
]

FIT_SOURCES: tuple[str, ...] = fit_split().llm_fit_sources


def _llm_labels(row: dict[str, str], ctxs: Contexts) -> dict[str, str]:
    """Group labels of an LLM row: hardware family, weight format, dense/MoE, pipeline, engine, and
    the shape of the load it was measured under."""
    cat = ctxs.catalog
    g = cat.accelerators.find((row.get("hardware") or "").strip())
    m = cat.models.find((row.get("model") or "").strip())
    fw = (row.get("framework") or "").lower()
    engine = "trtllm" if ("tensorrt" in fw or "trt" in fw) else "sglang" if "sglang" in fw else "vllm" if "vllm" in fw else "other"
    pp = num(row.get("pp")) or 1
    return {
        "family": g.family if g is not None else "unknown",
        "format": (row.get("precision") or "").split(" (")[0].strip().lower() or "unknown",
        "moe": ("moe" if (m is not None and m.transformer is not None and m.transformer.moe is not None) else "dense") if m is not None else "unknown",
        "pipeline": "pp>1" if pp > 1 else "pp=1",
        "engine": engine,
        "load": load_shape(row),
    }


def predict_file(
    path: Path, kind: str, rows: list[dict[str, str]], catalog: Catalog, params: Params | None = None,
    base: dict[tuple[Any, ...], Any] | None = None,
) -> list[dict[str, Any]]:
    """One prediction object per row of one file."""
    preds: list[dict[str, Any]] = []
    fn: Callable[..., tuple[float | None, str | None]] | None = None
    fitted_sources: list[str] = []
    if kind in ("diffusion", "training", "memory"):
        from .. import validate_workloads as vw

        fn = {"diffusion": vw.predict_diffusion_row, "training": vw.predict_training_row, "memory": vw.predict_memory_row}[kind]
        fitted_sources = list(vw.FITTED_SOURCES.get(kind, []))
    elif kind == "image_training":
        from .. import validate_image_training as vit

        fn = vit.predict_row
        fitted_sources = [s for v in vit.FITTED_SOURCES.values() for s in v]
    ctxs = Contexts(catalog, params, base)
    for i, row in enumerate(rows):
        measured = num(row.get("value"))
        pred: float | None = None
        reason: str | None = None
        metric = (row.get("metric") or "").strip()
        labels: dict[str, str] = {}
        if kind == "llm":
            fitted = is_fitted(row) or path.name in fit_split().fitting_files
            try:
                labels = _llm_labels(row, ctxs)
                pred = predict_llm_row(row, ctxs)
            except (Skip, DeployscopeError) as exc:
                pred, reason = None, str(exc)
            except Exception as exc:  # noqa: BLE001 - row content never makes validate fail
                pred, reason = None, f"internal error on this row: {type(exc).__name__}: {exc}"
        else:
            src = (row.get("source") or "") + " " + (row.get("source_type") or "")
            fitted = any(s and s in src for s in fitted_sources)
            if kind == "image_training":  # architecture family (unet, dit, gan) for the per-family scores
                labels = {"architecture": vit.arch_kind(row)}
            try:  # row content never makes validate fail
                pred, reason = fn(row, catalog)  # type: ignore[misc]
            except Exception as exc:  # noqa: BLE001
                pred, reason = None, f"internal error on this row: {type(exc).__name__}: {exc}"
        if pred is not None and not (isinstance(pred, (int, float)) and math.isfinite(pred)):
            pred, reason = None, reason or "prediction is not a finite number"
        ape = abs(pred - measured) / abs(measured) if (pred is not None and measured not in (None, 0.0)) else None
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
                **labels,
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
    if kind == "image_training":  # the document, not its type: several sources share "primary (official README)"
        url = (row.get("source") or row.get("source_type") or "").split(" ")[0]
        for part in ("https://", "www.", "github.com/", "blob/main/"):
            url = url.replace(part, "")
        return url.strip()[:90]
    return (row.get("source_type") or row.get("source") or "").strip()[:60]


def run(files: Iterable[str | Path] | None = None, *, catalog: Catalog | None = None, params: Params | None = None) -> dict[str, Any]:
    """Predict every row of the files (default: the shipped ones) and score them."""
    if catalog is None:
        from ..catalog import default_catalog

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
    preds: list[dict[str, Any]] = []
    repeated: list[list[dict[str, Any]]] = []
    for p in paths:
        kind, rows = read_csv(p)
        file_preds = predict_file(p, kind, rows, catalog, params)
        preds.extend(file_preds)
        repeated.extend(repeats.repeat_groups(rows, file_preds))
    held = [p for p in preds if not p["fitted_on"]]
    out: dict[str, Any] = {**summary(preds)}
    out["groups"] = groups(preds)
    out["heldout"] = {**summary(held), "groups": groups(held), "by_class": by_class(held)}
    from ..validate_image_training import fitting_split as image_fitting_split
    from ..validate_workloads import training_fitting_split as vw_training_split

    out["fitting_split"] = {"llm_fit_sources": list(FIT_SOURCES), "llm_fit_rows": list(fit_split().llm_fit_rows),
                            "fitting_files": list(fit_split().fitting_files),
                            "image_training": image_fitting_split(), "training": vw_training_split()}
    # every row, fitting or held out: how far the measurements themselves repeat is not a fit
    out["repeatability"] = repeats.spread(repeated)
    if not files:  # own measurements on a lent GPU: beside the published rows, never scored with them
        out["device_measurements"] = device_rows.score(catalog=catalog)
        out["device_serving"] = device_serving.score(catalog=catalog)
    out["predictions"] = preds
    out["wall_time_s"] = time.perf_counter() - t0
    return out
