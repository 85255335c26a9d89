"""The home page, the API documentation page and sign-in (only meaningful with a token)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from ...store import Store
from ..rendering import page, store_of
from ..security import TOKEN_COOKIE, csrf_token, login_page

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, store: Store = Depends(store_of)) -> Response:
    return page(request, "index.html", scenarios=store.list_scenarios()[:10], plans=store.list_plans(limit=10), store_url=store.display_url)


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> Response:
    return page(request, "docs.html")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return HTMLResponse(login_page(csrf_token(request.scope)))


@router.post("/login")
def login(request: Request, token_in: str = Form("", alias="token")) -> Response:
    token = request.app.state.token
    if token and hmac.compare_digest(token_in.encode(), token.encode()):
        r = RedirectResponse("/", status_code=303)
        r.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
        return r
    return PlainTextResponse("wrong token", status_code=401)
