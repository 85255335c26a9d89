"""How far repeated measurements of one configuration lie apart: the floor under any model's error.

Published benchmarks sometimes measure the same configuration more than once (a nightly benchmark
on different dates, a results table republished with a later round). Two such rows differ only by
the noise of the measurement itself - the run's length, its first wave, the machine that day - so
the error one of them would score as a prediction of the other is as close as any model that reads
these rows can be expected to come. ``spread`` reports it per metric class next to the held-out
scores (``deployscope validate``, key ``repeatability``).

Two rows are repeats when every column but the measured value and its bookkeeping
(``NOT_CONFIGURATION``) is the same and the model predicts the same figure for both: the model then
cannot tell them apart (the harness reads engine flags and request counts from the notes, so the
same prediction also means those agree).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

import numpy as np

# columns that may differ between two measurements of one configuration
NOT_CONFIGURATION = frozenset({"value", "value_per_gpu", "source", "notes", "round_or_version"})


def repeat_groups(rows: list[dict[str, str]], preds: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The predictions of one file's rows grouped by configuration, groups of two rows or more only.
    Rows without a measurement or a prediction are left out (nothing to compare)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row, p in zip(rows, preds, strict=True):
        if p["measured"] in (None, 0.0) or p["predicted"] is None:
            continue
        config = tuple(sorted((k, (v or "").strip()) for k, v in row.items() if k not in NOT_CONFIGURATION))
        groups[(p["file"], config, f"{p['predicted']:.12g}")].append(p)
    return [g for g in groups.values() if len(g) > 1]


def spread(groups: Iterable[list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per metric class: how many configurations were measured more than once, over how many rows,
    and the median and p90 of |a / b - 1| over every ordered pair of one configuration's
    measurements (the APE one measurement scores as a prediction of the other); beside them, the
    model's own median and p90 APE on the same rows."""
    pairs: dict[str, list[float]] = defaultdict(list)
    model: dict[str, list[float]] = defaultdict(list)
    configs: dict[str, int] = defaultdict(int)
    rows: dict[str, int] = defaultdict(int)
    for g in groups:
        cls = g[0]["metric_class"]
        configs[cls] += 1
        rows[cls] += len(g)
        values = [float(p["measured"]) for p in g]
        model[cls].extend(float(p["ape"]) for p in g)
        pairs[cls].extend(abs(a / b - 1.0) for i, a in enumerate(values) for j, b in enumerate(values) if i != j)
    return {
        cls: {"configurations": configs[cls], "rows": rows[cls],
              "median_ape": float(np.median(d)), "p90_ape": float(np.percentile(d, 90)),
              "model_median_ape": float(np.median(model[cls])), "model_p90_ape": float(np.percentile(model[cls], 90))}
        for cls, d in sorted(pairs.items())
    }
