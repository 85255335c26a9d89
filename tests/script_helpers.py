"""Loading the scripts under test (scripts/ is not a package), and the checks both validation-row
importers (scripts/import_gpustack.py, scripts/import_inferencex.py) share."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from deployscope import validate

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
A = validate.VALIDATION_DIR / "A_llm_inference.csv"


def load_script(name: str) -> ModuleType:
    """scripts/<name>.py as a module, registered under its name (dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def shipped_csv() -> str:
    """The shipped A_llm_inference.csv as text, line endings as they are."""
    with open(A, encoding="utf-8", newline="") as f:
        return f.read()


def check_writes_the_csv_whole_or_not_at_all(importer: ModuleType, source: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The refreshed file is the shipped one; a refresh that fails leaves the file byte for byte as it
    was (the new text is built before the file is touched); a missing --csv is an error, not a trace."""
    csv_copy = tmp_path / "A.csv"
    csv_copy.write_bytes(A.read_bytes())
    assert importer.main([str(source), "--csv", str(csv_copy)]) == 0
    assert csv_copy.read_bytes() == A.read_bytes()

    def broken(text: str, source: object) -> str:
        raise ValueError("the source changed shape")

    monkeypatch.setattr(importer, "refresh", broken)
    with pytest.raises(ValueError):
        importer.main([str(source), "--csv", str(csv_copy)])
    assert csv_copy.read_bytes() == A.read_bytes()
    monkeypatch.undo()
    assert importer.main([str(source), "--csv", str(tmp_path / "missing.csv")]) == 2
    assert "error: --csv" in capsys.readouterr().err and not (tmp_path / "missing.csv").exists()
