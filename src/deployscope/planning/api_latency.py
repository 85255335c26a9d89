"""A hosted API's time to first token at the scenario's prompt length, and its context window.

Published TTFT figures are measured on short prompts (the row records the length,
``latency_prompt_tokens``). Prompt processing grows with the prompt, so the plan checks

    TTFT(prompt) = published TTFT + max(0, prompt - reference) / prefill rate

at the workload's mean prompt (the length the self-hosted options' TTFT is computed at). The prefill
rate is the row's published one (``prefill_tokens_per_s``, from a long-prompt TTFT of that provider
and model) or, failing that, the scenario's ``candidates.api_prefill_tokens_per_s`` (default
``DEFAULT_PREFILL_TOKENS_PER_S``, a labelled conservative assumption). A prompt shorter than the
reference keeps the published figure (never scaled down).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..result import Assumption
from .inputs import Inputs

#: the slow end of published per-token prefill costs: 0.24 ms of p95 TTFT per prompt token
DEFAULT_PREFILL_TOKENS_PER_S = 1.0 / 0.24e-3
DEFAULT_PREFILL_BASIS = (
    "the slow end (0.24 ms of p95 TTFT per added prompt token, range quoted 0.04-0.24 ms) of the per-token figures "
    "collected in 'Prompt size impact on LLM response' (https://www.nirmalya.net/posts/2026/02/"
    "prompt-size-impact-on-llm-response, 2026-02, read 2026-12-03; a secondary summary); conservative: long-prompt "
    "measurements of small frontier models show 54,000-76,000 tokens/s"
)


@dataclass(frozen=True)
class ApiTtft:
    """One API row's TTFT at a prompt length, and how it was found."""

    row_id: str
    published_s: float
    reference_tokens: int
    prompt_tokens: float
    prefill_tokens_per_s: float
    prefill_published: bool

    @property
    def at_prompt_s(self) -> float:
        return self.published_s + max(0.0, self.prompt_tokens - self.reference_tokens) / self.prefill_tokens_per_s

    def note(self) -> str:
        rate = "published" if self.prefill_published else "assumed: candidates.api_prefill_tokens_per_s"
        if self.prompt_tokens <= self.reference_tokens:
            return (f"TTFT {self.at_prompt_s:.3g} s at a {self.prompt_tokens:,.0f}-token prompt: the published figure, "
                    f"measured at {self.reference_tokens:,} prompt tokens")
        return (f"TTFT {self.at_prompt_s:.3g} s at a {self.prompt_tokens:,.0f}-token prompt = published {self.published_s:g} s "
                f"(at {self.reference_tokens:,} prompt tokens) + {self.prompt_tokens - self.reference_tokens:,.0f} tokens / "
                f"{self.prefill_tokens_per_s:,.0f} tokens/s prefill ({rate})")


def ttft_at_prompt(row: Any, prompt_tokens: float, fallback_prefill_tokens_per_s: float) -> ApiTtft | None:
    """The row's TTFT scaled to `prompt_tokens`, or None when it publishes no TTFT."""
    if row.ttft_s is None:
        return None
    published = row.prefill_tokens_per_s is not None
    return ApiTtft(row_id=row.id, published_s=float(row.ttft_s), reference_tokens=int(row.latency_prompt_tokens or 0),
                   prompt_tokens=float(prompt_tokens),
                   prefill_tokens_per_s=float(row.prefill_tokens_per_s if published else fallback_prefill_tokens_per_s),
                   prefill_published=published)


def longest_prompt(workload: Any) -> float:
    """The longest prompt the plan sizes for: the workload's `max` if given, else its p95."""
    return float(workload.input_tokens.max or workload.input_tokens.p95_tokens)


def context_window_reason(row: Any, workload: Any) -> str | None:
    """Why the API cannot take this workload's prompts (longer than it accepts), or None."""
    limit = row.max_input_tokens
    prompt = longest_prompt(workload)
    if limit is None or prompt <= limit:
        return None
    which = "longest" if workload.input_tokens.max else "p95"
    return (f"context window: {row.id} accepts prompts of at most {limit:,} tokens, the workload's {which} prompt is "
            f"{prompt:,.0f} tokens ({row.max_input_tokens_source})")


def api_prefill_rate(inputs: Inputs) -> float:
    """The prefill rate for APIs that publish none: the scenario's, else the labelled default."""
    return float(inputs.scenario.candidates.api_prefill_tokens_per_s or DEFAULT_PREFILL_TOKENS_PER_S)


def assume_api_prefill(inputs: Inputs) -> None:
    """Record in the plan's assumptions the prefill rate used for APIs without a published one (once)."""
    name = "candidates.api_prefill_tokens_per_s"
    if any(a.name == name for a in inputs.assumptions):
        return
    given = inputs.scenario.candidates.api_prefill_tokens_per_s
    inputs.assumptions.append(Assumption(
        name=name, value=round(api_prefill_rate(inputs), 1), unit="tokens/s", origin="user" if given else "assumption",
        source=None if given else DEFAULT_PREFILL_BASIS,
        note="scales a hosted API's short-prompt TTFT to the workload's mean prompt: published TTFT + (prompt - the "
             "prompt length it was measured at) / this rate; used for APIs that publish no prefill rate"))
