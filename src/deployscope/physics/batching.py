"""The mean-field serving model of one replica under continuous (in-flight) batching.

``B`` sequences share every step; each request's ``O`` output tokens take ``O`` steps, the first
of which also prefills its ``I`` prompt tokens, so an average step carries ``B (O-1)/O`` decode
tokens reading ``I + O/2`` tokens of KV each, and ``B I / O`` prefill tokens (chunked prefill
spreads them; without chunking the work is the same, only the per-step jitter grows).
Throughput = ``B`` tokens per step cycle. The KV cache caps ``B``: ``capacity / (I + O)`` when
the engine reserves a sequence's final length up front (TensorRT-LLM), ``capacity / (I + O/2)``
when it allocates pages as tokens arrive (vLLM, SGLang). The engine's ``max_batch_size`` caps it
too. Everything here is numpy-vectorized so one call answers a sweep.
"""

from __future__ import annotations

import math

import numpy as np

from . import comm, llm
from .perf_types import Percentiles
from .serving_context import Context, context, memory_budget


def steady_state(ctx: Context, batch, input_len, output_len, *, tp=1, pp=1, ep=1, prefix_hit=0.0, spec=None, crowd_z=0.0,  # noqa: ANN001
                 throughput: bool = True, ttft: bool = True):
    """Step time and throughput of one replica holding `batch` sequences (vectorized).

    Returns ``cycle`` (seconds per token per sequence = TPOT), ``tokens_per_s`` (output, replica),
    ``requests_per_s``, ``step`` (the per-stage step cost dict) and ``ttft_service`` (the time a
    request's own prefill takes inside such steps). ``crowd_z``: the request's prefill step carries
    the prompts of ``crowd_z`` standard deviations more arrivals than the average step (Poisson
    arrivals per step), for TTFT quantiles. A search that reads only the throughput side (cycle,
    TPOT, rates, step) passes ``ttft=False``, one that reads only ``ttft_service`` passes
    ``throughput=False``: each side is a step-cost evaluation the other does not need.
    """
    B = np.asarray(batch, dtype=float)
    I = np.asarray(input_len, dtype=float)
    O = np.asarray(output_len, dtype=float)
    pp_a = np.asarray(pp, dtype=float)
    encoder = ctx.shape.encoder_only
    O_eff = np.maximum(O, 1.0)
    I_new = I * (1.0 - np.asarray(prefix_hit, dtype=float))
    # one micro-batch per stage, of whole sequences: below pp sequences some stages idle (bubble)
    Bm = B / comm.pp_microbatches(pp_a, B)  # sequences per micro-batch
    if encoder:
        dec = 0.0 * Bm
        pre = Bm * I_new
        pre_seqs = Bm
    else:
        dec = Bm * (O_eff - 1.0) / O_eff
        pre = Bm * I_new / O_eff
        pre_seqs = Bm / O_eff
    dec_ctx = I + O_eff / 2.0
    pre_ctx = I - I_new / 2.0
    accept_tokens = 1.0
    if spec is not None and not encoder:
        k = float(spec.get("draft_tokens", 0))
        a = float(spec.get("acceptance", 0.0))
        accept_tokens = (1.0 - a ** (k + 1.0)) / (1.0 - a) if a < 1.0 else k + 1.0
        dec = dec * (k + 1.0)
    max_tokens = float(ctx.engine.perf.max_num_tokens)
    out = _throughput_side(ctx, B, I, O_eff, I_new, pp_a, dec, pre, pre_seqs, dec_ctx, pre_ctx, max_tokens, accept_tokens, spec,
                           tp, pp, ep) if throughput else {}
    if ttft:
        out["ttft_service"] = _ttft_side(ctx, I, I_new, pp_a, dec, pre, pre_seqs, dec_ctx, max_tokens, crowd_z, tp, pp, ep)
    return out


def _throughput_side(ctx: Context, B, I, O_eff, I_new, pp_a, dec, pre, pre_seqs, dec_ctx, pre_ctx, max_tokens, accept_tokens,  # noqa: ANN001, ANN202
                     spec, tp, pp, ep):
    encoder = ctx.shape.encoder_only
    # prompts arrive in lumps (a whole prompt, or a chunk the size of the step's token budget),
    # so only a fraction `share` of steps carries prefill and the rest are decode-only steps;
    # costing the average step instead would overlap decode weight reads with prefill compute
    lump = np.maximum(np.minimum(I_new, np.maximum(max_tokens - dec, 1.0) if ctx.engine.perf.chunked_prefill else max_tokens), 1.0)
    share = 1.0 if encoder else np.clip(pre / lump, 1e-9, 1.0)
    step = llm.step_cost(
        ctx.shape,
        ctx.hw,
        decode_tokens=dec,
        prefill_tokens=pre / share,
        decode_ctx=dec_ctx,
        prefill_ctx=pre_ctx,
        prefill_seqs=pre_seqs / share,
        tp=tp,
        pp=pp,
        ep=ep,
    )
    stage = step["time"]
    if not encoder:
        dec_only = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=dec, prefill_tokens=0.0 * pre, decode_ctx=dec_ctx,
                                 prefill_ctx=pre_ctx, prefill_seqs=0.0 * pre_seqs, tp=tp, pp=pp, ep=ep)["time"]
        stage = share * stage + (1.0 - share) * dec_only
    if spec is not None and not encoder:
        stage = stage * (1.0 + float(spec.get("draft_cost", 0.0)))
    cycle = pp_a * stage
    if encoder:
        req_s = B / cycle
        tok_s = 0.0 * req_s
        tpot = np.full_like(cycle, np.nan)
    else:
        tok_s = B * accept_tokens / cycle
        req_s = tok_s / O_eff
        tpot = cycle / accept_tokens
    return {"cycle": cycle, "tpot": tpot, "tokens_per_s": tok_s, "requests_per_s": req_s, "step": step}


def _ttft_side(ctx: Context, I, I_new, pp_a, dec, pre, pre_seqs, dec_ctx, max_tokens, crowd_z, tp, pp, ep):  # noqa: ANN001, ANN202
    # a request's own prefill: its prompt in chunks of the step token budget, alongside the decodes
    # and the other prompts an average step carries; an engine that does not chunk still splits a
    # prompt longer than its step token limit (TensorRT-LLM needs chunked context for those)
    budget = np.maximum(max_tokens - dec, 1.0)
    whole = np.maximum(I_new, 1.0)
    chunk = np.minimum(whole, budget) if ctx.engine.perf.chunked_prefill else np.minimum(whole, max_tokens)
    n_chunks = np.ceil(whole / chunk)
    own = llm.step_cost(
        ctx.shape,
        ctx.hw,
        decode_tokens=dec,
        prefill_tokens=np.minimum(np.maximum(chunk, pre + crowd_z * np.sqrt(pre_seqs) * I_new), np.maximum(chunk, budget)),
        decode_ctx=dec_ctx,
        prefill_ctx=I - I_new + chunk / 2.0,
        prefill_seqs=np.maximum(1.0, pre_seqs + crowd_z * np.sqrt(pre_seqs)),
        tp=tp,
        pp=pp,
        ep=ep,
    )["time"]
    return pp_a * own * n_chunks + ctx.hw.request_overhead_s


def decaying_reservation(ctx: Context, output_len: float | np.ndarray) -> np.ndarray:
    """KV a running sequence holds back for its remaining output under SGLang's admission, in the
    steady state: new_token_ratio at its floor (init x min_factor; the ratio falls by
    (init - floor) / decay_steps every decode step and only a retraction or an idle scheduler raises
    it) x the remaining output clipped at clip_max_new_tokens, averaged over a sequence's progress
    (remaining uniform on [0, O]). The newly admitted request's own full reservation (prompt +
    clipped output) is one sequence's worth and left out."""
    nt = ctx.engine.perf.new_token_ratio
    O = np.asarray(output_len, dtype=float)
    c = float(nt.clip_max_new_tokens)
    mean_left = np.where(O <= c, O / 2.0, c - c * c / (2.0 * np.maximum(O, 1.0)))
    return np.asarray(nt.init * nt.min_factor * mean_left, dtype=float)


def max_batch(ctx: Context, input_len, output_len, *, tp=1, pp=1, ep=1, kv_tokens=None, engine_cap=True):  # noqa: ANN001
    """The most sequences one replica holds: KV capacity / tokens reserved per sequence, and (unless
    `engine_cap` is off) the engine's sequence cap."""
    if kv_tokens is None:
        kv_tokens = memory_budget(ctx, tp, pp, ep)["kv_capacity_tokens"]
    I = np.asarray(input_len, dtype=float)
    O = np.asarray(output_len, dtype=float)
    if ctx.shape.encoder_only:
        per_seq = I
    elif ctx.engine.perf.kv_reservation == "full":
        per_seq = I + O
    elif ctx.engine.perf.kv_reservation == "decaying":
        per_seq = I + O / 2.0 + decaying_reservation(ctx, O)
    else:
        per_seq = I + O / 2.0
    # the engine's sequence cap holds per attention group (each data-parallel rank schedules its own)
    dp = np.maximum(1.0, np.floor(np.asarray(ep, dtype=float) / np.asarray(tp, dtype=float)))
    by_kv = np.floor(kv_tokens / np.maximum(per_seq, 1.0))
    return np.minimum(by_kv, float(ctx.engine.perf.max_batch_size) * dp) if engine_cap else by_kv


def max_throughput_points(
    model: str,
    gpu: str,
    *,
    tp=1,  # noqa: ANN001
    pp=1,  # noqa: ANN001
    ep=1,  # noqa: ANN001
    input_len,  # noqa: ANN001
    output_len,  # noqa: ANN001
    quant: str = "bf16",
    kv_quant: str | None = None,
    engine: str = "vllm",
    calibration=None,  # noqa: ANN001
    catalog=None,  # noqa: ANN001
    ctx: Context | None = None,
    ttft: bool = True,
) -> dict[str, np.ndarray]:
    """Max-throughput operating points for arrays of tp / pp / ep / lengths (broadcast together).

    Returns arrays: ``fits``, ``batch_size``, ``output_tokens_per_s`` (one replica),
    ``output_tokens_per_s_per_gpu``, ``requests_per_s``, ``ttft_s``, ``tpot_s``. Points that do not
    fit get batch 0 and NaN figures. ``ttft=False`` leaves ``ttft_s`` out (a screen that ranks by
    throughput skips the prefill step it costs).
    """
    if ctx is None:
        ctx = context(model, gpu, quant=quant, kv_quant=kv_quant, engine=engine, calibration=calibration, catalog=catalog)
    tp_a, pp_a, ep_a, I, O = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (tp, pp, ep, input_len, output_len)))
    B = max_batch(ctx, I, O, tp=tp_a, pp=pp_a, ep=ep_a)
    t = ctx.model.transformer
    valid = (np.mod(t.num_attention_heads, tp_a) == 0) & (pp_a <= t.num_layers)
    if t.moe is not None:
        valid &= np.mod(t.moe.num_experts, ep_a) == 0
    else:
        valid &= ep_a == 1
    fits = (B >= 1) & valid
    Bs = np.where(fits, B, 1.0)
    s = steady_state(ctx, Bs, I, O, tp=tp_a, pp=pp_a, ep=ep_a, ttft=ttft)
    nan = np.nan
    gpus = pp_a * np.maximum(tp_a, ep_a)
    tok = np.where(fits, s["tokens_per_s"], nan)
    out = {
        "fits": fits,
        "batch_size": np.where(fits, B, 0.0),
        "output_tokens_per_s": tok,
        "output_tokens_per_s_per_gpu": tok / gpus,
        "requests_per_s": np.where(fits, s["requests_per_s"], nan),
    }
    if ttft:
        out["ttft_s"] = np.where(fits, s["ttft_service"], nan)
    out["tpot_s"] = np.where(fits, s["tpot"], nan)
    return out


def batch_at_rate(ctx: Context, lam, I, O, *, tp, pp, ep, b_max, prefix_hit=0.0, spec=None):  # noqa: ANN001
    """Sequences in flight at an offered request rate `lam` (per replica): the root of
    g(B) = lam x (time a request holds a slot at batch B) - B on [0, b_max], by vectorized
    regula falsi (Illinois): TPOT is nearly affine in B, so a few iterations suffice."""
    lam = np.asarray(lam, dtype=float)
    O_eff = max(float(np.max(O)) if np.ndim(O) else float(O), 1.0)

    def g(B):  # noqa: ANN001, ANN202
        s = steady_state(ctx, np.maximum(B, 1e-9), I, O, tp=tp, pp=pp, ep=ep, prefix_hit=prefix_hit, spec=spec, ttft=False)
        hold = s["cycle"] if ctx.shape.encoder_only else (np.maximum(O, 1.0) * s["cycle"] / (s["tokens_per_s"] * s["cycle"] / np.maximum(B, 1e-9)))
        return lam * hold - B

    del O_eff
    lo = np.zeros_like(lam) + 1e-9
    hi = np.zeros_like(lam) + float(np.max(b_max))
    glo = g(lo)
    ghi = g(hi)
    saturated = ghi >= 0
    side = np.zeros_like(lam)
    B = hi.copy()
    for _ in range(40):
        B = np.where(saturated, hi, (lo * ghi - hi * glo) / np.where(ghi - glo == 0, 1.0, ghi - glo))
        B = np.clip(B, lo, hi)
        gb = g(B)
        done = np.abs(gb) <= 1e-6 * np.maximum(B, 1.0)
        if np.all(done | saturated):
            break
        pos = gb > 0
        lo = np.where(pos, B, lo)
        glo = np.where(pos, gb, np.where(side > 0, glo / 2.0, glo))
        hi = np.where(~pos, B, hi)
        ghi = np.where(~pos, gb, np.where(side < 0, ghi / 2.0, ghi))
        side = np.where(pos, 1.0, -1.0)
    return np.minimum(B, b_max)



# an offered rate at or above capacity is evaluated just below it (and flagged saturated), so the
# searches and a row measured near saturation get finite figures
NEAR_SATURATION = 0.99


def ttft_percentiles(service, cycle, wait_mean) -> Percentiles:  # noqa: ANN001
    """TTFT quantiles: own prefill + the wait for the next step (uniform) + an exponential queue wait."""

    def q(p: float) -> float:
        return float(service + p * cycle + wait_mean * -math.log(1.0 - p))

    return Percentiles(mean=float(service + 0.5 * cycle + wait_mean), p50=q(0.5), p90=q(0.9), p99=q(0.99))


def batch_meeting_tpot(ctx: Context, tpot_limit: float, I, O, *, tp=1, pp=1, ep=1, b_max, prefix_hit=0.0, spec=None) -> float:  # noqa: ANN001
    """The largest batch whose TPOT meets `tpot_limit` (the scheduler cap an SLO-tuned engine runs
    with), by bisection on the monotone step cost; 0 when even one sequence misses it."""
    kw = dict(tp=tp, pp=pp, ep=ep, prefix_hit=prefix_hit, spec=spec)
    b_max = float(b_max)
    if b_max < 1:
        return 0.0
    kw["ttft"] = False  # only the TPOT is read
    if float(steady_state(ctx, b_max, I, O, **kw)["tpot"]) <= tpot_limit:
        return b_max
    if float(steady_state(ctx, 1.0, I, O, **kw)["tpot"]) > tpot_limit:
        return 0.0
    grid = np.unique(np.round(np.geomspace(1.0, b_max, 48)))
    ok = steady_state(ctx, grid, I, O, **kw)["tpot"] <= tpot_limit
    i = int(np.flatnonzero(ok)[-1])
    lo, hi = int(grid[i]), int(grid[i + 1]) if i + 1 < grid.size else int(b_max)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if float(steady_state(ctx, float(mid), I, O, **kw)["tpot"]) <= tpot_limit:
            lo = mid
        else:
            hi = mid
    return float(lo)


def slot_wait(lam, capacity, slots):  # noqa: ANN001, ANN201
    """Queueing for a free slot of a batch: an M/M/c queue with c = `slots` sequences, served at
    `capacity` requests/s when full, by the Halfin-Whitt approximation of the probability of
    waiting (exact in the many-slot limit engines run in). Returns (probability of waiting,
    the rate at which the wait decays, 1/s): the wait exceeds t with probability
    P x exp(-decay x t), so its mean is P / decay."""
    lam = np.asarray(lam, dtype=float)
    c = np.maximum(np.asarray(slots, dtype=float), 1.0)
    rho = np.clip(lam / capacity, 0.0, NEAR_SATURATION)
    beta = (1.0 - rho) * np.sqrt(c)
    phi = np.exp(-0.5 * beta * beta) / math.sqrt(2.0 * math.pi)
    Phi = 0.5 * (1.0 + _erf(beta / math.sqrt(2.0)))
    with np.errstate(divide="ignore", over="ignore"):
        p_wait = np.where(rho > 0, 1.0 / (1.0 + beta * Phi / phi), 0.0)
    return p_wait, capacity * (1.0 - rho)


_erf = np.vectorize(math.erf, otypes=[float])


def scheduler_cap(ctx: Context, I, O, *, tp=1, pp=1, ep=1, b_max, tpot_limit=None, prefix_hit=0.0, spec=None) -> float:  # noqa: ANN001
    """The batch the scheduler runs at most: the KV / engine cap `b_max`, and with a TPOT limit
    the largest batch that meets it (at least one sequence)."""
    b_cap = float(b_max)
    if tpot_limit is not None and not ctx.shape.encoder_only:
        b_cap = max(min(b_cap, batch_meeting_tpot(ctx, tpot_limit, I, O, b_max=b_max, tp=tp, pp=pp, ep=ep,
                                                  prefix_hit=prefix_hit, spec=spec)), 1.0)
    return b_cap


def rate_point(ctx: Context, lam, I, O, *, tp=1, pp=1, ep=1, b_max=None, tpot_limit=None, prefix_hit=0.0, spec=None,  # noqa: ANN001
               b_cap: float | None = None):
    """The operating point of one replica at offered request rates `lam` (requests/s; vectorized).

    The scheduler model: without a TPOT limit, the in-flight batch solves Little's law (``lam``
    x the time a request holds a slot = ``B``) under the cap ``b_max`` (KV capacity, engine
    cap). With a TPOT limit (a server/interactive SLO the engine is tuned to, as in MLPerf Server
    and in a fleet sized for an SLO), the engine runs the largest batch that meets the limit and
    fits the KV cache, whatever the offered rate; the rate sets the queueing. TTFT = the wait for
    a free slot (:func:`slot_wait`) + the wait for the step that takes the request in (uniform over
    one step, or over the engine's ``admission_interval_steps`` while sequences decode) + the
    request's own prefill. A rate at or above capacity is flagged ``saturated`` and evaluated at
    ``NEAR_SATURATION`` x capacity. Returns arrays: ``batch``, ``capacity`` (requests/s at the
    scheduler's batch cap), ``batch_cap``, ``saturated``, ``ttft_mean``, ``ttft_p50``,
    ``ttft_p90``, ``ttft_p95``, ``ttft_p99``, ``tpot``, ``cycle``, ``ttft_service``, ``wait``,
    ``step`` (the step cost dict) and ``requests_per_s``. ``b_cap``: the :func:`scheduler_cap`
    of these arguments when the caller already has it (a search over rates asks many times).
    """
    lam = np.asarray(lam, dtype=float)
    kw = dict(tp=tp, pp=pp, ep=ep, prefix_hit=prefix_hit, spec=spec)
    if b_cap is None:
        if b_max is None:
            b_max = float(max_batch(ctx, I, O, tp=tp, pp=pp, ep=ep))
        b_cap = scheduler_cap(ctx, I, O, b_max=b_max, tpot_limit=tpot_limit, **kw)
    lam_max = float(steady_state(ctx, b_cap, I, O, ttft=False, **kw)["requests_per_s"])
    saturated = lam >= lam_max
    safe = np.minimum(lam, NEAR_SATURATION * lam_max)
    if tpot_limit is not None:
        B = np.full_like(safe, b_cap)
    else:
        B = batch_at_rate(ctx, safe, I, O, b_max=b_cap, **kw)
    st = steady_state(ctx, B, I, O, **kw)
    p_wait, decay = slot_wait(safe, lam_max, b_cap)
    service, cycle = st["ttft_service"], st["cycle"]
    # the wait for the step that takes the request in: uniform over one step, or over the
    # admission interval while sequences decode (an idle scheduler takes a request in at once;
    # below one sequence in flight, B is the chance that one is)
    interval = float(ctx.engine.perf.admission_interval_steps)
    intake = cycle * (1.0 + (interval - 1.0) * np.minimum(B, 1.0))
    # the step that carries a request's prefill carries a Poisson number of other prompts too:
    # its quantiles (normal approximation) set the TTFT tail
    z = {0.5: 0.0, 0.9: 1.2816, 0.99: 2.3263}
    service_at = {p: service if not zq else steady_state(ctx, B, I, O, crowd_z=zq, throughput=False, **kw)["ttft_service"]
                  for p, zq in z.items()}

    def q(p: float):  # noqa: ANN202
        return service_at[p] + p * intake + np.log(np.maximum(p_wait / (1.0 - p), 1.0)) / decay

    return {
        "batch": B,
        "capacity": lam_max,
        "batch_cap": b_cap,
        "saturated": saturated,
        "ttft_mean": service + 0.5 * intake + p_wait / decay,
        "ttft_p50": q(0.5),
        "ttft_p90": q(0.9),
        "ttft_p95": q(0.9) + (math.log(20) - math.log(10)) / (math.log(100) - math.log(10)) * (q(0.99) - q(0.9)),
        "ttft_p99": q(0.99),
        "tpot": st["tpot"],
        "cycle": cycle,
        "ttft_service": service,
        "wait": p_wait / decay,
        "step": st["step"],
        "requests_per_s": np.minimum(lam, lam_max) + 0.0 * B,
    }


def static_batch(ctx: Context, batch: float, I: float, O: float, *, tp=1, pp=1, ep=1) -> tuple[float, float]:  # noqa: ANN001
    """(end-to-end seconds, TTFT seconds) of one static batch: all prompts prefilled in one step,
    then ``O - 1`` decode steps of the whole batch (the batch-latency benchmarks' protocol)."""
    ppf = float(pp)
    m = float(comm.pp_microbatches(ppf, batch))  # micro-batches of whole sequences

    def step(decode: float, prefill: float, dctx: float, pctx: float, seqs: float, slots: float) -> float:
        c = llm.step_cost(ctx.shape, ctx.hw, decode_tokens=decode / m, prefill_tokens=prefill / m, decode_ctx=dctx,
                          prefill_ctx=pctx, prefill_seqs=seqs / m, tp=tp, pp=pp, ep=ep)
        return float(slots * c["time"])

    # the prefill fills an empty pipeline: m + pp - 1 stage slots (GPipe's bubble
    # (pp - 1) / (m + pp - 1)); decode micro-batches then circulate, one token per pp slots
    pre = step(0.0, batch * I, 0.0, I / 2.0, batch, m + ppf - 1.0) + ctx.hw.request_overhead_s
    if O <= 1:
        return pre, pre
    dec = step(batch, 0.0, I + O / 2.0, 0.0, 0.0, ppf)
    return pre + (O - 1.0) * dec, pre


def choose_parallelism(ctx: Context, gpus: int, I: float, O: float, *, sizes=(1, 2, 4, 8, 16, 32, 64)) -> tuple[int, int, int]:  # noqa: ANN001
    """(tp, pp, ep) of the replica split of `gpus` with the highest max throughput: tensor
    parallelism over the divisors of `gpus` that divide the attention heads (pp = 1); for a
    mixture of experts also attention data parallelism with the experts spread over the replica
    (tp = 1, ep = replica size: the layout the engines document for serving MoE models at
    scale). Raises ValueError when the model fits at no size."""
    t = ctx.model.transformer
    moe = t.moe is not None
    best: tuple[float, int, int] | None = None
    for n in sizes:
        if n > gpus or gpus % n:
            continue
        layouts = []
        if t.num_attention_heads % n == 0:
            layouts.append((n, 1))
        if moe and n > 1 and t.moe.num_experts % n == 0:
            layouts.append((1, n))
        for tp, ep in layouts:
            pts = max_throughput_points(None, None, ctx=ctx, tp=tp, pp=1, ep=ep, input_len=I, output_len=O)
            if not bool(np.asarray(pts["fits"])):
                continue
            total = float(pts["output_tokens_per_s"]) * (gpus // n)
            if best is None or total > best[0] * (1 + 1e-9):
                best = (total, tp, ep)
    if best is None:
        raise ValueError("the model does not fit on these GPUs at any tensor-parallel or expert-parallel size")
    return best[1], 1, best[2]
