"""Offline model ingest: a local Hugging Face ``config.json`` (with ``*.safetensors`` beside it)
or a ``.gguf`` file becomes a model row in the user catalog, usable by name.

Nothing here touches the network. safetensors headers are read directly (8-byte little-endian
length, then a JSON header of dtype / shape / data_offsets per tensor); GGUF files go through the
``gguf`` package's ``GGUFReader``. Every problem with a file is a ``DeployscopeError`` naming the
file and what is wrong (see docs/ingest.md).
"""

from __future__ import annotations

import math
import os
import struct
from datetime import date
from pathlib import Path
from typing import Any

from . import safe_yaml
from .errors import DeployscopeError
from .paths import data_dir, write_atomic

# bytes per element of each safetensors dtype (F4 / F6 packed types count fractional bytes)
SAFETENSORS_DTYPE_BYTES: dict[str, float] = {
    "F64": 8, "I64": 8, "U64": 8,
    "F32": 4, "I32": 4, "U32": 4,
    "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1,
    "F6_E2M3": 0.75, "F6_E3M2": 0.75, "F4": 0.5,
}
_FLOAT_PARAM_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
MAX_HEADER = 100_000_000  # the safetensors format caps the header at 100 MB

_TORCH_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "float": "fp32", "half": "fp16"}
_PLAIN_MLP = {"gptj", "gpt2", "gpt_neox", "falcon", "bert", "roberta", "xlm-roberta", "opt", "phi", "gpt_bigcode", "starcoder2"}
_ENCODERS = {"bert", "roberta", "xlm-roberta"}
_TIED_BY_DEFAULT = {"gemma", "gemma2", "gemma3", "gemma3_text"}
_QKV_BIAS = {"qwen2", "qwen2_moe", "qwen2_vl"}


def _bad(path: Path | str, problem: str, field: str = "path") -> DeployscopeError:
    return DeployscopeError(f"{path}: {problem}", field=field, value=str(path))


# --------------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------------


def read_safetensors_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of one safetensors file, checked against the file size."""
    p = Path(path)
    try:
        size = p.stat().st_size
        with p.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise _bad(p, "not a safetensors file: shorter than the 8-byte header length")
            (n,) = struct.unpack("<Q", head)
            if n == 0 or n > MAX_HEADER or 8 + n > size:
                raise _bad(p, f"not a safetensors file: header length {n} does not fit a {size}-byte file")
            raw = f.read(n)
    except OSError as exc:
        raise _bad(p, f"cannot read: {exc.strerror}") from None
    try:
        header = safe_yaml.load(raw, source="header", format="json", max_bytes=MAX_HEADER)
    except safe_yaml.UnsafeInput as exc:
        raise _bad(p, f"malformed safetensors header (not JSON: {exc.args[0]})") from None
    if not isinstance(header, dict):
        raise _bad(p, "malformed safetensors header (expected a JSON object)")
    data_size = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise _bad(p, f"malformed safetensors header: tensor {name!r} lacks dtype, shape or data_offsets")
        if info["dtype"] not in SAFETENSORS_DTYPE_BYTES:
            raise _bad(p, f"tensor {name!r} has unknown dtype {info['dtype']!r}")
        b, e = info["data_offsets"]
        if not (0 <= b <= e <= data_size):
            raise _bad(p, f"tensor {name!r} data_offsets {b}..{e} lie outside the {data_size}-byte data section")
        expect = math.prod(info["shape"]) * SAFETENSORS_DTYPE_BYTES[info["dtype"]]
        if e - b != math.ceil(expect):
            raise _bad(p, f"tensor {name!r}: shape {info['shape']} x {info['dtype']} = {expect:g} bytes but data_offsets span {e - b}")
    return header


def safetensors_totals(paths: list[Path]) -> dict[str, Any]:
    """Exact weight bytes, element count and dtype mix over safetensors files."""
    total_bytes = 0
    elements = 0
    dtypes: dict[str, int] = {}
    all_float = True
    for p in paths:
        for name, info in read_safetensors_header(p).items():
            if name == "__metadata__":
                continue
            b, e = info["data_offsets"]
            total_bytes += e - b
            elements += math.prod(info["shape"])
            dtypes[info["dtype"]] = dtypes.get(info["dtype"], 0) + (e - b)
            all_float &= info["dtype"] in _FLOAT_PARAM_DTYPES
    return {"bytes": total_bytes, "elements": elements, "dtypes": dtypes, "elements_are_params": all_float}


# --------------------------------------------------------------------------------------------
# config.json -> transformer block
# --------------------------------------------------------------------------------------------


def _period(kinds: list[str]) -> tuple[str, ...]:
    """The shortest pattern that repeats to `kinds`."""
    n = len(kinds)
    for k in range(1, n + 1):
        if all(kinds[i] == kinds[i % k] for i in range(n)):
            return tuple(kinds[:k])
    return tuple(kinds)


_LAYER_TYPE_MAP = {
    "full_attention": "full",
    "attention": "full",
    "global": "full",
    "sliding_attention": "sliding",
    "sliding_window": "sliding",
    "local": "sliding",
    "chunked_attention": "sliding",
    "linear_attention": "linear",
    "mamba": "linear",
    "mamba2": "linear",
    "recurrent": "linear",
}


def transformer_from_config(cfg: dict[str, Any], path: Path | str = "config.json") -> dict[str, Any]:
    """The `transformer` block of a model row from a Hugging Face config.json dict."""
    if isinstance(cfg.get("text_config"), dict):  # multimodal wrappers (Gemma 3, Llama 4, Mistral 3)
        cfg = {**cfg, **cfg["text_config"]}
    mt = str(cfg.get("model_type", "")).lower()

    def need(*keys: str) -> Any:
        for k in keys:
            if cfg.get(k) is not None:
                return cfg[k]
        raise _bad(path, f"config has no {' / '.join(keys)}", field="config")

    h = int(need("hidden_size", "n_embd", "d_model"))
    layers = int(need("num_hidden_layers", "n_layer", "num_layers"))
    heads = int(need("num_attention_heads", "n_head"))
    kv_heads = cfg.get("num_key_value_heads") or cfg.get("num_kv_heads") or cfg.get("n_head_kv")
    if kv_heads is None and cfg.get("multi_query"):
        kv_heads = 1
    kv_heads = int(kv_heads or heads)
    vocab = int(need("vocab_size"))
    max_ctx = int(cfg.get("max_position_embeddings") or cfg.get("n_positions") or cfg.get("seq_length") or cfg.get("n_ctx") or 0)
    if max_ctx <= 0:
        raise _bad(path, "config has no max_position_embeddings (or n_positions)", field="config")
    gated = mt not in _PLAIN_MLP
    inter = cfg.get("intermediate_size") or cfg.get("n_inner") or cfg.get("ffn_hidden_size") or (4 * h if not gated else None)
    if inter is None:
        raise _bad(path, "config has no intermediate_size", field="config")
    inter = int(inter)
    out: dict[str, Any] = {
        "hidden_size": h,
        "num_layers": layers,
        "num_attention_heads": heads,
        "num_kv_heads": kv_heads,
        "vocab_size": vocab,
        "max_context": max_ctx,
        "tie_word_embeddings": bool(cfg.get("tie_word_embeddings", mt in _TIED_BY_DEFAULT)),
        "mlp": "gated" if gated else "plain",
        "attention_bias": bool(cfg.get("attention_bias", mt in _QKV_BIAS)),
    }
    if cfg.get("mlp_bias") or mt == "gpt_oss":
        out["mlp_bias"] = True
    if mt in _ENCODERS:
        out["encoder_only"] = True
        out["position_embedding"] = "learned"
    # attention: MLA or heads x head_dim
    if cfg.get("kv_lora_rank"):
        mla = {
            "kv_lora_rank": int(cfg["kv_lora_rank"]),
            "qk_rope_head_dim": int(need("qk_rope_head_dim")),
            "qk_nope_head_dim": int(need("qk_nope_head_dim")),
            "v_head_dim": int(need("v_head_dim")),
        }
        if cfg.get("q_lora_rank"):
            mla["q_lora_rank"] = int(cfg["q_lora_rank"])
        out["mla"] = mla
        out["head_dim"] = mla["qk_nope_head_dim"] + mla["qk_rope_head_dim"]
    else:
        out["head_dim"] = int(cfg.get("head_dim") or h // heads)
    # mixture of experts
    llama4 = mt.startswith("llama4")
    n_exp = cfg.get("num_local_experts") or cfg.get("n_routed_experts") or cfg.get("num_experts")
    if n_exp and int(n_exp) > 1:
        k = int(need("num_experts_per_tok", "experts_per_token", "moe_topk"))
        e_inter = int(cfg.get("moe_intermediate_size") or inter)
        dense = int(cfg.get("first_k_dense_replace") or 0)
        freq = int(cfg.get("moe_layer_freq") or cfg.get("decoder_sparse_step") or cfg.get("interleave_moe_layer_step") or 1)
        shared = int(cfg.get("n_shared_experts") or 0)
        if llama4:  # Llama 4: one shared expert per MoE layer; dense layers use intermediate_size_mlp
            shared = shared or 1
            inter = int(cfg.get("intermediate_size_mlp") or inter)
        if cfg.get("mlp_only_layers"):
            raise _bad(path, "mlp_only_layers (dense layers at arbitrary positions) is not supported", field="config")
        out["moe"] = {
            "num_experts": int(n_exp),
            "experts_per_token": k,
            "shared_experts": shared,
            "expert_intermediate_size": e_inter,
            "dense_layers": dense,
            "layer_freq": freq,
        }
        # every layer MoE: the config's intermediate_size is unused (Mixtral, Qwen3-MoE, gpt-oss)
        out["intermediate_size"] = inter if (dense or freq > 1) else 0
    else:
        out["intermediate_size"] = inter
    # sliding windows and layer patterns
    window = cfg.get("sliding_window") or cfg.get("attention_chunk_size")
    kinds: list[str] | None = None
    if isinstance(cfg.get("layer_types"), list):
        unknown = sorted({str(x) for x in cfg["layer_types"]} - set(_LAYER_TYPE_MAP))
        if unknown:
            raise _bad(path, f"layer_types has unknown kinds {unknown}", field="config")
        if len(cfg["layer_types"]) != layers:
            raise _bad(path, f"layer_types lists {len(cfg['layer_types'])} layers but num_hidden_layers is {layers}", field="config")
        kinds = [_LAYER_TYPE_MAP[str(x)] for x in cfg["layer_types"]]
    elif llama4 and cfg.get("attention_chunk_size"):
        # layers with RoPE use chunked local attention, NoPE layers are global (HF no_rope_layers:
        # 1 = RoPE; default every 4th layer NoPE)
        nope = cfg.get("no_rope_layers") or [int((i + 1) % int(cfg.get("no_rope_layer_interval") or 4) != 0) for i in range(layers)]
        kinds = ["sliding" if x else "full" for x in nope]
        out["attention_chunk_size"] = int(cfg["attention_chunk_size"])
    elif mt == "gemma2" and window:
        kinds = ["sliding", "full"]
    elif cfg.get("sliding_window_pattern") and window:
        n = int(cfg["sliding_window_pattern"])
        kinds = ["sliding"] * (n - 1) + ["full"]
    elif window and cfg.get("use_sliding_window", mt not in _QKV_BIAS | {"qwen3", "qwen3_moe"}):
        kinds = ["sliding"]
    if kinds is not None:
        pattern = _period(kinds)
        if "sliding" in pattern:
            if not window:
                raise _bad(path, "layer_types has sliding layers but the config gives no sliding_window", field="config")
            out["sliding_window"] = int(window)
        if pattern != ("full",):
            out["layer_pattern"] = list(pattern)
        if pattern == ("sliding",):
            out.pop("layer_pattern", None)
    return out


def _native_dtype(cfg: dict[str, Any], st: dict[str, Any] | None) -> str:
    q = cfg.get("quantization_config") or {}
    if isinstance(q, dict) and q:
        method = str(q.get("quant_method", "")).lower()
        if method == "fp8" or "fp8" in str(q.get("fmt", "")).lower():
            return "fp8"
        if method in ("awq", "gptq", "mxfp4", "compressed-tensors", "bitsandbytes"):
            return method
    if st and st["dtypes"]:
        top = max(st["dtypes"], key=st["dtypes"].get)
        return {"BF16": "bf16", "F16": "fp16", "F32": "fp32", "F8_E4M3": "fp8"}.get(top, top.lower())
    return _TORCH_DTYPES.get(str(cfg.get("torch_dtype") or cfg.get("dtype") or "bfloat16"), "bf16")


# --------------------------------------------------------------------------------------------
# GGUF
# --------------------------------------------------------------------------------------------


def read_gguf(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metadata dict, tensor totals) of a GGUF file, via the gguf package."""
    p = Path(path)
    try:
        from gguf import GGUFReader
    except ImportError:  # pragma: no cover
        raise DeployscopeError(
            "reading GGUF files needs the 'gguf' package: pip install '.[ingest]' in the Deployscope checkout", field="path", value=str(p)
        ) from None
    try:
        reader = GGUFReader(str(p))
    except OSError as exc:
        raise _bad(p, f"cannot read: {exc.strerror}") from None
    except Exception as exc:  # the reader raises ValueError / struct errors / IndexError on bad files
        raise _bad(p, f"malformed GGUF file ({type(exc).__name__}: {exc})") from None
    meta: dict[str, Any] = {}
    for key, f in reader.fields.items():
        try:
            meta[key] = f.contents()
        except Exception:  # noqa: BLE001 - an unreadable field is reported only if we need it
            meta[key] = None
    n_bytes = sum(int(t.n_bytes) for t in reader.tensors)
    n_elems = sum(int(t.n_elements) for t in reader.tensors)
    names = {t.name for t in reader.tensors}
    return meta, {"bytes": n_bytes, "elements": n_elems, "names": names, "count": len(reader.tensors)}


def transformer_from_gguf(meta: dict[str, Any], tensors: dict[str, Any], path: Path | str) -> dict[str, Any]:
    arch = meta.get("general.architecture")
    if not arch:
        raise _bad(path, "GGUF metadata has no general.architecture", field="gguf")

    def g(key: str, default: Any = None, required: bool = True) -> Any:
        v = meta.get(f"{arch}.{key}")
        if v is None:
            if required and default is None:
                raise _bad(path, f"GGUF metadata has no {arch}.{key}", field="gguf")
            return default
        return v[0] if isinstance(v, list) and len(v) == 1 else v

    h = int(g("embedding_length"))
    layers = int(g("block_count"))
    heads = g("attention.head_count")
    kv = g("attention.head_count_kv", heads)
    if isinstance(heads, list) or isinstance(kv, list):
        raise _bad(path, "per-layer head counts are not supported", field="gguf")
    heads, kv = int(heads), int(kv)
    vocab = g("vocab_size", None, required=False)
    if vocab is None:
        toks = meta.get("tokenizer.ggml.tokens")
        if not toks:
            raise _bad(path, f"GGUF metadata gives neither {arch}.vocab_size nor tokenizer.ggml.tokens", field="gguf")
        vocab = len(toks)
    out: dict[str, Any] = {
        "hidden_size": h,
        "num_layers": layers,
        "num_attention_heads": heads,
        "num_kv_heads": kv,
        "head_dim": int(g("attention.key_length", h // heads)),
        "vocab_size": int(vocab),
        "max_context": int(g("context_length")),
        "tie_word_embeddings": "output.weight" not in tensors["names"],
        "mlp": "plain" if arch in _PLAIN_MLP else "gated",
    }
    inter = int(g("feed_forward_length", 0, required=False) or 0)
    n_exp = int(g("expert_count", 0, required=False) or 0)
    if n_exp > 1:
        dense = int(g("leading_dense_block_count", 0, required=False) or 0)
        out["moe"] = {
            "num_experts": n_exp,
            "experts_per_token": int(g("expert_used_count")),
            "shared_experts": int(g("expert_shared_count", 0, required=False) or 0),
            "expert_intermediate_size": int(g("expert_feed_forward_length", inter or None)),
            "dense_layers": dense,
        }
        out["intermediate_size"] = inter if dense else 0
    else:
        if not inter:
            raise _bad(path, f"GGUF metadata has no {arch}.feed_forward_length", field="gguf")
        out["intermediate_size"] = inter
    kv_lora = g("attention.kv_lora_rank", 0, required=False)
    if kv_lora:
        rope = int(g("rope.dimension_count"))
        k_len = int(g("attention.key_length"))
        out["mla"] = {
            "kv_lora_rank": int(kv_lora),
            "qk_rope_head_dim": rope,
            "qk_nope_head_dim": k_len - rope,
            "v_head_dim": int(g("attention.value_length", k_len - rope)),
        }
        q_lora = g("attention.q_lora_rank", 0, required=False)
        if q_lora:
            out["mla"]["q_lora_rank"] = int(q_lora)
    window = g("attention.sliding_window", 0, required=False)
    if window:
        out["sliding_window"] = int(window)
        if arch == "gemma2":
            out["layer_pattern"] = ["sliding", "full"]
        elif arch.startswith("gemma3"):
            out["layer_pattern"] = ["sliding"] * 5 + ["full"]
    return out


# --------------------------------------------------------------------------------------------
# The row, the user catalog, add_model
# --------------------------------------------------------------------------------------------


def user_catalog_dir(create: bool = False) -> Path:
    """$DEPLOYSCOPE_CATALOG (or --catalog), else $XDG_DATA_HOME/deployscope/catalog
    (default ~/.local/share/deployscope/catalog)."""
    env = os.environ.get("DEPLOYSCOPE_CATALOG")
    if env:
        d = Path(env)
    else:
        d = data_dir() / "catalog"
    if create:
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeployscopeError(f"cannot create the user catalog directory {d}: {exc.strerror}", field="catalog", value=str(d)) from None
    return d


def model_row_from_path(path: str | os.PathLike[str], model_id: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(catalog row, facts for the report) for a config.json, a model directory or a .gguf file."""
    from .catalog.models import ModelSpec, Transformer
    from .physics.memory import kv_bytes_per_token, param_counts

    p = Path(path).expanduser()
    if not p.exists():
        raise _bad(p, "no such file or directory")
    p = p.resolve()
    facts: dict[str, Any] = {}
    if p.is_file() and p.suffix.lower() == ".gguf":
        meta, tens = read_gguf(p)
        block = transformer_from_gguf(meta, tens, p)
        name = str(meta.get("general.name") or p.stem)
        rid = model_id or f"local/{p.stem}"
        ftype = meta.get("general.file_type")
        native = f"gguf ftype {ftype[0] if isinstance(ftype, list) else ftype}" if ftype is not None else "gguf"
        weights_bytes, elements = tens["bytes"], tens["elements"]
        source_path = p
        facts.update(format="gguf", tensors=tens["count"])
    else:
        cfg_path = p / "config.json" if p.is_dir() else p
        if not cfg_path.is_file():
            raise _bad(p, "expected a config.json, a directory holding one, or a .gguf file")
        try:
            cfg = safe_yaml.load_file(cfg_path)  # depth, size, encoding and finite-number limits
        except safe_yaml.UnsafeInput as exc:
            raise DeployscopeError(str(exc.args[0]), field="config", value=str(cfg_path), allowed=exc.allowed) from None
        if not isinstance(cfg, dict):
            raise _bad(cfg_path, "malformed config: expected a JSON object", field="config")
        block = transformer_from_config(cfg, cfg_path)
        st_files = sorted(cfg_path.parent.glob("*.safetensors"))
        st = safetensors_totals(st_files) if st_files else None
        name_hint = cfg.get("_name_or_path") or ""
        rid = model_id or (name_hint if "/" in str(name_hint) and not str(name_hint).startswith(("/", ".")) else f"local/{cfg_path.parent.name}")
        name = rid.split("/")[-1]
        native = _native_dtype(cfg, st)
        weights_bytes = st["bytes"] if st else None
        elements = st["elements"] if st and st["elements_are_params"] else None
        source_path = cfg_path.parent if st_files else cfg_path
        facts.update(format="config.json", safetensors_files=len(st_files))
    try:
        t = Transformer.model_validate(block)
    except Exception as exc:  # pydantic ValidationError
        from pydantic import ValidationError

        from .catalog.loader import format_validation_error

        msg = format_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        raise _bad(p, f"the architecture read from this file is not consistent: {msg}", field="config") from None
    pc = param_counts(t)
    params = elements if elements else pc["total"]
    row: dict[str, Any] = {
        "id": rid,
        "aliases": [name] if name.lower() != rid.lower() else [],
        "name": name,
        "family": str(block.get("family") or rid.split("/")[-1].split("-")[0]),
        "modality": "embedding" if t.encoder_only else "llm",
        "license": "unknown",
        "params_b": params / 1e9,
        "native_dtype": native,
        "source": f"local file {source_path}",
        "as_of": date.today().isoformat(),
        "as_of_note": "date the local file was ingested",
        "notes": "added by `deployscope model add`; licence not read from the file (set it if policy checks matter)",
        "transformer": block,
    }
    if t.moe is not None:
        row["active_params_b"] = pc["active"] / 1e9
    if weights_bytes:
        row["safetensors_bytes"] = int(weights_bytes)
    try:
        ModelSpec.model_validate(row)
    except Exception as exc:
        from pydantic import ValidationError

        from .catalog.loader import format_validation_error

        msg = format_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        raise _bad(p, f"cannot make a catalog row: {msg}", field="config") from None
    facts.update(
        params_b=params / 1e9,
        params_from="tensor headers" if elements else "architecture formula",
        formula_params_b=pc["total"] / 1e9,
        weights_bytes=weights_bytes,
        kv_bytes_per_token=kv_bytes_per_token(t, 16),
    )
    return row, facts


def write_user_row(table: str, row: dict[str, Any], user_dir: Path) -> Path:
    """Insert or replace `row` (by id) in `<user_dir>/<table>.yaml`, atomically; other rows kept."""
    import yaml

    from .catalog.loader import read_yaml

    target = user_dir / f"{table}.yaml"
    rows: list[Any] = []
    if target.exists():
        data = read_yaml(target)
        if data is not None and not (isinstance(data, list) and all(isinstance(r, dict) for r in data)):
            raise DeployscopeError(f"{target}: expected a YAML list of rows; not overwriting it", field="catalog", value=str(target))
        rows = list(data or [])
    rows = [r for r in rows if r.get("id") != row["id"]] + [row]
    text = yaml.safe_dump(rows, sort_keys=False, allow_unicode=True, width=100)
    write_atomic(target, text, field="catalog")
    return target


def add_model(path: str | os.PathLike[str], model_id: str | None = None, user_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Ingest `path` into the user catalog and return what was written. The merged catalog is
    re-read afterwards, so a row that would break loading is never left behind silently."""
    from .catalog.loader import Catalog, set_default_catalog

    row, facts = model_row_from_path(path, model_id)
    d = Path(user_dir) if user_dir else user_catalog_dir(create=True)
    if not d.is_dir():
        raise DeployscopeError(f"user catalog directory {d} does not exist", field="catalog", value=str(d))
    target = write_user_row("models", row, d)
    set_default_catalog(None)
    cat = Catalog(d)
    found = cat.models.get(row["id"])
    return {
        "id": found.id,
        "catalog_file": str(target),
        "source": row["source"],
        "params_b": facts["params_b"],
        "params_from": facts["params_from"],
        "weights_bytes": facts.get("weights_bytes"),
        "kv_bytes_per_token": facts.get("kv_bytes_per_token"),
        "row": row,
    }
