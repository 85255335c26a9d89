"""Install hints name what works from the clone (`pip install '.[extra]'`), never the package
name with an extra, which only resolves once Deployscope is published."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from deployscope.errors import DeployscopeError

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED_EXTRA = re.compile(r"pip install ['\"]?deployscope\[")


def test_no_doc_or_source_line_installs_the_published_package_with_an_extra():
    hits = []
    for base in ("docs", "src", "README.md"):
        paths = [ROOT / base] if (ROOT / base).is_file() else sorted((ROOT / base).rglob("*"))
        for p in paths:
            if p.suffix not in (".md", ".py", ".html", ".txt", ".yaml") or "static" in p.parts:
                continue
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if PUBLISHED_EXTRA.search(line):
                    hits.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert hits == []


def _readme_bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)


def _extra(name: str) -> list[str]:
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"][name]
    return [re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0].lower() for d in deps]


def test_readme_first_command_makes_a_venv_and_installs_what_the_tour_uses():
    first = _readme_bash_blocks()[0].splitlines()[0]
    assert first.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install '.[web]'"), first
    tour = next(b for b in _readme_bash_blocks() if "deployscope serve" in b)
    needs = {"fastapi": "deployscope serve", "uvicorn": "deployscope serve", "sqlalchemy": "--save", "weasyprint": ".pdf",
             "openpyxl": ".xlsx"}
    for package, use in needs.items():
        assert use in tour, use
        assert package in _extra("web"), f"the tour's {use} needs {package}, which '.[web]' does not install"


def test_readme_says_what_the_test_command_installs_system_wide():
    """The second command changes the machine; the README says so and names every Debian package
    scripts/test.sh installs."""
    assert _readme_bash_blocks()[0].splitlines()[1] == "bash scripts/test.sh"
    script = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    packages = re.search(r"APT_PACKAGES=\((.*?)\)", script, re.DOTALL).group(1).split()
    packages += re.findall(r'APT_PACKAGES\+=\("([^"]+)"\)', script)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    paragraph = readme[readme.index("The second command"):].split("\n\n", 1)[0]
    assert "changes the machine" in paragraph and "system-wide" in paragraph and "apt-get" in paragraph
    assert "meant for CI" in paragraph and "disposable" in paragraph
    named = {"build-essential": "C++ toolchain", "cmake": "CMake", "chromium": "Chromium", "postgresql": "PostgreSQL",
             "libpango-1.0-0": "Pango", "libpangoft2-1.0-0": "Pango", "libharfbuzz-subset0": "fonts", "fonts-dejavu-core": "fonts",
             "iproute2": "iproute2", "git": "`git`", "python3-venv": "python3-venv"}
    assert set(packages) <= set(named), set(packages) - set(named)
    for p in packages:
        assert named[p] in paragraph, p


def test_docs_web_installs_from_the_clone():
    text = (ROOT / "docs" / "web.md").read_text(encoding="utf-8")
    assert "pip install '.[web]'" in text


def test_store_without_sqlalchemy_says_install_from_the_clone(monkeypatch):
    from deployscope.store.store import Store

    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(DeployscopeError) as err:
        Store("sqlite:///:memory:")
    assert "pip install '.[store]'" in str(err.value)


def test_ray_missing_says_install_from_the_clone(monkeypatch):
    from deployscope import parallel

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(DeployscopeError) as err:
        parallel._import_ray()
    assert "pip install '.[ray]'" in str(err.value.allowed)


def test_gguf_missing_says_install_from_the_clone(monkeypatch, tmp_path):
    from deployscope.ingest import read_gguf

    monkeypatch.setitem(sys.modules, "gguf", None)
    with pytest.raises(DeployscopeError) as err:
        read_gguf(tmp_path / "m.gguf")
    assert "pip install '.[ingest]'" in str(err.value)
