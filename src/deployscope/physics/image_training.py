"""Training and fine-tuning image models: UNet and DiT/MMDiT diffusion models and StyleGAN-class GANs.

Compute (model FLOPs per image, counted from the architecture in the model row's ``details``
with the same counters as image generation, :mod:`deployscope.physics.diffusion`):

* **diffusion**: one denoiser forward pass on the image's latent at the stage's resolution
  (``F_den``) x the method's ``denoiser_passes`` (3 = forward + backward with weight gradients;
  2 for LoRA, textual inversion: the frozen weights pass gradients to the activations only),
  x ``images_per_sample`` (DreamBooth prior preservation trains on a class image beside each
  subject image), + the text encoders' forward pass (``2 N tokens``) unless the embeddings are
  precomputed (x 3 when the text encoder is trained), + the VAE encoder unless the latents are
  precomputed;
* **GAN**: per real image shown to the discriminator, ``generator_passes`` generator and
  ``discriminator_passes`` discriminator forward-pass equivalents, plus lazy R1 (and, for
  StyleGAN2, path-length) regularization passes (catalog ``image_training`` gan row); the layers
  of StyleGAN2/StyleGAN3 generators and the residual discriminator from :mod:`.gan_layers`.

Time (GANs: a roofline per layer instead, see :func:`gan_seconds_per_image`): FLOPs / (peak
FLOP/s of the precision x the architecture's fitted share of peak), the share
scaled by a cluster term ``(max(gpus, ref) / ref)^-exponent``, a small-batch term
``positions / (positions + half)`` (latent positions on a GPU per micro-batch) and the network
factor of :mod:`deployscope.physics.training` (data-parallel gradient traffic against the step's
compute). Multi-stage resolution schedules sum the stages.

Memory per GPU: weights (16-bit) of the denoiser and of the frozen encoders that run on the fly,
gradients, optimizer state and EMA copy of the trainable parameters (sharded by ZeRO stage), and
activations per image counted from the architecture (resnet outputs, transformer tokens x hidden),
reduced by activation checkpointing.

All counters below take plain numbers and broadcast where they take arrays; no file I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..catalog.loader import default_catalog
from ..errors import DeployscopeError
from . import diffusion as D
from . import gan_layers as GL
from . import training as T

METHODS = ("pretrain", "full", "lora", "dreambooth", "textual-inversion")
PRECISIONS = ("bf16", "fp16", "fp32", "tf32", "fp8")
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86_400.0
_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


# ------------------------------------------------------------------------------------ inputs
def parse_count(text: Any, field_name: str = "images") -> float:
    """'1B' -> 1e9, '500M', '25000kimg' -> 2.5e7 (thousands of images, the GAN unit), plain numbers."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        s = str(text).strip().replace("_", "").replace(",", "")
        m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(kimg|[kKmMbBgGtT]?)", s)
        if not m:
            raise DeployscopeError(
                f"cannot read an image count from {text!r}", field=field_name, value=text, allowed="a number with K/M/B/T or kimg: 1B, 500M, 25000kimg"
            )
        unit = m.group(2)
        value = float(m.group(1)) * (1e3 if unit == "kimg" else _SUFFIX[unit.upper()])
    if not math.isfinite(value) or value <= 0:
        raise DeployscopeError(f"must be > 0 (got {text!r})", field=field_name, value=text)
    return value


@dataclass(frozen=True)
class Stage:
    """One stage of a resolution schedule: width x height in pixels and its share of the images."""

    width: int
    height: int
    share: float

    @property
    def pixels(self) -> int:
        return self.width * self.height


def parse_schedule(text: Any) -> tuple[Stage, ...]:
    """'1024' | '768x1024' | '256:0.6,512:0.3,1024:0.1' (SIDE or WxH, then ':' the share of the images)."""
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        text = str(int(text))
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise DeployscopeError("is empty", field="resolution", value=text, allowed="1024, 768x1024 or 256:0.6,512:0.3,1024:0.1")
    stages = []
    for p in parts:
        m = re.fullmatch(r"(\d+)(?:\s*[xX]\s*(\d+))?(?:\s*:\s*([0-9]*\.?[0-9]+))?", p)
        if not m:
            raise DeployscopeError(
                f"cannot read {p!r}", field="resolution", value=text, allowed="SIDE or WIDTHxHEIGHT, with :SHARE per stage: 256:0.6,512:0.3,1024:0.1"
            )
        w = int(m.group(1))
        h = int(m.group(2) or w)
        if m.group(3) is None and len(parts) > 1:
            raise DeployscopeError(f"stage {p!r} has no share of the images", field="resolution", value=text, allowed="every stage as SIDE:SHARE, shares adding up to 1")
        share = float(m.group(3)) if m.group(3) is not None else 1.0
        if w <= 0 or h <= 0 or share <= 0:
            raise DeployscopeError(f"stage {p!r} needs positive sizes and share", field="resolution", value=text)
        stages.append(Stage(w, h, share))
    total = sum(s.share for s in stages)
    if abs(total - 1.0) > 1e-6:
        raise DeployscopeError(f"the stage shares add up to {total:g}, not 1", field="resolution", value=text, allowed="shares of the images adding up to 1")
    return tuple(stages)


# ------------------------------------------------------------------------------ architecture
@dataclass(frozen=True)
class ImageArch:
    """What image-model training needs of a catalog model row."""

    name: str
    kind: str  # unet | dit | gan
    denoiser: Any  # the denoiser / generator component
    text_encoders: tuple[Any, ...]
    vae: Any | None
    latent_factor: int
    patch: int
    license: str | None

    @property
    def denoiser_params(self) -> float:
        return float(self.denoiser.params_b) * 1e9

    @property
    def latent_channels(self) -> int:
        if self.vae is None:
            return 3
        return int(self.vae.details.get("latent_channels", 4))

    def multiple(self) -> int:
        """Pixels a side must be a multiple of: latent factor x UNet downsampling or DiT patch."""
        if self.kind == "gan":
            return 1
        if self.kind == "unet":
            levels = len(self.denoiser.details.get("block_out_channels", [0, 0, 0, 0]))
            return self.latent_factor * 2 ** (levels - 1)
        return self.latent_factor * self.patch


def arch_of(model: Any, catalog: Any) -> ImageArch:
    spec = model if not isinstance(model, str) else catalog.models.get(model, field="model")
    if spec.modality not in ("diffusion", "gan"):
        raise DeployscopeError(f"{spec.id} is a {spec.modality} model, not an image model", field="model", value=spec.id, allowed="diffusion or GAN models")
    den = next((c for c in spec.components if c.role in ("denoiser", "generator")), None)
    if den is None:
        raise DeployscopeError(f"{spec.id} has no denoiser or generator component", field="model", value=spec.id)
    kind = {"unet": "unet", "dit": "dit", "mmdit": "dit", "flux": "dit", "stylegan": "gan", "stylegan3": "gan"}.get(den.arch)
    if kind is None:
        raise DeployscopeError(f"denoiser architecture {den.arch!r} is not modelled for training", field="model", value=spec.id, allowed="unet, dit, mmdit, stylegan, stylegan3")
    vae = next((c for c in spec.components if c.role == "vae"), None)
    tes = tuple(c for c in spec.components if c.role == "text_encoder")
    factor = int(vae.details.get("downsample_factor", 8)) if vae is not None else 1
    # FLUX packs 2x2 latent patches into 64 channels (diffusers patch_size 1, in_channels 64)
    patch = int(den.details.get("patch_size", 2)) if kind == "dit" else 1
    return ImageArch(spec.id, kind, den, tes, vae, factor, patch, getattr(spec, "license", None))


def vae_encode_flops(details: dict[str, Any], h: int, w: int) -> float:
    """FLOPs of the KL-f8 VAE encoder for one image of h x w pixels (diffusers Encoder)."""
    ch = [int(c) for c in details.get("block_out_channels", [128, 256, 512, 512])]
    lpb = int(details.get("layers_per_block", 2))
    zc = int(details.get("latent_channels", 4))
    hw = float(h * w)
    f = D._conv(3, ch[0], hw)
    prev = ch[0]
    for i, c in enumerate(ch):
        r = hw / 4**i
        for _ in range(lpb):
            f += D._resnet(prev, c, r)
            prev = c
        if i < len(ch) - 1:
            f += D._conv(c, c, r / 4)  # stride-2 downsampler
    low = hw / 4 ** (len(ch) - 1)
    f += 2 * D._resnet(prev, prev, low) + 4 * 2.0 * low * prev * prev + 4.0 * low * low * prev
    return f + D._conv(prev, 2 * zc, low)


def gan_layers(arch: ImageArch, res: int, precision: str) -> tuple[Any, Any]:
    """Generator and discriminator layer tables at one resolution; FP32 runs have no FP16 layers, mixed
    precision runs the model's ``num_fp16_res`` highest resolutions in FP16 (NVlabs PyTorch default 4)."""
    d = dict(arch.denoiser.details)
    fp16_res = 0 if precision in ("fp32", "tf32") else int(d.get("num_fp16_res", 4))
    return GL.generator_layers(arch.denoiser.arch, d, res, fp16_res), GL.discriminator_layers(d, res, fp16_res)


def _text_tokens(arch: ImageArch) -> float:
    return D._text_tokens(type("S", (), {"components": arch.text_encoders})())


def denoiser_forward_flops(arch: ImageArch, width: int, height: int) -> float:
    """One forward pass of the denoiser (or the GAN generator) for one image."""
    if arch.kind == "gan":
        return GL.flops(gan_layers(arch, width, "bf16")[0])
    lh, lw = height // arch.latent_factor, width // arch.latent_factor
    if arch.kind == "unet":
        return D.unet_flops(arch.denoiser.details, lh, lw)
    tokens = (lh // arch.patch) * (lw // arch.patch)
    return D.dit_flops(arch.denoiser.details, tokens, _text_tokens(arch))


def positions(arch: ImageArch, width: int, height: int) -> float:
    """Latent positions (UNet), image tokens (DiT) or output pixels / 256 (GAN) of one image."""
    if arch.kind == "gan":
        return width * height / 256.0
    lh, lw = height // arch.latent_factor, width // arch.latent_factor
    return float(lh * lw) if arch.kind == "unet" else float((lh // arch.patch) * (lw // arch.patch))


def activation_bytes_per_image(arch: ImageArch, width: int, height: int, mem: Any, precision: str = "bf16") -> float:
    """Activations kept for the backward pass per image, 16-bit, no checkpointing (GAN: by layer precision)."""
    if arch.kind == "gan":  # tensors of each generator and discriminator layer's output size
        layers = np.vstack(gan_layers(arch, width, precision))
        return float((layers[:, GL.ELEMS] * np.where(layers[:, GL.FP16] > 0, 2.0, 4.0)).sum()) * mem.gan_tensors_per_layer
    lh, lw = height // arch.latent_factor, width // arch.latent_factor
    if arch.kind == "dit":
        dd = arch.denoiser.details
        hidden = float(dd.get("hidden_size") or dd["num_attention_heads"] * dd["attention_head_dim"])
        layers = int(dd.get("num_layers", 0)) or int(dd.get("num_double_blocks", 0)) * 2 + int(dd.get("num_single_blocks", 0))
        tokens = (lh // arch.patch) * (lw // arch.patch) + _text_tokens(arch)
        return layers * tokens * hidden * mem.transformer_bytes_per_token_hidden
    det = arch.denoiser.details
    ch = [int(c) for c in det["block_out_channels"]]
    lpb = int(det.get("layers_per_block", 2))
    types = det.get("down_block_types") or ["CrossAttnDownBlock2D"] * (len(ch) - 1) + ["DownBlock2D"]
    tl = det.get("transformer_layers_per_block", 1)
    tl = [int(tl)] * len(ch) if isinstance(tl, (int, float)) else [int(x) for x in tl]
    total = 0.0
    for i, c in enumerate(ch):
        hw = lh * lw / 4**i
        blocks = 2 * lpb + 1  # down path lpb, up path lpb + 1
        total += blocks * c * hw * mem.resnet_bytes_per_element
        if "CrossAttn" in types[i]:
            total += blocks * tl[i] * hw * c * mem.transformer_bytes_per_token_hidden
    return total


def vae_encoder_activation_bytes(details: dict[str, Any], h: int, w: int, mem: Any) -> float:
    """Feature maps the VAE encoder writes per image (resnet outputs, 16-bit)."""
    ch = [int(c) for c in details.get("block_out_channels", [128, 256, 512, 512])]
    lpb = int(details.get("layers_per_block", 2))
    return sum(lpb * c * h * w / 4**i for i, c in enumerate(ch)) * mem.resnet_bytes_per_element


def lora_params(arch: ImageArch, rank: int) -> float:
    """Adapter parameters: r (d_in + d_out) on every attention projection (diffusers LoRA targets)."""
    det = arch.denoiser.details
    if arch.kind == "dit":
        hidden = float(det.get("hidden_size") or det["num_attention_heads"] * det["attention_head_dim"])
        layers = int(det.get("num_layers", 0)) or int(det.get("num_double_blocks", 0)) * 2 + int(det.get("num_single_blocks", 0))
        return layers * 4 * rank * 2 * hidden
    ch = [int(c) for c in det["block_out_channels"]]
    lpb = int(det.get("layers_per_block", 2))
    ctx = float(det.get("cross_attention_dim", 768))
    types = det.get("down_block_types") or ["CrossAttnDownBlock2D"] * (len(ch) - 1) + ["DownBlock2D"]
    tl = det.get("transformer_layers_per_block", 1)
    tl = [int(tl)] * len(ch) if isinstance(tl, (int, float)) else [int(x) for x in tl]
    total = 0.0
    for i, c in enumerate(ch):
        if "CrossAttn" in types[i]:
            per_block = rank * (4 * 2 * c + 2 * c + 2 * (ctx + c) + 2 * c)  # self q,k,v,o; cross q, k, v, o
            total += (2 * lpb + 1) * tl[i] * per_block
    return total


# ------------------------------------------------------------------------------ catalog rows
def _rows(catalog: Any, section: str) -> list[Any]:
    return [r for r in catalog.image_training if getattr(r, section) is not None]


def _one(catalog: Any, section: str) -> Any:
    rows = _rows(catalog, section)
    if not rows:
        raise DeployscopeError(f"catalog has no {section} row in image_training.yaml", field="image_training", value=section)
    return rows[0]


def arch_row(catalog: Any, kind: str) -> Any:
    for r in _rows(catalog, "arch"):
        if r.arch.arch == kind:
            return r
    raise DeployscopeError(f"catalog has no image_training arch row for {kind!r}", field="image_training", value=kind)


def method_row(catalog: Any, method: str) -> Any:
    rows = _rows(catalog, "method")
    for r in rows:
        if r.method.method == method:
            return r
    raise DeployscopeError(f"unknown image-training method {method!r}", field="method", value=method, allowed=[r.method.method for r in rows])


def peak_of(acc: Any, precision: str) -> float:
    """Peak FLOP/s the run's precision uses (mixed-precision fp16/bf16 -> tensor-core 16-bit peak)."""
    return acc.peak_flops({"fp16": "bf16", "bf16": "bf16"}.get(precision, precision))


def share_of_peak(mfu_ref, scale_exponent, ref_gpus, gpus, pos_per_gpu, half_positions):
    """Fitted share of peak x cluster term x small-batch term (arrays)."""
    g = np.maximum(np.asarray(gpus, dtype=float), float(ref_gpus))
    cluster = (g / float(ref_gpus)) ** (-float(scale_exponent))
    p = np.asarray(pos_per_gpu, dtype=float)
    small = p / (p + float(half_positions)) if half_positions else np.ones_like(p)
    return float(mfu_ref) * cluster * small


# ----------------------------------------------------------------------------- the estimate
@dataclass(frozen=True)
class ImageJob:
    """The job as the user describes it (see :func:`estimate`)."""

    images: float
    stages: tuple[Stage, ...]
    method: str = "pretrain"
    global_batch: int | None = None
    precision: str = "bf16"
    ema: bool = True
    train_text_encoder: bool = False
    precomputed_latents: bool = False
    precomputed_text: bool = False
    zero: int | None = None
    checkpointing: bool = False
    micro_batch: int | None = None
    network: str | None = None


@dataclass
class ImageTrainingResult:
    """One image-model training job on `gpus` GPUs; SI units (FLOP, seconds, bytes, kWh)."""

    model: str
    arch: str
    gpu: str
    gpus: int
    method: str
    images: float
    stages: list[dict[str, Any]]
    global_batch: int
    micro_batch: int
    grad_accumulation: int
    precision: str
    zero: int
    checkpointing: bool
    flops: float
    flops_per_image: float
    mfu: float
    images_per_s: float
    steps: float
    gpu_hours: float
    goodput: float
    wall_days: float
    energy_kwh: float
    memory_per_gpu_bytes: float
    memory_breakdown: dict[str, float]
    gpu_memory_bytes: float
    fits: bool
    min_gpus: int | None
    trainable_params: float
    total_params: float
    interconnect: dict[str, Any]
    error_band: dict[str, Any]
    license: str | None = None
    assumptions: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DeployscopeError(f"must be an integer >= {minimum} (got {value!r})", field=name, value=value)
    return int(value)


def check_resolution(arch: ImageArch, stages: tuple[Stage, ...]) -> None:
    """Every stage at a size the architecture accepts (latent x downsampling/patch; GAN: powers of two)."""
    mult = arch.multiple()
    for s in stages:
        if arch.kind == "gan":
            ok = s.width == s.height and s.width >= 16 and s.width & (s.width - 1) == 0
            allowed = "square powers of two from 16 (StyleGAN synthesis doubles the resolution per block)"
        else:
            ok = s.width % mult == 0 and s.height % mult == 0
            allowed = f"multiples of {mult} pixels for {arch.name} (latent /{arch.latent_factor} x {'downsampling' if arch.kind == 'unet' else 'patch'})"
        if not ok:
            raise DeployscopeError(f"{s.width}x{s.height} is not a size {arch.name} trains at", field="resolution", value=f"{s.width}x{s.height}", allowed=allowed)


def flops_per_image(arch: ImageArch, stage: Stage, job: ImageJob, mrow: Any, gan: Any) -> dict[str, float]:
    """Model FLOPs of one training image at one stage, by part."""
    den = denoiser_forward_flops(arch, stage.width, stage.height)
    if arch.kind == "gan":
        gp, dp = gan_passes(arch, gan)
        disc = GL.flops(gan_layers(arch, stage.width, "bf16")[1])
        return {"generator": gp * den, "discriminator": dp * disc, "total": gp * den + dp * disc}
    per = mrow.denoiser_passes * den * mrow.images_per_sample
    text = 0.0
    if not job.precomputed_text or job.train_text_encoder or mrow.trainable == "embedding":
        tp = 3.0 if job.train_text_encoder else mrow.text_encoder_passes
        text = sum(2.0 * c.params_b * 1e9 * float(c.details.get("max_tokens", D.CLIP_TOKENS)) for c in arch.text_encoders) * tp * mrow.images_per_sample
    vae = 0.0
    if not job.precomputed_latents and arch.vae is not None:
        vae = vae_encode_flops(arch.vae.details, stage.height, stage.width) * mrow.images_per_sample
    return {"denoiser": per, "text_encoders": text, "vae_encoder": vae, "total": per + text + vae}


def gan_passes(arch: ImageArch, gan: Any) -> tuple[float, float]:
    """Generator and discriminator forward-pass equivalents per real image, lazy regularization included
    (path-length regularization only where the model's training config uses it: StyleGAN2, not StyleGAN3)."""
    pl = bool(arch.denoiser.details.get("path_length_reg", True))
    return gan.generator_passes + (gan.generator_reg_passes if pl else 0.0), gan.discriminator_passes + gan.discriminator_reg_passes


def gan_seconds_per_image(arch: ImageArch, res: int, precision: str, acc: Any, micro: int, gan: Any, arow: Any, cluster: float = 1.0,
                          params: tuple[float, float, float, float] | None = None) -> float:
    """GPU-seconds per real image of GAN training: per-layer roofline of the generator and discriminator
    passes + a fixed cost per layer pass and micro-batch. ``params`` (share16, share32, memory_passes,
    layer_overhead_s) overrides the arch row's fitted values (used by the fit only)."""
    s16, s32, k, ovh = params if params is not None else (arow.mfu_ref, arow.fp32_share or arow.mfu_ref, arow.memory_passes, arow.layer_overhead_s)
    g, d = gan_layers(arch, res, precision)
    gp, dp = gan_passes(arch, gan)
    p16, p32, bw = peak_of(acc, "fp16"), acc.peak_flops("fp32"), acc.memory_bandwidth_bytes_per_s
    t = gp * GL.layer_time(g, p16, p32, bw, s16 * cluster, s32 * cluster, k, arow.winograd_fp32_3x3)
    t += dp * GL.layer_time(d, p16, p32, bw, s16 * cluster, s32 * cluster, k, arow.winograd_fp32_3x3)
    return t + ovh * (gp * len(g) + dp * len(d)) / micro


def estimate(model: Any, gpu: Any, gpus: int, job: ImageJob, catalog: Any = None, *, memory_passes: float | None = None) -> ImageTrainingResult:
    """Estimate one image-model training job of `job.images` images on `gpus` GPUs of type `gpu`.

    ``memory_passes`` overrides the arch row's fitted traffic multiplier (used by the fit only).
    """
    cat = default_catalog(catalog)
    gpus = _check_int("gpus", gpus)
    if job.method not in METHODS:
        raise DeployscopeError(f"unknown image-training method {job.method!r}", field="method", value=job.method, allowed=METHODS)
    if job.precision not in PRECISIONS:
        raise DeployscopeError(f"unknown precision {job.precision!r}", field="precision", value=job.precision, allowed=PRECISIONS)
    zero = job.zero if job.zero is not None else (3 if gpus > 1 else 0)
    if isinstance(zero, bool) or zero not in (0, 1, 2, 3):
        raise DeployscopeError(f"must be 0 (DDP), 1, 2 or 3 (got {zero!r})", field="zero", value=zero, allowed="0, 1, 2, 3")
    acc = gpu if not isinstance(gpu, str) else cat.accelerators.get(gpu, field="gpu")
    arch = model if isinstance(model, ImageArch) else arch_of(model, cat)
    if arch.kind == "gan" and job.method not in ("pretrain", "full"):
        raise DeployscopeError(f"{job.method} is not a GAN training method", field="method", value=job.method, allowed="pretrain, full")
    check_resolution(arch, job.stages)
    mrow_r = method_row(cat, job.method)
    mrow = mrow_r.method
    arow_r = arch_row(cat, arch.kind)
    arow = arow_r.arch
    gan = _one(cat, "gan").gan if arch.kind == "gan" else None
    mem = _one(cat, "memory").memory
    orow = T.optimizer_row(cat, "adamw").optimizer
    energy_r = T._single(cat, "energy")
    llm_row, _ = T.mfu_row(cat, acc.family)
    global_batch = job.global_batch or mrow.default_global_batch
    global_batch = _check_int("global_batch", global_batch)
    if global_batch < gpus:
        raise DeployscopeError(
            f"{global_batch} images per step cannot keep {gpus} GPUs busy (each GPU needs at least one image per step)",
            field="global_batch", value=global_batch, allowed=f">= gpus ({gpus})",
        )

    # ---- trainable parameters and memory
    n_den = arch.denoiser_params
    n_disc = GL.discriminator_params(arch.denoiser.details, max(s.width for s in job.stages)) if arch.kind == "gan" else 0.0
    if mrow.trainable == "all":
        trainable = n_den + (sum(c.params_b for c in arch.text_encoders) * 1e9 if job.train_text_encoder else 0.0)
        if arch.kind == "gan":
            trainable = n_den + n_disc  # generator + its discriminator
    elif mrow.trainable == "adapters":
        trainable = lora_params(arch, mrow.lora_rank or 4)
    else:
        trainable = float(max((c.details.get("hidden_size", 768) for c in arch.text_encoders), default=768))
    frozen = 0.0
    if not job.precomputed_text or job.train_text_encoder or mrow.trainable == "embedding":
        frozen += sum(c.params_b for c in arch.text_encoders) * 1e9
    if not job.precomputed_latents and arch.vae is not None:
        frozen += arch.vae.params_b * 1e9
    if job.train_text_encoder:
        frozen -= sum(c.params_b for c in arch.text_encoders) * 1e9
    base_weights = (n_den + n_disc) * 2.0  # 16-bit weights of what runs forward and back
    ema_b = mem.ema_bytes_per_param if job.ema else 0.0
    act_per_img = max(activation_bytes_per_image(arch, s.width, s.height, mem, job.precision) for s in job.stages) * mrow.images_per_sample
    if job.checkpointing:
        act_per_img *= mem.checkpointed_share

    def mem_at(g: Any, micro: Any) -> Any:
        g = np.maximum(np.asarray(g, dtype=float), 1.0)
        w = np.where(zero >= 3, base_weights / g, base_weights) if mrow.trainable == "all" else base_weights
        grads = trainable * orow.grad_bytes_per_param / (g if zero >= 2 else 1.0)
        opt = trainable * orow.state_bytes_per_param / (g if zero >= 1 else 1.0)
        ema = trainable * ema_b / (g if zero >= 3 else 1.0)
        return w + frozen * 2.0 + grads + opt + ema + np.asarray(micro, dtype=float) * act_per_img + mem.framework_overhead_bytes

    cap = float(acc.memory_bytes)
    per_gpu_batch = global_batch // gpus
    if job.micro_batch is not None:
        micro = _check_int("micro_batch", job.micro_batch)
        if micro > per_gpu_batch:
            raise DeployscopeError(f"is larger than the {per_gpu_batch} images each GPU gets per step", field="micro_batch", value=micro, allowed=f"1 .. {per_gpu_batch}")
        if float(mem_at(gpus, micro)) > cap:
            best = [m for m in range(1, per_gpu_batch + 1) if float(mem_at(gpus, m)) <= cap]
            raise DeployscopeError(
                f"{micro} images per GPU need {float(mem_at(gpus, micro)) / 2**30:,.1f} GiB on a {cap / 2**30:,.0f} GiB {acc.id}",
                field="micro_batch", value=micro, allowed=f"1 .. {best[-1]}" if best else "none fits: more GPUs (ZeRO-3), --checkpointing, or a larger GPU",
            )
    else:
        fitting = [m for m in range(1, per_gpu_batch + 1) if float(mem_at(gpus, m)) <= cap]
        micro = fitting[-1] if fitting else 1
    accum = math.ceil(per_gpu_batch / micro)
    mem_bytes = float(mem_at(gpus, micro))
    fits = mem_bytes <= cap
    counts = np.arange(1, 65_537)
    ok = np.nonzero(np.asarray(mem_at(counts, 1)) + np.zeros(counts.shape) <= cap)[0]
    min_gpus = int(counts[ok[0]]) if ok.size else None
    breakdown = {
        "weights": float(np.where(zero >= 3, base_weights / gpus, base_weights)) if mrow.trainable == "all" else base_weights,
        "frozen_encoders": frozen * 2.0,
        "gradients": trainable * orow.grad_bytes_per_param / (gpus if zero >= 2 else 1),
        "optimizer": trainable * orow.state_bytes_per_param / (gpus if zero >= 1 else 1),
        "ema": trainable * ema_b / (gpus if zero >= 3 else 1),
        "activations": micro * act_per_img,
        "framework": mem.framework_overhead_bytes,
    }

    # ---- time, stage by stage: matmul/conv FLOPs at the fitted share of peak + memory-bound traffic
    peak = acc.peak_flops("fp32") if arow.peak_dtype == "fp32" else peak_of(acc, job.precision)
    bw = acc.memory_bandwidth_bytes_per_s
    elem = 2.0 if job.precision in ("fp32", "tf32") else 1.0  # activation bytes relative to 16-bit
    passes = arow.memory_passes if memory_passes is None else memory_passes
    total_flops = 0.0
    busy_s = 0.0  # GPU-seconds before the network factor
    stage_out = []
    worst_step = None
    for s in job.stages:
        f = flops_per_image(arch, s, job, mrow, gan)
        n = job.images * s.share
        eff = float(share_of_peak(arow.mfu_ref, arow.scale_exponent, arow.ref_gpus, gpus, micro * positions(arch, s.width, s.height), arow.half_batch_positions))
        # the activations move once per pass, like the FLOPs: 3 passes with weight gradients, 2 without
        den_passes = (mrow.denoiser_passes if gan is None else 3.0) / 3.0
        traffic_b = activation_bytes_per_image(arch, s.width, s.height, mem) * elem * mrow.images_per_sample * den_passes
        if not job.precomputed_latents and arch.vae is not None:
            traffic_b += vae_encoder_activation_bytes(arch.vae.details, s.height, s.width, mem) * elem / 3.0  # forward only
        if gan is not None:  # per-layer roofline: FP16 high-resolution layers, FP32 low-resolution ones and FIR filters
            cluster = float(share_of_peak(1.0, arow.scale_exponent, arow.ref_gpus, gpus, 1.0, 0.0))
            t_img = gan_seconds_per_image(arch, s.width, job.precision, acc, micro, gan, arow, cluster)
            traffic_b = 0.0
        else:
            t_img = max(f["total"] / (peak * eff), passes * traffic_b / bw)  # roofline: the slower of compute and memory traffic
        sec = n * t_img
        step_compute = global_batch * t_img / gpus
        total_flops += n * f["total"]
        busy_s += sec
        worst_step = step_compute if worst_step is None else min(worst_step, step_compute)
        stage_out.append({"width": s.width, "height": s.height, "share": s.share, "images": n, "flops_per_image": f["total"], "flops_parts": f,
                          "share_of_peak": f["total"] / (peak * t_img), "memory_bound": passes * traffic_b / bw >= f["total"] / (peak * eff),
                          "gpu_hours": sec / SECONDS_PER_HOUR})

    # ---- network: gradient all-reduce (+ ZeRO-3 weight gathers) against the shortest step's compute
    # hierarchical collectives (NCCL): reduce inside a node over its scale-up links, then a ring
    # between nodes whose bytes the node's NICs share; expressed per GPU for the fabric advice
    domain = acc.interconnect.domain_size
    nodes = math.ceil(gpus / domain)
    if nodes > 1:
        traffic = float(T.dp_traffic_bytes(trainable, trainable if zero >= 3 else 0.0, zero, nodes)) / domain
    else:
        traffic = float(T.dp_traffic_bytes(trainable, trainable if zero >= 3 else 0.0, zero, gpus))
    ref_net = T.network_row(cat, llm_row.mfu.reference_network)
    chosen = T.network_row(cat, job.network) if job.network else ref_net

    def comm_time(net_row: Any) -> float:
        if gpus <= 1:
            return 0.0
        bw = acc.link_bytes_per_s if gpus <= domain else (min(acc.link_bytes_per_s, net_row.network.bytes_per_s_per_gpu) if acc.link_bytes_per_s > 0 else net_row.network.bytes_per_s_per_gpu)
        return traffic / bw

    t_comm, t_ref = comm_time(chosen), comm_time(ref_net)
    net_factor = min(1.0, max(worst_step, t_ref) / max(worst_step, t_comm)) if t_comm > 0 else 1.0
    busy_s /= net_factor
    advice = T._network_advice(T.network_rows(cat), gpus, domain, traffic, worst_step, acc, chosen, t_comm, zero, trainable)
    if advice.get("needed"):
        kind = T.network_row(cat, advice["needed"]).network.kind
        advice["infiniband_pays"] = kind == "infiniband"
        advice["why"] += (
            "; InfiniBand pays: no Ethernet/RoCE fabric in the catalog hides this traffic" if kind == "infiniband"
            else f"; InfiniBand does not pay here: {kind} already hides the gradient traffic behind {worst_step:,.2f} s of compute per step"
        )

    goodput = float(T.goodput_at(llm_row.mfu.goodput, llm_row.mfu.goodput_ref_gpus, gpus))
    gpu_s = busy_s / goodput
    gpu_hours = gpu_s / SECONDS_PER_HOUR
    wall_days = gpu_s / gpus / SECONDS_PER_DAY
    en = energy_r.energy
    server_w = en.server_w_per_gpu.get(acc.family, en.server_w_per_gpu.get("default", 0.0))
    energy_kwh = gpu_hours * (acc.tdp_w * en.gpu_power_fraction + server_w) / 1000.0
    images_per_s = job.images / (busy_s / gpus)
    mfu = total_flops / (peak_of(acc, job.precision) * busy_s)
    if arch.kind == "gan":
        gp, dp = gan_passes(arch, gan)
        n16 = int(arch.denoiser.details.get("num_fp16_res", 4))
        fp16_note = "every layer in FP32" if job.precision in ("fp32", "tf32") else f"the {n16} highest resolutions in FP16, the rest in FP32"
        timing = [
            f"GAN: {gp:g} generator + {dp:g} discriminator passes per real image (lazy regularization included); discriminator counted as StyleGAN2's residual D",
            f"time per layer (row {arow_r.id}) the slower of compute (FP16 layers at {arow.mfu_ref:g} of the tensor peak, FP32 layers and FIR filters at "
            f"{arow.fp32_share or arow.mfu_ref:g} of the FP32 peak, FP32 3x3 convolutions {arow.winograd_fp32_3x3:g}x cheaper with Winograd) and {arow.memory_passes:g} x "
            f"its activation bytes at HBM bandwidth, + {arow.layer_overhead_s * 1e6:,.0f} us per layer pass and micro-batch; "
            f"{fp16_note}; network factor {net_factor:.3f}",
        ]
    else:
        timing = [
            f"time per image = FLOPs / (peak x {arow.mfu_ref:g} x cluster term) + {passes:g} x activation bytes / HBM bandwidth (row {arow_r.id}); network factor {net_factor:.3f}",
            f"latents {'precomputed' if job.precomputed_latents else 'encoded on the fly (VAE encoder forward per image)'}; text embeddings {'precomputed' if job.precomputed_text else 'encoded on the fly'}",
        ]
    assumptions = [
        *timing,
        f"precision {job.precision}: peak {peak / 1e12:,.0f} TFLOP/s and {bw / 1e9:,.0f} GB/s per {acc.id}",
        f"global batch {global_batch} images: micro-batch {micro} per GPU x {accum} accumulation step(s)",
        f"goodput {goodput:.3f} at {gpus} GPUs (row {llm_row.id}): GPU-hours and wall-clock include interruptions",
        f"energy: GPU at {en.gpu_power_fraction:g} x TDP ({acc.tdp_w:g} W) + {server_w:g} W server share per GPU, before PUE",
    ]
    sources = sorted({arow_r.source, mrow_r.source, _one(cat, "memory").source, energy_r.source, chosen.source} | ({_one(cat, 'gan').source} if gan else set()))
    return ImageTrainingResult(
        model=arch.name, arch=arch.kind, gpu=acc.id, gpus=gpus, method=job.method, images=job.images, stages=stage_out,
        global_batch=global_batch, micro_batch=micro, grad_accumulation=accum, precision=job.precision, zero=zero,
        checkpointing=job.checkpointing, flops=total_flops, flops_per_image=total_flops / job.images, mfu=mfu,
        images_per_s=images_per_s, steps=job.images / global_batch, gpu_hours=gpu_hours, goodput=goodput, wall_days=wall_days,
        energy_kwh=energy_kwh, memory_per_gpu_bytes=mem_bytes, memory_breakdown=breakdown, gpu_memory_bytes=cap, fits=fits,
        min_gpus=min_gpus, trainable_params=trainable, total_params=n_den + sum(c.params_b for c in arch.text_encoders) * 1e9 + (arch.vae.params_b * 1e9 if arch.vae else 0.0),
        interconnect=advice, error_band=error_band(arow_r), license=arch.license, assumptions=assumptions, sources=[s for s in sources if s],
    )


def error_band(arch_row_: Any) -> dict[str, Any]:
    """Multipliers on GPU-hours, wall-clock and energy from the held-out image-training validation rows."""
    a = arch_row_.arch
    return {"low": a.band_low, "high": a.band_high, "applies_to": "gpu_hours, wall_days, energy_kwh (multipliers on the central figure)", "rows": a.band_rows}
