"""Catalog tables for training and image-generation workloads.

``training_efficiency`` (``data/training_efficiency.yaml``): one row per fact, each row holding
exactly one section:

* ``mfu`` - achievable model-FLOPs utilization for an accelerator family, with the cluster-size
  and width (roofline ridge / hidden size) terms and the goodput of long runs, fitted to
  published training runs (``fitted_on`` names the sources,
  ``fit_script`` the function that produced the figures);
* ``network`` - a scale-out fabric (InfiniBand NDR/XDR/HDR, RoCE, Ethernet): bandwidth per GPU;
* ``method`` - training-method constants (LoRA rank and targets, QLoRA base-weight bits,
  compute per token relative to 6N);
* ``optimizer`` - bytes of optimizer state per trainable parameter;
* ``energy`` - GPU power draw during training as a share of TDP, and the server's share per GPU;
* ``memory`` - activation-memory constants.

``diffusion_efficiency`` (``data/diffusion_efficiency.yaml``): one row per image-generation
engine class (``tensorrt``, ``pytorch``, ``pytorch-compiled``), with the share of peak FLOP/s
a denoiser, text encoder and VAE reach, fitted to published image-generation measurements, plus
memory constants (``memory`` section).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from .base import NoBoolNumbers, Row
from .loader import register_table


class _Section(NoBoolNumbers):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class MfuSection(_Section):
    """MFU = mfu_ref x cluster term x width term x method and recompute factors (see docs/training.md)."""

    family: str = Field(description="accelerator family (ampere, hopper...) or 'default'")
    mfu_ref: float = Field(gt=0, le=1, description="MFU of an infinitely wide dense model at ref_gpus GPUs on the reference network")
    ref_gpus: int = Field(ge=1, le=10_000_000, description="cluster size at which mfu_ref applies")
    scale_exponent: float = Field(ge=0, le=1, description="MFU x (max(gpus, 64) / ref_gpus)^-scale_exponent")
    width_coeff: float = Field(
        default=0.0,
        ge=0,
        description="width term 1 / (1 + width_coeff x ridge / hidden): memory-bound non-matmul work per token grows as "
        "hidden, matmul work as hidden^2; ridge = the GPU's peak bf16 FLOP/s / HBM bytes/s",
    )
    reference_network: str = Field(description="network row the fitted runs used (or an equivalent)")
    goodput: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="share of a long run's wall-clock spent training at goodput_ref_gpus GPUs (interruptions, restarts, "
        "checkpoints excluded); applies to GPU-hours, wall-clock and energy, not to steady-state MFU or tokens/s",
    )
    goodput_ref_gpus: int | None = Field(
        default=None,
        ge=1,
        description="cluster size of the goodput figure; time lost to interruptions scales with the number of GPUs "
        "(lost share = (1/goodput - 1) x gpus / goodput_ref_gpus). None: goodput applies at every size",
    )
    fitted_on: tuple[str, ...] = Field(default=(), description="validation sources the figures were fitted to")
    fit_script: str | None = None
    fit_rows: int | None = Field(default=None, ge=0)


class NetworkSection(_Section):
    name: str
    kind: Literal["infiniband", "roce", "ethernet", "nvlink-switch", "tpu-ici"]
    gbit_s_per_port: float = Field(gt=0, le=1e5, description="line rate of one port, Gb/s, one direction")
    ports_per_gpu: float = Field(gt=0, le=100, description="ports (NICs) per GPU in the usual rail-optimized build")
    efficiency: float = Field(default=1.0, gt=0, le=1, description="share of line rate NCCL bus bandwidth reaches")

    @property
    def bytes_per_s_per_gpu(self) -> float:
        return self.gbit_s_per_port * self.ports_per_gpu * 1e9 / 8 * self.efficiency


class MethodSection(_Section):
    method: Literal["pretrain", "full", "lora", "qlora"]
    compute_multiplier: float = Field(gt=0, le=100, description="training FLOPs per token / (6 N): 1 for full, 2/3 for LoRA")
    trainable: Literal["all", "adapters"]
    lora_rank: int | None = Field(default=None, gt=0, le=1_000_000)
    lora_targets: tuple[str, ...] = Field(default=(), description="q, k, v, o, gate, up, down")
    base_weight_bits: float = Field(gt=0, le=32, description="bits per frozen base weight (16 bf16; 4.127 NF4 + double quant)")
    throughput_factor: float = Field(default=1.0, gt=0, le=1, description="speed relative to bf16 LoRA (dequantization cost)")


class OptimizerSection(_Section):
    optimizer: str
    state_bytes_per_param: float = Field(ge=0, le=64, description="optimizer state bytes per trainable parameter (incl. fp32 master copy)")
    grad_bytes_per_param: float = Field(ge=0, le=64, description="gradient bytes per trainable parameter")


class EnergySection(_Section):
    gpu_power_fraction: float = Field(gt=0, le=1.2, description="average GPU draw during training / TDP")
    server_w_per_gpu: dict[str, Annotated[float, Field(ge=0, le=1e5)]] = Field(description="non-GPU server draw per GPU, W, by accelerator family (+ 'default')")


class MemorySection(_Section):
    activation_bytes_per_token_hidden: float = Field(gt=0, le=1e4, description="activation bytes per token per layer per hidden unit (16-bit, no recompute)")
    recompute_bytes_per_token_hidden: float = Field(gt=0, le=1e4, description="bytes kept per token per layer per hidden unit under full recompute")
    selective_share: float = Field(gt=0, le=1, description="share of activations kept under selective recompute (flash attention)")
    logits_bytes_per_token_vocab: float = Field(ge=0, le=1e3, description="bytes per token per vocabulary entry for logits + loss")
    framework_overhead_bytes: float = Field(ge=0, le=1e13, description="CUDA context, allocator and workspace per GPU")


class TrainingEfficiency(Row):
    kind: ClassVar[str] = "training-efficiency row"

    mfu: MfuSection | None = None
    network: NetworkSection | None = None
    method: MethodSection | None = None
    optimizer: OptimizerSection | None = None
    energy: EnergySection | None = None
    memory: MemorySection | None = None

    @model_validator(mode="after")
    def _one_section(self) -> TrainingEfficiency:
        given = [n for n in ("mfu", "network", "method", "optimizer", "energy", "memory") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"a training_efficiency row holds exactly one section (got {given or 'none'})")
        return self


class DiffusionEngineSection(_Section):
    engine: str
    compute_efficiency: float = Field(gt=0, le=1, description="achieved / peak 16-bit FLOP/s, denoiser and VAE")
    text_encoder_efficiency: float = Field(gt=0, le=1, description="achieved / peak FLOP/s for the text encoders")
    per_call_overhead_s: float = Field(default=0.0, ge=0, le=10, description="fixed time per network call (launch overhead)")
    quant_speedup: dict[str, Annotated[float, Field(gt=0, le=100)]] = Field(
        default_factory=dict,
        description="speed of an 8-bit denoiser relative to 16-bit on hardware with native support (fp8, int8); missing = 1",
    )
    fitted_on: tuple[str, ...] = ()
    fit_script: str | None = None
    fit_rows: int | None = Field(default=None, ge=0)


class DiffusionMemorySection(_Section):
    live_activation_copies: float = Field(gt=0, le=1e3, description="largest activation tensors alive at once (VAE decoder peak)")
    framework_overhead_bytes: float = Field(ge=0, le=1e13)


class DiffusionEfficiency(Row):
    kind: ClassVar[str] = "diffusion-efficiency row"

    engine: DiffusionEngineSection | None = None
    memory: DiffusionMemorySection | None = None

    @model_validator(mode="after")
    def _one_section(self) -> DiffusionEfficiency:
        given = [n for n in ("engine", "memory") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"a diffusion_efficiency row holds exactly one section (got {given or 'none'})")
        return self


register_table("training_efficiency", TrainingEfficiency)
register_table("diffusion_efficiency", DiffusionEfficiency)


# ------------------------------------------------------------------------ image-model training
class ImageArchSection(_Section):
    """Achievable share of peak for one image-model architecture class (fitted, see docs/image-training.md)."""

    arch: Literal["unet", "dit", "gan"]
    mfu_ref: float = Field(
        gt=0, le=4, description="model FLOP/s over the peak (peak_dtype) at ref_gpus GPUs, before memory traffic; above 1 only against fp32 peak when tensor cores do part of the work"
    )
    peak_dtype: Literal["training", "fp32"] = Field(
        default="training", description="peak the compute share applies to: the run's precision, or fp32 (StyleGAN: custom fp32 ops bound the step)"
    )
    memory_passes: float = Field(
        default=0.0, ge=0, description="memory-bound traffic per image = memory_passes x activation bytes kept for backward (norms, activations, attention softmax), at HBM bandwidth"
    )
    ref_gpus: int = Field(default=8, ge=1, description="cluster size at which mfu_ref applies")
    scale_exponent: float = Field(default=0.0, ge=0, le=1, description="x (max(gpus, ref_gpus) / ref_gpus)^-scale_exponent")
    half_batch_positions: float = Field(
        default=0.0, ge=0, description="small-batch term positions / (positions + this): latent positions per GPU micro-batch at which the share halves"
    )
    resolution_multiple: int = Field(default=8, ge=1, description="pixels a side must be a multiple of, before the model's own latent/patch factor")
    fp32_share: float | None = Field(
        default=None, gt=0, le=4, description="GAN layer roofline: share of the fp32 peak that FP32 layers and the FIR filters reach (None: mfu_ref)"
    )
    layer_overhead_s: float = Field(default=0.0, ge=0, description="GAN layer roofline: seconds per layer pass per micro-batch (kernel launches, small ops)")
    winograd_fp32_3x3: float = Field(default=1.0, ge=1, description="arithmetic reduction of FP32 3x3 convolutions (cuDNN Winograd); 1 = none")
    band_low: float | None = Field(default=None, gt=0, description="error band: low multiplier on GPU-hours (validation)")
    band_high: float | None = Field(default=None, gt=0, description="error band: high multiplier on GPU-hours (validation)")
    band_rows: str | None = Field(default=None, description="which validation rows the band comes from")
    fitted_on: tuple[str, ...] = ()
    fit_script: str | None = None
    fit_rows: int | None = Field(default=None, ge=0)


class ImageMethodSection(_Section):
    """What a training method runs per image, relative to a forward pass of the denoiser."""

    method: Literal["pretrain", "full", "lora", "dreambooth", "textual-inversion"]
    denoiser_passes: float = Field(gt=0, description="denoiser forward-pass equivalents per image: 3 with weight gradients, 2 without")
    trainable: Literal["all", "adapters", "embedding"]
    lora_rank: int | None = Field(default=None, gt=0)
    images_per_sample: float = Field(default=1.0, ge=1, description="images run per training sample (DreamBooth prior preservation: 2)")
    text_encoder_passes: float = Field(default=1.0, ge=0, description="text-encoder forward-pass equivalents per image when text is encoded on the fly")
    default_global_batch: int = Field(gt=0)


class GanPassesSection(_Section):
    """Generator and discriminator passes per real image shown (StyleGAN2-class training loop)."""

    generator_passes: float = Field(gt=0, description="generator forward-pass equivalents per real image in the main loop")
    discriminator_passes: float = Field(gt=0, description="discriminator forward-pass equivalents per real image in the main loop")
    generator_reg_passes: float = Field(ge=0, description="lazy path-length regularization: generator passes per real image (models without it skip them)")
    discriminator_reg_passes: float = Field(ge=0, description="lazy R1 regularization: discriminator passes per real image")


class ImageMemorySection(_Section):
    resnet_bytes_per_element: float = Field(gt=0, description="activation bytes kept per resnet-block output element (16-bit)")
    transformer_bytes_per_token_hidden: float = Field(gt=0, description="activation bytes kept per token per hidden unit per transformer block (16-bit, flash attention)")
    checkpointed_share: float = Field(gt=0, le=1, description="share of activations kept under activation checkpointing")
    gan_tensors_per_layer: float = Field(
        default=7.0, gt=0, description="GAN: tensors of a layer's output size kept for backward per layer (x 2 bytes in FP16, 4 in FP32)"
    )
    framework_overhead_bytes: float = Field(ge=0)
    ema_bytes_per_param: float = Field(ge=0, description="EMA copy of the trainable weights, bytes per parameter")


class ImageDataSection(_Section):
    jpeg_bytes_per_pixel: tuple[tuple[int, float], ...] = Field(description="(side in pixels, stored bytes per pixel) anchors, interpolated in log(side)")
    latent_bytes_per_element: float = Field(gt=0, description="bytes per stored latent element (fp16)")
    caption_bytes: float = Field(ge=0, description="stored caption and metadata bytes per sample")


class ImageTraining(Row):
    kind: ClassVar[str] = "image-training row"

    arch: ImageArchSection | None = None
    method: ImageMethodSection | None = None
    gan: GanPassesSection | None = None
    memory: ImageMemorySection | None = None
    data: ImageDataSection | None = None

    @model_validator(mode="after")
    def _one_section(self) -> ImageTraining:
        given = [n for n in ("arch", "method", "gan", "memory", "data") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"an image_training row holds exactly one section (got {given or 'none'})")
        return self


register_table("image_training", ImageTraining)
