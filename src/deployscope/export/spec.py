"""From a Plan to what a deployment needs: the option, its replica groups, and each value with the
plan figure it comes from (a :class:`Traced`). Engine and manifest writers only format these.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DeployscopeError
from ..result import SCHEMA_VERSION, ComponentSizing, Option, Plan

SELF_HOSTED = ("on_prem", "cloud", "hybrid")


@dataclass(frozen=True)
class Traced:
    """A generated value and the plan figure (or catalog row) it comes from."""

    value: Any
    origin: str


@dataclass
class ReplicaGroup:
    """One self-hosted LLM pool of the option: identical replicas of one engine process each."""

    name: str
    index: int  # position in option.performance.components
    model: str
    quant: str
    gpu: str
    device_type: str  # gpu | cpu | soc
    vendor: str
    tp: int
    pp: int
    replicas: int
    cores: int | None
    memory_gib: float
    gpus_per_node: int
    max_model_len: Traced | None
    kv_quant: Traced | None  # KV-cache format the plan's capacity assumes (None: an older plan)
    max_batch: Traced | None  # most sequences per replica the plan's capacity assumes (None: an older plan)
    input_mean: float
    input_std: float
    output_mean: float
    output_std: float
    design_rate_rps: Traced  # per replica: the capacity the plan counts on
    demand_peak_rps: Traced  # whole group
    ttft_p95_s: Traced | None
    tpot_p95_s: Traced | None
    slo_ttft_s: Traced
    slo_tpot_s: Traced

    @property
    def gpus_per_replica(self) -> int:
        return self.tp * self.pp

    @property
    def nodes_per_replica(self) -> int:
        return max(1, math.ceil(self.gpus_per_replica / max(1, self.gpus_per_node)))

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.name.lower()).strip("-") or f"group{self.index}"


@dataclass
class Deployment:
    plan: Plan
    option: Option
    engine: str  # engines catalog id the plan sized with
    groups: list[ReplicaGroup]
    storage_bytes: Traced | None
    error_band: dict[str, float] | None
    notes: list[str] = field(default_factory=list)


def load_plan(ref: str | Path, *, store: Any = None) -> Plan:
    """A Plan from a saved plan JSON file, a plan id in the store, or a scenario YAML (planned now)."""
    p = Path(str(ref))
    try:
        exists = p.is_file()
    except (OSError, ValueError):
        exists = False
    if exists and p.suffix.lower() in (".yaml", ".yml"):
        from ..planner import plan as make_plan

        return make_plan(p)
    if exists:
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DeployscopeError(f"cannot read {ref} as a plan JSON file: {exc}", field="plan", value=str(ref),
                                   allowed="a plan JSON file (plan --json / --report x.json), a saved plan id, or a scenario YAML") from None
        return plan_from_dict(data, str(ref))
    if str(ref).isdigit():
        if store is None:
            from ..store import Store

            store = Store()
        return plan_from_dict(store.get_plan(int(str(ref))).plan, f"saved plan {ref}")
    raise DeployscopeError(f"no such plan file, scenario file or saved plan id: {ref!r}", field="plan", value=str(ref),
                           allowed="a plan JSON file, a saved plan id (deployscope plans), or a scenario .yaml")


def plan_from_dict(data: Any, where: str) -> Plan:
    from pydantic import ValidationError

    if not isinstance(data, dict) or "options" not in data:
        raise DeployscopeError(f"{where} is not a deployscope plan (no 'options')", field="plan", value=where)
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise DeployscopeError(
            f"{where} has plan schema_version {version!r}; this deployscope reads schema_version {SCHEMA_VERSION}: "
            "re-plan the scenario (deployscope plan SCENARIO --json) to export it",
            field="schema_version", value=version, allowed=str(SCHEMA_VERSION),
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise DeployscopeError(f"{where} is not a valid plan: {loc}: {err['msg']}", field=loc or "plan", value=where) from None


def choose_option(plan: Plan, option_id: str | None) -> Option:
    """The option to deploy: `option_id`, else the recommended one if self-hosted, else the best self-hosted."""
    if option_id is not None:
        try:
            opt = plan.option(option_id)
        except KeyError:
            raise DeployscopeError(f"the plan has no option {option_id!r}", field="--option", value=option_id,
                                   allowed=", ".join(o.id for o in plan.options)) from None
        _check_deployable(opt)
        return opt
    if plan.best is not None and plan.best.placement in SELF_HOSTED and _llm_parts(plan.best):
        return plan.best
    ranked = sorted((o for o in plan.allowed_options() if o.placement in SELF_HOSTED and _llm_parts(o)),
                    key=lambda o: (o.rank is None, o.rank or 0))
    if not ranked:
        raise DeployscopeError("the plan has no allowed self-hosted LLM option to deploy (every option is a hosted API, "
                               "excluded, or serves no LLM)", field="--option", value=None,
                               allowed=", ".join(o.id for o in plan.options) or "(none)")
    return ranked[0]


def _llm_parts(opt: Option) -> list[ComponentSizing]:
    return [c for c in opt.performance.components if c.kind == "llm" and c.placement != "api" and c.gpu and c.replicas]


def _check_deployable(opt: Option) -> None:
    if opt.placement == "api":
        raise DeployscopeError(f"option {opt.id} is a hosted API ({opt.provider or opt.label}): there is no engine to launch",
                               field="--option", value=opt.id, allowed="an on_prem, cloud or hybrid option")
    if not _llm_parts(opt):
        raise DeployscopeError(f"option {opt.id} has no self-hosted LLM pool (its serving is bought as a service): "
                               "nothing to launch", field="--option", value=opt.id, allowed="an option with a self-hosted LLM pool")
    if not opt.allowed:
        raise DeployscopeError(f"option {opt.id} is excluded by the plan: {'; '.join(opt.excluded_because)}",
                               field="--option", value=opt.id)


def deployment(plan: Plan, option: Option, catalog: Any = None) -> Deployment:
    """The replica groups of `option` with every value traced to the plan."""
    from ..catalog import default_catalog

    cat = default_catalog(catalog)
    scn = plan.scenario
    engine = str((scn.get("candidates") or {}).get("engine") or "vllm")
    eng_row = cat.engines.find(engine)
    engine = eng_row.id if eng_row is not None else engine
    targets = scn.get("targets") or {}
    workloads = {w.get("name"): w for w in scn.get("workloads") or [] if isinstance(w, dict)}
    oid = f"options[{option.id}]"
    groups = []
    for i, c in enumerate(option.performance.components):
        if c not in _llm_parts(option):
            continue
        w = workloads.get(c.workload, {})
        acc = cat.accelerators.find(c.gpu or "")
        srv = cat.servers.find(option.performance.server) if option.performance.server else None
        comp = f"{oid}.performance.components[{i}]"
        slo_ttft = w.get("ttft_p95_s") or targets.get("ttft_p95_s")
        slo_tpot = w.get("tpot_p95_s") or targets.get("tpot_p95_s")
        slo_where = f"scenario.workloads[{c.workload}]" if w.get("ttft_p95_s") else "scenario.targets"
        inp, out = w.get("input_tokens") or {}, w.get("output_tokens") or {}
        mml = None
        if inp.get("max") and out.get("max"):
            mml = Traced(int(inp["max"]) + int(out["max"]),
                         f"scenario.workloads[{c.workload}].input_tokens.max {inp['max']} + output_tokens.max {out['max']}")
        replicas = int(c.replicas or 1)
        cap = float(c.capacity_per_replica or 0.0)
        groups.append(ReplicaGroup(
            name=c.workload, index=i, model=c.model, quant=c.quant or "bf16", gpu=c.gpu or "",
            device_type=getattr(acc, "device_type", "gpu") or "gpu", vendor=getattr(acc, "vendor", "nvidia") or "nvidia",
            tp=int(c.tp or 1), pp=int(c.pp or 1), replicas=replicas,
            cores=getattr(acc, "cores", None), memory_gib=float(getattr(acc, "memory_gib", 0.0) or 0.0),
            gpus_per_node=_node_gpus(cat, option, srv) or max(int(c.tp or 1) * int(c.pp or 1), 1),
            max_model_len=mml,
            kv_quant=Traced(c.kv_quant, f"{comp}.kv_quant {c.kv_quant}") if c.kv_quant else None,
            max_batch=(Traced(int(c.max_batch_per_replica), f"{comp}.max_batch_per_replica {c.max_batch_per_replica}: the batch "
                              "limit capacity_per_replica assumes") if c.max_batch_per_replica else None),
            input_mean=float(inp.get("mean") or 0.0), input_std=_std(inp), output_mean=float(out.get("mean") or 0.0), output_std=_std(out),
            design_rate_rps=Traced(cap, f"{comp}.capacity_per_replica {cap:.4g} req/s (one replica at the targets)"),
            demand_peak_rps=Traced(float(c.demand_peak or 0.0), f"{comp}.demand_peak {float(c.demand_peak or 0.0):.4g} req/s over {replicas} replicas"),
            ttft_p95_s=_traced(option.performance.ttft_p95_s, f"{oid}.performance.ttft_p95_s"),
            tpot_p95_s=_traced(option.performance.tpot_p95_s, f"{oid}.performance.tpot_p95_s"),
            slo_ttft_s=Traced(float(slo_ttft or 0.0), f"{slo_where}.ttft_p95_s"),
            slo_tpot_s=Traced(float(slo_tpot or 0.0), f"{slo_where}.tpot_p95_s"),
        ))
    storage = None
    if option.performance.storage_tb:
        storage = Traced(option.performance.storage_tb * 1e12, f"{oid}.performance.storage_tb {option.performance.storage_tb:.4g} TB")
    notes = [f"{c.workload}: {c.kind} component not exported (export writes LLM serving only)"
             for c in option.performance.components if c not in _llm_parts(option)]
    return Deployment(plan=plan, option=option, engine=engine, groups=groups, storage_bytes=storage,
                      error_band=option.performance.error_band, notes=notes)


def _node_gpus(cat: Any, option: Option, server: Any) -> int | None:
    """Accelerators per node: the server's GPU slots (on-prem) or the cloud instance's GPU count."""
    if server is not None:
        return int(server.gpu_slots)
    for src in option.sources:
        if src.table == "cloud_instances":
            row = cat.cloud_instances.find(src.id)
            if row is not None and row.gpu_count:
                return int(row.gpu_count)
    return None


def _traced(v: float | None, origin: str) -> Traced | None:
    return None if v is None else Traced(float(v), origin)


def _std(d: dict[str, Any]) -> float:
    """Standard deviation of a scenario token-length distribution (what `bench --*-std` takes)."""
    mean = float(d.get("mean") or 0.0)
    dist = d.get("distribution") or "fixed"
    if dist == "exponential":
        return mean
    if dist == "lognormal" and d.get("sigma"):
        s = float(d["sigma"])
        return mean * math.sqrt(math.exp(s * s) - 1.0)
    return 0.0
