#!/usr/bin/env python3
"""Vendor the JSON schemas the export tests validate generated manifests against.

- Kubernetes v1.31.0: from the ``kubernetes-validate`` 1.37.0 wheel on PyPI (its
  ``kubernetes-json-schema/v1.31.0-local/_definitions.json``, generated from the Kubernetes
  OpenAPI spec). Only the definitions Deployment, Service, PersistentVolumeClaim and
  PodTemplateSpec reach are kept, and every object schema is made strict
  (``additionalProperties: false`` where the spec lists the properties), as kubeconform's
  ``-strict`` schemas are, so a misspelt field fails.
- LeaderWorkerSet leaderworkerset.x-k8s.io/v1: the CRD's openAPIV3Schema from
  kubernetes-sigs/lws at a release tag (argument), with its embedded pod templates replaced by a reference to
  the Kubernetes PodTemplateSpec above (the CRD embeds the same type).
- Compose specification: schema/compose-spec.json from compose-spec/compose-spec (argument: file).

Usage: vendor_schemas.py DEFINITIONS_JSON LWS_CRD_YAML LWS_REF COMPOSE_SPEC_JSON COMPOSE_REF OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOTS = {
    "Deployment": "io.k8s.api.apps.v1.Deployment",
    "Service": "io.k8s.api.core.v1.Service",
    "PersistentVolumeClaim": "io.k8s.api.core.v1.PersistentVolumeClaim",
    "PodTemplateSpec": "io.k8s.api.core.v1.PodTemplateSpec",
}
PREFIX = "/api/_definitions.json#/$defs/"


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str):
            out.add(r.split("/")[-1])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite(v) for k, v in node.items()}
        if isinstance(out.get("$ref"), str):
            out["$ref"] = "#/$defs/" + out["$ref"].split("/")[-1]
        props = out.get("properties")
        if isinstance(props, dict) and "additionalProperties" not in out and "x-kubernetes-preserve-unknown-fields" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def kubernetes(defs_path: Path) -> dict[str, Any]:
    defs = json.loads(defs_path.read_text())["$defs"]
    keep: set[str] = set()
    todo = list(ROOTS.values())
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        found: set[str] = set()
        _refs(defs[name], found)
        todo += [f for f in found if f not in keep]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Kubernetes v1.31.0 objects used by deployscope export (strict)",
        "source": "kubernetes-validate 1.37.0 (PyPI), kubernetes-json-schema/v1.31.0-local/_definitions.json, "
                  "generated from the Kubernetes v1.31.0 OpenAPI spec; pruned and made strict by scripts/vendor_schemas.py",
        "roots": {k: f"#/$defs/{v}" for k, v in ROOTS.items()},
        "$defs": {k: _rewrite(defs[k]) for k in sorted(keep)},
    }


def lws(crd_path: Path, ref: str) -> dict[str, Any]:
    crd = yaml.safe_load(crd_path.read_text())
    ver = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema = ver["schema"]["openAPIV3Schema"]
    lwt = schema["properties"]["spec"]["properties"]["leaderWorkerTemplate"]["properties"]
    for key in ("leaderTemplate", "workerTemplate"):
        lwt[key] = {"$ref": "k8s-v1.31.0.json#/$defs/io.k8s.api.core.v1.PodTemplateSpec"}
    schema["properties"].pop("status", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "lws-v1.json",
        "title": "LeaderWorkerSet leaderworkerset.x-k8s.io/v1",
        "source": f"kubernetes-sigs/lws {ref}: config/crd/bases/leaderworkerset.x-k8s.io_leaderworkersets.yaml (openAPIV3Schema "
                  "of v1; pod templates as references to the Kubernetes PodTemplateSpec)",
        **_rewrite_lws(schema),
    }


def _rewrite_lws(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite_lws(v) for k, v in node.items()}
        if isinstance(out.get("properties"), dict) and "additionalProperties" not in out \
                and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_rewrite_lws(v) for v in node]
    return node


def main(argv: list[str]) -> int:
    defs, crd, lws_ref, compose, compose_ref, out = argv[1:7]
    outd = Path(out)
    outd.mkdir(parents=True, exist_ok=True)
    k = kubernetes(Path(defs))
    (outd / "k8s-v1.31.0.json").write_text(json.dumps(k, separators=(",", ":"), sort_keys=True) + "\n")
    (outd / "lws-v1.json").write_text(json.dumps(lws(Path(crd), lws_ref), indent=1) + "\n")
    spec = json.loads(Path(compose).read_text())
    spec["$comment"] = f"compose-spec/compose-spec {compose_ref}: schema/compose-spec.json"
    (outd / "compose-spec.json").write_text(json.dumps(spec, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
