"""`deployscope verify RUN --plan PLAN`: which of the plan's predictions a bench run bears out, and
the loop's next step: `--calibrate` fits a calibration to the run and re-plans (docs/deploy.md)."""

from __future__ import annotations

import sys
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    app.command("verify", help="Compare a bench run (saved id or exported .json) at the plan's design point with the plan's "
                "predictions and error band; exit 1 when a prediction did not hold. --calibrate fits a calibration to the "
                "run and shows how the plan changes.")(verify)


def verify(
    run: str = typer.Argument(..., help="saved bench run id or exported .json file"),
    plan_ref: str = typer.Option(..., "--plan", help="plan .json file, saved plan id, or scenario .yaml"),
    option: str | None = typer.Option(None, "--option", help="option id (default: the recommended self-hosted option)"),
    group: str | None = typer.Option(None, "--group", help="replica group (workload) the run loaded"),
    calibrate: bool = typer.Option(False, "--calibrate", help="on a failed check: fit a calibration to this run and re-plan"),
    name: str | None = typer.Option(None, "--name", help="calibration profile name (with --calibrate)"),
    replan_out: str | None = typer.Option(None, "--replan-out", help="write the re-planned plan JSON here (with --calibrate)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    from ..bench.calibrate import load_run
    from ..export import load_plan, replan, verify_run

    plan = load_plan(plan_ref)
    r = load_run(run)
    res: dict[str, Any] = verify_run(r["summary"], plan, option, group, run_id=r["id"])
    if calibrate and not res["passed"]:
        from ..bench.calibrate import calibrate as fit

        cal = fit([run], name=name or f"verify-{res['option']}-{res['group']}")
        res["calibration"] = {k: cal[k] for k in ("name", "engine", "family", "factors", "rms_log_error_before", "rms_log_error_after")}
        rp = replan(plan, cal["name"], res["option"])
        new_plan = rp.pop("plan")
        if replan_out:
            from ..paths import write_atomic

            write_atomic(replan_out, (new_plan.to_json() + "\n").encode("utf-8"))
            rp["written_to"] = replan_out
        res["replan"] = rp
    elif calibrate:
        res["calibration"] = None  # every prediction held: nothing to calibrate
    elif not res["passed"]:
        res["next"] = f"deployscope verify {run} --plan {plan_ref} --option {res['option']} --group {res['group']} --calibrate"
    if as_json:
        from .output import to_json

        sys.stdout.write(to_json(res) + "\n")
    else:
        render(res)
    if not res["passed"]:
        raise SystemExit(1)


LATENCY = ("ttft_p95_s", "tpot_p95_s")


def _v(metric: str, x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:,.4g} ms" if metric in LATENCY else f"{x:,.3g}/s"


def render(res: dict[str, Any]) -> None:
    from rich.table import Table

    from .output import console

    c = console()
    dp = res["design_point"]
    c.print(f"[bold]{res['plan']}[/] option {res['option']}, group {res['group']} ({res['model']}, {res['quant']} on {res['gpu']}, "
            f"{res['engine']}); run {res['run']}")
    c.print(f"design point: {dp['rate_rps']:.4g} req/s per replica, {dp['input_len']:g} in / {dp['output_len']:g} out tokens; "
            f"error band x{res['error_band'].get('low', 1):.3g}..x{res['error_band'].get('high', 1):.3g}")
    t = Table(title="predicted vs measured")
    for col in ("figure", "predicted", "measured", "off", "band allows", "held"):
        t.add_column(col)
    for ch in res["checks"]:
        allowed = ch.get("allowed") or [None, None]
        span = "-" if allowed[0] is None else f"{_v(ch['metric'], allowed[0])}..{_v(ch['metric'], allowed[1])}"
        held = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[ch["held"]]
        off = f"{ch['off_pct']:+.0f} %" if ch.get("off_pct") is not None else "-"
        t.add_row(ch["metric"], _v(ch["metric"], ch["predicted"]), _v(ch["metric"], ch["measured"]), off, span, held)
    c.print(t)
    for ch in res["checks"]:
        if ch.get("direction") or ch.get("note"):
            c.print(f"  {ch['metric']}: {ch.get('direction') or ch.get('note')}")
    slo = res["slo"]
    for k, row in slo["rows"].items():
        c.print(f"SLO {k}: target {_v(k, row['target'])}, measured {_v(k, row['measured'])} -> {'met' if row['met'] else 'missed'}")
    c.print(("[green]" if slo["holds"] else "[red]") + slo["text"] + "[/]")
    for w in res.get("warnings") or []:
        c.print(f"[yellow]warning:[/] {w}")
    c.print("[green]PASS[/]: every prediction held" if res["passed"] else "[red]FAIL[/]: a prediction did not hold")
    if res.get("next"):
        c.print(f"calibrate on this run and re-plan: {res['next']}")
    if "calibration" in res and res["calibration"] is None:
        c.print("every prediction held: nothing to calibrate")
    if res.get("calibration"):
        cal = res["calibration"]
        c.print(f"calibration {cal['name']} ({cal['engine']} on {cal['family']}): RMS log error "
                f"{cal['rms_log_error_before']:.3f} -> {cal['rms_log_error_after']:.3f}")
    if res.get("replan"):
        rp = res["replan"]
        b, a = rp["before"], rp["after"]
        t2 = Table(title=f"the plan with calibration {rp['calibration']}")
        for col in ("", "before", "after"):
            t2.add_column(col)
        for key, lab in (("gpus", "GPUs"), ("replicas", "replicas"), ("npv", f"NPV ({rp['currency']})"),
                         ("per_million_tokens", f"{rp['currency']} per 1M tokens"), ("ttft_p95_s", "TTFT p95"),
                         ("tpot_p95_s", "TPOT p95"), ("recommended", "recommended")):
            def f(v: Any, key: str = key) -> str:
                if v is None:
                    return "-"
                if key in LATENCY:
                    return _v(key, v)
                return f"{v:,.2f}" if isinstance(v, float) else str(v)
            t2.add_row(lab, f(b.get(key)), f(a.get(key)))
        c.print(t2)
        if rp.get("written_to"):
            c.print(f"re-planned plan written to {rp['written_to']}")
