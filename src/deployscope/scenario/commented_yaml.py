"""The commented scenario template (`deployscope scenario init`), generated from the schema.

Every comment is the field's ``description`` followed by what the schema itself says about the
field: its allowed values (a ``Literal``), its bounds with their unit and its default (see
:mod:`deployscope.scenario.schema_doc`, which the web form and the API schema read too). Only the example values are
hand-written (:data:`EXAMPLE`, beside this module), so the template, the web form and the API
docs cannot drift apart. A field the example leaves out is still written, commented out, so the
template lists every field a section accepts.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .schema_doc import default_value, field_doc, flow_yaml, list_models, model_of, pick_model

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


def comment_for(info: FieldInfo, name: str = "", owner: type[BaseModel] | None = None) -> str:
    """The field's description, then its allowed values, bounds with unit, and default, from the
    schema (:func:`deployscope.scenario.schema_doc.field_doc`, which the web form shows too)."""
    return field_doc(name, info, owner).comment


def _block(model: type[BaseModel], example: dict[str, Any], depth: int, in_comment: bool) -> list[str]:
    """The lines of one mapping: the example's fields in its order, then (outside commented
    examples) every other field of `model`, commented out with its default."""
    fields = model.model_fields
    names = [n for n in example if n in fields]
    if not in_comment:
        names += [n for n in fields if n not in example]
    out: list[str] = []
    for name in names:
        value = example.get(name, Commented(default_value(fields[name])))
        if isinstance(value, Commented) and not in_comment:
            out += _comment_out(_entry(name, model, value.value, depth, True), depth)
        else:
            out += _entry(name, model, value.value if isinstance(value, Commented) else value, depth, in_comment)
    return out


def _entry(name: str, owner: type[BaseModel], value: Any, depth: int, in_comment: bool) -> list[str]:
    pad = _INDENT * depth
    info = owner.model_fields[name]
    comment = comment_for(info, name, owner)
    sub = model_of(info.annotation)
    if isinstance(value, dict) and sub is not None and value:
        return [f"{pad}{name}:  # {comment}", *_block(sub, value, depth + 1, in_comment)]
    items = list_models(info.annotation)
    if isinstance(value, list) and items and value and all(isinstance(v, (dict, Commented)) for v in value):
        out = [f"{pad}{name}:  # {comment}"]
        for item in value:
            raw = item.value if isinstance(item, Commented) else item
            lines = _list_item(pick_model(items, raw.get("kind")), raw, depth + 1, in_comment or isinstance(item, Commented))
            out += _comment_out(lines, depth + 1) if isinstance(item, Commented) and not in_comment else lines
        return out
    return [f"{pad}{name}: {flow_yaml(value)}".rstrip() + f"  # {comment}"]


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
