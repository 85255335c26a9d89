"""Image generation: FLOPs, memory, latency and throughput of diffusion pipelines and GAN generators.

A text-to-image request runs, per batch of ``B`` images:

1. the text encoders once per prompt (CLIP: 77 tokens; T5: its ``max_tokens``), twice with
   classifier-free guidance (the negative prompt is encoded too);
2. the denoiser ``steps`` times on a batch of ``B`` latents, doubled to ``2B`` with
   classifier-free guidance (CFG). Guidance-distilled models (FLUX.1, ``guidance_embeds``) and
   step-distilled ones (FLUX.1 schnell, default guidance 0) take no CFG doubling;
3. the VAE decoder once per image, at full resolution.

Latent = resolution / 8 (``downsample_factor``). FLOPs per denoiser call are counted from the
architecture in the model row's ``details`` (Hugging Face diffusers config names):

* **UNet** (SD 1.x, SDXL; ``UNet2DConditionModel``): every convolution (``2 x 9 x c_in x c_out x h x w``),
  the transformer blocks' projections, self-attention (``4 (hw)^2 c``), cross-attention over the
  77 text tokens and GEGLU feed-forward, level by level, with the skip connections of the up path;
* **MMDiT** (SD3.x) and **FLUX** (double-stream + single-stream blocks): per token
  ``2 x`` the weights its stream uses, plus joint attention ``4 n^2 d`` per block over
  ``n = image tokens + text tokens``, image tokens = ``(H/8/p) x (W/8/p)``; the adaLN modulation
  layers once per image (they map the conditioning vector, not the tokens);
* **PixArt / Sana** (cross-attention DiTs): self-attention over the image tokens (Sana: linear
  attention, ``4 n d d_head``) and cross-attention to the caption tokens, GLU-MBConv feed-forward
  for Sana;
* **VAE decoder** (KL-f8): conv_in, mid block (two ResNets + one single-head attention over
  ``h x w`` latents), four up blocks of three ResNets and an upsampler, conv_out;
* **StyleGAN2** generator: the synthesis convolutions at every resolution (channels
  ``min(channel_base / r, channel_max)``) and toRGB layers; one forward pass per image.

Time per network call = FLOPs / (16-bit peak FLOP/s x engine efficiency x 8-bit speedup), never
less than reading the weights once from memory. The efficiencies are catalog data
(``diffusion_efficiency`` rows, per engine class: ``pytorch`` = diffusers eager with SDPA,
``pytorch-compiled`` = torch.compile / stable-fast / OneFlow, ``tensorrt``), fitted by
``deployscope.validate_workloads.fit_diffusion`` to the sources they name. Quantized formats
(fp8, int8) apply to the denoiser only; text encoders and the VAE run at 16 bit. The speed of an
8-bit denoiser relative to 16 bit is the engine row's ``quant_speedup`` (data, with its evidence);
on hardware without the native format (fp8 on Ampere) it runs at the 16-bit rate.

Memory per GPU: weights of every component + the largest activations alive at once (the VAE
decoder's full-resolution feature maps dominate) + framework overhead. Each GPU holds a whole
pipeline; ``gpus`` replicas serve requests in parallel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..catalog.error_bands import find_band
from ..catalog.loader import default_catalog
from ..errors import DeployscopeError
from . import gan_layers as GL

QUANTS = ("fp32", "fp16", "bf16", "fp8", "int8")
ENGINES = ("pytorch", "pytorch-compiled", "tensorrt")
CLIP_TOKENS = 77
_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0}


# ------------------------------------------------------------------------------ FLOP counters
def _conv(cin: float, cout: float, hw: float, k: int = 3) -> float:
    return 2.0 * k * k * cin * cout * hw


def _resnet(cin: float, cout: float, hw: float) -> float:
    f = _conv(cin, cout, hw) + _conv(cout, cout, hw)
    if cin != cout:
        f += _conv(cin, cout, hw, k=1)
    return f


def _transformer2d(c: float, hw: float, layers: int, ctx_tokens: float, ctx_dim: float) -> float:
    """diffusers Transformer2DModel: proj_in/out + `layers` BasicTransformerBlocks (self-attn,
    cross-attn over the text context, GEGLU feed-forward c -> 4c)."""
    f = 2 * 2.0 * hw * c * c  # proj_in, proj_out (linear)
    per = 0.0
    per += 4 * 2.0 * hw * c * c + 4.0 * hw * hw * c  # self-attention: q, k, v, o + QK^T and PV
    per += 2 * 2.0 * hw * c * c + 2 * 2.0 * ctx_tokens * ctx_dim * c + 4.0 * hw * ctx_tokens * c  # cross-attention
    per += 2.0 * hw * (c * 8 * c + 4 * c * c)  # GEGLU: c -> 2 x 4c, 4c -> c
    return f + layers * per


def unet_flops(details: dict[str, Any], latent_h: int, latent_w: int, ctx_tokens: float = CLIP_TOKENS) -> float:
    """FLOPs of one UNet2DConditionModel forward pass for one latent (batch 1)."""
    try:
        ch = [int(c) for c in details["block_out_channels"]]
        lpb = int(details.get("layers_per_block", 2))
        cin = int(details.get("in_channels", 4))
        ctx_dim = float(details["cross_attention_dim"])
    except KeyError as exc:
        raise DeployscopeError(f"UNet details lack {exc.args[0]!r}", field="model.components.details", value=exc.args[0]) from None
    n = len(ch)
    types = details.get("down_block_types")
    if types is None:
        types = ["CrossAttnDownBlock2D"] * (n - 1) + ["DownBlock2D"]
    attn = ["CrossAttn" in t for t in types]
    tl = details.get("transformer_layers_per_block", 1)
    tl = [int(tl)] * n if isinstance(tl, (int, float)) else [int(x) for x in tl]
    hw = float(latent_h * latent_w)
    f = _conv(cin, ch[0], hw)
    skips = [ch[0]]
    prev = ch[0]
    res = [hw / 4**i for i in range(n)]
    for i in range(n):
        for _ in range(lpb):
            f += _resnet(prev, ch[i], res[i])
            prev = ch[i]
            if attn[i]:
                f += _transformer2d(ch[i], res[i], tl[i], ctx_tokens, ctx_dim)
            skips.append(ch[i])
        if i < n - 1:
            f += 2.0 * 9 * ch[i] * ch[i] * res[i + 1]  # stride-2 downsampler
            skips.append(ch[i])
    # mid block: resnet, transformer, resnet at the lowest resolution
    f += 2 * _resnet(ch[-1], ch[-1], res[-1]) + _transformer2d(ch[-1], res[-1], tl[-1], ctx_tokens, ctx_dim)
    for j in range(n):
        i = n - 1 - j
        for _ in range(lpb + 1):
            skip = skips.pop()
            f += _resnet(prev + skip, ch[i], res[i])
            prev = ch[i]
            if attn[i]:
                f += _transformer2d(ch[i], res[i], tl[i], ctx_tokens, ctx_dim)
        if i > 0:
            f += _conv(ch[i], ch[i], res[i - 1])  # nearest upsample + conv at the higher resolution
    f += _conv(ch[0], int(details.get("out_channels", cin)), hw)
    return f


def vae_decode_flops(details: dict[str, Any], latent_h: int, latent_w: int) -> float:
    """FLOPs of the KL-f8 VAE decoder for one image."""
    ch = [int(c) for c in details.get("block_out_channels", [128, 256, 512, 512])]
    lpb = int(details.get("layers_per_block", 2))
    zc = int(details.get("latent_channels", 4))
    hw = float(latent_h * latent_w)
    top = ch[-1]
    f = _conv(zc, top, hw)
    f += 2 * _resnet(top, top, hw) + 4 * 2.0 * hw * top * top + 4.0 * hw * hw * top  # mid block with one attention
    prev = top
    rev = list(reversed(ch))
    for j, c in enumerate(rev):
        r = hw * 4**j
        for _ in range(lpb + 1):
            f += _resnet(prev, c, r)
            prev = c
        if j < len(rev) - 1:
            f += _conv(c, c, r * 4)
    f += _conv(ch[0], 3, hw * 4 ** (len(ch) - 1))
    return f


def vae_peak_activation_elems(details: dict[str, Any], latent_h: int, latent_w: int) -> float:
    """Largest feature map of the VAE decoder (elements): channels x pixels at each level, max."""
    ch = [int(c) for c in details.get("block_out_channels", [128, 256, 512, 512])]
    rev = list(reversed(ch))
    hw = float(latent_h * latent_w)
    best = 0.0
    for j, c in enumerate(rev):
        r = hw * 4**j
        best = max(best, c * r)
        if j < len(rev) - 1:
            best = max(best, c * r * 4)  # upsampled input before the conv
    return best


def dit_flops(details: dict[str, Any], img_tokens: float, txt_tokens: float) -> float:
    """FLOPs of one MMDiT (SD3) or FLUX forward pass (batch 1)."""
    n = img_tokens + txt_tokens
    mlp = float(details.get("mlp_ratio", 4))
    if details.get("cross_attention"):  # PixArt, Sana: self-attention over the image tokens, cross-attention to the text
        d = float(details["hidden_size"])
        # GLU-MBConv (Sana): 1x1 to 2 x hidden, depthwise 3x3, gate, 1x1 back = 3 x ratio d^2 MACs per token
        mlp_macs = 3 * mlp if details.get("mlp_glu") else 2 * mlp
        per_img = (4 + 2 + mlp_macs) * d * d  # self q, k, v, o + cross q, o + MLP, per image token
        kv_text = 2.0 * txt_tokens * d * d  # cross k, v of the (projected) text tokens
        if details.get("linear_attention"):  # ReLU linear attention: K^T V then Q (K^T V), head_dim^2 per head and token
            self_attn = 4.0 * img_tokens * d * float(details.get("attention_head_dim", 32))
        else:
            self_attn = 4.0 * img_tokens**2 * d
        return int(details["num_layers"]) * (2.0 * per_img * img_tokens + 2.0 * kv_text + self_attn + 4.0 * img_tokens * txt_tokens * d)
    # adaLN modulation (6 d^2 per block and stream, 3 d^2 per single block) maps the one conditioning
    # vector of the image to shifts and scales: once per image, not per token. With it counted per
    # image, DiT-XL/2 at 256 px is 2 x 118.6 GMACs, the DiT paper's Table 4 figure (Peebles & Xie,
    # arXiv:2212.09748), plus the attention matmuls
    if "num_double_blocks" in details:
        d = float(details["hidden_size"])
        dbl = int(details["num_double_blocks"])
        sgl = int(details.get("num_single_blocks", 0))
        per_stream = (4 + 2 * mlp) * d * d  # q, k, v, o + MLP per token
        f = dbl * (2.0 * per_stream * n + 4.0 * n * n * d + 2 * 2.0 * 6 * d * d)
        single = (3 + mlp + (1 + mlp)) * d * d  # fused qkv+mlp in, (attn + mlp) out
        f += sgl * (2.0 * single * n + 4.0 * n * n * d + 2.0 * 3 * d * d)
        return f
    try:
        d = float(details.get("hidden_size") or details["num_attention_heads"] * details["attention_head_dim"])
        layers = int(details["num_layers"])
    except KeyError as exc:
        raise DeployscopeError(f"DiT details lack {exc.args[0]!r}", field="model.components.details", value=exc.args[0]) from None
    per_stream = (4 + 2 * mlp) * d * d
    return layers * (2.0 * per_stream * n + 4.0 * n * n * d + 2.0 * 6 * d * d)


def stylegan2_flops(details: dict[str, Any]) -> float:
    """FLOPs of a StyleGAN2 synthesis network forward pass for one image."""
    res = int(details.get("resolution", 1024))
    base = float(details.get("channel_base", 32768))
    cmax = float(details.get("channel_max", 512))
    outc = float(details.get("output_channels", 3))
    w = float(details.get("w_dim", 512))

    def c(r: int) -> float:
        return min(base / r, cmax)

    f = _conv(c(4), c(4), 16) + 2.0 * c(4) * outc * 16
    r = 8
    layers = 2
    while r <= res:
        f += _conv(c(r // 2), c(r), r * r) + _conv(c(r), c(r), r * r) + 2.0 * c(r) * outc * r * r
        layers += 3
        r *= 2
    f += int(details.get("mapping_layers", 8)) * 2.0 * w * w + layers * 2.0 * w * cmax  # mapping + affine styles
    return f


def call_time(flops, weight_bytes, peak_flops, bandwidth, efficiency, overhead_s=0.0):  # noqa: ANN001
    """Seconds per network call (arrays broadcast): compute at `efficiency` of peak, never less
    than reading the weights once, plus a fixed per-call overhead."""
    f = np.asarray(flops, dtype=float)
    compute = f / (np.asarray(peak_flops, dtype=float) * np.asarray(efficiency, dtype=float))
    memory = np.asarray(weight_bytes, dtype=float) / np.asarray(bandwidth, dtype=float)
    return np.maximum(compute, memory) + np.asarray(overhead_s, dtype=float)


def pipeline_latency(text_s, step_s, steps, vae_s):  # noqa: ANN001
    """Seconds for one batch: text encoders + steps x denoiser call + VAE decode (arrays)."""
    return np.asarray(text_s, dtype=float) + np.asarray(steps, dtype=float) * np.asarray(step_s, dtype=float) + np.asarray(vae_s, dtype=float)


# --------------------------------------------------------------------------------- the model
@dataclass
class DiffusionResult:
    model: str
    gpu: str
    gpus: int
    resolution: tuple[int, int]
    steps: int
    cfg: bool
    batch: int
    quant: str
    engine: str
    latency_s: float
    images_per_s: float
    images_per_s_per_gpu: float
    memory_bytes: float
    fits: bool
    denoise_step_s: float
    text_encoder_s: float
    vae_decode_s: float
    flops_per_image: float
    denoiser_flops_per_step: float
    denoiser_bytes_per_step: float
    text_encoder_flops: float
    vae_flops_per_image: float
    memory_breakdown: dict[str, float]
    error_band: dict[str, Any]
    assumptions: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["resolution"] = list(self.resolution)
        return d

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


def engine_row(catalog: Any, engine: str) -> Any:
    rows = [r for r in catalog.diffusion_efficiency if r.engine is not None]
    for r in rows:
        if r.engine.engine == engine or r.id == engine or engine in r.aliases:
            return r
    raise DeployscopeError(f"unknown image-generation engine {engine!r}", field="engine", value=engine, allowed=[r.engine.engine for r in rows])


def _memory_row(catalog: Any) -> Any:
    for r in catalog.diffusion_efficiency:
        if r.memory is not None:
            return r
    raise DeployscopeError("catalog has no diffusion memory row", field="diffusion_efficiency", value=None)


def _uses_cfg(spec: Any, cfg: bool) -> tuple[bool, str | None]:
    den = [c for c in spec.components if c.role == "denoiser"]
    if not cfg or not den:
        return False, None
    d = den[0].details
    if d.get("guidance_embeds"):
        return False, "guidance-distilled model (guidance_embeds): one denoiser pass per step, no CFG doubling"
    if d.get("default_guidance") is not None and float(d["default_guidance"]) == 0.0:
        return False, "step-distilled model run without guidance (default_guidance 0): no CFG doubling"
    return True, None


def _text_tokens(spec: Any) -> float:
    clip = any(c.arch == "clip" and "pooled" not in str(c.details.get("use", "")) for c in spec.components if c.role == "text_encoder")
    # T5 and decoder-LLM text encoders (Sana's Gemma 2) hand their whole token sequence to the denoiser
    seq = sum(float(c.details.get("max_tokens", 256)) for c in spec.components if c.role == "text_encoder" and c.arch != "clip")
    return (CLIP_TOKENS if clip else 0.0) + seq


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DeployscopeError(f"must be an integer >= 1 (got {value!r})", field=name, value=value)
    return int(value)


def estimate(
    model: Any,
    gpu: Any,
    *,
    gpus: int = 1,
    resolution: tuple[int, int] | str = (1024, 1024),
    steps: int = 30,
    cfg: bool = True,
    batch: int = 1,
    quant: str = "fp16",
    engine: str = "pytorch",
    catalog: Any = None,
) -> DiffusionResult:
    """Latency, throughput and memory of text-to-image generation (or a GAN generator)."""
    cat = default_catalog(catalog)
    if isinstance(resolution, str):
        from ..scenario.pipelines import parse_resolution

        try:
            resolution = parse_resolution(resolution)
        except ValueError as exc:
            raise DeployscopeError(str(exc), field="resolution", value=resolution) from None
    w, h = int(resolution[0]), int(resolution[1])
    if w <= 0 or h <= 0 or w % 8 or h % 8:
        raise DeployscopeError(f"width and height must be positive multiples of 8 (got {w}x{h})", field="resolution", value=f"{w}x{h}")
    gpus = _check_int("gpus", gpus)
    steps = _check_int("steps", steps)
    batch = _check_int("batch", batch)
    if quant not in QUANTS:
        raise DeployscopeError(f"unknown image-model precision {quant!r}", field="quant", value=quant, allowed=QUANTS)
    spec = model if not isinstance(model, str) else cat.models.get(model, field="model")
    if spec.modality not in ("diffusion", "gan"):
        raise DeployscopeError(f"{spec.id} is a {spec.modality} model, not an image generator", field="model", value=spec.id, allowed="diffusion or GAN models")
    acc = gpu if not isinstance(gpu, str) else cat.accelerators.get(gpu, field="gpu")
    erow = engine_row(cat, engine)
    eff = erow.engine
    mrow = _memory_row(cat).memory
    assumptions: list[str] = []

    comps = spec.components
    den = next((c for c in comps if c.role in ("denoiser", "generator")), None)
    if den is None:
        raise DeployscopeError(f"{spec.id} has no denoiser or generator component", field="model", value=spec.id)
    vae = next((c for c in comps if c.role == "vae"), None)
    factor = int(vae.details.get("downsample_factor", 8) if vae else 8)
    lh, lw = h // factor, w // factor

    # compute dtypes and their peaks
    def peak_of(dtype: str) -> tuple[float, str]:
        if dtype == "fp32":
            return acc.peak_flops("fp32"), "fp32"
        if dtype in ("fp8", "int8") and dtype not in acc.tflops:
            return acc.peak_flops("fp16" if "fp16" in acc.tflops else "bf16"), "fp16"
        return acc.peak_flops(dtype), dtype

    hi = "fp32" if quant == "fp32" else ("bf16" if quant == "bf16" else "fp16")
    other_peak, _ = peak_of(hi)
    den_peak = other_peak
    if quant in ("fp8", "int8"):
        if quant in acc.tflops:
            speedup = float(eff.quant_speedup.get(quant, 1.0))
            den_peak = other_peak * speedup
            assumptions.append(f"{quant} denoiser runs {speedup:g}x the 16-bit rate on engine {eff.engine} (row {erow.id})")
        else:
            assumptions.append(f"{acc.id} has no native {quant}: the denoiser runs at the 16-bit rate (weight-only savings)")

    # ---- FLOPs
    use_cfg = False
    text_f = 0.0
    if spec.modality == "gan":
        if den.arch not in ("stylegan", "stylegan3"):
            raise DeployscopeError(f"GAN architecture {den.arch!r} not modelled", field="model", value=spec.id, allowed="stylegan, stylegan3")
        gres = int(den.details.get("resolution", w))
        if (w, h) != (gres, gres):
            raise DeployscopeError(f"{spec.id} generates {gres}x{gres} images only", field="resolution", value=f"{w}x{h}", allowed=f"{gres}x{gres}")
        if den.arch == "stylegan3":  # alias-free layers: convolutions + FIR up/downsampling filters (gan_layers)
            den_f_call = GL.flops(GL.stylegan3_generator(den.details, gres, int(den.details.get("num_fp16_res", 4)))) * batch
        else:
            den_f_call = stylegan2_flops(den.details) * batch
        calls = 1
        step_b = batch
        vae_f = 0.0
        assumptions.append("GAN: one generator forward pass per image (steps and CFG do not apply)")
    else:
        use_cfg, note = _uses_cfg(spec, cfg)
        if note:
            assumptions.append(note)
        step_b = batch * (2 if use_cfg else 1)
        txt_tokens = _text_tokens(spec)
        if den.arch == "unet":
            per = unet_flops(den.details, lh, lw)
        elif den.arch in ("dit", "mmdit", "flux"):
            p = int(den.details.get("patch_size", 2))
            img_tokens = (lh // p) * (lw // p)
            per = dit_flops(den.details, img_tokens, txt_tokens)
        else:
            raise DeployscopeError(f"denoiser architecture {den.arch!r} not modelled", field="model", value=spec.id, allowed="unet, mmdit, dit, flux")
        den_f_call = per * step_b
        calls = steps
        prompts = batch * (2 if use_cfg else 1)
        for c in comps:
            if c.role == "text_encoder":
                tok = float(c.details.get("max_tokens", CLIP_TOKENS))
                text_f += 2.0 * c.params_b * 1e9 * tok * prompts
        vae_f = vae_decode_flops(vae.details, lh, lw) * batch if vae else 0.0

    # ---- time
    den_bytes = den.params_b * 1e9 * _BYTES[quant]
    bw = acc.memory_bandwidth_bytes_per_s
    # bytes per denoiser call: the weights once + the latent activations in and out (small)
    step_bytes = den_bytes + 2.0 * step_b * lh * lw * float(den.details.get("in_channels", 4)) * _BYTES[hi]
    t_step = float(call_time(den_f_call, den_bytes, den_peak, bw, eff.compute_efficiency, eff.per_call_overhead_s))
    t_text = float(text_f / (other_peak * eff.text_encoder_efficiency)) if text_f else 0.0
    t_vae = float(vae_f / (other_peak * eff.compute_efficiency)) if vae_f else 0.0
    latency = float(pipeline_latency(t_text, t_step, calls, t_vae))
    per_gpu = batch / latency
    # ---- memory
    wbytes = 0.0
    for c in comps:
        b = _BYTES[quant] if c is den else _BYTES[hi]
        wbytes += c.params_b * 1e9 * b
    act_b = _BYTES[hi]
    if vae is not None:
        act = vae_peak_activation_elems(vae.details, lh, lw) * act_b * batch * mrow.live_activation_copies
    else:
        act = float(den.details.get("resolution", w)) ** 2 * 32 * act_b * batch * mrow.live_activation_copies
    mem = wbytes + act + mrow.framework_overhead_bytes
    fits = mem <= acc.memory_bytes

    flops_img = (text_f + calls * den_f_call + vae_f) / batch
    assumptions += [
        f"engine {eff.engine}: {eff.compute_efficiency:.0%} of peak FLOP/s (row {erow.id})",
        "each GPU holds a whole pipeline; requests are spread over the GPUs (no tensor parallelism)",
    ]
    if use_cfg:
        assumptions.append("classifier-free guidance: the denoiser runs on 2 x batch latents; the negative prompt is encoded too")
    band = find_band(cat, "diffusion", "images_per_s")

    return DiffusionResult(
        model=spec.id,
        gpu=acc.id,
        gpus=gpus,
        resolution=(w, h),
        steps=steps,
        cfg=use_cfg,
        batch=batch,
        quant=quant,
        engine=eff.engine,
        latency_s=latency,
        images_per_s=per_gpu * gpus,
        images_per_s_per_gpu=per_gpu,
        memory_bytes=mem,
        fits=fits,
        denoise_step_s=t_step,
        text_encoder_s=t_text,
        vae_decode_s=t_vae,
        flops_per_image=flops_img,
        denoiser_flops_per_step=den_f_call,
        denoiser_bytes_per_step=step_bytes,
        text_encoder_flops=text_f,
        vae_flops_per_image=vae_f / batch if vae_f else 0.0,
        memory_breakdown={"weights": wbytes, "activations": act, "framework": mrow.framework_overhead_bytes},
        error_band=band.as_dict() if band is not None else {"low": None, "high": None, "rows": 0, "source": "no diffusion band in the catalog"},
        assumptions=assumptions,
        sources=[spec.source, acc.source, erow.source],
    )
