"""Load-test a real OpenAI-compatible endpoint and calibrate the performance model to it.

- :mod:`.client`  streaming client, one :class:`RequestRecord` per request, over a transport:
  :mod:`.transport_raw` (lean asyncio HTTP/1.1) or :mod:`.transport_httpx`;
- :mod:`.sse`     the SSE parser; :mod:`.records` the typed request spec and record;
- :mod:`.load`    concurrency, constant/Poisson rate, sweep and SLO-search load patterns;
- :mod:`.metrics` TTFT, TPOT, ITL, e2e, throughput, goodput by formula, plus vLLM/guidellm views;
- :mod:`.calibrate` fit efficiency factors to measured runs and save a calibration profile;
- :mod:`.sse_server` a test server with injected timings and faults.

Definitions for people: docs/bench.md.
"""

from .client import Client, ClientConfig, normalize_base_url
from .load import LengthDist, LoadSpec, Run, run_load, run_slo_search, run_sweep
from .metrics import compat_views, request_metrics, stats, summarize
from .records import RequestRecord, RequestSpec

__all__ = [
    "Client",
    "ClientConfig",
    "LengthDist",
    "LoadSpec",
    "RequestRecord",
    "RequestSpec",
    "Run",
    "compat_views",
    "normalize_base_url",
    "request_metrics",
    "run_load",
    "run_slo_search",
    "run_sweep",
    "stats",
    "summarize",
]
