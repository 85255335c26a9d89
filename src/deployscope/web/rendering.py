"""What every route module shares: templates, the page and JSON responses, the store."""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse

from .. import __version__
from ..store import Store

HERE = Path(__file__).parent
STATIC = HERE / "static"
ASSET_VERSION = "0.1.0"  # the version in our own static file names
SWAGGER_DIR = "vendor/swagger-ui-5.35.0"


def store_of(request: Request) -> Store:
    """The app's store (a FastAPI dependency)."""
    return request.app.state.store  # type: ignore[no-any-return]


def is_api(request: Request) -> bool:
    p = request.url.path
    return p.startswith("/api/") or p == "/openapi.json"


def finite(obj: Any) -> Any:
    """JSON has no inf or NaN: such figures are sent as null; text that is not valid Unicode is
    sent with the bad characters replaced."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate echoed from the input: shown replaced, never a 500
            return obj.encode("utf-8", "replace").decode("utf-8")
        return obj
    if isinstance(obj, dict):
        return {finite(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def _default(o: Any) -> Any:
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def json_data(data: Any) -> Any:
    """Plain JSON data (dicts, lists, str, finite numbers, None) of a model or mapping."""
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json")
    return finite(json.loads(json.dumps(data, default=_default)))


def json_text(data: Any) -> str:
    """The JSON text json_response sends for `data` (compact, UTF-8 text, no NaN)."""
    plain = data.model_dump(mode="json") if hasattr(data, "model_dump") else data
    try:  # a plan is all finite figures and valid text: one pass, no copy (a 250 KiB plan: 2 ms, not 11)
        text = json.dumps(plain, default=_default, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
        text.encode("utf-8")
        return text
    except (ValueError, UnicodeEncodeError):  # inf / NaN, or a lone surrogate: the careful path
        return json.dumps(json_data(data), ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(json_data(data), status_code=status, headers=headers)


@lru_cache(maxsize=1)
def templates() -> Any:
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


def page(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    from .security import CSRF_FIELD, csrf_token

    ctx.setdefault("csrf_field", CSRF_FIELD)
    ctx.setdefault("csrf_token", csrf_token(request.scope))
    return templates().TemplateResponse(request, name, {"request": request, **ctx}, status_code=status_code)
