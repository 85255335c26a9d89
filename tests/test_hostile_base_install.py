"""The CLI fuzzer runs against a virtual environment holding only the base install (`pip install .`),
so a module that only an extra or the test tools bring in cannot hide a crash (every mistyped
option once raised ModuleNotFoundError: click after the README's own install).

This is the one test that needs the package index: the first run creates the environment in a
cache directory (later runs reuse it). Where the index cannot be reached it is skipped, saying so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_cli_fuzzer_against_the_base_install() -> None:
    env = {**os.environ, "PYTHON": sys.executable, "DEPLOYSCOPE_FUZZ_EXAMPLES": os.environ.get("DEPLOYSCOPE_BASE_FUZZ_EXAMPLES", "5")}
    r = subprocess.run(["bash", str(ROOT / "scripts" / "fuzz_base_install.sh"), "-x"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=3600)
    tail = (r.stdout + r.stderr)[-4000:]
    if r.returncode == 3:
        pytest.skip(f"the base environment could not be installed (package index unreachable?):\n{tail}")
    assert r.returncode == 0, tail
    assert "passed" in r.stdout, tail
