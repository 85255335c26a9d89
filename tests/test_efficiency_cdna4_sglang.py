"""CDNA4 (MI355X) x vLLM efficiency rows and SGLang's engine figures: sourced, per format, and
physically bounded."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from deployscope.catalog import Catalog
from deployscope.catalog.efficiency import lookup
from deployscope.errors import DeployscopeError
from deployscope.physics import llm
from deployscope.physics.serving import context
from deployscope.validate import fit_split
from physics_bounds import decode_weight_read_s

BLOG = "AMD ROCm blog|w4a6-quant-mm 2026-06-26 offline throughput table"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog()


def test_cdna4_vllm_has_one_fitted_row_per_gemm_format(cat):
    """Each GEMM format on the MI355X answers with its own row fitted on the blog's offline table;
    lower-precision GEMMs reach a smaller fraction of their (higher) datasheet peak."""
    rows = {f: lookup(cat.efficiency, "cdna4", "vllm", f) for f in ("bf16", "fp8", "fp4")}
    for f, r in rows.items():
        assert r.family == "cdna4" and r.engine == "vllm" and r.formats == (f,), f
        assert r.fitted_on == (BLOG,), f
    assert rows["bf16"].compute_efficiency > rows["fp8"].compute_efficiency > rows["fp4"].compute_efficiency
    # an engine without a row of its own on CDNA4 gets the vLLM figures as a labelled assumption
    sg = lookup(cat.efficiency, "cdna4", "sglang", "fp8")
    assert sg.engine == "*" and sg.compute_efficiency == rows["fp8"].compute_efficiency
    assert "ASSUMPTION" in (sg.notes or "")


def test_fitting_split_names_the_cdna4_and_sglang_fitting_parts_only(cat):
    split = fit_split()
    assert BLOG in split.llm_fit_sources
    assert "GPUStack performance lab|qwen3-32b/h100 SGLang engine choice" in split.llm_fit_sources
    # their check parts stay held out
    assert not any("online serving table" in s and "w4a6" in s for s in split.llm_fit_sources)
    assert not any(s.startswith("GPUStack performance lab|qwen3-32b/a100") for s in split.llm_fit_sources)


def test_sglang_default_memory_fraction_is_the_sglang_0_5_formula_for_80_gb(cat):
    """mem_fraction_static = (gpu_mem - reserved) / gpu_mem, reserved = 512 + 1.5 x 8192 + 2 x 256
    + 1024 / 8 MiB on an 80 GB GPU at TP=1 (sgl-project/sglang PR #10975)."""
    gpu_mib = 81559
    reserved = 512 + 1.5 * 8192 + 2 * 256 + 1024 * 1 * 1 / 8
    e = cat.engines.get("sglang")
    assert e.memory.memory_utilization == pytest.approx(round((gpu_mib - reserved) / gpu_mib, 3))
    assert e.memory.budget == "static" and e.perf.kv_reservation == "decaying"


@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from(["Llama-3.1-8B", "Llama-3.1-70B", "Qwen3-32B", "Qwen3-30B-A3B"]),
    quant=st.sampled_from(["bf16", "fp8", "mxfp4"]),
    engine=st.sampled_from(["vllm", "sglang"]),
    batch=st.integers(1, 512),
    ctx=st.integers(0, 32000),
    tp=st.sampled_from([1, 2, 4, 8]),
)
def test_decode_on_mi355x_never_beats_weight_bytes_over_bandwidth(cat, model, quant, engine, batch, ctx, tp):
    """A decode step reads at least the weights its tokens touch once: no CDNA4 efficiency figure may
    make it faster than weight bytes per GPU / datasheet memory bandwidth."""
    try:
        c = context(model, "MI355X", quant=quant, engine=engine, catalog=cat)
    except DeployscopeError:
        return  # a format the engine does not serve
    if c.model.transformer.num_attention_heads % tp:
        return
    t = float(llm.step_cost(c.shape, c.hw, decode_tokens=batch, decode_ctx=ctx, tp=tp)["time"])
    assert t >= decode_weight_read_s(c, batch, tp) * (1 - 1e-9)
