"""The loop end to end on the machine the tests run on: plan a scenario whose recommended option is
llama.cpp on a CPU slice, `export --format llamacpp`, start llama-server from the generated launch
script with the tiny random-weight GGUF, run the generated verify.sh, calibrate on its run and
re-plan. Each step's output is asserted: predicted vs measured, pass/fail, the changed plan."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deployscope.bench.sse_server import terminate
from deployscope.cli import main
from llama_server import free_port, llama_bin, tiny_gguf  # noqa: F401 - fixtures

FIX = Path(__file__).resolve().parent / "fixtures" / "export"
MODEL = "tiny-random-llama"
OPTION = "on_prem-epyc-zen4-2vcpu"


@pytest.fixture
def workspace(tmp_path, monkeypatch, tiny_gguf, capsys):  # noqa: F811
    from deployscope.catalog import set_default_catalog

    cat = tmp_path / "catalog"
    cat.mkdir()
    shutil.copy(FIX / "servers.yaml", cat / "servers.yaml")
    monkeypatch.setenv("DEPLOYSCOPE_CATALOG", str(cat))
    monkeypatch.setenv("DEPLOYSCOPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEPLOYSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'ds.db'}")
    set_default_catalog(None)
    assert main(["model", "add", str(tiny_gguf), "--id", MODEL, "--json"]) == 0
    capsys.readouterr()
    set_default_catalog(None)
    yield tmp_path
    set_default_catalog(None)


def _deployscope_wrapper(tmp_path: Path) -> Path:
    """verify.sh calls $DEPLOYSCOPE: this interpreter running this checkout's package."""
    w = tmp_path / "deployscope"
    w.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m deployscope "$@"\n')
    w.chmod(0o755)
    return w


def _start(script: Path, tmp: Path, **env: str) -> tuple[subprocess.Popen, str]:
    """Run the generated launch script on a free port until /health answers (another port if it dies)."""
    for attempt in range(3):
        port = free_port()
        with open(tmp / f"llama-server-{attempt}.log", "wb") as log:
            proc = subprocess.Popen(["bash", str(script)], env=dict(os.environ, PORT=str(port), **env), stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        terminate(proc, timeout_s=10)
    raise AssertionError((tmp / "llama-server-2.log").read_text()[-2000:])


def test_plan_export_serve_verify_calibrate_replan(workspace, llama_bin, tiny_gguf, capsys):  # noqa: F811
    tmp = workspace
    scenario = FIX / "tiny-cpu.yaml"

    # 1. plan: llama.cpp on the CPU slice is the recommendation, sized with the uncalibrated model
    assert main(["plan", str(scenario), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["recommended"] == OPTION
    before = next(o for o in plan["options"] if o["id"] == OPTION)
    replicas_before = before["performance"]["components"][0]["replicas"]
    assert replicas_before >= 2

    # 2. export from the scenario: one launch script, verify.sh, the plan
    out = tmp / "deploy"
    assert main(["export", str(scenario), "--format", "llamacpp", "--out", str(out), "--json"]) == 0
    exp = json.loads(capsys.readouterr().out)
    assert exp["option"] == OPTION and sorted(exp["files"]) == ["chat.llamacpp.sh", "export.json", "plan.json", "verify.sh"]
    script = (out / "chat.llamacpp.sh").read_text()
    assert f"run {replicas_before} replicas" in script
    comp = before["performance"]["components"][0]
    assert comp["max_batch_per_replica"] == 4  # the KV cache holds more; llama.cpp's 4 slots are the limit
    assert f"-np 4  # options[{OPTION}].performance.components[0].max_batch_per_replica 4" in script
    assert f"-ctk f16  # options[{OPTION}].performance.components[0].kv_quant {comp['kv_quant']}" in script
    assert "-t 2  # catalog accelerators[epyc-zen4-2vcpu].cores 2" in script
    # every flag the script passes is one the built llama-server knows
    help_text = subprocess.run([str(llama_bin), "--help"], capture_output=True, text=True, timeout=60, check=False).stdout
    body = script.split("args=(\n", 1)[1].split("\n)", 1)[0]
    for line in body.splitlines():
        flag = line.split()[0]
        assert flag.startswith("-") and flag in help_text.replace(",", " ").split(), flag

    # 3. start the server from the generated command
    proc, url = _start(out / "chat.llamacpp.sh", tmp, MODEL=str(tiny_gguf), HOST="127.0.0.1", LLAMA_SERVER=str(llama_bin))
    try:
        models = httpx.get(url + "/v1/models", timeout=5).json()
        assert any(m.get("id") == MODEL for m in models["data"])  # --alias from the plan

        # 4. the generated verify.sh: bench at the design point, then verify (exit 1: a prediction missed)
        venv = dict(os.environ, DEPLOYSCOPE=str(_deployscope_wrapper(tmp)), REQUESTS="12", OUT=str(tmp / "runs"), COLUMNS="160")
        r = subprocess.run(["bash", str(out / "verify.sh"), url], env=venv, capture_output=True, text=True, timeout=600, check=False)
    finally:
        terminate(proc, timeout_s=10)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "predicted vs measured" in r.stdout and "FAIL" in r.stdout and "--calibrate" in r.stdout
    run = tmp / "runs" / "chat-run.json"
    summary = json.loads(run.read_text())["summary"]
    assert summary["load"]["rate"] == pytest.approx(before["performance"]["components"][0]["capacity_per_replica"], rel=1e-4)
    assert summary["completed"] >= 11

    # 5. verify --json: the numbers behind the verdict
    assert main(["verify", str(run), "--plan", str(out / "plan.json"), "--json"]) == 1
    v = json.loads(capsys.readouterr().out)
    ttft = next(c for c in v["checks"] if c["metric"] == "ttft_p95_s")
    assert ttft["predicted"] == pytest.approx(before["performance"]["ttft_p95_s"])
    assert ttft["measured"] == pytest.approx(summary["ttft_s"]["p95"])
    band = before["performance"]["error_band"]
    for c in v["checks"]:
        if c["held"] is not None:  # held <=> measured/predicted within [1/high, 1/low]
            assert c["held"] == (1 / band["high"] <= c["measured"] / c["predicted"] <= 1 / band["low"])
    assert v["passed"] is False and any(c["held"] is False for c in v["checks"])
    assert v["slo"]["replicas"] == replicas_before

    # 6. calibrate on the run and re-plan: the loop in one command
    new_plan = tmp / "replanned.json"
    assert main(["verify", str(run), "--plan", str(out / "plan.json"), "--calibrate", "--name", "tiny-verify",
                 "--replan-out", str(new_plan), "--json"]) == 1
    res = json.loads(capsys.readouterr().out)
    cal = res["calibration"]
    assert cal["name"] == "tiny-verify" and cal["engine"] == "llamacpp"
    assert cal["rms_log_error_after"] < cal["rms_log_error_before"]
    rp = res["replan"]
    assert rp["before"]["gpus"] == before["performance"]["gpus"]
    assert rp["after"]["gpus"] < rp["before"]["gpus"]  # measured faster than planned: fewer slices
    assert rp["after"]["npv"] < rp["before"]["npv"]
    assert rp["after"]["recommended"] == OPTION
    replanned = json.loads(new_plan.read_text())
    assert replanned["scenario"]["candidates"]["calibration"] == "tiny-verify"

    # 7. the re-planned plan exports with the new replica count
    assert main(["export", str(new_plan), "--format", "llamacpp", "--out", str(tmp / "deploy2")]) == 0
    capsys.readouterr()
    assert f"run {rp['after']['replicas'][0]} replicas" in (tmp / "deploy2" / "chat.llamacpp.sh").read_text()
