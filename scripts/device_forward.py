"""Time real forward passes of catalog architectures, with random weights, on the local GPU.

Writes one JSON object per measurement to OUT/forward.jsonl (and the machine's ceilings to
OUT/machine.json) for `scripts/import_device_forward.py` to turn into the labelled validation
file `src/deployscope/validation/G_device_forward.csv`.

What runs is a plain PyTorch decoder built from the model's catalog row (models.yaml): RMSNorm,
fused QKV and gate/up projections, rotary embedding, FlashAttention through scaled_dot_product_attention,
and the last position's logits. Each pass is captured once in a CUDA graph and replayed, so the
time is the GPU's and not Python's. Weights are random: speed does not depend on their values.

- prefill: one sequence of N prompt tokens (causal attention), logits of the last token;
- decode: one step of B sequences, each attending to a cache of L tokens;
- gemm: one projection of M rows through the model's weight shapes (the GEMM size curve).

Formats: bf16; fp8 (weights and activations e4m3, per-tensor scale, `torch._scaled_mm`);
MoE experts as grouped GEMMs (`torch._grouped_mm`), the way serving engines launch them.

Usage: python scripts/device_forward.py --out DIR [--budget-s SECONDS] [--tiny]
(--tiny shrinks every shape so the whole script runs on a CPU in seconds: a check of the code,
not a measurement.)
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "src/deployscope/catalog/data/models.yaml"
FP8 = torch.float8_e4m3fn
REPLAYS = 20


@dataclass(frozen=True)
class Shape:
    model: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    experts: int = 0
    experts_per_token: int = 0
    expert_intermediate: int = 0


def catalog_shape(model_id: str) -> Shape:
    rows = yaml.safe_load(MODELS.read_text())
    row = next(r for r in rows if r["id"] == model_id)
    t = row["transformer"]
    moe = t.get("moe") or {}
    return Shape(model_id, t["hidden_size"], t["num_layers"], t["num_attention_heads"], t["num_kv_heads"],
                 t["head_dim"], t["intermediate_size"], t["vocab_size"], moe.get("num_experts", 0),
                 moe.get("experts_per_token", 0), moe.get("expert_intermediate_size", 0))


def tiny(s: Shape) -> Shape:
    """The same architecture, small enough for a CPU check of the code."""
    return replace(s, hidden=256, layers=2, heads=4, kv_heads=2, head_dim=64,
                   intermediate=512 if s.intermediate else 0, vocab=1024,
                   experts=min(s.experts, 8), experts_per_token=min(s.experts_per_token, 2),
                   expert_intermediate=128 if s.experts else 0)


# --- timing ---------------------------------------------------------------------------------------

def captured(fn, dev: torch.device):  # noqa: ANN001, ANN201
    """fn as one CUDA graph's replay on a GPU (fn itself on a CPU). The replay holds fn: the graph
    reads the tensors fn closes over, which must outlive it."""
    if dev.type != "cuda":
        return fn
    fn()  # warm-up: autotuning and lazy initialisation happen outside the graph
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        fn()
    torch.cuda.current_stream().wait_stream(stream)
    with torch.cuda.graph(graph):
        fn()

    def replay(fn=fn) -> None:  # noqa: ANN001
        graph.replay()

    return replay


def timed(fn, dev: torch.device) -> dict[str, float]:  # noqa: ANN001
    """Median and spread of REPLAYS runs of fn, in milliseconds: a CUDA graph replay on a GPU."""
    step = captured(fn, dev)
    if dev.type == "cuda":
        for _ in range(3):
            step()
        times = []
        for _ in range(REPLAYS):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            step()
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b))
    else:
        step()  # warm-up
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"ms": statistics.median(times), "ms_min": times[0], "ms_max": times[-1], "replays": len(times)}


# --- layers ---------------------------------------------------------------------------------------

class Linear:
    """y = x W^T with W [out, in]; bf16 through cuBLAS or fp8 e4m3 through torch._scaled_mm."""

    def __init__(self, n_in: int, n_out: int, fmt: str, dev: torch.device, dtype: torch.dtype) -> None:
        w = torch.randn(n_out, n_in, device=dev, dtype=dtype).mul_(0.02)
        self.fmt = fmt
        if fmt == "fp8":
            self.w = w.to(FP8)
            self.one = torch.ones((), device=dev, dtype=torch.float32)
        else:
            self.w = w

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.fmt != "fp8":
            return x @ self.w.t()
        # per-tensor scale 1: a static-scale W8A8 FP8 GEMM, as engines run calibrated checkpoints;
        # _scaled_mm wants rows in multiples of 16, so a decode batch is padded up (free on the memory side)
        m = x.shape[0]
        pad = (-m) % 16
        xq = (F.pad(x, (0, 0, 0, pad)) if pad else x).to(FP8)
        y = torch._scaled_mm(xq, self.w.t(), scale_a=self.one, scale_b=self.one, out_dtype=x.dtype)
        return y[:m] if pad else y


class GroupedExperts:
    """A layer's routed experts as two grouped GEMMs over tokens sorted by expert (vLLM/SGLang fused_moe style)."""

    def __init__(self, s: Shape, dev: torch.device, dtype: torch.dtype) -> None:
        e, h, i = s.experts, s.hidden, s.expert_intermediate
        self.k = s.experts_per_token
        self.router = torch.randn(e, h, device=dev, dtype=dtype).mul_(0.02)
        # [E, N, K] transposed to [E, K, N]: the column-major layout grouped_mm takes
        self.w13 = torch.randn(e, 2 * i, h, device=dev, dtype=dtype).mul_(0.02).transpose(-2, -1)
        self.w2 = torch.randn(e, h, i, device=dev, dtype=dtype).mul_(0.02).transpose(-2, -1)
        self.i = i
        self.ones = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        weights, chosen = torch.topk((x @ self.router.t()).float().softmax(-1), self.k, dim=-1)
        flat = chosen.flatten()
        order = torch.argsort(flat, stable=True)
        counts = torch.zeros(self.router.shape[0], device=x.device, dtype=torch.int32)
        counts.scatter_add_(0, flat.to(torch.int64), torch.ones_like(flat, dtype=torch.int32))
        offs = torch.cumsum(counts, 0, dtype=torch.int32)
        token = order // self.k
        h = torch._grouped_mm(x[token], self.w13, offs=offs)
        act = F.silu(h[:, : self.i]) * h[:, self.i:]
        y = torch._grouped_mm(act, self.w2, offs=offs)
        y = y * weights.flatten()[order].to(y.dtype)[:, None]
        return torch.zeros_like(x).index_add_(0, token, y)


class Decoder:
    def __init__(self, s: Shape, fmt: str, dev: torch.device) -> None:
        dtype = torch.bfloat16
        self.s, self.dev, self.dtype = s, dev, dtype
        q, kv = s.heads * s.head_dim, s.kv_heads * s.head_dim
        self.blocks = []
        for _ in range(s.layers):
            b = {
                "qkv": Linear(s.hidden, q + 2 * kv, fmt, dev, dtype),
                "o": Linear(q, s.hidden, fmt, dev, dtype),
                "n1": torch.ones(s.hidden, device=dev, dtype=dtype),
                "n2": torch.ones(s.hidden, device=dev, dtype=dtype),
            }
            if s.experts:
                b["moe"] = GroupedExperts(s, dev, dtype)
            else:
                b["gate_up"] = Linear(s.hidden, 2 * s.intermediate, fmt, dev, dtype)
                b["down"] = Linear(s.intermediate, s.hidden, fmt, dev, dtype)
            self.blocks.append(b)
        self.norm = torch.ones(s.hidden, device=dev, dtype=dtype)
        self.head = torch.randn(s.vocab, s.hidden, device=dev, dtype=dtype).mul_(0.02)  # kept 16-bit, as engines do
        self.embed = torch.randn(s.vocab, s.hidden, device=dev, dtype=dtype).mul_(0.02)

    def weight_bytes(self) -> int:
        n = 0
        for b in self.blocks:
            for v in b.values():
                if isinstance(v, Linear):
                    n += v.w.numel() * v.w.element_size()
                elif isinstance(v, GroupedExperts):
                    n += sum(t.numel() * t.element_size() for t in (v.router, v.w13, v.w2))
        return n + 2 * self.head.numel() * self.head.element_size()

    def _rope(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        d = self.s.head_dim
        inv = 1.0 / (500000.0 ** (torch.arange(0, d, 2, device=self.dev, dtype=torch.float32) / d))
        ang = pos.float()[:, None] * inv[None, :]
        cos, sin = ang.cos().to(x.dtype)[:, None, :], ang.sin().to(x.dtype)[:, None, :]
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)

    def _mlp(self, b: dict, x: torch.Tensor) -> torch.Tensor:
        if "moe" in b:
            return b["moe"](x)
        gu = b["gate_up"](x)
        i = self.s.intermediate
        return b["down"](F.silu(gu[:, :i]) * gu[:, i:])

    def _qkv(self, b: dict, x: torch.Tensor, pos: torch.Tensor):
        s = self.s
        t = x.shape[0]
        qkv = b["qkv"](F.rms_norm(x, (s.hidden,), b["n1"]))
        q = qkv[:, : s.heads * s.head_dim].view(t, s.heads, s.head_dim)
        k = qkv[:, s.heads * s.head_dim: (s.heads + s.kv_heads) * s.head_dim].view(t, s.kv_heads, s.head_dim)
        v = qkv[:, (s.heads + s.kv_heads) * s.head_dim:].view(t, s.kv_heads, s.head_dim)
        return self._rope(q, pos), self._rope(k, pos), v

    def _prompt_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, seqs: int, n: int) -> torch.Tensor:
        """`seqs` whole prompts of n tokens, causal; K/V repeated for the query heads that share them (GQA)."""
        s = self.s
        group = s.heads // s.kv_heads

        def heads(t: torch.Tensor) -> torch.Tensor:  # [seqs * n, h, d] -> [seqs, h, n, d]
            return t.view(seqs, n, t.shape[1], s.head_dim).transpose(1, 2)

        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        a = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)
        return a.transpose(1, 2).reshape(seqs * n, -1)

    def _cache_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kc: torch.Tensor, vc: torch.Tensor) -> torch.Tensor:
        """One new token per sequence against its cache (every slot of it): the token's K/V go into the
        last slot, and the query heads sharing a KV head are that head's query rows, one pass over the cache."""
        s = self.s
        batch, ctx = q.shape[0], kc.shape[2]
        kc[:, :, ctx - 1] = k
        vc[:, :, ctx - 1] = v
        qg = q.view(batch, s.kv_heads, s.heads // s.kv_heads, s.head_dim)
        return F.scaled_dot_product_attention(qg, kc, vc).reshape(batch, -1)

    def new_caches(self, batch: int, ctx: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        s = self.s
        return [(torch.randn(batch, s.kv_heads, ctx, s.head_dim, device=self.dev, dtype=self.dtype),
                 torch.randn(batch, s.kv_heads, ctx, s.head_dim, device=self.dev, dtype=self.dtype))
                for _ in self.blocks]

    def _tokens(self, count: int, tokens: torch.Tensor | None) -> torch.Tensor:
        """The given token ids (a check of the code passes its own), else random ones."""
        return tokens if tokens is not None else torch.randint(0, self.s.vocab, (count,), device=self.dev)

    def prefill_fn(self, n: int, seqs: int = 1, tokens: torch.Tensor | None = None):
        """`seqs` prompts of n tokens each in one pass: causal attention, logits of each last position."""
        s = self.s
        tokens = self._tokens(seqs * n, tokens)
        pos = torch.arange(n, device=self.dev).repeat(seqs)

        def run() -> torch.Tensor:
            x = self.embed[tokens]
            for b in self.blocks:
                q, k, v = self._qkv(b, x, pos)
                x = x + b["o"](self._prompt_attention(q, k, v, seqs, n))
                x = x + self._mlp(b, F.rms_norm(x, (s.hidden,), b["n2"]))
            last = F.rms_norm(x.view(seqs, n, s.hidden)[:, -1], (s.hidden,), self.norm)
            return last @ self.head.t()

        return run

    def decode_fn(self, batch: int, ctx: int, caches: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
                  tokens: torch.Tensor | None = None):
        """One decode step of `batch` sequences, each attending to `ctx` cached tokens (the first
        `batch` rows of `caches` where given)."""
        s = self.s
        caches = [(kc[:batch], vc[:batch]) for kc, vc in caches] if caches is not None else self.new_caches(batch, ctx)
        tokens = self._tokens(batch, tokens)
        pos = torch.full((batch,), ctx - 1, device=self.dev)

        def run() -> torch.Tensor:
            x = self.embed[tokens]
            for b, (kc, vc) in zip(self.blocks, caches):
                q, k, v = self._qkv(b, x, pos)
                x = x + b["o"](self._cache_attention(q, k, v, kc, vc))
                x = x + self._mlp(b, F.rms_norm(x, (s.hidden,), b["n2"]))
            return F.rms_norm(x, (s.hidden,), self.norm) @ self.head.t()

        return run, sum(2 * c[0].numel() * c[0].element_size() for c in caches)

    def mixed_fn(self, batch: int, ctx: int, seqs: int, n: int, caches: list[tuple[torch.Tensor, torch.Tensor]],
                 tokens: torch.Tensor | None = None):
        """One step that decodes `batch` sequences (the first rows of `caches`, `ctx` tokens each) and
        prefills `seqs` whole prompts of n tokens: every GEMM over all their rows at once, the
        attention of each part its own."""
        s = self.s
        caches = [(kc[:batch], vc[:batch]) for kc, vc in caches]
        tokens = self._tokens(batch + seqs * n, tokens)
        pos = torch.cat((torch.full((batch,), ctx - 1, device=self.dev), torch.arange(n, device=self.dev).repeat(seqs)))

        def run() -> torch.Tensor:
            x = self.embed[tokens]
            for b, (kc, vc) in zip(self.blocks, caches):
                q, k, v = self._qkv(b, x, pos)
                a = torch.cat((self._cache_attention(q[:batch], k[:batch], v[:batch], kc, vc),
                               self._prompt_attention(q[batch:], k[batch:], v[batch:], seqs, n)))
                x = x + b["o"](a)
                x = x + self._mlp(b, F.rms_norm(x, (s.hidden,), b["n2"]))
            last = torch.cat((x[:batch], x[batch:].view(seqs, n, s.hidden)[:, -1]))
            return F.rms_norm(last, (s.hidden,), self.norm) @ self.head.t()

        return run


# --- the plan -------------------------------------------------------------------------------------

# (catalog id, format, prefill lengths, decode (batch, context) pairs, GEMM rows)
PLAN = [
    ("meta-llama/Llama-3.1-8B-Instruct", "bf16", [128, 512, 2048, 8192],
     [(1, 1024), (8, 1024), (32, 1024), (64, 1024), (128, 1024), (256, 1024), (1, 8192), (16, 8192), (64, 8192)],
     [1, 16, 64, 256, 1024, 4096, 16384]),
    ("meta-llama/Llama-3.1-8B-Instruct", "fp8", [512, 2048, 8192],
     [(1, 1024), (32, 1024), (128, 1024), (256, 1024)],
     [16, 64, 256, 1024, 4096, 16384]),
    ("Qwen/Qwen3-30B-A3B", "bf16", [512, 2048],
     [(1, 1024), (8, 1024), (32, 1024), (128, 1024)], []),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", "bf16", [512, 2048],
     [(1, 1024), (8, 1024), (32, 1024), (128, 1024)], []),
    ("meta-llama/Llama-3.1-70B-Instruct", "fp8", [512, 2048],
     [(1, 1024), (16, 1024), (64, 1024)], [16, 256, 4096]),
]


def _gemm_tflops(dev: torch.device, *, fp8: bool, n: int = 8192) -> float:
    """TFLOP/s of one n x n x n matrix product of random values, bf16 or fp8 e4m3 (bf16 out)."""
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    if fp8:
        a8, b8 = a.to(FP8), b.to(FP8).t().contiguous().t()  # _scaled_mm takes the second operand column-major
        one = torch.ones((), device=dev)
        ms = timed(lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16), dev)["ms"]
    else:
        ms = timed(lambda: a @ b, dev)["ms"]
    return 2 * n**3 / ms / 1e9


def _memory_tb_s(dev: torch.device, gib: int) -> tuple[float, float]:
    """TB/s of a device-to-device copy of `gib` GiB (bytes read + written) and of a read-only sum."""
    src = torch.empty(gib * 2**30, device=dev, dtype=torch.uint8)
    dst = torch.empty_like(src)
    copy = 2 * src.numel() / timed(lambda: dst.copy_(src), dev)["ms"] / 1e9
    x = src.view(torch.bfloat16)
    read = src.numel() / timed(lambda: x.sum(dtype=torch.float32), dev)["ms"] / 1e9
    return copy, read


def machine(dev: torch.device) -> dict:
    """The GPU, the software, and its measured ceilings: a large bf16 and fp8 GEMM, copies and reads."""
    info: dict = {"torch": torch.__version__, "device": str(dev)}
    if dev.type != "cuda":
        return info
    p = torch.cuda.get_device_properties(dev)
    info.update(name=p.name, sms=p.multi_processor_count, memory_gib=round(p.total_memory / 2**30, 1),
                cuda=torch.version.cuda, capability=f"{p.major}.{p.minor}")
    info["bf16_gemm_tflops"] = _gemm_tflops(dev, fp8=False)
    info["fp8_gemm_tflops"] = _gemm_tflops(dev, fp8=True)
    # the memory ceiling: copies (bytes read + written) and a read-only reduction, at sizes well past L2
    for gib in (1, 4, 16):
        info[f"copy_{gib}gib_tb_s"], info[f"read_{gib}gib_tb_s"] = _memory_tb_s(dev, gib)
    torch.cuda.empty_cache()
    return info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget-s", type=float, default=420.0, help="stop starting new measurements after this")
    ap.add_argument("--tiny", action="store_true", help="tiny shapes on whatever device: a check of the code")
    ap.add_argument("--only", default="", help="comma-separated catalog ids to run (default: the whole plan; 'none': the ceilings alone)")
    args = ap.parse_args()
    start = time.monotonic()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine(dev) if not args.tiny else {"torch": torch.__version__, "device": str(dev), "tiny": True}
    (args.out / "machine.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info), flush=True)
    sink = (args.out / "forward.jsonl").open("a")
    failures = 0

    def emit(rec: dict) -> None:
        rec.update(elapsed_s=round(time.monotonic() - start, 1))
        sink.write(json.dumps(rec) + "\n")
        sink.flush()
        print(json.dumps(rec), flush=True)

    only = {m for m in args.only.split(",") if m}
    for model_id, fmt, prefills, decodes, gemm_rows in PLAN:
        if only and model_id not in only:
            continue
        if time.monotonic() - start > args.budget_s:
            emit({"model": model_id, "format": fmt, "skipped": "budget"})
            continue
        s = catalog_shape(model_id)
        s = tiny(s) if args.tiny else s
        base = {"model": model_id, "format": fmt, "gpu": info.get("name", str(dev))}
        try:
            t0 = time.monotonic()
            net = Decoder(s, fmt, dev)
            emit({**base, "kind": "load", "weight_bytes": net.weight_bytes(), "init_s": round(time.monotonic() - t0, 1)})
        except Exception as exc:  # a format or kernel this torch lacks: record it and go on
            failures += 1
            emit({**base, "kind": "load", "error": f"{type(exc).__name__}: {exc}"[:400]})
            continue
        cases = ([("prefill", n, 1, n) for n in prefills]
                 + [("decode", 1, b, c) for b, c in decodes]
                 + [("gemm", m, m, 0) for m in gemm_rows])
        for kind, tokens, batch, ctx in cases:
            if time.monotonic() - start > args.budget_s:
                emit({**base, "kind": kind, "batch": batch, "ctx": ctx, "skipped": "budget"})
                continue
            rec = {**base, "kind": kind, "batch": batch, "ctx": ctx}
            try:
                if kind == "prefill":
                    rec.update(input_len=tokens, **timed(net.prefill_fn(tokens), dev))
                elif kind == "decode":
                    fn, kv_bytes = net.decode_fn(batch, ctx)
                    rec.update(kv_bytes=kv_bytes, **timed(fn, dev))
                    del fn
                else:
                    rec.update(gemm_times(net, s, tokens, dev))
            except Exception as exc:
                failures += 1
                rec["error"] = f"{type(exc).__name__}: {exc}"[:400]
                traceback.print_exc()
            emit(rec)
            if dev.type == "cuda":
                torch.cuda.empty_cache()
        del net
        gc.collect()
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    sink.close()
    print(f"done in {time.monotonic() - start:.0f} s, {failures} failed", flush=True)
    return 0


def gemm_times(net: Decoder, s: Shape, rows: int, dev: torch.device) -> dict:
    """Each of a layer's projections alone for `rows` tokens: ms per GEMM and its size in GFLOP."""
    b = net.blocks[0]
    out = {}
    for name in ("qkv", "o", "gate_up", "down"):
        lin = b.get(name)
        if lin is None:
            continue
        x = torch.randn(rows, lin.w.shape[1], device=dev, dtype=torch.bfloat16)
        t = timed(lambda lin=lin, x=x: lin(x), dev)
        out[name] = {"ms": t["ms"], "gflop": 2 * rows * lin.w.shape[0] * lin.w.shape[1] / 1e9,
                     "n": lin.w.shape[0], "k": lin.w.shape[1]}
        if lin.fmt == "fp8" and rows % 16 == 0:
            # the e4m3 GEMM alone, its input cast beforehand: what an engine that fuses the cast pays
            xq = x.to(FP8)
            out[name]["kernel_ms"] = timed(lambda lin=lin, xq=xq: torch._scaled_mm(
                xq, lin.w.t(), scale_a=lin.one, scale_b=lin.one, out_dtype=torch.bfloat16), dev)["ms"]
    return {"input_len": rows, "gemms": out}


if __name__ == "__main__":
    sys.exit(main())
