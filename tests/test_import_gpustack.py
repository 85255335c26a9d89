"""scripts/import_gpustack.py: the GPUStack performance-lab check rows come from the lab's pages,
offline and reproducibly. tests/data/gpustack_pages holds the pages the shipped rows were written
from (github.com/gpustack/gpustack docs/performance-lab at 47277d7, and the two Qwen3-32B pages at
10e9444 for the SGLang engine-choice rows), trimmed to the sections the importer reads."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml

from deployscope import validate
from script_helpers import check_writes_the_csv_whole_or_not_at_all, load_script, shipped_csv

gs = load_script("import_gpustack")

PAGES = Path(__file__).parent / "data" / "gpustack_pages"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _write(rows: list[dict[str, str]]) -> str:
    out = io.StringIO(newline="")
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


@pytest.fixture(scope="module")
def pages() -> dict:
    return gs.read_pages(PAGES)


def _page(pages: dict, path: str, commit: str = gs.PAGES_COMMIT):
    return pages[(commit, path)]


def _result(*lines: str) -> list[str]:
    return ["============ Serving Benchmark Result ============", *lines, "=" * 50]


_RUN = ("Successful requests:                     100", "Total input tokens:                      23260",
        "Total generated tokens:                  22061", "Output token throughput (tok/s):         496.88",
        "Mean TTFT (ms):                          64.00", "Mean TPOT (ms):                          7.38")


def test_the_shipped_rows_are_the_importers_output(pages) -> None:
    text = shipped_csv()
    assert gs.refresh(text, pages) == text  # a rerun changes nothing, byte for byte
    rows = _rows(text)
    assert sum(r["source_type"] == gs.SOURCE_TYPE for r in rows) == 200
    others = [r for r in rows if r["source_type"] != gs.SOURCE_TYPE]
    assert gs.refresh(_write(others), pages) == text  # the rows are rebuilt from the pages alone


def test_the_rows_sit_just_before_the_inferencex_tail(pages) -> None:
    rows = _rows(shipped_csv())
    kinds = [r["source_type"] for r in rows]
    first, last = kinds.index(gs.SOURCE_TYPE), len(kinds) - 1 - kinds[::-1].index(gs.SOURCE_TYPE)
    assert set(kinds[first:last + 1]) == {gs.SOURCE_TYPE}  # one block
    assert set(kinds[last + 1:]) == {gs.TAIL_SOURCE_TYPE}  # then the InferenceX tail, to the end
    # in a file without the tail the rows go at the end; the other rows stay as they were
    head = [r for r in rows if r["source_type"] not in (gs.SOURCE_TYPE, gs.TAIL_SOURCE_TYPE)]
    out = _rows(gs.refresh(_write(head), pages))
    assert out[:len(head)] == head and all(r["source_type"] == gs.SOURCE_TYPE for r in out[len(head):])


def test_the_inferencex_refresh_keeps_the_gpustack_rows() -> None:
    """scripts/import_inferencex.py rewrites the tail only: the GPUStack rows before it are kept."""
    ix = load_script("import_inferencex")
    import json

    records = json.loads((Path(__file__).parent / "data" / "inferencex_benchmarks_excerpt.json").read_text("utf-8"))
    assert ix.refresh(shipped_csv(), records) == shipped_csv()


def test_a_result_block_is_read_line_by_line() -> None:
    runs = gs.parse_result(["# random 4K input", *_result(*_RUN, "Maximum request concurrency:             4"),
                            "", "# random 2K input", *_result("Successful requests:                     500")])
    assert [label for label, _, _ in runs] == ["random 4K input", "random 2K input"]
    figs = runs[0][1]
    assert figs["Mean TTFT (ms)"] == "64.00" and figs["Total input tokens"] == "23260"
    assert figs["Maximum request concurrency"] == "4"
    assert runs[1][1] == {"Successful requests": "500"}
    # a block that prints an error in place of the table is one run with that error
    [(label, figs, err)] = gs.parse_result(["NotImplementedError: WFP4A16 MoE is unsupported on SM80."])
    assert figs == {} and err.startswith("NotImplementedError")


@pytest.mark.parametrize("cmd,expect", [
    ("vllm serve Qwen/Qwen3-32B", ("Qwen/Qwen3-32B", 1, False)),
    ("vllm serve Qwen/Qwen3-235B-A22B-Instruct-2507 -tp 8", ("Qwen/Qwen3-235B-A22B-Instruct-2507", 8, False)),
    ("python3 -m sglang.launch_server --model-path openai/gpt-oss-120b --host 0.0.0.0 --port 8000 --tp-size 8",
     ("openai/gpt-oss-120b", 8, False)),
    ("python3 -m sglang.launch_server --model deepseek-ai/DeepSeek-R1-0528 --tp 8 --enable-dp-attention",
     ("deepseek-ai/DeepSeek-R1-0528", 8, False)),
    ("trtllm-serve /workspace/DeepSeek-R1-0528 --tp_size 8 --ep_size 8", ("/workspace/DeepSeek-R1-0528", 8, True)),
    ("trtllm-serve openai/gpt-oss-120b --max_seq_len 32768 --ep_size 1", ("openai/gpt-oss-120b", 1, False)),
    ("vllm serve X -tp 8 --enable-expert-parallel", ("X", 8, True)),
])
def test_a_serving_command_gives_checkpoint_tp_and_expert_parallelism(cmd, expect) -> None:
    assert gs.parse_command(cmd) == expect


def test_engine_choice_and_baseline_runs_are_read_the_tuning_sections_are_not(pages) -> None:
    page = _page(pages, "qwen3-32b/h100")
    assert [(r.section, r.engine, r.dataset) for r in page.runs] == [
        ("1", "vLLM", "ShareGPT"), ("1", "SGLang", "ShareGPT"), ("1", "TensorRT-LLM", "ShareGPT"),
        ("other", "vLLM", "random 32K input"), ("other", "vLLM", "random 4K input"),
        ("other", "vLLM", "random 2K input"), ("other", "vLLM", "random 128 input")]
    assert all("FP8" not in r.command for r in page.runs)  # "2. Quantization" and the optimized runs
    assert page.engines == {"vLLM": "v0.11.0", "SGLang": "v0.5.5.post1", "TensorRT-LLM": "v1.2.0rc1"}
    assert page.num_prompts == {"sharegpt": 1000, "random": 500}


def test_runs_left_out_and_why(pages) -> None:
    a100 = _page(pages, "gpt-oss-20b/a100")
    why = {(r.section, r.engine): gs.left_out(a100, r) for r in a100.runs}
    assert why[("1", "vLLM")] is None
    assert why[("1", "TensorRT-LLM")].startswith("no result (NotImplementedError")  # an error, not a table
    assert "17x below vLLM" in why[("1", "SGLang")]  # by hand: LEFT_OUT
    sglang = next(r for r in a100.runs if r.engine == "SGLang")
    vllm = next(r for r in a100.runs if r.engine == "vLLM" and r.section == "1")
    ratio = float(vllm.figures["Output token throughput (tok/s)"]) / float(sglang.figures["Output token throughput (tok/s)"])
    assert 17 <= ratio < 18  # the reason's figure is the page's
    assert not any(r["framework"].startswith("SGLang") for run in gs.selected(a100) for r in gs.rows_for(a100, run))
    # the same engine on the H100 page is read
    h100 = _page(pages, "gpt-oss-20b/h100")
    assert any(r.engine == "SGLang" for r in gs.selected(h100))
    # DeepSeek-R1 on TensorRT-LLM ran with --ep_size 8: left out, the rows shard experts by TP
    r1 = _page(pages, "deepseek-r1/h200")
    trt = next(r for r in r1.runs if r.engine == "TensorRT-LLM")
    assert gs.left_out(r1, trt).startswith("expert parallelism")
    assert [r.engine for r in gs.selected(r1) if r.section == "1"] == ["vLLM", "SGLang"]
    # Qwen3-32B's SGLang runs come from the older pages only (the fitting rows)
    q = _page(pages, "qwen3-32b/h100")
    assert "10e9444" in gs.left_out(q, q.runs[1])
    old = _page(pages, "qwen3-32b/h100", gs.ENGINE_CHOICE_COMMIT)
    assert [(r.section, r.engine) for r in gs.selected(old)] == [("1", "SGLang")]


def test_a_repeated_run_is_read_once(pages) -> None:
    """Qwen3-8B's baseline BS=4 run is the engine-choice vLLM run printed again."""
    page = _page(pages, "qwen3-8b/h100-latency")
    bs4 = next(r for r in page.runs if r.dataset == "BS=4")
    assert any(r is not bs4 and r.figures == bs4.figures for r in page.runs)
    runs = gs.selected(page)
    assert bs4 not in runs
    assert [(r.engine, gs._concurrency(r)) for r in runs] == [
        ("vLLM", 4), ("SGLang", 4), ("TensorRT-LLM", 4), ("vLLM", 1), ("vLLM", 2), ("vLLM", 8)]


def test_an_absent_or_unreadable_figure_gives_no_row(pages) -> None:
    page = _page(pages, "qwen3-32b/h100")
    run = gs.selected(page)[0]
    assert [r["metric"] for r in gs.rows_for(page, run)] == ["output_throughput", "mean_ttft", "mean_tpot"]
    no_tpot = gs.Run(run.section, run.engine, run.command, run.dataset,
                     {k: v for k, v in run.figures.items() if k != "Mean TPOT (ms)"})
    assert [r["metric"] for r in gs.rows_for(page, no_tpot)] == ["output_throughput", "mean_ttft"]
    nan_ttft = gs.Run(run.section, run.engine, run.command, run.dataset, {**run.figures, "Mean TTFT (ms)": "N/A"})
    assert [r["metric"] for r in gs.rows_for(page, nan_ttft)] == ["output_throughput", "mean_tpot"]
    for bad in ("nan", "inf"):
        assert gs.figure(gs.Run("1", "vLLM", "", "", {"x": bad}), "x") is None
    # without its request count or token totals a run gives no row at all
    no_totals = gs.Run(run.section, run.engine, run.command, run.dataset,
                       {k: v for k, v in run.figures.items() if k != "Total generated tokens"})
    assert "Total generated tokens" in gs.left_out(page, no_totals)


def test_units_lengths_and_figures(pages) -> None:
    page = _page(pages, "qwen3-235b-a22b/h100")
    run = gs.selected(page)[0]  # vLLM -tp 8, 984 of 1000 requests completed
    rows = {r["metric"]: r for r in gs.rows_for(page, run)}
    thr = rows["output_throughput"]
    assert (thr["value"], thr["value_per_gpu"], thr["gpu_count"], thr["tp"]) == ("4015.36", "501.92", "8", "8")
    assert thr["system"] == "8 x H100-SXM-80GB" and thr["model"] == "Qwen3-235B-A22B"
    # lengths: totals over successful requests, to 0.1 token (212894 / 984, 193865 / 984)
    assert (thr["input_len"], thr["output_len"]) == ("216.4", "197.0")
    assert thr["notes"].startswith("984 requests completed (1000 sent); ShareGPT")
    assert "experts sharded by tensor parallelism" in thr["notes"] and "read as Qwen3-235B-A22B" in thr["notes"]
    assert rows["mean_ttft"]["value"] == "8730.69" and rows["mean_ttft"]["unit"] == "ms"
    # a figure as printed, trailing zeros dropped (one kept)
    assert gs.figure(gs.Run("1", "vLLM", "", "", {"x": "115690.30"}), "x") == "115690.3"
    assert gs.figure(gs.Run("1", "vLLM", "", "", {"x": "10412.75"}), "x") == "10412.75"
    assert gs.figure(gs.Run("1", "vLLM", "", "", {"x": "91.00"}), "x") == "91.0"


def test_length_kind_and_arrival(pages) -> None:
    page = _page(pages, "qwen3-32b/h100")
    by_dataset = {r.dataset: gs.rows_for(page, r)[0] for r in gs.selected(page)}
    assert by_dataset["ShareGPT"]["length_kind"] == "dataset (variable)"
    # 32K input, 100 output: 76.8 generated on average, requests ended at EOS
    assert by_dataset["random 32K input"]["output_len"] == "76.8"
    assert by_dataset["random 32K input"]["length_kind"].startswith("fixed input; output = measured mean")
    assert by_dataset["random 2K input"]["output_len"] == "100.0" and by_dataset["random 2K input"]["length_kind"] == "fixed"
    assert by_dataset["random 32K input"]["notes"].startswith("100 requests completed (100 sent); vllm bench random")
    assert "all requests sent at once" in by_dataset["ShareGPT"]["notes"]
    assert by_dataset["ShareGPT"]["scenario"] == "online serving, request rate QPS=INF"
    lat = _page(pages, "qwen3-8b/h100-latency")
    row = gs.rows_for(lat, gs.selected(lat)[3])[0]
    assert row["scenario"] == "online serving, concurrency=1" and "closed loop of 1 clients" in row["notes"]
    # a context cap is named as not modelled
    oss = _page(pages, "gpt-oss-120b/h100")
    notes = gs.rows_for(oss, gs.selected(oss)[0])[0]["notes"]
    assert "--max-model-len 32768" in notes and notes.endswith("caps the context only (not modeled)")


def test_engine_choice_rows_are_the_ones_the_fitting_split_names(pages) -> None:
    split = yaml.safe_load((validate.VALIDATION_DIR / "fitting_split.yaml").read_text("utf-8"))
    text = yaml.safe_dump(split)
    for path, hw in (("qwen3-32b/h100", "H100-SXM-80GB"), ("qwen3-32b/a100", "A100-80GB")):
        page = _page(pages, path, gs.ENGINE_CHOICE_COMMIT)
        rows = gs.rows_for(page, gs.selected(page)[0])
        assert [r["metric"] for r in rows] == ["output_throughput", "mean_ttft", "p99_ttft", "mean_tpot"]
        assert {r["round_or_version"] for r in rows} == {f"{path} SGLang engine choice"}
        assert {r["hardware"] for r in rows} == {hw} and {r["framework"] for r in rows} == {"SGLang v0.5.5.post1"}
        assert f'hardware: "{page.hardware_text}"' in rows[0]["notes"]
    assert "GPUStack performance lab|qwen3-32b/h100 SGLang engine choice" in text


def test_a_page_without_a_header_is_read_at_the_pinned_commit(pages, tmp_path) -> None:
    src = (PAGES / "47277d7" / "qwen3-8b" / "h100-latency.md").read_text("utf-8")
    body = src.split("-->", 1)[1]
    page = gs.read_page(body, "x.md", "qwen3-8b/h100-latency")
    assert (page.commit, page.path) == (gs.PAGES_COMMIT, "qwen3-8b/h100-latency")
    assert page.runs == _page(pages, "qwen3-8b/h100-latency").runs
    with pytest.raises(gs.BadPage, match="Hardware"):
        gs.read_page(body.replace("### Hardware", "### Hw"), "x.md", "p")


def test_cli_reports_bad_input(tmp_path, capsys) -> None:
    assert gs.main([str(tmp_path / "nope"), "--dry-run"]) == 2
    assert "not a directory" in capsys.readouterr().err
    (tmp_path / "deepseek-r1").mkdir()
    (tmp_path / "deepseek-r1" / "h200.md").write_text(
        (PAGES / "47277d7" / "deepseek-r1" / "h200.md").read_text("utf-8"), encoding="utf-8")
    assert gs.main([str(tmp_path), "--dry-run"]) == 2
    assert "pages missing: 47277d7:qwen3-32b/h100" in capsys.readouterr().err
    assert gs.main([str(PAGES), "--dry-run"]) == 0
    assert "12 pages, 200 rows" in capsys.readouterr().out


def test_cli_writes_the_csv_whole_or_not_at_all(tmp_path, monkeypatch, capsys) -> None:
    check_writes_the_csv_whole_or_not_at_all(gs, PAGES, tmp_path, monkeypatch, capsys)
