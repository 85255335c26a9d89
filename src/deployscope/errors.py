"""Errors meant for people: each names the field, the value and what is allowed."""

from __future__ import annotations

from typing import Any, Iterable


class DeployscopeError(Exception):
    """A problem with the user's input or data; the CLI prints it and exits with code 2.

    ``constraint`` names the deployment limit the error reports when it is one ("memory": the model
    does not fit; "latency": no load meets the latency targets), so a planner can say what ruled an
    option out without reading the message; None for an input error.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        allowed: str | Iterable[str] | None = None,
        constraint: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.constraint = constraint
        if allowed is not None and not isinstance(allowed, str):
            allowed = ", ".join(str(a) for a in allowed)
        self.allowed = allowed
        super().__init__(message)

    def __str__(self) -> str:
        parts = []
        if self.field:
            parts.append(f"{self.field}: ")
        parts.append(super().__str__())
        if self.allowed:
            parts.append(f" (allowed: {self.allowed})")
        return "".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": super().__str__(),
            "field": self.field,
            "value": _jsonable(self.value),
            "allowed": self.allowed,
        }


class UnknownName(DeployscopeError):
    """A model, GPU, format or other catalog id that is not in the catalog."""

    LIST_HINT = "see `deployscope catalog` for the full list"  # the web app points at its Catalog page instead

    def __init__(self, kind: str, name: str, suggestions: list[str], field: str | None = None) -> None:
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"unknown {kind} {name!r}{hint} ({self.LIST_HINT})",
            field=field or kind,
            value=name,
        )
        self.kind = kind
        self.suggestions = suggestions


class CatalogError(DeployscopeError):
    """A catalog data file (bundled or user) that cannot be read or validated."""


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)
