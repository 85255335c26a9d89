"""A benchmark run's one-off wait on a fresh server (EnginePerf.first_wave_delay_s): the simulation
can hold the engine idle at the start, the validation harness does so for the runs it simulates,
and perf, which sizes the steady state, does not."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope import validate
from deployscope.catalog import Catalog
from deployscope.cli import main
from deployscope.errors import DeployscopeError
from deployscope.physics.serving import context, simulate


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog()


@settings(max_examples=30, deadline=None)
@given(delay=st.floats(0, 30), clients=st.integers(1, 8), per_client=st.integers(1, 5),
       engine=st.sampled_from(["sglang", "trtllm", "vllm"]))
def test_a_start_delay_adds_to_the_first_wave_only(cat, delay, clients, per_client, engine):
    """A closed loop's first wave waits the delay; every later request arrives on a completion, so
    the whole run shifts: mean TTFT grows by delay x clients / requests, TPOT stays, the run is longer."""
    ctx = context("Llama-3.1-8B", "H100", quant="bf16", engine=engine, catalog=cat)
    n = clients * per_client
    kw = dict(ctx=ctx, input_len=[300, 900, 500], output_len=[50, 120, 80], concurrency=clients, num_requests=n)
    cold, warm = simulate(start_delay_s=delay, **kw), simulate(**kw)
    assert cold.ttft_s.mean == pytest.approx(warm.ttft_s.mean + delay * clients / n, rel=1e-9, abs=1e-9)
    assert cold.tpot_s.mean == pytest.approx(warm.tpot_s.mean, rel=1e-9, abs=1e-12)
    assert cold.duration_s == pytest.approx(warm.duration_s + delay, rel=1e-9)
    assert cold.ttft_s.p99 >= warm.ttft_s.p99 - 1e-9
    assert cold.steps == warm.steps


@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf])
def test_a_start_delay_must_be_a_finite_wait(cat, bad):
    ctx = context("Llama-3.1-8B", "H100", quant="bf16", engine="vllm", catalog=cat)
    with pytest.raises(DeployscopeError) as e:
        simulate(ctx=ctx, input_len=500, output_len=50, concurrency=2, num_requests=4, start_delay_s=bad)
    assert e.value.field == "start_delay_s"


def test_the_catalog_figure_is_bounded(cat):
    perf = cat.engines.get("sglang").perf
    with pytest.raises(ValueError, match="first_wave_delay_s"):
        type(perf).model_validate(perf.model_dump() | {"first_wave_delay_s": -1.0})
    assert perf.first_wave_delay_s > 0 and perf.first_wave_fitted_on
    # fitted only where an engine has simulated fitting runs: vLLM has none, so it carries nothing
    assert cat.engines.get("vllm").perf.first_wave_delay_s == 0.0


def _row(metric: str) -> dict[str, str]:
    """An InferenceX SGLang row at 4 clients (40 requests), a run the harness simulates."""
    _, rows = validate.read_csv(validate.VALIDATION_DIR / "A_llm_inference.csv")
    return next(r for r in rows if "InferenceX" in r["source_type"] and r["framework"].startswith("SGLang 0.5.9")
                and r["hardware"].startswith("H200") and r["scenario"].endswith("concurrency=4")
                and r["input_len"] == "921.5" and r["metric"] == metric)


def _predict(cat: Catalog, rows: list[dict[str, str]], delay: float) -> list[float]:
    params = validate.Params(hw={"sglang": {"first_wave_delay_s": delay}})
    return [p["predicted"] for p in validate.predict_file(validate.VALIDATION_DIR / "A_llm_inference.csv", "llm", rows, cat, params)]


def test_the_harness_holds_a_simulated_run_for_the_delay(cat):
    rows = [_row(m) for m in ("mean_ttft", "p99_ttft", "mean_tpot", "output_throughput")]
    warm, cold = _predict(cat, rows, 0.0), _predict(cat, rows, 2.0)
    # 4 of the 40 requests wait 2 s more: the mean moves by 200 ms, the p99 (ms) is a first-wave request's
    assert cold[0] == pytest.approx(warm[0] + 2000.0 * 4 / 40, rel=1e-6)
    assert cold[1] >= 2000.0 > warm[1]
    assert cold[2] == pytest.approx(warm[2], rel=1e-9)
    assert cold[3] < warm[3]  # the same tokens over a longer run


def test_perf_sizes_the_steady_state_without_it(cat, monkeypatch):
    """`perf --simulate` leaves the first wave out of its figures, so the start delay changes nothing."""
    from deployscope.physics import llm

    def run() -> dict:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["perf", "Llama-3.1-8B", "--gpu", "H100", "--engine", "sglang", "--concurrency", "8",
                         "--input-len", "900", "--output-len", "100", "--simulate", "200", "--json"]) == 0
        return json.loads(out.getvalue())

    before = run()
    original = llm.hardware

    def slow_start(*a, **k):  # noqa: ANN002, ANN003, ANN202
        return dataclasses.replace(original(*a, **k), first_wave_delay_s=60.0)

    monkeypatch.setattr(llm, "hardware", slow_start)
    assert run() == before


def test_a_family_row_sets_its_own_wait(cat):
    """An efficiency row's first_wave_delay_s replaces the engine's for its family x engine x format
    (CDNA3 x SGLang x FP8, fitted on MI300X), and only there; a row without one keeps the engine's."""
    row = next(e for e in cat.efficiency if e.id == "cdna3-sglang-fp8")
    pooled = cat.engines.get("sglang").perf.first_wave_delay_s
    assert row.first_wave_delay_s is not None and row.first_wave_delay_s > pooled
    assert any("MI300X" in part for part in row.fitted_on)
    on = {gpu: context("DeepSeek-R1", gpu, quant="fp8", engine="sglang", catalog=cat).hw.first_wave_delay_s
          for gpu in ("MI325X", "MI355X", "H200")}
    assert on == {"MI325X": row.first_wave_delay_s, "MI355X": pooled, "H200": pooled}
    assert context("DeepSeek-R1", "MI325X", quant="fp8", engine="vllm", catalog=cat).hw.first_wave_delay_s == 0.0
    with pytest.raises(ValueError, match="first_wave_delay_s"):
        type(row).model_validate(row.model_dump() | {"first_wave_delay_s": -0.5})


def test_the_harness_applies_the_family_wait(cat):
    """An MI325X run (CDNA3, held out) waits the family's figure: its p99 of 40 requests is a
    first-wave request's TTFT, so it lies above the family's wait, where an H200 run's lies below it."""
    _, rows = validate.read_csv(validate.VALIDATION_DIR / "A_llm_inference.csv")
    wait_ms = 1000 * next(e for e in cat.efficiency if e.id == "cdna3-sglang-fp8").first_wave_delay_s

    def p99(gpu: str) -> float:
        row = next(r for r in rows if "InferenceX" in r["source_type"] and r["framework"].startswith("SGLang 0.5.9")
                   and r["hardware"].startswith(gpu) and r["scenario"].endswith("concurrency=4")
                   and r["input_len"] == "921.5" and r["metric"] == "p99_ttft")
        return validate.predict_file(validate.VALIDATION_DIR / "A_llm_inference.csv", "llm", [row], cat, None)[0]["predicted"]

    assert p99("MI325X") > wait_ms > p99("H200")
