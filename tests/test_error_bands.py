"""Error bands are a catalog table: every row sourced, one per workload kind x metric x engine, read by
the physics through the catalog and overridable from a user catalog like any other table."""

from __future__ import annotations

import pytest

from deployscope.catalog import Catalog, set_default_catalog
from deployscope.catalog.error_bands import BIAS_LIMIT, BIAS_MIN_ROWS, find_band, llm_bands, llm_biases
from deployscope.physics import calibration, diffusion, serving, training


def test_every_band_row_is_sourced_and_unique():
    cat = Catalog()
    keys = [(r.workload, r.metric, r.engine, r.family, r.format) for r in cat.error_bands]
    assert len(keys) == len(set(keys))
    assert {("llm", m, "*", "*", "*") for m in ("throughput", "ttft", "tpot")} <= set(keys)
    assert {("training", "gpu_hours", "*", "*", "*"), ("diffusion", "images_per_s", "*", "*", "*")} <= set(keys)
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


def test_group_rows_are_notices_of_leaning_groups_not_bands():
    """The family and format rows the fit writes are groups whose held-out predictions lean beyond
    the limit; a band lookup never returns one."""
    cat = Catalog()
    groups = [r for r in cat.error_bands if r.family != "*" or r.format != "*"]
    assert groups and all(r.workload == "llm" and (r.family == "*") != (r.format == "*") for r in groups)
    for r in groups:
        assert r.rows >= BIAS_MIN_ROWS and r.signed_median is not None and abs(r.signed_median) > BIAS_LIMIT, r.id
        assert find_band(cat, "llm", r.metric, r.engine) is not r
    for r in cat.error_bands:
        if r.workload == "llm":
            assert r.signed_median is not None and r.median_ape is not None and r.median_ape >= abs(r.signed_median) - 1e-9, r.id


def test_a_prediction_hears_of_the_groups_it_belongs_to():
    cat = Catalog()
    oss = llm_biases(cat, "vllm", "hopper", "mxfp4-moe")
    assert {(b.metric_class, b.group) for b in oss} >= {(m, "format mxfp4-moe") for m in ("throughput", "ttft", "tpot")}
    by = {(b.metric_class, b.group): b for b in oss}
    assert by[("throughput", "format mxfp4-moe")].signed_median > BIAS_LIMIT  # predicted too fast
    assert by[("ttft", "format mxfp4-moe")].signed_median < -BIAS_LIMIT  # first tokens predicted too soon
    assert all(b.group != "format mxfp4-moe" for b in llm_biases(cat, "vllm", "hopper", "bf16"))
    assert llm_biases(cat, "trtllm", "hopper", "fp8") == []  # a group the model serves without a lean
    assert ("ttft", "family cdna4") in {(b.metric_class, b.group) for b in llm_biases(cat, "sglang", "cdna4", "mxfp4")}


def test_a_user_catalog_sets_the_groups(tmp_path):
    """A group row names the format as validation rows do (an alias resolves); rows under the limit
    or with too few measurements give no notice."""
    base = "workload: llm, metric: throughput, engine: '*', low: 0.5, high: 1.2, percentiles: [5, 95], source: lab, as_of: 2026-11-30"
    (tmp_path / "error_bands.yaml").write_text(
        f"- {{id: g1, format: bfloat16, rows: 12, signed_median: 0.3, {base}}}\n"
        f"- {{id: g2, family: ampere, rows: 12, signed_median: 0.1, {base}}}\n"
        f"- {{id: g3, family: ada, rows: 4, signed_median: 0.4, {base}}}\n"
    )
    cat = Catalog(tmp_path)
    assert [(b.band_id, b.group) for b in llm_biases(cat, "trtllm", "ampere", "bf16")] == [("g1", "format bfloat16")]
    assert llm_biases(cat, "trtllm", "ada", "fp8") == []
    assert find_band(cat, "llm", "throughput").id == "llm-throughput"
