"""Price catalogs (sources, ids, staleness) and the offline import of SkyPilot / LiteLLM files."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from deployscope.catalog import Catalog
from deployscope.catalog.price_import import import_prices
from deployscope.catalog.prices import stale_after_days, stale_rows, to_usd
from deployscope.cli import main
from deployscope.errors import CatalogError, DeployscopeError

CAT = Catalog("")


@pytest.fixture(autouse=True)
def _isolated_catalog(monkeypatch):
    """No user catalog from the environment; the process-wide default catalog reset afterwards."""
    from deployscope.catalog import set_default_catalog

    monkeypatch.delenv("DEPLOYSCOPE_CATALOG", raising=False)
    set_default_catalog(None)
    yield
    set_default_catalog(None)


def test_tables_load_with_sources():
    for t in ("cloud_instances", "api_prices", "servers", "network", "storage", "economic_defaults", "fx_rates"):
        rows = list(CAT.table(t))
        assert rows, t
        for r in rows:
            assert r.source and r.as_of


def test_cloud_gpu_ids_and_server_gpus_exist():
    accs = CAT.accelerators
    assert all(r.gpu_id in accs.ids() for r in CAT.cloud_instances), [r.gpu_id for r in CAT.cloud_instances if r.gpu_id not in accs.ids()]
    for s in CAT.servers:
        assert all(g in accs.ids() for g in s.accepts_gpu_ids), s.id


def test_brief_coverage():
    types = {r.instance_type for r in CAT.cloud_instances}
    assert {"p4d.24xlarge", "p5.48xlarge", "p5en.48xlarge", "g6e.12xlarge", "g5.xlarge", "Standard_ND96isr_H100_v5",
            "Standard_ND96isr_MI300X_v5", "a3-highgpu-8g", "a2-ultragpu-8g", "g2-standard-4"} <= types
    assert {r.provider for r in CAT.cloud_instances} >= {"aws", "azure", "gcp", "lambda", "nebius", "coreweave", "oci"}
    assert any(r.price_1y_usd_per_hour and r.price_3y_usd_per_hour for r in CAT.cloud_instances)
    frontier = [r for r in CAT.api_prices if r.frontier]
    assert frontier and all(not r.open_weight for r in frontier)
    assert any(r.mode == "image" and r.usd_per_image for r in CAT.api_prices)
    assert {s.cooling for s in CAT.servers} == {"air", "liquid"}
    assert any(s.form_factor == "workstation" for s in CAT.servers)
    d = {r.id for r in CAT.economic_defaults}
    assert {"electricity.us", "electricity.eu", "electricity.de", "carbon.us", "pue.colocation", "pue.own", "colocation.us",
            "support.pct_of_capex", "staff.cost_per_fte_year.us", "discount_rate", "depreciation.years",
            "installation.pct_of_capex", "prices.stale_after_days"} <= d


def test_assumptions_are_labelled_and_nulls_explained():
    for r in CAT.economic_defaults:
        if r.assumption:
            assert len(r.source) > 10
    for s in CAT.servers:
        assert s.price_usd is not None or s.price_note
    for r in CAT.cloud_instances:
        if not r.pricings():
            assert r.notes


def test_instance_prices_and_validation():
    r = CAT.cloud_instances.get("gcp-a3-highgpu-1g-us-central1")
    assert r.price("3y") == 4.86 and r.price_per_gpu_hour("on_demand") == 11.06
    assert set(r.pricings()) == {"on_demand", "1y", "3y"}
    with pytest.raises(DeployscopeError):
        r.price("weekly")


def test_staleness():
    assert stale_after_days(CAT) == 180
    rows = list(CAT.cloud_instances)
    later = date.today() + timedelta(days=400)
    assert set(stale_rows(rows, today=later, catalog=CAT)) == {r.id for r in rows}
    assert "gcp-a3-highgpu-1g-us-central1" in stale_rows(rows, stale_after=180, today=date(2026, 1, 1))


def test_fx():
    assert to_usd(100.0, "EUR", CAT) == pytest.approx(118.14)  # ECB reference rate of 2026-02-26
    with pytest.raises(DeployscopeError) as ei:
        to_usd(1.0, "XYZ", CAT)
    assert ei.value.field == "currency"


# --- import -------------------------------------------------------------------------------------

AWS_CSV = """InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone,Arch
p5.48xlarge,H100,8.0,192.0,2048.0,"{'Gpus': [{'Name': 'H100', 'Manufacturer': 'NVIDIA', 'Count': 8, 'MemoryInfo': {'SizeInMiB': 81920}}], 'TotalGpuMemoryInMiB': 655360}",55.04,25.75,us-east-1,use1-az1,x86_64
p5.48xlarge,H100,8.0,192.0,2048.0,"{'Gpus': [{'Name': 'H100', 'Manufacturer': 'NVIDIA', 'Count': 8, 'MemoryInfo': {'SizeInMiB': 81920}}], 'TotalGpuMemoryInMiB': 655360}",55.04,10.24,us-east-1,use1-az2,x86_64
p4d.24xlarge,A100,8.0,96.0,1152.0,"{'Gpus': [{'Name': 'A100', 'Manufacturer': 'NVIDIA', 'Count': 8, 'MemoryInfo': {'SizeInMiB': 40960}}], 'TotalGpuMemoryInMiB': 327680}",21.957642,,eu-central-1,euc1-az1,x86_64
m5.large,,,2.0,8.0,,0.096,0.03,us-east-1,use1-az1,x86_64
p5e.48xlarge,H200,8.0,192.0,2048.0,,,18.74,us-east-2,use2-az1,x86_64
"""
# Lambda-style column order: parse by header name
LAMBDA_CSV = """InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo,SpotPrice
gpu_8x_h100_sxm5,H100,8,208,1800,31.92,us-east-1,,
"""
GCP_CSV = """InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,SpotPrice,Region,AvailabilityZone
a3-highgpu-1g,H100,1,26,234,1.18251,0.5,us-central1,us-central1-a
,H100,1,,,9.0,3.0,us-central1,us-central1-a
,tpu-v4,8,,,700.0,,us-central1,us-central1-a
"""
LITELLM = {
    "sample_spec": {"mode": "chat"},
    "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo": {"litellm_provider": "together_ai", "mode": "chat", "input_cost_per_token": 8.8e-07, "output_cost_per_token": 8.8e-07},
    "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05},
    "text-embedding-3-small": {"litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 2e-08},
    "fal_ai/fal-ai/flux/schnell": {"litellm_provider": "fal_ai", "mode": "image_generation", "output_cost_per_image": 0.003},
    "fireworks_ai/accounts/fireworks/models/flux-1-dev-fp8": {"litellm_provider": "fireworks_ai", "mode": "image_generation", "input_cost_per_token": 1e-07},
}


def write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_import_skypilot(tmp_path):
    src = write(tmp_path / "aws" / "vms.csv", AWS_CSV)
    os.utime(src, (1_700_000_000, 1_700_000_000))  # 2023-11-14
    out = tmp_path / "cat"
    out.mkdir()
    (out / "cloud_instances.yaml").write_text(yaml.safe_dump([{
        "id": "mine", "provider": "onprem-broker", "instance_type": "x", "gpu_id": "l40s", "gpu_count": 1,
        "price_usd_per_hour": 1.0, "jurisdiction": "DE", "data_region": "DE", "source": "my quote", "as_of": "2026-01-01"}]))
    s = import_prices(src, out)
    assert s["added"] == 3 and s["kept"] == 1 and s["parsed"]["skipped (no GPU)"] == 1
    cat = Catalog(out)
    p5 = cat.cloud_instances.get("aws-p5.48xlarge-us-east-1")
    assert p5.price_usd_per_hour == 55.04 and p5.spot_usd_per_hour == 10.24 and p5.gpu_id == "h100-sxm-80gb"
    assert p5.source.startswith("imported from vms.csv") and p5.as_of == date(2023, 11, 14)
    # bundled certifications are kept when the import refreshes a bundled row's price
    assert "DPF" in p5.certifications
    p4d = cat.cloud_instances.get("aws-p4d.24xlarge-eu-central-1")
    assert p4d.gpu_id == "a100-sxm4-40gb" and p4d.data_region == "DE"  # kept from the bundled row
    p5e = cat.cloud_instances.get("aws-p5e.48xlarge-us-east-2")
    assert p5e.price_usd_per_hour is None and p5e.spot_usd_per_hour == 18.74
    assert cat.cloud_instances.get("mine").price_usd_per_hour == 1.0
    # importing again replaces, never duplicates
    s2 = import_prices(src, out)
    assert s2["updated"] == 3 and s2["total"] == 4


def test_import_skypilot_other_layouts(tmp_path):
    out = tmp_path / "cat"
    s = import_prices(write(tmp_path / "lambda" / "vms.csv", LAMBDA_CSV), out)
    assert s["added"] == 1
    s = import_prices(write(tmp_path / "gcp" / "vms.csv", GCP_CSV), out)
    row = Catalog(out).cloud_instances.get("gcp-a3-highgpu-1g-us-central1")
    assert row.price_usd_per_hour == pytest.approx(1.18251 + 9.0) and row.spot_usd_per_hour == pytest.approx(3.5)
    assert "VM row + accelerator row" in row.notes


def test_import_litellm(tmp_path):
    src = write(tmp_path / "prices.json", json.dumps(LITELLM))
    out = tmp_path / "cat"
    s = import_prices(src, out, as_of=date(2026, 6, 1))
    assert s["table"] == "api_prices" and s["added"] == 3
    cat = Catalog(out)
    llama = cat.api_prices.get("litellm-together_ai-meta-llama-llama-3.3-70b-instruct-turbo")
    assert llama.model == "meta-llama/Llama-3.3-70B-Instruct" and llama.open_weight and llama.jurisdiction == "US"
    assert llama.input_usd_per_million_tokens == pytest.approx(0.88)
    gpt = cat.api_prices.get("litellm-gpt-4o")
    assert gpt.frontier and not gpt.open_weight and gpt.output_usd_per_million_tokens == pytest.approx(10.0)
    assert cat.api_prices.get("litellm-fal_ai-fal-ai-flux-schnell").usd_per_image == 0.003
    assert gpt.as_of == date(2026, 6, 1)
    s2 = import_prices(src, tmp_path / "cat2", match="gpt")
    assert s2["added"] == 1


def test_import_errors_leave_nothing_behind(tmp_path):
    out = tmp_path / "cat"
    bad = write(tmp_path / "aws" / "vms.csv", "Name,Price\nx,1\n")
    with pytest.raises(CatalogError):
        import_prices(bad, out)
    assert not (out / "cloud_instances.yaml").exists()
    with pytest.raises(DeployscopeError):
        import_prices(tmp_path / "missing.csv", out)
    with pytest.raises(CatalogError):
        import_prices(write(tmp_path / "broken.json", "{nope"), out)
    with pytest.raises(DeployscopeError):
        import_prices(write(tmp_path / "prices.txt", "x"), out)
    # a malformed existing file is not overwritten
    out.mkdir(exist_ok=True)
    (out / "api_prices.yaml").write_text("just: a mapping\n")
    with pytest.raises(CatalogError):
        import_prices(write(tmp_path / "p.json", json.dumps(LITELLM)), out)
    assert (out / "api_prices.yaml").read_text() == "just: a mapping\n"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_cli_import_and_list(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DEPLOYSCOPE_CATALOG", raising=False)
    src = write(tmp_path / "aws" / "vms.csv", AWS_CSV)
    out = tmp_path / "cat"
    assert main(["prices", "import", str(src), "--kind", "skypilot", "--catalog", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["added"] == 3
    assert main(["--catalog", str(out), "prices", "list", "--cloud", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "api_prices" not in data
    row = next(r for r in data["cloud_instances"] if r["id"] == "aws-p4d.24xlarge-eu-central-1")
    assert "age_days" in row and isinstance(row["stale"], bool)
    assert main(["prices", "list", "--api"]) == 0
    assert "frontier" in capsys.readouterr().out


def test_cli_errors_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DEPLOYSCOPE_CATALOG", raising=False)
    src = write(tmp_path / "aws" / "vms.csv", AWS_CSV)
    assert main(["prices", "import", str(src)]) == 2
    assert "catalog" in capsys.readouterr().err
    assert main(["prices", "import", str(src), "--catalog", str(tmp_path / "c"), "--as-of", "yesterday"]) == 2
    assert main(["prices", "import", str(src), "--catalog", str(tmp_path / "c"), "--kind", "csv"]) == 2
