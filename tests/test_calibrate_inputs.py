"""deployscope calibrate: what it reads from runs, and how it refuses what it cannot fit."""

from __future__ import annotations

import json

import pytest

from deployscope.bench.calibrate import load_run, observations
from deployscope.bench.sse_server import ServerProcess
from deployscope.cli import main


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    with ServerProcess(ttft=0.01, itl=0.002) as srv:
        assert main(["bench", srv.url, "--concurrency", "2", "--requests", "6", "--output-len", "8", "--input-len", "8",
                     "--export", str(d / "plain.json"), "--json"]) == 0
        assert main(["bench", srv.url, "--sweep", "--requests", "6", "--output-len", "8", "--input-len", "8", "--max-concurrency", "4",
                     "--gpu", "h100", "--engine", "vllm", "--catalog-model", "llama-3.1-8b", "--export", str(d / "sweep.json"), "--json"]) == 0
        assert main(["bench", srv.url, "--concurrency", "2", "--warmup", "2", "--requests", "6", "--output-len", "8", "--input-len", "8",
                     "--gpu", "h100", "--engine", "sglang", "--catalog-model", "llama-3.1-8b", "--export", str(d / "warm.json"),
                     "--json"]) == 0
        assert main(["bench", srv.url, "--concurrency", "2", "--requests", "6", "--output-len", "8", "--input-len", "8",
                     "--gpu", "h100", "--engine", "sglang", "--catalog-model", "llama-3.1-8b", "--export", str(d / "cold.json"),
                     "--json"]) == 0
    return d


def test_run_without_hints_needs_them_on_the_command_line(exported, capsys):
    capsys.readouterr()
    assert main(["calibrate", str(exported / "plain.json")]) == 2
    err = capsys.readouterr().err
    assert "--gpu" in err and "--engine" in err  # the model name came from GET /v1/models


def test_sweep_steps_become_observations(exported):
    run = load_run(str(exported / "sweep.json"))
    obs = observations(run)
    assert len(obs) == len(run["summary"]["steps"]) >= 3
    assert {o.model for o in obs} == {"llama-3.1-8b"} and {o.gpu for o in obs} == {"h100"} and {o.engine for o in obs} == {"vllm"}
    assert obs[0].concurrency == 1 and obs[-1].rate is not None
    assert all(o.measured["tpot_s"] == pytest.approx(0.002, rel=0.5) for o in obs)
    # command-line values override what the run recorded
    assert {o.gpu for o in observations(run, gpu="a100")} == {"a100"}


def test_not_an_export(tmp_path, capsys):
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"hello": 1}))
    assert main(["calibrate", str(p)]) == 2
    assert "not a deployscope bench export" in capsys.readouterr().err


def test_a_run_without_warm_up_gets_a_note_and_a_warmed_run_none(exported, tmp_path, monkeypatch, capsys):
    """The first requests of a run on a fresh server carry a one-off wait that calibrate would read
    as time per request: a run that sent no warm-up requests is named in a note, with the wait the
    catalog holds for its engine; a run with --warmup is not."""
    from deployscope.bench.calibrate import calibrate, cold_start_notice
    from deployscope.catalog import Catalog

    monkeypatch.setenv("DEPLOYSCOPE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DEPLOYSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'ds.db'}")
    cold, warm = load_run(str(exported / "cold.json")), load_run(str(exported / "warm.json"))
    delay = Catalog().engines.get("sglang").perf.first_wave_delay_s
    assert delay > 0
    assert cold_start_notice(warm, "sglang", delay) is None
    note = cold_start_notice(cold, "sglang", delay)
    assert note is not None and cold["id"] in note and "--warmup" in note and f"{delay:.2g} s" in note
    res = calibrate([str(exported / "cold.json"), str(exported / "warm.json")], save=False)
    assert res["notices"] == [note]
    # the command line prints it, and its JSON carries it
    capsys.readouterr()
    assert main(["calibrate", str(exported / "cold.json"), "--name", "cold-check"]) == 0
    assert "sent no warm-up requests" in " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal width
    assert main(["calibrate", str(exported / "warm.json"), "--name", "warm-check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["notices"] == []
