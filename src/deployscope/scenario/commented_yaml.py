"""The commented scenario template (`deployscope scenario init`), generated from the schema.

Every comment is the field's ``description`` followed by what the schema itself says about the
field: its allowed values (a ``Literal``), its bounds and its default. Only the example values are
hand-written (:data:`EXAMPLE`, beside this module), so the template, the web form and the API
docs cannot drift apart. A field the example leaves out is still written, commented out, so the
template lists every field a section accepts.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["EXAMPLE", "Commented", "comment_for", "render"]


@dataclass(frozen=True)
class Commented:
    """An example value written commented out: shown to the user, not part of the scenario."""

    value: Any


# The example a user starts from: an internal chat assistant. Keys in the schema's order are not
# needed; the schema decides the order. `Commented` values are written with a leading `# `.
EXAMPLE: dict[str, Any] = {
    "name": "my-assistant",
    "description": "Internal chat assistant for 2,000 employees",
    "horizon_years": 3,
    "currency": "USD",
    "objective": "npv",
    "workloads": [
        {
            "name": "chat",
            "kind": "llm",
            "model": "llama-3.1-8b-instruct",
            "users": 2000,
            "requests_per_user_per_day": 15,
            "input_tokens": {"mean": 1200, "distribution": "lognormal", "sigma": 0.8},
            "output_tokens": {"mean": 300},
            "growth_factor_per_year": 1.5,
            "peak_to_average": Commented(4),
            "pool": Commented("shared"),
        },
        Commented({"name": "product-shots", "kind": "diffusion", "model": "sdxl", "images_per_day": 5000,
                   "resolution": "1024x1024", "steps": 30}),
    ],
    "training": [
        Commented({"name": "quarterly-refresh", "model": "llama-3.1-70b-instruct", "method": "lora", "tokens": "200M",
                   "runs_per_year": 4, "deadline_days": 3}),
    ],
    "pipelines": [
        Commented({"name": "catalog-images", "items": 100000, "deadline_days": 7, "stages": [
            {"name": "caption", "kind": "llm", "model": "llama-3.1-8b-instruct", "gpu": "l40s", "input_len": 400,
             "output_len": 120},
            {"name": "render", "kind": "diffusion", "model": "sdxl", "gpu": "l40s", "steps": 30},
        ]}),
    ],
    "load_profile": {"shape": "business_hours", "peak_to_average": 3, "base_load_percentile": Commented(50)},
    "targets": {"ttft_p95_s": 2.0, "tpot_p95_s": 0.08, "image_latency_s": 30},
    "quality": {"max_quality_loss": 1.0},
    "availability": {"redundancy": "n+1"},
    "economics": {
        "tariff_per_kwh": Commented(0.12),
        "carbon_kg_per_kwh": Commented(0.35),
        "pue": Commented(1.4),
        "facility": Commented("colocation"),
        "colocation_per_kw_month": Commented(184),
        "facility_limits": Commented({"power_available_kw": 60, "kw_per_rack": 15, "cooling": "air"}),
        "support_pct_capex": Commented(10),
        "staff_fte": Commented(0.5),
        "staff_cost_per_fte": Commented(150000),
        "discount_rate": Commented(0.08),
        "depreciation_years": Commented(5),
        "hardware_prices": Commented({"h100-sxm-80gb": 25000}),
    },
    "policy": {
        "data_categories": ["personal"],
        "data_subject_jurisdictions": ["EU"],
        "organization_jurisdiction": "DE",
        "network_policy": "internet",
        "sector": "none",
        "interacts_with_people": True,
    },
    "candidates": {
        "placements": ["on_prem", "cloud", "api", "hybrid"],
        "gpus": Commented(["h100-sxm-80gb", "l40s"]),
        "providers": Commented(["aws", "together"]),
        "cloud_pricing": ["on_demand", "reserved_1y", "reserved_3y"],
        "include_frontier_apis": True,
    },
}

_INDENT = "  "


def render(model: type[BaseModel], example: dict[str, Any]) -> str:
    """The commented YAML of `model`: the model's docstring as the header, then every field."""
    header = [f"# {line}".rstrip() for line in inspect.cleandoc(model.__doc__ or "").splitlines()]
    return "\n".join([*header, *_block(model, example, 0, False)]) + "\n"


def comment_for(info: FieldInfo) -> str:
    """The field's description, then its allowed values, bounds and default, from the schema."""
    parts = [info.description or ""]
    allowed = _literal_values(info.annotation)
    if len(allowed) > 1:
        parts.append(" | ".join(allowed))
    parts.append(_bounds(info))
    default = _default_text(info)
    if default is not None:
        parts.append(f"default {default}")
    return "; ".join(p for p in parts if p)


def _block(model: type[BaseModel], example: dict[str, Any], depth: int, in_comment: bool) -> list[str]:
    """The lines of one mapping: the example's fields in its order, then (outside commented
    examples) every other field of `model`, commented out with its default."""
    fields = model.model_fields
    names = [n for n in example if n in fields]
    if not in_comment:
        names += [n for n in fields if n not in example]
    out: list[str] = []
    for name in names:
        value = example.get(name, Commented(_default_value(fields[name])))
        if isinstance(value, Commented) and not in_comment:
            out += _comment_out(_entry(name, fields[name], value.value, depth, True), depth)
        else:
            out += _entry(name, fields[name], value.value if isinstance(value, Commented) else value, depth, in_comment)
    return out


def _entry(name: str, info: FieldInfo, value: Any, depth: int, in_comment: bool) -> list[str]:
    pad = _INDENT * depth
    comment = comment_for(info)
    sub = _model_of(info.annotation)
    if isinstance(value, dict) and sub is not None and value:
        return [f"{pad}{name}:  # {comment}", *_block(sub, value, depth + 1, in_comment)]
    items = _list_models(info.annotation)
    if isinstance(value, list) and items and value and all(isinstance(v, (dict, Commented)) for v in value):
        out = [f"{pad}{name}:  # {comment}"]
        for item in value:
            raw = item.value if isinstance(item, Commented) else item
            lines = _list_item(_pick(items, raw), raw, depth + 1, in_comment or isinstance(item, Commented))
            out += _comment_out(lines, depth + 1) if isinstance(item, Commented) and not in_comment else lines
        return out
    return [f"{pad}{name}: {_scalar(value)}".rstrip() + f"  # {comment}"]


def _list_item(model: type[BaseModel], example: dict[str, Any], depth: int, in_comment: bool) -> list[str]:
    """A list item: its first line starts with `- `, the others are indented under it."""
    lines = _block(model, example, depth + 1, in_comment)
    inner = _INDENT * (depth + 1)
    lines[0] = f"{_INDENT * depth}- {lines[0][len(inner):]}"
    return lines


def _comment_out(lines: list[str], depth: int) -> list[str]:
    """`# ` at the block's own indentation: deleting it gives back valid YAML."""
    col = len(_INDENT * depth)
    return [f"{line[:col]}# {line[col:]}" for line in lines]


def _scalar(value: Any, flow: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) and abs(value) >= 1e6 else str(value)
    if isinstance(value, str):
        return value if _plain(value, flow) else json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar(v, True) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_scalar(v, True)}" for k, v in value.items()) + "}"
    return str(value)


def _plain(text: str, flow: bool) -> bool:
    """Whether `text` reads back as the same string unquoted in YAML (in a flow list or mapping)."""
    import yaml

    if not text or text != text.strip() or any(c in text for c in ":#{}[]&*!|>'\"%@`" + (",{}[]" if flow else "")):
        return False
    try:
        return bool(yaml.safe_load(text) == text)
    except yaml.YAMLError:
        return False


def _default_value(info: FieldInfo) -> Any:
    if info.is_required():
        return None
    if info.default_factory is not None:
        made = info.default_factory()  # type: ignore[call-arg]
        return None if isinstance(made, BaseModel) else made
    return None if isinstance(info.default, BaseModel) else info.default


def _default_text(info: FieldInfo) -> str | None:
    value = _default_value(info)
    if value is None or value == [] or value == {}:
        return None
    return _scalar(value)


def _bounds(info: FieldInfo) -> str:
    low = high = None
    pieces = []
    for m in info.metadata:
        if isinstance(m, at.Ge):
            low = _num(m.ge)
        elif isinstance(m, at.Gt):
            pieces.append(f"> {_num(m.gt)}")
        elif isinstance(m, at.Le):
            high = _num(m.le)
        elif isinstance(m, at.Lt):
            pieces.append(f"< {_num(m.lt)}")
    if low is not None and high is not None:
        return f"{low} to {high}"
    lower = [f">= {low}"] if low is not None else [p for p in pieces if p[0] == ">"]
    upper = [f"<= {high}"] if high is not None else [p for p in pieces if p[0] == "<"]
    return ", ".join(lower + upper)


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


# ------------------------------------------------------------------------------ type walking
def _args(ann: Any) -> tuple[Any, ...]:
    """The members of a union or Annotated, or of an Optional; the type itself otherwise."""
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return _args(typing.get_args(ann)[0])
    if origin in (Union, types.UnionType):
        return tuple(a for member in typing.get_args(ann) for a in _args(member))
    return (ann,)


def _literal_values(ann: Any) -> list[str]:
    out: list[str] = []
    for a in _args(ann):
        if typing.get_origin(a) is Literal:
            out += [str(v) for v in typing.get_args(a)]
        elif typing.get_origin(a) is list:
            out += _literal_values(typing.get_args(a)[0])
    return out


def _model_of(ann: Any) -> type[BaseModel] | None:
    for a in _args(ann):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def _list_models(ann: Any) -> list[type[BaseModel]]:
    for a in _args(ann):
        if typing.get_origin(a) is list:
            return [m for m in _args(typing.get_args(a)[0]) if isinstance(m, type) and issubclass(m, BaseModel)]
    return []


def _pick(models: list[type[BaseModel]], example: dict[str, Any]) -> type[BaseModel]:
    """The list member an example item is: the one whose `kind` it names, else the first."""
    kind = example.get("kind")
    for m in models:
        f = m.model_fields.get("kind")
        if f is not None and kind in typing.get_args(f.annotation):
            return m
    return models[0]
