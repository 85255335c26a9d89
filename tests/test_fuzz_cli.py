"""Fuzz the command line in process: ``deployscope.cli.main(argv)`` returns 0 or 2, never raises,
never prints a traceback, and a rejection names the option or field at fault.

Three generators: (1) every command's own options (read from the typer app, so new commands are
covered as they land) with hostile values; (2) scenario files: the shipped examples with random
mutations, and broken YAML; (3) user catalog directories with random rows over the bundled ones.
Cases per test: ``DEPLOYSCOPE_FUZZ_EXAMPLES`` (25 under CI=true, 500 otherwise).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from deployscope.cli import app, main

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
N = int(os.environ.get("DEPLOYSCOPE_FUZZ_EXAMPLES", "25" if CI else "500"))
# in CI a failure is reported as found (shrinking can take minutes); full runs shrink it
PHASES = (Phase.explicit, Phase.reuse, Phase.generate) if CI else tuple(Phase)
SETTINGS = settings(max_examples=N, deadline=None, phases=PHASES, suppress_health_check=list(HealthCheck), derandomize=CI)
ROOT = Path(__file__).resolve().parents[1]
# Copies: commands such as `scenario init FILE --force` may overwrite the file they are given.
_EXAMPLE_COPIES = Path(tempfile.mkdtemp(prefix="ds-fuzz-examples-"))
atexit.register(shutil.rmtree, str(_EXAMPLE_COPIES), True)
EXAMPLES = [Path(shutil.copy(p, _EXAMPLE_COPIES / p.name)) for p in sorted((ROOT / "examples").glob("*.yaml"))]

# commands that open sockets (bench: the URL it is given; serve: binds and blocks) are fuzzed
# elsewhere (tests/test_fuzz_api.py, the bench module's own tests); the rest run here.
SKIP = {("serve",), ("bench",)}
# slow commands get their own, smaller share
SLOW = {("validate",), ("plan",), ("pipeline",), ("calibrate",), ("sweep",)}

COUNTS: Counter[str] = Counter()
_WORK = Path(tempfile.mkdtemp(prefix="ds-fuzz-cli-"))
atexit.register(shutil.rmtree, str(_WORK), True)
# Commands under fuzz WRITE files (scenario init --force, model add, exports): every path they are
# given must lie inside _WORK. The cwd is three levels down so that "../../x" stays inside, and
# the examples are copies: never a real path of this machine or of the repository.
_CWD = _WORK / "a" / "b" / "c"
_CWD.mkdir(parents=True)
COPIES = []
for _p in EXAMPLES:
    (_WORK / "examples").mkdir(exist_ok=True)
    shutil.copy(_p, _WORK / "examples" / _p.name)
    COPIES.append(str(_WORK / "examples" / _p.name))


@pytest.fixture(scope="module", autouse=True)
def _isolated():
    """Every run writes only under a temp dir: store, user catalog, data dir, cwd."""
    keep = {k: os.environ.get(k) for k in ("DEPLOYSCOPE_DATABASE_URL", "DEPLOYSCOPE_CATALOG", "XDG_DATA_HOME", "HOME", "COLUMNS")}
    os.environ["HOME"] = str(_WORK / "home")
    os.environ["DEPLOYSCOPE_DATABASE_URL"] = f"sqlite:///{_WORK}/store.db"
    os.environ["XDG_DATA_HOME"] = str(_WORK / "xdg")
    os.environ.pop("DEPLOYSCOPE_CATALOG", None)
    os.environ["COLUMNS"] = "120"
    cwd = os.getcwd()
    os.chdir(_CWD)
    yield
    os.chdir(cwd)
    for k, v in keep.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    from deployscope.catalog import set_default_catalog

    set_default_catalog(None)
    total = sum(COUNTS.values())
    print(f"\n[fuzz] cli: {total} generated invocations: {dict(COUNTS)}")
    out = os.environ.get("DEPLOYSCOPE_FUZZ_COUNT_FILE")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"suite": "cli", "cases": total, "per_test": dict(COUNTS)}) + "\n")


READ_ONLY_OUTSIDE = {"/nonexistent/dir", "/dev/null"}
# A `deployscope` console script to run every case through instead of main() in this process:
# scripts/fuzz_base_install.sh points it at a virtual environment holding only the base install,
# so a module only an extra (or the test tools) brings in cannot hide a crash.
EXE = os.environ.get("DEPLOYSCOPE_FUZZ_EXE")


def _run_exe(argv: list[str]) -> tuple[int, str, str]:
    import subprocess

    from hypothesis import assume

    if any("\x00" in str(a) for a in argv):  # an OS argument cannot hold a NUL byte
        assume(False)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the installed package, not this checkout
    r = subprocess.run([EXE, *map(str, argv)], capture_output=True, text=True, errors="replace", env=env, timeout=600)
    return r.returncode, r.stdout, r.stderr


def _escapes_sandbox(arg: str) -> bool:
    a = str(arg).strip()
    if a in READ_ONLY_OUTSIDE:
        return False
    if a.startswith("~") or a.startswith("-") and ("=/" in a or "=~" in a):
        return True
    if a.startswith("/"):
        real = os.path.realpath(a)
        pytest_tmp = os.path.join(os.path.realpath(tempfile.gettempdir()), "pytest-of-")  # tmp_path_factory dirs
        return not (real.startswith(str(_WORK)) or real.startswith(pytest_tmp))
    return not os.path.realpath(os.path.join(_CWD, a)).startswith(str(_WORK))


def run(argv: list[str]) -> tuple[int, str, str]:
    """main(argv) in process, with stdout/stderr captured and the user-catalog env restored."""
    bad = [a for a in argv if "/" in str(a) and _escapes_sandbox(a)]
    assert not bad, f"test bug: a path outside the sandbox {bad}"  # never let the fuzzer write elsewhere
    if EXE:
        return _run_exe(argv)
    out, err = io.StringIO(), io.StringIO()
    before = os.environ.get("DEPLOYSCOPE_CATALOG")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(list(argv))
    finally:
        if os.environ.get("DEPLOYSCOPE_CATALOG") != before:
            from deployscope.catalog import set_default_catalog

            if before is None:
                os.environ.pop("DEPLOYSCOPE_CATALOG", None)
            else:
                os.environ["DEPLOYSCOPE_CATALOG"] = before
            set_default_catalog(None)
    return rc, out.getvalue(), err.getvalue()


def check(argv: list[str], rc: int, err: str, expect_names: list[str] | None = None, out: str = "") -> None:
    no_answer = rc == 1 and argv[:1] == ["plan"] and "no option is allowed" in err  # exit 1: docs/cli.md
    assert rc in (0, 2) or no_answer, f"exit {rc} for {argv}\n{err[-3000:]}"
    assert "Traceback" not in err, f"traceback for {argv}\n{err[-3000:]}"
    if rc == 2:
        assert err.strip() or out.strip(), f"exit 2 without a message for {argv}"
        if expect_names:
            low = err.lower()
            assert any(n.lower() in low for n in expect_names), f"{argv}: message names none of {expect_names}:\n{err[-2000:]}"


# ---------------------------------------------------------------------------- the command tree
def _commands() -> list[tuple[tuple[str, ...], Any]]:
    import typer.main

    root = typer.main.get_command(app)
    out = []

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        if getattr(cmd, "commands", None):  # a group (typer may vendor its own click: duck-type)
            for name, sub in cmd.commands.items():
                walk(sub, path + (name,))
        else:
            out.append((path, cmd))

    walk(root, ())
    return [(p, c) for p, c in out if p[:1] not in {s[:1] for s in SKIP}]


COMMANDS = _commands()
FAST = [(p, c) for p, c in COMMANDS if p not in SLOW and p[:1] not in {s[:1] for s in SLOW}]

NAMES = ["llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b", "h100-sxm", "a100-sxm4-80gb", "l40s", "bf16", "fp8",
         "int4-awq", "gguf-q4_k_m", "vllm", "llamacpp", "sdxl", "flux.1-dev", "deepseek-v3", "mi300x", "b200"]
hostile_text = st.one_of(
    st.sampled_from(NAMES),
    # random text, but never a way out of the sandbox (absolute, home-relative or parent paths)
    st.text(max_size=40).filter(lambda t: not t.lstrip().startswith(("/", "~")) and ".." not in t and "\\" not in t),
    st.sampled_from(["", " ", "-", "--", "0", "-1", "1e309", "nan", "inf", "-inf", "1e-320", "99999999999999999999999",
                     "../../x.yaml", "../..", ".", "C:\\x", "%s%n", "\x00", "☃", "1,2,,3", "0x10", "1_000",
                     "<script>alert(1)</script>", "' OR 1=1 --", "{{7*7}}", "a" * 300, "2T", "500B", "1024x1024", "x"]),
)
number_text = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(0, 2**20).map(str),
    st.sampled_from(["1", "2", "8", "128", "4096", "131072"]),
)


def _value_for(param: Any) -> st.SearchStrategy[str]:
    t = getattr(param, "type", None)
    desc = getattr(param, "type_descriptor", None)
    ann = getattr(desc, "annotation", None)
    if getattr(t, "name", "") in ("integer", "float", "integer range", "float range") or ann in (int, float):
        return st.one_of(number_text, hostile_text)
    if getattr(t, "choices", None):
        return st.one_of(st.sampled_from([str(c) for c in t.choices]), hostile_text)
    return st.one_of(hostile_text, number_text)


@st.composite
def cli_argv(draw, commands=None) -> tuple[list[str], list[str]]:  # noqa: ANN001
    path, cmd = draw(st.sampled_from(commands or COMMANDS))
    argv = list(path)
    names: list[str] = []
    if path == ("validate",):  # the shipped data set takes seconds: fuzz the options around a file
        argv += ["--data", draw(st.sampled_from(["missing.csv", ".", COPIES[0]]))]
    if path == ("sweep",):  # keep each sweep small and in this process
        argv += ["-m", draw(st.sampled_from(["llama-3.1-8b", "qwen2.5-7b"])), "-g", draw(st.sampled_from(["h100-sxm", "l40s"])), "-w", "1"]
    params = [p for p in cmd.params if p.name not in ("help",)]
    args = [p for p in params if getattr(p, "param_type_name", "") == "argument"]
    opts = [p for p in params if getattr(p, "param_type_name", "") == "option"]
    for a in args:
        if draw(st.integers(0, 9)) > 0:  # usually give the argument
            argv.append(draw(_value_for(a)) if a.name not in ("scenario", "path", "paths", "file") else draw(st.sampled_from([*COPIES, "missing.yaml", ".", "../../new.yaml"])))
    for o in draw(st.lists(st.sampled_from(opts), max_size=5)) if opts else []:
        flag = o.opts[0]
        if o.is_flag or o.count:
            argv.append(flag)
        else:
            argv += [flag, draw(_value_for(o))]
        names += [flag, flag.lstrip("-"), (o.name or "").replace("_", "-"), o.name or ""]
    if draw(st.integers(0, 19)) == 0:  # now and then an unknown option or a stray word
        argv.append(draw(st.sampled_from(["--no-such-option", "-Z", "stray", "--json=maybe"])))
    return argv, names


@SETTINGS
@given(case=cli_argv(FAST))
def test_cli_arguments_never_crash(case):
    argv, _ = case
    COUNTS["arguments"] += 1
    rc, out, err = run(argv)
    check(argv, rc, err, out=out)


@settings(max_examples=max(N // 5, 5), deadline=None, phases=PHASES, suppress_health_check=list(HealthCheck), derandomize=CI)
@given(case=cli_argv([(p, c) for p, c in COMMANDS if p in SLOW or p[:1] in {s[:1] for s in SLOW}]))
def test_slow_cli_commands_never_crash(case):
    argv, _ = case
    COUNTS["arguments-slow"] += 1
    rc, out, err = run(argv)
    check(argv, rc, err, out=out)


# one bad value at a time for the main physics commands: the message names the option or field
BAD_ONE = [
    (["memory", "llama-3.1-8b"], "--context", ["0", "-5", "x", "1e309", "99999999999999999999"], ["context"]),
    (["memory", "llama-3.1-8b"], "--batch", ["0", "-1", "x"], ["batch"]),
    (["memory", "llama-3.1-8b"], "--tp", ["0", "3", "-2", "1000000"], ["tp", "tensor"]),
    (["memory", "llama-3.1-8b"], "--quant", ["int3", "", "☃"], ["quant"]),
    (["memory", "llama-3.1-8b"], "--engine", ["nope", ""], ["engine"]),
    (["fit", "llama-3.1-8b"], "--gpu", ["h1000", ""], ["gpu"]),
    (["perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--output-len", "100"], "--input-len", ["0", "-1", "x", "nan"], ["input"]),
    (["perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-len", "100", "--output-len", "100"], "--gpus", ["0", "-8", "x"], ["gpus"]),
    (["sweep", "-m", "llama-3.1-8b", "-g", "h100-sxm"], "--tp", ["0", "x", "1,,-2"], ["--tp"]),
]


@SETTINGS
@given(data=st.data())
def test_one_bad_value_is_named(data):
    base, opt, bads, names = data.draw(st.sampled_from(BAD_ONE))
    bad = data.draw(st.one_of(st.sampled_from(bads), st.integers(-(2**40), 0).map(str)) if opt not in ("--quant", "--engine", "--gpu") else st.sampled_from(bads))
    argv = [*base, opt, bad]
    COUNTS["one-bad-value"] += 1
    rc, _out, err = run(argv)
    check(argv, rc, err)
    assert rc == 2, f"{argv} accepted"
    check(argv, rc, err, [opt, *names])


# ---------------------------------------------------------------------------- scenario files
def _load(p: Path) -> Any:
    return yaml.safe_load(p.read_text())


EXAMPLE_DATA = {p.name: _load(p) for p in EXAMPLES}

junk = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.sampled_from(["", "-1", "1e309", "llama-3.1-8b", "h100-sxm", "EU", "US", "air_gapped", "P1D", "2T", "∞"]),
)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


def _set(obj: Any, path: tuple, value: Any, delete: bool = False) -> None:
    for k in path[:-1]:
        obj = obj[k]
    if delete:
        if isinstance(obj, dict):
            obj.pop(path[-1], None)
        elif isinstance(obj, list) and len(obj) > 1:
            obj.pop(path[-1])
    else:
        obj[path[-1]] = value


@st.composite
def mutated_scenario(draw) -> tuple[str, dict[str, Any], list[str]]:  # noqa: ANN001
    import copy

    name = draw(st.sampled_from(sorted(EXAMPLE_DATA)))
    data = copy.deepcopy(EXAMPLE_DATA[name])
    touched: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        delete = draw(st.integers(0, 4)) == 0
        _set(data, path, draw(junk), delete=delete)
        touched += [str(p) for p in path if isinstance(p, str)]
    if draw(st.integers(0, 9)) == 0:  # an unknown key
        data[draw(st.sampled_from(["colour", "horizon_yaers", "x"]))] = 1
        touched.append("x")
    return name, data, touched


broken_yaml = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["", "---", "- a\n- b", "a: [1, 2", "{", "name: x\n  bad indent: 1", "!!python/object:os.system ls",
                     "a: &x [*x]", "key: !!binary ZZZ", "\t\tname: x", "null", "42", "'string'", "name: x\nname: y",
                     "a: " + "[" * 200, "%YAML 9.9\n---\na: 1"]),
)


@SETTINGS
@given(case=mutated_scenario())
def test_scenario_files_mutated(case, tmp_path_factory):
    name, data, _touched = case
    p = tmp_path_factory.mktemp("scn") / name
    p.write_text(yaml.safe_dump(data, allow_unicode=True))
    COUNTS["scenario-mutated"] += 1
    argv = ["scenario", "validate", str(p)]
    rc, _out, err = run(argv)
    check(argv, rc, err)
    if rc == 2:
        # names a field path (dotted, or a bracketed index) or the file
        assert re.search(r"[a-z_]+(\.|\[|:)", err) or p.name in err, err


@st.composite
def numeric_mutation(draw) -> tuple[str, dict[str, Any], list[str]]:  # noqa: ANN001
    """Valid-looking scenarios: one or two numbers scaled, zeroed or negated, types kept, so the
    planner itself (not only validation) meets odd values."""
    import copy

    name = draw(st.sampled_from(sorted(EXAMPLE_DATA)))
    data = copy.deepcopy(EXAMPLE_DATA[name])
    nums = [p for p in _paths(data) if isinstance(_get(data, p), (int, float)) and not isinstance(_get(data, p), bool)]
    touched: list[str] = []
    for _ in range(draw(st.integers(1, 2))):
        if not nums:
            break
        path = draw(st.sampled_from(nums))
        v = _get(data, path)
        f = draw(st.sampled_from([0, -1, 0.5, 2, 10, 1e3, 1e6, 1e-3]))
        new = v * f
        _set(data, path, int(new) if isinstance(v, int) and abs(new) < 2**62 else float(new))
        touched += [str(p) for p in path]
    return name, data, touched


def _get(obj: Any, path: tuple) -> Any:
    for k in path:
        obj = obj[k]
    return obj


@settings(max_examples=max(N // 10, 4), deadline=None, phases=PHASES, suppress_health_check=list(HealthCheck), derandomize=CI)
@given(case=st.one_of(mutated_scenario(), numeric_mutation()))
def test_plan_on_mutated_scenarios(case, tmp_path_factory):
    name, data, _touched = case
    d = tmp_path_factory.mktemp("plan")
    p = d / name
    p.write_text(yaml.safe_dump(data, allow_unicode=True))
    COUNTS["plan-mutated"] += 1
    report = d / "r.md"
    argv = ["plan", str(p), "--json", "--report", str(report)]
    rc, out, err = run(argv)
    check(argv, rc, err)
    if rc in (0, 1):  # 1: every option excluded; the plan is still printed and its report written
        assert json.loads(out)["options"] is not None
    else:
        assert not report.exists(), "a failed plan left a report behind"
        assert not [f for f in d.iterdir() if f.name.endswith(".tmp")], "half-written file left behind"


@SETTINGS
@given(text=broken_yaml)
def test_broken_yaml_scenarios(text, tmp_path_factory):
    p = tmp_path_factory.mktemp("bad") / "s.yaml"
    p.write_text(text, encoding="utf-8", errors="surrogatepass") if "\ud800" not in text else p.write_bytes(text.encode("utf-8", "replace"))
    COUNTS["scenario-broken-yaml"] += 1
    for argv in (["scenario", "validate", str(p)], ["pipeline", str(p)]):
        rc, _out, err = run(argv)
        check(argv, rc, err)


# ---------------------------------------------------------------------------- user catalogs
def _bundled_rows(table: str) -> list[dict[str, Any]]:
    from deployscope.catalog.loader import BUNDLED_DIR

    data = yaml.safe_load((BUNDLED_DIR / f"{table}.yaml").read_text())
    if isinstance(data, dict):
        for v in data.values():
            if isinstance(v, list):
                return v
        return []
    return data or []


CAT_TABLES = ["accelerators", "models", "quant", "engines", "cloud_instances", "api_prices", "servers", "efficiency"]
BUNDLED = {t: _bundled_rows(t) for t in CAT_TABLES}


@st.composite
def catalog_dir_rows(draw) -> dict[str, Any]:  # noqa: ANN001
    import copy

    files: dict[str, Any] = {}
    for table in draw(st.lists(st.sampled_from(CAT_TABLES), min_size=1, max_size=3, unique=True)):
        rows = []
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.integers(0, 3))
            base = BUNDLED[table]
            if kind == 0 or not base:  # a random mapping
                rows.append(draw(st.dictionaries(st.sampled_from(["id", "source", "as_of", "name", "memory_bytes", "params_b", "x"]), junk, max_size=5)))
            else:  # a real row, overriding or copied under a new id, with a field or two broken
                row = copy.deepcopy(draw(st.sampled_from(base)))
                if kind == 2:
                    row["id"] = draw(st.sampled_from(["my-gpu", "my-model", "x" * 80, "", "UPPER Case", "h100-sxm-80gb"]))
                for _ in range(draw(st.integers(0, 2))):
                    keys = list(row)
                    if keys:
                        row[draw(st.sampled_from(keys))] = draw(junk)
                rows.append(row)
        files[table] = draw(st.one_of(st.just(rows), junk)) if draw(st.integers(0, 9)) == 0 else rows
    if draw(st.integers(0, 9)) == 0:
        files["not_a_table"] = [{"id": "x"}]
    return files


CAT_COMMANDS = [
    ["catalog", "gpus", "--json"],
    ["catalog", "models", "--json"],
    ["catalog", "quant", "--json"],
    ["memory", "llama-3.1-8b", "--json"],
    ["fit", "llama-3.1-8b", "--gpu", "h100-sxm", "--json"],
    ["perf", "llama-3.1-8b", "--gpu", "h100-sxm", "--input-len", "512", "--output-len", "128", "--json"],
]


@SETTINGS
@given(files=catalog_dir_rows(), cmd=st.sampled_from(CAT_COMMANDS))
def test_user_catalog_overrides(files, cmd, tmp_path_factory):
    d = tmp_path_factory.mktemp("cat")
    for table, rows in files.items():
        (d / f"{table}.yaml").write_text(yaml.safe_dump(rows, allow_unicode=True))
    COUNTS["catalog-override"] += 1
    argv = ["--catalog", str(d), *cmd]
    rc, _out, err = run(argv)
    check(argv, rc, err)
    if rc == 2 and "catalog" in err.lower() and "unknown " not in err.lower():  # an override may drop aliases
        # a rejected catalog row names its file
        assert str(d) in err or any(f"{t}.yaml" in err for t in files) or "row" in err, err


def test_catalog_dir_that_is_not_a_dir():
    for target in ["/nonexistent/dir", "/dev/null", COPIES[0]]:  # read only: --catalog never writes
        argv = ["--catalog", target, "catalog", "gpus", "--json"]
        rc, _out, err = run(argv)
        check(argv, rc, err)


# ---------------------------------------------------------------------------- hostile inputs
# Four more classes, each generated for every file the CLI reads: numbers at and past every
# bound (a rejection must name a field the user can write, never an internal one such as
# capex.storage), encodings other than UTF-8, alias and nesting bombs, and names that resolve to
# nothing in every field that names a catalog row (a rejection names exactly that field).
from deployscope import scenario as _schema  # noqa: E402

EXTREMES = [float("inf"), float("-inf"), float("nan"), 1e308, -1e308, 1e-320, -1e-320, 0, 0.0, -0.0, -1, 2**63, 2**64,
            10**30, "1e400", "-1e400", "inf", "nan", "1e-400", 1.7976931348623157e308, 5e-324]


def _schema_models(ann: Any) -> list[type]:
    """Every pydantic model inside an annotation (unions give several)."""
    import typing

    from pydantic import BaseModel

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    out: list[type] = []
    for arg in typing.get_args(ann):
        out += _schema_models(arg)
    return out


def _is_user_field(path: str) -> bool:
    """Whether a field path names something a scenario can hold (not an internal name)."""
    if path in ("SCENARIO", "(top level)", "FILE", "file"):
        return True
    parts = [p for p in re.split(r"\.|\[\d+\]", path) if p]
    models: list[Any] = [_schema.Scenario]
    for part in parts:
        if not models:  # inside a dict field (hardware_prices, uncertainty...): any key
            return True
        nxt: list[Any] = []
        found = False
        for m in models:
            f = m.model_fields.get(part) if hasattr(m, "model_fields") else None
            if f is None and part in ("llm", "diffusion"):
                found, nxt = True, models
                continue
            if f is not None:
                found = True
                nxt += _schema_models(f.annotation)
        if not found:
            return False
        models = nxt
    return True


def _error_field(err: str) -> str:
    line = next((ln for ln in err.splitlines() if ln.startswith("error: ")), "")
    return line[len("error: "):].split(": ", 1)[0] if ": " in line[len("error: "):] else ""


def test_user_field_check_tells_user_fields_from_internal_ones():  # the oracle the fuzzers below rely on
    assert _is_user_field("workloads[0].input_tokens.mean") and _is_user_field("economics.hardware_prices.x")
    assert _is_user_field("pipelines[0].stages[1].steps") and _is_user_field("load_profile.hourly[23]")
    assert not _is_user_field("capex.storage") and not _is_user_field("economics.tariff_usd_per_kwh")
    assert not _is_user_field("input_tokens_per_year") and not _is_user_field("additions.2.servers")


@st.composite
def numeric_extreme(draw) -> tuple[str, dict[str, Any], str]:  # noqa: ANN001
    """An example with one number (or a number-like string) set to an extreme or to a bound."""
    import copy

    name = draw(st.sampled_from(sorted(EXAMPLE_DATA)))
    data = copy.deepcopy(EXAMPLE_DATA[name])
    nums = [p for p in _paths(data) if isinstance(_get(data, p), (int, float)) and not isinstance(_get(data, p), bool)]
    path = draw(st.sampled_from(nums))
    old = _get(data, path)
    value = draw(st.one_of(st.sampled_from(EXTREMES), st.floats(), st.floats(min_value=-1e-300, max_value=1e-300),
                           st.sampled_from([old * 1e300 if old else 1e300, -old, old * 1e-300])))
    _set(data, path, value)
    return name, data, ".".join(str(p) for p in path)


@settings(max_examples=max(N // 5, 5), deadline=None, phases=PHASES, suppress_health_check=list(HealthCheck), derandomize=CI)
@given(case=numeric_extreme())
def test_numeric_extremes_are_named_at_a_user_field(case, tmp_path_factory):
    name, data, where = case
    p = tmp_path_factory.mktemp("num") / name
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    COUNTS["numeric-extremes"] += 1
    argv = ["plan", str(p), "--json"]
    rc, _out, err = run(argv)
    check(argv, rc, err)
    if rc == 2:
        field = _error_field(err)
        assert _is_user_field(field), f"{where}: the error names {field!r}, a field the scenario cannot hold:\n{err[-1500:]}"


# files the CLI reads, each with a valid body and the command that reads it (the file goes at {})
def _valid_bodies() -> dict[str, tuple[str, list[str]]]:
    h100 = next(r for r in BUNDLED["accelerators"] if r["id"] == "h100-sxm-80gb")
    return {
        "scenario.yaml": ((ROOT / "examples" / "saas-chat.yaml").read_text(encoding="utf-8"), ["scenario", "validate", "{}"]),
        "pipeline.yaml": ((ROOT / "examples" / "synthetic-identities.yaml").read_text(encoding="utf-8"), ["pipeline", "{}"]),
        "saved.yaml": ((ROOT / "examples" / "marketing-images.yaml").read_text(encoding="utf-8"), ["scenarios", "add", "{}"]),
        "accelerators.yaml": (yaml.safe_dump([{**h100, "name": "H100 é"}], allow_unicode=True),
                              ["--catalog", "{dir}", "catalog", "gpus", "--json"]),
        "calibration.yaml": ("name: mine\nsource: bench runs é\nas_of: 2025-06-01\nfactors:\n  - {engine: vllm, family: llama, compute: 1.1}\n",
                             ["plan", COPIES[0], "--json", "--calibration", "{}"]),
        "run.json": (json.dumps({"summary": {"model": "llama-3.1-8b", "note": "é"}, "records": []}), ["calibrate", "{}"]),
        "prices.json": (json.dumps({"m-é": {"litellm_provider": "together_ai", "mode": "chat", "input_cost_per_token": 1e-7,
                                             "output_cost_per_token": 2e-7}}),
                        ["prices", "import", "{}", "--kind", "litellm", "--catalog", "{dir}/out", "--as-of", "2025-06-01"]),
        "vms.csv": ("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,SpotPrice,Region,AvailabilityZone\n"
                    "p5.48xlarge,H100,8,192,2048,98.32,40.1,us-east-1,us-east-1a é\n",
                    ["prices", "import", "{}", "--kind", "skypilot", "--provider", "aws", "--catalog", "{dir}/out", "--as-of", "2025-06-01"]),
        "data.csv": ("metric,value,hardware,model,source\nthroughput,1000,H100 é,Llama-3.1-8B,x\n", ["validate", "--data", "{}"]),
        "config.json": ((ROOT / "tests" / "fixtures" / "configs" / "Llama-3.1-8B.json").read_text(encoding="utf-8"),
                        ["--catalog", "{dir}/out", "model", "add", "{}", "--id", "fuzz-model"]),
    }


BODIES = _valid_bodies()
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252", "cp437", "shift_jis"]


@st.composite
def encoded_file(draw) -> tuple[str, bytes, str]:  # noqa: ANN001
    kind = draw(st.sampled_from(sorted(BODIES)))
    text, _ = BODIES[kind]
    how = draw(st.one_of(st.sampled_from(ENCODINGS), st.just("bytes"), st.just("truncated")))
    if how == "bytes":
        raw = draw(st.binary(max_size=300))
    elif how == "truncated":  # a multi-byte character cut in half
        raw = text.encode("utf-8")[: draw(st.integers(0, len(text.encode("utf-8"))))] + "é".encode()[:1]
    else:
        raw = text.encode(how, errors="replace")
    return kind, raw, how


@SETTINGS
@given(case=encoded_file())
def test_every_file_the_cli_reads_in_any_encoding(case, tmp_path_factory):
    kind, raw, how = case
    d = tmp_path_factory.mktemp("enc")
    name = kind if kind != "calibration.yaml" else "mine.yaml"
    target = d / name
    if kind == "accelerators.yaml":
        target = d / "accelerators.yaml"
    target.write_bytes(raw)
    _, argv_t = BODIES[kind]
    argv = [a.replace("{dir}", str(d)).replace("{}", str(target)) for a in argv_t]
    COUNTS["encodings"] += 1
    rc, out, err = run(argv)
    check(argv, rc, err, out=out)
    decodable = how in ("utf-8", "utf-8-sig", "utf-16", "utf-32") or raw.isascii() and b"\x00" not in raw
    if not decodable and rc == 2 and ("UTF" in err or "encoding" in err):
        assert target.name in err, f"an encoding error names no file:\n{err[-1500:]}"


def _bomb(draw) -> str:  # noqa: ANN001
    kind = draw(st.sampled_from(["laughs", "seq", "map", "mixed"]))
    if kind == "laughs":
        levels, width = draw(st.integers(3, 12)), draw(st.integers(2, 12))
        text = "a0: &a0 [" + ",".join(["lol"] * width) + "]\n"
        for i in range(1, levels):
            text += f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]\n"
        return text + f"name: *a{levels - 1}\n"
    depth = draw(st.integers(50, 5000))
    if kind == "seq":
        return "name: x\nworkloads: " + "[" * depth + "]" * depth + "\n"
    if kind == "map":
        return "name: x\nworkloads: " + "{a: " * depth + "1" + "}" * depth + "\n"
    return "name: &n x\nworkloads:\n" + "  - " * 1 + "[" * depth + "*n" + "]" * depth + "\n"


@st.composite
def bomb_file(draw) -> tuple[str, str]:  # noqa: ANN001
    kind = draw(st.sampled_from(["scenario.yaml", "pipeline.yaml", "saved.yaml", "accelerators.yaml", "calibration.yaml",
                                 "run.json", "prices.json", "config.json"]))
    if kind.endswith(".json"):
        depth = draw(st.integers(50, 5000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        body = opener * depth + "1" + closer * depth
        return kind, '{"summary": ' + body + "}" if kind == "run.json" else body
    return kind, _bomb(draw)


@settings(max_examples=max(N // 2, 5), deadline=None, phases=PHASES, suppress_health_check=list(HealthCheck), derandomize=CI)
@given(case=bomb_file())
def test_alias_and_depth_bombs_in_every_file(case, tmp_path_factory):
    kind, text = case
    d = tmp_path_factory.mktemp("bomb")
    target = d / (kind if kind != "calibration.yaml" else "mine.yaml")
    target.write_text(text, encoding="utf-8")
    _, argv_t = BODIES[kind]
    argv = [a.replace("{dir}", str(d)).replace("{}", str(target)) for a in argv_t]
    COUNTS["bombs"] += 1
    rc, out, err = run(argv)
    check(argv, rc, err, out=out)
    assert rc == 2, f"a bomb was accepted: {argv}\n{out[-500:]}"


# every scenario field that names a catalog row (or a profile, a region, a pipeline)
REF_FIELDS: list[tuple[str, tuple, str]] = [
    ("saas-chat.yaml", ("workloads", 0, "model"), "workloads[0].model"),
    ("saas-chat.yaml", ("workloads", 0, "api_models"), "workloads[0].api_models[0]"),
    ("saas-chat.yaml", ("candidates", "gpus"), "candidates.gpus[0]"),
    ("saas-chat.yaml", ("candidates", "quants"), "candidates.quants[0]"),
    ("saas-chat.yaml", ("candidates", "providers"), "candidates.providers[0]"),
    ("saas-chat.yaml", ("candidates", "engine"), "candidates.engine"),
    ("saas-chat.yaml", ("candidates", "calibration"), "candidates.calibration"),
    ("saas-chat.yaml", ("economics", "hardware_prices"), "economics.hardware_prices.{}"),
    ("saas-chat.yaml", ("economics", "region"), "economics.region"),
    ("saas-chat.yaml", ("pipeline_runs_per_year",), "pipeline_runs_per_year.{}"),
    ("marketing-images.yaml", ("workloads", 0, "model"), "workloads[0].model"),
    ("marketing-images.yaml", ("workloads", 0, "quant"), "workloads[0].quant"),
    ("marketing-images.yaml", ("workloads", 0, "api_models"), "workloads[0].api_models[0]"),
    ("quarterly-finetune-70b.yaml", ("training", 0, "model"), "training[0].model"),
    ("quarterly-finetune-70b.yaml", ("training", 0, "gpu"), "training[0].gpu"),
    ("synthetic-identities.yaml", ("pipelines", 0, "stages", 0, "model"), "pipelines[0].stages[0].model"),
    ("synthetic-identities.yaml", ("pipelines", 0, "stages", 0, "gpu"), "pipelines[0].stages[0].gpu"),
    ("synthetic-identities.yaml", ("pipelines", 0, "stages", 0, "quant"), "pipelines[0].stages[0].quant"),
    ("synthetic-identities.yaml", ("pipelines", 0, "stages", 0, "engine"), "pipelines[0].stages[0].engine"),
    ("synthetic-identities.yaml", ("pipelines", 0, "stages", 1, "engine"), "pipelines[0].stages[1].engine"),
    ("synthetic-identities.yaml", ("pipelines", 0, "stages", 1, "quant"), "pipelines[0].stages[1].quant"),
]


def _known_names() -> set[str]:
    from deployscope.catalog import default_catalog
    from deployscope.catalog.base import normalize

    cat = default_catalog()
    names: set[str] = set()
    for t in ("accelerators", "models", "quant", "engines", "api_prices", "servers", "cloud_instances", "diffusion_efficiency"):
        for r in cat.table(t):
            names |= {normalize(r.id), *(normalize(a) for a in r.aliases)}
    names |= {normalize(r.provider) for r in cat.cloud_instances} | {normalize(r.provider) for r in cat.api_prices}
    names |= {normalize(x) for x in ("us", "eu", "de", "fr", "it", "de_smard", "fp32", "int8", "pytorch", "tensorrt")}
    return names


KNOWN = _known_names()
near_miss = st.sampled_from(NAMES + ["llama-3.3-70b-instruct", "h100-sxm-80gb", "openai-gpt-4o", "aws", "vllm", "fp8", "us"]).flatmap(
    lambda n: st.integers(0, max(len(n) - 1, 0)).map(lambda i: n[:i] + "q" + n[i + 1:])
)
unknown_name = st.one_of(near_miss, st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=30))


@SETTINGS
@given(ref=st.sampled_from(REF_FIELDS), name=unknown_name)
def test_unknown_names_in_every_reference_field(ref, name, tmp_path_factory):
    import copy

    from deployscope.catalog.base import normalize

    assume(normalize(name) not in KNOWN and normalize(name))
    example, path, field = ref
    data = copy.deepcopy(EXAMPLE_DATA[example])
    if field.endswith("{}"):  # a mapping keyed by the name
        _set(data, path, {name: 1000})
        field = field.replace("{}", name)
    elif field.endswith("[0]"):
        _set(data, path, [name])
    else:
        _set(data, path, name)
    p = tmp_path_factory.mktemp("ref") / example
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    COUNTS["unknown-references"] += 1
    argv = ["plan", str(p), "--json"]
    rc, out, err = run(argv)
    check(argv, rc, err, out=out)
    assert rc == 2, f"{field} = {name!r} resolved to nothing but the plan went ahead"
    assert _error_field(err) == field, f"{field} = {name!r}: the error names {_error_field(err)!r}\n{err[-1500:]}"
