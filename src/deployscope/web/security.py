"""ASGI middleware: security headers on every response, request size limit, bearer token,
Host checks, cross-site request refusal and form tokens. Pure ASGI so that it also covers errors,
static files and 413s.

Cross-site requests (docs/security.md): a request that changes anything (any method but GET,
HEAD, OPTIONS) is refused when its ``Origin`` is not exactly this server's origin (scheme, host
and port), when it is ``null``, or when ``Sec-Fetch-Site`` is present and not ``same-origin``.
Every form posted to a page (not /api/) must also carry the per-session token from the
``deployscope_csrf`` cookie in its ``csrf_token`` field. JSON bodies sent to /api/ are checked
before they reach a route: strict JSON (no ``NaN``/``Infinity``), at most 64 levels deep, text
that is valid Unicode.
"""

from __future__ import annotations

import hmac
import json
import secrets
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl, urlsplit

CSP = "default-src 'self'"
MAX_BODY_BYTES = 1024 * 1024
TOKEN_COOKIE = "deployscope_token"
CSRF_COOKIE = "deployscope_csrf"
CSRF_FIELD = "csrf_token"
MAX_JSON_DEPTH = 64
MAX_FORM_FIELDS = 5000
DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make browsers send "Origin: null" on our own forms
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _host_only(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """Wraps the app: every response gets the security headers; requests are checked first."""

    def __init__(self, app: Any, *, token: str | None = None, max_body: int = MAX_BODY_BYTES, allowed_hosts: tuple[str, ...] | None = None) -> None:
        self.app = app
        self.token = token or None
        self.max_body = max_body
        self.allowed_hosts = tuple(h.lower() for h in allowed_hosts) if allowed_hosts else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        added: list[tuple[bytes, bytes]] = []  # e.g. the form-token cookie, when this request made one

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [(k, v) for k, v in SECURITY_HEADERS if k not in names] + added
            await send(message)

        headers = _headers(scope)
        path = scope.get("path", "")
        api = path.startswith("/api/") or path == "/openapi.json"

        if self.allowed_hosts is not None:
            host = _host_only(headers.get("host", ""))
            if host not in self.allowed_hosts:
                await _reply(send_with_headers, 421, api, "this server answers only to " + ", ".join(self.allowed_hosts) + " (Host header)", "host")
                return

        method = scope.get("method", "GET")
        unsafe = method not in ("GET", "HEAD", "OPTIONS")
        if unsafe:
            refusal = cross_site_refusal(headers, scope.get("scheme", "http"))
            if refusal:
                await _reply(send_with_headers, 403, api, refusal, "origin")
                return

        # the per-session form token: read from its cookie, or made now and set on the response
        form_token = _cookie(headers, CSRF_COOKIE)
        if not form_token or len(form_token) != 43:
            form_token = secrets.token_urlsafe(32)
            new_cookie = f"{CSRF_COOKIE}={form_token}; Path=/; HttpOnly; SameSite=Strict".encode()
            if scope.get("scheme") == "https":
                new_cookie += b"; Secure"
            fresh = True
        else:
            fresh = False
        scope.setdefault("state", {})["csrf_token"] = form_token
        if fresh:
            added.append((b"set-cookie", new_cookie))

        if self.token and not (path == "/login" and method in ("GET", "POST")):
            if not self._authorized(headers):
                if api or method != "GET":
                    await _reply(send_with_headers, 401, True, "a bearer token is required: send 'Authorization: Bearer TOKEN'", "authorization",
                                 extra=[(b"www-authenticate", b'Bearer realm="deployscope"')])
                else:
                    await _login_page(send_with_headers, 401, form_token)
                return

        # request size limit: refuse early on Content-Length, else count while buffering
        length = headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                await _reply(send_with_headers, 400, api, "invalid Content-Length header", "content-length")
                return
            if too_big:
                await _reply(send_with_headers, 413, api, f"request body larger than {self.max_body} bytes", "body")
                return
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            chunks, size, more = [], 0, True
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                body = msg.get("body", b"")
                size += len(body)
                if size > self.max_body:
                    await _reply(send_with_headers, 413, api, f"request body larger than {self.max_body} bytes", "body")
                    return
                chunks.append(body)
                more = msg.get("more_body", False)
            data = b"".join(chunks)
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if api:
                if data and (ctype == "" or ctype == "application/json" or ctype.endswith("+json")):
                    problem = await _off_loop(json_body_problem, data)
                    if problem:
                        await _reply(send_with_headers, 400, True, problem[0], problem[1])
                        return
            elif unsafe:
                problem = await _off_loop(form_token_problem, data, ctype, None if fresh else form_token)
                if problem:
                    await _reply(send_with_headers, 403, False, problem, CSRF_FIELD)
                    return
            sent = False

            async def replay() -> dict[str, Any]:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": data, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _authorized(self, headers: dict[str, str]) -> bool:
        assert self.token is not None
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and hmac.compare_digest(auth[7:].strip().encode(), self.token.encode()):
            return True
        cookie = headers.get("cookie")
        if cookie:
            c = SimpleCookie()
            try:
                c.load(cookie)
            except Exception:
                return False
            if TOKEN_COOKIE in c and hmac.compare_digest(c[TOKEN_COOKIE].value.encode(), self.token.encode()):
                return True
        return False


async def _off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Small bodies are checked at once; large ones in a thread, so the event loop keeps answering."""
    if len(args[0]) <= 16_384:
        return fn(*args)
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


def _origin_tuple(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else DEFAULT_PORTS[scheme]


def cross_site_refusal(headers: dict[str, str], scheme: str) -> str | None:
    """Why a state-changing request must be refused as cross-site, or None to let it through.

    The origin must match this server's exactly: scheme, host and port. A request with neither
    ``Origin`` nor ``Sec-Fetch-Site`` comes from a non-browser client (curl, scripts) and is let
    through: a browser always sends at least one of them on a cross-site POST.
    """
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() != "same-origin":
        return f"cross-site request refused (Sec-Fetch-Site: {site.strip()[:40]}; only same-origin requests may change anything)"
    origin = headers.get("origin")
    if origin is None:
        return None
    if origin.strip().lower() == "null":
        return "cross-site request refused (Origin: null)"
    own = _origin_tuple(f"{scheme}://{headers.get('host', '')}")
    theirs = _origin_tuple(origin.strip())
    if own is None or theirs is None or own != theirs:
        return f"cross-origin request refused (Origin {origin.strip()[:100]!r} is not this server's origin)"
    return None


def _cookie(headers: dict[str, str], name: str) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    c = SimpleCookie()
    try:
        c.load(raw)
    except Exception:
        return None
    return c[name].value if name in c else None


def csrf_token(scope: Scope) -> str:
    """The form token of this request's session (set by Guard)."""
    return str((scope.get("state") or {}).get("csrf_token", ""))


def form_token_problem(body: bytes, ctype: str, expected: str | None) -> str | None:
    """Why a form post lacks a valid token, or None when it carries the session's token."""
    if ctype != "application/x-www-form-urlencoded":
        return f"a form must be sent as application/x-www-form-urlencoded (got {ctype or 'no content type'!r})"
    if expected is None:
        return "this form's session expired or cookies are off: reload the form and send it again"
    try:
        fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        return f"a form may hold at most {MAX_FORM_FIELDS} fields"
    sent = [v for k, v in fields if k == CSRF_FIELD]
    if len(sent) != 1 or not hmac.compare_digest(sent[0].encode(), expected.encode()):
        return "the form token is missing or stale: reload the form and send it again"
    return None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body_problem(data: bytes) -> tuple[str, str] | None:
    """(message, field) when a JSON body is not strict JSON of bounded depth and valid Unicode."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not UTF-8 (byte {exc.start})", "body"
    depth = 0
    in_str = esc = False
    for ch in text:  # nesting depth before parsing, so a deep body cannot exhaust the recursion limit
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "body"
        elif ch in "]}":
            depth -= 1
    try:
        obj = json.loads(text, parse_constant=_no_constants)
    except ValueError as exc:
        return f"the body is not valid JSON: {exc}", "body"
    bad = _bad_text(obj, "")
    if bad is not None:
        return f"text that is not valid Unicode (a lone surrogate) at {bad or 'the top level'}", bad or "body"
    return None


def _bad_text(obj: Any, path: str) -> str | None:
    stack = [(obj, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return where
        elif isinstance(node, dict):
            for k, v in node.items():
                stack.append((k, where))
                stack.append((v, f"{where}.{k}" if where else str(k)))
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(node))
    return None


async def _reply(send: Send, status: int, as_json: bool, message: str, field: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    if as_json:
        body = json.dumps({"error": message, "field": field}).encode()
        ctype = b"application/json"
    else:
        from html import escape

        body = (
            f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status}</title></head>"
            f"<body><h1>{status}</h1><p>{escape(message)}</p></body></html>"
        ).encode()
        ctype = b"text/html; charset=utf-8"
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def login_page(form_token: str) -> str:
    from html import escape

    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Deployscope: sign in</title></head><body>"
        "<h1>Deployscope</h1><p>This server requires its access token.</p>"
        "<form method=\"post\" action=\"/login\"><label>Token <input type=\"password\" name=\"token\" autocomplete=\"off\"></label> "
        f"<input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{escape(form_token)}\">"
        "<button type=\"submit\">Sign in</button></form></body></html>"
    )


async def _login_page(send: Send, status: int, form_token: str) -> None:
    body = login_page(form_token).encode()
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
