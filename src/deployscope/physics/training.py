"""Training and fine-tuning: FLOPs, achievable MFU, GPU-hours, wall-clock, energy, memory per GPU,
the fewest GPUs that fit, and which scale-out network the job needs.

Compute (model FLOPs, the convention of PaLM's MFU, Chowdhery et al. 2022 App. B):

* dense: ``6 N D`` - forward ``2 N`` + backward ``4 N`` per token, ``N`` the parameters a token
  uses (active parameters for MoE);
* attention: ``12 L d_attn s`` per token (QK^T and PV, forward + backward, no causal halving);
* LoRA / QLoRA: the frozen weights still run forward (2N) and pass gradients back to the
  activations (2N), but no weight gradients are formed (the third 2N): ``4 N D`` - the
  ``compute_multiplier`` 2/3 of the method rows (adapter FLOPs are under 1 %, left out);
* activation recomputation adds a forward pass the MFU convention does not count: full
  recompute turns 6N into 8N of hardware work, so MFU x 6/8 (LoRA: 4/6).

Achievable MFU (catalog ``training_efficiency`` rows, fitted by
``deployscope.validate_workloads.fit_training`` to the sources they name)::

    mfu = mfu_ref[family] x (max(gpus, 64) / ref_gpus)^-scale_exponent   (cluster term)
                          x 1 / (1 + width_coeff x ridge / hidden)  (width term)
                          x min(1, GEMM intensity / ridge)   (per-GPU GEMM size, see training_mfu)
                          x method throughput factor x recompute factor
                          x network factor                          (see below)

``ridge`` is the GPU's peak bf16 FLOP/s over its HBM bytes/s. Per token and layer the matmuls
do work proportional to hidden^2 while the memory-bound rest (norms, activations, residuals,
rotary, optimizer) moves bytes proportional to hidden, so their time ratio is proportional to
ridge / hidden: small models, and GPUs whose FLOPs outgrew their memory bandwidth, lose more.

The efficiency applies to the FLOPs the GPU executes: the input-embedding lookup does no
matmul, so the executed dense work is ``6 N_matmul`` with ``N_matmul`` = active parameters
less the token (and position) table, plus the output projection. The reported ``flops`` and
``mfu`` keep the public convention (``6 N`` with all parameters).

GPU-hours of a whole run divide the steady state by a goodput: time lost to interruptions
grows with the number of GPUs (Llama 3 paper: >90 % effective time at 16K GPUs).

Network: per optimizer step each GPU moves the data-parallel traffic (ring all-reduce of the
gradients, ``2 (g-1)/g x grad bytes``; ZeRO-3/FSDP adds two all-gathers of the weights) over
NVLink inside a node and over the scale-out fabric between nodes. With communication overlapped
with compute, a step takes ``max(compute, communication)``; the network factor is
``compute / max(compute, communication)`` and the advice names the slowest catalog fabric that
keeps communication under half of the compute time.

Memory per GPU (bytes): weights (16-bit, or NF4 for QLoRA) + gradients + optimizer state for the
trainable parameters, each divided by the data-parallel degree where the ZeRO stage shards it
(1: optimizer; 2: + gradients; 3 / FSDP: + weights), + activations
(``micro_batch x seq x layers x hidden x bytes``, Korthikanti et al. 2022, with flash attention)
+ logits + framework overhead.

All functions below the ``estimate`` wrapper take numpy arrays and broadcast.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..catalog.error_bands import find_band
from ..catalog.loader import default_catalog
from ..errors import DeployscopeError
from .training_mfu import MIN_SCALE_GPUS as MIN_SCALE_GPUS  # re-exported: the fit reads it here
from .training_mfu import gemm_factor, goodput_at, mfu_model, recompute_factor, ridge_of

METHODS = ("pretrain", "full", "lora", "qlora")
RECOMPUTE = ("none", "selective", "full")
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86_400.0

_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?\s*[kKmMbBgGtTpP]?")  # 1,000,000 / 1,500B
_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}


def parse_tokens(text: str | int | float) -> float:
    """'2T' -> 2e12, '500B' -> 5e11, '10M' -> 1e7, '1.5e12', '1_000_000' -> floats."""
    from ..scenario import MAX_TRAINING_TOKENS

    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        s = str(text).strip().replace("_", "")
        if "," in s and not _GROUPED.fullmatch(s):  # '1,2,3B' is a typo, not 123B
            raise DeployscopeError(f"cannot read a token count from {text!r}: commas only between groups of three digits (1,000,000)",
                                   field="tokens", value=text, allowed="a number with an optional K/M/B/T suffix: 2T, 500B, 10M")
        m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMbBgGtTpP]?)", s.replace(",", ""))
        if not m:
            raise DeployscopeError(
                f"cannot read a token count from {text!r}", field="tokens", value=text, allowed="a number with an optional K/M/B/T suffix: 2T, 500B, 10M"
            )
        value = float(m.group(1)) * _SUFFIX[m.group(2).upper()]
    if not math.isfinite(value) or not 1 <= value <= MAX_TRAINING_TOKENS:
        raise DeployscopeError(f"must be at least 1 token and at most {MAX_TRAINING_TOKENS:,.0f} (got {text!r})", field="tokens", value=text,
                               allowed=f"1 to {MAX_TRAINING_TOKENS:.0e} tokens (the scenario bound, ~30x the largest published pretraining run)")
    return value


# ------------------------------------------------------------------------------------ FLOPs
def flops_per_token(params_active, n_layers, attn_dim, seq_len, compute_multiplier=1.0):  # noqa: ANN001
    """Model FLOPs per training token: (6 N + 12 L d_attn s) x compute multiplier (arrays)."""
    n = np.asarray(params_active, dtype=float)
    att = 12.0 * np.asarray(n_layers, dtype=float) * np.asarray(attn_dim, dtype=float) * np.asarray(seq_len, dtype=float)
    return (6.0 * n + att) * np.asarray(compute_multiplier, dtype=float)


def dense_flops(params_active, tokens, compute_multiplier=1.0):  # noqa: ANN001
    """The 6 N D term alone (x the method's multiplier)."""
    return 6.0 * np.asarray(params_active, dtype=float) * np.asarray(tokens, dtype=float) * np.asarray(compute_multiplier, dtype=float)


def attention_flops(n_layers, attn_dim, seq_len, tokens, compute_multiplier=1.0):  # noqa: ANN001
    """The 12 L d s D attention term alone."""
    return (
        12.0
        * np.asarray(n_layers, dtype=float)
        * np.asarray(attn_dim, dtype=float)
        * np.asarray(seq_len, dtype=float)
        * np.asarray(tokens, dtype=float)
        * np.asarray(compute_multiplier, dtype=float)
    )


# ----------------------------------------------------------------------------------- memory
def memory_per_gpu(
    total_params,
    trainable_params,
    base_bits,
    grad_bytes,
    opt_bytes,
    zero,
    dp,
    act_bytes,
    logits_bytes,
    overhead_bytes,
    trainable_weight_bytes=2.0,
    trainable_is_base=True,
):  # noqa: ANN001
    """Bytes per GPU (arrays). Full training: the trainable weights are the base weights."""
    n = np.asarray(total_params, dtype=float)
    t = np.asarray(trainable_params, dtype=float)
    z = np.asarray(zero)
    d = np.maximum(np.asarray(dp, dtype=float), 1.0)
    w = n * np.asarray(base_bits, dtype=float) / 8.0
    if not trainable_is_base:
        w = w + t * trainable_weight_bytes
    g = t * np.asarray(grad_bytes, dtype=float)
    o = t * np.asarray(opt_bytes, dtype=float)
    o = np.where(z >= 1, o / d, o)
    g = np.where(z >= 2, g / d, g)
    w = np.where(z >= 3, w / d, w)
    return w + g + o + np.asarray(act_bytes, dtype=float) + np.asarray(logits_bytes, dtype=float) + np.asarray(overhead_bytes, dtype=float)


def activation_bytes(micro_batch, seq_len, n_layers, hidden, per_token_hidden, recompute_keep, one_layer_bytes_per_token_hidden):  # noqa: ANN001
    """Activations kept for the backward pass (arrays)."""
    tok = np.asarray(micro_batch, dtype=float) * np.asarray(seq_len, dtype=float)
    h = np.asarray(hidden, dtype=float)
    kept = tok * np.asarray(n_layers, dtype=float) * h * np.asarray(per_token_hidden, dtype=float) * np.asarray(recompute_keep, dtype=float)
    return kept + tok * h * np.asarray(one_layer_bytes_per_token_hidden, dtype=float)


# ------------------------------------------------------------------------------ network model
def dp_traffic_bytes(trainable_params, total_params, zero, gpus, weight_bytes=2.0, grad_bytes=2.0):  # noqa: ANN001
    """Bytes each GPU sends per optimizer step for data parallelism (ring algorithms)."""
    g = np.maximum(np.asarray(gpus, dtype=float), 1.0)
    ring = (g - 1.0) / g
    grads = 2.0 * ring * np.asarray(trainable_params, dtype=float) * grad_bytes  # all-reduce = reduce-scatter + all-gather
    gathers = 2.0 * ring * np.asarray(total_params, dtype=float) * weight_bytes  # ZeRO-3: weights gathered for fwd and bwd
    z = np.asarray(zero)
    return np.where(z >= 3, grads / 2.0 + gathers, grads)


# ----------------------------------------------------------------------------- the wrapper
@dataclass
class TrainingResult:
    """One training job on `gpus` GPUs; SI units (FLOP, seconds, bytes, kWh)."""

    model: str
    gpu: str
    gpus: int
    method: str
    tokens: float
    seq_len: int
    micro_batch: int
    zero: int
    tp: int
    optimizer: str
    recompute: str
    flops: float
    flops_dense: float
    flops_attention: float
    flops_executed: float  # what the GPUs multiply: 6 N_matmul D + attention (no embedding lookup)
    mfu: float
    hfu: float
    achieved_flops_per_gpu: float
    tokens_per_s: float
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
    assumptions: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


def _rows(catalog: Any, section: str) -> list[Any]:
    return [r for r in catalog.training_efficiency if getattr(r, section) is not None]


def mfu_row(catalog: Any, family: str) -> tuple[Any, bool]:
    """The MFU row for an accelerator family; (row, fitted_for_this_family)."""
    rows = _rows(catalog, "mfu")
    for r in rows:
        if r.mfu.family == family:
            return r, True
    for r in rows:
        if r.mfu.family == "default":
            return r, False
    raise DeployscopeError("catalog has no MFU rows (training_efficiency.yaml)", field="training_efficiency", value=None)


def method_row(catalog: Any, method: str) -> Any:
    for r in _rows(catalog, "method"):
        if r.method.method == method:
            return r
    raise DeployscopeError(f"unknown training method {method!r}", field="method", value=method, allowed=METHODS)


def optimizer_row(catalog: Any, optimizer: str) -> Any:
    rows = _rows(catalog, "optimizer")
    for r in rows:
        if r.optimizer.optimizer == optimizer or r.id == optimizer:
            return r
    raise DeployscopeError(f"unknown optimizer {optimizer!r}", field="optimizer", value=optimizer, allowed=[r.optimizer.optimizer for r in rows])


def network_rows(catalog: Any) -> list[Any]:
    return sorted(_rows(catalog, "network"), key=lambda r: r.network.bytes_per_s_per_gpu)


def network_row(catalog: Any, name: str) -> Any:
    rows = network_rows(catalog)
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    for r in rows:
        names = [r.id, r.network.name, *r.aliases]
        if any(re.sub(r"[^a-z0-9]", "", n.lower()) == key for n in names):
            return r
    raise DeployscopeError(f"unknown network {name!r}", field="network", value=name, allowed=[r.id for r in rows])


def _single(catalog: Any, section: str) -> Any:
    rows = _rows(catalog, section)
    if not rows:
        raise DeployscopeError(f"catalog has no {section} row in training_efficiency.yaml", field="training_efficiency", value=section)
    return rows[0]


@dataclass(frozen=True)
class Arch:
    """What the training model needs of a model: parameters and shape."""

    name: str
    total_params: float
    active_params: float
    n_layers: float
    hidden: float
    attn_dim: float
    vocab: float
    max_context: int | None
    lora_matrix_dims: tuple[tuple[int, int], ...] = ()  # (d_in, d_out) of each adaptable matrix in one layer, by target
    lora_target_names: tuple[str, ...] = ()
    from_catalog: bool = True
    matmul_params: float | None = None  # active parameters a token multiplies (no embedding lookup); None = active_params

    @property
    def executed_params(self) -> float:
        return self.active_params if self.matmul_params is None else self.matmul_params


ASPECT_RATIO_ASSUMPTION = 128.0  # d_model / n_layers of GPT-3 175B (12288/96) and Llama-2-7B (4096/32)


def arch_from_params(name: str, params: float, vocab: float = 50_000) -> Arch:
    """A generic dense decoder of `params` parameters: 12 L d^2 = N and d / L = 128 (stated assumption)."""
    d = (params * ASPECT_RATIO_ASSUMPTION / 12.0) ** (1.0 / 3.0)
    layers = max(1.0, params / (12.0 * d * d))
    return Arch(name, params, params, layers, d, d, vocab, None, (), (), from_catalog=False)


def arch_of(model: Any, catalog: Any) -> Arch:
    from .memory import param_counts

    spec = model if not isinstance(model, str) else catalog.models.get(model, field="model")
    t = spec.transformer
    if t is None:
        if spec.modality in ("diffusion", "gan"):
            den = [c for c in spec.components if c.role in ("denoiser", "generator")]
            n = (den[0].params_b if den else spec.params_b) * 1e9
            raise DeployscopeError(
                f"{spec.id} is an image model; training estimates cover transformer language models "
                f"(its denoiser has {n / 1e9:.2f}B parameters)",
                field="model",
                value=spec.id,
            )
        raise DeployscopeError(f"{spec.id} has no transformer block", field="model", value=spec.id)
    pc = param_counts(t)
    h = t.hidden_size
    q_dim = t.num_attention_heads * t.head_dim
    kv_dim = t.num_kv_heads * t.head_dim
    inter = t.intermediate_size or (t.moe.expert_intermediate_size if t.moe else 0)
    dims = {
        "q": (h, q_dim),
        "k": (h, kv_dim),
        "v": (h, kv_dim),
        "o": (q_dim, h),
        "gate": (h, inter),
        "up": (h, inter),
        "down": (inter, h),
    }
    if t.mla is not None:
        dims["k"] = (h, t.mla.kv_lora_rank)
        dims["v"] = (h, t.mla.kv_lora_rank)
    # the token (and position) table is a lookup; the output projection is a matmul even when tied
    matmul = pc["active"] - pc["embedding"] - pc["lm_head"] + (0 if t.encoder_only else t.vocab_size * h)
    return Arch(
        spec.id,
        float(pc["total"]),
        float(pc["active"]),
        float(t.num_layers),
        float(h),
        float(q_dim),
        float(t.vocab_size),
        t.max_context,
        tuple(dims.values()),
        tuple(dims.keys()),
        matmul_params=float(matmul),
    )


def lora_params(arch: Arch, rank: int, targets: tuple[str, ...]) -> float:
    """Adapter parameters: r (d_in + d_out) per targeted matrix per layer."""
    if not arch.lora_target_names:
        # generic model: attention projections are d x d
        return float(arch.n_layers * rank * 2 * arch.hidden * len([t for t in targets if t in ("q", "k", "v", "o")]) + 0)
    per_layer = sum(rank * (din + dout) for name, (din, dout) in zip(arch.lora_target_names, arch.lora_matrix_dims) if name in targets)
    return float(arch.n_layers * per_layer)


def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DeployscopeError(f"must be an integer >= {minimum} (got {value!r})", field=name, value=value)
    return int(value)


@functools.lru_cache(maxsize=4096)  # pure in its numbers; the planner asks again for every GPU count it tries
def _fewest_gpus(total: float, trainable: float, base_bits: float, grad_bytes: float, opt_bytes: float, zero: int,
                 act: float, logits: float, overhead: float, full_train: bool, cap: float, tps: tuple[int, ...]) -> int | None:
    """The fewest GPUs (up to 65,536) that hold the job with one of the tensor-parallel widths `tps`."""
    fewest: int | None = None
    for tp in tps:
        t = np.asarray(tp, dtype=float)
        counts = _GPU_COUNTS[tp - 1::tp]  # the multiples of tp
        need = memory_per_gpu(total / t, trainable / t, base_bits, grad_bytes, opt_bytes, zero, counts.astype(float) / t,
                              act / t, logits / t, overhead, trainable_is_base=full_train)
        idx = np.flatnonzero(np.broadcast_to(need, counts.shape) <= cap)
        if idx.size and (fewest is None or int(counts[idx[0]]) < fewest):
            fewest = int(counts[idx[0]])
    return fewest


_GPU_COUNTS = np.arange(1, 65_537)
_GPU_COUNTS.flags.writeable = False


def estimate(
    model: Any,
    gpu: Any,
    gpus: int,
    tokens: float | str,
    method: str = "full",
    seq_len: int = 4096,
    zero: int | None = None,
    catalog: Any = None,
    *,
    micro_batch: int = 1,
    optimizer: str | None = None,
    recompute: str = "selective",
    network: str | None = None,
    global_batch_tokens: float | None = None,
    arch: Arch | None = None,
    logits_chunks: int = 1,
    activation_offload: bool = False,
    optimizer_in_backward: bool = False,
    tp: int | None = None,
) -> TrainingResult:
    """Estimate one training or fine-tuning job of `tokens` tokens on `gpus` GPUs of type `gpu`.

    ``zero``: 0 = DDP, 1/2/3 = ZeRO stage (3 = FSDP full shard); default 3 on more than one GPU.
    ``network``: a scale-out fabric id (``training_efficiency`` network rows); default: the
    reference fabric of the GPU family's MFU row. ``arch`` overrides the catalog model (used by
    validation for models the catalog lacks). Memory options of fine-tuning recipes:
    ``logits_chunks`` (cross-entropy computed in chunks: logits memory / chunks),
    ``activation_offload`` (checkpointed activations kept in CPU memory: one layer on the GPU),
    ``optimizer_in_backward`` (each gradient is applied and freed at once: one layer's gradients).
    ``tp``: tensor-parallel GPUs inside one node (weights, activations and logits split, sequence
    parallel); default: the smallest of 1, 2, 4, 8 that fits. The fitted MFU already reflects jobs
    that use tensor parallelism, so tp changes memory, not MFU.
    """
    cat = default_catalog(catalog)
    if method not in METHODS:
        raise DeployscopeError(f"unknown training method {method!r}", field="method", value=method, allowed=METHODS)
    gpus = _check_int("gpus", gpus)
    seq_len = _check_int("seq_len", seq_len)
    micro_batch = _check_int("micro_batch", micro_batch)
    if recompute not in RECOMPUTE:
        raise DeployscopeError(f"unknown recompute mode {recompute!r}", field="recompute", value=recompute, allowed=RECOMPUTE)
    if zero is None:
        zero = 3 if gpus > 1 else 0
    if isinstance(zero, bool) or zero not in (0, 1, 2, 3):
        raise DeployscopeError(f"must be 0 (DDP), 1, 2 or 3 (got {zero!r})", field="zero", value=zero, allowed="0, 1, 2, 3")
    n_tokens = parse_tokens(tokens)

    acc = gpu if not isinstance(gpu, str) else cat.accelerators.get(gpu, field="gpu")
    a = arch if arch is not None else arch_of(model, cat)
    mrow = method_row(cat, method).method
    if optimizer is None:
        optimizer = "adamw"
    orow = optimizer_row(cat, optimizer).optimizer
    mem = _single(cat, "memory").memory
    energy = _single(cat, "energy").energy
    eff_row, fitted_family = mfu_row(cat, acc.family)
    eff = eff_row.mfu

    # ---- compute
    mult = mrow.compute_multiplier
    f_dense = float(dense_flops(a.active_params, n_tokens, mult))
    f_att = float(attention_flops(a.n_layers, a.attn_dim, seq_len, n_tokens, mult))
    flops = f_dense + f_att
    executed = float(dense_flops(a.executed_params, n_tokens, mult)) + f_att  # no FLOPs for the embedding lookup
    peak = acc.peak_flops("bf16")
    ridge = ridge_of(acc)

    # ---- trainable parameters and memory
    if mrow.trainable == "all":
        trainable = a.total_params
    else:
        trainable = lora_params(a, mrow.lora_rank or 16, mrow.lora_targets)
    dp = gpus
    act_keep = {"none": 1.0, "selective": mem.selective_share, "full": mem.recompute_bytes_per_token_hidden / mem.activation_bytes_per_token_hidden}[recompute]
    one_layer = mem.activation_bytes_per_token_hidden if recompute == "full" else 0.0
    logits_chunks = _check_int("logits_chunks", logits_chunks)
    if activation_offload:
        act_keep, one_layer = 0.0, mem.activation_bytes_per_token_hidden
    act = float(activation_bytes(micro_batch, seq_len, a.n_layers, a.hidden, mem.activation_bytes_per_token_hidden, act_keep, one_layer))
    logits = micro_batch * seq_len * a.vocab * mem.logits_bytes_per_token_vocab / logits_chunks
    full_train = mrow.trainable == "all"
    grad_bytes = orow.grad_bytes_per_param / (a.n_layers if optimizer_in_backward else 1.0)

    def mem_at(g: Any, t: Any) -> Any:
        t = np.asarray(t, dtype=float)
        return memory_per_gpu(
            a.total_params / t,
            trainable / t,
            mrow.base_weight_bits,
            grad_bytes,
            orow.state_bytes_per_param,
            zero,
            np.asarray(g, dtype=float) / t,
            act / t,
            logits / t,
            mem.framework_overhead_bytes,
            trainable_is_base=full_train,
        )

    cap = float(acc.memory_bytes)
    domain = acc.interconnect.domain_size
    tp_options = [t for t in (1, 2, 4, 8) if t <= max(1, domain)]
    if tp is not None:
        tp = _check_int("tp", tp)
        if gpus % tp:
            raise DeployscopeError(f"must divide gpus ({gpus}) (got {tp})", field="tp", value=tp)
        chosen_tp = tp
    else:
        fitting = [t for t in tp_options if gpus % t == 0 and float(mem_at(gpus, t)) <= cap]
        usable = [t for t in tp_options if gpus % t == 0]
        chosen_tp = fitting[0] if fitting else usable[-1]
    dp = gpus // chosen_tp
    mem_bytes = float(mem_at(gpus, chosen_tp))
    weights_b = (a.total_params * mrow.base_weight_bits / 8 + (0 if full_train else trainable * 2)) / chosen_tp
    breakdown = {
        "weights": weights_b / (dp if zero >= 3 else 1),
        "gradients": trainable / chosen_tp * grad_bytes / (dp if zero >= 2 else 1),
        "optimizer": trainable / chosen_tp * orow.state_bytes_per_param / (dp if zero >= 1 else 1),
        "activations": act / chosen_tp,
        "logits": logits / chosen_tp,
        "framework": mem.framework_overhead_bytes,
    }
    fits = mem_bytes <= cap
    min_gpus = _fewest_gpus(a.total_params, trainable, mrow.base_weight_bits, grad_bytes, orow.state_bytes_per_param, zero,
                            act, logits, mem.framework_overhead_bytes, full_train, cap, tuple([tp] if tp is not None else tp_options))

    # ---- MFU before the network
    base = float(mfu_model(eff.mfu_ref, eff.ref_gpus, eff.scale_exponent, eff.width_coeff, ridge, a.hidden, gpus))  # of executed FLOPs
    gemm = float(gemm_factor(micro_batch * seq_len, a.hidden, chosen_tp, ridge))  # 1 unless the per-GPU matmuls are memory-bound
    base *= gemm
    rc = recompute_factor(recompute, method)
    base *= mrow.throughput_factor * rc

    # ---- network: data-parallel traffic per step vs compute per step
    if global_batch_tokens is None:
        global_batch_tokens = mrow_global_batch(method)
    tokens_per_gpu_step = global_batch_tokens / gpus
    step_flops_per_gpu = executed / n_tokens * tokens_per_gpu_step
    t_compute = step_flops_per_gpu / (peak * base)
    traffic = float(dp_traffic_bytes(trainable / chosen_tp, a.total_params / chosen_tp if zero >= 3 else 0.0, zero, dp))
    nets = network_rows(cat)
    ref_net = network_row(cat, eff.reference_network)
    chosen = network_row(cat, network) if network else ref_net

    def comm_time(net_row: Any) -> float:
        if gpus <= 1:
            return 0.0
        if gpus <= domain:
            bw = acc.link_bytes_per_s
        else:
            bw = min(acc.link_bytes_per_s, net_row.network.bytes_per_s_per_gpu) if acc.link_bytes_per_s > 0 else net_row.network.bytes_per_s_per_gpu
        return traffic / bw

    t_comm = comm_time(chosen)
    t_comm_ref = comm_time(ref_net)
    # the fitted MFU already contains whatever the reference fabric cost; penalize only the excess
    ref_step = max(t_compute, t_comm_ref)
    net_factor = ref_step / max(t_compute, t_comm) if t_comm > 0 else 1.0
    net_factor = min(1.0, net_factor)
    eta = base * net_factor  # share of peak doing executed FLOPs
    seconds_busy = executed / (peak * eta)  # GPU-seconds of steady-state training
    mfu = flops / (peak * seconds_busy)  # public convention: 6 N D (all parameters) + attention
    hfu = mfu / rc if rc else mfu

    achieved = peak * mfu
    tokens_per_s = n_tokens / (seconds_busy / gpus)
    goodput = float(goodput_at(eff.goodput, eff.goodput_ref_gpus, gpus))
    seconds_gpu = seconds_busy / goodput  # whole run: interruptions and restarts included
    gpu_hours = seconds_gpu / SECONDS_PER_HOUR
    wall_days = seconds_gpu / gpus / SECONDS_PER_DAY
    server_w = energy.server_w_per_gpu.get(acc.family, energy.server_w_per_gpu.get("default", 0.0))
    energy_kwh = gpu_hours * (acc.tdp_w * energy.gpu_power_fraction + server_w) / 1000.0

    advice = _network_advice(nets, gpus, domain, traffic, t_compute, acc, chosen, t_comm, zero, trainable)

    band = _training_error_band(cat)
    assumptions = [
        f"FLOPs = {mult:g} x (6 N + 12 L d s) per token with N = {a.active_params / 1e9:.2f}B active parameters, s = {seq_len}",
        f"MFU model row {eff_row.id} ({'fitted for ' + acc.family if fitted_family else 'no row for family ' + acc.family + ': default row used'})",
        f"global batch {global_batch_tokens:,.0f} tokens per optimizer step (data-parallel traffic per step)",
        f"goodput {goodput:.3f} at {gpus} GPUs: GPU-hours and wall-clock include interruptions and restarts (tokens/s and MFU do not)",
        f"width term: 1 / (1 + {eff.width_coeff:g} x ridge {ridge:.0f} FLOP/B / hidden {a.hidden:.0f}) = {1.0 / (1.0 + eff.width_coeff * ridge / max(a.hidden, 1.0)):.3f}",
        f"per-GPU GEMM {micro_batch * seq_len} tokens x hidden {a.hidden:.0f} / tp {chosen_tp}: roofline factor {gemm:.3f} (1 = compute-bound)",
        f"energy: GPU at {energy.gpu_power_fraction:g} x TDP ({acc.tdp_w:g} W) + {server_w:g} W server share per GPU, before PUE",
        f"memory: tensor parallel {chosen_tp} x {('ZeRO-' + str(zero)) if zero else 'DDP'} over {dp} data-parallel ranks, optimizer {orow.optimizer}, recompute {recompute}, micro-batch {micro_batch}",
    ]
    if not a.from_catalog:
        assumptions.append(f"model not in the catalog: generic dense decoder of {a.total_params / 1e9:.2f}B, d_model/layers = {ASPECT_RATIO_ASSUMPTION:g}")
    sources = sorted({eff_row.source, mem and _single(cat, 'memory').source, _single(cat, 'energy').source, chosen.source, method_row(cat, method).source})
    return TrainingResult(
        model=a.name,
        gpu=acc.id,
        gpus=gpus,
        method=method,
        tokens=n_tokens,
        seq_len=seq_len,
        micro_batch=micro_batch,
        zero=zero,
        tp=chosen_tp,
        optimizer=orow.optimizer,
        recompute=recompute,
        flops=flops,
        flops_dense=f_dense,
        flops_attention=f_att,
        flops_executed=executed,
        mfu=mfu,
        hfu=hfu,
        achieved_flops_per_gpu=achieved,
        tokens_per_s=tokens_per_s,
        gpu_hours=gpu_hours,
        goodput=goodput,
        wall_days=wall_days,
        energy_kwh=energy_kwh,
        memory_per_gpu_bytes=mem_bytes,
        memory_breakdown=breakdown,
        gpu_memory_bytes=cap,
        fits=fits,
        min_gpus=min_gpus,
        trainable_params=trainable,
        total_params=a.total_params,
        interconnect=advice,
        error_band=band,
        assumptions=assumptions,
        sources=[s for s in sources if s],
    )


def mrow_global_batch(method: str) -> float:
    """Default tokens per optimizer step: 4M for pretraining (Llama 2 paper, sec 2.2), 128K for fine-tuning."""
    return 4_194_304.0 if method == "pretrain" else 131_072.0


def _network_advice(nets, gpus, domain, traffic, t_compute, acc, chosen, t_comm, zero, trainable) -> dict[str, Any]:  # noqa: ANN001
    nodes = math.ceil(gpus / domain)
    if gpus <= domain:
        return {
            "needed": None,
            "why": f"all {gpus} GPUs sit in one {acc.interconnect.kind} domain of {domain}: data-parallel traffic stays on the scale-up links",
            "needed_bytes_per_s_per_gpu": 0.0,
            "traffic_bytes_per_gpu_per_step": traffic,
            "compute_s_per_step": t_compute,
            "comm_s_per_step": t_comm,
            "network": None,
            "options": [],
        }
    options = []
    needed = None
    for r in nets:
        bw = r.network.bytes_per_s_per_gpu
        t = traffic / min(bw, acc.link_bytes_per_s or bw)
        share = t / t_compute if t_compute > 0 else float("inf")
        options.append({"network": r.id, "name": r.network.name, "bytes_per_s_per_gpu": bw, "comm_s_per_step": t, "comm_share_of_compute": share, "exposed": share > 1.0})
        if needed is None and share <= 0.5:
            needed = r
    what = "ZeRO-3/FSDP weight all-gathers + gradient reduce-scatter" if zero >= 3 else "gradient all-reduce"
    why = (
        f"{nodes} nodes: each GPU sends {traffic / 1e9:,.1f} GB of {what} per optimizer step "
        f"({trainable / 1e9:,.2f}B trainable parameters) against {t_compute:,.2f} s of compute per step; "
    )
    if needed is not None:
        why += (
            f"it needs >= {traffic / (0.5 * t_compute) / 1e9:,.1f} GB/s per GPU to keep communication under half the compute time "
            f"(overlap then hides it): {needed.network.name} ({needed.network.bytes_per_s_per_gpu / 1e9:,.1f} GB/s per GPU) is the slowest catalog fabric that does"
        )
    else:
        why += "no catalog fabric keeps it under half the compute time: raise the global batch, use tensor/pipeline parallelism, or accept exposed communication"
    return {
        "needed": needed.id if needed is not None else None,
        "needed_bytes_per_s_per_gpu": traffic / (0.5 * t_compute) if t_compute > 0 else None,
        "why": why,
        "traffic_bytes_per_gpu_per_step": traffic,
        "compute_s_per_step": t_compute,
        "comm_s_per_step": t_comm,
        "network": chosen.id,
        "options": options,
    }


def _training_error_band(catalog: Any) -> dict[str, Any]:
    """Multipliers on the central GPU-hours figure from the catalog's error_bands table (see docs/training.md)."""
    row = find_band(catalog, "training", "gpu_hours")
    return row.as_dict() if row is not None else {"low": None, "high": None, "rows": 0, "source": "no training band in the catalog"}
