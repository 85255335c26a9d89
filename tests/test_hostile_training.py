"""A training job that cannot finish within its deadline, the gap between its runs or the horizon
is reported as infeasible with the reason -- never planned (a 100T-token LoRA job, ~85 years on
8 A100s, was once recommended as one 8-GPU server)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployscope.errors import DeployscopeError
from deployscope.feasibility import training_run_limit
from deployscope.planner import plan
from deployscope.scenario import TrainingJob

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _finetune(**job: Any) -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLES / "quarterly-finetune-70b.yaml").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["training"][0].update(job)
    data["training"][0] = {k: v for k, v in data["training"][0].items() if v is not None}
    return data


def test_100t_lora_on_a_yearly_cadence_is_sized_to_finish_within_the_year() -> None:
    p = plan(_finetune(tokens="100T", runs_per_year=1, deadline_days=None))
    assert p.recommended is not None
    train = [c for c in p.option(p.recommended).performance.components if c.kind == "training"]
    assert train and train[0].gpus > 8  # not one 8-GPU server
    days = float(train[0].note.split(" days per run")[0].split(", ")[-1])
    assert days <= 365.0


@pytest.mark.parametrize(
    ("job", "limit_text"),
    [
        ({"tokens": "100T", "runs_per_year": 4, "deadline_days": None}, "between runs (4 a year)"),
        ({"tokens": "100T", "runs_per_year": 1, "deadline_days": 30}, "30-day deadline"),
        ({"tokens": "1000T", "runs_per_year": 1, "deadline_days": None}, "between runs (1 a year)"),
    ],
)
def test_impossible_job_is_infeasible_with_the_reason(job: dict[str, Any], limit_text: str) -> None:
    with pytest.raises(DeployscopeError) as exc:
        plan(_finetune(**job))
    msg = str(exc.value)
    assert exc.value.field == "training[0]"
    assert "infeasible" in msg and limit_text in msg and "years per run" in msg, msg


def test_infeasible_job_next_to_a_serving_workload_is_an_error_not_an_empty_plan() -> None:
    data = yaml.safe_load((EXAMPLES / "saas-chat.yaml").read_text(encoding="utf-8"))
    data["training"] = [{"name": "t", "model": "llama-3.1-70b-instruct", "method": "lora", "tokens": "1000T"}]
    with pytest.raises(DeployscopeError) as exc:
        plan(data)
    assert exc.value.field == "training[0]" and "infeasible" in str(exc.value)


def test_run_limit_is_the_tightest_of_deadline_gap_and_horizon() -> None:
    job = TrainingJob(name="j", model="m", tokens=1e9, runs_per_year=4, deadline_days=3)
    assert training_run_limit(job, 3).days == 3
    job = TrainingJob(name="j", model="m", tokens=1e9, runs_per_year=4)
    assert training_run_limit(job, 3).days == pytest.approx(365 / 4)
    job = TrainingJob(name="j", model="m", tokens=1e9, runs_per_year=0.1)  # once a decade
    limit = training_run_limit(job, 3)
    assert limit.days == 3 * 365 and "horizon" in limit.why


def test_cli_exit_2_for_an_infeasible_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deployscope.cli import main

    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(_finetune(tokens="1000T", deadline_days=None)), encoding="utf-8")
    rc = main(["plan", str(p)])
    err = capsys.readouterr().err
    assert rc == 2 and "training[0]" in err and "infeasible" in err and "Traceback" not in err
