"""Pipeline schema: a workload made of chained LLM and diffusion calls (the ``pipelines`` part of
a scenario). Sizing lives in :mod:`deployscope.pipeline`.

:func:`parse_pipelines` turns raw YAML into :class:`Pipeline` values with errors that name the
pipeline, the stage and the field, e.g. ``pipelines[0].stages[1].steps: must be > 0 (got -3)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from ..catalog.base import NoBoolNumbers, locate
from ..catalog.loader import read_yaml
from ..errors import DeployscopeError

__all__ = ["DiffusionStage", "LLMStage", "Pipeline", "Stage", "load_pipelines", "parse_pipelines", "parse_resolution"]


# --------------------------------------------------------------------------------------- schema
class _Stage(NoBoolNumbers):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(min_length=1, description="stage name, unique within the pipeline")
    model: str = Field(min_length=1, description="catalog model id or alias")
    gpu: str = Field(min_length=1, description="catalog accelerator id or alias")
    gpus_per_replica: int | None = Field(
        default=None, gt=0, le=1024, description="GPUs serving one copy of the model (LLM: tensor parallel); default: fewest that fit"
    )


class LLMStage(_Stage):
    """One LLM call per item (or `calls_per_item` calls), at fixed input and output lengths."""

    kind: Literal["llm"] = Field(default="llm", description="llm: text generation; diffusion: image generation")
    quant: str = Field(default="bf16", description="weight format id (catalog quant table)")
    engine: str = Field(default="vllm", description="serving engine id (catalog engines table)")
    input_len: int = Field(gt=0, le=100_000_000, description="prompt tokens per call")
    output_len: int = Field(gt=0, le=100_000_000, description="generated tokens per call")
    calls_per_item: float = Field(default=1.0, ge=1e-6, le=1e6, description="LLM calls per pipeline item")


class DiffusionStage(_Stage):
    """Image generation: `images_per_item` images per item at a resolution and step count."""

    kind: Literal["diffusion"] = Field(default="diffusion", description="llm: text generation; diffusion: image generation")
    resolution: tuple[int, int] = Field(default=(1024, 1024), description="width x height in pixels, '1024x1024' or [w, h]")
    steps: int = Field(default=30, gt=0, le=1000, description="denoising steps (ignored for GAN generators)")
    cfg: bool = Field(default=True, description="classifier-free guidance (doubles the denoiser batch)")
    quant: str = Field(default="fp16", description="fp16 | bf16 | fp8 | int8 | fp32")
    engine: str = Field(default="pytorch", description="pytorch | pytorch-compiled | tensorrt")
    batch: int = Field(default=1, gt=0, le=4096, description="images generated together in one batch")
    images_per_item: float = Field(default=1.0, ge=1e-6, le=1e6, description="images per pipeline item")

    @field_validator("resolution", mode="before")
    @classmethod
    def _parse_resolution(cls, v: Any) -> Any:
        return resolution_pair(v)

    @field_validator("resolution")
    @classmethod
    def _positive_resolution(cls, v: tuple[int, int]) -> tuple[int, int]:
        check_resolution(v)
        if v[0] % 8 or v[1] % 8:
            raise ValueError(f"width and height must be multiples of 8 (got {v[0]}x{v[1]})")
        return v


Stage = Annotated[Union[LLMStage, DiffusionStage], Field(discriminator="kind")]

_DIFFUSION_KEYS = {"resolution", "steps", "cfg", "images_per_item", "batch"}  # engine and quant are shared
_LLM_KEYS = {"input_len", "output_len", "calls_per_item", "engine"}


class Pipeline(NoBoolNumbers):
    """A chain of stages every item passes through, with its volume: per day, or items by a deadline."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(min_length=1, description="a short name, unique in the scenario")
    description: str | None = Field(default=None, description="one line on what the pipeline produces")
    items_per_day: float | None = Field(default=None, gt=0, le=1e12, description="steady daily volume")
    items: float | None = Field(default=None, gt=0, le=1e15, description="total items, with deadline_days")
    deadline_days: float | None = Field(default=None, ge=0.01, le=15 * 365, description="days to produce `items`")
    utilization: float = Field(
        default=0.8,
        ge=0.01,
        le=1,
        description="share of each day the GPUs are busy at their max-throughput rate (headroom for restarts, skew)",
    )
    stages: list[Stage] = Field(min_length=1, description="the calls every item passes through, in order")

    @model_validator(mode="before")
    @classmethod
    def _infer_stage_kinds(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("stages"), list):
            stages = []
            for st in data["stages"]:
                if isinstance(st, dict) and "kind" not in st:
                    keys = set(st)
                    st = {**st, "kind": "diffusion" if keys & _DIFFUSION_KEYS and not keys & _LLM_KEYS else "llm"}
                stages.append(st)
            data = {**data, "stages": stages}
        return data

    @model_validator(mode="after")
    def _volume(self) -> "Pipeline":
        if self.items_per_day is None and (self.items is None or self.deadline_days is None):
            raise ValueError("give items_per_day, or items together with deadline_days")
        if self.items_per_day is not None and (self.items is not None or self.deadline_days is not None):
            raise ValueError("give either items_per_day or items + deadline_days, not both")
        names = [s.name for s in self.stages]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"stage names must be unique (repeated: {', '.join(dup)})")
        return self

    @property
    def daily_items(self) -> float:
        """Items per day the pipeline must sustain."""
        if self.items_per_day is not None:
            return self.items_per_day
        assert self.items is not None and self.deadline_days is not None
        return self.items / self.deadline_days

    @property
    def period_days(self) -> float:
        """Days the volume covers: the deadline, or one day for a steady daily volume."""
        return self.deadline_days if self.deadline_days is not None else 1.0


def parse_resolution(text: str) -> tuple[int, int]:
    """'1024x1024', '1024*768', '1024' -> (width, height)."""
    m = re.fullmatch(r"\s*(-?\d+)\s*(?:[xX×*,]\s*(-?\d+))?\s*", str(text))
    if not m:
        raise ValueError(f"expected WIDTHxHEIGHT such as 1024x1024 (got {text!r})")
    w = int(m.group(1))
    h = int(m.group(2)) if m.group(2) else w
    return (w, h)


def resolution_pair(v: Any) -> Any:
    """'1024x768', 1024 -> (width, height); anything else is left to the field's type check."""
    if isinstance(v, str):
        return parse_resolution(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    return v


def check_resolution(v: tuple[int, int]) -> None:
    """Width and height in 1..16384 pixels."""
    if v[0] <= 0 or v[1] <= 0:
        raise ValueError(f"width and height must be > 0 (got {v[0]}x{v[1]})")
    if v[0] > 16384 or v[1] > 16384:
        raise ValueError(f"width and height must be <= 16384 pixels (got {v[0]}x{v[1]})")


def _loc_path(prefix: str, loc: tuple[Any, ...]) -> str:
    out = prefix
    skip_next = False
    for i, part in enumerate(loc):
        if skip_next:
            skip_next = False
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("llm", "diffusion") and i > 0 and isinstance(loc[i - 1], int):
            continue  # discriminated-union tag pydantic inserts after the stage index
        elif part in ("function-after[_positive_resolution(), tuple[int, int]]",):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


_MSG_REWRITES = (
    (re.compile(r"^Input should be greater than or equal to (.+)$"), r"must be >= \1"),
    (re.compile(r"^Input should be greater than (.+)$"), r"must be > \1"),
    (re.compile(r"^Input should be less than or equal to (.+)$"), r"must be <= \1"),
    (re.compile(r"^Input should be less than (.+)$"), r"must be < \1"),
    (re.compile(r"^Input should be a finite number$"), "must be a finite number"),
    (re.compile(r"^Value error, (.*)$"), r"\1"),
)


def _friendly(msg: str) -> str:
    for pat, rep in _MSG_REWRITES:
        if pat.match(msg):
            return pat.sub(rep, msg)
    return msg


def _error_from_validation(
    exc: ValidationError, prefix: str, pipe_name: str | None, raw_stages: Any = None
) -> DeployscopeError:
    err = locate(exc.errors()[0])
    loc = tuple(err["loc"])
    path = _loc_path(prefix, loc)
    msg = _friendly(err["msg"])
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "required field is missing"
    elif err["type"] == "union_tag_invalid":
        msg = "kind must be llm or diffusion"
    value = err.get("input")
    if err["type"] == "union_tag_invalid":
        path += ".kind"
        value = (err.get("ctx") or {}).get("tag", value)
    shown = "" if isinstance(value, (dict, list)) or err["type"] == "missing" or "(got" in msg else f" (got {value!r})"
    where_parts = [f"pipeline {pipe_name!r}"] if pipe_name else []
    if "stages" in loc:
        j = loc.index("stages")
        k = loc[j + 1] if j + 1 < len(loc) else None
        if isinstance(k, int) and isinstance(raw_stages, list) and k < len(raw_stages):
            st = raw_stages[k]
            if isinstance(st, dict) and isinstance(st.get("name"), str):
                where_parts.append(f"stage {st['name']!r}")
    where = f" [{', '.join(where_parts)}]" if where_parts else ""
    allowed = None
    if err["type"] == "extra_forbidden" and len(loc) >= 1:
        allowed = _allowed_fields(loc)
    return DeployscopeError(f"{msg}{shown}{where}", field=path, value=value if not isinstance(value, dict) else None, allowed=allowed)


def _allowed_fields(loc: tuple[Any, ...]) -> list[str] | None:
    if "stages" in loc:
        kind = next((p for p in loc if p in ("llm", "diffusion")), None)
        cls = DiffusionStage if kind == "diffusion" else LLMStage
        return sorted(cls.model_fields)
    return sorted(Pipeline.model_fields)


def parse_pipelines(data: Any, prefix: str = "pipelines") -> list[Pipeline]:
    """Validate the raw ``pipelines`` value of a scenario (a list of mappings, or one mapping).

    Errors name the pipeline, the stage and the field: ``pipelines[0].stages[1].steps: must be > 0
    (got -3)``.
    """
    if isinstance(data, dict):
        data = [data]
        single = True
    else:
        single = False
    if not isinstance(data, list) or not data:
        raise DeployscopeError(
            "expected a non-empty list of pipelines", field=prefix, value=type(data).__name__, allowed="a YAML list of mappings"
        )
    out: list[Pipeline] = []
    for i, raw in enumerate(data):
        p = prefix if single else f"{prefix}[{i}]"
        if not isinstance(raw, dict):
            raise DeployscopeError("each pipeline must be a mapping", field=p, value=raw)
        try:
            out.append(Pipeline.model_validate(raw))
        except ValidationError as exc:
            name = raw.get("name") if isinstance(raw.get("name"), str) else None
            raise _error_from_validation(exc, p, name, raw.get("stages")) from None
    return out


def load_pipelines(path: str | Path) -> list[Pipeline]:
    """Read the ``pipelines`` key of a scenario YAML file; other top-level keys are ignored."""
    p = Path(path)
    if not p.exists():
        raise DeployscopeError(f"no such file: {str(p)!r}", field="FILE", value=str(p))
    data = read_yaml(p)
    if not isinstance(data, dict):
        raise DeployscopeError(
            f"{p}: the scenario file's top level must be a mapping", field="(top level)", value=type(data).__name__
        )
    if "pipelines" not in data:
        raise DeployscopeError(f"{p}: no `pipelines` key", field="pipelines", value=None, allowed=sorted(map(str, data)))
    return parse_pipelines(data["pipelines"])
