"""User catalog numbers are physically bounded (tflops 0, NaN or negative once crashed or made an
H100 2.7x faster), and rows from a user catalog are marked as the user's in every plan and report."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import yaml

from deployscope.catalog import Catalog
from deployscope.catalog.loader import BUNDLED_DIR
from deployscope.cli import main
from deployscope.errors import CatalogError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _h100() -> dict:
    rows = yaml.safe_load((BUNDLED_DIR / "accelerators.yaml").read_text(encoding="utf-8"))
    return next(r for r in rows if r["id"] == "h100-sxm-80gb")


def _user_dir(tmp_path: Path, table: str, rows: list[dict] | str) -> Path:
    d = tmp_path / "cat"
    d.mkdir(exist_ok=True)
    text = rows if isinstance(rows, str) else yaml.safe_dump(rows)
    (d / f"{table}.yaml").write_text(text, encoding="utf-8")
    return d


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        ("tflops", "{bf16: 0}", "greater than 0"),
        ("tflops", "{bf16: -989}", "greater than 0"),
        ("tflops", "{bf16: .nan}", "finite"),
        ("tflops", "{bf16: 1.0e+308}", "less than or equal"),
        ("tflops", '{bf16: "1e400"}', "finite"),
        ("memory_bandwidth_gb_s", "0", "greater than 0"),
        ("memory_bandwidth_gb_s", ".inf", "finite"),
        ("tdp_w", "-700", "greater than 0"),
        ("price_usd", "1.0e+300", "less than or equal"),
    ],
)
def test_user_accelerator_numbers_are_bounded(tmp_path: Path, field: str, raw: str, message: str) -> None:
    row = {"id": "h100-sxm-80gb", "source": "my test bench", "as_of": "2025-06-01", "price_as_of": "2025-06-01", field: "__V__"}
    text = yaml.safe_dump([row]).replace("__V__", raw).replace("'", "")
    d = _user_dir(tmp_path, "accelerators", text)
    with pytest.raises(CatalogError) as exc:
        Catalog(d).accelerators  # noqa: B018 - loading the table validates it
    msg = str(exc.value)
    assert "accelerators.yaml" in msg and field in msg and message in msg, msg


@pytest.mark.parametrize("raw", ["0", "-989", ".nan"])
def test_cli_memory_with_a_broken_user_gpu_is_exit_2(tmp_path: Path, raw: str) -> None:
    text = f"- id: h100-sxm-80gb\n  source: my bench\n  as_of: 2025-06-01\n  tflops: {{bf16: {raw}}}\n"
    d = _user_dir(tmp_path, "accelerators", text)
    rc, _out, err = _run("--catalog", str(d), "perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-len", "512", "--output-len", "128")
    assert rc == 2, err
    assert "Traceback" not in err and "tflops" in err


def test_user_model_with_zero_layers_is_refused(tmp_path: Path) -> None:
    rows = yaml.safe_load((BUNDLED_DIR / "models.yaml").read_text(encoding="utf-8"))
    m = next(r for r in rows if r.get("transformer"))
    m = {**m, "source": "mine", "as_of": "2025-06-01", "transformer": {**m["transformer"], "num_layers": 0}}
    d = _user_dir(tmp_path, "models", [m])
    with pytest.raises(CatalogError, match="num_layers"):
        Catalog(d).models  # noqa: B018


def test_user_rows_are_marked_in_the_plan_and_its_reports(tmp_path: Path) -> None:
    row = {**_h100(), "price_usd": 19999, "price_source": "our quote", "price_as_of": "2025-06-01",
           "source": "our datasheet copy", "as_of": "2025-06-01"}
    d = _user_dir(tmp_path, "accelerators", [row])
    scenario = yaml.safe_load((EXAMPLES / "saas-chat.yaml").read_text(encoding="utf-8"))
    scenario["candidates"]["gpus"] = ["h100-sxm-80gb"]
    scenario["candidates"]["placements"] = ["on_prem"]
    s = tmp_path / "s.yaml"
    s.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    md = tmp_path / "r.md"
    rc, out, err = _run("--catalog", str(d), "plan", str(s), "--json", "--report", str(md))
    assert rc == 0, err
    plan = json.loads(out)
    mine = [src for o in plan["options"] for src in o["sources"] if src["table"] == "accelerators" and src["id"] == "h100-sxm-80gb"]
    assert mine and all(src["user_supplied"] for src in mine)
    others = [src for o in plan["options"] for src in o["sources"] if src["table"] != "accelerators"]
    assert others and not any(src["user_supplied"] for src in others)
    assert any("h100-sxm-80gb" in w and "your catalog" in w for w in plan["warnings"]), plan["warnings"]
    assert "**(your catalog)**" in md.read_text(encoding="utf-8")


def test_html_report_marks_user_rows(tmp_path: Path) -> None:
    from deployscope.planner import plan
    from deployscope.report.html import render_html

    row = {**_h100(), "source": "our datasheet copy", "as_of": "2025-06-01"}
    d = _user_dir(tmp_path, "accelerators", [row])
    scenario = yaml.safe_load((EXAMPLES / "saas-chat.yaml").read_text(encoding="utf-8"))
    scenario["candidates"]["gpus"] = ["h100-sxm-80gb"]
    scenario["candidates"]["placements"] = ["on_prem"]
    html = render_html(plan(scenario, Catalog(d)))
    assert "(your catalog)" in html


def test_bundled_only_plan_marks_nothing() -> None:
    from deployscope.planner import plan

    p = plan(EXAMPLES / "saas-chat.yaml", Catalog(None, bundled_dir=BUNDLED_DIR))
    assert not any(s.user_supplied for o in p.options for s in o.sources)
    assert not any("your catalog" in w for w in p.warnings)
