"""Policy rule packs, model licences and jurisdictions, as data.

A rule is: *when* the facts match, *for* the parts of a placement the rule applies to, the
effect is ``exclude`` (the placement is not allowed, with the rule's text and citation as the
reason) or ``oblige`` (the placement is allowed, with an obligation). The small condition
language is documented in docs/policy.md and interpreted by ``deployscope.policy.engine``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from .base import NoBoolNumbers, Row
from .loader import register_table

Effect = Literal["exclude", "oblige"]


class AppliesTo(NoBoolNumbers):
    """Which placements / parts a rule concerns. Omitted keys match everything.

    ``placements``: placement kinds the rule is about (on_prem, eu_cloud, hybrid ...).
    ``any_part``: attribute conditions; the rule fires if at least one part of the option matches
    all of them. Part attributes: kind (on_prem | cloud | api), external (bool), provider,
    jurisdiction, data_region, region_group (eea | adequacy | third_country), jurisdiction_group
    (eea | adequacy | third_country), certifications (list), network (air_gapped | connected).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    placements: tuple[str, ...] = ()
    any_part: dict[str, Any] = Field(default_factory=dict)


class RuleBody(NoBoolNumbers):
    """The part of a rule that the engine interprets (shared by rule packs and licence terms)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    when: dict[str, Any] = Field(default_factory=dict, description="fact name -> matcher; all must match")
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    effect: Effect
    text: str = Field(min_length=3)
    citation: str = Field(min_length=3)
    confidence: Literal["high", "medium", "low"] = "high"
    verify: bool = Field(default=False, description="the citation could not be confirmed against a primary text")


class PolicyRule(Row, RuleBody):
    """One rule of a versioned pack (``pack``: gdpr, ai_act, sector, network ...)."""

    kind: ClassVar[str] = "policy rule"

    pack: str
    version: str = Field(description="rule version; bump when the text or condition changes")


class LicenseTerm(RuleBody):
    """One clause of a model licence, with its own id."""

    id: str


class License(Row):
    """A model licence: whether commercial use is allowed, and its clauses as rules."""

    kind: ClassVar[str] = "licence"

    name: str
    url: str
    commercial_use: bool
    permissive: bool = Field(default=False, description="OSI-style permissive (Apache-2.0, MIT): no use conditions")
    terms: tuple[LicenseTerm, ...] = ()


class Jurisdiction(Row):
    """A jurisdiction code used in facts and provider rows, with its GDPR transfer status."""

    kind: ClassVar[str] = "jurisdiction"

    name: str
    eea: bool = Field(description="EU/EEA member (or the EU/EEA as a whole)")
    adequacy: bool = Field(default=False, description="covered by an EU adequacy decision (GDPR Art. 45)")
    adequacy_note: str | None = None
    parent: str | None = Field(default=None, description="enclosing jurisdiction, e.g. DE -> EU")


class Certification(NoBoolNumbers):
    """A certification or attestation a provider holds, with its source and (optionally) the
    provider regions it covers (empty = every region of the provider)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="DPF, C5, SecNumCloud, FedRAMP-High, FedRAMP-Moderate, ISO27001, DoD-IL4 ...")
    source: str = Field(min_length=3)
    regions: tuple[str, ...] = Field(default=(), description="provider regions covered; empty = all")
    confidence: Literal["high", "medium", "low"] = "high"


class Provider(Row):
    """A cloud or API provider: the law it answers to, its certifications (held by the company,
    not by a price row), and where each of its regions keeps the data (residency)."""

    kind: ClassVar[str] = "provider"

    name: str
    legal_entity: str | None = Field(default=None, description="the company that holds the certifications")
    jurisdiction: str = Field(description="home jurisdiction of the provider: US, NL, FR, DE, CN ...")
    certifications: tuple[Certification, ...] = ()
    regions: dict[str, str] = Field(default_factory=dict, description="provider region -> jurisdiction code where data resides")
    regions_source: str | None = None

    def certifications_in(self, region: str | None) -> list[str]:
        """Names of the certifications that cover `region` (all region-wide ones when None)."""
        return [c.name for c in self.certifications if not c.regions or (region is not None and region in c.regions)]

    def residency(self, region: str) -> str | None:
        return self.regions.get(region)


register_table("providers", Provider)
register_table("policy_rules", PolicyRule)
register_table("licenses", License)
register_table("jurisdictions", Jurisdiction)
