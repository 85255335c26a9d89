"""The accelerator catalog: sourced rows, hand-checked datasheet values, name resolution for the
hardware strings in the published measurements, and user-catalog overrides."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

import deployscope
from deployscope.catalog import Catalog
from deployscope.catalog.base import normalize
from deployscope.errors import CatalogError, UnknownName

VALIDATION = Path(deployscope.__file__).parent / "validation"
# Hardware strings in the validation files that name no single catalog accelerator.
NOT_A_GPU = {"TPU v3", "TPU v4", "single GPU", "single 48GB-class GPU", "(multi-GPU)"}


@pytest.fixture(scope="module")
def gpus(tmp_path_factory):
    # Bundled rows only: no $DEPLOYSCOPE_CATALOG, and an empty XDG data dir.
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DEPLOYSCOPE_CATALOG", raising=False)
        mp.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg")))
        return Catalog(user_dir=None).accelerators


@pytest.fixture(autouse=True)
def no_machine_catalog(monkeypatch, tmp_path_factory):
    monkeypatch.delenv("DEPLOYSCOPE_CATALOG", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg")))


def validation_hardware() -> set[str]:
    names: set[str] = set()
    for path in sorted(VALIDATION.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            names |= {row["hardware"].strip() for row in csv.DictReader(fh) if row.get("hardware", "").strip()}
    return names


def test_every_row_has_source_and_date(gpus):
    assert len(gpus) >= 35
    for row in gpus:
        assert row.source and len(row.source) > 10, row.id
        assert isinstance(row.as_of, date), row.id
        assert row.as_of <= date(2026, 12, 31), row.id


def test_prices_are_sourced_or_explained(gpus):
    for row in gpus:
        if row.price_usd is None:
            assert row.price_note, row.id
        else:
            assert row.price_source and row.price_as_of and row.price_basis, row.id


def test_sparse_derived_dtypes_have_values(gpus):
    for row in gpus:
        assert set(row.sparse_derived) <= set(row.tflops), row.id


def test_issue_list_is_covered(gpus):
    wanted = [
        "A100-SXM4-40GB", "A100-SXM4-80GB", "A100 PCIe 40GB", "A100 PCIe 80GB", "H100 SXM", "H100 PCIe",
        "H100 NVL", "H800", "H20", "H200 SXM", "H200 NVL", "GH200 96GB", "GH200 144GB", "B200", "B300",
        "GB200", "GB300", "L4", "L40S", "A10", "A10G", "RTX 4090", "RTX 5090", "RTX 6000 Ada", "RTX A6000",
        "RTX PRO 6000 Blackwell", "RTX PRO 6000 Server", "Jetson AGX Orin 64GB", "MI250X", "MI300X",
        "MI325X", "MI355X", "Gaudi 2", "Gaudi 3", "EPYC 9654", "Xeon Platinum 8480+",
    ]
    ids = [gpus.get(name).id for name in wanted]
    assert len(set(ids)) == len(wanted), "two issue names resolved to the same row"


def test_no_two_rows_share_a_name(gpus):
    owner: dict[str, str] = {}
    for row in gpus:
        for name in (row.id, *row.aliases):
            key = normalize(name)
            assert owner.setdefault(key, row.id) == row.id, f"{name!r} names {owner[key]} and {row.id}"


def test_h100_sxm_hand_values(gpus):
    h100 = gpus.get("H100-SXM-80GB")
    assert h100.id == "h100-sxm-80gb"
    assert h100.tflops["bf16"] == pytest.approx(989.4)
    assert h100.peak_flops("bf16") == pytest.approx(989.4e12)
    assert h100.peak_flops("fp8") == pytest.approx(1978.9e12)
    assert h100.memory_bandwidth_bytes_per_s == pytest.approx(3.35e12)
    assert h100.tdp_w == 700
    assert h100.memory_bytes == 80 * 2**30
    assert h100.link_bytes_per_s == pytest.approx(450e9)  # 900 GB/s both ways -> 450 GB/s one way
    assert "fp8" in h100.native_formats and "nvfp4" not in h100.native_formats


def test_sparse_figures_are_halved(gpus):
    # Datasheets: L4 BF16 242 TFLOPS with sparsity; B200 (HGX/8) FP8 9 PFLOPS with sparsity.
    l4 = gpus.get("L4")
    assert l4.tflops["bf16"] == pytest.approx(121) and "bf16" in l4.sparse_derived
    b200 = gpus.get("B200")
    assert b200.tflops["fp8"] == pytest.approx(4500) and b200.tflops["fp4"] == pytest.approx(9000)
    # The A100 datasheet prints dense figures itself: nothing derived.
    assert gpus.get("A100").sparse_derived == ()


def test_peak_flops_falls_back_to_wider_native_dtype(gpus):
    a100 = gpus.get("A100")
    assert "fp8" not in a100.tflops
    assert a100.peak_flops("fp8") == pytest.approx(312e12)  # fp8 runs as bf16, not on the int8 units
    assert a100.peak_flops("fp4") == a100.peak_flops("fp8")
    assert a100.peak_flops("int4") == pytest.approx(624e12)  # int4 falls back to the int8 rate
    gaudi = gpus.get("Gaudi 3")
    assert gaudi.peak_flops("int8") == pytest.approx(1835e12)  # no int8 figure: the bf16 engine
    b300 = gpus.get("B300")
    assert b300.peak_flops("int8") == pytest.approx(125e12)  # Blackwell Ultra really is slow at int8
    epyc = gpus.get("EPYC 9654")
    assert epyc.peak_flops("bf16") == pytest.approx(epyc.tflops["fp32"] * 1e12)


def test_gib_and_gb_are_not_mixed(gpus):
    h200 = gpus.get("H200")
    assert h200.memory_gib == 141 and h200.memory_gb is None
    assert h200.memory_bytes == 141 * 2**30


def test_cpus_carry_cores_and_bandwidth(gpus):
    for name, cores, bw in (("EPYC 9654", 96, 460.8), ("Xeon 8480+", 56, 307.2)):
        cpu = gpus.get(name)
        assert cpu.device_type == "cpu" and cpu.cores == cores
        assert cpu.memory_bandwidth_gb_s == pytest.approx(bw)


def test_validation_hardware_names_resolve(gpus):
    names = validation_hardware()
    assert "H100-SXM-80GB" in names and "TPU v4" in names  # the files are the ones we think
    for name in sorted(names - NOT_A_GPU):
        assert gpus.find(name) is not None, f"validation hardware {name!r} does not resolve"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("H100-SXM-80GB", "h100-sxm-80gb"),
        ("H200-SXM-141GB", "h200-sxm-141gb"),
        ("L40S-48GB", "l40s"),
        ("A100-SXM4-80GB", "a100-sxm4-80gb"),
        ("MI300X-192GB", "mi300x"),
        ("GH200 (480GB superchip, 96GB HBM3)", "gh200-96gb"),
        ("GH200-144GB", "gh200-144gb"),
        ("H100-NVL-94GB", "h100-nvl-94gb"),
        ("H100-PCIe-80GB", "h100-pcie-80gb"),
        ("H200-SXM-141GB (CTS, custom thermal)", "h200-sxm-141gb"),
        ("GH200-96GB", "gh200-96gb"),
        ("B200-SXM-180GB", "b200-sxm-180gb"),
        ("H800", "h800-sxm-80gb"),
        ("A100-SXM4-80GB (400W, max clocks)", "a100-sxm4-80gb"),
        ("A100-80GB (TDP 350-400W)", "a100-sxm4-80gb"),
        ("A100-80GB (DGX A100)", "a100-sxm4-80gb"),
        ("A100-SXM4-40GB", "a100-sxm4-40gb"),
        ("A100-40GB", "a100-sxm4-40gb"),
        ("A100 (40GB per TII Falcon paper; via third-party transcription)", "a100-sxm4-40gb"),
        ("H100-80GB (700W)", "h100-sxm-80gb"),
        ("H100-80GB", "h100-sxm-80gb"),
        ("1x RTX 4090", "rtx-4090"),
        ("1x A6000", "rtx-a6000"),
        ("8x A100", "a100-sxm4-80gb"),
        ("A100", "a100-sxm4-80gb"),
        ("NVIDIA Ampere GPUs (A100-class)", "a100-sxm4-80gb"),
        ("nvidia h100 sxm", "h100-sxm-80gb"),
        ("AMD Instinct MI355X", "mi355x"),
    ],
)
def test_named_strings_resolve(gpus, name, expected):
    assert gpus.get(name).id == expected


@pytest.mark.parametrize("name", sorted(NOT_A_GPU) + ["H900-SXM", "TPU v5p"])
def test_non_gpus_are_unknown(gpus, name):
    with pytest.raises(UnknownName) as err:
        gpus.get(name, field="gpu")
    assert err.value.field == "gpu" and err.value.value == name
    assert isinstance(err.value.suggestions, list)


def test_unknown_near_miss_gets_suggestions(gpus):
    with pytest.raises(UnknownName) as err:
        gpus.get("H100-SXM-96GB")
    assert "h100-sxm-80gb" in err.value.suggestions
    assert "did you mean" in str(err.value)


# --------------------------------------------------------------------------- user catalog overrides
def test_user_override_changes_price_and_keeps_the_rest(tmp_path):
    (tmp_path / "accelerators.yaml").write_text(
        "- id: h100-sxm-80gb\n"
        "  price_usd: 22000\n"
        "  price_basis: card\n"
        "  price_source: our purchase order PO-1234\n"
        "  price_as_of: 2026-10-01\n"
        "  source: our purchase order PO-1234\n"
        "  as_of: 2026-10-01\n",
        encoding="utf-8",
    )
    cat = Catalog(user_dir=tmp_path)
    h100 = cat.accelerators.get("H100 SXM")
    assert h100.price_usd == 22000
    assert h100.price_source == "our purchase order PO-1234"
    assert h100.tflops["bf16"] == pytest.approx(989.4)  # untouched fields come from the bundled row
    assert cat.user_rows("accelerators") == {"h100-sxm-80gb"}
    assert Catalog(user_dir=None).accelerators.get("H100 SXM").price_usd == pytest.approx(31904.63)


def test_user_catalog_adds_a_new_accelerator(tmp_path):
    (tmp_path / "accelerators.yaml").write_text(
        """
- id: my-lab-gpu
  name: Lab GPU
  vendor: acme
  family: hopper
  form_factor: pcie
  release_year: 2025
  memory_gb: 64
  memory_bandwidth_gb_s: 2000
  tflops: {bf16: 400}
  tdp_w: 300
  interconnect: {kind: pcie, bandwidth_gb_s: 128, domain_size: 4}
  price_usd: null
  price_note: lab prototype
  source: internal measurement sheet 2026-09
  as_of: 2026-09-01
""",
        encoding="utf-8",
    )
    gpu = Catalog(user_dir=tmp_path).accelerators.get("my-lab-gpu")
    assert gpu.memory_bytes == 64 * 10**9  # decimal GB as written


def _bad(tmp_path, text: str) -> CatalogError:
    (tmp_path / "accelerators.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        list(Catalog(user_dir=tmp_path).accelerators)
    return err.value


def test_unknown_field_is_rejected_naming_file_row_and_field(tmp_path):
    err = _bad(
        tmp_path,
        "- id: h100-sxm-80gb\n  source: x-sheet\n  as_of: 2026-01-01\n  price_usd: 1000\n"
        "  price_source: quote\n  price_as_of: 2026-01-01\n  wattage: 700\n",
    )
    msg = str(err)
    assert "accelerators.yaml" in msg and "row 0" in msg and "h100-sxm-80gb" in msg and "wattage" in msg


def test_negative_memory_is_rejected(tmp_path):
    err = _bad(tmp_path, "- id: h100-sxm-80gb\n  source: x-sheet\n  as_of: 2026-01-01\n  memory_gib: -80\n")
    msg = str(err)
    assert "accelerators.yaml" in msg and "h100-sxm-80gb" in msg and "memory_gib" in msg


def test_override_without_source_is_rejected(tmp_path):
    err = _bad(tmp_path, "- id: h100-sxm-80gb\n  price_usd: 1\n")
    assert "source" in str(err) and err.field.endswith("source")


def test_price_without_source_is_rejected(tmp_path):
    err = _bad(
        tmp_path,
        "- id: h100-sxm-80gb\n  source: x-sheet\n  as_of: 2026-01-01\n  price_usd: 1000\n"
        "  price_source: null\n  price_as_of: 2026-01-01\n",
    )
    assert "price_source" in str(err)


def test_both_memory_units_are_rejected(tmp_path):
    err = _bad(tmp_path, "- id: h100-sxm-80gb\n  source: x-sheet\n  as_of: 2026-01-01\n  memory_gb: 85.9\n")
    assert "exactly one of memory_gib or memory_gb" in str(err)


def test_a_nested_override_changes_only_the_fields_it_names(tmp_path):
    """An engine row's `perf: {admission_interval_steps: 10}` sets SGLang's request intake and keeps
    every other bundled perf figure (fitted overheads, scheduler limits) instead of resetting them."""
    (tmp_path / "engines.yaml").write_text(
        "- id: sglang\n"
        "  source: our launch script (sglang.launch_server --scheduler-recv-interval 10)\n"
        "  as_of: 2026-12-01\n"
        "  perf:\n"
        "    admission_interval_steps: 10\n",
        encoding="utf-8",
    )
    bundled = Catalog(user_dir=None).engines.get("sglang").perf
    mine = Catalog(user_dir=tmp_path).engines.get("sglang").perf
    assert mine.admission_interval_steps == 10 and bundled.admission_interval_steps == 1
    assert mine.model_dump(exclude={"admission_interval_steps"}) == bundled.model_dump(exclude={"admission_interval_steps"})
