"""`deployscope perf` shows the speed one user sees (output tokens/s per user, 1 / TPOT) beside
the deployment's tokens/s per GPU, in JSON and in the terminal."""

from __future__ import annotations

import json

import pytest

from deployscope.cli import main
from deployscope.cli.perf_cmd import with_per_user_speed

ARGS = ["perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-len", "512", "--output-len", "128"]


@pytest.mark.parametrize("load", [["--concurrency", "1"], ["--concurrency", "64"], ["--rate", "5"]])
def test_json_has_tokens_per_s_per_user_as_one_over_tpot(capsys, load):
    assert main([*ARGS, *load, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["output_tokens_per_s_per_user"] == pytest.approx(1.0 / d["tpot_s"]["mean"])
    assert d["output_tokens_per_s_per_user_p99"] == pytest.approx(1.0 / d["tpot_s"]["p99"])
    assert d["output_tokens_per_s_per_gpu"] is not None


def test_one_user_is_faster_than_each_of_many(capsys):
    speeds = []
    for c in ("1", "64"):
        assert main([*ARGS, "--concurrency", c, "--json"]) == 0
        speeds.append(json.loads(capsys.readouterr().out)["output_tokens_per_s_per_user"])
    assert speeds[0] > speeds[1]


def test_terminal_shows_per_user_beside_per_gpu(capsys):
    assert main([*ARGS, "--concurrency", "16"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    gpu = next(i for i, line in enumerate(lines) if "tokens/s per GPU" in line)
    assert "tokens/s per user" in lines[gpu + 1]


def test_no_decode_means_no_per_user_speed():
    d = with_per_user_speed({"tpot_s": {"mean": 0.0, "p99": 0.0}})
    assert d["output_tokens_per_s_per_user"] is None and d["output_tokens_per_s_per_user_p99"] is None


def test_terminal_shows_each_latency_figure_with_its_own_band(capsys, monkeypatch):
    # the engine's TTFT and TPOT bands (held-out rows, measured / predicted) stand beside those
    # figures, as the throughput band stands beside tokens/s
    assert main([*ARGS, "--concurrency", "16", "--json"]) == 0
    bands = json.loads(capsys.readouterr().out)["error_band"]["by_metric"]
    monkeypatch.setenv("COLUMNS", "160")  # one table row a line
    assert main([*ARGS, "--concurrency", "16"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for label, metric in (("TTFT s", "ttft"), ("TPOT s", "tpot"), ("output tokens/s (deployment)", "throughput")):
        line = next(x for x in lines if label in x)
        b = bands[metric]
        assert f"(x{b['low']:.2f} .. x{b['high']:.2f})" in line, (label, line)
    assert bands["ttft"]["low"] != bands["tpot"]["low"] or bands["ttft"]["high"] != bands["tpot"]["high"]


def test_perf_names_the_held_out_groups_the_model_leans_on(capsys):
    """gpt-oss (MXFP4 experts) is a format whose held-out rows the model over-predicts: `perf --json`
    lists the group under error_band.held_out_bias, the terminal prints it in words; a Llama FP8 point
    on TensorRT-LLM belongs to no leaning group and prints none."""
    oss = ["perf", "gpt-oss-120b", "--gpu", "h100-sxm", "--quant", "mxfp4-moe", "--input-len", "1000", "--output-len", "200"]
    assert main([*oss, "--json"]) == 0
    bias = json.loads(capsys.readouterr().out)["error_band"]["held_out_bias"]
    fmt = {b["metric_class"]: b for b in bias if b["group"] == "format mxfp4-moe"}
    assert set(fmt) == {"throughput", "ttft", "tpot"} and fmt["throughput"]["signed_median"] > 0.15
    assert all(b["rows"] >= 10 and b["band_id"].startswith("llm-") for b in bias)
    assert main(oss) == 0
    out = " ".join(capsys.readouterr().out.split())
    pct = round(100 * fmt["throughput"]["signed_median"])
    assert f"held-out check: throughput predicted {pct} % too high (median) on {fmt['throughput']['rows']}" in out
    assert "TTFT predicted" in out and "too low" in out
    assert main(["perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--quant", "fp8", "--engine", "trtllm", "--input-len", "512",
                 "--output-len", "128", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["error_band"]["held_out_bias"] == []
    assert main(["perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--quant", "fp8", "--engine", "trtllm", "--input-len", "512",
                 "--output-len", "128"]) == 0
    assert "held-out check" not in capsys.readouterr().out
