"""The memory model: hand-checkable values, parallel shares, engine capacity, monotonicity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope.catalog import Catalog
from deployscope.catalog.models import ModelSpec, Transformer
from deployscope.errors import DeployscopeError, UnknownName
from deployscope.physics import memory as mem

GIB = 2**30


@pytest.fixture(scope="module")
def cat(tmp_path_factory):
    # an empty user dir keeps any real ~/.local/share catalog out of the tests
    return Catalog(tmp_path_factory.mktemp("usercat"))


def spec(**t) -> ModelSpec:
    base = dict(hidden_size=4096, num_layers=32, num_attention_heads=32, num_kv_heads=8, head_dim=128,
                intermediate_size=14336, vocab_size=128256, max_context=131072)
    base.update(t)
    return ModelSpec(id="test/m", name="m", family="test", modality="llm", license="mit", params_b=8,
                     source="test", as_of="2026-01-01", transformer=Transformer(**base))


# --- hand-checkable values -------------------------------------------------------------------


def test_llama31_70b_kv_per_token(cat):
    m = cat.models.get("llama-3.1-70b")
    assert mem.kv_bytes_per_token(m) == 2 * 80 * 8 * 128 * 2 == 327_680


def test_deepseek_v3_mla_kv_per_token(cat):
    m = cat.models.get("deepseek-v3")
    assert mem.kv_bytes_per_token(m) == 61 * (512 + 64) * 2
    assert mem.kv_bytes_per_token(m, kv_bits=8) == 61 * (512 + 64)


def test_deepseek_v3_parameters(cat):
    pc = mem.param_counts(cat.models.get("deepseek-v3").transformer)
    assert pc["total"] == pytest.approx(671e9, rel=0.002)  # paper: 671B total
    assert pc["active"] == pytest.approx(37e9, rel=0.02)  # paper: 37B activated


def test_llama31_8b_weights_match_published_safetensors(cat):
    m = cat.models.get("llama-3.1-8b")
    assert m.safetensors_bytes
    assert abs(mem.weight_bytes(m, "bf16", cat) / m.safetensors_bytes - 1) < 0.005
    # exact, in fact: 8,030,261,248 parameters x 2 B
    assert mem.param_counts(m.transformer)["total"] == 8_030_261_248


@pytest.mark.parametrize("mid", ["llama-3.1-70b", "mistralai/Mixtral-8x7B-Instruct-v0.1", "mistralai/Mistral-7B-v0.1", "meta-llama/Llama-2-7b-hf"])
def test_bf16_weights_match_published_sizes(cat, mid):
    m = cat.models.get(mid)
    if not m.safetensors_bytes:
        pytest.skip("no published size in the row")
    assert abs(mem.weight_bytes(m, "bf16", cat) / m.safetensors_bytes - 1) < 0.005


def test_sliding_window_layer_stops_growing():
    # Gemma-2-9B shape: 42 layers alternating sliding (window 4096) and full
    m = spec(hidden_size=3584, num_layers=42, num_attention_heads=16, num_kv_heads=8, head_dim=256,
             vocab_size=256000, max_context=8192, sliding_window=4096, layer_pattern=("sliding", "full"))
    per_layer = 2 * 8 * 256 * 2
    assert mem.kv_bytes_per_token(m) == 42 * per_layer  # uncapped figure counts every layer
    at4k = mem.kv_cache_bytes(m, 4096)
    at8k = mem.kv_cache_bytes(m, 8192)
    assert at4k == 42 * per_layer * 4096
    # past the window only the 21 full layers grow
    assert at8k - at4k == 21 * per_layer * 4096
    all_sliding = spec(sliding_window=4096)
    assert mem.kv_cache_bytes(all_sliding, 100_000) == mem.kv_cache_bytes(all_sliding, 4096)


def test_linear_layers_hold_no_per_token_cache():
    m = spec(num_layers=8, layer_pattern=("linear", "linear", "linear", "full"))
    assert mem.kv_bytes_per_token(m) == 2 * 2 * 8 * 128 * 2  # 2 full layers


def test_kv_quant_halves_kv(cat):
    e16 = mem.estimate_memory("llama-3.1-8b", catalog=cat)
    e8 = mem.estimate_memory("llama-3.1-8b", kv_quant="fp8", catalog=cat)
    assert e8.kv_cache_bytes * 2 == e16.kv_cache_bytes
    assert e8.weights_bytes == e16.weights_bytes


def test_int4_keeps_embeddings_in_16_bit(cat):
    m = cat.models.get("llama-3.1-8b")
    pc = mem.param_counts(m.transformer)
    emb = (pc["embedding"] + pc["lm_head"]) * 2
    small = pc["norms"] * 2
    mats = pc["total"] - pc["embedding"] - pc["lm_head"] - pc["norms"]
    assert mem.weight_bytes(m, "int4-awq", cat) == pytest.approx(emb + small + mats * 4.15625 / 8)
    # GGUF bits are whole-file averages: everything at the format's bits
    assert mem.weight_bytes(m, "gguf-q4_k_m", cat) == pytest.approx(pc["total"] * 4.8944 / 8)


def test_gguf_q4_k_m_matches_published_file_size(cat):
    # llama.cpp quantize README: Llama-3.1-8B Q4_K_M 4.58 GiB
    assert mem.weight_bytes("llama-3.1-8b", "q4_k_m", cat) / GIB == pytest.approx(4.58, abs=0.01)


def test_estimate_total_is_sum(cat):
    e = mem.estimate_memory("llama-3.1-70b", quant="fp8", context=32768, batch=4, tp=4, catalog=cat)
    assert e.total_bytes == pytest.approx(e.weights_bytes + e.kv_cache_bytes + e.activation_bytes + e.overhead_bytes)
    assert e.kv_cache_bytes == 327_680 * 32768 * 4
    assert e.gpus == 4
    assert e.per_gpu["weights"] == pytest.approx(e.weights_bytes / 4, rel=1e-3)  # norms repeat on each GPU
    assert e.per_gpu_bytes < e.total_bytes
    assert set(e.sources) == {"model", "quant", "kv_quant", "engine"}


# --- per-GPU shares -------------------------------------------------------------------------


def test_kv_heads_split_then_replicate_over_tp():
    s = mem.shape_of(spec().transformer)  # 8 KV heads
    assert mem.kv_gpu_share(s, tp=8) == pytest.approx(1 / 8)
    assert mem.kv_gpu_share(s, tp=16) == pytest.approx(1 / 8)  # one head each, replicated
    assert mem.kv_replication(s, tp=16) == 2


def test_mla_latent_replicated_over_tp(cat):
    s = mem.shape_of(cat.models.get("deepseek-v3").transformer)
    assert mem.kv_gpu_share(s, tp=8) == 1.0
    assert mem.kv_replication(s, tp=8) == 8
    e = mem.estimate_memory("deepseek-v3", quant="fp8", tp=8, pp=2, catalog=cat)
    assert e.kv_cache_bytes == 61 * 576 * 2 * 8192 * 8


def test_pipeline_splits_layers_and_ends():
    m = spec()
    s = mem.shape_of(m.transformer)
    w1 = mem.weights_per_gpu(s, 16, 16, tp=1, pp=1)
    w2 = mem.weights_per_gpu(s, 16, 16, tp=1, pp=2)
    pc = mem.param_counts(m.transformer)
    layers = (pc["total"] - pc["embedding"] - pc["lm_head"]) * 2
    assert w2 == pytest.approx(layers / 2 + pc["embedding"] * 2)
    assert w1 == pytest.approx(pc["total"] * 2)


def test_expert_parallel_splits_experts(cat):
    m = cat.models.get("mistralai/Mixtral-8x7B-Instruct-v0.1")
    s = mem.shape_of(m.transformer)
    pc = mem.param_counts(m.transformer)
    tp8 = mem.weights_per_gpu(s, 16, 16, tp=8, ep=1)
    ep8 = mem.weights_per_gpu(s, 16, 16, tp=8, ep=8)
    assert tp8 == pytest.approx(ep8)  # same bytes per GPU, split by expert instead of by tensor
    dp = mem.weights_per_gpu(s, 16, 16, tp=1, ep=8)  # DP attention: non-expert weights whole on each GPU
    non_expert = (pc["total"] - pc["experts_total"] - pc["norms"] - pc["router"]) * 2
    assert dp == pytest.approx(non_expert + pc["experts_total"] * 2 / 8 + (pc["norms"] + pc["router"]) * 2)
    assert mem.parallel_layout(1, 1, 8)[1] == 8


def test_mla_down_projections_are_whole_on_every_tensor_parallel_gpu(cat):
    """DeepSeek-R1's q_a and kv_a projections (hidden 7168 -> 1536 and -> 512 + 64, 61 layers) are
    replicated by vLLM and SGLang: at TP8 each GPU holds them whole, 7/8 of them (0.81 GB in FP8)
    more than an even split. The step-time model counts the same parameters (one helper)."""
    from dataclasses import replace

    from deployscope.physics import llm
    from deployscope.physics.shape import tp_replicated_params

    m = cat.models.get("deepseek-r1")
    s = mem.shape_of(m.transformer)
    rep = 61 * 7168 * (1536 + 512 + 64)
    assert s.replicated_params == tp_replicated_params(m.transformer) == rep
    q = cat.quant.get("fp8")
    llm_shape = llm.model_shape(m, q, q)
    assert llm_shape.tp_replicated_params == rep
    split = mem.weights_per_gpu(replace(s, replicated_params=0), 8, 16, tp=8)
    whole = mem.weights_per_gpu(s, 8, 16, tp=8)
    assert whole - split == pytest.approx(rep * 7 / 8)  # 1 byte per FP8 weight
    assert 0.80e9 < whole - split < 0.82e9
    assert mem.weights_per_gpu(s, 8, 16, tp=1) == pytest.approx(mem.weights_per_gpu(replace(s, replicated_params=0), 8, 16, tp=1))
    # every TP GPU keeps a copy: the replica's total counts tp copies of them
    assert mem.weights_total(s, 8, 16, tp=8) - mem.weights_total(s, 8, 16, tp=1) == pytest.approx(rep * 7)
    # a model without MLA replicates nothing
    assert mem.shape_of(spec().transformer).replicated_params == 0
    # memory and perf agree on the weights one GPU holds
    from deployscope.physics.serving_context import context, memory_budget

    ctx = context("DeepSeek-R1", "H200", quant="fp8", engine="sglang", catalog=cat)
    assert float(memory_budget(ctx, 8)["weights_per_gpu_bytes"]) == pytest.approx(float(whole))


def test_broadcasts_over_arrays():
    s = mem.shape_of(spec().transformer)
    ctx = np.array([4096, 8192, 16384])[:, None]
    bits = np.array([8, 16])[None, :]
    out = mem.kv_per_sequence(s, ctx, bits)
    assert out.shape == (3, 2)
    assert out[1, 1] == 2 * out[0, 1] == 2 * 2 * out[0, 0]


# --- engine capacity ------------------------------------------------------------------------


def test_vllm_kv_capacity_matches_measured_log(cat):
    # llm-d empirical vLLM logs, Llama-3.1-8B bf16 on H100 80GB, gpu_memory_utilization 0.9:
    # available KV cache 51.38 GiB at 131,072 B/token
    tokens = mem.kv_capacity_tokens("llama-3.1-8b", "h100-sxm-80gb", "bf16", None, 1, 1, "vllm", cat)
    measured = 51.38 * GIB / 131_072
    assert tokens == pytest.approx(measured, rel=0.03)


def test_llama_70b_fp8_needs_two_h100(cat):
    # llm-d logs: Llama-3.3-70B FP8 fails at TP=1 (negative KV), runs at TP=2 with ~32 GiB KV
    assert mem.kv_capacity_tokens("llama-3.3-70b", "h100-sxm-80gb", "fp8", None, 1, 1, "vllm", cat) == 0
    tp2 = mem.kv_capacity_tokens("llama-3.3-70b", "h100-sxm-80gb", "fp8", None, 2, 1, "vllm", cat)
    assert tp2 * 327_680 / 2 / GIB == pytest.approx(32.0, rel=0.1)


def test_kv_capacity_vectorized_over_tp(cat):
    out = mem.kv_capacity_tokens("llama-3.1-70b", "h100-sxm-80gb", "bf16", None, np.array([1, 2, 4, 8]), 1, "vllm", cat)
    assert out.shape == (4,)
    assert out[0] == 0 and np.all(np.diff(out) > 0)


def test_max_sequences(cat):
    cap = mem.kv_capacity_tokens("llama-3.1-8b", "h100-sxm-80gb", catalog=cat)
    assert mem.max_sequences("llama-3.1-8b", "h100-sxm-80gb", 8192, catalog=cat) == cap // 8192


def test_fit_rows(cat):
    rows = mem.fit_rows("llama-3.1-70b", 8192, ["h100-sxm-80gb"], cat)
    by = {r["quant"]: r for r in rows}
    assert by["bf16"]["gpus"] == 4  # 141 GB of weights: 2 x 80 GB leaves no KV room in vLLM's 0.9
    assert by["fp8"]["gpus"] == 2
    assert by["int4-awq"]["gpus"] == 1
    assert by["fp8"]["quality_metric"] == "accuracy_loss_pct"
    assert all(r["max_sequences"] >= 1 for r in rows if r["gpus"])
    for r in rows:
        assert {"gpu", "quant", "gpus", "max_sequences", "quality_delta", "quality_metric"} <= set(r)


def test_fit_rows_does_not_fit(cat):
    tiny = cat.accelerators.get("l40s").model_copy(update={"id": "tiny", "memory_gib": None, "memory_gb": 1.0})
    rows = mem.fit_rows("deepseek-v3", 163840, [tiny], cat, quants=["bf16"])
    assert rows[0]["gpus"] is None and rows[0]["max_sequences"] == 0


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(context=0), "context"),
        (dict(context=10**9), "context"),
        (dict(batch=-1), "batch"),
        (dict(tp=3), "tp"),
        (dict(tp=0), "tp"),
        (dict(pp=1000), "pp"),
        (dict(ep=2), "ep"),
        (dict(quant="int8-kv"), "quant"),
        (dict(kv_quant="int4-awq"), "kv_quant"),
        (dict(quant="q4_k_m"), "quant"),  # vLLM does not serve GGUF here
    ],
)
def test_bad_numbers_name_the_field(cat, kwargs, field):
    with pytest.raises(DeployscopeError) as err:
        mem.estimate_memory("llama-3.1-8b", catalog=cat, **kwargs)
    assert err.value.field == field


def test_unknown_names_suggest(cat):
    with pytest.raises(UnknownName) as err:
        mem.estimate_memory("llama-3.1-8", catalog=cat)
    assert err.value.suggestions
    with pytest.raises(UnknownName):
        mem.estimate_memory("llama-3.1-8b", quant="fp7", catalog=cat)
    with pytest.raises(UnknownName):
        mem.kv_capacity_tokens("llama-3.1-8b", "h1000", catalog=cat)


def test_kv_quant_int8_resolves_to_kv_format(cat):
    assert mem.resolve_kv_quant("int8", cat).id == "int8-kv"
    assert mem.resolve_kv_quant(None, cat).id == "bf16"


# --- properties -----------------------------------------------------------------------------

_MODELS = ["llama-3.1-8b", "llama-3.1-70b", "deepseek-v3", "mistralai/Mixtral-8x7B-Instruct-v0.1", "mistralai/Mistral-7B-v0.1"]
_QUANTS = ["bf16", "fp8", "int8-w8a8", "nvfp4", "int4-gptq", "mxfp4"]


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(_MODELS),
    c1=st.integers(1, 32768),
    c2=st.integers(1, 32768),
    b1=st.integers(1, 256),
    b2=st.integers(1, 256),
    tp=st.sampled_from([1, 2, 4, 8]),
)
def test_memory_monotone_in_context_and_batch(cat, model, c1, c2, b1, b2, tp):
    lo_c, hi_c = sorted((c1, c2))
    lo_b, hi_b = sorted((b1, b2))
    lo = mem.estimate_memory(model, context=lo_c, batch=lo_b, tp=tp, catalog=cat)
    hi = mem.estimate_memory(model, context=hi_c, batch=hi_b, tp=tp, catalog=cat)
    assert hi.total_bytes >= lo.total_bytes
    assert hi.per_gpu_bytes >= lo.per_gpu_bytes
    assert hi.kv_cache_bytes >= lo.kv_cache_bytes


@settings(max_examples=40, deadline=None)
@given(model=st.sampled_from(_MODELS), q1=st.sampled_from(_QUANTS), q2=st.sampled_from(_QUANTS),
       kv1=st.sampled_from(["fp8", "bf16"]), kv2=st.sampled_from(["fp8", "bf16"]), ctx=st.integers(1, 16384))
def test_memory_monotone_in_bits(cat, model, q1, q2, kv1, kv2, ctx):
    rows = {q.id: q for q in cat.quant}
    (qa, kva), (qb, kvb) = sorted([(q1, kv1), (q2, kv2)], key=lambda x: (rows[x[0]].weight_bits, rows[x[1]].kv_bits))
    a = mem.estimate_memory(model, quant=qa, kv_quant=kva, context=ctx, catalog=cat)
    b = mem.estimate_memory(model, quant=qb, kv_quant=kvb, context=ctx, catalog=cat)
    if rows[qa].weight_bits <= rows[qb].weight_bits and rows[kva].kv_bits <= rows[kvb].kv_bits:
        assert a.weights_bytes <= b.weights_bytes
        assert a.total_bytes <= b.total_bytes


@settings(max_examples=40, deadline=None)
@given(ctx=st.integers(1, 131072), bits=st.floats(1, 32), more=st.floats(0, 16))
def test_kv_capacity_falls_as_bits_rise(cat, ctx, bits, more):
    m = cat.models.get("llama-3.1-8b")
    s = mem.shape_of(m.transformer)
    e = mem.engine_arrays(cat.engines.get("vllm"))
    w_lo = mem.weights_per_gpu(s, bits, 16)
    w_hi = mem.weights_per_gpu(s, bits + more, 16)
    a = mem.activation_per_gpu(s, e.tokens, e.seqs, e.logit_copies)
    m80 = 80 * GIB
    assert mem.capacity_bytes_per_gpu(m80, w_hi, a, e, 1) <= mem.capacity_bytes_per_gpu(m80, w_lo, a, e, 1)


def test_encoder_only_has_no_kv_cache(cat):
    enc = spec(encoder_only=True, position_embedding="learned", max_context=8192, mlp="plain")
    assert mem.kv_bytes_per_token(enc) == 0
    e = mem.estimate_memory(enc, context=8192, batch=64, catalog=cat)
    assert e.kv_cache_bytes == 0
    # capacity is bounded by the engine's sequence cap, not by KV bytes
    assert mem.max_sequences(enc, "h100-sxm-80gb", 8192, catalog=cat) == cat.engines.get("vllm").memory.activation_seqs


@pytest.mark.parametrize(
    "model, quant, measured_gib, tol",
    [
        # vLLM "Model loading took" on H100 (llm-d empirical-vllm-memory-results.md)
        ("llama-3.1-8b", "bf16", 14.99, 0.005),
        ("qwen3-32b", "bf16", 61.03, 0.005),
        ("llama-3.3-70b", "fp8", 67.72, 0.005),
        ("gpt-oss-20b", "mxfp4-moe", 13.47, 0.06),
        ("gpt-oss-120b", "mxfp4-moe", 64.38, 0.06),
    ],
)
def test_weights_match_vllm_loaded_sizes(cat, model, quant, measured_gib, tol):
    if cat.models.find(model) is None:
        pytest.skip(f"{model} not in the catalog")
    assert mem.weight_bytes(model, quant, cat) / GIB == pytest.approx(measured_gib, rel=tol)


def test_expert_only_format_leaves_dense_models_in_bf16(cat):
    assert mem.weight_bytes("llama-3.1-8b", "mxfp4-moe", cat) == mem.weight_bytes("llama-3.1-8b", "bf16", cat)
    assert mem.weight_bytes("gpt-oss-20b", "mxfp4-moe", cat) > mem.weight_bytes("gpt-oss-20b", "mxfp4", cat)


def test_vllm_batch_defaults_follow_the_gpu(cat):
    """vLLM's get_batch_defaults: A100 (any memory) and GPUs under 70 GiB get 256 sequences and a
    2,048-token step, and the start-up profile runs at them; larger GPUs keep 1,024 / 8,192."""
    e = cat.engines.get("vllm")
    a100, h100, l40s = (cat.accelerators.get(g) for g in ("A100-SXM4-80GB", "H100-SXM-80GB", "L40S"))
    assert (e.on_gpu(a100).perf.max_batch_size, e.on_gpu(a100).memory.activation_tokens) == (256, 2048)
    assert (e.on_gpu(l40s).perf.max_num_tokens, e.on_gpu(l40s).memory.activation_seqs) == (2048, 256)
    assert e.on_gpu(h100) == e
    # CPU backends pick their limits elsewhere in vLLM: a 23.5 GiB CPU instance keeps the row as written
    assert e.on_gpu(cat.accelerators.get("epyc-zen4-2vcpu")) == e
    # the same model keeps more KV on the A100 than on the H100 (same 80 GiB, smaller profile):
    # GPUStack's A100 page needed --max-model-len 32768, so vLLM 0.11's pool held 32,768-40,959 tokens
    a = mem.kv_capacity_tokens("Qwen3-32B", "A100-SXM4-80GB", catalog=cat)
    h = mem.kv_capacity_tokens("Qwen3-32B", "H100-SXM-80GB", catalog=cat)
    assert 32_768 <= a < 40_960
    assert h < a
    # the memory breakdown on that GPU carries the same (smaller) activation reserve
    on_a100 = mem.estimate_memory("Qwen3-32B", catalog=cat, gpu="A100-SXM4-80GB")
    plain = mem.estimate_memory("Qwen3-32B", catalog=cat)
    assert on_a100.per_gpu["activation"] < plain.per_gpu["activation"] / 2


def test_serving_context_uses_the_engine_as_configured_on_the_gpu(cat):
    from deployscope.physics import serving_context

    ctx = serving_context.context("Qwen3-32B", "A100-SXM4-80GB", engine="vllm", catalog=cat)
    assert ctx.engine.perf.max_batch_size == 256
    budget = serving_context.memory_budget(ctx, tp=1)
    assert int(budget["kv_capacity_tokens"]) == mem.kv_capacity_tokens("Qwen3-32B", "A100-SXM4-80GB", catalog=cat)


def test_sglang_static_fraction_follows_its_own_rule(cat):
    """SGLang 0.5.3+ derives mem_fraction_static from the GPU's memory and tp x pp
    (server_args.py _handle_gpu_memory_settings); the KV pool shrinks with the reserve."""
    e = cat.engines.get("sglang")
    h100, h200 = cat.accelerators.get("H100-SXM-80GB"), cat.accelerators.get("H200-SXM-141GB")
    # 80 GiB = 81,920 MiB: reserved 512 + 12,288 + 512 + 128 = 13,440 at TP1; 14,848 at TP8 (graph bs 512)
    assert float(mem.utilization_for(e, h100.memory_bytes, 1, 1)) == 0.836
    assert float(mem.utilization_for(e, h100.memory_bytes, 8, 1)) == 0.819
    assert list(mem.utilization_for(e, h100.memory_bytes, np.array([1, 8]), 1)) == [0.836, 0.819]
    assert float(mem.utilization_for(e, h200.memory_bytes, 8, 1)) > 0.89
    # at least 10 GiB reserved on GPUs over 60 GiB, whatever the tier's terms add up to
    assert float(mem.utilization_for(e, h100.memory_bytes, 1, 1)) <= 1 - 10 / 80
    one = mem.kv_capacity_tokens("Qwen3-235B-A22B", "H100-SXM-80GB", tp=8, engine="sglang", catalog=cat)
    fixed = e.model_copy(update={"memory": e.memory.model_copy(update={"static_fraction": None, "memory_utilization": 0.836})})
    assert one < mem.kv_capacity_tokens("Qwen3-235B-A22B", "H100-SXM-80GB", tp=8, engine=fixed, catalog=cat)
    # the chunked-prefill budget follows the same memory tiers
    assert e.on_gpu(h100).perf.max_num_tokens == 8192 and e.on_gpu(cat.accelerators.get("L40S")).perf.max_num_tokens == 4096


@settings(max_examples=60, deadline=None)
@given(mem_gib=st.floats(min_value=8, max_value=400), tp=st.sampled_from([1, 2, 4, 8]), pp=st.integers(1, 4))
def test_sglang_fraction_is_a_fraction_and_falls_with_parallelism(mem_gib, tp, pp):
    from deployscope.catalog import default_catalog

    e = default_catalog().engines.get("sglang")
    m = mem_gib * 2**30
    u = float(mem.utilization_for(e, m, tp, pp))
    assert 0 < u < 1
    assert float(mem.utilization_for(e, m, tp, pp + 1)) <= u  # more GPUs per replica never frees memory
