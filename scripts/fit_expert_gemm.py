#!/usr/bin/env python
"""Fit how efficient routed-expert GEMMs are next to dense GEMMs, on the fitting sources' MoE rows.

    python scripts/fit_expert_gemm.py            # fit, write engines.yaml, print the figures
    python scripts/fit_expert_gemm.py --dry-run  # fit and print, write nothing

One parameter, ``expert_gemm_efficiency`` in the ``perf:`` block of ``catalog/data/engines.yaml``:
the fraction of a dense GEMM's efficiency (the family's fitted curve at the same GEMM size) that the
engine's grouped MoE GEMMs reach. A grouped GEMM gathers each expert's tokens, runs uneven
per-expert row counts and combines the top-k outputs; with the dense efficiency alone every
Mixtral row of the fitting sources came out 25-37 % too fast while the dense rows of the same
runs did not.

Rows: the throughput rows of MoE models in the fitting sources (``validate.is_fitted``; MLPerf
Inference v4.1 and TensorRT-LLM perf-overview v0.9.0, all TensorRT-LLM). Loss: mean |log error|,
as ``scripts/fit_perf.py``. Search: golden section on [0.3, 1]. vLLM, SGLang and llama.cpp have
no MoE rows in the fitting sources: they carry the TensorRT-LLM figure, marked as carried over.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from fit_perf import golden_section, lines_by_engine  # noqa: E402

from deployscope import validate  # noqa: E402
from deployscope.catalog import Catalog  # noqa: E402

DATA = ROOT / "src" / "deployscope" / "catalog" / "data"
ENGINE = "trtllm"
SCRIPT = "scripts/fit_expert_gemm.py"


def moe_fit_rows(catalog: Catalog) -> tuple[Path, list[dict[str, str]]]:
    path = validate.VALIDATION_DIR / "A_llm_inference.csv"
    _, rows = validate.read_csv(path)

    def is_moe(r: dict[str, str]) -> bool:
        m = catalog.models.find(r.get("model", ""))
        return m is not None and m.is_moe

    keep = [r for r in rows if validate.is_fitted(r) and is_moe(r) and "throughput" in r.get("metric", "")
            and validate.num(r.get("value")) is not None]
    preds = validate.predict_file(path, "llm", keep, catalog, None)
    return path, [r for r, p in zip(keep, preds) if p["predicted"] is not None]


def loss_at(catalog: Catalog, path: Path, rows: list[dict[str, str]], base: dict):  # noqa: ANN201
    meas = np.array([validate.num(r["value"]) for r in rows], dtype=float)

    def loss(eff: float) -> float:
        params = validate.Params(hw={ENGINE: {"expert_gemm_eff": eff}})
        preds = validate.predict_file(path, "llm", rows, catalog, params, base)
        pr = np.array([p["predicted"] if p["predicted"] is not None else np.nan for p in preds], dtype=float)
        ok = np.isfinite(pr) & (pr > 0)
        return float(np.mean(np.abs(np.log(pr[ok] / meas[ok]))))

    return loss


def fit_sources(rows: list[dict[str, str]]) -> list[str]:
    return sorted({validate.source_key(r) for r in rows})


def write(eff: float, sources: list[str]) -> None:
    path = DATA / "engines.yaml"
    listed = ", ".join(repr(s) for s in sources)
    out: list[str] = []
    for cur, line in lines_by_engine(path.read_text(encoding="utf-8")):
        if line.startswith(("    expert_gemm_efficiency:", "    expert_gemm_fitted_on:", "    # expert_gemm_efficiency")):
            continue
        out.append(line)
        if line.startswith("    layer_overhead_s:"):
            if cur == ENGINE:
                out.append(f"    expert_gemm_efficiency: {eff:.3f}\n")
                out.append(f"    expert_gemm_fitted_on: [{listed}]\n")
            else:
                out.append(f"    # expert_gemm_efficiency: ASSUMPTION - carried over from the {ENGINE} fit ({SCRIPT}); no MoE rows for this engine in the fitting sources\n")
                out.append(f"    expert_gemm_efficiency: {eff:.3f}\n")
    path.write_text("".join(out), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    catalog = Catalog()
    path, rows = moe_fit_rows(catalog)
    base: dict = {}
    loss = loss_at(catalog, path, rows, base)
    print(f"{len(rows)} MoE throughput rows from {', '.join(fit_sources(rows))}")
    print(f"mean |log error| at 1.0 (dense efficiency): {loss(1.0):.4f}")
    eff = round(golden_section(loss, 0.3, 1.0, 30), 3)
    print(f"fitted expert_gemm_efficiency {eff:.3f}: mean |log error| {loss(eff):.4f}")
    if not args.dry_run:
        write(eff, fit_sources(rows))
        print(f"wrote {DATA / 'engines.yaml'}")


if __name__ == "__main__":
    main()
