"""`deployscope catalog ...` through the real entry point: exit codes, JSON shape, user catalogs."""

from __future__ import annotations

import json

import pytest

from deployscope.catalog import set_default_catalog
from deployscope.catalog.loader import USER_CATALOG_ENV
from deployscope.cli import main


@pytest.fixture(autouse=True)
def fresh_catalog(monkeypatch, tmp_path_factory):
    # --catalog writes the environment variable and the process-wide catalog; undo both. An empty
    # XDG data dir keeps a user catalog on this machine out of the results.
    monkeypatch.delenv(USER_CATALOG_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg")))
    set_default_catalog(None)
    yield
    set_default_catalog(None)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *args: str):
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def user_catalog(tmp_path, monkeypatch, text: str):
    (tmp_path / "accelerators.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv(USER_CATALOG_ENV, str(tmp_path))  # restored after the test
    return str(tmp_path)


def test_gpus_json_has_rows_and_si_fields(capsys):
    rows = run_json(capsys, "catalog", "gpus")
    by_id = {r["id"]: r for r in rows}
    h100 = by_id["h100-sxm-80gb"]
    assert h100["memory_bytes"] == 80 * 2**30
    assert h100["memory_bandwidth_bytes_per_s"] == pytest.approx(3.35e12)
    assert h100["peak_flops_per_s"]["bf16"] == pytest.approx(989.4e12)
    assert h100["link_bytes_per_s"] == pytest.approx(450e9)
    assert h100["source"].startswith("NVIDIA H100 datasheet")
    assert h100["from_user_catalog"] is False
    assert {"mi300x", "gaudi3", "epyc-9654", "jetson-agx-orin-64gb"} <= set(by_id)


def test_gpus_filters(capsys):
    amd = run_json(capsys, "catalog", "gpus", "--vendor", "amd")
    assert amd and {r["vendor"] for r in amd} == {"amd"}
    cpus = run_json(capsys, "catalog", "gpus", "--type", "cpu")
    assert {r["id"] for r in cpus} == {"epyc-9654", "xeon-8480plus", "epyc-zen4-2vcpu"}


def test_gpus_unknown_vendor_is_exit_2(capsys):
    code, out, err = run(capsys, "catalog", "gpus", "--vendor", "acme")
    assert code == 2 and "vendor" in err and "nvidia" in err and "Traceback" not in err


def test_gpus_table_renders(capsys):
    code, out, err = run(capsys, "catalog", "gpus")
    assert code == 0, err
    assert "h100-sxm-80gb" in out and "bf16" in out and "989" in out


@pytest.mark.parametrize("group", ["models", "quant", "engines"])
def test_other_tables_render_whatever_rows_exist(capsys, group):
    rows = run_json(capsys, "catalog", group)
    assert isinstance(rows, list)
    for r in rows:
        assert r["id"] and r["source"] and r["as_of"]
    code, out, err = run(capsys, "catalog", group)
    assert code == 0, err
    assert group in out


def test_show_prints_one_row_with_source(capsys):
    payload = run_json(capsys, "catalog", "show", "GH200 (480GB superchip, 96GB HBM3)")
    assert payload["table"] == "accelerators"
    assert payload["row"]["id"] == "gh200-96gb"
    assert "grace-hopper-superchip" in payload["row"]["source"]
    code, out, err = run(capsys, "catalog", "show", "h100-sxm-80gb")
    assert code == 0 and "source" in out and "989.4" in out


def test_show_restricted_to_a_table(capsys):
    payload = run_json(capsys, "catalog", "show", "A100", "--table", "accelerators")
    assert payload["row"]["id"] == "a100-sxm4-80gb"


def test_show_unknown_id_suggests(capsys):
    code, out, err = run(capsys, "catalog", "show", "H100-SXM-96GB")
    assert code == 2
    assert "unknown catalog row 'H100-SXM-96GB'" in err and "h100-sxm-80gb" in err
    assert "Traceback" not in err


def test_unknown_table_is_exit_2_with_allowed_list(capsys):
    code, out, err = run(capsys, "catalog", "show", "a100", "--table", "gpuz")
    assert code == 2 and "unknown catalog table 'gpuz'" in err and "accelerators" in err
    code, out, err = run(capsys, "catalog", "list", "modelz")
    assert code == 2 and "did you mean: models" in err


def test_list_any_table(capsys):
    rows = run_json(capsys, "catalog", "list", "accelerators")
    assert len(rows) >= 35
    assert "accelerators" in run_json(capsys, "catalog", "tables")


def test_check_counts_rows_per_table(capsys):
    report = run_json(capsys, "catalog", "check")
    assert report["ok"] is True and report["user_dir"] is None
    assert report["tables"]["accelerators"]["rows"] >= 35
    assert all(t["ok"] for t in report["tables"].values())
    code, out, err = run(capsys, "catalog", "check")
    assert code == 0 and "accelerators" in out


def test_user_catalog_price_override_shows_up(capsys, tmp_path, monkeypatch):
    d = user_catalog(
        tmp_path,
        monkeypatch,
        "- id: h100-sxm-80gb\n  price_usd: 21000\n  price_basis: card\n  price_source: our quote Q-7\n"
        "  price_as_of: 2026-09-30\n  source: our quote Q-7\n  as_of: 2026-09-30\n",
    )
    rows = run_json(capsys, "--catalog", d, "catalog", "gpus", "--user")
    assert [r["id"] for r in rows] == ["h100-sxm-80gb"]
    assert rows[0]["price_usd"] == 21000 and rows[0]["from_user_catalog"] is True
    report = run_json(capsys, "--catalog", d, "catalog", "check")
    assert report["user_dir"] == d and report["tables"]["accelerators"]["user_rows"] == 1


def test_check_reports_a_bad_user_row_and_exits_2(capsys, tmp_path, monkeypatch):
    d = user_catalog(tmp_path, monkeypatch, "- id: h100-sxm-80gb\n  source: x-sheet\n  as_of: 2026-01-01\n  memory_gib: -1\n")
    code, out, err = run(capsys, "--catalog", d, "catalog", "check", "--json")
    assert code == 2
    report = json.loads(out)
    assert report["ok"] is False and report["tables"]["accelerators"]["ok"] is False
    assert "memory_gib" in report["tables"]["accelerators"]["error"]
    assert report["tables"]["models"]["ok"] is True  # other tables still checked
    assert "accelerators" in err and "Traceback" not in err


def test_malformed_user_yaml_is_exit_2(capsys, tmp_path, monkeypatch):
    d = user_catalog(tmp_path, monkeypatch, "- id: [unclosed\n")
    code, out, err = run(capsys, "--catalog", d, "catalog", "gpus")
    assert code == 2 and "malformed YAML" in err and "accelerators.yaml" in err


def test_missing_user_dir_is_exit_2(capsys, tmp_path, monkeypatch):
    missing = tmp_path / "nope"
    monkeypatch.setenv(USER_CATALOG_ENV, str(missing))
    code, out, err = run(capsys, "--catalog", str(missing), "catalog", "gpus")
    assert code == 2 and "does not exist" in err


def test_perf_reads_an_engine_setting_from_a_user_catalog(capsys, tmp_path, monkeypatch):
    """SGLang launched with --scheduler-recv-interval 10, stated in the user's engine row: `perf` at a
    request rate waits for the intake (TTFT up by about 4.5 decode steps), TPOT unchanged."""
    base = run_json(capsys, "perf", "Llama-3.1-8B", "--gpu", "H100", "--engine", "sglang", "--rate", "5",
                    "--input-len", "512", "--output-len", "256")
    (tmp_path / "engines.yaml").write_text(
        "- id: sglang\n  source: our launch script\n  as_of: 2026-12-01\n  perf:\n    admission_interval_steps: 10\n",
        encoding="utf-8")
    monkeypatch.setenv(USER_CATALOG_ENV, str(tmp_path))
    set_default_catalog(None)
    gated = run_json(capsys, "perf", "Llama-3.1-8B", "--gpu", "H100", "--engine", "sglang", "--rate", "5",
                     "--input-len", "512", "--output-len", "256")
    tpot = base["tpot_s"]["mean"]
    assert gated["tpot_s"]["mean"] == pytest.approx(tpot)
    assert gated["ttft_s"]["mean"] - base["ttft_s"]["mean"] == pytest.approx(4.5 * tpot, rel=0.05)
