"""Append-only, named schema migrations.

Each migration is a function decorated with ``@migration``; its name is recorded in the
``_deployscope_migrations`` table once applied, inside the same transaction as its DDL (SQLite
and PostgreSQL both run DDL transactionally), so a migration is applied entirely or not at all.
Never edit or reorder a released migration: add a new one at the end. Each migration builds its
own table definitions (a private ``MetaData``) rather than importing the current models, so it
keeps producing the same schema whatever the models later become.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Callable

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    text,
)

MIGRATIONS_TABLE = "_deployscope_migrations"

Migration = Callable[[Connection], None]
_MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration; its function name is its permanent id."""
    if any(name == fn.__name__ for name, _ in _MIGRATIONS):
        raise RuntimeError(f"migration {fn.__name__} registered twice")
    _MIGRATIONS.append((fn.__name__, fn))
    return fn


def migration_names() -> list[str]:
    return [name for name, _ in _MIGRATIONS]


def _migrations_table(md: MetaData) -> Table:
    return Table(
        MIGRATIONS_TABLE,
        md,
        Column("name", String(200), primary_key=True),
        Column("applied_at", String(40), nullable=False),
    )


def apply_migrations(conn: Connection) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied now.

    The caller holds a write transaction (and, on PostgreSQL, an advisory lock), so two
    processes starting at once cannot apply the same migration twice.
    """
    md = MetaData()
    table = _migrations_table(md)
    md.create_all(conn, checkfirst=True)
    done = set(conn.execute(select(table.c.name)).scalars())
    applied = []
    for name, fn in _MIGRATIONS:
        if name in done:
            continue
        fn(conn)
        conn.execute(
            table.insert().values(name=name, applied_at=datetime.now(UTC).isoformat(timespec="microseconds"))
        )
        applied.append(name)
    return applied


# ----------------------------------------------------------------------------- migrations
@migration
def m001_initial(conn: Connection) -> None:
    """Scenarios, plans, bench runs with their per-request records, calibration profiles."""
    md = MetaData()
    Table(
        "scenarios",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("name", String(200), nullable=False),
        Column("yaml", Text, nullable=False),
        Column("created_at", String(40), nullable=False),
        Column("updated_at", String(40), nullable=False),
        UniqueConstraint("name", name="uq_scenarios_name"),
    )
    Table(
        "plans",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("scenario_id", Integer, ForeignKey("scenarios.id", ondelete="CASCADE"), nullable=True),
        Column("scenario_name", String(200), nullable=True),
        Column("recommended", String(300), nullable=True),
        Column("deployscope_version", String(40), nullable=True),
        Column("created_at", String(40), nullable=False),
        Column("plan_json", Text, nullable=False),
        Index("ix_plans_scenario_id", "scenario_id"),
    )
    Table(
        "bench_runs",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("created_at", String(40), nullable=False),
        Column("label", String(300), nullable=True),
        Column("records_count", Integer, nullable=False),
        Column("summary_json", Text, nullable=False),
    )
    Table(
        "bench_records",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("run_id", Integer, ForeignKey("bench_runs.id", ondelete="CASCADE"), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("record_json", Text, nullable=False),
        Index("ix_bench_records_run_seq", "run_id", "seq"),
    )
    Table(
        "calibrations",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("name", String(200), nullable=False),
        Column("profile_json", Text, nullable=False),
        Column("created_at", String(40), nullable=False),
        Column("updated_at", String(40), nullable=False),
        UniqueConstraint("name", name="uq_calibrations_name"),
    )
    md.create_all(conn)


__all__ = ["MIGRATIONS_TABLE", "apply_migrations", "migration", "migration_names", "text"]
