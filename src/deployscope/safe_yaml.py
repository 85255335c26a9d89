"""The one loader for untrusted YAML text (scenario files, web forms, API bodies).

``load(text, source=...)`` parses with the safe constructors and refuses, before building any
Python object, documents that are too large, too deep or that expand through aliases beyond a
fixed budget (the "billion laughs" attack). Every refusal is a :class:`YamlLimitError` naming the
source and the limit; malformed YAML is a :class:`YamlSyntaxError` with line and column.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import DeployscopeError

MAX_BYTES = 1024 * 1024  # characters of text, like the web body limit
MAX_DEPTH = 64  # nesting of mappings and sequences
MAX_ALIASES = 100  # `*name` references
MAX_NODES = 200_000  # nodes after expanding every alias

__all__ = ["MAX_ALIASES", "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "YamlLimitError", "YamlSyntaxError", "load"]


class YamlSyntaxError(DeployscopeError):
    """Text that is not YAML."""


class YamlLimitError(DeployscopeError):
    """YAML over a size, depth or alias limit."""


class _Limited(yaml.SafeLoader):
    """SafeLoader whose composer counts depth, aliases and the expanded size of every node."""

    def __init__(self, stream: str, source: str) -> None:
        super().__init__(stream)
        self._source = source
        self._depth = 0
        self._aliases = 0
        self._weight: dict[int, int] = {}  # id(node) -> nodes it stands for once expanded
        self._total = 0

    def _refuse(self, what: str, limit: int) -> None:
        mark = self.peek_event().start_mark if self.check_event() else None
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise YamlLimitError(f"YAML {what} exceeds the limit of {limit}{where}", field=self._source, value=None,
                             allowed=f"at most {limit}")

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                self._refuse("alias count", MAX_ALIASES)
            anchor = self.peek_event().anchor
            target = self.anchors.get(anchor)
            if target is not None:
                self._count(self._weight.get(id(target), 1))
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            self._refuse("nesting depth", MAX_DEPTH)
        try:
            before = self._total
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if not isinstance(node, yaml.ScalarNode):
            self._weight[id(node)] = self._total - before + 1
        self._count(1)
        return node

    def _count(self, n: int) -> None:
        self._total += n
        if self._total > MAX_NODES:
            self._refuse("size after expanding aliases (nodes)", MAX_NODES)


def load(text: str | bytes, *, source: str) -> Any:
    """Parse untrusted YAML `text`; `source` names it in errors (a file path or a form field)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlSyntaxError(f"not UTF-8 text (byte {exc.start})", field=source, allowed="UTF-8 text") from None
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"YAML text of {len(text)} characters exceeds the limit of {MAX_BYTES}", field=source,
                             allowed=f"at most {MAX_BYTES} characters")
    loader = None
    try:
        loader = _Limited(text, source)
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlSyntaxError(f"malformed YAML{where}: {problem}", field=source) from None
    except RecursionError:
        raise YamlLimitError(f"YAML nesting depth exceeds the limit of {MAX_DEPTH}", field=source, allowed=f"at most {MAX_DEPTH}") from None
    finally:
        if loader is not None:
            loader.dispose()
    bad = _lone_surrogate(data)
    if bad is not None:
        raise YamlSyntaxError(f"text that is not valid Unicode (a lone surrogate escape) at {bad or 'the top level'}", field=source,
                              allowed="UTF-8 text")
    return data


def _lone_surrogate(data: Any) -> str | None:
    """The path of the first string (key or value) that cannot be written as UTF-8, else None."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return where
        elif isinstance(node, dict):
            for k, v in node.items():
                stack.append((k, where))
                stack.append((v, f"{where}.{k}" if where else str(k)))
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(node))
    return None
