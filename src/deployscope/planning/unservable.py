"""Why a GPU type cannot serve a workload: the binding constraint, named where sizing finds it.

The plan's exclusion reasons read "<kind>: <text>"; the kind is set by the code that runs into
the limit (or by the physics error's ``constraint``), never guessed back from the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import DeployscopeError

Kind = Literal["memory", "latency", "image latency", "deadline", "quality floor", "sizing"]

#: the physics errors' constraints (DeployscopeError.constraint) a plan names as such
_FROM_PHYSICS: dict[str, Kind] = {"memory": "memory", "latency": "latency"}


@dataclass(frozen=True)
class Unservable:
    """The constraint that rules a configuration out, and the sentence that says how."""

    kind: Kind
    text: str

    def of(self, name: str) -> Unservable:
        """The same failure, said of the named workload, job or pipeline."""
        return Unservable(self.kind, f"{name}: {self.text}")

    @classmethod
    def from_error(cls, exc: DeployscopeError, text: str | None = None) -> Unservable:
        """A physics refusal: its constraint (memory, latency) when it reports one, else "sizing"."""
        return cls(_FROM_PHYSICS.get(exc.constraint or "", "sizing"), str(exc.args[0]) if text is None else text)
