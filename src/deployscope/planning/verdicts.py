"""Policy verdicts: every candidate's parts (on-prem, cloud provider, API provider, with
jurisdiction and certifications) go through ``deployscope.policy.engine``; excluded candidates
stay in the plan with the reasons and citations."""

from __future__ import annotations

from typing import Any, Literal, cast

from ..policy import engine
from ..result import Assumption
from .candidates import Candidate, Verdict
from .inputs import Inputs


def policy_part(row: Any, kind: str) -> dict[str, Any]:
    """A policy-engine PlacementPart (as keyword arguments) for a cloud or API catalog row."""
    regions = tuple(getattr(row, "regions", ()) or ())
    return {
        "kind": kind, "name": row.id, "provider": row.provider, "jurisdiction": row.jurisdiction,
        "data_region": row.data_region, "certifications": list(row.certifications), "network": "connected",
        "region": regions[0] if len(regions) == 1 else None,  # residency per region (providers table)
    }


def row_placement(inputs: Inputs, row: Any) -> str:
    """The policy placement class of a cloud or API row (eu_sovereign_cloud, us_cloud, api_eu ...)."""
    return engine.placement_for_row(row, inputs.catalog)


def _other_licenses(inputs: Inputs) -> set[str]:
    out = set()
    for j in inputs.scenario.training:
        m = inputs.catalog.models.find(j.model)
        if m is not None:
            out.add(m.license)
    for p in inputs.scenario.pipelines:
        for st in p.stages:
            m = inputs.catalog.models.find(st.model)
            if m is not None:
                out.add(m.license)
    return out


#: stated in every plan: the compliance verdicts are decision support
DISCLAIMER = ("compliance verdicts are decision support, not legal advice: each rule cites its source; have counsel "
              "confirm the rules for your case")

VerdictKey = tuple[str, tuple[tuple[tuple[str, str], ...], ...]]


class Verdicts:
    """The policy engine's verdict per candidate; candidates with equal parts share one."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self._seen: dict[VerdictKey, Verdict] = {}
        self._facts: engine.FactView | None = None  # the same facts for every candidate: read once, at the first verdict
        role, why = engine.ai_act_role(inputs.scenario.policy)
        if not any(a.name == "policy.ai_act_role" for a in inputs.assumptions):
            origin: Literal["user", "derived"] = "user" if inputs.scenario.policy.ai_act_role is not None else "derived"
            inputs.assumptions.append(Assumption(name="policy.ai_act_role", value=role, origin=origin, note=why))
        if DISCLAIMER not in inputs.warnings:
            inputs.warnings.append(DISCLAIMER)

    def of(self, c: Candidate) -> Verdict:
        """Allowed, reasons (with citations) and obligations for one candidate.

        The candidate is evaluated once per distinct model licence among the models it runs;
        findings are merged.
        """
        placement = "hybrid" if c.placement == "hybrid" else c.detail
        key = (placement, tuple(tuple(sorted((k, str(v)) for k, v in p.items() if k != "name")) for p in c.parts))
        if key in self._seen:
            return self._seen[key]
        inputs = self.inputs
        licenses = sorted({d.model.license for d in inputs.demands} | _other_licenses(inputs)) or [None]
        popt = engine.PlacementOption(id=c.id, placement=cast(engine.Placement, placement), parts=[engine.PlacementPart(**p) for p in c.parts])
        if self._facts is None:
            self._facts = engine.FactView.of(inputs.scenario.policy, inputs.catalog)
        reasons: list[str] = []
        obligations: list[Any] = []
        seen: set[str] = set()
        allowed = True
        for lic in licenses:
            v = engine.evaluate(inputs.scenario.policy, popt, inputs.catalog, model_license=lic, view=self._facts)
            allowed = allowed and v.allowed
            for f in v.excluded_because:
                if str(f) not in reasons:
                    reasons.append(str(f))
            for f in v.obligations:
                if f.rule_id not in seen:
                    seen.add(f.rule_id)
                    obligations.append(f)
        self._seen[key] = Verdict(allowed, reasons, obligations)
        return self._seen[key]

    def allows(self, c: Candidate) -> bool:
        return self.of(c).allowed

    def screen(self, candidates: list[Candidate]) -> dict[str, Verdict]:
        """Verdict per candidate id."""
        return {c.id: self.of(c) for c in candidates}
