"""Plan pages: the list, one plan with its report downloads, saving a previewed plan, and the
comparison of two plans (with a warning when their currency, horizon or catalog date differ, and
the inputs that differ)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ...errors import DeployscopeError
from ...store import Store
from ..offload import in_thread, parse_off_loop
from ..rendering import page, store_of
from .scenarios import _validate, form_page

router = APIRouter(include_in_schema=False)

REPORT_FORMATS = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8", "json": "application/json",
                  "pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
                  "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
MAX_DIFFERENCES = 200


@lru_cache(maxsize=8)
def _typed_plan(pid: int, plan_json: str) -> Any:
    """A saved plan as a typed Plan. A saved plan never changes, so the last few read are kept,
    keyed by their text (a deleted or replaced plan is never served from here)."""
    import json

    from ...result import Plan

    return Plan.model_validate(json.loads(plan_json))  # as PlanRecord.to_plan reads it


@lru_cache(maxsize=8)
def _plan_view(pid: int, plan_json: str) -> dict[str, Any]:
    """The plan page's context of a saved plan with its body (tables and charts, which depend on
    the plan alone) rendered, kept like _typed_plan."""
    from markupsafe import Markup

    from ...report.html import plan_context
    from ..rendering import templates

    ctx = plan_context(_typed_plan(pid, plan_json))
    body = templates().env.get_template("_plan_body.html.j2").render(**ctx)
    return {**ctx, "plan_body": Markup(body)}


def typed_plan(rec: Any) -> Any:
    return _typed_plan(rec.id, rec.plan_json)


def report_response(store: Store, pid: int, fmt: str) -> Response:
    from ...report import report_bytes

    if fmt not in REPORT_FORMATS:
        raise DeployscopeError(f"unknown report format {fmt!r}", field="format", value=fmt, allowed=sorted(REPORT_FORMATS))
    rec = store.get_plan(pid)
    data = report_bytes(typed_plan(rec), fmt)
    fname = f"deployscope-plan-{rec.id}.{fmt}"
    return Response(data, media_type=REPORT_FORMATS[fmt], headers={"Content-Disposition": f'attachment; filename="{fname}"'})


@router.post("/plans/save")
async def post_save_plan(request: Request, yaml_text: str = Form(..., alias="yaml"), store: Store = Depends(store_of)) -> Response:
    try:
        scenario = await parse_off_loop(_validate, yaml_text)
        plan = await request.app.state.plans.plan(scenario)
    except DeployscopeError as exc:
        return await form_page(request, yaml_text=yaml_text, scenario_id=None, error=exc, status=422)
    sid = await in_thread(store.save_scenario, scenario.name, yaml_text)
    pid = await in_thread(store.save_plan, sid, plan)
    return RedirectResponse(f"/plans/{pid}", status_code=303)


@router.get("/plans", response_class=HTMLResponse)
def plans_page(request: Request, store: Store = Depends(store_of)) -> Response:
    return page(request, "plans.html", plans=store.list_plans())


@router.get("/plans/{pid}", response_class=HTMLResponse)
def plan_page(request: Request, pid: int, store: Store = Depends(store_of)) -> Response:
    rec = store.get_plan(pid)
    return page(request, "plan.html", **_plan_view(rec.id, rec.plan_json), plan_id=rec.id, preview_yaml=None,
                scenario_id=rec.scenario_id, created_at=rec.created_at)


@router.get("/plans/{pid}/report.{fmt}")
def plan_report(pid: int, fmt: str, store: Store = Depends(store_of)) -> Response:
    return report_response(store, pid, fmt)


# ----------------------------------------------------------------------------- compare
def catalog_date(plan: Any) -> str | None:
    """The newest `as_of` among the catalog rows a plan rests on (its catalog's date)."""
    dates = [s.as_of for s in plan.sources if getattr(s, "as_of", None)]
    for o in plan.options:
        dates += [s.as_of for s in o.sources if getattr(s, "as_of", None)]
    return max(dates) if dates else None


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(d, list) and any(isinstance(x, (dict, list)) for x in d):
        for i, v in enumerate(d):
            out.update(_flat(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = d
    return out


def input_differences(a: Any, b: Any) -> list[tuple[str, Any, Any]]:
    """(field, value in A, value in B) for every scenario input that differs (defaults filled in)."""
    fa, fb = _flat(a.scenario or {}), _flat(b.scenario or {})
    keys = [k for k in fa if k != "name"] + [k for k in fb if k not in fa and k != "name"]
    return [(k, fa.get(k), fb.get(k)) for k in keys if fa.get(k) != fb.get(k)][:MAX_DIFFERENCES]


def comparison_warnings(a: Any, b: Any) -> list[str]:
    """Why the two plans' figures cannot be read side by side as they stand."""
    out = []
    if a.currency != b.currency:
        out.append(f"Different currencies: plan A is in {a.currency}, plan B in {b.currency}. "
                   "Money figures are not comparable until both are planned in one currency.")
    if a.horizon_years != b.horizon_years:
        out.append(f"Different horizons: {a.horizon_years} years against {b.horizon_years} years. "
                   "NPV and totals cover different periods; compare unit costs instead, or plan both over one horizon.")
    da, db = catalog_date(a), catalog_date(b)
    if da and db and da != db:
        out.append(f"Different catalog dates: plan A rests on catalog rows as of {da}, plan B as of {db}. "
                   "Prices and specs may have moved between them.")
    return out


@router.get("/compare", response_class=HTMLResponse)
def compare(request: Request, a: Optional[int] = None, b: Optional[int] = None, store: Store = Depends(store_of)) -> Response:
    from ...report.charts import cumulative_cost_chart, unit_cost_chart
    from ...report.html import template_helpers

    sides = []
    plans = []
    for pid in (a, b):
        if pid is None:
            continue
        rec = store.get_plan(pid)
        plan = typed_plan(rec)
        plans.append(plan)
        charts = [c for c in (cumulative_cost_chart(plan), unit_cost_chart(plan)) if c is not None]
        sides.append({"rec": rec, "plan": plan, "best": plan.best, "charts": charts, "catalog_date": catalog_date(plan),
                      **template_helpers(plan)})
    warnings = comparison_warnings(*plans) if len(plans) == 2 else []
    differences = input_differences(*plans) if len(plans) == 2 else []
    return page(request, "compare.html", sides=sides, plans=store.list_plans(), a=a, b=b, warnings=warnings, differences=differences)
