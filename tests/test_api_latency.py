"""A hosted API's TTFT at the scenario's prompt length, and its context window (planning.api_latency)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

import deployscope
from deployscope.catalog import default_catalog
from deployscope.catalog.prices import ApiPrice
from deployscope.cli import main
from deployscope.planning.api_latency import DEFAULT_PREFILL_TOKENS_PER_S, context_window_reason, ttft_at_prompt

ROOT = Path(__file__).resolve().parents[1]


def saas(providers: list[str], prompt: float) -> dict:
    d = yaml.safe_load((ROOT / "examples" / "saas-chat.yaml").read_text())
    d["monte_carlo_samples"] = 0
    d["workloads"][0]["input_tokens"] = {"mean": prompt}
    d["candidates"] = {"placements": ["api"], "providers": providers, "include_frontier_apis": True}
    return d


def row(**kw: object) -> ApiPrice:
    base = {"id": "x", "provider": "p", "model": "m", "model_family": "f", "open_weight": False, "jurisdiction": "US",
            "data_region": "US", "input_usd_per_million_tokens": 1.0, "output_usd_per_million_tokens": 2.0, "source": "test",
            "as_of": "2026-12-01", "price_as_of": "2026-12-01"}
    return ApiPrice(**{**base, **kw})


def test_ttft_is_the_published_figure_plus_the_prompt_beyond_its_reference_at_the_prefill_rate():
    r = row(ttft_s=0.17, latency_source="s", latency_prompt_tokens=1000, latency_prompt_note="n")
    # hand: 0.17 s + (5,000 - 1,000) tokens / 4,000 tokens/s = 1.17 s
    assert ttft_at_prompt(r, 5000, 4000.0).at_prompt_s == pytest.approx(1.17, abs=1e-12)
    # a prompt shorter than the reference keeps the published figure (never scaled down)
    assert ttft_at_prompt(r, 300, 4000.0).at_prompt_s == 0.17
    # a published prefill rate wins over the fallback: 0.17 + 9,000 / 90,000 = 0.27 s
    pub = row(ttft_s=0.17, latency_source="s", latency_prompt_tokens=1000, latency_prompt_note="n",
              prefill_tokens_per_s=90_000, prefill_source="p")
    t = ttft_at_prompt(pub, 10_000, 4000.0)
    assert t.at_prompt_s == pytest.approx(0.27, abs=1e-12) and t.prefill_published
    assert "= published 0.17 s (at 1,000 prompt tokens) + 9,000 tokens / 90,000 tokens/s prefill (published)" in t.note()
    assert ttft_at_prompt(row(), 10_000, 4000.0) is None  # no published TTFT: nothing to scale
    # the default: 0.24 ms per prompt token
    assert 1000 / DEFAULT_PREFILL_TOKENS_PER_S == pytest.approx(0.24)


def test_a_published_ttft_must_say_the_prompt_it_was_measured_at():
    with pytest.raises(ValidationError, match="latency_prompt_tokens"):
        row(ttft_s=0.5, latency_source="s")
    with pytest.raises(ValidationError, match="prefill_source"):
        row(prefill_tokens_per_s=1000.0)
    with pytest.raises(ValidationError, match="max_input_tokens_source"):
        row(max_input_tokens=1000)


def test_every_catalog_row_with_a_ttft_records_its_reference_prompt_and_every_chat_row_its_context_window():
    rows = list(default_catalog().api_prices)
    assert all(r.latency_prompt_tokens is not None for r in rows if r.ttft_s is not None)
    assert all(r.max_input_tokens for r in rows if r.mode == "chat")
    cerebras = next(r for r in rows if r.id == "cerebras-llama-3.3-70b")
    assert cerebras.latency_prompt_tokens == 1000 and "artificialanalysis.ai/methodology" in cerebras.latency_prompt_note


def test_a_long_prompt_excludes_an_api_whose_scaled_ttft_misses_the_target(capsys, tmp_path):
    from deployscope.cli.plan_cmd import _latency
    from deployscope.report import render_markdown

    p = deployscope.plan(saas(["gemini"], 20_000))
    # Gemini 2.5 Flash publishes a prefill rate: 0.492 s + 20,000 / 54,400 = 0.8596 s, within 1.5 s
    flash = p.option("api-gemini-gemini-2.5-flash")
    assert flash.allowed and flash.performance.ttft_at_prompt_s == pytest.approx(0.492 + 20_000 / 54_400, abs=1e-12)
    assert flash.performance.published_ttft_s == 0.492  # the published key keeps its meaning
    # Flash-Lite publishes none: 0.42 s + 20,000 x 0.24 ms = 5.22 s, above 1.5 s
    lite = p.option("api-gemini-gemini-2.5-flash-lite")
    assert lite.performance.ttft_at_prompt_s == pytest.approx(5.22, abs=1e-9)
    assert not lite.allowed
    assert lite.excluded_because[0].startswith(
        "latency (TTFT): gemini-2.5-flash-lite: TTFT 5.22 s at a 20,000-token prompt = published 0.42 s (at 0 prompt tokens) "
        "+ 20,000 tokens / 4,167 tokens/s prefill (assumed: candidates.api_prefill_tokens_per_s), above the 1.5 s p95 target")
    a = next(a for a in p.assumptions if a.name == "candidates.api_prefill_tokens_per_s")
    assert a.origin == "assumption" and a.value == 4166.7 and "nirmalya.net" in a.source
    assert "TTFT 0.86 s at a 20,000-token prompt" in flash.performance.latency_note
    # terminal, TSV and report show the scaled figure
    assert _latency(flash) == "0.86 TTFT (published 0.49 + prompt)"
    assert "860 ms (published 492 ms + prompt prefill)" in render_markdown(p)
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(saas(["gemini"], 20_000)))
    main(["plan", str(f)])
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("rank\t"))
    col = header.split("\t").index("api_ttft_at_prompt_s")
    flash_line = next(line for line in out.splitlines() if "\tapi-gemini-gemini-2.5-flash\t" in line)
    assert flash_line.split("\t")[col] == "0.8596"


def test_the_prefill_assumption_is_overridable_and_then_the_users():
    d = saas(["gemini"], 20_000)
    d["candidates"]["api_prefill_tokens_per_s"] = 100_000
    p = deployscope.plan(d)
    lite = p.option("api-gemini-gemini-2.5-flash-lite")
    assert lite.allowed and lite.performance.ttft_at_prompt_s == pytest.approx(0.42 + 0.2, abs=1e-12)
    a = next(a for a in p.assumptions if a.name == "candidates.api_prefill_tokens_per_s")
    assert a.origin == "user" and a.value == 100_000


def test_prompts_beyond_an_apis_context_window_exclude_it_with_that_reason():
    d = saas(["openai"], 200_000)
    d["targets"]["ttft_p95_s"] = 600.0  # only the window decides
    p = deployscope.plan(d)
    gpt4o = p.option("api-openai-openai-gpt-4o")
    assert not gpt4o.allowed
    assert any(r.startswith("context window: openai-gpt-4o accepts prompts of at most 128,000 tokens, the workload's p95 prompt "
                            "is 200,000 tokens (LiteLLM") for r in gpt4o.excluded_because)
    assert p.option("api-openai-openai-gpt-4.1").allowed  # 1,047,576 tokens
    # the longest request, where given, is what must fit
    w = yaml.safe_load("input_tokens: {mean: 1000, max: 130000}")
    r = next(r for r in default_catalog().api_prices if r.id == "openai-gpt-4o")

    class W:
        input_tokens = deployscope.scenario.TokenLengths(**w["input_tokens"])

    assert "the workload's longest prompt is 130,000 tokens" in context_window_reason(r, W)


def test_a_provider_is_offered_with_its_cheapest_row_whose_context_window_takes_the_prompts(tmp_path):
    from deployscope.catalog.loader import Catalog

    base = next(r for r in default_catalog().api_prices if r.id == "together-llama-3.3-70b-turbo")
    cheap = base.model_dump(mode="json", exclude_none=True)
    cheap.update({"id": "together-llama-3.3-70b-short", "input_usd_per_million_tokens": 0.01,
                  "output_usd_per_million_tokens": 0.01, "max_input_tokens": 8_000, "max_input_tokens_source": "test row"})
    (tmp_path / "api_prices.yaml").write_text(yaml.safe_dump([cheap]))
    cat = Catalog(tmp_path)
    d = saas(["together_ai"], 1_000)
    assert deployscope.plan(d, catalog=cat).option("api-together_ai").performance.components[0].api_model == cheap["id"]
    d = saas(["together_ai"], 20_000)
    d["targets"]["ttft_p95_s"] = 600.0
    o = deployscope.plan(d, catalog=cat).option("api-together_ai")
    # the cheaper row cannot take 20,000-token prompts: the provider is offered with the row that can
    assert o.allowed and o.performance.components[0].api_model == "together-llama-3.3-70b-turbo"


def test_the_web_comparison_shows_an_apis_ttft_at_the_prompt(tmp_path):
    import warnings

    warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)
    from fastapi.testclient import TestClient

    from deployscope.store import Store
    from deployscope.web.app import create_app

    d = saas(["gemini"], 20_000)
    d["workloads"][0]["api_models"] = ["gemini-2.5-flash"]
    plan = deployscope.plan(d)
    assert plan.recommended == "api-gemini-gemini-2.5-flash"
    store = Store(str(tmp_path / "web.db"))
    try:
        sid = store.save_scenario("long prompts", "name: long\n")
        a, b = store.save_plan(sid, plan), store.save_plan(sid, plan)
        html = TestClient(create_app(store, plan_processes=False)).get(f"/compare?a={a}&b={b}").text
        assert "860 ms (published 492 ms + prompt prefill)" in html
    finally:
        store.close()
