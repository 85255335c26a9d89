"""`deployscope bench URL` (load-test an OpenAI-compatible endpoint) and `deployscope calibrate
RUN...` (fit the performance model to what was measured). Definitions: docs/bench.md."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import DeployscopeError

MAX_CONCURRENCY_DEFAULT = 256


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command("bench", help="Load-test an OpenAI-compatible endpoint (streaming) and report TTFT, TPOT, ITL, "
                "e2e, throughput and goodput. URL is the base address, with or without /v1.")(bench)
    app.command("calibrate", help="Fit the performance model's efficiency factors to bench runs (saved ids or "
                "exported .json files) and save a named calibration profile for `perf --calibration NAME`.")(calibrate)


def _parse_len(value: int, std: float, name: str) -> Any:
    from ..bench.load import LengthDist

    if value < 1:
        raise DeployscopeError(f"{name} must be >= 1", field=name, value=value)
    return LengthDist(int(value), float(std))


def bench(
    url: str = typer.Argument(..., help="server base address, e.g. http://127.0.0.1:8000 or http://host:8000/v1"),
    model: Optional[str] = typer.Option(None, "--model", help="model name sent to the server (default: the first of GET /v1/models)"),
    api: str = typer.Option("chat", "--api", help="chat (/v1/chat/completions) or completions (/v1/completions)"),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", "-c", help="fixed number of requests in flight (closed loop)"),
    rate: Optional[float] = typer.Option(None, "--rate", help="requests per second (open loop)"),
    sweep: bool = typer.Option(False, "--sweep", help="synchronous, then saturation, then rates spaced between"),
    slo_search: bool = typer.Option(False, "--slo-search", help="find the highest rate meeting the SLOs"),
    requests: int = typer.Option(100, "--requests", "-n", help="measured requests (per step for --sweep/--slo-search)"),
    warmup: int = typer.Option(0, "--warmup", help="warm-up requests sent first and left out of every figure"),
    duration: float = typer.Option(600.0, "--duration", help="time bound in seconds (per step for --sweep/--slo-search)"),
    input_len: int = typer.Option(128, "--input-len", help="prompt length in words (about one token each)"),
    input_std: float = typer.Option(0.0, "--input-std", help="standard deviation of the prompt length"),
    output_len: int = typer.Option(128, "--output-len", help="max_tokens per request"),
    output_std: float = typer.Option(0.0, "--output-std", help="standard deviation of max_tokens"),
    arrival: str = typer.Option("constant", "--arrival", help="constant or poisson (with --rate)"),
    max_concurrency: int = typer.Option(MAX_CONCURRENCY_DEFAULT, "--max-concurrency",
                                        help="most requests in flight: the saturation step of --sweep/--slo-search, the cap of --rate"),
    slo_ttft_s: Optional[float] = typer.Option(None, "--slo-ttft-s", help="SLO on time to first token, seconds"),
    slo_tpot_s: Optional[float] = typer.Option(None, "--slo-tpot-s", help="SLO on time per output token, seconds"),
    slo_e2e_s: Optional[float] = typer.Option(None, "--slo-e2e-s", help="SLO on end-to-end latency, seconds"),
    timeout_s: float = typer.Option(300.0, "--timeout-s", help="the most one request may take"),
    read_timeout_s: float = typer.Option(60.0, "--read-timeout-s", help="the longest silence allowed within a reply"),
    ignore_eos: bool = typer.Option(False, "--ignore-eos", help="send ignore_eos (vLLM, SGLang, llama.cpp) for fixed output lengths"),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="local tokenizer.json (or its directory) to count output tokens client-side too"),
    transport: str = typer.Option("raw", "--transport", help="raw (lean asyncio HTTP/1.1) or httpx"),
    seed: int = typer.Option(0, "--seed", help="seed for prompts, lengths and Poisson arrivals"),
    gpu: Optional[str] = typer.Option(None, "--gpu", help="hint for calibrate: the accelerator (catalog id) the server runs on"),
    engine: Optional[str] = typer.Option(None, "--engine", help="hint for calibrate: the serving engine (catalog id)"),
    quant: Optional[str] = typer.Option(None, "--quant", help="hint for calibrate: the weight format (catalog id)"),
    catalog_model: Optional[str] = typer.Option(None, "--catalog-model", help="hint for calibrate: the catalog model id, when --model is a server alias"),
    label: Optional[str] = typer.Option(None, "--label", help="a label for the saved run"),
    save: bool = typer.Option(False, "--save", help="save the summary and every raw record to the store"),
    save_failed: bool = typer.Option(False, "--save-failed", help="with --save: save the run even when every request failed"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    export: Optional[Path] = typer.Option(None, "--export", help="write summary and raw records to FILE.json, or records to FILE.csv"),
) -> None:
    import asyncio

    from ..bench import load as L
    from ..bench import metrics
    from ..bench.client import ClientConfig, load_tokenizer, normalize_base_url

    modes = [m for m, on in (("--concurrency", concurrency is not None), ("--rate", rate is not None),
                             ("--sweep", sweep), ("--slo-search", slo_search)) if on]
    if len(modes) > 1:
        raise DeployscopeError(f"choose one load pattern, not {' and '.join(modes)}", field="mode", value=modes,
                               allowed="--concurrency C | --rate R | --sweep | --slo-search")
    if export is not None and export.suffix.lower() not in (".json", ".csv"):
        raise DeployscopeError("export to a .json or .csv file", field="export", value=str(export), allowed=".json, .csv")
    slo = {k: v for k, v in (("ttft_s", slo_ttft_s), ("tpot_s", slo_tpot_s), ("e2e_s", slo_e2e_s)) if v is not None}
    for k, v in slo.items():
        if not v > 0:
            raise DeployscopeError("an SLO must be > 0 seconds", field=f"slo_{k}", value=v)
    if slo_search and not slo:
        raise DeployscopeError("--slo-search needs at least one SLO", field="slo", allowed="--slo-ttft-s, --slo-tpot-s, --slo-e2e-s")
    if not (1 <= max_concurrency <= L.MAX_CONCURRENCY):
        raise DeployscopeError(f"--max-concurrency must be between 1 and {L.MAX_CONCURRENCY}", field="--max-concurrency", value=max_concurrency)
    base = normalize_base_url(url)
    inp = _parse_len(input_len, input_std, "input_len")
    out = _parse_len(output_len, output_std, "output_len")
    spec = L.LoadSpec(
        mode="rate" if rate is not None else "concurrency",
        concurrency=concurrency if concurrency is not None else 1,
        rate=rate,
        arrival=arrival,
        requests=requests,
        warmup=warmup,
        duration_s=duration,
        input=inp,
        output=out,
        max_in_flight=max_concurrency,
        seed=seed,
    )
    if spec.mode == "concurrency" and arrival != "constant" and not sweep:
        raise DeployscopeError("--arrival applies to --rate runs (and the rates of --sweep)", field="arrival", value=arrival)
    tok = load_tokenizer(tokenizer) if tokenizer else None
    if model is None:
        model = _server_model(base, timeout_s)
    cfg = ClientConfig(base, api=api, model=model, max_connections=spec.connections, request_timeout_s=timeout_s,
                       read_timeout_s=read_timeout_s, connect_timeout_s=min(10.0, timeout_s), ignore_eos=ignore_eos,
                       tokenizer=tok, transport=transport)
    if save:  # open the store first, so a bad database URL fails before the load test, not after
        from ..store import Store

        store = Store()
    run = L.Run()
    progress = _Progress(enabled=(not as_json) and sys.stderr.isatty(), mode=modes[0] if modes else "--concurrency")
    run.on_progress = progress.update
    search_result = None
    progress.start()
    try:
        if sweep:
            asyncio.run(L.run_sweep(cfg, spec, max_concurrency=max_concurrency, run=run))
        elif slo_search:
            _, search_result = asyncio.run(L.run_slo_search(cfg, spec, slo, max_concurrency=max_concurrency, run=run))
        else:
            asyncio.run(L.run_load(cfg, spec, run=run))
    except KeyboardInterrupt:
        run.finish("interrupted")
    finally:
        progress.stop()
    if run.status == "running":
        run.finish("interrupted")

    records = run.record_dicts()
    summary = metrics.summarize(records, slo)
    n_all = len(records)
    summary.update(
        {
            "url": base,
            "api": api,
            "model": model,
            "target": {"url": base, "model": model, "catalog_model": catalog_model, "gpu": gpu, "engine": engine, "quant": quant},
            "load": dict(spec.describe(), mode=("sweep" if sweep else "slo-search" if slo_search else spec.mode)),
            "status": run.status,
            "started_at": run.started_at,
            "label": label,
            "client": {
                "transport": transport,
                "cpu_s": run.cpu_s,
                "wall_s": run.wall_s,
                "cpu_per_request_ms": (run.cpu_s / n_all * 1000.0) if (run.cpu_s is not None and n_all) else None,
                "cpu_busy_fraction": (run.cpu_s / run.wall_s) if (run.cpu_s and run.wall_s) else None,
            },
        }
    )
    if sweep or slo_search:
        summary["steps"] = run.steps
    if search_result is not None:
        summary["slo_search"] = search_result
    warnings = []
    if (summary["client"]["cpu_busy_fraction"] or 0) > 0.8:
        warnings.append("the client process was busy over 80 % of the run: it may have limited the load it offered")
    if transport == "httpx" and cfg.max_connections > 32:
        warnings.append("the httpx transport slows down sharply with many connections; prefer --transport raw above ~32")
    if summary.get("late_sends"):
        warnings.append(f"{summary['late_sends']} requests left over 10 ms behind the arrival schedule (see send_lag_s)")
    # every measured request failed: there is no measurement, only error kinds
    all_failed = summary["requests"] > 0 and summary["completed"] == 0 and run.status != "interrupted"
    if all_failed:
        summary["status"] = "failed"
        kinds = ", ".join(f"{k} {v}" for k, v in summary["error_kinds"].items()) or "cancelled"
        warnings.append(f"every request failed ({kinds}): nothing was measured"
                        + ("" if not save or save_failed else "; the run was not saved (--save-failed saves it anyway)"))
    if warnings:
        summary["warnings"] = warnings
    if save and (save_failed or not all_failed):
        summary["run_id"] = store.save_bench_run(summary, records, label=label)
    if export is not None:
        _export(export, summary, records)
    if as_json:
        from .output import to_json

        sys.stdout.write(to_json(summary) + "\n")
    else:
        _render(summary)
    if run.status == "interrupted":
        raise SystemExit(130)  # after printing, saving and exporting what was measured
    if all_failed:
        sys.stderr.write(f"error: every request to {base} failed: {kinds}\n")
        raise SystemExit(1)


def _server_model(base: str, timeout_s: float) -> str | None:
    """The first model the server lists at GET /v1/models, or None."""
    import httpx

    try:
        r = httpx.get(base + "/v1/models", timeout=min(10.0, timeout_s), trust_env=False)
        if r.status_code == 200:
            data = r.json().get("data") or []
            if data and isinstance(data[0], dict) and data[0].get("id"):
                return str(data[0]["id"])
    except (httpx.HTTPError, ValueError):
        pass
    return None


CSV_FIELDS = ("i", "phase", "step", "send", "status", "error", "error_detail", "ttft_s", "tpot_s", "e2e_s", "end",
              "output_tokens", "token_source", "usage_prompt", "usage_completion", "client_tokens", "chunks", "input_len", "max_tokens", "finish", "done")


def _export(path: Path, summary: dict[str, Any], records: list[dict[str, Any]]) -> None:
    import csv
    import json

    from ..bench.metrics import request_metrics
    from .output import to_json

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".json":
            path.write_text(to_json({"summary": summary, "records": records}, indent=None) + "\n", encoding="utf-8")
            return
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
            w.writeheader()
            for r in records:
                m = request_metrics(r)
                row = {k: r.get(k) for k in CSV_FIELDS}
                row.update({"ttft_s": m["ttft"], "tpot_s": m["tpot"], "e2e_s": m["e2e"], "output_tokens": m["output_tokens"],
                            "token_source": m["token_source"], "chunks": json.dumps(r.get("chunks") or [])})
                w.writerow(row)
    except OSError as exc:
        raise DeployscopeError(f"cannot write {path}: {exc}", field="export", value=str(path)) from None


class _Progress:
    """A live rich progress bar on stderr (only on a terminal, never with --json)."""

    def __init__(self, enabled: bool, mode: str) -> None:
        self.enabled = enabled
        self.mode = mode
        self.p = None
        self.task = None
        self.last = 0.0

    def start(self) -> None:
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(TextColumn("bench {task.description}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("errors {task.fields[errors]}"), TimeElapsedColumn(),
                          console=Console(stderr=True), transient=True)
        self.task = self.p.add_task(self.mode, total=None, errors=0)
        self.p.start()

    def update(self, run: Any) -> None:
        if self.p is None:
            return
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        self.p.update(self.task, completed=run.done, total=run.planned or None, errors=run.failed)

    def stop(self) -> None:
        if self.p is not None:
            self.p.stop()
            self.p = None


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:,.1f}"


def _render(s: dict[str, Any]) -> None:
    from rich.table import Table

    from .output import console

    c = console()
    ld = s["load"]
    c.print(f"[bold]{s['url']}[/] {s['api']} model={s.get('model') or '-'}  load={ld['mode']}  status={s['status']}")
    t = Table(title=f"{s['completed']} completed, {s['errors']} errors, {s['cancelled']} cancelled of {s['requests']} measured requests")
    for col in ("metric (ms)", "mean", "p50", "p90", "p99"):
        t.add_column(col, justify="right" if col != "metric (ms)" else "left")
    for key, name in (("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("itl_s", "ITL (chunk gaps)"), ("e2e_s", "end-to-end")):
        st = s[key]
        t.add_row(name, _ms(st["mean"]), _ms(st["p50"]), _ms(st["p90"]), _ms(st["p99"]))
    c.print(t)

    def f(x: float | None, unit: str) -> str:
        return "-" if x is None else f"{x:,.2f} {unit}"

    c.print(f"requests/s {f(s['requests_per_s'], '')}  output tokens/s {f(s['output_tokens_per_s'], '')}  "
            f"goodput {f(s['goodput'], 'req/s')}" + (f" (SLO {s['slo']})" if s.get("slo") else ""))
    if s["error_kinds"]:
        c.print("errors: " + ", ".join(f"{k} {v}" for k, v in s["error_kinds"].items()))
    cl = s["client"]
    if cl.get("cpu_per_request_ms") is not None:
        c.print(f"client CPU {cl['cpu_per_request_ms']:.2f} ms/request ({cl['transport']})")
    for st in s.get("steps") or []:
        sm = st["summary"]
        c.print(f"  step {st['step']} {st['label']}: {sm['completed']} ok, {f(sm['requests_per_s'], 'req/s')}, "
                f"TTFT p50 {_ms(sm['ttft_s']['p50'])} ms, TPOT p50 {_ms(sm['tpot_s']['p50'])} ms")
    if s.get("slo_search"):
        b = s["slo_search"].get("best")
        c.print(f"highest load meeting the SLOs: {f(b['requests_per_s'], 'req/s') if b else 'none'} "
                f"({s['slo_search'].get('note', '')})")
    for w in s.get("warnings") or []:
        c.print(f"[yellow]warning:[/] {w}")
    if s.get("run_id") is not None:
        c.print(f"saved as run {s['run_id']}")


def calibrate(
    runs: list[str] = typer.Argument(..., help="saved run ids or exported .json files"),
    name: Optional[str] = typer.Option(None, "--name", help="profile name (default ENGINE-FAMILY-DATE)"),
    model: Optional[str] = typer.Option(None, "--model", help="catalog model id, if the runs don't record it"),
    gpu: Optional[str] = typer.Option(None, "--gpu", help="accelerator catalog id, if the runs don't record it"),
    engine: Optional[str] = typer.Option(None, "--engine", help="engine catalog id, if the runs don't record it"),
    quant: Optional[str] = typer.Option(None, "--quant", help="weight format, if the runs don't record it (default bf16)"),
    as_json: bool = typer.Option(False, "--json", help="print the fit as JSON"),
) -> None:
    from ..bench.calibrate import calibrate as fit

    res = fit(list(runs), name=name, model=model, gpu=gpu, engine=engine, quant=quant)
    if as_json:
        from .output import to_json

        sys.stdout.write(to_json(res) + "\n")
        return
    from rich.table import Table

    from .output import console

    c = console()
    t = Table(title=f"calibration {res['name']}: {res['engine']} on {res['family']} (predicted vs measured)")
    for col in ("run", "load", "metric", "measured", "before", "after"):
        t.add_column(col)
    for p in res["points"]:
        for k, lab in (("ttft_s", "TTFT ms"), ("tpot_s", "TPOT ms"), ("output_tokens_per_s", "output tok/s")):
            scale = 1000.0 if k != "output_tokens_per_s" else 1.0

            def v(d: dict[str, Any], e: dict[str, Any] | None = None, k: str = k, scale: float = scale) -> str:
                x = d.get(k)
                s = "-" if x is None else f"{x * scale:,.3g}"
                if e is not None and e.get(k) is not None:
                    s += f" ({e[k] * 100:+.0f} %)"
                return s

            t.add_row(p["run"], p["load"], lab, v(p["measured"]), v(p["before"], p["error_before"]), v(p["after"], p["error_after"]))
    c.print(t)
    fct = res["factors"]
    c.print(f"factors: compute x{fct['compute']:.3g}, bandwidth x{fct['bandwidth']:.3g}, half-efficiency size x{fct['half_eff']:.3g}, "
            f"+{fct['overhead_add_s'] * 1e3:.3g} ms per step, +{fct.get('request_add_s', 0.0) * 1e3:.3g} ms per request before its first token")
    c.print(f"RMS log error {res['rms_log_error_before']:.3f} before -> {res['rms_log_error_after']:.3f} after")
    for note in res.get("notices", []):
        c.print(f"note: {note}", style="yellow", markup=False)
    if res.get("path"):
        c.print(f"saved {res['path']}; use it with `deployscope perf ... --calibration {res['name']}`")
