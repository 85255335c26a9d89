"""Engine settings a validation row was served with, read from its notes.

A row whose server was launched with its own scheduler or memory flags states them in its notes as
``engine settings: key=value, key=value`` (ended by ``;`` or the end of the notes). Only the flags
the performance model has a parameter for are accepted, each under the engine's own flag name:

* SGLang: ``chunked_prefill_size`` and ``max_prefill_tokens`` (the step's prefill-token budget,
  the smaller of those given; also the start-up profile's activation tokens),
  ``max_running_requests`` (most sequences in a step), ``mem_fraction_static`` (the static memory
  fraction, replacing the rule SGLang derives it by), ``scheduler_recv_interval`` (decode steps
  between the scheduler's intakes of new requests);
* TensorRT-LLM: ``max_num_tokens`` (step token budget and activation buffers), ``max_batch_size``,
  ``enable_chunked_prefill`` (true/false), ``free_gpu_memory_fraction`` (KV share of free memory);
* vLLM: ``max_num_batched_tokens``, ``max_num_seqs``, ``enable_chunked_prefill``,
  ``gpu_memory_utilization``.

Parsing is strict: a key the engine does not take, a repeated key or a bad value is a
:class:`~deployscope.validate.llm_rows.Skip` naming it, never ignored. The settings change a copy
of the catalog engine row only (scheduler limits, request intake and memory budget); no fitted figure moves.
"""

from __future__ import annotations

import re
from typing import Any

MARKER = "engine settings:"

_INT = "int"
_FRACTION = "fraction"
_BOOL = "bool"

#: engine -> flag -> kind of value
FLAGS: dict[str, dict[str, str]] = {
    "sglang": {"chunked_prefill_size": _INT, "max_prefill_tokens": _INT, "max_running_requests": _INT,
               "mem_fraction_static": _FRACTION, "scheduler_recv_interval": _INT},
    "trtllm": {"max_num_tokens": _INT, "max_batch_size": _INT, "enable_chunked_prefill": _BOOL,
               "free_gpu_memory_fraction": _FRACTION},
    "vllm": {"max_num_batched_tokens": _INT, "max_num_seqs": _INT, "enable_chunked_prefill": _BOOL,
             "gpu_memory_utilization": _FRACTION},
}

Settings = tuple[tuple[str, Any], ...]


class BadSettings(ValueError):
    """Engine settings in a row's notes that cannot be read; the message names the flag."""


def _value(engine: str, key: str, text: str) -> Any:
    kind = FLAGS[engine][key]
    if kind == _BOOL:
        if text.lower() not in ("true", "false"):
            raise BadSettings(f"engine settings: {key}={text!r} is not true or false")
        return text.lower() == "true"
    if kind == _INT:
        if not re.fullmatch(r"[0-9]+", text) or not 1 <= int(text) <= 100_000_000:
            raise BadSettings(f"engine settings: {key}={text!r} is not a whole number from 1 to 100,000,000")
        return int(text)
    try:
        x = float(text)
    except ValueError:
        x = float("nan")
    if not 0 < x <= 1:
        raise BadSettings(f"engine settings: {key}={text!r} is not a fraction in (0, 1]")
    return x


def parse(notes: str, engine: str) -> Settings:
    """The engine settings a row's notes state, sorted by flag; () when they state none."""
    at = notes.find(MARKER)
    if at < 0:
        return ()
    if notes.find(MARKER, at + 1) >= 0:
        raise BadSettings("engine settings stated twice in the notes")
    body = notes[at + len(MARKER):].split(";", 1)[0].strip()
    allowed = FLAGS.get(engine)
    if allowed is None:
        raise BadSettings(f"engine settings are not read for engine {engine!r} (only {', '.join(sorted(FLAGS))})")
    out: dict[str, Any] = {}
    for item in body.split(","):
        key, eq, text = (s.strip() for s in item.partition("="))
        if not eq or not key or not text:
            raise BadSettings(f"engine settings: {item.strip()!r} is not key=value")
        if key not in allowed:
            raise BadSettings(f"engine settings: {key!r} is not a flag the harness reads for {engine} "
                              f"(allowed: {', '.join(sorted(allowed))})")
        if key in out:
            raise BadSettings(f"engine settings: {key!r} stated twice")
        out[key] = _value(engine, key, text)
    return tuple(sorted(out.items()))


def apply(engine_row: Any, settings: Settings) -> Any:
    """A copy of the (GPU-configured) catalog engine row with the settings in force."""
    if not settings:
        return engine_row
    s = dict(settings)
    perf: dict[str, Any] = {}
    mem: dict[str, Any] = {}
    tokens = [s[k] for k in ("chunked_prefill_size", "max_prefill_tokens", "max_num_tokens", "max_num_batched_tokens") if k in s]
    if tokens:
        perf["max_num_tokens"] = mem["activation_tokens"] = min(tokens)
    for k in ("max_running_requests", "max_batch_size", "max_num_seqs"):
        if k in s:
            perf["max_batch_size"] = s[k]
    if "scheduler_recv_interval" in s:
        perf["admission_interval_steps"] = s["scheduler_recv_interval"]
    if "enable_chunked_prefill" in s:
        perf["chunked_prefill"] = s["enable_chunked_prefill"]
    rule = engine_row.memory.static_fraction
    if rule is not None and "chunked_prefill_size" in s:  # SGLang sizes its reserve by the chunk it runs
        mem["static_fraction"] = rule.model_copy(update={"tiers": tuple(
            t.model_copy(update={"chunked_prefill_size": s["chunked_prefill_size"]}) for t in rule.tiers)})
    for k in ("mem_fraction_static", "free_gpu_memory_fraction", "gpu_memory_utilization"):
        if k in s:  # a stated fraction replaces the rule the engine would derive it by
            mem.update(memory_utilization=s[k], static_fraction=None)
    return engine_row.model_copy(update={"perf": engine_row.perf.model_copy(update=perf),
                                         "memory": engine_row.memory.model_copy(update=mem)})
