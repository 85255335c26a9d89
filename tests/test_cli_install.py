"""The install a user does: the README's first command in a fresh clone, and the CLI in an
environment holding only the base install (no extras, no test tools), where a module that only an
extra brings in cannot hide. Both need pip to reach a package index; marked slow."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_first_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.DOTALL)
    assert block, "the README starts with a bash block"
    return block.group(1).splitlines()[0]


def _clean_env(home: Path) -> dict[str, str]:
    """No virtual environment, no PYTHONPATH, no user data of this machine."""
    keep = ("PATH", "LANG", "LC_ALL", "TERM", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
            "PIP_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_CONFIG_FILE", "PIP_DISABLE_PIP_VERSION_CHECK", "SSL_CERT_FILE",
            "PYENV_ROOT", "PYENV_VERSION")
    env = {k: v for k, v in os.environ.items() if k in keep}
    path = env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:  # the caller's environment must not leak in
        path = [p for p in path if not p.startswith(venv)]
    env.update(PATH=os.pathsep.join(path), HOME=str(home), XDG_DATA_HOME=str(home / "data"), COLUMNS="100")
    return env


def _clone(tmp_path: Path) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout")
    dest = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True, timeout=120)
    return dest


@pytest.mark.slow
def test_readme_first_command_works_in_a_fresh_clone(tmp_path):
    import deployscope

    line = _readme_first_command()
    assert "venv" in line and "deployscope plan examples/saas-chat.yaml" in line
    clone = _clone(tmp_path)
    (tmp_path / "home").mkdir()
    r = subprocess.run(["bash", "-c", line], cwd=clone, env=_clean_env(tmp_path / "home"),
                       capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr[-3000:]
    expected = deployscope.plan(ROOT / "examples" / "saas-chat.yaml")
    assert f"saas-chat-assistant: recommended {expected.recommended}" in r.stdout, r.stdout[-3000:]
    assert "Options (USD, 3 years" in r.stdout and "candidates evaluated" in r.stdout
    assert (clone / ".venv" / "bin" / "deployscope").exists()  # the environment the README made


@pytest.mark.slow
def test_cli_usage_errors_are_clean_in_the_base_install(tmp_path):
    """`pip install .` without extras: no click, no uvicorn. A mistyped option is a usage error."""
    clone = _clone(tmp_path)
    (tmp_path / "home").mkdir()
    env = _clean_env(tmp_path / "home")
    r = subprocess.run(["bash", str(ROOT / "scripts" / "venv.sh"), str(tmp_path / "venv"), str(clone)],
                       env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    py = r.stdout.strip().splitlines()[-1]
    assert subprocess.run([py, "-c", "import fastapi"], capture_output=True, env=env).returncode != 0  # base install only

    def ds(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([py, "-m", "deployscope", *args], cwd=clone, env=env, capture_output=True, text=True, timeout=120)

    for args, needle in (
        (("plan", "examples/saas-chat.yaml", "--bogus"), "No such option: --bogus"),
        (("plan", "examples/saas-chat.yaml", "--ray"), "requires an argument"),
        (("serve", "--port", "nope"), "Invalid value for '--port'"),
        (("no-such-command",), "No such command"),
    ):
        out = ds(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert needle in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
    v = ds("--version")
    assert v.returncode == 0 and v.stdout.startswith("deployscope ")
    ok = ds("plan", "examples/saas-chat.yaml", "--json")
    assert ok.returncode == 0 and '"recommended"' in ok.stdout
