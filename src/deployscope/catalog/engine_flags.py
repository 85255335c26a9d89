"""Engine releases' command lines (the engine profiles `deployscope export` writes launch configs from).

One row per pinned engine release: the program to run, its container image, its health path, and
for each setting a plan can decide (tensor parallelism, max sequences, KV-cache fraction ...) the
flag that release spells it with and where that spelling is defined. A new engine release is a new
row, not a code change. ``formats`` maps Deployscope weight formats to the values the engine takes.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict, Field

from .base import NoBoolNumbers, Row
from .loader import Catalog, register_table

# The settings an export may write, in the order a launch command lists them.
SETTINGS = (
    "model", "served_model_name", "dtype", "quantization", "tensor_parallel", "pipeline_parallel",
    "expert_parallel", "max_model_len", "context_total", "max_sequences", "max_batched_tokens",
    "kv_cache_fraction", "kv_cache_dtype", "chunked_prefill", "prefix_caching", "threads", "gpu_layers",
    "nnodes", "node_rank", "dist_init_addr", "host", "port",
)


class EngineFlag(NoBoolNumbers):
    """How one release spells one setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    flag: str | None = Field(default=None, description="the option, e.g. --max-num-seqs; None: positional (the model) or an env var")
    env: str | None = Field(default=None, description="environment variable instead of a flag (Ollama)")
    kind: Literal["value", "switch", "bool_optional", "positional"] = Field(
        default="value", description="value: takes one argument; switch: present or not; bool_optional: --x / --no-x"
    )
    disable: str | None = Field(default=None, description="the spelling that turns a switch setting off (e.g. --disable-radix-cache)")
    default: str = Field(description="what the engine does when the flag is left out (from the same source)")
    source: str = Field(min_length=3, description="file and line (or doc page) of this release that defines it")


class EngineRelease(Row):
    kind: ClassVar[str] = "engine release"

    engine: str = Field(description="engines catalog id this release belongs to")
    version: str
    program: tuple[str, ...] = Field(description="the command that starts the server, e.g. [vllm, serve]")
    image: str | None = Field(default=None, description="container image for this release")
    image_note: str | None = None
    health_path: str = Field(default="/health", description="HTTP path that answers 200 once the model is loaded")
    default_port: int = Field(gt=0, lt=65536)
    multi_node: Literal["none", "ray", "native"] = Field(
        default="none", description="how one replica spans nodes: ray (workers join the leader's Ray cluster), native (--nnodes), none"
    )
    weights: Literal["checkpoint", "gguf"] = Field(description="checkpoint: a Hugging Face repo or folder; gguf: one GGUF file")
    flags: dict[str, EngineFlag] = Field(description="setting -> flag (keys from SETTINGS)")
    formats: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="weight format id -> {setting: value} (dtype / quantization) the engine takes for it"
    )
    kv_formats: dict[str, str] = Field(default_factory=dict, description="KV-cache format id -> kv_cache_dtype value")
    cli_record: str | None = Field(default=None, description="tests/fixtures/engine_cli file recorded from this release's parser source")

    def flag(self, setting: str) -> EngineFlag | None:
        return self.flags.get(setting)


register_table("engine_flags", EngineRelease)


def release_for(engine: str, catalog: Catalog, version: str | None = None) -> EngineRelease | None:
    """The release row of `engine` (catalog id): the one with `version`, else the newest."""
    rows: list[EngineRelease] = [r for r in catalog.engine_flags if r.engine == engine]
    if version is not None:
        rows = [r for r in rows if r.version == version]
    if not rows:
        return None

    def key(r: EngineRelease) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else -1 for p in r.version.replace("-", ".").split("."))

    newest: EngineRelease = max(rows, key=key)
    return newest
