"""The guided scenario editor: a form generated from the scenario schema, written back into YAML
without losing its comments.

Every label, unit, help text and list of allowed values comes from the pydantic schema in
``deployscope.scenario`` (the same descriptions the API documentation shows): a ``Literal``
becomes a select, a list of ``Literal`` a set of checkboxes, a list of ids a chip list, a model
or GPU id a picker with search over the catalog, a nested model a fieldset, and a list of
models (workloads, training jobs, pipelines, pipeline stages) a repeated group with add and
remove buttons.

Saving edits the round-trip YAML document (ruamel.yaml): only the fields the user changed are
written, so comments, key order and flow style of everything else survive. The text is first
parsed by the safe loader, so its limits hold here too.
"""

from __future__ import annotations

import copy
import math
import re
import typing
from dataclasses import dataclass, field
from functools import cached_property
from io import StringIO
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ..errors import DeployscopeError
from ..scenario.schema_doc import FieldDoc, field_doc, flow_yaml, humanize, kind_of, list_models, model_of, single

FIELD_PREFIX = "f:"  # one input per scalar field: f:workloads[0].model
SEEN_PREFIX = "m:"  # marks a checkbox group as present in the form (an unchecked one sends nothing)
MAX_ITEMS_PER_GROUP = 64

# ----------------------------------------------------------------------------- the schema walk
@dataclass
class FormField:
    path: str
    name: str
    label: str
    widget: str  # text | number | integer | select | boolean | checkboxes | chips | model | gpu | yaml
    help: str = ""
    unit: str = ""
    choices: list[str] = field(default_factory=list)
    value: Any = None  # as found in the YAML (None when absent)
    present: bool = False
    default: Any = None
    required: bool = False
    picker: str | None = None  # datalist id for pickers and chips
    error: str | None = None
    doc: FieldDoc | None = None  # what the schema says of the field: bounds, default, unit
    currency: str = "currency"  # the scenario's currency code, for units such as "EUR per kWh"
    left_out_default: str | None = None  # the value the planner takes when the field is left out, where the schema has none

    @cached_property
    def facts(self) -> list[str]:
        """Allowed range with its unit, the default (said to be one), 'required'."""
        out = self.doc.facts(self.currency) if self.doc is not None else []
        if self.left_out_default:
            out = [f for f in out if not f.startswith("default")] + [self.left_out_default]
        return out

    @property
    def input_name(self) -> str:
        return FIELD_PREFIX + self.path

    @property
    def input_id(self) -> str:
        return "fld-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.path)

    @property
    def shown(self) -> str:
        """The value as text in its input ('' when absent: the default applies)."""
        v = self.value
        if not self.present or v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if self.widget in ("chips",) and isinstance(v, list):
            return ", ".join(str(x) for x in v)
        if isinstance(v, (list, dict, tuple)):
            return flow_yaml(v)
        return str(v)

    @property
    def checked(self) -> list[str]:
        if self.present and isinstance(self.value, list):
            return [str(x) for x in self.value]
        return [str(x) for x in (self.default or [])] if isinstance(self.default, list) else []

    @property
    def placeholder(self) -> str:
        d = self.default
        if d is None or d == [] or d == {}:
            return "required" if self.required else ""
        if isinstance(d, bool):
            return f"default: {'true' if d else 'false'}"
        if isinstance(d, (list, tuple, dict)):
            return f"default: {flow_yaml(d)}"
        return f"default: {d}"


@dataclass
class Group:
    path: str
    title: str
    help: str = ""
    fields: list[FormField] = field(default_factory=list)
    groups: list["Group"] = field(default_factory=list)
    repeat: "Repeat | None" = None  # this group is one item of a repeated list
    error: str | None = None

    @property
    def anchor(self) -> str:
        return "grp-" + (re.sub(r"[^A-Za-z0-9_-]", "-", self.path) or "general")

    @property
    def has_error(self) -> bool:
        return any(g.error for g in all_groups(self)) or any(f.error for f in walk(self))


@dataclass
class Repeat:
    """A list of groups (workloads, training jobs, pipelines, stages) with add/remove buttons."""

    path: str
    title: str
    help: str
    kinds: list[str]  # kinds offered by the add buttons ([""] when the list has one kind)
    items: list[Group] = field(default_factory=list)
    error: str | None = None

    @property
    def anchor(self) -> str:
        return "rep-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.path)


_SHORTHAND = {"TokenLengths": "mean", "Currency": "code"}  # models that accept a bare scalar
_PICKERS = {"model": "dl-models", "gpu": "dl-gpus"}
_CHIP_PICKERS = {"gpus": "dl-gpus", "api_models": "dl-apis", "providers": "dl-providers", "quants": "dl-quants"}


#: CLI commands a schema description points at, and what the web app offers instead
_WEB_EQUIVALENTS = {"(`deployscope catalog models`)": "(search them in the field, or on the Catalog page)",
                    "(from `deployscope calibrate`)": "(a profile written by `deployscope calibrate` from your measurements)"}


def web_help(text: str) -> str:
    """A field's help as the form shows it: where the description names a CLI listing, the page."""
    for cli, web in _WEB_EQUIVALENTS.items():
        text = text.replace(cli, web)
    return text


def _field(path: str, name: str, info: FieldInfo, data: dict[str, Any] | None, owner: type[BaseModel], currency: str) -> FormField:
    ann = single(info.annotation)
    doc = field_doc(name, info, owner)
    present = isinstance(data, dict) and name in data
    value = data.get(name) if isinstance(data, dict) else None
    unit = doc.unit_in(currency) if doc.unit != "no unit" else ""
    ff = FormField(path=path, name=name, label=doc.label, unit=unit, help=web_help(doc.help), value=value, present=present, default=copy.deepcopy(doc.default),
                   required=doc.required, widget="text", doc=doc, currency=currency)
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is Literal:
        ff.widget, ff.choices = "select", [str(a) for a in args]
    elif ann is bool:
        ff.widget, ff.choices = "boolean", ["true", "false"]
    elif ann is int:
        ff.widget = "integer"
    elif ann is float:
        ff.widget = "number"
    elif ann is str:
        ff.widget = "text"
        if name in _PICKERS:
            ff.widget, ff.picker = "picker", _PICKERS[name]
    elif origin is list and args:
        inner = single(args[0])
        if typing.get_origin(inner) is Literal:
            ff.widget, ff.choices = "checkboxes", [str(a) for a in typing.get_args(inner)]
        elif inner is str:
            ff.widget, ff.picker = "chips", _CHIP_PICKERS.get(name)
        else:
            ff.widget = "yaml"
    else:
        ff.widget = "yaml"  # mappings, pairs and other shapes: edited as flow YAML, e.g. {h100-sxm-80gb: 25000}
    return ff


def build(model: type[BaseModel], data: Any, path: str = "", title: str = "General", help: str = "", currency: str = "currency") -> Group:
    """The form of `model` filled from `data` (the parsed YAML mapping at `path`); `currency` is
    the scenario's currency code, named in the units of money fields."""
    if not isinstance(data, dict):
        key = _SHORTHAND.get(model.__name__)
        data = {key: data} if key and data is not None else {}
    group = Group(path=path, title=title, help=help or (model.__doc__ or "").strip().split("\n")[0])
    for name, info in model.model_fields.items():
        p = f"{path}.{name}" if path else name
        inner = single(info.annotation)
        label, _ = humanize(name)
        sub = data.get(name)
        sub_model = model_of(info.annotation)
        if sub_model is not None and inner is sub_model:
            group.groups.append(build(inner, sub, p, label, info.description or "", currency))
            continue
        models = list_models(info.annotation) if typing.get_origin(inner) is list else []
        if models:
            group.groups.append(_repeat(p, label, info.description or "", models, sub, currency))
            continue
        group.fields.append(_field(p, name, info, data, model, currency))
    return group


def _repeat(path: str, title: str, help: str, models: list[type[BaseModel]], items: Any, currency: str) -> Group:
    by_kind = {kind_of(m): m for m in models}
    rep = Repeat(path=path, title=title, help=help, kinds=[k for k in by_kind] if len(by_kind) > 1 else [""])
    for i, item in enumerate(items if isinstance(items, list) else []):
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind not in by_kind:
            kind = _infer_kind(item, by_kind)
        model = by_kind.get(kind, models[0])
        name = item.get("name") if isinstance(item, dict) else None
        g = build(model, item, f"{path}[{i}]", f"{title[:-1] if title.endswith('s') else title} {i + 1}" + (f": {name}" if name else ""),
                  currency=currency)
        g.repeat = rep
        rep.items.append(g)
    holder = Group(path=path, title=title, help=help)
    holder.repeat = rep
    return holder


def _infer_kind(item: Any, by_kind: dict[str, type[BaseModel]]) -> str:
    keys = set(item) if isinstance(item, dict) else set()
    for kind, m in by_kind.items():
        if kind and keys and keys <= set(m.model_fields) and not keys <= set().union(*(set(o.model_fields) for k, o in by_kind.items() if k != kind)):
            return kind
    return next(iter(by_kind))


def scenario_form(data: Any) -> Group:
    from ..scenario import Scenario

    data = data if isinstance(data, dict) else {}
    return build(Scenario, data, "", "General", "", _currency_code(data.get("currency", "USD")))


def show_left_out_defaults(root: Group, data: Any) -> None:
    """Beside each empty-able economics field, the value the planner takes when it is left out
    (the economic_defaults row for the scenario's region, in its currency)."""
    from .economic_defaults import left_out_values, number

    values = left_out_values(data if isinstance(data, dict) else {})
    for f in walk(root):
        if f.path.startswith("economics.") and f.name in values and f.doc is not None and f.doc.unset:
            value, where = values[f.name]
            f.left_out_default = f"default {number(value)}{' ' + f.unit if f.unit else ''} ({where})"


def _currency_code(value: Any) -> str:
    """The scenario's currency code as written ('currency' while it is not a valid code)."""
    code = value.get("code", "USD") if isinstance(value, dict) else value
    return code if isinstance(code, str) and re.fullmatch(r"[A-Z]{3}", code) else "currency"


def walk(group: Group) -> list[FormField]:
    """Every field of the form, in the order it shows them."""
    return [f for g in all_groups(group) for f in g.fields]


def all_groups(group: Group) -> list[Group]:
    """`group` and every group inside it (repeated items included), in the order the form shows them."""
    out = [group]
    for g in group.groups:
        out += all_groups(g)
        if g.repeat is not None and g.repeat.path == g.path:
            for item in g.repeat.items:
                out += all_groups(item)
    return out


def attach_error(root: Group, error: DeployscopeError) -> bool:
    """Put `error` beside the field (or group) it names; False when nothing in the form matches."""
    from .errors import page_message

    ef = error.field or ""
    text = page_message(error)
    if error.allowed:
        text += f" (allowed: {error.allowed})"
    for f in walk(root):
        if f.path == ef or ef.startswith((f.path + "[", f.path + ".")):
            f.error = text
            return True
    best: Group | None = None
    for g in all_groups(root):
        if g.path and (ef == g.path or ef.startswith((g.path + ".", g.path + "["))):
            if best is None or len(g.path) > len(best.path):
                best = g
    if best is not None:
        best.error = text
        return True
    return False


# ----------------------------------------------------------------------------- writing back
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_path(path: str) -> list[str | int]:
    return [int(i) if i else k for k, i in _TOKEN.findall(path)]


def _number(text: str, integer: bool) -> Any:
    try:
        v = float(text.replace("_", "").replace(",", ""))
    except ValueError:
        return text  # the schema names the field and says a number is expected
    if not math.isfinite(v):
        return text
    if integer or (v.is_integer() and re.fullmatch(r"-?[0-9_,]+", text)):
        return int(v) if v.is_integer() and abs(v) < 2**63 else text
    return v


def parse_input(f: FormField, raw: list[str]) -> tuple[bool, Any]:
    """(given, value) of one field from its submitted inputs; given False means: leave it out."""
    from ..safe_yaml import load

    if f.widget == "checkboxes":
        return True, [c for c in f.choices if c in raw]
    text = (raw[-1] if raw else "").strip()
    if text == "":
        return False, None
    if f.widget in ("number", "integer"):
        return True, _number(text, f.widget == "integer")
    if f.widget == "boolean":
        return True, {"true": True, "false": False}.get(text.lower(), text)
    if f.widget == "chips":
        return True, [t.strip() for t in re.split(r"[,\n]", text) if t.strip()]
    if f.widget == "yaml":
        return True, load(text, source=f.path)
    return True, text


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def roundtrip_yaml() -> Any:
    try:
        from ruamel.yaml import YAML
    except ImportError:  # pragma: no cover - the web extra brings it
        raise DeployscopeError("the scenario editor needs ruamel.yaml: pip install '.[web]' in the Deployscope checkout", field="yaml") from None
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 100
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def load_document(text: str) -> Any:
    """The round-trip document of `text` (checked by the safe loader first)."""
    from ..safe_yaml import load

    load(text, source="yaml")
    y = roundtrip_yaml()
    doc = y.load(text) if text.strip() else None
    if doc is None:
        from ruamel.yaml.comments import CommentedMap

        doc = CommentedMap()
    if not isinstance(doc, dict):
        raise DeployscopeError("a scenario must be a YAML mapping of fields", field="yaml", value=type(doc).__name__)
    return doc


def dump_document(doc: Any) -> str:
    buf = StringIO()
    roundtrip_yaml().dump(doc, buf)
    return buf.getvalue()


def _new_map() -> Any:
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap()


def _seq(values: list[Any]) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    s = CommentedSeq(values)
    s.fa.set_flow_style()
    return s


def set_value(doc: Any, path: str, value: Any, shorthand: str | None = None) -> None:
    keys = split_path(path)
    node = doc
    for i, k in enumerate(keys[:-1]):
        nxt = node[k] if (isinstance(node, dict) and k in node) or (isinstance(node, list) and isinstance(k, int) and k < len(node)) else None
        if not isinstance(nxt, (dict, list)):
            short = _SHORTHAND_KEYS.get(str(k))
            last = keys[-1]
            if nxt is not None and short is not None and i == len(keys) - 2 and last == short:
                node[k] = value  # input_tokens: 1200 stays a bare number
                return
            m = _new_map()
            if nxt is not None and short is not None:
                m[short] = nxt
            node[k] = m
            nxt = m
        node = nxt
    if isinstance(value, list):
        value = _seq(value)
    node[keys[-1]] = value


def delete_value(doc: Any, path: str) -> None:
    keys = split_path(path)
    node = doc
    for k in keys[:-1]:
        try:
            node = node[k]
        except (KeyError, IndexError, TypeError):
            return
        if not isinstance(node, (dict, list)):
            return
    if isinstance(node, dict) and keys[-1] in node:
        del node[keys[-1]]


_SHORTHAND_KEYS = {"input_tokens": "mean", "output_tokens": "mean", "currency": "code"}


def apply_form(doc: Any, form: dict[str, list[str]], seen: set[str]) -> Any:
    """Write the submitted inputs into `doc` where they differ from it; returns `doc`."""
    root = scenario_form(_plain(doc))
    for f in walk(root):
        if f.widget == "checkboxes":
            if f.path not in seen:
                continue
            raw = form.get(f.input_name, [])
        elif f.input_name in form:
            raw = form[f.input_name]
        else:
            continue
        given, value = parse_input(f, raw)
        if not given:
            if f.present:
                delete_value(doc, f.path)  # an emptied input means: use the default
            continue
        if f.widget == "checkboxes":
            before = _plain(f.value) if f.present and isinstance(f.value, list) else list(f.default or [])
            if set(map(str, value)) == set(map(str, before)):
                continue  # the same set: keep the order it was written in
            value = [v for v in map(str, before) if v in value] + [v for v in value if v not in set(map(str, before))]
        if f.present and _same(value, _plain(f.value)):
            continue
        if f.name == "kind" and f.present and value != f.value:
            _drop_foreign_keys(doc, f.path, str(value))
        set_value(doc, f.path, value)
    return doc


def _drop_foreign_keys(doc: Any, kind_path: str, kind: str) -> None:
    """A workload or stage switched kind: drop the fields the new kind does not have."""
    from ..scenario import DiffusionWorkload, LLMWorkload
    from ..scenario.pipelines import DiffusionStage, LLMStage

    item_path = kind_path.rsplit(".", 1)[0]
    node = doc
    for k in split_path(item_path):
        node = node[k]
    models = (LLMStage, DiffusionStage) if ".stages[" in kind_path else (LLMWorkload, DiffusionWorkload)
    target = next((m for m in models if kind_of(m) == kind), None)
    if target is None or not isinstance(node, dict):
        return
    for key in [k for k in node if k not in target.model_fields]:
        del node[key]


def _plain(node: Any) -> Any:
    """ruamel containers as plain dicts and lists (for the schema walk and comparisons)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def add_item(doc: Any, list_path: str, kind: str) -> None:
    """Append a new item (only its name and kind) to a repeated list such as workloads."""
    keys = split_path(list_path)
    node = doc
    for k in keys[:-1]:
        node = node[k]
    last = keys[-1]
    items = node.get(last) if isinstance(node, dict) else None
    if not isinstance(items, list):
        from ruamel.yaml.comments import CommentedSeq

        items = CommentedSeq()
        node[last] = items
    if len(items) >= MAX_ITEMS_PER_GROUP:
        raise DeployscopeError(f"at most {MAX_ITEMS_PER_GROUP} items", field=list_path, value=len(items))
    names = {str(it.get("name")) for it in items if isinstance(it, dict)}
    stem = {"workloads": "workload", "training": "job", "pipelines": "pipeline", "stages": "stage"}.get(str(last), "item")
    n = len(items) + 1
    while f"{stem}-{n}" in names:
        n += 1
    item = _new_map()
    item["name"] = f"{stem}-{n}"
    if kind:
        item["kind"] = kind
    items.append(item)


def remove_item(doc: Any, item_path: str) -> None:
    keys = split_path(item_path)
    if not keys or not isinstance(keys[-1], int):
        raise DeployscopeError("not a list item", field=item_path)
    node = doc
    for k in keys[:-1]:
        node = node[k]
    if isinstance(node, list) and 0 <= keys[-1] < len(node):
        del node[keys[-1]]
        if not node and len(keys) >= 2 and keys[-2] in ("training", "pipelines") and isinstance(keys[-2], str):
            parent = doc
            for k in keys[:-2]:
                parent = parent[k]
            del parent[keys[-2]]


def _repeats(doc: Any) -> dict[str, Repeat]:
    """The repeated lists the form of `doc` shows, by path."""
    return {g.repeat.path: g.repeat for g in all_groups(scenario_form(_plain(doc))) if g.repeat is not None}


def apply_action(doc: Any, action: str) -> bool:
    """Apply 'add:PATH[:KIND]' or 'remove:PATH[i]' to a repeated list the form shows (workloads,
    training, pipelines, a pipeline's stages); False for the plain actions (check, save, plan)."""
    if action.startswith("add:"):
        _, path, *kind = action.split(":")
        rep = _repeats(doc).get(path)
        name = kind[0] if kind else ""  # '' is the member without a kind (a language-model training job)
        if rep is None or len(kind) > 1 or name not in rep.kinds:
            raise DeployscopeError("not a list the form can add to", field="action", value=action)
        add_item(doc, path, name)
        return True
    if action.startswith("remove:"):
        path = action.split(":", 1)[1]
        m = re.fullmatch(r"(.+)\[(\d+)\]", path)
        rep = _repeats(doc).get(m.group(1)) if m else None
        if rep is None or not any(item.path == path for item in rep.items):
            raise DeployscopeError("not an item the form can remove", field="action", value=action)
        remove_item(doc, path)
        return True
    return False
