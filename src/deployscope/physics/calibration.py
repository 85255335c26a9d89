"""Calibration profiles: measured corrections to the performance model, and validation error bands
(read from the catalog's ``error_bands`` table).

A calibration profile is a YAML file ``calibrations/NAME.yaml`` in the user data directory
(``$DEPLOYSCOPE_DATA_DIR``, else ``$XDG_DATA_HOME/deployscope``, else
``~/.local/share/deployscope``)::

    name: lab-h100-vllm                 # optional; defaults to the file name
    source: deployscope bench runs 12, 13 (2026-11-20), http://10.0.0.5:8000
    as_of: 2026-11-20
    factors:
      - engine: vllm                    # engine id or "*"
        family: hopper                  # accelerator family or "*"
        compute: 0.93                   # multiplies GEMM and attention efficiency
        bandwidth: 0.88                 # multiplies memory-bandwidth efficiency
        overhead: 1.4                   # multiplies the per-step engine overhead
        overhead_add_s: 0.0             # then adds this many seconds per step
        request_add_s: 0.0              # adds this many seconds to each request's TTFT (outside the steps)
        half_eff: 1.0                   # multiplies the GEMM size that reaches half the peak efficiency
    notes: free text

The most specific factor row wins: (engine, family), then (engine, "*"), ("*", family), ("*", "*").
Efficiencies stay capped at 1. ``deployscope calibrate`` (the bench group) writes these files;
:func:`save_calibration` is the writer it uses. Reading and writing the files is
:mod:`deployscope.catalog.calibrations`' job (re-exported here); this module only applies a profile.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from pydantic import ValidationError

from ..catalog.calibrations import (
    CALIBRATION_DIR_ENV,
    CalibrationFactor,
    CalibrationProfile,
    calibration_dir,
    list_calibrations,
    load_calibration,
    save_calibration,
)
from ..catalog.error_bands import ErrorBand, llm_bands, llm_biases
from ..catalog.loader import default_catalog, format_validation_error
from ..errors import DeployscopeError
from ..result import HeldOutBias

__all__ = [
    "CALIBRATION_DIR_ENV",
    "CalibrationFactor",
    "CalibrationProfile",
    "apply_calibration",
    "calibration_dir",
    "error_bands",
    "held_out_biases",
    "list_calibrations",
    "load_calibration",
    "save_calibration",
]


def apply_calibration(hw, calibration, *, engine: str, family: str):  # noqa: ANN001, ANN201
    """Apply a profile (name, path, dict or CalibrationProfile) to hardware constants.

    Returns (hardware, provenance dict). ``None`` leaves the hardware as it is.
    """
    from .llm import scaled

    if calibration is None:
        return hw, None
    if isinstance(calibration, CalibrationProfile):
        prof = calibration
    elif isinstance(calibration, dict):
        try:
            prof = CalibrationProfile.model_validate({"name": "inline", "source": "inline", "as_of": date.today(), **calibration})
        except ValidationError as exc:
            raise DeployscopeError(format_validation_error(exc), field="calibration", value="inline") from None
    else:
        prof = load_calibration(str(calibration))
    f = prof.factor_for(engine, family)
    info: dict[str, Any] = {"name": prof.name, "source": prof.source, "as_of": str(prof.as_of)}
    if f is None:
        info["applied"] = None
        info["note"] = f"profile has no factor for engine {engine!r} x family {family!r}; not applied"
        return hw, info
    out = scaled(hw, compute=f.compute, bandwidth=f.bandwidth, overhead=f.overhead)
    if f.overhead_add_s:
        out = replace(out, step_overhead_s=max(0.0, out.step_overhead_s + f.overhead_add_s))
    if f.request_add_s:
        out = replace(out, request_overhead_s=out.request_overhead_s + f.request_add_s)
    if f.half_eff != 1.0:
        for attr in ("half_eff_flops", "half_eff_tokens"):
            if hasattr(out, attr):
                out = replace(out, **{attr: getattr(out, attr) * f.half_eff})
    info["applied"] = f.model_dump()
    return out, info


def error_bands(engine: str | None = None, catalog: Any = None) -> dict[str, ErrorBand]:
    """Error bands per metric class (throughput, ttft, tpot) from the catalog's error_bands table:
    the engine's rows where it has them, else the all-engine rows."""
    return llm_bands(default_catalog(catalog), engine)


def held_out_biases(engine: str, family: str, weight_format: str, catalog: Any = None) -> list[HeldOutBias]:
    """The held-out groups (engine, GPU family, weight format) a prediction belongs to on which the
    model's predictions leaned beyond the catalog's limit (catalog.error_bands.llm_biases)."""
    return llm_biases(default_catalog(catalog), engine, family, weight_format)
