"""The lean transport: an asyncio protocol speaking HTTP/1.1 over a keep-alive pool, written for
low client overhead. It hands body bytes to the SSE parser with the time of the network read
they came in, and stops a request as soon as the parser calls its reply malformed."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .sse import StreamState

if TYPE_CHECKING:
    from .client import ClientConfig


class _Conn(asyncio.Protocol):
    """One HTTP/1.1 connection; parses one response at a time and feeds body bytes to the SSE
    parser with the time of the network read they came in."""

    def __init__(self, pool: RawPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.state: StreamState | None = None
        self.fut: asyncio.Future | None = None
        self.buf = b""
        self.phase = "idle"  # idle | head | chunked | length | until_close | error_body
        self.remaining = 0  # bytes left in the current chunk or the length-delimited body
        self.keep_alive = True
        self.err_body = b""
        self.last_read = 0.0
        self.err_chunked = False
        self.reused = False  # taken from the idle pool (a stale keep-alive connection may be closed)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._forget(self)
        st = self.state
        if st is None or self.fut is None or self.fut.done():
            return
        now = time.perf_counter()
        if self.reused and st.rec.first_byte is None:
            # the server had closed this keep-alive connection (llama.cpp's server does so after
            # every stream): reuse no more (RawPool.reuse). A clean close is not a fault of the
            # request: send it again on a new connection; a reset is reported below
            self.pool.reuse = False
            if exc is None:
                fut, self.state, self.fut = self.fut, None, None
                fut.set_result("retry")
                return
        if self.phase == "trailer":  # the body was complete
            self._complete(False)
            return
        if self.phase == "until_close":
            st.finish(now)
            self._complete(False)
            return
        if self.phase == "error_body":
            st.http_error(self.err_body, now)
            self._complete(False)
            return
        if isinstance(exc, (ConnectionResetError, BrokenPipeError)) or (exc is not None and st.rec.first_byte is None):
            st.fail("reset", f"{type(exc).__name__}: {exc}" if exc else "connection closed", now)
        elif st.rec.first_byte is None:
            st.fail("reset", "the server closed the connection before replying", now)
        else:
            st.fail("truncated", "the connection closed in the middle of the reply", now)
        self._complete(False)

    def data_received(self, data: bytes) -> None:
        st = self.state
        self._data_received(data)
        if st is not None and st.broken and self.state is st:  # a malformed event ended the request
            self._complete(False)

    def _data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.last_read = now
        st = self.state
        if st is None:  # bytes while idle: the server is confused; drop the connection
            self.transport.close()  # type: ignore[union-attr]
            return
        if st.rec.first_byte is None:
            st.rec.first_byte = now - st.send
        buf = self.buf + data if self.buf else data
        self.buf = b""
        if self.phase == "trailer":
            self._trailer(buf)
            return
        if self.phase == "head":
            if buf[:2] == b"\r\n":  # stray empty lines before a status line are allowed (RFC 9112)
                buf = buf.lstrip(b"\r\n")
                if not buf:
                    return
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 65536:
                    return self._protocol_error("response headers over 64 KiB", now)
                self.buf = buf
                return
            if not self._head(buf[:end], now):
                return
            buf = buf[end + 4 :]
            if self.phase == "head":  # an interim 1xx reply: the real status line follows
                if buf:
                    self._data_received(buf)
                return
        if self.phase == "chunked":
            out = []
            pos, n = 0, len(buf)
            while pos < n:
                if self.remaining == 0:
                    nl = buf.find(b"\r\n", pos)
                    if nl < 0:
                        break
                    line = buf[pos:nl]
                    semi = line.find(b";")
                    try:
                        size = int(line[:semi] if semi >= 0 else line, 16)
                    except ValueError:
                        if out:
                            st.feed(b"".join(out), now)
                        return self._protocol_error(f"bad chunk size {line[:20]!r}", now)
                    if size == 0:  # the last chunk: the stream is over, then (trailers and) an empty line
                        if out:
                            st.feed(b"".join(out), now)
                        st.finish(now)
                        self.phase = "trailer"
                        self._trailer(buf[nl + 2 :])
                        return
                    self.remaining = size + 2  # the chunk plus its CRLF
                    pos = nl + 2
                else:
                    take = min(self.remaining, n - pos)
                    piece = buf[pos : pos + take]
                    self.remaining -= take
                    pos += take
                    if self.remaining < 2:  # part of the CRLF is in this piece
                        piece = piece[: len(piece) - (2 - self.remaining)] if self.remaining < 2 else piece
                    out.append(piece)
            if out:
                st.feed(b"".join(out), now)
            if pos < n:
                self.buf = buf[pos:]
            return
        if self.phase == "length":
            take = buf[: self.remaining]
            self.remaining -= len(take)
            if take:
                st.feed(take, now)
            if self.remaining <= 0:
                st.finish(now)
                self._complete(self.keep_alive)
            return
        if self.phase == "until_close":
            st.feed(buf, now)
            return
        if self.phase == "error_body":
            self.err_body += buf
            if self.err_chunked and self.err_body.endswith(b"0\r\n\r\n"):
                st.http_error(self.err_body, now)
                self._complete(False)
                return
            if (self.remaining and len(self.err_body) >= self.remaining) or len(self.err_body) > 4000:
                st.http_error(self.err_body, now)
                self._complete(self.keep_alive and len(self.err_body) == self.remaining)
            return

    def _trailer(self, buf: bytes) -> None:
        """Consume optional trailer fields and the empty line that ends a chunked body."""
        if buf[:2] == b"\r\n":
            self._complete(self.keep_alive and len(buf) == 2)
            return
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            self._complete(self.keep_alive and len(buf) == end + 4)
        elif len(buf) > 8192:
            self._complete(False)
        else:
            self.buf = buf

    def _head(self, head: bytes, now: float) -> bool:
        st = self.state
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            self._protocol_error(f"not an HTTP status line: {lines[0][:60]!r}", now)
            return False
        if status == 100:  # Continue: skip it, the real status follows
            self.phase = "head"
            return True
        st.rec.status = status  # type: ignore[union-attr]
        chunked, length = False, None
        self.keep_alive = parts[0] == b"HTTP/1.1"
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            k = k.strip().lower()
            if k == b"transfer-encoding":
                chunked = b"chunked" in v.lower()
            elif k == b"content-length":
                try:
                    length = int(v.strip())
                except ValueError:
                    self._protocol_error("bad Content-Length", now)
                    return False
            elif k == b"connection":
                vv = v.strip().lower()
                if vv == b"close":
                    self.keep_alive = False
                elif vv == b"keep-alive":
                    self.keep_alive = True
        if status // 100 != 2:
            self.phase = "error_body"
            self.remaining = length or 0
            if length == 0:
                st.http_error(b"", now)  # type: ignore[union-attr]
                self._complete(self.keep_alive)
                return False
            self.err_chunked = chunked
            if chunked:
                self.keep_alive = False  # keep the parser simple: read to the last chunk, then drop the connection
                self.remaining = 0
            return True
        if chunked:
            self.phase, self.remaining = "chunked", 0
        elif length is not None:
            self.phase, self.remaining = "length", length
            if length == 0:
                st.finish(now)  # type: ignore[union-attr]
                self._complete(self.keep_alive)
                return False
        else:
            self.phase, self.keep_alive = "until_close", False
        return True

    def _protocol_error(self, detail: str, now: float) -> None:
        if self.state is not None:
            self.state.fail("protocol", detail, now)
        self._complete(False)

    def _complete(self, reusable: bool) -> None:
        fut = self.fut
        self.state = None
        self.fut = None
        self.phase = "idle"
        self.buf = b""
        self.err_body = b""
        if fut is not None and not fut.done():
            fut.set_result(None)
        self.pool._release(self, reusable and not self.closed)



class RawPool:
    """At most `max_connections` open connections; idle ones are reused last-in first-out."""

    def __init__(self, url: str, config: ClientConfig) -> None:
        import ssl as _ssl

        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = _ssl.create_default_context() if parts.scheme == "https" else None
        self.path = parts.path or "/"
        self.config = config
        host_header = parts.netloc.rsplit("@", 1)[-1]
        hdrs = {"Host": host_header, "Content-Type": "application/json", "Accept": "text/event-stream",
                "User-Agent": "deployscope-bench", **config.headers}
        self.head = (f"POST {self.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())).encode("latin-1")
        self.idle: list[_Conn] = []
        self.open: set[_Conn] = set()
        # Cleared once a request sent on a reused connection meets the server's close before any
        # reply (llama.cpp's server closes each connection after its stream): from then on each
        # request opens its own connection, so no other request races a close in flight. An idle
        # connection the server closes on a keep-alive timeout is only dropped: servers that keep
        # connections open between requests keep being reused.
        self.reuse = True
        self.sem = asyncio.Semaphore(config.max_connections)
        self.timer_interval = config.read_timeout_s

    def _forget(self, conn: _Conn) -> None:
        self.open.discard(conn)
        if conn in self.idle:  # the server closed an idle keep-alive connection
            self.idle.remove(conn)

    def _release(self, conn: _Conn, reusable: bool) -> None:
        if reusable and self.reuse:
            self.idle.append(conn)
        elif conn.transport is not None and not conn.closed:
            conn.transport.close()

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.config.connect_timeout_s):
            _t, conn = await loop.create_connection(lambda: _Conn(self), self.host, self.port, ssl=self.ssl)
        self.open.add(conn)
        return conn

    async def request(self, body: bytes, state: StreamState) -> None:
        perf = time.perf_counter
        cfg = self.config
        loop = asyncio.get_running_loop()
        conn: _Conn | None = None
        timer = None
        try:
            async with asyncio.timeout(cfg.request_timeout_s):
                async with self.sem:
                    for _attempt in range(3):
                        conn = None
                        while self.idle and self.reuse:
                            c = self.idle.pop()
                            if not c.closed and c.transport is not None and not c.transport.is_closing():
                                conn = c
                                conn.reused = True
                                break
                        if conn is None:
                            try:
                                conn = await self._connect()
                            except TimeoutError:
                                state.fail("timeout", f"connect took over {cfg.connect_timeout_s:g} s", perf())
                                return
                            except OSError as exc:
                                state.fail("connect", f"{type(exc).__name__}: {exc}", perf())
                                return
                        fut = loop.create_future()
                        conn.state, conn.fut, conn.phase = state, fut, "head"
                        conn.last_read = perf()
                        conn.transport.write(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)  # type: ignore[union-attr]

                        def watchdog(conn: _Conn = conn, fut: asyncio.Future = fut) -> None:  # read timeout
                            nonlocal timer
                            if fut.done():
                                return
                            idle_for = perf() - conn.last_read
                            if idle_for >= cfg.read_timeout_s:
                                state.fail("timeout", f"no data for {cfg.read_timeout_s:g} s", perf())
                                conn._complete(False)
                            else:
                                timer = loop.call_later(cfg.read_timeout_s - idle_for, watchdog)

                        timer = loop.call_later(cfg.read_timeout_s, watchdog)
                        if await fut != "retry":
                            return
                        timer.cancel()
                        timer = None
                    state.fail("reset", "the server closed three connections before replying", perf())
        except TimeoutError:
            state.fail("timeout", f"no complete reply within {cfg.request_timeout_s:g} s", perf())
            if conn is not None and conn.state is state:
                conn._complete(False)
        except asyncio.CancelledError:
            state.fail("cancelled", "stopped by the run's time bound or an interrupt", perf())
            if conn is not None and conn.state is state:
                conn._complete(False)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        for c in list(self.open):
            if c.transport is not None:
                c.transport.close()
        self.open.clear()
        self.idle.clear()

