"""Kubernetes manifests and a docker-compose file for the option's replica groups.

Kubernetes: per group a Deployment (a replica fits on one node) or a LeaderWorkerSet (a replica
spans nodes: leader + workers), a Service, and one PersistentVolumeClaim for the model files sized
as planned. Written for Kubernetes v1.31 and LeaderWorkerSet leaderworkerset.x-k8s.io/v1; the test
suite validates them against those schemas (tests/fixtures/schemas/). Comments name the plan
figure behind each value.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from ..errors import DeployscopeError
from .engines import Launch
from .spec import Deployment

K8S_VERSION = "v1.31"
LWS_API = "leaderworkerset.x-k8s.io/v1"
MODELS_MOUNT = "/models"
GPU_RESOURCE = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu", "intel": "gpu.intel.com/i915"}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # a manifest repeats its labels rather than using YAML anchors
        return True


def _dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False)


def _image(launch: Launch) -> str:
    """The release's image where it fits the hardware; a placeholder to replace where it does not."""
    rel, g = launch.release, launch.group
    if rel.image and (g.device_type == "cpu" or g.vendor == "nvidia" or rel.engine == "llamacpp"):
        return rel.image
    return f"REPLACE-WITH-{rel.engine}-{rel.version}-{g.vendor}-IMAGE"


def _gi(nbytes: float) -> str:
    return f"{max(1, math.ceil(nbytes / 2**30))}Gi"


def _resources(launch: Launch) -> dict[str, Any]:
    g = launch.group
    if g.device_type == "cpu":
        limits: dict[str, Any] = {"cpu": str(g.cores or 1), "memory": _gi(g.memory_gib * 2**30)}
    else:
        limits = {GPU_RESOURCE.get(g.vendor, "nvidia.com/gpu"): str(min(g.gpus_per_replica, g.gpus_per_node))}
    return {"limits": limits, "requests": dict(limits)}


def _container(launch: Launch, dep: Deployment, command: list[str]) -> dict[str, Any]:
    rel = launch.release
    c: dict[str, Any] = {
        "name": "engine",
        "image": _image(launch),
        "command": command,
        "ports": [{"name": "http", "containerPort": rel.default_port}],
        "resources": _resources(launch),
        "volumeMounts": [{"name": "models", "mountPath": MODELS_MOUNT}],
    }
    if rel.weights == "checkpoint":  # a Hugging Face id is downloaded once into the models volume
        c["env"] = [{"name": "HF_HOME", "value": f"{MODELS_MOUNT}/huggingface"}]
    if launch.group.device_type != "cpu":
        c["volumeMounts"].append({"name": "shm", "mountPath": "/dev/shm"})
    return c


def _probe(launch: Launch, dep: Deployment) -> dict[str, Any]:
    """Ready once the health path answers; first checked after the plan's model load time (cold_start_s)."""
    probe: dict[str, Any] = {"httpGet": {"path": launch.release.health_path, "port": "http"}}
    cold = dep.option.performance.cold_start_s
    if cold:
        probe["initialDelaySeconds"] = math.ceil(cold)
    return probe


def _volumes(launch: Launch, claim: str) -> list[dict[str, Any]]:
    vols: list[dict[str, Any]] = [{"name": "models", "persistentVolumeClaim": {"claimName": claim}}]
    if launch.group.device_type != "cpu":
        vols.append({"name": "shm", "emptyDir": {"medium": "Memory"}})
    return vols


def kubernetes(dep: Deployment, launches: list[Launch], name: str) -> str:
    """Multi-document YAML: PVC, then per group a Deployment or LeaderWorkerSet and a Service."""
    claim = f"{name}-models"
    docs: list[tuple[list[str], dict[str, Any]]] = []
    size = dep.storage_bytes
    docs.append(([f"model storage: {size.origin}" if size else "model storage: the plan sized none; 100Gi is a placeholder to edit"],
                 {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim},
                  "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": _gi(size.value) if size else "100Gi"}}}}))
    for launch in launches:
        g = launch.group
        app = f"{name}-{g.slug}"[:63].rstrip("-")  # a Kubernetes object name is a DNS label
        labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": name}
        argv = launch.argv(model=_container_model(launch), port=launch.release.default_port)
        why = [(f"{g.name}: {g.replicas} replicas (options[{dep.option.id}].performance.components[{g.index}].replicas), "
               f"each {g.gpus_per_replica} x {g.gpu} (tp {g.tp} x pp {g.pp})")]
        why += [f"{' '.join(a.tokens)}: {a.origin}" for a in launch.args]
        if g.device_type == "cpu":
            why.append(f"resources: catalog accelerators[{g.gpu}].cores {g.cores} and memory_gib {g.memory_gib:g} (the slice the plan sized)")
        else:
            why.append(f"resources: {min(g.gpus_per_replica, g.gpus_per_node)} {g.vendor} GPUs per pod (tp x pp, at most a node)")
        if dep.option.performance.cold_start_s:
            why.append(f"readinessProbe.initialDelaySeconds: options[{dep.option.id}].performance.cold_start_s "
                       f"{dep.option.performance.cold_start_s:.3g} s (model load time from the planned storage)")
        if launch.release.image is None:
            why.append(f"image: the {launch.release.id} profile names no image ({launch.release.image_note}): set one")
        elif _image(launch) != launch.release.image:
            why.append(f"image: {launch.release.engine}'s published image ({launch.release.image}) is not built for "
                       f"{g.vendor} {g.device_type}s: set the image of the matching build")
        if g.nodes_per_replica == 1:
            pod = {"containers": [dict(_container(launch, dep, argv), readinessProbe=_probe(launch, dep))], "volumes": _volumes(launch, claim)}
            docs.append((why, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app, "labels": labels},
                               "spec": {"replicas": g.replicas, "selector": {"matchLabels": labels},
                                        "template": {"metadata": {"labels": labels}, "spec": pod}}}))
        else:
            docs.append((why + [f"one replica spans {g.nodes_per_replica} nodes of {g.gpus_per_node} GPUs: a LeaderWorkerSet group"],
                         _leader_worker_set(launch, dep, app, labels, claim)))
        docs.append(([f"{g.name}: one address for its {g.replicas} replicas"],
                     {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "labels": labels},
                      "spec": {"selector": labels if g.nodes_per_replica == 1 else {**labels, "leaderworkerset.sigs.k8s.io/worker-index": "0"},
                               "ports": [{"name": "http", "port": launch.release.default_port, "targetPort": "http"}]}}))
    out = [f"# Kubernetes {K8S_VERSION} manifests for option {dep.option.id} of plan {dep.plan.scenario_name!r}\n"]
    for comments, doc in docs:
        out.append("---\n" + "".join(f"# {c}\n" for c in comments) + _dump(doc))
    return "".join(out)


def _container_model(launch: Launch) -> str:
    if launch.release.weights == "gguf":
        return str(launch.model.value)
    return str(launch.model.value)  # a Hugging Face id: downloaded into the volume on first start (HF_HOME)


def _leader_worker_set(launch: Launch, dep: Deployment, app: str, labels: dict[str, str], claim: str) -> dict[str, Any]:
    rel, g = launch.release, launch.group
    if rel.multi_node == "none":
        raise DeployscopeError(f"one {g.name} replica needs {g.nodes_per_replica} nodes ({g.gpus_per_replica} GPUs, "
                               f"{g.gpus_per_node} per node) and {rel.engine} cannot span nodes", field="--format", value=rel.engine,
                               allowed="vllm or sglang for multi-node replicas")
    leader_addr = "$(LWS_LEADER_ADDRESS)"
    if rel.multi_node == "ray":  # vLLM: workers join the leader's Ray cluster, the leader serves
        serve = " ".join(launch.argv(model=_container_model(launch), port=rel.default_port))
        leader_cmd = ["sh", "-c", f"ray start --head --port=6379 && {serve}"]
        worker_cmd = ["sh", "-c", f"ray start --address={leader_addr}:6379 --block"]
    else:  # SGLang: every node runs the server with its rank
        dist = ["--nnodes", str(g.nodes_per_replica), "--dist-init-addr", f"{leader_addr}:20000"]
        leader_cmd = launch.argv(model=_container_model(launch), port=rel.default_port, extra=[*dist, "--node-rank", "0"])
        worker_cmd = launch.argv(model=_container_model(launch), port=rel.default_port,
                                 extra=[*dist, "--node-rank", "$(LWS_WORKER_INDEX)"])
    leader = dict(_container(launch, dep, leader_cmd), readinessProbe=_probe(launch, dep))
    worker = _container(launch, dep, worker_cmd)
    worker.pop("ports")
    return {"apiVersion": LWS_API, "kind": "LeaderWorkerSet", "metadata": {"name": app, "labels": labels},
            "spec": {"replicas": g.replicas,
                     "leaderWorkerTemplate": {
                         "size": g.nodes_per_replica,
                         "leaderTemplate": {"metadata": {"labels": labels}, "spec": {"containers": [leader], "volumes": _volumes(launch, claim)}},
                         "workerTemplate": {"metadata": {"labels": labels}, "spec": {"containers": [worker], "volumes": _volumes(launch, claim)}}}}}


def compose(dep: Deployment, launches: list[Launch], name: str) -> str:
    """A docker-compose file (compose specification): one service per group, `deploy.replicas` as planned."""
    services: dict[str, Any] = {}
    comments = [f"docker-compose file for option {dep.option.id} of plan {dep.plan.scenario_name!r} (compose specification)"]
    for launch in launches:
        g, rel = launch.group, launch.release
        if g.nodes_per_replica > 1:
            raise DeployscopeError(f"one {g.name} replica spans {g.nodes_per_replica} nodes: compose runs on one host",
                                   field="--format", value="compose", allowed="k8s (LeaderWorkerSet) for multi-node replicas")
        svc: dict[str, Any] = {
            "image": _image(launch),
            "command": launch.argv(model=_container_model(launch), port=rel.default_port),
            "ports": [str(rel.default_port)],
            "volumes": [f"models:{MODELS_MOUNT}"],
            "healthcheck": {"test": ["CMD-SHELL", f"curl -fsS http://localhost:{rel.default_port}{rel.health_path} || exit 1"]},
            "deploy": {"replicas": g.replicas},
        }
        cold = dep.option.performance.cold_start_s
        if cold:
            svc["healthcheck"]["start_period"] = f"{math.ceil(cold)}s"
            comments.append(f"  healthcheck.start_period: options[{dep.option.id}].performance.cold_start_s {cold:.3g} s")
        if rel.weights == "checkpoint":
            svc["environment"] = {"HF_HOME": f"{MODELS_MOUNT}/huggingface"}
        if g.device_type == "cpu":
            svc["deploy"]["resources"] = {"limits": {"cpus": str(g.cores or 1)}}
        else:
            svc["ipc"] = "host"
            svc["deploy"]["resources"] = {"reservations": {"devices": [
                {"driver": "nvidia" if g.vendor == "nvidia" else g.vendor, "count": g.gpus_per_replica, "capabilities": ["gpu"]}]}}
        services[f"{name}-{g.slug}"] = svc
        comments.append(f"{name}-{g.slug}: {g.replicas} replicas (components[{g.index}].replicas), "
                        f"{g.gpus_per_replica} x {g.gpu} each (tp {g.tp} x pp {g.pp})")
        comments += [f"  {' '.join(a.tokens)}: {a.origin}" for a in launch.args]
    size = dep.storage_bytes
    comments.append(f"volume models: {size.origin} ({_gi(size.value)})" if size else "volume models: the plan sized no storage")
    doc = {"name": name, "services": services, "volumes": {"models": {}}}
    return "".join(f"# {c}\n" for c in comments) + _dump(doc)
