"""The guided scenario editor, Compare, Measurements and the catalog pages, through the ASGI app."""

from __future__ import annotations

import re
import typing
import warnings
from pathlib import Path

import pytest

from web_helpers import client, form_token, form_value, sample_plan, store  # noqa: F401  (shared fixtures)

warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)


from deployscope.errors import DeployscopeError  # noqa: E402
from deployscope.safe_yaml import load  # noqa: E402
from deployscope.scenario import Scenario, template  # noqa: E402
from deployscope.scenario.schema_doc import humanize  # noqa: E402
from deployscope.web import editor  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def post_form(client, page_html: str, action: str, fields: dict[str, str], path: str = "/scenarios/new", **kw):
    data = {"csrf_token": form_value(page_html, "csrf_token"), "mode": "form", "base_yaml": form_value(page_html, "base_yaml"),
            "action": action, **fields}
    return client.post(path, data=data, **kw)


# ----------------------------------------------------------------------------- the schema drives the form
def test_every_scenario_field_has_a_description():
    """One source for the form's help and the API docs: no field of the input schema is bare."""
    from deployscope.scenario import (
        Availability,
        CandidateFilters,
        Currency,
        DiffusionWorkload,
        Economics,
        LLMWorkload,
        LoadProfile,
        Quality,
        Targets,
        TokenLengths,
        TrainingJob,
    )

    bare = [f"{m.__name__}.{n}" for m in (Scenario, LLMWorkload, DiffusionWorkload, TokenLengths, TrainingJob, LoadProfile, Targets,
                                          Quality, Availability, Economics, Currency, CandidateFilters)
            for n, f in m.model_fields.items() if not f.description and n not in ("facility_limits",)]
    assert bare == []


def test_labels_units_help_and_widgets_come_from_the_schema(client):
    html = client.get("/scenarios/new").text
    assert ">TTFT p95 <span class=\"ds-unit\">(s)</span>" in html
    assert "time to first token, 95th percentile, seconds" in html  # the field's description
    assert "workloads[0].requests_per_user_per_day" not in re.sub(r'(name|id|value)="[^"]*"', "", html).split("<datalist")[0]
    # an enum is a select with its allowed values
    m = re.search(r'<select id="fld-objective" name="f:objective".*?</select>', html, re.S)
    assert m and all(f'value="{v}"' in m.group(0) for v in ("npv", "total_cost", "unit_cost", "latency"))
    # a list of enum values is a set of checkboxes
    assert html.count('name="f:candidates.placements"') == 4 and 'type="checkbox"' in html
    # lists of ids are chips with a catalog picker; a model is a picker with search over the catalog
    assert 'name="f:candidates.gpus"' in html and 'data-chips list="dl-gpus"' in html
    assert re.search(r'name="f:workloads\[0\]\.model" value="llama-3.1-8b-instruct"[^>]*list="dl-models"', html)
    assert '<datalist id="dl-models">' in html and 'value="h100-sxm-80gb"' in html
    # add buttons for every repeated group, per kind where there are kinds
    for action in ("add:workloads:llm", "add:workloads:diffusion", "add:training", "add:pipelines"):
        assert f'value="{action}"' in html, action


def test_humanize_reads_units_off_the_name():
    assert humanize("ttft_p95_s") == ("TTFT p95", "s")
    assert humanize("colocation_per_kw_month") == ("Colocation", "currency per kW-month")
    assert humanize("carbon_kg_per_kwh") == ("Carbon", "kg CO₂ per kWh")
    assert humanize("support_pct_capex") == ("Support", "% of CapEx")
    assert humanize("requests_per_day") == ("Requests per day", "requests a day")
    assert humanize("kw_per_rack") == ("kW per rack", "kW") and humanize("monte_carlo_samples") == ("Monte Carlo samples", "draws")


# every kind of list item, so that every numeric field of the schema is in the form
FULL = {"name": "full", "currency": "EUR", "workloads": [
    {"name": "chat", "kind": "llm", "model": "llama-3.1-8b-instruct", "requests_per_day": 100, "input_tokens": 100, "output_tokens": 10},
    {"name": "img", "kind": "diffusion", "model": "sdxl", "images_per_day": 10}],
    "training": [{"name": "t", "model": "llama-3.1-8b-instruct", "tokens": "1M"},
                 {"name": "i", "kind": "image_training", "model": "sdxl", "images": 1000}],
    "pipelines": [{"name": "p", "items_per_day": 10, "stages": [
        {"name": "a", "kind": "llm", "model": "llama-3.1-8b-instruct", "gpu": "l40s", "input_len": 10, "output_len": 10},
        {"name": "b", "kind": "diffusion", "model": "sdxl", "gpu": "l40s"}]}]}


def _numeric_fields():
    return [f for f in editor.walk(editor.scenario_form(FULL)) if f.widget in ("number", "integer")]


def test_every_numeric_field_states_its_range_unit_and_default():
    """Beside every number the form says its allowed range with the unit, and its default as a
    default ('default 3 years'), or that it is required, optional or filled from the catalog."""
    fields = _numeric_fields()
    assert len(fields) > 60
    for f in fields:
        assert f.doc is not None and f.doc.unit, f"{f.path}: no unit"
        assert f.doc.bounds, f"{f.path}: no range"
        facts = f.facts
        assert facts[0] == f.doc.bounds.text(f.doc.unit_in("EUR")), (f.path, facts)
        assert f.doc.unit == "no unit" or facts[0].endswith(f.doc.unit_in("EUR")), (f.path, facts)
        last = facts[-1]
        assert last in ("required", "optional") or last.startswith("default"), (f.path, facts)
        if f.default is not None:
            assert last.startswith(f"default {f.default}") or last.startswith(f"default {float(f.default):g}"), (f.path, facts)
    by_path = {f.path: f.facts for f in fields}
    assert by_path["horizon_years"] == ["1 to 15 years", "default 3 years"]
    assert by_path["targets.ttft_p95_s"] == ["0.0001 to 86400 s", "default 2.0 s"]
    assert by_path["workloads[0].requests_per_day"] == ["> 0, <= 1e+12 requests a day", "optional"]
    assert by_path["workloads[0].input_tokens.mean"] == ["1 to 1e+08 tokens", "required"]
    assert by_path["economics.api_discount_pct"] == [">= 0, < 100 %", "default 0 %"]
    # money in the scenario's currency; an economics field left out comes from the catalog
    assert by_path["economics.tariff_per_kwh"] == ["0 to 100000 EUR per kWh", "default: the economic_defaults catalog row for the region"]


@pytest.mark.parametrize("path", [f.path for f in _numeric_fields()])
def test_the_range_the_form_states_is_the_one_validation_enforces(path):
    """The stated bounds come from the pydantic constraints: a value on an inclusive bound is
    accepted, one on an exclusive bound or just past a bound is refused."""
    from pydantic import TypeAdapter, ValidationError

    f = next(x for x in _numeric_fields() if x.path == path)
    b = f.doc.bounds
    field_info = _field_info(path)
    adapter = TypeAdapter(typing.Annotated[field_info.annotation, field_info])
    for edge, inclusive, outward in ((b.low, b.low_inclusive, -1), (b.high, b.high_inclusive, +1)):
        if edge is None:
            continue
        if inclusive:
            adapter.validate_python(edge)
        else:
            with pytest.raises(ValidationError):
                adapter.validate_python(edge)
        step = max(abs(edge) * 1e-3, 1e-6) if f.widget == "number" else 1
        with pytest.raises(ValidationError):
            adapter.validate_python(edge + outward * step)


def _field_info(path):
    """The FieldInfo behind a form path such as workloads[1].steps (the item's kind picks the model)."""
    from deployscope.scenario.schema_doc import list_models, model_of, pick_model

    model, data = Scenario, FULL
    keys = editor.split_path(path)
    for i, k in enumerate(keys):
        info = model.model_fields[k] if isinstance(k, str) else None
        if i == len(keys) - 1:
            return info
        if isinstance(k, int):
            continue
        data = data.get(k, {}) if isinstance(data, dict) else {}
        if isinstance(keys[i + 1], int):
            data = data[keys[i + 1]]
            model = pick_model(list_models(info.annotation), data.get("kind"))
        else:
            model = model_of(info.annotation)
    raise AssertionError(path)


def test_the_form_shows_range_unit_and_default_beside_each_field(client):
    html = client.get("/scenarios/new").text
    row = re.search(r'<div class="ds-field[^"]*" id="fld-horizon_years-row">.*?</div>\s*</div>', html, re.S).group(0)
    assert '<span class="ds-unit">(years)</span>' in row
    assert '<p class="ds-facts" id="fld-horizon_years-facts">1 to 15 years · default 3 years</p>' in row
    assert 'aria-describedby="fld-horizon_years-help fld-horizon_years-facts"' in row
    assert 'id="fld-targets-ttft_p95_s-facts">0.0001 to 86400 s · default 2.0 s<' in html
    assert re.search(r'id="fld-economics-tariff_per_kwh-facts">0 to 100000 USD per kWh · default [\d.]+ USD per kWh \(economic_defaults, region us\)<', html)
    assert 'id="fld-workloads-0--input_tokens-mean-facts">1 to 1e+08 tokens · required<' in html
    # the same text the template writes in its comment
    from deployscope.scenario import Targets
    from deployscope.scenario.schema_doc import field_doc

    assert field_doc("ttft_p95_s", Targets.model_fields["ttft_p95_s"], Targets).comment in template()


def test_an_empty_economics_field_shows_the_value_the_planner_takes(client):
    """The economic_defaults row for the scenario's region, in its currency: the same figure the
    planner resolves when the field is left out."""
    from deployscope.catalog import default_catalog
    from deployscope.planning.inputs import resolve
    from deployscope.scenario import parse_scenario
    from deployscope.web.economic_defaults import number

    text = template().replace("currency: USD", "currency: EUR").replace("  # region: us", "  region: de")
    inputs = resolve(parse_scenario(load(text, source="t")), default_catalog())
    r = client.post("/scenarios/new", data={"csrf_token": form_value(client.get("/scenarios/new").text, "csrf_token"),
                                             "mode": "yaml", "action": "check", "yaml": text})
    assert r.status_code == 200, r.text[-500:]
    expected = {"tariff_per_kwh": f"{number(inputs.econ.tariff_usd_per_kwh * inputs.fx_per_usd)} EUR per kWh",
                "staff_cost_per_fte": f"{number(inputs.econ.staff_usd_per_fte_year * inputs.fx_per_usd)} EUR per FTE-year",
                "support_pct_capex": f"{number(inputs.econ.support_pct_of_capex * 100)} % of CapEx",
                "pue": number(inputs.econ.pue)}
    for name, value in expected.items():
        facts = re.search(rf'id="fld-economics-{name}-facts">([^<]*)<', r.text).group(1)
        assert facts.endswith(f" · default {value} (economic_defaults, region de)"), (name, facts)
    assert inputs.fx_per_usd != 1.0  # converted from USD: the euro figure, not the dollar one
    # a currency without a known rate: money defaults fall back to naming the catalog row
    odd = client.post("/scenarios/new", data={"csrf_token": form_value(r.text, "csrf_token"), "mode": "yaml", "action": "check",
                                               "yaml": text.replace("currency: EUR", "currency: XYZ")}).text
    assert re.search(r'id="fld-economics-tariff_per_kwh-facts">[^<]*default: the economic_defaults catalog row for the region<', odd)
    assert re.search(r'id="fld-economics-pue-facts">[^<]*default 1.3 \(economic_defaults, region de\)<', odd)


def test_api_docs_carry_labels_units_and_defaults(client):
    schema = client.get("/api/scenario-schema").json()
    ttft = schema["$defs"]["Targets"]["properties"]["ttft_p95_s"]
    assert ttft["title"] == "TTFT p95" and ttft["x-unit"] == "s" and ttft["minimum"] == 0.0001 and ttft["default"] == 2.0
    assert schema["$defs"]["Economics"]["properties"]["pue"]["x-default"] == "the economic_defaults catalog row for the region"
    openapi = client.get("/openapi.json").json()["components"]["schemas"]
    assert openapi["Targets"]["properties"]["ttft_p95_s"]["x-unit"] == "s"
    assert openapi["PlanIn"]["properties"]["scenario"]["anyOf"][0] == {"$ref": "#/components/schemas/Scenario"}
    assert "#/$defs/" not in str(openapi)


# ----------------------------------------------------------------------------- editing without YAML
def test_two_workloads_built_with_the_form_only_and_saved_with_comments(client, store):
    page = client.get("/scenarios/new").text
    r = post_form(client, page, "add:workloads:llm", {})
    assert r.status_code == 200 and "Added an item" in r.text and 'name="f:workloads[1].model"' in r.text
    fields = {"f:name": "two-workloads", "f:workloads[1].name": "summaries", "f:workloads[1].model": "llama-3.1-8b-instruc",
              "f:workloads[1].requests_per_day": "5000", "f:workloads[1].input_tokens.mean": "800",
              "f:workloads[1].output_tokens.mean": "150", "m:candidates.placements": "1",
              "f:candidates.placements": ["on_prem", "api"], "f:candidates.gpus": "h100-sxm-80gb, l40s"}
    r = post_form(client, r.text, "check", fields)
    assert r.status_code == 422
    err = re.search(r'id="fld-workloads-1--model-error"[^>]*>([^<]*)', r.text)
    assert err and "unknown model" in err.group(1) and "did you mean" in err.group(1)
    # a web user is pointed at the Catalog page, not at a command to run
    assert "the Catalog page lists them all" in err.group(1) and "deployscope catalog" not in err.group(1)
    banner = re.search(r'id="form-error"[^>]*>(.*?)</div>', r.text, re.S).group(1)
    assert "did you mean" in banner and "deployscope catalog" not in banner
    fields["f:workloads[1].model"] = "llama-3.1-8b-instruct"
    r = post_form(client, r.text, "check", fields)
    assert r.status_code == 200 and "The scenario is valid." in r.text, re.findall(r'ds-field-error[^>]*>([^<]*)', r.text)
    r = post_form(client, r.text, "save", fields, follow_redirects=False)
    assert r.status_code == 303
    saved = store.get_scenario("two-workloads")
    data = load(saved.yaml, source="saved")
    assert [w["name"] for w in data["workloads"]] == ["chat", "summaries"]
    assert data["candidates"]["placements"] == ["on_prem", "api"] and data["candidates"]["gpus"] == ["h100-sxm-80gb", "l40s"]
    # the template's comments survive the edit
    assert "# time to first token, 95th percentile" in saved.yaml and "# Deployscope scenario." in saved.yaml
    assert "# tariff_per_kwh: 0.12" in saved.yaml


@pytest.mark.parametrize("name", ["template"] + sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_untouched_fields_are_not_rewritten(name):
    """Submitting the form as rendered (checkbox sets included) keeps the YAML byte for byte."""
    base = template() if name == "template" else (EXAMPLES / name).read_text()
    doc = editor.load_document(base)
    fields = editor.walk(editor.scenario_form(editor._plain(doc)))
    form = {f.input_name: (f.checked if f.widget == "checkboxes" else [f.shown]) for f in fields}
    editor.apply_form(doc, form, {f.path for f in fields if f.widget == "checkboxes"})
    assert editor.dump_document(doc) == base


def test_remove_a_workload_and_an_emptied_field_falls_back_to_its_default(client):
    text = (EXAMPLES / "saas-chat.yaml").read_text()
    doc = editor.load_document(text)
    editor.apply_action(doc, "add:workloads:diffusion")
    n = len(doc["workloads"])
    assert doc["workloads"][-1]["kind"] == "diffusion"
    editor.apply_action(doc, f"remove:workloads[{n - 1}]")
    assert len(doc["workloads"]) == n - 1
    editor.apply_form(doc, {"f:targets.ttft_p95_s": [""]}, set())
    assert "ttft_p95_s" not in (doc.get("targets") or {})
    with pytest.raises(DeployscopeError):
        editor.apply_action(doc, "remove:__class__")


def test_training_jobs_pipelines_and_stages_are_added_and_removed_with_the_buttons(client):
    """Every add button the form shows works, and the item it adds is filled in and valid."""
    page = client.get("/scenarios/new").text
    buttons = re.findall(r'name="action" value="(add:[^"]+)"', page)
    assert {"add:training", "add:training:image_training", "add:pipelines"} <= set(buttons)
    for action in ("add:training", "add:training:image_training", "add:pipelines"):
        r = post_form(client, page, action, {})
        assert r.status_code == 200 and "Added an item" in r.text, (action, re.findall(r'ds-field-error[^>]*>([^<]*)', r.text))
        page = r.text
    assert 'name="f:training[0].tokens"' in page and 'name="f:training[1].images"' in page
    assert 'value="add:pipelines[0].stages:llm"' in page and 'value="add:pipelines[0].stages:diffusion"' in page
    r = post_form(client, page, "add:pipelines[0].stages:llm", {})
    assert 'name="f:pipelines[0].stages[0].input_len"' in r.text
    fields = {"f:training[0].model": "llama-3.1-8b-instruct", "f:training[0].tokens": "100M",
              "f:training[1].model": "sdxl", "f:training[1].images": "10000",
              "f:pipelines[0].items_per_day": "100", "f:pipelines[0].stages[0].model": "llama-3.1-8b-instruct",
              "f:pipelines[0].stages[0].gpu": "l40s", "f:pipelines[0].stages[0].input_len": "400", "f:pipelines[0].stages[0].output_len": "100"}
    r = post_form(client, r.text, "check", fields)
    assert r.status_code == 200 and "The scenario is valid." in r.text, re.findall(r'ds-field-error[^>]*>([^<]*)', r.text)
    for item in ("pipelines[0]", "training[1]", "training[0]"):
        r = post_form(client, r.text, f"remove:{item}", {})
        assert "Removed the item" in r.text and f'id="grp-{item.replace("[", "-").replace("]", "-")}"' not in r.text
    data = load(form_value(r.text, "base_yaml"), source="form")
    assert not data.get("training") and not data.get("pipelines")


def test_switching_a_workload_kind_drops_the_fields_it_does_not_have():
    doc = editor.load_document(template())
    editor.apply_form(doc, {"f:workloads[0].kind": ["diffusion"]}, set())
    assert "input_tokens" not in doc["workloads"][0]
    # the form now shows the diffusion fields; the next submit fills them
    assert any(f.path == "workloads[0].images_per_day" for f in editor.walk(editor.scenario_form(editor._plain(doc))))
    editor.apply_form(doc, {"f:workloads[0].images_per_day": ["100"]}, set())
    w = doc["workloads"][0]
    assert w["kind"] == "diffusion" and "input_tokens" not in w and w["images_per_day"] == 100


def test_a_plan_error_returns_to_the_form_with_the_error_beside_the_field(client, store):
    sid = store.save_scenario("broken", template().replace("model: llama-3.1-8b-instruct", "model: llama-3.1-8b-instruc"))
    tok = form_token(client)
    r = client.post(f"/scenarios/{sid}/plan", data={"csrf_token": tok})
    assert r.status_code == 422
    assert 'id="scenario-form"' in r.text and 'id="fld-workloads-0--model-error"' in r.text and "did you mean" in r.text
    err = re.search(r'id="fld-workloads-0--model-error"[^>]*>([^<]*)', r.text).group(1)
    assert "Catalog page" in err and "`deployscope" not in err  # also when the error comes back from a plan process


def test_error_page_links_back(client):
    r = client.get("/plans/999", headers={"referer": "http://testserver/scenarios/3/edit"})
    assert r.status_code == 404 and '<a href="/scenarios/3/edit" id="error-back">' in r.text
    r = client.get("/plans/999", headers={"referer": "http://evil.example/x"})
    assert "error-back" not in r.text  # only our own pages


def test_api_check_is_the_cli_validation(client):
    r = client.post("/api/scenarios/check", json={"yaml": template().replace("llama-3.1-8b-instruct", "llama-3.1-8b-instruc")})
    assert r.status_code == 400 and r.json()["field"] == "workloads[0].model" and "did you mean" in r.json()["error"]
    assert client.post("/api/scenarios/check", json={"yaml": template()}).json()["valid"] is True
    schema = client.get("/api/scenario-schema").json()
    assert "time to first token" in str(schema)


def test_web_check_names_every_reference_the_planner_would_refuse(client):
    """The form and the API run the same reference check as `scenario validate` and the planner:
    an unknown provider or region is a field error, not a valid scenario that fails at plan time."""
    for old, new, field in (("# providers: [aws, together]", "providers: [awz]", "candidates.providers[0]"),
                            ("# region: us", "region: atlantis", "economics.region")):
        r = client.post("/api/scenarios/check", json={"yaml": template().replace(old, new)})
        assert r.status_code == 400 and r.json()["field"] == field, r.json()
        assert "did you mean" in r.json()["error"] or r.json()["allowed"], r.json()


# ----------------------------------------------------------------------------- compare, catalog, measurements
def test_compare_warns_on_currency_horizon_and_catalog_date_and_lists_input_differences(client, store):
    a = sample_plan("usd-plan")
    b = sample_plan("eur-plan").model_copy(update={"currency": "EUR", "horizon_years": 5,
                                                    "scenario": {"name": "eur-plan", "horizon_years": 5, "currency": {"code": "EUR"}}})
    b.sources[0] = b.sources[0].model_copy(update={"as_of": "2026-01-01"})
    pa, pb = store.save_plan(None, a), store.save_plan(None, b)
    html = client.get(f"/compare?a={pa}&b={pb}").text
    assert 'id="compare-warnings"' in html
    assert "Different currencies: plan A is in USD, plan B in EUR" in html
    assert "Different horizons: 3 years against 5 years" in html and "Different catalog dates" in html
    diff = re.search(r'<table class="ds-table" id="compare-differences">.*?</table>', html, re.S).group(0)
    assert "horizon_years" in diff and "currency.code" in diff
    same = client.get(f"/compare?a={pa}&b={pa}").text
    assert 'id="compare-warnings"' not in same and "answer the same inputs" in same


def test_catalog_tables_sort_filter_and_round(client):
    html = client.get("/catalog/accelerators?sort=memory_gb&desc=1").text
    ids = re.findall(r"<tr><td><code>([^<]+)</code>", html)
    from deployscope.catalog import default_catalog

    mem = {r.id: r.memory_gb or 0 for r in default_catalog().table("accelerators")}
    assert [mem[i] for i in ids] == sorted((mem[i] for i in ids), reverse=True)
    assert "▼" in html and "https://" in html  # sources linked
    filtered = client.get("/catalog/accelerators?q=h100").text
    assert 0 < len(re.findall(r"<tr><td><code>", filtered)) < len(ids)
    assert not re.search(r">\d+\.\d{5,}<", html)  # no long decimals


def test_measurement_charts_from_a_run(client, store):
    recs = [{"send": i * 0.1, "chunks": [0.05 + 0.001 * i, 0.1 + 0.001 * i, 0.15 + 0.002 * i], "status": 200, "error": None,
             "usage_completion": 3, "end": 0.2} for i in range(40)]
    summary = {"completed": 40, "errors": 0, "output_tokens_per_s": 123.456789, "mean_concurrency": 3.3,
               "ttft_s": {"p50": 0.0712345678, "mean": 0.072}, "tpot_s": {"mean": 0.025}, "model": "llama-3.1-8b", "gpu": "h100-sxm-80gb", "engine": "vllm",
               "input_tokens": 4000, "output_tokens": 120}
    rid = store.save_bench_run(summary, recs)
    html = client.get(f"/measurements/{rid}").text
    for cid in ("chart-ttft-distribution", "chart-tpot-distribution", "chart-throughput-concurrency", "chart-measured-predicted"):
        assert f'id="{cid}"' in html, cid
    assert "123.5" in html and "0.07123" in html and "0.0712345678" not in html.split("Full summary")[0]
    assert 'id="run-predicted"' in html


def test_every_field_the_template_writes_is_described_in_the_schema():
    """The `scenario init` template, the form and the API docs speak of the same fields: every
    key the template sets (comments aside) has a schema description the form shows as help."""
    data = load(template(), source="template")
    fields = {f.path: f for f in editor.walk(editor.scenario_form(data))}
    written = [f for f in fields.values() if f.present]
    assert len(written) > 20
    assert [f.path for f in written if not f.help] == []


def test_form_help_points_at_the_page_not_a_cli_listing_and_rates_read_as_rates():
    from deployscope.scenario import Currency, LLMWorkload, schema_doc
    from deployscope.web.editor import web_help

    model = schema_doc.field_doc("model", LLMWorkload.model_fields["model"], LLMWorkload)
    assert "deployscope catalog models" in model.help  # the template comment keeps the command
    assert "deployscope catalog models" not in web_help(model.help) and "Catalog page" in web_help(model.help)
    rate = schema_doc.field_doc("per_usd", Currency.model_fields["per_usd"], Currency)
    assert rate.unit_in("USD") == "currency per USD" and rate.unit_in("EUR") == "EUR per USD"
