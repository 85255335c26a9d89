"""CLI conventions: --version, shell completion, one exit-code table in every output mode,
80-column tables on a terminal and plain TSV in a pipe, the user's umask, a clear error for an
over-long file name, a busy port before any banner, a short Plan repr."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import deployscope
from deployscope.cli import main, output, plan_cmd

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def nothing_allowed(tmp_path_factory):
    """The hospital (air-gapped) asked to choose among APIs only: every option is excluded."""
    data = yaml.safe_load((EXAMPLES / "hospital-assistant.yaml").read_text())
    data["candidates"]["placements"] = ["api"]
    path = tmp_path_factory.mktemp("scn") / "api-only.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"deployscope {deployscope.__version__}"


def test_shell_completion_script(capsys):
    assert main(["--show-completion", "bash"]) == 0
    out = capsys.readouterr().out
    assert "complete" in out and "deployscope" in out.lower()


@pytest.mark.parametrize("words, cword, expected", [("deployscope pl", 1, {"plan", "plans"}), ("deployscope plan --js", 2, {"--json"})])
def test_shell_completion_completes_commands_and_options(words, cword, expected):
    """What the script above asks the program when Tab is pressed in bash, and its answer."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COMP_WORDS": words, "COMP_CWORD": str(cword),
           "_DEPLOYSCOPE_COMPLETE": "complete_bash"}
    r = subprocess.run([sys.executable, "-m", "deployscope"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and set(r.stdout.split()) == expected, r.stdout + r.stderr


def _documented_exit_codes() -> dict[int, str]:
    """The exit-code table of docs/cli.md: code -> meaning."""
    section = (ROOT / "docs" / "cli.md").read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(m.group(1)): m.group(2).strip() for m in re.finditer(r"^\| (\d+) \| ([^|]+) \|", section, re.M)}


def test_exit_codes_table_is_documented():
    table = _documented_exit_codes()
    assert set(table) == {v for k, v in vars(output).items() if k.startswith("EXIT_")} == {0, 1, 2, 130}
    assert output.EXIT_OK == 0 and output.EXIT_NO_ANSWER == 1 and output.EXIT_USAGE == 2 and output.EXIT_INTERRUPTED == 130


@pytest.mark.parametrize("mode", ["pipe", "json", "report"])
def test_every_documented_exit_code_is_the_same_in_every_output_mode(mode, nothing_allowed, tmp_path, monkeypatch, capsys):
    """Each row of the table in docs/cli.md, as `plan` meets it, in each output mode."""
    import deployscope.planner

    extra = {"pipe": [], "json": ["--json"], "report": ["--report", str(tmp_path / "r.html")]}[mode]
    table = _documented_exit_codes()
    outcomes = {
        0: ["plan", str(EXAMPLES / "saas-chat.yaml")],  # done
        1: ["plan", str(nothing_allowed)],  # no usable answer: every option excluded
        2: ["plan", str(EXAMPLES / "missing.yaml")],  # bad input
    }
    for code, argv in outcomes.items():
        assert main(argv + extra) == code, (table[code], mode)
        assert "Traceback" not in capsys.readouterr().err

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(deployscope.planner, "plan", interrupted)
    assert main(outcomes[0] + extra) == 130, table[130]
    assert "interrupted" in capsys.readouterr().err


@pytest.mark.parametrize("as_json", [False, True])
def test_interrupted_bench_exits_130_after_printing(as_json, tmp_path, monkeypatch, capsys):
    from deployscope.bench import load

    async def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(load, "run_load", interrupted)
    argv = ["bench", "http://127.0.0.1:9", "--model", "m", "-n", "3", "-c", "1"] + (["--json"] if as_json else [])
    assert main(argv) == 130
    out = capsys.readouterr().out
    if as_json:
        import json

        assert json.loads(out)["status"] == "interrupted"  # what was measured is still printed
    else:
        assert "interrupted" in out


def test_no_option_allowed_exits_1_in_every_output_mode(nothing_allowed, tmp_path, capsys):
    assert main(["plan", str(nothing_allowed)]) == 1
    cap = capsys.readouterr()
    assert "recommended (none)" in cap.out and "no option is allowed" in cap.err
    assert main(["plan", str(nothing_allowed), "--json"]) == 1
    cap = capsys.readouterr()
    import json

    assert json.loads(cap.out)["recommended"] is None  # stdout stays pure JSON; the note is on stderr
    report = tmp_path / "r.html"
    assert main(["plan", str(nothing_allowed), "--report", str(report)]) == 1
    assert "No option is allowed" in report.read_text()  # the report is still written
    assert main(["plan", str(EXAMPLES / "saas-chat.yaml"), "--json"]) == 0


def test_usage_errors_exit_2(capsys):
    assert main(["plan", str(EXAMPLES / "saas-chat.yaml"), "--bogus"]) == 2
    assert "No such option: --bogus" in capsys.readouterr().err
    assert main(["plan", str(EXAMPLES / "missing.yaml")]) == 2


def _terminal_view(plan, width=80) -> str:
    from rich.console import Console

    buf = io.StringIO()
    saved = plan_cmd.console, plan_cmd.plain_output
    plan_cmd.console = lambda: Console(file=buf, width=width, force_terminal=True, color_system=None)
    plan_cmd.plain_output = lambda: False
    try:
        plan_cmd.render_plan(plan)
    finally:
        plan_cmd.console, plan_cmd.plain_output = saved
    return buf.getvalue()


@pytest.mark.parametrize("name", ["saas-chat", "hospital-assistant", "marketing-images"])
def test_terminal_tables_fit_80_columns_and_keep_ids_readable(name):
    plan = deployscope.plan(EXAMPLES / f"{name}.yaml")
    out = _terminal_view(plan, 80)
    assert max(len(line) for line in out.splitlines()) <= 80
    for o in plan.allowed_options()[:15]:
        assert o.id[:20] in out, o.id  # ids fold at 20+ characters, never into 7-character fragments
    assert "GPUs" in out and "NPV" in out
    wide = _terminal_view(plan, 160)
    assert "tok/s/user" in wide and "tok/s/GPU" in wide and max(len(line) for line in wide.splitlines()) <= 160


def test_piped_view_is_plain_untruncated_tsv(capsys):
    plan = deployscope.plan(EXAMPLES / "saas-chat.yaml")
    assert main(["plan", str(EXAMPLES / "saas-chat.yaml")]) == 0  # capsys: stdout is not a terminal
    out = capsys.readouterr().out
    assert "╭" not in out and "│" not in out  # no box drawing
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("rank\toption\t"))
    cols = header.split("\t")
    assert "tokens_per_s_per_user" in cols and "tokens_per_s_per_gpu" in cols
    rows = [line.split("\t") for line in lines if re.match(r"^\d+\t", line)]
    assert [r[1] for r in rows] == [o.id for o in plan.allowed_options()]
    assert all(len(r) == len(cols) for r in rows)
    excluded = plan.excluded_options()
    for o in excluded:
        assert f"{o.id}\t{o.placement_detail}\t{' | '.join(o.excluded_because)}" in out  # every reason, in full


def test_terminal_names_the_default_behind_the_cost(capsys):
    assert main(["plan", str(EXAMPLES / "quarterly-finetune-70b.yaml")]) == 0
    out = capsys.readouterr().out
    assert "What the cost rests on" in out and "- Staff: 99% of the cost" in out and "0.5 FTE of staff" in out


def test_files_follow_the_umask(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        assert main(["plan", str(EXAMPLES / "saas-chat.yaml"), "--report", str(tmp_path / "a.html")]) == 0
        assert (tmp_path / "a.html").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        assert main(["plan", str(EXAMPLES / "saas-chat.yaml"), "--report", str(tmp_path / "b.md")]) == 0
        assert (tmp_path / "b.md").stat().st_mode & 0o777 == 0o600
        (tmp_path / "a.html").chmod(0o640)
        os.umask(0o022)
        assert main(["plan", str(EXAMPLES / "saas-chat.yaml"), "--report", str(tmp_path / "a.html")]) == 0
        assert (tmp_path / "a.html").stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode
    finally:
        os.umask(old)


def test_over_long_report_name_is_a_clear_error_before_planning(tmp_path, capsys):
    name = tmp_path / ("r" * 300 + ".html")
    assert main(["plan", str(EXAMPLES / "saas-chat.yaml"), "--report", str(name)]) == 2
    err = capsys.readouterr().err
    assert "--report" in err and "305 bytes long" in err and "at most 255" in err and "Traceback" not in err
    ok = tmp_path / ("r" * 250 + ".html")  # 255 bytes: the longest a name can be, and it works
    assert main(["plan", str(EXAMPLES / "saas-chat.yaml"), "--report", str(ok)]) == 0 and ok.exists()


def test_busy_port_is_an_error_before_any_banner(tmp_path):
    pytest.importorskip("uvicorn")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        r = subprocess.run([sys.executable, "-m", "deployscope", "serve", "--port", str(port), "--db", str(tmp_path / "s.db")],
                           capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in r.stderr
    assert "http://" not in r.stderr + r.stdout  # no "running on" banner first


def test_plan_repr_is_short_and_notebooks_get_html():
    plan = deployscope.plan(EXAMPLES / "saas-chat.yaml")
    text = repr(plan)
    assert len(text) < 200 and "saas-chat-assistant" in text and plan.recommended in text and str(plan) == text
    html = plan._repr_html_()
    assert len(html) < 10_000 and "<table>" in html and plan.recommended in html
    assert len(plan.to_json()) > 100_000  # the full result is still there, just not printed
    from rich.console import Console

    console = Console(file=io.StringIO(), width=100)
    console.print(plan)  # rich's pretty printer, as in IPython with rich's extension
    assert len(console.file.getvalue()) < 400


def test_piped_catalog_is_tsv_with_full_sources(capsys):
    from deployscope.catalog import default_catalog

    assert main(["catalog", "gpus"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("id\t"))
    cols = lines[header].split("\t")
    assert cols[-1] == "source"
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[header + 1:] if "\t" in line}
    h100 = default_catalog().accelerators.get("h100-sxm-80gb")
    assert rows["h100-sxm-80gb"][-1] == h100.source  # the whole source, not its host
    assert all(len(r) == len(cols) for r in rows.values())


def _catalog_terminal(argv: list[str], width: int) -> str:
    from rich.console import Console

    from deployscope.cli import catalog_cmd

    buf = io.StringIO()
    saved = catalog_cmd.console, catalog_cmd.plain_output, output.plain_output
    catalog_cmd.console = lambda: Console(file=buf, width=width, force_terminal=True, color_system=None)
    catalog_cmd.plain_output = output.plain_output = lambda: False
    try:
        assert main(argv) == 0
    finally:
        catalog_cmd.console, catalog_cmd.plain_output, output.plain_output = saved
    return buf.getvalue()


CATALOG_TABLES = ["accelerators", "api_prices", "cloud_instances", "economic_defaults", "engines", "fx_rates", "jurisdictions",
                  "licenses", "models", "policy_rules", "providers", "quant", "servers", "storage"]


@pytest.mark.parametrize("table", CATALOG_TABLES)
def test_catalog_tables_fit_80_columns_with_whole_headers_and_ids(table):
    """At 80 columns a catalog table keeps the columns that fit, each header whole, ids whole up to
    24 characters (folded after), and names the columns it leaves out."""
    from deployscope.catalog import default_catalog

    argv = ["catalog", "gpus"] if table == "accelerators" else ["catalog", "list", table]
    out = _catalog_terminal(argv, 80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    ids = [r.id for r in default_catalog().table(table)]
    fold = 19 if table == "accelerators" else 24  # eight numeric columns leave the GPU ids 19 characters a line
    assert all(i[:fold] in out for i in ids), [i for i in ids if i[:fold] not in out][:5]
    if table == "accelerators":  # the source column is left out at this width and the caption says so
        assert "Sources are left out at this width" in out
        assert "source" not in next(line for line in lines if line.lstrip().startswith("id ")).split()
        prices = {r.id: r.price_usd for r in default_catalog().table(table) if r.price_usd}
        assert all(f"{p:,.0f}" in out for p in prices.values())  # every price whole
    else:
        header = next(line for line in lines if line.lstrip().startswith("id "))
        shown = header.split()
        assert shown[0] == "id" and shown[-1] == "source"
        wide = _catalog_terminal(argv, 250)
        all_cols = next(line for line in wide.splitlines() if line.lstrip().startswith("id ")).split()
        hidden = [c for c in all_cols if c not in shown]
        assert set(shown) <= set(all_cols)  # every header printed whole, none broken inside a word
        if hidden:
            caption = " ".join(out.split("not shown at this width:", 1)[1].split())
            assert all(c in caption for c in hidden), (hidden, caption)
