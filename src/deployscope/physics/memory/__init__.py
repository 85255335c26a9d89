"""How many bytes a deployment needs: weights, KV cache, activation peak, runtime overhead.

Everything here is pure arithmetic on numbers taken from catalog rows. The array core
(:mod:`.arrays`: `ModelShape`, `weights_per_gpu`, `capacity_bytes_per_gpu`, ...) broadcasts with
numpy over any mix of context, batch, bits, tp, pp, ep, GPU memory and engine figures, so one
candidate and a sweep of a million take the same code path. The public queries (:mod:`.queries`:
`estimate_memory`, `kv_capacity_tokens`, `max_sequences`, `fit_rows`) resolve names through the
catalog and check inputs, raising `DeployscopeError` naming the field, value and what is allowed.

Bytes are SI (1 GB = 1e9 B, 1 GiB = 2^30 B); nothing here rounds to either. See docs/memory.md.
"""

from .arrays import (  # noqa: F401 - the package face
    _BUDGETS,
    ACT_BYTES,
    GIB,
    LOGIT_BYTES,
    SMALL_BITS,
    EngineArrays,
    ModelShape,
    _attention_params,
    _check_context,
    _check_engine_format,
    _check_parallel,
    _check_positive,
    _dense_bits,
    _emb_bits,
    _mlp_params,
    activation_per_gpu,
    capacity_bytes_per_gpu,
    engine_arrays,
    kv_bytes_per_token_arr,
    kv_gpu_share,
    kv_per_sequence,
    kv_replication,
    overhead_per_gpu,
    parallel_layout,
    param_counts,
    resolve_engine,
    resolve_gpu,
    resolve_kv_quant,
    resolve_model,
    resolve_quant,
    shape_of,
    stack_shapes,
    weights_per_gpu,
    weights_total,
)
from .queries import (  # noqa: F401
    MemoryEstimate,
    _capacity_inputs,
    default_engine_for,
    estimate_memory,
    fit_count,
    fit_rows,
    kv_bytes_per_token,
    kv_cache_bytes,
    kv_capacity_tokens,
    max_sequences,
    weight_bytes,
)
