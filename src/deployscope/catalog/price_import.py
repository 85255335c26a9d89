"""Offline price import: a SkyPilot catalog CSV (``vms.csv``) or a LiteLLM
``model_prices_and_context_window.json`` snapshot on disk -> rows in the user catalog's
``cloud_instances.yaml`` / ``api_prices.yaml``.

Nothing is fetched: the user names a file they downloaded. Rows are validated before anything is
written; the target file is replaced atomically (temp file + rename) and rows already there with
other ids are kept. Imported rows say where they come from (``source: imported from <file>``) and
carry ``as_of`` and ``price_as_of`` = the file's modification date unless given.
"""

from __future__ import annotations

import ast
import csv
import io
import os
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from .. import safe_yaml
from ..errors import CatalogError, DeployscopeError
from ..paths import write_atomic
from .base import normalize
from .loader import Catalog, format_validation_error, read_yaml
from .prices import ApiPrice, CloudInstance

KINDS = ("skypilot", "litellm")
GCP_UNAVAILABLE_SENTINEL = 700.0  # SkyPilot's GCP catalog prices unavailable TPU rows at 700.0
FRONTIER_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt", "claude", "gemini", "gpt-image", "dall-e")
_EU_REGION = re.compile(r"^(eu|europe)", re.I)
_US_REGION = re.compile(r"^(us|northamerica)", re.I)
#: a snapshot holds the prices in force when it was made: its date (file date or --as-of) is the price date
_PRICE_DATE_NOTE = "the snapshot's date: the prices the file held when it was made"


def guess_kind(path: Path) -> str:
    if path.suffix.lower() == ".csv":
        return "skypilot"
    if path.suffix.lower() == ".json":
        return "litellm"
    raise DeployscopeError(
        f"cannot tell the format of {path.name}; say --kind", field="kind", value=None, allowed=KINDS
    )


def file_date(path: Path) -> date:
    return datetime.fromtimestamp(path.stat().st_mtime).date()


def _float(v: Any) -> float | None:
    if v is None:
        return None
    s = str(v).strip()
    if not s:
        return None
    try:
        x = float(s)
    except ValueError:
        return None
    return x if x > 0 else None


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-").lower()


def _gpu_memory_gb(info: str | None) -> int | None:
    """GPU memory from SkyPilot's python-dict-like GpuInfo string (single quotes)."""
    if not info:
        return None
    try:
        d = ast.literal_eval(info)
        mib = d["Gpus"][0]["MemoryInfo"]["SizeInMiB"]
    except (ValueError, SyntaxError, KeyError, IndexError, TypeError):
        return None
    if not isinstance(mib, (int, float)) or mib <= 0:
        return None
    # some catalogs (RunPod v8) write GB into the MiB field
    return int(round(mib)) if mib < 1024 else int(round(mib / 1024))


def _gpu_id(catalog: Catalog, name: str, mem_gb: int | None) -> tuple[str, bool]:
    accs = catalog.accelerators
    if mem_gb:
        for cand in (f"{name}-{mem_gb}GB", f"{name} {mem_gb}GB"):
            row = accs.find(cand)
            if row is not None:
                return row.id, True
    row = accs.find(name)
    if row is not None:
        return row.id, True
    return _slug(name), False


def _data_region(region: str) -> str:
    if _EU_REGION.match(region):
        return "EU"
    if _US_REGION.match(region):
        return "US"
    return "unknown"


def _provider_defaults(rows: Iterable[Any], provider: str) -> str:
    j = Counter(r.jurisdiction for r in rows if r.provider == provider)
    return j.most_common(1)[0][0] if j else "unknown"


# --- SkyPilot -------------------------------------------------------------------------


def parse_skypilot(path: Path, catalog: Catalog, provider: str, as_of: date) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Rows (as dicts for cloud_instances.yaml) from a SkyPilot vms.csv, grouped by instance type
    and region; columns are read by name (their order differs per cloud)."""
    try:
        text = safe_yaml.decode(path.read_bytes(), source=path.name)
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        records = list(reader)
    except safe_yaml.UnsafeInput as exc:
        raise CatalogError(str(exc), value=str(path)) from None
    except (OSError, csv.Error) as exc:
        raise CatalogError(f"cannot read {path}: {exc}", field="file", value=str(path)) from None
    needed = ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "Region")
    missing = [c for c in needed if c not in header]
    if missing:
        raise CatalogError(
            f"{path.name} is not a SkyPilot vms.csv: missing column(s) {', '.join(missing)}",
            field="file",
            value=str(path),
            allowed="columns InstanceType, AcceleratorName, AcceleratorCount, vCPUs, MemoryGiB, Price, SpotPrice, Region, AvailabilityZone",
        )
    stats: Counter[str] = Counter()
    # GCP: accelerator rows have no InstanceType; their price adds to the VM's
    acc_price: dict[tuple[str, str, str], tuple[float | None, float | None]] = {}
    for r in records:
        if not (r.get("InstanceType") or "").strip() and (r.get("AcceleratorName") or "").strip():
            p, s = _float(r.get("Price")), _float(r.get("SpotPrice"))
            if p == GCP_UNAVAILABLE_SENTINEL:
                p = None
            key = (r["AcceleratorName"].strip(), str(_float(r.get("AcceleratorCount"))), r["Region"].strip())
            acc_price[key] = (p, s)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        itype = (r.get("InstanceType") or "").strip()
        acc = (r.get("AcceleratorName") or "").strip()
        if not itype:
            continue
        if not acc:
            stats["skipped (no GPU)"] += 1
            continue
        count = _float(r.get("AcceleratorCount"))
        if not count:
            stats["skipped (no GPU count)"] += 1
            continue
        region = (r.get("Region") or "").strip()
        price, spot = _float(r.get("Price")), _float(r.get("SpotPrice"))
        if price == GCP_UNAVAILABLE_SENTINEL:
            price = None
        extra = acc_price.get((acc, str(count), region))
        summed = False
        if extra is not None:
            summed = True
            price = price + extra[0] if price is not None and extra[0] is not None else None
            spot = spot + extra[1] if spot is not None and extra[1] is not None else None
        g = groups.setdefault(
            (itype, region),
            {
                "acc": acc,
                "count": int(round(count)),
                "mem": _gpu_memory_gb(r.get("GpuInfo") or r.get("GPUInfo")),
                "vcpus": _float(r.get("vCPUs")),
                "memory_gib": _float(r.get("MemoryGiB")),
                "prices": [],
                "spots": [],
                "summed": summed,
            },
        )
        if price is not None:
            g["prices"].append(price)
        if spot is not None:
            g["spots"].append(spot)
    jurisdiction = _provider_defaults(catalog.cloud_instances, provider)
    by_id = {r.id: r for r in catalog.cloud_instances}
    out = []
    for (itype, region), g in groups.items():
        if not g["prices"] and not g["spots"]:
            stats["skipped (no price)"] += 1
            continue
        gpu_id, known = _gpu_id(catalog, g["acc"], g["mem"])
        notes = []
        if not known:
            notes.append(f"GPU {g['acc']!r} is not in the accelerator catalog")
        if g["summed"]:
            notes.append("price = VM row + accelerator row (SkyPilot GCP layout)")
        if len(set(g["spots"])) > 1:
            notes.append(f"spot ranges {min(g['spots'])}-{max(g['spots'])} across zones; lowest kept")
        notes.append("certifications not imported; add them with a source if the policy engine should see them")
        row: dict[str, Any] = {
            "id": _slug(f"{provider}-{itype}-{region}"),
            "provider": provider,
            "instance_type": itype,
            "gpu_id": gpu_id,
            "gpu_count": g["count"],
        }
        if g["vcpus"]:
            row["vcpus"] = g["vcpus"]
        if g["memory_gib"]:
            row["memory_gib"] = g["memory_gib"]
        if g["prices"]:
            row["price_usd_per_hour"] = g["prices"][0]
        if g["spots"]:
            row["spot_usd_per_hour"] = min(g["spots"])
        known_row = by_id.get(row["id"])  # refreshing a known row: keep what the CSV cannot say
        row.update(
            regions=[region] if region else [],
            jurisdiction=known_row.jurisdiction if known_row else jurisdiction,
            data_region=known_row.data_region if known_row else _data_region(region),
            source=f"imported from {path.name} (SkyPilot catalog CSV)",
            as_of=as_of.isoformat(),
            as_of_note="file date" if as_of == file_date(path) else "given at import",
            price_as_of=as_of.isoformat(),
            price_as_of_note=_PRICE_DATE_NOTE,
            notes="; ".join(notes),
        )
        out.append(row)
        stats["rows"] += 1
    return out, dict(stats)


# --- LiteLLM --------------------------------------------------------------------------


def _match_model(catalog: Catalog, key: str) -> tuple[str | None, str | None, float | None]:
    """The catalog model a LiteLLM key names (longest normalized short name contained in the key)."""
    nk = normalize(key)
    best = None
    for m in catalog.models:
        short = normalize(m.id.split("/")[-1])
        if len(short) >= 4 and short in nk and (best is None or len(short) > len(normalize(best.id.split("/")[-1]))):
            best = m
    if best is None:
        return None, None, None
    return best.id, best.family, best.params_b


def parse_litellm(path: Path, catalog: Catalog, as_of: date, match: str | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Rows (as dicts for api_prices.yaml) from a LiteLLM price map: chat/completion models with
    per-token prices and image models with a per-image price. Other modes are counted as skipped."""
    data = safe_yaml.load_file(path, source=path.name, error=CatalogError)
    if not isinstance(data, dict):
        raise CatalogError(f"{path.name} is not a LiteLLM price map (expected a JSON object of models)", field="file", value=str(path))
    stats: Counter[str] = Counter()
    out = []
    existing = list(catalog.api_prices)
    for key, spec in data.items():
        if key == "sample_spec" or not isinstance(spec, dict):
            continue
        if match and match.lower() not in key.lower():
            continue
        mode = spec.get("mode", "chat")
        provider = str(spec.get("litellm_provider") or key.split("/")[0] or "unknown")
        row: dict[str, Any] = {"id": _slug(f"litellm-{key}"), "provider": provider}
        model_id, family, params = _match_model(catalog, key)
        short = key.split("/")[-1]
        row["model"] = model_id or key
        row["model_family"] = family or short
        if params:
            row["params_b"] = params
        frontier = model_id is None and short.lower().startswith(FRONTIER_PREFIXES)
        if mode in ("chat", "completion", "responses"):
            pin, pout = spec.get("input_cost_per_token"), spec.get("output_cost_per_token")
            # true is not a price
            if not (isinstance(pin, (int, float)) and isinstance(pout, (int, float))) or isinstance(pin, bool) or isinstance(pout, bool):
                stats["skipped (no per-token price)"] += 1
                continue
            row["mode"] = "chat"
            row["input_usd_per_million_tokens"] = round(float(pin) * 1e6, 9)
            row["output_usd_per_million_tokens"] = round(float(pout) * 1e6, 9)
            window = spec.get("max_input_tokens")
            if isinstance(window, (int, float)) and not isinstance(window, bool) and window > 0 and float(window).is_integer():
                row["max_input_tokens"] = int(window)  # the plan excludes the API for longer prompts (128000.0 is 128,000)
                row["max_input_tokens_source"] = f"{path.name}, key '{key}'"
            elif window is not None:  # imported without a context window: said in the summary, never silently
                stats["imported without a context window (max_input_tokens not a whole number > 0)"] += 1
        elif mode == "image_generation":
            img = spec.get("output_cost_per_image")
            if not isinstance(img, (int, float)):
                stats["skipped (image price not per image)"] += 1
                continue
            row["mode"] = "image"
            row["usd_per_image"] = float(img)
        else:
            stats[f"skipped (mode {mode})"] += 1
            continue
        row["open_weight"] = model_id is not None
        if frontier:
            row["frontier"] = True
        jurisdiction = _provider_defaults(existing, provider)
        regions = spec.get("supported_regions")
        row["jurisdiction"] = jurisdiction
        row["data_region"] = next((r.data_region for r in existing if r.provider == provider), "unknown")
        if isinstance(regions, list) and all(isinstance(r, str) for r in regions):
            row["regions"] = regions
        row["source"] = f"imported from {path.name} (LiteLLM price map)"
        row["as_of"] = as_of.isoformat()
        row["as_of_note"] = "file date" if as_of == file_date(path) else "given at import"
        row["price_as_of"] = as_of.isoformat()
        row["price_as_of_note"] = _PRICE_DATE_NOTE
        notes = []
        if model_id is None:
            notes.append("model not matched to the model catalog")
        notes.append("certifications not imported")
        row["notes"] = "; ".join(notes)
        out.append(row)
        stats["rows"] += 1
    return out, dict(stats)


# --- writing ----------------------------------------------------------------------------


def _validate_rows(rows: list[dict[str, Any]], row_type: type[CloudInstance] | type[ApiPrice], table: str) -> None:
    for i, raw in enumerate(rows):
        try:
            row_type.model_validate(raw)
        except ValidationError as exc:
            raise CatalogError(
                f"imported row {raw.get('id')!r} is invalid: {format_validation_error(exc)}",
                field=f"{table}[{i}]",
                value=raw.get("id"),
            ) from None


def merge_write(target: Path, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Write `rows` into the YAML list at `target`, replacing rows with the same id and keeping the
    others; atomic (temp file in the same directory, then rename)."""
    existing: list[dict[str, Any]] = []
    if target.exists():
        data = read_yaml(target)
        if data is not None:
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise CatalogError(f"{target}: expected a YAML list of rows; not overwriting it", field="file", value=str(target))
            existing = data
    new_ids = {r["id"] for r in rows}
    kept = [r for r in existing if r.get("id") not in new_ids]
    updated = len(existing) - len(kept)
    merged = kept + rows
    text = (
        "# Written by `deployscope prices import`; rows with other ids are kept.\n"
        + yaml.safe_dump(merged, sort_keys=False, allow_unicode=True, width=200)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text, field="file")
    return {"added": len(rows) - updated, "updated": updated, "kept": len(kept), "total": len(merged)}


def import_prices(
    file: str | os.PathLike[str],
    catalog_dir: str | os.PathLike[str],
    *,
    kind: str | None = None,
    provider: str | None = None,
    as_of: date | None = None,
    match: str | None = None,
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    """Import a SkyPilot CSV or LiteLLM JSON into `catalog_dir`; returns a summary."""
    path = Path(file)
    if not path.is_file():
        raise DeployscopeError(f"no such file: {path}", field="file", value=str(path))
    kind = kind or guess_kind(path)
    if kind not in KINDS:
        raise DeployscopeError("unknown import format", field="kind", value=kind, allowed=KINDS)
    out_dir = Path(catalog_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DeployscopeError("catalog directory is a file", field="catalog", value=str(out_dir))
    if catalog is None:
        # the target directory is the user catalog; "" (not None) keeps $DEPLOYSCOPE_CATALOG out of it
        catalog = Catalog(out_dir if out_dir.is_dir() else "")
    day = as_of or file_date(path)
    row_type: type[CloudInstance] | type[ApiPrice]
    if kind == "skypilot":
        prov = provider or path.parent.name
        if not prov or prov in (".", "") or not re.match(r"^[a-z][a-z0-9_-]*$", prov):
            raise DeployscopeError(
                "cannot tell the cloud from the file's folder; say --provider (aws, gcp, lambda...)",
                field="provider",
                value=prov,
            )
        rows, stats = parse_skypilot(path, catalog, prov, day)
        table, row_type = "cloud_instances", CloudInstance
    else:
        rows, stats = parse_litellm(path, catalog, day, match)
        table, row_type = "api_prices", ApiPrice
    if not rows:
        raise DeployscopeError(f"no priced rows found in {path.name} ({stats or 'empty'})", field="file", value=str(path))
    _validate_rows(rows, row_type, table)
    target = out_dir / f"{table}.yaml"
    written = merge_write(target, rows)
    return {"file": str(path), "kind": kind, "table": table, "target": str(target), "as_of": day.isoformat(), **written, "parsed": stats}
