"""The check that comes with an export: load one replica at the plan's design point, compare what
was measured with what the plan predicted (within its error band), and, when the check fails,
calibrate on that run and re-plan.

Design point of a replica group: the arrival rate one replica is planned to sustain at the targets
(``capacity_per_replica``), the scenario's token-length distributions, and its TTFT/TPOT targets.
A latency prediction holds when measured / predicted lies in [1/high, 1/low] of the plan's error
band (the band is on throughput: ``low``..``high`` multipliers). The
offered request rate is shown beside them; whether one replica sustains it is what the SLO rows
judge (TTFT and TPOT p95 within the targets, no errors).
"""

from __future__ import annotations

import shlex
from typing import Any

from ..errors import DeployscopeError
from ..result import Plan
from .engines import Launch
from .spec import Deployment, ReplicaGroup, choose_option, deployment

DEFAULT_REQUESTS = 40
DEFAULT_DURATION_S = 600


def design_point(g: ReplicaGroup) -> dict[str, Any]:
    return {
        "rate_rps": g.design_rate_rps.value, "rate_from": g.design_rate_rps.origin,
        "input_len": g.input_mean, "input_std": g.input_std, "output_len": g.output_mean, "output_std": g.output_std,
        "slo_ttft_s": g.slo_ttft_s.value, "slo_tpot_s": g.slo_tpot_s.value,
    }


def bench_args(dep: Deployment, launch: Launch, url: str, export: str) -> list[str]:
    g = launch.group
    args = ["bench", url, "--model", g.model, "--rate", f"{g.design_rate_rps.value:.6g}", "--arrival", "poisson", "--warmup", "2",
            "--input-len", str(max(1, round(g.input_mean))), "--input-std", f"{g.input_std:.6g}",
            "--output-len", str(max(1, round(g.output_mean))), "--output-std", f"{g.output_std:.6g}", "--ignore-eos",
            "--slo-ttft-s", f"{g.slo_ttft_s.value:.6g}", "--slo-tpot-s", f"{g.slo_tpot_s.value:.6g}",
            "--gpu", g.gpu, "--engine", dep.engine, "--quant", g.quant, "--catalog-model", g.model,
            "--label", f"verify {dep.option.id} {g.name}", "--export", export, "--json"]
    return args


def verify_script(dep: Deployment, launches: list[Launch]) -> str:
    """verify.sh: bench each group's replica at its design point, then `deployscope verify` the run."""
    lines = ["#!/usr/bin/env bash",
             f"# Check option {dep.option.id} of plan {dep.plan.scenario_name!r} on the running deployment.",
             "# Usage: verify.sh [URL]   (one replica's base address; default http://127.0.0.1:PORT)",
             "#   URL_<GROUP>=...  address per replica group when there are several; REQUESTS, DURATION, OUT, DEPLOYSCOPE",
             "# Exit 0: every prediction held within the plan's error band; 1: one did not (the output says",
             "# how to calibrate and re-plan); 2: usage or input error.",
             "set -euo pipefail",
             'HERE="$(cd "$(dirname "$0")" && pwd)"',
             'DEPLOYSCOPE="${DEPLOYSCOPE:-deployscope}"',
             f'REQUESTS="${{REQUESTS:-{DEFAULT_REQUESTS}}}"',
             f'DURATION="${{DURATION:-{DEFAULT_DURATION_S}}}"',
             'OUT="${OUT:-$HERE/runs}"',
             'mkdir -p "$OUT"',
             "status=0"]
    for launch in launches:
        g = launch.group
        var = "URL_" + "".join(c if c.isalnum() else "_" for c in g.slug.upper())
        default = f"http://127.0.0.1:{launch.release.default_port}"
        run = f"$OUT/{g.slug}-run.json"
        args = bench_args(dep, launch, "URL_PLACEHOLDER", "RUN_PLACEHOLDER")
        cmd = " ".join(shlex.quote(a) for a in args)
        cmd = cmd.replace("URL_PLACEHOLDER", f'"${var}"').replace("RUN_PLACEHOLDER", f'"{run}"')
        dp = design_point(g)
        lines += [
            "",
            f"# {g.name}: design point of one replica",
            f"#   rate {dp['rate_rps']:.4g} req/s: {dp['rate_from']}",
            (f"#   input {g.input_mean:g} tokens (std {g.input_std:.3g}), output {g.output_mean:g} tokens (std {g.output_std:.3g}): "
            f"scenario.workloads[{g.name}]"),
            f"#   targets TTFT p95 {g.slo_ttft_s.value:g} s ({g.slo_ttft_s.origin}), TPOT p95 {g.slo_tpot_s.value:g} s ({g.slo_tpot_s.origin})",
            f'{var}="${{{var}:-${{1:-{default}}}}}"',
            f'"$DEPLOYSCOPE" {cmd} --requests "$REQUESTS" --duration "$DURATION" > /dev/null',
            (f'"$DEPLOYSCOPE" verify "{run}" --plan "$HERE/plan.json" --option {shlex.quote(dep.option.id)} '
            f'--group {shlex.quote(g.name)} || status=$?'),
        ]
    lines += ["exit $status"]
    return "\n".join(lines) + "\n"


def _held(metric: str, predicted: float | None, measured: float | None, band: dict[str, float], kind: str) -> dict[str, Any]:
    low, high = float(band.get("low", 1.0)), float(band.get("high", 1.0))
    row: dict[str, Any] = {"metric": metric, "predicted": predicted, "measured": measured}
    if predicted is None or measured is None or predicted <= 0:
        row.update(held=None, note="not predicted" if predicted is None else "not measured")
        return row
    ratio = measured / predicted
    if kind != "latency":  # the offered load: shown, not judged (the SLO rows say whether the replica sustained it)
        row.update(ratio=ratio, off_pct=(ratio - 1.0) * 100.0, held=None, note="offered load; judged by the SLO rows")
        return row
    lo, hi = 1.0 / high, 1.0 / low  # slower hardware -> lower throughput -> higher latency
    row.update(ratio=ratio, off_pct=(ratio - 1.0) * 100.0, allowed=[predicted * lo, predicted * hi], held=bool(lo <= ratio <= hi))
    if not row["held"]:
        row["direction"] = ("faster than planned: the plan buys more than it needs" if ratio < lo else
                            "slower than planned: the targets are at risk")
    return row


def verify_run(summary: dict[str, Any], plan: Plan, option_id: str | None = None, group: str | None = None,
               run_id: str | None = None) -> dict[str, Any]:
    """Which of the plan's predictions a bench run (at the design point) bears out, and whether the SLO holds."""
    option = choose_option(plan, option_id)
    dep = deployment(plan, option)
    groups = {g.name: g for g in dep.groups}
    if group is None:
        if len(groups) != 1:
            raise DeployscopeError("the option has several replica groups: name one", field="--group", value=None,
                                   allowed=", ".join(groups))
        g = next(iter(groups.values()))
    elif group not in groups:
        raise DeployscopeError(f"option {option.id} has no replica group {group!r}", field="--group", value=group, allowed=", ".join(groups))
    else:
        g = groups[group]
    if not summary.get("completed"):
        raise DeployscopeError("the run completed no requests: nothing to compare", field="run", value=run_id)
    band = dep.error_band or {"low": 1.0, "high": 1.0}
    load = summary.get("load") or {}
    offered = load.get("rate")
    ttft, tpot = summary.get("ttft_s") or {}, summary.get("tpot_s") or {}
    checks = [
        _held("ttft_p95_s", g.ttft_p95_s.value if g.ttft_p95_s else None, ttft.get("p95"), band, "latency"),
        _held("tpot_p95_s", g.tpot_p95_s.value if g.tpot_p95_s else None, tpot.get("p95"), band, "latency"),
        _held("requests_per_s", g.design_rate_rps.value, summary.get("requests_per_s"), band, "rate"),
    ]
    for c, origin in zip(checks, (g.ttft_p95_s, g.tpot_p95_s, g.design_rate_rps)):
        c["from"] = origin.origin if origin is not None else None
    slo_rows = {
        "ttft_p95_s": {"target": g.slo_ttft_s.value, "measured": ttft.get("p95")},
        "tpot_p95_s": {"target": g.slo_tpot_s.value, "measured": tpot.get("p95")},
    }
    for r in slo_rows.values():
        r["met"] = r["measured"] is not None and r["target"] > 0 and r["measured"] <= r["target"]
    errors = int(summary.get("errors") or 0)
    slo_met = all(r["met"] for r in slo_rows.values()) and errors == 0
    peak = g.demand_peak_rps.value
    holds = bool(slo_met)
    warnings = []
    if offered is not None and abs(float(offered) - g.design_rate_rps.value) > 0.05 * g.design_rate_rps.value:
        warnings.append(f"the run offered {float(offered):.4g} req/s, not the design point's {g.design_rate_rps.value:.4g}: "
                        "compare with care")
    if load.get("mode") not in (None, "rate"):
        warnings.append(f"the run is a {load.get('mode')} run, not a rate run at the design point")
    passed = all(c["held"] is not False for c in checks) and holds
    return {
        "plan": plan.scenario_name, "option": option.id, "group": g.name, "run": run_id, "engine": dep.engine,
        "gpu": g.gpu, "quant": g.quant, "model": g.model,
        "design_point": design_point(g), "error_band": band,
        "measured": {"completed": summary.get("completed"), "errors": errors, "requests_per_s": summary.get("requests_per_s"),
                     "output_tokens_per_s": summary.get("output_tokens_per_s")},
        "checks": checks,
        "slo": {"rows": slo_rows, "holds": holds, "replicas": g.replicas, "peak_rps": peak,
                "text": (f"the targets hold at {g.design_rate_rps.value:.4g} req/s per replica, so the planned {g.replicas} replicas "
                         f"carry the peak of {peak:.4g} req/s" if holds else
                         f"the targets do not hold at {g.design_rate_rps.value:.4g} req/s per replica: the planned {g.replicas} "
                         f"replicas may not carry the peak of {peak:.4g} req/s")},
        "passed": passed, "warnings": warnings,
    }


def replan(plan: Plan, calibration: str, option_id: str | None = None) -> dict[str, Any]:
    """Re-plan the plan's own scenario with a calibration profile; what changed (GPUs, cost, recommendation)."""
    from ..planner import plan as make_plan

    scn = dict(plan.scenario)
    scn["candidates"] = dict(scn.get("candidates") or {}, calibration=calibration)
    new = make_plan(scn)
    before_opt = choose_option(plan, option_id)
    after_opt = next((o for o in new.options if o.id == before_opt.id), None)

    def facts(p: Plan, o: Any) -> dict[str, Any]:
        if o is None:
            return {"option": None}
        return {"option": o.id, "allowed": o.allowed, "gpus": o.performance.gpus, "servers": o.performance.servers,
                "replicas": [c.replicas for c in o.performance.components if c.kind == "llm"],
                "npv": o.npv, "per_million_tokens": o.unit_costs.per_million_tokens,
                "ttft_p95_s": o.performance.ttft_p95_s, "tpot_p95_s": o.performance.tpot_p95_s}

    return {"calibration": calibration, "currency": new.currency,
            "before": {**facts(plan, before_opt), "recommended": plan.recommended},
            "after": {**facts(new, after_opt), "recommended": new.recommended},
            "recommendation_changed": plan.recommended != new.recommended, "plan": new}
