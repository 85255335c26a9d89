"""Write the GPUStack performance-lab check rows of validation/A_llm_inference.csv from the lab's
markdown pages.

Usage:
    python scripts/import_gpustack.py [PAGES_DIR] [--csv PATH] [--dry-run]

PAGES_DIR holds pages of github.com/gpustack/gpustack docs/performance-lab (default: the excerpts in
tests/data/gpustack_pages). Each page names where it comes from in a header comment
("github.com/gpustack/gpustack docs/performance-lab/<model>/<gpu>.md at commit <sha>"); a page
without one is read as docs/performance-lab/<its path under PAGES_DIR> at PAGES_COMMIT. The script
runs offline: it drops every row whose source_type is SOURCE_TYPE and writes the rows of the pages
in PAGES, in a fixed order, immediately before the SemiAnalysis InferenceX rows (the file's tail,
which scripts/import_inferencex.py rewrites), or at the end of a file without them. A rerun on the
same pages leaves the CSV byte for byte unchanged. The rows are held-out check rows, except the two
SGLang engine-choice runs that validation/fitting_split.yaml names.

What a page gives. Each run is a vLLM bench CLI "Serving Benchmark Result" block under a serving
command; the importer reads:
  * the runs of "1. Choosing the Inference Engine" (one per engine, each under a line naming the
    engine) and the baseline runs of "Other Benchmark Cases" (each after a "# <dataset>" comment):
    every run of an engine's default server. The tuning sections (quantization, parallelism,
    scheduler flags, speculative decoding, ...) and the optimized runs are not read;
  * a run whose result is an error message (no "Successful requests") gives no row; a run with
    expert parallelism (--enable-expert-parallel, --ep_size/--ep-size above 1) is left out, since
    the rows state experts sharded by tensor parallelism; a run the page repeats (same serving
    command, dataset and figures) is read once; LEFT_OUT names the runs left out by hand, each with
    its reason;
  * engine releases from "Engine Version", the GPU from "Hardware", the checkpoint and tensor
    parallelism from the serving command (-tp, --tp, --tp-size, --tp_size; 1 without), the client's
    request count from "Benchmark Script" (--num-prompts) and the concurrency from the result
    ("Maximum request concurrency"; absent: all requests sent at once).
Per run three rows: output throughput (output token throughput, for the run's GPUs), mean TTFT and
mean TPOT, as printed; a figure the run does not print, or prints as no number, gives no row
(the run's other rows stay), and a run without its request count or token totals gives none. input_len / output_len are the run's own means (total input /
generated tokens over successful requests, to 0.1 token). A random-dataset run whose mean output
falls short of the dataset's nominal output length (requests that ended at EOS) says so in its
length_kind.

The SGLang engine-choice runs of the Qwen3-32B H100 and A100 pages are read from the pages at
ENGINE_CHOICE_COMMIT (same figures as at PAGES_COMMIT; the older pages name the hardware as "NVIDIA
H100 GPUs" / "NVIDIA A100 GPUs") into rows of their own shape (mean and p99 TTFT, the run's totals
in the notes), keyed "GPUStack performance lab|<page> SGLang engine choice" in fitting_split.yaml
and in the engine figures fitted on them.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared write step

from validation_rows import replace_family, write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CSV_PATH = ROOT / "src" / "deployscope" / "validation" / "A_llm_inference.csv"
PAGES_DIR = ROOT / "tests" / "data" / "gpustack_pages"
REPO = "github.com/gpustack/gpustack"
PAGES_COMMIT = "47277d79f4a5bae12a2d25e9ecbed2a2177a5f2d"
ENGINE_CHOICE_COMMIT = "10e9444a07c73556f2ef0d10d2b2766bbf54c9c0"
SOURCE_TYPE = "GPUStack performance lab"
TAIL_SOURCE_TYPE = "SemiAnalysis InferenceX"  # the file's tail (scripts/import_inferencex.py)
ROUND = f"docs/performance-lab @ {PAGES_COMMIT[:7]}"
LAB = "docs/performance-lab"

#: the pages the rows come from, in the order their rows are written: (commit, page)
PAGES = tuple((PAGES_COMMIT, p) for p in (
    "qwen3-32b/h100", "qwen3-32b/a100", "qwen3-235b-a22b/h100", "qwen3-235b-a22b/a100",
    "qwen3-8b/h100-latency", "deepseek-r1/h200")) + tuple((ENGINE_CHOICE_COMMIT, p) for p in (
    "qwen3-32b/h100", "qwen3-32b/a100")) + tuple((PAGES_COMMIT, p) for p in (
    "gpt-oss-20b/h100", "gpt-oss-20b/a100", "gpt-oss-120b/h100", "gpt-oss-120b/a100"))

#: runs left out by hand: (page, section, engine) -> reason (section "1": the engine choice)
LEFT_OUT = {
    ("qwen3-32b/h100", "1", "SGLang"): f"read from the page at {ENGINE_CHOICE_COMMIT[:7]} as the SGLang engine-choice row",
    ("qwen3-32b/a100", "1", "SGLang"): f"read from the page at {ENGINE_CHOICE_COMMIT[:7]} as the SGLang engine-choice row",
    ("gpt-oss-20b/a100", "1", "SGLang"): "SGLang 0.5.4's gpt-oss-20b run on A100 ran 17x below vLLM on the same GPU "
                                         "(265.99 vs 4620.12 output tok/s, mean TPOT 6.2 s): a failed configuration, "
                                         "not the engine's serving speed",
}


@dataclass(frozen=True)
class Model:
    """A checkpoint the pages serve, as the catalog reads it."""

    name: str
    params_b: str
    active_params_b: str
    moe: bool
    precision: str
    precision_basis: str
    formats: str  # what the notes say of the weights and KV cache
    read_as: str = ""  # the notes' sentence when the checkpoint is read as another catalog model


_BF16 = ("bf16", "inferred: bf16 checkpoint served without a quantization flag",
         "bf16 weights and KV: the engine defaults for the bf16 checkpoint")
_GPT_OSS = ("mxfp4-moe (routed experts in MXFP4, the rest bf16: the released checkpoint)",
            "stated: openai checkpoint served without a quantization flag",
            "MXFP4 routed experts and bf16 for the rest as the checkpoint ships; KV as the engine defaults")
MODELS = {
    "Qwen/Qwen3-8B": Model("Qwen3-8B", "8.2", "8.2", False, *_BF16),
    "Qwen/Qwen3-32B": Model("Qwen3-32B", "32.8", "32.8", False, *_BF16),
    "Qwen/Qwen3-235B-A22B-Instruct-2507": Model(
        "Qwen3-235B-A22B", "235.1", "22.2", True, *_BF16,
        read_as="Qwen3-235B-A22B-Instruct-2507 read as Qwen3-235B-A22B (same architecture and shapes)"),
    "deepseek-ai/DeepSeek-R1-0528": Model(
        "DeepSeek-R1", "671.0", "37.0", True, "fp8",
        "stated: the DeepSeek-R1-0528 checkpoint is FP8 (block-scaled) and served as is",
        "fp8 weights as shipped, KV as the engine defaults",
        read_as="DeepSeek-R1-0528 read as DeepSeek-R1 (same architecture)"),
    "openai/gpt-oss-20b": Model("gpt-oss-20b", "20.91", "3.61", True, *_GPT_OSS),
    "openai/gpt-oss-120b": Model("gpt-oss-120b", "116.83", "5.13", True, *_GPT_OSS),
}

#: the page's "Hardware" text -> catalog name
HARDWARE = (("H200 SXM", "H200-SXM-141GB"), ("H100 SXM", "H100-SXM-80GB"), ("A100 SXM 80GB", "A100-SXM4-80GB"))

#: the requests GPUStack's client sends for a random dataset (the pages' "# random ... input"
#: runs; the benchmark script shows the 4K one, --num-prompts 500), and the dataset's nominal
#: input / output tokens ("Benchmark Dataset")
RANDOM = {"32K": (100, 32000, 100), "4K": (500, 4000, 200), "2K": (500, 2000, 100), "128": (1000, 128, 4)}

CONTEXT_CAP = ("--max-model-len", "--max_seq_len")
_TPOT = "TPOT = mean over requests of (latency - TTFT) / (output tokens - 1)"


class BadPage(ValueError):
    """A page the importer cannot read: the message names the page and what is missing."""


# ----------------------------------------------------------------------------------------------
# reading a page
# ----------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One benchmark run: where it sits on the page, its serving command and its printed figures."""

    section: str  # "1" (engine choice) or "other" (Other Benchmark Cases)
    engine: str  # "vLLM", "SGLang" or "TensorRT-LLM"
    command: str
    dataset: str  # "ShareGPT" or the "# ..." label of a baseline run ("random 4K input", "BS=2", ...)
    figures: dict[str, str] = field(default_factory=dict)  # the result block's "Label: value" lines
    error: str = ""  # a result that is an error message


@dataclass
class Page:
    path: str  # "qwen3-32b/h100"
    commit: str
    hardware_text: str
    engines: dict[str, str]  # engine -> release as printed ("v0.11.0")
    num_prompts: dict[str, int]  # dataset-name -> the benchmark script's --num-prompts
    runs: list[Run]


_HEADER = re.compile(re.escape(REPO) + r" " + LAB + r"/(\S+)\.md at commit ([0-9a-f]{40})")
_FIGURE = re.compile(r"^([A-Za-z][^:]*):\s+(\S+)$")
_ENGINES = {"vLLM": "vLLM", "SGLang": "SGLang", "TensorRT-LLM": "TensorRT-LLM"}


def engine_of_command(cmd: str) -> str:
    """The engine a serving command starts."""
    if "sglang.launch_server" in cmd:
        return "SGLang"
    if "trtllm-serve" in cmd:
        return "TensorRT-LLM"
    if "vllm serve" in cmd:
        return "vLLM"
    raise ValueError(f"serving command {cmd!r} starts no engine the importer knows")


def _sections(lines: list[str]) -> dict[str, list[str]]:
    """The page's '### ' sections (outside code blocks), by heading."""
    out: dict[str, list[str]] = {}
    cur: list[str] | None = None
    fence = False
    for ln in lines:
        if ln.strip().startswith("```"):
            fence = not fence
        if not fence and ln.startswith("## ") and not ln.startswith("### "):
            cur = None
        elif not fence and ln.startswith("### "):
            cur = out.setdefault(ln[4:].strip(), [])
            continue
        if cur is not None:
            cur.append(ln)
    return out


def _blocks(lines: list[str]) -> list[tuple[str, list[str]]]:
    """The code blocks of a section, each with the text line just before its '??? info' title
    (the engine name in the engine choice) and its body, unindented."""
    out: list[tuple[str, list[str]]] = []
    label, inside = "", False
    body: list[str] = []
    for ln in lines:
        s = ln.strip()
        if s.startswith("```"):
            if inside:
                out.append((label, body))
                body, inside = [], False
            else:
                inside = True
            continue
        if inside:
            body.append(s)
        elif s and not s.startswith("???") and not s.startswith("Result:"):
            label = s
    return out


def parse_result(lines: list[str]) -> list[tuple[str, dict[str, str], str]]:
    """The runs of a result block: (dataset label or '', figures, error text) for each
    '=== Serving Benchmark Result ===' table; one error entry for a block without one."""
    runs: list[tuple[str, dict[str, str], str]] = []
    label = ""
    figs: dict[str, str] | None = None
    for s in lines:
        if s.startswith("# "):
            label = s[2:].strip()
        elif "Serving Benchmark Result" in s:
            figs = {}
            runs.append((label, figs, ""))
        elif figs is not None:
            m = _FIGURE.match(s)
            if m:
                figs[m.group(1).strip()] = m.group(2)
    if not runs:
        text = " ".join(s for s in lines if s)
        runs.append((label, {}, text or "no result"))
    return runs


def parse_command(cmd: str) -> tuple[str, int, bool]:
    """(checkpoint, tensor parallel size, expert parallel) of a serving command."""
    words = cmd.split()
    if "sglang.launch_server" in cmd:
        flag = "--model-path" if "--model-path" in words else "--model"
        checkpoint = words[words.index(flag) + 1]
    else:
        i = words.index("serve") if "serve" in words else words.index("trtllm-serve")
        checkpoint = words[i + 1]
    tp = 1
    for f in ("-tp", "--tp", "--tp-size", "--tp_size", "--tensor-parallel-size"):
        if f in words:
            tp = int(words[words.index(f) + 1])
    ep = "--enable-expert-parallel" in words or any(
        f in words and int(words[words.index(f) + 1]) > 1 for f in ("--ep_size", "--ep-size"))
    return checkpoint, tp, ep


def read_page(text: str, where: str, default_path: str = "") -> Page:
    """A performance-lab page: its header (or default_path at PAGES_COMMIT), setup and runs."""
    m = _HEADER.search(text.split("\n\n", 1)[0])
    path, commit = (m.group(1), m.group(2)) if m else (default_path, PAGES_COMMIT)
    secs = _sections(text.split("\n"))
    hw = next((ln.strip() for ln in secs.get("Hardware", []) if ln.strip()), "")
    if not hw:
        raise BadPage(f"{where}: no 'Hardware' section")
    engines: dict[str, str] = {}
    for ln in secs.get("Engine Version", []):
        mm = re.match(r"\s*-\s*([\w.-]+):\s*(\S+)", ln)
        if mm:
            engines[mm.group(1)] = mm.group(2)
    prompts: dict[str, int] = {}
    for ln in secs.get("Benchmark Script", []):
        mm = re.search(r"--dataset-name (\w+).*--num-prompts (\d+)", ln)
        if mm:
            prompts.setdefault(mm.group(1), int(mm.group(2)))
    runs: list[Run] = []
    choice = next((h for h in secs if h.startswith("1. ")), None)
    if choice is None:
        raise BadPage(f"{where}: no '1. Choosing the Inference Engine' section")
    blocks = _blocks(secs[choice])
    for (label, cmd), (_, result) in zip(blocks[::2], blocks[1::2]):
        engine = _ENGINES.get(label, label)
        for _, figs, err in parse_result(result):
            runs.append(Run("1", engine, " ".join(cmd), "ShareGPT", figs, err))
    other = _blocks(secs.get("Other Benchmark Cases", []))
    if other:
        # the baseline: the first serving script and the result block after it
        (_, cmd), (_, result) = other[0], other[1]
        command = " ".join(cmd)
        for label, figs, err in parse_result(result):
            runs.append(Run("other", engine_of_command(command), command, label, figs, err))
    return Page(path, commit, hw, engines, prompts, runs)


def read_pages(directory: Path) -> dict[tuple[str, str], Page]:
    """Every page under directory, by (commit, page)."""
    pages: dict[tuple[str, str], Page] = {}
    for f in sorted(directory.rglob("*.md")):
        rel = f.relative_to(directory).with_suffix("").as_posix()
        page = read_page(f.read_text(encoding="utf-8"), str(f), rel)
        pages[(page.commit, page.path)] = page
    return pages


# ----------------------------------------------------------------------------------------------
# rows
# ----------------------------------------------------------------------------------------------


def hardware(page: Page) -> str:
    for text, name in HARDWARE:
        if text in page.hardware_text:
            return name
    raise BadPage(f"{page.path}: hardware {page.hardware_text!r} is not one the importer maps to the catalog")


def figure(run: Run, label: str) -> str | None:
    """A printed figure as the row's value text: as printed (trailing zeros of the decimals
    dropped, one kept); None when the run does not print it or prints no number."""
    try:
        x = float(run.figures.get(label, ""))
    except ValueError:
        return None
    if x != x or x in (float("inf"), float("-inf")):
        return None
    return repr(x)


def _mean(total: str, n: int) -> str:
    return repr(round(int(total) / n, 1))


def _concurrency(run: Run) -> int | None:
    c = run.figures.get("Maximum request concurrency")
    return int(float(c)) if c else None


def _random(run: Run) -> tuple[int, int, int] | None:
    m = re.fullmatch(r"random (\S+) input", run.dataset)
    return RANDOM[m.group(1)] if m and m.group(1) in RANDOM else None


#: the result lines every row needs (the request count and the lengths)
REQUIRED = ("Successful requests", "Total input tokens", "Total generated tokens")


def left_out(page: Page, run: Run) -> str | None:
    """Why a run gives no row, or None."""
    if run.error:
        return f"no result ({run.error})"
    for label in REQUIRED:
        if not run.figures.get(label, "").isdigit() or int(run.figures[label]) == 0:
            return f"the result gives no {label!r} (a count)"
    _, _, ep = parse_command(run.command)
    if ep:
        return "expert parallelism (the rows state experts sharded by tensor parallelism)"
    if page.commit == ENGINE_CHOICE_COMMIT:
        return None if (run.section, run.engine) == ("1", "SGLang") else "only the SGLang engine choice is read at this commit"
    return LEFT_OUT.get((page.path, run.section, run.engine))


def selected(page: Page) -> list[Run]:
    """The runs of a page that give rows, in page order, each repeated run once."""
    out: list[Run] = []
    for run in page.runs:
        if left_out(page, run) is None and not any(
                (r.command, r.figures) == (run.command, run.figures) for r in out):
            out.append(run)
    return out


def _framework(page: Page, engine: str) -> str:
    release = page.engines.get(engine)
    if release is None:
        raise BadPage(f"{page.path}: no {engine} release under 'Engine Version'")
    v = release.lstrip("v")
    if engine == "TensorRT-LLM":
        return f"trtllm-serve (TensorRT-LLM release {v})"
    return f"{engine} {v}"


def _source(page: Page) -> str:
    return f"https://{REPO}/blob/{page.commit}/{LAB}/{page.path}.md"


def rows_for(page: Page, run: Run) -> list[dict[str, str]]:
    """The check rows of one run: output throughput, mean TTFT, mean TPOT."""
    if page.commit == ENGINE_CHOICE_COMMIT:
        return engine_choice_rows(page, run)
    checkpoint, tp, _ = parse_command(run.command)
    model = MODELS.get(checkpoint)
    if model is None:
        raise BadPage(f"{page.path}: checkpoint {checkpoint!r} is not in MODELS")
    hw = hardware(page)
    n = int(run.figures["Successful requests"])
    conc = _concurrency(run)
    rnd = _random(run)
    if rnd:
        sent = rnd[0]
        dataset = f"vllm bench random, {run.dataset}"
    else:
        sent = n if conc else page.num_prompts.get("sharegpt", n)
        dataset = "ShareGPT (vllm bench sharegpt)"
    I = _mean(run.figures["Total input tokens"], n)
    O = _mean(run.figures["Total generated tokens"], n)
    if not rnd:
        kind = "dataset (variable)"
    elif float(O) < rnd[2]:
        kind = "fixed input; output = measured mean (some requests ended at EOS)"
    else:
        kind = "fixed"
    arrival = (f"closed loop of {conc} clients" if conc else
               "all requests sent at once (vllm bench serve default request rate inf)")
    experts = ", experts sharded by tensor parallelism: no --enable-expert-parallel" if model.moe and tp > 1 else ""
    tails = [model.read_as] if model.read_as else []
    if any(f in run.command.split() for f in CONTEXT_CAP):
        tails.append("--max-model-len / --max_seq_len caps the context only (not modeled)")
    notes = (f"{n} requests completed ({sent} sent); {dataset}; lengths are the run's own means (total input / "
             f"generated tokens over completed requests); {arrival}; serving command '{run.command}' "
             f"({model.formats}; tp={tp}{experts}); client-side vllm bench figures, {_TPOT}"
             + "".join(f"; {t}" for t in tails))
    base = {
        "model": model.name, "params_b": model.params_b, "active_params_b": model.active_params_b, "hardware": hw,
        "gpu_count": str(tp), "nodes": "1", "precision": model.precision, "precision_basis": model.precision_basis,
        "framework": _framework(page, run.engine),
        "scenario": f"online serving, concurrency={conc}" if conc else "online serving, request rate QPS=INF",
        "tp": str(tp), "pp": "1", "batch_size": "", "input_len": I, "output_len": O, "length_kind": kind,
        "constraints": "", "source_type": SOURCE_TYPE, "round_or_version": ROUND, "submitter": "GPUStack",
        "system": f"{tp} x {hw}", "source": _source(page), "notes": notes,
    }
    return _metric_rows(page, run, base, tp, ("mean_ttft", "mean_tpot"))


#: metric -> the result line it is read from (ms for the latencies)
METRICS = {"output_throughput": "Output token throughput (tok/s)", "mean_ttft": "Mean TTFT (ms)",
           "p99_ttft": "P99 TTFT (ms)", "mean_tpot": "Mean TPOT (ms)"}


def _metric_rows(page: Page, run: Run, base: dict[str, str], gpus: int, latencies: tuple[str, ...]) -> list[dict[str, str]]:
    """Output throughput (for the run's GPUs) and the given latencies, each where the run prints it."""
    out = []
    thr = figure(run, METRICS["output_throughput"])
    if thr is not None:
        per_gpu = thr if gpus == 1 else f"{float(thr) / gpus:.2f}"
        out.append({**base, "metric": "output_throughput", "value": thr, "unit": "output_tokens/s", "value_per_gpu": per_gpu})
    for metric in latencies:
        v = figure(run, METRICS[metric])
        if v is not None:
            out.append({**base, "metric": metric, "value": v, "unit": "ms", "value_per_gpu": ""})
    return out


#: the engine-choice pages' GPU line -> (catalog name, how it is read)
ENGINE_CHOICE_HARDWARE = {
    "NVIDIA H100 GPUs": ("H100-SXM-80GB", "form factor not stated (SXM 80GB assumed)"),
    "NVIDIA A100 GPUs": ("A100-80GB", "memory and form factor not stated (80 GB implied by 65 GB of BF16 weights on "
                                      "one GPU; the catalog reads A100-80GB as the SXM4 part)"),
}


def engine_choice_rows(page: Page, run: Run) -> list[dict[str, str]]:
    """The rows of an SGLang engine-choice run (ENGINE_CHOICE_COMMIT): output throughput, mean and
    p99 TTFT, mean TPOT; the notes give the run's totals and the client command."""
    if page.hardware_text not in ENGINE_CHOICE_HARDWARE:
        raise BadPage(f"{page.path}: hardware {page.hardware_text!r} is not in ENGINE_CHOICE_HARDWARE")
    hw, reading = ENGINE_CHOICE_HARDWARE[page.hardware_text]
    checkpoint, tp, _ = parse_command(run.command)
    model = MODELS[checkpoint]
    f = run.figures
    n = int(f["Successful requests"])
    client = page.num_prompts.get("sharegpt", n)
    notes = (f"{n} requests; server: {run.command} (defaults otherwise); client: vllm bench serve --backend openai-chat "
             f"--endpoint /v1/chat/completions --dataset-name sharegpt --num-prompts {client} (request rate inf); "
             f"reported: duration {f['Benchmark duration (s)']} s, {f['Total input tokens']} input and "
             f"{f['Total generated tokens']} generated tokens, {f['Request throughput (req/s)']} requests/s; "
             f"hardware: \"{page.hardware_text}\", {reading}; "
             + ("one GPU (no --tp flag)" if tp == 1 else f"tp={tp}"))
    base = {
        "model": model.name, "params_b": model.params_b, "active_params_b": model.active_params_b, "hardware": hw,
        "gpu_count": str(tp), "nodes": "1", "precision": model.precision,
        "precision_basis": f"stated ({checkpoint} checkpoint, no quantization flag)",
        "framework": f"{run.engine} {page.engines[run.engine]}", "scenario": "online serving, request rate QPS=INF",
        "tp": str(tp), "pp": "1", "batch_size": "",
        "input_len": _mean(f["Total input tokens"], n), "output_len": _mean(f["Total generated tokens"], n),
        "length_kind": "dataset (ShareGPT); input_len/output_len are the run's means (total tokens / requests)",
        "constraints": "", "source_type": SOURCE_TYPE, "round_or_version": f"{page.path} SGLang engine choice",
        "submitter": "GPUStack", "system": f"{tp}x {hw}",
        "source": f'{_source(page)} (GPUStack performance lab, section "1. Choosing the Inference Engine", SGLang result)',
        "notes": notes,
    }
    return _metric_rows(page, run, base, tp, ("mean_ttft", "p99_ttft", "mean_tpot"))


def all_rows(pages: dict[tuple[str, str], Page]) -> list[dict[str, str]]:
    """The rows of every page in PAGES, in order."""
    missing = [f"{c[:7]}:{p}" for c, p in PAGES if (c, p) not in pages]
    if missing:
        raise BadPage(f"pages missing: {', '.join(missing)}")
    return [row for key in PAGES for run in selected(pages[key]) for row in rows_for(pages[key], run)]


def refresh(csv_text: str, pages: dict[tuple[str, str], Page]) -> str:
    """The CSV text with its GPUStack rows replaced by those of `pages`, written just before the
    InferenceX rows (the file's tail), every other row as it was."""
    return replace_family(csv_text, SOURCE_TYPE, all_rows(pages), before=(TAIL_SOURCE_TYPE,))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("pages", type=Path, nargs="?", default=PAGES_DIR, help="directory of performance-lab pages")
    ap.add_argument("--csv", type=Path, default=CSV_PATH, help="the A_llm_inference.csv to refresh")
    ap.add_argument("--dry-run", action="store_true", help="print what would be written, change nothing")
    args = ap.parse_args(argv)
    if not args.pages.is_dir():
        print(f"error: pages {str(args.pages)!r}: not a directory", file=sys.stderr)
        return 2
    try:
        pages = read_pages(args.pages)
        rows = all_rows(pages)
    except (BadPage, KeyError, ValueError) as exc:
        print(f"error: pages {str(args.pages)!r}: {exc}", file=sys.stderr)
        return 2
    print(f"{len(pages)} pages, {len(rows)} rows")
    return 0 if args.dry_run else write_rows(args.csv, lambda text: refresh(text, pages))


if __name__ == "__main__":
    raise SystemExit(main())
