"""Pipelines inside a plan: stage sizing on a GPU type, runs and items per year, and the cost of
running the stages through hosted APIs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..economics import api_cash_flows, combine
from ..errors import DeployscopeError
from ..pipeline import size_pipeline
from ..result import ComponentSizing, Performance
from .candidates import DAYS_PER_YEAR, Factors
from .inputs import Inputs
from .unservable import Unservable


def size(p: Any, gpu_id: str | None, catalog: Any) -> tuple[Any, Unservable | None]:
    """A pipeline's stages sized on one GPU type (None: the GPUs the stages name), or the reason not."""
    spec = p
    if gpu_id is not None:
        spec = p.model_copy(update={"stages": [s.model_copy(update={"gpu": gpu_id}) for s in p.stages]})
    try:
        return size_pipeline(spec, catalog), None
    except DeployscopeError as exc:
        return None, Unservable.from_error(exc)


def runs_per_year(inputs: Inputs, p: Any) -> float:
    if p.items_per_day is not None:
        return DAYS_PER_YEAR  # a daily volume: sized per day, runs every day
    return float(inputs.scenario.pipeline_runs_per_year.get(p.name, 1.0))


def items_per_year(inputs: Inputs) -> np.ndarray:
    """Items all pipelines produce per year, shape (H,)."""
    total = 0.0
    for p in inputs.scenario.pipelines:
        if p.items_per_day is None:
            total += p.daily_items * p.period_days * runs_per_year(inputs, p)
        else:
            total += p.daily_items * DAYS_PER_YEAR
    return np.full(inputs.H, total)


def seq(x: Any, H: int) -> list[Any]:
    """(H,) or (S, H) -> list of H entries (floats or (S,) arrays) for the economics functions."""
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        return [float(v) for v in a]
    return [a[:, k] for k in range(H)]


@dataclass(frozen=True)
class StageVolume:
    """One pipeline stage with the items its pipeline produces per year."""

    pipeline: Any
    stage: Any
    items: float

    @property
    def key(self) -> str:
        return f"{self.pipeline.name}/{self.stage.name}"


def stage_volumes(inputs: Inputs) -> list[StageVolume]:
    out = []
    for p in inputs.scenario.pipelines:
        runs = runs_per_year(inputs, p)
        items = p.daily_items * (DAYS_PER_YEAR if p.items_per_day is not None else p.period_days * runs)
        out += [StageVolume(p, st, items) for st in p.stages]
    return out


@dataclass
class PipelineApiCost:
    """Pipelines through hosted APIs: each LLM stage at per-token prices, each image stage per image."""

    H: int
    stages: list[StageVolume]
    rows: dict[str, Any]  # stage key -> api_prices row
    batch: Any = None  # the training jobs rented from a cloud (cost model), when the scenario has them

    def __call__(self, f: Factors) -> Any:
        f = f.broadcast()
        H = self.H
        parts: dict[str, Any] = {}
        dem = np.asarray(f.demand, dtype=float)
        for sv in self.stages:
            st = sv.stage
            r = self.rows[sv.key]
            n = np.full(H, sv.items)
            n = np.multiply.outer(dem, n) if dem.ndim else n * dem
            if st.kind == "llm":
                calls = n * st.calls_per_item
                parts[st.name] = api_cash_flows(
                    horizon_years=H, input_tokens_per_year=seq(calls * st.input_len, H),
                    output_tokens_per_year=seq(calls * st.output_len, H),
                    input_usd_per_million_tokens=r.input_usd_per_million_tokens * f.api_price,
                    output_usd_per_million_tokens=r.output_usd_per_million_tokens * f.api_price,
                    items_per_year=seq(n, H) if not parts else 0.0,
                )
            else:
                parts[st.name] = api_cash_flows(horizon_years=H, images_per_year=seq(n * st.images_per_item, H),
                                                usd_per_image=r.usd_per_image * f.api_price,
                                                items_per_year=seq(n, H) if not parts else 0.0)
        if self.batch is not None:
            parts["training"] = self.batch(f)
        return combine(parts, kind="api")


@dataclass
class PipelineApiPerformance:
    rows: dict[str, Any]

    def __call__(self) -> Performance:
        return Performance(components=[ComponentSizing(workload=k, kind="pipeline_stage", model=r.model, placement="api", api_model=r.id)
                                       for k, r in self.rows.items()])
