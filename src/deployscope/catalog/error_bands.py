"""Error bands: how far each kind of prediction was off on held-out validation rows.

One row per workload kind x metric x engine (``engine: "*"`` for every engine) with the low and
high multipliers (the true value was between low x and high x the prediction on most held-out
rows), the rows they come from and the median absolute percentage error. ``scripts/fit_perf.py``
writes the LLM rows; the training and diffusion rows come from ``deployscope.validate_workloads``'
scoring of ``C_training.csv`` and ``B_diffusion_inference.csv``. A user catalog overrides a row by
its id, like every other table.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from .base import NoBoolNumbers, Row
from .loader import register_table


class ErrorBand(NoBoolNumbers):
    """How far predictions of this kind were off on held-out validation rows."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)
    low: float = Field(gt=0, le=100, description="multiplier: the true value was >= low x prediction on 90 % of held-out rows")
    high: float = Field(gt=0, le=100, description="multiplier: the true value was <= high x prediction on 90 % of held-out rows")
    metric_class: str
    rows: int = Field(ge=0, description="held-out validation rows the band comes from")
    median_ape: float | None = None
    source: str = Field(description="where the band comes from (validation files, fitting split, script)")


class ErrorBandRow(Row):
    """One error band: a workload kind's metric on one engine (or every engine)."""

    kind: ClassVar[str] = "error band"
    workload: Literal["llm", "diffusion", "training"]
    metric: str = Field(min_length=1, description="throughput | ttft | tpot (llm), images_per_s (diffusion), gpu_hours (training)")
    engine: str = Field(default="*", description="engine id, or * for every engine")
    low: float = Field(gt=0, description="multiplier on the prediction at the low end of the band")
    high: float = Field(gt=0, description="multiplier on the prediction at the high end of the band")
    rows: int = Field(ge=0, description="validation rows the band is computed from")
    median_ape: float | None = Field(default=None, ge=0, description="median absolute percentage error on those rows (0.1 = 10 %)")
    percentiles: tuple[int, int] = Field(description="percentiles of measured / predicted that low and high are")
    applies_to: str | None = Field(default=None, description="the figures the band multiplies")

    def band(self) -> ErrorBand:
        return ErrorBand(low=self.low, high=self.high, metric_class=self.metric, rows=self.rows,
                         median_ape=self.median_ape, source=self.source)

    def as_dict(self) -> dict[str, Any]:
        """The band as the workload estimators report it."""
        return {"low": self.low, "high": self.high, "applies_to": self.applies_to, "rows": self.rows,
                "median_ape": self.median_ape, "source": self.source, "as_of": str(self.as_of)}


register_table("error_bands", ErrorBandRow)


def find_band(catalog: Any, workload: str, metric: str, engine: str | None = None) -> ErrorBandRow | None:
    """The band for an engine if the table has one, else the all-engine band, else None."""
    rows = [r for r in catalog.error_bands if r.workload == workload and r.metric == metric]
    return next((r for r in rows if r.engine == engine), None) or next((r for r in rows if r.engine == "*"), None)


LLM_METRICS = ("throughput", "ttft", "tpot")


def llm_bands(catalog: Any, engine: str | None = None) -> dict[str, ErrorBand]:
    """LLM serving bands per metric class (throughput, ttft, tpot) for one engine."""
    out: dict[str, ErrorBand] = {}
    for metric in LLM_METRICS:
        row = find_band(catalog, "llm", metric, engine)
        if row is not None:
            out[metric] = row.band()
    if not out:
        out["throughput"] = ErrorBand(low=0.0, high=float("inf"), metric_class="throughput", rows=0,
                                      source="no validation bands in the catalog")
    return out
