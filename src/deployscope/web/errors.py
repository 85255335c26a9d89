"""Error answers: JSON for the API, a page for people. A DeployscopeError is a 4xx that names the
field; a busy store or a full plan queue is a 503 with Retry-After; anything else is logged and
answered 500 without a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..catalog.base import locate
from ..errors import DeployscopeError, UnknownName
from ..store import NotFound, StoreBusy
from .offload import LimitExceeded, Overloaded
from .rendering import is_api, json_response, page

log = logging.getLogger("deployscope.web")


def page_message(exc: DeployscopeError, with_field: bool = False) -> str:
    """The error's message on a web page: where the CLI's message points at a command
    (`deployscope catalog`), a page points at the Catalog page instead."""
    text = str(exc) if with_field else str(exc.args[0]) if exc.args else str(exc)
    return text.replace(UnknownName.LIST_HINT, "the Catalog page lists them all")  # also once rebuilt from a plan process


def status_of(exc: DeployscopeError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, LimitExceeded):
        return 413
    if isinstance(exc, (StoreBusy, Overloaded)):
        return 503
    return 400


def retry_headers(exc: Exception) -> dict[str, str] | None:
    after = getattr(exc, "retry_after_s", None)
    return {"Retry-After": str(after)} if after else None


def error_page(request: Request, status: int, message: str, field: str | None, headers: dict[str, str] | None = None) -> Response:
    """The error page; it always links back to the form it came from (the Referer on our own site)."""
    back = request.headers.get("referer") or ""
    own = f"{request.url.scheme}://{request.url.netloc}/"
    back_path = back[len(own) - 1:] if back.startswith(own) else None
    resp = page(request, "error.html", status, status=status, message=message, field=field, back=back_path)
    if headers:
        resp.headers.update(headers)
    return resp


def install(api: FastAPI) -> None:
    @api.exception_handler(DeployscopeError)
    async def _ds_error(request: Request, exc: DeployscopeError) -> Response:
        status = status_of(exc)
        headers = retry_headers(exc)
        if is_api(request):
            return json_response(exc.to_dict(), status, headers)
        return error_page(request, status, page_message(exc, with_field=True), exc.field, headers)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errs = []
        for e in map(locate, exc.errors()):
            loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
            errs.append({"field": ".".join(loc) or "body", "error": str(e.get("msg", "invalid")), "type": e.get("type")})
        first = errs[0] if errs else {"field": "body", "error": "invalid request"}
        body = {"error": f"{first['field']}: {first['error']}", "field": first["field"], "errors": errs}
        if is_api(request):
            return json_response(body, 422)
        return error_page(request, 422, body["error"], first["field"])

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        msg = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and msg == "Not Found":
            msg = f"nothing at {request.url.path}"
        if is_api(request):
            return json_response({"error": msg, "field": None}, exc.status_code)
        return error_page(request, exc.status_code, msg, None)

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        msg = f"internal error ({type(exc).__name__}); the server log has the details"
        if is_api(request):
            return json_response({"error": msg, "field": None}, 500)
        return error_page(request, 500, msg, None)
