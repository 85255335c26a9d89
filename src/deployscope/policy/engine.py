"""The policy engine: facts about the data, the organization and its network, plus a placement
option (its parts, each with provider jurisdiction, data region and certifications) -> a verdict:
allowed or not, the reasons, and the obligations, each with its citation.

Rules are data (``catalog/data/policy_rules.yaml``, licences in ``licenses.yaml``); this module
is a small interpreter of their conditions. It is decision support, not legal advice.

Condition language (``when`` on facts, ``applies_to.any_part`` on part attributes):

- ``key: value``          equal (case-insensitive), or *contains* when the actual value is a list
- ``key: [a, b]``         one of (or *intersects* when the actual value is a list)
- ``key: {op: arg, ...}`` every op must hold: in, not_in, any_of, none_of, all_of, eq, ne,
                          gt, gte, lt, lte, exists (true/false)
- ``any: [cond, ...]`` / ``all: [...]`` / ``not: cond``   combine whole condition mappings
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..catalog.loader import default_catalog
from ..errors import DeployscopeError
from ..scenario.policy import DataCategory as DataCategory  # re-exported: part of the policy API
from ..scenario.policy import PolicyFacts as PolicyFacts

Placement = Literal[
    "on_prem",
    "on_prem_air_gapped",
    "eu_sovereign_cloud",
    "eu_cloud",
    "us_cloud",
    "api_eu",
    "api_us",
    "hybrid",
]
PLACEMENTS: tuple[str, ...] = (
    "on_prem",
    "on_prem_air_gapped",
    "eu_sovereign_cloud",
    "eu_cloud",
    "us_cloud",
    "api_eu",
    "api_us",
    "hybrid",
)
SELF = "self"  # jurisdiction / region of an on-prem part: the organization's own


class PlacementPart(BaseModel):
    """One place the workload runs: own hardware, a cloud provider, or an API provider."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["on_prem", "cloud", "api"]
    name: str | None = None
    provider: str | None = None
    jurisdiction: str = Field(default=SELF, description="provider's home jurisdiction (US, EU, DE, FR...), 'self' on-prem")
    data_region: str = Field(default=SELF, description="where data is processed (US, EU, DE...), 'self' on-prem")
    certifications: list[str] = Field(default_factory=list)
    network: Literal["air_gapped", "connected"] = "connected"
    region: str | None = Field(default=None, description="provider region (its residency comes from the providers table)")

    @field_validator("jurisdiction", "data_region")
    @classmethod
    def _up(cls, v: str) -> str:
        return v if v == SELF else v.upper()


class PlacementOption(BaseModel):
    """A deployment option as the policy engine sees it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    placement: Placement
    parts: list[PlacementPart] = Field(min_length=1)

    @classmethod
    def standard(cls, placement: str, id: str | None = None) -> "PlacementOption":
        """A generic option of a placement kind (for a first look before real providers are chosen)."""
        if placement not in PLACEMENTS:
            raise DeployscopeError("unknown placement", field="placement", value=placement, allowed=PLACEMENTS)
        parts = {
            "on_prem": [PlacementPart(kind="on_prem")],
            "on_prem_air_gapped": [PlacementPart(kind="on_prem", network="air_gapped")],
            "eu_sovereign_cloud": [PlacementPart(kind="cloud", jurisdiction="EU", data_region="EU")],
            "eu_cloud": [PlacementPart(kind="cloud", jurisdiction="US", data_region="EU")],
            "us_cloud": [PlacementPart(kind="cloud", jurisdiction="US", data_region="US")],
            "api_eu": [PlacementPart(kind="api", jurisdiction="EU", data_region="EU")],
            "api_us": [PlacementPart(kind="api", jurisdiction="US", data_region="US")],
            "hybrid": [PlacementPart(kind="on_prem"), PlacementPart(kind="cloud", jurisdiction="US", data_region="EU")],
        }[placement]
        return cls(id=id or placement, placement=placement, parts=parts)  # type: ignore[arg-type]


class Finding(BaseModel):
    """One rule hit: an exclusion reason or an obligation."""

    rule_id: str
    pack: str
    version: str
    effect: Literal["exclude", "oblige"]
    text: str
    citation: str
    source: str
    as_of: date
    confidence: str = "high"
    verify: bool = False
    parts: list[str] = Field(default_factory=list, description="names of the parts that triggered it (empty: the whole option)")

    def __str__(self) -> str:
        return f"{self.text} [{self.citation}]"


class Verdict(BaseModel):
    option_id: str
    placement: str
    allowed: bool
    excluded_because: list[Finding] = Field(default_factory=list)
    obligations: list[Finding] = Field(default_factory=list)
    ai_act_role: str = "deployer"
    ai_act_role_basis: str = ""
    disclaimer: str = "Decision support, not legal advice: have counsel confirm the rules for your case."

    def reasons(self) -> list[str]:
        return [str(f) for f in self.excluded_because]


# --- condition interpreter ----------------------------------------------------------


def _norm(v: Any) -> Any:
    if isinstance(v, str):
        return v.casefold()
    if isinstance(v, (list, tuple, set)):
        return [_norm(x) for x in v]
    return v


_OPS = {"in", "not_in", "any_of", "none_of", "all_of", "eq", "ne", "gt", "gte", "lt", "lte", "exists"}


def _match_value(actual: Any, cond: Any, where: str) -> bool:
    a = _norm(actual)
    if isinstance(cond, Mapping):
        for op, arg in cond.items():
            if op not in _OPS:
                raise DeployscopeError(f"unknown operator {op!r} in rule condition", field=where, value=op, allowed=sorted(_OPS))
            if not _op(op, a, _norm(arg)):
                return False
        return True
    c = _norm(cond)
    if isinstance(c, list):
        return bool(set(a) & set(c)) if isinstance(a, list) else a in c
    return c in a if isinstance(a, list) else a == c


def _op(op: str, a: Any, arg: Any) -> bool:
    as_list = a if isinstance(a, list) else ([] if a is None else [a])
    argl = arg if isinstance(arg, list) else [arg]
    if op == "exists":
        return (a is not None and a != []) == bool(arg)
    if op in ("in", "any_of"):
        return bool(set(as_list) & set(argl))
    if op in ("not_in", "none_of"):
        return not set(as_list) & set(argl)
    if op == "all_of":
        return set(argl) <= set(as_list)
    if op == "eq":
        return a == arg
    if op == "ne":
        return a != arg
    if a is None or isinstance(a, (list, str)):
        return False
    return {"gt": a > arg, "gte": a >= arg, "lt": a < arg, "lte": a <= arg}[op]


def matches(values: Mapping[str, Any], conditions: Mapping[str, Any], where: str = "rule") -> bool:
    """True if every condition holds on `values` (see the module docstring for the language)."""
    for key, cond in conditions.items():
        if key == "any":
            if not any(matches(values, c, where) for c in cond):
                return False
        elif key == "all":
            if not all(matches(values, c, where) for c in cond):
                return False
        elif key == "not":
            if matches(values, cond, where):
                return False
        else:
            if key not in values:
                raise DeployscopeError(f"rule refers to unknown attribute {key!r}", field=where, value=key, allowed=sorted(values))
            if not _match_value(values[key], cond, f"{where}.{key}"):
                return False
    return True


# --- facts and parts as flat attribute maps ------------------------------------------


def _groups(cat) -> tuple[set[str], set[str]]:
    eea, adequacy = set(), set()
    for j in cat.jurisdictions:
        if j.eea:
            eea.add(j.id.upper())
        if j.adequacy:
            adequacy.add(j.id.upper())
    return eea, adequacy


def _group(code: str, eea: set[str], adequacy: set[str], org: str | None) -> str:
    if code == SELF:
        code = org or SELF
        if code == SELF:
            return SELF
    if code in eea:
        return "eea"
    if code in adequacy:
        return "adequacy"
    if code in ("GLOBAL", "UNKNOWN", ""):
        return "unknown"
    return "third_country"


def ai_act_role(facts: PolicyFacts) -> tuple[str, str]:
    """(role, why): the given ``ai_act_role``, else derived from ``offers_ai_system``; the stated
    default is deployer (an organization that uses an AI system under its authority, Art. 3(4))."""
    if facts.ai_act_role is not None:
        return facts.ai_act_role, "given in the scenario (policy.ai_act_role)"
    if facts.offers_ai_system:
        return "provider", "derived: the system is part of a product or service offered under the organization's name (AI Act Art. 3(3), policy.offers_ai_system)"
    return "deployer", "default: the organization uses the system under its own authority (AI Act Art. 3(4)); set policy.offers_ai_system or policy.ai_act_role if you offer it to others"


def fact_values(facts: PolicyFacts, catalog=None) -> dict[str, Any]:
    """Facts as the rules see them: the fields plus derived ones (personal_data, special_category,
    gdpr_applies, organization_group, classified, ai_act_role and the list ai_act_roles)."""
    cat = default_catalog(catalog)
    eea, adequacy = _groups(cat)
    d = facts.model_dump()
    role, _ = ai_act_role(facts)
    d["ai_act_role"] = role
    d["ai_act_roles"] = {"provider_and_deployer": ["provider", "deployer"], "none": []}.get(role, [role])
    cats = set(facts.data_categories)
    d["personal_data"] = bool(cats & {"personal", "special_category", "health"})
    d["special_category"] = bool(cats & {"special_category", "health"})
    d["classified"] = bool(cats & {"classified_secret", "classified_above_secret"})
    org = facts.organization_jurisdiction
    d["organization_group"] = _group(org, eea, adequacy, None) if org else "unknown"
    d["gdpr_applies"] = (org in eea if org else False) or any(j in eea for j in facts.data_subject_jurisdictions)
    d["eu_subjects"] = any(j in eea for j in facts.data_subject_jurisdictions)
    return d


def _provider_view(part: PlacementPart, cat) -> tuple[str, str, list[str]]:
    """(jurisdiction, data region, certifications) of a part with its provider's company-level
    certifications and its region's residency merged in (providers table)."""
    jurisdiction, region, certs = part.jurisdiction, part.data_region, list(part.certifications)
    prov = cat.providers.find(part.provider) if part.provider and part.kind != "on_prem" else None
    if prov is not None:
        jurisdiction = prov.jurisdiction.upper()
        if part.region and prov.residency(part.region):
            region = prov.residency(part.region).upper()  # type: ignore[union-attr]
        certs += [c for c in prov.certifications_in(part.region) if c not in certs]
    return jurisdiction, region, certs


def part_values(part: PlacementPart, facts: PolicyFacts, catalog=None) -> dict[str, Any]:
    cat = default_catalog(catalog)
    eea, adequacy = _groups(cat)
    org = facts.organization_jurisdiction
    d = part.model_dump()
    d["jurisdiction"], d["data_region"], certs = _provider_view(part, cat)
    part = part.model_copy(update={"jurisdiction": d["jurisdiction"], "data_region": d["data_region"], "certifications": certs})
    d["external"] = part.kind != "on_prem"
    d["self_hosted"] = part.kind in ("on_prem", "cloud")
    d["region_group"] = _group(part.data_region, eea, adequacy, org)
    d["jurisdiction_group"] = _group(part.jurisdiction, eea, adequacy, org)
    d["certifications"] = list(part.certifications)
    return d


# --- evaluation ---------------------------------------------------------------------


@dataclass
class FactView:
    """The facts as the rules see them, for evaluating many options under the same facts: the
    attribute map once, and each rule's ``when`` (which reads facts only) once, when first asked."""

    facts: PolicyFacts
    values: dict[str, Any]
    _when: dict[tuple[str, int], bool] = field(default_factory=dict)  # (rule list, position) -> holds

    @classmethod
    def of(cls, facts: PolicyFacts, catalog: Any = None) -> FactView:
        return cls(facts, fact_values(facts, catalog))

    def when(self, rules: str, i: int, rule: Any, where: str) -> bool:
        key = (rules, i)
        if key not in self._when:
            self._when[key] = matches(self.values, rule.when, f"{where}.when")
        return self._when[key]


def _fire(rule, option: PlacementOption, fvals: Mapping[str, Any], pvals: list[dict[str, Any]], where: str,  # noqa: ANN001
          when: bool | None = None) -> list[str] | None:
    """None if the rule does not apply; else the names of the parts that triggered it. ``when``:
    whether the rule's fact condition holds, when already known."""
    if not (matches(fvals, rule.when, f"{where}.when") if when is None else when):
        return None
    at = rule.applies_to
    if at.placements and option.placement not in at.placements:
        return None
    if not at.any_part:
        return []
    hit = [
        (p.get("name") or p.get("provider") or f"{p['kind']}#{i}")
        for i, p in enumerate(pvals)
        if matches(p, at.any_part, f"{where}.applies_to.any_part")
    ]
    return hit or None


def evaluate(
    facts: PolicyFacts,
    option: PlacementOption,
    catalog=None,
    *,
    model_license: str | None = None,
    view: FactView | None = None,
) -> Verdict:
    """Apply every rule (and the model licence's terms) to one option. ``view``: the facts'
    :class:`FactView`, shared by the options of one plan (the fact conditions are read once)."""
    cat = default_catalog(catalog)
    if view is not None and view.facts is not facts:
        raise ValueError("the fact view was built for other facts")
    fvals = view.values if view is not None else fact_values(facts, cat)
    pvals = [part_values(p, facts, cat) for p in option.parts]
    excluded: list[Finding] = []
    obligations: list[Finding] = []

    def add(rule_id: str, pack: str, version: str, body, source: str, as_of: date, parts: list[str]) -> None:
        f = Finding(
            rule_id=rule_id,
            pack=pack,
            version=version,
            effect=body.effect,
            text=body.text,
            citation=body.citation,
            source=source,
            as_of=as_of,
            confidence=body.confidence,
            verify=body.verify,
            parts=parts,
        )
        (excluded if body.effect == "exclude" else obligations).append(f)

    for i, rule in enumerate(cat.policy_rules):
        where = f"policy_rules.{rule.id}"
        hit = _fire(rule, option, fvals, pvals, where, None if view is None else view.when("policy_rules", i, rule, where))
        if hit is not None:
            add(rule.id, rule.pack, rule.version, rule, rule.source, rule.as_of, hit)

    if model_license:
        lic = cat.licenses.find(model_license)
        if lic is None:
            obligations.append(
                Finding(
                    rule_id="license.unknown",
                    pack="licenses",
                    version="1",
                    effect="oblige",
                    text=f"The model's licence {model_license!r} is not in the licence catalog: review its terms before use.",
                    citation="model card / licence file of the model",
                    source="deployscope licence catalog",
                    as_of=date.today(),
                    confidence="low",
                )
            )
        else:
            self_hosted = [
                (p.get("name") or p.get("provider") or f"{p['kind']}#{i}") for i, p in enumerate(pvals) if p["self_hosted"]
            ]
            if not lic.commercial_use and facts.commercial_use and self_hosted:
                excluded.append(
                    Finding(
                        rule_id=f"license.{lic.id}.commercial",
                        pack="licenses",
                        version="1",
                        effect="exclude",
                        text=f"{lic.name} does not allow commercial use of the weights you run yourself; "
                        "a hosted API whose provider holds a commercial licence, or a licence from the rights holder, is needed.",
                        citation=lic.url,
                        source=lic.source,
                        as_of=lic.as_of,
                        parts=self_hosted,
                    )
                )
            for i, term in enumerate(lic.terms):
                where = f"licenses.{lic.id}.{term.id}"
                hit = _fire(term, option, fvals, pvals, where, None if view is None else view.when(f"licenses.{lic.id}", i, term, where))
                if hit is not None:
                    add(f"license.{lic.id}.{term.id}", "licenses", "1", term, lic.source, lic.as_of, hit)

    role, why = ai_act_role(facts)
    return Verdict(
        option_id=option.id,
        ai_act_role=role,
        ai_act_role_basis=why,
        placement=option.placement,
        allowed=not excluded,
        excluded_because=excluded,
        obligations=obligations,
    )


def evaluate_all(
    facts: PolicyFacts, options: Iterable[PlacementOption], catalog=None, *, model_license: str | None = None
) -> list[Verdict]:
    return [evaluate(facts, o, catalog, model_license=model_license) for o in options]


def part_from_row(row: Any, region: str | None = None) -> PlacementPart:
    """A placement part from a cloud-instance or API-price catalog row; ``region`` (default: the
    row's only region, if it lists one) sets the residency from the providers table."""
    kind = "api" if hasattr(row, "model_family") else "cloud"
    regions = tuple(getattr(row, "regions", ()) or ())
    if region is None and len(regions) == 1:
        region = regions[0]
    return PlacementPart(
        kind=kind,  # type: ignore[arg-type]
        name=row.id,
        provider=row.provider,
        jurisdiction=row.jurisdiction,
        data_region=row.data_region,
        certifications=list(row.certifications),
        region=region,
    )


def placement_for_row(row: Any, catalog=None) -> str:
    """The placement kind a cloud-instance or API row belongs to."""
    cat = default_catalog(catalog)
    eea, _ = _groups(cat)
    in_eu = row.data_region.upper() in eea
    if hasattr(row, "model_family"):
        return "api_eu" if in_eu else "api_us"
    if in_eu and (getattr(row, "sovereign", False) or row.jurisdiction.upper() in eea):
        return "eu_sovereign_cloud"  # EU data region and a provider under EU law only
    return "eu_cloud" if in_eu else "us_cloud"


def option_from_row(row: Any, id: str | None = None, catalog=None) -> PlacementOption:
    return PlacementOption(id=id or row.id, placement=placement_for_row(row, catalog), parts=[part_from_row(row)])  # type: ignore[arg-type]


