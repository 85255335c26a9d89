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

from ..result import HeldOutBias
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
    family: str = Field(default="*", description="accelerator family of a group row, or * (a band of every family)")
    format: str = Field(default="*", description="weight format of a group row (as the validation rows name it), or *")
    low: float = Field(gt=0, description="multiplier on the prediction at the low end of the band")
    high: float = Field(gt=0, description="multiplier on the prediction at the high end of the band")
    rows: int = Field(ge=0, description="validation rows the band is computed from")
    median_ape: float | None = Field(default=None, ge=0, description="median absolute percentage error on those rows (0.1 = 10 %)")
    signed_median: float | None = Field(
        default=None, ge=-1, le=100,
        description="median of predicted / measured - 1 on those rows: + the model predicted high, - low",
    )
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
    """The band for an engine if the table has one, else the all-engine band, else None (group rows,
    for one family or format, are notices, not bands)."""
    rows = [r for r in catalog.error_bands if r.workload == workload and r.metric == metric
            and r.family == "*" and r.format == "*"]
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


#: a held-out group whose signed median error lies beyond this is reported with the predictions
#: it covers (the acceptance's limit on any group of BIAS_MIN_ROWS rows or more)
BIAS_LIMIT = 0.15
BIAS_MIN_ROWS = 10


def llm_biases(catalog: Any, engine: str, family: str, weight_format: str) -> list[HeldOutBias]:
    """The held-out groups an LLM prediction for (engine, GPU family, weight format) belongs to whose
    predictions leaned beyond BIAS_LIMIT: the bands it is printed with (its engine's, else every
    engine's) and the family and format rows. A format row names the format as the validation rows
    do; it matches the catalog format that name resolves to (``catalog.quant``: an id or alias)."""
    def leans(r: ErrorBandRow | None) -> bool:
        return r is not None and r.signed_median is not None and r.rows >= BIAS_MIN_ROWS and abs(r.signed_median) > BIAS_LIMIT

    def resolved(name: str) -> str:
        q = catalog.quant.find(name)
        return q.id if q is not None else name

    found: list[tuple[ErrorBandRow, str]] = []
    for metric in LLM_METRICS:
        band = find_band(catalog, "llm", metric, engine)
        if band is not None and leans(band):
            found.append((band, f"engine {engine}" if band.engine == engine else "every engine"))
    for r in catalog.error_bands:
        if r.workload == "llm" and leans(r) and r.engine in ("*", engine):
            if r.family != "*" and r.family == family:
                found.append((r, f"family {family}"))
            elif r.format != "*" and resolved(r.format) == weight_format:
                found.append((r, f"format {r.format}"))
    return [HeldOutBias(metric_class=r.metric, group=group, signed_median=float(r.signed_median or 0.0), rows=r.rows, band_id=r.id)
            for r, group in found]
