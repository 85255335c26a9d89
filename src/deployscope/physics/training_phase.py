"""Training phases: pre-training, context extension, post-training (SFT).

A phase sets the method and sequence length a training job defaults to: pre-training and context
extension train every weight with the pre-training recipe (context extension at the model's full
context window, with the extension's own token count), post-training / SFT fine-tunes every
weight at 4,096 tokens. Rows and users write phases in many ways; :data:`PHASES` lists the
aliases read. In a phase plan, annealing is read as pre-training: the Llama 3 paper (arXiv:2407.21783
sec 3.4) names it the last stage of pre-training, after initial and long-context pre-training.

A run of several phases is written as a plan (:func:`parse_phases`), one step per phase::

    pre-training 14800B@8192; context-extension 800B@8192..131072x6; annealing 0.04B@131072; post-training unstated

``@8192..131072x6``: six stages of equal tokens whose lengths step geometrically from above 8,192
up to 131,072 (the paper states the number of stages and the end points, not each stage's length);
``unstated``: the source names the phase without its tokens, so it is not predicted.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import DeployscopeError
from ..scenario import MAX_TOKENS_PER_REQUEST

PHASES: dict[str, tuple[str, ...]] = {
    "pre-training": ("pre-training", "pretraining", "pretrain", "pre-train"),
    "context-extension": ("context-extension", "context extension", "long-context", "long context", "context-length extension"),
    "post-training": ("post-training", "posttraining", "post-train", "sft", "supervised fine-tuning", "instruction tuning"),
}
# "long-context pre-training" names the extension: the more specific phases are matched first
_MATCH_ORDER = ("context-extension", "post-training", "pre-training")
MAX_STAGES = 64  # stages of one phase in a plan (each is one estimate)


def phase_of(text: str) -> str | None:
    """The phase a free-text label names (a row's `phase` column, a CLI value), or None."""
    t = (text or "").strip().lower()
    for phase in _MATCH_ORDER:
        if any(a in t for a in PHASES[phase]):
            return phase
    return None


def phase_setup(phase: str, method: str | None, seq_len: int | None, max_context: int | None) -> tuple[str, int]:
    """(method, seq_len) of a job in `phase`; an explicit method or sequence length wins."""
    p = phase_of(phase)
    if p is None:
        raise DeployscopeError(f"unknown training phase {phase!r}{_did_you_mean(phase)}", field="phase", value=phase, allowed=list(PHASES))
    if p == "post-training":
        return method or "full", seq_len or 4096
    if p == "context-extension":
        return method or "pretrain", seq_len or int(max_context or 4096)
    return method or "pretrain", seq_len or 4096


def _did_you_mean(label: str) -> str:
    names = [a for aliases in PHASES.values() for a in aliases] + ["annealing"]
    close = difflib.get_close_matches(label.strip().lower(), names, n=3, cutoff=0.6)
    return f"; did you mean: {', '.join(close)}?" if close else ""


@dataclass(frozen=True)
class PhaseStep:
    """One phase of a run: its tokens (None when the source does not state them) split evenly over
    stages of the given sequence lengths."""

    label: str
    phase: str
    tokens: float | None
    seq_lens: tuple[int, ...]


_STEP = re.compile(r"^(?P<label>.*?)\s+(?:(?P<tokens>[0-9][0-9_.,]*(?:[eE][+-]?\d+)?\s*[kKmMbBtT]?)\s*@\s*(?P<seq>[0-9][0-9.x]*)|(?P<unstated>unstated))$")
_SEQ = re.compile(r"^(?P<a>\d+)(?:\.\.(?P<b>\d+)x(?P<n>\d+))?$")


def parse_phases(text: str) -> list[PhaseStep]:
    """Steps of a phase plan ('pre-training 14800B@8192; context-extension 800B@8192..131072x6; ...')."""
    from .training import parse_tokens

    steps = []
    for item in (t.strip() for t in (text or "").split(";")):
        if not item:
            continue
        m = _STEP.match(item)
        # annealing is the last stage of pre-training (Llama 3 paper sec 3.4), read in a plan only
        phase = (phase_of(m.group("label")) or ("pre-training" if "annealing" in m.group("label").lower() else None)) if m else None
        seq = _SEQ.match(m.group("seq") or "") if m and not m.group("unstated") else None
        named = {p for p in PHASES if any(a in (m.group("label") or "").lower() for a in PHASES[p])} if m else set()
        if len(named - {"pre-training"} if "context-extension" in named else named) > 1:  # 'long-context pre-training' is one phase
            raise DeployscopeError(f"the step {item!r} names several phases ({', '.join(sorted(named))}): give each its own step",
                                   field="phases", value=text, allowed="one phase per step, separated by ';'")
        if m is not None and phase is None:
            raise DeployscopeError(f"unknown phase {m.group('label').strip()!r} in the step {item!r}{_did_you_mean(m.group('label'))}",
                                   field="phases", value=text, allowed=", ".join(list(PHASES) + ["annealing"]))
        if m is None or phase is None or (not m.group("unstated") and seq is None):
            raise DeployscopeError(
                f"cannot read the phase step {item!r}", field="phases", value=text,
                allowed="'<phase> <tokens>@<seq_len>' or '<phase> <tokens>@<from>..<to>x<stages>' or '<phase> unstated', separated by ';'",
            )
        if m.group("unstated"):
            steps.append(PhaseStep(item, phase, None, ()))
            continue
        a, b, n = int(seq.group("a")), seq.group("b"), seq.group("n")
        if a < 1 or (b is not None and not (1 <= int(n) <= MAX_STAGES and int(b) > a)) or max(a, int(b or 0)) > MAX_TOKENS_PER_REQUEST:
            raise DeployscopeError(f"sequence lengths must be 1 to {MAX_TOKENS_PER_REQUEST:,.0f} tokens and stages rise to a longer "
                                   f"length in 1-{MAX_STAGES} steps (got {item!r})", field="phases", value=text)
        lens: tuple[int, ...] = (a,) if b is None else tuple(round(a * (int(b) / a) ** (i / int(n))) for i in range(1, int(n) + 1))
        try:
            tokens = parse_tokens(m.group("tokens").strip())
        except DeployscopeError as exc:
            raise DeployscopeError(f"cannot read the tokens of {item!r}: {exc}", field="phases", value=text) from None
        steps.append(PhaseStep(m.group("label").strip(), phase, tokens, lens))
    return steps


def plan_total(steps: list[PhaseStep], run: Callable[[str, int, float], float]) -> tuple[float, list[str]]:
    """Sum of ``run(method, seq_len, tokens)`` over the stated steps; the labels of the unstated ones.
    A plan that states no tokens at all has no total (an error, never 0)."""
    if not any(s.tokens for s in steps):
        raise DeployscopeError("states no phase with tokens", field="phases", value="; ".join(s.label for s in steps),
                               allowed="e.g. 'pre-training 2T@4096; context-extension 50B@32768'")
    total, unstated = 0.0, []
    for st in steps:
        if st.tokens is None:
            unstated.append(st.label)
            continue
        method, _ = phase_setup(st.phase, None, None, None)
        for s in st.seq_lens:
            total += run(method, s, st.tokens / len(st.seq_lens))
    return total, unstated


def estimate_plan(model: Any, gpu: Any, gpus: int, plan: str, **kw: Any) -> dict[str, Any]:
    """A run of several phases (`plan`, see :func:`parse_phases`) on `gpus` GPUs: each stated
    phase estimated at its own sequence length and method, and the totals. ``kw`` goes to
    :func:`deployscope.physics.training.estimate` (zero, micro_batch, optimizer, network, ...)."""
    from .training import estimate

    steps = parse_phases(plan)
    if not any(s.tokens for s in steps):
        raise DeployscopeError("states no phase with tokens", field="phases", value=plan, allowed="e.g. 'pre-training 2T@4096; context-extension 50B@32768'")
    rows: list[dict[str, Any]] = []

    def run(method: str, seq: int, tokens: float) -> float:
        r = estimate(model, gpu, gpus, tokens, method=method, seq_len=seq, **kw)
        rows.append({"method": method, "seq_len": seq, "tokens": tokens, "flops": r.flops, "mfu": r.mfu, "gpu_hours": r.gpu_hours,
                     "wall_days": r.wall_days, "energy_kwh": r.energy_kwh, "fits": r.fits, "memory_per_gpu_bytes": r.memory_per_gpu_bytes})
        return r.gpu_hours

    gpu_hours, unstated = plan_total(steps, run)
    phases, i = [], 0
    for st in steps:
        parts = rows[i:i + len(st.seq_lens)]
        i += len(parts)
        phases.append({"label": st.label, "phase": st.phase, "tokens": st.tokens, "seq_lens": list(st.seq_lens), "stages": parts,
                       "gpu_hours": sum(p["gpu_hours"] for p in parts) if parts else None})
    return {
        "model": getattr(model, "id", model), "gpu": getattr(gpu, "id", gpu), "gpus": gpus, "plan": plan, "phases": phases,
        "tokens": sum(p["tokens"] for p in rows), "flops": sum(p["flops"] for p in rows), "gpu_hours": gpu_hours,
        "wall_days": sum(p["wall_days"] for p in rows), "energy_kwh": sum(p["energy_kwh"] for p in rows),
        "fits": all(p["fits"] for p in rows), "memory_per_gpu_bytes": max(p["memory_per_gpu_bytes"] for p in rows),
        "unstated": unstated,
    }
