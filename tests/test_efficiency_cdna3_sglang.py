"""CDNA3 (MI300X / MI325X) x SGLang: an efficiency row that sets the engine's time per layer on that
family, fitted on the MI300X rows of SemiAnalysis InferenceX and checked on the MI325X rows."""

from __future__ import annotations

import dataclasses

import pytest

from deployscope.catalog import Catalog
from deployscope.catalog.efficiency import lookup
from deployscope.physics import llm
from deployscope.physics.serving import context

MI300X_ROWS = "SemiAnalysis InferenceX|benchmarks.json @ 3a600f1|DeepSeek-R1|MI300X-192GB"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog()


def test_the_row_adds_a_time_per_layer_and_keeps_the_family_efficiencies(cat):
    """The row carries cdna3-any-fp8's efficiencies unchanged (a refit of one must not leave the
    other behind) and a fitted per-layer time above SGLang's own figure."""
    row = lookup(cat.efficiency, "cdna3", "sglang", "fp8")
    base = next(e for e in cat.efficiency if e.id == "cdna3-any-fp8")
    assert row.id == "cdna3-sglang-fp8" and row.fitted_on == (MI300X_ROWS,)
    for f in ("compute_efficiency", "attention_efficiency", "bandwidth_efficiency", "link_efficiency"):
        assert getattr(row, f) == getattr(base, f), f
    assert row.layer_overhead_s is not None and row.layer_overhead_s > cat.engines.get("sglang").perf.layer_overhead_s


def test_only_sglang_fp8_on_cdna3_takes_it(cat):
    fitted = next(e for e in cat.efficiency if e.id == "cdna3-sglang-fp8").layer_overhead_s
    assert context("DeepSeek-R1", "MI300X", quant="fp8", engine="sglang", catalog=cat).hw.layer_overhead_s == fitted
    assert context("DeepSeek-R1", "MI325X", quant="fp8", engine="sglang", catalog=cat).hw.layer_overhead_s == fitted
    sglang_own = cat.engines.get("sglang").perf.layer_overhead_s
    for gpu, quant, engine in (("MI355X", "fp8", "sglang"), ("MI300X", "bf16", "sglang"), ("H200", "fp8", "sglang")):
        assert context("DeepSeek-R1", gpu, quant=quant, engine=engine, catalog=cat).hw.layer_overhead_s == sglang_own
    vllm = context("DeepSeek-R1", "MI300X", quant="fp8", engine="vllm", catalog=cat)
    assert vllm.hw.layer_overhead_s == cat.engines.get("vllm").perf.layer_overhead_s


def test_a_decode_step_on_mi300x_grows_by_the_extra_per_layer_time(cat):
    ctx = context("DeepSeek-R1", "MI300X", quant="fp8", engine="sglang", catalog=cat)
    own = cat.engines.get("sglang").perf.layer_overhead_s
    plain = llm.scalar_step_fn(ctx.shape, ctx.hw, 8, 1, 1)
    lower = llm.scalar_step_fn(ctx.shape, dataclasses.replace(ctx.hw, layer_overhead_s=own), 8, 1, 1)
    extra = plain(4.0, 0.0, 1000.0, 0.0, 0.0) - lower(4.0, 0.0, 1000.0, 0.0, 0.0)
    assert extra == pytest.approx((ctx.hw.layer_overhead_s - own) * ctx.shape.layers, rel=1e-9)
