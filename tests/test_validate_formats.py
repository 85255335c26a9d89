"""The harness reads a row's precision through the catalog's quantization formats (ids and aliases)."""

from __future__ import annotations

import pytest
import yaml

from deployscope.catalog import default_catalog
from deployscope.catalog.loader import Catalog
from deployscope.validate.llm_rows import Skip, formats

READ = [q for q in default_catalog().quant if q.family in ("float", "microscaling") and not q.kv_only]


@pytest.mark.parametrize(
    "precision,engine,vendor,expect",
    [
        ("bfloat16", "vllm", "nvidia", ("bf16", "bf16")),
        ("fp8_e4m3", "vllm", "nvidia", ("fp8", "fp8")),
        ("W8A8-FP8", "sglang", "amd", ("fp8", "fp8")),
        ("gpt-oss-mxfp4", "vllm", "nvidia", ("mxfp4-moe", None)),
        ("gpt-oss-mxfp4", "trtllm", "nvidia", ("mxfp4-moe", "fp8")),
        ("half", "trtllm", "nvidia", ("fp16", "fp16")),
        ("fp8_e4m3 (weights) + bfloat16 (KV cache)", "vllm", "nvidia", ("fp8", "bf16")),
        ("fp4 (selected layers)/fp8_e4m3", "trtllm", "nvidia", ("fp8", "fp8")),
    ],
)
def test_catalog_aliases_are_read(precision, engine, vendor, expect):
    assert formats(precision, engine, vendor) == expect


@pytest.mark.parametrize("q", READ, ids=lambda q: q.id)
def test_every_id_and_alias_of_a_read_format_is_read_as_it(q):
    for name in (q.id, *q.aliases):
        if name.lower() == "fp4":  # the vendor's FP4, below
            continue
        assert formats(name, "vllm", "nvidia")[0] == q.id, name
        assert formats(name.upper(), "sglang", "amd")[0] == q.id, name


def test_fp4_is_the_vendors_fp4_though_the_catalog_lists_it_under_nvfp4():
    assert "fp4" in default_catalog().quant.get("nvfp4").aliases
    assert formats("fp4", "vllm", "amd") == ("mxfp4", None)
    assert formats("FP4", "trtllm", "nvidia") == ("nvfp4", "fp8")
    assert formats('{"attention": "bf16", "experts": "fp4"}', "sglang", "amd") == ("mxfp4", None)
    assert formats("fp4 (weights) + fp8 (KV cache)", "vllm", "amd") == ("mxfp4", "fp8")


@pytest.mark.parametrize("precision", ["fp3.7 (imaginary)", "int8", "w4a16", "awq", "q4_k_m", "gguf-q8_0", "int8-kv", "bf16/fp8"])
def test_unread_formats_are_skipped_naming_the_formats_taken(precision):
    with pytest.raises(Skip) as exc:
        formats(precision, "vllm", "nvidia")
    msg = str(exc.value)
    assert msg.startswith(f"precision {precision!r} names no weight format the model takes (")
    taken = msg.split(" takes (", 1)[1].removesuffix(", or a catalog alias of one)").split(", ")
    assert taken == ["fp4 (the vendor's FP4)", *(q.id for q in READ)], msg


def test_a_stated_kv_format_not_taken_is_skipped_naming_those_taken():
    with pytest.raises(Skip, match=r"KV-cache format \(fp4\) that is not bf16, fp16 or fp8"):
        formats("fp8 (weights) + fp4 (KV cache)", "vllm", "nvidia")


def test_a_new_catalog_format_needs_no_harness_edit(tmp_path):
    """A format added to the catalog (here a user row) is read by its id and aliases, and named in
    the skip message, with no edit to the harness."""
    (tmp_path / "quant.yaml").write_text(yaml.safe_dump([{
        "id": "mxfp8", "name": "MXFP8 (e4m3, e8m0 scale per 32)", "aliases": ["mx-fp8"], "source": "test row",
        "as_of": "2026-11-24", "weight_bits": 8.25, "weight_dtype": "fp8", "activation_dtype": "fp8",
        "compute_dtype": "fp8", "family": "microscaling", "block_size": 32}]))
    cat = Catalog(tmp_path)
    assert formats("MX-FP8", "trtllm", "nvidia", cat) == ("mxfp8", "fp8")
    with pytest.raises(Skip, match="mxfp8"):
        formats("int4", "vllm", "nvidia", cat)
