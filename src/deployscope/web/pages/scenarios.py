"""Scenario pages: the list, and the guided editor (form and YAML) with Check, Save and Plan.

Every step that reads the user's text (the safe YAML parse, the schema, the catalog references,
the round-trip edit) runs in a worker thread; plans run in the app's bounded plan pool. An error
always comes back on the form, beside the field it names.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ...catalog import default_catalog
from ...errors import DeployscopeError
from ...references import check_references
from ...store import Store
from .. import editor
from ..errors import page_message
from ..offload import in_thread, parse_off_loop, parse_yaml, scenario_from_text
from ..rendering import page, store_of

router = APIRouter(include_in_schema=False)
MAX_FORM_FIELDS = 5000


@lru_cache(maxsize=1)
def pickers() -> dict[str, list[tuple[str, str]]]:
    """Datalists for the model, GPU, API, provider and format pickers: (id, description)."""
    from ...catalog import default_catalog

    cat = default_catalog()

    def rows(table: str) -> list[Any]:
        try:
            return list(cat.table(table))
        except DeployscopeError:
            return []

    def name(r: Any) -> str:
        return str(getattr(r, "name", "") or "")

    out = {
        "dl-models": [(r.id, f"{name(r)} · {getattr(r, 'modality', '')} · {getattr(r, 'params_b', '')}B") for r in rows("models")],
        "dl-gpus": [(r.id, f"{name(r)} · {getattr(r, 'memory_gb', '')} GB") for r in rows("accelerators")],
        "dl-apis": [(r.id, f"{getattr(r, 'provider', '')} · {getattr(r, 'model', '')}") for r in rows("api_prices")],
        "dl-quants": [(r.id, name(r)) for r in rows("quant")],
    }
    providers = sorted({str(getattr(r, "provider", "")) for t in ("api_prices", "cloud_instances") for r in rows(t) if getattr(r, "provider", "")})
    out["dl-providers"] = [(p, "") for p in providers]
    return out


def _form_context(yaml_text: str, error: DeployscopeError | None) -> dict[str, Any]:
    """Runs in a thread: the form built from the YAML, the error placed beside its field, and
    its fields as HTML. A form with no error depends on its text alone: the last few are kept."""
    if error is None and len(yaml_text) <= MAX_CACHED_FORM_TEXT:
        return _clean_form_context(yaml_text, id(default_catalog()))  # the form shows catalog defaults and pickers
    return _build_form_context(yaml_text, error)


MAX_CACHED_FORM_TEXT = 64 * 1024  # the template is ~20 KiB; larger texts are rendered each time


@lru_cache(maxsize=16)
def _clean_form_context(yaml_text: str, catalog_id: int) -> dict[str, Any]:
    return _build_form_context(yaml_text, None)


def _build_form_context(yaml_text: str, error: DeployscopeError | None) -> dict[str, Any]:
    yaml_error = None
    try:
        data = parse_yaml(yaml_text, "yaml")
    except DeployscopeError as exc:
        data, yaml_error = {}, exc
    root = editor.scenario_form(data if isinstance(data, dict) else {})
    editor.show_left_out_defaults(root, data)
    matched = editor.attach_error(root, error) if error is not None else False
    return {"root": root, "matched": matched, "yaml_error": yaml_error, "pickers": pickers(), "fields_html": fields_html(root)}


@lru_cache(maxsize=1)
def _field_macros() -> Any:
    from ..rendering import templates

    return templates().env.get_template("_scenario_fields.html").make_module({"form_seen_prefix": editor.SEEN_PREFIX})


def fields_html(root: Any) -> dict[str, Any]:
    """The form's general fields and its groups as HTML (templates/_scenario_fields.html)."""
    from markupsafe import Markup

    macros = _field_macros()
    return {"general": Markup("".join(macros.field(f) for f in root.fields)),
            "groups": Markup("".join(macros.group(g, 0) for g in root.groups))}


async def form_page(request: Request, *, yaml_text: str, scenario_id: int | None, error: DeployscopeError | None = None,
                    message: str | None = None, status: int = 200) -> Response:
    ctx = await parse_off_loop(_form_context, yaml_text, error)
    if ctx["yaml_error"] is not None and error is None:
        error = ctx["yaml_error"]
    return page(request, "scenario_form.html", status, yaml_text=yaml_text, scenario_id=scenario_id, error=error,
                error_text=page_message(error) if error is not None else "",
                error_matched=ctx["matched"], message=message, pickers=ctx["pickers"], fields_html=ctx["fields_html"])


@router.get("/scenarios", response_class=HTMLResponse)
def scenarios_page(request: Request, store: Store = Depends(store_of)) -> Response:
    counts: dict[int, int] = {}
    for p in store.list_plans(limit=100_000):
        if p.scenario_id is not None:
            counts[p.scenario_id] = counts.get(p.scenario_id, 0) + 1
    return page(request, "scenarios.html", scenarios=store.list_scenarios(), counts=counts)


@router.get("/scenarios/new", response_class=HTMLResponse)
async def new_scenario(request: Request) -> Response:
    from ...scenario import template

    return await form_page(request, yaml_text=template(), scenario_id=None)


@router.get("/scenarios/{sid}/edit", response_class=HTMLResponse)
async def edit_scenario(request: Request, sid: int, saved: int = 0, store: Store = Depends(store_of)) -> Response:
    rec = await in_thread(store.get_scenario, sid)
    return await form_page(request, yaml_text=rec.yaml, scenario_id=rec.id, message=f"Saved scenario {rec.name!r}." if saved else None)


def _edit(base_text: str, fields: dict[str, list[str]], seen: set[str], action: str) -> tuple[str, bool]:
    """Runs in a thread: the form's inputs (and an add/remove action) written into the YAML."""
    doc = editor.load_document(base_text)
    editor.apply_form(doc, fields, seen)
    structural = editor.apply_action(doc, action)
    return editor.dump_document(doc), structural


def _validate(yaml_text: str) -> Any:
    """Runs in a thread: what `deployscope scenario validate` checks (schema and catalog ids)."""
    scenario, _ = scenario_from_text(yaml_text, "yaml")
    check_references(scenario, default_catalog())
    return scenario


async def handle_form(request: Request, scenario_id: int | None, store: Store) -> Response:
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    mode = str(form.get("mode", "form"))
    action = str(form.get("action", "check"))
    if mode == "yaml":
        yaml_text = str(form.get("yaml", ""))
    else:
        base_text = str(form.get("base_yaml", ""))
        fields: dict[str, list[str]] = {}
        for k, v in form.multi_items():
            if k.startswith(editor.FIELD_PREFIX):
                fields.setdefault(k, []).append(str(v))
        seen = {k[len(editor.SEEN_PREFIX):] for k in form.keys() if k.startswith(editor.SEEN_PREFIX)}
        try:
            yaml_text, structural = await parse_off_loop(_edit, base_text, fields, seen, action)
        except DeployscopeError as exc:
            return await form_page(request, yaml_text=base_text, scenario_id=scenario_id, error=exc, status=422)
        if structural:
            done = "Added an item." if action.startswith("add:") else "Removed the item."
            return await form_page(request, yaml_text=yaml_text, scenario_id=scenario_id, message=done + " Nothing is saved until you press Save.")
    try:
        scenario = await parse_off_loop(_validate, yaml_text)
    except DeployscopeError as exc:
        return await form_page(request, yaml_text=yaml_text, scenario_id=scenario_id, error=exc, status=422)
    if action == "plan":
        try:
            plan = await request.app.state.plans.plan(scenario)
        except DeployscopeError as exc:
            return await form_page(request, yaml_text=yaml_text, scenario_id=scenario_id, error=exc, status=422)
        from ...report.html import plan_context

        return page(request, "plan.html", **plan_context(plan), plan_id=None, preview_yaml=yaml_text, scenario_id=scenario_id)
    if action == "save":
        sid = await in_thread(store.save_scenario, scenario.name, yaml_text)
        return RedirectResponse(f"/scenarios/{sid}/edit?saved=1", status_code=303)
    return await form_page(request, yaml_text=yaml_text, scenario_id=scenario_id, message="The scenario is valid.")


@router.post("/scenarios/new")
async def post_new(request: Request, store: Store = Depends(store_of)) -> Response:
    return await handle_form(request, None, store)


@router.post("/scenarios/{sid}/edit")
async def post_edit(request: Request, sid: int, store: Store = Depends(store_of)) -> Response:
    await in_thread(store.get_scenario, sid)
    return await handle_form(request, sid, store)


@router.post("/scenarios/{sid}/delete")
def post_delete(sid: int, store: Store = Depends(store_of)) -> Response:
    store.delete_scenario(sid)
    return RedirectResponse("/scenarios", status_code=303)


@router.post("/scenarios/{sid}/plan")
async def post_plan_saved(request: Request, sid: int, store: Store = Depends(store_of)) -> Response:
    """Plan a saved scenario and save the plan; an error comes back on the scenario's form."""
    rec = await in_thread(store.get_scenario, sid)
    try:
        scenario = await parse_off_loop(_validate, rec.yaml)
        plan = await request.app.state.plans.plan(scenario)
    except DeployscopeError as exc:
        return await form_page(request, yaml_text=rec.yaml, scenario_id=rec.id, error=exc, status=422)
    pid = await in_thread(store.save_plan, rec.id, plan)
    return RedirectResponse(f"/plans/{pid}", status_code=303)
