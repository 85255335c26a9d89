"""Policy engine: rules as data, air-gapped exclusion (property), sector rules, licences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from deployscope.catalog import Catalog
from deployscope.errors import DeployscopeError
from deployscope.policy import (
    PLACEMENTS,
    PlacementOption,
    PlacementPart,
    PolicyFacts,
    evaluate,
    matches,
    option_from_row,
)

CAT = Catalog("")


def ids(findings):
    return [f.rule_id for f in findings]


def test_rule_and_licence_rows_are_complete():
    assert len(CAT.policy_rules) >= 20
    for r in CAT.policy_rules:
        assert r.citation and r.source and r.as_of and r.version
    # every licence id used by a model is in the licence catalog
    missing = {m.license for m in CAT.models} - set(CAT.licenses.ids())
    assert not missing, missing


def test_matcher_language():
    v = {"a": "x", "l": ["p", "q"], "n": 5, "none": None}
    assert matches(v, {"a": "X"})
    assert matches(v, {"a": ["x", "y"], "l": "p", "n": {"gt": 4, "lte": 5}})
    assert matches(v, {"l": {"none_of": ["z"]}, "none": {"exists": False}})
    assert not matches(v, {"l": {"all_of": ["p", "z"]}})
    assert matches(v, {"any": [{"a": "y"}, {"n": 5}]}) and matches(v, {"not": {"a": "y"}})
    assert not matches(v, {"none": {"gt": 1}})
    with pytest.raises(DeployscopeError):
        matches(v, {"missing": 1})
    with pytest.raises(DeployscopeError):
        matches(v, {"a": {"like": "x"}})


part_st = st.builds(
    PlacementPart,
    kind=st.sampled_from(["on_prem", "cloud", "api"]),
    jurisdiction=st.sampled_from(["US", "EU", "DE", "FR", "CN", "CH", "self"]),
    data_region=st.sampled_from(["US", "EU", "DE", "FR", "CN", "CH", "self", "global"]),
    certifications=st.lists(st.sampled_from(["DPF", "C5", "SecNumCloud", "DoD-IL5", "ISO27001"]), max_size=3),
)
facts_st = st.builds(
    PolicyFacts,
    data_categories=st.lists(st.sampled_from(["personal", "health", "public", "cui", "financial"]), min_size=1, max_size=3),
    organization_jurisdiction=st.sampled_from([None, "DE", "FR", "US"]),
    sector=st.sampled_from(["banking", "health", "public_sector", "defense", "none"]),
    synthetic_content=st.booleans(),
    monthly_active_users=st.one_of(st.none(), st.integers(0, 10**9)),
)


@settings(max_examples=80, deadline=None)
@given(facts=facts_st, parts=st.lists(part_st, min_size=1, max_size=3), placement=st.sampled_from(PLACEMENTS))
def test_air_gapped_excludes_every_option_with_a_cloud_or_api_part(facts, parts, placement):
    facts = facts.model_copy(update={"network_policy": "air_gapped"})
    option = PlacementOption(id="o", placement=placement, parts=parts)
    v = evaluate(facts, option, CAT, model_license="llama3.1")
    external = any(p.kind != "on_prem" for p in parts)
    if external:
        assert not v.allowed
        assert "network.air_gapped.no_external" in ids(v.excluded_because)
        assert all(f.text and f.citation for f in v.excluded_because)
    else:
        assert "network.air_gapped.no_external" not in ids(v.excluded_because)


def test_air_gapped_standard_placements_hybrid_included():
    facts = PolicyFacts(network_policy="air_gapped")
    allowed = {p: evaluate(facts, PlacementOption.standard(p), CAT).allowed for p in PLACEMENTS}
    assert allowed == {p: p in ("on_prem", "on_prem_air_gapped") for p in PLACEMENTS}
    v = evaluate(facts, PlacementOption.standard("on_prem_air_gapped"), CAT)
    assert "network.air_gapped.offline" in ids(v.obligations)


def test_internet_public_data_allows_everything():
    facts = PolicyFacts(data_categories=["public"], organization_jurisdiction="US", ai_act_role="none")
    for p in PLACEMENTS:
        v = evaluate(facts, PlacementOption.standard(p), CAT)
        assert v.allowed and not v.excluded_because, (p, v.reasons())


def test_gdpr_transfers_and_dpf():
    facts = PolicyFacts(data_categories=["personal"], organization_jurisdiction="DE", data_subject_jurisdictions=["EU"])
    us_api = PlacementOption(id="a", placement="api_us", parts=[PlacementPart(kind="api", jurisdiction="US", data_region="US")])
    v = evaluate(facts, us_api, CAT)
    # a non-DPF US processor: SCCs + transfer impact assessment are a lawful route (an obligation)
    assert v.allowed, v.reasons()
    assert {"gdpr.transfer.us_scc_tia", "gdpr.transfer.tool", "gdpr.processor_contract"} <= set(ids(v.obligations))
    # ... excluded only when the organization forbids third-country processing
    v2 = evaluate(facts.model_copy(update={"third_country_transfers_allowed": False}), us_api, CAT)
    assert not v2.allowed and "gdpr.transfer.forbidden_by_organization" in ids(v2.excluded_because)
    # a third country without adequacy other than the US: still no effective measure, unless documented
    cn = PlacementOption(id="cn", placement="api_us", parts=[PlacementPart(kind="api", jurisdiction="CN", data_region="CN")])
    assert "gdpr.transfer.no_effective_measure" in ids(evaluate(facts, cn, CAT).excluded_because)
    assert evaluate(facts.model_copy(update={"transfer_safeguards_documented": True}), cn, CAT).allowed
    # a DPF-certified US provider: allowed, with the DPF obligation
    dpf = PlacementOption(id="b", placement="us_cloud", parts=[PlacementPart(kind="cloud", jurisdiction="US", data_region="US", certifications=["DPF"])])
    v3 = evaluate(facts, dpf, CAT)
    assert v3.allowed and "gdpr.transfer.dpf" in ids(v3.obligations)
    # US provider, EU region: remote-access obligation, no exclusion
    v4 = evaluate(facts, PlacementOption.standard("eu_cloud"), CAT)
    assert v4.allowed and "gdpr.transfer.remote_access" in ids(v4.obligations)
    # on-prem: Art. 32 still applies, no transfer rules
    v5 = evaluate(facts, PlacementOption.standard("on_prem"), CAT)
    assert "gdpr.security" in ids(v5.obligations) and "gdpr.transfer.tool" not in ids(v5.obligations)


def test_dpia_for_health_data():
    facts = PolicyFacts(data_categories=["health"], organization_jurisdiction="FR")
    v = evaluate(facts, PlacementOption.standard("on_prem"), CAT)
    assert {"gdpr.dpia", "gdpr.special_category"} <= set(ids(v.obligations))


def test_german_health_needs_c5_in_eu():
    facts = PolicyFacts(data_categories=["health"], organization_jurisdiction="DE", sector="health")
    eu_c5 = PlacementOption(id="c5", placement="eu_cloud", parts=[PlacementPart(kind="cloud", jurisdiction="US", data_region="DE", certifications=["C5", "DPF"])])
    v = evaluate(facts, eu_c5, CAT)
    assert v.allowed, v.reasons()
    assert "sector.de_health.establishment" in ids(v.obligations)
    no_c5 = PlacementOption.standard("eu_sovereign_cloud")
    assert "sector.de_health.c5" in ids(evaluate(facts, no_c5, CAT).excluded_because)
    us = PlacementOption(id="us", placement="us_cloud", parts=[PlacementPart(kind="cloud", jurisdiction="US", data_region="US", certifications=["C5", "DPF"])])
    assert "sector.de_health.region" in ids(evaluate(facts, us, CAT).excluded_because)


def test_secnumcloud_dora_and_defense():
    fr = PolicyFacts(data_categories=["personal"], organization_jurisdiction="FR", sector="public_sector")
    assert "sector.fr_public.secnumcloud" in ids(evaluate(fr, PlacementOption.standard("eu_sovereign_cloud"), CAT).excluded_because)
    snc = PlacementOption(id="s", placement="eu_sovereign_cloud", parts=[PlacementPart(kind="cloud", jurisdiction="FR", data_region="FR", certifications=["SecNumCloud"])])
    assert evaluate(fr, snc, CAT).allowed
    bank = PolicyFacts(data_categories=["financial"], organization_jurisdiction="DE", sector="banking")
    v = evaluate(bank, PlacementOption.standard("api_eu"), CAT)
    assert v.allowed and "sector.dora.third_party" in ids(v.obligations)
    assert "sector.dora.third_party" not in ids(evaluate(bank, PlacementOption.standard("on_prem"), CAT).obligations)
    cui = PolicyFacts(data_categories=["cui"], organization_jurisdiction="US", sector="defense")
    assert not evaluate(cui, PlacementOption.standard("us_cloud"), CAT).allowed
    il5 = PlacementOption(id="g", placement="us_cloud", parts=[PlacementPart(kind="cloud", jurisdiction="US", data_region="US", certifications=["DoD-IL5"])])
    assert evaluate(cui, il5, CAT).allowed
    secret = PolicyFacts(data_categories=["classified_secret"])
    assert not evaluate(secret, PlacementOption.standard("api_us"), CAT).allowed


def test_ai_act_obligations():
    facts = PolicyFacts(organization_jurisdiction="DE", synthetic_content=True, high_risk_use=True)
    v = evaluate(facts, PlacementOption.standard("on_prem"), CAT)
    assert {"ai_act.art4.literacy", "ai_act.art50_4.disclosure", "ai_act.art26.high_risk_deployer"} <= set(ids(v.obligations))
    us = PolicyFacts(organization_jurisdiction="US", synthetic_content=True)
    assert "ai_act.art50_4.disclosure" not in ids(evaluate(us, PlacementOption.standard("on_prem"), CAT).obligations)


def test_licences():
    big = PolicyFacts(monthly_active_users=800_000_000)
    v = evaluate(big, PlacementOption.standard("on_prem"), CAT, model_license="llama3.1")
    assert "license.llama3.1.mau_700m" in ids(v.excluded_because)
    # via an API the provider is the licensee
    assert evaluate(big, PlacementOption.standard("api_us"), CAT, model_license="llama3.1").allowed
    small = PolicyFacts(monthly_active_users=1000)
    v2 = evaluate(small, PlacementOption.standard("on_prem"), CAT, model_license="llama3.1")
    assert v2.allowed and "license.llama3.1.attribution" in ids(v2.obligations)
    # FLUX.1-dev: non-commercial weights -> self-hosting excluded, API allowed
    flux = PolicyFacts()
    assert not evaluate(flux, PlacementOption.standard("on_prem"), CAT, model_license="flux-1-dev").allowed
    assert evaluate(flux, PlacementOption.standard("api_eu"), CAT, model_license="flux-1-dev").allowed
    assert evaluate(flux.model_copy(update={"commercial_use": False}), PlacementOption.standard("on_prem"), CAT, model_license="flux-1-dev").allowed
    gem = evaluate(flux, PlacementOption.standard("on_prem"), CAT, model_license="gemma")
    assert gem.allowed and "license.gemma.prohibited_use" in ids(gem.obligations)
    unknown = evaluate(flux, PlacementOption.standard("on_prem"), CAT, model_license="wtfpl")
    assert unknown.allowed and "license.unknown" in ids(unknown.obligations)


def test_options_from_catalog_rows():
    o = option_from_row(CAT.cloud_instances.get("nebius-h100-8gpu-eu-north1"), catalog=CAT)
    assert o.placement == "eu_sovereign_cloud"
    assert option_from_row(CAT.cloud_instances.get("aws-p5.48xlarge-eu-north-1"), catalog=CAT).placement == "eu_cloud"
    assert option_from_row(CAT.api_prices.get("openai-gpt-4o"), catalog=CAT).placement == "api_us"
    assert option_from_row(CAT.api_prices.get("nebius-llama-3.3-70b"), catalog=CAT).placement == "api_eu"


def test_facts_validation():
    with pytest.raises(ValidationError, match="air_gapped"):
        PolicyFacts(network_policy="offline")
    with pytest.raises(ValidationError, match="special_category"):
        PolicyFacts(data_categories=["secret-sauce"])
    with pytest.raises(DeployscopeError):
        PlacementOption.standard("moon")


@pytest.mark.parametrize(
    "facts",
    [
        PolicyFacts(),
        PolicyFacts(data_categories=["personal"], organization_jurisdiction="DE", sector="banking"),
        PolicyFacts(data_categories=["health"], organization_jurisdiction="DE", sector="health", network_policy="air_gapped"),
    ],
)
def test_every_catalog_row_evaluates(facts):
    for row in [*CAT.cloud_instances, *CAT.api_prices]:
        v = evaluate(facts, option_from_row(row, catalog=CAT), CAT)
        assert v.allowed == (not v.excluded_because)
        if facts.network_policy == "air_gapped":
            assert not v.allowed


def test_provider_level_certifications_and_region_residency():
    facts = PolicyFacts(data_categories=["personal"], organization_jurisdiction="DE", data_subject_jurisdictions=["EU"])
    # two AWS rows, one row-level DPF claim missing: the company's DPF certification covers both
    for region in ("us-east-1", "us-east-2"):
        part = PlacementPart(kind="cloud", provider="aws", jurisdiction="US", data_region="US", region=region)
        v = evaluate(facts, PlacementOption(id=region, placement="us_cloud", parts=[part]), CAT)
        assert "gdpr.transfer.dpf" in ids(v.obligations) and "gdpr.transfer.us_scc_tia" not in ids(v.obligations)
    # residency per region: a Nebius row in us-central1 is a US transfer, in eu-north1 it is not
    us = PlacementPart(kind="cloud", provider="nebius", jurisdiction="NL", data_region="EU", region="us-central1")
    eu = PlacementPart(kind="cloud", provider="nebius", jurisdiction="NL", data_region="EU", region="eu-north1")
    assert "gdpr.transfer.tool" in ids(evaluate(facts, PlacementOption(id="u", placement="us_cloud", parts=[us]), CAT).obligations)
    assert "gdpr.transfer.tool" not in ids(evaluate(facts, PlacementOption(id="e", placement="eu_cloud", parts=[eu]), CAT).obligations)
    # a region-scoped certification: AWS C5 covers eu-central-1, not us-east-1
    hfacts = PolicyFacts(data_categories=["health"], organization_jurisdiction="DE", sector="health")
    fra = PlacementPart(kind="cloud", provider="aws", jurisdiction="US", data_region="DE", region="eu-central-1")
    assert "sector.de_health.c5" not in ids(evaluate(hfacts, PlacementOption(id="f", placement="eu_cloud", parts=[fra]), CAT).excluded_because)


def test_no_third_party_processing_keeps_only_own_hardware():
    facts = PolicyFacts(data_categories=["none"], third_party_processing_allowed=False)
    assert "org.no_third_party_processing" in ids(evaluate(facts, PlacementOption.standard("api_eu"), CAT).excluded_because)
    assert evaluate(facts, PlacementOption.standard("on_prem"), CAT).allowed


def test_dsk_dpia_must_list_for_ai_steering_interaction():
    facts = PolicyFacts(data_categories=["personal"], organization_jurisdiction="DE", interacts_with_people=True)
    v = evaluate(facts, PlacementOption.standard("on_prem"), CAT)
    f = next(f for f in v.obligations if f.rule_id == "gdpr.dpia.dsk_ai_interaction")
    assert "Muss-Liste" in f.citation and "Art. 35(4)" in f.citation
    fr = facts.model_copy(update={"organization_jurisdiction": "FR"})
    assert "gdpr.dpia.dsk_ai_interaction" not in ids(evaluate(fr, PlacementOption.standard("on_prem"), CAT).obligations)


def test_ai_act_role_derived_with_a_stated_default_and_art50_by_role():
    from deployscope.policy.engine import ai_act_role

    base = PolicyFacts(data_categories=["personal"], organization_jurisdiction="DE", interacts_with_people=True,
                       synthetic_content=True)
    assert ai_act_role(base)[0] == "deployer" and "default" in ai_act_role(base)[1]
    own_product = base.model_copy(update={"offers_ai_system": True})
    assert ai_act_role(own_product) == ("provider", ai_act_role(own_product)[1]) and "Art. 3(3)" in ai_act_role(own_product)[1]
    v = evaluate(own_product, PlacementOption.standard("on_prem"), CAT)
    assert v.ai_act_role == "provider"
    assert {"ai_act.art50_1.chatbot", "ai_act.art50_2.marking"} <= set(ids(v.obligations))
    assert "ai_act.art50_4.disclosure" not in ids(v.obligations)  # a deployer duty
    d = evaluate(base, PlacementOption.standard("on_prem"), CAT)
    assert "ai_act.art50_4.disclosure" in ids(d.obligations) and "ai_act.art50_1.chatbot" not in ids(d.obligations)
    both = base.model_copy(update={"ai_act_role": "provider_and_deployer"})
    assert {"ai_act.art50_1.chatbot", "ai_act.art50_2.marking", "ai_act.art50_4.disclosure"} <= set(
        ids(evaluate(both, PlacementOption.standard("on_prem"), CAT).obligations))
    # every finding keeps its citation; the verdict says it is decision support
    assert all(f.citation for f in v.obligations) and "not legal advice" in v.disclaimer
