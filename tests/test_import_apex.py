"""scripts/import_apex.py: the APEX+ vLLM check rows come from the result files of a checkout of
github.com/microsoft/apex_plus, offline and reproducibly. The checkout is not shipped: these tests
build one of the same shape, and hold the shipped rows to what the importer writes from such files."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from script_helpers import load_script, shipped_csv

ap = load_script("import_apex")


def _result(n: int, prompt: int, output: int, ttft: float, tpot: float, trace: str = "lmsys_05") -> str:
    # the shape vllm/trace.py writes: a header, one line per request (the first cut short where the
    # script reopened the file), the token sums and the /metrics figures
    lines = [f"Trace file: ../traces/llama/{trace}.jsonl", "3f2a, prompt difference = 0, output_len_diff = 0"]
    lines += [f"Request: {i:040x}, prompt difference = 0, output_len_diff = -3" for i in range(n - 1)]
    lines += ["Trace file prompt length sum: 1", "Trace file output length sum: 1",
              f"vLLm prompt length sum: {prompt}", f"vLLm output len sum: {output}",
              "Total prompt len difference(vLLm - trace): 0", "Total output len difference(vLLm - trace): 0",
              f"vLLM TTFT: {ttft} ", f"vLLM TPOT: {tpot} ", "vLLM Total Latency: 1.0 "]
    return "\n".join(lines) + "\n"


def _checkout(tmp_path: Path, empty: tuple[str, ...] = ()) -> Path:
    root = tmp_path / "apex_plus"
    (root / "vllm" / "results").mkdir(parents=True)
    for script, _servers, _tp in ap.LAYOUTS.values():
        (root / "vllm" / script).write_text("# launch script\n")
    for layout, (_script, servers, _tp) in ap.LAYOUTS.items():
        for workload in ap.WORKLOADS:
            for rate in ap.RATES:
                for k in range(servers):
                    name = ap.result_name(workload, rate, layout, k)
                    text = "" if name in empty else _result(100, 100 * 300, 100 * 200, 0.05, 0.0198)
                    (root / "vllm" / "results" / name).write_text(text)
    return root


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_one_ttft_and_one_itl_row_per_server(tmp_path: Path) -> None:
    rows = ap.all_rows(_checkout(tmp_path))
    servers = sum(s for _script, s, _tp in ap.LAYOUTS.values()) * len(ap.WORKLOADS) * len(ap.RATES)
    assert len(rows) == 2 * servers
    assert [r["metric"] for r in rows[:2]] == ["mean_ttft", "mean_itl"]
    tp8, tp2 = rows[0], rows[-1]
    assert (tp8["tp"], tp8["gpu_count"], tp8["scenario"]) == ("8", "8", "online serving, request rate QPS=0.5")
    assert (tp2["tp"], tp2["scenario"]) == ("2", "online serving, request rate QPS=0.0625")  # 0.25 over 4 servers
    assert tp8["input_len"] == "300" and tp8["output_len"] == "200" and tp8["length_kind"] == "dataset (variable)"
    assert tp8["value"] == "50" and tp8["unit"] == "ms"
    # the decode-step sum over generated tokens minus requests: 19.8 ms x 20,000 / 19,900
    assert float(rows[1]["value"]) == pytest.approx(19.8 * 20_000 / 19_900, abs=1e-4)
    assert "100 requests" in tp8["notes"] and "engine settings: gpu_memory_utilization=0.97;" in tp8["notes"]
    assert all(r["framework"] == "vLLM 0.6.0" and r["hardware"] == "H100-SXM-80GB" for r in rows)


def test_an_empty_result_file_gives_no_row(tmp_path: Path) -> None:
    empty = ap.result_name("creation", "025", "4DP2TP", 0)
    full = ap.all_rows(_checkout(tmp_path / "a"))
    rows = ap.all_rows(_checkout(tmp_path / "b", empty=(empty,)))
    assert len(rows) == len(full) - 2 and not any(r["source"].endswith(empty) for r in rows)


@pytest.mark.parametrize(("text", "message"), [
    (_result(10, 100, 200, 0.05, 0.02).replace("vLLM TTFT", "TTFT"), "'vLLM TTFT'"),
    (_result(10, 100, 5, 0.05, 0.02), "5 generated tokens for 10 requests"),
    ("Trace file: x\nvLLm prompt length sum: 1\nvLLm output len sum: 9\nvLLM TTFT: 1\nvLLM TPOT: 1\n", "no per-request line"),
])
def test_a_result_file_of_another_shape_is_an_error_naming_it(text: str, message: str) -> None:
    with pytest.raises(ap.BadResult, match=re.escape(message)):
        ap.read_result(text, "vllm/results/x.txt")


def test_cli_reports_bad_input_and_leaves_the_csv_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_copy = tmp_path / "A.csv"
    csv_copy.write_text(shipped_csv(), newline="")
    before = csv_copy.read_bytes()
    assert ap.main([str(tmp_path / "nowhere"), "--csv", str(csv_copy)]) == 2
    assert "not a directory" in capsys.readouterr().err
    root = _checkout(tmp_path)
    (root / "vllm" / "2DP4TP.sh").unlink()
    assert ap.main([str(root), "--csv", str(csv_copy)]) == 2
    assert "no launch script vllm/2DP4TP.sh" in capsys.readouterr().err
    assert csv_copy.read_bytes() == before


def test_a_refresh_replaces_the_family_before_the_gpustack_rows_and_is_idempotent(tmp_path: Path) -> None:
    rows = ap.all_rows(_checkout(tmp_path))
    once = ap.refresh(shipped_csv(), rows)
    assert ap.refresh(once, rows) == once
    out = _rows(once)
    kinds = [r["source_type"] for r in out]
    anchor = kinds.index(ap.ANCHORS[0])
    family = [i for i, k in enumerate(kinds) if k == ap.SOURCE_TYPE]
    assert family == list(range(anchor - len(rows), anchor))
    others = [r for r in _rows(shipped_csv()) if r["source_type"] != ap.SOURCE_TYPE]
    assert [r for r in out if r["source_type"] != ap.SOURCE_TYPE] == others


def test_the_shipped_rows_hold_the_importers_arithmetic() -> None:
    shipped = [r for r in _rows(shipped_csv()) if r["source_type"] == ap.SOURCE_TYPE]
    assert len(shipped) == 82  # 41 servers: one result file of the 42 is empty in the repository
    for ttft, itl in zip(shipped[::2], shipped[1::2]):
        assert (ttft["metric"], itl["metric"]) == ("mean_ttft", "mean_itl") and ttft["source"] == itl["source"]
        n = int(re.match(r"(\d+) requests", itl["notes"]).group(1))
        g = float(itl["output_len"]) * n
        printed = float(re.search(r"the file prints the sum over generated tokens \(([0-9.]+) ms\)", itl["notes"]).group(1))
        assert float(itl["value"]) == pytest.approx(printed * g / (g - n), rel=1e-3)
        layout = re.search(r"_validation_(\w+?)(?:_\d)?\.txt$", itl["source"]).group(1)
        servers = ap.LAYOUTS[layout][1]
        rate = re.search(r"trace \w+_(05|025) ", itl["notes"]).group(1)
        assert itl["scenario"] == f"online serving, request rate QPS={ap._fmt(ap.RATES[rate] / servers)}"
