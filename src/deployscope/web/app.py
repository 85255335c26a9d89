"""The web app: server-rendered pages and a JSON API over the same functions as the CLI.

``create_app(store=None, token=None)`` builds a FastAPI app. Pages are Jinja2 templates, static
assets are vendored under ``static/`` with versions in their names, and the Guard middleware
sends ``Content-Security-Policy: default-src 'self'`` on every response, limits request bodies
to 1 MiB and, when a token is set, requires it on every request. See docs/web.md.
"""

from __future__ import annotations

import inspect
import logging
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from fastapi import FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import DeployscopeError
from ..store import NotFound, Store
from .forms import FIELD_PREFIX, FormField, apply_fields, dump_yaml, flatten
from .security import MAX_BODY_BYTES, TOKEN_COOKIE, Guard

log = logging.getLogger("deployscope.web")

HERE = Path(__file__).parent
STATIC = HERE / "static"
ASSET_VERSION = "0.1.0"  # the version in our own static file names
SWAGGER_DIR = "vendor/swagger-ui-5.35.0"
REPORT_FORMATS = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8", "json": "application/json",
                  "pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
                  "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
CATALOG_TABLES = None  # every registered table


# ----------------------------------------------------------------------------- API models
class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScenarioIn(_In):
    name: Optional[str] = Field(default=None, description="name to save under (default: the scenario's own name)")
    yaml: str = Field(min_length=1, max_length=MAX_BODY_BYTES, description="the scenario as YAML text")


class PlanIn(_In):
    scenario: Optional[dict[str, Any]] = Field(default=None, description="the scenario as a JSON object")
    yaml: Optional[str] = Field(default=None, description="or: the scenario as YAML text")
    saved: Optional[str] = Field(default=None, description="or: the name or id of a saved scenario")


class MemoryIn(_In):
    model: str = Field(min_length=1, description="model id or alias")
    quant: str = "bf16"
    kv_quant: Optional[str] = None
    context: int = Field(default=8192, gt=0)
    batch: int = Field(default=1, gt=0)
    tp: int = Field(default=1, gt=0)
    pp: int = Field(default=1, gt=0)
    ep: int = Field(default=1, gt=0)
    engine: str = "vllm"


class PerfIn(_In):
    model: str = Field(min_length=1, description="model id or alias")
    gpu: str = Field(min_length=1, description="accelerator id or alias")
    gpus: Optional[int] = Field(default=None, gt=0, description="GPUs in the whole deployment (default: one replica)")
    tp: int = Field(default=1, gt=0)
    pp: int = Field(default=1, gt=0)
    ep: int = Field(default=1, gt=0)
    quant: str = "bf16"
    kv_quant: Optional[str] = None
    engine: str = "vllm"
    input_len: float = Field(gt=0, description="prompt tokens per request")
    output_len: float = Field(ge=0, description="output tokens per request")
    concurrency: Optional[float] = Field(default=None, gt=0, description="requests in flight (closed loop)")
    rate: Optional[float] = Field(default=None, gt=0, description="requests per second (Poisson)")
    calibration: Optional[str] = None
    prefix_cache_hit_rate: float = Field(default=0.0, ge=0, le=1)


class FitIn(_In):
    model: str = Field(min_length=1)
    context: int = Field(default=8192, gt=0)
    gpus: Optional[list[str]] = None
    kv_quant: Optional[str] = None


# ----------------------------------------------------------------------------- helpers
def _scenario_from_yaml(text: str, source: str = "yaml") -> tuple[Any, dict[str, Any]]:
    """(Scenario, mapping) from YAML text; errors name the field."""
    from ..scenario import parse_scenario

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise DeployscopeError(f"malformed YAML{where}: {getattr(exc, 'problem', None) or exc}", field=source) from None
    if not isinstance(data, dict):
        raise DeployscopeError("a scenario must be a YAML mapping of fields", field=source, value=type(data).__name__, allowed="name, workloads, ...")
    return parse_scenario(data), data


def _run_plan(scenario: Any) -> Any:
    from ..planner import plan

    return plan(scenario)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    import json

    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json")
    data = json.loads(json.dumps(data, default=lambda o: o.model_dump(mode="json") if hasattr(o, "model_dump") else (o.tolist() if hasattr(o, "tolist") else str(o))))
    return JSONResponse(_finite(data), status_code=status, headers=headers)


def _err_status(exc: DeployscopeError) -> int:
    return 404 if isinstance(exc, NotFound) else 400


def _is_api(request: Request) -> bool:
    p = request.url.path
    return p.startswith("/api/") or p == "/openapi.json"


def _row_dict(row: Any) -> dict[str, Any]:
    return row.model_dump(mode="json") if hasattr(row, "model_dump") else dict(row)


@lru_cache(maxsize=1)
def _templates() -> Any:
    from fastapi.templating import Jinja2Templates
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

    from ..report.html import TEMPLATES as REPORT_TEMPLATES

    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(HERE / "templates")), FileSystemLoader(str(REPORT_TEMPLATES))]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(version=__version__, asset=ASSET_VERSION, swagger=SWAGGER_DIR)
    return Jinja2Templates(env=env)


# ----------------------------------------------------------------------------- the app
def create_app(store: Store | None = None, token: str | None = None, *, allowed_hosts: tuple[str, ...] | None = None,
               max_body: int = MAX_BODY_BYTES) -> Any:
    """The Deployscope web app (an ASGI app: FastAPI wrapped in the security middleware).

    `store`: where scenarios and plans are kept (default ``Store()``). `token`: when set, every
    request needs ``Authorization: Bearer TOKEN`` (or the cookie set by ``/login``).
    `allowed_hosts`: Host header values accepted (``serve`` passes the loopback names when it
    binds to loopback, which defeats DNS rebinding).
    """
    store = store if store is not None else Store()
    extra: dict[str, Any] = {}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters:
        # newer FastAPI releases carry OpenTelemetry hooks: switch every one off (offline tool, no telemetry)
        extra["telemetry"] = {"auto_configure": False, "tracing": False, "metrics": False, "logs": False, "operation_spans": False}
    api = FastAPI(
        **extra,
        title="Deployscope",
        version=__version__,
        description="Plan how to run generative AI on-prem, in the cloud, via APIs or hybrid. The JSON API mirrors the CLI.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state.store = store
    T = _templates()

    def page(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
        return T.TemplateResponse(request, name, {"request": request, **ctx}, status_code=status_code)

    # -- errors -------------------------------------------------------------------------
    @api.exception_handler(DeployscopeError)
    async def _ds_error(request: Request, exc: DeployscopeError) -> Response:
        status = _err_status(exc)
        if _is_api(request):
            return _json(exc.to_dict(), status)
        return page(request, "error.html", status, status=status, message=str(exc), field=exc.field)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errs = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
            errs.append({"field": ".".join(loc) or "body", "error": e.get("msg", "invalid"), "type": e.get("type")})
        first = errs[0] if errs else {"field": "body", "error": "invalid request"}
        body = {"error": f"{first['field']}: {first['error']}", "field": first["field"], "errors": errs}
        if _is_api(request):
            return _json(body, 422)
        return page(request, "error.html", 422, status=422, message=body["error"], field=first["field"])

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        msg = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and msg == "Not Found":
            msg = f"nothing at {request.url.path}"
        if _is_api(request):
            return _json({"error": msg, "field": None}, exc.status_code)
        return page(request, "error.html", exc.status_code, status=exc.status_code, message=msg, field=None)

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        msg = f"internal error ({type(exc).__name__}); the server log has the details"
        if _is_api(request):
            return _json({"error": msg, "field": None}, 500)
        return page(request, "error.html", 500, status=500, message=msg, field=None)

    # -- static and docs ----------------------------------------------------------------
    @api.get(f"/static/report-{ASSET_VERSION}.css", include_in_schema=False)
    def report_css() -> Response:
        from ..report.html import report_css as css

        return Response(css(), media_type="text/css")

    api.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @api.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(request: Request) -> Response:
        return page(request, "docs.html")

    # -- login (only meaningful with a token) --------------------------------------------
    @api.get("/login", include_in_schema=False, response_class=HTMLResponse)
    def login_form() -> Response:
        from .security import LOGIN_PAGE

        return HTMLResponse(LOGIN_PAGE)

    @api.post("/login", include_in_schema=False)
    def login(token_in: str = Form("", alias="token")) -> Response:
        import hmac

        if token and hmac.compare_digest(token_in.encode(), token.encode()):
            r = RedirectResponse("/", status_code=303)
            r.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
            return r
        return PlainTextResponse("wrong token", status_code=401)

    # -- pages ----------------------------------------------------------------------------
    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> Response:
        return page(request, "index.html", scenarios=store.list_scenarios()[:10], plans=store.list_plans(limit=10), store_url=store.display_url)

    @api.get("/scenarios", response_class=HTMLResponse, include_in_schema=False)
    def scenarios_page(request: Request) -> Response:
        counts: dict[int, int] = {}
        for p in store.list_plans(limit=100_000):
            if p.scenario_id is not None:
                counts[p.scenario_id] = counts.get(p.scenario_id, 0) + 1
        return page(request, "scenarios.html", scenarios=store.list_scenarios(), counts=counts)

    def form_page(request: Request, *, yaml_text: str, scenario_id: int | None, error: DeployscopeError | None = None,
                  message: str | None = None, status: int = 200, data: Any = None) -> Response:
        if data is None:
            try:
                data = yaml.safe_load(yaml_text)
            except yaml.YAMLError:
                data = None
        fields: list[FormField] = flatten(data) if isinstance(data, dict) else []
        matched = False
        if error is not None and error.field:
            for f in fields:
                ef = error.field
                if f.path == ef or ef.startswith((f.path + ".", f.path + "[")) or f.path.startswith((ef + ".", ef + "[")):
                    f.error = str(error.args[0]) + (f" (allowed: {error.allowed})" if error.allowed else "")
                    matched = True
                    break
        sections: dict[str, list[FormField]] = {}
        for f in fields:
            sections.setdefault(f.section, []).append(f)
        return page(request, "scenario_form.html", status, sections=sections, yaml_text=yaml_text, scenario_id=scenario_id,
                    error=error, error_matched=matched, message=message, prefix=FIELD_PREFIX)

    @api.get("/scenarios/new", response_class=HTMLResponse, include_in_schema=False)
    def new_scenario(request: Request) -> Response:
        from ..scenario import template

        return form_page(request, yaml_text=template(), scenario_id=None)

    @api.get("/scenarios/{sid}/edit", response_class=HTMLResponse, include_in_schema=False)
    def edit_scenario(request: Request, sid: int, saved: int = 0) -> Response:
        rec = store.get_scenario(sid)
        return form_page(request, yaml_text=rec.yaml, scenario_id=rec.id, message=f"Saved scenario {rec.name!r}." if saved else None)

    async def handle_form(request: Request, scenario_id: int | None) -> Response:
        form = await request.form()
        mode = str(form.get("mode", "form"))
        action = str(form.get("action", "check"))
        if mode == "yaml":
            yaml_text = str(form.get("yaml", ""))
            data = None
        else:
            base_text = str(form.get("base_yaml", ""))
            try:
                base = yaml.safe_load(base_text) or {}
            except yaml.YAMLError:
                base = {}
            if not isinstance(base, dict):
                base = {}
            fields = {k[len(FIELD_PREFIX):]: str(v) for k, v in form.multi_items() if k.startswith(FIELD_PREFIX)}
            data = apply_fields(base, fields)
            yaml_text = dump_yaml(data)
        try:
            scenario, data = _scenario_from_yaml(yaml_text, "yaml")
        except DeployscopeError as exc:
            return form_page(request, yaml_text=yaml_text, scenario_id=scenario_id, error=exc, status=422, data=data)
        if action == "check":
            return form_page(request, yaml_text=yaml_text, scenario_id=scenario_id, message="The scenario is valid.", data=data)
        if action == "plan":
            try:
                plan = await _in_thread(_run_plan, scenario)
            except DeployscopeError as exc:
                return form_page(request, yaml_text=yaml_text, scenario_id=scenario_id, error=exc, status=422, data=data)
            from ..report.html import plan_context

            return page(request, "plan.html", **plan_context(plan), plan_id=None, preview_yaml=yaml_text, scenario_id=scenario_id)
        # save
        sid = await _in_thread(store.save_scenario, scenario.name, yaml_text)
        return RedirectResponse(f"/scenarios/{sid}/edit?saved=1", status_code=303)

    @api.post("/scenarios/new", include_in_schema=False)
    async def post_new(request: Request) -> Response:
        return await handle_form(request, None)

    @api.post("/scenarios/{sid}/edit", include_in_schema=False)
    async def post_edit(request: Request, sid: int) -> Response:
        store.get_scenario(sid)
        return await handle_form(request, sid)

    @api.post("/scenarios/{sid}/delete", include_in_schema=False)
    def post_delete(sid: int) -> Response:
        store.delete_scenario(sid)
        return RedirectResponse("/scenarios", status_code=303)

    @api.post("/scenarios/{sid}/plan", include_in_schema=False)
    def post_plan_saved(sid: int) -> Response:
        rec = store.get_scenario(sid)
        scenario, _ = _scenario_from_yaml(rec.yaml)
        plan = _run_plan(scenario)
        pid = store.save_plan(rec.id, plan)
        return RedirectResponse(f"/plans/{pid}", status_code=303)

    @api.post("/plans/save", include_in_schema=False)
    def post_save_plan(yaml_text: str = Form(..., alias="yaml")) -> Response:
        scenario, _ = _scenario_from_yaml(yaml_text)
        plan = _run_plan(scenario)
        sid = store.save_scenario(scenario.name, yaml_text)
        pid = store.save_plan(sid, plan)
        return RedirectResponse(f"/plans/{pid}", status_code=303)

    @api.get("/plans", response_class=HTMLResponse, include_in_schema=False)
    def plans_page(request: Request) -> Response:
        return page(request, "plans.html", plans=store.list_plans())

    @api.get("/plans/{pid}", response_class=HTMLResponse, include_in_schema=False)
    def plan_page(request: Request, pid: int) -> Response:
        from ..report.html import plan_context

        rec = store.get_plan(pid)
        return page(request, "plan.html", **plan_context(rec.to_plan()), plan_id=rec.id, preview_yaml=None, scenario_id=rec.scenario_id,
                    created_at=rec.created_at)

    @api.get("/plans/{pid}/report.{fmt}", include_in_schema=False)
    def plan_report(pid: int, fmt: str) -> Response:
        return _report_response(store, pid, fmt)

    @api.get("/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare(request: Request, a: Optional[int] = None, b: Optional[int] = None) -> Response:
        from ..report.charts import cumulative_cost_chart, unit_cost_chart
        from ..report.html import template_helpers

        sides = []
        for pid in (a, b):
            if pid is None:
                continue
            rec = store.get_plan(pid)
            plan = rec.to_plan()
            charts = [c for c in (cumulative_cost_chart(plan), unit_cost_chart(plan)) if c is not None]
            sides.append({"rec": rec, "plan": plan, "best": plan.best, "charts": charts, **template_helpers(plan)})
        return page(request, "compare.html", sides=sides, plans=store.list_plans(), a=a, b=b)

    @api.get("/catalog", response_class=HTMLResponse, include_in_schema=False)
    def catalog_page(request: Request) -> Response:
        return page(request, "catalog.html", tables=_catalog_tables())

    @api.get("/catalog/{table}", response_class=HTMLResponse, include_in_schema=False)
    def catalog_table_page(request: Request, table: str, q: str = "") -> Response:
        rows, columns = _catalog_rows(table, q)
        return page(request, "catalog_table.html", table=table, rows=rows, columns=columns, q=q, tables=_catalog_tables())

    @api.get("/measurements", response_class=HTMLResponse, include_in_schema=False)
    def measurements(request: Request) -> Response:
        runs = store.list_bench_runs()
        return page(request, "measurements.html", runs=runs, headline=_bench_headline)

    @api.get("/measurements/{rid}", response_class=HTMLResponse, include_in_schema=False)
    def measurement(request: Request, rid: int) -> Response:
        run = store.get_bench_run(rid)
        recs = run.records or []
        cols: list[str] = []
        for r in recs[:500]:
            for k, v in r.items():
                if k not in cols and not isinstance(v, (dict, list)):
                    cols.append(k)
        return page(request, "measurement.html", run=run, summary=_flatten_summary(run.summary), records=recs[:500], columns=cols[:14])

    # -- JSON API ---------------------------------------------------------------------------
    @api.get("/api/health", tags=["meta"])
    def health() -> dict[str, Any]:
        """Liveness and the store in use."""
        return {"status": "ok", "version": __version__, "store": store.display_url}

    @api.post("/api/plan", tags=["plan"])
    def api_plan(body: PlanIn, save: bool = Query(False, description="also save the scenario and the plan")) -> Response:
        """Plan a scenario (like `deployscope plan --json`). Give one of `scenario`, `yaml`, `saved`."""
        given = [k for k in ("scenario", "yaml", "saved") if getattr(body, k) is not None]
        if len(given) != 1:
            raise DeployscopeError("give exactly one of scenario, yaml or saved", field="body", value=",".join(given) or None,
                                   allowed="scenario, yaml, saved")
        yaml_text = None
        if body.scenario is not None:
            from ..scenario import parse_scenario

            scenario = parse_scenario(body.scenario)
            yaml_text = dump_yaml(body.scenario)
        elif body.yaml is not None:
            scenario, _ = _scenario_from_yaml(body.yaml)
            yaml_text = body.yaml
        else:
            rec = store.get_scenario(body.saved)  # type: ignore[arg-type]
            scenario, _ = _scenario_from_yaml(rec.yaml)
        plan = _run_plan(scenario)
        headers = {}
        if save:
            sid = store.save_scenario(scenario.name, yaml_text) if yaml_text is not None else store.get_scenario(body.saved).id  # type: ignore[arg-type]
            pid = store.save_plan(sid, plan)
            headers = {"X-Deployscope-Plan-Id": str(pid), "X-Deployscope-Scenario-Id": str(sid), "Location": f"/api/plans/{pid}"}
        return _json(plan, 200, headers)

    @api.post("/api/memory", tags=["physics"])
    def api_memory(body: MemoryIn) -> Response:
        """Bytes one replica needs (like `deployscope memory --json`)."""
        from ..physics.memory import estimate_memory

        est = estimate_memory(body.model, quant=body.quant, kv_quant=body.kv_quant, context=body.context, batch=body.batch,
                              tp=body.tp, pp=body.pp, ep=body.ep, engine=body.engine)
        return _json(est.to_dict())

    @api.post("/api/fit", tags=["physics"])
    def api_fit(body: FitIn) -> Response:
        """Fewest GPUs that hold a model per GPU x format (like `deployscope fit --json`)."""
        from ..physics.memory import fit_rows, resolve_model

        m = resolve_model(body.model)
        rows = fit_rows(m, context=body.context, gpus=body.gpus or None, kv_quant=body.kv_quant)
        return _json({"model": m.id, "context": body.context, "kv_quant": body.kv_quant or "bf16", "rows": rows})

    @api.post("/api/perf", tags=["physics"])
    def api_perf(body: PerfIn) -> Response:
        """Throughput and latency of a deployment (like `deployscope perf --json`)."""
        from ..physics.serving import estimate

        if body.concurrency is not None and body.rate is not None:
            raise DeployscopeError("give one of concurrency and rate", field="rate", value=body.rate, allowed="concurrency or rate")
        res = estimate(body.model, body.gpu, gpus=body.gpus, tp=body.tp, pp=body.pp, ep=body.ep, quant=body.quant, kv_quant=body.kv_quant,
                       engine=body.engine, input_len=body.input_len, output_len=body.output_len, concurrency=body.concurrency,
                       rate=body.rate, calibration=body.calibration, prefix_cache_hit_rate=body.prefix_cache_hit_rate)
        return _json(res)

    @api.get("/api/catalog", tags=["catalog"])
    def api_catalog() -> dict[str, int]:
        """Catalog tables and their row counts."""
        return {name: n for name, n in _catalog_tables()}

    @api.get("/api/catalog/{table}", tags=["catalog"])
    def api_catalog_table(table: str, q: str = "") -> Response:
        """Rows of one catalog table (bundled + user overrides), each with source and as_of."""
        cat = _catalog()
        tab = _table(cat, table)
        rows = [_row_dict(r) for r in tab if not q or q.lower() in str(_row_dict(r)).lower()]
        return _json(rows)

    @api.get("/api/scenarios", tags=["store"])
    def api_scenarios() -> Response:
        """Saved scenarios, newest first."""
        return _json([r.to_dict() for r in store.list_scenarios()])

    @api.post("/api/scenarios", tags=["store"], status_code=201)
    def api_save_scenario(body: ScenarioIn) -> Response:
        """Validate and save a scenario (replacing one of the same name)."""
        scenario, _ = _scenario_from_yaml(body.yaml)
        name = body.name or scenario.name
        sid = store.save_scenario(name, body.yaml)
        return _json(store.get_scenario(sid).to_dict(), 201, {"Location": f"/api/scenarios/{sid}"})

    @api.get("/api/scenarios/{name_or_id}", tags=["store"])
    def api_get_scenario(name_or_id: str) -> Response:
        return _json(store.get_scenario(name_or_id).to_dict())

    @api.delete("/api/scenarios/{name_or_id}", tags=["store"])
    def api_delete_scenario(name_or_id: str) -> Response:
        """Delete a scenario and its plans."""
        rec = store.get_scenario(name_or_id)
        n = store.delete_scenario(rec.id)
        return _json({"deleted": rec.id, "plans_deleted": n})

    @api.get("/api/plans", tags=["store"])
    def api_plans(scenario: Optional[str] = None, limit: int = Query(200, gt=0, le=10_000)) -> Response:
        return _json([p.to_dict() for p in store.list_plans(scenario, limit=limit)])

    @api.get("/api/plans/{pid}", tags=["store"])
    def api_get_plan(pid: int) -> Response:
        return _json(store.get_plan(pid).to_dict(with_plan=True))

    @api.get("/api/plans/{pid}/report.{fmt}", tags=["store"])
    def api_plan_report(pid: int, fmt: Literal["html", "md", "json", "pdf", "csv", "xlsx"]) -> Response:
        """A saved plan's report; the format follows the extension."""
        return _report_response(store, pid, fmt)

    @api.get("/api/bench-runs", tags=["store"])
    def api_bench_runs() -> Response:
        return _json([r.to_dict() for r in store.list_bench_runs()])

    @api.get("/api/bench-runs/{rid}", tags=["store"])
    def api_bench_run(rid: int) -> Response:
        return _json(store.get_bench_run(rid).to_dict())

    @api.get("/api/calibrations", tags=["store"])
    def api_calibrations() -> Response:
        return _json([c.to_dict() for c in store.list_calibrations()])

    from .export_routes import router as export_router; api.include_router(export_router)  # noqa: E702 (issue 16)
    return Guard(api, token=token, max_body=max_body, allowed_hosts=allowed_hosts)


async def _in_thread(fn: Any, *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


def _report_response(store: Store, pid: int, fmt: str) -> Response:
    from ..report import report_bytes

    if fmt not in REPORT_FORMATS:
        raise DeployscopeError(f"unknown report format {fmt!r}", field="format", value=fmt, allowed=sorted(REPORT_FORMATS))
    rec = store.get_plan(pid)
    data = report_bytes(rec.to_plan(), fmt)
    fname = f"deployscope-plan-{rec.id}.{fmt}"
    return Response(data, media_type=REPORT_FORMATS[fmt], headers={"Content-Disposition": f'attachment; filename="{fname}"'})


def _catalog() -> Any:
    from ..catalog import default_catalog

    return default_catalog()


def _table(cat: Any, table: str) -> Any:
    from ..catalog import table_names

    names = table_names()
    if table not in names:
        raise NotFound(f"no catalog table {table!r}", field="table", value=table, allowed=names)
    return cat.table(table)


def _catalog_tables() -> list[tuple[str, int]]:
    from ..catalog import table_names

    cat = _catalog()
    out = []
    for name in table_names():
        try:
            out.append((name, len(cat.table(name))))
        except DeployscopeError:
            out.append((name, -1))
    return out


def _catalog_rows(table: str, q: str) -> tuple[list[dict[str, Any]], list[str]]:
    cat = _catalog()
    rows = [_row_dict(r) for r in _table(cat, table)]
    if q:
        rows = [r for r in rows if q.lower() in str(r).lower()]
    skip = {"id", "source", "as_of", "as_of_note", "notes", "aliases"}
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in skip and k not in cols:
                cols.append(k)
    return rows, cols


def _flatten_summary(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(d, dict):
        for k, v in d.items():
            out += _flatten_summary(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(d, list) and len(d) > 12:
        out.append((prefix, f"[{len(d)} values]"))
    else:
        out.append((prefix, d))
    return out


def _bench_headline(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    keys = ("completed", "errors", "ttft_s.p50", "tpot_s.p50", "e2e_s.p50", "output_tokens_per_s", "requests_per_s", "goodput")
    flat = dict(_flatten_summary(summary))
    return [(k, flat[k]) for k in keys if k in flat]
