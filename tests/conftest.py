"""Every test runs with a clean environment: no user catalog, store or data directory of the
machine it runs on leaks in, and nothing one test configures leaks into the next."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    from deployscope.catalog import loader

    data_home = tmp_path_factory.mktemp("xdg-data")
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    monkeypatch.delenv("DEPLOYSCOPE_CATALOG", raising=False)
    monkeypatch.delenv("DEPLOYSCOPE_DATA_DIR", raising=False)
    monkeypatch.setenv("DEPLOYSCOPE_DATABASE_URL", f"sqlite:///{data_home}/deployscope.db")
    saved = loader._default
    loader.set_default_catalog(None)
    yield
    loader.set_default_catalog(saved)


# Tests that build or start heavy things (llama.cpp, PostgreSQL, Chromium, Ray, a network namespace),
# soak the store with SIGKILLs or fuzz at length carry the `slow` marker, so `pytest -m "not slow"`
# runs the unit tests alone; a plain `pytest` still runs everything.
SLOW_FIXTURES = {
    "llama_bin": "builds llama.cpp's server",
    "llama": "starts llama.cpp's server",
    "ray_head": "starts a Ray head",
}
SLOW_MODULES = {
    "test_browser.py": "starts the app and Chromium",
    "test_store_postgres.py": "starts PostgreSQL",
    "test_fuzz_api.py": "long fuzz run of the HTTP API",
    "test_fuzz_cli.py": "long fuzz run of the CLI",
    "test_crash.py": "kills the CLI, the web app and bench runs mid-save, many rounds",
    "test_hostile_base_install.py": "installs a base-only virtual environment and fuzzes the CLI in it",
    "test_no_egress.py": "runs the CLI, reports and web app in subprocesses with every outbound connect trapped",
    "test_cli_install.py": "clones the repository and installs it into fresh virtual environments",
}
SLOW_TESTS = {
    "test_plan_and_web_in_loopback_only_network_namespace": "starts the app in a fresh network namespace",
    "test_health_answers_within_a_second_while_bombs_and_huge_bodies_are_parsed": "loads a running server with bombs",
}


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    for item in items:
        why = (SLOW_MODULES.get(item.path.name) or SLOW_TESTS.get(item.originalname)
               or next((w for f, w in SLOW_FIXTURES.items() if f in item.fixturenames), None))
        if why:
            item.add_marker(pytest.mark.slow(reason=why))
