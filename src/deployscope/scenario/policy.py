"""Policy facts: what the compliance rules need to know about the organization and its data (the
``policy`` part of a scenario). The rules themselves are catalog data; :mod:`deployscope.policy`
evaluates them."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from ..catalog.base import NoBoolNumbers

__all__ = ["DataCategory", "PolicyFacts"]

DataCategory = Literal[
    "personal",
    "special_category",
    "health",
    "financial",
    "public",
    "cui",
    "classified_secret",
    "classified_above_secret",
    "none",
]


class PolicyFacts(NoBoolNumbers):
    """What the rules need to know. Everything has a default so a scenario may give only what applies."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    data_categories: list[DataCategory] = Field(
        default_factory=lambda: list[DataCategory](["none"]), description="kinds of data the workloads process (the rules key on them)"
    )
    data_subject_jurisdictions: list[str] = Field(default_factory=list, description="e.g. [EU], [DE, US]")
    organization_jurisdiction: str | None = Field(default=None, description="where the organization is established: DE, FR, US, EU...")
    network_policy: Literal["air_gapped", "restricted_egress", "internet"] = Field(
        default="internet", description="what the deployment may reach: air_gapped rules out cloud and API options"
    )
    sector: Literal["banking", "health", "public_sector", "defense", "none"] = Field(
        default="none", description="regulated sector whose rules apply (banking, health, public sector, defense)"
    )
    ai_act_role: Literal["deployer", "provider", "provider_and_deployer", "none"] | None = Field(
        default=None,
        description="your role under the EU AI Act (Art. 3(3)/(4)); default: derived from offers_ai_system "
        "(provider when the system is part of a product or service you offer under your name, else deployer)",
    )
    offers_ai_system: bool = Field(
        default=False,
        description="the AI system is built into a product or service the organization offers to others under its own "
        "name (it then places the system on the market: an AI Act provider)",
    )
    third_country_transfers_allowed: bool = Field(
        default=True,
        description="false: the organization forbids processing of its personal data outside the EEA and adequate "
        "countries (and by providers under third-country law), whatever the transfer tool",
    )
    third_party_processing_allowed: bool = Field(
        default=True,
        description="false: the organization forbids any external processor (cloud or API); only its own hardware",
    )
    high_risk_use: bool = Field(default=False, description="an EU AI Act Annex III use case")
    synthetic_content: bool = Field(default=False, description="generates images/audio/video/text published as deepfakes or public-interest text")
    human_editorial_control: bool = Field(default=False, description="a person reviews and takes editorial responsibility for published output")
    interacts_with_people: bool = Field(default=False, description="a chatbot or assistant that talks to people")
    large_scale: bool = Field(default=False, description="large-scale processing or systematic monitoring (GDPR Art. 35(3))")
    fine_tuning: bool = Field(default=False, description="the organization fine-tunes the model (licence and AI Act duties)")
    monthly_active_users: int | None = Field(default=None, ge=0, le=10_000_000_000, description="monthly active users of the service (model licence thresholds)")
    annual_revenue_usd: float | None = Field(default=None, ge=0, le=1e15, description="yearly revenue of the organization, USD (model licence thresholds)")
    commercial_use: bool = Field(default=True, description="the output is used commercially (model licence terms)")
    transfer_safeguards_documented: bool = Field(
        default=False,
        description="SCCs + transfer impact assessment + supplementary measures are documented for third-country processors",
    )

    @field_validator("data_subject_jurisdictions")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return [s.upper() for s in v]

    @field_validator("organization_jurisdiction")
    @classmethod
    def _upper1(cls, v: str | None) -> str | None:
        return v.upper() if v else v
