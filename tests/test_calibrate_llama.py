"""End to end on the machine the tests run on: describe the tiny llama.cpp model to the
performance model (`model add` of the generated GGUF into a temporary user catalog), predict
with `perf` on the CPU row, measure with `bench` against a real llama-server, `calibrate`, and
predict again with `--calibration`: the calibrated prediction is closer to what was measured."""

from __future__ import annotations

import json
import math

import pytest

from deployscope.cli import main
from llama_server import llama, llama_bin, tiny_gguf  # noqa: F401 - fixtures

CPU = "epyc-zen4-2vcpu"
MODEL = "tiny-random-llama"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    from deployscope.catalog import set_default_catalog

    cat = tmp_path / "catalog"
    cat.mkdir()
    monkeypatch.setenv("DEPLOYSCOPE_CATALOG", str(cat))
    monkeypatch.setenv("DEPLOYSCOPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'ds.db'}")
    set_default_catalog(None)
    yield cat
    set_default_catalog(None)


def _json(capsys, args):
    rc = main(args)
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out)


def _perf(capsys, cat, conc, input_len, output_len, calibration=None):
    args = ["--catalog", str(cat), "perf", MODEL, "--gpu", CPU, "--engine", "llamacpp", "--quant", "bf16",
            "--input-len", f"{input_len:.1f}", "--output-len", str(output_len), "--concurrency", str(conc), "--json"]
    if calibration:
        args += ["--calibration", calibration]
    p = _json(capsys, args)
    return {"ttft_s": p["ttft_s"]["mean"], "tpot_s": p["tpot_s"]["mean"], "output_tokens_per_s": p["output_tokens_per_s"]}


def _err(pred, meas):
    return sum(abs(math.log(pred[k] / meas[k])) for k in meas)


def test_predict_measure_calibrate_predict_closer(llama, tiny_gguf, workspace, capsys, tmp_path):  # noqa: F811
    cat = workspace
    added = _json(capsys, ["--catalog", str(cat), "model", "add", str(tiny_gguf), "--id", MODEL, "--json"])
    assert added["id"] == MODEL

    runs, measured = [], {}
    for conc in (1, 4):
        s = _json(capsys, ["--catalog", str(cat), "bench", llama.url + "/v1", "--model", MODEL, "--concurrency", str(conc),
                           "--requests", "16", "--warmup", "4", "--input-len", "24", "--output-len", "32",
                           "--gpu", CPU, "--engine", "llamacpp", "--quant", "bf16", "--save", "--json",
                           "--export", str(tmp_path / f"run{conc}.json")])
        # one dropped connection on a busy host is reported, not fatal (see tests/test_bench_llama.py)
        assert s["completed"] + s["errors"] == 16 and s["errors"] <= 1, s["error_kinds"]
        runs.append(s["run_id"])
        measured[conc] = {"ttft_s": s["ttft_s"]["mean"], "tpot_s": s["tpot_s"]["mean"],
                          "output_tokens_per_s": s["output_tokens_per_s"], "input_len": s["input_tokens"] / s["completed"]}

    # one run by saved id, one by exported file
    fit = _json(capsys, ["--catalog", str(cat), "calibrate", str(runs[0]), str(tmp_path / "run4.json"), "--name", "tiny-cpu", "--json"])
    assert fit["engine"] == "llamacpp" and fit["family"] == "zen4"
    assert fit["rms_log_error_after"] < fit["rms_log_error_before"]
    assert len(fit["points"]) == 2

    from deployscope.store import Store

    assert Store().get_calibration("tiny-cpu")["factors"][0]["engine"] == "llamacpp"

    for conc, meas in measured.items():
        m = {k: v for k, v in meas.items() if k != "input_len"}
        before = _perf(capsys, cat, conc, meas["input_len"], 32)
        after = _perf(capsys, cat, conc, meas["input_len"], 32, calibration="tiny-cpu")
        assert _err(after, m) < _err(before, m), (conc, before, after, m)
