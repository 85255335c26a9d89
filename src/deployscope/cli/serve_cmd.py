"""`deployscope serve`: the web app and JSON API (see docs/web.md)."""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Optional

import typer

from ..errors import DeployscopeError

if TYPE_CHECKING:
    import socket

TOKEN_ENV = "DEPLOYSCOPE_TOKEN"


def is_loopback(host: str) -> bool:
    h = host.strip().strip("[]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. Anything but loopback requires --token."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    token: Optional[str] = typer.Option(
        None, "--token", metavar="T", help=f"Require 'Authorization: Bearer T' on every request (also ${TOKEN_ENV}, which keeps it out of `ps`)."
    ),
    db: Optional[str] = typer.Option(None, "--db", metavar="URL", help="Database URL or SQLite file (default: $DEPLOYSCOPE_DATABASE_URL, else the user data directory)."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level: critical, error, warning, info, debug."),
) -> None:
    """Serve the web app: scenarios, plans with charts, comparisons, catalog, measurements, and the JSON API."""
    token = token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host) and not token:
        raise DeployscopeError(
            f"refusing to listen on {host!r} without a token: anyone who can reach it could read and change your scenarios. "
            f"Pass --token T (or set ${TOKEN_ENV}), or keep the default --host 127.0.0.1",
            field="--host",
            value=host,
            allowed="127.0.0.1, ::1, localhost; other addresses only with --token",
        )
    if token is not None and len(token) < 16:
        raise DeployscopeError("a token must be at least 16 characters long", field="--token", value=f"{len(token)} characters")
    try:
        import uvicorn

        from ..web.app import create_app
        from ..web.offload import warm_server
    except ImportError as exc:
        raise DeployscopeError(f"the web app needs its extra ({exc.name} is missing): pip install '.[web]' in the Deployscope checkout", field="serve") from None
    from ..store import Store

    sock = bind(host, port)  # a busy port is an error before anything says "running"
    try:
        store = Store(db)
        allowed = ("127.0.0.1", "localhost", "[::1]", "::1") if is_loopback(host) else None
        app = create_app(store, token=token, allowed_hosts=allowed)
        warm_server()
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"Deployscope {'(token required) ' if token else ''}on http://{shown}:{port}/  · store {store.display_url}", err=True)
        config = uvicorn.Config(app, host=host, port=port, log_level=log_level, server_header=False, access_log=False)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


def bind(host: str, port: int) -> "socket.socket":
    """A listening socket on host:port, or an error naming the port when it cannot be had."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise DeployscopeError(f"cannot resolve {host!r}: {exc.strerror}", field="--host", value=host) from None
    family, socktype, proto, _, addr = infos[0]
    # the TCP protocol number matters: asyncio sets TCP_NODELAY only on sockets whose proto is
    # IPPROTO_TCP, and without it every keep-alive response waits ~40 ms for a delayed ACK
    sock = socket.socket(family, socktype, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart need not wait
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DeployscopeError(
                f"port {port} on {host} is already in use by another program: stop it or choose another port",
                field="--port", value=port, allowed="a free TCP port, e.g. --port 8001",
            ) from None
        raise DeployscopeError(f"cannot listen on {host}:{port}: {exc.strerror}", field="--port", value=port) from None
    sock.set_inheritable(True)
    return sock


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command("serve")(serve)
