"""Costs that scale with the fleet: server power between idle and maximum, operations staff,
Ethernet switching per group of servers, a scale-out fabric only for multi-node jobs, and the
facility size a colocation price holds for. Pure functions over numbers or numpy arrays.

See docs/economics.md ("Fleet-size costs") for the sources of each default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DeployscopeError
from .cashflow import Number, check_nonneg


@dataclass(frozen=True)
class ServerPower:
    """A server's system power, kW: ``idle_kw`` with no work, ``max_kw`` at full load, and how
    the figures were obtained (``basis``: ``system`` = published system maximum; ``components``
    = GPU TDP x slots + host allowance)."""

    idle_kw: float
    max_kw: float
    basis: str
    note: str


def server_power(
    *,
    gpu_tdp_w: float,
    gpu_slots: int,
    max_power_kw: float | None = None,
    host_power_kw: float | None = None,
    idle_power_kw: float | None = None,
    idle_fraction: float,
) -> ServerPower:
    """System power of one server on one basis for every row.

    - maximum: the row's published system maximum, else GPU TDP x slots + the row's host
      allowance (CPUs, fans, NICs, switches); a row with neither is refused.
    - idle: the row's published idle figure, else ``idle_fraction`` x maximum.
    """
    check_nonneg("servers.gpu_tdp_w", gpu_tdp_w)
    check_nonneg("power.idle_fraction", idle_fraction, upper=1.0)
    if max_power_kw is not None:
        mx, basis = float(max_power_kw), "system"
        note = f"published system maximum {mx:g} kW"
    elif host_power_kw is not None:
        mx = gpu_slots * gpu_tdp_w / 1000.0 + float(host_power_kw)
        basis = "components"
        note = f"{gpu_slots} x {gpu_tdp_w:g} W GPU TDP + {host_power_kw:g} kW host = {mx:g} kW"
    else:
        raise DeployscopeError(
            "a server row needs max_power_kw (system maximum) or host_power_kw (host allowance added to GPU TDP x slots)",
            field="servers.max_power_kw",
            value=None,
        )
    if idle_power_kw is not None:
        idle = float(idle_power_kw)
        note += f"; published idle {idle:g} kW"
    else:
        idle = idle_fraction * mx
        note += f"; idle {idle_fraction:g} x maximum = {idle:g} kW"
    if idle > mx:
        raise DeployscopeError("idle power above the maximum", field="servers.idle_power_kw", value=idle, allowed=f"0 to {mx:g} kW")
    return ServerPower(idle, mx, basis, note)


def average_draw_kw(power: ServerPower, utilization: Number) -> Number:
    """Mean draw at a mean utilization (0..1): idle + u x (max - idle), the linear model."""
    check_nonneg("economics.utilization", utilization, upper=1.0)
    return power.idle_kw + np.asarray(utilization, dtype=float) * (power.max_kw - power.idle_kw)


def server_price_usd(
    *,
    server_price: float | None,
    includes_gpus: bool,
    gpu_slots: int,
    gpu_price: float | None,
    included_gpu_price: float | None = None,
) -> float | None:
    """Price of one server with every slot holding the GPU priced ``gpu_price`` (USD).

    - sold without GPUs: server + slots x GPU price;
    - sold with GPUs: base + slots x GPU price, where base = server price - slots x the per-GPU
      figure of the GPUs it is sold with (``included_gpu_price``; the server price / slots when
      that is unknown). A per-GPU override (or another GPU in the same chassis) so moves the
      server price by slots x the difference, and nothing else.

    None when a needed price is unpublished.
    """
    if server_price is None:
        return None
    if not includes_gpus:
        return None if gpu_price is None else server_price + gpu_slots * gpu_price
    if gpu_price is None:
        return server_price if included_gpu_price is None else None
    share = included_gpu_price if included_gpu_price is not None else server_price / gpu_slots
    return server_price - gpu_slots * share + gpu_slots * gpu_price


def staff_fte(gpus: Number, *, gpus_per_fte: float, floor_fte: float) -> Number:
    """Operations staff for a fleet: one FTE per ``gpus_per_fte`` GPUs, never below ``floor_fte``
    (the team a deployment of any size needs)."""
    if not gpus_per_fte > 0:
        raise DeployscopeError("must be > 0", field="staff.gpus_per_fte", value=gpus_per_fte, allowed="> 0")
    check_nonneg("staff.fte_floor", floor_fte)
    check_nonneg("gpus", gpus)
    return np.maximum(float(floor_fte), np.asarray(gpus, dtype=float) / gpus_per_fte)


def ethernet_switches(servers: Number, ports: int) -> Number:
    """Top-of-rack Ethernet switches for a group of servers: none for one server (it plugs into
    the existing network), else one per ``ports`` servers, rounded up."""
    if not ports >= 1:
        raise DeployscopeError("a switch needs at least one port", field="network.ports", value=ports)
    s = np.asarray(servers, dtype=float)
    check_nonneg("servers", s)
    return np.where(s > 1, np.ceil(s / ports - 1e-9), 0.0)


def needs_scale_out_fabric(job_gpus: Number, gpus_per_server: int) -> Number:
    """Whether one job spans servers (and so needs an InfiniBand/RoCE fabric between them)."""
    return np.asarray(job_gpus, dtype=float) > gpus_per_server


def facility_warning(provisioned_kw: float, supported_kw: float | None, source: str) -> str | None:
    """A warning when the fleet's provisioned power exceeds what the colocation price holds for."""
    if supported_kw is None or provisioned_kw <= supported_kw:
        return None
    return (
        f"the fleet provisions {provisioned_kw:,.0f} kW of IT power, above the {supported_kw:,.0f} kW the colocation "
        f"price is quoted for ({source}); a deployment this size needs a wholesale or own-build quote and a utility "
        "connection check"
    )
