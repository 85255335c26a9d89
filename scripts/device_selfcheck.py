"""Check, on a CPU and in seconds, that the passes scripts/device_forward.py and
scripts/device_serve.py time compute what they claim, before their figures are trusted.

- the routed experts as two grouped GEMMs over tokens sorted by expert equal a loop over each
  token's chosen experts;
- several prompts in one prefill give each prompt's logits as it would alone;
- a mixed step (decodes and prompts in one pass) gives the decode's and the prefill's logits as
  they would apart.

Usage: python scripts/device_selfcheck.py   (exit 0 and "self-check passed", or an assertion)
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import device_forward as fwd  # noqa: E402

CPU = torch.device("cpu")


def check_grouped_experts() -> None:
    s = fwd.tiny(fwd.catalog_shape("Qwen/Qwen3-30B-A3B"))
    moe = fwd.GroupedExperts(s, CPU, torch.float32)
    x = torch.randn(5, s.hidden)
    weights, chosen = (x @ moe.router.t()).softmax(-1).topk(s.experts_per_token, -1)
    want = torch.zeros_like(x)
    for t in range(x.shape[0]):
        for w, e in zip(weights[t], chosen[t]):
            h = x[t] @ moe.w13[e]
            want[t] += w * ((F.silu(h[: moe.i]) * h[moe.i:]) @ moe.w2[e])
    torch.testing.assert_close(moe(x), want, rtol=1e-4, atol=1e-6)


def check_batched_and_mixed_steps() -> None:
    s = fwd.tiny(fwd.catalog_shape("meta-llama/Llama-3.1-8B-Instruct"))
    net = fwd.Decoder(s, "bf16", CPU)
    n, seqs, batch, ctx = 8, 2, 3, 40
    prompts = torch.randint(0, s.vocab, (seqs * n,))
    decoding = torch.randint(0, s.vocab, (batch,))
    together = net.prefill_fn(n, seqs, tokens=prompts)()
    for i in range(seqs):
        alone = net.prefill_fn(n, 1, tokens=prompts[i * n:(i + 1) * n])()
        torch.testing.assert_close(together[i:i + 1], alone, rtol=0, atol=0)
    caches = net.new_caches(4, ctx)
    mixed = net.mixed_fn(batch, ctx, seqs, n, caches, tokens=torch.cat((decoding, prompts)))()
    decode = net.decode_fn(batch, ctx, caches, tokens=decoding)[0]()
    torch.testing.assert_close(mixed[:batch], decode, rtol=0, atol=0)
    torch.testing.assert_close(mixed[batch:], together, rtol=0, atol=0)


def main() -> int:
    torch.manual_seed(0)
    check_grouped_experts()
    check_batched_and_mixed_steps()
    print("self-check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
