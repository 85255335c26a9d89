"""The typed values the planning stages hand each other.

A :class:`Demand` is one workload's volume and load shape; a :class:`Piece` is one workload's
share of a candidate (its serving configuration and replica capacity); a :class:`Candidate` is one
deployment option with its placement, GPU, pricing model, parts for the policy engine, and a
:class:`CostModel` and :class:`PerformanceModel`: small picklable objects called with
:class:`Factors` (scalars, or numpy arrays for sweeps and Monte Carlo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np

from ..result import HeldOutBias, Performance, Source

HOURS_PER_YEAR = 8760.0
DAYS_PER_YEAR = 365.0
SECONDS_PER_DAY = 86400.0
ServedKind = Literal["llm", "diffusion"]
PieceKind = Literal["llm", "diffusion", "training", "pipeline"]
PlacementName = Literal["on_prem", "cloud", "api", "hybrid"]

FACTORS = ("tariff", "gpu_price", "utilization", "demand", "api_price", "cloud_price")

#: uncertainty of each input as (low, mode, high) multipliers of the base value (a labelled
#: assumption, reported in every plan; override in the scenario)
UNCERTAINTY_DEFAULTS: dict[str, tuple[float, float, float]] = {
    "tariff": (0.8, 1.0, 1.3),
    "gpu_price": (0.85, 1.0, 1.2),
    "utilization": (0.7, 1.0, 1.1),
    "demand": (0.6, 1.0, 1.6),
    "api_price": (0.5, 1.0, 1.1),
    "cloud_price": (0.8, 1.0, 1.1),
}


@dataclass(frozen=True)
class Search:
    """How far the option search looks: the knobs of enumeration and branch-and-bound pruning."""

    tp_choices: tuple[int, ...] = (1, 2, 4, 8)
    image_batches: tuple[int, ...] = (1, 2, 4, 8)
    #: weight formats sized exactly (SLO search) per GPU, best screened throughput first
    exact_formats: int = 2
    #: formats within this share of the best throughput per GPU count as equal (least quality loss wins)
    near_best: float = 0.95
    #: training jobs: first and largest GPU count tried
    training_start_gpus: int = 8
    training_max_gpus: int = 1024
    #: hybrids: the cheapest on-prem options combined with the cheapest burst of each kind
    hybrid_on_prem: int = 2
    hybrid_bursts: int = 2


@dataclass
class Factors:
    """Multipliers of the base inputs; floats, or equal-length arrays for sweeps and Monte Carlo."""

    tariff: Any = 1.0
    gpu_price: Any = 1.0
    utilization: Any = 1.0
    demand: Any = 1.0
    api_price: Any = 1.0
    cloud_price: Any = 1.0

    def broadcast(self) -> Factors:
        """All factors as arrays of one length when any is an array (Monte Carlo, sweeps)."""
        vals = [np.asarray(getattr(self, k), dtype=float) for k in FACTORS]
        n = max((v.size for v in vals if v.ndim), default=0)
        if not n:
            return self
        return Factors(**{k: (v if v.ndim else np.full(n, float(v))) for k, v in zip(FACTORS, vals, strict=True)})

    def replace(self, **kw: Any) -> Factors:
        d = {k: getattr(self, k) for k in FACTORS}
        d.update(kw)
        return Factors(**d)


@dataclass
class Demand:
    """One serving workload: its model, daily volume per year and weekly load shape."""

    name: str
    kind: ServedKind
    workload: Any  # scenario.LLMWorkload | scenario.DiffusionWorkload
    model: Any  # catalog ModelSpec
    daily: np.ndarray  # requests (or images) per day, years 1..H
    profile: np.ndarray  # 168 hourly weights, mean 1
    pta: float  # peak to average of the profile
    pool: str  # replicas in one pool share the spare


@dataclass
class ServeConfig:
    """An LLM serving configuration on one GPU type that meets the targets."""

    gpu: str
    quant: str
    tp: int
    cap_rps: float  # requests/s per replica meeting the targets
    ttft_s: float | None
    tpot_s: float | None
    quality_delta: float
    tokens_per_s: float | None
    error_band: dict[str, float] | None
    weight_bytes: float | None = None
    batch: float = 1.0  # sequences in flight per replica at the SLO capacity
    kv_quant: str | None = None  # KV-cache format the capacity was computed with
    max_batch: float | None = None  # most sequences one replica holds (KV capacity, engine cap) in that capacity
    held_out_bias: list[HeldOutBias] = field(default_factory=list)  # held-out groups the prediction leans with


@dataclass
class ImageConfig:
    """An image-generation configuration (batch) on one GPU meeting the latency target."""

    batch: int
    latency_s: float
    img_per_s_per_gpu: float
    error_band: dict[str, float] | None


@dataclass
class TrainingConfig:
    """The fewest GPUs that train a job within its deadline."""

    gpus: int
    gpu_hours: float
    wall_days: float
    energy_kwh: float | None
    fabric_kind: str | None = None  # scale-out fabric the job needs: none (one node), ethernet, roce, infiniband; None: not assessed


@dataclass
class Piece:
    """One workload's share of a candidate: what it needs and how it is served."""

    d: Demand | None
    kind: PieceKind
    name: str
    model: str
    gpu: str | None
    per_replica_gpus: int = 1
    cap: float = 0.0  # requests|images /s per replica
    serve: ServeConfig | None = None  # llm
    image: ImageConfig | None = None  # diffusion
    training: TrainingConfig | None = None  # training
    stage: Any = None  # pipeline: pipeline.StageSizing
    fixed_gpus: int = 0  # training / batch pipelines: GPUs independent of demand
    gpu_hours_per_year: float = 0.0  # busy GPU-hours a year (training, pipelines)
    runs_per_year: float = 0.0  # training: runs a year
    pool: str = ""
    busy_share: float = 1.0  # pipelines: share of each day busy
    pipe_daily_gpus: float = 0.0  # continuous pipeline: GPUs at demand factor 1 (fractional)
    note: str | None = None

    @property
    def quant(self) -> str | None:
        """The weight format this piece runs (LLM serving), if the sizing chose one."""
        return self.serve.quant if self.serve is not None else getattr(self.stage, "quant", None) if self.kind == "pipeline" else None


class CostModel(Protocol):
    """A candidate's cash flows: called with Factors, returns an economics CostResult (or None)."""

    def __call__(self, f: Factors) -> Any: ...


class PerformanceModel(Protocol):
    """A candidate's performance summary at the base inputs."""

    def __call__(self) -> Performance: ...


@dataclass
class Candidate:
    """One deployment option, sized and costed; placement, GPU and pricing are fields."""

    id: str
    label: str
    placement: PlacementName
    detail: str  # the policy placement class (on_prem_air_gapped, eu_sovereign_cloud, api_eu ...)
    provider: str | None
    parts: list[dict[str, Any]]  # policy-engine PlacementParts as keyword arguments
    cost: CostModel
    perf: PerformanceModel
    sources: list[Source]
    gpu: str | None = None  # on-prem / cloud / hybrid base: the accelerator id
    pricing: str | None = None  # cloud: on_demand | 1y | 3y | spot
    pieces: list[Piece] = field(default_factory=list)
    frontier: bool = False
    excluded: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stale_prices: list[str] = field(default_factory=list)  # price rows older than the staleness limit
    quality_delta: float = 0.0
    latency_s: float | None = None
    burst_cost: CostModel | None = None  # cost as a hybrid's burst part (no own staff)
    batch_cost: CostModel | None = None  # training / batch pipelines alone, on demand


class Verdict(NamedTuple):
    """The policy engine's answer for one candidate."""

    allowed: bool
    reasons: list[str]
    obligations: list[Any]
