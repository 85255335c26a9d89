"""The executor: serial, local process pool and a real Ray head on 127.0.0.1 give identical results
for design-space sweeps and Monte Carlo blocks; the CLI's --ray / --workers options."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from deployscope import parallel
from deployscope.cli import main
from deployscope.errors import DeployscopeError

MODELS = ["llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b"]
GPUS = ["h100-sxm", "a100-sxm4-80gb", "l40s"]
QUANTS = ["bf16", "fp8", "int4-awq"]
TPS = [1, 2, 4, 8]
INS = [512, 2048, 8192]
OUTS = [128, 1024]


def _resolved():
    from deployscope.catalog import default_catalog

    cat = default_catalog()
    return [cat.models.get(m).id for m in MODELS], [cat.accelerators.get(g).id for g in GPUS]


def _same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x["model"], x["gpu"], x["quant"], x["skipped"]) == (y["model"], y["gpu"], y["quant"], y["skipped"])
        if x["points"]:
            assert set(x["columns"]) == set(y["columns"])
            for k in x["columns"]:
                np.testing.assert_array_equal(x["columns"][k], y["columns"][k])


# ------------------------------------------------------------------------------ local
def test_sweep_serial_equals_process_pool_and_direct_call():
    models, gpus = _resolved()
    chunks = parallel.sweep_chunks(models, gpus, QUANTS, TPS, INS, OUTS)
    assert len(chunks) == len(models) * len(gpus) * len(QUANTS)
    serial = parallel.run_sweep(chunks)
    with parallel.LocalExecutor(2) as ex:
        pooled = parallel.run_sweep(chunks, ex)
    _same(serial, pooled)
    assert sum(r["points"] for r in serial) > 0
    # a chunk is exactly the vectorized physics call
    from deployscope.physics import serving

    r = serial[0]
    pts = serving.max_throughput_points(models[0], gpus[0], tp=np.array(TPS, float)[:, None, None],
                                        input_len=np.array(INS, float)[None, :, None],
                                        output_len=np.array(OUTS, float)[None, None, :], quant=QUANTS[0])
    np.testing.assert_array_equal(r["columns"]["output_tokens_per_s"], pts["output_tokens_per_s"].ravel())


def _mc_fn(price, tariff, scale=1.0):
    return np.vstack([price * scale + tariff, 2 * price - tariff])


DISTS = {"price": ("triangular", 0.8, 1.0, 1.5), "tariff": {"dist": "lognormal", "median": 0.2, "sigma": 0.3}}


def test_monte_carlo_blocks_identical_on_any_executor_and_worker_count():
    n = 3 * 1000 + 17
    a = parallel.monte_carlo_samples(_mc_fn, DISTS, n, seed=7, base_inputs={"scale": 2.0}, block_size=1000)
    assert a.shape == (2, n)
    with parallel.LocalExecutor(2) as ex:
        b = parallel.monte_carlo_samples(_mc_fn, DISTS, n, seed=7, base_inputs={"scale": 2.0}, executor=ex, block_size=1000)
    with parallel.LocalExecutor(3) as ex:
        c = parallel.monte_carlo_samples(_mc_fn, DISTS, n, seed=7, base_inputs={"scale": 2.0}, executor=ex, block_size=1000)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    d = parallel.monte_carlo_samples(_mc_fn, DISTS, n, seed=8, base_inputs={"scale": 2.0}, block_size=1000)
    assert not np.array_equal(a, d)
    # blocks are independent streams, not the same numbers repeated
    assert not np.array_equal(a[:, :1000], a[:, 1000:2000])
    s = parallel.monte_carlo(lambda price, tariff: price + tariff, DISTS, n=5000, seed=1)
    assert s["p10"] <= s["p50"] <= s["p90"] and s["n"] == 5000
    # the distributions are the ones asked for: mean of a triangular(0.8, 1, 1.5) is 1.1
    t = parallel.monte_carlo_samples(lambda price, tariff: price, DISTS, 40_000, seed=3)
    assert abs(t.mean() - 1.1) < 0.01


def test_bad_inputs_are_deployscope_errors():
    for bad in ("", "localhost", "http://x:1", "x:99999", "a b:1", "auto2"):
        with pytest.raises(DeployscopeError) as ei:
            parallel.check_ray_address(bad)
        assert ei.value.field == "--ray"
    for ok in ("auto", "127.0.0.1:6379", "head.example:10001", "ray://10.0.0.1:10001", "[::1]:6379"):
        assert parallel.check_ray_address(ok) == ok
    for bad in (0, -1, "x", 1.5, True, 5000):
        with pytest.raises(DeployscopeError):
            parallel.check_workers(bad)
    with pytest.raises(DeployscopeError):
        parallel.block_sizes(0)
    with pytest.raises(DeployscopeError):
        parallel.block_seeds(-1, 2)


def test_sweep_cli_writes_csv_and_json(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["sweep", "-m", "llama-3.1-8b", "-g", "h100-sxm,l40s", "--tp", "1,2", "--input-len", "1024",
                 "--output-len", "256", "--workers", "2", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["points"] == 1 * 2 * 3 * 2 * 1 * 1
    assert summary["executor"]["kind"] == "local"
    lines = out.read_text().splitlines()
    assert lines[0].split(",") == list(parallel.SWEEP_COLUMNS)
    assert len(lines) - 1 == summary["fitting"]
    js = tmp_path / "s.json"
    assert main(["sweep", "-m", "llama-3.1-8b", "-g", "h100-sxm,l40s", "--tp", "1,2", "--input-len", "1024",
                 "--output-len", "256", "-w", "1", "--out", str(js), "--json"]) == 0
    serial = json.loads(capsys.readouterr().out)
    assert serial["executor"]["kind"] == "serial"
    rows = json.loads(js.read_text())["rows"]
    import csv

    with out.open() as f:
        csv_rows = list(csv.DictReader(f))
    assert [float(r["output_tokens_per_s"]) for r in csv_rows] == [r["output_tokens_per_s"] for r in rows]


@pytest.mark.parametrize(
    "argv,field",
    [
        (["sweep", "--tp", "0"], "--tp"),
        (["sweep", "--tp", "x"], "--tp"),
        (["sweep", "--input-len", "-5"], "--input-len"),
        (["sweep", "--model", "no-such-model"], "--model"),
        (["sweep", "--gpu", "no-such-gpu"], "--gpu"),
        (["sweep", "--quant", "int3"], "--quant"),
        (["sweep", "--ray", "not an address"], "--ray"),
        (["sweep", "--workers", "0"], "--workers"),
        (["sweep", "-m", "llama-3.1-8b", "--out", "x.parquet"], "--out"),
        (["sweep", "-m", "sdxl"], "--model"),
    ],
)
def test_sweep_cli_rejections_name_the_option(argv, field, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err


# ------------------------------------------------------------------------------ Ray
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_env(tmp: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        RAY_USAGE_STATS_ENABLED="0",
        # keep every Ray address on loopback (Ray otherwise swaps 127.0.0.1 for the LAN address)
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
        RAY_TMPDIR=tmp,
    )
    return env


@pytest.fixture(scope="module")
def ray_head():
    """A real Ray head on 127.0.0.1 (2 CPUs), stopped afterwards: only processes this fixture started."""
    # The Ray CLI run by this interpreter, not a `ray` found on PATH: the head's workers use the
    # head's Python, and another environment's Python would import another copy of deployscope.
    ray_cli = [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]
    assert importlib.util.find_spec("ray") is not None, "Ray comes with the test extra (pip install -e '.[test]')"
    tmp = tempfile.mkdtemp(prefix="dsray", dir="/tmp")  # Ray's socket paths must stay short
    port = _free_port()
    env = _ray_env(tmp)
    log = open(Path(tmp) / "head.log", "wb")
    proc = subprocess.Popen(
        [*ray_cli, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", tmp],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    up = False
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                up = True
                break
        except OSError:
            time.sleep(0.3)
    if not up:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("Ray head did not start:\n" + (Path(tmp) / "head.log").read_text(errors="replace")[-3000:])
    old = {k: os.environ.get(k) for k in ("RAY_USAGE_STATS_ENABLED", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_TMPDIR")}
    os.environ.update({k: env[k] for k in old})
    try:
        yield {"address": address, "env": env, "tmp": tmp, "started_s": None}
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        # --block: the `ray start` process owns the head's processes; end its whole session group
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:  # whatever of the group is left (raylet, gcs_server, workers)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_ray_head_listens_only_on_loopback(ray_head):
    port = int(ray_head["address"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout if shutil.which("ss") else ""
    for line in out.splitlines():
        if line.split()[3].endswith(f":{port}"):
            assert "127.0.0.1" in line.split()[3], line


def test_sweep_and_monte_carlo_identical_on_ray(ray_head):
    models, gpus = _resolved()
    chunks = parallel.sweep_chunks(models, gpus, QUANTS, TPS, INS, OUTS)
    serial = parallel.run_sweep(chunks)
    ex = parallel.get_executor(ray_address=ray_head["address"])
    import ray.cloudpickle

    # workers cannot import this test module: ship its functions by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        assert ex.describe()["kind"] == "ray" and ex.workers == 2
        on_ray = parallel.run_sweep(chunks, ex)
        _same(serial, on_ray)
        n = 2 * 1000 + 5
        local = parallel.monte_carlo_samples(_mc_fn, DISTS, n, seed=11, block_size=1000)
        remote = parallel.monte_carlo_samples(_mc_fn, DISTS, n, seed=11, block_size=1000, executor=ex)
        np.testing.assert_array_equal(local, remote)
    finally:
        ex.close()


def test_sweep_cli_on_ray_matches_local(ray_head, tmp_path, capsys):
    args = ["sweep", "-m", "llama-3.1-8b,mixtral-8x7b", "-g", "h100-sxm,a100-sxm4-80gb", "--tp", "1,2,4",
            "--input-len", "512,4096", "--output-len", "256"]
    a, b = tmp_path / "local.csv", tmp_path / "ray.csv"
    assert main([*args, "--out", str(a), "--json"]) == 0
    capsys.readouterr()
    assert main([*args, "--ray", ray_head["address"], "--out", str(b), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["executor"]["kind"] == "ray"
    assert a.read_text() == b.read_text()
    assert len(a.read_text().splitlines()) > 1


def test_ray_auto_uses_ray_address_env(ray_head, monkeypatch, capsys):
    monkeypatch.setenv("RAY_ADDRESS", ray_head["address"])
    assert main(["sweep", "-m", "llama-3.1-8b", "-g", "h100-sxm", "--tp", "1", "--input-len", "512",
                 "--output-len", "64", "--ray", "auto", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["executor"]["kind"] == "ray"


def test_ray_unreachable_address_is_an_error_not_a_hang(ray_head, capsys):
    import ray

    if ray.is_initialized():
        ray.shutdown()
    env = dict(ray_head["env"])
    dead = _free_port()
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "deployscope", "sweep", "-m", "llama-3.1-8b", "-g", "h100-sxm",
                        "--ray", f"127.0.0.1:{dead}"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "--ray" in r.stderr and "Traceback" not in r.stderr
    assert time.monotonic() - t0 < 30


# ------------------------------------------------------------------------------ plan --ray
def _plan_json(argv, capsys) -> dict:
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    d.pop("elapsed_s", None)
    return d


@pytest.fixture()
def big_mc_scenario(tmp_path):
    """An example with enough Monte Carlo draws for several seeded blocks."""
    import yaml

    root = Path(__file__).resolve().parents[1] / "examples"
    data = yaml.safe_load((root / "saas-chat.yaml").read_text())
    data["monte_carlo_samples"] = 3 * parallel.MC_BLOCK_SIZE + 123
    data["seed"] = 42
    p = tmp_path / "mc.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_plan_monte_carlo_on_ray_identical(ray_head, big_mc_scenario, capsys):
    local = _plan_json(["plan", str(big_mc_scenario), "--json"], capsys)
    assert local["monte_carlo"]["samples"] == 3 * parallel.MC_BLOCK_SIZE + 123
    on_ray = _plan_json(["plan", str(big_mc_scenario), "--json", "--ray", ray_head["address"]], capsys)
    assert on_ray == local
    # and a different seed moves the figures (the draws are really used)
    import yaml

    data = yaml.safe_load(big_mc_scenario.read_text())
    data["seed"] = 43
    big_mc_scenario.write_text(yaml.safe_dump(data))
    other = _plan_json(["plan", str(big_mc_scenario), "--json"], capsys)
    assert other["monte_carlo"]["ranges"] != local["monte_carlo"]["ranges"]


def test_plan_monte_carlo_small_n_unchanged_by_blocking(capsys):
    """Up to one block, the draws are exactly those of one default_rng(seed) (figures stable)."""
    from deployscope.economics.uncertainty import sample

    ranges = {"a": (0.8, 1.0, 1.3), "b": (0.5, 1.0, 1.1)}
    rng = np.random.default_rng(0)
    ref = np.vstack([sample(("triangular", *ranges[k]), 2000, rng, k) for k in ranges])
    got = parallel.monte_carlo_samples(lambda a, b: np.vstack([a, b]), {k: ("triangular", *v) for k, v in ranges.items()}, 2000, 0)
    np.testing.assert_array_equal(ref, got)


def test_plan_bad_ray_address_exit_2(capsys):
    root = Path(__file__).resolve().parents[1] / "examples"
    assert main(["plan", str(root / "saas-chat.yaml"), "--ray", "nope"]) == 2
    assert "--ray" in capsys.readouterr().err
