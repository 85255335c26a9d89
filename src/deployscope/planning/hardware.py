"""Hardware rows for on-prem options: the server for each GPU type (facility limits applied),
GPU and server prices (the scenario's negotiated prices over the catalog's), server power,
storage, switches and the training fabric."""

from __future__ import annotations

import copy
from typing import Any

from ..catalog.prices import resolve_hardware_prices
from ..economics.fleet import ServerPower, server_power, server_price_usd
from ..physics.memory import weight_bytes
from ..result import Assumption
from .candidates import Piece
from .inputs import Inputs

#: request logs kept for this many days (EU AI Act Art. 26(6): at least six months) at this many bytes per token
LOG_RETENTION_DAYS = 183
LOG_BYTES_PER_TOKEN = 4.0


class Hardware:
    """Row choice and prices for the on-prem stages; server power is worked out once per server
    and the assumptions it rests on are recorded in the plan the first time it is used."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self._power: dict[str, ServerPower] = {}
        self._servers: dict[tuple[str, int], tuple[list[Any], list[str]]] = {}
        self._pinned: dict[str, str] = {}  # GPU id -> the server id an option is costed in
        # every key of the user's price map names a catalog GPU or server (did you mean...)
        resolved = resolve_hardware_prices(dict(inputs.scenario.economics.hardware_prices), inputs.catalog)
        self._gpu_prices = {rid: inputs.money_in(v) for table, rid, v in resolved.values() if table == "accelerators"}
        self._server_prices = {rid: inputs.money_in(v) for table, rid, v in resolved.values() if table == "servers"}

    def pinned(self, chassis: dict[str, str]) -> "Hardware":
        """This hardware view with the server of some GPU types fixed (GPU id -> server id), sharing
        its caches: how an option is costed in the chassis chosen for it."""
        view = copy.copy(self)
        view._pinned = {**self._pinned, **chassis}
        return view

    def server_for(self, gpu_id: str, max_tp: int) -> tuple[Any, list[str]]:
        """The server this GPU goes in: the chassis pinned for it, else the cheapest per GPU slot
        that the facility can host; and why others cannot."""
        servers, why = self.servers_for(gpu_id, max_tp)
        pin = self._pinned.get(gpu_id)
        chosen = next((s for s in servers if s.id == pin), None) if pin else None
        return (chosen or (servers[0] if servers else None)), why

    def servers_for(self, gpu_id: str, max_tp: int) -> tuple[list[Any], list[str]]:
        """Every priced server that takes this GPU and that the facility can host, cheapest per
        GPU slot first, and why the others cannot."""
        key = (gpu_id, max_tp)
        if key not in self._servers:
            self._servers[key] = self._eligible_servers(gpu_id, max_tp)
        return self._servers[key]

    def _eligible_servers(self, gpu_id: str, max_tp: int) -> tuple[list[Any], list[str]]:
        inputs = self.inputs
        lim = inputs.scenario.economics.facility_limits
        ranked: list[tuple[float, Any]] = []
        why: list[str] = []
        gpu = inputs.catalog.accelerators.get(gpu_id)
        for s in inputs.catalog.servers:
            if gpu_id not in s.accepts_gpu_ids:
                continue
            if not s.includes_gpus and s.accepts_gpu_ids[0] != gpu_id:
                # a chassis sold without GPUs holds the GPU asked for: its power follows that GPU's TDP
                s = s.model_copy(update={"accepts_gpu_ids": (gpu_id, *(g for g in s.accepts_gpu_ids if g != gpu_id))})
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
            ranked.append((price / s.gpu_slots, s))
        ranked.sort(key=lambda r: r[0])
        return [s for _, s in ranked], why

    def gpu_price(self, gpu: Any) -> float | None:
        """Price of one GPU: the scenario's negotiated price, else the catalog's, USD."""
        if gpu.id in self._gpu_prices:
            return self._gpu_prices[gpu.id]
        return gpu.price_usd  # type: ignore[no-any-return]

    def server_price(self, s: Any, gpu: Any) -> float | None:
        """Full server price with every slot holding `gpu` (GPUs included), USD: the scenario's
        server price over the catalog's, and its per-GPU price moving the GPUs' share
        (economics.fleet.server_price_usd)."""
        base = self._server_prices.get(s.id, s.price_usd)
        included = None
        if s.includes_gpus and s.accepts_gpu_ids:
            first = self.inputs.catalog.accelerators.find(s.accepts_gpu_ids[0])
            included = first.price_usd if first is not None else None  # the catalog's figure the server price holds
            if s.id in self._server_prices and first is not None and first.id in self._gpu_prices and first.id == gpu.id:
                included = self._gpu_prices[first.id]  # a quoted server price already holds the quoted GPUs
        p = server_price_usd(server_price=base, includes_gpus=bool(s.includes_gpus), gpu_slots=s.gpu_slots,
                             gpu_price=self.gpu_price(gpu), included_gpu_price=included)
        return None if p is None else float(p)

    def rated_power(self, s: Any) -> ServerPower:
        """A quick look at a server's power (facility checks): nothing recorded."""
        return self._server_power(s)

    def _server_power(self, s: Any) -> ServerPower:
        cat = self.inputs.catalog
        gpu = cat.accelerators.find(s.accepts_gpu_ids[0])
        tdp = float(gpu.tdp_w) if gpu is not None else 0.0
        row = cat.economic_defaults.find("power.idle_fraction")
        idle_fraction = float(row.value) if row is not None else 1.0  # no idle figure: full power every hour
        host = s.host_power_kw if (s.max_power_kw is not None or s.host_power_kw is not None) else 0.0
        return server_power(gpu_tdp_w=tdp, gpu_slots=s.gpu_slots, max_power_kw=s.max_power_kw, host_power_kw=host,
                            idle_power_kw=s.idle_power_kw, idle_fraction=idle_fraction)

    def power(self, s: Any) -> ServerPower:
        """A server's idle and maximum system power, kW, on one basis for every row
        (economics.fleet.server_power); the plan records how each figure was obtained."""
        key = f"{s.id}:{s.accepts_gpu_ids[0]}"  # a chassis row draws what its GPUs draw
        if key in self._power:
            return self._power[key]
        p = self._server_power(s)
        row = s.id if s.includes_gpus else f"{s.id}[{s.accepts_gpu_ids[0]}]"
        if s.max_power_kw is None and s.host_power_kw is None:
            self.inputs.assumptions.append(Assumption(
                name=f"servers.{row}.max_power_kw", value=p.max_kw, unit="kW", origin="derived",
                note=f"the server row has no system power: {s.gpu_slots} x the GPU's TDP only (no host allowance); "
                     "add max_power_kw or host_power_kw to a user catalog row to replace it"))
        else:
            self.inputs.assumptions.append(Assumption(
                name=f"servers.{row}.power", value=p.max_kw, unit="kW", origin="catalog_default" if p.basis == "system" else "derived",
                note=p.note + "; average draw = idle + utilization x (maximum - idle)"))
        if s.max_power_kw is None and s.host_power_kw is not None:
            self.inputs.assume(
                f"servers.{s.id}.host_power_kw", s.host_power_kw, s, unit="kW",
                note=(f"assumption: host allowance (CPUs, fans, NICs) added to {s.gpu_slots} x the GPU's TDP, no published system "
                      f"figure ({getattr(s, 'power_source', None) or 'see the row'}); override: max_power_kw or host_power_kw "
                      "on this row in a user catalog (servers.yaml in --catalog DIR)"))
        idle_row = self.inputs.catalog.economic_defaults.find("power.idle_fraction")
        if idle_row is not None and s.idle_power_kw is None:
            self.inputs.assume(
                "power.idle_fraction", float(idle_row.value), idle_row, unit="fraction of system maximum",
                note=("assumption: idle draw of servers with no published idle figure (a model loaded); override: idle_power_kw "
                      "on a server row, or the power.idle_fraction row in a user catalog (economic_defaults.yaml in --catalog DIR)"))
        if self.inputs.catalog.economic_defaults.find("power.idle_fraction") is None and s.idle_power_kw is None:
            self.inputs.assumptions.append(Assumption(
                name=f"servers.{row}.idle_power_kw", value=p.idle_kw, unit="kW", origin="assumption",
                note="no idle figure in the catalog: the server is costed at its maximum power every hour"))
        self._power[key] = p
        return p

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

    def ethernet_fabric_row(self) -> Any:
        """Per-GPU Ethernet (RoCE) scale-out fabric, for training jobs that do not need InfiniBand."""
        rows = [r for r in self.inputs.catalog.network
                if r.item in ("fabric_per_gpu", "cabling_per_gpu") and r.fabric == "ethernet" and r.price_usd]
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
            if getattr(j, "kind", "llm") == "image_training":
                from .image_training import dataset_bytes

                total += dataset_bytes(j, inputs.catalog)
            else:
                total += (j.dataset_gb or 0.0) * 1e9
        for d in inputs.demands:
            if d.kind == "llm":
                toks = float(d.daily[-1]) * (d.workload.input_tokens.mean + d.workload.output_tokens.mean)
                total += toks * LOG_BYTES_PER_TOKEN * LOG_RETENTION_DAYS
        return total / 1e12
