"""Layer-by-layer cost of StyleGAN-class networks, for a per-layer roofline of GAN training.

Each layer is (tensor-core FLOPs, vector FLOPs, activation elements written, 16-bit or not) for one
image, counted from the NVlabs code:

* StyleGAN2 generator (``networks_stylegan2.SynthesisNetwork``): per resolution block r an
  upsampling 3x3 modulated convolution ``c(r/2) -> c(r)``, a 3x3 convolution ``c(r) -> c(r)`` and a
  1x1 toRGB, ``c(r) = min(channel_base / r, channel_max)``;
* StyleGAN2 residual discriminator (``networks_stylegan2.Discriminator``, also StyleGAN3's):
  fromRGB at the top, per block a 3x3 convolution, a blurred 3x3 stride-2 convolution and a 1x1
  skip, then the epilogue;
* StyleGAN3 generator (``networks_stylegan3.SynthesisNetwork``): 14 layers + toRGB whose cutoffs,
  sampling rates, sizes and channels follow the paper's geometric schedule; each layer a modulated
  convolution (3x3 in config T, 1x1 in config R) and a filtered leaky ReLU that upsamples x2 (more
  where the sampling rate grows), applies the nonlinearity and downsamples with FIR filters of
  ``filter_size x factor`` taps (separable Kaiser; radially symmetric jinc in config R, except the
  critically sampled layers). The filters run on the vector units, not the tensor cores.

Mixed precision as in the PyTorch code: the ``num_fp16_res`` highest resolutions run in FP16
(4 by default; 0 for full FP32, as the TensorFlow StyleGAN2 code trains).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# columns of a layer table
TENSOR, VECTOR, ELEMS, FP16, K3 = 0, 1, 2, 3, 4


def _chan(base: float, cmax: float, r: float) -> float:
    return min(base / r, cmax)


def _fp16_from(res: int, num_fp16_res: int) -> float:
    """Lowest block resolution that runs in FP16 (StyleGAN2 code: max(2^(log2 res + 1 - n), 8))."""
    if num_fp16_res <= 0:
        return math.inf
    return max(2 ** (int(math.log2(res)) + 1 - num_fp16_res), 8)


def stylegan2_generator(details: dict[str, Any], res: int, num_fp16_res: int) -> np.ndarray:
    base, cmax = float(details.get("channel_base", 32768)), float(details.get("channel_max", 512))
    w = float(details.get("w_dim", 512))
    lo16 = _fp16_from(res, num_fp16_res)
    rows = [[int(details.get("mapping_layers", 8)) * 2.0 * w * w, 0.0, 0.0, 0.0, 0.0]]  # mapping network
    r = 4
    while r <= res:
        c, cin, hw, h = _chan(base, cmax, r), _chan(base, cmax, r // 2), float(r * r), float(r >= lo16)
        if r > 4:
            rows.append([2.0 * 9 * cin * c * hw, 0.0, 2.0 * c * hw, h, 2.0 * 9 * cin * c * hw])  # conv0: upsampling conv (+ FIR blur)
        rows.append([2.0 * 9 * c * c * hw, 0.0, c * hw, h, 2.0 * 9 * c * c * hw])  # conv1
        rows.append([2.0 * c * 3 * hw, 0.0, 3.0 * hw, h, 0.0])  # toRGB
        r *= 2
    return np.asarray(rows, dtype=float)


def stylegan2_discriminator(details: dict[str, Any], res: int, num_fp16_res: int) -> np.ndarray:
    base = float(details.get("discriminator_channel_base", details.get("channel_base", 32768)))
    cmax = float(details.get("discriminator_channel_max", details.get("channel_max", 512)))
    lo16 = _fp16_from(res, num_fp16_res)
    c0 = _chan(base, cmax, res)
    rows = [[2.0 * 3 * c0 * res * res, 0.0, c0 * res * res, float(res >= lo16), 0.0]]  # fromRGB
    r = res
    while r > 4:
        c, cd, hw, hd, h = _chan(base, cmax, r), _chan(base, cmax, r // 2), float(r * r), float((r // 2) ** 2), float(r >= lo16)
        rows.append([2.0 * 9 * c * c * hw, 0.0, 2.0 * c * hw, h, 2.0 * 9 * c * c * hw])  # conv0 (+ blur of its output for the stride-2 conv)
        rows.append([2.0 * 9 * c * cd * hd + 2.0 * c * cd * hd, 0.0, 2.0 * cd * hd, h, 2.0 * 9 * c * cd * hd])  # conv1 down + 1x1 skip
        r //= 2
    c4 = _chan(base, cmax, 4)
    rows.append([2.0 * 9 * (c4 + 1) * c4 * 16 + 2.0 * 16 * c4 * c4, 0.0, 2.0 * c4 * 16, 0.0, 2.0 * 9 * (c4 + 1) * c4 * 16])  # epilogue: mbstd, conv, fc
    return np.asarray(rows, dtype=float)


def stylegan3_generator(details: dict[str, Any], res: int, num_fp16_res: int) -> np.ndarray:
    """Layer table of the alias-free synthesis network (config T, or R with ``conv_kernel: 1`` and radial filters)."""
    base, cmax = float(details.get("channel_base", 32768)), float(details.get("channel_max", 512))
    n, ncrit = int(details.get("num_layers", 14)), int(details.get("num_critical", 2))
    margin, k = int(details.get("margin_size", 10)), int(details.get("conv_kernel", 3))
    taps_rel, lrelu_up = int(details.get("filter_size", 6)), int(details.get("lrelu_upsampling", 2))
    radial = bool(details.get("radial_filters", False))
    w = float(details.get("w_dim", 512))
    exps = np.minimum(np.arange(n + 1) / (n - ncrit), 1)
    cut = 2.0 * (res / 2 / 2.0) ** exps
    stop = 2**2.1 * (res / 2 * 2**0.3 / 2**2.1) ** exps
    rate = np.exp2(np.ceil(np.log2(np.minimum(stop * 2, res))))
    size = rate + 2 * margin
    size[-2:] = res
    ch = np.rint(np.minimum((base / 2) / cut, cmax))
    ch[-1] = 3
    rows = [[int(details.get("mapping_layers", 2)) * 2.0 * w * w + 2.0 * size[0] ** 2 * ch[0] * ch[0], 0.0, ch[0] * size[0] ** 2, 0.0, 0.0]]
    for i in range(n + 1):
        p = max(i - 1, 0)
        torgb = i == n
        kk = 1 if torgb else k
        h = float(rate[i] * 2**num_fp16_res > res) if num_fp16_res > 0 else 0.0
        conv_hw = (size[p] + kk - 1) ** 2
        tensor = 2.0 * ch[p] * ch[i] * kk * kk * conv_hw
        vector = 0.0
        if not torgb:
            tmp_rate = max(rate[p], rate[i]) * lrelu_up
            up, down = int(round(tmp_rate / rate[p])), int(round(tmp_rate / rate[i]))
            tmp = size[i] * down
            up_taps = taps_rel * up if up > 1 else 1
            down_taps = taps_rel * down if down > 1 else 1
            vector = 2.0 * 2 * tmp * tmp * (up_taps / up)  # polyphase upsampling, two separable passes
            if radial and i < n - ncrit:
                vector += 2.0 * size[i] ** 2 * down_taps**2  # radially symmetric (non-separable) downsampling
            else:
                vector += 2.0 * (tmp * size[i] + size[i] ** 2) * down_taps  # separable downsampling
            vector *= ch[i]
        rows.append([tensor, vector, ch[i] * (conv_hw + size[i] ** 2), h, tensor if kk == 3 else 0.0])
    return np.asarray(rows, dtype=float)


def generator_layers(arch_name: str, details: dict[str, Any], res: int, num_fp16_res: int) -> np.ndarray:
    if arch_name == "stylegan3":
        return stylegan3_generator(details, res, num_fp16_res)
    return stylegan2_generator(details, res, num_fp16_res)


def discriminator_params(details: dict[str, Any], res: int) -> float:
    """Weights of the StyleGAN2 residual discriminator at `res` (fromRGB, per block two 3x3 convolutions
    and a 1x1 skip, epilogue convolution and fully connected layers), biases included."""
    base = float(details.get("discriminator_channel_base", details.get("channel_base", 32768)))
    cmax = float(details.get("discriminator_channel_max", details.get("channel_max", 512)))
    c0 = _chan(base, cmax, res)
    n = 4.0 * c0
    r = res
    while r > 4:
        c, cd = _chan(base, cmax, r), _chan(base, cmax, r // 2)
        n += 9 * c * c + c + 9 * c * cd + cd + c * cd
        r //= 2
    c4 = _chan(base, cmax, 4)
    return n + 9 * (c4 + 1) * c4 + c4 + 16 * c4 * c4 + c4 + c4 + 1


def discriminator_layers(details: dict[str, Any], res: int, num_fp16_res: int) -> np.ndarray:
    return stylegan2_discriminator(details, res, num_fp16_res)


def layer_time(layers: np.ndarray, peak16: float, peak32: float, bandwidth: float, share16: float, share32: float, memory_passes: float, winograd: float = 1.0) -> float:
    """Seconds of one forward pass of one image: per layer the slower of compute and memory traffic.

    Compute: 16-bit layers at ``share16`` of the tensor-core peak; FP32 layers and the FIR filters at
    ``share32`` of the FP32 peak, FP32 3x3 convolutions with ``winograd`` times fewer multiplies
    (cuDNN's Winograd algorithms). Memory: ``memory_passes`` x the activation bytes the layer writes
    (2 per element in FP16, 4 in FP32) at ``bandwidth``."""
    fp16 = layers[:, FP16] > 0
    tensor = np.where(fp16, layers[:, TENSOR], layers[:, TENSOR] - layers[:, K3] + layers[:, K3] / winograd)
    compute = tensor / np.where(fp16, peak16 * share16, peak32 * share32) + layers[:, VECTOR] / (peak32 * share32)
    memory = memory_passes * layers[:, ELEMS] * np.where(fp16, 2.0, 4.0) / bandwidth
    return float(np.maximum(compute, memory).sum())


def flops(layers: np.ndarray) -> float:
    """Model FLOPs of one forward pass of one image (tensor + vector)."""
    return float(layers[:, TENSOR].sum() + layers[:, VECTOR].sum())
