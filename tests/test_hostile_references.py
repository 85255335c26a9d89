"""A name that resolves to nothing is an error naming the field and the closest known values --
never a filter that silently drops every option and exits 0."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployscope.errors import DeployscopeError
from deployscope.planner import plan

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))


def _with(name: str, path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_example(name))
    obj: Any = data
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value
    return data


CASES = [
    # (example, path, value, field named, text the message holds)
    ("saas-chat", ("candidates", "calibration"), "my-calibratoin", "candidates.calibration", "my-calibratoin"),
    ("saas-chat", ("workloads", 0, "api_models"), ["gpt-4o-typo"], "workloads[0].api_models[0]", "openai-gpt-4o"),
    ("saas-chat", ("workloads", 0, "api_models"), ["openai-gpt-4o", "nope"], "workloads[0].api_models[1]", "nope"),
    ("saas-chat", ("candidates", "gpus"), ["h100-sxm-typo"], "candidates.gpus[0]", "h100-sxm-80gb"),
    ("saas-chat", ("candidates", "providers"), ["awss"], "candidates.providers[0]", "aws"),
    ("saas-chat", ("candidates", "quants"), ["fp9"], "candidates.quants[0]", "fp8"),
    ("saas-chat", ("candidates", "engine"), "vllmm", "candidates.engine", "vllm"),
    ("saas-chat", ("economics", "hardware_prices"), {"h100-typo": 20000}, "economics.hardware_prices.h100-typo", "h100-sxm-80gb"),
    ("saas-chat", ("economics", "hardware_prices"), {"h100-sxm": 20000}, "economics.hardware_prices.h100-sxm", "h100-sxm-80gb"),
    ("saas-chat", ("economics", "region"), "mars", "economics.region", "us"),
    ("saas-chat", ("pipeline_runs_per_year",), {"nope": 3}, "pipeline_runs_per_year.nope", "nope"),
    ("quarterly-finetune-70b", ("training", 0, "gpu"), "a100-typo", "training[0].gpu", "a100-sxm4-80gb"),
    ("marketing-images", ("workloads", 0, "quant"), "fp9", "workloads[0].quant", "fp8"),
    ("synthetic-identities", ("pipelines", 0, "stages", 0, "gpu"), "h100-typo", "pipelines[0].stages[0].gpu", "h100-sxm-80gb"),
    ("synthetic-identities", ("pipelines", 0, "stages", 0, "quant"), "fp9", "pipelines[0].stages[0].quant", "fp8"),
    ("synthetic-identities", ("pipelines", 0, "stages", 0, "engine"), "vllmm", "pipelines[0].stages[0].engine", "vllm"),
    ("synthetic-identities", ("pipelines", 0, "stages", 0, "model"), "llama-typo", "pipelines[0].stages[0].model", "llama"),
    ("synthetic-identities", ("pipelines", 0, "stages", 1, "engine"), "pytorchh", "pipelines[0].stages[1].engine", "pytorch"),
    ("synthetic-identities", ("pipelines", 0, "stages", 1, "quant"), "fp9", "pipelines[0].stages[1].quant", "fp8"),
    ("marketing-images", ("workloads", 0, "api_models"), ["dall-e-typo"], "workloads[0].api_models[0]", "dall-e-typo"),
]


@pytest.mark.parametrize(("example", "path", "value", "field", "text"), CASES, ids=[c[3] for c in CASES])
def test_unknown_reference_is_named(example: str, path: tuple[Any, ...], value: Any, field: str, text: str) -> None:
    with pytest.raises(DeployscopeError) as exc:
        plan(_with(example, path, value))
    assert exc.value.field == field, str(exc.value)
    assert text in str(exc.value)


def test_chat_api_named_for_an_image_workload_is_an_error() -> None:
    with pytest.raises(DeployscopeError) as exc:
        plan(_with("marketing-images", ("workloads", 0, "api_models"), ["openai-gpt-4o"]))
    assert exc.value.field == "workloads[0].api_models[0]" and "not an image API" in str(exc.value)


def test_api_model_of_a_provider_left_out_is_an_error() -> None:
    data = _with("saas-chat", ("workloads", 0, "api_models"), ["openai-gpt-4o"])
    data["candidates"]["providers"] = ["aws"]
    with pytest.raises(DeployscopeError) as exc:
        plan(data)
    assert exc.value.field == "workloads[0].api_models[0]" and "candidates.providers" in str(exc.value)


def test_calibration_typo_suggests_the_saved_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deployscope.physics import calibration as cal

    monkeypatch.setenv(cal.CALIBRATION_DIR_ENV, str(tmp_path))
    (tmp_path / "calibrations").mkdir()
    (tmp_path / "calibrations" / "my-calibration.yaml").write_text(
        "name: my-calibration\nsource: bench run 1\nas_of: 2025-06-01\nfactors: []\n", encoding="utf-8"
    )
    with pytest.raises(DeployscopeError) as exc:
        plan(_with("saas-chat", ("candidates", "calibration"), "my-calibratoin"))
    assert exc.value.field == "candidates.calibration"
    assert "did you mean: my-calibration" in str(exc.value)


def test_known_references_still_plan() -> None:
    data = _with("saas-chat", ("workloads", 0, "api_models"), ["openai-gpt-4o"])
    data["economics"]["hardware_prices"] = {"h100-sxm-80gb": 25000, "dgx-h100": 300000}
    p = plan(data)
    assert any(o.placement == "api" for o in p.options)


def test_scenario_validate_checks_every_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deployscope.cli import main

    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(_with("saas-chat", ("workloads", 0, "api_models"), ["gpt-4o-typo"])), encoding="utf-8")
    rc = main(["scenario", "validate", str(p)])
    err = capsys.readouterr().err
    assert rc == 2 and "workloads[0].api_models[0]" in err and "openai-gpt-4o" in err, err
