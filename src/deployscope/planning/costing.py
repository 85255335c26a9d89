"""Costing: each candidate's cash flows as a small picklable model, called with Factors.

Factors are floats, or equal-length numpy arrays for sweeps and Monte Carlo, so one call prices
thousands of draws. Each model returns the economics module's ``CostResult``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..economics import (
    api_cash_flows,
    average_power_w,
    cloud_cash_flows,
    combine,
    onprem_cash_flows,
)
from ..economics.fleet import ethernet_switches, needs_scale_out_fabric, staff_fte
from . import pipelines
from .candidates import (
    DAYS_PER_YEAR,
    HOURS_PER_YEAR,
    SECONDS_PER_DAY,
    CostModel,
    Demand,
    Factors,
    Piece,
)
from .hardware import Hardware
from .inputs import Inputs
from .pipelines import seq
from .sizing import base_volume_share, ceil, gpus_per_year, utilization


def col(x: Any) -> Any:
    """A per-sample factor (S,) as a column (S, 1) to scale (S, H) arrays; scalars unchanged."""
    a = np.asarray(x, dtype=float)
    return a[:, None] if a.ndim else float(a)


def volumes(inputs: Inputs, f: Factors, share: Any = 1.0) -> dict[str, Any]:
    """Per-year input/output tokens and images over all workloads, shape (H,) or (S, H)."""
    dem = np.asarray(f.demand, dtype=float)
    tin: Any = 0.0
    tout: Any = 0.0
    img: Any = 0.0
    for d in inputs.demands:
        yearly = d.daily * DAYS_PER_YEAR
        yearly = np.multiply.outer(dem, yearly) if dem.ndim else yearly * dem
        if d.kind == "llm":
            tin = tin + yearly * d.workload.input_tokens.mean * share
            tout = tout + yearly * d.workload.output_tokens.mean * share
        else:
            img = img + yearly * share
    H = inputs.H
    z = np.zeros(H) if not dem.ndim else np.zeros((dem.size, H))
    return {"tin": tin + z, "tout": tout + z, "img": img + z}


@dataclass
class Uncosted:
    """The cost of an option that cannot be bought (excluded by the facility): none."""

    def __call__(self, f: Factors) -> Any:
        return None


@dataclass
class BurstCost:
    """A hybrid's burst part: the burst option's cost at the share of demand above the base."""

    model: CostModel
    share: float

    def __call__(self, f: Factors) -> Any:
        return self.model(f.replace(demand=np.asarray(f.demand, dtype=float) * self.share))


@dataclass
class OnPremCost:
    """Cash flows of an on-prem fleet (or a hybrid's on-prem base, with its burst part)."""

    inputs: Inputs
    hardware: Hardware
    pieces: list[Piece]
    base_share: float | None = None
    burst: CostModel | None = None
    fleet: dict[str, Any] | None = None  # a hybrid's chosen base: GPUs installed per year by GPU type
    served_share: Any = None  # a hybrid's base: share of the volume it serves, per year
    busy: list[float] | None = None  # a hybrid's base: busy share of its GPUs per year
    batch_pieces: list[Piece] | None = None  # a hybrid: training / batch pipelines on-prem besides the fixed base
    held_batch: dict[str, Any] | None = None  # a hybrid: GPUs per type of that batch work the fixed base already holds
    servers: dict[str, Any] = field(init=False)
    weights_tb: float = field(init=False)
    util_base: list[float] = field(init=False)
    training_gpus: int = field(init=False)
    storage: Any = field(init=False)
    switch: Any = field(init=False)
    fabric: Any = field(init=False)

    def __post_init__(self) -> None:
        gpu_ids = sorted({pc.gpu for pc in self.pieces if pc.gpu})
        max_tp = {g: max([pc.per_replica_gpus for pc in self.pieces if pc.gpu == g] + [1]) for g in gpu_ids}
        self.servers = {g: self.hardware.server_for(g, max_tp[g])[0] for g in gpu_ids}
        self.storage, self.switch, self.fabric = self.hardware.storage_row(), self.hardware.switch_row(), self.hardware.fabric_row()
        self.weights_tb = self.hardware.storage_tb(self.pieces)
        self.util_base = self.busy if self.busy is not None else utilization(self.inputs, self.pieces, self.base_share)
        per_fte = self.inputs.catalog.economic_defaults.find("staff.gpus_per_fte")
        if per_fte is not None and self.inputs.scenario.economics.staff_fte is None:
            self.inputs.assume("staff.gpus_per_fte", float(per_fte.value), per_fte, unit="GPUs/FTE",
                               note="assumption: on-prem staff grows by one FTE per this many GPUs above the floor; override: "
                                    "economics.staff_fte in the scenario fixes the staff, or the staff.gpus_per_fte row in a "
                                    "user catalog (economic_defaults.yaml in --catalog DIR)")
        if self.switch is not None:
            self.inputs.assume(f"network.{self.switch.id}.price_usd", float(self.switch.price_usd), self.switch, unit="USD per switch",
                               note=f"assumption: one Ethernet switch per {self.switch.ports or 32} servers when a fleet has more "
                                    "than one server, at a derived price; override: your quote as this row in a user catalog "
                                    "(network.yaml in --catalog DIR)")
        # a scale-out fabric only for training jobs that span servers (a job on one server needs none)
        self.training_gpus = sum(
            pc.fixed_gpus for pc in self.pieces
            if pc.kind == "training" and pc.gpu is not None and self.servers.get(pc.gpu) is not None
            and bool(needs_scale_out_fabric(pc.fixed_gpus, self.servers[pc.gpu].gpu_slots))
        )

    def fleet_need(self, f: Factors) -> dict[str, Any]:
        """GPUs owned per year by type: sized from the pieces, or a hybrid's fixed base (the same servers
        in every draw) plus its batch work sized as the pure on-prem option sizes it."""
        f = f.broadcast()
        if self.fleet is None:
            return gpus_per_year(self.inputs, self.pieces, f, self.base_share)
        shape = (np.size(f.demand), self.inputs.H) if np.ndim(f.demand) else (self.inputs.H,)
        need = {g: np.broadcast_to(np.asarray(v, dtype=float), shape) for g, v in self.fleet.items()}
        held = self.held_batch or {}
        for g, v in (gpus_per_year(self.inputs, self.batch_pieces, f) if self.batch_pieces else {}).items():
            v = np.broadcast_to(np.asarray(v, dtype=float), shape)
            if g in held:  # in the base's servers: only batch work beyond what the base holds adds GPUs
                v = np.maximum(v - np.asarray(held[g], dtype=float), 0.0)
            need[g] = need.get(g, 0.0) + v
        return need

    def __call__(self, f: Factors) -> Any:
        inputs, hw = self.inputs, self.hardware
        cat = inputs.catalog
        H = inputs.H
        storage, switch, fabric = self.storage, self.switch, self.fabric
        f = f.broadcast()
        need = self.fleet_need(f)
        capex_y: list[dict[str, Any]] = [dict() for _ in range(H)]  # purchase for year k+1
        avg_w_y: list[Any] = [0.0] * H
        prov_y: list[Any] = [0.0] * H
        gpus_y: list[Any] = [0.0] * H  # GPUs owned each year (staff grows with them)
        for g, n in need.items():
            s = self.servers[g]
            gpu = cat.accelerators.get(g)
            n = np.maximum.accumulate(np.asarray(n, dtype=float), axis=-1)  # never sell hardware mid-horizon
            srv = ceil(n / s.gpu_slots)
            gp = col(f.gpu_price)
            price = hw.server_price(s, gpu) * gp
            gprice = (hw.gpu_price(gpu) or 0.0) * gp
            chassis = price - (0.0 if s.includes_gpus else s.gpu_slots * (hw.gpu_price(gpu) or 0.0)) * gp
            # cost of the fleet each year: full servers for HGX-style systems, chassis + GPUs otherwise
            fleet = srv * price if s.includes_gpus else srv * chassis + n * gprice
            owned = srv * s.gpu_slots if s.includes_gpus else n
            for k in range(H):
                gpus_y[k] = gpus_y[k] + owned[..., k]
            prev: Any = 0.0
            for k in range(H):
                fk = fleet[..., k]
                capex_y[k]["servers"] = capex_y[k].get("servers", 0.0) + (fk - prev)
                prev = fk
            power = hw.power(s)
            max_w = power.max_kw * 1000.0
            idle_w = power.idle_kw * 1000.0
            for k in range(H):
                # the servers' busy share: the pool's busy GPUs over the GPUs installed (whole servers)
                installed = np.maximum(srv[..., k] * s.gpu_slots, 1e-9)
                given = inputs.scenario.economics.utilization  # the user's busy share of the servers, when given
                busy = given if given is not None else self.util_base[k] * n[..., k] / installed
                u = np.clip(busy * np.asarray(f.utilization, dtype=float), 0.0, 1.0)
                per_server = average_power_w(idle_w, max_w, u)
                avg_w_y[k] = avg_w_y[k] + srv[..., k] * per_server
                prov_y[k] = prov_y[k] + srv[..., k] * max_w / 1000.0
            if switch is not None and np.any(srv > 1):
                sw: Any = ethernet_switches(srv, switch.ports or 32)
                prevs: Any = 0.0
                for k in range(H):
                    capex_y[k]["network"] = capex_y[k].get("network", 0.0) + (sw[..., k] - prevs) * switch.price_usd * f.gpu_price
                    prevs = sw[..., k]
        if self.training_gpus:
            # each training job's GPUs get the fabric it needs (jobs not assessed: InfiniBand; one node: none)
            kinds = [getattr(pc.training, "fabric_kind", None) for pc in self.pieces if pc.kind == "training"]
            gpus = [pc.fixed_gpus for pc in self.pieces if pc.kind == "training"]
            ib = sum(g for g, k in zip(gpus, kinds) if k in (None, "infiniband"))
            eth = sum(g for g, k in zip(gpus, kinds) if k in ("ethernet", "roce"))
            eth_row = hw.ethernet_fabric_row() if eth else None
            cost = (ib * fabric.price_usd if fabric is not None else 0.0) + (eth * eth_row.price_usd if eth_row is not None else 0.0)
            if cost:
                capex_y[0]["network"] = capex_y[0].get("network", 0.0) + cost * f.gpu_price
        if storage is not None and storage.price_usd_per_tb:
            capex_y[0]["storage"] = self.weights_tb * storage.price_usd_per_tb * f.gpu_price
        share = self.served_share if self.served_share is not None else (1.0 if self.base_share is None else base_volume_share(inputs))
        vol = volumes(inputs, f, share)
        tokens = vol["tin"] + vol["tout"]
        items = pipelines.items_per_year(inputs)
        kw = inputs.econ.onprem_kwargs()
        kw["tariff_usd_per_kwh"] = inputs.econ.tariff_usd_per_kwh * f.tariff
        per_fte = inputs.catalog.economic_defaults.find("staff.gpus_per_fte")
        if inputs.scenario.economics.staff_fte is None and per_fte is not None:
            # staff grows with the fleet above the floor (economics.fleet.staff_fte); a scenario value is kept as given
            kw["staff_fte"] = [staff_fte(g, gpus_per_fte=float(per_fte.value), floor_fte=inputs.econ.staff_fte_onprem) for g in gpus_y]
        res = onprem_cash_flows(
            horizon_years=H,
            capex_usd=capex_y[0],
            additions={k + 1: {kk: np.maximum(v, 0.0) for kk, v in capex_y[k].items()} for k in range(1, H)},
            average_power_w=avg_w_y,
            provisioned_kw=prov_y,
            tokens_per_year=seq(tokens, H),
            images_per_year=seq(vol["img"], H),
            items_per_year=seq(np.broadcast_to(items, np.shape(tokens)) if np.ndim(tokens) else items, H),
            **kw,
        )
        if self.burst is not None:
            return combine({"on_prem": res, "burst": self.burst(f)})
        return res


def cloud_instances_needed(inputs: Inputs, pieces: list[Piece], row: Any, pricing: str, f: Factors) -> Any:
    """Instances per year (H,) or (S, H): committed fleets sized for the peak with N+1; on-demand
    and spot fleets follow the hourly load profile (the yearly mean of instances running)."""
    g = row.gpu_count
    serving = [pc for pc in pieces if pc.kind in ("llm", "diffusion")]
    if pricing in ("1y", "3y"):
        need = gpus_per_year(inputs, serving, f) if serving else {}
        gpus = sum(np.asarray(v, dtype=float) for v in need.values()) if need else np.zeros(inputs.H)
        return ceil(gpus / g)
    dem = np.asarray(f.demand, dtype=float)
    total: Any = None
    # (S, 168, H) arrays in Monte Carlo: every step below writes into the array it reads (the
    # same figures as ceil(rate / cap) * replica GPUs ..., without a fresh array per step)
    for pc in serving:
        d = pc.d
        assert d is not None
        avg = d.daily / SECONDS_PER_DAY  # (H,)
        rate = np.multiply.outer(d.profile, avg)  # (168, H)
        gp = np.multiply.outer(dem, rate) if dem.ndim else rate * dem  # a new array, ours to overwrite
        _ceil_in_place(np.divide(gp, pc.cap, out=gp))
        np.multiply(gp, pc.per_replica_gpus, out=gp)
        np.maximum(gp, pc.per_replica_gpus, out=gp)  # keep one replica up
        total = gp if total is None else np.add(total, gp, out=total)
    if total is None:
        return np.zeros(inputs.H) if not dem.ndim else np.zeros((dem.size, inputs.H))
    inst = _ceil_in_place(np.divide(total, g, out=total))
    return inst.mean(axis=-2)


def _ceil_in_place(a: np.ndarray) -> np.ndarray:
    """:func:`~deployscope.planning.sizing.ceil` of a float array, written into it."""
    np.subtract(a, 1e-9, out=a)
    np.ceil(a, out=a)
    return a


@dataclass
class CloudCost:
    """Cash flows of a cloud option: the serving fleet (with the self-hosting staff unless
    ``staff`` is False, as for a hybrid's burst part) plus batch work rented on demand."""

    inputs: Inputs
    pieces: list[Piece]
    row: Any  # cloud_instances row
    pricing: str  # on_demand | 1y | 3y | spot
    price: float  # USD per instance-hour at that pricing
    staff: bool = True
    serving_part: bool = True

    def __call__(self, f: Factors) -> Any:
        inputs, row = self.inputs, self.row
        H = inputs.H
        batch = [pc for pc in self.pieces if pc.kind in ("training", "pipeline")]
        od = row.price("on_demand") or self.price
        f = f.broadcast()
        inst = cloud_instances_needed(inputs, self.pieces, row, self.pricing, f) if self.serving_part else np.zeros(H)
        vol = volumes(inputs, f) if self.serving_part else {"tin": np.zeros(H), "tout": np.zeros(H), "img": np.zeros(H)}
        kw = inputs.econ.cloud_kwargs()
        if not self.staff:
            kw["staff_fte"] = 0.0
        parts = {}
        parts["serving"] = cloud_cash_flows(
            horizon_years=H, price_usd_per_hour=self.price * f.cloud_price, instances=seq(inst, H), pricing=self.pricing,
            tokens_per_year=seq(vol["tin"] + vol["tout"], H), images_per_year=seq(vol["img"], H), **kw,
        )
        if batch and not self.serving_part:
            parts = {}
        if batch:
            gh = sum(pc.gpu_hours_per_year for pc in batch)
            dem = np.asarray(f.demand, dtype=float)
            inst_b = gh / row.gpu_count / HOURS_PER_YEAR
            inst_b = dem * inst_b if dem.ndim else inst_b * float(dem)
            parts["batch"] = cloud_cash_flows(
                horizon_years=H, price_usd_per_hour=od * f.cloud_price, instances=inst_b, pricing="on_demand",
                items_per_year=seq(pipelines.items_per_year(inputs), H),
            )
        return combine(parts, kind="cloud") if len(parts) > 1 else next(iter(parts.values()))


@dataclass
class ApiCost:
    """Cash flows of serving every workload through one provider's API (per token / per image),
    plus training rented from a cloud when the scenario has training jobs."""

    inputs: Inputs
    rows: dict[str, Any]  # workload name -> api_prices row
    discount: float  # 1 - negotiated discount
    batch: CostModel | None = None

    def __call__(self, f: Factors) -> Any:
        inputs = self.inputs
        H = inputs.H
        f = f.broadcast()
        parts = {}
        dem = np.asarray(f.demand, dtype=float)
        for d in inputs.demands:
            r = self.rows[d.name]
            yearly = d.daily * DAYS_PER_YEAR
            yearly = np.multiply.outer(dem, yearly) if dem.ndim else yearly * dem
            if d.kind == "llm":
                parts[d.name] = api_cash_flows(
                    horizon_years=H,
                    input_tokens_per_year=seq(yearly * d.workload.input_tokens.mean, H),
                    output_tokens_per_year=seq(yearly * d.workload.output_tokens.mean, H),
                    input_usd_per_million_tokens=r.input_usd_per_million_tokens * f.api_price * self.discount,
                    output_usd_per_million_tokens=r.output_usd_per_million_tokens * f.api_price * self.discount,
                )
            else:
                parts[d.name] = api_cash_flows(horizon_years=H, images_per_year=seq(yearly, H),
                                               usd_per_image=r.usd_per_image * f.api_price * self.discount)
        if inputs.scenario.training and self.batch is not None:
            parts["training"] = self.batch(f)
        return combine(parts, kind="api") if len(parts) > 1 else next(iter(parts.values()))


def row_cost(r: Any, d: Demand) -> float:
    """Price of one request (or image) of a workload at an API row, for picking the cheapest row."""
    if d.kind == "llm":
        return float((r.input_usd_per_million_tokens or np.inf) * d.workload.input_tokens.mean
                     + (r.output_usd_per_million_tokens or np.inf) * d.workload.output_tokens.mean)
    return float(r.usd_per_image) if r.usd_per_image is not None else float("inf")
