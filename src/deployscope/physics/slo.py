"""The SLO capacity search: the highest request rate one replica sustains with latency targets met.

One search for every caller: `perf`'s SLO mode (:func:`deployscope.physics.serving.capacity`),
the planner's fleet sizing and `validate`'s server-scenario rows all call :func:`max_rate`.
"""

from __future__ import annotations

import numpy as np

from .batching import NEAR_SATURATION, rate_point, scheduler_cap
from .perf_types import LatencyTargets
from .serving_context import Context


def meets(point: dict[str, np.ndarray], targets: LatencyTargets, *, encoder_only: bool = False) -> np.ndarray:
    """Which operating points (from :func:`~deployscope.physics.batching.rate_point`) meet the targets."""
    good = ~np.asarray(point["saturated"], dtype=bool)
    if targets.ttft_p95_s is not None:
        good &= point["ttft_p95"] <= targets.ttft_p95_s
    if targets.ttft_p99_s is not None:
        good &= point["ttft_p99"] <= targets.ttft_p99_s
    if not encoder_only:
        # the mean-field TPOT has no spread: its percentiles are the mean
        for limit in (targets.tpot_p95_s, targets.tpot_p99_s):
            if limit is not None:
                good &= point["tpot"] <= limit
    return good


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
