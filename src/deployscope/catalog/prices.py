"""Prices and economic defaults: cloud GPU instances, hosted-API prices, servers, network,
storage, economic defaults (tariffs, PUE, colocation, staff...) and currency rates.

Every price is a dated snapshot with its source. A price nobody publishes is ``null`` with a
note, never a guess. Money fields are USD unless the row says otherwise (``currency``); names
carry their unit (``price_usd_per_hour`` is per *instance* and hour). Defaults that are
assumptions carry ``assumption: true`` and the source they were chosen from; a scenario or a
user catalog overrides them.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Iterable, Literal, Self

from pydantic import Field, model_validator

from ..errors import DeployscopeError
from .base import Row
from .loader import Catalog, default_catalog, register_table

Pricing = Literal["on_demand", "1y", "3y", "spot"]
PRICINGS: tuple[str, ...] = ("on_demand", "1y", "3y", "spot")

#: Used when the catalog has no ``prices.stale_after_days`` row (see economic_defaults.yaml).
DEFAULT_STALE_AFTER_DAYS = 180


class _Priced(Row):
    """Fields shared by rows that a provider sells under a jurisdiction."""

    provider: str = Field(min_length=1)
    jurisdiction: str = Field(
        description="where the provider is headquartered / which law it answers to: US, EU, DE, FR, CN, ... "
        "(what the policy engine checks for extraterritorial reach)"
    )
    data_region: str = Field(description="where the data is processed: US, EU, DE, FR, global, ...")
    regions: tuple[str, ...] = Field(default=(), description="provider regions this price holds in")
    certifications: tuple[str, ...] = Field(
        default=(),
        description="certifications *with a source* for this offering: DPF, C5, SecNumCloud, FedRAMP-High, "
        "DoD-IL4, DoD-IL5, DoD-IL6, ISO27001 ... (empty = none sourced, not 'none held')",
    )
    certifications_source: str | None = None
    currency: str = Field(default="USD", description="currency of every price in the row")

    @model_validator(mode="after")
    def _cert_source(self) -> Self:
        if self.certifications and not self.certifications_source:
            raise ValueError("certifications need certifications_source")
        return self

    def age_days(self, today: date | None = None) -> int:
        """Age of the price: from its publication date (``price_as_of``), else from the date it was read."""
        return ((today or date.today()) - (self.price_as_of or self.as_of)).days

    def is_stale(self, stale_after_days: int = DEFAULT_STALE_AFTER_DAYS, today: date | None = None) -> bool:
        return self.age_days(today) > stale_after_days


class CloudInstance(_Priced):
    """A cloud GPU instance type in a set of regions at one price."""

    kind: ClassVar[str] = "cloud instance"
    price_fields: ClassVar[tuple[str, ...]] = ("price_usd_per_hour", "price_1y_usd_per_hour", "price_3y_usd_per_hour", "spot_usd_per_hour")

    instance_type: str = Field(min_length=1)
    gpu_id: str = Field(description="accelerator id in accelerators.yaml")
    gpu_count: int = Field(ge=1, le=1024)
    vcpus: float | None = Field(default=None, gt=0, le=100_000)
    memory_gib: float | None = Field(default=None, gt=0, le=1e6)
    price_usd_per_hour: float | None = Field(default=None, gt=0, le=1e5, description="on-demand, per instance-hour")
    price_1y_usd_per_hour: float | None = Field(default=None, gt=0, le=1e5, description="1-year commitment, per instance-hour")
    price_3y_usd_per_hour: float | None = Field(default=None, gt=0, le=1e5, description="3-year commitment, per instance-hour")
    spot_usd_per_hour: float | None = Field(default=None, gt=0, le=1e5, description="spot / preemptible, per instance-hour")
    commitment_source: str | None = Field(default=None, description="where the 1y/3y prices come from, if not `source`")
    sovereign: bool = Field(default=False, description="offered as an EU sovereign cloud (operated under EU law only)")

    @model_validator(mode="after")
    def _some_price(self) -> "CloudInstance":
        if all(
            p is None
            for p in (self.price_usd_per_hour, self.price_1y_usd_per_hour, self.price_3y_usd_per_hour, self.spot_usd_per_hour)
        ) and not self.notes:
            raise ValueError("a row without any price needs notes saying why")
        return self

    def price(self, pricing: str) -> float | None:
        """Price per instance-hour under `pricing` (on_demand | 1y | 3y | spot), or None if unpublished."""
        if pricing not in PRICINGS:
            raise DeployscopeError(f"unknown pricing {pricing!r}", field="pricing", value=pricing, allowed=PRICINGS)
        return {
            "on_demand": self.price_usd_per_hour,
            "1y": self.price_1y_usd_per_hour,
            "3y": self.price_3y_usd_per_hour,
            "spot": self.spot_usd_per_hour,
        }[pricing]

    def price_per_gpu_hour(self, pricing: str = "on_demand") -> float | None:
        p = self.price(pricing)
        return None if p is None else p / self.gpu_count

    def pricings(self) -> list[str]:
        """The pricings this row has a price for."""
        return [p for p in PRICINGS if self.price(p) is not None]


class ApiPrice(_Priced):
    """A hosted model API price: per 1M tokens (LLM) or per image (diffusion)."""

    kind: ClassVar[str] = "API price"
    price_fields: ClassVar[tuple[str, ...]] = ("input_usd_per_million_tokens", "output_usd_per_million_tokens", "usd_per_image")
    companions: ClassVar[dict[str, tuple[str, ...]]] = {
        "ttft_s": ("latency_source", "latency_prompt_tokens", "latency_prompt_note"),
        "output_tokens_per_s": ("latency_source",),
        "latency_prompt_tokens": ("latency_prompt_note",),
        "prefill_tokens_per_s": ("prefill_source",),
        "max_input_tokens": ("max_input_tokens_source",),
    }

    model: str = Field(description="model id in models.yaml where it exists, else the provider's model name")
    model_family: str = Field(description="family, to match self-hosted options of the same family (llama3, qwen3...)")
    params_b: float | None = Field(default=None, gt=0, le=1e5, description="model size, billions (to match like with like)")
    mode: Literal["chat", "image", "embedding"] = "chat"
    open_weight: bool = Field(description="the same weights can be run on-prem")
    frontier: bool = Field(default=False, description="a proprietary frontier model: a labelled alternative, not a like-for-like one")
    input_usd_per_million_tokens: float | None = Field(default=None, ge=0, le=1e5)
    output_usd_per_million_tokens: float | None = Field(default=None, ge=0, le=1e5)
    usd_per_image: float | None = Field(default=None, ge=0, le=1e3)
    image_resolution: str | None = Field(default=None, description="e.g. 1024x1024, the resolution usd_per_image holds for")
    image_steps: int | None = Field(default=None, gt=0, le=1000)
    quantization: str | None = Field(default=None, description="what the provider serves, if stated (fp8, turbo...)")
    ttft_s: float | None = Field(default=None, gt=0, le=86_400, description="published time to first token, seconds (median)")
    output_tokens_per_s: float | None = Field(
        default=None, gt=0, le=1e8, description="published output speed per request, tokens/s (median)")
    latency_source: str | None = Field(default=None, description="where the latency figures come from, with its date")
    latency_prompt_tokens: int | None = Field(
        default=None, ge=0, le=10_000_000,
        description="prompt length the published TTFT was measured at (the source's methodology; 0 where it is not stated)")
    latency_prompt_note: str | None = Field(default=None, description="where latency_prompt_tokens comes from")
    prefill_tokens_per_s: float | None = Field(
        default=None, ge=1, le=1e8,
        description="published prompt-processing rate for this provider and model, tokens/s (from a long-prompt TTFT)")
    prefill_source: str | None = Field(default=None, description="where prefill_tokens_per_s comes from, with its date")
    max_input_tokens: int | None = Field(default=None, gt=0, le=100_000_000, description="longest prompt the API accepts, tokens")
    max_input_tokens_source: str | None = None

    @model_validator(mode="after")
    def _latency_source(self) -> "ApiPrice":
        if (self.ttft_s is not None or self.output_tokens_per_s is not None) and not self.latency_source:
            raise ValueError("published latency figures need latency_source")
        if self.ttft_s is not None and (self.latency_prompt_tokens is None or not self.latency_prompt_note):
            raise ValueError("a published ttft_s needs latency_prompt_tokens and latency_prompt_note: the prompt length it "
                             "was measured at, from the source's methodology (0 with a note where the source does not say)")
        if self.prefill_tokens_per_s is not None and not self.prefill_source:
            raise ValueError("prefill_tokens_per_s needs prefill_source")
        if self.max_input_tokens is not None and not self.max_input_tokens_source:
            raise ValueError("max_input_tokens needs max_input_tokens_source")
        prompt, window = self.latency_prompt_tokens, self.max_input_tokens
        if self.ttft_s is not None and prompt is not None and window is not None and prompt > window:
            raise ValueError(f"latency_prompt_tokens ({prompt:,}) is longer than max_input_tokens "
                             f"({window:,}): the API could not have been measured at that prompt")
        return self

    def latency_note(self) -> str:
        """The API's published latency, or that none is on record (the plan cannot check its targets)."""
        if self.ttft_s is None and self.output_tokens_per_s is None:
            return "latency unknown: no published figure for this API in the catalog; measure it (deployscope bench) before relying on it"
        parts = []
        if self.ttft_s is not None:
            parts.append(f"TTFT {self.ttft_s:g} s")
        if self.output_tokens_per_s is not None:
            parts.append(f"{self.output_tokens_per_s:g} output tokens/s")
        return "published latency: " + ", ".join(parts) + f" ({self.latency_source})"

    @model_validator(mode="after")
    def _prices(self) -> "ApiPrice":
        if self.mode == "image":
            if self.usd_per_image is None and not self.notes:
                raise ValueError("an image row needs usd_per_image (or notes saying why not)")
        elif (self.input_usd_per_million_tokens is None or self.output_usd_per_million_tokens is None) and not self.notes:
            raise ValueError("a token row needs input_ and output_usd_per_million_tokens (or notes saying why not)")
        return self


class Server(Row):
    """A server or workstation that takes GPUs."""

    kind: ClassVar[str] = "server"
    price_fields: ClassVar[tuple[str, ...]] = ("price_usd",)

    name: str
    vendor: str
    form_factor: Literal["hgx", "dgx", "oam", "pcie", "workstation"]
    gpu_slots: int = Field(ge=1, le=1024)
    accepts_gpu_ids: tuple[str, ...] = Field(min_length=1, description="accelerator ids that fit")
    includes_gpus: bool = Field(description="price_usd includes gpu_slots GPUs of accepts_gpu_ids[0]")
    price_usd: float | None = Field(default=None, gt=0, le=1e9, description="purchase price; null if nobody publishes one")
    price_note: str | None = None
    max_power_kw: float | None = Field(default=None, gt=0, le=1e4, description="published maximum system power (datasheet), kW")
    host_power_kw: float | None = Field(
        default=None, gt=0, le=1e4,
        description="host allowance (CPUs, fans, NICs, switches) added to GPU TDP x slots where no system maximum is published, kW",
    )
    idle_power_kw: float | None = Field(default=None, gt=0, le=1e4, description="published or measured idle system power, kW")
    typical_power_kw: float | None = Field(default=None, gt=0, le=1e4, description="informational; costing uses idle and maximum")
    power_source: str | None = Field(default=None, description="where the power figures come from, if not `source`")
    rack_units: int = Field(ge=1, le=100, description="height in U (a tower workstation: its U-equivalent when racked)")
    cooling: Literal["air", "liquid"]
    nics_included: bool = Field(default=False, description="scale-out NICs (e.g. 8x 400G) included in price_usd")

    @model_validator(mode="after")
    def _note(self) -> "Server":
        if self.price_usd is None and not self.price_note:
            raise ValueError("price_usd: null needs price_note saying why")
        return self

    @model_validator(mode="after")
    def _power_consistent(self) -> "Server":
        if self.max_power_kw is not None and self.host_power_kw is not None:
            raise ValueError(f"max_power_kw ({self.max_power_kw:g}) and host_power_kw ({self.host_power_kw:g}) both given: the system "
                             "maximum replaces GPU TDP x slots + host, so the host allowance would be ignored; give one "
                             "(max_power_kw: null to use host_power_kw)")
        levels = [(n, getattr(self, n)) for n in ("idle_power_kw", "typical_power_kw", "max_power_kw") if getattr(self, n) is not None]
        for (lo, a), (hi, b) in zip(levels, levels[1:]):
            if a > b:
                raise ValueError(f"{lo} ({a:g} kW) is above {hi} ({b:g} kW): allowed idle <= typical <= maximum")
        return self


class NetworkItem(Row):
    """Network gear: switches, NICs, cables; priced per unit."""

    kind: ClassVar[str] = "network item"
    price_fields: ClassVar[tuple[str, ...]] = ("price_usd",)

    name: str
    fabric: Literal["infiniband", "ethernet", "nvlink"]
    item: Literal["switch", "nic", "cabling_per_gpu", "fabric_per_gpu"]
    speed_gbps: float | None = Field(default=None, gt=0, le=1e5)
    ports: int | None = Field(default=None, ge=1, le=100_000)
    price_usd: float | None = Field(default=None, gt=0, le=1e9, description="per unit (per switch, per NIC, per GPU for *_per_gpu)")
    price_note: str | None = None

    @model_validator(mode="after")
    def _note(self) -> "NetworkItem":
        if self.price_usd is None and not self.price_note:
            raise ValueError("price_usd: null needs price_note saying why")
        return self


class StorageItem(Row):
    """A storage tier: price per TB and read throughput (which sets model-load / cold-start time)."""

    kind: ClassVar[str] = "storage item"
    price_fields: ClassVar[tuple[str, ...]] = ("price_usd_per_tb",)

    name: str
    tier: Literal["nvme", "nas", "object", "hdd", "parallel_fs"]
    price_usd_per_tb: float | None = Field(default=None, gt=0, le=1e6)
    read_gb_s: float | None = Field(default=None, gt=0, le=1e6, description="sustained sequential read, GB/s, per device or system")
    read_scope: Literal["device", "system", "client"] = "device"
    write_gb_s: float | None = Field(default=None, gt=0, le=1e6, description="sustained sequential write, GB/s, same scope as read")
    gb_s_per_tib: float | None = Field(default=None, gt=0, le=1e3, description="parallel file systems: read and write GB/s per TiB provisioned")
    get_requests_per_s: float | None = Field(default=None, gt=0, le=1e9, description="object stores: GET requests per second per partitioned prefix")
    price_note: str | None = None

    @model_validator(mode="after")
    def _note(self) -> "StorageItem":
        if self.price_usd_per_tb is None and not self.price_note:
            raise ValueError("price_usd_per_tb: null needs price_note saying why")
        return self


class EconomicDefault(Row):
    """One default input of the cost model (a tariff, PUE, a rate), with its unit and source.

    ``assumption: true`` marks a value the project chose (from the cited source) rather than a
    measured fact; the report lists it as such and a scenario can override it.
    """

    kind: ClassVar[str] = "economic default"
    price_fields: ClassVar[tuple[str, ...]] = ("value",)

    @classmethod
    def priced_fields(cls, raw: dict[str, Any]) -> list[str]:
        """A money default (one with a currency: a tariff, a colocation rate, a salary) is a price."""
        return ["value"] if raw.get("currency") and raw.get("value") is not None else []

    value: float = Field(ge=0, le=1e9, description="the default, in `unit`")
    unit: str = Field(description="unit of value, e.g. USD/kWh, EUR/kWh, kgCO2/kWh, ratio, USD/kW-month, years")
    currency: str | None = Field(default=None, description="currency of value, if money")
    assumption: bool = False
    label: str = Field(description="what it is, for people")
    region: str | None = None


class FxRate(Row):
    """USD per unit of a currency: a user input with a stated default and date."""

    kind: ClassVar[str] = "currency rate"
    price_fields: ClassVar[tuple[str, ...]] = ("usd_per_unit",)

    usd_per_unit: float = Field(ge=1e-8, le=1e4, gt=0)
    assumption: bool = True


register_table("cloud_instances", CloudInstance)
register_table("api_prices", ApiPrice)
register_table("servers", Server)
register_table("network", NetworkItem)
register_table("storage", StorageItem)
register_table("economic_defaults", EconomicDefault)
register_table("fx_rates", FxRate)


# --- helpers ----------------------------------------------------------------------


def stale_after_days(catalog: Catalog | None = None) -> int:
    """The age in days after which a price is flagged stale (``prices.stale_after_days``)."""
    cat = default_catalog(catalog)
    row = cat.economic_defaults.find("prices.stale_after_days")
    return int(row.value) if row is not None else DEFAULT_STALE_AFTER_DAYS


def stale_rows(rows: Iterable[_Priced], stale_after: int | None = None, today: date | None = None, catalog: Catalog | None = None) -> list[str]:
    """Ids of priced rows older than ``stale_after`` days: the report warns about each."""
    days = stale_after if stale_after is not None else stale_after_days(catalog)
    return [r.id for r in rows if r.is_stale(days, today)]


def to_usd(amount: float, currency: str, catalog: Catalog | None = None, field: str = "currency") -> float:
    """Convert `amount` in `currency` to USD with the catalog's (user-overridable) rate."""
    if currency.upper() == "USD":
        return amount
    row = default_catalog(catalog).fx_rates.find(currency.upper())
    if row is None:
        raise DeployscopeError(
            f"no conversion rate for currency {currency!r}; add one to fx_rates.yaml in your catalog",
            field=field,
            value=currency,
            allowed=["USD", *default_catalog(catalog).fx_rates.ids()],
        )
    return float(amount * row.usd_per_unit)


def default_value(name: str, catalog: Catalog | None = None, currency_usd: bool = True) -> float:
    """The value of economic default `name`, converted to USD when it is money in another currency."""
    row = default_catalog(catalog).economic_defaults.get(name, field="economics")
    if currency_usd and row.currency and row.currency.upper() != "USD":
        return to_usd(row.value, row.currency, catalog)
    return float(row.value)




def resolve_hardware_prices(prices: dict[str, float], catalog: Catalog | None = None, field: str = "economics.hardware_prices") -> dict[str, tuple[str, str, float]]:
    """Check every key of a user's hardware price map against the catalog.

    Returns {key as written: (table, catalog id, price)} with table ``accelerators`` (a price per
    GPU: it applies to every server holding that GPU) or ``servers`` (a whole-server price). An
    unknown key is an error with the closest ids ("did you mean"); a price must be a finite
    number above zero.
    """
    cat = default_catalog(catalog)
    out: dict[str, tuple[str, str, float]] = {}
    for key, value in prices.items():
        path = f"{field}.{key}"
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise DeployscopeError("a price must be a number", field=path, value=value, allowed="a number > 0") from None
        if not (v > 0 and v < float("inf")):
            raise DeployscopeError("a price must be above zero", field=path, value=value, allowed="a number > 0")
        gpu = cat.accelerators.find(key)
        server = cat.servers.find(key)
        if gpu is not None:
            out[key] = ("accelerators", gpu.id, v)
        elif server is not None:
            out[key] = ("servers", server.id, v)
        else:
            close = cat.accelerators.suggest(key, 3) + cat.servers.suggest(key, 3)
            hint = f"; did you mean: {', '.join(close)}?" if close else ""
            raise DeployscopeError(
                f"unknown accelerator or server {key!r}{hint}",
                field=path,
                value=key,
                allowed="an accelerator id (price per GPU) or a server id (whole server); see `deployscope catalog`",
            )
    return out



class PriceAge(str):
    """A price-age warning: its text, and the row it is about (so a plan can group them)."""

    table: str
    row_id: str
    read: date | None
    published: date | None

    def __new__(cls, text: str, table: str = "", row_id: str = "", read: date | None = None,
                published: date | None = None) -> PriceAge:
        obj = super().__new__(cls, text)
        obj.table, obj.row_id, obj.read, obj.published = table, row_id, read, published
        return obj


def summarize_price_warnings(warnings: Iterable[str], keep: int = 3) -> list[str]:
    """Plan-level price warnings: up to ``keep`` rows of one table whose publication date is
    unknown listed one per line, more merged into one line naming every row."""
    warnings = list(warnings)
    unknown: dict[str, list[PriceAge]] = {}
    for w in warnings:
        if isinstance(w, PriceAge) and w.published is None:
            unknown.setdefault(w.table, []).append(w)
    out: list[str] = []
    for w in warnings:
        rows = unknown.get(w.table, []) if isinstance(w, PriceAge) and w.published is None else []
        if len(rows) <= keep:
            out.append(w)
        elif w is rows[0]:
            read = sorted({r.read.isoformat() for r in rows if r.read is not None})
            out.append(f"{w.table}: price publication date unknown for {len(rows)} rows ({', '.join(r.row_id for r in rows)}; "
                       f"read {' to '.join([read[0], read[-1]] if len(read) > 1 else read)}); confirm the current prices")
    return out


def price_age_warnings(
    rows: Iterable[Row], table: str, stale_after: int | None = None, today: date | None = None, catalog: Catalog | None = None
) -> list[PriceAge]:
    """One warning per priced row whose price is older than ``stale_after`` days (by
    ``price_as_of``, the publication date), or whose publication date is unknown (then by
    ``as_of``, the date it was read, and the warning says so)."""
    days = stale_after if stale_after is not None else stale_after_days(catalog)
    today = today or date.today()
    out = []
    for r in rows:
        if r.price_as_of is not None:
            if (today - r.price_as_of).days > days:
                out.append(PriceAge(f"{table} {r.id}: price published {r.price_as_of.isoformat()} (older than {days} days); "
                                    "refresh it or give your own figure", table, r.id, r.as_of, r.price_as_of))
        else:
            out.append(PriceAge(f"{table} {r.id}: price publication date unknown (read {r.as_of.isoformat()}); confirm the current price",
                                table, r.id, r.as_of, None))
    return out
