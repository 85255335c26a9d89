"""Helpers shared by the store, report and web tests (imported explicitly, not a conftest).

`sample_plan()` builds a small but complete Plan by hand from `deployscope.result`, so renderers
can be tested on every section even where the planner leaves one empty; the browser and
benchmark tests run the real planner on a real example instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deployscope.result import (
    Assumption,
    CashFlowYear,
    CurvePoint,
    MemoryBreakdown,
    MonteCarlo,
    MonteCarloRange,
    Obligation,
    Option,
    ParetoPoint,
    Performance,
    Plan,
    Rationale,
    Sensitivity,
    Source,
    TornadoBar,
    UnitCosts,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
EVIL = "<script>alert('x')</script>&\"'"


def sample_plan(name: str = "bank-synthetic-ids", evil: bool = False) -> Plan:
    label_extra = f" {EVIL}" if evil else ""

    def flows(capex0: float, opex: float, years: int = 3) -> list[CashFlowYear]:
        return [CashFlowYear(year=0, capex=capex0, opex=0.0)] + [
            CashFlowYear(year=y, capex=0.0, opex=opex * (1.1 ** (y - 1)), breakdown={"power": opex * 0.3, "support": opex * 0.7})
            for y in range(1, years + 1)
        ]

    src = Source(table="accelerators", id="h100-sxm-80gb", source="https://www.nvidia.com/en-us/data-center/h100/", as_of="2025-01-15")
    opts = [
        Option(
            id="onprem-h100x8-fp8",
            label="On-prem 8x H100 SXM (FP8)" + label_extra,
            placement="on_prem",
            placement_detail="on_prem",
            npv=610_000.0,
            total_cost=700_000.0,
            unit_costs=UnitCosts(per_million_tokens=0.42, per_item=0.0021),
            cash_flows=flows(400_000, 100_000),
            break_even_month={"cloud-aws-p5-1y": 17.0},
            performance=Performance(
                gpu="h100-sxm-80gb", gpus=8, servers=1, quant="fp8", quality_delta=0.4, ttft_p95_s=0.35, tpot_p95_s=0.03,
                utilization=0.55, power_kw=7.2, energy_kwh_per_year=80_000, co2_kg_per_year=28_000,
            ),
            obligations=[Obligation(id="gdpr-dpia", text="Run a DPIA before processing" + label_extra, citation="https://eur-lex.europa.eu/eli/reg/2016/679/oj#art_35")],
            assumptions=[Assumption(name="economics.tariff_per_kwh", value=0.12, unit="USD/kWh", origin="catalog_default", source="https://ec.europa.eu/eurostat", as_of="2025-01-01")],
            sources=[src],
            rank=1,
            pareto=True,
        ),
        Option(
            id="cloud-aws-p5-1y",
            label="AWS p5.48xlarge, 1-year reserved",
            placement="cloud",
            placement_detail="us_cloud_eu_region",
            provider="aws",
            npv=820_000.0,
            total_cost=900_000.0,
            unit_costs=UnitCosts(per_million_tokens=0.61, per_item=0.003),
            cash_flows=flows(0, 300_000),
            performance=Performance(gpu="h100-sxm-80gb", gpus=8, quant="fp8", quality_delta=0.4, ttft_p95_s=0.3, tpot_p95_s=0.03, utilization=0.5),
            obligations=[Obligation(id="gdpr-transfer", text="SCCs or DPF certification for transfers", citation="https://eur-lex.europa.eu/eli/reg/2016/679/oj#art_46")],
            sources=[Source(table="cloud_instances", id="aws-p5.48xlarge", source="https://aws.amazon.com/ec2/pricing/", as_of="2025-02-01")],
            rank=2,
            pareto=True,
        ),
        Option(
            id="api-together-llama70b",
            label="Together API, Llama 3.1 70B",
            placement="api",
            placement_detail="us_api",
            provider="together",
            npv=1_100_000.0,
            total_cost=1_250_000.0,
            unit_costs=UnitCosts(per_million_tokens=0.88, per_item=0.0044),
            cash_flows=flows(0, 420_000),
            performance=Performance(ttft_p95_s=0.5, tpot_p95_s=0.02, quality_delta=0.0),
            rank=3,
        ),
        Option(
            id="hybrid-h100x4-api",
            label="Hybrid: 4x H100 base load + API bursts",
            placement="hybrid",
            placement_detail="on_prem_plus_us_api",
            npv=700_000.0,
            total_cost=780_000.0,
            unit_costs=UnitCosts(per_million_tokens=0.5),
            cash_flows=flows(200_000, 180_000),
            performance=Performance(gpu="h100-sxm-80gb", gpus=4, ttft_p95_s=0.4, tpot_p95_s=0.03, quality_delta=0.4),
            allowed=False,
            excluded_because=["special-category data may not leave the EU without a transfer basis (GDPR Art. 44)" + label_extra],
        ),
    ]
    return Plan(
        deployscope_version="0.1.0",
        scenario_name=name + label_extra,
        scenario={"name": name, "horizon_years": 3},
        horizon_years=3,
        discount_rate=0.08,
        recommended="onprem-h100x8-fp8",
        options=opts,
        rationale=Rationale(
            summary="On-prem 8x H100 has the lowest NPV and keeps data in the EU" + label_extra,
            reasons=["lowest NPV among allowed options", "meets TTFT and TPOT targets"],
            what_would_change=["a GPU price 40% higher would make the AWS 1-year option best"],
        ),
        pareto=[
            ParetoPoint(option_id="onprem-h100x8-fp8", cost=610_000, latency_s=0.35, quality_delta=0.4),
            ParetoPoint(option_id="cloud-aws-p5-1y", cost=820_000, latency_s=0.3, quality_delta=0.4),
            ParetoPoint(option_id="api-together-llama70b", cost=1_100_000, latency_s=0.5, quality_delta=0.0),
        ],
        sensitivity=[
            Sensitivity(
                option_id="onprem-h100x8-fp8",
                base_npv=610_000,
                bars=[
                    TornadoBar(input="gpu_price", low_factor=0.8, high_factor=1.2, npv_low=530_000, npv_high=690_000, swing=160_000),
                    TornadoBar(input="tariff", low_factor=0.5, high_factor=1.5, npv_low=590_000, npv_high=630_000, swing=40_000),
                    TornadoBar(input="demand", low_factor=0.5, high_factor=2.0, npv_low=600_000, npv_high=760_000, swing=160_000),
                ],
            )
        ],
        monte_carlo=MonteCarlo(
            samples=2000,
            seed=0,
            inputs={"tariff": {"low": 0.7, "high": 1.5}},
            ranges=[
                MonteCarloRange(option_id="onprem-h100x8-fp8", p10=560_000, p50=612_000, p90=690_000, prob_best=0.81),
                MonteCarloRange(option_id="cloud-aws-p5-1y", p10=700_000, p50=820_000, p90=950_000, prob_best=0.17),
                MonteCarloRange(option_id="api-together-llama70b", p10=800_000, p50=1_100_000, p90=1_500_000, prob_best=0.02),
            ],
        ),
        memory_breakdown=MemoryBreakdown(
            workload="synthetic-ids", model="llama-3.1-70b-instruct", gpu="h100-sxm-80gb", quant="fp8", tp=2,
            total_bytes=80e9, parts={"weights": 35e9, "kv_cache": 30e9, "activations": 4e9, "overhead": 3e9, "free": 8e9},
        ),
        latency_throughput=[
            CurvePoint(concurrency=c, output_tokens_per_s=tps, requests_per_s=tps / 300, ttft_s=ttft, tpot_s=tpot)
            for c, tps, ttft, tpot in [(1, 45, 0.08, 0.022), (4, 170, 0.1, 0.024), (16, 600, 0.18, 0.027), (64, 1700, 0.5, 0.038), (128, 2300, 1.1, 0.055)]
        ],
        assumptions=[Assumption(name="economics.discount_rate", value=0.08, origin="catalog_default", source="https://example.org/wacc", as_of="2025-01-01")],
        sources=[src],
        warnings=["cloud price catalog is older than 180 days" + label_extra],
        candidates_evaluated=1234,
    )


# ---------------------------------------------------------------------------- forms
def form_token(client, path: str = "/scenarios/new") -> str:  # noqa: ANN001
    """The per-session form token a page carries (the client keeps the cookie that goes with it)."""
    import html as _html
    import re as _re

    m = _re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert m, f"no form token on {path}"
    return _html.unescape(m.group(1))


def form_value(page_html: str, name: str) -> str:
    """The value of the hidden input `name` on a page (e.g. base_yaml of the scenario form)."""
    import html as _html
    import re as _re

    m = _re.search(r'name="' + _re.escape(name) + r'" value="([^"]*)"', page_html)
    assert m, f"no input {name!r}"
    return _html.unescape(m.group(1))


# ---------------------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def start_server(db_url: str, port: int | None = None, extra: list[str] | None = None, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`deployscope serve` in a subprocess on 127.0.0.1 with its own store; returns (proc, base URL)."""
    port = port or free_port()
    e = {**os.environ, "DEPLOYSCOPE_DATABASE_URL": db_url, **(env or {})}
    exe = shutil.which("deployscope")
    cmd = [exe] if exe else [sys.executable, "-m", "deployscope"]
    proc = subprocess.Popen(
        cmd + ["serve", "--host", "127.0.0.1", "--port", str(port), *(extra or [])],
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------------------- offline scan
import re  # noqa: E402

# attributes that make a browser fetch something (a citation's <a href> does not)
_LOAD_ATTRS = re.compile(
    r"<(script|link|img|iframe|frame|source|video|audio|track|embed|object|image|use|input|body|table|td|form)\b[^>]*?"
    r"\s(src|href|data|srcset|poster|background|xlink:href|action)\s*=\s*[\"']?([^\"'\s>]+)",
    re.I | re.S,
)
_CSS_URL = re.compile(r"url\(\s*[\"']?([^\"')]+)", re.I)
_CSS_IMPORT = re.compile(r"@import\s+(?:url\()?\s*[\"']?([^\"');]+)", re.I)
_META_REFRESH = re.compile(r"<meta[^>]+http-equiv\s*=\s*[\"']?refresh[^>]*url=([^\"'>]+)", re.I)
_JS_LOAD = re.compile(
    r"(?:fetch|import|importScripts|EventSource|WebSocket|open|sendBeacon)\s*\(\s*(?:[\"'`])((?:https?:|wss?:|ftp:)?//[^\"'`]+)", re.I
)


def _is_outside(ref: str, allow_local_paths: bool) -> bool:
    ref = ref.strip()
    low = ref.lower()
    if low.startswith(("data:", "#", "about:blank", "javascript:void", "blob:")):
        return False
    if low.startswith("//") or re.match(r"^[a-z][a-z0-9+.-]*:", low):
        return True  # any scheme (http, https, ftp, file...) or protocol-relative
    return not allow_local_paths


def outside_loads(text: str, kind: str, allow_local_paths: bool = True) -> list[str]:
    """References in `text` (kind: html, css, js) that would make a browser load something from
    outside. With allow_local_paths=False (report files), any non-data reference counts."""
    found: list[str] = []
    if kind == "html":
        for tag, attr, ref in _LOAD_ATTRS.findall(text):
            if tag.lower() == "form" or (tag.lower() == "link" and attr.lower() == "href" and False):
                continue
            if _is_outside(ref, allow_local_paths):
                found.append(f"<{tag} {attr}={ref}>")
        found += [f"refresh {u}" for u in _META_REFRESH.findall(text)]
    if kind in ("html", "css"):
        found += [f"url({u})" for u in _CSS_URL.findall(text) if _is_outside(u, allow_local_paths)]
        found += [f"@import {u}" for u in _CSS_IMPORT.findall(text)]
    if kind in ("html", "js"):
        found += [f"script load {u}" for u in _JS_LOAD.findall(text)]
    return found


@pytest.fixture
def store(tmp_path):
    """A fresh SQLite store for one web test."""
    from deployscope.store import Store

    s = Store(str(tmp_path / "web.db"))
    yield s
    s.close()


@pytest.fixture
def client(store):
    """The app over that store, plans computed in threads (no worker processes in unit tests)."""
    from fastapi.testclient import TestClient

    from deployscope.web.app import create_app

    return TestClient(create_app(store, plan_processes=False))
