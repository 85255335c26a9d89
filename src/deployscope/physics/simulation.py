"""Discrete-event simulation of one replica's scheduler, request by request.

The same step-cost model as the mean-field path (:mod:`deployscope.physics.llm`), stepped under
Poisson, all-at-once or closed-loop arrivals, for latency percentiles.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ..errors import DeployscopeError
from . import llm
from .perf_types import Percentiles, SimResult
from .serving_context import Context, context, memory_budget


def _pct(x: np.ndarray) -> Percentiles:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return Percentiles(mean=None, p50=None, p90=None, p99=None)
    p = np.percentile(x, [50, 90, 99])
    return Percentiles(mean=float(x.mean()), p50=float(p[0]), p90=float(p[1]), p99=float(p[2]))


def simulate(
    model: str | None = None,
    gpu: str | None = None,
    *,
    tp: int = 1,
    pp: int = 1,
    ep: int = 1,
    quant: str = "bf16",
    kv_quant: str | None = None,
    engine: str = "vllm",
    input_len: float | Sequence[float] = 512,
    output_len: float | Sequence[float] = 128,
    rate: float | None = None,
    num_requests: int = 500,
    concurrency: int | None = None,
    seed: int = 0,
    warmup: float = 0.0,
    start_delay_s: float = 0.0,
    calibration=None,  # noqa: ANN001
    catalog=None,  # noqa: ANN001
    ctx: Context | None = None,
    step_fn: Callable[[float, float, float, float, float], float] | None = None,
) -> SimResult:
    """Discrete-event simulation of one replica's scheduler under Poisson arrivals.

    ``rate`` is requests/s for the replica (``None`` or ``inf``: all requests arrive at t = 0);
    ``concurrency`` instead runs a closed loop of that many clients. Lengths may be sequences (one
    per request, cycled). Each step admits waiting requests (FIFO) while the batch cap and the KV
    reservations allow, spends the step token budget on decodes first and then on prefill chunks
    (whole prompts when the engine does not chunk), and advances the clock by the step cost of
    exactly that batch (the same cost model as the analytical path). A prompt longer than the
    engine's step token limit is chunked even where the engine does not chunk prompts.
    ``warmup`` (0-1): the fraction of requests, in arrival order, run but left out of the figures
    (a steady-state estimate); 0 counts every request, as a benchmark run does.
    ``start_delay_s``: the engine serves nothing before this time (a benchmark run's first wave
    meeting a fresh server); requests still arrive from t = 0 and the run is timed from there.
    ``step_fn``: the time of one step, given (decode tokens, prefill tokens, mean decode context,
    mean prefill context, prompts the step finishes), in place of the physics' (an engine's
    measured step times, say): the scheduler is then all the simulation adds.
    """
    if ctx is None:
        ctx = context(model, gpu, quant=quant, kv_quant=kv_quant, engine=engine, calibration=calibration, catalog=catalog)  # type: ignore[arg-type]
    if not 0.0 <= warmup < 1.0:
        raise DeployscopeError("warmup must be a fraction in [0, 1)", field="warmup", value=warmup)
    if not (math.isfinite(start_delay_s) and start_delay_s >= 0.0):
        raise DeployscopeError("start_delay_s must be a finite number of seconds >= 0", field="start_delay_s", value=start_delay_s)
    if num_requests < 1:
        raise DeployscopeError("num_requests must be >= 1", field="num_requests", value=num_requests)
    rng = np.random.default_rng(seed)
    n = int(num_requests)
    I = [float(x) for x in np.resize(np.asarray(input_len, dtype=float), n)]
    enc = ctx.shape.encoder_only
    O = [0.0 if enc else max(1.0, float(x)) for x in np.resize(np.asarray(output_len, dtype=float), n)]
    closed = concurrency is not None
    if closed:
        c = min(max(1, int(concurrency)), n)  # more clients than requests: every request at once
        arrival = [0.0 if i < c else math.inf for i in range(n)]
    elif rate is None or not math.isfinite(rate):
        arrival = [0.0] * n
    else:
        arrival = np.cumsum(rng.exponential(1.0 / rate, n)).tolist()
    kv_cap = float(memory_budget(ctx, tp, pp, ep)["kv_capacity_tokens"])
    full_res = ctx.engine.perf.kv_reservation == "full"
    # SGLang's admission (kv_reservation decaying): a request is admitted while the KV held, plus
    # its prompt and clipped output, plus new_token_ratio x the clipped remaining output of every
    # running request, fits the pool; the ratio falls every decode step to its floor, is re-estimated
    # on a retraction and reset when the scheduler idles (managers/schedule_policy.py PrefillAdder,
    # scheduler.py update_running_batch, schedule_batch.py retract_decode)
    decaying = ctx.engine.perf.kv_reservation == "decaying" and not enc
    nt = ctx.engine.perf.new_token_ratio
    r_init, r_min = nt.init, nt.init * nt.min_factor
    r_decay = (r_init - r_min) / nt.decay_steps
    clip = float(nt.clip_max_new_tokens)
    ratio = r_init
    max_b = int(ctx.engine.perf.max_batch_size)
    budget_tokens = float(ctx.engine.perf.max_num_tokens)
    chunked = ctx.engine.perf.chunked_prefill
    mixed = ctx.engine.perf.mixed_prefill
    g = step_fn if step_fn is not None else llm.scalar_step_fn(ctx.shape, ctx.hw, tp, pp, ep)
    ppf = float(pp)
    win = ctx.shape.sliding_window if ctx.shape.sliding_layers else 0.0
    n_all = ctx.shape.full_layers + ctx.shape.sliding_layers

    # integer output lengths: the simulator counts steps
    O = [0.0 if enc else float(max(1, round(x))) for x in O]
    pre_left = list(I)
    first = [math.nan] * n
    done_t = [math.nan] * n
    next_i = 0  # requests are admitted in arrival order (closed loop: in release order)
    order = list(range(n))
    t = float(start_delay_s)
    steps = 0
    dsteps = 0  # steps that ran the decodes (every step when prefill mixes with decode)
    batch_acc = 0.0
    itl_sum, itl_n = 0.0, 0
    prefilling: list[int] = []  # FIFO of admitted requests with prompt tokens left
    # decoding sequences are kept as aggregates: how many, their total context, and the step at
    # which each emits its last token (O(1) work per step however large the batch)
    dec_count = 0
    sum_ctx = 0.0
    finish_at: dict[int, list[int]] = {}
    dec_start: dict[int, int] = {}  # sequence -> step of its first token (sliding windows only)
    reserved = 0.0  # KV tokens reserved (full) or held (average)
    # preemption (engines that allocate KV as tokens arrive: vLLM, SGLang): when the held KV outgrows
    # the pool, the newest decoding sequences are evicted and later recomputed (prompt + the tokens
    # they had generated), ahead of new arrivals
    preempt = not full_res and not enc
    base = list(I)  # context a request's current prefill builds (prompt; + generated after eviction)
    gen_before = [0.0] * n  # tokens a request generated before its current run
    run_start: dict[int, int] = {}  # decoding sequence -> step of its first token in this run
    fin_step: dict[int, int] = {}
    running: dict[int, None] = {}  # decoding sequences in admission order
    requeue: list[int] = []  # evicted requests, next first
    preemptions = 0
    # decaying reservation: the decoding sequences' remaining output is sum_fin - dec_count x dsteps
    # (sum_fin: their last-token decode steps + 1); long_fin holds those whose remaining output
    # exceeds the clip, pend the clipped output of admitted requests still in prefill
    sum_fin = 0.0
    sum_out = 0.0  # their requested output lengths (max_new_tokens)
    long_fin: dict[int, int] = {}
    pend: dict[int, float] = {}
    pending_out = 0.0

    def committed() -> float:
        if not decaying:
            return reserved
        left = sum_fin - dec_count * dsteps - sum(max(0.0, f - dsteps - clip) for f in long_fin.values())
        return float(reserved + ratio * left + pending_out)

    released = c if closed else n
    overhead_first = ctx.hw.request_overhead_s
    # an engine that takes in new requests only every `interval` decode steps (SGLang's
    # --scheduler-recv-interval) admits those that arrived by its last intake; a prefill step or
    # an idle scheduler opens the intake at once (scheduler_recv_skipper.py weights)
    interval = int(ctx.engine.perf.admission_interval_steps)
    intake_t = 0.0
    decodes_since_intake = 0
    last_was_decode_only = False
    while True:
        if interval <= 1 or not last_was_decode_only or decodes_since_intake >= interval or not (prefilling or dec_count):
            intake_t = t
            decodes_since_intake = 0
        # admit: evicted requests first, then arrivals in order
        while requeue and len(prefilling) + dec_count < max_b:
            j = requeue[0]
            out_j = min(O[j] - gen_before[j], clip) if decaying else 0.0
            if (prefilling or dec_count) and committed() + base[j] + out_j > kv_cap:
                break
            reserved += base[j]
            if decaying:
                pend[j] = out_j
                pending_out += out_j
            prefilling.append(requeue.pop(0))
        while not requeue and next_i < released and len(prefilling) + dec_count < max_b:
            j = order[next_i]
            if arrival[j] > intake_t:
                break
            need = I[j] + O[j] if full_res else I[j]
            out_j = min(O[j], clip) if decaying else 0.0
            if (prefilling or dec_count) and committed() + need + out_j > kv_cap:
                break
            reserved += need
            if decaying:
                pend[j] = out_j
                pending_out += out_j
            prefilling.append(j)
            next_i += 1
        if not prefilling and not dec_count:
            if next_i >= released and not requeue:
                break
            ratio = r_init  # an idle scheduler resets the estimate
            t = max(t, arrival[order[next_i]])
            continue
        # an engine that does not mix runs a waiting prompt's chunk as a step of its own, the
        # running decodes paused (prefill first), and decodes only when no prompt waits
        decoding = mixed or not prefilling
        d = float(dec_count) if decoding else 0.0
        budget = max(budget_tokens - d, 0.0)
        chunks: list[tuple[int, float]] = []
        p_tokens = 0.0
        p_ctx_w = 0.0
        for k, j in enumerate(prefilling):
            if budget <= 0:
                break
            left = pre_left[j]
            if chunked or (k == 0 and left > budget):
                # chunked prefill; an engine that does not chunk still splits the oldest prompt
                # when it cannot fit beside the running decodes (else a prompt near the step
                # token limit would wait for an empty batch, however long that takes)
                ch = min(left, budget)
            elif left <= budget or (k == 0 and d == 0):
                ch = left
            else:
                break
            chunks.append((j, ch))
            p_tokens += ch
            p_ctx_w += ch * (base[j] - left + ch / 2.0)
            budget -= ch
        if not chunks and not dec_count:
            j = prefilling[0]
            chunks.append((j, min(pre_left[j], budget_tokens)))
            p_tokens = chunks[0][1]
            p_ctx_w = p_tokens * (base[j] - pre_left[j] + p_tokens / 2.0)
        n_fin_pre = sum(1 for j, ch in chunks if ch >= pre_left[j])
        mean_ctx = sum_ctx / d if d else 0.0
        if win and d:
            capped = sum(min(I[j] + 1 + dsteps - s0, win) for j, s0 in dec_start.items()) / d
            mean_ctx = (ctx.shape.full_layers * mean_ctx + ctx.shape.sliding_layers * capped) / n_all
        m = min(max(float(d + len(chunks)), 1.0), ppf)  # micro-batches of whole sequences
        dt = ppf * g(d / m, p_tokens / m, mean_ctx, (p_ctx_w / p_tokens) if p_tokens else 0.0, max(n_fin_pre, 1.0 if p_tokens else 0.0) / m)
        t += dt
        batch_acc += len(prefilling) + dec_count
        # outcomes: every decoding sequence emits a token
        finished: list[int] = []
        if d:
            itl_sum += dt * d
            itl_n += dec_count
            sum_ctx += d
            if not full_res:
                reserved += d
            for j in finish_at.pop(dsteps, ()):
                finished.append(j)
                dec_count -= 1
                if decaying:
                    sum_fin -= fin_step[j] + 1
                    sum_out -= O[j]
                    long_fin.pop(j, None)
                sum_ctx -= I[j] + O[j]
                dec_start.pop(j, None)
                running.pop(j, None)
        if decoding:
            dsteps += 1
        last_was_decode_only = not chunks
        decodes_since_intake += last_was_decode_only
        done_pre = []
        for j, ch in chunks:
            pre_left[j] -= ch
            if pre_left[j] <= 0:
                done_pre.append(j)
        if done_pre:
            fin_set = set(done_pre)
            prefilling = [j for j in prefilling if j not in fin_set]
            for j in done_pre:
                if math.isnan(first[j]):
                    first[j] = t + overhead_first
                if decaying:
                    pending_out -= pend.pop(j)
                o_left = O[j] - gen_before[j]
                if enc or o_left <= 1:
                    finished.append(j)
                    if not full_res and not enc:
                        reserved += 1.0
                    continue
                if not full_res:
                    reserved += 1.0
                dec_count += 1
                sum_ctx += base[j] + 1.0
                # its o_left - 1 further tokens come in the next o_left - 1 decoding steps
                fin_step[j] = dsteps + int(o_left) - 2
                finish_at.setdefault(fin_step[j], []).append(j)
                if decaying:
                    sum_fin += fin_step[j] + 1
                    sum_out += O[j]
                    if fin_step[j] + 1 - dsteps > clip:
                        long_fin[j] = fin_step[j] + 1
                run_start[j] = dsteps - 1
                running[j] = None
                if win:
                    dec_start[j] = dsteps - 1
        steps += 1
        for j in finished:
            done_t[j] = t
            reserved -= (I[j] + O[j]) if (full_res or not enc) else I[j]
            if closed and released < n:
                arrival[order[released]] = t
                released += 1
        # SGLang retracts when the next decode step does not fit, down to room for
        # retract_decode_steps more, then re-estimates the ratio from the survivors' progress;
        # otherwise the ratio decays one step
        retract = decaying and reserved + dec_count > kv_cap
        head = float(nt.retract_decode_steps) if retract else 0.0
        evicted = False
        while preempt and (retract or not decaying) and reserved + head * dec_count > kv_cap and len(running) > 1:
            evicted = True
            j = next(reversed(running))
            del running[j]
            ran = dsteps - run_start.pop(j)  # tokens this run emitted (its context grew by as many)
            if decaying:
                sum_fin -= fin_step[j] + 1
                sum_out -= O[j]
                long_fin.pop(j, None)
            finish_at[fin_step.pop(j)].remove(j)
            dec_count -= 1
            sum_ctx -= base[j] + ran
            reserved -= base[j] + ran
            dec_start.pop(j, None)
            gen_before[j] += ran
            base[j] = I[j] + gen_before[j]
            pre_left[j] = base[j]
            requeue.insert(0, j)
            preemptions += 1
        if decaying and evicted:
            generated = sum_out - (sum_fin - dec_count * dsteps)
            ratio = min(1.0, (generated + nt.retract_decode_steps * dec_count) / (sum_out + 1.0))
        elif decaying and d:
            ratio = max(ratio - r_decay, r_min)
        if steps > 5_000_000:  # a bound so that a bad input never hangs
            break
    done = np.array(done_t)
    ok = np.isfinite(done)
    arr = np.array(arrival)
    fst = np.array(first)
    Oa = np.array(O)
    n_done = int(ok.sum())
    # warm-up: the first `warmup` of the requests (in arrival order) see an emptier engine than
    # the steady state; they are run but not counted
    counted = ok.copy()
    if warmup > 0 and n_done:
        first_counted = order[min(int(math.floor(warmup * n)), n - 1)]
        counted &= arr >= arr[first_counted]
    ttft = fst[counted] - arr[counted]
    denom = np.maximum(Oa[counted] - 1.0, 1.0)
    tpot = np.where(Oa[counted] > 1, (done[counted] - fst[counted]) / denom, np.nan)
    start = float(arr[counted].min()) if counted.any() else 0.0
    duration = float(done[counted].max() - start) if counted.any() else 0.0
    return SimResult(
        requests=n_done,
        duration_s=duration,
        output_tokens_per_s=float(Oa[counted].sum() / duration) if duration > 0 else 0.0,
        requests_per_s=float(counted.sum() / duration) if duration > 0 else 0.0,
        ttft_s=_pct(ttft),
        tpot_s=_pct(tpot),
        itl_mean_s=itl_sum / itl_n if itl_n else None,
        mean_batch=batch_acc / steps if steps else 0.0,
        steps=steps,
        counted_requests=int(counted.sum()),
        preemptions=preemptions,
    )
