"""Scenarios, plans, bench runs and calibration profiles in one database.

SQLite in the user's data directory by default (``$XDG_DATA_HOME/deployscope/deployscope.db``,
else ``~/.local/share/deployscope/deployscope.db``); any SQLAlchemy URL, PostgreSQL included,
through ``DEPLOYSCOPE_DATABASE_URL`` or ``Store(url)``.

Durability: every save is one transaction. SQLite runs in WAL mode with ``synchronous=FULL``,
so a process killed at any instant (SIGKILL included) loses at most the save in flight, never a
committed one, and leaves a readable database. Writers take the write lock up front
(``BEGIN IMMEDIATE``) and wait up to ``busy_timeout`` for another writer, so the web app and the
CLI can share one file.
"""

from __future__ import annotations

import json
import math
import os
import time
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Iterator

from ..errors import DeployscopeError

DATABASE_URL_ENV = "DEPLOYSCOPE_DATABASE_URL"
BUSY_TIMEOUT_MS = 15_000
LOCK_RETRIES = 3  # further attempts to take the write lock after busy_timeout ran out
LOCK_BACKOFF_S = 0.05
MAX_NAME_LENGTH = 200


class StoreError(DeployscopeError):
    """The store cannot be opened or written."""


class StoreBusy(StoreError):
    """Another writer held the lock through every retry; the caller may try again later."""

    retry_after_s = 2


def _is_lock(exc: Exception) -> bool:
    msg = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in msg or "database is busy" in msg or "database table is locked" in msg


class NotFound(DeployscopeError):
    """No scenario, plan, bench run or calibration with that name or id."""


# ----------------------------------------------------------------------------- records
@dataclass(frozen=True)
class ScenarioRecord:
    id: int
    name: str
    yaml: str
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PlanRecord:
    id: int
    scenario_id: int | None
    scenario_name: str | None
    recommended: str | None
    deployscope_version: str | None
    created_at: str
    plan_json: str | None = field(default=None, repr=False)  # None in listings

    @property
    def plan(self) -> dict[str, Any]:
        """The stored plan as a JSON mapping."""
        if self.plan_json is None:
            raise ValueError("plan listings carry no plan body: use Store.get_plan(id)")
        return json.loads(self.plan_json)

    def to_plan(self) -> Any:
        """The stored plan as a typed ``deployscope.result.Plan``."""
        from ..result import Plan

        return Plan.model_validate(self.plan)

    def to_dict(self, with_plan: bool = False) -> dict[str, Any]:
        d = asdict(self)
        d.pop("plan_json")
        if with_plan and self.plan_json is not None:
            d["plan"] = self.plan
        return d


@dataclass(frozen=True)
class BenchRunRecord:
    id: int
    created_at: str
    label: str | None
    records_count: int
    summary: dict[str, Any]
    records: list[dict[str, Any]] | None = field(default=None, repr=False)  # None in listings

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.records is None:
            d.pop("records")
        return d


@dataclass(frozen=True)
class CalibrationRecord:
    id: int
    name: str
    profile: dict[str, Any]
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- helpers
def default_data_dir() -> Path:
    from ..paths import data_dir

    return data_dir()


def default_database_url() -> str:
    """``$DEPLOYSCOPE_DATABASE_URL``, else SQLite in the user's data directory."""
    env = os.environ.get(DATABASE_URL_ENV, "").strip()
    if env:
        return env
    return "sqlite:///" + str(default_data_dir() / "deployscope.db")


def normalize_url(url: str) -> str:
    """Accept SQLAlchemy URLs, plain ``postgresql://`` URLs and bare SQLite file paths."""
    url = url.strip()
    if "://" not in url:
        try:
            return "sqlite:///" + str(Path(url).expanduser().resolve())
        except (ValueError, OSError, RuntimeError) as exc:  # NUL bytes, unreadable home, symlink loops
            raise StoreError(f"not a usable database path: {exc}", field=DATABASE_URL_ENV, value=url) from None
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return "postgresql+psycopg://" + rest
    return url


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_clean(v) for v in obj]
    return obj


def _default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def dumps(obj: Any) -> str:
    """JSON text for the store: NaN/Infinity become null, pydantic models and arrays are dumped."""
    return json.dumps(_clean(json.loads(json.dumps(obj, default=_default))), allow_nan=False, separators=(",", ":"))


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise DeployscopeError(f"{what} name must be a non-empty string", field="name", value=name)
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise DeployscopeError(
            f"{what} name is {len(name)} characters long", field="name", value=name[:40] + "...", allowed=f"at most {MAX_NAME_LENGTH} characters"
        )
    return name


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        value = int(value.strip())
    if isinstance(value, int):
        # ids are 64-bit database integers: a bigger number names nothing (and would overflow the driver)
        return value if -(2**63) <= value < 2**63 else None
    return None


# ----------------------------------------------------------------------------- the store
class Store:
    """The persistent workspace.

    >>> store = Store()                      # default SQLite file, or $DEPLOYSCOPE_DATABASE_URL
    >>> sid = store.save_scenario("chat", yaml_text)
    >>> pid = store.save_plan(sid, plan)     # a Plan, a mapping or JSON text
    >>> store.get_plan(pid).to_plan().recommended
    """

    def __init__(self, url: str | os.PathLike[str] | None = None, *, echo: bool = False) -> None:
        try:
            import sqlalchemy as sa
        except ImportError:  # pragma: no cover - the store extra is missing
            raise StoreError(
                "the store needs SQLAlchemy: pip install '.[store]' in the Deployscope checkout", field="store"
            ) from None
        self._sa = sa
        raw = str(url) if url is not None else default_database_url()
        self.url = normalize_url(raw)
        try:
            parsed = sa.engine.make_url(self.url)
        except Exception:
            raise StoreError(
                "not a database URL", field=DATABASE_URL_ENV, value=raw, allowed="sqlite:///PATH, postgresql://USER@HOST/DB, or a file path"
            ) from None
        self.display_url = parsed.render_as_string(hide_password=True)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            db = parsed.database
            if db and db != ":memory:" and not db.startswith("file:"):
                try:
                    Path(db).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the store directory: {exc.strerror}", field=DATABASE_URL_ENV, value=self.display_url) from None
            kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine = sa.create_engine(self.url, **kwargs)
        except Exception as exc:
            raise StoreError(f"cannot open the store: {exc}", field=DATABASE_URL_ENV, value=self.display_url) from None
        if self.dialect == "sqlite":
            self._install_sqlite_hooks()
        self._migrate()

    # -- plumbing -----------------------------------------------------------------------
    def _install_sqlite_hooks(self) -> None:
        event = self._sa.event

        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # transactions are begun explicitly below
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn: Any) -> None:
            write = conn.get_execution_options().get("deployscope_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Any]:
        sa = self._sa
        conn = trans = None
        for attempt in range(LOCK_RETRIES + 1):
            try:
                conn = self.engine.connect()
                if write:
                    conn.execution_options(deployscope_write=True)
                trans = conn.begin()  # BEGIN IMMEDIATE for writers: waits busy_timeout for the lock
                break
            except sa.exc.OperationalError as exc:
                if conn is not None:
                    conn.close()
                if _is_lock(exc) and attempt < LOCK_RETRIES:
                    time.sleep(LOCK_BACKOFF_S * 2**attempt)  # another writer holds the lock: wait, then retry
                    continue
                raise self._error(exc) from None
        assert conn is not None and trans is not None
        try:
            with conn, trans:
                yield conn
        except DeployscopeError:
            raise
        except sa.exc.OperationalError as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> StoreError:
        msg = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        if _is_lock(exc):
            return StoreBusy(f"the store is busy ({msg}); try again shortly", field=DATABASE_URL_ENV, value=self.display_url)
        return StoreError(f"database error: {msg}", field=DATABASE_URL_ENV, value=self.display_url)

    def _migrate(self) -> None:
        from .migrations import apply_migrations

        with self._tx(write=True) as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({zlib.crc32(b'deployscope-migrations')})")
            self.applied_now = apply_migrations(conn)

    def applied_migrations(self) -> list[str]:
        from .migrations import MIGRATIONS_TABLE

        with self._tx() as conn:
            return list(conn.exec_driver_sql(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name").scalars())

    def integrity_check(self) -> str:
        """'ok' when the database is sound (SQLite ``PRAGMA integrity_check``; a query elsewhere)."""
        with self._tx() as conn:
            if self.dialect == "sqlite":
                return str(conn.exec_driver_sql("PRAGMA integrity_check").scalar())
            conn.exec_driver_sql("SELECT count(*) FROM scenarios").scalar()
            return "ok"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"

    # -- scenarios ----------------------------------------------------------------------
    def save_scenario(self, name: str, yaml_text: str) -> int:
        """Save (or replace, by name) a scenario's YAML text; returns its id."""
        from .models import scenarios as t

        sa = self._sa
        name = _check_name(name, "scenario")
        if not isinstance(yaml_text, str):
            raise DeployscopeError("scenario YAML must be text", field="yaml", value=type(yaml_text).__name__)
        now = _now()
        for attempt in range(2):
            try:
                with self._tx(write=True) as conn:
                    sid = conn.execute(sa.select(t.c.id).where(t.c.name == name)).scalar()
                    if sid is not None:
                        conn.execute(t.update().where(t.c.id == sid).values(yaml=yaml_text, updated_at=now))
                        return int(sid)
                    res = conn.execute(t.insert().values(name=name, yaml=yaml_text, created_at=now, updated_at=now))
                    return int(res.inserted_primary_key[0])
            except sa.exc.IntegrityError:  # a concurrent insert of the same name: update instead
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def list_scenarios(self) -> list[ScenarioRecord]:
        from .models import scenarios as t

        with self._tx() as conn:
            rows = conn.execute(self._sa.select(t).order_by(t.c.updated_at.desc(), t.c.id.desc())).mappings().all()
        return [ScenarioRecord(**dict(r)) for r in rows]

    def _scenario_row(self, conn: Any, name_or_id: Any) -> Any:
        from .models import scenarios as t

        sa = self._sa
        if isinstance(name_or_id, str):
            row = conn.execute(sa.select(t).where(t.c.name == name_or_id.strip())).mappings().first()
            if row is not None:
                return row
        sid = _as_id(name_or_id)
        if sid is not None:
            row = conn.execute(sa.select(t).where(t.c.id == sid)).mappings().first()
            if row is not None:
                return row
        names = list(conn.execute(sa.select(t.c.name).order_by(t.c.name).limit(20)).scalars())
        raise NotFound(
            f"no saved scenario named or numbered {str(name_or_id)!r}",
            field="scenario",
            value=name_or_id,
            allowed=names or "no scenarios saved yet",
        )

    def get_scenario(self, name_or_id: str | int) -> ScenarioRecord:
        with self._tx() as conn:
            return ScenarioRecord(**dict(self._scenario_row(conn, name_or_id)))

    def delete_scenario(self, name_or_id: str | int) -> int:
        """Delete a scenario and its plans; returns the number of plans deleted with it."""
        from .models import plans, scenarios

        with self._tx(write=True) as conn:
            row = self._scenario_row(conn, name_or_id)
            n = conn.execute(plans.delete().where(plans.c.scenario_id == row["id"])).rowcount
            conn.execute(scenarios.delete().where(scenarios.c.id == row["id"]))
            return int(n or 0)

    # -- plans --------------------------------------------------------------------------
    def save_plan(self, scenario_id: int | None, plan_json: Any) -> int:
        """Save a plan (a ``Plan``, a mapping, or JSON text) under a scenario id (or None)."""
        from .models import plans, scenarios

        sa = self._sa
        if isinstance(plan_json, (str, bytes)):
            try:
                data = json.loads(plan_json)
            except ValueError as exc:
                raise DeployscopeError(f"plan is not valid JSON: {exc}", field="plan") from None
        else:
            data = json.loads(dumps(plan_json))
        if not isinstance(data, dict):
            raise DeployscopeError("a plan must be a JSON object", field="plan", value=type(data).__name__)
        text = dumps(data)
        with self._tx(write=True) as conn:
            name = data.get("scenario_name")
            if scenario_id is not None:
                sid = _as_id(scenario_id)
                row = conn.execute(sa.select(scenarios.c.name).where(scenarios.c.id == sid)).first() if sid is not None else None
                if row is None:
                    raise NotFound(f"no saved scenario with id {scenario_id!r}", field="scenario_id", value=scenario_id)
                name = row[0]
                scenario_id = sid
            res = conn.execute(
                plans.insert().values(
                    scenario_id=scenario_id,
                    scenario_name=name if isinstance(name, str) else None,
                    recommended=data.get("recommended") if isinstance(data.get("recommended"), str) else None,
                    deployscope_version=str(data.get("deployscope_version") or "") or None,
                    created_at=_now(),
                    plan_json=text,
                )
            )
            return int(res.inserted_primary_key[0])

    def list_plans(self, scenario: str | int | None = None, limit: int = 200) -> list[PlanRecord]:
        """Plans, newest first; only those of one scenario (name or id) when given."""
        from .models import plans as t

        sa = self._sa
        cols = [t.c.id, t.c.scenario_id, t.c.scenario_name, t.c.recommended, t.c.deployscope_version, t.c.created_at]
        with self._tx() as conn:
            q = sa.select(*cols).order_by(t.c.id.desc()).limit(limit)
            if scenario is not None:
                q = q.where(t.c.scenario_id == self._scenario_row(conn, scenario)["id"])
            rows = conn.execute(q).mappings().all()
        return [PlanRecord(**dict(r)) for r in rows]

    def get_plan(self, plan_id: int | str) -> PlanRecord:
        from .models import plans as t

        pid = _as_id(plan_id)
        with self._tx() as conn:
            row = conn.execute(self._sa.select(t).where(t.c.id == pid)).mappings().first() if pid is not None else None
        if row is None:
            raise NotFound(f"no saved plan with id {plan_id!r}", field="plan_id", value=plan_id)
        return PlanRecord(**dict(row))

    def delete_plan(self, plan_id: int | str) -> None:
        from .models import plans as t

        pid = _as_id(plan_id)
        with self._tx(write=True) as conn:
            n = conn.execute(t.delete().where(t.c.id == pid)).rowcount if pid is not None else 0
        if not n:
            raise NotFound(f"no saved plan with id {plan_id!r}", field="plan_id", value=plan_id)

    # -- bench runs ---------------------------------------------------------------------
    def save_bench_run(self, summary: dict[str, Any], records: list[dict[str, Any]], label: str | None = None) -> int:
        """Save a bench run: its summary and every per-request record, in one transaction."""
        from .models import bench_records, bench_runs

        if not isinstance(summary, dict):
            raise DeployscopeError("a bench summary must be a mapping", field="summary", value=type(summary).__name__)
        records = list(records or [])
        if label is None:
            parts = [str(summary[k]) for k in ("label", "model", "url", "base_url") if summary.get(k)]
            label = " @ ".join(parts[:2]) if parts else None
        with self._tx(write=True) as conn:
            res = conn.execute(
                bench_runs.insert().values(
                    created_at=_now(), label=label[:300] if label else None, records_count=len(records), summary_json=dumps(summary)
                )
            )
            run_id = int(res.inserted_primary_key[0])
            if records:
                conn.execute(
                    bench_records.insert(),
                    [{"run_id": run_id, "seq": i, "record_json": dumps(r)} for i, r in enumerate(records)],
                )
            return run_id

    def list_bench_runs(self, limit: int = 200) -> list[BenchRunRecord]:
        from .models import bench_runs as t

        with self._tx() as conn:
            rows = conn.execute(self._sa.select(t).order_by(t.c.id.desc()).limit(limit)).mappings().all()
        return [
            BenchRunRecord(r["id"], r["created_at"], r["label"], r["records_count"], json.loads(r["summary_json"])) for r in rows
        ]

    def get_bench_run(self, run_id: int | str) -> BenchRunRecord:
        from .models import bench_records, bench_runs

        sa = self._sa
        rid = _as_id(run_id)
        with self._tx() as conn:
            r = conn.execute(sa.select(bench_runs).where(bench_runs.c.id == rid)).mappings().first() if rid is not None else None
            if r is None:
                raise NotFound(f"no saved bench run with id {run_id!r}", field="run_id", value=run_id)
            recs = conn.execute(
                sa.select(bench_records.c.record_json).where(bench_records.c.run_id == rid).order_by(bench_records.c.seq)
            ).scalars()
            records = [json.loads(x) for x in recs]
        return BenchRunRecord(r["id"], r["created_at"], r["label"], r["records_count"], json.loads(r["summary_json"]), records)

    # -- calibrations -------------------------------------------------------------------
    def save_calibration(self, name: str, profile: dict[str, Any]) -> int:
        """Save (or replace, by name) a calibration profile; returns its id."""
        from .models import calibrations as t

        sa = self._sa
        name = _check_name(name, "calibration")
        if not isinstance(profile, dict):
            raise DeployscopeError("a calibration profile must be a mapping", field="profile", value=type(profile).__name__)
        text, now = dumps(profile), _now()
        for attempt in range(2):
            try:
                with self._tx(write=True) as conn:
                    cid = conn.execute(sa.select(t.c.id).where(t.c.name == name)).scalar()
                    if cid is not None:
                        conn.execute(t.update().where(t.c.id == cid).values(profile_json=text, updated_at=now))
                        return int(cid)
                    res = conn.execute(t.insert().values(name=name, profile_json=text, created_at=now, updated_at=now))
                    return int(res.inserted_primary_key[0])
            except sa.exc.IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def get_calibration_record(self, name: str) -> CalibrationRecord:
        from .models import calibrations as t

        sa = self._sa
        with self._tx() as conn:
            r = conn.execute(sa.select(t).where(t.c.name == str(name).strip())).mappings().first()
            if r is None:
                names = list(conn.execute(sa.select(t.c.name).order_by(t.c.name).limit(20)).scalars())
                raise NotFound(
                    f"no calibration profile named {name!r}", field="calibration", value=name, allowed=names or "none saved yet"
                )
        return CalibrationRecord(r["id"], r["name"], json.loads(r["profile_json"]), r["created_at"], r["updated_at"])

    def get_calibration(self, name: str) -> dict[str, Any]:
        """The calibration profile saved under `name` (the mapping given to save_calibration)."""
        return self.get_calibration_record(name).profile

    def list_calibrations(self) -> list[CalibrationRecord]:
        from .models import calibrations as t

        with self._tx() as conn:
            rows = conn.execute(self._sa.select(t).order_by(t.c.name)).mappings().all()
        return [CalibrationRecord(r["id"], r["name"], json.loads(r["profile_json"]), r["created_at"], r["updated_at"]) for r in rows]

    def delete_calibration(self, name: str) -> None:
        from .models import calibrations as t

        with self._tx(write=True) as conn:
            n = conn.execute(t.delete().where(t.c.name == str(name).strip())).rowcount
        if not n:
            raise NotFound(f"no calibration profile named {name!r}", field="calibration", value=name)
