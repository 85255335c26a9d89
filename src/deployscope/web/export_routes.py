"""Web routes of the deployment loop: a plan's Export panel (launch scripts, manifests and verify.sh
to download) and a bench run checked against a saved plan (its verify result beside the
prediction). One APIRouter, included by the app; pages use the app's templates."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ..errors import DeployscopeError
from ..store import NotFound
from .rendering import page

router = APIRouter()
FILE_TYPES = {".sh": "text/x-shellscript", ".yaml": "application/yaml", ".json": "application/json", ".Modelfile": "text/plain"}


def _store(request: Request) -> Any:
    return request.app.state.store


def _page(request: Request, name: str, **ctx: Any) -> Response:
    return page(request, name, **ctx)


def _export(request: Request, pid: int, fmt: str, option: str | None) -> tuple[Any, Any]:
    from ..export import export_files

    plan = _store(request).get_plan(pid).to_plan()
    return plan, export_files(plan, fmt, option_id=option or None)


def _self_hosted(plan: Any) -> list[Any]:
    from ..export.spec import SELF_HOSTED

    return [o for o in plan.options if o.allowed and o.placement in SELF_HOSTED
            and any(c.kind == "llm" and c.gpu and c.replicas for c in o.performance.components)]


@router.get("/plans/{pid}/export", response_class=HTMLResponse, include_in_schema=False)
def export_page(request: Request, pid: int, format: str = "vllm", option: str | None = None) -> Response:  # noqa: A002
    from ..export import FORMATS

    plan = _store(request).get_plan(pid).to_plan()
    options = _self_hosted(plan)
    res = error = None
    try:
        plan, res = _export(request, pid, format, option)
    except DeployscopeError as exc:
        if isinstance(exc, NotFound):
            raise
        error = str(exc)
    return _page(request, "export.html", plan=plan, plan_id=pid, formats=FORMATS, fmt=format, options=options,
                 option=res.option if res else option, res=res, error=error)


@router.get("/plans/{pid}/export/{fmt}.zip", include_in_schema=False)
def export_zip(request: Request, pid: int, fmt: str, option: str | None = None) -> Response:
    _, res = _export(request, pid, fmt, option)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in sorted(res.files.items()):
            info = zipfile.ZipInfo(f"deploy-{pid}-{fmt}/{name}", date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
            z.writestr(info, text)
    return Response(buf.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="deploy-{pid}-{fmt}.zip"'})


@router.get("/plans/{pid}/export/{fmt}/{name}", include_in_schema=False)
def export_file(request: Request, pid: int, fmt: str, name: str, option: str | None = None) -> Response:
    _, res = _export(request, pid, fmt, option)
    if name not in res.files:
        raise NotFound(f"the {fmt} export has no file {name!r}", field="name", value=name, allowed=", ".join(sorted(res.files)))
    media = next((m for ext, m in FILE_TYPES.items() if name.endswith(ext)), "text/plain")
    return Response(res.files[name], media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/plans/{pid}/export", tags=["deploy"])
def api_export(request: Request, pid: int, format: str, option: str | None = None) -> Response:  # noqa: A002
    """The export of a saved plan: every file's text, and where each value comes from."""
    _, res = _export(request, pid, format, option)
    return JSONResponse(dict(res.summary(), files=res.files))


def _verify(request: Request, rid: int, plan_id: int, option: str | None, group: str | None) -> tuple[Any, dict[str, Any]]:
    from ..export import verify_run

    store = _store(request)
    run = store.get_bench_run(rid)
    plan = store.get_plan(plan_id).to_plan()
    return run, verify_run(run.summary, plan, option or None, group or None, run_id=str(rid))


@router.get("/measurements/{rid}/verify", response_class=HTMLResponse, include_in_schema=False)
def verify_page(request: Request, rid: int, plan: int, option: str | None = None, group: str | None = None) -> Response:
    run, res = _verify(request, rid, plan, option, group)
    return _page(request, "verify.html", run=run, res=res, plan_id=plan)


@router.get("/api/bench-runs/{rid}/verify", tags=["deploy"])
def api_verify(request: Request, rid: int, plan: int, option: str | None = None, group: str | None = None) -> Response:
    """A saved bench run against a saved plan's predictions, error band and SLO."""
    _, res = _verify(request, rid, plan, option, group)
    return JSONResponse(res)
