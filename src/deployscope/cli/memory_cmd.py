"""`deployscope memory`, `deployscope fit` and `deployscope model add`: bytes a deployment needs,
the fewest GPUs that hold a model, and offline ingest of a local model into the user catalog."""

from __future__ import annotations

from typing import Any, List, Optional

import typer

from .output import console, emit, print_table

GIB = 2**30

model_app = typer.Typer(help="Add models to your user catalog from local files (offline).", no_args_is_help=True)


def _gib(n: float | None) -> str:
    return "-" if n is None else f"{n / GIB:,.2f}"


def _gb(n: float | None) -> str:
    return "-" if n is None else f"{n / 1e9:,.2f}"


def memory(
    model: str = typer.Argument(..., help="Model id or alias (see `deployscope catalog models`)."),
    quant: str = typer.Option("bf16", "--quant", "-q", help="Weight format id (see `deployscope catalog quant`)."),
    kv_quant: Optional[str] = typer.Option(None, "--kv-quant", help="KV-cache format (default bf16): bf16, fp8, int8."),
    context: int = typer.Option(8192, "--context", "-c", help="Tokens per sequence (prompt + output)."),
    batch: int = typer.Option(1, "--batch", "-b", help="Sequences held at once."),
    tp: int = typer.Option(1, "--tp", help="Tensor-parallel GPUs."),
    pp: int = typer.Option(1, "--pp", help="Pipeline stages."),
    ep: int = typer.Option(1, "--ep", help="Expert-parallel GPUs (MoE)."),
    engine: str = typer.Option("vllm", "--engine", "-e", help="Serving engine: vllm, sglang, trtllm, llamacpp."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Bytes one replica needs: weights, KV cache, activation peak, runtime overhead, per GPU."""
    from ..physics.memory import estimate_memory

    est = estimate_memory(model, quant=quant, kv_quant=kv_quant, context=context, batch=batch, tp=tp, pp=pp, ep=ep, engine=engine)
    emit(est.to_dict(), as_json, _render_memory)


def _render_memory(d: dict[str, Any]) -> None:
    from rich.table import Table

    c = console()
    title = (
        f"{d['model']} · {d['quant']} weights · {d['kv_quant']} KV · {d['engine']} · context {d['context']:,} × batch {d['batch']} "
        f"· tp {d['tp']} pp {d['pp']} ep {d['ep']} = {d['gpus']} GPU(s)"
    )
    t = Table(title=title, title_justify="left")
    t.add_column("part")
    t.add_column("replica GiB", justify="right")
    t.add_column("replica GB", justify="right")
    t.add_column("largest GPU GiB", justify="right")
    pg = d["per_gpu"]
    for label, key, gkey in (
        ("weights", "weights_bytes", "weights"),
        ("KV cache", "kv_cache_bytes", "kv_cache"),
        ("activation peak", "activation_bytes", "activation"),
        ("runtime overhead", "overhead_bytes", "overhead"),
    ):
        t.add_row(label, _gib(d[key]), _gb(d[key]), _gib(pg.get(gkey)))
    t.add_row("[bold]total[/bold]", _gib(d["total_bytes"]), _gb(d["total_bytes"]), _gib(d["per_gpu_bytes"]), end_section=True)
    print_table(t, c)
    c.print(f"KV cache per token (uncapped): {d['kv_bytes_per_token']:,.0f} B")
    for n in d.get("notes", []):
        c.print(f"note: {n}")
    c.print("sources:")
    for k, v in d["sources"].items():
        c.print(f"  {k}: {v}", soft_wrap=True)


def fit(
    model: str = typer.Argument(..., help="Model id or alias."),
    context: int = typer.Option(8192, "--context", "-c", help="Tokens per sequence."),
    gpu: Optional[List[str]] = typer.Option(None, "--gpu", "-g", help="GPU id or alias; repeat for several (default: all)."),
    kv_quant: Optional[str] = typer.Option(None, "--kv-quant", help="KV-cache format (default bf16)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """For each GPU × weight format: the fewest GPUs that hold the model at this context, and how
    many such sequences fit at once, beside the format's quality delta (docs/quality.md)."""
    from ..physics.memory import fit_rows, resolve_model

    m = resolve_model(model)
    rows = fit_rows(m, context=context, gpus=gpu or None, kv_quant=kv_quant)
    data = {"model": m.id, "context": context, "kv_quant": kv_quant or "bf16", "rows": rows}
    emit(data, as_json, _render_fit)


def _render_fit(d: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=f"{d['model']} at {d['context']:,} tokens ({d['kv_quant']} KV)", title_justify="left")
    for col, just in (("GPU", "left"), ("format", "left"), ("engine", "left"), ("GPUs", "right"), ("tp×pp", "right"),
                      ("sequences", "right"), ("native", "center"), ("quality Δ %", "right"), ("metric", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    last = None
    for r in d["rows"]:
        if last is not None and r["gpu"] != last:
            t.add_section()
        last = r["gpu"]
        q = "-" if r["quality_delta"] is None else f"{r['quality_delta']:g}"
        t.add_row(
            r["gpu"], r["quant"], r["engine"],
            "does not fit" if r["gpus"] is None else str(r["gpus"]),
            "-" if r["gpus"] is None else f"{r['tp']}×{r['pp']}",
            f"{r['max_sequences']:,}", "yes" if r["native"] else "no", q, r["quality_metric"] or "unknown",
        )
    print_table(t)
    console().print("quality Δ: % of the 16-bit model's quality lost (docs/quality.md); '-' = no published figure")


@model_app.command("add")
def model_add(
    path: str = typer.Argument(..., help="config.json, a model directory (config.json + *.safetensors), or a .gguf file."),
    model_id: Optional[str] = typer.Option(None, "--id", help="Catalog id (default: from the file or directory name)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Read a local model and write it into the user catalog (models.yaml), usable by name."""
    from ..ingest import add_model

    result = add_model(path, model_id=model_id)
    emit(result, as_json, _render_added)


def _render_added(d: dict[str, Any]) -> None:
    c = console()
    c.print(f"added [bold]{d['id']}[/bold] to {d['catalog_file']}")
    c.print(f"  parameters: {d['params_b']:.3f} B" + (f" · weights on disk: {_gib(d['weights_bytes'])} GiB" if d.get("weights_bytes") else ""))
    if d.get("kv_bytes_per_token") is not None:
        c.print(f"  KV cache per token (bf16): {d['kv_bytes_per_token']:,.0f} B")
    c.print(f"  try: deployscope memory {d['id']} --quant bf16")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command("memory")(memory)
    app.command("fit")(fit)
    app.add_typer(model_app, name="model")
