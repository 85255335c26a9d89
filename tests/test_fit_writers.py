"""The fit scripts' writers edit catalog files in place: a rerun with the same figures changes no
byte, and new figures change only their own lines (order and comments kept)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

from deployscope.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent


def _fit_perf(tmp_path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("fit_perf_under_test", ROOT / "scripts" / "fit_perf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shutil.copy(module.DATA / "engines.yaml", tmp_path / "engines.yaml")
    module.DATA = tmp_path  # write into the copy, never the shipped catalog
    return module


def _fit_figures(tmp_path: Path) -> ModuleType:
    """scripts/fit_figures.py (the one-figure fits and their writers), writing into copies."""
    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location("fit_figures_under_test", ROOT / "scripts" / "fit_figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("engines.yaml", "efficiency.yaml"):
        shutil.copy(module.DATA / name, tmp_path / name)
    module.DATA = tmp_path  # write into the copies, never the shipped catalog
    return module


def _fitted_figures(module: ModuleType) -> dict[str, float]:
    perf = Catalog().engines.get(module.ENGINE).perf
    return {"step_s": perf.step_overhead_s, "layer_s": perf.layer_overhead_s,
            "prefill_layer_s": perf.prefill_layer_overhead_s, "request_s": perf.request_overhead_s}


def _fitted_on(module: ModuleType) -> list[str]:
    return list(Catalog().engines.get(module.ENGINE).perf.fitted_on)


def test_fitted_on_names_the_sources_of_the_rows_fitted() -> None:
    spec = importlib.util.spec_from_file_location("fit_perf_sources", ROOT / "scripts" / "fit_perf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = [{"source_type": "MLPerf Inference", "round_or_version": "v4.1"},
            {"source_type": "TensorRT-LLM perf-overview", "round_or_version": "v0.9.0"},
            {"source_type": "MLPerf Inference", "round_or_version": "v4.1"}]
    assert module.fitted_sources(rows) == ["MLPerf Inference|v4.1", "TensorRT-LLM perf-overview|v0.9.0"]


def test_rewriting_the_shipped_overheads_changes_no_byte(tmp_path: Path) -> None:
    module = _fit_perf(tmp_path)
    before = (tmp_path / "engines.yaml").read_text(encoding="utf-8")
    module.write_engine_overheads(_fitted_figures(module), _fitted_on(module))
    assert (tmp_path / "engines.yaml").read_text(encoding="utf-8") == before


def test_new_overheads_change_only_their_own_lines(tmp_path: Path) -> None:
    module = _fit_perf(tmp_path)
    before = (tmp_path / "engines.yaml").read_text(encoding="utf-8").splitlines()
    vals = _fitted_figures(module) | {"step_s": 2.5e-05, "request_s": 4.5e-05, "layer_s": 3.0e-05}
    module.write_engine_overheads(vals, _fitted_on(module))
    after = (tmp_path / "engines.yaml").read_text(encoding="utf-8").splitlines()
    assert len(after) == len(before)
    changed = {(b.strip().split(":")[0], a.strip()) for b, a in zip(before, after) if a != b}
    keys = {k for k, _ in changed}
    assert keys == {"step_overhead_s", "request_overhead_s", "layer_overhead_s"}
    # every engine carries the step and request figures; only the fitted engine takes its layer cost
    assert sum(1 for k, _ in changed if k == "layer_overhead_s") == 1
    assert ("layer_overhead_s", "layer_overhead_s: 3e-05") in changed
    fresh = Catalog(tmp_path)
    assert all(e.perf.request_overhead_s == 4.5e-05 for e in fresh.engines if e.perf.step_overhead_s)


def test_prefill_mla_writer_changes_only_the_engines_two_lines(tmp_path: Path) -> None:
    module = _fit_figures(tmp_path)
    path = tmp_path / "engines.yaml"
    before = path.read_text(encoding="utf-8")
    perf = Catalog().engines.get("sglang").perf
    module.write_engine_figure("sglang", "prefill_mla_layer_overhead_s", "prefill_mla_fitted_on", perf.prefill_mla_layer_overhead_s, list(perf.prefill_mla_fitted_on))
    assert path.read_text(encoding="utf-8") == before  # the shipped figure: no byte changes
    module.write_engine_figure("sglang", "prefill_mla_layer_overhead_s", "prefill_mla_fitted_on", 0.0042, ["A|v1|M|G"])
    old, new = before.splitlines(), path.read_text(encoding="utf-8").splitlines()
    assert len(new) == len(old)
    assert {(a.strip()) for b, a in zip(old, new) if a != b} == {"prefill_mla_layer_overhead_s: 0.0042",
                                                                 "prefill_mla_fitted_on: ['A|v1|M|G']"}
    fresh = Catalog(tmp_path)
    assert fresh.engines.get("sglang").perf.prefill_mla_layer_overhead_s == 0.0042
    assert fresh.engines.get("trtllm").perf == Catalog().engines.get("trtllm").perf


def test_per_layer_writers_rewrite_their_own_lines_only(tmp_path: Path) -> None:
    """The engine's and an efficiency row's per-layer writers: the shipped figures change no byte,
    new ones change only the figure and its fitting rows."""
    module = _fit_figures(tmp_path)
    cat = Catalog()
    sg = cat.engines.get("sglang").perf
    row = next(e for e in cat.efficiency if e.id == "cdna3-sglang-fp8")
    before = {f: (tmp_path / f).read_text(encoding="utf-8") for f in ("engines.yaml", "efficiency.yaml")}
    module.write_engine_figure("sglang", "layer_overhead_s", "layer_batch_fitted_on", sg.layer_overhead_s, list(sg.layer_batch_fitted_on))
    module.write_family_figure("cdna3-sglang-fp8", "layer_overhead_s", row.layer_overhead_s, list(row.fitted_on))
    assert {f: (tmp_path / f).read_text(encoding="utf-8") for f in before} == before
    module.write_engine_figure("sglang", "layer_overhead_s", "layer_batch_fitted_on", 7e-05, ["A|v|M|G"])
    module.write_family_figure("cdna3-sglang-fp8", "layer_overhead_s", 0.0005, ["B|v|M|G"])
    for f, want in (("engines.yaml", {"layer_overhead_s: 7e-05", "layer_batch_fitted_on: ['A|v|M|G']"}),
                    ("efficiency.yaml", {"layer_overhead_s: 0.0005", "fitted_on: ['B|v|M|G']"})):
        old, new = before[f].splitlines(), (tmp_path / f).read_text(encoding="utf-8").splitlines()
        assert len(new) == len(old) and {a.strip() for b, a in zip(old, new) if a != b} == want, f
    fresh = Catalog(tmp_path)
    assert fresh.engines.get("sglang").perf.layer_overhead_s == 7e-05
    assert fresh.engines.get("vllm").perf == cat.engines.get("vllm").perf
    assert next(e for e in fresh.efficiency if e.id == "cdna3-sglang-fp8").layer_overhead_s == 0.0005


def test_a_family_figure_on_a_row_without_fitting_rows_gets_them_after_the_figure(tmp_path: Path) -> None:
    """A row whose fitted_on is not written yet (a first fit) gets it just after the figure, and
    nothing else of the file moves."""
    module = _fit_figures(tmp_path)
    path = tmp_path / "efficiency.yaml"
    text = path.read_text(encoding="utf-8")
    row = next(e for e in Catalog().efficiency if e.id == "hopper-vllm-bf16")
    fitted_line = f"  fitted_on: {module._listed(list(row.fitted_on))}\n"
    assert fitted_line in text
    path.write_text(text.replace(fitted_line, "", 1), encoding="utf-8")
    module.write_family_figure("hopper-vllm-bf16", "layer_overhead_s", row.layer_overhead_s, list(row.fitted_on))
    assert path.read_text(encoding="utf-8") == text


def test_first_wave_writer_rewrites_or_adds_only_its_two_lines(tmp_path: Path) -> None:
    """SGLang's shipped figure changes no byte; a new one changes only its two lines; an engine
    without the figure (vLLM) gets both lines after its request_overhead_s, nothing else moved."""
    module = _fit_figures(tmp_path)
    path = tmp_path / "engines.yaml"
    cat = Catalog()
    before = path.read_text(encoding="utf-8")
    sg = cat.engines.get("sglang").perf
    module.write_engine_figure("sglang", "first_wave_delay_s", "first_wave_fitted_on", sg.first_wave_delay_s, list(sg.first_wave_fitted_on), after="request_overhead_s")
    assert path.read_text(encoding="utf-8") == before
    module.write_engine_figure("sglang", "first_wave_delay_s", "first_wave_fitted_on", 1.25, ["A|v|M|G"], after="request_overhead_s")
    old, new = before.splitlines(), path.read_text(encoding="utf-8").splitlines()
    assert len(new) == len(old)
    assert {a.strip() for b, a in zip(old, new) if a != b} == {"first_wave_delay_s: 1.25", "first_wave_fitted_on: ['A|v|M|G']"}
    module.write_engine_figure("vllm", "first_wave_delay_s", "first_wave_fitted_on", 0.5, ["B|v|M|G"], after="request_overhead_s")
    added = path.read_text(encoding="utf-8").splitlines()
    assert len(added) == len(new) + 2
    i = added.index("    first_wave_delay_s: 0.5")
    assert added[i - 1].startswith("    request_overhead_s: ") and added[i + 1] == "    first_wave_fitted_on: ['B|v|M|G']"
    fresh = Catalog(tmp_path)
    assert fresh.engines.get("vllm").perf.first_wave_delay_s == 0.5
    assert fresh.engines.get("sglang").perf.first_wave_delay_s == 1.25
    assert fresh.engines.get("trtllm").perf == cat.engines.get("trtllm").perf


def test_family_wait_writer_adds_or_rewrites_only_its_line(tmp_path: Path) -> None:
    """An efficiency row's first-wave wait: the shipped figure changes no byte; a new one changes
    only its line and the row's fitting rows; a row without one gets it after its per-layer time."""
    module = _fit_figures(tmp_path)
    path = tmp_path / "efficiency.yaml"
    row = next(e for e in Catalog().efficiency if e.id == "cdna3-sglang-fp8")
    before = path.read_text(encoding="utf-8")
    module.write_family_figure("cdna3-sglang-fp8", "first_wave_delay_s", row.first_wave_delay_s, list(row.fitted_on))
    assert path.read_text(encoding="utf-8") == before
    module.write_family_figure("cdna3-sglang-fp8", "first_wave_delay_s", 1.5, ["C|v|M|G"])
    old, new = before.splitlines(), path.read_text(encoding="utf-8").splitlines()
    assert len(new) == len(old)
    assert {a.strip() for b, a in zip(old, new) if a != b} == {"first_wave_delay_s: 1.5", "fitted_on: ['C|v|M|G']"}
    module.write_family_figure("cdna4-vllm-fp8", "first_wave_delay_s", 0.25, ["D|v|M|G"])
    added = path.read_text(encoding="utf-8").splitlines()
    assert len(added) == len(new) + 1
    i = added.index("  first_wave_delay_s: 0.25")
    assert added[i - 1].startswith("  formats: ")
    fresh = {e.id: e for e in Catalog(tmp_path).efficiency}
    assert fresh["cdna4-vllm-fp8"].first_wave_delay_s == 0.25 and fresh["cdna4-vllm-fp8"].fitted_on == ("D|v|M|G",)
    assert fresh["cdna3-sglang-fp8"].first_wave_delay_s == 1.5
