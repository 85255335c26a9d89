"""The `scenario init` template is generated from the schema: its comments are the fields'
descriptions, it validates, and a field added to the schema shows up in it."""

from __future__ import annotations

import re

import yaml
from pydantic import Field

from deployscope.scenario import Scenario, parse_scenario, template
from deployscope.scenario.commented_yaml import EXAMPLE, comment_for, render

KEY = re.compile(r"^(?P<indent> *)(?:# )?(?P<lead> *)(?:- )?(?P<key>[a-z_0-9]+):(?P<rest>.*)$")


def _described_fields(model, seen=None):
    """Every (name, description) pair of the scenario schema, nested models and list items included."""
    from deployscope.scenario.schema_doc import list_models, members, model_of

    seen = set() if seen is None else seen
    out = {}
    for name, info in model.model_fields.items():
        assert info.description, f"{model.__name__}.{name} has no description"
        out.setdefault(name, set()).add(comment_for(info, name, model))
        subs = [m for m in [model_of(info.annotation), *list_models(info.annotation)] if m is not None]
        for sub in subs:
            for m in [sub, *[a for a in members(sub) if a is not sub]]:
                if m not in seen:
                    seen.add(m)
                    for k, v in _described_fields(m, seen).items():
                        out.setdefault(k, set()).update(v)
    return out


def test_every_field_line_carries_its_schema_description_as_its_comment():
    text = template()
    comments = _described_fields(Scenario)
    lines = [ln for ln in text.splitlines() if KEY.match(ln)]
    assert len(lines) > 100
    for ln in lines:
        m = KEY.match(ln)
        key, rest = m.group("key"), m.group("rest")
        assert key in comments, ln
        assert "  # " in rest, f"no comment on: {ln}"
        comment = rest.split("  # ", 1)[1]
        assert comment in comments[key], f"{key}: {comment!r} is not its schema comment {comments[key]}"


def test_comments_state_allowed_values_bounds_and_defaults():
    text = template()
    assert "objective: npv  # what the recommendation minimizes; npv | total_cost | unit_cost | latency; default npv" in text
    assert re.search(r"^horizon_years: 3  # years of cash flows; NPV over this horizon; 1 to 15 years; default 3 years$", text, re.M)
    assert "redundancy: n+1  # spare replicas per on-prem pool; none | n+1 | n+2; default n+1" in text
    # bounds carry the unit (exclusive bounds written as such), required fields say so
    assert "  ttft_p95_s: 2.0  # time to first token, 95th percentile, seconds; 0.0001 to 86400 s; default 2.0 s" in text
    assert "  # api_discount_pct: 0  # negotiated discount on list API prices; >= 0, < 100 %; default 0 %" in text
    assert "    users: 2000  # active users (with requests_per_user_per_day); > 0, <= 1e+10 users; optional" in text
    assert "      mean: 1200  # mean tokens per request; 1 to 1e+08 tokens; required" in text
    # an economics field left out is filled from the catalog, and the comment says so
    assert re.search(r"# pue: 1.4  # .*; 1 to 3; default: the economic_defaults catalog row for the region$", text, re.M)
    # a list of numbers states the bound of each item
    assert re.search(r"# hourly:  # 24 relative weights.*; each 0 to 1e\+09; optional$", text, re.M)


def test_every_top_level_and_section_field_is_written():
    data_lines = template().splitlines()
    keys = {KEY.match(ln).group("key") for ln in data_lines if KEY.match(ln)}
    for model in (Scenario, *[Scenario.model_fields[s].annotation for s in ("targets", "economics", "policy", "candidates")]):
        assert set(model.model_fields) <= keys, set(model.model_fields) - keys


def test_template_is_valid_and_keeps_the_example_values():
    scn = parse_scenario(yaml.safe_load(template()))
    assert scn.name == "my-assistant" and scn.workloads[0].model == "llama-3.1-8b-instruct"
    assert scn.workloads[0].input_tokens.distribution == "lognormal" and scn.targets.tpot_p95_s == 0.08
    assert scn.policy.data_categories == ["personal"] and not scn.training and not scn.pipelines


def test_commented_examples_are_valid_once_uncommented():
    """Deleting the `# ` of a commented example block gives a scenario that validates."""
    text = template()
    for start in ("  # - name: product-shots", "  # - name: quarterly-refresh", "  # - name: catalog-images"):
        lines = text.splitlines()
        i = lines.index(next(ln for ln in lines if ln.startswith(start)))
        j = i + 1
        while j < len(lines) and lines[j].startswith("  #   "):
            j += 1
        lines[i:j] = [ln.replace("  # ", "  ", 1) for ln in lines[i:j]]
        scn = parse_scenario(yaml.safe_load("\n".join(lines)))
        assert len(scn.workloads) + len(scn.training) + len(scn.pipelines) == 2, start


def test_a_field_added_to_the_schema_appears_with_its_description():
    class Extended(Scenario):
        """An extended scenario."""

        review_board: str = Field(default="it-council", description="who signs the plan off")

    text = render(Extended, EXAMPLE)
    assert text.startswith("# An extended scenario.\n")
    assert "# review_board: it-council  # who signs the plan off; default it-council" in text.splitlines()
