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
