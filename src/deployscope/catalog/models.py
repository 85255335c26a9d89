"""Model architectures: the hyper-parameters the memory and speed models need, with sources.

Ids are Hugging Face repo names; aliases are short, case-insensitive names. Transformer fields
follow the names of Hugging Face ``config.json`` files. Diffusion pipelines list their
components (text encoders, denoiser, VAE), each with its own parameter count and architecture.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from .base import NoBoolNumbers, Row
from .loader import register_table

LayerKind = Literal["full", "sliding", "linear", "none"]


class MLA(NoBoolNumbers):
    """Multi-head latent attention (DeepSeek-V2/V3): the cache holds a compressed latent + rope key."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    kv_lora_rank: int = Field(gt=0, le=1_000_000)
    qk_rope_head_dim: int = Field(gt=0, le=100_000)
    qk_nope_head_dim: int = Field(gt=0, le=100_000)
    v_head_dim: int = Field(gt=0, le=100_000)
    q_lora_rank: int | None = Field(default=None, gt=0, le=1_000_000)


class MoE(NoBoolNumbers):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    num_experts: int = Field(gt=1, le=100_000)
    experts_per_token: int = Field(gt=0, le=10_000)
    shared_experts: int = Field(default=0, ge=0, le=10_000)
    expert_intermediate_size: int = Field(gt=0, le=10_000_000)
    dense_layers: int = Field(default=0, ge=0, le=10_000, description="leading layers with a dense MLP instead of experts")
    layer_freq: int = Field(default=1, ge=1, le=10_000, description="every k-th layer (after dense_layers) is MoE; others dense")

    @model_validator(mode="after")
    def _k_le_n(self) -> "MoE":
        if self.experts_per_token > self.num_experts:
            raise ValueError("experts_per_token cannot exceed num_experts")
        return self


class Transformer(NoBoolNumbers):
    """A decoder (or encoder) transformer, field names as in Hugging Face config.json."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    hidden_size: int = Field(gt=0, le=1_000_000)
    num_layers: int = Field(gt=0, le=10_000)
    num_attention_heads: int = Field(gt=0, le=100_000)
    num_kv_heads: int = Field(gt=0, le=100_000)
    head_dim: int = Field(gt=0, le=100_000)
    intermediate_size: int = Field(ge=0, le=10_000_000, description="dense MLP width (0 if every layer is MoE)")
    vocab_size: int = Field(gt=0, le=100_000_000)
    tie_word_embeddings: bool = False
    mlp: Literal["gated", "plain"] = Field(default="gated", description="gated = SwiGLU/GeGLU (3 matrices); plain = 2")
    attention_bias: bool = False
    max_context: int = Field(gt=0, le=1_000_000_000)
    mla: MLA | None = None
    moe: MoE | None = None
    sliding_window: int | None = Field(default=None, gt=0, le=1_000_000_000)
    layer_pattern: tuple[LayerKind, ...] | None = Field(
        default=None,
        description="attention kind per layer, repeated to num_layers (e.g. 5 x sliding + 1 x full)",
    )
    encoder_only: bool = False
    parallel_attention: bool = Field(default=False, description="attention and MLP read the same input (GPT-J, Falcon)")
    position_embedding: Literal["rope", "learned", "alibi", "none"] = Field(
        default="rope", description="learned = a max_context x hidden_size table of weights (BERT, XLM-R)"
    )
    mlp_bias: bool = Field(default=False, description="MLP projections carry biases (GPT-J, XLM-R)")
    attention_chunk_size: int | None = Field(
        default=None,
        gt=0,
        description=(
            "Llama 4 chunked local attention: tokens attend only within aligned chunks of this size. "
            "Such layers are written 'sliding' in layer_pattern with sliding_window = the chunk size, "
            "since their KV cache is bounded the same way"
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> "Transformer":
        if self.num_attention_heads % self.num_kv_heads:
            raise ValueError("num_attention_heads must be a multiple of num_kv_heads")
        if self.layer_pattern and "sliding" in self.layer_pattern and not self.sliding_window:
            raise ValueError("layer_pattern has sliding layers but sliding_window is not set")
        if self.intermediate_size == 0 and self.moe is None:
            raise ValueError("intermediate_size 0 needs a moe block")
        if self.moe is not None and self.intermediate_size == 0 and (self.moe.dense_layers or self.moe.layer_freq > 1):
            raise ValueError("moe has dense layers (dense_layers or layer_freq > 1) but intermediate_size is 0")
        if self.moe is not None and self.moe.dense_layers >= self.num_layers:
            raise ValueError("moe.dense_layers must be fewer than num_layers")
        return self

    def moe_layers(self) -> list[bool]:
        """Whether each layer's MLP is a mixture of experts, in order.

        Layers before ``moe.dense_layers`` are dense; after them, layer i is MoE when
        ``(i - dense_layers + 1) % layer_freq == 0`` (Llama-4 Maverick, freq 2: layers 1, 3, 5...;
        the Hugging Face convention of ``interleave_moe_layer_step`` and ``decoder_sparse_step``).
        """
        if self.moe is None:
            return [False] * self.num_layers
        d, f = self.moe.dense_layers, self.moe.layer_freq
        return [i >= d and (i - d + 1) % f == 0 for i in range(self.num_layers)]

    def layer_kinds(self) -> list[str]:
        """The attention kind of each layer, in order."""
        if not self.layer_pattern:
            return ["sliding" if self.sliding_window else "full"] * self.num_layers
        pat = list(self.layer_pattern)
        return [pat[i % len(pat)] for i in range(self.num_layers)]


class Component(NoBoolNumbers):
    """One network of a diffusion pipeline (text encoder, denoiser, VAE) or a GAN generator."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    name: str
    role: Literal["text_encoder", "denoiser", "vae", "generator", "image_encoder"]
    arch: str = Field(description="clip | t5 | unet | dit | mmdit | vae | stylegan ...")
    params_b: float = Field(gt=0, le=1e5)
    repo_path: str | None = Field(default=None, description="sub-folder in the model repo")
    details: dict[str, Any] = Field(default_factory=dict, description="architecture figures the image model needs")


class ModelSpec(Row):
    kind: ClassVar[str] = "model"

    name: str
    family: str
    modality: Literal["llm", "embedding", "reranker", "diffusion", "gan"]
    license: str = Field(description="licence id (see the policy rule packs), e.g. llama3.1, apache-2.0, mit")
    params_b: float = Field(gt=0, le=1e5, description="total parameters, billions, as published (at most 100T)")
    active_params_b: float | None = Field(default=None, gt=0, le=1e5, description="parameters used per token (MoE)")
    native_dtype: str = Field(default="bf16", description="dtype of the released weights")
    safetensors_bytes: int | None = Field(default=None, gt=0, le=10**15, description="published total size of the released weights")
    transformer: Transformer | None = None
    components: tuple[Component, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> "ModelSpec":
        if self.modality in ("llm", "embedding", "reranker") and self.transformer is None:
            raise ValueError(f"a {self.modality} model needs a transformer block")
        if self.modality in ("diffusion", "gan") and not self.components:
            raise ValueError(f"a {self.modality} model needs components")
        return self

    @property
    def is_moe(self) -> bool:
        return self.transformer is not None and self.transformer.moe is not None


register_table("models", ModelSpec)
