"""scripts/import_inferencex.py: the SemiAnalysis InferenceX check rows come from the dashboard's
benchmark records, offline and reproducibly. The test file holds the records the shipped rows were
written from (the fields the importer reads, copied from InferenceX-app
packages/app/cypress/fixtures/api/benchmarks.json @ 3a600f1d), plus records the selection leaves out."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from script_helpers import check_writes_the_csv_whole_or_not_at_all, load_script, shipped_csv

ix = load_script("import_inferencex")

EXCERPT = Path(__file__).parent / "data" / "inferencex_benchmarks_excerpt.json"


def test_the_shipped_rows_are_the_importers_output() -> None:
    text = shipped_csv()
    records = json.loads(EXCERPT.read_text(encoding="utf-8"))
    assert ix.refresh(text, records) == text  # a rerun changes nothing, byte for byte
    others = [r for r in csv.DictReader(io.StringIO(text, newline="")) if r["source_type"] != ix.SOURCE_TYPE]
    out = io.StringIO(newline="")
    w = csv.DictWriter(out, fieldnames=list(others[0]), lineterminator="\r\n")
    w.writeheader()
    w.writerows(others)
    assert ix.refresh(out.getvalue(), records) == text  # the rows are rebuilt from the records alone


def test_selection_keeps_what_the_harness_reads() -> None:
    records = json.loads(EXCERPT.read_text(encoding="utf-8"))
    picked = ix.select(records)
    assert picked and len(picked) < len(records)
    for r in picked:
        assert not (r["is_multinode"] or r["disagg"] or r["decode_dp_attention"]) and r["spec_method"] == "none"
        assert (r["isl"], r["osl"]) in ix.LENGTHS and r["conc"] in ix.CONCURRENCIES
    left_out = [r for r in records if r not in picked]
    assert any(r["decode_dp_attention"] for r in left_out)
    assert any(r["disagg"] for r in left_out)
    assert any(r["osl"] == 8192 for r in left_out) and any(r["conc"] == 8 for r in left_out)


def test_newest_record_per_configuration_wins() -> None:
    rec = json.loads(EXCERPT.read_text(encoding="utf-8"))[0]
    older = {**rec, "date": "2025-01-01", "metrics": {**rec["metrics"], "mean_ttft": 9.0}}
    assert ix.select([older, rec]) == [rec] == ix.select([rec, older])


def test_units_and_lengths() -> None:
    rec = json.loads(EXCERPT.read_text(encoding="utf-8"))[0]  # MI355X, 4 GPUs, 1k/1k, 4 clients
    rows = {r["metric"]: r for r in ix.rows_for(rec)}
    assert rows["mean_ttft"]["value"] == repr(round(rec["metrics"]["mean_ttft"] * 1000, 4))
    assert rows["mean_ttft"]["unit"] == rows["mean_tpot"]["unit"] == rows["p99_ttft"]["unit"] == "ms"
    # the record's median and 99th percentile (0.1074 s and 0.5354 s) as rows of their own
    assert rows["median_ttft"]["value"] == "107.3826" and rows["p99_ttft"]["value"] == "535.3527"
    thr = rows["output_throughput"]
    assert thr["value_per_gpu"] == repr(round(rec["metrics"]["output_tput_per_gpu"], 4))
    assert float(thr["value"]) == round(rec["metrics"]["output_tput_per_gpu"] * 4, 4)
    assert (thr["input_len"], thr["output_len"]) == ("921.5", "921.5")  # uniform over [819, 1024]
    assert ix.mean_length(8192) == 7372.5
    assert thr["notes"].startswith("40 requests")
    no_output = {**rec, "metrics": {k: v for k, v in rec["metrics"].items() if k != "output_tput_per_gpu"}}
    assert [r["metric"] for r in ix.rows_for(no_output)] == ["mean_ttft", "median_ttft", "p99_ttft", "mean_tpot"]
    means_only = {**rec, "metrics": {k: v for k, v in rec["metrics"].items() if k not in ("median_ttft", "p99_ttft")}}
    assert [r["metric"] for r in ix.rows_for(means_only)] == ["output_throughput", "mean_ttft", "mean_tpot"]


def test_trtllm_rows_name_the_container_not_a_perf_overview_release() -> None:
    recs = [r for r in ix.select(json.loads(EXCERPT.read_text(encoding="utf-8"))) if r["framework"] == "trt"]
    assert recs
    for r in recs:
        for row in ix.rows_for(r):
            assert "TensorRT-LLM 1." not in " ".join(row.values())


def test_cli_reports_a_bad_file(tmp_path, capsys) -> None:
    bad = tmp_path / "b.json"
    bad.write_text("{", encoding="utf-8")
    assert ix.main([str(bad), "--dry-run"]) == 2
    assert "b.json" in capsys.readouterr().err
    bad.write_text("{}", encoding="utf-8")
    assert ix.main([str(bad), "--dry-run"]) == 2
    assert "a JSON list" in capsys.readouterr().err
    rec = json.loads(EXCERPT.read_text(encoding="utf-8"))[0]
    bad.write_text(json.dumps([rec, {k: v for k, v in rec.items() if k != "conc"}]), encoding="utf-8")
    assert ix.main([str(bad), "--dry-run"]) == 2
    assert "record 1 has no field 'conc'" in capsys.readouterr().err


def _as(rec: dict, **kw) -> dict:
    tp, ep = kw.pop("tp", rec["decode_tp"]), kw.pop("ep", rec["decode_ep"])
    return {**rec, "decode_tp": tp, "prefill_tp": tp, "decode_ep": ep, "prefill_ep": ep, **kw}


def test_every_launch_configuration_states_flags_the_harness_reads() -> None:
    """Each configuration in the launch table gives engine settings the validation harness parses
    for the row's engine, and names its launch script at the pinned commit."""
    from deployscope.validate.llm_rows import engine_of
    from deployscope.validate.server_flags import parse

    rec = json.loads(EXCERPT.read_text(encoding="utf-8"))[0]
    for model, fw, prec, hw in ix.LAUNCH:
        r = _as(rec, model=model, framework=fw, precision=prec, hardware=hw, image=None)
        assert ix.select([r]) == [r], (model, fw, prec, hw)
        rows = ix.rows_for(r)
        notes = rows[0]["notes"]
        commit = ix.LLAMA_COMMIT if model == "70b" else ix.CLIENT_COMMIT
        assert f"{ix.LAUNCH[(model, fw, prec, hw)][0]} @ {commit[:7]}" in notes
        assert parse(notes, engine_of(rows[0]["framework"]))


def test_launch_flags_follow_the_record_and_its_date() -> None:
    from deployscope.validate.server_flags import parse

    rec = json.loads(EXCERPT.read_text(encoding="utf-8"))[0]

    def settings(**kw) -> dict:
        return dict(parse(ix.rows_for(_as(rec, **kw))[0]["notes"], "trtllm" if kw.get("framework") == "trt" else "sglang"))

    h200_trt = {"model": "dsr1", "framework": "trt", "precision": "fp8", "hardware": "h200", "tp": 8, "ep": 8}
    # (CONC + ISL + 127) // 64 x 64, raised to at least 8,192 from 2026-01-21 (64af5a7)
    assert settings(**h200_trt, isl=1024, conc=16, date="2025-12-15")["max_num_tokens"] == 1152
    assert settings(**h200_trt, isl=1024, conc=16, date="2026-02-01")["max_num_tokens"] == 8192
    assert settings(**h200_trt, isl=8192, conc=64, date="2025-12-15")["max_num_tokens"] == 8320
    assert settings(**h200_trt, isl=1024, conc=16, date="2025-12-15")["free_gpu_memory_fraction"] == 0.75
    b200_fp8 = {"model": "dsr1", "framework": "trt", "precision": "fp8", "hardware": "b200", "tp": 4, "ep": 4, "isl": 8192}
    assert settings(**b200_fp8, date="2025-12-15")["free_gpu_memory_fraction"] == 0.8
    assert settings(**b200_fp8, date="2026-02-01")["free_gpu_memory_fraction"] == 0.75  # ec7bafa (#594)
    mi355x = {"model": "dsr1", "framework": "sglang", "precision": "fp4", "hardware": "mi355x", "tp": 8, "ep": 1}
    assert settings(**mi355x, isl=8192, osl=1024, conc=64)["chunked_prefill_size"] == 32768
    assert settings(**mi355x, isl=8192, osl=1024, conc=16)["chunked_prefill_size"] == 196608
    h200_sgl = {"model": "dsr1", "framework": "sglang", "precision": "fp8", "hardware": "h200", "tp": 8, "ep": 1}
    assert settings(**h200_sgl, isl=1024, osl=1024)["max_running_requests"] == 512
    assert settings(**h200_sgl, isl=8192, osl=1024)["max_running_requests"] == 256


def test_a_configuration_without_launch_flags_is_left_out() -> None:
    """A configuration whose formats are known but whose launch script is not read (H200 SGLang FP4) is not imported."""
    rec = json.loads(EXCERPT.read_text(encoding="utf-8"))[0]
    assert ix.select([_as(rec, model="dsr1", framework="sglang", precision="fp4", hardware="h200", tp=8, ep=1)]) == []


def test_a_record_outside_its_launch_flags_window_is_left_out() -> None:
    """Records dated where the launch script's flags are not known (FLAGS_KNOWN) are not imported,
    and the newest record inside the window is kept over a newer one outside it."""
    rec = json.loads(EXCERPT.read_text(encoding="utf-8"))[0]  # MI355X SGLang MXFP4: flags known 2025-10-02 .. 2026-03-25
    start, end = ix.FLAGS_KNOWN[(rec["model"], rec["framework"], rec["precision"], rec["hardware"])]
    assert start <= rec["date"] <= end
    before = {**rec, "date": "2025-10-01"}
    after = {**rec, "date": "2026-03-26", "metrics": {**rec["metrics"], "mean_ttft": 9.0}}
    assert ix.select([before]) == [] and ix.select([after]) == []
    assert ix.select([after, rec]) == [rec]


def test_a_record_without_its_image_takes_the_workflows_and_says_so() -> None:
    """Records that carry no engine image take the one InferenceX's workflow set for their job on
    their date, and the notes say where it comes from; outside the table's dates it stays unknown."""
    recs = ix.select(json.loads(EXCERPT.read_text(encoding="utf-8")))
    bare = [r for r in recs if not r.get("image")]
    assert {(r["framework"], r["hardware"]) for r in bare} == {("trt", "b200"), ("trt", "h200"), ("sglang", "mi355x")}
    for r in bare:
        row = ix.rows_for(r)[0]
        assert "not recorded" not in row["framework"] and "not in the record: the image InferenceX" in row["notes"]
        if r["framework"] == "trt":
            assert row["framework"] == "TensorRT-LLM trtllm-serve (container release:1.1.0rc2.post2)"
        else:  # a dev build: the release is read from inside the tag
            assert row["framework"].startswith("SGLang 0.5.2 (rocm/7.0:")
    later = dict(bare[0], date="2026-06-01")
    assert ix.image_of(later) == (None, None)
    assert "not recorded in the record" in ix.rows_for(later)[0]["framework"]
    # a recorded image is used as it is
    tagged = next(r for r in recs if r.get("image"))
    assert ix.image_of(tagged) == (tagged["image"], None)


def test_cli_writes_the_csv_whole_or_not_at_all(tmp_path, monkeypatch, capsys) -> None:
    check_writes_the_csv_whole_or_not_at_all(ix, EXCERPT, tmp_path, monkeypatch, capsys)
