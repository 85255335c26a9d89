"""Hopper x vLLM in BF16: an efficiency row that sets vLLM's own time per layer there, fitted on the
TP8 and TP4 servers of the APEX+ vLLM runs and checked on their TP2 servers."""

from __future__ import annotations

import pytest

from deployscope.catalog import Catalog
from deployscope.catalog.efficiency import lookup
from deployscope.physics.serving import context
from deployscope.validate import fit_key

APEX = "APEX+ vLLM validation runs|apex_plus @ d96aa5f|Llama-3.1-70B|H100-SXM-80GB"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog()


def test_the_row_keeps_the_default_efficiencies_and_sets_a_shorter_time_per_layer(cat):
    """The efficiencies are the default row's, as vLLM on Hopper took before the row; the per-layer
    time is the one fitted on the TP8 and TP4 servers, below the TensorRT-LLM figure vLLM carried."""
    row = lookup(cat.efficiency, "hopper", "vllm", "bf16")
    default = next(e for e in cat.efficiency if e.id == "default")
    assert row.id == "hopper-vllm-bf16" and row.fitted_on == (f"{APEX}|tp=4", f"{APEX}|tp=8")  # as the fit writes them: sorted
    for f in ("compute_efficiency", "half_efficiency_gflop", "bandwidth_efficiency", "attention_efficiency", "link_efficiency"):
        assert getattr(row, f) == getattr(default, f), f
    assert row.layer_overhead_s is not None and row.layer_overhead_s < cat.engines.get("vllm").perf.layer_overhead_s


def test_only_vllm_bf16_on_hopper_takes_it(cat):
    fitted = next(e for e in cat.efficiency if e.id == "hopper-vllm-bf16").layer_overhead_s
    assert context("Llama-3.1-70B", "H100", quant="bf16", engine="vllm", catalog=cat).hw.layer_overhead_s == fitted
    own = cat.engines.get("vllm").perf.layer_overhead_s
    for gpu, quant, engine in (("H100", "fp8", "vllm"), ("A100", "bf16", "vllm"), ("H100", "bf16", "trtllm")):
        got = context("Llama-3.1-70B", gpu, quant=quant, engine=engine, catalog=cat).hw.layer_overhead_s
        assert got == (own if engine == "vllm" else cat.engines.get(engine).perf.layer_overhead_s), (gpu, quant, engine)


@pytest.mark.parametrize(("tp", "key"), [("8", f"{APEX}|tp=8"), ("4", f"{APEX}|tp=4"), ("2", None)])
def test_the_split_names_the_servers_by_tensor_parallelism(tp, key):
    row = {"source_type": "APEX+ vLLM validation runs", "round_or_version": "apex_plus @ d96aa5f",
           "model": "Llama-3.1-70B", "hardware": "H100-SXM-80GB", "tp": tp}
    assert fit_key(row) == key


def test_a_whole_source_and_a_model_part_are_named_as_the_split_names_them():
    assert fit_key({"source_type": "MLPerf Inference", "round_or_version": "v4.1", "model": "x"}) == "MLPerf Inference|v4.1"
    part = {"source_type": "TensorRT-LLM perf-overview (online serving table)", "round_or_version": "v0.14.0",
            "model": "Llama-3.1-8B", "hardware": "H100-SXM-80GB", "tp": "1"}
    assert fit_key(part) == "TensorRT-LLM perf-overview (online serving table)|v0.14.0|Llama-3.1-8B"
    assert fit_key({**part, "model": "Llama-3.1-70B"}) is None
