"""The one safe loader for untrusted text (deployscope.safe_yaml) and every file path that uses it:
alias bombs, deep nesting, non-UTF-8 bytes and non-finite numbers are clear errors, fast."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from deployscope import safe_yaml
from deployscope.errors import CatalogError, DeployscopeError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def billion_laughs(levels: int = 9) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for name in "bcdefghijk"[:levels]:
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = name
    return text


@pytest.mark.parametrize("levels", [5, 9])
def test_alias_bomb_is_refused_fast(levels: int) -> None:
    start = time.perf_counter()
    with pytest.raises(safe_yaml.UnsafeInput) as exc:
        safe_yaml.load(billion_laughs(levels), source="scenario form")
    assert time.perf_counter() - start < 0.5
    msg = str(exc.value)
    assert "scenario form" in msg and "100,000" in msg and "alias" in msg


def test_ordinary_aliases_still_work() -> None:
    data = safe_yaml.load("base: &b {mean: 100}\ninput_tokens: *b\noutput_tokens: *b\n", source="s.yaml")
    assert data["input_tokens"] == {"mean": 100}


def test_self_referencing_alias_is_refused() -> None:
    with pytest.raises(safe_yaml.UnsafeInput, match="refers to a node that contains it"):
        safe_yaml.load("a: &a [1, *a]", source="s.yaml")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_600_nested_brackets_are_refused_without_recursion_error(fmt: str) -> None:
    with pytest.raises(safe_yaml.UnsafeInput) as exc:
        safe_yaml.load("[" * 600 + "]" * 600, source="request body", format=fmt)  # type: ignore[arg-type]
    assert "request body" in str(exc.value) and "64" in str(exc.value)


def test_depth_within_limit_loads() -> None:
    assert safe_yaml.load("[" * 64 + "]" * 64, source="x") == eval("[" * 63 + "[]" + "]" * 63)


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN", "1e400"])
def test_json_non_finite_numbers_are_refused(literal: str) -> None:
    with pytest.raises(safe_yaml.UnsafeInput) as exc:
        safe_yaml.load(f'{{"x": {{"y": {literal}}}}}', source="body.json", format="json")
    assert "body.json" in str(exc.value)


@pytest.mark.parametrize("literal", [".inf", "-.inf", ".nan", "1.0e+999"])
def test_yaml_non_finite_floats_name_the_key_path(literal: str) -> None:
    with pytest.raises(safe_yaml.UnsafeInput) as exc:
        safe_yaml.load(f"workloads:\n  - requests_per_day: {literal}\n", source="s.yaml")
    assert exc.value.field == "workloads[0].requests_per_day"
    assert "finite" in str(exc.value)


def test_lone_surrogate_is_refused_with_its_path() -> None:
    with pytest.raises(safe_yaml.UnsafeInput) as exc:
        safe_yaml.load('{"name": "a\\ud800b"}', source="body", format="json")
    assert exc.value.field == "name"


def test_latin1_bytes_name_the_encoding_guess() -> None:
    with pytest.raises(safe_yaml.UnsafeInput) as exc:
        safe_yaml.load("name: café\n".encode("latin-1"), source="s.yaml")
    msg = str(exc.value)
    assert "s.yaml" in msg and "not UTF-8" in msg and "Latin-1" in msg and "line 1" in msg


def test_utf16_with_bom_is_decoded_and_without_bom_refused() -> None:
    assert safe_yaml.load("name: café\n".encode("utf-16"), source="s.yaml") == {"name": "café"}
    with pytest.raises(safe_yaml.UnsafeInput, match="UTF-16"):
        safe_yaml.load("name: cafe\n".encode("utf-16-le"), source="s.yaml")


def test_utf8_bom_is_dropped() -> None:
    assert safe_yaml.load(b"\xef\xbb\xbfname: x\n", source="s.yaml") == {"name": "x"}


def test_size_limit() -> None:
    with pytest.raises(safe_yaml.UnsafeInput, match="too large"):
        safe_yaml.load("a: 1\n" * 100, source="s.yaml", max_bytes=100)


def test_load_file_reraises_as_the_callers_error(tmp_path: Path) -> None:
    p = tmp_path / "accelerators.yaml"
    p.write_bytes("- id: x\n  name: é\n".encode("latin-1"))
    with pytest.raises(CatalogError, match="Latin-1"):
        safe_yaml.load_file(p, error=CatalogError)


# --------------------------------------------------------------------- every file the CLI reads
def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "deployscope", *args], capture_output=True, text=True, env=full_env, timeout=120)


def _assert_clean_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "Traceback" not in out, out
    for n in needles:
        assert n in out, out


def _latin1_scenario(tmp_path: Path) -> Path:
    text = (EXAMPLES / "saas-chat.yaml").read_text(encoding="utf-8").replace("name: ", "name: café-", 1)
    p = tmp_path / "latin1.yaml"
    p.write_bytes(text.encode("latin-1"))
    return p


def test_cli_latin1_scenario_is_a_clear_error(tmp_path: Path) -> None:
    p = _latin1_scenario(tmp_path)
    _assert_clean_error(_cli("scenario", "validate", str(p)), "latin1.yaml", "Latin-1")
    _assert_clean_error(_cli("plan", str(p)), "latin1.yaml", "Latin-1")


def test_cli_utf16_scenario_with_bom_plans(tmp_path: Path) -> None:
    p = tmp_path / "u16.yaml"
    p.write_bytes((EXAMPLES / "saas-chat.yaml").read_text(encoding="utf-8").encode("utf-16"))
    r = _cli("scenario", "validate", str(p))
    assert r.returncode == 0, r.stdout + r.stderr


def test_cli_alias_bomb_scenario(tmp_path: Path) -> None:
    p = tmp_path / "bomb.yaml"
    p.write_text(billion_laughs(9), encoding="utf-8")
    _assert_clean_error(_cli("scenario", "validate", str(p)), "bomb.yaml", "alias")


def test_cli_latin1_user_catalog(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    cat.mkdir()
    (cat / "accelerators.yaml").write_bytes("- id: my-gpu\n  name: Gérard\n".encode("latin-1"))
    _assert_clean_error(_cli("catalog", "check", "--json", env={"DEPLOYSCOPE_CATALOG": str(cat)}), "accelerators.yaml", "Latin-1")


def test_cli_utf16_calibration_profile(tmp_path: Path) -> None:
    prof = tmp_path / "prof.yaml"
    prof.write_bytes("name: prof\nfactors: []\n".encode("utf-16-le"))
    from deployscope.physics.calibration import load_calibration

    with pytest.raises(DeployscopeError) as exc:
        load_calibration(str(prof))
    assert "UTF-16" in str(exc.value) and "prof.yaml" in str(exc.value)


def test_price_import_latin1_csv_is_a_catalog_error(tmp_path: Path) -> None:
    from datetime import date

    from deployscope.catalog import default_catalog
    from deployscope.catalog.price_import import parse_skypilot

    p = tmp_path / "vms.csv"
    p.write_bytes("InstanceType,AcceleratorName,AcceleratorCount,Price,Region\nx,é,1,1,us\n".encode("latin-1"))
    with pytest.raises(CatalogError, match="Latin-1"):
        parse_skypilot(p, default_catalog(), "aws", date(2025, 1, 1))


def test_price_import_json_infinity_is_a_catalog_error(tmp_path: Path) -> None:
    from datetime import date

    from deployscope.catalog import default_catalog
    from deployscope.catalog.price_import import parse_litellm

    p = tmp_path / "prices.json"
    p.write_text('{"m": {"input_cost_per_token": Infinity}}', encoding="utf-8")
    with pytest.raises(CatalogError, match="Infinity"):
        parse_litellm(p, default_catalog(), date(2025, 1, 1))


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ('{"a":' * 100_000 + "1" + "}" * 100_000, "nests deeper than 64"),
        ('{"hidden_size": Infinity, "num_hidden_layers": 32}', "Infinity"),
    ],
    ids=["100000-deep", "infinity"],
)
def test_model_add_hostile_config_json(tmp_path: Path, body: str, text: str) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text(body, encoding="utf-8")
    r = _cli("--catalog", str(tmp_path / "cat"), "model", "add", str(d))
    _assert_clean_error(r, "config.json", text)


def test_scenarios_add_and_plan_save_read_utf16(tmp_path: Path) -> None:
    p = tmp_path / "u16.yaml"
    p.write_bytes((EXAMPLES / "saas-chat.yaml").read_text(encoding="utf-8").encode("utf-16"))
    env = {"DEPLOYSCOPE_DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    r = _cli("scenarios", "add", str(p), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = _cli("plan", str(p), "--save", env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
