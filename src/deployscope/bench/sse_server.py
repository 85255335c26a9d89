"""A small OpenAI-compatible SSE server with known timings and injected faults.

It is the ground truth for testing and benchmarking the bench client: every streamed request
gets its first token ``ttft`` seconds after the request was read and each further token ``itl``
seconds later, one SSE chunk per token. Sleeps aim at absolute targets, so timer overshoot does
not accumulate. Standard library only, so it starts fast in a process of its own::

    python -m deployscope.bench.sse_server --port 8123 --ttft 0.2 --itl 0.02
    python src/deployscope/bench/sse_server.py --port 0 --faults ok,http500,truncate,reset,hang

Faults apply to requests in arrival order, cycling through the ``--faults`` list:

- ``ok``       a normal reply;
- ``http500``  ``500 Internal Server Error`` with a JSON error body;
- ``http429``  ``429 Too Many Requests``;
- ``truncate`` half the tokens, then the connection closes mid-stream (no final chunk, no [DONE]);
- ``reset``    half the tokens, then a TCP reset (SO_LINGER 0);
- ``hang``     headers sent, then nothing until the client gives up;
- ``refuse``   the connection is reset before any reply;
- ``malformed`` half the tokens, then an event whose ``choices`` holds a string, not an object
  (``{"choices": ["x"]}``), then the rest of a normal reply.

``/health`` and ``/v1/models`` answer GET. The listen backlog is large (``--backlog``, default
4096) so hundreds of simultaneous connects do not overflow it and cause SYN-retry outliers.
The server prints ``PORT <n>`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import struct
import sys
import time

FAULT_KINDS = ("ok", "http500", "http429", "truncate", "reset", "hang", "refuse", "malformed")
WORD = " tok"


class SSEServer:
    def __init__(
        self,
        *,
        ttft: float = 0.0,
        itl: float = 0.0,
        default_tokens: int = 16,
        faults: list[str] | None = None,
        prompt_tokens_per_word: float = 1.0,
        close: bool = False,
        framing: str = "chunked",
        one_per_connection: bool = False,
    ) -> None:
        self.ttft, self.itl = float(ttft), float(itl)
        self.default_tokens = int(default_tokens)
        self.faults = list(faults or ["ok"])
        for f in self.faults:
            if f not in FAULT_KINDS:
                raise ValueError(f"unknown fault {f!r}; allowed: {', '.join(FAULT_KINDS)}")
        self.prompt_tokens_per_word = prompt_tokens_per_word
        self.close_after = close
        if framing not in ("chunked", "close"):
            raise ValueError("framing is chunked or close")
        self.framing = framing  # close: SSE body without chunked encoding, ended by closing the connection
        # one request per keep-alive connection, unannounced: a second request on it is reset before
        # any reply (what a client meets when it reuses a connection the server closed a moment
        # before, as llama.cpp's server does after each stream)
        self.one_per_connection = one_per_connection
        self.count = 0
        self._chunk_cache: dict[tuple[str, str], bytes] = {}

    # -- framing ------------------------------------------------------------------------
    def _chunk(self, payload: bytes) -> bytes:
        if self.framing == "close":
            return payload
        return b"%x\r\n%s\r\n" % (len(payload), payload)

    def _event(self, api: str, model: str, final: bool = False) -> bytes:
        key = (api, model, "final" if final else "tok")
        b = self._chunk_cache.get(key)  # type: ignore[arg-type]
        if b is None:
            if api == "chat":
                choice = {"index": 0, "delta": {} if final else {"content": WORD}, "finish_reason": "length" if final else None}
                obj = {"id": "cmpl-t", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [choice]}
            else:
                choice = {"index": 0, "text": "" if final else WORD, "finish_reason": "length" if final else None}
                obj = {"id": "cmpl-t", "object": "text_completion", "created": 0, "model": model, "choices": [choice]}
            b = self._chunk(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n")
            self._chunk_cache[key] = b  # type: ignore[index]
        return b

    def _usage(self, api: str, model: str, prompt_tokens: int, completion_tokens: int) -> bytes:
        obj = {
            "id": "cmpl-t",
            "object": "chat.completion.chunk" if api == "chat" else "text_completion",
            "created": 0,
            "model": model,
            "choices": [],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return self._chunk(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n")

    # -- connection ---------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                if served and self.one_per_connection:
                    _abort(writer)
                    return
                served += 1
                t0 = time.monotonic()
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
                clen, conn_close = 0, self.close_after
                for ln in lines[1:]:
                    k, _, v = ln.partition(":")
                    k = k.strip().lower()
                    if k == "content-length":
                        clen = int(v.strip() or 0)
                    elif k == "connection" and v.strip().lower() == "close":
                        conn_close = True
                body = await reader.readexactly(clen) if clen else b""
                keep = await self._respond(method, path.split("?", 1)[0], body, writer, t0, conn_close, reader)
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    def _simple(self, writer: asyncio.StreamWriter, status: str, obj: object, close: bool) -> None:
        body = json.dumps(obj).encode()
        writer.write(
            b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
            % (status.encode(), len(body), b"Connection: close\r\n" if close else b"", body)
        )

    async def _respond(
        self, method: str, path: str, body: bytes, writer: asyncio.StreamWriter, t0: float, close: bool, reader: asyncio.StreamReader
    ) -> bool:
        if method == "GET":
            if path in ("/health", "/v1/health"):
                self._simple(writer, "200 OK", {"status": "ok"}, close)
            elif path == "/v1/models":
                self._simple(writer, "200 OK", {"object": "list", "data": [{"id": "sse-test", "object": "model"}]}, close)
            else:
                self._simple(writer, "404 Not Found", {"error": {"message": "not found"}}, close)
            await writer.drain()
            return not close
        if path.endswith("/chat/completions"):
            api = "chat"
        elif path.endswith("/completions"):
            api = "completions"
        else:
            self._simple(writer, "404 Not Found", {"error": {"message": f"no route {path}"}}, close)
            await writer.drain()
            return not close
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            self._simple(writer, "400 Bad Request", {"error": {"message": "invalid JSON"}}, close)
            await writer.drain()
            return not close
        fault = self.faults[self.count % len(self.faults)]
        self.count += 1
        n = int(req.get("max_tokens") or req.get("max_completion_tokens") or self.default_tokens)
        model = str(req.get("model") or "sse-test")
        if api == "chat":
            text = " ".join(str(m.get("content", "")) for m in req.get("messages") or [] if isinstance(m, dict))
        else:
            text = str(req.get("prompt", ""))
        prompt_tokens = max(1, int(len(text.split()) * self.prompt_tokens_per_word))
        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))

        if fault == "refuse":
            _abort(writer)
            return False
        if fault in ("http500", "http429"):
            status = "500 Internal Server Error" if fault == "http500" else "429 Too Many Requests"
            self._simple(writer, status, {"error": {"message": f"injected {fault}"}}, close)
            await writer.drain()
            return not close
        if not req.get("stream"):
            await _sleep_until(t0 + self.ttft + max(0, n - 1) * self.itl)
            key = "message" if api == "chat" else "text"
            choice = {"index": 0, "finish_reason": "length", key: ({"role": "assistant", "content": WORD * n} if api == "chat" else WORD * n)}
            self._simple(
                writer,
                "200 OK",
                {"id": "cmpl-t", "model": model, "choices": [choice],
                 "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": n, "total_tokens": prompt_tokens + n}},
                close,
            )
            await writer.drain()
            return not close

        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"%s\r\n" % (b"Connection: close\r\n" if (close or self.framing == "close")
                         else b"Transfer-Encoding: chunked\r\n")
        )
        if fault == "hang":
            await writer.drain()
            try:  # until the client gives up and closes (bounded, so the server never leaks)
                await asyncio.wait_for(reader.read(), 600)
            except (TimeoutError, ConnectionError):
                pass
            return False
        stop_at = n // 2 if fault in ("truncate", "reset") else n
        tok = self._event(api, model)
        transport = writer.transport
        i = 0
        while i < stop_at:
            if fault == "malformed" and i == n // 2:
                writer.write(self._chunk(b'data: {"choices": ["x"]}\n\n'))
            await _sleep_until(t0 + self.ttft + i * self.itl)
            if transport.is_closing():
                return False
            # every token that is due by now goes out in one write (one SSE event per token
            # still; with ITL 0 that is the whole reply in one send instead of one per token)
            now, k = time.monotonic(), i + 1
            while k < stop_at and t0 + self.ttft + k * self.itl <= now and not (fault == "malformed" and k == n // 2):
                k += 1
            writer.write(tok * (k - i))
            i = k
            if transport.get_write_buffer_size() > 65536:  # back-pressure only when the client lags
                await writer.drain()
        if fault == "truncate":
            await writer.drain()
            writer.close()
            return False
        if fault == "reset":
            await writer.drain()
            _abort(writer)
            return False
        tail = self._event(api, model, final=True)
        if include_usage:
            tail += self._usage(api, model, prompt_tokens, n)
        tail += self._chunk(b"data: [DONE]\n\n")
        if self.framing == "close":
            writer.write(tail)
            await writer.drain()
            return False
        writer.write(tail + b"0\r\n\r\n")
        await writer.drain()
        return not close


async def _sleep_until(target: float) -> None:
    d = target - time.monotonic()
    if d > 0:
        await asyncio.sleep(d)


def _abort(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def serve(host: str, port: int, backlog: int, server: SSEServer, ready=None) -> None:  # noqa: ANN001
    srv = await asyncio.start_server(server.handle, host, port, backlog=backlog, reuse_address=True)
    actual = srv.sockets[0].getsockname()[1]
    if ready is not None:
        ready(actual)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    async with srv:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (printed as 'PORT n')")
    ap.add_argument("--ttft", type=float, default=0.0, help="seconds from request to first token")
    ap.add_argument("--itl", type=float, default=0.0, help="seconds between tokens")
    ap.add_argument("--tokens", type=int, default=16, help="tokens when the request sets no max_tokens")
    ap.add_argument("--faults", default="ok", help=f"comma-separated cycle of: {', '.join(FAULT_KINDS)}")
    ap.add_argument("--backlog", type=int, default=4096)
    ap.add_argument("--close", action="store_true", help="send Connection: close (no keep-alive)")
    ap.add_argument("--framing", default="chunked", choices=["chunked", "close"],
                    help="chunked transfer encoding, or a body that ends when the connection closes")
    ap.add_argument("--one-per-connection", action="store_true",
                    help="reset a second request on a keep-alive connection before replying")
    a = ap.parse_args(argv)
    server = SSEServer(ttft=a.ttft, itl=a.itl, default_tokens=a.tokens, faults=[f.strip() for f in a.faults.split(",") if f.strip()], close=a.close,
                       framing=a.framing, one_per_connection=a.one_per_connection)

    def ready(port: int) -> None:
        sys.stdout.write(f"PORT {port}\n")
        sys.stdout.flush()

    try:
        asyncio.run(serve(a.host, a.port, a.backlog, server, ready))
    except KeyboardInterrupt:
        pass
    return 0


class ServerProcess:
    """Run the SSE server in a child process (so its CPU is apart from the client's); a context
    manager that yields the base URL and stops the child by PID."""

    def __init__(self, *, ttft: float = 0.0, itl: float = 0.0, faults: str = "ok", tokens: int = 16, close: bool = False,
                 backlog: int = 4096, framing: str = "chunked", one_per_connection: bool = False) -> None:
        self.args = ["--ttft", str(ttft), "--itl", str(itl), "--faults", faults, "--tokens", str(tokens), "--backlog", str(backlog),
                     "--framing", framing]
        if close:
            self.args.append("--close")
        if one_per_connection:
            self.args.append("--one-per-connection")
        self.proc = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> "ServerProcess":
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + timeout_s
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()  # type: ignore[union-attr]
            if line.startswith("PORT "):
                self.port = int(line.split()[1])
                return self
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"SSE server did not start ({line!r})")

    def stop(self) -> None:
        p = self.proc
        if p is None:
            return
        terminate(p, timeout_s=5)
        if p.stdout:
            p.stdout.close()
        self.proc = None

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far (Linux /proc)."""
        import os

        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:  # type: ignore[union-attr]
                parts = f.read().rsplit(")", 1)[1].split()
            return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, AttributeError, IndexError):
            return float("nan")

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())


def terminate(proc, timeout_s: float = 5.0) -> None:  # noqa: ANN001 - a subprocess.Popen
    """Stop a child process by PID: SIGTERM, then SIGKILL if it has not exited within `timeout_s`."""
    import os
    import subprocess

    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout_s)
