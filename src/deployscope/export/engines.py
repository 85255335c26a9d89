"""Engine launch commands (vLLM, SGLang, TensorRT-LLM, llama.cpp, Ollama) for one replica group.

Flags come from the engine release profile (catalog ``engine_flags``); values from the plan,
each with the figure it comes from. A setting the plan did not decide is left out, and the
launch file says which default the engine then uses.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from ..catalog.engine_flags import EngineRelease, release_for
from ..errors import DeployscopeError
from ..physics.memory import utilization_for
from .spec import Deployment, ReplicaGroup, Traced

ENGINE_FORMATS = {"vllm": "vllm", "sglang": "sglang", "trtllm": "trtllm", "llamacpp": "llamacpp", "ollama": "ollama"}
PLUMBING = "deployment setting, not a plan figure"


@dataclass
class Arg:
    setting: str
    tokens: list[str]
    origin: str


@dataclass
class Launch:
    """The launch of one replica of one group: flags with their origins, and the defaults left to the engine."""

    release: EngineRelease
    group: ReplicaGroup
    model: Traced
    args: list[Arg] = field(default_factory=list)
    env: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (value, origin)
    defaults: list[tuple[str, str, str]] = field(default_factory=list)  # (setting, flag, engine default)
    notes: list[str] = field(default_factory=list)

    def argv(self, *, model: str | None = None, host: str = "0.0.0.0", port: int | None = None,
             extra: list[str] | None = None) -> list[str]:
        """The command line with concrete values (container command, parser tests)."""
        rel = self.release
        out = list(rel.program)
        mflag = rel.flag("model")
        m = model if model is not None else str(self.model.value)
        if mflag is not None and mflag.env is None:
            out += [m] if mflag.kind == "positional" else [str(mflag.flag), m]
        for a in self.args:
            out += a.tokens
        for setting, value in (("host", host), ("port", str(port or rel.default_port))):
            f = rel.flag(setting)
            if f is not None and f.flag:
                out += [f.flag, value]
        return out + list(extra or [])

    def script(self, header: list[str]) -> str:
        """A bash launch script: the model, host and port from the environment, every flag commented."""
        rel = self.release
        prog_var = "".join(c if c.isalnum() else "_" for c in rel.program[0].upper())
        lines = ["#!/usr/bin/env bash", *[f"# {h}" for h in header]]
        if self.defaults:
            lines.append("# Left to the engine's default (the plan did not decide them):")
            lines += [f"#   {flag or setting}: {default}" for setting, flag, default in self.defaults]
        lines += [f"# Note: {n}" for n in self.notes]
        lines += ["set -euo pipefail",
                  f'MODEL="${{MODEL:-{self.model.value}}}"  # {self.model.origin}',
                  f'HOST="${{HOST:-0.0.0.0}}"  # {PLUMBING}',
                  f'PORT="${{PORT:-{rel.default_port}}}"  # {PLUMBING}',
                  f'{prog_var}="${{{prog_var}:-{rel.program[0]}}}"  # the engine program ({rel.engine} {rel.version})']
        for name, (value, origin) in self.env.items():
            lines.append(f"export {name}={shlex.quote(value)}  # {origin}")
        lines.append("args=(")
        mflag = rel.flag("model")
        if mflag is not None and mflag.env is None:
            lines.append('  "$MODEL"' if mflag.kind == "positional" else f'  {mflag.flag} "$MODEL"')
        for a in self.args:
            lines.append(f"  {' '.join(shlex.quote(t) for t in a.tokens)}  # {a.origin}")
        for setting, var in (("host", "HOST"), ("port", "PORT")):
            f = rel.flag(setting)
            if f is not None and f.flag:
                lines.append(f'  {f.flag} "${var}"')
        lines.append(")")
        lines.append(f'exec "${prog_var}" {" ".join(shlex.quote(p) for p in rel.program[1:])} "${{args[@]}}" "$@"'.replace("  ", " "))
        return "\n".join(lines) + "\n"


def engine_release(engine: str, catalog: Any, version: str | None = None) -> EngineRelease:
    rel = release_for(engine, catalog, version)
    if rel is None and version is not None and release_for(engine, catalog) is not None:
        versions = sorted(r.version for r in catalog.engine_flags if r.engine == engine)
        raise DeployscopeError(f"no {engine} release profile for version {version!r}", field="--engine-version", value=version,
                               allowed=f"the {engine} releases with a profile: {', '.join(versions)}")
    if rel is None:
        known = sorted({r.engine for r in catalog.engine_flags})
        raise DeployscopeError(f"no engine release profile for {engine!r}" + (f" version {version}" if version else ""),
                               field="--engine", value=engine, allowed=", ".join(known))
    return rel


def check_serves(rel: EngineRelease, group: ReplicaGroup, catalog: Any) -> None:
    """Exit 2 when this engine cannot run the group's weight format, device or parallelism."""
    eng = catalog.engines.find(rel.engine)
    if group.quant not in rel.formats or (eng is not None and eng.formats and group.quant not in eng.formats):
        raise DeployscopeError(
            f"{rel.engine} {rel.version} cannot serve weight format {group.quant!r}, which the plan chose for {group.name} "
            f"on {group.gpu}", field="--format", value=rel.engine, allowed=f"formats it serves: {', '.join(rel.formats)}")
    if eng is not None and group.device_type not in eng.devices:
        raise DeployscopeError(f"{rel.engine} does not run on {group.device_type} devices ({group.gpu})", field="--format",
                               value=rel.engine, allowed=f"devices: {', '.join(eng.devices)}")
    for setting, n in (("tensor_parallel", group.tp), ("pipeline_parallel", group.pp)):
        if n > 1 and rel.flag(setting) is None:
            raise DeployscopeError(f"{rel.engine} {rel.version} has no {setting.replace('_', ' ')} option, and the plan "
                                   f"splits each {group.name} replica {n} ways", field="--format", value=rel.engine)


def build_launch(dep: Deployment, group: ReplicaGroup, rel: EngineRelease, catalog: Any) -> Launch:
    check_serves(rel, group, catalog)
    eng = catalog.engines.find(rel.engine)
    gpu = catalog.accelerators.find(group.gpu) if group.device_type != "cpu" else None
    if eng is not None and gpu is not None:  # the limits the engine picks on this GPU, as the plan sized with
        eng = eng.on_gpu(gpu)
    comp = f"options[{dep.option.id}].performance.components[{group.index}]"
    fmt = rel.formats[group.quant]
    if rel.weights == "gguf":
        ftype = fmt.get("file_type", group.quant.upper())
        model = Traced(f"/models/{group.model.split('/')[-1]}-{ftype}.gguf",
                       f"{comp}.model {group.model} in {group.quant} (a {ftype} GGUF file)")
    else:
        model = Traced(group.model, f"{comp}.model" + ("" if group.quant in ("bf16", "fp16") else f" (a {group.quant} checkpoint of it)"))
    launch = Launch(release=rel, group=group, model=model)
    if rel.flag("model") is not None and rel.flag("model").env is not None:  # Ollama: Modelfile FROM
        launch.env["OLLAMA_MODEL_FILE"] = ("$MODEL", model.origin)

    def put(setting: str, value: Any, origin: str) -> None:
        f = rel.flag(setting)
        if f is None:
            return
        if f.env:
            launch.env[f.env] = (str(value), origin)
        elif f.kind == "switch":
            tok = f.flag if value else f.disable
            if tok:
                launch.args.append(Arg(setting, [tok], origin))
        elif f.kind == "bool_optional":
            launch.args.append(Arg(setting, [str(f.flag) if value else "--no-" + str(f.flag)[2:]], origin))
        else:
            launch.args.append(Arg(setting, [str(f.flag), str(value)], origin))

    put("served_model_name", group.model, f"{comp}.model (the name bench and clients send)")
    for setting, value in fmt.items():
        if setting in ("dtype", "quantization"):
            put(setting, value, f"{comp}.quant {group.quant} -> {setting} {value} (catalog engine_flags[{rel.id}].formats)")
    if group.tp > 1 or rel.flag("tensor_parallel"):
        put("tensor_parallel", group.tp, f"{comp}.tp")
    if group.pp > 1 or rel.flag("pipeline_parallel"):
        put("pipeline_parallel", group.pp, f"{comp}.pp")
    perf = eng.perf if eng is not None else None
    mem = eng.memory if eng is not None else None
    # sequences per replica: the plan's own figure; an older plan without it falls back to the engine's cap it assumed
    slots: Traced | None = group.max_batch
    if slots is None and perf is not None:
        slots = Traced(perf.max_batch_size, f"catalog engines[{eng.id}].perf.max_batch_size {perf.max_batch_size}: "
                                            "the batch limit the plan's capacity_per_replica assumes")
    if group.max_model_len is not None:
        put("max_model_len", group.max_model_len.value, group.max_model_len.origin)
        if slots is not None and rel.flag("context_total"):
            put("context_total", int(group.max_model_len.value) * int(slots.value),
                f"{group.max_model_len.origin}, x {slots.value} slots (the context is shared by all slots)")
    if slots is not None:
        put("max_sequences", slots.value, slots.origin)
    if group.kv_quant is not None and rel.flag("kv_cache_dtype") is not None:
        kv = rel.kv_formats.get(str(group.kv_quant.value))
        if kv is not None:
            put("kv_cache_dtype", kv, f"{group.kv_quant.origin} -> {kv} (catalog engine_flags[{rel.id}].kv_formats)")
        else:
            launch.notes.append(f"the plan sized {group.name} with a {group.kv_quant.value} KV cache, which {rel.engine} "
                                f"{rel.version} has no setting for: its default KV-cache type is used; verify the capacity")
    if perf is not None:
        put("max_batched_tokens", perf.max_num_tokens,
            f"catalog engines[{eng.id}].perf.max_num_tokens {perf.max_num_tokens}: the step token budget the plan assumes")
        put("chunked_prefill", perf.chunked_prefill,
            f"catalog engines[{eng.id}].perf.chunked_prefill {str(perf.chunked_prefill).lower()}: as the plan's step model assumes")
    util = mem.memory_utilization if mem is not None else 1.0
    if mem is not None and mem.static_fraction is not None and gpu is not None:
        util = float(utilization_for(eng, gpu.memory_bytes, group.tp, group.pp))
    if mem is not None and rel.flag("kv_cache_fraction") is not None and util < 1.0:
        how = ("the engine's own default on this GPU at this tp x pp" if mem.static_fraction is not None and gpu is not None
               else f"catalog engines[{eng.id}].memory.memory_utilization")
        put("kv_cache_fraction", util, f"{how} {util}: the KV budget of the plan's memory fit")
    if group.device_type == "cpu" and group.cores:
        put("threads", group.cores, f"catalog accelerators[{group.gpu}].cores {group.cores}: the compute the plan's figures rest on")
    if group.device_type != "cpu" and rel.flag("gpu_layers") is not None:
        put("gpu_layers", "all", f"{comp}.gpu {group.gpu}: the plan fits the whole model in GPU memory")
    decided = {a.setting for a in launch.args} | {s for s, f in rel.flags.items() if f.env and f.env in launch.env}
    for setting, f in rel.flags.items():
        if setting not in decided and setting not in ("model", "host", "port", "nnodes", "node_rank", "dist_init_addr"):
            launch.defaults.append((setting, f.flag or f.env or f.disable or setting, f"{f.default} [{f.source}]"))
    if rel.engine != dep.engine:
        launch.notes.append(f"the plan predicted its figures for {dep.engine}; run on {rel.engine} they may differ: verify them")
    if group.max_model_len is None:
        launch.notes.append("the scenario gives no input_tokens.max / output_tokens.max, so the engine's context length is "
                            "the model's own; set both in the scenario to bound it")
    return launch


def launches(dep: Deployment, fmt: str, catalog: Any, version: str | None = None) -> list[Launch]:
    rel = engine_release(ENGINE_FORMATS.get(fmt, fmt), catalog, version)
    return [build_launch(dep, g, rel, catalog) for g in dep.groups]


def ollama_modelfile(launch: Launch) -> str:
    g = launch.group
    lines = [f"# {g.name}: Ollama Modelfile ({launch.model.origin})", f"FROM {launch.model.value}"]
    if g.max_model_len is not None:
        lines.append(f"# {g.max_model_len.origin}")
        lines.append(f"PARAMETER num_ctx {g.max_model_len.value}")
    if g.device_type == "cpu" and g.cores:
        lines.append(f"# catalog accelerators[{g.gpu}].cores")
        lines.append(f"PARAMETER num_thread {g.cores}")
    return "\n".join(lines) + "\n"
