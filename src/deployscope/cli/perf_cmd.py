"""`deployscope perf` (throughput and latency of one deployment) and `deployscope validate`
(predictions against published measurements)."""

from __future__ import annotations

from typing import Any, List, Optional

import typer

from .output import console, emit


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""

    @app.command("perf")
    def perf(
        model: str = typer.Argument(..., help="Model id or alias (see `deployscope catalog models`)."),
        gpu: str = typer.Option(..., "--gpu", help="Accelerator id or alias."),
        gpus: Optional[int] = typer.Option(None, "--gpus", help="GPUs in the whole deployment (default: one replica)."),
        tp: int = typer.Option(1, "--tp", help="Tensor-parallel size per replica."),
        pp: int = typer.Option(1, "--pp", help="Pipeline-parallel size per replica."),
        ep: int = typer.Option(1, "--ep", help="Expert-parallel size (MoE)."),
        quant: str = typer.Option("bf16", "--quant", help="Weight format (see `deployscope catalog quant`)."),
        kv_quant: Optional[str] = typer.Option(None, "--kv-quant", help="KV-cache format (default: fp8 with fp8 weights, else 16-bit)."),
        engine: str = typer.Option("vllm", "--engine", help="Serving engine: vllm, sglang, trtllm, llamacpp."),
        engine_version: Optional[str] = typer.Option(
            None, "--engine-version", metavar="RELEASE",
            help="Engine release whose measured speed factors apply, such as 0.8.5 (default: the current release).",
        ),
        input_len: float = typer.Option(..., "--input-len", help="Prompt tokens per request."),
        output_len: float = typer.Option(..., "--output-len", help="Output tokens per request (0 for embedding models)."),
        concurrency: Optional[float] = typer.Option(None, "--concurrency", help="Requests in flight, whole deployment (closed loop)."),
        rate: Optional[float] = typer.Option(None, "--rate", help="Requests per second, whole deployment (Poisson)."),
        tpot_limit: Optional[float] = typer.Option(
            None, "--tpot-limit", metavar="SECONDS",
            help="With --rate: the TPOT limit of a server/interactive SLO the engine is tuned to (it runs the largest batch meeting it).",
        ),
        max_throughput: bool = typer.Option(False, "--max-throughput", help="The saturated operating point (default)."),
        calibration: Optional[str] = typer.Option(None, "--calibration", metavar="NAME", help="Calibration profile from `deployscope calibrate`."),
        prefix_hit: float = typer.Option(0.0, "--prefix-cache-hit-rate", help="Fraction of prompt tokens served from the prefix cache."),
        spec_tokens: Optional[int] = typer.Option(None, "--spec-draft-tokens", help="Speculative decoding: draft tokens per step (draft model or MTP)."),
        spec_accept: Optional[float] = typer.Option(None, "--spec-acceptance", help="Speculative decoding: per-token acceptance rate (0-1)."),
        spec_cost: float = typer.Option(0.0, "--spec-draft-cost", help="Speculative decoding: draft work as a fraction of a target step."),
        simulate_n: Optional[int] = typer.Option(None, "--simulate", metavar="N", help="With --rate/--concurrency: latency percentiles from a simulation of N requests."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Throughput (tokens/s, requests/s) and latency (TTFT, TPOT) of a deployment, with an error band."""
        from ..errors import DeployscopeError
        from ..physics.serving import Deployment, Load, Speculative, evaluate

        spec = None
        if spec_tokens is not None or spec_accept is not None:
            if spec_tokens is None or spec_accept is None:
                raise DeployscopeError("give both --spec-draft-tokens and --spec-acceptance", field="speculative", value="one of them")
            spec = Speculative(draft_tokens=spec_tokens, acceptance=spec_accept, draft_cost=spec_cost)
        given = [x for x in (concurrency is not None, rate is not None, max_throughput) if x]
        if len(given) > 1:
            raise DeployscopeError("give one of --concurrency, --rate and --max-throughput", field="load", value="several")
        import math

        for flag, x in (("--concurrency", concurrency), ("--rate", rate), ("--input-len", input_len), ("--output-len", output_len),
                        ("--tpot-limit", tpot_limit), ("--prefix-cache-hit-rate", prefix_hit), ("--spec-acceptance", spec_accept),
                        ("--spec-draft-cost", spec_cost)):
            if x is not None and not math.isfinite(x):  # 'inf' would be read as an unbounded load
                raise DeployscopeError(f"must be a finite number (got {x!r})", field=flag, value=str(x))
        if engine_version is not None:
            from ..catalog.engines import version_key

            try:
                version_key(engine_version.strip().removeprefix("<"))
            except ValueError as exc:
                raise DeployscopeError(str(exc), field="--engine-version", value=engine_version,
                                       allowed="a release number such as 0.9.1 (v0.9.1, 0.9.1rc1), or <0.9.1 for one known only to be older") from None
            from ..catalog.loader import default_catalog

            engines = default_catalog().engines
            if not engines.get(engine, field="--engine").perf.releases:
                # one set of figures for every release: a version would change nothing, so say so
                with_ranges = sorted(e.id for e in engines if e.perf.releases)
                raise DeployscopeError(
                    f"engine '{engine}' has one set of figures for all its releases in the catalog, so a release "
                    "cannot be chosen", field="--engine-version", value=engine_version,
                    allowed="leave --engine-version out for this engine; engines with release-specific figures: "
                            + (", ".join(with_ranges) or "none"))
        dep = Deployment(model=model, gpu=gpu, gpus=gpus, tp=tp, pp=pp, ep=ep, quant=quant, kv_quant=kv_quant, engine=engine,
                         calibration=calibration, engine_version=engine_version)
        load = Load(input_len=input_len, output_len=output_len, concurrency=concurrency, rate=rate,
                    prefix_cache_hit_rate=prefix_hit, speculative=spec, tpot_limit_s=tpot_limit)
        try:
            res = evaluate(dep, load, simulate_requests=simulate_n)
        except DeployscopeError as exc:
            exc.field = _FLAGS.get(exc.field or "", exc.field)  # named by the option typed
            raise
        emit(with_per_user_speed(res.model_dump(mode="json")), as_json, _render_perf)

    @app.command("validate")
    def validate_cmd(
        data: Optional[List[str]] = typer.Option(None, "--data", metavar="FILE.csv", help="CSV file(s) in a validation schema (default: the shipped files)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON (with one object per input row)."),
    ) -> None:
        """Predict published measurements and report the error: coverage, median and p90 APE."""
        from .. import validate

        report = validate.run(data or None)
        emit(report, as_json, _render_validate)


def with_per_user_speed(d: dict[str, Any]) -> dict[str, Any]:
    """Add the speed one user sees while their answer streams: output tokens/s per user, 1 / TPOT
    (mean and p99), beside the deployment's tokens/s per GPU. None where no token is decoded."""
    tpot = d.get("tpot_s") or {}

    def inv(x: Any) -> float | None:
        return 1.0 / float(x) if isinstance(x, (int, float)) and x > 0 else None

    d["output_tokens_per_s_per_user"] = inv(tpot.get("mean"))
    d["output_tokens_per_s_per_user_p99"] = inv(tpot.get("p99"))  # the slowest 1 % of decode steps
    return d


def _fmt(x: Any, unit: str = "", digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if abs(x) >= 1000:
            return f"{x:,.0f}{unit}"
        return f"{x:.{digits}g}{unit}"
    return f"{x}{unit}"


def _band_range(band: dict[str, Any] | None) -> str:
    """'  (x0.57 .. x1.31)': how far measured figures ran from such predictions on the held-out rows
    (5th to 95th percentile of measured / predicted), or nothing where no band applies."""
    if not band or not band.get("rows"):
        return ""
    return f"  (x{band['low']:.2f} .. x{band['high']:.2f})"


def held_out_bias_lines(band: dict[str, Any]) -> list[str]:
    """One line per held-out group the prediction belongs to on which the model leaned one way."""
    from ..result import HeldOutBias

    return [f"held-out check: {HeldOutBias(**b).sentence()}" for b in band.get("held_out_bias") or ()]


def _render_perf(d: dict[str, Any]) -> None:
    from rich.table import Table

    c = console()
    c.print(
        f"[bold]{d['model']}[/bold] on {d['gpus']} x {d['gpu']} ({d['replicas']} replica(s) of tp={d['tp']} pp={d['pp']} "
        f"ep={d['ep']}), {d['engine']}, {d['quant']} weights / {d['kv_quant']} KV, {d['input_len']:.0f} in / "
        f"{d['output_len']:.0f} out, load: {d['load_mode']}"
    )
    t = Table(show_header=True, header_style="bold")
    t.add_column("figure")
    t.add_column("value", justify="right")
    band = d["error_band"] or {}
    t.add_row("output tokens/s (deployment)", _fmt(d["output_tokens_per_s"]) + _band_range(band))
    t.add_row("output tokens/s per GPU", _fmt(d["output_tokens_per_s_per_gpu"]))
    t.add_row("output tokens/s per user (1/TPOT)",
              f"{_fmt(d.get('output_tokens_per_s_per_user'))} (p99 {_fmt(d.get('output_tokens_per_s_per_user_p99'))})")
    t.add_row("requests/s", _fmt(d["requests_per_s"]))
    for key, label, metric in (("ttft_s", "TTFT s", "ttft"), ("tpot_s", "TPOT s", "tpot")):
        p = d[key]
        t.add_row(f"{label} mean / p50 / p90 / p99", " / ".join(_fmt(p[k]) for k in ("mean", "p50", "p90", "p99"))
                  + _band_range((band.get("by_metric") or {}).get(metric)))
    t.add_row("batch (per replica) / max", f"{_fmt(d['batch_size'])} / {_fmt(d['max_batch_size'])}")
    t.add_row("bound", d["bound"])
    if d.get("saturated"):
        t.add_row("saturated", "yes: the offered rate exceeds capacity")
    c.print(t)
    for line in held_out_bias_lines(band):
        c.print(line)
    eff = d["provenance"]["efficiency"]
    c.print(
        f"efficiency row {eff['row']} (fitted on: {', '.join(eff['fitted_on']) or 'not fitted'}); "
        f"calibration: {(d['provenance'].get('calibration') or {}).get('name', 'none')}"
    )


def _render_validate(r: dict[str, Any]) -> None:
    from rich.table import Table

    c = console()

    def pct(x: Any) -> str:
        return "-" if x is None else f"{100 * x:.1f} %"

    def table(title: str, groups: dict[str, dict[str, Any]]) -> None:
        t = Table(title=title, show_header=True, header_style="bold")
        for col in ("group", "rows", "predicted", "coverage", "median APE", "p90 APE", "signed median"):
            t.add_column(col, justify="right" if col != "group" else "left")
        for k, v in groups.items():
            t.add_row(k or "(blank)", str(v["rows"]), str(v["predicted"]), pct(v["coverage"]), pct(v["median_ape"]), pct(v["p90_ape"]),
                      pct(v.get("signed_median")))
        c.print(t)

    h = r["heldout"]
    c.print(
        f"[bold]all rows[/bold]: {r['rows']} rows, {r['predicted']} predicted, coverage {pct(r['coverage'])}, "
        f"median APE {pct(r['median_ape'])}, p90 APE {pct(r['p90_ape'])}"
    )
    c.print(
        f"[bold]held out[/bold] (not used for fitting): {h['rows']} rows, {h['predicted']} predicted, coverage "
        f"{pct(h['coverage'])}, median APE {pct(h['median_ape'])}, p90 APE {pct(h['p90_ape'])}"
    )
    # a file with no predictable rows has no groups: the tables are empty, not an error
    table("held out, by metric class", h.get("groups", {}).get("metric_class", {}))
    for cls, groups in (h.get("by_class") or {}).items():
        if cls not in ("throughput", "ttft", "tpot"):
            continue
        keys = ("family", "format", "moe", "pipeline", "engine", "load")
        merged = {f"{key}: {k}": v for key in keys for k, v in groups.get(key, {}).items()}
        if merged:
            table(f"held out, {cls}, by hardware family, format, dense/MoE, pipeline, engine and load", merged)
    _render_repeatability(r.get("repeatability") or {})
    _render_device(r.get("device_measurements") or {})
    _render_device_serving(r.get("device_serving") or {})
    if h.get("groups", {}).get("architecture"):  # image-model training rows: per architecture family and source
        table("held out, image training, by architecture", h["groups"]["architecture"])
        table("held out, by source", h["groups"].get("source", {}))
    table("by source", r.get("groups", {}).get("source", {}))
    table("by hardware", r.get("groups", {}).get("hardware", {}))
    table("by precision", r.get("groups", {}).get("precision", {}))
    table("by metric", r.get("groups", {}).get("metric", {}))
    t = Table(title="predictions (first 40 predicted rows; --json for all)", show_header=True, header_style="bold")
    for col in ("file", "row", "metric", "unit", "measured", "predicted", "APE", "fit"):
        t.add_column(col)
    shown = 0
    for p in r["predictions"]:
        if p["predicted"] is None:
            continue
        t.add_row(p["file"], str(p["index"]), p["metric"], p["unit"][:20], _fmt(p["measured"]), _fmt(p["predicted"]), pct(p["ape"]), "yes" if p["fitted_on"] else "")
        shown += 1
        if shown >= 40:
            break
    c.print(t)
    c.print(f"wall time {r['wall_time_s']:.2f} s")


def _render_repeatability(rep: dict[str, Any]) -> None:
    """The measurements' own floor: how far rows of one configuration measured more than once lie apart."""
    if not rep:
        return
    from rich.table import Table

    t = Table(title="repeat measurements: configurations measured more than once, |one / other - 1| over their pairs",
              show_header=True, header_style="bold")
    for col in ("metric class", "configurations", "rows", "median", "p90", "model median APE", "model p90 APE"):
        t.add_column(col, justify="right" if col != "metric class" else "left")
    for cls, s in rep.items():
        t.add_row(cls, str(s["configurations"]), str(s["rows"]), *(f"{100 * s[k]:.1f} %" for k in
                                                                   ("median_ape", "p90_ape", "model_median_ape", "model_p90_ape")))
    console().print(t)


def _render_device(dev: dict[str, Any]) -> None:
    """Own measurements on a lent GPU against the physics (not published rows: never in the scores)."""
    if not dev:
        return
    from rich.table import Table

    t = Table(title=f"own measurements on a lent GPU ({dev['file']}): measured / predicted, "
                    f"predicted with the {dev['engine_predicted']} efficiencies and fixed costs",
              show_header=True, header_style="bold")
    for col in ("group", "rows", "median", "min", "max"):
        t.add_column(col, justify="right" if col != "group" else "left")
    for name, g in dev["groups"].items():
        t.add_row(name, str(g["rows"]), *(f"{g[k]:.2f}" for k in ("median_ratio", "min_ratio", "max_ratio")))
    console().print(t)
    rows = dev["ceilings"]
    t = Table(title=f"the GPU's measured ceilings against its datasheet, and the efficiency fitted for it "
                    f"({', '.join(sorted({c['efficiency_row'] for c in rows}))})", show_header=True, header_style="bold")
    for col in ("metric", "run", "measured", "datasheet", "fraction", "fitted"):
        t.add_column(col, justify="right" if col != "metric" else "left")
    for c in rows:
        fitted = c.get("compute_efficiency", c.get("bandwidth_efficiency"))
        t.add_row(c["metric"], c["run"], f"{c['measured']:g} {c['unit']}", f"{c['datasheet']:g}", f"{c['fraction_of_datasheet']:.3f}",
                  f"{fitted:.3f}")
    console().print(t)
    curve = dev.get("gemm_curve") or {}
    if curve:
        t = Table(title="the GEMM size curve, time = (F + F_half) / (e x peak), fitted to the measured GEMMs "
                        "beside the shipped curve", show_header=True, header_style="bold")
        for col in ("dtype", "GEMMs", "e", "F_half GFLOP", "per launch", "median |error|", "shipped e", "shipped F_half"):
            t.add_column(col, justify="right" if col != "dtype" else "left")
        for dtype, c in curve.items():
            t.add_row(dtype, str(c["rows"]), f"{c['compute_efficiency']:.3f}", f"{c['half_gflop']:.1f}", f"{c['launch_us']:.1f} us",
                      f"{100 * c['median_abs_error']:.1f} %", f"{c['shipped_compute_efficiency']:.3f}", f"{c['shipped_half_gflop']:.2f}")
        console().print(t)
    rep = dev.get("repeatability") or {}
    if rep.get("pairs"):
        console().print(f"measured in more than one run: {rep['configurations']} configurations, {rep['pairs']} ordered pairs, "
                        f"median |one / other - 1| "
                        f"{100 * rep['median']:.1f} %, largest {100 * rep['max']:.1f} %")


def _render_device_serving(dev: dict[str, Any]) -> None:
    """A served load on a lent GPU against the simulation, given the measured step times or the physics'."""
    if not dev:
        return
    from rich.table import Table

    t = Table(title=f"a served load on a lent GPU ({dev['file']}: {dev['model']} {dev['format']}, {dev['input_len']} in / "
                    f"{dev['output_len']} out, up to {dev['max_batch']} sequences): predicted / measured, the simulation "
                    "given the measured step times (scheduler) or the physics' (physics)", show_header=True, header_style="bold")
    for col in ("policy", "rate /s", "measured TTFT mean / p90", "measured TPOT", "scheduler TTFT mean / p90 / p99", "scheduler TPOT",
                "physics TTFT mean / p90 / p99", "physics TPOT"):
        t.add_column(col, justify="right" if col != "policy" else "left")
    for run in dev["runs"]:
        m, ratio = run["measured"], run["predicted_over_measured"]
        t.add_row(run["policy"], f"{run['rate']:g}", f"{1e3 * m['mean_ttft_s']:.1f} / {1e3 * m['p90_ttft_s']:.1f} ms", f"{1e3 * m['mean_tpot_s']:.2f} ms",
                  *(x for k in ("scheduler", "physics") for x in (
                      " / ".join(f"{ratio[k][f]:.2f}" for f in ("mean_ttft_s", "p90_ttft_s", "p99_ttft_s")), f"{ratio[k]['mean_tpot_s']:.2f}")))
    console().print(t)


_FLAGS = {"simulate": "--simulate", "simulate_requests": "--simulate", "concurrency": "--concurrency", "rate": "--rate",
          "input_len": "--input-len", "output_len": "--output-len", "tp": "--tp", "pp": "--pp", "ep": "--ep", "gpus": "--gpus",
          "quant": "--quant", "kv_quant": "--kv-quant", "engine": "--engine", "engine_version": "--engine-version", "gpu": "--gpu",
          "calibration": "--calibration", "tpot_limit_s": "--tpot-limit", "prefix_cache_hit_rate": "--prefix-cache-hit-rate"}
