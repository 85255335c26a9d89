"""The plan's memory-per-GPU view: the KV cache of the batch that FITS on one GPU beside the
weights (per-sequence KV x sequences that fit, at most the engine's cap), never the batch at the
SLO capacity or the sum over the fleet, so weights + KV + activation + overhead <= the GPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployscope.catalog import default_catalog
from deployscope.physics.memory import estimate_memory, max_sequences
from deployscope.planner import plan

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def plans():
    return {p.stem: plan(p) for p in EXAMPLES}


@pytest.mark.parametrize("name", [p.stem for p in EXAMPLES])
def test_memory_parts_fit_within_the_gpu(plans, name):
    mb = plans[name].memory_breakdown
    if mb is None:
        assert not any(c.kind == "llm" and c.placement != "api" for o in plans[name].options for c in o.performance.components)
        return
    used = sum(v for k, v in mb.parts.items() if k != "free")
    assert used <= mb.total_bytes
    assert mb.parts["weights"] > 0 and mb.parts["kv_cache"] > 0
    assert mb.total_bytes == default_catalog().accelerators.get(mb.gpu).memory_bytes
    assert mb.parts.get("free", 0.0) == pytest.approx(mb.total_bytes - used)


@pytest.mark.parametrize("name", [p.stem for p in EXAMPLES])
def test_kv_is_per_sequence_kv_times_the_batch_that_fits(plans, name):
    p = plans[name]
    mb = p.memory_breakdown
    if mb is None:
        return
    opt = p.option(mb.option_id)
    comp = next(c for c in opt.performance.components if c.kind == "llm" and c.gpu == mb.gpu)
    assert mb.kv_quant == comp.kv_quant  # the KV format the plan sized with
    cat = default_catalog()
    engine = p.scenario["candidates"].get("engine") or "vllm"
    fit = max_sequences(mb.model, mb.gpu, context=mb.context_tokens, quant=mb.quant, kv_quant=mb.kv_quant, tp=mb.tp,
                        engine=engine, catalog=cat)
    assert mb.batch == min(fit, cat.engines.get(engine).perf.max_batch_size) >= 1
    one = estimate_memory(mb.model, quant=mb.quant, kv_quant=mb.kv_quant, context=mb.context_tokens, batch=1, tp=mb.tp,
                          engine=engine, catalog=cat).per_gpu["kv_cache"]
    assert mb.parts["kv_cache"] == pytest.approx(one * mb.batch)
    # one more sequence would not fit beside the weights (unless the engine's cap stopped the batch first)
    if mb.batch < cat.engines.get(engine).perf.max_batch_size:
        util = cat.engines.get(engine).memory.memory_utilization
        assert mb.parts["free"] - (1 - util) * mb.total_bytes < one


def test_not_the_fleet_nor_the_slo_batch(plans):
    """saas-chat's pool has several replicas; its memory view is one GPU's, not their sum."""
    p = plans["saas-chat"]
    mb = p.memory_breakdown
    comp = next(c for c in p.option(mb.option_id).performance.components if c.kind == "llm")
    assert comp.replicas > 1
    assert mb.parts["kv_cache"] + mb.parts["weights"] < mb.total_bytes


def test_tensor_parallel_pool_shows_one_gpu_not_the_replica():
    """A tp=2 pool (saas-chat on 8 x H100 instances): each GPU holds half the weights and its own
    KV share, and the parts still fit in that GPU."""
    from deployscope.planning.inputs import resolve
    from deployscope.planning.performance import _memory_per_gpu
    from deployscope.result import ComponentSizing
    from deployscope.scenario import load_scenario

    inputs = resolve(load_scenario(EXAMPLES[[p.stem for p in EXAMPLES].index("saas-chat")]), default_catalog())
    model = "meta-llama/Llama-3.3-70B-Instruct"
    one, two = (_memory_per_gpu(inputs, ComponentSizing(workload="assistant", kind="llm", model=model, placement="cloud",
                                                        gpu="h100-sxm", quant="fp8", tp=tp, kv_quant="fp8"),
                                "x", model, 4612, "vllm") for tp in (1, 2))
    assert two.parts["weights"] == pytest.approx(one.parts["weights"] / 2, rel=0.05)
    for mb in (one, two):
        assert sum(v for k, v in mb.parts.items() if k != "free") <= mb.total_bytes
    assert two.batch > one.batch  # the second GPU's memory holds more sequences per replica
