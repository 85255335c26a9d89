"""What the scenario schema says about a field, in words: its label, unit, help, allowed values,
bounds and default.

One source for the three places a user reads about a field: the comments of the template that
`deployscope scenario init` writes, the guided editor's form and the JSON schema behind the API
docs. The help is the field's ``description``; allowed values, bounds and default are read off
its type and pydantic constraints (``Literal``, ``ge``/``gt``/``le``/``lt``, ``default``); label
and unit are read off its name, since names carry their unit (``ttft_p95_s``,
``colocation_per_kw_month``). A name without a unit suffix has its unit in :data:`UNIT_BY_NAME`.
The type walking the template and the form both need lives here too.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Union

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["Bounds", "FieldDoc", "UNIT_BY_NAME", "default_value", "field_doc", "flow_yaml", "humanize", "json_schema", "kind_of",
           "list_models", "literal_values", "members", "model_of", "pick_model", "single"]

# words shown in capitals (or spelled out) in labels
_WORDS = {"ttft": "TTFT", "tpot": "TPOT", "fte": "FTE", "pue": "PUE", "gpu": "GPU", "gpus": "GPUs", "api": "API", "kv": "KV",
          "cfg": "CFG", "usd": "USD", "llm": "LLM", "capex": "CapEx", "id": "ID", "ai": "AI", "p95": "p95", "seq": "sequence",
          "len": "length", "fx": "FX", "n": "N", "monte": "Monte", "carlo": "Carlo", "ema": "EMA", "kw": "kW", "apis": "APIs",
          "act": "Act"}
# units read off a name's suffix, longest first where one suffix ends another; "currency" stands
# for the scenario's currency code. The label keeps the part before the suffix.
_SUFFIX_UNITS = (
    ("_kg_per_kwh", "kg CO₂ per kWh"), ("_per_kw_month", "currency per kW-month"), ("_per_kw_year", "currency per kW-year"),
    ("_per_kwh", "currency per kWh"), ("_per_fte", "currency per FTE-year"), ("_pct_capex", "% of CapEx"), ("_pct", "%"),
    ("_years", "years"), ("_days", "days"), ("_kw", "kW"), ("_gb", "GB"), ("_s", "s"), ("_usd", "USD"),
)
#: Units of the names that carry no unit suffix. Dimensionless numbers say what they are.
UNIT_BY_NAME = {
    "tokens": "tokens", "mean": "tokens", "p95": "tokens", "max": "tokens", "seq_len": "tokens", "input_len": "tokens",
    "output_len": "tokens", "steps": "steps", "users": "users", "monthly_active_users": "users", "batch": "images",
    "images": "images", "dataset_images": "images", "global_batch": "images", "items": "items", "gpus_per_replica": "GPUs",
    "requests_per_day": "requests a day", "requests_per_user_per_day": "requests a day", "images_per_day": "images a day",
    "items_per_day": "items a day", "runs_per_year": "runs a year", "calls_per_item": "calls per item",
    "images_per_item": "images per item", "growth_factor_per_year": "× per year", "peak_to_average": "× the average",
    "per_usd": "currency per USD", "pue": "no unit", "sigma": "no unit", "discount_rate": "fraction a year",
    "utilization": "fraction", "kw_per_rack": "kW", "staff_fte": "FTE", "staff_fte_cloud": "FTE", "max_quality_loss": "%",
    "base_load_percentile": "percentile", "annual_revenue_usd": "USD a year", "max_options": "options",
    "monte_carlo_samples": "draws", "seed": "no unit",
}


@lru_cache(maxsize=1024)
def humanize(name: str) -> tuple[str, str]:
    """(label, unit) of a field name: 'ttft_p95_s' -> ('TTFT p95', 's')."""
    base, unit = name, UNIT_BY_NAME.get(name, "")
    if not unit:
        for suffix, u in _SUFFIX_UNITS:
            if name.endswith(suffix) and len(name) > len(suffix):
                base, unit = name[: -len(suffix)], u
                break
    text = " ".join(_WORDS.get(w, w) for w in base.split("_") if w)
    if text.split(" ", 1)[0].islower():  # 'horizon' becomes 'Horizon'; 'kW per rack' keeps its spelling
        text = text[:1].upper() + text[1:]
    return text or name, unit


# ------------------------------------------------------------------------------ type walking
def members(ann: Any) -> tuple[Any, ...]:
    """The members of a union or Annotated, or of an Optional; the type itself otherwise."""
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return members(typing.get_args(ann)[0])
    if origin in (Union, types.UnionType):
        return tuple(a for member in typing.get_args(ann) for a in members(member))
    return (ann,)


def single(ann: Any) -> Any:
    """The one type an Optional or Annotated stands for; a union of several is returned as it is."""
    found = [a for a in members(ann) if a is not type(None)]
    if len(found) == 1:
        return found[0]
    while typing.get_origin(ann) is typing.Annotated:
        ann = typing.get_args(ann)[0]
    return ann


def literal_values(ann: Any) -> list[str]:
    """The allowed values of a ``Literal`` (or a list of one), as text."""
    out: list[str] = []
    for a in members(ann):
        if typing.get_origin(a) is Literal:
            out += [str(v) for v in typing.get_args(a)]
        elif typing.get_origin(a) is list:
            out += literal_values(typing.get_args(a)[0])
    return out


def _is_model(a: Any) -> bool:
    return isinstance(a, type) and issubclass(a, BaseModel)


def model_of(ann: Any) -> type[BaseModel] | None:
    """The nested model a field holds (``targets: Targets``), if any."""
    return next((a for a in members(ann) if _is_model(a)), None)


def list_models(ann: Any) -> list[type[BaseModel]]:
    """The models a list field holds (``workloads: list[LLMWorkload | DiffusionWorkload]``)."""
    for a in members(ann):
        if typing.get_origin(a) is list:
            return [m for m in members(typing.get_args(a)[0]) if _is_model(m)]
    return []


def kind_of(model: type[BaseModel]) -> str:
    """The ``kind`` a list member is told apart by ('' when it has none)."""
    f = model.model_fields.get("kind")
    args = typing.get_args(f.annotation) if f is not None else ()
    return str(args[0]) if args else ""


def pick_model(models: list[type[BaseModel]], kind: Any) -> type[BaseModel]:
    """The list member of that `kind`, else the first."""
    return next((m for m in models if kind_of(m) and kind_of(m) == kind), models[0])


def default_value(info: FieldInfo) -> Any:
    """The field's default value (None when required, or when the default is a whole model)."""
    if info.is_required():
        return None
    if info.default_factory is not None:
        try:
            made = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return None
        return None if isinstance(made, BaseModel) else made
    return None if isinstance(info.default, BaseModel) else info.default


# ------------------------------------------------------------------------------ words
def flow_yaml(value: Any, flow: bool = False) -> str:
    """`value` as YAML that reads back as the same value (flow style for lists and mappings)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:g}" if abs(value) >= 1e6 else str(value)
        mantissa, e, exp = text.partition("e")
        return f"{mantissa}.0e{exp}" if e and "." not in mantissa else text  # YAML 1.1 floats need a dot
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value if _bare(value, flow) else json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow_yaml(v, True) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow_yaml(v, True)}" for k, v in value.items()) + "}"
    return str(value)


@lru_cache(maxsize=4096)  # the same few strings in every template and form
def _bare(text: str, flow: bool) -> bool:
    """Whether `text` reads back as the same string unquoted in YAML (in a flow list or mapping)."""
    import yaml

    if not text or text != text.strip() or any(c in text for c in ":#{}[]&*!|>'\"%@`" + (",{}[]" if flow else "")):
        return False
    try:
        return bool(yaml.safe_load(text) == text)
    except yaml.YAMLError:
        return False


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Bounds:
    """The range pydantic enforces on a number; `each` when it holds for every item of a list or mapping."""

    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True
    each: bool = False

    def __bool__(self) -> bool:
        return self.low is not None or self.high is not None

    def text(self, unit: str = "") -> str:
        """'1 to 15 years', '> 0, <= 5', '>= 0, < 100 %' ('' when unbounded)."""
        if not self:
            return ""
        if self.low is not None and self.high is not None and self.low_inclusive and self.high_inclusive:
            out = f"{_num(self.low)} to {_num(self.high)}"
        else:
            lower = [] if self.low is None else [f"{'>=' if self.low_inclusive else '>'} {_num(self.low)}"]
            upper = [] if self.high is None else [f"{'<=' if self.high_inclusive else '<'} {_num(self.high)}"]
            out = ", ".join(lower + upper)
        return ("each " if self.each else "") + out + (f" {unit}" if unit and unit != "no unit" else "")


def _bounds_of(metadata: list[Any]) -> Bounds:
    b: dict[str, Any] = {}
    for m in metadata:
        if isinstance(m, at.Ge):
            b.update(low=m.ge, low_inclusive=True)
        elif isinstance(m, at.Gt):
            b.update(low=m.gt, low_inclusive=False)
        elif isinstance(m, at.Le):
            b.update(high=m.le, high_inclusive=True)
        elif isinstance(m, at.Lt):
            b.update(high=m.lt, high_inclusive=False)
    return Bounds(**b)


def bounds(info: FieldInfo) -> Bounds:
    """The field's range, or the range of each item of a list or mapping of numbers."""
    own = _bounds_of(info.metadata)
    if own:
        return own
    for a in members(info.annotation):
        if typing.get_origin(a) in (list, dict, tuple):
            for item in typing.get_args(a)[-1:]:
                if typing.get_origin(item) is typing.Annotated:
                    inner = _bounds_of([m for x in typing.get_args(item)[1:] for m in getattr(x, "metadata", [x])])
                    if inner:
                        return Bounds(inner.low, inner.low_inclusive, inner.high, inner.high_inclusive, each=True)
    return own


@dataclass(frozen=True)
class FieldDoc:
    """Everything the schema says about one field, for people."""

    name: str
    label: str
    unit: str
    help: str
    allowed: tuple[str, ...]
    bounds: Bounds
    default: Any  # None: no default value (required, or left to `unset`)
    required: bool
    unset: str  # what happens when an optional field without a default is left out ('' = nothing)

    def unit_in(self, currency: str = "currency") -> str:
        """The unit with the scenario's currency code in it ('USD per kWh'); an exchange rate
        keeps its words where the code would read 'USD per USD'."""
        if not self.unit.startswith("currency") or (currency == "USD" and self.unit == "currency per USD"):
            return self.unit
        return self.unit.replace("currency", currency)

    def default_text(self, currency: str = "currency") -> str:
        """'default 3 years', 'default: the economic_defaults catalog table', or '' (none)."""
        d = self.default
        if d is not None and d != [] and d != {}:
            unit = self.unit_in(currency)
            return f"default {flow_yaml(d)}" + (f" {unit}" if unit and unit != "no unit" and not isinstance(d, (bool, str, list)) else "")
        return f"default: {self.unset}" if self.unset and not self.required else ""

    def facts(self, currency: str = "currency") -> list[str]:
        """Allowed values or range, the default, 'required': what the form shows beside the field."""
        out = []
        if len(self.allowed) > 1:
            out.append(" | ".join(self.allowed))
        if self.bounds:
            out.append(self.bounds.text(self.unit_in(currency)))
        elif self.unit and self.unit != "no unit" and not self.allowed:
            out.append(f"in {self.unit_in(currency)}")
        if self.required:
            out.append("required")
        default = self.default_text(currency)
        if default:
            out.append(default)
        elif not self.required:
            out.append("optional")
        return out

    @property
    def comment(self) -> str:
        """The template comment: the description, then the facts."""
        return "; ".join(p for p in [self.help, *self.facts()] if p)


def field_doc(name: str, info: FieldInfo, owner: type[BaseModel] | None = None) -> FieldDoc:
    """What the schema says about field `name` of `owner` (its model, for `unset`)."""
    if owner is not None and owner.model_fields.get(name) is info:
        return _model_field_doc(owner, name)  # models are fixed: read each field once
    return _field_doc(name, info, owner)


@lru_cache(maxsize=1024)
def _model_field_doc(owner: type[BaseModel], name: str) -> FieldDoc:
    return _field_doc(name, owner.model_fields[name], owner)


def _field_doc(name: str, info: FieldInfo, owner: type[BaseModel] | None) -> FieldDoc:
    label, unit = humanize(name)
    default = default_value(info)
    left_out = getattr(owner, "left_out", None) or {}  # a model's ClassVar: what its left-out fields become
    unset = "" if default is not None else str(left_out.get(name, left_out.get("*", "")))
    return FieldDoc(name=name, label=label, unit=unit, help=info.description or "", allowed=tuple(literal_values(info.annotation)),
                    bounds=bounds(info), default=default, required=info.is_required(), unset=unset)


def _models_below(model: type[BaseModel], found: dict[str, type[BaseModel]]) -> dict[str, type[BaseModel]]:
    if model.__name__ not in found:
        found[model.__name__] = model
        for info in model.model_fields.values():
            for sub in [model_of(info.annotation), *list_models(info.annotation)]:
                if sub is not None:
                    _models_below(sub, found)
    return found


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """pydantic's JSON schema of `model`, each property titled with its label and given its unit
    (``x-unit``) and, where the model fills a left-out field from elsewhere, ``x-default``."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    for name, m in _models_below(model, {}).items():
        target = schema if m is model else defs.get(name)
        props = (target or {}).get("properties", {})
        for fname, info in m.model_fields.items():
            prop = props.get(info.alias or fname)
            if prop is None:
                continue
            doc = field_doc(fname, info, m)
            prop["title"] = doc.label
            if doc.unit and doc.unit != "no unit":
                prop["x-unit"] = doc.unit
            if doc.unset:
                prop["x-default"] = doc.unset
    return schema
