"""Write the SemiAnalysis InferenceX check rows of validation/A_llm_inference.csv from the
InferenceX dashboard's benchmark records.

Usage:
    python scripts/import_inferencex.py PATH/benchmarks.json [--csv PATH] [--dry-run]

PATH/benchmarks.json is the list of benchmark records the InferenceX dashboard tests read,
`packages/app/cypress/fixtures/api/benchmarks.json` of github.com/SemiAnalysisAI/InferenceX-app at
commit 3a600f1d (one record per hardware x framework x model x precision x parallelism x
ISL/OSL x concurrency, with the client-measured means). The script runs offline on a downloaded
copy: it drops every row whose source_type is SOURCE_TYPE and appends the rows of the selected
records, in a fixed order, so a rerun on the same file leaves the CSV byte for byte unchanged.

The rows are held-out check rows: nothing is fitted on them.

Selection (a documented subset that keeps `deployscope validate` cheap on 2 cores):
  * single-node aggregated serving only: is_multinode false, disagg false, spec_method none, and
    no attention data parallelism (the harness does not model DP attention);
  * hardware, model and framework in the name maps below (each checked against the catalog),
    with the serving formats read from the InferenceX configs and launch scripts (FORMATS) and the
    server's launch flags read from its launch script (LAUNCH; a configuration without one is left
    out). The flags the performance model has a parameter for go into the notes as
    "engine settings: key=value, ..." (read by the validation harness), the others as text;
  * ISL/OSL 1k/1k and 8k/1k, concurrencies 4, 16 and 64;
  * only records dated where the configuration's launch flags are known (FLAGS_KNOWN);
  * per configuration, length pair and concurrency the newest record (by date, then run address).
Per record up to five rows: output throughput (when the record has output_tput_per_gpu; the
oldest records have only total tokens/s per GPU, and give TTFT and TPOT only), mean, median and
p99 TTFT, and mean TPOT. The median is a typical request once the clients run staggered; the
p99 (the 99th percentile over 10 x CONC requests) falls in the first wave, when every client
sends at once.

The client (InferenceX benchmarks/benchmark_lib.sh run_benchmark_serving and
.github/workflows/benchmark-tmpl.yml at commit 89ce6098): utils/bench_serving/benchmark_serving.py
--dataset-name random --random-input-len ISL --random-output-len OSL --random-range-ratio 0.8
--ignore-eos --request-rate inf --max-concurrency CONC with --num-prompts 10 x CONC. Each
request's input and output lengths are drawn uniformly from the integers [int(0.8 L), L]; with
ignore_eos the output runs to its drawn length. The rows give those means (921.5 for 1,024; 7,372.5
for 8,192) in input_len / output_len and the range in length_kind; the validation harness draws
each simulated request's lengths uniformly from the same integers (seeded), with the same request
count.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared write step

from validation_rows import replace_family, write_rows  # noqa: E402

FIXTURE_COMMIT = "3a600f1d9ce155536d52e2f58f744f27a301aac9"
SOURCE = ("https://github.com/SemiAnalysisAI/InferenceX-app/blob/"
          f"{FIXTURE_COMMIT}/packages/app/cypress/fixtures/api/benchmarks.json")
SOURCE_TYPE = "SemiAnalysis InferenceX"
ROUND = f"benchmarks.json @ {FIXTURE_COMMIT[:7]}"
CLIENT_COMMIT = "89ce6098ef2bc4576a735c43f39c7d972b091cfc"
CSV_PATH = Path(__file__).resolve().parents[1] / "src" / "deployscope" / "validation" / "A_llm_inference.csv"

LENGTHS = ((1024, 1024), (8192, 1024))
CONCURRENCIES = (4, 16, 64)
RANGE_RATIO = 0.8
PROMPTS_PER_CLIENT = 10

# InferenceX name -> catalog name
HARDWARE = {"h100": "H100-SXM-80GB", "h200": "H200-SXM-141GB", "b200": "B200-SXM-180GB",
            "mi300x": "MI300X-192GB", "mi325x": "MI325X-256GB", "mi355x": "MI355X-288GB"}
VENDOR = {"h100": "nvidia", "h200": "nvidia", "b200": "nvidia", "mi300x": "amd", "mi325x": "amd", "mi355x": "amd"}
MODELS = {"dsr1": ("DeepSeek-R1", "671.0", "37.0"), "gptoss": ("gpt-oss-120b", "116.83", "5.13"),
          "70b": ("Llama-3.3-70B-Instruct", "70.6", "70.6")}
ENGINES = {"trt": "TensorRT-LLM", "sglang": "SGLang", "vllm": "vLLM"}

# The engine image of records that carry none: the image InferenceX's benchmark workflow set for
# that job while the record ran, from .github/workflows/dsr1-tmpl.yml on main, which named one image
# per hardware x framework x precision job until the configs moved to .github/configs (17d5e20,
# 2025-11-03). (framework, hardware, first day, last day) -> (image, where it is set)
_DSR1_TMPL = ".github/workflows/dsr1-tmpl.yml"
IMAGES_BY_DATE = (
    ("trt", "b200", "2025-09-18", "2025-11-03", "nvcr.io#nvidia/tensorrt-llm/release:1.1.0rc2.post2",
     f"InferenceX {_DSR1_TMPL} from ec90f3f (2025-09-18) to 17d5e20 (2025-11-03), jobs bmk-b200-trt-fp8 and -fp4"),
    ("trt", "h200", "2025-09-23", "2025-11-03", "nvcr.io#nvidia/tensorrt-llm/release:1.1.0rc2.post2",
     f"InferenceX {_DSR1_TMPL} from fb8b86c (2025-09-23) to 17d5e20 (2025-11-03), job bmk-h200-trt-fp8"),
    ("sglang", "mi355x", "2025-09-20", "2025-11-03", "rocm/7.0:rocm7.0_ubuntu_22.04_sgl-dev-v0.5.2-rocm7.0-mi35x-20250915",
     f"InferenceX {_DSR1_TMPL} from b99db2e (2025-09-20) to 17d5e20 (2025-11-03), jobs bmk-mi355x-fp8 and -fp4"),
)


def image_of(r: dict[str, Any]) -> tuple[str | None, str | None]:
    """The record's engine image and, where the record does not carry it, where it comes from
    (None, None: neither the record nor the workflow table names one)."""
    if r.get("image"):
        return r["image"], None
    for fw, hw, first, last, image, where in IMAGES_BY_DATE:
        if r["framework"] == fw and r["hardware"] == hw and first <= r["date"] <= last:
            return image, where
    return None, None

# (model, framework, precision, vendor) -> (precision column, precision_basis, checkpoint), read
# from .github/configs/{nvidia,amd}-master.yaml and benchmarks/single_node/*.sh at CLIENT_COMMIT
_CFG = f"InferenceX .github/configs and benchmarks/single_node @ {CLIENT_COMMIT[:7]}"
LLAMA_COMMIT = "c198b20eb"  # parent of 2582bce, the last commit with the Llama 3.3 70B configs and scripts
_CFG70 = f"InferenceX .github/workflows/runner-model-sweep-test.yml and benchmarks/70b_*.sh @ {LLAMA_COMMIT[:7]}"
# serving formats that several configurations share
_DSR1_FP8_SGLANG_BF16_KV = (
    "fp8 (weights) + bf16 (KV cache)",
    f"inferred: deepseek-ai/DeepSeek-R1-0528 (FP8 block-scaled checkpoint) served as is; no --kv-cache-dtype, so "
    f"SGLang keeps the KV cache in the model's bf16 activation dtype ({_CFG})", "deepseek-ai/DeepSeek-R1-0528")
_DSR1_FP8_SGLANG_FP8_KV = (
    "fp8 (weights) + fp8 (KV cache)", f"stated: deepseek-ai/DeepSeek-R1-0528 (FP8 block-scaled checkpoint) served as "
                                      f"is; sglang --kv-cache-dtype fp8_e4m3 ({_CFG})", "deepseek-ai/DeepSeek-R1-0528")
_GPTOSS_VLLM_BF16_KV = (
    "mxfp4 (weights) + bf16 (KV cache)", f"inferred: openai/gpt-oss-120b (MXFP4 experts) served as is; no "
    f"kv-cache-dtype, so vLLM keeps the KV cache in bf16 ({_CFG})", "openai/gpt-oss-120b")
FORMATS = {
    ("dsr1", "trt", "fp8", "nvidia"): (
        "fp8", f"stated: deepseek-ai/DeepSeek-R1-0528 (FP8 block-scaled checkpoint) served as is; "
               f"trtllm-serve kv_cache_config dtype fp8 ({_CFG})", "deepseek-ai/DeepSeek-R1-0528"),
    ("dsr1", "trt", "fp4", "nvidia"): (
        "fp4", f"stated: nvidia/DeepSeek-R1-0528-FP4-V2 (NVFP4 checkpoint); trtllm-serve kv_cache_config "
               f"dtype fp8 ({_CFG})", "nvidia/DeepSeek-R1-0528-FP4-V2"),
    ("dsr1", "sglang", "fp8", "nvidia"): _DSR1_FP8_SGLANG_BF16_KV,
    ("dsr1", "sglang", "fp4", "nvidia"): (
        "fp4 (weights) + fp8 (KV cache)", f"stated: nvidia/DeepSeek-R1-0528-FP4-V2 (NVFP4 checkpoint, --quantization "
                                          f"modelopt_fp4); sglang --kv-cache-dtype fp8_e4m3 ({_CFG})",
        "nvidia/DeepSeek-R1-0528-FP4-V2"),
    ("dsr1", "sglang", "fp4", "amd"): (
        "fp4 (weights) + fp8 (KV cache)", f"stated: amd/DeepSeek-R1-0528-MXFP4-Preview (MXFP4 checkpoint); "
                                          f"sglang --kv-cache-dtype fp8_e4m3 ({_CFG})",
        "amd/DeepSeek-R1-0528-MXFP4-Preview"),
    ("dsr1", "sglang", "fp8", "mi300x"): _DSR1_FP8_SGLANG_FP8_KV,
    ("dsr1", "sglang", "fp8", "mi325x"): _DSR1_FP8_SGLANG_FP8_KV,
    ("dsr1", "sglang", "fp8", "mi355x"): _DSR1_FP8_SGLANG_BF16_KV,
    ("dsr1", "sglang", "fp8", "b200"): (
        "fp8 (weights) + fp8 (KV cache)", f"stated: deepseek-ai/DeepSeek-R1-0528 (FP8 block-scaled checkpoint, "
                                          f"--quantization fp8); sglang --kv-cache-dtype fp8_e4m3 ({_CFG})",
        "deepseek-ai/DeepSeek-R1-0528"),
    # gpt-oss-120b ships MXFP4 expert weights (the catalog's native format); the KV cache is what
    # each launch script sets (vLLM config.yaml kv-cache-dtype, trtllm-serve kv_cache_config dtype)
    ("gptoss", "vllm", "fp4", "h100"): _GPTOSS_VLLM_BF16_KV,
    ("gptoss", "vllm", "fp4", "h200"): _GPTOSS_VLLM_BF16_KV,
    ("gptoss", "vllm", "fp4", "b200"): (
        "mxfp4 (weights) + fp8 (KV cache)", f"stated: openai/gpt-oss-120b (MXFP4 experts); vllm config.yaml "
        f"kv-cache-dtype fp8 ({_CFG})", "openai/gpt-oss-120b"),
    ("gptoss", "trt", "fp4", "h200"): (
        "mxfp4 (weights) + bf16 (KV cache)", f"inferred: openai/gpt-oss-120b (MXFP4 experts); trtllm-serve "
        f"kv_cache_config dtype auto, the model's bf16 ({_CFG})", "openai/gpt-oss-120b"),
    ("gptoss", "trt", "fp4", "b200"): (
        "mxfp4 (weights) + fp8 (KV cache)", f"stated: openai/gpt-oss-120b (MXFP4 experts); trtllm-serve "
        f"kv_cache_config dtype fp8 ({_CFG})", "openai/gpt-oss-120b"),
    ("gptoss", "vllm", "fp4", "amd"): (
        "mxfp4 (weights) + bf16 (KV cache)", f"inferred: openai/gpt-oss-120b (MXFP4 experts) served as is; no "
        f"--kv-cache-dtype, so vLLM keeps the KV cache in bf16 ({_CFG})", "openai/gpt-oss-120b"),
    # Llama 3.3 70B: benchmarked until 2582bce (2025-10-29, "remove llama 70b"); checkpoints from
    # .github/workflows/runner-model-sweep-test.yml and flags from benchmarks/70b_*.sh at its parent
    ("70b", "vllm", "fp8", "nvidia"): (
        "fp8 (weights) + fp8 (KV cache)", f"stated: nvidia/Llama-3.3-70B-Instruct-FP8; vllm kv-cache-dtype fp8 ({_CFG70})",
        "nvidia/Llama-3.3-70B-Instruct-FP8"),
    ("70b", "trt", "fp8", "nvidia"): (
        "fp8 (weights) + fp8 (KV cache)", f"stated: nvidia/Llama-3.3-70B-Instruct-FP8; trtllm-serve kv_cache_config "
                                          f"dtype fp8 ({_CFG70})", "nvidia/Llama-3.3-70B-Instruct-FP8"),
    ("70b", "vllm", "fp4", "nvidia"): (
        "fp4 (weights) + fp8 (KV cache)", f"stated: nvidia/Llama-3.3-70B-Instruct-FP4 (NVFP4); vllm kv-cache-dtype fp8 "
                                          f"({_CFG70})", "nvidia/Llama-3.3-70B-Instruct-FP4"),
    ("70b", "trt", "fp4", "nvidia"): (
        "fp4 (weights) + fp8 (KV cache)", f"stated: nvidia/Llama-3.3-70B-Instruct-FP4 (NVFP4); trtllm-serve "
                                          f"kv_cache_config dtype fp8 ({_CFG70})", "nvidia/Llama-3.3-70B-Instruct-FP4"),
    ("70b", "vllm", "fp8", "amd"): (
        "fp8 (weights) + fp8 (KV cache)", f"stated: amd/Llama-3.3-70B-Instruct-FP8-KV; vllm --kv-cache-dtype fp8 "
                                          f"({_CFG70})", "amd/Llama-3.3-70B-Instruct-FP8-KV"),
    ("70b", "vllm", "fp4", "amd"): (
        "fp4 (weights) + fp8 (KV cache)", f"stated: amd/Llama-3.3-70B-Instruct-MXFP4-Preview (MXFP4); vllm "
                                          f"--kv-cache-dtype fp8 ({_CFG70})", "amd/Llama-3.3-70B-Instruct-MXFP4-Preview"),
}


def _formats(r: dict[str, Any]) -> tuple[str, str, str] | None:
    """The serving formats of a record's configuration: by hardware where the scripts differ per
    GPU, else by vendor; None when the importer does not know the configuration."""
    key = (r["model"], r["framework"], r["precision"])
    return FORMATS.get((*key, r["hardware"])) or FORMATS.get((*key, VENDOR.get(r["hardware"], "")))



# ----------------------------------------------------------------------------------------------
# Server launch flags per configuration, read from InferenceX benchmarks/single_node/<config>.sh at
# CLIENT_COMMIT, with the script's history (git log -p) applied for the record's date where a flag
# the harness reads changed inside the dashboard's window (2025-10 .. 2026-03). Each entry gives
# the flags the performance model has a parameter for ("engine settings: ...", read by the
# validation harness, see deployscope/validate/server_flags.py) and the other flags, for the record.
# ----------------------------------------------------------------------------------------------

SCRIPTS = "benchmarks/single_node"
TRT_CLAMP_FROM = "2026-01-21"  # 64af5a7: max_num_tokens raised to at least 8,192 (no floor before)
Launch = tuple[dict[str, Any], str, str]  # (engine settings, other flags, history note)


def _trt_tokens(r: dict[str, Any]) -> tuple[int, str]:
    """trtllm-serve --max_num_tokens: (CONC + ISL + 64 + 63) / 64 x 64, at least 8,192 from 64af5a7."""
    t = (int(r["conc"]) + int(r["isl"]) + 127) // 64 * 64
    if r["date"] >= TRT_CLAMP_FROM:
        return max(t, 8192), "max_num_tokens = max(8192, (CONC + ISL + 127) // 64 x 64)"
    return t, (f"max_num_tokens = (CONC + ISL + 127) // 64 x 64, with no 8,192 floor before {TRT_CLAMP_FROM} "
               "(64af5a7 added it)")


def _dsr1_h200_sglang(r: dict[str, Any]) -> Launch:
    mrr = 512 if (r["isl"], r["osl"]) == (1024, 1024) else 256
    return ({"chunked_prefill_size": 32768, "max_prefill_tokens": 32768, "max_running_requests": mrr,
             "mem_fraction_static": 0.82},
            f"--cuda-graph-max-bs {mrr} --attention-backend flashinfer --disable-radix-cache --data-parallel-size 1 "
            f"--stream-interval 10 (no --ep-size, --kv-cache-dtype or --enable-mixed-chunk)",
            "these flags unchanged from e617b3e (2025-09-19) to 12ba0ae (2026-03-25)")


def _dsr1_b200_sglang(r: dict[str, Any]) -> Launch:
    recv = 30 if int(r["conc"]) >= 16 else 10
    return ({"chunked_prefill_size": 16384, "max_running_requests": 256, "mem_fraction_static": 0.85,
             "scheduler_recv_interval": recv},
            f"--cuda-graph-max-bs 256 --ep-size {r['decode_ep']} --kv-cache-dtype fp8_e4m3 --quantization modelopt_fp4 "
            f"--attention-backend trtllm_mla --moe-runner-backend flashinfer_trtllm --enable-flashinfer-allreduce-fusion "
            f"--enable-symm-mem --disable-radix-cache --stream-interval 10 "
            f"(--max-prefill-tokens not set: SGLang's default 16,384)",
            "these flags unchanged from ea181ae (2025-12-31) to 12ba0ae (2026-03-25)")


def _dsr1_b200_sglang_fp8(r: dict[str, Any]) -> Launch:
    tp8 = int(r["decode_tp"]) == 8  # the script runs TP 8, or TP 4 at 8k/1k only
    mrr, chunk, frac = (128, 32768, 0.82) if tp8 else (32, 8192, 0.95)
    recv = 30 if tp8 and int(r["conc"]) >= 16 else 10
    return ({"chunked_prefill_size": chunk, "max_prefill_tokens": chunk, "max_running_requests": mrr,
             "mem_fraction_static": frac, "scheduler_recv_interval": recv},
            f"--cuda-graph-max-bs {mrr} --ep-size {r['decode_ep']} --kv-cache-dtype fp8_e4m3 --quantization fp8 "
            f"--attention-backend trtllm_mla --moe-runner-backend flashinfer_trtllm --enable-flashinfer-allreduce-fusion "
            f"--disable-radix-cache --stream-interval 30, SGL_ENABLE_JIT_DEEPGEMM=false, "
            f"SGLANG_ENABLE_FLASHINFER_GEMM=true",
            f"as at {CLIENT_COMMIT[:7]}; the per-TP branches since 1d29967 (2026-01-13), earlier history not read")


def _dsr1_mi355x_sglang(r: dict[str, Any]) -> Launch:
    chunk = 32768 if (r["isl"], r["osl"]) == (8192, 1024) and int(r["conc"]) > 32 else 196608
    return ({"chunked_prefill_size": chunk, "max_prefill_tokens": chunk, "mem_fraction_static": 0.8},
            "--cuda-graph-max-bs 128 --num-continuous-decode-steps 4 --attention-backend aiter --kv-cache-dtype fp8_e4m3 "
            "--disable-radix-cache, SGLANG_USE_AITER=1, ROCM_QUICK_REDUCE_QUANTIZATION=INT4 (--max-running-requests "
            "not set: SGLang sizes it from the KV pool)",
            "the 32,768 chunk at 8k/1k above 32 clients since a25544f (2025-10-02); unchanged to 12ba0ae (2026-03-25)")


def _dsr1_mi300_sglang_fp8(r: dict[str, Any]) -> Launch:
    # dsr1_fp8_mi300x.sh and dsr1_fp8_mi325x.sh launch the same server
    return ({"chunked_prefill_size": 131072, "max_prefill_tokens": 131072, "mem_fraction_static": 0.8},
            "--cuda-graph-max-bs 128 --num-continuous-decode-steps 4 --attention-backend aiter --kv-cache-dtype fp8_e4m3 "
            "--disable-radix-cache, SGLANG_USE_AITER=1, SGLANG_AITER_MLA_PERSIST=1 (--max-running-requests not set: "
            "SGLang sizes it from the KV pool)",
            f"as at {CLIENT_COMMIT[:7]}; the script's history before 8d81e0b (which moved it) not read")


def _dsr1_mi355x_sglang_fp8(r: dict[str, Any]) -> Launch:
    return ({"chunked_prefill_size": 196608, "max_prefill_tokens": 196608, "mem_fraction_static": 0.8},
            f"--cuda-graph-max-bs {r['conc']} --num-continuous-decode-steps 4 --attention-backend aiter "
            "--disable-radix-cache (no --kv-cache-dtype), SGLANG_USE_AITER=1, ROCM_QUICK_REDUCE_QUANTIZATION=INT4 "
            "(--max-running-requests not set: SGLang sizes it from the KV pool)",
            f"as at {CLIENT_COMMIT[:7]}; the script's history before 8d81e0b (which moved it) not read")


def _trt_other(r: dict[str, Any], graph_bs: int | str, moe: str, kv: str, extra: str = "") -> str:
    return (f"cuda_graph_config max_batch_size {graph_bs} (enable_padding), kv_cache_config dtype {kv} "
            f"(enable_block_reuse false), moe_config backend {moe}, enable_attention_dp false, stream_interval 10, "
            f"--backend pytorch --tp_size {r['decode_tp']} --ep_size {r['decode_ep']}{extra} (max_batch_size and "
            f"enable_chunked_prefill not set: trtllm-serve's defaults, the catalog's)")


def _dsr1_h200_trt(r: dict[str, Any]) -> Launch:
    tokens, rule = _trt_tokens(r)
    hist = rule
    if r["date"] < "2025-11-03":  # 17d5e20 moved EP to the config; 9596d23 set it in the script
        hist += "; the script in force then (9596d23) set --ep_size to TP whatever the record's EP"
    return ({"max_num_tokens": tokens, "free_gpu_memory_fraction": 0.75},
            _trt_other(r, 128, "CUTLASS", "fp8"), hist)


def _dsr1_b200_trt_fp4(r: dict[str, Any]) -> Launch:
    tokens, rule = _trt_tokens(r)
    after = r["date"] >= "2026-02-03"  # 6eecc0e (#620, 2026-02-03): graph batch CONC, piecewise graphs
    piecewise = after and (r["isl"], r["osl"]) == (1024, 1024) and (r["decode_tp"], r["decode_ep"]) == (8, 8)
    return ({"max_num_tokens": tokens, "free_gpu_memory_fraction": 0.8},
            _trt_other(r, r["conc"] if after else 512, "TRTLLM", "fp8", ", piecewise CUDA graphs" if piecewise else ""),
            rule + "; cuda_graph max_batch_size 512 before 6eecc0e (#620, 2026-02-03), CONC from it (runs of that "
                   "day may be either; neither is modeled)")


def _dsr1_b200_trt_fp8(r: dict[str, Any]) -> Launch:
    tokens, rule = _trt_tokens(r)
    after = r["date"] >= "2026-01-29"  # ec7bafa (#594): per-shape memory fraction, graph batch CONC
    frac = 0.75 if after and r["isl"] == 8192 and r["decode_tp"] == 4 else 0.8
    piecewise = after and int(r["conc"]) >= 64 and r["osl"] == 1024
    return ({"max_num_tokens": tokens, "free_gpu_memory_fraction": frac},
            _trt_other(r, r["conc"] if after else 256, "TRTLLM", "fp8", ", piecewise CUDA graphs" if piecewise else ""),
            rule + "; before ec7bafa (#594, 2026-01-29) free_gpu_memory_fraction 0.8 everywhere and cuda_graph "
                   "max_batch_size 256")


def _gptoss_vllm_nvidia(r: dict[str, Any]) -> Launch:
    seqs = 512 if r["hardware"] == "b200" else int(r["conc"])
    return ({"max_num_batched_tokens": 8192, "max_num_seqs": seqs, "gpu_memory_utilization": 0.9},
            "config.yaml no-enable-prefix-caching, max-cudagraph-capture-size 2048, max-model-len per ISL/OSL"
            + (", kv-cache-dtype fp8, fused allreduce-RMS pass" if r["hardware"] == "b200" else ", VLLM_MXFP4_USE_MARLIN=1"),
            f"as at {CLIENT_COMMIT[:7]} (history not read)")


def _gptoss_vllm_amd(r: dict[str, Any]) -> Launch:
    return ({"gpu_memory_utilization": 0.95},
            "--block-size 64 --no-enable-prefix-caching, cudagraph_mode FULL_AND_PIECEWISE, AITER kernels"
            + (", --async-scheduling" if r["hardware"] == "mi355x" else "")
            + " (max-num-seqs and max-num-batched-tokens not set: vLLM's defaults)",
            f"as at {CLIENT_COMMIT[:7]} (history not read)")


def _gptoss_trt(r: dict[str, Any]) -> Launch:
    seqs = int(r["conc"]) if r["hardware"] == "h200" else 512
    return ({"max_num_tokens": 20000, "max_batch_size": seqs, "free_gpu_memory_fraction": 0.85},
            _trt_other(r, r["conc"], "TRITON" if r["hardware"] == "h200" else "TRTLLM",
                       "auto" if r["hardware"] == "h200" else "fp8", ", stream_interval 20, num_postprocess_workers 4"),
            f"as at {CLIENT_COMMIT[:7]} (history not read)")


def _llama_vllm(r: dict[str, Any]) -> Launch:
    hw, conc = r["hardware"], int(r["conc"])
    if hw in ("mi300x", "mi325x", "mi355x"):
        seqs = 1024 if r["precision"] == "fp4" else conc
        return ({"max_num_batched_tokens": 131072, "max_num_seqs": seqs, "gpu_memory_utilization": 0.94},
                "--kv-cache-dtype fp8 --swap-space 64 --no-enable-prefix-caching --async-scheduling, AITER kernels "
                "by concurrency", f"as at {LLAMA_COMMIT[:7]}; the _slurm and _docker scripts agree on these flags")
    seqs = 512 if hw == "b200" else conc
    return ({"max_num_batched_tokens": 8192, "max_num_seqs": seqs, "gpu_memory_utilization": 0.9},
            "config.yaml kv-cache-dtype fp8, async-scheduling, no-enable-prefix-caching, max-model-len per ISL/OSL",
            f"as at {LLAMA_COMMIT[:7]}")


def _llama_trt(r: dict[str, Any]) -> Launch:
    wait = (r["isl"], r["osl"]) == (1024, 1024) and int(r["decode_tp"]) < 8
    return ({"max_num_tokens": 16384},
            "cuda_graph_config max_batch_size 1024 (enable_padding), kv_cache_config dtype fp8 (enable_block_reuse "
            "false), stream_interval 10" + (", batch_wait_timeout_iters 20, batch_wait_max_tokens_ratio 0.9" if wait else "")
            + f", --tp_size {r['decode_tp']} (max_batch_size and free_gpu_memory_fraction not set: trtllm-serve's "
            "defaults, the catalog's)", f"as at {LLAMA_COMMIT[:7]}")


#: (model, framework, precision, hardware) -> (launch script path in InferenceX, flags of a record); the
#: scripts are read at CLIENT_COMMIT, the Llama 3.3 70B ones (removed since) at LLAMA_COMMIT
LAUNCH = {
    ("dsr1", "sglang", "fp8", "h200"): (f"{SCRIPTS}/dsr1_fp8_h200.sh", _dsr1_h200_sglang),
    ("dsr1", "sglang", "fp4", "b200"): (f"{SCRIPTS}/dsr1_fp4_b200.sh", _dsr1_b200_sglang),
    ("dsr1", "sglang", "fp8", "b200"): (f"{SCRIPTS}/dsr1_fp8_b200.sh", _dsr1_b200_sglang_fp8),
    ("dsr1", "sglang", "fp4", "mi355x"): (f"{SCRIPTS}/dsr1_fp4_mi355x.sh", _dsr1_mi355x_sglang),
    ("dsr1", "sglang", "fp8", "mi300x"): (f"{SCRIPTS}/dsr1_fp8_mi300x.sh", _dsr1_mi300_sglang_fp8),
    ("dsr1", "sglang", "fp8", "mi325x"): (f"{SCRIPTS}/dsr1_fp8_mi325x.sh", _dsr1_mi300_sglang_fp8),
    ("dsr1", "sglang", "fp8", "mi355x"): (f"{SCRIPTS}/dsr1_fp8_mi355x.sh", _dsr1_mi355x_sglang_fp8),
    ("dsr1", "trt", "fp8", "h200"): (f"{SCRIPTS}/dsr1_fp8_h200_trt.sh", _dsr1_h200_trt),
    ("dsr1", "trt", "fp4", "b200"): (f"{SCRIPTS}/dsr1_fp4_b200_trt.sh", _dsr1_b200_trt_fp4),
    ("dsr1", "trt", "fp8", "b200"): (f"{SCRIPTS}/dsr1_fp8_b200_trt.sh", _dsr1_b200_trt_fp8),
    ("gptoss", "vllm", "fp4", "h100"): (f"{SCRIPTS}/gptoss_fp4_h100.sh", _gptoss_vllm_nvidia),
    ("gptoss", "vllm", "fp4", "h200"): (f"{SCRIPTS}/gptoss_fp4_h200.sh", _gptoss_vllm_nvidia),
    ("gptoss", "vllm", "fp4", "b200"): (f"{SCRIPTS}/gptoss_fp4_b200.sh", _gptoss_vllm_nvidia),
    ("gptoss", "trt", "fp4", "h200"): (f"{SCRIPTS}/gptoss_fp4_h200_trt.sh", _gptoss_trt),
    ("gptoss", "trt", "fp4", "b200"): (f"{SCRIPTS}/gptoss_fp4_b200_trt.sh", _gptoss_trt),
    ("gptoss", "vllm", "fp4", "mi300x"): (f"{SCRIPTS}/gptoss_fp4_mi300x.sh", _gptoss_vllm_amd),
    ("gptoss", "vllm", "fp4", "mi325x"): (f"{SCRIPTS}/gptoss_fp4_mi325x.sh", _gptoss_vllm_amd),
    ("gptoss", "vllm", "fp4", "mi355x"): (f"{SCRIPTS}/gptoss_fp4_mi355x.sh", _gptoss_vllm_amd),
    ("70b", "vllm", "fp8", "h100"): ("benchmarks/70b_fp8_h100_slurm.sh", _llama_vllm),
    ("70b", "vllm", "fp8", "h200"): ("benchmarks/70b_fp8_h200_slurm.sh", _llama_vllm),
    ("70b", "vllm", "fp8", "b200"): ("benchmarks/70b_fp8_b200_docker.sh", _llama_vllm),
    ("70b", "vllm", "fp4", "b200"): ("benchmarks/70b_fp4_b200_docker.sh", _llama_vllm),
    ("70b", "trt", "fp8", "h200"): ("benchmarks/70b_fp8_h200_trt_slurm.sh", _llama_trt),
    ("70b", "trt", "fp8", "b200"): ("benchmarks/70b_fp8_b200_trt_slurm.sh", _llama_trt),
    ("70b", "trt", "fp4", "b200"): ("benchmarks/70b_fp4_b200_trt_slurm.sh", _llama_trt),
    ("70b", "vllm", "fp8", "mi300x"): ("benchmarks/70b_fp8_mi300x_slurm.sh", _llama_vllm),
    ("70b", "vllm", "fp8", "mi325x"): ("benchmarks/70b_fp8_mi325x_slurm.sh", _llama_vllm),
    ("70b", "vllm", "fp8", "mi355x"): ("benchmarks/70b_fp8_mi355x_slurm.sh", _llama_vllm),
    ("70b", "vllm", "fp4", "mi355x"): ("benchmarks/70b_fp4_mi355x_slurm.sh", _llama_vllm),
}


#: the dates between which a SGLang launch script's flags are known (its git history read from the
#: first date to the day before the next change of a flag): a record dated outside ran flags the
#: importer cannot state, and is not imported. TensorRT-LLM entries apply their history per record.
FLAGS_KNOWN = {
    ("dsr1", "sglang", "fp8", "h200"): ("2025-09-19", "2026-03-25"),  # e617b3e .. 12ba0ae, unchanged
    ("dsr1", "sglang", "fp4", "b200"): ("2025-12-31", "2026-03-25"),  # ea181ae .. 12ba0ae, unchanged
    ("dsr1", "sglang", "fp8", "b200"): ("2026-01-13", "2026-03-25"),  # 1d29967 .. 12ba0ae, unchanged
    ("dsr1", "sglang", "fp4", "mi355x"): ("2025-10-02", "2026-03-25"),  # a25544f .. 12ba0ae
    ("dsr1", "sglang", "fp8", "mi300x"): ("2026-02-19", "2026-03-10"),  # 8d81e0b (moved) .. 64c20b6 (changed)
    ("dsr1", "sglang", "fp8", "mi325x"): ("2026-02-19", "2026-03-07"),  # 8d81e0b (moved) .. 85d5f0e (changed)
    ("dsr1", "sglang", "fp8", "mi355x"): ("2026-02-19", "2026-03-04"),  # 8d81e0b (moved) .. 9d39c92 (changed)
}


def flags_known(r: dict[str, Any]) -> bool:
    """Whether the record's date falls where its launch script's flags are known (FLAGS_KNOWN)."""
    window = FLAGS_KNOWN.get((r["model"], r["framework"], r["precision"], r["hardware"]))
    return window is None or window[0] <= r["date"] <= window[1]


def _setting(v: Any) -> str:
    return repr(v) if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def launch(r: dict[str, Any]) -> str | None:
    """The notes text of a record's server launch flags, or None for a configuration not in LAUNCH."""
    entry = LAUNCH.get((r["model"], r["framework"], r["precision"], r["hardware"]))
    if entry is None:
        return None
    path, flags_of = entry
    settings, other, history = flags_of(r)
    commit = LLAMA_COMMIT if r["model"] == "70b" else CLIENT_COMMIT
    return (f"engine settings: {', '.join(f'{k}={_setting(v)}' for k, v in settings.items())}; "
            f"other launch flags (not modeled): {other}; launch flags from InferenceX {path} @ "
            f"{commit[:7]} for the record's ISL/OSL, concurrency, TP and EP ({history})")


def mean_length(nominal: int) -> float:
    """Mean of the client's lengths: uniform over the integers [int(0.8 L), L]."""
    return (int(nominal * RANGE_RATIO) + nominal) / 2


def _fmt(x: float) -> str:
    return repr(round(x, 4))


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["hardware"], r["framework"], r["model"], r["precision"], r["decode_tp"], r["decode_ep"],
            r["isl"], r["osl"], r["conc"])


REQUIRED = ("hardware", "framework", "model", "precision", "spec_method", "isl", "osl", "conc", "decode_tp",
            "decode_ep", "metrics", "date", "run_url")


class BadRecord(ValueError):
    """A record without a field the importer reads."""


def select(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records the harness can read, in the documented subset, newest per configuration."""
    newest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for i, r in enumerate(records):
        missing = [f for f in REQUIRED if not isinstance(r, dict) or f not in r]
        if missing:
            raise BadRecord(f"record {i} has no field {missing[0]!r} (each record needs {', '.join(REQUIRED)})")
        if r.get("is_multinode") or r.get("disagg") or r.get("spec_method") != "none":
            continue
        if r.get("prefill_dp_attention") or r.get("decode_dp_attention"):
            continue
        if (r["isl"], r["osl"]) not in LENGTHS or r["conc"] not in CONCURRENCIES:
            continue
        vendor = VENDOR.get(r["hardware"])
        if vendor is None or r["model"] not in MODELS or r["framework"] not in ENGINES:
            continue
        if _formats(r) is None or launch(r) is None or not flags_known(r):
            continue
        if r.get("prefill_tp") != r["decode_tp"] or r.get("prefill_ep") != r["decode_ep"]:
            continue
        k = _key(r)
        if k not in newest or (r["date"], r["run_url"]) > (newest[k]["date"], newest[k]["run_url"]):
            newest[k] = r
    return [newest[k] for k in sorted(newest)]


def _framework(r: dict[str, Any]) -> str:
    image, _ = image_of(r)
    engine = ENGINES[r["framework"]]
    if not image:
        return f"{engine} (container not recorded in the record)"
    if r["framework"] == "trt":
        # the container tag, not 'TensorRT-LLM <release>' (that string names the perf-overview family)
        return f"TensorRT-LLM trtllm-serve (container {image.rsplit('/', 1)[-1]})"
    tag = image.rsplit(":", 1)[-1]
    # the release in the tag: v0.5.9-cu130, or a dev build's ...sgl-dev-v0.5.2-rocm7.0-mi35x-20250915
    m = re.search(r"v(\d+(?:\.\d+)+(?:rc\d+)?)", tag)
    release = m.group(1) if m else tag
    return f"{engine} {release} ({image})"


def _image_note(r: dict[str, Any]) -> str:
    image, where = image_of(r)
    if image is None:
        return "engine image not recorded in the record"
    return f"engine image {image}" + (f" (not in the record: the image {where} set)" if where else "")


def rows_for(r: dict[str, Any]) -> list[dict[str, str]]:
    """The check rows of one record: output throughput (when recorded), mean / median / p99 TTFT, mean TPOT."""
    model, params, active = MODELS[r["model"]]
    hw = HARDWARE[r["hardware"]]
    precision, basis, checkpoint = _formats(r) or ("", "", "")
    launch_notes = launch(r)
    tp, ep, conc = int(r["decode_tp"]), int(r["decode_ep"]), int(r["conc"])
    gpus = tp  # single node: the experts' EP group lies inside the TP group's GPUs
    I, O = mean_length(r["isl"]), mean_length(r["osl"])
    n = PROMPTS_PER_CLIENT * conc
    m = r["metrics"]
    ep_note = (f"expert parallel {ep} over the same {tp} GPUs (engine EP size {ep}); the harness runs the experts "
               f"tensor-parallel at tp={tp}" if ep > 1 else f"tp={tp}, experts tensor-parallel (ep=1)")
    notes = (
        f"{n} requests (--num-prompts 10 x concurrency) at {conc} concurrent clients; run {r['run_url']} "
        f"on {r['date']}; {_image_note(r)}; "
        f"client: InferenceX utils/bench_serving/benchmark_serving.py --dataset-name random "
        f"--random-input-len {r['isl']} --random-output-len {r['osl']} --random-range-ratio {RANGE_RATIO} "
        f"--ignore-eos --request-rate inf --max-concurrency {conc} (benchmarks/benchmark_lib.sh, "
        f".github/workflows/benchmark-tmpl.yml @ InferenceX {CLIENT_COMMIT[:7]}): lengths uniform over "
        f"[int(0.8 L), L], the row gives their means and the simulation draws lengths from the same range; "
        f"names: hardware {r['hardware']} -> {hw}, model {r['model']} -> {model} ({checkpoint}), framework "
        f"{r['framework']} -> {ENGINES[r['framework']]}, precision {r['precision']} -> {precision}; {ep_note}; "
        f"figures: mean_ttft, median_ttft, p99_ttft and mean_tpot in s x 1000 -> ms, output_tput_per_gpu in output tok/s per GPU "
        f"(value = x {gpus} GPUs), rounded to 4 decimals; TPOT = mean over requests of "
        f"(latency - TTFT) / (output tokens - 1); {launch_notes}"
    )
    base = {
        "model": model, "params_b": params, "active_params_b": active, "hardware": hw, "gpu_count": str(gpus),
        "nodes": "1", "precision": precision, "precision_basis": basis, "framework": _framework(r),
        "scenario": f"online serving, concurrency={conc}", "tp": str(tp), "pp": "1", "batch_size": "",
        "input_len": repr(I), "output_len": repr(O),
        "length_kind": f"random uniform [{RANGE_RATIO} L, L] (means)", "constraints": "",
        "source_type": SOURCE_TYPE, "round_or_version": ROUND, "submitter": "SemiAnalysis",
        "system": f"{gpus} x {hw}", "source": SOURCE, "notes": notes,
    }
    out = []
    if m.get("output_tput_per_gpu") is not None:
        per_gpu = float(m["output_tput_per_gpu"])
        out.append({**base, "metric": "output_throughput", "value": _fmt(per_gpu * gpus),
                    "unit": "output_tokens/s", "value_per_gpu": _fmt(per_gpu)})
    for metric in ("mean_ttft", "median_ttft", "p99_ttft"):
        if m.get(metric) is not None:
            out.append({**base, "metric": metric, "value": _fmt(float(m[metric]) * 1000), "unit": "ms", "value_per_gpu": ""})
    out.append({**base, "metric": "mean_tpot", "value": _fmt(float(m["mean_tpot"]) * 1000), "unit": "ms",
                "value_per_gpu": ""})
    return out


def refresh(csv_text: str, records: list[dict[str, Any]]) -> str:
    """The CSV text with its InferenceX rows replaced by those of `records`, at the file's end."""
    return replace_family(csv_text, SOURCE_TYPE, [row for r in select(records) for row in rows_for(r)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("records", type=Path, help="InferenceX benchmarks.json (a JSON list of records)")
    ap.add_argument("--csv", type=Path, default=CSV_PATH, help="the A_llm_inference.csv to refresh")
    ap.add_argument("--dry-run", action="store_true", help="print what would be written, change nothing")
    args = ap.parse_args(argv)
    try:
        records = json.loads(args.records.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: records {str(args.records)!r}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(records, list):
        print(f"error: records {str(args.records)!r}: a JSON list of benchmark records is needed", file=sys.stderr)
        return 2
    try:
        picked = select(records)
    except BadRecord as exc:
        print(f"error: records {str(args.records)!r}: {exc}", file=sys.stderr)
        return 2
    n_rows = sum(len(rows_for(r)) for r in picked)
    print(f"{len(records)} records, {len(picked)} selected, {n_rows} rows")
    return 0 if args.dry_run else write_rows(args.csv, lambda text: refresh(text, records))


if __name__ == "__main__":
    raise SystemExit(main())
