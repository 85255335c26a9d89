"""How far repeated measurements of one configuration lie apart (validate's ``repeatability``)."""

from __future__ import annotations

import csv
import json

import pytest

from deployscope import validate
from deployscope.cli import main
from deployscope.validate import repeats

A = validate.VALIDATION_DIR / "A_llm_inference.csv"


def _a_throughput_row() -> dict[str, str]:
    with open(A, newline="", encoding="utf-8") as fh:
        return next(r for r in csv.DictReader(fh)
                    if r["source_type"].startswith("TensorRT-LLM perf-overview") and "throughput" in r["metric"])


@pytest.fixture()
def measured(tmp_path):
    """One configuration measured twice (another value, source and notes), and two rows that differ
    from it in one configuration column each."""
    r = _a_throughput_row()
    v = float(r["value"])
    rows = [
        r,
        {**r, "value": str(1.5 * v), "value_per_gpu": "", "source": "https://example.org/rerun", "notes": "measured again"},
        {**r, "value": str(3 * v), "input_len": str(float(r["input_len"]) * 2)},
        {**r, "value": str(3 * v), "hardware": "A100-SXM4-80GB"},
    ]
    path = tmp_path / "measured.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(r))
        w.writeheader()
        w.writerows(rows)
    return path


def test_only_rows_the_model_cannot_tell_apart_are_repeats(measured):
    rep = validate.run([measured])["repeatability"]
    assert set(rep) == {"throughput"}
    s = rep["throughput"]
    assert (s["configurations"], s["rows"]) == (1, 2)
    # each measurement as a prediction of the other: |1.5 - 1| and |1 / 1.5 - 1|
    assert s["median_ape"] == pytest.approx((0.5 + 1 / 3) / 2)
    assert s["p90_ape"] == pytest.approx(1 / 3 + 0.9 * (0.5 - 1 / 3))
    assert 0 <= s["model_median_ape"] <= s["model_p90_ape"]


def test_rows_with_no_prediction_or_measurement_are_not_compared():
    rows = [{"model": "m", "value": "1"}, {"model": "m", "value": "2"}, {"model": "m", "value": "3"}]
    preds = [{"file": "f.csv", "measured": 1.0, "predicted": None, "ape": None, "metric_class": "ttft"},
             {"file": "f.csv", "measured": None, "predicted": 2.0, "ape": None, "metric_class": "ttft"},
             {"file": "f.csv", "measured": 3.0, "predicted": 2.0, "ape": 0.33, "metric_class": "ttft"}]
    assert repeats.repeat_groups(rows, preds) == []
    assert repeats.spread([]) == {}


def test_the_same_configuration_with_different_predictions_is_not_a_repeat():
    """Engine flags and request counts live in the notes: the prediction tells such rows apart."""
    rows = [{"model": "m", "value": "1", "notes": "--max-num-seqs 64"}, {"model": "m", "value": "2", "notes": "--max-num-seqs 256"}]
    preds = [{"file": "f.csv", "measured": 1.0, "predicted": 1.1, "ape": 0.1, "metric_class": "throughput"},
             {"file": "f.csv", "measured": 2.0, "predicted": 2.2, "ape": 0.1, "metric_class": "throughput"}]
    assert repeats.repeat_groups(rows, preds) == []
    preds[1]["predicted"] = 1.1
    assert len(repeats.repeat_groups(rows, preds)) == 1


def test_cli_prints_and_emits_the_repeat_table(measured, capsys):
    assert main(["validate", "--data", str(measured)]) == 0
    out = capsys.readouterr().out
    assert "repeat measurements" in out and "41.7 %" in out
    assert main(["validate", "--data", str(measured), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["repeatability"]["throughput"]["rows"] == 2
