"""From a Plan to a running deployment: engine launch scripts, Kubernetes and compose manifests,
and the verify.sh that checks the deployment against the plan.

    from deployscope.export import export_plan, load_plan
    result = export_plan(load_plan("plan.json"), "vllm", "deploy/")

Modules: ``spec`` (plan -> replica groups, every value traced), ``engines`` (launch commands from
the catalog's engine release profiles), ``manifests`` (Kubernetes, compose), ``verify`` (the check,
calibrate and re-plan). This package sits above the planner: it reads Plans and may re-plan.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DeployscopeError
from ..result import Plan
from .engines import ENGINE_FORMATS, Launch, engine_release, launches, ollama_modelfile
from .spec import Deployment, choose_option, deployment, load_plan
from .verify import replan, verify_run, verify_script

FORMATS = ("vllm", "sglang", "trtllm", "llamacpp", "ollama", "k8s", "compose")

__all__ = ["FORMATS", "ExportResult", "export_files", "export_plan", "load_plan", "replan", "verify_run"]


@dataclass
class ExportResult:
    option: str
    format: str
    engine: str
    release: str
    files: dict[str, str] = field(default_factory=dict)  # name -> content
    trace: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"option": self.option, "format": self.format, "engine": self.engine, "release": self.release,
                "files": sorted(self.files), "trace": self.trace, "notes": self.notes}


def export_files(plan: Plan, fmt: str, *, option_id: str | None = None, engine: str | None = None,
                 engine_version: str | None = None, name: str | None = None, catalog: Any = None) -> ExportResult:
    """Every file of the export as text (nothing written): the web app serves these, the CLI writes them."""
    from ..catalog import default_catalog

    if fmt not in FORMATS:
        raise DeployscopeError(f"unknown export format {fmt!r}", field="--format", value=fmt, allowed=", ".join(FORMATS))
    cat = default_catalog(catalog)
    option = choose_option(plan, option_id)
    dep = deployment(plan, option, cat)
    eng = ENGINE_FORMATS.get(fmt) or engine or dep.engine
    if engine is not None and fmt in ENGINE_FORMATS and engine != fmt:
        raise DeployscopeError(f"--engine {engine} contradicts --format {fmt}", field="--engine", value=engine, allowed=fmt)
    rel = engine_release(eng, cat, engine_version)
    ls = launches(dep, rel.engine, cat, rel.version)
    if name is not None and not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?", name):
        raise DeployscopeError(f"{name!r} is not a DNS label of at most 40 characters: lower-case letters, digits and '-', "
                               "starting and ending with a letter or digit", field="--name", value=name, allowed="e.g. chat-prod")
    base = name or _slug(plan.scenario_name)
    res = ExportResult(option=option.id, format=fmt, engine=rel.engine, release=rel.id, notes=list(dep.notes))
    res.files["plan.json"] = plan.to_json() + "\n"
    header = _header(dep)
    if fmt in ENGINE_FORMATS:
        for launch in ls:
            g = launch.group
            head = header + [(f"Replica group {g.name}: run {g.replicas} replicas (options[{option.id}].performance.components"
                             f"[{g.index}].replicas), each on {g.gpus_per_replica} x {g.gpu} (tp {g.tp} x pp {g.pp})."),
                             f"Engine: {rel.engine} {rel.version} ({rel.id}; flags from {rel.source})"]
            if rel.engine == "ollama":
                res.files[f"{g.slug}.Modelfile"] = ollama_modelfile(launch)
                res.files[f"{g.slug}.ollama.sh"] = _ollama_script(launch, head, f"{g.slug}.Modelfile")
            else:
                res.files[f"{g.slug}.{rel.engine}.sh"] = launch.script(head)
    elif fmt == "k8s":
        from .manifests import kubernetes

        res.files["k8s.yaml"] = kubernetes(dep, ls, base)
    else:
        from .manifests import compose

        res.files["compose.yaml"] = compose(dep, ls, base)
    res.files["verify.sh"] = verify_script(dep, ls)
    for launch in ls:
        res.trace += _trace(launch)
        res.notes += [f"{launch.group.name}: {n}" for n in launch.notes]
    res.files["export.json"] = json.dumps(res.summary(), indent=1) + "\n"
    return res


def export_plan(plan: Plan, fmt: str, out_dir: str | os.PathLike[str], **kw: Any) -> ExportResult:
    """Write the export's files into `out_dir` (created; existing files of the same names replaced)."""
    res = export_files(plan, fmt, **kw)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for fname, text in res.files.items():
            p = out / fname
            p.write_text(text, encoding="utf-8")
            if fname.endswith(".sh"):
                p.chmod(0o755)
    except OSError as exc:
        raise DeployscopeError(f"cannot write the export: {exc}", field="--out", value=str(out_dir)) from None
    return res


def _header(dep: Deployment) -> list[str]:
    p = dep.plan
    return [(f"Generated by deployscope {p.deployscope_version} from plan {p.scenario_name!r}, option {dep.option.id} "
            f"({dep.option.label})."), "Each value's comment names the plan figure (or catalog row) it comes from."]


def _trace(launch: Launch) -> list[dict[str, Any]]:
    g = launch.group
    rows = [{"group": g.name, "setting": "model", "value": launch.model.value, "from": launch.model.origin}]
    rows += [{"group": g.name, "setting": a.setting, "value": " ".join(a.tokens), "from": a.origin} for a in launch.args]
    rows += [{"group": g.name, "setting": env, "value": v, "from": o} for env, (v, o) in launch.env.items()]
    rows += [{"group": g.name, "setting": s, "value": None, "from": f"engine default: {d}"} for s, _, d in launch.defaults]
    return rows


def _ollama_script(launch: Launch, header: list[str], modelfile: str) -> str:
    lines = ["#!/usr/bin/env bash", *[f"# {h}" for h in header]]
    if launch.defaults:
        lines.append("# Left to the engine's default (the plan did not decide them):")
        lines += [f"#   {flag}: {default}" for _, flag, default in launch.defaults]
    lines += ["set -euo pipefail", 'HERE="$(cd "$(dirname "$0")" && pwd)"', 'OLLAMA="${OLLAMA:-ollama}"']
    lines += [f"export {k}={v}  # {o}" for k, (v, o) in launch.env.items() if k != "OLLAMA_MODEL_FILE"]
    lines += ['export OLLAMA_HOST="${OLLAMA_HOST:-0.0.0.0:11434}"  # deployment setting, not a plan figure',
              '"$OLLAMA" serve & server=$!',
              'until "$OLLAMA" list >/dev/null 2>&1; do sleep 1; done',
              f'"$OLLAMA" create {launch.group.model} -f "$HERE/{modelfile}"',
              'wait "$server"']
    return "\n".join(lines) + "\n"


def _slug(s: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in s.lower()).strip("-")
    return (out or "deployscope")[:40].strip("-")
