"""`deployscope export PLAN_OR_SCENARIO --format F --out DIR`: engine launch scripts, Kubernetes or
compose manifests and verify.sh for one option of a plan (docs/deploy.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..errors import DeployscopeError


def register(app: typer.Typer) -> None:
    app.command("export", help="Write the launch commands (vllm, sglang, trtllm, llamacpp, ollama), Kubernetes manifests (k8s) "
                "or a compose file (compose) for one option of a plan, with verify.sh to check the running deployment "
                "against the plan. PLAN_OR_SCENARIO: a plan JSON file, a saved plan id, or a scenario YAML (planned now).")(export)


def export(
    source: str = typer.Argument(..., metavar="PLAN_OR_SCENARIO", help="plan .json file, saved plan id, or scenario .yaml"),
    fmt: str = typer.Option(..., "--format", "-f", help="vllm | sglang | trtllm | llamacpp | ollama | k8s | compose"),
    out: Path = typer.Option(..., "--out", "-o", help="directory to write the files into"),
    option: str | None = typer.Option(None, "--option", help="option id (default: the recommended self-hosted option)"),
    engine: str | None = typer.Option(None, "--engine", help="engine for k8s/compose (default: the engine the plan sized with)"),
    engine_version: str | None = typer.Option(None, "--engine-version", help="engine release (default: the newest profile)"),
    name: str | None = typer.Option(None, "--name", help="name of the Kubernetes objects / compose project (default: from the scenario)"),
    as_json: bool = typer.Option(False, "--json", help="print what was written, with every value's origin, as JSON"),
) -> None:
    from ..export import FORMATS, export_plan, load_plan

    if fmt not in FORMATS:
        raise DeployscopeError(f"unknown export format {fmt!r}", field="--format", value=fmt, allowed=", ".join(FORMATS))
    plan = load_plan(source)
    res = export_plan(plan, fmt, out, option_id=option, engine=engine, engine_version=engine_version, name=name)
    if as_json:
        from .output import to_json

        sys.stdout.write(to_json(dict(res.summary(), out=str(out))) + "\n")
        return
    from .output import console

    c = console()
    c.print(f"option [bold]{res.option}[/] -> {res.format} ({res.release}), written to {out}/")
    for f in sorted(res.files):
        c.print(f"  {f}")
    decided = [t for t in res.trace if not str(t["from"]).startswith("engine default")]
    left = [t for t in res.trace if str(t["from"]).startswith("engine default")]
    c.print(f"{len(decided)} values from the plan, {len(left)} left to the engine's defaults (see the comments in each file)")
    for n in res.notes:
        c.print(f"[yellow]note:[/] {n}")
    c.print(f"check the running deployment with: {out}/verify.sh URL")
