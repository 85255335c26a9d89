"""The scenario: what the organization wants to run, how much, how fast, under which rules.

A scenario is a YAML file (or a dict, or a web form) validated into :class:`Scenario`. Unknown
fields are rejected; every error names the field path (``workloads[0].requests_per_day``), the
value and what is allowed. Economics fields left out are filled by the planner from the
``economic_defaults`` catalog table and reported as assumptions. See docs/scenario.md.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from .. import safe_yaml
from ..catalog.base import NoBoolNumbers, locate
from ..errors import DeployscopeError
from .pipelines import Pipeline, _friendly, check_resolution, parse_pipelines, resolution_pair
from .policy import PolicyFacts

__all__ = [
    "Availability",
    "CandidateFilters",
    "DiffusionWorkload",
    "Economics",
    "FacilityLimits",
    "LLMWorkload",
    "LoadProfile",
    "Quality",
    "Scenario",
    "Targets",
    "TokenLengths",
    "TrainingJob",
    "load_scenario",
    "parse_scenario",
    "parse_tokens",
    "template",
]

PlacementName = Literal["on_prem", "cloud", "api", "hybrid"]
CloudPricing = Literal["on_demand", "reserved_1y", "reserved_3y", "spot"]
PLACEMENTS: tuple[PlacementName, ...] = ("on_prem", "cloud", "api", "hybrid")
CLOUD_PRICING: tuple[CloudPricing, ...] = ("on_demand", "reserved_1y", "reserved_3y", "spot")


class _M(NoBoolNumbers):
    # Every number is finite: `.inf`, `nan` and "1e400" are refused at the field that holds them.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# Bounds on what a scenario may ask for (docs/scenario.md#bounds). They are wide -- far beyond any
# deployment -- and exist so that a typo by orders of magnitude is named at the field the user
# wrote instead of overflowing somewhere inside the plan.
MAX_REQUESTS_PER_DAY = 1e12  # ~70x Google's search volume (~1.4e10 searches/day, 2024)
MAX_USERS = 1e10  # more than the world's population (8.2e9, UN 2024)
MAX_REQUESTS_PER_USER_PER_DAY = 86_400.0  # one request every second, all day
MAX_TOKENS_PER_REQUEST = 1e8  # 10x the longest context window offered (10M, Llama 4 Scout)
MAX_IMAGES_PER_DAY = 1e10
MAX_GROWTH_FACTOR = 100.0  # demand x100 each year
MIN_GROWTH_FACTOR = 0.01
MAX_TRAINING_TOKENS = 1e15  # ~30x the largest published pretraining run (36T tokens, Qwen3 2025)
MAX_LATENCY_S = 86_400.0  # a day
MIN_LATENCY_S = 1e-4  # 0.1 ms: below any measured time to first token or per-token time
MAX_MONEY = 1e12  # per unit, scenario currency: a $3.5M rack in IDR is ~5.6e10
MAX_TARIFF = 1e5  # per kWh, scenario currency (IDR ~1,500/kWh)
MAX_PEAK_TO_AVERAGE = 168.0  # all of a week's demand in one hour
MAX_WEIGHT = 1e9  # a relative load weight
_Factor = Annotated[float, Field(ge=0.01, le=100)]  # an uncertainty factor on a base value


# ------------------------------------------------------------------------------ workloads
class TokenLengths(_M):
    """Token count per request: a mean, optionally a distribution around it."""

    mean: float = Field(ge=1, le=MAX_TOKENS_PER_REQUEST, description="mean tokens per request")
    distribution: Literal["fixed", "exponential", "lognormal"] = Field(
        default="fixed", description="shape around the mean (the serving model uses the mean; p95 informs KV sizing)"
    )
    sigma: float | None = Field(default=None, gt=0, le=5, description="lognormal sigma (log-space std), with distribution: lognormal")
    p95: float | None = Field(default=None, ge=1, le=MAX_TOKENS_PER_REQUEST, description="95th percentile tokens, if known")
    max: int | None = Field(default=None, gt=0, le=MAX_TOKENS_PER_REQUEST, description="longest request: sizes the KV cache of the memory view (else the p95)")

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return {"mean": v}
        return v

    @property
    def p95_tokens(self) -> float:
        import math

        if self.p95 is not None:
            return self.p95
        if self.distribution == "exponential":
            return self.mean * math.log(20.0)
        if self.distribution == "lognormal" and self.sigma:
            return self.mean * math.exp(1.645 * self.sigma - self.sigma**2 / 2)
        return self.mean


class _Workload(_M):
    name: str = Field(min_length=1, description="a short name, unique in the scenario (shown in plans and reports)")
    model: str = Field(min_length=1, description="catalog model id or alias (`deployscope catalog models`)")
    pool: str | None = Field(default=None, description="workloads with the same pool name share one on-prem GPU pool")
    peak_to_average: float | None = Field(default=None, ge=1, le=MAX_PEAK_TO_AVERAGE, description="overrides load_profile.peak_to_average")
    growth_factor_per_year: float = Field(
        default=1.0, ge=MIN_GROWTH_FACTOR, le=MAX_GROWTH_FACTOR, description="demand multiplier per year: 3 = 3x a year; year n demand = year-1 x factor^(n-1)"
    )


class LLMWorkload(_Workload):
    """Text generation: requests per day (or users x requests per user), token lengths."""

    kind: Literal["llm"] = Field(default="llm", description="llm: text generation; diffusion: image generation")
    requests_per_day: float | None = Field(default=None, gt=0, le=MAX_REQUESTS_PER_DAY, description="requests a day in the first year (or give users)")
    users: float | None = Field(default=None, gt=0, le=MAX_USERS, description="active users (with requests_per_user_per_day)")
    requests_per_user_per_day: float | None = Field(default=None, gt=0, le=MAX_REQUESTS_PER_USER_PER_DAY, description="requests one active user sends a day")
    input_tokens: TokenLengths = Field(description="prompt tokens per request (a number is the mean)")
    output_tokens: TokenLengths = Field(description="generated tokens per request (a number is the mean)")
    ttft_p95_s: float | None = Field(default=None, ge=MIN_LATENCY_S, le=MAX_LATENCY_S, description="overrides targets.ttft_p95_s")
    tpot_p95_s: float | None = Field(default=None, ge=MIN_LATENCY_S, le=MAX_LATENCY_S, description="overrides targets.tpot_p95_s")
    api_models: list[str] | None = Field(default=None, description="api_prices ids to compare (default: same model family)")

    @model_validator(mode="after")
    def _demand(self) -> "LLMWorkload":
        if self.requests_per_day is None and (self.users is None or self.requests_per_user_per_day is None):
            raise ValueError("give requests_per_day, or users together with requests_per_user_per_day")
        if self.requests_per_day is not None and self.users is not None:
            raise ValueError("give either requests_per_day or users + requests_per_user_per_day, not both")
        if self.daily_requests > MAX_REQUESTS_PER_DAY:
            raise ValueError(
                f"users x requests_per_user_per_day = {self.daily_requests:.3g} requests a day, "
                f"more than the {MAX_REQUESTS_PER_DAY:.0e} allowed"
            )
        return self

    @property
    def daily_requests(self) -> float:
        if self.requests_per_day is not None:
            return self.requests_per_day
        return float(self.users) * float(self.requests_per_user_per_day)  # type: ignore[arg-type]


class DiffusionWorkload(_Workload):
    """Image generation: images per day at a resolution and step count."""

    kind: Literal["diffusion"] = Field(default="diffusion", description="llm: text generation; diffusion: image generation")
    images_per_day: float = Field(gt=0, le=MAX_IMAGES_PER_DAY, description="images generated a day in the first year")
    resolution: tuple[int, int] = Field(default=(1024, 1024), description="'1024x1024' or [w, h]")
    steps: int = Field(default=30, gt=0, le=1000, description="denoising steps (samplers use 1 to ~150)")
    cfg: bool = Field(default=True, description="classifier-free guidance (doubles the denoiser batch)")
    quant: str | None = Field(default=None, description="image model format (default fp16)")
    image_latency_s: float | None = Field(default=None, ge=MIN_LATENCY_S, le=MAX_LATENCY_S, description="overrides targets.image_latency_s")
    api_models: list[str] | None = Field(default=None, description="api_prices ids to compare (default: same model family)")

    @field_validator("resolution", mode="before")
    @classmethod
    def _res(cls, v: Any) -> Any:
        return resolution_pair(v)

    @field_validator("resolution")
    @classmethod
    def _res_pos(cls, v: tuple[int, int]) -> tuple[int, int]:
        check_resolution(v)
        return v


Workload = Annotated[Union[LLMWorkload, DiffusionWorkload], Field(discriminator="kind")]

_SUFFIX = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_tokens(v: Any) -> float:
    """'2B', '500M', '1.5T', 2e9 -> a token count."""
    if isinstance(v, bool):
        raise ValueError("expected a token count such as 2B or 500M")
    if isinstance(v, (int, float)):
        return float(v)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmbgtKMBGT]?)\s*", str(v))
    if not m:
        raise ValueError(f"expected a token count such as 2B or 500M (got {v!r})")
    return float(m.group(1)) * _SUFFIX[m.group(2).lower()]


class TrainingJob(_M):
    """A training or fine-tuning job repeated `runs_per_year` times."""

    name: str = Field(min_length=1, description="a short name, unique in the scenario")
    model: str = Field(min_length=1, description="catalog model id or alias of the model trained")
    method: Literal["pretrain", "full", "lora", "qlora"] = Field(default="lora", description="pretrain or full fine-tune update every weight; lora/qlora train adapters")
    tokens: float = Field(ge=1, le=MAX_TRAINING_TOKENS, description="training tokens per run (suffixes: 500M, 2B, 1T)")
    seq_len: int = Field(default=4096, gt=0, le=10_000_000, description="training sequence length")
    runs_per_year: float = Field(default=1.0, ge=0.01, le=8760, description="runs a year (0.5 = every other year; 8760 = hourly)")
    deadline_days: float | None = Field(default=None, ge=0.01, le=15 * 365, description="wall-clock days one run may take")
    gpu: str | None = Field(default=None, description="accelerator to train on (default: the serving GPU candidates)")
    dataset_gb: float | None = Field(default=None, ge=0, le=1e8, description="training data kept on storage (at most 100 PB)")

    @field_validator("tokens", mode="before")
    @classmethod
    def _tok(cls, v: Any) -> Any:
        return parse_tokens(v)


class ImageTrainingJob(_M):
    """Training or fine-tuning an image model (diffusion or GAN), repeated `runs_per_year` times.

    Given under ``training:`` with ``kind: image_training`` (or under ``workloads:`` with that kind,
    where it is moved to ``training``)."""

    kind: Literal["image_training"] = Field(default="image_training", description="image_training: an image model (diffusion or GAN)")
    name: str = Field(min_length=1, description="a short name, unique in the scenario")
    model: str = Field(min_length=1, description="catalog model id or alias of the image model trained")
    method: Literal["pretrain", "full", "lora", "dreambooth", "textual-inversion"] = Field(
        default="lora", description="pretrain or full fine-tune update every weight; the others train adapters or embeddings"
    )
    images: float = Field(ge=1, le=1e13, description="images shown per run (suffixes: 500M, 1B; GANs: 25000kimg)")
    resolution: str = Field(default="1024", description="1024, 768x1024, or stages SIDE:SHARE,... e.g. 256:0.6,512:0.3,1024:0.1")
    global_batch: int | None = Field(default=None, gt=0, le=10_000_000, description="images per optimizer step (default per method)")
    precision: Literal["bf16", "fp16", "fp32", "tf32", "fp8"] = Field(default="bf16", description="training number format")
    ema: bool = Field(default=True, description="keep an exponential moving average of the weights")
    train_text_encoder: bool = Field(default=False, description="also train the text encoder")
    precomputed_latents: bool = Field(default=False, description="image latents are encoded once, before training")
    precomputed_text: bool = Field(default=False, description="text embeddings are encoded once, before training")
    runs_per_year: float = Field(default=1.0, ge=0.01, le=8760, description="runs a year (0.5 = every other year)")
    deadline_days: float | None = Field(default=None, ge=0.01, le=15 * 365, description="wall-clock days one run may take")
    gpu: str | None = Field(default=None, description="accelerator to train on (default: the serving GPU candidates)")
    dataset_images: float | None = Field(default=None, ge=1, le=1e13, description="images in the training set (storage)")
    dataset_gb: float | None = Field(default=None, ge=0, le=1e8, description="training data kept on storage (at most 100 PB)")
    personal_data: bool = Field(default=False, description="the training images show identifiable people (a policy fact)")

    @field_validator("images", "dataset_images", mode="before")
    @classmethod
    def _count(cls, v: Any) -> Any:
        if v is None or isinstance(v, (int, float)):
            return v
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*(kimg|[kmbgtKMBGT]?)\s*", str(v))
        if not m:
            raise ValueError(f"expected an image count such as 500M, 1B or 25000kimg (got {v!r})")
        return float(m.group(1)) * (1e3 if m.group(2) == "kimg" else _SUFFIX[m.group(2).lower()])

    @property
    def seq_len(self) -> int:  # the LLM job's field, absent here
        return 0


def _training_kind(v: Any) -> str:
    kind = v.get("kind") if isinstance(v, dict) else getattr(v, "kind", None)
    return "image_training" if kind == "image_training" else "llm"


AnyTrainingJob = Annotated[
    Union[Annotated[TrainingJob, Tag("llm")], Annotated[ImageTrainingJob, Tag("image_training")]], Discriminator(_training_kind)
]


# ------------------------------------------------------------------------------ the rest
class LoadProfile(_M):
    """How demand spreads over the day and week; sets the peak and the base load for hybrids."""

    peak_to_average: float | None = Field(
        default=None, ge=1, le=MAX_PEAK_TO_AVERAGE, description="peak hour / average hour (default: from the shape)"
    )
    shape: Literal["flat", "business_hours", "consumer", "batch"] = Field(
        default="business_hours", description="built-in daily/weekly shape, unless hourly is given"
    )
    hourly: list[Annotated[float, Field(ge=0, le=MAX_WEIGHT)]] | None = Field(
        default=None, description="24 relative weights, hour 0..23 (local time)"
    )
    weekly: list[Annotated[float, Field(ge=0, le=MAX_WEIGHT)]] | None = Field(
        default=None, description="7 relative weights, Monday..Sunday"
    )
    base_load_percentile: float | None = Field(
        default=None, ge=0, le=100,
        description="hybrid: fix the on-prem base at this percentile of hourly load; default: the base that minimizes NPV",
    )

    @field_validator("hourly")
    @classmethod
    def _h(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (len(v) != 24 or any(x < 0 for x in v) or sum(v) < 1e-6):  # tinier sums underflow
            raise ValueError("hourly needs 24 non-negative weights, not all zero (their sum at least 1e-6)")
        return v

    @field_validator("weekly")
    @classmethod
    def _w(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (len(v) != 7 or any(x < 0 for x in v) or sum(v) < 1e-6):
            raise ValueError("weekly needs 7 non-negative weights, not all zero (their sum at least 1e-6)")
        return v


class Targets(_M):
    ttft_p95_s: float = Field(default=2.0, ge=MIN_LATENCY_S, le=MAX_LATENCY_S, description="time to first token, 95th percentile, seconds")
    tpot_p95_s: float = Field(default=0.1, ge=MIN_LATENCY_S, le=MAX_LATENCY_S, description="time per output token, 95th percentile, seconds (0.08 s = 12.5 tokens/s)")
    image_latency_s: float = Field(
        default=30.0, ge=MIN_LATENCY_S, le=MAX_LATENCY_S, description="one image, request to decoded image, seconds"
    )


class Quality(_M):
    max_quality_loss: float = Field(
        default=1.0, ge=0, le=100, description="most quality lost to quantization accepted, % on the catalog scale (docs/quality.md)"
    )


class Availability(_M):
    redundancy: Literal["none", "n+1", "n+2"] = Field(default="n+1", description="spare replicas per on-prem pool")


class FacilityLimits(_M):
    power_available_kw: float | None = Field(default=None, ge=0.01, le=1e7, description="IT power the site can supply (at most 10 GW)")
    kw_per_rack: float | None = Field(default=None, ge=0.01, le=1000, description="power one rack may draw (at most 1 MW)")
    cooling: Literal["air", "liquid"] | None = Field(default=None, description="liquid allows liquid-cooled servers")


class Economics(_M):
    """Money inputs. Every field left out is taken from the economic_defaults catalog table."""

    # what a field left out becomes (the template, the form and the API schema say it)
    left_out: ClassVar[dict[str, str]] = {
        "*": "the economic_defaults catalog row for the region",
        "facility": "colocation (listed as an assumption)",
        "utilization": "the busy share the demand gives each pool",
    }

    region: str = Field(default="us", description="region of the default tariff, carbon, colocation and staff rows: us, eu, de, fr, it")
    tariff_per_kwh: float | None = Field(default=None, ge=0, le=MAX_TARIFF, description="electricity price, scenario currency per kWh")
    carbon_kg_per_kwh: float | None = Field(default=None, ge=0, le=2, description="grid carbon intensity (lignite ~1.2)")
    pue: float | None = Field(default=None, ge=1, le=3, description="power usage effectiveness: facility power / IT power")
    facility: Literal["colocation", "own"] | None = Field(default=None, description="colocation pays per kW-month")
    colocation_per_kw_month: float | None = Field(default=None, ge=0, le=MAX_MONEY, description="colocation price, scenario currency per kW of IT load a month")
    own_facility_per_kw_year: float | None = Field(default=None, ge=0, le=MAX_MONEY, description="own facility: space and cooling per kW-year")
    installation_pct_capex: float | None = Field(default=None, ge=0, le=100, description="one-off installation and integration, % of CapEx")
    facility_limits: FacilityLimits = Field(default_factory=FacilityLimits, description="what the site can host; default: no limit")
    support_pct_capex: float | None = Field(default=None, ge=0, le=100, description="hardware support per year, % of CapEx")
    staff_fte: float | None = Field(default=None, ge=0, le=1e5, description="operations staff for on-prem GPUs (FTE)")
    staff_fte_cloud: float | None = Field(default=None, ge=0, le=1e5, description="operations staff for self-hosting on cloud GPUs (FTE)")
    staff_cost_per_fte: float | None = Field(default=None, ge=0, le=MAX_MONEY, description="loaded yearly cost of one FTE")
    discount_rate: float | None = Field(default=None, ge=0, le=1, description="yearly, as a fraction (0.08 = 8 %)")
    depreciation_years: float | None = Field(default=None, ge=1, le=30, description="years over which hardware loses its value (residual at the horizon)")
    utilization: float | None = Field(default=None, ge=0.01, le=1, description="average busy share of serving GPUs")
    hardware_prices: dict[str, Annotated[float, Field(ge=0, le=MAX_MONEY)]] = Field(
        default_factory=dict, description="your negotiated prices: accelerator or server id -> price per unit"
    )
    api_discount_pct: float = Field(default=0, ge=0, lt=100, description="negotiated discount on list API prices")


class Currency(_M):
    code: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code every amount is in: USD, EUR, GBP...")
    per_usd: float | None = Field(
        default=None, ge=1e-3, le=1e7, description="units of `code` per USD (default: fx_rates catalog)"
    )
    as_of: str | None = Field(default=None, description="date of your rate")

    @model_validator(mode="before")
    @classmethod
    def _str(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"code": v}
        if isinstance(v, dict) and isinstance(v.get("as_of"), (date, datetime)):
            return {**v, "as_of": v["as_of"].isoformat()}  # an unquoted YAML date
        return v


class CandidateFilters(_M):
    """Which options to consider. Empty lists mean: everything the catalog offers."""

    placements: list[PlacementName] = Field(default_factory=lambda: list(PLACEMENTS), description="where options may run")
    gpus: list[str] = Field(default_factory=list, description="accelerator ids; default: a curated datacenter set")
    providers: list[str] = Field(default_factory=list, description="cloud / API providers to consider")
    quants: list[str] = Field(default_factory=list, description="weight formats; default: every one within the quality floor")
    engine: str = Field(default="vllm", description="serving engine id (catalog engines table)")
    calibration: str | None = Field(
        default=None, description="calibration profile (from `deployscope calibrate`) applied to the serving model"
    )
    cloud_pricing: list[CloudPricing] = Field(default_factory=lambda: list(CLOUD_PRICING[:3]), description="cloud pricing models to compare")
    include_frontier_apis: bool = Field(default=True, description="also list frontier (closed-weight) APIs, labelled")
    api_prefill_tokens_per_s: float | None = Field(
        default=None, ge=1, le=1e8,  # below a token a second the scaled TTFT is not a latency but a typo
        description="prompt tokens a hosted API processes per second, for APIs that publish none (scales their "
                    "short-prompt TTFT to the scenario's prompt length); default: a conservative published figure")
    max_options: int = Field(default=40, gt=0, le=10_000, description="options kept in the plan after ranking")


class Scenario(_M):
    """Deployscope scenario. Validate with `deployscope scenario validate FILE`, plan with
    `deployscope plan FILE`. Every field is documented in docs/scenario.md. Fields left out of
    `economics` come from the economic_defaults catalog table and are listed as assumptions.
    Each comment gives the field's meaning, then its allowed values, bounds with their unit, and default."""

    name: str = Field(min_length=1, description="the scenario's name (plans and saved scenarios are listed by it)")
    description: str | None = Field(default=None, description="one line on what is being planned")
    horizon_years: int = Field(default=3, ge=1, le=15, description="years of cash flows; NPV over this horizon")
    currency: Currency = Field(default_factory=Currency, description="the currency of every amount in and out: a code (USD), or {code: EUR, per_usd: 0.92, as_of: 2025-06-30}")
    objective: Literal["npv", "total_cost", "unit_cost", "latency"] = Field(default="npv", description="what the recommendation minimizes")
    workloads: list[Workload] = Field(default_factory=list, description="serving workloads: text (llm) or images (diffusion)")
    training: list[AnyTrainingJob] = Field(
        default_factory=list, description="training or fine-tuning jobs, repeated each year: language models, or image models with kind: image_training"
    )
    pipelines: list[Pipeline] = Field(default_factory=list, description="multi-stage batch pipelines (docs/pipelines.md)")
    load_profile: LoadProfile = Field(default_factory=LoadProfile, description="how demand spreads over the day and week")
    targets: Targets = Field(default_factory=Targets, description="latency targets every serving option must meet")
    quality: Quality = Field(default_factory=Quality, description="how much quality quantization may cost")
    availability: Availability = Field(default_factory=Availability, description="spare capacity on-prem")
    economics: Economics = Field(default_factory=Economics, description="money inputs, all optional; every one left out comes from the catalog and is reported as an assumption")
    policy: PolicyFacts = Field(default_factory=PolicyFacts, description="facts for the policy engine (docs/scenario.md#policy, docs/policy.md)")
    candidates: CandidateFilters = Field(default_factory=CandidateFilters, description="which options to consider")
    uncertainty: dict[str, tuple[_Factor, _Factor, _Factor]] = Field(
        default_factory=dict,
        description="input -> (low, mode, high) factors on the base value for sensitivity and Monte Carlo: "
        "tariff, gpu_price, utilization, demand, api_price, cloud_price",
    )
    pipeline_runs_per_year: dict[str, Annotated[float, Field(ge=0, le=1e6)]] = Field(
        default_factory=dict, description="pipeline name -> runs a year, for pipelines given as items + deadline_days (default 1)"
    )
    monte_carlo_samples: int = Field(default=2000, ge=0, le=100_000, description="Monte Carlo draws for cost ranges (0 = none)")
    seed: int = Field(default=0, ge=0, le=2**63 - 1, description="random seed of the Monte Carlo draws (same seed, same ranges)")

    @model_validator(mode="before")
    @classmethod
    def _drop_empty_sections(cls, data: Any) -> Any:
        # a section whose fields are all commented out parses as null: treat it as absent
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if v is not None}
            wl = data.get("workloads")
            if isinstance(wl, list) and any(isinstance(w, dict) and w.get("kind") == "image_training" for w in wl):
                # image-model training is a batch job: it sizes and costs with the training jobs
                data["training"] = list(data.get("training") or []) + [w for w in wl if isinstance(w, dict) and w.get("kind") == "image_training"]
                wl = data["workloads"] = [w for w in wl if not (isinstance(w, dict) and w.get("kind") == "image_training")]
            if isinstance(wl, list):  # kind is optional: images_per_day means diffusion
                data["workloads"] = [
                    {**w, "kind": "diffusion" if "images_per_day" in w else "llm"}
                    if isinstance(w, dict) and "kind" not in w
                    else w
                    for w in wl
                ]
        return data

    @model_validator(mode="after")
    def _training_data_facts(self) -> "Scenario":
        # images of identifiable people in an image-training job make the scenario's data personal
        if any(getattr(j, "personal_data", False) for j in self.training):
            cats = [c for c in self.policy.data_categories if c != "none"]
            if "personal" not in cats:
                self.policy.data_categories = [*cats, "personal"]
        return self

    @model_validator(mode="after")
    def _something(self) -> "Scenario":
        if not (self.workloads or self.training or self.pipelines):
            raise ValueError("a scenario needs at least one of workloads, training or pipelines")
        names = [w.name for w in self.workloads] + [t.name for t in self.training]
        names += [getattr(p, "name", None) or (p.get("name") if isinstance(p, dict) else "") for p in self.pipelines]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"workload, training and pipeline names must be unique (repeated: {', '.join(dup)})")
        return self


# ------------------------------------------------------------------------------ loading
_TAGS = {"llm", "diffusion", "image_training"}


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _TAGS and i > 0 and isinstance(loc[i - 1], int):
            continue  # discriminated-union tag after a list index
        elif isinstance(part, str) and (part.startswith("function-") or "[" in part):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model whose fields live at `loc` (for 'allowed' lists on unknown fields)."""
    model: Any = Scenario
    for i, part in enumerate(loc[:-1]):
        if isinstance(part, int) or model is None:
            continue
        if part in _TAGS:
            in_training = i >= 2 and loc[i - 2] == "training"
            model = {"llm": TrainingJob if in_training else LLMWorkload, "diffusion": DiffusionWorkload, "image_training": ImageTrainingJob}[part]
            continue
        if not isinstance(part, str) or part not in getattr(model, "model_fields", {}):
            return None
        ann = model.model_fields[part].annotation
        model = _inner_model(ann)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(ann: Any) -> Any:
    import typing

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        m = _inner_model(arg)
        if m is not None:
            return m
    return None


def _error(exc: ValidationError, source: str | None = None) -> DeployscopeError:
    err = locate(exc.errors()[0])
    loc = tuple(err["loc"])
    msg = err["msg"]
    msg = _friendly(msg)
    allowed: Any = None
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
        model = _model_at(loc)
        allowed = sorted(model.model_fields) if model is not None else None
        value = loc[-1] if loc else value
    elif err["type"] == "missing":
        msg = "required field is missing"
        value = None
    elif err["type"] in ("literal_error", "enum"):
        ctx = err.get("ctx") or {}
        allowed = ctx.get("expected")
        msg = "value not allowed"
    elif err["type"] == "union_tag_invalid":
        msg = "kind must be llm or diffusion"
        allowed = "llm, diffusion"
    shown = "" if isinstance(value, (dict, list)) or value is None else f" (got {value!r})"
    where = f" [in {source}]" if source else ""
    return DeployscopeError(
        f"{msg}{shown}{where}",
        field=_path(loc),
        value=None if isinstance(value, (dict, list)) else value,
        allowed=allowed,
    )


def parse_scenario(data: Any, source: str | None = None) -> Scenario:
    """Validate a scenario mapping; errors name the field path, the value and what is allowed."""
    if isinstance(data, Scenario):
        return data
    if not isinstance(data, dict):
        raise DeployscopeError(
            f"{source + ': ' if source else ''}a scenario must be a mapping of fields",
            field="(top level)",
            value=type(data).__name__,
            allowed="a YAML mapping with name, workloads, ...",
        )
    # Validate pipelines with the pipeline parser first: its messages name the stage.
    if "pipelines" in data and data["pipelines"] is not None:
        raw = data["pipelines"]
        if raw == []:
            pass
        else:
            try:
                parse_pipelines(raw)
            except DeployscopeError as exc:
                if source:
                    exc.args = (f"{exc.args[0]} [in {source}]",)
                raise
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise _error(exc, source) from None


def load_scenario(path_or_data: str | Path | dict[str, Any] | Scenario) -> Scenario:
    """A Scenario from a YAML file path, a mapping, or a Scenario (returned as is)."""
    if isinstance(path_or_data, Scenario):
        return path_or_data
    if isinstance(path_or_data, dict):
        return parse_scenario(path_or_data)
    p = Path(path_or_data)
    if not p.is_file():
        raise DeployscopeError(f"no such scenario file: {str(p)!r}", field="SCENARIO", value=str(p), allowed="a YAML file path")
    try:
        data = safe_yaml.load_file(p)
    except safe_yaml.UnsafeInput as exc:
        if exc.field:  # a value at a key path (a non-finite number): name the field, as validation does
            raise
        raise DeployscopeError(str(exc.args[0]), field="SCENARIO", value=str(p), allowed=exc.allowed) from None
    return parse_scenario(data, source=str(p))


@functools.lru_cache(maxsize=1)
def template() -> str:
    """A commented scenario template (what `deployscope scenario init` writes), generated from the
    schema's descriptions (see :mod:`deployscope.scenario.commented_yaml`); the schema is fixed, so
    it is generated once."""
    from .commented_yaml import EXAMPLE, render

    return render(Scenario, EXAMPLE)
