"""The extra time per MLA layer of a step that carries a prefill (EnginePerf.prefill_mla_layer_overhead_s):
engines that replay CUDA graphs only for decode-only steps launch a prefill step's kernels one by one."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope.catalog import Catalog
from deployscope.cli import main
from deployscope.physics import llm
from deployscope.physics.serving import context, simulate
from deployscope.validate.llm_rows import published_by, row_engine_version


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog()


def _without(ctx):  # noqa: ANN001, ANN202
    return dataclasses.replace(ctx, hw=dataclasses.replace(ctx.hw, prefill_mla_layer_overhead_s=0.0))


@settings(max_examples=40, deadline=None)
@given(d=st.floats(0, 512), p=st.floats(1, 16384), seqs=st.floats(1, 16), engine=st.sampled_from(["sglang", "trtllm"]))
def test_a_prefill_step_of_an_mla_model_pays_it_once_per_layer(cat, d, p, seqs, engine):
    """A step with a prefill costs exactly the figure x the MLA layers more, whatever it carries;
    a decode-only step, and any step of a model without MLA (dense or MoE), cost what they did."""
    ctx = context("DeepSeek-R1", "H200", quant="fp8", engine=engine, catalog=cat)
    x = ctx.hw.prefill_mla_layer_overhead_s
    assert x > 0 and ctx.shape.mla_layers == 61
    with_it = llm.scalar_step_fn(ctx.shape, ctx.hw, 8, 1, 1)
    without = llm.scalar_step_fn(ctx.shape, _without(ctx).hw, 8, 1, 1)
    assert with_it(d, p, 2000.0, p / 2, seqs) - without(d, p, 2000.0, p / 2, seqs) == pytest.approx(x * 61, rel=1e-6)
    assert with_it(max(d, 1.0), 0.0, 2000.0, 0.0, 0.0) == without(max(d, 1.0), 0.0, 2000.0, 0.0, 0.0)
    for other in ("Llama-3.1-70B", "Qwen3-235B-A22B"):
        o = context(other, "H200", quant="fp8", engine=engine, catalog=cat)
        assert o.shape.mla_layers == 0
        f, g = llm.scalar_step_fn(o.shape, o.hw, 8, 1, 1), llm.scalar_step_fn(o.shape, _without(o).hw, 8, 1, 1)
        assert f(d, p, 2000.0, p / 2, seqs) == g(d, p, 2000.0, p / 2, seqs)


def test_it_lengthens_a_lone_request_by_one_prefill_step_and_holds_the_decodes(cat):
    """One DeepSeek-R1 request on SGLang: its first token comes the figure x 61 MLA layers later (one
    prefill step); with several, a prompt admitted mid-run stalls the running decodes too."""
    ctx = context("DeepSeek-R1", "H200", quant="fp8", engine="sglang", catalog=cat)
    extra = ctx.hw.prefill_mla_layer_overhead_s * 61
    one = {k: simulate(ctx=c, tp=8, input_len=1000, output_len=50, rate=None, num_requests=1) for k, c in (("with", ctx), ("without", _without(ctx)))}
    assert one["with"].ttft_s.mean - one["without"].ttft_s.mean == pytest.approx(extra, rel=1e-3)
    assert one["with"].tpot_s.mean == pytest.approx(one["without"].tpot_s.mean, rel=1e-9)
    many = {k: simulate(ctx=c, tp=8, input_len=1000, output_len=200, rate=2.0, num_requests=40) for k, c in (("with", ctx), ("without", _without(ctx)))}
    assert many["with"].tpot_s.mean > many["without"].tpot_s.mean
    assert many["with"].ttft_s.mean > many["without"].ttft_s.mean


def test_tensorrt_llm_releases_before_the_pytorch_backend_keep_none(cat):
    """TensorRT-LLM's engine workflow (releases before 1.0: the context phase inside a compiled engine)
    has no such time; the current release (the PyTorch backend) has the fitted one."""
    perf = cat.engines.get("trtllm").perf
    assert perf.prefill_mla_layer_overhead_s > 0 and perf.prefill_mla_fitted_on
    for old in ("0.9.0", "0.17", "<1.0"):
        assert perf.for_version(old).prefill_mla_layer_overhead_s == 0.0, old
    assert perf.for_version("1.2.0").prefill_mla_layer_overhead_s == perf.prefill_mla_layer_overhead_s
    # an MLPerf v4.1 row names TensorRT, not a TensorRT-LLM release: its round's date places it before 1.0
    mlperf = {"source_type": "MLPerf Inference", "round_or_version": "v4.1", "framework": "TensorRT 10.2.0, CUDA 12.4"}
    assert published_by(mlperf) == date(2024, 8, 28)
    assert row_engine_version(mlperf, cat, "trtllm") == "<1.0"
    ix = {"source_type": "SemiAnalysis InferenceX", "round_or_version": "benchmarks.json @ 3a600f1",
          "framework": "TensorRT-LLM trtllm-serve (container release:1.2.0rc6.post2)"}
    assert row_engine_version(ix, cat, "trtllm") is None  # the current release


def test_vllm_carries_tensorrt_llms_figure_unfitted(cat):
    """No fitting row serves an MLA model on vLLM: it carries TensorRT-LLM's figure, labelled as an
    assumption, and names no fitting rows."""
    vllm = cat.engines.get("vllm").perf
    assert vllm.prefill_mla_layer_overhead_s == cat.engines.get("trtllm").perf.prefill_mla_layer_overhead_s
    assert not vllm.prefill_mla_fitted_on
    b200 = "SemiAnalysis InferenceX|benchmarks.json @ 3a600f1|DeepSeek-R1|B200-SXM-180GB"
    assert cat.engines.get("trtllm").perf.prefill_mla_fitted_on == (b200,)
    assert cat.engines.get("sglang").perf.prefill_mla_fitted_on == (
        b200, "SemiAnalysis InferenceX|benchmarks.json @ 3a600f1|DeepSeek-R1|MI300X-192GB")


def test_perf_names_the_tensorrt_llm_release_and_gets_its_figure() -> None:
    """`perf --engine-version` reaches the release figures: a TensorRT engine-workflow release (0.17)
    predicts DeepSeek-R1's first token sooner than the current PyTorch-backend release, and its
    decode no slower."""
    def run(*extra: str) -> dict:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            rc = main(["perf", "deepseek-r1", "--gpu", "h200", "--engine", "trtllm", "--tp", "8", "--quant", "fp8",
                       "--input-len", "1000", "--output-len", "200", "--json", *extra])
        assert rc == 0
        return json.loads(out.getvalue())

    now, old = run(), run("--engine-version", "0.17")
    assert old["ttft_s"]["mean"] < now["ttft_s"]["mean"]
    assert old["tpot_s"]["mean"] <= now["tpot_s"]["mean"]
