"""Every name a scenario uses must resolve to something: a catalog row, a calibration profile, a
region, a pipeline. A name that resolves to nothing is an error naming the field as the user
wrote it and the closest known values -- never a filter that silently removes every option
(a typo in ``candidates.calibration`` once left a plan of APIs only, exit 0).

:func:`check_references` runs once, where the planner resolves its inputs, before any option is
built.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from .errors import DeployscopeError, UnknownName
from .scenario import DiffusionWorkload, Scenario

__all__ = ["check_references", "known_regions", "user_supplied"]

# economic_defaults row id prefixes that are per region (economics/defaults.py fills {region})
_REGIONAL_PREFIXES = ("electricity.", "carbon.", "colocation.", "staff.cost_per_fte_year.")


def _close(name: str, known: Iterable[str], n: int = 5) -> list[str]:
    known = list(known)
    close = difflib.get_close_matches(name, known, n=n, cutoff=0.5)
    close += [k for k in known if name and (name.lower() in k.lower()) and k not in close]
    return close[:n]


def _exact_id(table: Any, name: str, field: str, kind: str) -> str:
    """The catalog id `name` resolves to. The planner matches these fields by exact id, so an alias
    that resolves to another id is named with the id to write instead."""
    row = table.find(name)
    if row is None:
        raise UnknownName(kind, name, table.suggest(name), field=field)
    if row.id != name:
        raise DeployscopeError(
            f"{name!r} is another name for {row.id!r}: write the catalog id", field=field, value=name, allowed=row.id
        )
    return str(row.id)


def check_references(scn: Scenario, catalog: Any) -> None:
    """Raise a DeployscopeError for the first name in `scn` that resolves to nothing in `catalog`
    (or in the calibration directory, or in the scenario itself)."""
    c = scn.candidates
    providers = sorted({r.provider for r in catalog.cloud_instances} | {r.provider for r in catalog.api_prices})
    for i, p in enumerate(c.providers):
        if p not in providers:
            raise DeployscopeError(
                f"unknown provider {p!r}" + _hint(p, providers), field=f"candidates.providers[{i}]", value=p, allowed=providers
            )
    for i, q in enumerate(c.quants):
        catalog.quant.get(q, field=f"candidates.quants[{i}]")
    catalog.engines.get(c.engine, field="candidates.engine")
    for i, g in enumerate(c.gpus):
        catalog.accelerators.get(g, field=f"candidates.gpus[{i}]")
    if c.calibration is not None:
        _check_calibration(c.calibration)

    for i, w in enumerate(scn.workloads):
        catalog.models.get(w.model, field=f"workloads[{i}].model")
        mode = "image" if isinstance(w, DiffusionWorkload) else "chat"
        if isinstance(w, DiffusionWorkload) and w.quant is not None:
            _check_image_quant(w.quant, f"workloads[{i}].quant")
        for j, name in enumerate(w.api_models or []):
            _check_api_model(catalog, name, mode, c.providers, f"workloads[{i}].api_models[{j}]")

    for i, t in enumerate(scn.training):
        catalog.models.get(t.model, field=f"training[{i}].model")
        if t.gpu is not None:
            catalog.accelerators.get(t.gpu, field=f"training[{i}].gpu")

    for key in scn.economics.hardware_prices:
        field = f"economics.hardware_prices.{key}"
        if key in catalog.accelerators.ids() or key in catalog.servers.ids():
            continue
        if catalog.accelerators.find(key) is not None:
            _exact_id(catalog.accelerators, key, field, "GPU")
        elif catalog.servers.find(key) is not None:
            _exact_id(catalog.servers, key, field, "server")
        else:
            suggestions = catalog.accelerators.suggest(key, 3) + catalog.servers.suggest(key, 3)
            raise UnknownName("accelerator or server", key, suggestions, field=field)

    for i, pipe in enumerate(scn.pipelines):
        for j, st in enumerate(pipe.stages):
            where = f"pipelines[{i}].stages[{j}]"
            catalog.models.get(st.model, field=f"{where}.model")
            catalog.accelerators.get(st.gpu, field=f"{where}.gpu")
            if st.kind == "llm":
                catalog.quant.get(st.quant, field=f"{where}.quant")
                catalog.engines.get(st.engine, field=f"{where}.engine")
            else:
                _check_image_quant(st.quant, f"{where}.quant")
                _check_image_engine(catalog, st.engine, f"{where}.engine")

    regions = known_regions(catalog)
    if scn.economics.region.lower() not in regions:
        r = scn.economics.region
        raise DeployscopeError(
            f"unknown region {r!r}" + _hint(r, regions) + " (the economic_defaults catalog table has no rows for it)",
            field="economics.region", value=r, allowed=regions,
        )

    pipelines = [pipe.name for pipe in scn.pipelines]
    for name in scn.pipeline_runs_per_year:
        if name not in pipelines:
            raise DeployscopeError(
                f"no pipeline named {name!r} in this scenario" + _hint(name, pipelines),
                field=f"pipeline_runs_per_year.{name}", value=name, allowed=pipelines or "the names under pipelines",
            )


def known_regions(catalog: Any) -> list[str]:
    """Regions with at least one per-region row in the economic_defaults table."""
    out = set()
    for row in catalog.economic_defaults:
        for prefix in _REGIONAL_PREFIXES:
            if row.id.startswith(prefix):
                out.add(row.id[len(prefix):].lower())
    return sorted(out)


def _hint(name: str, known: Iterable[str]) -> str:
    close = _close(name, known, 3)
    return f"; did you mean: {', '.join(close)}?" if close else ""


def _check_api_model(catalog: Any, name: str, mode: str, providers: list[str], field: str) -> None:
    rows = [r for r in catalog.api_prices if r.mode == mode]
    row = catalog.api_prices.find(name)
    if row is None or row.mode != mode:
        suggestions = _close(name, [r.id for r in rows])
        what = "an image API" if mode == "image" else "a chat API"
        if row is not None:
            raise DeployscopeError(f"{row.id!r} is not {what} (mode {row.mode})", field=field, value=name,
                                   allowed=suggestions or f"{what} id from `deployscope catalog list api_prices`")
        raise UnknownName(f"API model ({mode})", name, suggestions, field=field)
    if row.id != name:
        raise DeployscopeError(f"{name!r} is another name for {row.id!r}: write the catalog id", field=field, value=name, allowed=row.id)
    if providers and row.provider not in providers:
        raise DeployscopeError(
            f"{row.id!r} is offered by {row.provider!r}, which candidates.providers leaves out",
            field=field, value=name, allowed=f"add {row.provider} to candidates.providers, or name another API model",
        )


def _check_image_quant(quant: str, field: str) -> None:
    from .physics.diffusion import QUANTS

    if quant not in QUANTS:
        raise DeployscopeError(f"unknown image-model precision {quant!r}" + _hint(quant, QUANTS), field=field, value=quant, allowed=QUANTS)


def _check_image_engine(catalog: Any, engine: str, field: str) -> None:
    from .physics.diffusion import engine_row

    try:
        engine_row(catalog, engine)
    except DeployscopeError as exc:
        allowed = exc.allowed or ""
        raise DeployscopeError(
            f"unknown image-generation engine {engine!r}" + _hint(engine, allowed.split(", ")), field=field, value=engine, allowed=allowed
        ) from None


def _check_calibration(name: str) -> None:
    from .physics.calibration import list_calibrations, load_calibration

    try:
        load_calibration(name)
    except DeployscopeError as exc:
        known = list_calibrations()
        close = _close(name, known, 3)
        hint = f"; did you mean: {', '.join(close)}?" if close else ""
        raise DeployscopeError(
            f"{exc.args[0]}{hint}", field="candidates.calibration", value=name,
            allowed=exc.allowed or known or "a profile saved by `deployscope calibrate`, or a path to one",
        ) from None


def user_supplied(catalog: Any, table: str, row_id: str, warnings: list[str]) -> bool:
    """Whether a catalog row a plan rests on comes from the user's catalog directory. The first
    time one does, the plan says so in its warnings: its figures are the user's, not sourced data."""
    rows = getattr(catalog, "user_rows", None)
    try:
        mine = rows is not None and row_id in rows(table)
    except AttributeError:  # a catalog without that table
        return False
    if mine:
        where = getattr(catalog, "user_dir", None)
        warnings.append(
            f"{table} row {row_id!r} comes from your catalog directory ({where}), not the bundled data: "
            "its figures are yours (marked user_supplied in the sources)"
        )
    return mine
