#!/usr/bin/env python
"""One-figure fits of the LLM step model: each searches one figure (an engine's, or an efficiency
row's) on a selection of fitting rows - golden section on the mean |log error| over every metric
they hold, everything else kept - and writes it with the rows it ran on into its catalog file, the
rest of the file kept byte for byte. `scripts/fit_perf.py` runs them (--prefill-mla, --first-wave-delay,
--engine-layer-overhead, --family-layer-overhead, --sequence-overhead); each option's help says what it fits.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np
from fit_perf import DATA, golden_section  # importing fit_perf also puts src/ on sys.path

from deployscope import validate


def fit_sequence_overhead(catalog, engine: str, from_version: str, dry_run: bool) -> float:  # noqa: ANN001
    """Host time per sampled sequence per step of `engine` releases from `from_version` on, by
    golden-section search on the mean |log error| of the max-throughput rows of fitting sources
    (fitting_split.yaml) whose framework names such a release; everything else kept."""
    from deployscope.catalog.engines import version_key
    from deployscope.validate.llm_rows import engine_of, engine_version

    path = validate.VALIDATION_DIR / "A_llm_inference.csv"
    _, rows = validate.read_csv(path)
    sel = []
    for r in rows:
        fw = r.get("framework", "")
        try:
            same = engine_of(fw) == engine
        except Exception:  # noqa: BLE001 - a framework no engine models
            same = False
        v = engine_version(fw)
        # max-throughput rows, and the output throughput of a burst at an unbounded request rate
        burst = r.get("metric") == "output_throughput" and "QPS=INF" in r.get("scenario", "")
        if (same and v is not None and version_key(v) >= version_key(from_version) and validate.is_fitted(r)
                and (r.get("metric") == "throughput" or burst) and validate.num(r.get("value")) is not None):
            sel.append(r)
    if not sel:
        raise SystemExit(f"no fitting rows of {engine} releases from {from_version}")
    perf = catalog.engines.get(engine).perf
    base = (perf.step_overhead_s, perf.layer_overhead_s, perf.prefill_layer_overhead_s, perf.request_overhead_s)
    def loss(x: float) -> float:
        return mean_log_error(path, sel, catalog, validate.Params(overhead={engine: (*base, x)}))

    x = float(f"{golden_section(loss, 0.0, 2e-4, 40):.3g}")
    sources = sorted({validate.source_key(r) for r in sel})
    without, with_x = loss(0.0), loss(x)
    print(f"{engine} >= {from_version}: sequence_overhead_s {x:.3g} on {len(sel)} rows ({', '.join(sources)}); "
          f"mean |log error| {without:.4f} without, {with_x:.4f} with")
    if without - with_x < 1e-3:
        # an engine that overlaps host and GPU work hides host time below the GPU step: rows whose
        # steps stay GPU-bound over the whole range say nothing about it
        print(f"not written: the rows do not determine it (the loss is flat over [0, 2e-4] s"
              f"{', the engine overlaps host and GPU work' if catalog.engines.get(engine).perf.overlap_schedule else ''})")
        return x
    if not dry_run:
        write_sequence_overhead(engine, x, sources, len(sel))
    return x


def edit_entry(file: str, entry_id: str, edit) -> Path:  # noqa: ANN001 - edit: str -> str
    """Rewrite one `- id: entry_id` entry of a catalog data file with `edit` (its text in, its new
    text out), everything around it kept byte for byte."""
    path = DATA / file
    text = path.read_text(encoding="utf-8")
    m = re.search(rf"^- id: {re.escape(entry_id)}\n(?:.*\n)*?(?=^- id: |\Z)", text, flags=re.M)
    if m is None:
        raise SystemExit(f"{entry_id!r} not in {file}")
    path.write_text(text[: m.start()] + edit(m.group(0)) + text[m.end():], encoding="utf-8")
    return path


def set_figure(block: str, key: str, lines: str, indent: str = "    ", after: str | None = None) -> str:
    """`lines` in place of the `key:` line of an entry's text (or after the `after:` line when the
    entry has no such key yet)."""
    new, n = re.subn(rf"^{indent}{key}: .*\n", lambda _m: lines, block, count=1, flags=re.M)
    if n == 0 and after is not None:
        new = re.sub(rf"^({indent}{after}: .*\n)", lambda mm: mm.group(1) + lines, block, count=1, flags=re.M)
    return new


def _listed(parts: list[str]) -> str:
    return f"[{', '.join(repr(s) for s in parts)}]"


def write_sequence_overhead(engine: str, x: float, sources: list[str], n_rows: int) -> None:
    """Set `sequence_overhead_s` and its provenance in the engine's perf block of engines.yaml."""
    def edit(block: str) -> str:
        block = re.sub(r"^    sequence_overhead_s: .*\n(?:      .*\n)*", "", block, flags=re.M)
        block = re.sub(r"^    sequence_overhead_fitted_on: .*\n", "", block, flags=re.M)
        line = f"    sequence_overhead_s: {x:.3g}\n    sequence_overhead_fitted_on: {_listed(sources)}\n"
        return set_figure(block, "sequence_overhead_s", line, after="request_overhead_s")

    path = edit_entry("engines.yaml", engine, edit)
    print(f"wrote {engine} sequence_overhead_s {x:.3g} ({n_rows} rows) to {path}")


def mean_log_error(path: Path, rows: list[dict[str, str]], catalog, params: validate.Params) -> float:  # noqa: ANN001
    """Mean |log(predicted / measured)| over the rows the model predicts with `params`; 10 (a wall
    for the search) when it predicts fewer than 80 % of them."""
    meas = np.array([validate.num(r["value"]) for r in rows], dtype=float)
    pr = np.array([p["predicted"] if p["predicted"] is not None else np.nan
                   for p in validate.predict_file(path, "llm", rows, catalog, params)], dtype=float)
    ok = np.isfinite(pr) & (pr > 0)
    return float(np.mean(np.abs(np.log(pr[ok] / meas[ok])))) if ok.sum() >= 0.8 * len(rows) else 10.0


def fitting_predictions(catalog) -> list[tuple[dict[str, str], dict]]:  # noqa: ANN001
    """Every fitting row of A_llm_inference.csv the model predicts, with its prediction and labels."""
    path = validate.VALIDATION_DIR / "A_llm_inference.csv"
    _, rows = validate.read_csv(path)
    fitted = [r for r in rows if validate.is_fitted(r) and validate.num(r.get("value")) is not None]
    return [(r, p) for r, p in zip(fitted, validate.predict_file(path, "llm", fitted, catalog, None, {})) if p["predicted"] is not None]


def fit_one(catalog, sel: list[dict[str, str]], engine: str, figure: str, bounds: tuple[float, float],  # noqa: ANN001
            current: float, name: str, write: Callable[[float, list[str]], None] | None) -> float:
    """Golden-section search of one step figure of `engine` (a Hardware field) on the rows `sel`,
    by the mean |log error| over every metric they hold; prints the fit, hands the figure and the
    fitting_split.yaml entries of the rows it ran on (validate.fit_key) to `write` (None: a dry run)
    and returns it."""
    if not sel:
        raise SystemExit(f"{name}: no fitting rows for {figure}")
    path = validate.VALIDATION_DIR / "A_llm_inference.csv"

    def loss(x: float) -> float:
        return mean_log_error(path, sel, catalog, validate.Params(hw={engine: {figure: x}}))

    x = float(f"{golden_section(loss, *bounds, 40):.3g}")
    parts = sorted({validate.fit_key(r) or validate.row_key(r) for r in sel})
    print(f"{name}: {figure} {x:.3g} s on {len(sel)} rows ({', '.join(parts)}); mean |log error| "
          f"{loss(current):.4f} at the current figure, {loss(x):.4f} fitted")
    if write is not None:
        write(x, parts)
    return x


def prefill_mla_rows(catalog, engine: str) -> list[dict[str, str]]:  # noqa: ANN001
    """Fitting rows (fitting_split.yaml) of `engine` serving a model with multi-head latent attention
    on a release the engine row's own prefill_mla_layer_overhead_s describes (not a release range with
    its own)."""
    from deployscope.validate.llm_rows import row_engine_version

    perf = catalog.engines.get(engine).perf

    def own_release(r: dict[str, str]) -> bool:
        v = row_engine_version(r, catalog, engine)
        return v is None or not any(rel.covers(v) and rel.prefill_mla_layer_overhead_s is not None for rel in perf.releases)

    def mla(r: dict[str, str]) -> bool:
        model = catalog.models.find(r.get("model", ""))
        return model is not None and model.transformer is not None and model.transformer.mla is not None

    return [r for r, p in fitting_predictions(catalog) if p.get("engine") == engine and mla(r) and own_release(r)]


def fit_prefill_mla(catalog, engine: str, dry_run: bool) -> float:  # noqa: ANN001
    """Extra time per MLA layer of a step that carries a prefill, by golden-section search on the
    mean |log error| over every metric of the engine's MLA-model fitting rows; everything else kept."""
    return fit_one(catalog, prefill_mla_rows(catalog, engine), engine, "prefill_mla_layer_overhead_s", (0.0, 0.01),
                   catalog.engines.get(engine).perf.prefill_mla_layer_overhead_s, engine,
                   None if dry_run else lambda x, parts: write_engine_figure(engine, "prefill_mla_layer_overhead_s", "prefill_mla_fitted_on", x,
                                                                                parts, after="prefill_layer_overhead_s"))


def write_engine_figure(engine: str, figure: str, fitted_key: str, x: float, parts: list[str], after: str | None = None) -> None:
    """Set one figure of an engine's perf block and the rows it was fitted on (`fitted_key`), in
    place; an engine without the figure gets both lines after its `after:` line."""
    lines = f"    {figure}: {x:.3g}\n    {fitted_key}: {_listed(parts)}\n"
    path = edit_entry("engines.yaml", engine, lambda block: set_figure(
        re.sub(rf"^    {fitted_key}: .*\n", "", block, flags=re.M), figure, lines, after=after))
    print(f"wrote {engine} {figure} {x:.3g} to {path}")


def family_rows(catalog, row_id: str):  # noqa: ANN001, ANN201
    """An efficiency row and the fitting rows (with their predictions) that use it: its family and
    engine, and one of its formats when it names any."""
    row = next((e for e in catalog.efficiency if e.id == row_id), None)
    if row is None:
        raise SystemExit(f"no efficiency row {row_id!r}")
    return row, [(r, p) for r, p in fitting_predictions(catalog) if p.get("family") == row.family
                 and p.get("engine") == row.engine and (not row.formats or p.get("format") in row.formats)]


def fit_family_layer_overhead(catalog, row_id: str, dry_run: bool) -> float:  # noqa: ANN001
    """The per-layer step time of one efficiency row (a family x engine x format), by golden-section
    search on the mean |log error| over every metric of the fitting rows that use that row."""
    row, used = family_rows(catalog, row_id)
    return fit_one(catalog, [r for r, _p in used], row.engine, "layer_overhead_s", (0.0, 2e-3), row.layer_overhead_s or 0.0,
                   row_id, None if dry_run else lambda x, parts: write_family_figure(row_id, "layer_overhead_s", x, parts))


def fit_family_first_wave_delay(catalog, row_id: str, dry_run: bool) -> float:  # noqa: ANN001
    """The one-off wait of a benchmark run on a fresh server with one efficiency row's family and
    engine, by golden-section search on the mean |log error| over every metric of the simulated
    fitting runs that use that row."""
    row, used = family_rows(catalog, row_id)
    sel = [r for r, _p in used if is_simulated_run(r)]
    current = row.first_wave_delay_s if row.first_wave_delay_s is not None else catalog.engines.get(row.engine).perf.first_wave_delay_s
    return fit_one(catalog, sel, row.engine, "first_wave_delay_s", (0.0, 5.0), current, row_id,
                   None if dry_run else lambda x, parts: write_family_figure(row_id, "first_wave_delay_s", x, parts))


def write_family_figure(row_id: str, figure: str, x: float, parts: list[str]) -> None:
    """Set one figure of an efficiency row (a new one after the row's per-layer step time, else after
    its formats) and `fitted_on`, the rows its fitted figures were fitted on."""
    def edit(block: str) -> str:
        has_layer = re.search(r"^  layer_overhead_s: ", block, flags=re.M) and figure != "layer_overhead_s"
        new = set_figure(block, figure, f"  {figure}: {x:.3g}\n", indent="  ", after="layer_overhead_s" if has_layer else "formats")
        if not re.search(rf"^  {figure}: ", new, flags=re.M):
            raise SystemExit(f"{row_id}: no {figure}, layer_overhead_s or formats line to write {figure} at")
        return set_figure(new, "fitted_on", f"  fitted_on: {_listed(parts)}\n", indent="  ", after=figure)

    path = edit_entry("efficiency.yaml", row_id, edit)
    print(f"wrote {row_id} {figure} {x:.3g} to {path}")


def fit_engine_layer_overhead(catalog, engine: str, dry_run: bool) -> float:  # noqa: ANN001
    """An engine's own per-layer step time, by golden-section search on the mean |log error| over
    every metric of its fitting rows whose efficiency row does not set a per-layer time of its own."""
    from deployscope.catalog.efficiency import lookup

    sel = [r for r, p in fitting_predictions(catalog) if p.get("engine") == engine
           and lookup(catalog.efficiency, p["family"], engine, p.get("format")).layer_overhead_s is None]
    return fit_one(catalog, sel, engine, "layer_overhead_s", (1e-6, 5e-4), catalog.engines.get(engine).perf.layer_overhead_s,
                   engine, None if dry_run else lambda x, parts: write_engine_figure(engine, "layer_overhead_s", "layer_batch_fitted_on", x, parts))


def is_simulated_run(r: dict[str, str]) -> bool:
    """A row measured by a benchmark run the harness simulates: a closed loop (concurrency=N) or a
    request rate (QPS=...)."""
    scenario = r.get("scenario", "")
    return bool(re.search(r"concurrency\s*=|QPS=", scenario)) and "static batch" not in scenario.lower()


def simulated_runs(catalog, engine: str) -> list[dict[str, str]]:  # noqa: ANN001
    """Fitting rows of `engine` measured by a benchmark run the harness simulates, every metric they
    hold, on every family: the engine's first-wave wait is the pooled figure, the one a family with
    no fitting runs of its own gets (an efficiency row may set its family's own; the fit runs every
    row at the engine's figure)."""
    return [r for r, p in fitting_predictions(catalog) if p.get("engine") == engine and is_simulated_run(r)]


def fit_first_wave_delay(catalog, engine: str, dry_run: bool) -> float:  # noqa: ANN001
    """The one-off wait of a benchmark run on a fresh server, by golden-section search on the mean
    |log error| over every metric of the engine's simulated fitting runs."""
    return fit_one(catalog, simulated_runs(catalog, engine), engine, "first_wave_delay_s", (0.0, 5.0),
                   catalog.engines.get(engine).perf.first_wave_delay_s, engine,
                   None if dry_run else lambda x, parts: write_engine_figure(engine, "first_wave_delay_s", "first_wave_fitted_on", x, parts,
                                                                                after="request_overhead_s"))


#: the one-figure options of scripts/fit_perf.py: option -> (what its value names, help, the fit it runs)
ONE_FIGURE_FITS: dict[str, tuple[str, str, Callable[..., float]]] = {
    "prefill-mla": ("ENGINE", "fit only the engine's extra time per MLA layer in a step that carries a prefill, on its "
                    "MLA-model fitting rows", fit_prefill_mla),
    "engine-layer-overhead": ("ENGINE", "fit only an engine's own per-layer step time on its fitting rows (those whose "
                              "efficiency row sets none)", fit_engine_layer_overhead),
    "first-wave-delay": ("ENGINE", "fit one engine's first_wave_delay_s (a benchmark run's one-off wait on a fresh server) "
                         "on its simulated fitting runs", fit_first_wave_delay),
    "family-layer-overhead": ("EFFICIENCY_ROW", "fit only an efficiency row's per-layer step time on the fitting rows "
                              "that use the row", fit_family_layer_overhead),
    "family-first-wave-delay": ("EFFICIENCY_ROW", "fit only an efficiency row's first-wave wait on the simulated fitting "
                                "runs that use the row", fit_family_first_wave_delay),
}
