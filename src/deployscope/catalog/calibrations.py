"""Calibration profiles: measured corrections to the performance model's efficiency figures, kept
as YAML files ``calibrations/NAME.yaml`` in the user data directory (``$DEPLOYSCOPE_DATA_DIR``,
else ``$XDG_DATA_HOME/deployscope``, else ``~/.local/share/deployscope``). The file format is in
:mod:`deployscope.physics.calibration`, which applies a profile; this module reads and writes them.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from pydantic import ConfigDict, Field, ValidationError

from ..errors import DeployscopeError
from ..paths import data_dir
from .base import NoBoolNumbers
from .loader import format_validation_error

CALIBRATION_DIR_ENV = "DEPLOYSCOPE_DATA_DIR"


class CalibrationFactor(NoBoolNumbers):
    model_config = ConfigDict(extra="forbid", frozen=True)
    engine: str = "*"
    family: str = "*"
    compute: float = Field(default=1.0, gt=0, le=10)
    bandwidth: float = Field(default=1.0, gt=0, le=10)
    overhead: float = Field(default=1.0, ge=0, le=100)
    overhead_add_s: float = Field(default=0.0, ge=-1, le=10)
    # time each request spends outside the engine's steps before its first token reaches the client
    # (API server, tokenization, hand-off, first-chunk delivery): it lengthens TTFT only
    request_add_s: float = Field(default=0.0, ge=0, le=60)
    half_eff: float = Field(default=1.0, gt=0, le=1e6)  # multiplies the GEMM size at half efficiency


class CalibrationProfile(NoBoolNumbers):
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
    return data_dir() / "calibrations"


def list_calibrations() -> list[str]:
    d = calibration_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def load_calibration(name: str) -> CalibrationProfile:
    """Read ``calibrations/NAME.yaml`` from the user data directory (or a path to a YAML file)."""
    from .. import safe_yaml

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
        raise DeployscopeError(f"{path}: {format_validation_error(exc)}", field="calibration", value=name) from None


def save_calibration(profile: CalibrationProfile) -> Path:
    """Write a profile to ``calibrations/NAME.yaml``; returns the path."""
    import yaml

    d = calibration_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{profile.name}.yaml"
    path.write_text(yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
    return path
