"""How long one run of a training job may take before the plan cannot honour it.

A job repeated ``runs_per_year`` times on a fixed cluster must finish one run before the next
starts, and no run can outlast the plan's horizon; an explicit ``deadline_days`` tightens that.
Sizing scales the cluster out until a run fits this limit, and a job that fits it on no cluster
is reported as infeasible with the reason -- never planned as one 8-GPU server that would take
85 years (a 100T-token LoRA job once was).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["RunLimit", "check_training_feasible", "training_run_limit"]

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class RunLimit:
    """The most wall-clock days one run may take, and what sets it (for the reason shown)."""

    days: float
    why: str

    def exceeded(self, wall_days: float, cluster: str) -> str:
        return f"{cluster} needs {_days(wall_days)} per run, above {self.why}"


def training_run_limit(job: Any, horizon_years: int) -> RunLimit:
    """The limit on one run of `job` (a scenario TrainingJob) within a plan of `horizon_years`."""
    gap = DAYS_PER_YEAR / job.runs_per_year
    limits = [
        (gap, f"the {_days(gap)} between runs ({job.runs_per_year:g} a year)"),
        (horizon_years * DAYS_PER_YEAR, f"the {horizon_years}-year horizon"),
    ]
    if job.deadline_days is not None:
        limits.append((float(job.deadline_days), f"the {job.deadline_days:g}-day deadline"))
    days, why = min(limits, key=lambda x: x[0])
    return RunLimit(days, why)


def _days(d: float) -> str:
    return f"{d / DAYS_PER_YEAR:,.1f} years" if d >= 2 * DAYS_PER_YEAR else f"{d:,.1f} days"


def check_training_feasible(inputs: Any, training_config: Any) -> None:
    """Raise a DeployscopeError naming the first training job that no GPU type the plan may use
    (on-prem candidates and cloud instances, or the job's own ``gpu``) can run within its limit.
    `training_config(job, gpu_id)` is the sizer's ``(config or None, reason)``, cached there, so
    the sizing that follows reuses every answer."""
    from .errors import DeployscopeError

    scenario, catalog = inputs.scenario, inputs.catalog
    if not scenario.training:
        return
    gpu_ids = _training_gpus(scenario, catalog)
    for i, job in enumerate(scenario.training):
        reasons = []
        for g in [catalog.accelerators.get(job.gpu, field=f"training[{i}].gpu").id] if job.gpu else gpu_ids:
            config, why = training_config(job, g)
            if config is not None:
                break
            reasons.append((why.text if why else f"{g}: cannot train").split(", above ")[0])
        else:
            limit = training_run_limit(job, scenario.horizon_years)
            shown = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more GPU types" if len(reasons) > 3 else "")
            raise DeployscopeError(
                f"infeasible: no cluster of up to {getattr(inputs.search, 'training_max_gpus', '?')} GPUs finishes one run "
                f"of {job.name!r} within {limit.why} ({shown})",
                field=f"training[{i}]", value=job.name,
                allowed="fewer tokens, a later or no deadline_days, fewer runs_per_year, a longer horizon_years, "
                "or another method or model",
            )


def _training_gpus(scenario: Any, catalog: Any) -> list[str]:
    """GPU types a training job may run on: the scenario's list, else every GPU a catalog server or
    cloud instance offers."""
    c = scenario.candidates
    if c.gpus:
        return [catalog.accelerators.get(g).id for g in c.gpus]
    ids = [a.id for a in catalog.accelerators if a.device_type == "gpu" and any(a.id in s.accepts_gpu_ids for s in catalog.servers)]
    for row in catalog.cloud_instances:
        gpu = catalog.accelerators.find(row.gpu_id)
        if gpu is not None and gpu.id not in ids and (not c.providers or row.provider in c.providers):
            ids.append(gpu.id)
    return ids
