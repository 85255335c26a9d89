"""When nothing self-hosted fits, the plan says why: options stay listed with the binding reason."""

from __future__ import annotations

from pathlib import Path

import yaml

import deployscope
from deployscope.cli import main

ROOT = Path(__file__).resolve().parents[1]


def saas() -> dict:
    d = yaml.safe_load((ROOT / "examples" / "saas-chat.yaml").read_text())
    d["monte_carlo_samples"] = 0
    return d


def test_long_prompts_list_every_on_prem_option_with_the_latency_reason():
    d = saas()
    d["workloads"][0]["input_tokens"] = {"mean": 120_000}
    p = deployscope.plan(d)
    on_prem = [o for o in p.options if o.placement == "on_prem"]
    assert on_prem and all(not o.allowed for o in on_prem)
    # each names its binding constraint: latency, or memory where the model does not fit the cards a PCIe server links
    assert all(o.excluded_because[0].startswith(("latency (TTFT/TPOT):", "memory:")) for o in on_prem)
    assert sum(o.excluded_because[0].startswith("latency (TTFT/TPOT):") for o in on_prem) >= 5
    assert any(w.startswith("no self-hosted option can serve this scenario: the binding constraint is latency") for w in p.warnings)
    rec = p.option(p.recommended)
    assert rec.placement == "api"
    assert any(w.startswith("latency unknown") and "cannot be checked" in w for w in rec.warnings)
    assert "latency (TTFT/TPOT)" in " ".join(p.rationale.reasons)


def test_a_model_that_fits_no_server_names_memory(capsys, tmp_path):
    d = saas()
    d["workloads"][0]["model"] = "llama-3.1-405b-instruct"
    d["candidates"] = {"placements": ["on_prem"], "gpus": ["a100-sxm4-80gb"], "quants": ["bf16"]}
    p = deployscope.plan(d)
    assert p.recommended is None
    (o,) = p.options
    assert o.excluded_because[0].startswith("memory:") and "does not fit" in o.excluded_because[0]
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(d))
    main(["plan", str(f)])
    assert "memory:" in capsys.readouterr().out


def test_spot_is_never_recommended_for_an_interactive_service():
    p = deployscope.plan(ROOT / "examples" / "marketing-images.yaml")
    spot = [o for o in p.options if o.id.endswith("-spot")]
    assert spot and all(not o.allowed for o in spot)
    assert all(o.excluded_because[0].startswith("spot:") for o in spot)
    assert not p.recommended.endswith("-spot")
