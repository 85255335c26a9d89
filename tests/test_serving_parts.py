"""The serving searches compute only the parts of the steady state they read: the parts must be
exactly the figures the full evaluation gives, and an operating point with the batch cap found
once (the SLO search reuses it for every rate) must be the one found with its own cap."""

from __future__ import annotations

import numpy as np
import pytest

from deployscope.physics import serving
from deployscope.physics.batching import rate_point, scheduler_cap, steady_state

CASES = [("llama-3.1-8b", "H100-SXM-80GB", "bf16", 1), ("llama-3.1-70b", "H100-SXM-80GB", "fp8", 4),
         ("llama-3.1-8b", "L40S", "bf16", 1)]


@pytest.mark.parametrize(("model", "gpu", "quant", "tp"), CASES)
def test_each_side_of_the_steady_state_equals_the_full_evaluation(model: str, gpu: str, quant: str, tp: int) -> None:
    ctx = serving.context(model, gpu, quant=quant)
    batch = np.array([1.0, 7.0, 64.0])
    full = steady_state(ctx, batch, 1000.0, 200.0, tp=tp, crowd_z=1.2816)
    tput = steady_state(ctx, batch, 1000.0, 200.0, tp=tp, crowd_z=1.2816, ttft=False)
    ttft = steady_state(ctx, batch, 1000.0, 200.0, tp=tp, crowd_z=1.2816, throughput=False)
    assert "ttft_service" not in tput and set(ttft) == {"ttft_service"}
    for k in ("cycle", "tpot", "tokens_per_s", "requests_per_s"):
        assert np.array_equal(full[k], tput[k])
    assert np.array_equal(full["ttft_service"], ttft["ttft_service"])


@pytest.mark.parametrize(("model", "gpu", "quant", "tp"), CASES)
def test_the_throughput_screen_without_ttft_keeps_every_other_figure(model: str, gpu: str, quant: str, tp: int) -> None:
    tps = np.array([1.0, 2.0, 4.0, 8.0])
    full = serving.max_throughput_points(model, gpu, tp=tps, input_len=1000, output_len=200, quant=quant)
    lean = serving.max_throughput_points(model, gpu, tp=tps, input_len=1000, output_len=200, quant=quant, ttft=False)
    assert list(lean) == [k for k in full if k != "ttft_s"]
    for k in lean:
        assert np.array_equal(full[k], lean[k], equal_nan=True)


@pytest.mark.parametrize(("model", "gpu", "quant", "tp"), CASES)
@pytest.mark.parametrize("tpot", [0.02, 0.05, None])
def test_a_batch_cap_found_once_gives_the_same_operating_points(model: str, gpu: str, quant: str, tp: int, tpot: float | None) -> None:
    ctx = serving.context(model, gpu, quant=quant)
    b_max = float(serving.max_batch(ctx, 1000.0, 200.0, tp=tp))
    lams = np.array([0.01, 0.5, 3.0, 50.0])
    cap = scheduler_cap(ctx, 1000.0, 200.0, tp=tp, b_max=b_max, tpot_limit=tpot)
    again = rate_point(ctx, lams, 1000.0, 200.0, tp=tp, b_max=b_max, tpot_limit=tpot)
    reused = rate_point(ctx, lams, 1000.0, 200.0, tp=tp, b_max=b_max, tpot_limit=tpot, b_cap=cap)
    assert set(again) == set(reused)
    for k in again:
        if k != "step":
            assert np.array_equal(np.asarray(again[k]), np.asarray(reused[k]), equal_nan=True), k

