"""Load the bundled catalog, merge a user catalog directory over it, validate every row.

Each table is one YAML file holding a list of rows. A user directory (``--catalog DIR`` or
``DEPLOYSCOPE_CATALOG``) may hold files of the same names: a row whose id matches a bundled row
overrides the fields it gives, nested ones included (and must carry its own ``source`` and
``as_of``); a new id adds a row. Bundled files are never written. Tables are parsed on first use,
so a command pays only for the tables it reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import ValidationError

from .. import safe_yaml
from ..errors import CatalogError
from .base import Row, Table, locate, missing_price_date

BUNDLED_DIR = Path(__file__).parent / "data"
USER_CATALOG_ENV = "DEPLOYSCOPE_CATALOG"

R = TypeVar("R", bound=Row)

@dataclass(frozen=True)
class TableSpec(Generic[R]):
    name: str  # attribute name on Catalog, and the YAML file stem
    row_type: type[R]


_TABLES: dict[str, TableSpec[Any]] = {}


def register_table(name: str, row_type: type[R]) -> type[R]:
    """Declare a catalog table stored in ``data/<name>.yaml``."""
    _TABLES[name] = TableSpec(name, row_type)
    return row_type


def table_names() -> list[str]:
    _import_table_modules()
    return sorted(_TABLES)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file through the safe loader (size, nesting and alias limits, UTF-8 or a BOM,
    finite numbers); every refusal is a CatalogError naming the file (and line where there is one)."""
    return safe_yaml.load_file(path, error=CatalogError)


def _read_bundled(path: Path) -> Any:
    """A bundled table: package data, not untrusted input, so parsed without the safe loader's
    scan for size, nesting, aliases and non-finite numbers (a third of the parse time). The test
    suite holds every bundled file to those limits; a file that does not parse falls back to the
    safe loader, whose error names the file and line."""
    try:
        return yaml.load(path.read_bytes().decode("utf-8"), Loader=safe_yaml.LOADER)
    except (yaml.YAMLError, UnicodeDecodeError, ValueError, RecursionError):
        return read_yaml(path)


def _rows_from_file(path: Path, *, bundled: bool = False) -> list[dict[str, Any]]:
    data = _read_bundled(path) if bundled else read_yaml(path)
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise CatalogError(f"{path}: expected a YAML list of rows (mappings)", field="file", value=str(path))
    return data


def format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in map(locate, exc.errors()):
        loc = ".".join(str(p) for p in err["loc"]) or "(row)"
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        msg = str(err["msg"]).removeprefix("Value error, ")  # pydantic's wrapper around the row's own message
        parts.append(f"{loc}: {msg}{shown}")
    return "; ".join(parts)


def _validate(spec: TableSpec[R], raw: dict[str, Any], path: Path, index: int) -> R:
    problem = missing_price_date(spec.row_type, raw)
    if problem:
        raise CatalogError(
            f"{path}: row {index} (id {raw.get('id', '?')!r}): {problem}",
            field=f"{spec.name}[{index}].price_as_of",
            value=raw.get("price_as_of"),
        )
    try:
        return spec.row_type.model_validate(raw)
    except ValidationError as exc:
        rid = raw.get("id", "?")
        raise CatalogError(
            f"{path}: row {index} (id {rid!r}): {format_validation_error(exc)}",
            field=f"{spec.name}[{index}]",
            value=rid,
        ) from None


def merged_row(bundled: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A bundled row with a user row's fields on top; a nested mapping the user gives (an engine's
    ``perf``, a GPU's ``interconnect``) changes only the fields it names, so the bundled figures
    beside them stay instead of falling back to defaults. Lists and plain values replace."""
    out = dict(bundled)
    for key, value in override.items():
        below = out.get(key)
        out[key] = merged_row(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return out


def _check_override(spec: TableSpec[R], bundled: dict[str, Any], raw: dict[str, Any], path: Path, index: int) -> None:
    """A user row overriding a bundled one carries the sources and dates of what it changes: the
    bundled row's would otherwise be shown for the user's figures (or the user's for the bundled)."""
    rid = raw.get("id")

    def fail(msg: str, field: str) -> None:
        raise CatalogError(f"{path}: row {index} (id {rid!r}) {msg}", field=f"{spec.name}[{index}].{field}", value=raw.get(field))

    for figure, needs in spec.row_type.companions.items():
        lacking = [c for c in needs if c not in raw]
        if raw.get(figure) is not None and lacking:
            fail(f"gives its own {figure} but no {' or '.join(lacking)}: the bundled row's {lacking[0]} describes the bundled "
                 f"figure, not yours", lacking[0])
    merged = merged_row(bundled, raw)
    if "price_as_of" in raw and raw["price_as_of"] is None and not raw.get("price_as_of_note"):
        fail("gives price_as_of: null without its own price_as_of_note: say why the date of your price is unknown", "price_as_of_note")
    priced = spec.row_type.priced_fields(merged)
    if priced and not any(f in raw for f in priced) and ("price_as_of" in raw or "price_as_of_note" in raw):
        fail(f"dates a price it does not give: price_as_of would be shown as the date of the bundled {priced[0]}; give your "
             f"{priced[0]} with it, or leave price_as_of out", "price_as_of")


class Catalog:
    """Every catalog table, bundled data with the user's rows merged on top.

    >>> cat = Catalog()
    >>> cat.accelerators.get("H100-SXM-80GB").memory_bytes
    """

    def __init__(self, user_dir: str | os.PathLike[str] | None = None, *, bundled_dir: Path = BUNDLED_DIR) -> None:
        if user_dir is None:
            user_dir = os.environ.get(USER_CATALOG_ENV) or None
        if user_dir is None:  # `deployscope model add` writes here when no --catalog / env is set
            from ..paths import data_dir

            default_dir = data_dir() / "catalog"
            user_dir = default_dir if default_dir.is_dir() else None
        self.bundled_dir = Path(bundled_dir)
        self.user_dir = Path(user_dir) if user_dir else None
        if self.user_dir is not None and not self.user_dir.is_dir():
            raise CatalogError(
                f"user catalog directory {str(self.user_dir)!r} does not exist or is not a directory",
                field="catalog",
                value=str(self.user_dir),
            )
        self._tables: dict[str, Table[Any]] = {}
        self._user_ids: dict[str, set[str]] = {}

    def __getattr__(self, name: str) -> Table[Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        loaded = self.__dict__.get("_tables")
        if loaded is not None and name in loaded:  # fast path: a table already parsed
            return loaded[name]  # type: ignore[no-any-return]  # the instance __dict__ is untyped
        _import_table_modules()
        if name not in _TABLES:
            raise AttributeError(f"catalog has no table {name!r}")
        if name not in self._tables:
            self._tables[name] = self._load(_TABLES[name])
        return self._tables[name]

    def table(self, name: str) -> Table[Any]:
        return self.__getattr__(name)

    def user_rows(self, name: str) -> set[str]:
        """Ids of rows in table `name` that come from (or were changed by) the user catalog."""
        if self.user_dir is None:
            return set()
        if name not in self._user_ids:
            self.table(name)  # loading the table records them
        return self._user_ids.get(name, set())

    def _load(self, spec: TableSpec[R]) -> Table[R]:
        path = self.bundled_dir / f"{spec.name}.yaml"
        raw_rows = _rows_from_file(path, bundled=self.bundled_dir == BUNDLED_DIR) if path.exists() else []
        rows: dict[str, R] = {}
        raws: dict[str, dict[str, Any]] = {}
        for i, raw in enumerate(raw_rows):
            row = _validate(spec, raw, path, i)
            rows[row.id] = row
            raws[row.id] = raw
        user_ids: set[str] = set()
        self._user_ids[spec.name] = user_ids
        if self.user_dir is not None:
            user_path = self.user_dir / f"{spec.name}.yaml"
            if user_path.exists():
                for i, raw in enumerate(_rows_from_file(user_path)):
                    rid = raw.get("id")
                    if not isinstance(rid, str):  # a list or mapping id is unhashable: say so, naming the row
                        raise CatalogError(f"{user_path}: row {i}: id must be a text id (got {rid!r})", field=f"{spec.name}[{i}].id", value=rid)
                    if rid in raws:
                        missing = [k for k in ("source", "as_of") if k not in raw]
                        if missing:
                            raise CatalogError(
                                f"{user_path}: row {i} (id {rid!r}) overrides a bundled row but gives no "
                                f"{' or '.join(missing)}: say where your figures come from",
                                field=f"{spec.name}[{i}].{missing[0]}",
                                value=rid,
                            )
                        repriced = [f for f in spec.row_type.priced_fields(merged_row(raws[rid], raw)) if f in raw]
                        if repriced and "price_as_of" not in raw:  # the bundled date would be taken for the user's price
                            raise CatalogError(
                                f"{user_path}: row {i} (id {rid!r}) gives its own {repriced[0]} but no price_as_of: "
                                "say when your price was published (YYYY-MM-DD), or price_as_of: null with price_as_of_note",
                                field=f"{spec.name}[{i}].price_as_of",
                                value=rid,
                            )
                        merged = merged_row(raws[rid], raw)
                        row = _validate(spec, merged, user_path, i)  # the values first, then where they come from
                        _check_override(spec, raws[rid], raw, user_path, i)
                        raw = merged
                    else:
                        row = _validate(spec, raw, user_path, i)
                    rows[row.id] = row
                    raws[row.id] = raw
                    user_ids.add(row.id)
        return Table(spec.row_type.kind, list(rows.values()))

    def check(self) -> dict[str, int]:
        """Load and validate every table; returns rows per table."""
        return {name: len(self.table(name)) for name in table_names()}


_TABLE_MODULES = (
    "accelerators",
    "models",
    "quant",
    "engines",
    "engine_flags",
    "efficiency",
    "prices",
    "policy",
    "workloads",
    "error_bands",
)


def _import_table_modules() -> None:
    import importlib

    for mod in _TABLE_MODULES:
        importlib.import_module(f"{__package__}.{mod}")


_default: Catalog | None = None


def default_catalog(catalog: Catalog | None = None) -> Catalog:
    """`catalog` if one is given, else the process-wide catalog (bundled + user), built once."""
    global _default
    if catalog is not None:
        return catalog
    if _default is None:
        _default = Catalog()
    return _default


def set_default_catalog(catalog: Catalog | None) -> None:
    global _default
    _default = catalog
