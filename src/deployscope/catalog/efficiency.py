"""Achievable fractions of datasheet peaks, per accelerator family x serving engine.

A row says how much of the dense tensor-core peak a GEMM reaches at large size
(``compute_efficiency``), how that falls for small GEMMs (``half_efficiency_gflop``: the size of one
GEMM, in GFLOP per GPU, at which it reaches half its large-size efficiency - Calculon's
size-dependent curve, smoothed), how much of the memory bandwidth a streaming read reaches
(``bandwidth_efficiency``) and how much of the scale-up link bandwidth collectives reach
(``link_efficiency``). Rows whose figures were fitted
say on which validation sources and by which script (``fitted_on``, ``fitted_by``); rows that were
not fitted say where their figures come from in ``source``.

Lookup order for (family, engine) and the GEMM dtype: the exact row (a row naming the dtype in
its ``formats`` first, then a row for any format), then (family, "*"), then ("*", engine), then
("*", "*") - so a GPU family that appears in no measurement still gets an answer, and the result
says which row it used.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterable

from pydantic import Field

from .base import Row
from .loader import register_table


class EfficiencyRow(Row):
    kind: ClassVar[str] = "efficiency curve"

    family: str = Field(description="accelerator family (hopper, ampere, ada, cdna3, blackwell...) or '*'")
    engine: str = Field(description="engine id (trtllm, vllm, sglang, llamacpp) or '*'")
    # A row may leave figures out (null): they are taken from the ('*', '*') row, so a source
    # that measured only some of them (say, achievable GEMM FLOPs of one GPU) fills only those.
    compute_efficiency: float | None = Field(default=None, gt=0, le=1, description="fraction of dense peak a large GEMM reaches")
    half_efficiency_gflop: float | None = Field(default=None, gt=0, le=1e9, description="GEMM size (GFLOP per GPU) at which efficiency is half its maximum")
    bandwidth_efficiency: float | None = Field(default=None, gt=0, le=1, description="fraction of datasheet memory bandwidth a streaming read reaches")
    attention_efficiency: float | None = Field(default=None, gt=0, le=1, description="fraction of dense peak attention kernels reach")
    link_efficiency: float | None = Field(default=None, gt=0, le=1, description="fraction of link bandwidth collectives reach")
    formats: tuple[str, ...] = Field(
        default=(), description="GEMM dtypes the row was measured with (fp4, fp8, bf16...); empty: any format"
    )
    # Not filled from the default row: left out, the engine's own figure applies.
    layer_overhead_s: float | None = Field(
        default=None, ge=0, le=10,
        description="fixed time per layer per step with this engine on this family, in place of the engine's "
        "layer_overhead_s (the gaps between a layer's kernels differ by GPU family and kernel library)",
    )
    first_wave_delay_s: float | None = Field(
        default=None, ge=0, le=60,
        description="a benchmark run's one-off wait on a fresh server with this engine on this family, in place of "
        "the engine's first_wave_delay_s (what a first wave waits for - kernel builds, allocator growth - is the "
        "family's kernel library as much as the engine); applied by the validation harness only",
    )
    fitted_on: tuple[str, ...] = Field(default=(), description="validation sources the figures were fitted on (empty: not fitted)")
    fitted_by: str | None = Field(default=None, description="script that wrote the fitted figures")

    def efficiency_at(self, gemm_flops: Any) -> Any:
        """GEMM efficiency for a GEMM of `gemm_flops` FLOP per GPU (float or numpy array): e_max * F / (F + F_half)."""
        assert self.half_efficiency_gflop is not None and self.compute_efficiency is not None  # filled from the default row
        f_half = self.half_efficiency_gflop * 1e9
        return self.compute_efficiency * gemm_flops / (gemm_flops + f_half)


def lookup(table: Iterable[EfficiencyRow], family: str, engine: str, gemm_dtype: str | None = None) -> EfficiencyRow:
    """The most specific row for (family, engine); see the module docstring for the order. A row
    that names its ``formats`` answers only for GEMMs in one of them, and before a row that does
    not at the same (family, engine)."""
    rows = list(table)
    default = next((r for r in rows if r.family == "*" and r.engine == "*"), None)
    if default is None or any(getattr(default, f) is None for f in _FIGURES):
        from ..errors import CatalogError

        raise CatalogError("efficiency table needs a complete default row (family '*', engine '*')", field="efficiency")
    for fam, eng in ((family, engine), (family, "*"), ("*", engine), ("*", "*")):
        here = [r for r in rows if r.family == fam and r.engine == eng and (not r.formats or gemm_dtype in r.formats)]
        for row in sorted(here, key=lambda r: not r.formats):
                missing = {f: getattr(default, f) for f in _FIGURES if getattr(row, f) is None}
                return row.model_copy(update=missing) if missing else row
    return default


_FIGURES = ("compute_efficiency", "half_efficiency_gflop", "bandwidth_efficiency", "attention_efficiency", "link_efficiency")


register_table("efficiency", EfficiencyRow)
