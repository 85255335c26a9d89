"""The SLO capacity search: the highest request rate one replica sustains with latency targets met.

One search for every caller: `perf`'s SLO mode (:func:`deployscope.physics.serving.capacity`),
the planner's fleet sizing and `validate`'s server-scenario rows all call :func:`max_rate`.
"""

from __future__ import annotations

import re

import numpy as np

from .batching import NEAR_SATURATION, rate_point, scheduler_cap
from .perf_types import LatencyTargets
from .serving_context import Context


def target_checks(point: dict[str, np.ndarray], targets: LatencyTargets, *,
                  encoder_only: bool = False) -> list[tuple[str, np.ndarray, float]]:
    """(name, figure at the operating points, limit) for every target set, as 'TTFT p95'."""
    checks = [("TTFT p95", point["ttft_p95"], targets.ttft_p95_s), ("TTFT p99", point["ttft_p99"], targets.ttft_p99_s)]
    if not encoder_only:  # the mean-field TPOT has no spread: its percentiles are the mean
        checks += [("TPOT p95", point["tpot"], targets.tpot_p95_s), ("TPOT p99", point["tpot"], targets.tpot_p99_s)]
    return [(name, np.asarray(v), lim) for name, v, lim in checks if lim is not None]


def meets(point: dict[str, np.ndarray], targets: LatencyTargets, *, encoder_only: bool = False) -> np.ndarray:
    """Which operating points (from :func:`~deployscope.physics.batching.rate_point`) meet the targets."""
    good = ~np.asarray(point["saturated"], dtype=bool)
    for _name, value, limit in target_checks(point, targets, encoder_only=encoder_only):
        good &= value <= limit
    return good


_MISSED = re.compile(r"(TTFT|TPOT) p\d+ [0-9.eE+-]+ s \(target [0-9.eE+-]+ s, missed\)")


def against_targets(point: dict[str, np.ndarray], targets: LatencyTargets, *, encoder_only: bool = False) -> str:
    """Each target beside the figure at the first operating point, the missed ones marked (read
    back by :func:`missed_metrics`): 'TTFT p95 2.12 s (target 1.5 s, missed) and TPOT p95 0.0499 s
    (target 0.05 s)'."""
    parts = []
    for name, value, limit in target_checks(point, targets, encoder_only=encoder_only):
        v = float(value.reshape(-1)[0])
        parts.append(f"{name} {v:.3g} s (target {limit:.3g} s{', missed' if not v <= limit else ''})")
    return " and ".join(parts) if parts else "no latency target"


def missed_metrics(text: str) -> list[str]:
    """'TTFT' and/or 'TPOT', in that order: the metrics an :func:`against_targets` text marks missed."""
    marked = {m.group(1) for m in _MISSED.finditer(text)}
    return [k for k in ("TTFT", "TPOT") if k in marked]


def tpot_limit(targets: LatencyTargets) -> float | None:
    """The TPOT limit the scheduler is tuned to: the tightest TPOT target."""
    limits = [x for x in (targets.tpot_p95_s, targets.tpot_p99_s) if x is not None]
    return min(limits) if limits else None


def max_rate(
    ctx: Context,
    I: float,
    O: float,
    targets: LatencyTargets,
    *,
    tp: int = 1,
    pp: int = 1,
    ep: int = 1,
    b_max: float,
    prefix_hit: float = 0.0,
    spec: dict | None = None,
) -> float | None:
    """Requests/s per replica at the SLO capacity, or None when even a trickle misses a target.

    The engine runs the largest batch that meets the TPOT target (the scheduler model of
    :func:`~deployscope.physics.batching.rate_point`); the TTFT targets bound the queueing.
    Latency grows with load, so the answer is the last passing rate on a geometric grid of 64
    rates up to capacity, refined on a linear grid of 64 between it and the next one.
    """
    enc = ctx.shape.encoder_only
    kw = dict(tp=tp, pp=pp, ep=ep, b_max=b_max, prefix_hit=prefix_hit, spec=spec, tpot_limit=tpot_limit(targets))
    kw["b_cap"] = scheduler_cap(ctx, I, O, **kw)  # the same for every rate: found once

    def ok(lams: np.ndarray) -> np.ndarray:
        return meets(rate_point(ctx, lams, I, O, **kw), targets, encoder_only=enc)

    lam_max = float(rate_point(ctx, np.array([0.0]), I, O, **kw)["capacity"])
    grid = lam_max * np.geomspace(1e-4, NEAR_SATURATION, 64)
    g = ok(grid)
    if not g[0]:
        return None
    i = int(np.flatnonzero(g)[-1])
    lo = float(grid[i])
    if i + 1 < grid.size:
        fine = np.linspace(lo, grid[i + 1], 66)[1:-1]
        f = ok(fine)
        if f.any():
            lo = float(fine[int(np.flatnonzero(f)[-1])])
    return lo
