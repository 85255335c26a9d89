"""Error bands are a catalog table: every row sourced, one per workload kind x metric x engine, read by
the physics through the catalog and overridable from a user catalog like any other table."""

from __future__ import annotations

import pytest

from deployscope.catalog import Catalog, set_default_catalog
from deployscope.catalog.error_bands import find_band, llm_bands
from deployscope.physics import calibration, diffusion, serving, training


def test_every_band_row_is_sourced_and_unique():
    cat = Catalog()
    keys = [(r.workload, r.metric, r.engine) for r in cat.error_bands]
    assert len(keys) == len(set(keys))
    assert {("llm", m, "*") for m in ("throughput", "ttft", "tpot")} <= set(keys)
    assert {("training", "gpu_hours", "*"), ("diffusion", "images_per_s", "*")} <= set(keys)
    for r in cat.error_bands:
        # a band holds the prediction itself (an engine whose held-out rows all sit on one side has
        # the prediction as one bound, scripts/fit_perf.py _band)
        assert r.source and r.as_of and 0 < r.low <= 1 <= r.high and r.low < r.high and r.rows > 0, r.id
    llm_engines = {r.engine for r in cat.error_bands if r.workload == "llm"}
    assert {"trtllm", "vllm", "sglang"} <= llm_engines  # engines with enough held-out rows get their own bands


def test_engine_row_wins_over_the_all_engine_row(tmp_path):
    (tmp_path / "error_bands.yaml").write_text(
        "- {id: llm-throughput-sglang, workload: llm, metric: throughput, engine: sglang, low: 0.5, high: 1.5, rows: 12,\n"
        "   percentiles: [5, 95], source: our lab runs 2026-11, as_of: 2026-11-30}\n"
    )
    cat = Catalog(tmp_path)
    assert llm_bands(cat, "sglang")["throughput"].low == 0.5
    assert llm_bands(cat, "llamacpp")["throughput"].low == find_band(cat, "llm", "throughput").low != 0.5


def test_a_user_catalog_overrides_the_bands_the_estimators_report(tmp_path, monkeypatch):
    (tmp_path / "error_bands.yaml").write_text(
        "- {id: llm-throughput-vllm, low: 0.9, high: 1.1, source: our lab runs 2026-11, as_of: 2026-11-30}\n"
        "- {id: training-gpu_hours, low: 0.8, high: 1.3, source: our lab runs 2026-11, as_of: 2026-11-30}\n"
        "- {id: diffusion-images_per_s, low: 0.7, high: 1.2, source: our lab runs 2026-11, as_of: 2026-11-30}\n"
    )
    monkeypatch.setenv("DEPLOYSCOPE_CATALOG", str(tmp_path))
    set_default_catalog(None)
    assert calibration.error_bands("vllm")["throughput"].low == 0.9
    res = serving.estimate("llama-3.1-8b-instruct", "h100-sxm-80gb", tp=1, quant="fp8", input_len=1000, output_len=200)
    assert (res.error_band.low, res.error_band.high) == (0.9, 1.1)
    t = training.estimate("llama-3.1-8b-instruct", "h100-sxm-80gb", 8, 1e9, "lora", 2048)
    assert (t.error_band["low"], t.error_band["high"]) == (0.8, 1.3)
    d = diffusion.estimate("sdxl", "l40s")
    assert (d.error_band["low"], d.error_band["high"]) == (0.7, 1.2)


def test_physics_reads_no_band_file():
    """The band file is catalog data: physics holds no path to it and opens no file."""
    import inspect

    for module in (calibration, serving, training, diffusion):
        src = inspect.getsource(module)
        assert "error_bands.yaml" not in src and ".read_text(" not in src and "open(" not in src, module.__name__


@pytest.mark.parametrize("workload,metric", [("training", "gpu_hours"), ("diffusion", "images_per_s")])
def test_workload_band_rows_say_what_they_multiply(workload, metric):
    row = find_band(Catalog(), workload, metric)
    assert row is not None and row.applies_to and row.percentiles == (10, 90)
