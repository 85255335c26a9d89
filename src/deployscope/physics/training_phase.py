"""Training phases: pre-training, context extension, post-training (SFT).

A phase sets the method and sequence length a training job defaults to: pre-training and context
extension train every weight with the pre-training recipe (context extension at the model's full
context window, with the extension's own token count), post-training / SFT fine-tunes every
weight at 4,096 tokens. Rows and users write phases in many ways; :data:`PHASES` lists the
aliases read.
"""

from __future__ import annotations

from ..errors import DeployscopeError

PHASES: dict[str, tuple[str, ...]] = {
    "pre-training": ("pre-training", "pretraining", "pretrain", "pre-train"),
    "context-extension": ("context-extension", "context extension", "long-context", "long context", "context-length extension"),
    "post-training": ("post-training", "posttraining", "post-train", "sft", "supervised fine-tuning", "instruction tuning"),
}


def phase_of(text: str) -> str | None:
    """The phase a free-text label names (a row's `phase` column, a CLI value), or None."""
    t = (text or "").strip().lower()
    for phase, aliases in PHASES.items():
        if any(a in t for a in aliases):
            return phase
    return None


def phase_setup(phase: str, method: str | None, seq_len: int | None, max_context: int | None) -> tuple[str, int]:
    """(method, seq_len) of a job in `phase`; an explicit method or sequence length wins."""
    p = phase_of(phase)
    if p is None:
        raise DeployscopeError(f"unknown training phase {phase!r}", field="phase", value=phase, allowed=list(PHASES))
    if p == "post-training":
        return method or "full", seq_len or 4096
    if p == "context-extension":
        return method or "pretrain", seq_len or int(max_context or 4096)
    return method or "pretrain", seq_len or 4096
