"""Training MFU by per-GPU GEMM size (roofline), phase plans, and the Llama 3 model-card check rows."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope import validate_workloads as V
from deployscope.catalog import default_catalog
from deployscope.errors import DeployscopeError
from deployscope.physics import training as T
from deployscope.physics.training_mfu import gemm_factor, gemm_intensity
from deployscope.physics.training_phase import parse_phases, phase_of, plan_total

CARDS = ("https://github.com/meta-llama/llama3/blob/main/MODEL_CARD.md",
         "https://github.com/meta-llama/llama-models/blob/main/models/llama3_1/MODEL_CARD.md")


# ------------------------------------------------------------------ GEMM size, first principles
def test_gemm_intensity_is_the_roofline_of_a_16bit_matmul():
    # m x k x n in 2-byte words: 2 m k n FLOPs over 2 (m k + k n + m n) bytes
    m, k, n = 8192.0, 4096.0, 4096.0
    assert float(gemm_intensity(m, k, 1)) == pytest.approx(m * k * n / (m * k + k * n + m * n))
    # a published shape is compute-bound on an H100 (ridge ~295 FLOP/B): the term is 1
    h100 = default_catalog().accelerators.get("H100-SXM-80GB")
    assert float(gemm_factor(8192, 4096, 1, T.ridge_of(h100))) == 1.0
    # a micro-batch of 64 tokens is memory-bound: intensity / ridge
    assert float(gemm_factor(64, 4096, 1, T.ridge_of(h100))) == pytest.approx(float(gemm_intensity(64, 4096, 1)) / T.ridge_of(h100))


@settings(max_examples=200, deadline=None)
@given(
    m=st.floats(1, 1e6), k=st.floats(64, 65536), tp=st.sampled_from([1, 2, 4, 8, 16]),
    ridge=st.floats(10, 2000), shrink=st.floats(0.01, 1.0),
)
def test_gemm_factor_at_most_one_and_never_rises_when_the_gemm_shrinks(m, k, tp, ridge, shrink):
    f = float(gemm_factor(m, k, tp, ridge))
    assert 0.0 < f <= 1.0
    assert float(gemm_factor(m * shrink, k, tp, ridge)) <= f + 1e-12  # fewer tokens per micro-batch
    assert float(gemm_factor(m, k * shrink, tp, ridge)) <= f + 1e-12  # narrower model
    assert float(gemm_factor(m, k, tp * 2, ridge)) <= f + 1e-12  # wider tensor parallelism
    assert float(gemm_factor(m, k, tp, ridge / shrink)) <= f + 1e-12  # a GPU whose FLOPs outgrew its bandwidth


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(["Llama-3.1-8B", "Llama-3.1-70B", "SmolLM3-3B", "pythia-70m"]),
    gpu=st.sampled_from(["H100-SXM-80GB", "A100-80GB", "B200"]),
    gpus=st.sampled_from([1, 8, 64, 1024]),
    seq=st.sampled_from([128, 512, 2048, 8192]),
    mb=st.integers(2, 16),
)
def test_mfu_never_exceeds_one_nor_rises_when_the_micro_batch_shrinks(model, gpu, gpus, seq, mb):
    big = T.estimate(model, gpu, gpus, "1B", method="pretrain", seq_len=seq, micro_batch=mb)
    small = T.estimate(model, gpu, gpus, "1B", method="pretrain", seq_len=seq, micro_batch=1, tp=big.tp)
    for r in (big, small):
        assert 0.0 < r.mfu <= 1.0 and 0.0 < r.hfu <= 1.0
    assert small.mfu <= big.mfu * (1 + 1e-9)


def test_gemm_term_bites_only_below_the_ridge():
    # pythia-70m (hidden 512) at 128 tokens per micro-batch on an H100 is memory-bound (intensity
    # 1 / (1/128 + 2/512) = 85 FLOP/B against a ridge of ~295); SmolLM3-3B at 8,192 tokens is not
    lo = T.estimate("pythia-70m", "H100-SXM-80GB", 8, "1B", method="pretrain", seq_len=128)
    wide = T.estimate("pythia-70m", "H100-SXM-80GB", 8, "1B", method="pretrain", seq_len=128, micro_batch=64)
    assert lo.mfu < 0.4 * wide.mfu
    smol = T.estimate("SmolLM3-3B", "H100-SXM-80GB", 384, "1B", method="pretrain", seq_len=4096, micro_batch=2)
    assert any("roofline factor 1.000" in a for a in smol.assumptions)


# ------------------------------------------------------------------------------ phase plans
def test_phase_plan_reads_stages_and_unstated_phases():
    steps = parse_phases("pre-training 14800B@8192; context-extension 800B@8192..131072x6; annealing 0.04B@131072; post-training unstated")
    assert [s.phase for s in steps] == ["pre-training", "context-extension", "pre-training", "post-training"]
    assert steps[0].tokens == 14.8e12 and steps[0].seq_lens == (8192,)
    ext = steps[1].seq_lens
    assert len(ext) == 6 and ext[-1] == 131072 and ext[0] > 8192 and list(ext) == sorted(ext)
    assert steps[3].tokens is None
    seen = []
    total, unstated = plan_total(steps, lambda method, seq, tokens: seen.append((method, seq, tokens)) or tokens)
    assert total == pytest.approx(14.8e12 + 800e9 + 40e6)
    assert unstated == ["post-training unstated"]
    assert {m for m, _, _ in seen} == {"pretrain"} and len(seen) == 8


@pytest.mark.parametrize("bad", ["pre-training", "pre-training 10B", "warm-up 10B@4096", "pre-training 10B@8192..4096x2", "pre-training ten@4096",
                                 "pre-training 0B@4096", "pre-training 10B@0", "pre-training 10B@4096..8192x0", "pre-training 10B@4096..8192x100000"])
def test_phase_plan_rejects_what_it_cannot_read(bad):
    with pytest.raises(DeployscopeError) as e:
        parse_phases(bad)
    assert e.value.field == "phases"


def test_long_context_pre_training_is_the_extension():
    assert phase_of("long-context pre-training") == "context-extension"
    assert phase_of("annealing") is None  # a plan step only (the last stage of pre-training), not a CLI phase
    assert phase_of("SFT") == "post-training"


# ---------------------------------------------------------------- Llama 3 model cards: check rows
def _rows():
    with open(V.VALIDATION_DIR / "C_training.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_model_cards_are_stated_check_rows_never_fitting_rows():
    split = V.training_fitting_split()
    assert set(CARDS) <= set(split["check_rows"])
    assert V.FITTED_SOURCES["C"] == split["fit_sources"]
    cards = [r for r in _rows() if r["source"] in CARDS]
    assert len(cards) == 5  # Llama 3 8B, 70B; Llama 3.1 8B, 70B, 405B
    assert not any(V.is_fitted("C", r["source"]) for r in cards)
    recs = [r for r in V.evaluate("C") if r["source"] in CARDS]
    assert len(recs) == 5 and all(r["predicted"] and not r["fitted_on"] for r in recs)


def test_card_rows_with_phases_add_the_long_context_stage():
    """The Llama 3.1 405B card total covers long-context pre-training: predicted with its stated
    phases it costs more than the 15.6T tokens at 8K alone, and the unstated post-training is not
    counted (the prediction is a lower bound on what the card covers)."""
    cat = default_catalog()
    row = next(r for r in _rows() if r["model"] == "Llama-3.1-405B" and r["source"] == CARDS[1])
    phased, _ = V.predict_training_row(row, cat)
    flat, _ = V.predict_training_row({**row, "phases": "", "phase": "pre-training"}, cat)  # all tokens at 8K
    assert phased > flat
    steps = parse_phases(row["phases"])
    assert sum(s.tokens or 0 for s in steps) == pytest.approx(float(row["training_tokens_b"]) * 1e9 + 40e6)
    assert np.isfinite(phased)


def test_training_split_names_no_heldout_family():
    """The held-out families (validation/README.md) are never a training fit source nor a check row,
    and the catalog's MFU rows were fitted only on the listed sources."""
    split = V.training_fitting_split()
    banned = ("MLPerf", "perf-overview", "TensorRT-LLM", "PixArt", "Würstchen", "SD3", "GigaGAN", "micro-budget", "QLoRA post")
    for key in (*split["fit_sources"], *split["check_rows"]):
        assert not any(b.lower() in key.lower() for b in banned), key
    for row in default_catalog().training_efficiency:
        if row.mfu is not None:
            assert set(row.mfu.fitted_on) <= set(split["fit_sources"]), row.id


def test_train_phases_sums_the_stated_phases(capsys):
    """`train --phases`: one estimate per stated phase and stage, summed; an unstated phase is named,
    not priced; the plan's own tokens cannot be mixed with --tokens (usage error, exit 2)."""
    import json

    from deployscope.cli import main

    plan = "pre-training 100B@4096; context-extension 10B@4096..32768x3; post-training unstated"
    base = ["train", "Llama-3.1-8B", "--gpu", "H100", "--gpus", "64", "--json"]
    assert main(base + ["--phases", plan]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [p["phase"] for p in d["phases"]] == ["pre-training", "context-extension", "post-training"]
    assert d["tokens"] == pytest.approx(110e9) and d["unstated"] == ["post-training unstated"]
    assert d["gpu_hours"] == pytest.approx(sum(p["gpu_hours"] or 0 for p in d["phases"]))
    assert [s["seq_len"] for s in d["phases"][1]["stages"]] == [8192, 16384, 32768]
    pre = T.estimate("Llama-3.1-8B", "H100", 64, "100B", method="pretrain", seq_len=4096)
    assert d["phases"][0]["gpu_hours"] == pytest.approx(pre.gpu_hours)
    # a token at 32K costs more than at 4K (attention grows with the window)
    ext = d["phases"][1]
    assert ext["gpu_hours"] / 10e9 > d["phases"][0]["gpu_hours"] / 100e9
    assert main(base + ["--phases", plan, "--tokens", "1T"]) == 2
    assert "--phases" in capsys.readouterr().err
    assert main(base + ["--phases", "pre-training 1T"]) == 2
    assert "phases" in capsys.readouterr().err
    assert main(base + ["--phases", "post-training unstated"]) == 2
