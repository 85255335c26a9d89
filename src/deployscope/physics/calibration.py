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
        half_eff: 1.0                   # multiplies the GEMM size that reaches half the peak efficiency
    notes: free text

The most specific factor row wins: (engine, family), then (engine, "*"), ("*", family), ("*", "*").
Efficiencies stay capped at 1. ``deployscope calibrate`` (the bench group) writes these files;
:func:`save_calibration` is the writer it uses.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..catalog.error_bands import ErrorBand, llm_bands
from ..catalog.loader import default_catalog
from ..errors import DeployscopeError

CALIBRATION_DIR_ENV = "DEPLOYSCOPE_DATA_DIR"


class CalibrationFactor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    engine: str = "*"
    family: str = "*"
    compute: float = Field(default=1.0, gt=0, le=10)
    bandwidth: float = Field(default=1.0, gt=0, le=10)
    overhead: float = Field(default=1.0, ge=0, le=100)
    overhead_add_s: float = Field(default=0.0, ge=-1, le=10)
    half_eff: float = Field(default=1.0, gt=0, le=1e6)  # multiplies the GEMM size at half efficiency


class CalibrationProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    source: str = Field(min_length=3, description="the measurements the factors were fitted on")
    as_of: date
    factors: tuple[CalibrationFactor, ...] = Field(min_length=1)
    runs: tuple[str, ...] = ()
    notes: str | None = None

    def factor_for(self, engine: str, family: str) -> CalibrationFactor | None:
        for eng, fam in ((engine, family), (engine, "*"), ("*", family), ("*", "*")):
            for f in self.factors:
                if f.engine == eng and f.family == fam:
                    return f
        return None


def calibration_dir() -> Path:
    base = os.environ.get(CALIBRATION_DIR_ENV)
    if base:
        return Path(base) / "calibrations"
    from ..paths import data_dir

    return data_dir() / "calibrations"


def list_calibrations() -> list[str]:
    d = calibration_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def load_calibration(name: str) -> CalibrationProfile:
    """Read ``calibrations/NAME.yaml`` from the user data directory (or a path to a YAML file)."""
    path = Path(name)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = calibration_dir() / f"{name}.yaml"
    if not path.exists():
        raise DeployscopeError(
            f"no calibration profile {name!r} in {calibration_dir()}",
            field="calibration",
            value=name,
            allowed=list_calibrations() or "none saved yet (run `deployscope calibrate`)",
        )
    from .. import safe_yaml

    try:
        raw = safe_yaml.load_file(path) or {}
    except safe_yaml.UnsafeInput as exc:
        raise DeployscopeError(f"cannot read calibration profile: {exc}", field="calibration", value=name) from None
    if not isinstance(raw, dict):
        raise DeployscopeError(f"{path}: expected a mapping", field="calibration", value=name)
    raw.setdefault("name", path.stem)
    try:
        return CalibrationProfile.model_validate(raw)
    except ValidationError as exc:
        from ..catalog.loader import format_validation_error

        raise DeployscopeError(f"{path}: {format_validation_error(exc)}", field="calibration", value=name) from None


def save_calibration(profile: CalibrationProfile) -> Path:
    """Write a profile to ``calibrations/NAME.yaml``; returns the path."""
    import yaml

    d = calibration_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{profile.name}.yaml"
    path.write_text(yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
    return path


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
            from ..catalog.loader import format_validation_error

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
