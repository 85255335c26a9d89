"""Typed values of the serving model: what runs (:class:`Deployment`), under what load
(:class:`Load`, :class:`LatencyTargets`), and what comes out (:class:`PerfResult`, :class:`SimResult`).

A ``Deployment`` and a ``Load`` replace the long keyword lists that `perf`, `validate`, the web
API and the planner used to repeat: build them once, hand them to
:func:`deployscope.physics.serving.evaluate` or :func:`~deployscope.physics.serving.capacity`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field

from ..catalog.error_bands import ErrorBand
from ..result import HeldOutBias


@dataclass(frozen=True)
class Deployment:
    """One deployment: a model on `gpus` accelerators, split into replicas of tp x pp x ep.

    ``gpus`` is the whole deployment (default: one replica). ``max_batch_size`` overrides the
    engine's scheduler cap (vLLM ``--max-num-seqs``, TensorRT-LLM ``max_batch_size``).
    ``calibration`` names a profile from `deployscope calibrate` (or is its dict).
    ``engine_version`` picks the engine release's speed factors (None: the current release).
    """

    model: str
    gpu: str
    gpus: int | None = None
    tp: int = 1
    pp: int = 1
    ep: int = 1
    quant: str = "bf16"
    kv_quant: str | None = None
    engine: str = "vllm"
    calibration: str | dict | None = None
    max_batch_size: int | None = None
    engine_version: str | None = None

    def replace(self, **changes: Any) -> "Deployment":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Speculative:
    """Speculative decoding: ``draft_tokens`` per step, per-token ``acceptance`` (0-1), and
    ``draft_cost`` (draft work as a fraction of a target step: MTP heads are cheap, a draft
    model costs its size ratio)."""

    draft_tokens: int
    acceptance: float
    draft_cost: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"draft_tokens": self.draft_tokens, "acceptance": self.acceptance, "draft_cost": self.draft_cost}


@dataclass(frozen=True)
class Load:
    """The offered load: token lengths and one of max-throughput, ``concurrency`` or ``rate``.

    ``input_len`` / ``output_len`` are per-request means; ``input_lens`` / ``output_lens``
    optionally give the per-request distribution (the simulation cycles through them).
    ``rate`` is requests/s and ``concurrency`` requests in flight, both for the whole
    deployment; neither means the saturated (max-throughput) operating point. ``tpot_limit_s``
    (rate mode) is the TPOT limit a server/interactive SLO tunes the engine to: it then runs the
    largest batch meeting it (see :func:`deployscope.physics.batching.rate_point`).
    """

    input_len: float
    output_len: float
    rate: float | None = None
    concurrency: float | None = None
    prefix_cache_hit_rate: float = 0.0
    speculative: Speculative | None = None
    tpot_limit_s: float | None = None
    input_lens: Sequence[float] | None = None
    output_lens: Sequence[float] | None = None

    @property
    def mode(self) -> Literal["max-throughput", "concurrency", "rate"]:
        if self.rate is not None:
            return "rate"
        if self.concurrency is not None:
            return "concurrency"
        return "max-throughput"

    def replace(self, **changes: Any) -> "Load":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class LatencyTargets:
    """Latency limits on percentiles of TTFT and TPOT, in seconds (give any of them)."""

    ttft_p95_s: float | None = None
    tpot_p95_s: float | None = None
    ttft_p99_s: float | None = None
    tpot_p99_s: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return dataclasses.asdict(self)


class Percentiles(BaseModel):
    model_config = ConfigDict(frozen=True)
    mean: float | None
    p50: float | None
    p90: float | None
    p99: float | None

    @classmethod
    def flat(cls, x: float | None) -> "Percentiles":
        """A figure with no spread (TPOT in the mean-field path)."""
        if x is None or not math.isfinite(x):
            return cls(mean=None, p50=None, p90=None, p99=None)
        return cls(mean=x, p50=x, p90=x, p99=x)

    @property
    def p95(self) -> float | None:
        if self.p90 is None or self.p99 is None:
            return None
        # between p90 and p99 on the log-tail the quantile grows with -ln(1 - q)
        f = (math.log(20) - math.log(10)) / (math.log(100) - math.log(10))
        return self.p90 + f * (self.p99 - self.p90)


class PerfErrorBand(ErrorBand):
    """The band on the central figure (throughput), with the bands of the latency metrics."""

    by_metric: dict[str, ErrorBand] = Field(default_factory=dict, description="throughput, ttft and tpot bands")
    held_out_bias: list[HeldOutBias] = Field(
        default_factory=list,
        description="held-out groups this prediction belongs to (its engine, GPU family, weight format) on which "
        "the model leaned one way beyond the catalog's limit: signed median of predicted / measured - 1",
    )


class PerfResult(BaseModel):
    """One operating point of one deployment; ``model_dump()`` is the `perf --json` document."""

    model_config = ConfigDict(frozen=True)

    model: str
    gpu: str
    engine: str
    quant: str
    kv_quant: str
    gpus: int
    tp: int
    pp: int
    ep: int
    gpus_per_replica: int
    replicas: int
    input_len: float
    output_len: float
    load_mode: Literal["max-throughput", "concurrency", "rate", "slo"]
    concurrency: float | None = None
    rate: float | None = None
    output_tokens_per_s: float
    output_tokens_per_s_per_gpu: float
    total_tokens_per_s: float
    requests_per_s: float
    ttft_s: Percentiles
    tpot_s: Percentiles
    batch_size: float = Field(description="sequences in flight per replica")
    max_batch_size: float = Field(description="the most sequences a replica can hold (KV capacity, engine cap)")
    kv_capacity_tokens: float = Field(description="KV-cache tokens per replica")
    saturated: bool = Field(description="the offered load reaches capacity (rate mode): latency is the near-saturation value")
    bound: Literal["compute", "memory", "communication"]
    step_time_s: float
    error_band: PerfErrorBand = Field(
        description="low/high multipliers on output_tokens_per_s from held-out validation rows; by_metric adds TTFT and TPOT"
    )
    memory: dict[str, float]
    provenance: dict[str, Any]


class SimResult(BaseModel):
    """The outcome of a discrete-event simulation of one replica."""

    model_config = ConfigDict(frozen=True)
    requests: int
    duration_s: float
    output_tokens_per_s: float
    requests_per_s: float
    ttft_s: Percentiles
    tpot_s: Percentiles
    itl_mean_s: float | None
    mean_batch: float
    steps: int
    counted_requests: int = Field(description="requests counted in the figures (warm-up left out)")
    preemptions: int = Field(default=0, description="decoding sequences evicted when the KV pool ran out (recomputed later)")
