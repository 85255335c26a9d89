"""scripts/validation_summary.py: the Markdown view of the held-out figures marks the groups that miss."""

from __future__ import annotations

from script_helpers import load_script

vs = load_script("validation_summary")


def _s(rows: int, med: float, p90: float, signed: float, cov: float = 1.0) -> dict[str, object]:
    return {"rows": rows, "scored": rows, "coverage": cov, "median_ape": med, "p90_ape": p90, "signed_median": signed}


def test_groups_of_ten_or_more_are_marked_by_the_targets_they_miss() -> None:
    report = {"heldout": {"by_class": {
        "throughput": {"all": _s(40, 0.07, 0.2, -0.02),
                       "engine": {"vllm": _s(12, 0.12, 0.3, 0.2), "sglang": _s(5, 0.5, 0.9, -0.5)}},
        "ttft": {"all": _s(20, 0.1, 0.5, 0.0, cov=0.8)},
    }}}
    text = vs.summary(report)
    lines = {ln.split("|")[1].strip(): ln for ln in text.splitlines() if ln.startswith("| ") and "group" not in ln}
    assert lines["engine: vllm"].rstrip().endswith("| median, p90, signed |")
    assert lines["engine: sglang"].rstrip().endswith("|  |")  # under ten rows: not judged
    assert "| coverage, p90 |" in text  # the TTFT row: 80 % covered, p90 50 %
    assert "**tpot**" not in text  # a class without rows is left out


def test_the_repeat_table_follows_the_class_tables() -> None:
    report = {"heldout": {"by_class": {"ttft": {"all": _s(20, 0.1, 0.3, 0.0)}}},
              "repeatability": {"ttft": {"configurations": 3, "rows": 7, "median_ape": 0.04, "p90_ape": 0.31,
                                         "model_median_ape": 0.2, "model_p90_ape": 0.6}}}
    text = vs.summary(report)
    assert text.index("**ttft**") < text.index("**repeat measurements**")
    assert "| ttft | 3 | 7 | 4.0 % | 31.0 % | 20.0 % | 60.0 % |" in text


def test_gpustack_bursts_sets_held_out_rows_beside_their_predictions() -> None:
    from deployscope import validate

    _, rows = validate.read_csv(validate.VALIDATION_DIR / "A_llm_inference.csv")
    burst = [i for i, r in enumerate(rows) if r["source_type"] == "GPUStack performance lab" and r["hardware"].startswith("H100")
             and r["output_len"] == "4.0" and r["metric"] == "output_throughput"]
    assert len(burst) >= 2
    a, b = burst[:2]

    def pred(i: int, measured: float, predicted: float, fitted: bool = False) -> dict[str, object]:
        return {"file": "A_llm_inference.csv", "index": i, "measured": measured, "predicted": predicted,
                "fitted_on": fitted, "metric_class": "throughput"}

    report = {"predictions": [pred(a, 100.0, 50.0), pred(b, 100.0, 25.0), pred(a, 100.0, 1.0, fitted=True),
                              {**pred(b, 1.0, 1.0), "file": "B_diffusion_inference.csv"}]}
    text = load_script("gpustack_bursts").table(report)
    # the median of 2.0 and 4.0; the fitted row and the other file left out
    assert "| H100 | burst | 128 in / 4 out | throughput | 2 | 3.00 | 2.00 - 4.00 |" in text
    assert text.count("\n") == 3
