"""`deployscope train`, `deployscope diffusion` and `deployscope pipeline`: training and fine-tuning
jobs, image generation, and multi-stage pipelines sized for a daily volume or a deadline."""

from __future__ import annotations

from typing import Any

import typer

from ..errors import DeployscopeError
from .output import console, emit

GIB = 2**30


def _fmt(x: Any, spec: str = ",.3g") -> str:
    if x is None:
        return "-"
    try:
        return format(x, spec)
    except (TypeError, ValueError):
        return str(x)


# ------------------------------------------------------------------------------------ train
def train(
    model: str = typer.Argument(..., help="Model id or alias (see `deployscope catalog models`)."),
    gpu: str = typer.Option(..., "--gpu", "-g", help="GPU id or alias."),
    gpus: int = typer.Option(..., "--gpus", "-n", help="GPUs in the job."),
    tokens: str | None = typer.Option(None, "--tokens", "-t", help="Training tokens (language models): 2T, 500B, 10M or a plain number."),
    method: str | None = typer.Option(
        None, "--method", "-m",
        help="pretrain | full | lora | qlora (LLM; default: the phase's, else full); pretrain | full | lora | dreambooth | textual-inversion (image models, default pretrain).",
    ),
    seq_len: int | None = typer.Option(None, "--seq-len", "-s", help="Tokens per training sequence (default: the phase's, else 4096)."),
    phase: str | None = typer.Option(
        None, "--phase", help="pre-training | context-extension (full context window) | post-training (SFT); sets method and seq-len defaults."
    ),
    phases: str | None = typer.Option(
        None, "--phases",
        help="A run of several phases instead of --tokens/--phase: 'pre-training 2T@4096; context-extension 50B@4096..32768x3; post-training 5B@4096'.",
    ),
    images: str | None = typer.Option(None, "--images", help="Image models: images shown (1B, 500M; GANs also 25000kimg)."),
    resolution: str = typer.Option("", "--resolution", "-r", help="Image models: 1024, 768x1024, or stages SIDE:SHARE,... e.g. 256:0.6,512:0.3,1024:0.1 (default: the model's native size)."),
    global_batch: int | None = typer.Option(None, "--global-batch", "-b", help="Image models: images per optimizer step (default per method)."),
    steps: int | None = typer.Option(None, "--steps", help="Image models: optimizer steps (images = steps x global batch)."),
    epochs: float | None = typer.Option(None, "--epochs", help="Image models: passes over --dataset-images."),
    dataset_images: str | None = typer.Option(None, "--dataset-images", help="Image models: images in the training set (storage capacity; with --epochs)."),
    precision: str = typer.Option("bf16", "--precision", help="Image models: bf16 | fp16 | fp32 | tf32 | fp8."),
    ema: bool = typer.Option(True, "--ema/--no-ema", help="Image models: keep an EMA copy of the trained weights."),
    train_text_encoder: bool = typer.Option(False, "--train-text-encoder/--frozen-text-encoder", help="Image models: train the text encoder(s) too."),
    precomputed_latents: bool = typer.Option(False, "--precomputed-latents/--vae-on-the-fly", help="Image models: VAE latents stored beforehand."),
    precomputed_text: bool = typer.Option(False, "--precomputed-text/--text-on-the-fly", help="Image models: text embeddings stored beforehand."),
    checkpointing: bool = typer.Option(False, "--checkpointing/--no-checkpointing", help="Image models: activation checkpointing."),
    raw_files: bool = typer.Option(False, "--raw-files/--shards", help="Image models: one JPEG file per image instead of WebDataset shards (storage check)."),
    zero: int | None = typer.Option(None, "--zero", help="0 = DDP, 1/2/3 = ZeRO stage (3 = FSDP). Default 3 on >1 GPU."),
    micro_batch: int | None = typer.Option(None, "--micro-batch", help="Sequences (images) per GPU per forward pass (LLM default 1; image models: the largest that fits)."),
    optimizer: str = typer.Option("adamw", "--optimizer", help="adamw (mixed precision, 16 B/param) | adamw-bf16 | adamw-8bit."),
    recompute: str = typer.Option("selective", "--recompute", help="Activation recomputation: none | selective | full."),
    network: str | None = typer.Option(None, "--network", help="Scale-out fabric: ib-ndr, ib-xdr, ib-hdr, roce-400g, ethernet-100g ..."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """FLOPs, MFU, GPU-hours, wall-clock days, energy and memory per GPU of a training job."""
    from ..catalog.loader import default_catalog

    spec = default_catalog().models.get(model, field="model")
    image_model = spec.modality in ("diffusion", "gan")
    # options of the other kind of model are refused, not dropped
    other = ({"--phases": phases, "--phase": phase, "--seq-len": seq_len} if image_model else
             {"--images": images, "--resolution": resolution or None, "--global-batch": global_batch, "--steps": steps,
              "--epochs": epochs, "--dataset-images": dataset_images})
    given = [flag for flag, v in other.items() if v is not None]
    if given:
        kind = "image models" if not image_model else "language models"
        raise DeployscopeError(f"applies to {kind} only, and {spec.id} is a {'language' if not image_model else spec.modality} model",
                               field=given[0], value=other[given[0]])
    if image_model:
        from .image_train_cmd import run_image_training

        run_image_training(
            spec, gpu, gpus, images=images, tokens=tokens, method=method or "pretrain", resolution=resolution, global_batch=global_batch,
            steps=steps, epochs=epochs, dataset_images=dataset_images, precision=precision, ema=ema, train_text_encoder=train_text_encoder,
            precomputed_latents=precomputed_latents, precomputed_text=precomputed_text, checkpointing=checkpointing, zero=zero,
            micro_batch=micro_batch, network=network, as_json=as_json, raw_files=raw_files,
        )
        return
    if phases is not None:
        if tokens is not None or phase is not None or seq_len is not None or method is not None:
            raise DeployscopeError("takes its tokens, sequence lengths and methods from the plan: leave out --tokens, --phase, --seq-len and --method",
                                   field="--phases", value=phases)
        from ..physics.training_phase import estimate_plan

        try:
            plan = estimate_plan(model, gpu, gpus, phases, zero=zero, micro_batch=1 if micro_batch is None else micro_batch,
                                 optimizer=optimizer, recompute=recompute, network=network)
        except DeployscopeError as exc:
            raise _as_flag(exc) from None
        emit(plan, as_json, _render_plan)
        return
    if tokens is None:
        raise DeployscopeError("is required for a language model", field="--tokens", value=None, allowed="a token count: 2T, 500B, 10M")
    from ..physics.training import arch_of, estimate
    from ..physics.training_phase import phase_of, phase_setup

    try:
        if phase is not None:
            method, seq_len = phase_setup(phase, method, seq_len, arch_of(model, default_catalog()).max_context)
        r = estimate(
            model,
            gpu,
            gpus,
            tokens,
            method=method or "full",
            seq_len=4096 if seq_len is None else seq_len,  # 0 is refused by estimate, not replaced
            zero=zero,
            micro_batch=1 if micro_batch is None else micro_batch,
            optimizer=optimizer,
            recompute=recompute,
            network=network,
        )
    except DeployscopeError as exc:
        raise _as_flag(exc) from None
    data = r.to_dict()
    data["phase"] = phase_of(phase) if phase is not None else None
    data["memory_per_gpu_gib"] = r.memory_per_gpu_bytes / GIB
    emit(data, as_json, _render_train)


_FLAGS = {"phases": "--phases", "phase": "--phase", "tokens": "--tokens", "seq_len": "--seq-len", "micro_batch": "--micro-batch",
          "gpus": "--gpus", "method": "--method", "zero": "--zero", "recompute": "--recompute", "optimizer": "--optimizer",
          "network": "--network", "gpu": "--gpu", "model": "MODEL"}


def _as_flag(exc: DeployscopeError) -> DeployscopeError:
    """The error named by the option the user typed (--seq-len, not seq_len)."""
    if exc.field in _FLAGS:
        exc.field = _FLAGS[exc.field]
    return exc


def _render_plan(d: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=f"{d['model']} · {len(d['phases'])} phases · {d['gpus']} x {d['gpu']}", title_justify="left")
    for col, justify in (("phase", "left"), ("tokens", "right"), ("seq len", "right"), ("GPU-hours", "right")):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for p in d["phases"]:
        seq = "-" if not p["seq_lens"] else (str(p["seq_lens"][0]) if len(p["seq_lens"]) == 1 else f"{p['seq_lens'][0]}..{p['seq_lens'][-1]}")
        t.add_row(p["label"], _fmt(p["tokens"], ",.3g") if p["tokens"] else "not stated", seq, _fmt(p["gpu_hours"], ",.0f") if p["gpu_hours"] else "-")
    t.add_row("total", _fmt(d["tokens"], ",.3g"), "", _fmt(d["gpu_hours"], ",.0f"))
    c = console()
    c.print(t)
    c.print(f"wall-clock {d['wall_days']:,.1f} days, {d['energy_kwh']:,.0f} kWh before PUE; fits: {'yes' if d['fits'] else 'NO'}")
    if d["unstated"]:
        c.print(f"not predicted (no tokens stated): {', '.join(d['unstated'])}")


def _render_train(d: dict[str, Any]) -> None:
    from rich.table import Table

    c = console()
    t = Table(
        title=f"{d['model']} · {d['method']} · {d['tokens']:,.3g} tokens · {d['gpus']} x {d['gpu']}",
        title_justify="left",
    )
    t.add_column("figure")
    t.add_column("value", justify="right")
    band = d.get("error_band") or {}
    rows = [
        ("FLOPs (6ND + attention)", f"{d['flops']:.3e}  ({d['flops_dense']:.3e} + {d['flops_attention']:.3e})"),
        ("MFU", f"{d['mfu']:.1%}"),
        ("tokens/s (cluster)", _fmt(d["tokens_per_s"], ",.0f")),
        ("GPU-hours", _fmt(d["gpu_hours"], ",.0f")),
        ("wall-clock days", _fmt(d["wall_days"], ",.2f")),
        ("energy, kWh before PUE", _fmt(d["energy_kwh"], ",.0f")),
        ("memory per GPU", f"{d['memory_per_gpu_bytes'] / GIB:,.1f} GiB of {d['gpu_memory_bytes'] / GIB:,.0f} GiB"),
        ("fits", "yes" if d["fits"] else "NO"),
        ("fewest GPUs that fit", _fmt(d["min_gpus"], "d") if d["min_gpus"] else "none (shard further: ZeRO-3, recompute, TP)"),
        ("trainable parameters", f"{d['trainable_params']:,.0f}"),
    ]
    if band.get("low"):
        rows.append(("error band (GPU-hours)", f"x{band['low']:g} .. x{band['high']:g}"))
    for k, v in rows:
        t.add_row(k, v)
    c.print(t)
    ic = d["interconnect"]
    c.print(f"interconnect: {ic.get('needed') or '-'} — {ic['why']}", soft_wrap=True)
    for a in d.get("assumptions", []):
        c.print(f"assumption: {a}", soft_wrap=True)
    c.print("sources:")
    for s in d.get("sources", []):
        c.print(f"  {s}", soft_wrap=True)


# -------------------------------------------------------------------------------- diffusion
def diffusion(
    model: str = typer.Argument(..., help="Image model id or alias (SDXL, SD 1.5, SD3.5, FLUX.1, StyleGAN2 ...)."),
    gpu: str = typer.Option(..., "--gpu", "-g", help="GPU id or alias."),
    gpus: int = typer.Option(1, "--gpus", "-n", help="GPUs, each holding one pipeline replica."),
    resolution: str = typer.Option("1024x1024", "--resolution", "-r", help="WIDTHxHEIGHT in pixels."),
    steps: int = typer.Option(30, "--steps", "-s", help="Denoising steps."),
    cfg: bool = typer.Option(True, "--cfg/--no-cfg", help="Classifier-free guidance (doubles the denoiser batch)."),
    batch: int = typer.Option(1, "--batch", "-b", help="Images per batch."),
    quant: str = typer.Option("fp16", "--quant", "-q", help="fp16 | bf16 | fp8 | int8 | fp32 (8-bit applies to the denoiser)."),
    engine: str = typer.Option("pytorch", "--engine", "-e", help="pytorch | pytorch-compiled | tensorrt."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Latency, images/s and memory of text-to-image generation on one GPU type."""
    from ..physics.diffusion import estimate

    r = estimate(model, gpu, gpus=gpus, resolution=resolution, steps=steps, cfg=cfg, batch=batch, quant=quant, engine=engine)
    emit(r.to_dict(), as_json, _render_diffusion)


def _render_diffusion(d: dict[str, Any]) -> None:
    from rich.table import Table

    c = console()
    w, h = d["resolution"]
    t = Table(
        title=f"{d['model']} · {w}x{h} · {d['steps']} steps · CFG {'on' if d['cfg'] else 'off'} · batch {d['batch']} · {d['quant']} · {d['engine']} · {d['gpus']} x {d['gpu']}",
        title_justify="left",
    )
    t.add_column("figure")
    t.add_column("value", justify="right")
    band = d.get("error_band") or {}
    for k, v in (
        ("latency (one batch), s", _fmt(d["latency_s"], ",.3f")),
        ("  text encoders, s", _fmt(d["text_encoder_s"], ",.3f")),
        ("  one denoising step, s", _fmt(d["denoise_step_s"], ",.4f")),
        ("  VAE decode, s", _fmt(d["vae_decode_s"], ",.3f")),
        ("images/s (deployment)", _fmt(d["images_per_s"], ",.3f")),
        ("images/s per GPU", _fmt(d["images_per_s_per_gpu"], ",.3f")),
        ("TFLOP per image", _fmt(d["flops_per_image"] / 1e12, ",.1f")),
        ("memory per GPU", f"{d['memory_bytes'] / GIB:,.1f} GiB"),
        ("fits", "yes" if d["fits"] else "NO"),
        ("error band (images/s)", f"x{band.get('low')} .. x{band.get('high')}"),
    ):
        t.add_row(k, v)
    c.print(t)
    for a in d.get("assumptions", []):
        c.print(f"assumption: {a}", soft_wrap=True)


# --------------------------------------------------------------------------------- pipeline
def pipeline(
    file: str = typer.Argument(..., metavar="FILE", help="Scenario YAML; only its `pipelines` key is read."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Size every pipeline of a scenario file: GPU time per stage, the bottleneck, GPUs per stage."""
    from ..pipeline import load_pipelines, size_pipelines

    sizings = size_pipelines(load_pipelines(file))
    if not sizings:
        raise DeployscopeError("the file holds no pipelines", field="pipelines", value=file)
    data = [s.model_dump(mode="json") for s in sizings]
    out = dict(data[0])
    out["pipelines"] = data
    emit(out, as_json, _render_pipeline)


def _render_pipeline(d: dict[str, Any]) -> None:
    from rich.table import Table

    c = console()
    for p in d["pipelines"]:
        t = Table(
            title=f"pipeline {p['name']}: {p['items_per_day']:,.0f} items/day over {p['period_days']:g} day(s), utilization {p['utilization']:.0%}",
            title_justify="left",
        )
        for col, just in (("stage", "left"), ("model", "left"), ("gpu", "left"), ("GPU-s/item", "right"), ("GPU-h/day", "right"), ("GPUs", "right"), ("items/day capacity", "right")):
            t.add_column(col, justify=just)
        for s in p["stages"]:
            name = s["name"] + (" *" if s["name"] == p["bottleneck_stage"] else "")
            t.add_row(
                name,
                s["model"],
                s["gpu"],
                _fmt(s["gpu_seconds_per_item"], ",.3f"),
                _fmt(s["gpu_hours_per_day"], ",.1f"),
                str(s["gpus"]),
                _fmt(s["capacity_items_per_day"], ",.0f"),
            )
        t.add_row("[bold]total[/bold]", "", "", "", _fmt(p["total_gpu_hours_per_day"], ",.1f"), str(p["total_gpus"]), "", end_section=True)
        c.print(t)
        c.print(f"bottleneck stage (*): {p['bottleneck_stage']}; total GPU-hours over the period: {p['total_gpu_hours']:,.0f}")
        for a in p.get("assumptions", []):
            c.print(f"assumption: {a}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the app."""
    app.command("train", help="Training / fine-tuning: FLOPs, MFU, GPU-hours, days, energy, memory per GPU.")(train)
    app.command("diffusion", help="Image generation: latency, images/s and memory per GPU.")(diffusion)
    app.command("pipeline", help="Size multi-stage pipelines (LLM + diffusion stages) of a scenario file.")(pipeline)
