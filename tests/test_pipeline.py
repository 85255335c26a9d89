"""Pipelines: schema errors naming pipeline/stage/field, sizing, conservation, CLI."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from deployscope import pipeline as P
from deployscope.cli import main
from deployscope.errors import DeployscopeError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "synthetic-identities.yaml"

BASE = {
    "name": "ids",
    "items": 100_000,
    "deadline_days": 7,
    "stages": [
        {"name": "profile", "model": "meta-llama/Llama-3.1-8B-Instruct", "gpu": "h100-sxm-80gb", "input_len": 200, "output_len": 400},
        {"name": "portrait", "model": "sdxl", "gpu": "l40s", "resolution": "1024x1024", "steps": 30, "cfg": True},
    ],
}


def _with(mutate):
    d = copy.deepcopy(BASE)
    mutate(d)
    return d


@pytest.mark.parametrize(
    "mutate,path,needle",
    [
        (lambda d: d["stages"][1].update(steps=-3), "pipelines[0].stages[1].steps", "must be > 0 (got -3)"),
        (lambda d: d["stages"][0].update(output_len=0), "pipelines[0].stages[0].output_len", "must be > 0"),
        (lambda d: d["stages"][1].update(resolution="1000x7"), "pipelines[0].stages[1].resolution", "multiples of 8"),
        (lambda d: d["stages"][1].update(colour="red"), "pipelines[0].stages[1].colour", "unknown field"),
        (lambda d: d["stages"][0].pop("model"), "pipelines[0].stages[0].model", "required"),
        (lambda d: d["stages"][0].update(kind="video"), "pipelines[0].stages[0].kind", "llm or diffusion"),
        (lambda d: d.pop("items"), "pipelines[0]", "items_per_day"),
        (lambda d: d.update(items_per_day=10), "pipelines[0]", "not both"),
        (lambda d: d.update(utilization=1.5), "pipelines[0].utilization", "<= 1"),
        (lambda d: d["stages"].append(dict(d["stages"][0])), "pipelines[0]", "unique"),
    ],
)
def test_bad_pipelines_name_the_stage_and_field(mutate, path, needle):
    with pytest.raises(DeployscopeError) as exc:
        P.parse_pipelines([_with(mutate)])
    assert exc.value.field == path
    assert needle in str(exc.value)
    assert "pipeline 'ids'" in str(exc.value)


def test_error_names_the_stage_by_name():
    with pytest.raises(DeployscopeError) as exc:
        P.parse_pipelines([_with(lambda d: d["stages"][1].update(steps=-3))])
    assert str(exc.value).startswith("pipelines[0].stages[1].steps: must be > 0 (got -3)")
    assert "stage 'portrait'" in str(exc.value)


def test_kind_is_inferred():
    p = P.parse_pipelines([BASE])[0]
    assert [s.kind for s in p.stages] == ["llm", "diffusion"]
    assert p.stages[1].resolution == (1024, 1024)
    assert p.daily_items == pytest.approx(100_000 / 7)


def test_size_example_pipeline():
    sizing = P.size_pipelines(P.load_pipelines(EXAMPLE))[0]
    names = [s.name for s in sizing.stages]
    assert names == ["profile", "portrait", "posts"]
    assert sizing.bottleneck_stage == "portrait"
    assert sizing.total_gpu_hours == pytest.approx(sum(s.gpu_hours for s in sizing.stages))
    for s in sizing.stages:
        assert s.gpus >= 1
        assert s.capacity_items_per_day >= sizing.items_per_day * (1 - 1e-9)


def test_every_stage_carries_its_sources():
    """LLM stages name the catalog rows their serving estimate rests on, as image stages do."""
    from deployscope.catalog import default_catalog

    cat = default_catalog()
    sizing = P.size_pipelines(P.load_pipelines(EXAMPLE))[0]
    for s in sizing.stages:
        assert s.sources, s.name
    profile = next(s for s in sizing.stages if s.kind == "llm")
    assert cat.models.get(profile.model).source in profile.sources
    assert cat.accelerators.get(profile.gpu).source in profile.sources
    assert cat.engines.get("vllm").source in profile.sources


def _fake_rates(monkeypatch, llm_s: float, img_s: float):
    monkeypatch.setattr(P, "_llm_rate", lambda stage, cat: (1, llm_s, None, None, []))
    monkeypatch.setattr(P, "_diffusion_rate", lambda stage, cat: (1, img_s, None, None, []))


@settings(max_examples=60, deadline=None)
@given(
    llm_s=st.floats(1e-4, 10),
    img_s=st.floats(1e-3, 30),
    items=st.floats(1, 1e7),
    days=st.floats(0.5, 60),
    calls=st.floats(0.5, 10),
    images=st.floats(0.5, 4),
    util=st.floats(0.1, 1.0),
)
def test_conservation_sum_of_stages_is_total(llm_s, img_s, items, days, calls, images, util):
    with pytest.MonkeyPatch.context() as mp:
        _fake_rates(mp, llm_s, img_s)
        spec = _with(lambda d: (d.update(items=items, deadline_days=days, utilization=util), d["stages"][0].update(calls_per_item=calls), d["stages"][1].update(images_per_item=images)))
        s = P.size_pipeline(spec, catalog=object())
    assert s.total_gpu_hours == pytest.approx(math.fsum(x.gpu_hours for x in s.stages), rel=1e-12)
    assert s.total_gpu_hours_per_day == pytest.approx(math.fsum(x.gpu_hours_per_day for x in s.stages), rel=1e-12)
    assert s.total_gpu_hours == pytest.approx(s.total_gpu_hours_per_day * days, rel=1e-9)
    expected = items * (calls * llm_s + images * img_s) / 3600
    assert s.total_gpu_hours == pytest.approx(expected, rel=1e-9)
    for x in s.stages:
        assert x.gpus * 24 * util >= x.gpu_hours_per_day * (1 - 1e-9)  # enough GPUs for the daily volume
    assert s.bottleneck_stage == max(s.stages, key=lambda x: x.gpu_hours_per_day).name


def test_more_volume_never_needs_fewer_gpus(monkeypatch):
    _fake_rates(monkeypatch, 0.05, 2.0)
    small = P.size_pipeline(_with(lambda d: d.update(items=10_000)), catalog=object())
    big = P.size_pipeline(_with(lambda d: d.update(items=1_000_000)), catalog=object())
    assert all(b.gpus >= s.gpus for s, b in zip(small.stages, big.stages))


def test_cli_pipeline_json(capsys):
    assert main(["pipeline", str(EXAMPLE), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["bottleneck_stage"] == "portrait"
    for s in d["stages"]:
        for key in ("name", "model", "gpu", "gpus", "gpu_hours_per_day"):
            assert key in s
    assert d["total_gpu_hours"] == pytest.approx(sum(s["gpu_hours"] for s in d["stages"]))


def test_cli_pipeline_renders(capsys):
    assert main(["pipeline", str(EXAMPLE)]) == 0
    assert "bottleneck" in capsys.readouterr().out


def test_cli_pipeline_ignores_other_top_level_keys(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"name": "x", "economics": {"anything": [1, 2]}, "pipelines": [BASE]}))
    assert main(["pipeline", str(f), "--json"]) == 0


@pytest.mark.parametrize(
    "content,needle",
    [
        ({"name": "x", "pipelines": [_with(lambda d: d["stages"][1].update(steps=-3))]}, "pipelines[0].stages[1].steps"),
        ({"name": "x", "pipelines": [_with(lambda d: d["stages"][0].update(gpu="no-such-gpu"))]}, "pipelines[0].stages[0]"),
        ({"name": "x"}, "pipelines"),
        ([1, 2], "top level"),
    ],
)
def test_cli_pipeline_bad_files_exit_2(tmp_path, capsys, content, needle):
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(content))
    assert main(["pipeline", str(f)]) == 2
    assert needle in capsys.readouterr().err


def test_cli_pipeline_missing_file_exit_2(capsys):
    assert main(["pipeline", "/no/such/file.yaml"]) == 2
