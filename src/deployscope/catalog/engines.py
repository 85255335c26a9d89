"""Serving engines (vLLM, SGLang, TensorRT-LLM, llama.cpp): memory reserves and speed factors,
each with its source."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from .accelerators import Accelerator
from .base import NoBoolNumbers, Row
from .loader import register_table


class StaticFractionTier(NoBoolNumbers):
    """One GPU-memory tier of SGLang's start-up defaults (GPUs below ``below_gib``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    below_gib: float = Field(gt=0, le=1e6)
    chunked_prefill_size: int = Field(gt=0, le=10_000_000)
    cuda_graph_max_bs: int = Field(gt=0, le=100_000, description="below tp 4")
    cuda_graph_max_bs_tp4: int = Field(gt=0, le=100_000, description="from tp 4")


class StaticFraction(NoBoolNumbers):
    """SGLang's default ``mem_fraction_static`` (server_args.py ``_handle_gpu_memory_settings``):
    (gpu_mem - reserved) / gpu_mem, rounded to 3 places, with reserved (MiB) = base_mib +
    per_prefill_token_mib x max(chunked_prefill_size, 2048) + per_graph_seq_mib x cuda_graph_max_bs
    + per_parallel_gpu_mib x tp x pp, at least ``min_reserved_mib`` on GPUs over
    ``min_reserved_above_gib``; chunked_prefill_size and cuda_graph_max_bs come from the GPU's tier."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    base_mib: float = Field(ge=0, le=1e6)
    per_prefill_token_mib: float = Field(ge=0, le=1e3)
    per_graph_seq_mib: float = Field(ge=0, le=1e3)
    per_parallel_gpu_mib: float = Field(ge=0, le=1e5)
    min_reserved_mib: float = Field(default=0.0, ge=0, le=1e6)
    min_reserved_above_gib: float = Field(default=0.0, ge=0, le=1e6)
    tiers: tuple[StaticFractionTier, ...] = Field(min_length=1)
    source: str | None = None

    @field_validator("tiers")
    @classmethod
    def _ascending(cls, tiers: tuple[StaticFractionTier, ...]) -> tuple[StaticFractionTier, ...]:
        bounds = [t.below_gib for t in tiers]
        if bounds != sorted(set(bounds)):  # the first tier a GPU is below is taken
            raise ValueError(f"tiers must rise in below_gib, each once (got {bounds})")
        return tiers

    def tier(self, memory_bytes: float) -> StaticFractionTier:
        for t in self.tiers:
            if memory_bytes < t.below_gib * 2**30:
                return t
        return self.tiers[-1]


class EngineMemory(NoBoolNumbers):
    """How much of a GPU an engine keeps for itself before the KV cache gets the rest.

    ``budget`` says what ``memory_utilization`` is a fraction of (see docs/memory.md):

    * ``total`` (vLLM ``gpu_memory_utilization``): KV = u x memory - weights - activation peak -
      non-torch memory; the CUDA context and CUDA-graph pool live in the (1 - u) headroom.
    * ``static`` (SGLang ``mem_fraction_static``): KV = u x memory - weights; activations, graphs and
      context live in the (1 - u) rest.
    * ``free`` (TensorRT-LLM ``kv_cache_free_gpu_mem_fraction``): KV = u x (memory left after the
      context, weights, activations and graphs are allocated).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    memory_utilization: float = Field(gt=0, le=1, description="fraction of GPU memory the engine may use")
    budget: Literal["total", "static", "free"] = Field(
        default="total", description="what memory_utilization is a fraction of (see the class docstring)"
    )
    cuda_context_gib: float = Field(ge=0, le=1e4, description="CUDA context and libraries per GPU")
    cuda_graphs_gib: float = Field(ge=0, le=1e4, description="CUDA-graph capture pool per GPU")
    other_gib: float = Field(default=0.0, ge=0, le=1e4, description="allocator slack, non-torch memory, sampler")
    multi_gpu_gib: float = Field(default=0.0, ge=0, le=1e4, description="extra per GPU when the replica spans >1 GPU (NCCL buffers)")
    activation_tokens: int = Field(gt=0, le=100_000_000, description="tokens in the largest prefill chunk profiled at start-up")
    activation_seqs: int = Field(default=1, gt=0, le=1_000_000, description="sequences whose logits the start-up profile samples")
    logit_copies: float = Field(
        default=1.0, ge=0, le=1e4, description="fp32 vocab-sized buffers per sampled sequence at the activation peak (fitted; see notes)"
    )
    static_fraction: StaticFraction | None = Field(
        default=None, description="the rule the engine derives memory_utilization by from the GPU and tp x pp (replaces the fixed figure)"
    )


def version_key(version: str) -> tuple[int, ...]:
    """A release number as comparable integers: '0.9.0.1' -> (0, 9, 0, 1); text after the numbers is ignored."""
    # after the number: the end, or text that does not continue it ('rc1', '+rocm', '.post1'), never '..9' or a trailing '.'
    m = re.match(r"\s*v?([0-9]+(?:\.[0-9]+)*)(?:\s*$|[^0-9.]|\.[A-Za-z])", version)
    if m is None:
        raise ValueError(f"{version!r} is not a release number (digits separated by dots, such as 0.9.1)")
    return tuple(int(x) for x in m.group(1).split("."))


class EngineRelease(NoBoolNumbers):
    """Speed factors measured to differ in a range of an engine's releases (``from_version``
    inclusive, ``before_version`` exclusive). Figures left out (null) keep the engine's own."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    from_version: str | None = Field(default=None, description="first release the figures apply to (inclusive)")
    before_version: str | None = Field(default=None, description="first release they no longer apply to (exclusive)")
    sequence_overhead_s: float | None = Field(default=None, ge=0, le=1, description="host time per sampled sequence per step")
    overlap_schedule: bool | None = Field(
        default=None, description="whether these releases overlap the host work of a step with the GPU work by default"
    )
    prefill_mla_layer_overhead_s: float | None = Field(
        default=None, ge=0, le=10, description="extra fixed time per MLA layer in a step that carries a prefill"
    )
    fitted_on: tuple[str, ...] = Field(default=(), description="validation sources the figures were fitted on")
    fitted_by: str | None = None
    source: str | None = None
    notes: str | None = None

    @field_validator("from_version", "before_version")
    @classmethod
    def _release_number(cls, v: str | None) -> str | None:
        if v is not None:
            version_key(v)
        return v

    @model_validator(mode="after")
    def _range(self) -> "EngineRelease":
        if self.from_version is not None and self.before_version is not None and \
                version_key(self.from_version) >= version_key(self.before_version):
            raise ValueError(f"from_version {self.from_version} is not before before_version {self.before_version}: the range holds no release")
        return self

    def covers(self, version: str) -> bool:
        """Whether a release ('0.9.0.1') is in the range; '<0.9.1' (a release known only to be
        older than 0.9.1) is when the range has no lower end and ends at or after it."""
        if version.strip().startswith("<"):
            bound = version_key(version.strip()[1:])
            return self.from_version is None and self.before_version is not None and bound <= version_key(self.before_version)
        k = version_key(version)
        return (self.from_version is None or k >= version_key(self.from_version)) and (
            self.before_version is None or k < version_key(self.before_version)
        )


class NewTokenRatio(NoBoolNumbers):
    """SGLang's admission estimate of the output a running request still needs (kv_reservation decaying)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    init: float = Field(default=0.7, gt=0, le=1, description="ratio at start and after an idle scheduler")
    min_factor: float = Field(default=0.14, gt=0, le=1, description="floor = init x min_factor")
    decay_steps: int = Field(default=600, gt=0, le=10_000_000, description="decode steps from init to the floor")
    retract_decode_steps: int = Field(default=20, ge=0, le=100_000, description="decode steps of headroom a retraction frees")
    clip_max_new_tokens: int = Field(default=4096, gt=0, le=100_000_000, description="most output tokens estimated per request")


class EnginePerf(NoBoolNumbers):
    """Speed factors of an engine (owned by the performance model, see docs/performance.md).

    ``step_overhead_s`` is fitted (``fitted_on`` / ``fitted_by`` say on what and by which script);
    the scheduler limits are the engine's documented defaults (cited in ``source``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    step_overhead_s: float = Field(default=0.0, ge=0, le=10, description="fixed time per scheduler step (launch, sampling, host work)")
    max_batch_size: int = Field(default=256, gt=0, le=1_000_000, description="most sequences in one step (max_num_seqs / max_batch_size)")
    max_num_tokens: int = Field(default=8192, gt=0, le=100_000_000, description="most tokens in one step (chunked-prefill budget)")
    kv_reservation: Literal["full", "average", "decaying"] = Field(
        default="average",
        description="full: a sequence is admitted only when the KV of its final length fits (TensorRT-LLM "
        "GUARANTEED_NO_EVICT); average: pages are allocated as tokens arrive (vLLM); decaying: a new request "
        "reserves its prompt and output, running ones new_token_ratio x their remaining output, the ratio "
        "decaying per decode step and re-estimated on a retraction (SGLang, see new_token_ratio)",
    )
    new_token_ratio: NewTokenRatio = Field(default_factory=lambda: NewTokenRatio(), description="the decaying reservation's constants")
    chunked_prefill: bool = Field(default=True, description="prefill split into chunks mixed with decode steps")
    mixed_prefill: bool = Field(
        default=True,
        description="prefill chunks share a step with the running decodes; false: a step is either a prefill "
        "batch (run first while prompts wait) or a decode batch (SGLang without --enable-mixed-chunk)",
    )
    admission_interval_steps: int = Field(
        default=1, ge=1, le=100_000_000,  # the bound the validation harness reads engine settings with
        description="the scheduler takes in newly arrived requests only once this many decode steps have run since it "
        "last did; after a prefill step or when idle it takes them in at once (SGLang --scheduler-recv-interval); "
        "1: at every step",
    )
    layer_overhead_s: float = Field(default=0.0, ge=0, le=10, description="fixed time per layer per step (kernel launches)")
    request_overhead_s: float = Field(
        default=0.0, ge=0, le=10, description="fixed host time per request before its first token (admission, input handling)"
    )
    sequence_overhead_s: float = Field(
        default=0.0, ge=0, le=1, description="host time per sequence sampled in a step (scheduling, sampling, output handling)"
    )
    overlap_schedule: bool = Field(
        default=False,
        description="the engine schedules the next step and processes the last step's output on the host while the GPU "
        "runs the current one (SGLang's overlap scheduler, vLLM's async scheduling): a step then takes the longer of the "
        "GPU work and the host time per sequence, not their sum",
    )
    prefill_layer_overhead_s: float = Field(
        default=0.0, ge=0, le=10, description="extra fixed time per layer in a step that carries a prefill (context-phase kernels)"
    )
    prefill_mla_layer_overhead_s: float = Field(
        default=0.0, ge=0, le=10,
        description="extra fixed time per multi-head-latent-attention layer (DeepSeek-V3 family) in a step that carries "
        "a prefill: an engine that replays CUDA graphs only for decode-only steps launches a prefill step's kernels one by "
        "one, and such a layer launches many (the latent's up-projection, split rope and no-rope heads, per-group "
        "activation quantisation, routing and grouped expert GEMMs)",
    )
    prefill_mla_fitted_on: tuple[str, ...] = Field(
        default=(), description="validation rows (source|version|model|hardware) prefill_mla_layer_overhead_s was fitted on "
        "(by scripts/fit_perf.py --prefill-mla); empty where it is not fitted"
    )
    first_wave_delay_s: float = Field(
        default=0.0, ge=0, le=600,
        description="one-off time a benchmark run started on a fresh server waits before its first requests are served, "
        "beyond the step model: the first wave of a closed loop, sent at once, meets the engine cold. Measured runs carry "
        "it in their TTFT mean and tail; the validation harness adds it to the runs it simulates, while perf and plan, "
        "which size the steady state, leave it out",
    )
    first_wave_fitted_on: tuple[str, ...] = Field(
        default=(), description="validation rows (source|version|model|hardware) first_wave_delay_s was fitted on "
        "(by scripts/fit_perf.py --first-wave-delay); empty where it is not fitted"
    )
    layer_batch_overhead_s: float = Field(
        default=0.0, ge=0, le=10,
        description="per-layer time that grows with the sequences in a step and saturates: "
        "layer_batch_overhead_s x n / (n + layer_batch_half_seqs) for n sequences (small-M kernels filling their tiles)",
    )
    layer_batch_half_seqs: float = Field(
        default=1.0, gt=0, le=1_000_000, description="sequences in a step at which the batch-dependent per-layer time is half its full value"
    )
    expert_gemm_efficiency: float = Field(
        default=1.0, gt=0, le=1,
        description="fraction of a dense GEMM's efficiency the engine's grouped routed-expert GEMMs reach at the same "
        "size (token permutation, uneven per-expert rows, the top-k combine); 1: as efficient as a dense GEMM",
    )
    expert_gemm_fitted_on: tuple[str, ...] = Field(
        default=(), description="validation sources expert_gemm_efficiency was fitted on (by scripts/fit_expert_gemm.py); "
        "empty on an engine that carries it over"
    )
    sliding_window_attention: bool = Field(
        default=True, description="the engine limits sliding-window layers to their window (else they attend the full context)"
    )
    fitted_on: tuple[str, ...] = Field(default=(), description="validation sources step_overhead_s was fitted on")
    fitted_by: str | None = None
    layer_batch_fitted_on: tuple[str, ...] = Field(
        default=(), description="validation sources and rows (source|version[|model[|hardware]]) the per-layer figures were "
        "fitted on (by scripts/fit_perf.py --decode-overhead, or --engine-layer-overhead for layer_overhead_s alone); empty "
        "on an engine that carries them over"
    )
    sequence_overhead_fitted_on: tuple[str, ...] = Field(
        default=(), description="validation sources sequence_overhead_s was fitted on (by scripts/fit_perf.py --sequence-overhead)"
    )
    source: str | None = Field(default=None, description="where the scheduler defaults come from")
    releases: tuple[EngineRelease, ...] = Field(
        default=(), description="figures that differ in older or newer releases; the row itself describes the current release"
    )

    @field_validator("releases")
    @classmethod
    def _disjoint(cls, rels: tuple[EngineRelease, ...]) -> tuple[EngineRelease, ...]:
        def span(r: EngineRelease) -> tuple[tuple[int, ...], tuple[float, ...]]:
            return (version_key(r.from_version) if r.from_version else (),
                    tuple(map(float, version_key(r.before_version))) if r.before_version else (math.inf,))
        spans = sorted(span(r) for r in rels)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            if tuple(map(float, start)) < end:  # the first listed would silently win in the overlap
                raise ValueError("release ranges overlap: each release may fall in one range only")
        return rels

    release_dates: dict[str, date] = Field(
        default_factory=dict, description="publication date of each release that starts or ends a `releases` range"
    )

    def release_by(self, published: date) -> str | None:
        """The release a source published on `published` without naming one can have run: '<X' for
        X the first range boundary published after that date, None when every boundary was out
        by then (the current release) or when a boundary has no date (it cannot be bounded)."""
        bounds = {v for r in self.releases for v in (r.from_version, r.before_version) if v is not None}
        if not bounds or any(v not in self.release_dates for v in bounds):
            return None
        later = sorted((version_key(v), v) for v in bounds if self.release_dates[v] > published)
        return f"<{later[0][1]}" if later else None

    def for_version(self, version: str | None) -> "EnginePerf":
        """The figures of one release (None: the current release, the row as written). For '<X' (a
        release known only to predate X) a figure every release it could be agrees on is used;
        otherwise the range that ends at or after X with no lower end, else the row's own."""
        if version is None:
            return self
        upd: dict[str, Any] = {}
        for rel in self.releases:
            if rel.covers(version):
                upd = {f: getattr(rel, f) for f in _RELEASE_FIELDS if getattr(rel, f) is not None}
                break
        if version.strip().startswith("<"):
            for f, value in self._agreed_before(version_key(version.strip()[1:])).items():
                upd[f] = value
        return self.model_copy(update=upd) if upd else self

    def _agreed_before(self, bound: tuple[int, ...]) -> dict[str, Any]:
        """Figures on which every release before `bound` agrees (releases' ranges and the row)."""
        ranges = sorted((version_key(r.from_version) if r.from_version else (), r) for r in self.releases)
        reach: tuple[int, ...] | None = ()  # releases cover [(), reach); None: everything
        for lo, rel in ranges:
            if reach is None or lo > reach:
                break
            reach = None if rel.before_version is None else max(reach, version_key(rel.before_version))
        row_possible = reach is not None and reach < bound
        possible = [r for lo, r in ranges if lo < bound]
        out: dict[str, Any] = {}
        for f in _RELEASE_FIELDS:
            values = {getattr(self, f) if getattr(r, f) is None else getattr(r, f) for r in possible}
            if row_possible:
                values.add(getattr(self, f))
            if len(values) == 1:
                out[f] = values.pop()
        return out


#: the figures an EngineRelease may set for its range of releases
_RELEASE_FIELDS = ("sequence_overhead_s", "overlap_schedule", "prefill_mla_layer_overhead_s")


class SmallGpuDefaults(NoBoolNumbers):
    """Scheduler limits an engine picks by itself on smaller GPUs (vLLM ``get_batch_defaults``:
    GPUs under ``min_memory_gib``, or whose name contains one of ``names``, get these instead of
    the row's ``max_batch_size`` / ``max_num_tokens``). The start-up profile runs the same limits,
    so they replace ``activation_seqs`` / ``activation_tokens`` as well."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    min_memory_gib: float = Field(gt=0, le=1e5, description="GPUs with less memory than this get the small defaults")
    names: tuple[str, ...] = Field(default=(), description="lower-case fragments of GPU names that get them whatever their memory")
    max_num_seqs: int = Field(gt=0, le=1_000_000, description="most sequences in one step on such a GPU")
    max_num_batched_tokens: int = Field(gt=0, le=100_000_000, description="most tokens in one step on such a GPU")
    source: str | None = None

    @field_validator("names")
    @classmethod
    def _fragments(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if any(not n.strip() for n in names):
            raise ValueError("an empty name fragment would match every GPU")
        return tuple(n.strip().lower() for n in names)  # matched against lower-cased GPU names

    def applies(self, gpu: Accelerator) -> bool:
        if gpu.device_type != "gpu":  # CPU and TPU backends pick their limits elsewhere: the row as written
            return False
        named = any(n in f"{gpu.id} {gpu.name}".lower() for n in self.names)
        return named or gpu.memory_bytes < self.min_memory_gib * 2**30


class Engine(Row):
    kind: ClassVar[str] = "engine"

    name: str
    memory: EngineMemory
    perf: EnginePerf = Field(default_factory=EnginePerf)
    small_gpu: SmallGpuDefaults | None = Field(default=None, description="scheduler limits the engine picks on smaller GPUs")
    formats: tuple[str, ...] = Field(default=(), description="quantization format ids the engine serves")
    devices: tuple[str, ...] = Field(default=("gpu",), description="device types it runs on")

    def on_gpu(self, gpu: Accelerator) -> "Engine":
        """The engine as it configures itself on this GPU: the small-GPU scheduler limits (and the
        start-up profile they size) where ``small_gpu`` applies, else the row as written."""
        rule = self.memory.static_fraction
        if rule is not None:  # SGLang: the chunked-prefill budget follows the GPU's memory tier
            chunk = rule.tier(gpu.memory_bytes).chunked_prefill_size
            mem = self.memory.model_copy(update={"activation_tokens": chunk})
            return self.model_copy(update={"memory": mem, "perf": self.perf.model_copy(update={"max_num_tokens": chunk})})
        sg = self.small_gpu
        if sg is None or not sg.applies(gpu):
            return self
        mem = self.memory.model_copy(update={"activation_tokens": sg.max_num_batched_tokens, "activation_seqs": sg.max_num_seqs})
        perf = self.perf.model_copy(update={"max_batch_size": sg.max_num_seqs, "max_num_tokens": sg.max_num_batched_tokens})
        return self.model_copy(update={"memory": mem, "perf": perf})


register_table("engines", Engine)
