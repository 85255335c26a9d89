"""The planner: scenario -> candidates -> physics -> economics -> policy -> decide -> Plan.

The whole flow on one page; each stage lives in ``deployscope.planning``:

1. ``inputs.resolve``: the validated scenario against the catalog: economic inputs (scenario values
   over ``economic_defaults`` rows, each an assumption with provenance), currency, the load profile
   and the demand of every workload per year.
2. ``options.enumerate_candidates``: on-prem GPU types, cloud offers, hosted APIs and hybrids. Each
   is sized by ``sizing.Sizer`` (format x tensor parallelism, image batch, training GPUs, pipeline
   stages; replicas for the peak of every year with the spare), placed on ``hardware`` rows and
   given a ``costing`` model, then pruned by branch and bound on its cost.
3. ``verdicts.Verdicts.screen``: the policy engine's verdict per candidate; excluded candidates
   stay in the plan with the reasons.
4. ``deployscope.decide`` ranks, builds the Pareto front, the rationale, the tornado and the Monte
   Carlo ranges, and returns the Plan (``deployscope.result``).

Money is USD inside; the Plan is converted to the scenario's currency at the end.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .catalog import default_catalog
from .decide import decide
from .planning.candidates import Candidate, Factors
from .planning.hardware import Hardware
from .planning.inputs import Inputs, resolve
from .planning.options import enumerate_candidates
from .planning.sizing import Sizer
from .planning.verdicts import Verdicts
from .result import Plan
from .scenario import Scenario, load_scenario

ScenarioLike = str | Path | dict[str, Any] | Scenario

__all__ = ["Factors", "build_options", "plan"]


def _stages(scenario: ScenarioLike, catalog: Any) -> tuple[Inputs, list[Candidate], Verdicts]:
    inputs = resolve(load_scenario(scenario), default_catalog(catalog))
    policy = Verdicts(inputs)
    table = enumerate_candidates(inputs, Sizer(inputs), Hardware(inputs), policy)
    return inputs, table, policy


def build_options(scenario: ScenarioLike, catalog: Any = None) -> tuple[Inputs, list[Candidate]]:
    """The resolved inputs and every sized, costed candidate (before policy and ranking). Each
    candidate's ``cost(Factors(...))`` returns an economics ``CostResult``."""
    inputs, table, _ = _stages(scenario, catalog)
    return inputs, table


def plan(scenario: ScenarioLike, catalog: Any = None) -> Plan:
    """Plan a scenario (a YAML path, a mapping or a Scenario): ranked, explained on-prem / cloud /
    API / hybrid options in one typed :class:`~deployscope.result.Plan` (see the module doc)."""
    started = time.perf_counter()
    inputs, table, policy = _stages(scenario, catalog)
    return decide(inputs, table, policy.screen(table), started)
