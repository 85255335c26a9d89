"""The row and table types every catalog table is built from.

A row is one sourced fact sheet (an accelerator, a model, a price...). Every row carries
`source` (URL, or paper + table) and `as_of` (the date of the figure, or the date the source
was read: say which in `as_of_note`). A table looks rows up by id or alias, tolerant of the
spellings vendors and benchmark files use, and suggests the closest ids for an unknown name.
"""

from __future__ import annotations

import difflib
import re
from datetime import date
from typing import Any, ClassVar, Generic, Iterator, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import UnknownName


class Row(BaseModel):
    """Common fields of every catalog row; unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    source: str = Field(min_length=3, description="URL, or paper + table, the figures come from")
    as_of: date = Field(description="date of the figures, or the date the source was read")
    as_of_note: str | None = None
    price_as_of: date | None = Field(
        default=None,
        description="priced rows: the date the price was published (as_of may be the date it was read); "
        "null = publication date unknown (then price_as_of_note says why)",
    )
    price_as_of_note: str | None = None
    notes: str | None = None

    # Human label for error messages ("GPU", "model", ...); set by subclasses.
    kind: ClassVar[str] = "row"
    #: fields holding a price: a row that sets any of them must say when the price was published
    price_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def priced_fields(cls, raw: dict[str, Any]) -> list[str]:
        """The price fields a raw row sets (a subclass may decide from other fields, e.g. a currency)."""
        return [f for f in cls.price_fields if raw.get(f) is not None]

    @model_validator(mode="before")
    @classmethod
    def _price_dated(cls, data: Any) -> Any:
        problem = missing_price_date(cls, data)
        if problem:
            raise ValueError(problem)
        return data


def missing_price_date(row_type: type[Row], raw: Any) -> str | None:
    """Why a raw row of `row_type` lacks the publication date of its price, or None if it is dated.

    A row that sets any of its price fields (``row_type.priced_fields``) must carry ``price_as_of``
    (YYYY-MM-DD, the date the price was published, apart from ``as_of``); ``price_as_of: null`` is
    accepted only with a ``price_as_of_note`` that says why the date is unknown."""
    if not isinstance(raw, dict):
        return None
    priced = row_type.priced_fields(raw)
    if not priced:
        return None
    if "price_as_of" not in raw:
        return (f"price_as_of is missing: a row with a price ({priced[0]}) needs the date the price was "
                "published (YYYY-MM-DD), or price_as_of: null with price_as_of_note saying why it is unknown")
    if raw["price_as_of"] is None and not raw.get("price_as_of_note"):
        return "price_as_of is null: say why the publication date is unknown in price_as_of_note, or give the date (YYYY-MM-DD)"
    return None


def normalize(name: str) -> str:
    """Lower-case, and keep only letters and digits: 'H100-SXM 80GB' -> 'h100sxm80gb'."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _strip_decorations(name: str) -> str:
    """Drop parenthesised remarks and a leading vendor or organisation prefix."""
    name = re.sub(r"\([^)]*\)", " ", name)
    name = name.split("/")[-1]
    name = re.sub(r"^\s*\d+\s*x\s*", "", name, flags=re.I)  # '1x RTX 4090'
    name = re.sub(r"^(nvidia|amd|intel|meta|mistralai|qwen|google|microsoft)[\s_-]+", "", name.strip(), flags=re.I)
    return name.strip()


R = TypeVar("R", bound=Row)


class Table(Generic[R]):
    """Rows of one kind, indexed by normalized id and aliases."""

    def __init__(self, kind: str, rows: list[R]) -> None:
        self.kind = kind
        self._rows: dict[str, R] = {}
        self._index: dict[str, str] = {}
        for row in rows:
            self._rows[row.id] = row
        # Exact spellings first, so that a shortened alias of one row ('A100' from
        # 'A100 (40GB ...)') never shadows another row's own id or alias.
        for row in rows:
            for key in (row.id, *row.aliases):
                self._index.setdefault(normalize(key), row.id)
        shortened: dict[str, set[str]] = {}
        for row in rows:
            for key in (row.id, *row.aliases):
                shortened.setdefault(normalize(_strip_decorations(key)), set()).add(row.id)
        for key, ids in shortened.items():
            if key not in self._index and len(ids) == 1:  # ambiguous short forms resolve to nothing
                self._index[key] = next(iter(ids))

    def __iter__(self) -> Iterator[R]:
        return iter(self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def ids(self) -> list[str]:
        return list(self._rows)

    def find(self, name: str) -> R | None:
        """The row for `name` (id or alias, any case or punctuation), or None."""
        if name in self._rows:
            return self._rows[name]
        for candidate in (name, _strip_decorations(name)):
            key = normalize(candidate)
            if key in self._index:
                return self._rows[self._index[key]]
        return None

    def get(self, name: str, field: str | None = None) -> R:
        """The row for `name`, or an error naming the closest ids."""
        row = self.find(name)
        if row is None:
            raise UnknownName(self.kind, name, self.suggest(name), field=field)
        return row

    def suggest(self, name: str, n: int = 5) -> list[str]:
        key = normalize(_strip_decorations(name))
        keys = list(self._index)
        close = difflib.get_close_matches(key, keys, n=n * 3, cutoff=0.5)
        close += [k for k in keys if key and (key in k or k in key) and k not in close]
        seen: list[str] = []
        for k in close:
            rid = self._index[k]
            if rid not in seen:
                seen.append(rid)
        return seen[:n]
