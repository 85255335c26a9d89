"""The httpx transport: httpx's AsyncClient with explicit connection limits (httpx's default caps a
pool at 100 connections, which would silently throttle a load test)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from .sse import StreamState

if TYPE_CHECKING:
    from .client import ClientConfig


class HttpxTransport:
    def __init__(self, url: str, config: ClientConfig) -> None:
        import httpx

        self._httpx = httpx
        self.url = url
        self.config = config
        self.http = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
                keepalive_expiry=30.0,
            ),
            timeout=httpx.Timeout(
                connect=config.connect_timeout_s,
                read=config.read_timeout_s,
                write=config.connect_timeout_s,
                pool=config.request_timeout_s,
            ),
            headers={"Content-Type": "application/json", "Accept": "text/event-stream", **config.headers},
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the user named this address
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(self, body: bytes, state: StreamState) -> None:
        rec, send, perf, hx = state.rec, state.send, time.perf_counter, self._httpx
        try:
            async with asyncio.timeout(self.config.request_timeout_s):
                async with self.http.stream("POST", self.url, content=body) as resp:
                    rec.status = resp.status_code
                    if resp.status_code // 100 != 2:
                        rec.first_byte = perf() - send
                        text = b""
                        async for part in resp.aiter_bytes():
                            text += part
                            if len(text) > 2000:
                                break
                        state.http_error(text, perf())
                        return
                    feed = state.feed
                    async for data in resp.aiter_bytes():
                        feed(data, perf())
                        if state.broken:  # a malformed event: this request is over
                            return
            state.finish(perf())
        except TimeoutError:
            state.fail("timeout", f"no complete reply within {self.config.request_timeout_s:g} s", perf())
        except hx.TimeoutException as exc:
            state.fail("timeout", type(exc).__name__, perf())
        except hx.ConnectError as exc:
            state.fail("connect", str(exc) or type(exc).__name__, perf())
        except hx.RemoteProtocolError as exc:
            state.fail("truncated" if rec.first_byte is not None or rec.status else "reset", str(exc) or type(exc).__name__, perf())
        except (hx.ReadError, hx.WriteError, ConnectionError) as exc:
            state.fail("reset", str(exc) or type(exc).__name__, perf())
        except (hx.HTTPError, ValueError, UnicodeDecodeError) as exc:
            state.fail("protocol", f"{type(exc).__name__}: {exc}"[:300], perf())
        except asyncio.CancelledError:
            state.fail("cancelled", "stopped by the run's time bound or an interrupt", perf())
            raise

