"""A served load on a lent GPU (validation/G_device_serving.json) against the discrete-event
simulation: the file, its import, the step-time hook, and how close the simulation comes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from deployscope.catalog import default_catalog
from deployscope.physics import simulation
from deployscope.validate import device_serving
from script_helpers import load_script

importer = load_script("import_device_forward")
RUNS = Path(__file__).resolve().parents[1] / "benchmarks" / "device_runs"
FORWARD_RUNS = sorted((RUNS / "forward").glob("h200-2026-12-04-*"))
SERVE_RUNS = sorted((RUNS / "serve").glob("h200-2026-12-04-*"))


@pytest.fixture(scope="module")
def scored() -> dict:
    return device_serving.score()


def test_the_file_is_labelled_and_every_request_was_served_in_order() -> None:
    data = device_serving.load()
    assert data["source"].startswith("measured: scripts/device_serve.py on a lent ")
    assert date.fromisoformat(data["as_of"]) <= date(2026, 12, 31)
    assert default_catalog().accelerators.find(data["hardware"]) is not None
    assert len(data["runs"]) >= 4
    for run in data["runs"]:
        arrival, first, done = (np.asarray(run[k]) for k in ("arrival", "first", "done"))
        assert len(arrival) == len(first) == len(done) >= 100
        assert np.all(first >= arrival) and np.all(done >= first)
        assert np.all(np.diff(arrival) >= 0)
        assert {"prefill", "decode"} <= set(run["step_time_alone_s"])
        assert run["policy"] in ("prefill-first", "mixed")
        assert bool(run["step_time_alone_s"].get("mixed")) == (run["policy"] == "mixed")
    assert {run["policy"] for run in data["runs"]} == {"prefill-first", "mixed"}


def test_the_shipped_file_is_what_the_importer_makes_of_the_shipped_sessions(tmp_path: Path) -> None:
    out_csv, out_json = tmp_path / "G.csv", tmp_path / "G.json"
    assert importer.main([*map(str, FORWARD_RUNS), "--date", "2026-12-04", "--csv", str(out_csv),
                          "--serving", *map(str, SERVE_RUNS), "--serving-json", str(out_json)]) == 0
    assert out_json.read_bytes() == device_serving.SERVING_FILE.read_bytes()


def test_the_importer_refuses_sessions_that_served_different_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    other.mkdir()
    data = json.loads((SERVE_RUNS[0] / "serve.json").read_text())
    (other / "serve.json").write_text(json.dumps({**data, "max_batch": 32}))
    out_json = tmp_path / "G.json"
    out_json.write_text("kept\n")
    argv = [str(FORWARD_RUNS[0]), "--date", "2026-12-04", "--csv", str(tmp_path / "G.csv"), "--serving-json", str(out_json)]
    assert importer.main([*argv, "--serving", str(SERVE_RUNS[0]), str(other)]) == 2
    assert "differs from the first session in max_batch" in capsys.readouterr().err
    (other / "serve.json").write_text(json.dumps({**data, "machine": {"name": "Some GPU"}}))
    assert importer.main([*argv, "--serving", str(other)]) == 2
    assert "GPU 'Some GPU' is not one the catalog names" in capsys.readouterr().err
    assert out_json.read_text() == "kept\n"


def test_a_step_function_replaces_the_physics_and_the_scheduler_is_all_that_is_left() -> None:
    """Two requests at once, 512-token prompts, 3 tokens each, every step 0.1 s: one prefill step
    for both prompts (they fit the step's tokens), then two decode steps."""
    data = device_serving.load()
    ctx = device_serving.engine_context(data, default_catalog())
    r = simulation.simulate(ctx=ctx, input_len=512, output_len=3, rate=None, num_requests=2,
                            step_fn=lambda d, p, dc, pc, s: 0.1)
    assert r.ttft_s.mean == pytest.approx(0.1)
    assert r.tpot_s.mean == pytest.approx(0.1)
    assert r.steps == 3


def test_the_measured_step_function_reads_the_graph_the_engine_replays() -> None:
    """A decode runs the graph of the next batch size up; a prefill the graph of its whole prompts;
    a step with both (the mixed policy) the graph of both."""
    alone = {"prefill": {"1": 0.5, "2": 0.9}, "decode": {"1": 0.1, "2": 0.2, "4": 0.3}, "mixed": {"4,1": 0.7, "2,2": 0.8}}
    step = device_serving.measured_step_fn(alone, 512)
    assert step(3, 0, 0, 0, 0) == 0.3 and step(1, 0, 0, 0, 0) == 0.1
    assert step(0, 1024, 0, 0, 2) == 0.9
    assert step(3, 512, 0, 0, 1) == 0.7 and step(2, 1024, 0, 0, 2) == 0.8


def test_the_simulation_given_the_measured_steps_reproduces_the_served_load(scored: dict) -> None:
    """Same arrivals, same policy, the engine's steps as measured alone: mean, p90 and p99 TTFT
    within 20 %, and mean TPOT within 5 %, from a fifth of capacity to past it."""
    for run in scored["runs"]:
        ratio = run["predicted_over_measured"]["scheduler"]
        for key in ("mean_ttft_s", "p90_ttft_s", "p99_ttft_s"):
            assert 0.8 <= ratio[key] <= 1.2, (run["rate"], key, ratio[key])
        assert ratio["mean_tpot_s"] == pytest.approx(1.0, abs=0.05), run["rate"]
        assert ratio["requests_per_s"] == pytest.approx(1.0, abs=0.05), run["rate"]


def test_ttft_under_load_is_never_below_ttft_at_the_lightest_load(scored: dict) -> None:
    for policy in ("prefill-first", "mixed"):
        runs = sorted((r for r in scored["runs"] if r["policy"] == policy), key=lambda r: r["rate"])
        assert len(runs) >= 3
        for who in ("measured", "scheduler", "physics"):
            def ttft(run: dict, who: str = who) -> float:
                return run["measured"]["mean_ttft_s"] if who == "measured" else run["predicted"][who]["mean_ttft_s"]
            assert all(ttft(r) >= ttft(runs[0]) for r in runs), (policy, who)
