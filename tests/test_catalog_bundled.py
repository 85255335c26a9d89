"""Bundled catalog tables are parsed without the untrusted-input scan (they are package data);
these tests hold every bundled file to the safe loader's limits instead, and check that both
readings give the same rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deployscope import safe_yaml
from deployscope.catalog.loader import BUNDLED_DIR, Catalog, _read_bundled
from deployscope.errors import CatalogError

BUNDLED = sorted(BUNDLED_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_file_passes_the_safe_loader_and_reads_the_same(path: Path) -> None:
    assert _read_bundled(path) == safe_yaml.load_file(path)


def test_every_bundled_table_is_checked() -> None:
    assert len(BUNDLED) >= 15


def test_a_copied_catalog_dir_still_goes_through_the_safe_loader(tmp_path: Path) -> None:
    # only the package's own data skips the scan: the same files elsewhere are untrusted
    for p in BUNDLED:
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "fx_rates.yaml").write_text("- &a [1, *a]\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="fx_rates.yaml"):
        Catalog(None, bundled_dir=tmp_path).fx_rates  # noqa: B018


def test_an_unparsable_bundled_file_gets_the_safe_loaders_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("- id: a\n  source: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"x\.yaml line \d+: malformed YAML"):
        _read_bundled(bad)
