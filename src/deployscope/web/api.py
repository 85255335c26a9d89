"""The JSON API: the CLI's functions over HTTP (plan, memory, fit, perf, catalog, store).

Bodies are checked before they get here (strict JSON, depth, Unicode: see security.py); YAML
text is parsed in a worker thread by the safe loader; plans run in the app's bounded pool; store
calls run in worker threads. Errors are JSON naming the field (errors.py).
"""

from __future__ import annotations

import time
from typing import Any, Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ConfigDict, Field

from .. import __version__
from ..catalog import default_catalog
from ..catalog.base import NoBoolNumbers
from ..errors import DeployscopeError
from ..references import check_references
from ..store import Store
from .offload import in_thread, parse_off_loop, scenario_from_data, scenario_from_text
from .pages.catalog import catalog_tables, row_dict, table_rows
from .pages.plans import report_response
from .rendering import json_response, store_of
from .security import MAX_BODY_BYTES

router = APIRouter()
MAX_TEXT = 200  # characters of a catalog id or name in a body


class _In(NoBoolNumbers):
    # true/false in a number ({"tp": true}) is refused, not read as 1
    model_config = ConfigDict(extra="forbid")


class ScenarioIn(_In):
    name: Optional[str] = Field(default=None, max_length=200, description="name to save under (default: the scenario's own name)")
    yaml: str = Field(min_length=1, max_length=MAX_BODY_BYTES, description="the scenario as YAML text")


class PlanIn(_In):
    scenario: Optional[dict[str, Any]] = Field(default=None, description="the scenario as a JSON object (schema: GET /api/scenario-schema)")
    yaml: Optional[str] = Field(default=None, max_length=MAX_BODY_BYTES, description="or: the scenario as YAML text")
    saved: Optional[str] = Field(default=None, max_length=200, description="or: the name or id of a saved scenario")


class MemoryIn(_In):
    model: str = Field(min_length=1, max_length=MAX_TEXT, description="model id or alias")
    quant: str = Field(default="bf16", max_length=MAX_TEXT)
    kv_quant: Optional[str] = Field(default=None, max_length=MAX_TEXT)
    context: int = Field(default=8192, gt=0, le=10_000_000)
    batch: int = Field(default=1, gt=0, le=1_000_000)
    tp: int = Field(default=1, gt=0, le=4096)
    pp: int = Field(default=1, gt=0, le=4096)
    ep: int = Field(default=1, gt=0, le=4096)
    engine: str = Field(default="vllm", max_length=MAX_TEXT)


class PerfIn(_In):
    model: str = Field(min_length=1, max_length=MAX_TEXT, description="model id or alias")
    gpu: str = Field(min_length=1, max_length=MAX_TEXT, description="accelerator id or alias")
    gpus: Optional[int] = Field(default=None, gt=0, le=100_000, description="GPUs in the whole deployment (default: one replica)")
    tp: int = Field(default=1, gt=0, le=4096)
    pp: int = Field(default=1, gt=0, le=4096)
    ep: int = Field(default=1, gt=0, le=4096)
    quant: str = Field(default="bf16", max_length=MAX_TEXT)
    kv_quant: Optional[str] = Field(default=None, max_length=MAX_TEXT)
    engine: str = Field(default="vllm", max_length=MAX_TEXT)
    input_len: float = Field(gt=0, le=10_000_000, description="prompt tokens per request")
    output_len: float = Field(ge=0, le=10_000_000, description="output tokens per request")
    concurrency: Optional[float] = Field(default=None, gt=0, le=1_000_000, description="requests in flight (closed loop)")
    rate: Optional[float] = Field(default=None, gt=0, le=1_000_000, description="requests per second (Poisson)")
    calibration: Optional[str] = Field(default=None, max_length=MAX_TEXT)
    prefix_cache_hit_rate: float = Field(default=0.0, ge=0, le=1)


class FitIn(_In):
    model: str = Field(min_length=1, max_length=MAX_TEXT)
    context: int = Field(default=8192, gt=0, le=10_000_000)
    gpus: Optional[list[str]] = Field(default=None, max_length=64)
    kv_quant: Optional[str] = Field(default=None, max_length=MAX_TEXT)


# ----------------------------------------------------------------------------- meta
@router.get("/api/health", tags=["meta"])
def health(request: Request) -> dict[str, Any]:
    """Liveness and the store in use."""
    return {"status": "ok", "version": __version__, "store": request.app.state.store.display_url}


def with_scenario_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the scenario's schema (labels, units, bounds, defaults) to the OpenAPI document, so
    the API docs list every scenario field, and point `PlanIn.scenario` at it."""
    import json

    from ..scenario import Scenario
    from ..scenario.schema_doc import json_schema

    scenario = json.loads(json.dumps(json_schema(Scenario)).replace('"#/$defs/', '"#/components/schemas/'))
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, sub in scenario.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas.setdefault("Scenario", scenario)
    plan_in = schemas.get("PlanIn", {}).get("properties", {}).get("scenario")
    if plan_in is not None:
        plan_in["anyOf"] = [{"$ref": "#/components/schemas/Scenario"}, {"type": "null"}]
    return openapi


@router.get("/api/scenario-schema", tags=["meta"])
def scenario_schema() -> Response:
    """The scenario's JSON Schema: every field with its label (`title`), description, unit
    (`x-unit`), bounds, default and allowed values: what the web form shows beside each field."""
    from ..scenario import Scenario
    from ..scenario.schema_doc import json_schema

    return json_response(json_schema(Scenario))


# ----------------------------------------------------------------------------- plan
def _checked(text: str) -> Any:
    scenario, _ = scenario_from_text(text, "yaml")
    return scenario


def _checked_data(data: dict[str, Any]) -> Any:
    return scenario_from_data(data, "scenario")


@router.post("/api/plan", tags=["plan"])
async def api_plan(request: Request, body: PlanIn, save: bool = Query(False, description="also save the scenario and the plan"),
                   store: Store = Depends(store_of)) -> Response:
    """Plan a scenario (like `deployscope plan --json`). Give one of `scenario`, `yaml`, `saved`."""
    given = [k for k in ("scenario", "yaml", "saved") if getattr(body, k) is not None]
    if len(given) != 1:
        raise DeployscopeError("give exactly one of scenario, yaml or saved", field="body", value=",".join(given) or None,
                               allowed="scenario, yaml, saved")
    yaml_text = None
    saved_id = None
    t0 = time.perf_counter()
    if body.scenario is not None:
        import yaml as pyyaml

        scenario = await parse_off_loop(_checked_data, body.scenario)
        yaml_text = pyyaml.safe_dump(body.scenario, sort_keys=False, allow_unicode=True, width=100)
    elif body.yaml is not None:
        scenario = await parse_off_loop(_checked, body.yaml)
        yaml_text = body.yaml
    else:
        rec = await in_thread(store.get_scenario, body.saved)
        saved_id = rec.id
        scenario = await parse_off_loop(_checked, rec.yaml)
    parse_s = time.perf_counter() - t0
    text, timing = await request.app.state.plans.plan_json(scenario)  # serialized in the worker
    timing = {"parse": parse_s, **timing}
    headers: dict[str, str] = {}
    if save:
        t1 = time.perf_counter()
        sid = saved_id if yaml_text is None else await in_thread(store.save_scenario, scenario.name, yaml_text)
        pid = await in_thread(store.save_plan, sid, text)
        timing["store"] = time.perf_counter() - t1
        headers.update({"X-Deployscope-Plan-Id": str(pid), "X-Deployscope-Scenario-Id": str(sid), "Location": f"/api/plans/{pid}"})
    headers["Server-Timing"] = ", ".join(f"{k};dur={v * 1000:.1f}" for k, v in timing.items())
    return Response(text.encode("utf-8"), media_type="application/json", headers=headers)


@router.post("/api/scenarios/check", tags=["plan"])
async def api_check(body: ScenarioIn) -> Response:
    """Validate a scenario like `deployscope scenario validate`: the schema, then every catalog id
    it names (an unknown model is a 400 naming the field, with "did you mean" suggestions)."""
    def run() -> Any:
        scenario = _checked(body.yaml)
        check_references(scenario, default_catalog())
        return scenario.model_dump(mode="json")

    return json_response({"valid": True, "scenario": await parse_off_loop(run)})


# ----------------------------------------------------------------------------- physics
@router.post("/api/memory", tags=["physics"])
def api_memory(body: MemoryIn) -> Response:
    """Bytes one replica needs (like `deployscope memory --json`)."""
    from ..physics.memory import estimate_memory

    est = estimate_memory(body.model, quant=body.quant, kv_quant=body.kv_quant, context=body.context, batch=body.batch,
                          tp=body.tp, pp=body.pp, ep=body.ep, engine=body.engine)
    return json_response(est.to_dict())


@router.post("/api/fit", tags=["physics"])
def api_fit(body: FitIn) -> Response:
    """Fewest GPUs that hold a model per GPU x format (like `deployscope fit --json`)."""
    from ..physics.memory import fit_rows, resolve_model

    m = resolve_model(body.model)
    rows = fit_rows(m, context=body.context, gpus=body.gpus or None, kv_quant=body.kv_quant)
    return json_response({"model": m.id, "context": body.context, "kv_quant": body.kv_quant or "bf16", "rows": rows})


@router.post("/api/perf", tags=["physics"])
def api_perf(body: PerfIn) -> Response:
    """Throughput and latency of a deployment (like `deployscope perf --json`)."""
    from ..physics.serving import Deployment, Load, evaluate

    if body.concurrency is not None and body.rate is not None:
        raise DeployscopeError("give one of concurrency and rate", field="rate", value=body.rate, allowed="concurrency or rate")
    dep = Deployment(model=body.model, gpu=body.gpu, gpus=body.gpus, tp=body.tp, pp=body.pp, ep=body.ep, quant=body.quant,
                     kv_quant=body.kv_quant, engine=body.engine, calibration=body.calibration)
    load = Load(input_len=body.input_len, output_len=body.output_len, concurrency=body.concurrency, rate=body.rate,
                prefix_cache_hit_rate=body.prefix_cache_hit_rate)
    res = evaluate(dep, load)
    return json_response(res)


# ----------------------------------------------------------------------------- catalog
@router.get("/api/catalog", tags=["catalog"])
def api_catalog() -> dict[str, int]:
    """Catalog tables and their row counts."""
    return {name: n for name, n in catalog_tables()}


@router.get("/api/catalog/{table}", tags=["catalog"])
def api_catalog_table(table: str, q: str = Query("", max_length=200)) -> Response:
    """Rows of one catalog table (bundled + user overrides), each with source and as_of."""
    rows = [row_dict(r) for r in table_rows(table)]
    return json_response([r for r in rows if not q or q.lower() in str(r).lower()])


# ----------------------------------------------------------------------------- store
@router.get("/api/scenarios", tags=["store"])
def api_scenarios(store: Store = Depends(store_of)) -> Response:
    """Saved scenarios, newest first."""
    return json_response([r.to_dict() for r in store.list_scenarios()])


@router.post("/api/scenarios", tags=["store"], status_code=201)
async def api_save_scenario(body: ScenarioIn, store: Store = Depends(store_of)) -> Response:
    """Validate (schema and catalog ids) and save a scenario, replacing one of the same name."""
    def check() -> Any:
        scenario = _checked(body.yaml)
        check_references(scenario, default_catalog())
        return scenario

    def save(name: str) -> dict[str, Any]:
        return store.get_scenario(store.save_scenario(name, body.yaml)).to_dict()

    scenario = await parse_off_loop(check)
    rec = await in_thread(save, body.name or scenario.name)
    return json_response(rec, 201, {"Location": f"/api/scenarios/{rec['id']}"})


@router.get("/api/scenarios/{name_or_id}", tags=["store"])
def api_get_scenario(name_or_id: str, store: Store = Depends(store_of)) -> Response:
    return json_response(store.get_scenario(name_or_id).to_dict())


@router.delete("/api/scenarios/{name_or_id}", tags=["store"])
def api_delete_scenario(name_or_id: str, store: Store = Depends(store_of)) -> Response:
    """Delete a scenario and its plans."""
    rec = store.get_scenario(name_or_id)
    n = store.delete_scenario(rec.id)
    return json_response({"deleted": rec.id, "plans_deleted": n})


@router.get("/api/plans", tags=["store"])
def api_plans(scenario: Optional[str] = Query(None, max_length=200), limit: int = Query(200, gt=0, le=10_000),
              store: Store = Depends(store_of)) -> Response:
    return json_response([p.to_dict() for p in store.list_plans(scenario, limit=limit)])


@router.get("/api/plans/{pid}", tags=["store"])
def api_get_plan(pid: int, store: Store = Depends(store_of)) -> Response:
    return json_response(store.get_plan(pid).to_dict(with_plan=True))


@router.get("/api/plans/{pid}/report.{fmt}", tags=["store"])
def api_plan_report(pid: int, fmt: Literal["html", "md", "json", "pdf", "csv", "xlsx"], store: Store = Depends(store_of)) -> Response:
    """A saved plan's report; the format follows the extension."""
    return report_response(store, pid, fmt)


@router.get("/api/bench-runs", tags=["store"])
def api_bench_runs(store: Store = Depends(store_of)) -> Response:
    return json_response([r.to_dict() for r in store.list_bench_runs()])


@router.get("/api/bench-runs/{rid}", tags=["store"])
def api_bench_run(rid: int, store: Store = Depends(store_of)) -> Response:
    return json_response(store.get_bench_run(rid).to_dict())


@router.get("/api/calibrations", tags=["store"])
def api_calibrations(store: Store = Depends(store_of)) -> Response:
    return json_response([c.to_dict() for c in store.list_calibrations()])
