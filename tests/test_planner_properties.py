"""Property tests of the planner: cost moves the right way with its inputs; air-gapped means
on-prem only; more GPUs never lower capacity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployscope.planner import Factors, build_options, plan
from deployscope.planning.sizing import gpus_per_year, peak_rate
from deployscope.planning.verdicts import Verdicts
from deployscope.scenario import load_scenario

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _npv(ctx, res) -> float:
    return float(np.asarray(res.npv(ctx.econ.discount_rate)))


@pytest.fixture(scope="module")
def saas():
    return build_options(EXAMPLES / "saas-chat.yaml")


@pytest.fixture(scope="module")
def images():
    return build_options(EXAMPLES / "marketing-images.yaml")


@pytest.fixture(scope="module")
def pipeline():
    return build_options(EXAMPLES / "synthetic-identities.yaml")


@pytest.fixture(scope="module")
def hybrid():
    """saas-chat on Lambda H100s with a training job: a listed hybrid (base + burst + training)."""
    import yaml

    d = yaml.safe_load((EXAMPLES / "saas-chat.yaml").read_text())
    d["candidates"] = {"placements": ["on_prem", "cloud", "hybrid"], "providers": ["lambda"], "gpus": ["h100-sxm-80gb"],
                       "cloud_pricing": ["on_demand"]}
    d["load_profile"]["peak_to_average"] = 3.0
    d["training"] = [{"name": "refresh", "model": "llama-3.3-70b-instruct", "method": "lora", "tokens": "300M", "seq_len": 4096,
                      "runs_per_year": 4, "deadline_days": 3, "dataset_gb": 2}]
    ctx, opts = build_options(d)
    assert any(o.placement == "hybrid" for o in opts)
    return ctx, opts


factor = st.floats(min_value=0.05, max_value=20.0, allow_nan=False, allow_infinity=False)


@SETTINGS
@given(a=factor, b=factor)
def test_higher_tariff_never_lowers_on_prem_cost(saas, a, b):
    ctx, opts = saas
    lo, hi = min(a, b), max(a, b)
    owned = [o for o in opts if o.placement in ("on_prem", "hybrid") and not o.excluded]
    assert owned
    for o in owned:
        c_lo, c_hi = o.cost(Factors(tariff=lo)), o.cost(Factors(tariff=hi))
        assert float(c_hi.total()) >= float(c_lo.total()) - 1e-6
        assert _npv(ctx, c_hi) >= _npv(ctx, c_lo) - 1e-6


@SETTINGS
@given(a=factor, b=factor)
def test_more_demand_never_lowers_any_options_cost(saas, images, pipeline, hybrid, a, b):
    lo, hi = min(a, b), max(a, b)
    for ctx, opts in (saas, images, pipeline, hybrid):
        for o in opts:
            if o.excluded:
                continue
            c_lo, c_hi = o.cost(Factors(demand=lo)), o.cost(Factors(demand=hi))
            assert float(c_hi.total()) >= float(c_lo.total()) - 1e-6, o.id
            assert _npv(ctx, c_hi) >= _npv(ctx, c_lo) - 1e-6, o.id


def test_vectorized_costs_equal_one_by_one(saas):
    """A Monte Carlo draw array gives the same NPVs as pricing each draw alone."""
    ctx, opts = saas
    draws = np.array([0.5, 1.0, 2.7])
    for o in opts[:8]:
        if o.excluded:
            continue
        vec = np.asarray(o.cost(Factors(demand=draws, tariff=draws[::-1])).npv(ctx.econ.discount_rate))
        one = [_npv(ctx, o.cost(Factors(demand=d, tariff=t))) for d, t in zip(draws, draws[::-1])]
        assert vec == pytest.approx(one, rel=1e-9)


categories = st.lists(
    st.sampled_from(["personal", "special_category", "health", "financial", "public", "none"]), min_size=1, max_size=3, unique=True
)


@SETTINGS
@given(cats=categories, sector=st.sampled_from(["banking", "health", "public_sector", "none"]), juris=st.sampled_from(["DE", "FR", "US"]))
def test_air_gapped_excludes_every_option_with_a_cloud_or_api_part(saas, cats, sector, juris):
    ctx, opts = saas
    facts = ctx.scenario.policy.model_copy(
        update={"network_policy": "air_gapped", "data_categories": cats, "sector": sector, "organization_jurisdiction": juris}
    )
    old = ctx.scenario
    ctx.scenario = old.model_copy(update={"policy": facts})
    try:
        verdicts = Verdicts(ctx).screen(opts)  # a fresh screen: the verdicts of the changed facts
    finally:
        ctx.scenario = old
    external = [o for o in opts if any(p["kind"] != "on_prem" for p in o.parts)]
    assert external  # hybrids are listed only when an on-prem base pays for itself (none does for saas-chat)
    for o in external:
        allowed, reasons, _ = verdicts[o.id]
        assert not allowed, o.id
        assert reasons and any("air-gapped" in r or "air_gapped" in r for r in reasons), (o.id, reasons)


def test_air_gapped_plan_keeps_excluded_options_visible_with_reasons():
    p = plan(EXAMPLES / "hospital-assistant.yaml")
    assert p.recommended is not None and p.option(p.recommended).placement == "on_prem"
    others = [o for o in p.options if o.placement != "on_prem"]
    assert others, "cloud and API options stay in the plan"
    for o in others:
        assert not o.allowed and o.excluded_because
    assert all(o.placement_detail == "on_prem_air_gapped" for o in p.options if o.placement == "on_prem")


@settings(max_examples=15, deadline=None)
@given(n1=st.integers(min_value=1, max_value=16), n2=st.integers(min_value=1, max_value=16))
def test_more_gpus_never_lower_capacity(n1, n2):
    from deployscope.physics import serving

    lo, hi = min(n1, n2), max(n1, n2)
    kw = dict(tp=1, quant="fp8", input_len=1500, output_len=300)
    a = serving.estimate("llama-3.1-8b-instruct", "h100-sxm-80gb", gpus=lo, **kw)
    b = serving.estimate("llama-3.1-8b-instruct", "h100-sxm-80gb", gpus=hi, **kw)
    assert b.output_tokens_per_s >= a.output_tokens_per_s * (1 - 1e-9)
    assert b.requests_per_s >= a.requests_per_s * (1 - 1e-9)


@SETTINGS
@given(d=factor)
def test_installed_capacity_covers_the_peak_with_the_spare(saas, d):
    """The on-prem fleet the planner buys serves the final year's peak with N+1 left over."""
    ctx, opts = saas
    pieces = next(o.pieces for o in opts if o.placement == "on_prem" and not o.excluded)
    f = Factors(demand=d)
    need = gpus_per_year(ctx, pieces, f)
    for pc in pieces:
        if pc.kind != "llm":
            continue
        peak = float(np.asarray(peak_rate(pc.d, f))[-1])
        gpus = float(np.asarray(need[pc.gpu])[-1])
        replicas = gpus / pc.per_replica_gpus
        assert (replicas - 1) * pc.cap >= peak * (1 - 1e-9)


def test_scenario_with_higher_tariff_never_lowers_on_prem_npv():
    base = load_scenario(EXAMPLES / "saas-chat.yaml").model_dump(mode="json")
    base["candidates"]["placements"] = ["on_prem"]
    base["monte_carlo_samples"] = 0
    lo = dict(base, economics={**base["economics"], "tariff_per_kwh": 0.05})
    hi = dict(base, economics={**base["economics"], "tariff_per_kwh": 0.40})
    a, b = plan(lo), plan(hi)
    costed_b = {o.id: o.npv for o in b.options if o.npv is not None}
    common = [o for o in a.options if o.npv is not None and o.id in costed_b]
    assert common
    for o in common:
        assert costed_b[o.id] >= o.npv
    assert b.option(b.recommended).npv >= a.option(a.recommended).npv
