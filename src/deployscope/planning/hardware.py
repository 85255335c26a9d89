"""Hardware rows for on-prem options: the server for each GPU type (facility limits applied),
GPU and server prices (the scenario's negotiated prices over the catalog's), server power,
storage, switches and the training fabric."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..physics.memory import weight_bytes
from ..result import Assumption
from .candidates import Piece
from .inputs import Inputs

#: request logs kept for this many days (EU AI Act Art. 26(6): at least six months) at this many bytes per token
LOG_RETENTION_DAYS = 183
LOG_BYTES_PER_TOKEN = 4.0


@dataclass(frozen=True)
class ServerPower:
    """(maximum, average-while-serving) power of a server, kW."""

    max_kw: float
    typical_kw: float


class Hardware:
    """Row choice and prices for the on-prem stages; server power is worked out once per server
    and the assumptions it rests on are recorded in the plan the first time it is used."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self._power: dict[str, ServerPower] = {}

    def server_for(self, gpu_id: str, max_tp: int) -> tuple[Any, list[str]]:
        """The cheapest server per GPU slot for this GPU that the facility can host, and why others cannot."""
        inputs = self.inputs
        lim = inputs.scenario.economics.facility_limits
        best = None
        best_cost = math.inf
        why: list[str] = []
        gpu = inputs.catalog.accelerators.get(gpu_id)
        for s in inputs.catalog.servers:
            if gpu_id not in s.accepts_gpu_ids:
                continue
            if s.gpu_slots < max_tp:
                continue
            kw_max = self.rated_power(s).max_kw
            if lim.kw_per_rack is not None and kw_max > lim.kw_per_rack:
                why.append(f"server {s.id} draws up to {kw_max:g} kW, above the facility's {lim.kw_per_rack:g} kW per rack")
                continue
            if s.cooling == "liquid" and lim.cooling != "liquid":
                why.append(f"server {s.id} needs liquid cooling, which the facility lacks")
                continue
            price = self.server_price(s, gpu)
            if price is None:
                continue
            per_slot = price / s.gpu_slots
            if per_slot < best_cost:
                best, best_cost = s, per_slot
        return best, why

    def gpu_price(self, gpu: Any) -> float | None:
        hp = self.inputs.scenario.economics.hardware_prices
        if gpu.id in hp:
            return self.inputs.money_in(hp[gpu.id])
        return gpu.price_usd  # type: ignore[no-any-return]

    def server_price(self, s: Any, gpu: Any) -> float | None:
        """Full server price with all slots populated (GPUs included), USD."""
        hp = self.inputs.scenario.economics.hardware_prices
        if s.id in hp:
            base = self.inputs.money_in(hp[s.id])
        elif s.price_usd is None:
            return None
        else:
            base = s.price_usd
        if s.includes_gpus:
            if s.accepts_gpu_ids and s.accepts_gpu_ids[0] != gpu.id:
                gp0 = self.inputs.catalog.accelerators.find(s.accepts_gpu_ids[0])
                g0, g1 = (self.gpu_price(gp0) if gp0 else None), self.gpu_price(gpu)
                if g0 is None or g1 is None:
                    return None
                return float(base + s.gpu_slots * (g1 - g0))
            return float(base)
        g = self.gpu_price(gpu)
        return None if g is None else float(base + s.gpu_slots * g)

    def rated_power(self, s: Any) -> ServerPower:
        """A quick look at a server's power (facility checks): nothing recorded."""
        gpu = self.inputs.catalog.accelerators.find(s.accepts_gpu_ids[0])
        mx0 = s.max_power_kw if s.max_power_kw is not None else ((gpu.tdp_w * s.gpu_slots / 1000.0) if gpu is not None else 0.0)
        return ServerPower(float(mx0), float(s.typical_power_kw or mx0))

    def power(self, s: Any) -> ServerPower:
        """A server's maximum and average-while-serving power, kW.

        The server row's figures where it has them; the average is the typical draw, else the maximum
        (no typical figure: every hour at full power, a stated, conservative assumption). A row
        without any power figure gets its GPUs' TDP x slots (derived from the accelerator rows, the
        host's own draw left out), and the plan says so.
        """
        if s.id in self._power:
            return self._power[s.id]
        mx = s.max_power_kw
        if mx is None:
            gpu = self.inputs.catalog.accelerators.find(s.accepts_gpu_ids[0])
            mx = (gpu.tdp_w * s.gpu_slots / 1000.0) if gpu is not None else 0.0
            self.inputs.assumptions.append(Assumption(
                name=f"servers.{s.id}.max_power_kw", value=mx, unit="kW", origin="derived",
                note=f"the server row has no power figure: {s.gpu_slots} x the GPU's TDP (host CPUs, fans and NICs not included); "
                     "add max_power_kw to a user catalog row to replace it"))
        typ = s.typical_power_kw or mx
        if s.typical_power_kw is None:
            self.inputs.assumptions.append(Assumption(
                name=f"servers.{s.id}.typical_power_kw", value=typ, unit="kW", origin="assumption",
                note="no typical draw in the catalog: the server is costed at its maximum power every hour"))
        self._power[s.id] = ServerPower(float(mx), float(typ))
        return self._power[s.id]

    def idle_w(self, s: Any) -> float:
        """A server's idle draw, W: the catalog's idle fraction of its typical draw."""
        row = self.inputs.catalog.economic_defaults.find("power.idle_fraction")
        typ = self.power(s).typical_kw * 1000.0
        if row is not None:
            return typ * float(row.value)
        return typ  # no idle figure: every hour at the typical draw (conservative)

    def storage_row(self) -> Any:
        rows = [r for r in self.inputs.catalog.storage if r.price_usd_per_tb]
        nvme = [r for r in rows if r.tier == "nvme"]
        pick = nvme or rows
        return min(pick, key=lambda r: r.price_usd_per_tb) if pick else None

    def switch_row(self) -> Any:
        rows = [r for r in self.inputs.catalog.network if r.item == "switch" and r.fabric == "ethernet" and r.price_usd]
        return min(rows, key=lambda r: r.price_usd) if rows else None

    def fabric_row(self) -> Any:
        rows = [r for r in self.inputs.catalog.network
                if r.item in ("fabric_per_gpu", "cabling_per_gpu") and r.fabric == "infiniband" and r.price_usd]
        return min(rows, key=lambda r: r.price_usd) if rows else None

    def storage_tb(self, pieces: list[Piece]) -> float:
        """Weights, training checkpoints, datasets and request logs, TB (1e12 bytes)."""
        inputs = self.inputs
        total = 0.0
        seen = set()
        for pc in pieces:
            if pc.model in seen:
                continue
            seen.add(pc.model)
            try:
                total += float(weight_bytes(pc.model, pc.quant or "bf16", inputs.catalog))
            except Exception:  # noqa: BLE001 - image models: the published size or none
                m = inputs.catalog.models.find(pc.model)
                total += float(getattr(m, "safetensors_bytes", 0) or 0)
        for j in inputs.scenario.training:
            m = inputs.catalog.models.find(j.model)
            if m is not None:
                total += 3 * m.params_b * 1e9 * 2 * (1 if j.method in ("lora", "qlora") else 7)  # bf16 weights (+ fp32 Adam states for full)
            total += (j.dataset_gb or 0.0) * 1e9
        for d in inputs.demands:
            if d.kind == "llm":
                toks = float(d.daily[-1]) * (d.workload.input_tokens.mean + d.workload.output_tokens.mean)
                total += toks * LOG_BYTES_PER_TOKEN * LOG_RETENTION_DAYS
        return total / 1e12
