"""Reading validation files and the data beside them: the fitting split and the dataset figures."""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..errors import DeployscopeError
from ..safe_yaml import UnsafeInput, decode

VALIDATION_DIR = Path(__file__).resolve().parent.parent / "validation"
DEFAULT_FILES = (
    "A_llm_inference.csv", "B_diffusion_inference.csv", "C_training.csv", "D_memory.csv", "E_image_training.csv",
    "E_image_training_fit.csv", "F_llm_fitting.csv",
)


@dataclass(frozen=True)
class FitSplit:
    """Which sources the LLM figures were fitted on, and the families that must never be."""

    llm_fit_sources: tuple[str, ...]
    fitting_files: tuple[str, ...]
    heldout_families: tuple[tuple[str, tuple[int, ...]], ...]  # (source_type, first held-out version)
    llm_fit_rows: tuple[str, ...] = ()  # `source_type|round_or_version|model[|hardware[|tp=N]]`: a stated part of a source

    def in_heldout_family(self, source_type: str, version: str) -> bool:
        """True for a source of a family that is held out (never fitted on, never shipped)."""
        v = _version(version)
        for fam, first in self.heldout_families:
            if fam.lower() in source_type.lower() and v is not None and v >= first:
                return True
        return False


def _version(text: str) -> tuple[int, ...] | None:
    m = re.search(r"v?(\d+(?:\.\d+)*)", text or "")
    return tuple(int(x) for x in m.group(1).split(".")) if m else None


def _load_yaml(name: str) -> Any:
    with open(VALIDATION_DIR / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=1)
def fit_split() -> FitSplit:
    d = _load_yaml("fitting_split.yaml")
    fams = tuple((f["source_type"], _version(str(f["from"])) or (0,)) for f in d["heldout_families"])
    return FitSplit(llm_fit_sources=tuple(d["llm_fit_sources"]), fitting_files=tuple(d.get("fitting_files", ())), heldout_families=fams,
                    llm_fit_rows=tuple(d.get("llm_fit_rows", ())))


@lru_cache(maxsize=1)
def datasets() -> tuple[dict[str, Any], ...]:
    """Published dataset figures (validation/datasets.yaml), one dict per dataset."""
    return tuple(_load_yaml("datasets.yaml"))


def dataset_of(notes: str) -> dict[str, Any] | None:
    """The dataset a row's notes name (by MLPerf benchmark name or its text), or None."""
    m = re.search(r"benchmark=([\w.\-]+)", notes or "")
    bench = m.group(1) if m else None
    for ds in datasets():
        if bench is not None and bench in ds.get("benchmarks", ()):
            return ds
        if ds.get("match") and ds["match"] in (notes or ""):
            return ds
    return None


KNOWN_HEADERS = ("metric,value,hardware,model (LLM inference); resolution (diffusion inference); "
                 "training_tokens_b (LLM training); workload (memory); images_seen (image training) "
                 "- see validation/README.md")


def file_kind(header: Iterable[str]) -> str:
    h = set(header)
    if "images_seen" in h:
        return "image_training"
    if "resolution" in h:
        return "diffusion"
    if "training_tokens_b" in h:
        return "training"
    if "workload" in h:
        return "memory"
    if {"metric", "value", "hardware", "model"} <= h:
        return "llm"
    return "unknown"


def read_csv(path: Path) -> tuple[str, list[dict[str, str]]]:
    """A user's measurement file: decoded by the safe loader's rules (size limit, UTF-8 or a BOM,
    the encoding named when it is neither), then parsed as CSV."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeployscopeError(f"cannot read {path}: {exc.strerror}", field="data", value=str(path)) from None
    try:
        text = decode(data, source=str(path))
    except UnsafeInput as exc:
        raise DeployscopeError(exc.args[0], field="data", value=str(path), allowed=exc.allowed) from None
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)  # an unclosed quote is an error, not a merged row
        rows = [dict(r) for r in reader]
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise DeployscopeError(f"{path} is not a readable CSV file: {exc}", field="data", value=str(path)) from None
    for i, r in enumerate(rows, start=2):
        if r.get(None):  # DictReader files cells beyond the header under None
            raise DeployscopeError(f"{path}: row {i} has {len(header) + len(r[None])} cells for {len(header)} columns "
                                   "(a comma inside an unquoted cell?)", field="data", value=str(path),
                                   allowed="one cell per header column; quote cells that contain commas")
    kind = file_kind(header)
    if kind == "unknown":
        raise DeployscopeError(f"{path}: the header ({', '.join(header) or 'empty'}) is not one of the validation schemas",
                               field="data", value=str(path), allowed=KNOWN_HEADERS)
    return kind, rows


_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")  # 1,234,567.5


def num(x: Any) -> float | None:
    """A cell as a finite float, or None."""
    if x is None:
        return None
    text = str(x).strip()
    if "," in text and not _GROUPED.fullmatch(text):  # '1,2' is not 12
        return None
    try:
        v = float(text.replace(",", ""))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def source_key(row: dict[str, str]) -> str:
    return f"{row.get('source_type', '').strip()}|{row.get('round_or_version', '').strip()}"


def row_key(row: dict[str, str]) -> str:
    """`source_type|round_or_version|model`: the selector of a stated part of a source."""
    return f"{source_key(row)}|{row.get('model', '').strip()}"


def fit_key(row: dict[str, str]) -> str | None:
    """The fitting_split.yaml entry that makes an A-schema row a fitting row, or None for a held-out
    row: its source (`source_type|round_or_version`), else the most specific stated part of it
    (`...|model`, `...|model|hardware`, `...|model|hardware|tp=N`)."""
    split = fit_split()
    if source_key(row) in split.llm_fit_sources:
        return source_key(row)
    key = row_key(row)
    hw = f"{key}|{row.get('hardware', '').strip()}"
    return next((k for k in (f"{hw}|tp={row.get('tp', '').strip()}", hw, key) if k in split.llm_fit_rows), None)


def is_fitted(row: dict[str, str]) -> bool:
    """Whether an A-schema row is a fitting row (see :func:`fit_key`)."""
    return fit_key(row) is not None
