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
    assert all(o.excluded_because[0].startswith(("latency (TTFT and TPOT):", "memory:")) for o in on_prem)
    assert sum(o.excluded_because[0].startswith("latency (TTFT and TPOT):") for o in on_prem) >= 5
    assert any(w.startswith("no self-hosted option can serve this scenario: the binding constraint is latency") for w in p.warnings)
    rec = p.option(p.recommended)
    assert rec.placement == "api"
    assert any(w.startswith("latency unknown") and "cannot be checked" in w for w in rec.warnings)
    assert "latency (TTFT and TPOT)" in " ".join(p.rationale.reasons)


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


def test_long_prompts_list_cloud_offers_that_cannot_meet_the_target_with_the_reason():
    d = saas()
    d["workloads"][0]["input_tokens"] = {"mean": 120_000}
    p = deployscope.plan(d)
    cloud = [o for o in p.options if o.placement == "cloud"]
    assert cloud and all(not o.allowed and o.npv is None for o in cloud)
    # the 8-GPU H100 instance holds the model but no load meets the TTFT target: listed with that reason
    p5 = p.option("cloud-aws-p5.48xlarge")
    # the reason quotes the scenario's own percentile (p95) beside its target
    assert p5.excluded_because[0].startswith("latency (TTFT and TPOT):") and "TTFT p95" in p5.excluded_because[0]
    assert "(target 1.5 s, missed)" in p5.excluded_because[0]
    # a single-GPU instance cannot hold the model: memory
    assert any(o.excluded_because[0].startswith("memory:") for o in cloud)
    assert any(w.startswith("no cloud offer can serve this scenario: the binding constraint is latency (TTFT and TPOT) / memory")
               for w in p.warnings)
    reasons = " ".join(p.rationale.reasons)
    # the PCIe cards that cannot hold the model in two linked cards are bound by memory
    on_prem = [o for o in p.options if o.placement == "on_prem"]
    n_latency = sum(o.excluded_because[0].startswith("latency (TTFT and TPOT)") for o in on_prem)
    n_memory = sum(o.excluded_because[0].startswith("memory:") for o in on_prem)
    assert n_latency >= 9 and n_memory >= 5  # H100/H200/B200/MI300X/...; L4, L40S, RTX cards
    assert (f"No on-prem option can serve this scenario; the binding constraint: latency (TTFT and TPOT) ({n_latency} option(s)), "
            f"memory ({n_memory} option(s))") in reasons
    assert "No cloud option can serve this scenario; the binding constraint: latency (TTFT and TPOT)" in reasons
    assert "Latency unknown: no published latency for this API is in the catalog" in reasons


def test_api_options_carry_their_published_latency_or_unknown_in_json_table_and_report(capsys, tmp_path):
    from deployscope.report import render_markdown

    d = saas()
    d["candidates"] = {"placements": ["api"], "providers": ["gemini"], "include_frontier_apis": True}
    p = deployscope.plan(d)
    lite = p.option("api-gemini-gemini-2.5-flash-lite")
    assert lite.performance.published_ttft_s == 0.42 and "modelstats.ai" in lite.performance.latency_note
    unknown = p.option("api-gemini-gemini-3.1-flash-lite")
    assert unknown.performance.published_ttft_s is None and "latency unknown" in unknown.performance.latency_note
    # a published TTFT above the target excludes the API, naming the figure and its source
    pro = p.option("api-gemini-gemini-2.5-pro")
    assert not pro.allowed and pro.excluded_because[0].startswith(
        "latency (TTFT): gemini-2.5-pro: TTFT 6.43 s at a 1,500-token prompt = published 6.065 s (at 0 prompt tokens)")
    # the rationale checks the recommended API's latency, scaled to the prompt, and says what is unknown
    assert p.recommended == lite.id
    assert lite.performance.ttft_at_prompt_s == 0.42 + 1500 * 0.24e-3
    assert any(r.startswith("Latency: TTFT 0.78 s at the scenario's mean prompt (published 0.42 s on a short prompt, plus the "
                            "prompt's prefill) is within the 1.5 s TTFT target; its output speed is unknown")
               for r in p.rationale.reasons)
    assert '"latency_note"' in p.model_dump_json() and '"ttft_at_prompt_s"' in p.model_dump_json()
    md = render_markdown(p)
    assert "780 ms (published 420 ms + prompt prefill)" in md and "| unknown |" in md
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(d))
    main(["plan", str(f)])
    out = capsys.readouterr().out
    assert "api_latency" in out and "latency unknown" in out and "published latency: TTFT 0.42 s" in out


def test_a_published_output_speed_slower_than_the_tpot_target_excludes_the_api(tmp_path):
    from deployscope.catalog.loader import Catalog

    (tmp_path / "api_prices.yaml").write_text(yaml.safe_dump([{
        "id": "gemini-2.5-flash-lite", "output_tokens_per_s": 10.0, "latency_source": "test measurement",
        "source": "test row", "as_of": "2026-12-01"}]))
    d = saas()
    d["candidates"] = {"placements": ["api"], "providers": ["gemini"], "include_frontier_apis": True}
    p = deployscope.plan(d, catalog=Catalog(tmp_path))
    o = p.option("api-gemini-gemini-2.5-flash-lite")
    assert not o.allowed
    assert any(r.startswith("latency (TPOT): gemini-2.5-flash-lite has a published output speed of 10 tokens/s (0.1 s per token), "
                            "slower than the 0.05 s p95 TPOT target") for r in o.excluded_because)


def test_the_binding_latency_target_is_named_ttft_when_only_ttft_is_missed():
    d = saas()
    d["workloads"][0]["input_tokens"] = {"mean": 120_000}
    d["targets"]["tpot_p95_s"] = 1.0  # decode is fast enough; only the long prefill misses its target
    d["candidates"] = {"placements": ["on_prem", "api"]}
    p = deployscope.plan(d)
    on_prem = [o for o in p.options if o.placement == "on_prem"]
    assert on_prem and all(o.excluded_because[0].startswith(("latency (TTFT): ", "memory: ")) for o in on_prem)
    n_latency = sum(o.excluded_because[0].startswith("latency (TTFT): ") for o in on_prem)
    n_memory = len(on_prem) - n_latency
    assert n_latency >= 9 and n_memory >= 4
    assert f"the binding constraint: latency (TTFT) ({n_latency} option(s)), memory ({n_memory} option(s))" in " ".join(p.rationale.reasons)


def test_a_facility_too_small_for_every_fleet_is_named_as_the_binding_constraint():
    d = saas()
    d["economics"]["facility_limits"] = {"power_available_kw": 5}
    d["candidates"] = {"placements": ["on_prem", "api"]}
    p = deployscope.plan(d)
    on_prem = [o for o in p.options if o.placement == "on_prem"]
    assert on_prem and all(not o.allowed for o in on_prem)
    # facility reasons name the power the fleet needs against what the site has; the rationale names the constraint
    assert any(o.excluded_because[0].startswith("facility: needs") and "5 kW the facility has" in o.excluded_because[0]
               for o in on_prem)
    reasons = " ".join(p.rationale.reasons)
    assert "No on-prem option can serve this scenario; the binding constraint: facility" in reasons


def test_the_binding_constraint_comes_from_sizing_not_from_the_workload_name():
    """An image workload named "outfit-fitting-previews" whose images take longer than the target on
    every GPU is ruled out by image latency; the reason's words ("fit" in the name) do not make it a
    memory failure, as reading the kind back from the text did."""
    d = yaml.safe_load((ROOT / "examples" / "marketing-images.yaml").read_text())
    d["monte_carlo_samples"] = 0
    d["workloads"][0]["name"] = "outfit-fitting-previews"
    d["workloads"][0]["image_latency_s"] = 0.05
    d["candidates"] = {"placements": ["on_prem"], "gpus": ["l40s-48gb", "h100-sxm-80gb"]}
    p = deployscope.plan(d)
    assert p.recommended is None and p.options
    for o in p.options:
        assert o.excluded_because[0].startswith("image latency: outfit-fitting-previews: one image takes"), o.excluded_because[0]

