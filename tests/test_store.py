"""The store on SQLite: migrations, every record type, errors, durability under SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from deployscope.errors import DeployscopeError
from deployscope.store import NotFound, Store, default_database_url
from deployscope.store.migrations import migration_names
from web_helpers import sample_plan


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "ds.db"))
    yield s
    s.close()


def exercise_store(store: Store) -> None:
    """Every public method once; shared with the PostgreSQL test."""
    assert store.list_scenarios() == []
    sid = store.save_scenario("chat", "name: chat\n")
    assert isinstance(sid, int)
    assert store.save_scenario("chat", "name: chat\nhorizon_years: 5\n") == sid  # replaced by name
    assert store.get_scenario("chat").yaml.endswith("horizon_years: 5\n")
    assert store.get_scenario(sid).name == "chat"
    assert store.get_scenario(str(sid)).name == "chat"
    sid2 = store.save_scenario("42", "name: other\n")  # a name made of digits still resolves by name first
    assert store.get_scenario("42").id == sid2
    assert [s.name for s in store.list_scenarios()][0] == "42"

    plan = sample_plan()
    p1 = store.save_plan(sid, plan)
    p2 = store.save_plan(sid, plan.model_dump(mode="json"))
    p3 = store.save_plan(None, plan.to_json())
    rec = store.get_plan(p1)
    assert rec.scenario_name == "chat" and rec.recommended == plan.recommended
    assert rec.to_plan() == plan  # round trip is lossless
    assert [p.id for p in store.list_plans("chat")] == [p2, p1]
    assert {p.id for p in store.list_plans()} == {p1, p2, p3}
    assert store.list_plans()[0].plan_json is None  # listings carry no body

    summary = {"model": "tiny", "url": "http://127.0.0.1:1/v1", "completed": 3, "ttft_s": {"p50": 0.1, "p99": float("nan")}}
    records = [{"i": i, "ttft_s": 0.1 * i, "status": 200} for i in range(250)]
    rid = store.save_bench_run(summary, records)
    run = store.get_bench_run(rid)
    assert run.records == records and run.records_count == 250
    assert run.summary["ttft_s"]["p99"] is None  # NaN is stored as null
    assert run.label == "tiny @ http://127.0.0.1:1/v1"
    assert [r.id for r in store.list_bench_runs()] == [rid] and store.list_bench_runs()[0].records is None

    store.save_calibration("lab", {"engine_efficiency": 0.61})
    store.save_calibration("lab", {"engine_efficiency": 0.7})
    assert store.get_calibration("lab") == {"engine_efficiency": 0.7}
    assert [c.name for c in store.list_calibrations()] == ["lab"]

    assert store.delete_scenario("chat") == 2  # its plans go with it
    assert {p.id for p in store.list_plans()} == {p3}
    with pytest.raises(NotFound) as e:
        store.get_scenario("chat")
    assert e.value.field == "scenario" and "42" in str(e.value)  # names the saved ones
    with pytest.raises(NotFound):
        store.get_plan(p1)
    with pytest.raises(NotFound):
        store.get_bench_run(10_000)
    with pytest.raises(NotFound):
        store.get_calibration("nope")
    with pytest.raises(NotFound):
        store.save_plan(99_999, plan)
    with pytest.raises(DeployscopeError) as e:
        store.save_scenario("  ", "x")
    assert e.value.field == "name"
    assert store.integrity_check() == "ok"


def test_store_roundtrip_sqlite(store):
    exercise_store(store)


def test_migrations_are_recorded_once(tmp_path):
    path = tmp_path / "m.db"
    s1 = Store(str(path))
    assert s1.applied_now == migration_names()
    s1.close()
    s2 = Store(f"sqlite:///{path}")
    assert s2.applied_now == [] and s2.applied_migrations() == sorted(migration_names())
    s2.close()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"scenarios", "plans", "bench_runs", "bench_records", "calibrations", "_deployscope_migrations"} <= tables
    con.close()


def test_models_match_migrations(tmp_path):
    """The query-side table definitions describe exactly what the migrations created."""
    import sqlalchemy as sa

    from deployscope.store.models import metadata

    s = Store(str(tmp_path / "x.db"))
    insp = sa.inspect(s.engine)
    for name, table in metadata.tables.items():
        assert {c["name"] for c in insp.get_columns(name)} == {c.name for c in table.columns}, name
    s.close()


def test_default_location_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("DEPLOYSCOPE_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_database_url() == f"sqlite:///{tmp_path}/xdg/deployscope/deployscope.db"
    s = Store()
    s.save_scenario("a", "name: a\n")
    s.close()
    assert (tmp_path / "xdg" / "deployscope" / "deployscope.db").exists()
    monkeypatch.setenv("DEPLOYSCOPE_DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    assert Store().url.endswith("env.db")


def test_bad_url_is_a_clear_error(tmp_path):
    with pytest.raises(DeployscopeError) as e:
        Store("nosuchdriver://x/y")
    assert e.value.field == "DEPLOYSCOPE_DATABASE_URL"


def test_postgres_url_spelling_is_normalized():
    from deployscope.store.store import normalize_url

    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"


SAVER = textwrap.dedent(
    """
    import sys
    from deployscope.store import Store
    s = Store(sys.argv[1])
    body = "name: x\\n" + "# padding\\n" * 2000
    i = 0
    while True:
        sid = s.save_scenario(f"s{i}", body)
        pid = s.save_plan(sid, {"scenario_name": f"s{i}", "recommended": "r", "blob": "y" * 20000})
        print(sid, pid, flush=True)
        i += 1
    """
)


def test_sigkill_during_saves_loses_nothing_committed(tmp_path):
    """A process killed with SIGKILL mid-save: every save it reported is there, the file is sound."""
    db = str(tmp_path / "kill.db")
    Store(db).close()
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, db], stdout=subprocess.PIPE, text=True)
        committed = []
        deadline = time.monotonic() + 60
        while len(committed) < 40 + 20 * round_ and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed.append(tuple(int(x) for x in line.split()))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert len(committed) >= 40, "the saver did not get going"
        s = Store(db)
        assert s.integrity_check() == "ok"
        ids = {r.id for r in s.list_scenarios()}
        plans = {p.id for p in s.list_plans(limit=100_000)}
        for sid, pid in committed:
            assert sid in ids and pid in plans
            assert json.loads(s.get_plan(pid).plan_json)["blob"] == "y" * 20000
        s.close()
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
