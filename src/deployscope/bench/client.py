"""The streaming client: one OpenAI-compatible request in, one :class:`RequestRecord` out.

Two transports share the SSE parser (:mod:`.sse`) and the record type (:mod:`.records`):
``raw`` (default, :mod:`.transport_raw`) and ``httpx`` (:mod:`.transport_httpx`). Both hold at
most ``max_connections`` connections. The load patterns that drive the client live in :mod:`.load`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..errors import DeployscopeError
from .records import ERROR_KINDS, RequestRecord, RequestSpec
from .sse import StreamState

__all__ = ["APIS", "ERROR_KINDS", "TRANSPORTS", "Client", "ClientConfig", "RequestRecord", "RequestSpec",
           "load_tokenizer", "normalize_base_url"]

APIS = ("chat", "completions")
TRANSPORTS = ("raw", "httpx")


def normalize_base_url(url: str) -> str:
    """``http://host:port`` from a base address given with or without a trailing ``/v1``."""
    if not isinstance(url, str) or not url.strip():
        raise DeployscopeError("the server address is empty", field="url", value=url, allowed="http://HOST:PORT[/v1]")
    u = url.strip()
    if "://" not in u:
        u = "http://" + u
    parts = urlsplit(u)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeployscopeError(
            f"not an http(s) server address: {url!r}", field="url", value=url, allowed="http://HOST:PORT[/v1]"
        )
    if parts.query or parts.fragment:
        raise DeployscopeError("the server address takes no query or fragment", field="url", value=url)
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise DeployscopeError(f"bad port in {url!r}", field="url", value=url) from None
    path = parts.path.rstrip("/")
    path = path.removesuffix("/v1")
    return f"{parts.scheme}://{parts.netloc}{path}"



@dataclass
class ClientConfig:
    base_url: str
    api: str = "chat"
    model: str | None = None
    max_connections: int = 64
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0  # the longest silence between two chunks
    request_timeout_s: float = 600.0  # the whole request
    ignore_eos: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    extra_body: dict[str, Any] = field(default_factory=dict)
    tokenizer: Callable[[str], int] | None = None
    transport: str = "raw"  # raw (lean asyncio HTTP/1.1) | httpx

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise DeployscopeError(f"unknown transport {self.transport!r}", field="transport", value=self.transport, allowed=TRANSPORTS)
        if self.api not in APIS:
            raise DeployscopeError(f"unknown API {self.api!r}", field="api", value=self.api, allowed=APIS)
        if self.max_connections < 1:
            raise DeployscopeError("max_connections must be at least 1", field="max_connections", value=self.max_connections)
        for name in ("connect_timeout_s", "read_timeout_s", "request_timeout_s"):
            v = getattr(self, name)
            if not (v > 0):
                raise DeployscopeError(f"{name} must be > 0", field=name, value=v)
        self.base_url = normalize_base_url(self.base_url)




class Client:
    """An async streaming client for ``/v1/chat/completions`` and ``/v1/completions``."""

    def __init__(self, config: ClientConfig, t0: float | None = None) -> None:
        self.config = config
        self.t0 = time.perf_counter() if t0 is None else t0
        path = "/v1/chat/completions" if config.api == "chat" else "/v1/completions"
        self.url = config.base_url + path
        if config.transport == "httpx":
            from .transport_httpx import HttpxTransport

            self.transport: Any = HttpxTransport(self.url, config)
        else:
            from .transport_raw import RawPool

            self.transport = RawPool(self.url, config)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def body(self, spec: RequestSpec) -> bytes:
        c = self.config
        b: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}, "max_tokens": spec.max_tokens}
        if c.model:
            b["model"] = c.model
        if c.api == "chat":
            b["messages"] = [{"role": "user", "content": spec.prompt}]
        else:
            b["prompt"] = spec.prompt
        if c.ignore_eos:
            b["ignore_eos"] = True
        b.update(c.extra_body)
        return json.dumps(b, separators=(",", ":")).encode()

    @staticmethod
    def new_record(spec: RequestSpec) -> RequestRecord:
        return RequestRecord.for_spec(spec)

    async def request(self, spec: RequestSpec, rec: RequestRecord | None = None) -> RequestRecord:
        """Send one streaming request and fill `rec` (a new record when None) in place; errors
        are recorded, never raised (only the caller's cancellation propagates, after the record
        is marked ``cancelled``)."""
        if rec is None:
            rec = self.new_record(spec)
        body = self.body(spec)
        send = time.perf_counter()
        rec.send = send - self.t0
        state = StreamState(rec, send, self.config.tokenizer is not None)
        await self.transport.request(body, state)
        if self.config.tokenizer is not None and state.text_parts:
            try:
                rec.client_tokens = int(self.config.tokenizer("".join(state.text_parts)))
            except Exception as exc:  # noqa: BLE001 - a tokenizer failure must not lose the record
                rec.error_detail = (rec.error_detail or "") + f" tokenizer: {exc}"
        return rec


def load_tokenizer(path: str) -> Callable[[str], int]:
    """A local tokenizer counter from a ``tokenizer.json`` file or a directory holding one
    (needs the ``tokenizers`` package; nothing is downloaded)."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        p = p / "tokenizer.json"
    if not p.is_file():
        raise DeployscopeError(f"no tokenizer.json at {path!r}", field="tokenizer", value=path, allowed="a local tokenizer.json or a directory with one")
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise DeployscopeError(
            "counting tokens locally needs the 'tokenizers' package (pip install tokenizers)", field="tokenizer", value=path
        ) from None
    tok = Tokenizer.from_file(str(p))

    def count(text: str) -> int:
        return len(tok.encode(text, add_special_tokens=False).ids)

    return count
