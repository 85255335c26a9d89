"""The store on a real PostgreSQL server that this test starts (Debian's `postgresql` package).

`initdb` refuses to run as root, so as root the cluster belongs to the unprivileged `nobody`
user; the server listens on a free port on 127.0.0.1 with its socket in a temporary directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from deployscope.store import Store
from test_store import exercise_store
from web_helpers import free_port


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if found:
        return found[-1]
    exe = shutil.which(name)
    if exe:
        return exe
    raise RuntimeError(f"{name} not found: install the postgresql package (scripts/test.sh does)")


@pytest.fixture(scope="module")
def pg_url():
    base = tempfile.mkdtemp(prefix="deployscope-pg-")
    os.chmod(base, 0o755)
    data, sock, log = os.path.join(base, "data"), os.path.join(base, "sock"), os.path.join(base, "pg.log")
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        os.makedirs(sock)
        os.makedirs(data)
        shutil.chown(base, "nobody")
        shutil.chown(data, "nobody")
        shutil.chown(sock, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    subprocess.run(as_user + [_pg_bin("initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-instructions"],
                   check=True, capture_output=True, env=env, cwd=base)
    os.makedirs(sock, exist_ok=True)
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=on"
    subprocess.run(as_user + [_pg_bin("pg_ctl"), "-D", data, "-l", log, "-o", opts, "-w", "-t", "60", "start"],
                   check=True, capture_output=True, env=env, cwd=base)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_user + [_pg_bin("pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True, env=env, cwd=base)
        shutil.rmtree(base, ignore_errors=True)


def test_store_roundtrip_postgres(pg_url, monkeypatch):
    monkeypatch.setenv("DEPLOYSCOPE_DATABASE_URL", pg_url)
    store = Store()  # the URL comes from the environment, as in production
    assert store.dialect == "postgresql"
    assert store.applied_migrations() == ["m001_initial"]
    exercise_store(store)
    store.close()
    again = Store(pg_url)
    assert again.applied_now == []  # migrations recorded once
    assert [s.name for s in again.list_scenarios()] == ["42"]
    # clean up for other tests in this module
    for s in again.list_scenarios():
        again.delete_scenario(s.id)
    again.close()


def test_concurrent_starts_apply_migrations_once(pg_url):
    """Two processes opening a fresh database at once: the advisory lock lets one migrate."""
    import sqlalchemy as sa

    url = pg_url.rsplit("/", 1)[0] + "/race"
    eng = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql("DROP DATABASE IF EXISTS race")
        c.exec_driver_sql("CREATE DATABASE race")
    eng.dispose()
    code = "import sys; from deployscope.store import Store; s = Store(sys.argv[1]); print(len(s.applied_now))"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sorted(outs) == ["0", "0", "0", "1"]

