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
from deployscope.catalog.prices import price_age_warnings, stale_after_days, stale_rows, to_usd
from deployscope.cli import main
from deployscope.errors import CatalogError, DeployscopeError

CAT = Catalog("")
SAAS = Path(__file__).resolve().parent.parent / "examples" / "saas-chat.yaml"


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


def test_every_bundled_price_row_is_dated():
    """Every row that carries a price says when it was published (price_as_of), or why that is unknown."""
    for t in ("cloud_instances", "api_prices", "servers", "network", "storage", "fx_rates"):
        for r in CAT.table(t):
            if any(getattr(r, f) is not None for f in type(r).price_fields):
                assert r.price_as_of is not None or r.price_as_of_note, (t, r.id)
    for r in CAT.api_prices:  # the LiteLLM 1.110.2 snapshot, published on PyPI on 2026-11-20
        assert r.price_as_of == date(2026, 11, 20), r.id
    for a in CAT.accelerators:
        if a.price_usd is not None:
            assert a.price_as_of and a.price_source, a.id


def test_pcie_servers_are_buyable():
    """The 8-GPU PCIe chassis has a price, so the PCIe cards it takes can be bought on-prem."""
    srv = CAT.servers.get("pcie-8gpu-server")
    assert srv.price_usd == pytest.approx(85271 - 8 * 7709) and not srv.includes_gpus and srv.price_as_of
    priced = [g for g in srv.accepts_gpu_ids if CAT.accelerators.get(g).price_usd is not None]
    assert {"l40s", "h100-pcie-80gb", "h100-nvl-94gb", "a100-pcie-80gb"} <= set(priced)


def _user_row(tmp_path: Path, table: str, row: dict) -> Catalog:
    d = tmp_path / "cat"
    d.mkdir(exist_ok=True)
    (d / f"{table}.yaml").write_text(yaml.safe_dump([row]))
    return Catalog(d)


CLOUD_ROW = {"id": "mine", "provider": "broker", "instance_type": "x", "gpu_id": "l40s", "gpu_count": 1,
             "price_usd_per_hour": 1.0, "jurisdiction": "DE", "data_region": "DE", "source": "my quote", "as_of": "2026-01-01"}


def test_user_price_rows_need_a_price_date(tmp_path):
    with pytest.raises(CatalogError) as ei:
        _ = _user_row(tmp_path, "cloud_instances", CLOUD_ROW).cloud_instances
    assert ei.value.field == "cloud_instances[0].price_as_of" and "price_as_of is missing" in str(ei.value)
    with pytest.raises(CatalogError) as ei:  # unknown is allowed only when the row says why
        _ = _user_row(tmp_path, "cloud_instances", {**CLOUD_ROW, "price_as_of": None}).cloud_instances
    assert ei.value.field == "cloud_instances[0].price_as_of" and "price_as_of_note" in str(ei.value)
    row = _user_row(tmp_path, "cloud_instances", {**CLOUD_ROW, "price_as_of": None, "price_as_of_note": "verbal quote"}).cloud_instances.get("mine")
    assert row.price_as_of is None
    row = _user_row(tmp_path, "cloud_instances", {**CLOUD_ROW, "price_as_of": "2025-06-30"}).cloud_instances.get("mine")
    assert row.price_as_of == date(2025, 6, 30) and row.age_days(date(2025, 7, 30)) == 30  # age from the publication date
    no_price = {k: v for k, v in CLOUD_ROW.items() if k != "price_usd_per_hour"} | {"notes": "not sold here"}
    assert _user_row(tmp_path, "cloud_instances", no_price).cloud_instances.get("mine").price_as_of is None
    server = {"id": "my-box", "name": "box", "vendor": "me", "form_factor": "pcie", "gpu_slots": 4, "accepts_gpu_ids": ["l40s"],
              "includes_gpus": False, "price_usd": 9000, "rack_units": 2, "cooling": "air", "source": "quote", "as_of": "2026-01-01"}
    with pytest.raises(CatalogError) as ei:
        _ = _user_row(tmp_path, "servers", server).servers
    assert ei.value.field == "servers[0].price_as_of"


def test_user_repricing_of_a_bundled_row_needs_its_own_date(tmp_path):
    """A user price on a bundled row must not inherit the bundled row's publication date."""
    base = {"id": "pcie-8gpu-server", "price_usd": 20000, "source": "our quote", "as_of": "2026-11-01"}
    with pytest.raises(CatalogError) as ei:
        _ = _user_row(tmp_path, "servers", base).servers
    assert ei.value.field == "servers[0].price_as_of" and "price_usd" in str(ei.value)
    srv = _user_row(tmp_path, "servers", {**base, "price_as_of": "2026-10-15"}).servers.get("pcie-8gpu-server")
    assert srv.price_usd == 20000 and srv.price_as_of == date(2026, 10, 15)
    # a change that touches no price keeps the bundled date
    srv = _user_row(tmp_path, "servers", {"id": "pcie-8gpu-server", "rack_units": 5, "source": "our rack", "as_of": "2026-11-01"}).servers.get("pcie-8gpu-server")
    assert srv.rack_units == 5 and srv.price_as_of == CAT.servers.get("pcie-8gpu-server").price_as_of


def test_user_gpu_price_needs_its_own_date(tmp_path):
    """A negotiated card price in the user catalog never inherits the bundled card price's date."""
    with pytest.raises(CatalogError) as ei:
        _ = _user_row(tmp_path, "accelerators", {"id": "l40s", "price_usd": 6500, "price_source": "our PO",
                                                 "source": "our PO", "as_of": "2026-11-01"}).accelerators
    assert ei.value.field == "accelerators[0].price_as_of"
    gpu = _user_row(tmp_path, "accelerators", {"id": "l40s", "price_usd": 6500, "price_source": "our PO", "price_as_of": "2026-11-01",
                                               "source": "our PO", "as_of": "2026-11-01"}).accelerators.get("l40s")
    assert gpu.price_usd == 6500 and gpu.price_as_of == date(2026, 11, 1)


def test_money_defaults_are_prices(tmp_path):
    """A tariff, colocation rate or salary (an economic default with a currency) needs its price
    date; a ratio or a count does not."""
    for r in CAT.economic_defaults:
        if r.currency:
            assert r.price_as_of is not None or r.price_as_of_note, r.id
    with pytest.raises(CatalogError) as ei:  # your tariff must not inherit the bundled row's date
        _ = _user_row(tmp_path, "economic_defaults", {"id": "electricity.de", "value": 0.25, "source": "our contract", "as_of": "2026-11-01"}).economic_defaults
    assert ei.value.field == "economic_defaults[0].price_as_of"
    row = _user_row(tmp_path, "economic_defaults", {"id": "electricity.de", "value": 0.25, "source": "our contract", "as_of": "2026-11-01",
                                                    "price_as_of": "2026-10-01"}).economic_defaults.get("electricity.de")
    assert row.value == 0.25 and row.price_as_of == date(2026, 10, 1)
    row = _user_row(tmp_path, "economic_defaults", {"id": "pue.own", "value": 1.2, "source": "our meter", "as_of": "2026-11-01"}).economic_defaults.get("pue.own")
    assert row.value == 1.2 and row.price_as_of is None  # a ratio, not a price


def test_cli_refuses_an_undated_user_price(tmp_path, capsys):
    d = tmp_path / "cat"
    d.mkdir()
    (d / "api_prices.yaml").write_text(yaml.safe_dump([{
        "id": "deepinfra-llama-3.3-70b-turbo", "input_usd_per_million_tokens": 0.05, "source": "our contract", "as_of": "2026-11-01"}]))
    assert main(["--catalog", str(d), "plan", str(SAAS), "--json"]) == 2
    err = capsys.readouterr().err
    assert "price_as_of" in err and "deepinfra-llama-3.3-70b-turbo" in err


def test_plan_warns_by_publication_date(tmp_path, capsys):
    """Stale-price warnings read price_as_of, not the date a row was read: for API rows as for cloud,
    server and GPU-card rows."""
    d = tmp_path / "cat"
    d.mkdir()
    (d / "api_prices.yaml").write_text(yaml.safe_dump([{
        "id": "deepinfra-llama-3.3-70b-turbo", "input_usd_per_million_tokens": 0.1, "source": "our contract",
        "as_of": date.today().isoformat(), "price_as_of": "2024-01-31"}]))
    assert main(["--catalog", str(d), "plan", str(SAAS), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert any("api_prices deepinfra-llama-3.3-70b-turbo: price published 2024-01-31" in w for w in plan["warnings"])
    assert any(w.startswith("cloud_instances ") and "publication date unknown" in w for w in plan["warnings"])
    assert any(w.startswith("servers ") and "price published" in w for w in plan["warnings"])
    # a chassis sold without GPUs: the GPU card's own price date is warned about too
    assert any(w.startswith("accelerators ") and "price published" in w for w in plan["warnings"])
    assert any(w.startswith("storage nvme-tlc-enterprise: price published 2026-03-01") for w in plan["warnings"])


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
    "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
               "max_input_tokens": 128000},
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
        "price_usd_per_hour": 1.0, "jurisdiction": "DE", "data_region": "DE", "source": "my quote", "as_of": "2026-01-01",
        "price_as_of": "2026-01-01"}]))
    s = import_prices(src, out)
    assert s["added"] == 3 and s["kept"] == 1 and s["parsed"]["skipped (no GPU)"] == 1
    cat = Catalog(out)
    p5 = cat.cloud_instances.get("aws-p5.48xlarge-us-east-1")
    assert p5.price_usd_per_hour == 55.04 and p5.spot_usd_per_hour == 10.24 and p5.gpu_id == "h100-sxm-80gb"
    assert p5.source.startswith("imported from vms.csv") and p5.as_of == date(2023, 11, 14)
    assert p5.price_as_of == date(2023, 11, 14) and p5.price_as_of_note  # a snapshot's prices are dated by the snapshot
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
    # the context window comes along, so longer prompts exclude the API; a map without one leaves it unset
    assert gpt.max_input_tokens == 128_000 and gpt.max_input_tokens_source == "prices.json, key 'gpt-4o'"
    assert llama.max_input_tokens is None
    assert cat.api_prices.get("litellm-fal_ai-fal-ai-flux-schnell").usd_per_image == 0.003
    assert gpt.as_of == date(2026, 6, 1)
    assert gpt.price_as_of == date(2026, 6, 1)
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
    assert row["price_date_known"] is True  # imported: dated by the snapshot
    assert main(["prices", "list", "--cloud", "--json"]) == 0
    bundled = {r["id"]: r for r in json.loads(capsys.readouterr().out)["cloud_instances"]}
    assert bundled["aws-p5.48xlarge-us-east-1"]["price_date_known"] is False  # an undated SkyPilot snapshot
    assert bundled["gcp-a3-highgpu-1g-us-central1"]["price_date_known"] is True
    assert main(["prices", "list", "--api"]) == 0
    assert "frontier" in capsys.readouterr().out


def test_cli_errors_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DEPLOYSCOPE_CATALOG", raising=False)
    src = write(tmp_path / "aws" / "vms.csv", AWS_CSV)
    assert main(["prices", "import", str(src)]) == 2
    assert "catalog" in capsys.readouterr().err
    assert main(["prices", "import", str(src), "--catalog", str(tmp_path / "c"), "--as-of", "yesterday"]) == 2
    assert main(["prices", "import", str(src), "--catalog", str(tmp_path / "c"), "--kind", "csv"]) == 2


def test_plan_level_price_warnings_merge_unknown_dates_and_skip_excluded_options():
    from datetime import date

    from deployscope.catalog.prices import PriceAge, summarize_price_warnings

    rows = [PriceAge(f"cloud_instances r{i}: price publication date unknown (read 2026-11-2{i}); confirm the current price",
                     "cloud_instances", f"r{i}", date(2026, 11, 20 + i), None) for i in range(5)]
    other = PriceAge("servers s: price published 2024-01-01 (older than 180 days); refresh it or give your own figure",
                     "servers", "s", date(2026, 11, 24), date(2024, 1, 1))
    out = summarize_price_warnings([rows[0], other, *rows[1:]])
    assert out == ["cloud_instances: price publication date unknown for 5 rows (r0, r1, r2, r3, r4; read 2026-11-20 to "
                   "2026-11-24); confirm the current prices", other]
    assert summarize_price_warnings(rows[:3]) == rows[:3]  # a few stay one per line
    import deployscope

    plan = deployscope.plan(Path(__file__).resolve().parents[1] / "examples" / "hospital-assistant.yaml")
    assert not any(w.startswith("cloud_instances") for w in plan.warnings)  # air-gapped: no cloud option can be chosen
    assert any("cloud_instances" in w for o in plan.options if not o.allowed for w in o.warnings)


def test_system_per_gpu_prices_are_the_system_price_shared_out():
    """A GPU priced per system (HGX/DGX/OAM) costs its server's price / slots, so moving one moves
    the other and a per-GPU override moves the server by slots x the difference only."""
    for s in CAT.servers:
        if not s.includes_gpus or s.price_usd is None:
            continue
        gpu = CAT.accelerators.get(s.accepts_gpu_ids[0])
        if gpu.price_basis == "system-per-gpu":
            assert gpu.price_usd * s.gpu_slots == pytest.approx(s.price_usd, abs=0.05), s.id
            assert gpu.price_as_of == s.price_as_of, s.id


def test_8gpu_systems_carry_2026_prices_or_say_why_not():
    """HGX/DGX systems carry a 2026 price only from a page that could be read; a row left on an older
    figure says no 2026 one was found, and the plan flags it as old."""
    for s in CAT.servers:
        if s.includes_gpus and s.price_usd is not None:
            if s.price_as_of < date(2026, 1, 1):
                assert "no 2026 price" in (s.notes or "").lower(), s.id
                assert price_age_warnings([s], "servers", 180, date(2026, 12, 3)), s.id
            else:
                notes = (s.notes or "").lower()  # the figure it replaced stays on record, or there was none
                assert "older figure" in notes or "had no price" in notes, s.id
    # the July 2026 HGX figures could not be verified on any readable page: the Epoch AI rows stand
    hgx = CAT.servers.get("hgx-h100-8gpu")
    assert (hgx.price_usd, hgx.price_as_of) == (pytest.approx(255_237.04), date(2025, 1, 31))
    assert "no page giving it could be read" in hgx.notes
    assert CAT.servers.get("dgx-h100").price_usd == hgx.price_usd  # HGX and DGX of one board cost alike
    assert CAT.servers.get("hgx-b200-8gpu-liquid").price_usd == CAT.servers.get("dgx-b200").price_usd


def test_price_sources_give_an_address_or_a_dataset():
    """Every bundled price of a system sold with its GPUs, and its per-GPU share, names where it can be
    read again: a URL, or the Epoch AI dataset (whose rows carry their own URLs). A bare site name is
    not enough."""
    for s in CAT.servers:
        if s.price_usd is not None and s.includes_gpus:
            assert "https://" in s.source or "epoch ai" in s.source.lower(), s.id
    for g in CAT.accelerators:
        if g.price_usd is not None and g.price_basis == "system-per-gpu":
            assert "https://" in (g.price_source or ""), g.id


def test_skypilot_rows_are_dated_by_a_public_record_or_say_none_was_found():
    dated = {r.id: r.price_as_of for r in CAT.cloud_instances if "skypilot-catalog" in r.source and r.price_as_of}
    assert dated == {"aws-p5en.48xlarge-us-east-1": date(2026, 7, 27), "aws-p5en.48xlarge-eu-north-1": date(2026, 8, 6),
                     "nebius-h100-1gpu-eu-north1": date(2025, 8, 12), "nebius-b200-8gpu": date(2025, 8, 12)}
    for r in CAT.cloud_instances:
        if "skypilot-catalog" in r.source:
            note = r.price_as_of_note or ""
            assert ("dated public record" in note) and (r.price_as_of is not None or "no dated public record" in note), r.id
