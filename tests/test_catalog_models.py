"""The model catalog: every row sourced and valid, names from the validation data resolve,
hand-checked architecture figures, and parameter counts recomputed from each transformer block
agree with the published totals (which catches typos in the data)."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from deployscope.catalog.loader import Catalog
from deployscope.catalog.models import ModelSpec, Transformer

VALIDATION_DIR = Path(__file__).resolve().parents[1] / "src" / "deployscope" / "validation"


@pytest.fixture(scope="module")
def models():
    return Catalog(user_dir=None).models


def count_params(t: Transformer) -> int:
    """Parameters of a transformer from its shape: embeddings + attention + MLP/experts + norms.

    Written independently of the package so that a typo in the data shows up as a mismatch
    with the published total. Small terms (LayerNorm biases, expert biases, attention sinks,
    q/k norms) are left out; they are far below the 1.5 % tolerance.
    """
    h = t.hidden_size
    emb = t.vocab_size * h * (1 if t.tie_word_embeddings else 2)
    if t.position_embedding == "learned":
        emb += t.max_context * h
    if t.mla is not None:
        m = t.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        n = t.num_attention_heads
        if m.q_lora_rank:
            q = h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * n * qk
        else:
            q = h * n * qk
        kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
        kv += m.kv_lora_rank * n * (m.qk_nope_head_dim + m.v_head_dim)
        attn = q + kv + n * m.v_head_dim * h
    else:
        q_dim = t.num_attention_heads * t.head_dim
        kv_dim = t.num_kv_heads * t.head_dim
        attn = h * q_dim + 2 * h * kv_dim + q_dim * h
        if t.attention_bias:
            attn += q_dim + 2 * kv_dim + h
    mats = 3 if t.mlp == "gated" else 2
    dense_mlp = mats * h * t.intermediate_size
    if t.mlp_bias:
        dense_mlp += t.intermediate_size + h
    total = emb + h  # final norm
    moe_layers = t.moe_layers()
    for i in range(t.num_layers):
        total += attn + 2 * h
        if moe_layers[i]:
            e = t.moe
            total += (e.num_experts + e.shared_experts) * mats * h * e.expert_intermediate_size
            total += e.num_experts * h  # router
        else:
            total += dense_mlp
    return total


def count_active_params(t: Transformer) -> int:
    """Parameters touched per token: as count_params, with only the routed + shared experts."""
    if t.moe is None:
        return count_params(t)
    e = t.moe
    mats = 3 if t.mlp == "gated" else 2
    idle = (e.num_experts - e.experts_per_token) * mats * t.hidden_size * e.expert_intermediate_size
    return count_params(t) - idle * sum(t.moe_layers())


def _validation_names(*files: str) -> list[str]:
    names: set[str] = set()
    for f in files:
        with open(VALIDATION_DIR / f, newline="", encoding="utf-8") as fh:
            names |= {row["model"] for row in csv.DictReader(fh) if row.get("model")}
    return sorted(names)


def test_every_row_is_sourced_and_valid(models):
    assert len(models) > 0
    for row in models:
        assert isinstance(row, ModelSpec)
        assert row.source and len(row.source) > 10, row.id
        assert isinstance(row.as_of, date) and row.as_of.year >= 2023, row.id
        assert "/" in row.id, f"{row.id}: ids are Hugging Face repo names (org/name)"


@pytest.mark.parametrize("name", _validation_names("A_llm_inference.csv", "B_diffusion_inference.csv"))
def test_validation_model_names_resolve(models, name):
    assert models.find(name) is not None, f"{name!r} from the validation data does not resolve"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Llama-3.1-70B", "meta-llama/Llama-3.1-70B-Instruct"),
        ("Llama-3.1-70B-Instruct", "meta-llama/Llama-3.1-70B-Instruct"),
        ("meta-llama/Llama-3.1-70B", "meta-llama/Llama-3.1-70B-Instruct"),
        ("Llama-2-70b-chat-hf", "meta-llama/Llama-2-70b-hf"),
        ("Llama-2-70B", "meta-llama/Llama-2-70b-hf"),
        ("Llama-2-7B", "meta-llama/Llama-2-7b-hf"),
        ("Llama-2-13B", "meta-llama/Llama-2-13b-hf"),
        ("Llama-3.1-8B", "meta-llama/Llama-3.1-8B-Instruct"),
        ("Llama-3.1-405B", "meta-llama/Llama-3.1-405B-Instruct"),
        ("Llama-3.1-405B-Instruct", "meta-llama/Llama-3.1-405B-Instruct"),
        ("Llama-3.2-3B", "meta-llama/Llama-3.2-3B-Instruct"),
        ("Llama-3-8B", "meta-llama/Meta-Llama-3-8B-Instruct"),
        ("Llama-3-70B", "meta-llama/Meta-Llama-3-70B-Instruct"),
        ("Mistral-7B", "mistralai/Mistral-7B-v0.1"),
        ("Mistral-7B-v0.1", "mistralai/Mistral-7B-v0.1"),
        ("Mixtral-8x7B", "mistralai/Mixtral-8x7B-Instruct-v0.1"),
        ("Mixtral-8x7B-v0.1", "mistralai/Mixtral-8x7B-Instruct-v0.1"),
        ("Mixtral-8x7B-Instruct-v0.1", "mistralai/Mixtral-8x7B-Instruct-v0.1"),
        ("Mixtral-8x22B", "mistralai/Mixtral-8x22B-Instruct-v0.1"),
        ("GPT-J-6B", "EleutherAI/gpt-j-6b"),
        ("GPT-J-6B (CNN-DailyMail fine-tune)", "EleutherAI/gpt-j-6b"),
        ("Falcon-180B", "tiiuae/falcon-180B"),
        ("DeepSeek-V3 (671B MoE)", "deepseek-ai/DeepSeek-V3"),
        ("DeepSeek-V3/R1", "deepseek-ai/DeepSeek-R1"),
        ("SDXL-1.0-base", "stabilityai/stable-diffusion-xl-base-1.0"),
        ("Stable Diffusion v1.5", "stable-diffusion-v1-5/stable-diffusion-v1-5"),
        # short aliases, any case
        ("llama-3.1-70b", "meta-llama/Llama-3.1-70B-Instruct"),
        ("LLAMA-3.1-70B", "meta-llama/Llama-3.1-70B-Instruct"),
        ("llama-2-70b", "meta-llama/Llama-2-70b-hf"),
        ("mixtral-8x7b", "mistralai/Mixtral-8x7B-Instruct-v0.1"),
        ("MIXTRAL-8X7B", "mistralai/Mixtral-8x7B-Instruct-v0.1"),
        ("deepseek-v3", "deepseek-ai/DeepSeek-V3"),
        ("DEEPSEEK-V3", "deepseek-ai/DeepSeek-V3"),
        ("sdxl", "stabilityai/stable-diffusion-xl-base-1.0"),
        ("SDXL", "stabilityai/stable-diffusion-xl-base-1.0"),
        ("llama3.1:8b", "meta-llama/Llama-3.1-8B-Instruct"),
    ],
)
def test_alias_lookup(models, name, expected):
    assert models.get(name).id == expected


def test_llama_3_1_70b_architecture(models):
    t = models.get("llama-3.1-70b").transformer
    assert (t.num_layers, t.num_kv_heads, t.head_dim) == (80, 8, 128)
    assert (t.hidden_size, t.num_attention_heads, t.intermediate_size) == (8192, 64, 28672)
    assert t.vocab_size == 128256 and t.max_context == 131072 and not t.tie_word_embeddings


def test_deepseek_v3_mla_and_moe(models):
    for name in ("deepseek-v3", "DeepSeek-R1"):
        row = models.get(name)
        t = row.transformer
        assert t.num_layers == 61
        assert (t.mla.kv_lora_rank, t.mla.qk_rope_head_dim) == (512, 64)
        assert (t.moe.num_experts, t.moe.experts_per_token, t.moe.shared_experts) == (256, 8, 1)
        assert t.moe.dense_layers == 3
        assert sum(t.moe_layers()) == 58 and t.moe_layers()[:4] == [False, False, False, True]
        assert row.native_dtype == "fp8"


def test_llama_3_1_8b_bf16_weights_match_published_safetensors(models):
    row = models.get("Llama-3.1-8B")
    assert row.safetensors_bytes == 16_060_522_496
    assert abs(2 * count_params(row.transformer) / row.safetensors_bytes - 1) < 0.005


def test_safetensors_sizes_match_shapes(models):
    """Where a bf16/fp16 repo size is recorded, 2 bytes x the counted parameters lands within 0.5 %."""
    checked = 0
    for row in models:
        if row.safetensors_bytes and row.transformer and row.native_dtype in ("bf16", "fp16"):
            assert abs(2 * count_params(row.transformer) / row.safetensors_bytes - 1) < 0.005, row.id
            checked += 1
    assert checked >= 3


def _llm_rows():
    return [r for r in Catalog(user_dir=None).models if r.transformer is not None]


@pytest.mark.parametrize("row", _llm_rows(), ids=lambda r: r.id)
def test_param_count_from_shape_matches_published(row):
    counted = count_params(row.transformer) / 1e9
    counted += sum(c.params_b for c in row.components)  # e.g. a vision encoder
    assert counted == pytest.approx(row.params_b, rel=0.015), f"{row.id}: counted {counted:.3f}B"


@pytest.mark.parametrize("row", [r for r in _llm_rows() if r.is_moe], ids=lambda r: r.id)
def test_active_param_count_matches_published(row):
    """Publishers differ on whether the input embedding (a table lookup) counts as active:
    Mistral and Qwen count it, the gpt-oss card does not. Either convention must land within 3 %."""
    assert row.active_params_b is not None
    t = row.transformer
    with_embedding = count_active_params(t) / 1e9
    without_embedding = with_embedding - t.vocab_size * t.hidden_size / 1e9
    errors = [abs(c / row.active_params_b - 1) for c in (with_embedding, without_embedding)]
    assert min(errors) < 0.03, f"{row.id}: counted {with_embedding:.2f}B / {without_embedding:.2f}B"


def test_dense_rows_have_no_active_count_and_moe_rows_do(models):
    for row in models:
        if row.transformer is None:
            continue
        if row.is_moe:
            assert row.active_params_b and row.active_params_b < row.params_b, row.id
        else:
            assert row.active_params_b is None, row.id


@pytest.mark.parametrize(
    "row", [r for r in Catalog(user_dir=None).models if r.modality in ("diffusion", "gan")], ids=lambda r: r.id
)
def test_image_model_components(row):
    roles = [c.role for c in row.components]
    total = sum(c.params_b for c in row.components)
    assert total == pytest.approx(row.params_b, rel=0.02), f"{row.id}: components sum to {total:.3f}B"
    if row.modality == "gan":
        assert roles == ["generator"]
        return
    assert roles.count("denoiser") == 1 and roles.count("vae") == 1
    assert "text_encoder" in roles or row.family == "dit"  # DiT-XL/2 is class-conditional: no text encoder
    vae = next(c for c in row.components if c.role == "vae")
    # KL-f8 autoencoders (4 or 16 channels), or Sana's deep-compression f32c32 with patch 1
    assert (vae.details["downsample_factor"], vae.details["latent_channels"]) in ((8, 4), (8, 16), (32, 32))
    den = next(c for c in row.components if c.role == "denoiser")
    if den.arch in ("dit", "mmdit"):
        assert den.details["patch_size"] == (1 if vae.details["downsample_factor"] == 32 else 2) and den.details["hidden_size"] > 0


def test_flux_and_sd35_published_shapes(models):
    for name in ("flux.1-dev", "FLUX.1-schnell"):
        den = next(c for c in models.get(name).components if c.role == "denoiser")
        assert (den.details["num_double_blocks"], den.details["num_single_blocks"]) == (19, 38)
        assert den.details["hidden_size"] == 3072 == den.details["num_attention_heads"] * den.details["attention_head_dim"]
    den = next(c for c in models.get("SD 3.5 Large").components if c.role == "denoiser")
    assert (den.details["num_layers"], den.details["hidden_size"]) == (38, 2432)
    assert models.get("flux.1-dev").license != models.get("flux.1-schnell").license == "apache-2.0"


def test_stylegan2_row(models):
    row = models.get("stylegan2-ffhq")
    assert row.modality == "gan" and row.params_b == pytest.approx(0.030, rel=0.02)
    assert row.components[0].details["resolution"] == 1024


def test_hybrid_attention_patterns(models):
    g2 = models.get("gemma-2-9b").transformer
    kinds = g2.layer_kinds()
    assert len(kinds) == 42 and kinds[:4] == ["sliding", "full", "sliding", "full"]
    assert g2.sliding_window == 4096 and kinds.count("full") == 21
    g3 = models.get("gemma-3-27b").transformer
    kinds = g3.layer_kinds()
    assert g3.sliding_window == 1024 and kinds[:6] == ["sliding"] * 5 + ["full"]
    assert kinds.count("full") == 62 // 6  # 10 global layers, the last two are local
    oss = models.get("gpt-oss-120b").transformer
    assert oss.sliding_window == 128 and oss.layer_kinds()[:2] == ["sliding", "full"]
    scout = models.get("llama-4-scout").transformer
    assert scout.attention_chunk_size == 8192 and scout.layer_kinds()[:4] == ["sliding"] * 3 + ["full"]
    mistral = models.get("mistral-7b").transformer
    assert set(mistral.layer_kinds()) == {"sliding"} and mistral.sliding_window == 4096
    llama = models.get("llama-3.1-8b").transformer
    assert set(llama.layer_kinds()) == {"full"}


def test_moe_layer_placement(models):
    mav = models.get("llama-4-maverick").transformer
    assert mav.moe_layers()[:4] == [False, True, False, True] and sum(mav.moe_layers()) == 24
    assert all(models.get("llama-4-scout").transformer.moe_layers())
    assert all(models.get("mixtral-8x7b").transformer.moe_layers())


def test_encoders_and_multimodal_rows(models):
    for name, modality in (("bge-m3", "embedding"), ("bge-reranker-v2-m3", "reranker")):
        row = models.get(name)
        assert row.modality == modality and row.transformer.encoder_only
        assert row.transformer.position_embedding == "learned" and row.transformer.max_context == 8192
    gemma3 = models.get("gemma-3-27b")
    assert [c.role for c in gemma3.components] == ["image_encoder"]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("llama-3.3-70b", "meta-llama/Llama-3.3-70B-Instruct"),
        ("Llama-3.2-1B", "meta-llama/Llama-3.2-1B-Instruct"),
        ("qwen2.5-72b", "Qwen/Qwen2.5-72B-Instruct"),
        ("Qwen3-30B-A3B", "Qwen/Qwen3-30B-A3B"),
        ("qwen3:235b", "Qwen/Qwen3-235B-A22B"),
        ("gpt-oss-20b", "openai/gpt-oss-20b"),
        ("GPT-OSS-120B", "openai/gpt-oss-120b"),
        ("gemma-2-27b", "google/gemma-2-27b-it"),
        ("google/gemma-3-27b-it", "google/gemma-3-27b-it"),
        ("phi-4", "microsoft/phi-4"),
        ("BGE-M3", "BAAI/bge-m3"),
        ("flux.1-dev", "black-forest-labs/FLUX.1-dev"),
        ("FLUX.1 [schnell]", "black-forest-labs/FLUX.1-schnell"),
        ("sd3.5-large", "stabilityai/stable-diffusion-3.5-large"),
        ("sd15", "stable-diffusion-v1-5/stable-diffusion-v1-5"),
        ("Llama-4-Maverick-17B-128E-Instruct", "meta-llama/Llama-4-Maverick-17B-128E-Instruct"),
    ],
)
def test_more_aliases(models, name, expected):
    assert models.get(name).id == expected


def test_issue_models_all_present(models):
    """Every model the issue names is in the bundled catalog."""
    wanted = [
        "Llama-2-7B", "Llama-2-13B", "Llama-2-70B", "Llama-3.1-8B", "Llama-3.1-70B", "Llama-3.1-405B",
        "Llama-3.2-1B", "Llama-3.2-3B", "Llama-3.3-70B", "llama-4-scout", "llama-4-maverick", "mistral-7b",
        "mixtral-8x7b", "mixtral-8x22b", "qwen2.5-7b", "qwen2.5-32b", "qwen2.5-72b", "qwen3-8b", "qwen3-32b",
        "qwen3-30b-a3b", "qwen3-235b-a22b", "deepseek-v3", "deepseek-r1", "gpt-oss-20b", "gpt-oss-120b",
        "gemma-2-9b", "gemma-2-27b", "gemma-3-27b", "phi-4", "gpt-j-6b", "falcon-180b", "bge-m3",
        "bge-reranker-v2-m3", "sd15", "sdxl", "sd3.5-large", "flux.1-dev", "flux.1-schnell",
    ]
    missing = [n for n in wanted if n not in models]
    assert not missing


def test_training_and_memory_measurement_names_resolve(models):
    """The transformer models of C_training.csv and D_memory.csv that the catalog covers."""
    names = set(_validation_names("C_training.csv", "D_memory.csv"))
    covered = {
        "LLaMA-7B", "LLaMA-13B", "LLaMA-33B", "LLaMA-65B", "Llama-2-7B", "Llama-2-13B", "Llama-2-70B",
        "Llama-3-8B", "Llama-3-70B", "Llama-3.1-8B", "Llama-3.1-70B", "Llama-3.1-405B", "Llama-3.2-3B",
        "Falcon-180B", "SDXL-1.0-base", "CompVis/stable-diffusion-v1-4", "bigscience/bloomz-7b1",
    }
    assert covered <= names, covered - names  # the measurement files still name them
    assert [n for n in sorted(covered) if n not in models] == []
    assert models.get("LLaMA-65B").transformer.intermediate_size == 22016


def test_unknown_model_suggests_close_ids(models):
    from deployscope.errors import UnknownName

    with pytest.raises(UnknownName) as exc:
        models.get("Llama-3.1-71B")
    assert "meta-llama/Llama-3.1-70B-Instruct" in str(exc.value)


FIXTURES = Path(__file__).parent / "fixtures" / "configs"


@pytest.mark.parametrize(
    "fixture, name",
    [
        ("Llama-3.1-8B.json", "Llama-3.1-8B"),
        ("Llama-3.1-70B.json", "Llama-3.1-70B"),
        ("Mixtral-8x7B-v0.1.json", "Mixtral-8x7B"),
        ("DeepSeek-V3.json", "DeepSeek-V3"),
        ("gemma-2-9b.json", "gemma-2-9b"),
        ("Qwen3-30B-A3B.json", "Qwen3-30B-A3B"),
        ("gpt-oss-20b.json", "gpt-oss-20b"),
    ],
)
def test_fixture_configs_agree_with_bundled_rows(models, fixture, name):
    """The real config.json fixtures and the bundled rows describe the same shapes."""
    cfg = json.loads((FIXTURES / fixture).read_text())
    t = models.get(name).transformer
    assert cfg["hidden_size"] == t.hidden_size
    assert cfg["num_hidden_layers"] == t.num_layers
    assert cfg["num_attention_heads"] == t.num_attention_heads
    assert cfg.get("num_key_value_heads", cfg["num_attention_heads"]) == t.num_kv_heads
    assert cfg["vocab_size"] == t.vocab_size
    assert cfg["max_position_embeddings"] == t.max_context
    # absent means True: the transformers PretrainedConfig default (Gemma 2 relies on it)
    assert cfg.get("tie_word_embeddings", True) == t.tie_word_embeddings
    if "head_dim" in cfg:
        assert cfg["head_dim"] == t.head_dim
    elif t.mla is None:
        assert cfg["hidden_size"] // cfg["num_attention_heads"] == t.head_dim
    if t.moe is not None:
        n_exp = cfg.get("n_routed_experts") or cfg.get("num_local_experts") or cfg.get("num_experts")
        assert n_exp == t.moe.num_experts
        assert cfg["num_experts_per_tok"] == t.moe.experts_per_token
        assert cfg.get("moe_intermediate_size", cfg["intermediate_size"]) == t.moe.expert_intermediate_size
        assert cfg.get("n_shared_experts", 0) == t.moe.shared_experts
        assert cfg.get("first_k_dense_replace", 0) == t.moe.dense_layers
    else:
        assert cfg["intermediate_size"] == t.intermediate_size
    if t.mla is not None:
        assert (cfg["kv_lora_rank"], cfg["qk_rope_head_dim"]) == (t.mla.kv_lora_rank, t.mla.qk_rope_head_dim)
        assert (cfg["qk_nope_head_dim"], cfg["v_head_dim"]) == (t.mla.qk_nope_head_dim, t.mla.v_head_dim)
        assert cfg["q_lora_rank"] == t.mla.q_lora_rank
    if cfg.get("sliding_window"):
        assert cfg["sliding_window"] == t.sliding_window
    if "layer_types" in cfg:
        kinds = ["sliding" if k == "sliding_attention" else "full" for k in cfg["layer_types"]]
        assert kinds == t.layer_kinds()
