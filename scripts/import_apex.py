"""Write the APEX+ vLLM check rows of validation/A_llm_inference.csv from a checkout of
github.com/microsoft/apex_plus.

Usage:
    python scripts/import_apex.py APEX_CHECKOUT [--csv PATH] [--dry-run]

APEX+ (arXiv 2411.17651) checks its simulator against vLLM v0.6.0 serving Llama 3.1 70B on eight
H100-SXM-80GB GPUs: request traces with Poisson arrivals at 0.5 and 0.25 requests/s (traces/README.md),
replayed by `vllm/trace.py` against one vLLM server per tensor-parallel group. The importer reads the
Llama runs of the three layouts whose launch scripts the repository keeps (`vllm/8TP.sh`,
`vllm/2DP4TP.sh`, `vllm/4DP2TP.sh`: one TP8 server; two TP4 servers; four TP2 servers, each replaying
its round-robin share of the trace) and, per server, its result file `vllm/results/llama_<trace>
_validation_<layout>[_<k>].txt`. The single-server TP4 and TP2 result files have no launch script in
the repository and are left out.

Per server two rows, both from vLLM's own /metrics histograms (server side, so no HTTP client in
them):
  * mean TTFT: `time_to_first_token_seconds` sum over count, as the result file prints it;
  * mean inter-token latency: `time_per_output_token_seconds` sum over the decode steps it counts,
    generated tokens minus requests (each request's first token comes from its prefill). The result
    file divides the same sum by the generated tokens (`trace.py` log_metrics); the importer undoes
    that, which moves the figure by N / (G - N): 1 / (mean output - 1), 0.1 - 1.6 % on these runs.
input_len / output_len are vLLM's own token counts over the run (the requests are non-streaming
/v1/completions calls with max_tokens set to the trace's output length and no ignore_eos, so many end
at EOS before it), length_kind "dataset (variable)". The request count is the number of per-request
lines in the result file. The offered rate is the trace's nominal Poisson rate over the servers
sharing it. A result file the repository holds empty (llama_creation_025_validation_4DP2TP_0.txt at
COMMIT) gives no row. The TP8 and TP4 servers' rows fit vLLM's time per layer on Hopper in BF16
(fitting_split.yaml llm_fit_rows, efficiency.yaml hopper-vllm-bf16); the TP2 servers' rows are held
out and check it.

The script runs offline and rewrites only this family's rows (source_type SOURCE_TYPE), written just
before the GPUStack performance-lab rows (which scripts/import_gpustack.py writes just before the
SemiAnalysis InferenceX tail); a rerun on the same checkout leaves the CSV byte for byte unchanged.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared write step

from validation_rows import replace_family, write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CSV_PATH = ROOT / "src" / "deployscope" / "validation" / "A_llm_inference.csv"
REPO = "https://github.com/microsoft/apex_plus"
COMMIT = "d96aa5fa97a8b69e2a80cfdc8d9b986d060f9d3f"  # the commit that added vllm/results
SOURCE_TYPE = "APEX+ vLLM validation runs"
#: the rows are written just before the first row of these families, in this order of preference
#: (the GPUStack block and the InferenceX tail are rewritten by their own importers, which keep
#: every other row where it is)
ANCHORS = ("GPUStack performance lab", "SemiAnalysis InferenceX")
ENGINE_IMAGE = "vllm/vllm-openai:v0.6.0"

#: layout -> (launch script, servers, tensor parallelism per server)
LAYOUTS = {"8TP": ("8TP.sh", 1, 8), "2DP4TP": ("2DP4TP.sh", 2, 4), "4DP2TP": ("4DP2TP.sh", 4, 2)}
WORKLOADS = ("lmsys", "summarization", "creation")
RATES = {"05": 0.5, "025": 0.25}  # the traces' Poisson arrival rates (traces/README.md)
MODEL = "Llama-3.1-70B"
PARAMS_B = "70.6"


class BadResult(ValueError):
    """A result file that does not hold what the importer reads."""


@dataclass(frozen=True)
class Result:
    requests: int
    prompt_tokens: int
    output_tokens: int
    ttft_s: float
    tpot_s: float  # as printed: the decode-step sum over every generated token


_FIGURES = {
    "prompt_tokens": r"vLLm prompt length sum: (\d+)",
    "output_tokens": r"vLLm output len sum: (\d+)",
    "ttft_s": r"vLLM TTFT: ([0-9.eE+-]+)",
    "tpot_s": r"vLLM TPOT: ([0-9.eE+-]+)",
}


def read_result(text: str, where: str) -> Result:
    """The figures of one result file (`vllm/trace.py` validation output)."""
    found: dict[str, float] = {}
    for name, pattern in _FIGURES.items():
        m = re.search(pattern, text)
        if m is None:
            raise BadResult(f"{where}: no {pattern.split(':')[0]!r} line")
        found[name] = float(m.group(1))
    # one line per request; the first may be cut short where the script reopened the file
    n = text.count("prompt difference =")
    if n < 1:
        raise BadResult(f"{where}: no per-request line")
    if found["output_tokens"] <= n:
        raise BadResult(f"{where}: {int(found['output_tokens'])} generated tokens for {n} requests")
    return Result(n, int(found["prompt_tokens"]), int(found["output_tokens"]), found["ttft_s"], found["tpot_s"])


def result_name(workload: str, rate: str, layout: str, server: int) -> str:
    servers = LAYOUTS[layout][1]
    suffix = f"_{server}" if servers > 1 else ""
    return f"llama_{workload}_{rate}_validation_{layout}{suffix}.txt"


def _fmt(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def rows_for(workload: str, rate: str, layout: str, server: int, res: Result) -> list[dict[str, str]]:
    script, servers, tp = LAYOUTS[layout]
    name = result_name(workload, rate, layout, server)
    qps = RATES[rate] / servers
    itl_ms = res.tpot_s * res.output_tokens / (res.output_tokens - res.requests) * 1e3
    share = (f"round-robin share {server + 1} of {servers} of the trace, so {_fmt(qps)} req/s at this server"
             if servers > 1 else "the whole trace at this server")
    base = {
        "model": MODEL, "params_b": PARAMS_B, "active_params_b": PARAMS_B, "hardware": "H100-SXM-80GB",
        "gpu_count": str(tp), "nodes": "1", "precision": "bf16",
        "precision_basis": "inferred: the bf16 checkpoint served without a quantization flag",
        "framework": "vLLM 0.6.0", "scenario": f"online serving, request rate QPS={_fmt(qps)}", "tp": str(tp),
        "pp": "1", "batch_size": "", "input_len": _fmt(res.prompt_tokens / res.requests),
        "output_len": _fmt(res.output_tokens / res.requests), "length_kind": "dataset (variable)",
        "value_per_gpu": "", "constraints": "", "source_type": SOURCE_TYPE,
        "round_or_version": f"apex_plus @ {COMMIT[:7]}", "submitter": "Microsoft (APEX+)",
        "system": f"8 x H100-SXM-80GB, {servers} vLLM server{'s' if servers > 1 else ''} of TP{tp}",
        "source": f"{REPO}/blob/{COMMIT}/vllm/results/{name}",
    }
    notes = (
        f"{res.requests} requests; trace {workload}_{rate} (Poisson arrivals at {RATES[rate]} req/s, "
        f"traces/README.md), {share}; server: docker {ENGINE_IMAGE} --tensor-parallel-size {tp} "
        f"--gpu-memory-utilization 0.97 --disable-frontend-multiprocessing (vllm/{script}); engine "
        "settings: gpu_memory_utilization=0.97; vLLM 0.6.0's own scheduler defaults (its V0 engine) are "
        "not read, the catalog's vLLM figures apply; client: "
        "vllm/trace.py, non-streaming /v1/completions with max_tokens = the trace's output length (no "
        "ignore_eos: lengths are vLLM's own counts over the run); figures from vLLM's /metrics "
        "histograms (server side)"
    )
    return [
        {**base, "metric": "mean_ttft", "value": _fmt(res.ttft_s * 1e3), "unit": "ms",
         "notes": f"{notes}: TTFT = time_to_first_token sum / count, as printed"},
        {**base, "metric": "mean_itl", "value": _fmt(itl_ms), "unit": "ms",
         "notes": (f"{notes}: ITL = time_per_output_token sum / (generated tokens - requests); the file "
                   f"prints the sum over generated tokens ({_fmt(res.tpot_s * 1e3)} ms)")},
    ]


def all_rows(checkout: Path) -> list[dict[str, str]]:
    """Every selected server's rows, in a fixed order."""
    results = checkout / "vllm" / "results"
    out: list[dict[str, str]] = []
    for layout, (script, servers, _tp) in LAYOUTS.items():
        if not (checkout / "vllm" / script).is_file():
            raise BadResult(f"no launch script vllm/{script}")
        for workload in WORKLOADS:
            for rate in RATES:
                for server in range(servers):
                    path = results / result_name(workload, rate, layout, server)
                    if not path.is_file():
                        raise BadResult(f"missing {path.relative_to(checkout)}")
                    text = path.read_text(encoding="utf-8")
                    if not text:  # the repository holds it empty: that server gives no row
                        continue
                    out += rows_for(workload, rate, layout, server, read_result(text, str(path.relative_to(checkout))))
    return out


def refresh(csv_text: str, rows: list[dict[str, str]]) -> str:
    """The CSV text with this family's rows replaced by `rows`, written just before the first row of
    the first family in ANCHORS the file holds (else at its end), every other row as it was."""
    return replace_family(csv_text, SOURCE_TYPE, rows, before=ANCHORS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("checkout", type=Path, help="a checkout of github.com/microsoft/apex_plus")
    ap.add_argument("--csv", type=Path, default=CSV_PATH, help="the A_llm_inference.csv to refresh")
    ap.add_argument("--dry-run", action="store_true", help="print what would be written, change nothing")
    args = ap.parse_args(argv)
    if not args.checkout.is_dir():
        print(f"error: checkout {str(args.checkout)!r}: not a directory", file=sys.stderr)
        return 2
    try:
        rows = all_rows(args.checkout)
    except (BadResult, OSError, UnicodeDecodeError) as exc:
        print(f"error: checkout {str(args.checkout)!r}: {exc}", file=sys.stderr)
        return 2
    print(f"{len(rows)} rows")
    return 0 if args.dry_run else write_rows(args.csv, lambda text: refresh(text, rows))


if __name__ == "__main__":
    raise SystemExit(main())
