"""The project's own measurements on a lent GPU (validation/G_device_forward.csv): how they are
labelled and imported, what validate reports on them, and the physics they bound."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from deployscope import validate
from deployscope.catalog import default_catalog
from deployscope.physics import llm, serving
from deployscope.validate import device_rows, device_serving
from script_helpers import load_script

importer = load_script("import_device_forward")
RUNS = Path(__file__).resolve().parents[1] / "benchmarks" / "device_runs" / "forward"
SHIPPED_RUNS = sorted(RUNS.glob("h200-2026-12-04-*"))


@pytest.fixture(scope="module")
def shipped() -> dict:
    return device_rows.score()


def _rows() -> list[dict[str, str]]:
    return device_rows.read_rows()


def test_every_row_is_labelled_as_an_own_measurement_and_dated() -> None:
    rows = _rows()
    cat = default_catalog()
    assert len(rows) >= 150
    assert {r["kind"] for r in rows} == {"ceiling", "prefill", "decode", "gemm"}
    for r in rows:
        assert r["source"].startswith("measured: scripts/device_forward.py on a lent "), r
        assert date.fromisoformat(r["as_of"]) <= date(2026, 12, 31)
        assert cat.accelerators.find(r["hardware"]) is not None
        assert float(r["value"]) > 0
        if r["kind"] != "ceiling":
            assert cat.models.find(r["model"]) is not None
            assert r["framework"].startswith("PyTorch ") and r["notes"]


def test_the_shipped_file_is_what_the_importer_makes_of_the_shipped_runs(tmp_path: Path) -> None:
    out = tmp_path / "G.csv"
    assert importer.main([*map(str, SHIPPED_RUNS), "--date", "2026-12-04", "--csv", str(out)]) == 0
    assert out.read_bytes() == device_rows.DEVICE_FILE.read_bytes()


def _run(folder: Path, name: str = "NVIDIA H200", records: list[dict] | None = None) -> Path:
    folder.mkdir()
    (folder / "machine.json").write_text(json.dumps({"name": name, "torch": "2.11.0", "cuda": "13.0",
                                                     "bf16_gemm_tflops": 800.0, "read_4gib_tb_s": 4.2, "copy_tb_s": 2.6}))
    recs = records if records is not None else [
        {"model": "meta-llama/Llama-3.1-8B-Instruct", "format": "bf16", "kind": "load", "weight_bytes": 1},
        {"model": "meta-llama/Llama-3.1-8B-Instruct", "format": "bf16", "kind": "decode", "batch": 64, "ctx": 1024,
         "ms": 10.0, "ms_min": 9.9, "ms_max": 10.1, "replays": 20},
        {"model": "meta-llama/Llama-3.1-8B-Instruct", "format": "bf16", "kind": "gemm", "batch": 4096, "ctx": 0,
         "input_len": 4096, "gemms": {"o": {"ms": 0.2, "gflop": 137.438953472, "n": 4096, "k": 4096, "kernel_ms": 0.19}}},
        {"model": "meta-llama/Llama-3.1-8B-Instruct", "format": "fp8", "kind": "prefill", "batch": 1, "ctx": 512,
         "error": "RuntimeError: no fp8 here"},
        {"model": "Qwen/Qwen3-30B-A3B", "format": "bf16", "skipped": "budget"},
    ]
    (folder / "forward.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return folder


def test_the_importer_keeps_what_ran_and_reports_what_did_not(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "G.csv"
    assert importer.main([str(_run(tmp_path / "a")), str(_run(tmp_path / "b")), "--date", "2026-12-04", "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["kind"], r["run"]) for r in rows] == [(k, run) for run in "12" for k in ("ceiling",) * 3 + ("decode", "gemm", "gemm")]
    assert [r["metric"] for r in rows if r["kind"] == "gemm"][:2] == ["gemm_time", "gemm_kernel_time"]
    assert {r["metric"] for r in rows if r["kind"] == "ceiling"} == {"bf16_gemm_tflops", "read_4gib_tb_s", "copy_1gib_tb_s"}
    decode = next(r for r in rows if r["kind"] == "decode")
    assert (decode["batch_size"], decode["context_len"], decode["value"], decode["spread"]) == ("64", "1024", "10", "0.020")
    err = capsys.readouterr().err
    assert err.count("left out:") == 4 and "no fp8 here" in err and "skipped (budget)" in err


def test_the_importer_refuses_an_unknown_gpu_a_bad_date_and_a_broken_run(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "G.csv"
    out.write_text("kept\n")
    assert importer.main([str(_run(tmp_path / "a", name="Some GPU")), "--date", "2026-12-04", "--csv", str(out)]) == 2
    assert "GPU 'Some GPU' is not one the catalog names" in capsys.readouterr().err
    assert importer.main([str(tmp_path / "a"), "--date", "4 Dec", "--csv", str(out)]) == 2
    assert "--date: '4 Dec' is not a date" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    assert importer.main([str(broken), "--date", "2026-12-04", "--csv", str(out)]) == 2
    assert "machine.json" in capsys.readouterr().err
    assert out.read_text() == "kept\n"  # a refused import leaves the file as it was


def test_score_sets_each_row_beside_the_step_and_gemm_the_physics_gives(tmp_path: Path) -> None:
    out = tmp_path / "G.csv"
    assert importer.main([str(_run(tmp_path / "a")), str(_run(tmp_path / "b")), "--date", "2026-12-04", "--csv", str(out)]) == 0
    got = device_rows.score(out)
    ctx = serving.context("meta-llama/Llama-3.1-8B-Instruct", "H200-SXM-141GB", quant="bf16", kv_quant="bf16", engine="trtllm")
    step = float(llm.step_cost(ctx.shape, ctx.hw, decode_tokens=64.0, decode_ctx=1024.0)["time"]) * 1e3
    gemm, bound = llm.gemm_seconds(ctx.hw, 137.438953472e9, 4096 * 4096 * 2 + 4096 * 8192 * 2)
    assert bound == "compute"
    assert got["groups"]["decode, dense, batch >= 16"]["median_ratio"] == pytest.approx(10.0 / step)
    assert got["groups"]["gemm, compute-bound"]["median_ratio"] == pytest.approx(0.2 / (gemm * 1e3))
    assert got["groups"]["gemm, bf16 kernel alone"]["median_ratio"] == pytest.approx(0.19 / (gemm * 1e3))
    assert got["repeatability"] == {"pairs": 12, "configurations": 6, "median": 0.0, "max": 0.0}  # the same run twice
    read = next(c for c in got["ceilings"] if c["metric"] == "read_4gib_tb_s")
    assert read["fraction_of_datasheet"] == pytest.approx(4.2 / 4.8)
    assert read["efficiency_row"] == "hopper-trtllm" and "bandwidth_efficiency" in read


def test_gemm_seconds_is_the_longer_of_the_size_curve_and_the_bytes() -> None:
    hw = serving.context("meta-llama/Llama-3.1-8B-Instruct", "H200-SXM-141GB", quant="bf16", engine="trtllm").hw
    big, small = 1e12, 1e8
    t_big, b_big = llm.gemm_seconds(hw, big, 1e6)
    assert b_big == "compute"
    assert t_big == pytest.approx((big + hw.half_eff_flops) / (hw.peak_gemm_flops * hw.compute_eff))
    t_small, b_small = llm.gemm_seconds(hw, small, 1e9)
    assert b_small == "memory" and t_small == pytest.approx(1e9 / (hw.mem_bandwidth * hw.bandwidth_eff))


def test_the_size_curve_fit_recovers_a_curve_it_is_given(tmp_path: Path) -> None:
    """GEMMs timed exactly on (F + F_half) / (e P) give back e and F_half; GEMMs bound by reading
    their weights are left out of the fit."""
    peak, eff, half = 989.5e12, 0.7, 5e9
    base = {"hardware": "H200-SXM-141GB", "precision": "bf16", "kind": "gemm", "model": "meta-llama/Llama-3.1-8B-Instruct",
            "source": "measured: test", "as_of": "2026-12-04", "run": "1"}
    rows = [{**base, "kind": "ceiling", "precision": "", "metric": "read_4gib_tb_s", "value": "4.2", "unit": "TB/s"}]
    for m in (256, 1024, 4096, 16384, 1):
        f = 2.0 * m * 4096 * 4096
        # the one-row GEMM takes 1.2 times reading its weights: bound by memory, so not fitted
        t = (f + half) / (eff * peak) if m > 1 else 1.2 * (4096 * 4096 * 2 + 8192 * 2) / 4.2e12
        rows.append({**base, "projection": "o", "input_len": str(m), "batch_size": str(m), "metric": "gemm_time",
                     "value": repr(t * 1e3), "unit": "ms", "gflop": repr(f / 1e9), "gemm_n": "4096", "gemm_k": "4096"})
    out = tmp_path / "G.csv"
    out.write_text(importer.render(rows), encoding="utf-8")
    curve = device_rows.score(out)["gemm_curve"]["bf16"]
    assert curve["rows"] == 4
    assert curve["compute_efficiency"] == pytest.approx(eff)
    assert curve["half_gflop"] == pytest.approx(half / 1e9)
    assert curve["launch_us"] == pytest.approx(half / (eff * peak) * 1e6)
    assert curve["median_abs_error"] == pytest.approx(0.0, abs=1e-9)


def test_the_shipped_half_point_is_where_cublas_puts_it_on_a_real_h200(shipped: dict) -> None:
    """The size curve's form fits the measured bf16 GEMMs, and its half point, fitted on published
    TensorRT-LLM rows, is within a factor 1.5 of the one those GEMMs give."""
    c = shipped["gemm_curve"]["bf16"]
    assert c["rows"] >= 20 and c["median_abs_error"] < 0.10
    assert 1 / 1.5 <= c["half_gflop"] / c["shipped_half_gflop"] <= 1.5


def test_no_measured_decode_step_beats_its_bytes_over_the_datasheet_bandwidth() -> None:
    """Physics the measurements must obey: a step reads at least the weights of its model and the
    caches of its sequences, and HBM moves no more than its datasheet figure."""
    cat = default_catalog()
    checked = 0
    for r in _rows():
        if r["kind"] != "decode":
            continue
        ctx = serving.context(r["model"], r["hardware"], quant=r["precision"], kv_quant="bf16", engine="trtllm")
        bandwidth = cat.accelerators.get(r["hardware"]).memory_bandwidth_bytes_per_s
        floor = llm.decode_floor_seconds(ctx.shape, bandwidth, ctx=float(r["batch_size"]) * float(r["context_len"]))
        assert float(r["value"]) / 1e3 >= floor, r
        checked += 1
    assert checked >= 30


def test_the_fitted_bandwidth_efficiency_is_no_more_than_a_plain_read_reaches(shipped: dict) -> None:
    """The Hopper figure was fitted on TensorRT-LLM rows; a read of 16 GiB on a real H200 is the
    ceiling any weight stream has, so the fitted figure may not exceed it."""
    reads = [c for c in shipped["ceilings"] if c["metric"].startswith("read_")]
    assert reads
    best = max(c["fraction_of_datasheet"] for c in reads)
    assert all(c["bandwidth_efficiency"] <= best * 1.01 for c in reads)


def test_dense_steps_of_moderate_size_come_within_fifteen_percent_of_the_h200(shipped: dict) -> None:
    """Where kernel launches no longer weigh (prefill, decode of 16 or more sequences), the step
    model with TensorRT-LLM's fitted figures times a real H200's dense forward within 15 %."""
    for group in ("prefill, dense", "decode, dense, batch >= 16"):
        g = shipped["groups"][group]
        assert g["rows"] >= 10
        assert 0.85 <= g["median_ratio"] <= 1.15, (group, g)


def test_validate_reports_the_measurements_apart_from_the_scores(shipped: dict) -> None:
    """Both files of own measurements (the forward passes here, the served load of
    test_device_serving.py), from one run of validate."""
    report = validate.run()
    assert report["device_serving"]["runs"] == device_serving.score()["runs"]
    dev = report["device_measurements"]
    assert dev["groups"] == shipped["groups"]
    assert dev["repeatability"]["pairs"] >= 50 and dev["repeatability"]["median"] < 0.05
    assert not any(p["file"] == device_rows.DEVICE_FILE.name for p in report["predictions"])
    assert device_rows.DEVICE_FILE.name not in validate.DEFAULT_FILES
    a_only = validate.run([validate.VALIDATION_DIR / "D_memory.csv"])
    assert "device_measurements" not in a_only  # the user's own files: only what they hold


def test_the_terminal_report_shows_the_groups_ceilings_curve_and_served_load() -> None:
    from typer.testing import CliRunner

    from deployscope.cli import app

    res = CliRunner().invoke(app, ["validate"], env={"COLUMNS": "220", "DEPLOYSCOPE_PLAN_PROCESSES": "0"})
    assert res.exit_code == 0, res.output
    assert "own measurements on a lent GPU (G_device_forward.csv)" in res.output
    assert "decode, dense, batch >= 16" in res.output and "read_16gib_tb_s" in res.output
    assert "measured in more than one run:" in res.output
    assert "the GEMM size curve" in res.output
    assert "a served load on a lent GPU (G_device_serving.json" in res.output


def test_validation_summary_adds_the_table() -> None:
    vs = load_script("validation_summary")
    report = {"heldout": {"by_class": {}}, "device_measurements": {
        "file": "G.csv", "groups": {"prefill, dense": {"rows": 16, "median_ratio": 1.02, "min_ratio": 0.84, "max_ratio": 1.29}}}}
    assert "| prefill, dense | 16 | 1.02 | 0.84 | 1.29 |" in vs.summary(report)
