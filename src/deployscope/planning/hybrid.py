"""Hybrid candidates: an on-prem base chosen by NPV (economics.hybrid_sizing) over each year's
hourly load, and a burst part (a hosted API or on-demand cloud instances) that serves only the
hours and volume above the base.

The base is chosen once at the base inputs (whole servers, never sold, every GPU used before any
burst); under sensitivity and Monte Carlo factors the base stays and the burst absorbs the change.

Redundancy as in the pure on-prem fleet: with N+1 (N+2) the base holds one (two) spare replica(s)
per serving pool that serve nothing. Training jobs and batch pipeline stages are costed as one of
the pure options costs them: on-prem as in the pure on-prem option (the GPUs it sizes for them,
with their fabric), or rented on demand as the burst option rents them (``batch_rented``); only the
serving load is split between the base and the burst. Batch work kept on-prem on the base's GPU
type runs in the base's servers: base and batch are one fleet of whole servers (every GPU bought
is used: the batch work's GPUs first, then the spare, then serving), so a hybrid never rounds its
batch work to servers of its own the way a separate fleet would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from ..economics import api_cash_flows, cloud_cash_flows, combine
from ..economics.hybrid_sizing import HybridSizing, size_hybrid_base
from .candidates import (
    DAYS_PER_YEAR,
    HOURS_PER_YEAR,
    SECONDS_PER_DAY,
    Candidate,
    Factors,
    Piece,
)
from .costing import OnPremCost, row_cost
from .hardware import Hardware
from .inputs import Inputs
from .pipelines import seq
from .sizing import gpus_per_year


def serving_pieces(pieces: list[Piece]) -> list[Piece]:
    """The pieces a hybrid splits between base and burst (served requests); the rest is batch work."""
    return [pc for pc in pieces if pc.kind in ("llm", "diffusion") and pc.d is not None]


def spare_gpus(inputs: Inputs, pieces: list[Piece], gpu: str) -> int:
    """GPUs the base holds back for redundancy: the scenario's spare replicas per serving pool on
    this GPU type, the largest replica of each pool (as ``sizing.gpus_per_year`` sizes on-prem)."""
    tp: dict[str, int] = {}
    for pc in serving_pieces(pieces):
        if pc.gpu == gpu:
            tp[pc.pool] = max(tp.get(pc.pool, 1), pc.per_replica_gpus)
    return inputs.spare * sum(tp.values())


def hourly_gpus(inputs: Inputs, pieces: list[Piece], dem: Any = 1.0, whole: bool = True) -> np.ndarray:
    """GPUs busy in each hour of the representative week, per year: (168, H), or (S, 168, H) for an
    array of demand factors. ``whole``: replicas rounded up (capacity needed); else fractional
    (work done, for energy and volume shares). Batch pieces hold their GPUs every hour."""
    H = inputs.H
    d_arr = np.asarray(dem, dtype=float)
    out: Any = 0.0
    for pc in pieces:
        if pc.kind in ("llm", "diffusion") and pc.d is not None:
            rate = np.multiply.outer(pc.d.profile, pc.d.daily / SECONDS_PER_DAY)  # (168, H) requests/s
            rate = np.multiply.outer(d_arr, rate) if d_arr.ndim else rate * float(d_arr)
            reps = rate / pc.cap
            reps = np.ceil(reps - 1e-9) if whole else reps
            out = out + reps * pc.per_replica_gpus
        else:
            out = out + np.full((168, H), float(pc.fixed_gpus) * (1.0 if whole else pc.busy_share))
    if isinstance(out, float):
        return np.zeros((168, H))
    return np.asarray(out, dtype=float)


@dataclass
class BurstSpec:
    """What a GPU-hour above the base costs at the burst option, in on-prem GPU-hours."""

    kind: str  # api | cloud
    usd_per_gpu_hour: float
    unit_gpus: float  # cloud: one instance's capacity in on-prem GPUs (rented whole); api: 0
    row: Any = None  # cloud_instances row
    price: float = 0.0  # cloud: USD per instance-hour
    rows: dict[str, Any] = field(default_factory=dict)  # api: workload -> api_prices row
    discount: float = 1.0


def burst_spec(inputs: Inputs, pieces: list[Piece], b: Candidate) -> BurstSpec | None:
    """The burst price per on-prem GPU-hour of candidate `b` (an API or an on-demand cloud fleet)."""
    serving = [pc for pc in pieces if pc.kind in ("llm", "diffusion") and pc.d is not None and pc.cap > 0]
    if not serving:
        return None
    # requests one on-prem GPU serves per hour, weighted by each workload's volume
    vol = np.array([float(pc.d.daily.mean()) for pc in serving])  # type: ignore[union-attr]
    w = vol / vol.sum() if vol.sum() > 0 else np.full(len(serving), 1.0 / len(serving))
    req_per_gpu_hour = float(sum(wi * pc.cap / pc.per_replica_gpus * 3600.0 for wi, pc in zip(w, serving, strict=True)))
    cost = getattr(b, "cost", None)
    if b.placement == "api":
        rows = dict(getattr(cost, "rows", {}) or {})
        if not all(pc.name in rows for pc in serving):
            return None
        disc = float(getattr(cost, "discount", 1.0))
        usd_per_request = float(sum(wi * row_cost(rows[pc.name], pc.d) / 1e6 for wi, pc in zip(w, serving, strict=True)))  # type: ignore[arg-type]
        return BurstSpec("api", usd_per_request * disc * req_per_gpu_hour, 0.0, rows=rows, discount=disc)
    row, price = getattr(cost, "row", None), getattr(cost, "price", None)
    b_pieces = [pc for pc in (b.pieces or []) if pc.kind in ("llm", "diffusion") and pc.cap > 0]
    if row is None or price is None or not b_pieces:
        return None
    # one instance's requests per hour at its own sizing, in on-prem GPU equivalents
    inst_req_hour = float(sum(wi * pc.cap / pc.per_replica_gpus * row.gpu_count * 3600.0 for wi, pc in zip(w, b_pieces, strict=False)))
    unit = inst_req_hour / req_per_gpu_hour
    return BurstSpec("cloud", float(price) / unit, unit, row=row, price=float(price))


@dataclass
class HybridCost:
    """Cash flows of a hybrid: the NPV-optimal on-prem base plus the burst above it."""

    inputs: Inputs
    hardware: Hardware
    pieces: list[Piece]
    gpu: str
    burst: BurstSpec
    batch_rented: Any = None  # the burst option's on-demand cost of the batch work; None: batch work on-prem
    sizing: HybridSizing = field(init=False)
    base: OnPremCost = field(init=False)
    spare: int = field(init=False)
    held: np.ndarray = field(init=False)  # GPUs of the base the on-prem batch work holds, per year

    def __post_init__(self) -> None:
        inputs, hw, econ = self.inputs, self.hardware, self.inputs.econ
        tp = max([pc.per_replica_gpus for pc in self.pieces] + [1])
        s = hw.server_for(self.gpu, tp)[0]
        price = hw.server_price(s, inputs.catalog.accelerators.get(self.gpu)) or 0.0
        power = hw.power(s)
        space = (econ.colocation_usd_per_kw_month * 12.0 if econ.facility == "colocation" else econ.own_facility_usd_per_kw_year) * power.max_kw
        serving = serving_pieces(self.pieces)
        batch = [] if self.batch_rented is not None else [pc for pc in self.pieces if pc not in serving]
        on_prem_pieces = serving + batch
        self.spare = spare_gpus(inputs, self.pieces, self.gpu)
        # batch work on the base's GPU type is held inside the base's servers (one fleet); other types apart
        self.held = self._held(batch, Factors())
        # the GPUs' work each hour (fractional replicas): the base serves up to its GPUs, the burst the
        # rest in whole instances; rounding each hour to whole replicas first would round twice
        demand = hourly_gpus(inputs, serving, whole=False)  # (168, H)
        q = inputs.scenario.load_profile.base_load_percentile
        fixed = None
        if q is not None:  # the user fixed the base at a percentile of the hourly load: honoured as given
            level = np.percentile(demand, q, axis=0)
            fixed = [int(x) for x in np.maximum.accumulate(np.ceil((level + self.spare + self.held) / s.gpu_slots - 1e-9))]
        self.sizing = size_hybrid_base(
            demand_gpus=[cast("Sequence[float]", demand[:, k]) for k in range(inputs.H)], gpus_per_server=s.gpu_slots,
            server_usd=price * (1.0 + econ.installation_pct_of_capex),
            fixed_usd_per_server_year=econ.support_pct_of_capex * price + space,
            idle_kw=power.idle_kw, max_kw=power.max_kw, tariff_usd_per_kwh=econ.tariff_usd_per_kwh, pue=econ.pue,
            burst_usd_per_gpu_hour=self.burst.usd_per_gpu_hour, discount_rate=econ.discount_rate,
            depreciation_years=econ.depreciation_years, burst_unit_gpus=self.burst.unit_gpus,
            # batch work on-prem already pays the operations team's floor; otherwise the base must
            fixed_usd_per_year_if_owned=0.0 if batch else econ.staff_fte_onprem * econ.staff_usd_per_fte_year,
            fixed_base=fixed, spare_gpus=self.spare, held_gpus=[float(x) for x in self.held],
        )
        base_gpus = np.array(self.sizing.base_servers, dtype=float) * s.gpu_slots
        work = demand  # (168, H), fractional
        served_work = np.minimum(work, self.serving_gpus(base_gpus)[None, :])
        share = served_work.sum(axis=0) / np.maximum(work.sum(axis=0), 1e-12)
        # busy share of all the on-prem GPUs: the base's served work plus the batch work's busy GPUs
        apart = [pc for pc in batch if pc.gpu != self.gpu]  # batch work on another GPU type: a fleet of its own
        batch_need = gpus_per_year(inputs, apart, Factors()) if apart else {}
        batch_busy = sum(pc.gpu_hours_per_year for pc in batch) / HOURS_PER_YEAR
        total = base_gpus + sum(np.asarray(v, dtype=float) for v in batch_need.values())
        busy = list((served_work.mean(axis=0) + batch_busy) / np.maximum(total, 1e-9))
        self.base = OnPremCost(inputs, hw, on_prem_pieces, fleet={self.gpu: base_gpus}, served_share=share, busy=busy,
                               batch_pieces=batch, held_batch={self.gpu: self.held} if batch else None)

    def _held(self, batch: list[Piece], f: Factors) -> np.ndarray:
        """GPUs of the base's type the on-prem batch work needs each year (as the on-prem option sizes it)."""
        mine = [pc for pc in batch if pc.gpu == self.gpu]
        need = gpus_per_year(self.inputs, mine, f).get(self.gpu) if mine else None
        return np.zeros(self.inputs.H) if need is None else np.asarray(need, dtype=float)

    def serving_gpus(self, base_gpus: np.ndarray) -> np.ndarray:
        """GPUs of the base that serve load: those installed less the batch work's and the redundancy spare."""
        return np.where(base_gpus > 0, np.maximum(base_gpus - self.spare - self.held, 0.0), 0.0)

    @property
    def base_gpus(self) -> np.ndarray:
        return np.asarray(self.base.fleet[self.gpu], dtype=float)  # type: ignore[index]

    def burst_part(self, f: Factors) -> Any:
        """The burst's cash flows: only the hours and volume above the base."""
        inputs, b = self.inputs, self.burst
        H = inputs.H
        dem = np.asarray(f.demand, dtype=float)
        base = self.serving_gpus(self.base_gpus)  # (H,) GPUs that serve
        serving = serving_pieces(self.pieces)
        if b.kind == "api":
            work = hourly_gpus(inputs, serving, dem, whole=False)  # (..., 168, H)
            over = np.maximum(work - base, 0.0).sum(axis=-2) / np.maximum(work.sum(axis=-2), 1e-12)  # burst share per year
            parts = {}
            for pc in serving:
                assert pc.d is not None
                r = b.rows[pc.name]
                yearly = pc.d.daily * DAYS_PER_YEAR
                yearly = (np.multiply.outer(dem, yearly) if dem.ndim else yearly * dem) * over
                pf = np.asarray(f.api_price, dtype=float) * b.discount
                if pc.kind == "llm":
                    parts[pc.name] = api_cash_flows(
                        horizon_years=H,
                        input_tokens_per_year=seq(yearly * pc.d.workload.input_tokens.mean, H),
                        output_tokens_per_year=seq(yearly * pc.d.workload.output_tokens.mean, H),
                        input_usd_per_million_tokens=r.input_usd_per_million_tokens * pf,
                        output_usd_per_million_tokens=r.output_usd_per_million_tokens * pf,
                    )
                else:
                    parts[pc.name] = api_cash_flows(horizon_years=H, images_per_year=seq(yearly, H), usd_per_image=r.usd_per_image * pf)
            return combine(parts, kind="api") if len(parts) > 1 else next(iter(parts.values()))
        need = hourly_gpus(inputs, serving, dem, whole=False)
        inst = np.ceil(np.maximum(need - base, 0.0) / b.unit_gpus - 1e-9).mean(axis=-2)  # whole instances each hour, yearly mean
        return cloud_cash_flows(horizon_years=H, price_usd_per_hour=b.price * f.cloud_price, instances=seq(inst, H),
                                pricing="on_demand", hours_per_year=HOURS_PER_YEAR)

    def __call__(self, f: Factors) -> Any:
        f = f.broadcast()
        parts = {"on_prem": self.base(f), "burst": self.burst_part(f)}
        if self.batch_rented is not None:
            parts["batch"] = self.batch_rented(f)
        return combine(parts)
