"""The web app: server-rendered pages and a JSON API over the same functions as the CLI.

``create_app(store=None, token=None)`` assembles the FastAPI app from its parts: the pages
(``pages/``, one module per resource), the JSON API (``api.py``), error answers (``errors.py``),
vendored static assets, and the Guard middleware (``security.py``) that sends
``Content-Security-Policy: default-src 'self'`` on every response, limits request bodies to
1 MiB, refuses cross-site requests, checks form tokens and, when a token is set, requires it on
every request. Plans run in a bounded pool (``offload.py``). See docs/web.md.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..store import Store
from . import errors
from .api import router as api_router
from .api import with_scenario_schema
from .export_routes import router as export_router
from .offload import PlanPool
from .pages import routers as page_routers
from .rendering import ASSET_VERSION, STATIC
from .security import MAX_BODY_BYTES, Guard

__all__ = ["create_app"]


def create_app(store: Store | None = None, token: str | None = None, *, allowed_hosts: tuple[str, ...] | None = None,
               max_body: int = MAX_BODY_BYTES, plan_workers: int | None = None, plan_processes: bool | None = None) -> Any:
    """The Deployscope web app (an ASGI app: FastAPI wrapped in the security middleware).

    `store`: where scenarios and plans are kept (default ``Store()``). `token`: when set, every
    request needs ``Authorization: Bearer TOKEN`` (or the cookie set by ``/login``).
    `allowed_hosts`: Host header values accepted (``serve`` passes the loopback names when it
    binds to loopback, which defeats DNS rebinding). `plan_workers` / `plan_processes`: the plan
    pool (default: ``$DEPLOYSCOPE_PLAN_WORKERS`` or the usable cores up to 16, in processes unless
    ``$DEPLOYSCOPE_PLAN_PROCESSES=0``).
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
    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            with_scenario_schema(FastAPI.openapi(api))
        return api.openapi_schema  # type: ignore[return-value]

    api.openapi = openapi  # type: ignore[method-assign]
    api.state.store = store
    api.state.token = token or None
    api.state.plans = PlanPool(plan_workers, plan_processes)
    api.router.on_shutdown.append(api.state.plans.close)
    errors.install(api)

    @api.get(f"/static/report-{ASSET_VERSION}.css", include_in_schema=False)
    def report_css() -> Response:
        from ..report.html import report_css as css

        return Response(css(), media_type="text/css")

    api.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for router in [*page_routers, api_router, export_router]:
        api.include_router(router)
    guarded = Guard(api, token=token, max_body=max_body, allowed_hosts=allowed_hosts)
    guarded.state = api.state  # type: ignore[attr-defined]  # tests reach the store and pool through the app
    return guarded
