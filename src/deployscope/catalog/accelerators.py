"""Accelerators (GPUs, NPUs, CPUs used for inference): datasheet figures with sources.

Units in the data file carry their unit in the field name (``memory_gib``, ``bandwidth_gb_s``,
``tflops``); the properties below give SI base units (bytes, bytes/s, FLOP/s) to the physics.
Peak FLOP/s are **dense**; where only a sparse figure is published it is halved and the dtype is
listed in ``sparse_derived``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from .base import NoBoolNumbers, Row
from .loader import register_table

GB = 1e9
GIB = 2**30

Dtype = Literal["fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp6", "fp4", "int4"]


class Interconnect(NoBoolNumbers):
    """Scale-up link between accelerators in one domain (NVLink, xGMI, PCIe...)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: str = Field(description="nvlink3 | nvlink4 | nvlink5 | xgmi | infinity-fabric | roce | pcie | none ...")
    bandwidth_gb_s: float = Field(ge=0, le=1e6, description="per accelerator, both directions added, as vendors quote it")
    domain_size: int = Field(ge=1, le=1_000_000, description="accelerators that reach each other at that bandwidth")


class Accelerator(Row):
    kind: ClassVar[str] = "GPU"
    price_fields: ClassVar[tuple[str, ...]] = ("price_usd",)

    name: str
    vendor: str
    device_type: Literal["gpu", "npu", "cpu", "soc"] = "gpu"
    family: str = Field(description="architecture generation, e.g. ampere, hopper, blackwell, ada, cdna3, gaudi")
    form_factor: str = Field(description="sxm | pcie | oam | superchip | nvl | workstation | module | socket ...")
    release_year: int = Field(ge=2010, le=2035)
    memory_gib: float | None = Field(default=None, gt=0, le=1e5, description="memory in GiB (2^30 B), where the datasheet means GiB")
    memory_gb: float | None = Field(default=None, gt=0, le=1e5, description="memory in GB (1e9 B), where the datasheet means GB")
    memory_type: str | None = Field(default=None, description="HBM3, HBM3e, GDDR6, LPDDR5, DDR5 ...")
    memory_bandwidth_gb_s: float = Field(gt=0, le=1e8)
    tflops: dict[Dtype, Annotated[float, Field(gt=0, le=1e6)]] = Field(description="dense peak TFLOP/s (TOPS for int) per dtype")
    sparse_derived: tuple[Dtype, ...] = Field(default=(), description="dtypes whose dense peak is half a sparse datasheet figure")
    tdp_w: float = Field(gt=0, le=1e5)
    interconnect: Interconnect
    pcie_gen: int | None = Field(default=None, ge=3, le=7)
    native_formats: tuple[str, ...] = Field(default=(), description="low-precision formats with native tensor-core support")
    compute_capability: str | None = Field(default=None, pattern=r"^\d+\.\d+$", description="CUDA compute capability (NVIDIA only)")
    cores: int | None = Field(default=None, ge=1, le=100_000, description="CPU cores (CPUs only)")
    price_usd: float | None = Field(default=None, gt=0, le=1e8, description="purchase price estimate per accelerator; null if unpublished")
    price_source: str | None = None
    price_as_of: date | None = None
    price_basis: Literal["card", "msrp", "system-per-gpu", "kit-per-chip"] | None = Field(
        default=None, description="card/MSRP price, or a server/kit price divided by its accelerator count"
    )
    price_note: str | None = None

    @model_validator(mode="after")
    def _one_memory_unit(self) -> "Accelerator":
        if (self.memory_gib is None) == (self.memory_gb is None):
            raise ValueError("give exactly one of memory_gib or memory_gb")
        if "bf16" not in self.tflops and "fp16" not in self.tflops and "fp32" not in self.tflops:
            raise ValueError("tflops needs at least one of bf16, fp16, fp32")
        if self.price_usd is not None and not (self.price_source and self.price_as_of):
            raise ValueError("price_usd needs price_source and price_as_of")
        if self.price_usd is None and not self.price_note:
            raise ValueError("price_usd is null: say why in price_note")
        missing = [d for d in self.sparse_derived if d not in self.tflops]
        if missing:
            raise ValueError(f"sparse_derived names dtypes without a tflops value: {', '.join(missing)}")
        if self.device_type == "cpu" and self.cores is None:
            raise ValueError("a cpu row needs cores")
        return self

    # --- SI views -----------------------------------------------------------------
    @property
    def memory_bytes(self) -> int:
        if self.memory_gib is not None:
            return int(round(self.memory_gib * GIB))
        assert self.memory_gb is not None  # the row validator requires one of the two
        return int(round(self.memory_gb * GB))

    @property
    def memory_bandwidth_bytes_per_s(self) -> float:
        return self.memory_bandwidth_gb_s * GB

    def peak_flops(self, dtype: str) -> float:
        """Dense peak FLOP/s for a compute dtype, falling back to the nearest wider native one.

        A float format the hardware lacks runs in a wider float (fp8 on an A100 runs as bf16), never
        on the integer units; an integer format falls back to int8, then to the floats.
        """
        floats = ["fp4", "fp6", "fp8", "bf16", "fp16", "tf32", "fp32"]
        ints = ["int4", "int8", "bf16", "fp16", "tf32", "fp32"]
        if dtype in self.tflops:
            return self.tflops[dtype] * 1e12
        order = ints if dtype in ints else floats
        start = order.index(dtype) if dtype in order else order.index("bf16")
        for d in order[start:]:
            if d in self.tflops:
                return self.tflops[d] * 1e12
        return self.tflops["fp32"] * 1e12 if "fp32" in self.tflops else max(self.tflops.values()) * 1e12

    @property
    def link_bytes_per_s(self) -> float:
        """One-direction scale-up bandwidth per accelerator (half the quoted bidirectional figure)."""
        return self.interconnect.bandwidth_gb_s * GB / 2


register_table("accelerators", Accelerator)
