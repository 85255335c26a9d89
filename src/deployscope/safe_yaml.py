"""One loader for untrusted text: scenarios, user catalog files, calibration profiles, pipeline
files, price imports and the web form all go through :func:`load`.

YAML aliases make a tiny file expand into a huge document ("billion laughs"); deep nesting makes
recursive code overflow; a file saved in another encoding makes decoding fail half-way. So before
anything is built, the text is decoded (UTF-8, or UTF-16/32 with a byte-order mark) and the YAML
event stream is scanned -- linear in the text, no alias expanded -- against three limits: the size
of the text, how deep it nests, and how many nodes its aliases add. JSON ``Infinity``/``NaN``,
non-finite YAML floats (``.inf``) and strings holding lone surrogates are refused with the key path
where they sit. Every refusal is an :class:`UnsafeInput` naming the source and the limit.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import DeployscopeError

__all__ = [
    "LOADER",
    "MAX_ALIASES",
    "MAX_ALIAS_NODES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "UnsafeInput",
    "decode",
    "load",
    "load_file",
]

MAX_BYTES = 16 * 1024 * 1024  # the largest input read (a LiteLLM price map is ~1.5 MB)
MAX_DEPTH = 64  # mappings and lists nested; a scenario uses fewer than 8
MAX_ALIASES = 1_000  # `*name` references in one document
MAX_ALIAS_NODES = 100_000  # nodes the aliases add when expanded

try:  # libyaml's parser is several times faster; the pure-Python one reads the same language
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader
LOADER: Any = _Loader  # the YAML loader class every parse here uses (safe constructors only)

_BOMS = (  # longest first: the UTF-32-LE mark starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


class UnsafeInput(DeployscopeError):
    """Text that cannot be read safely: too big, too deep, an alias bomb, not UTF-8, not finite."""


def _refuse(source: str, problem: str, allowed: str | None = None) -> UnsafeInput:
    return UnsafeInput(f"{source}: {problem}", value=source, allowed=allowed)


# ------------------------------------------------------------------------------ decoding
def decode(data: str | bytes, *, source: str, max_bytes: int = MAX_BYTES) -> str:
    """Text from bytes: UTF-8 (a BOM is dropped) or UTF-16/32 with a BOM; anything else refused
    with the encoding it looks like. A str is checked for size and a leading BOM only."""
    if isinstance(data, str):
        if len(data) > max_bytes:
            raise _refuse(source, f"{len(data):,} characters is too large", f"at most {max_bytes:,} bytes")
        return data.removeprefix("\ufeff")
    if len(data) > max_bytes:
        raise _refuse(source, f"{len(data):,} bytes is too large", f"at most {max_bytes:,} bytes")
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec)
            except UnicodeDecodeError as exc:
                raise _refuse(source, f"starts with a {label} byte-order mark but is not valid {label} "
                              f"(byte offset {exc.start + len(bom)})", "UTF-8 text") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(source, _not_utf8(data, exc), "UTF-8 text (save the file as UTF-8)") from None
    if "\x00" in text and _nul_heavy(data):
        raise _refuse(source, "not UTF-8 text (NUL bytes between the characters); the encoding looks like "
                      "UTF-16 or UTF-32 without a byte-order mark", "UTF-8 text (save the file as UTF-8)")
    return text


def _nul_heavy(data: bytes) -> bool:
    sample = data[:4096]  # ASCII in UTF-16/32 is half (or more) NUL bytes
    return bool(sample) and sample.count(0) * 4 >= len(sample)


def _not_utf8(data: bytes, exc: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    where = f"byte 0x{data[exc.start]:02x} at line {line}, column {column}"
    if _nul_heavy(data):
        guess = "UTF-16 or UTF-32 without a byte-order mark"
    else:
        try:
            data.decode("cp1252")
            guess = "Latin-1 / Windows-1252"
        except UnicodeDecodeError:
            guess = "a legacy 8-bit encoding"
    return f"not UTF-8 text ({where}); the encoding looks like {guess}"


# ------------------------------------------------------------------------------ limits
def _check_yaml_events(text: str, source: str, max_depth: int) -> None:
    """Walk the event stream once: nesting depth, alias count and the nodes aliases add."""
    depth = 0
    aliases = 0
    alias_nodes = 0
    anchors: dict[str, int] = {}  # anchor -> nodes in its subtree (an alias counts what it expands to)
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, node count when it opened)
    nodes = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > max_depth:
                    raise _refuse(source, f"nests deeper than {max_depth} levels (line {_line(event)})",
                                  f"at most {max_depth} nested mappings or lists")
                nodes += 1
                open_nodes.append((event.anchor, nodes))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
                anchor, start = open_nodes.pop()
                if anchor is not None:
                    anchors[anchor] = nodes - start + 1
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
                if event.anchor is not None:
                    anchors[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                if any(a == event.anchor for a, _ in open_nodes):
                    raise _refuse(source, f"alias *{event.anchor} refers to a node that contains it (line {_line(event)})",
                                  "aliases to complete nodes only (no cycles)")
                aliases += 1
                added = anchors.get(event.anchor, 1)
                alias_nodes += added
                nodes += added
                if aliases > MAX_ALIASES:
                    raise _refuse(source, f"uses more than {MAX_ALIASES:,} aliases (line {_line(event)})",
                                  f"at most {MAX_ALIASES:,} aliases (*name)")
                if alias_nodes > MAX_ALIAS_NODES:
                    raise _refuse(source, f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes "
                                  f"(line {_line(event)}): an alias bomb?",
                                  f"aliases adding at most {MAX_ALIAS_NODES:,} nodes")
    except yaml.YAMLError as exc:
        raise _malformed(source, "YAML", exc) from None


def _line(event: Any) -> int:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else 0


def _malformed(source: str, kind: str, exc: Exception) -> UnsafeInput:
    mark = getattr(exc, "problem_mark", None)
    where = f" line {mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return UnsafeInput(f"{source}{where}: malformed {kind}: {problem}", value=source)


_JSON_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKETS = re.compile(r"[\[\]{}]")


def _check_json_depth(text: str, source: str, max_depth: int) -> None:
    depth = 0
    for m in _JSON_BRACKETS.finditer(_JSON_STRINGS.sub("", text)):
        depth += 1 if m.group() in "[{" else -1
        if depth > max_depth:
            raise _refuse(source, f"nests deeper than {max_depth} levels", f"at most {max_depth} nested objects or arrays")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


# ------------------------------------------------------------------------------ values
def _check_values(value: Any, source: str) -> None:
    """Refuse non-finite floats and strings that cannot be UTF-8 (lone surrogates), by key path."""
    bad = _find_bad(value)
    if bad is None:
        return
    path, v = bad
    if isinstance(v, float):
        raise UnsafeInput(f"not a finite number (got {v}) [in {source}]", field=path or "(top level)",
                          value=str(v), allowed="a finite number")
    raise UnsafeInput(f"text holds a lone surrogate, not valid Unicode [in {source}]", field=path or "(top level)",
                      value=v.encode("utf-8", "backslashreplace").decode())


def _find_bad(value: Any, path: str = "", seen: set[int] | None = None) -> tuple[str, Any] | None:
    """The first (key path, value) that is a non-finite float or an unencodable string.
    Depth is bounded by the nesting check, so recursion is safe; aliases share objects, so each
    container is visited once."""
    if seen is None:
        seen = set()
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, str):
        return None if _encodable(value) else (path, value)
    if isinstance(value, (dict, list)):
        if id(value) in seen:
            return None
        seen.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, item in items:
            if isinstance(item, (int, bool)) or item is None:
                continue
            if isinstance(value, dict):
                sub = f"{path}.{k}" if path else str(k)
                if isinstance(k, (str, float)):
                    hit = _find_bad(k, path)
                    if hit is not None:
                        return hit
            else:
                sub = f"{path}[{k}]"
            hit = _find_bad(item, sub, seen)
            if hit is not None:
                return hit
    return None


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ------------------------------------------------------------------------------ public
def load(
    text: str | bytes,
    *,
    source: str,
    format: Literal["yaml", "json"] = "yaml",
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Parse untrusted YAML (or JSON) text within the limits; `source` names it in every error
    (a file path, ``"scenario form"``, ``"request body"``)."""
    decoded = decode(text, source=source, max_bytes=max_bytes)
    if format == "json":
        _check_json_depth(decoded, source, max_depth)
        try:
            data = json.loads(decoded, parse_constant=_no_constant)
        except ValueError as exc:  # JSONDecodeError, and the constants refused above
            line = getattr(exc, "lineno", None)
            where = f" line {line}" if line is not None else ""
            msg = getattr(exc, "msg", None) or str(exc)
            raise UnsafeInput(f"{source}{where}: malformed JSON: {msg}", value=source) from None
        except RecursionError:  # pragma: no cover - the depth check comes first
            raise _refuse(source, "nests too deep", f"at most {max_depth} levels") from None
    else:
        _check_yaml_events(decoded, source, max_depth)
        try:
            data = yaml.load(decoded, Loader=_Loader)
        except yaml.YAMLError as exc:
            raise _malformed(source, "YAML", exc) from None
        except (RecursionError, ValueError, OverflowError) as exc:  # e.g. a timestamp out of range
            raise UnsafeInput(f"{source}: cannot read a value: {exc}", value=source) from None
    _check_values(data, source)
    return data


def load_file(path: str | Path, *, source: str | None = None, max_bytes: int = MAX_BYTES, error: type[DeployscopeError] | None = None) -> Any:
    """:func:`load` on a file (JSON when it ends in ``.json``); unreadable files are errors too.
    ``error`` re-raises every refusal as that DeployscopeError subclass (e.g. CatalogError)."""
    p = Path(path)
    name = source or str(p)
    try:
        try:
            size = p.stat().st_size
            if size > max_bytes:
                raise _refuse(name, f"{size:,} bytes is too large", f"at most {max_bytes:,} bytes")
            raw = p.read_bytes()
        except OSError as exc:
            raise UnsafeInput(f"cannot read {name}: {exc.strerror or exc}", value=name) from None
        fmt: Literal["yaml", "json"] = "json" if p.suffix.lower() == ".json" else "yaml"
        return load(raw, source=name, format=fmt, max_bytes=max_bytes)
    except UnsafeInput as exc:
        if error is None:
            raise
        raise error(exc.args[0], field=exc.field, value=exc.value, allowed=exc.allowed) from None
