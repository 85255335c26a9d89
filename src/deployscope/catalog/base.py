"""The row and table types every catalog table is built from.

A row is one sourced fact sheet (an accelerator, a model, a price...). Every row carries
`source` (URL, or paper + table) and `as_of` (the date of the figure, or the date the source
was read: say which in `as_of_note`). A table looks rows up by id or alias, tolerant of the
spellings vendors and benchmark files use, and suggests the closest ids for an unknown name.
"""

from __future__ import annotations

import difflib
import re
import types
from datetime import date
from typing import Annotated, Any, ClassVar, Generic, Iterator, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ..errors import UnknownName


def _takes_bool(annotation: Any) -> bool:
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is bool or annotation is Any or annotation is object:
        return True
    if origin is Literal:
        return any(isinstance(a, bool) for a in args)
    if origin is Annotated:
        return _takes_bool(args[0])
    if origin in (Union, types.UnionType):
        return any(_takes_bool(a) for a in args)
    return False


def bool_where_number(annotation: Any, value: Any) -> bool:
    """Whether `value` holds a true/false where `annotation` wants something else (a number, a
    count): pydantic would read it as 1 or 0."""
    if isinstance(value, bool):
        return not _takes_bool(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return bool_where_number(args[0], value)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        return len(members) == 1 and bool_where_number(members[0], value)
    if origin in (list, tuple, set, frozenset) and isinstance(value, (list, tuple)) and args:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return any(bool_where_number(a, v) for a, v in zip(args, value))
        return any(bool_where_number(args[0], v) for v in value)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return any(bool_where_number(args[1], v) for v in value.values())
    return False


class NoBoolNumbers(BaseModel):
    """A model whose numbers refuse true/false: YAML's `yes`/`true` in a numeric field is a mistake
    to name, not a 1 to compute with."""

    @model_validator(mode="before")
    @classmethod
    def _no_bool_number(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, v in data.items():
                if not isinstance(v, (bool, list, tuple, dict)):  # the common case, kept cheap
                    continue
                field = cls.model_fields.get(name) if isinstance(name, str) else None
                if field is not None and bool_where_number(field.annotation, v):
                    raise PydanticCustomError(BOOL_NUMBER, "expected a number, not true/false", {"field": name, "value": v})
        return data


BOOL_NUMBER = "bool_number"  # the error type of a true/false in a numeric field


def locate(err: Any) -> Any:
    """A pydantic error dict with a true/false-in-a-number error placed at its field: its
    location extended by the field name and its input set to the value written there."""
    if err.get("type") != BOOL_NUMBER:
        return err
    ctx = err.get("ctx") or {}
    return {**err, "loc": (*err["loc"], ctx.get("field")), "input": ctx.get("value")}


class Row(NoBoolNumbers):
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
    #: figure -> the fields that say where it comes from; a user row overriding the figure must give
    #: them too (the bundled row's would otherwise be shown as the source of the user's figure)
    companions: ClassVar[dict[str, tuple[str, ...]]] = {}

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

    @model_validator(mode="after")
    def _dates_not_ahead(self) -> "Row":
        today = date.today()
        for name in ("as_of", "price_as_of"):
            d = getattr(self, name)
            if d is not None and d > today:
                raise ValueError(f"{name} {d.isoformat()} is after today ({today.isoformat()}): a figure cannot be dated in the future")
        return self


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


_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_REMARK = re.compile(r"\([^)]*\)")
_COUNT_PREFIX = re.compile(r"^\s*\d+\s*x\s*", flags=re.I)  # '1x RTX 4090'
_VENDOR_PREFIX = re.compile(r"^(nvidia|amd|intel|meta|mistralai|qwen|google|microsoft)[\s_-]+", flags=re.I)


def normalize(name: str) -> str:
    """Lower-case, and keep only letters and digits: 'H100-SXM 80GB' -> 'h100sxm80gb'."""
    return _NOT_ALNUM.sub("", name.lower())


def _strip_decorations(name: str) -> str:
    """Drop parenthesised remarks and a leading vendor or organisation prefix."""
    name = _REMARK.sub(" ", name)
    name = name.split("/")[-1]
    name = _COUNT_PREFIX.sub("", name)
    name = _VENDOR_PREFIX.sub("", name.strip())
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
