"""The Plan: the one typed result every view renders (terminal, JSON, HTML, PDF, web, store).

Views import these types, never the planner. Field names are a public contract: add fields,
do not rename them. Money is in ``Plan.currency`` (USD unless the scenario says otherwise);
times in seconds, energy in kWh, mass in kg, memory in bytes.

``npv`` is the present value of all costs over the horizon at the discount rate: a positive
number, lower is better. ``cash_flows`` year 0 is the purchase (CapEx); years 1..horizon carry
the running costs; a hardware residual value at the horizon's end appears as a negative CapEx
in the last year.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Placement = Literal["on_prem", "cloud", "api", "hybrid"]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_M):
    """One catalog row (or user input) a figure rests on."""

    table: str = Field(description="catalog table (accelerators, servers, cloud_instances, ...) or 'scenario'")
    id: str
    source: str | None = None
    as_of: str | None = Field(default=None, description="ISO date of the figure")
    user_supplied: bool = Field(
        default=False, description="the row comes from (or was changed by) the user's catalog directory, not the bundled data"
    )


class HeldOutBias(_M):
    """A group of published measurements held out of every fit (an engine, a GPU family, a weight
    format) that a prediction belongs to, on which the model's predictions leaned one way."""

    metric_class: str = Field(description="throughput, ttft or tpot")
    group: str = Field(description="the group, as 'engine vllm', 'family cdna4' or 'format mxfp4-moe'")
    signed_median: float = Field(description="median of predicted / measured - 1 over the group: + predicted high, - low")
    rows: int = Field(ge=0, description="held-out measurements in the group")
    band_id: str = Field(description="the error_bands row it comes from")

    def sentence(self) -> str:
        """The notice in words, as the plan report and `perf` (after "held-out check: ") print it."""
        what = {"throughput": "throughput", "ttft": "TTFT", "tpot": "TPOT"}.get(self.metric_class, self.metric_class)
        way = "high" if self.signed_median > 0 else "low"
        return (f"{what} predicted {abs(100 * self.signed_median):.0f} % too {way} (median) on "
                f"{self.rows} published measurements of {self.group} (error band {self.band_id})")


class Assumption(_M):
    """An input the plan used: the user's value, or a labelled default the user may override."""

    name: str = Field(description="scenario path that overrides it, e.g. economics.tariff_usd_per_kwh")
    value: Any
    unit: str | None = None
    origin: Literal["user", "catalog_default", "derived", "assumption"] = "catalog_default"
    source: str | None = None
    as_of: str | None = None
    note: str | None = None


class CashFlowYear(_M):
    year: int = Field(ge=0)
    capex: float
    opex: float
    breakdown: dict[str, float] = Field(default_factory=dict, description="cost lines of the year (power, support, api, ...)")


class UnitCosts(_M):
    per_million_tokens: float | None = Field(default=None, description="cost per 1M output+input tokens served")
    per_image: float | None = None
    per_item: float | None = Field(default=None, description="cost per pipeline item (e.g. one synthetic identity)")
    per_gpu_hour: float | None = None


class Obligation(_M):
    id: str
    text: str
    citation: str | None = None


class ComponentSizing(_M):
    """One piece of an option: a GPU pool serving a workload, a cloud fleet, an API usage line."""

    workload: str = Field(description="workload name, or 'training' / pipeline name")
    kind: Literal["llm", "diffusion", "training", "pipeline_stage"]
    model: str
    placement: Placement
    gpu: str | None = None
    gpus: int | None = Field(default=None, description="GPUs for this piece, N+1 included")
    quant: str | None = None
    tp: int | None = None
    pp: int | None = None
    replicas: int | None = None
    capacity_per_replica: float | None = Field(default=None, description="requests/s, images/s or items/s one replica sustains under the targets")
    kv_quant: str | None = Field(default=None, description="LLM: KV-cache format (quant catalog id) the capacity was computed with")
    max_batch_per_replica: int | None = Field(
        default=None, description="LLM: most sequences one replica holds at the workload's mean lengths (KV capacity, "
                                  "engine cap), the batch limit capacity_per_replica assumes")
    demand_peak: float | None = Field(default=None, description="peak demand in the same unit, final horizon year")
    utilization: float | None = Field(default=None, description="average demand / installed capacity")
    gpu_hours_per_year: float | None = None
    runs_per_year: float | None = Field(default=None, description="training: runs a year")
    days_per_run: float | None = Field(default=None, description="training: wall-clock days one run takes on these GPUs")
    energy_kwh_per_year: float | None = Field(default=None, description="training: GPU energy a year, before PUE")
    cost_per_year: float | None = Field(
        default=None, description="training: what the job costs a year in the plan's currency (see cost_basis)")
    cost_basis: str | None = Field(default=None, description="how cost_per_year was found: the rental rate it used, or "
                                                              "the share of an owned fleet's yearly cost the job's GPUs hold")
    api_model: str | None = None
    note: str | None = None


class Performance(_M):
    """What the option delivers: sizing at the peak of the final horizon year; energy as yearly averages."""

    gpu: str | None = None
    gpus: int | None = Field(default=None, description="all GPUs bought or rented, N+1 included")
    server: str | None = None
    servers: int | None = None
    racks: int | None = None
    power_kw: float | None = Field(default=None, description="IT power at the average draw")
    peak_power_kw: float | None = None
    quant: str | None = None
    quality_delta: float | None = Field(default=None, description="quality lost vs 16-bit on the catalog scale, %")
    ttft_p95_s: float | None = None
    tpot_p95_s: float | None = None
    image_latency_s: float | None = None
    output_tokens_per_s: float | None = Field(default=None, description="installed capacity, whole deployment")
    published_ttft_s: float | None = Field(default=None, description="hosted API: the published time to first token (the slowest row used)")
    published_output_tokens_per_s: float | None = Field(default=None, description="hosted API: the published output speed per request (the slowest row)")
    ttft_at_prompt_s: float | None = Field(
        default=None, description="hosted API: the published TTFT scaled to the workload's mean prompt (published TTFT + "
                                  "(prompt - the prompt it was measured at) / prefill rate; the slowest row); see latency_note")
    latency_note: str | None = Field(default=None, description="hosted API: its published latency with the source, or 'latency unknown'")
    images_per_s: float | None = None
    utilization: float | None = None
    cold_start_s: float | None = Field(default=None, description="model load time from the chosen storage")
    storage_tb: float | None = None
    energy_kwh_per_year: float | None = Field(default=None, description="facility energy (PUE included), yearly average over the horizon")
    co2_kg_per_year: float | None = Field(default=None, description="grid CO2 of that energy, yearly average")
    error_band: dict[str, float] | None = Field(default=None, description="low/high multipliers on throughput")
    held_out_bias: list[HeldOutBias] = Field(
        default_factory=list,
        description="held-out groups the serving predictions belong to on which the model leaned one way beyond the "
        "catalog's limit (error_bands.BIAS_LIMIT), each once",
    )
    components: list[ComponentSizing] = Field(default_factory=list)


class Option(_M):
    id: str
    label: str
    placement: Placement
    placement_detail: str = Field(description="policy placement class, e.g. on_prem_air_gapped, eu_sovereign_cloud")
    provider: str | None = None
    frontier: bool = Field(default=False, description="a frontier (closed-weight) API rather than the same open-weight family")
    allowed: bool = True
    excluded_because: list[str] = Field(default_factory=list)
    npv: float | None = None
    total_cost: float | None = None
    unit_costs: UnitCosts = Field(default_factory=UnitCosts)
    cash_flows: list[CashFlowYear] = Field(default_factory=list)
    break_even_month: dict[str, float | None] = Field(
        default_factory=dict, description="month at which this option's cumulative cost drops below each other option's (None: never)"
    )
    performance: Performance = Field(default_factory=Performance)
    obligations: list[Obligation] = Field(default_factory=list)
    assumptions: list[Assumption] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    rank: int | None = Field(default=None, description="1 = best by the objective among allowed options")
    pareto: bool = False


class ParetoPoint(_M):
    option_id: str
    cost: float
    latency_s: float
    quality_delta: float


class TornadoBar(_M):
    input: str = Field(description="tariff | gpu_price | utilization | demand | api_price")
    low_factor: float
    high_factor: float
    npv_low: float = Field(description="option NPV with the input at its low factor")
    npv_high: float
    swing: float


class Sensitivity(_M):
    option_id: str
    base_npv: float
    bars: list[TornadoBar] = Field(default_factory=list)


class Crossover(_M):
    """What would change the answer: a factor on one input at which another option becomes best."""

    input: str
    factor: float
    new_best: str
    text: str


class MonteCarloRange(_M):
    option_id: str
    p10: float
    p50: float
    p90: float
    prob_best: float | None = Field(default=None, description="share of draws in which this option has the lowest NPV")


class MonteCarlo(_M):
    samples: int
    seed: int
    inputs: dict[str, dict[str, float]] = Field(default_factory=dict, description="input -> {low, high} factors sampled")
    ranges: list[MonteCarloRange] = Field(default_factory=list)


class Rationale(_M):
    summary: str
    reasons: list[str] = Field(default_factory=list)
    what_would_change: list[str] = Field(default_factory=list)
    crossovers: list[Crossover] = Field(default_factory=list)


class MemoryBreakdown(_M):
    """Memory of one GPU of the main serving pool of `option_id` (the recommended option, or the
    best self-hosted one when an API is recommended), bytes."""

    option_id: str | None = None
    workload: str
    model: str
    gpu: str
    quant: str | None = None
    tp: int = 1
    pp: int = 1
    total_bytes: float
    parts: dict[str, float] = Field(default_factory=dict, description="weights, kv_cache, activations, overhead, free ...")
    kv_quant: str | None = Field(default=None, description="KV-cache format of kv_cache")
    context_tokens: int | None = Field(default=None, description="tokens per sequence in kv_cache (the longest request, else p95 lengths)")
    batch: int | None = Field(default=None, description="sequences in kv_cache: as many as fit beside the weights on one "
                                                        "replica, at most the engine's sequence cap")


class CurvePoint(_M):
    """One operating point of the recommended option's main serving pool (per replica)."""

    concurrency: float
    output_tokens_per_s: float
    requests_per_s: float | None = None
    ttft_s: float | None = None
    tpot_s: float | None = None


class Plan(_M):
    schema_version: int = SCHEMA_VERSION
    deployscope_version: str
    scenario_name: str
    scenario: dict[str, Any] = Field(description="the validated scenario, defaults filled in")
    currency: str = "USD"
    fx_rate_per_usd: float = 1.0
    horizon_years: int
    discount_rate: float
    objective: str = "npv"
    recommended: str | None = Field(default=None, description="id of the best allowed option, None if every option is excluded")
    options: list[Option] = Field(default_factory=list)
    rationale: Rationale
    pareto: list[ParetoPoint] = Field(default_factory=list)
    sensitivity: list[Sensitivity] = Field(default_factory=list)
    monte_carlo: MonteCarlo | None = None
    memory_breakdown: MemoryBreakdown | None = None
    latency_throughput: list[CurvePoint] = Field(default_factory=list)
    assumptions: list[Assumption] = Field(default_factory=list, description="scenario-wide inputs and defaults")
    sources: list[Source] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    candidates_evaluated: int = 0
    elapsed_s: float | None = None

    # --- convenience -------------------------------------------------------------------
    def __repr__(self) -> str:
        """One line: printing a Plan (a notebook, a REPL) must not dump the whole result."""
        allowed = sum(o.allowed for o in self.options)
        best = self.best
        npv = f", NPV {best.npv:,.0f} {self.currency}" if best is not None and best.npv is not None else ""
        return (
            f"<Plan {self.scenario_name!r}: recommended {self.recommended or 'none'}{npv}; "
            f"{allowed} of {len(self.options)} options allowed, {self.horizon_years} years>"
        )

    __str__ = __repr__

    def __rich_repr__(self) -> Any:  # rich's pretty printer (and its IPython extension): the same few fields
        yield "scenario_name", self.scenario_name
        yield "recommended", self.recommended
        yield "options", f"{sum(o.allowed for o in self.options)} of {len(self.options)} allowed"
        yield "horizon_years", self.horizon_years
        yield "currency", self.currency

    def _repr_html_(self) -> str:
        """A notebook cell's view: the answer, its reasons and the allowed options."""
        from html import escape

        cur = escape(self.currency)
        rows = "".join(
            f"<tr><td>{o.rank or ''}</td><td>{'★ ' if o.id == self.recommended else ''}{escape(o.id)}</td>"
            f"<td>{escape(o.placement_detail)}</td>"
            f"<td style='text-align:right'>{'' if o.npv is None else f'{o.npv:,.0f}'}</td></tr>"
            for o in self.allowed_options()[:10]
        )
        more = len(self.allowed_options()) - 10
        reasons = "".join(f"<li>{escape(r)}</li>" for r in self.rationale.reasons[:5])
        return (
            f"<div><strong>{escape(self.scenario_name)}</strong>: recommended "
            f"<code>{escape(self.recommended or 'none')}</code>"
            f"<p>{escape(self.rationale.summary)}</p><ul>{reasons}</ul>"
            f"<table><thead><tr><th>#</th><th>option</th><th>placement</th><th>NPV ({cur}, "
            f"{self.horizon_years} years)</th></tr></thead><tbody>{rows}</tbody></table>"
            + (f"<p>{more} more allowed option(s): <code>plan.to_dataframe()</code></p>" if more > 0 else "")
            + f"<p>{len(self.excluded_options())} option(s) excluded.</p></div>"
        )

    def option(self, option_id: str) -> Option:
        for o in self.options:
            if o.id == option_id:
                return o
        raise KeyError(option_id)

    @property
    def best(self) -> Option | None:
        return self.option(self.recommended) if self.recommended else None

    def allowed_options(self) -> list[Option]:
        return [o for o in self.options if o.allowed]

    def excluded_options(self) -> list[Option]:
        return [o for o in self.options if not o.allowed]

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)

    def options_table(self) -> list[dict[str, Any]]:
        """One flat dict per option (the columns of ``to_dataframe`` and of CSV exports)."""
        rows = []
        for o in self.options:
            p = o.performance
            rows.append(
                {
                    "id": o.id,
                    "label": o.label,
                    "placement": o.placement,
                    "placement_detail": o.placement_detail,
                    "provider": o.provider,
                    "allowed": o.allowed,
                    "excluded_because": "; ".join(o.excluded_because),
                    "rank": o.rank,
                    "recommended": o.id == self.recommended,
                    "pareto": o.pareto,
                    "npv": o.npv,
                    "total_cost": o.total_cost,
                    "per_million_tokens": o.unit_costs.per_million_tokens,
                    "per_image": o.unit_costs.per_image,
                    "per_item": o.unit_costs.per_item,
                    "gpu": p.gpu,
                    "gpus": p.gpus,
                    "servers": p.servers,
                    "quant": p.quant,
                    "quality_delta": p.quality_delta,
                    "ttft_p95_s": p.ttft_p95_s,
                    "tpot_p95_s": p.tpot_p95_s,
                    "image_latency_s": p.image_latency_s,
                    "utilization": p.utilization,
                    "energy_kwh_per_year": p.energy_kwh_per_year,
                    "co2_kg_per_year": p.co2_kg_per_year,
                    "currency": self.currency,
                }
            )
        return rows

    def to_dataframe(self) -> Any:
        """The options as a pandas DataFrame (one row per option). Needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Plan.to_dataframe() needs pandas, which is not installed: run `pip install pandas` "
                "(or use Plan.options_table() for plain dicts)"
            ) from None
        return pd.DataFrame(self.options_table()).set_index("id")
