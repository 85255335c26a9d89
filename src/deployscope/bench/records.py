"""The typed values of a load test: what to send (:class:`RequestSpec`) and what happened to
it (:class:`RequestRecord`).

A record holds, for one request:

- ``send``: when the request was handed to the transport (``time.perf_counter``, seconds from
  the start of the run);
- ``chunks``: the arrival time of every SSE chunk that carried generated text (content, text or
  reasoning), as offsets in seconds from ``send``; events that arrive in one network read share
  its timestamp;
- ``first_byte`` and ``end``: offsets of the first response byte and of the end of the stream;
- ``usage_prompt`` / ``usage_completion``: token counts from the server's ``usage`` (requested
  with ``stream_options: {include_usage: true}``), ``client_tokens`` from a local tokenizer when
  one is given;
- ``status`` (HTTP), ``error`` (a kind, below) and ``error_detail``.

Error kinds: ``timeout`` (connect, read or whole-request time limit), ``connect`` (refused or
unreachable), ``reset`` (connection reset after it was established), ``truncated`` (the stream
ended before ``[DONE]`` or a ``finish_reason``), ``http_<status>`` (a non-2xx reply), ``protocol``
(a reply that is not the expected JSON or SSE), ``cancelled`` (the run's time bound or Ctrl-C
stopped the request; not counted as an error).

Saved runs, exports and :mod:`.metrics` use the record as a plain dict (:meth:`RequestRecord.to_dict`),
the stored format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR_KINDS = ("timeout", "connect", "reset", "truncated", "protocol", "cancelled")  # plus http_<status>


@dataclass(slots=True)
class RequestSpec:
    """One request to send: the prompt, its target lengths and its phase."""

    idx: int
    prompt: str
    input_len: int
    max_tokens: int
    phase: str = "measured"  # or "warmup"


@dataclass(slots=True)
class RequestRecord:
    """What happened to one request; filled in place by the transport and the SSE parser."""

    i: int
    phase: str
    input_len: int
    max_tokens: int
    send: float | None = None
    status: int | None = None
    error: str | None = None
    error_detail: str | None = None
    first_byte: float | None = None
    end: float | None = None
    chunks: list[float] = field(default_factory=list)
    usage_prompt: int | None = None
    usage_completion: int | None = None
    client_tokens: int | None = None
    done: bool = False
    finish: str | None = None
    step: int | None = None
    scheduled: float | None = None  # open loop: when the arrival process wanted it sent
    server_timings: dict[str, Any] | None = None  # llama.cpp's own prompt/decode times

    @classmethod
    def for_spec(cls, spec: RequestSpec) -> RequestRecord:
        return cls(i=spec.idx, phase=spec.phase, input_len=spec.input_len, max_tokens=spec.max_tokens)

    @property
    def open(self) -> bool:
        """Still in flight: neither ended nor failed."""
        return self.end is None and self.error is None

    def fail(self, kind: str, detail: str) -> None:
        """Record the first error only: a later one is a consequence of it."""
        if self.error is None:
            self.error = kind
            self.error_detail = detail[:300]

    def to_dict(self) -> dict[str, Any]:
        """The stored form; ``scheduled`` and ``server_timings`` only when set."""
        d = {name: getattr(self, name) for name in _STORED}
        d["chunks"] = list(self.chunks)
        if self.scheduled is not None:
            d["scheduled"] = self.scheduled
        if self.server_timings is not None:
            d["server_timings"] = self.server_timings
        return d


_STORED = ("i", "phase", "input_len", "max_tokens", "send", "status", "error", "error_detail", "first_byte", "end",
           "chunks", "usage_prompt", "usage_completion", "client_tokens", "done", "finish", "step")


def as_dict(record: RequestRecord | dict[str, Any]) -> dict[str, Any]:
    """A record in its stored form, whichever form it is in."""
    return record.to_dict() if isinstance(record, RequestRecord) else record
