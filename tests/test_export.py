"""`deployscope export`: launch commands accepted by the engines' own option definitions (recorded
from their released source), manifests valid against the Kubernetes v1.31 / LeaderWorkerSet /
compose-spec schemas, every value traced to the plan, and bad input refused with exit 2."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import pytest
import yaml

from deployscope.cli import main

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "tests" / "fixtures" / "schemas"
CLI = REPO / "tests" / "fixtures" / "engine_cli"
SAAS = REPO / "examples" / "saas-chat.yaml"


@pytest.fixture(scope="module")
def saas_plan(tmp_path_factory) -> Path:
    from deployscope.planner import plan

    p = tmp_path_factory.mktemp("plan") / "saas.json"
    p.write_text(plan(SAAS).to_json())
    return p


def _default_replicas(plan_path) -> int:
    """Replicas of the option export takes by default (the best-ranked allowed self-hosted one)."""
    options = json.loads(plan_path.read_text())["options"]
    chosen = next(o for o in options if o["allowed"] and o["placement"] != "api")
    return chosen["performance"]["components"][0]["replicas"]


def _export(tmp_path, plan, fmt, *extra):
    out = tmp_path / fmt
    rc = main(["export", str(plan), "--format", fmt, "--out", str(out), *extra])
    assert rc == 0
    return out


def _parser(record: dict) -> argparse.ArgumentParser:
    """An argparse parser with the options the release's own source defines."""
    p = argparse.ArgumentParser(allow_abbrev=False, exit_on_error=False, add_help=False)
    for name in record["positional"]:
        p.add_argument(name)
    for o in record["options"]:
        if o["kind"] == "switch":
            p.add_argument(*o["names"], action="store_true")
        elif o["kind"] == "bool_optional":
            p.add_argument(*o["names"], action=argparse.BooleanOptionalAction)
        else:
            p.add_argument(*o["names"], choices=o["choices"] or None)
    return p


def _argv_from_script(script: str) -> list[str]:
    """The command a launch script runs, with MODEL, HOST and PORT at their defaults."""
    env = {}
    for line in script.splitlines():
        for var in ("MODEL", "HOST", "PORT"):
            if line.startswith(f'{var}="${{{var}:-'):
                env[var] = line.split(":-", 1)[1].split("}", 1)[0]
    body = script.split("args=(\n", 1)[1].split("\n)", 1)[0]
    argv = []
    for line in body.splitlines():
        line = line.split("  # ", 1)[0].strip()
        for var, val in env.items():
            line = line.replace(f'"${var}"', shlex.quote(val))
        argv += shlex.split(line)
    return argv


@pytest.mark.parametrize("engine,record", [("vllm", "vllm-0.11.0.json"), ("sglang", "sglang-0.5.3.json")])
def test_launch_commands_parse_with_the_release_options(tmp_path, saas_plan, engine, record):
    out = _export(tmp_path, saas_plan, engine)
    scripts = sorted(out.glob(f"*.{engine}.sh"))
    assert scripts, list(out.iterdir())
    rec = json.loads((CLI / record).read_text())
    options = json.loads(saas_plan.read_text())["options"]
    chosen = next(o for o in options if o["allowed"] and o["placement"] != "api")["performance"]["components"][0]
    assert chosen["kv_quant"] == "fp8" and chosen["max_batch_per_replica"] >= 1
    for s in scripts:
        argv = _argv_from_script(s.read_text())
        ns = _parser(rec).parse_args(argv)  # raises on an unknown option or a value outside the choices
        d = vars(ns)
        if engine == "vllm":
            assert d["model_tag"] == "meta-llama/Llama-3.3-70B-Instruct"
            assert d["quantization"] == "fp8"  # the plan's format for on_prem-mi300x
            assert d["tensor_parallel_size"] == "1" and d["gpu_memory_utilization"] == "0.9"
            # the plan's own batch limit and KV-cache format, not the engine's defaults
            assert d["max_num_seqs"] == str(chosen["max_batch_per_replica"]) and d["kv_cache_dtype"] == "fp8"
            assert d["enable_chunked_prefill"] is True and d["port"] == "8000"
        else:
            assert d["model_path"] == "meta-llama/Llama-3.3-70B-Instruct" and d["quantization"] == "fp8"
            # SGLang's own 0.5.3+ default on the plan's GPU (server_args.py _handle_gpu_memory_settings):
            # GH200 96 GiB, TP=1: reserved 512 + 1.5 x 8,192 + 2 x 256 + 128 = 13,440 MiB of 98,304 -> 0.863
            assert chosen["gpu"] == "gh200-96gb" and chosen["tp"] == 1
            assert d["tensor_parallel_size"] == "1" and d["mem_fraction_static"] == "0.863"
            assert d["max_running_requests"] == str(chosen["max_batch_per_replica"]) and d["kv_cache_dtype"] == "fp8_e4m3"
    # a flag the release does not have is refused by the same parser
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        _parser(rec).parse_args(["m", "--no-such-flag", "1"] if engine == "vllm" else ["--no-such-flag", "1"])


@pytest.mark.parametrize("release,record", [("vllm-0.11.0", "vllm-0.11.0.json"), ("sglang-0.5.3", "sglang-0.5.3.json")])
def test_engine_profile_flags_exist_in_the_release(release, record):
    from deployscope.catalog import default_catalog

    rel = default_catalog().engine_flags.get(release)
    names = {n for o in json.loads((CLI / record).read_text())["options"] for n in o["names"]}
    for setting, f in rel.flags.items():
        for spelling in (f.flag, f.disable):
            if spelling:
                assert spelling in names, (setting, spelling)
    choices = {n: o["choices"] for o in json.loads((CLI / record).read_text())["options"] for n in o["names"]}
    for fmt, values in rel.formats.items():
        for setting, value in values.items():
            allowed = choices.get(rel.flags[setting].flag)
            assert allowed is None or value in allowed, (fmt, setting, value)


def test_every_value_is_traced_and_defaults_are_named(tmp_path, saas_plan):
    out = _export(tmp_path, saas_plan, "vllm")
    options = json.loads(saas_plan.read_text())["options"]
    # the recommended option is an API: the export takes the best-ranked allowed self-hosted one
    chosen = next(o["id"] for o in options if o["allowed"] and o["placement"] != "api")
    script = next(out.glob("*.vllm.sh")).read_text()
    body = script.split("args=(\n", 1)[1].split("\n)", 1)[0].splitlines()
    for line in body:
        if not line.strip().startswith(('"$MODEL"', '--host "$HOST"', '--port "$PORT"')):
            assert "  # " in line and (f"options[{chosen}]" in line or "catalog " in line), line
    assert "Left to the engine's default" in script and "--enable-prefix-caching: on (V1 engine)" in script
    replicas = next(o for o in options if o["id"] == chosen)["performance"]["components"][0]["replicas"]
    assert f"run {replicas} replicas" in script
    summary = json.loads((out / "export.json").read_text())
    assert summary["option"] == chosen
    assert all(t["from"] for t in summary["trace"])


def _validator(name: str):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    k8s = json.loads((SCHEMAS / "k8s-v1.31.0.json").read_text())
    lws = json.loads((SCHEMAS / "lws-v1.json").read_text())
    reg = Registry().with_resources([("k8s-v1.31.0.json", Resource.from_contents(k8s)), ("lws-v1.json", Resource.from_contents(lws))])
    if name == "LeaderWorkerSet":
        return Draft202012Validator(lws, registry=reg)
    return Draft202012Validator({"$ref": "k8s-v1.31.0.json" + k8s["roots"][name]}, registry=reg)


def _check(doc):
    errors = list(_validator(doc["kind"]).iter_errors(doc))
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]]


def test_kubernetes_manifests_validate(tmp_path, saas_plan):
    default = _export(tmp_path / "default", saas_plan, "k8s")  # the best-ranked allowed self-hosted option
    docs = [d for d in yaml.safe_load_all((default / "k8s.yaml").read_text()) if d]
    for d in docs:
        _check(d)
    assert docs[1]["spec"]["replicas"] == _default_replicas(saas_plan)
    out = _export(tmp_path, saas_plan, "k8s", "--option", "on_prem-mi300x")
    docs = [d for d in yaml.safe_load_all((out / "k8s.yaml").read_text()) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds == ["PersistentVolumeClaim", "Deployment", "Service"]
    for d in docs:
        _check(d)
    dep = docs[1]
    c = dep["spec"]["template"]["spec"]["containers"][0]
    mi300x = next(o for o in json.loads(saas_plan.read_text())["options"] if o["id"] == "on_prem-mi300x")
    assert dep["spec"]["replicas"] == mi300x["performance"]["components"][0]["replicas"]
    assert c["resources"]["limits"] == {"amd.com/gpu": "1"}
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["initialDelaySeconds"] == 6  # performance.cold_start_s 5.19 s, rounded up
    assert c["image"] == "REPLACE-WITH-vllm-0.11.0-amd-IMAGE"  # vLLM's published image is the CUDA build
    assert c["env"] == [{"name": "HF_HOME", "value": "/models/huggingface"}]
    nv = _export(tmp_path / "nv", saas_plan, "k8s", "--option", "on_prem-h100-sxm-80gb")  # tp 2
    docs = [d for d in yaml.safe_load_all((nv / "k8s.yaml").read_text()) if d]
    for d in docs:
        _check(d)
    c = docs[1]["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "vllm/vllm-openai:v0.11.0" and c["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    # a misspelt field fails the strict schema (the check can fail)
    bad = json.loads(json.dumps(dep))
    bad["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert list(_validator("Deployment").iter_errors(bad))


def test_multi_node_replica_is_a_leader_worker_set(saas_plan):
    from deployscope.catalog import default_catalog
    from deployscope.export import engines, spec
    from deployscope.export.manifests import kubernetes

    plan = spec.load_plan(saas_plan)
    dep = spec.deployment(plan, plan.option("on_prem-mi300x"))
    g = dep.groups[0]
    g.tp, g.pp, g.gpus_per_node = 8, 2, 8  # one replica on two 8-GPU nodes
    for eng in ("vllm", "sglang"):
        ls = engines.launches(dep, eng, default_catalog())
        docs = [d for d in yaml.safe_load_all(kubernetes(dep, ls, "saas")) if d]
        lws = next(d for d in docs if d["kind"] == "LeaderWorkerSet")
        _check(lws)
        assert lws["spec"]["leaderWorkerTemplate"]["size"] == 2
        worker = lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
        assert worker["resources"]["limits"] == {"amd.com/gpu": "8"}
    from deployscope.errors import DeployscopeError

    with pytest.raises(DeployscopeError, match="cannot span nodes"):
        kubernetes(dep, engines.launches(dep, "trtllm", default_catalog()), "x")


def test_compose_file_validates(tmp_path, saas_plan):
    from jsonschema import Draft7Validator

    out = _export(tmp_path, saas_plan, "compose")
    doc = yaml.safe_load((out / "compose.yaml").read_text())
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    errors = list(Draft7Validator(schema).iter_errors(doc))
    assert not errors, [e.message for e in errors[:5]]
    svc = next(iter(doc["services"].values()))
    assert svc["deploy"]["replicas"] == _default_replicas(saas_plan)
    assert svc["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 1
    bad = json.loads(json.dumps(doc))
    next(iter(bad["services"].values()))["replicaz"] = 2
    assert list(Draft7Validator(schema).iter_errors(bad))


def _rc_err(capsys, args):
    rc = main(args)
    return rc, capsys.readouterr().err


def test_bad_input_exits_2_naming_the_reason(tmp_path, saas_plan, capsys):
    rc, err = _rc_err(capsys, ["export", str(saas_plan), "--option", "api-nebius", "--format", "vllm", "--out", str(tmp_path / "a")])
    assert rc == 2 and "hosted API" in err and "api-nebius" in err
    rc, err = _rc_err(capsys, ["export", str(saas_plan), "--option", "nope", "--format", "vllm", "--out", str(tmp_path / "a")])
    assert rc == 2 and "no option 'nope'" in err and "on_prem-mi300x" in err
    rc, err = _rc_err(capsys, ["export", str(saas_plan), "--format", "k8s", "--name", "Chat_Prod", "--out", str(tmp_path / "a")])
    assert rc == 2 and "--name: 'Chat_Prod' is not a DNS label" in err
    rc, err = _rc_err(capsys, ["export", str(saas_plan), "--format", "tgi", "--out", str(tmp_path / "a")])
    assert rc == 2 and "unknown export format 'tgi'" in err
    # NVFP4 on llama.cpp: the engine cannot serve the planned format
    data = json.loads(saas_plan.read_text())
    opt = next(o for o in data["options"] if o["id"] == "on_prem-mi300x")
    opt["performance"]["components"][0]["quant"] = "nvfp4"
    nv = tmp_path / "nvfp4.json"
    nv.write_text(json.dumps(data))
    rc, err = _rc_err(capsys, ["export", str(nv), "--option", "on_prem-mi300x", "--format", "llamacpp", "--out", str(tmp_path / "b")])
    assert rc == 2 and "cannot serve weight format 'nvfp4'" in err
    # a plan from an older schema
    data["schema_version"] = 0
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    rc, err = _rc_err(capsys, ["export", str(old), "--format", "vllm", "--out", str(tmp_path / "c")])
    assert rc == 2 and "schema_version 0" in err and "re-plan" in err
    rc, err = _rc_err(capsys, ["export", str(tmp_path / "missing.json"), "--format", "vllm", "--out", str(tmp_path / "d")])
    assert rc == 2 and "no such plan file" in err
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_export_from_scenario_and_saved_plan(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEPLOYSCOPE_DATABASE_URL", f"sqlite:///{tmp_path / 'ds.db'}")
    assert main(["plan", str(SAAS), "--save", "--json"]) == 0
    capsys.readouterr()
    from deployscope.store import Store

    pid = Store().list_plans()[0].id
    assert main(["export", str(pid), "--format", "ollama", "--out", str(tmp_path / "o"), "--json"]) == 2  # fp8 is not GGUF
    assert "cannot serve weight format 'fp8'" in capsys.readouterr().err
    assert main(["export", str(SAAS), "--format", "trtllm", "--out", str(tmp_path / "t"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["release"].startswith("trtllm") and "verify.sh" in res["files"]
    script = (tmp_path / "t" / "assistant.trtllm.sh").read_text()
    comp = next(o for o in json.loads((tmp_path / "t" / "plan.json").read_text())["options"] if o["id"] == res["option"])["performance"]["components"][0]
    assert "--kv_cache_free_gpu_memory_fraction 0.9" in script
    assert f"--max_batch_size {comp['max_batch_per_replica']}  # options[{res['option']}].performance.components[0].max_batch_per_replica" in script


def test_node_size_comes_from_the_server_or_cloud_instance(saas_plan):
    from deployscope.export import spec

    plan = spec.load_plan(saas_plan)
    onprem = spec.deployment(plan, plan.option("on_prem-mi300x")).groups[0]
    cloud = spec.deployment(plan, plan.option("cloud-lambda-gpu_1x_gh200-on_demand")).groups[0]
    h100 = spec.deployment(plan, plan.option("on_prem-h100-sxm-80gb")).groups[0]
    assert onprem.gpus_per_node == 8 and cloud.gpus_per_node == 1  # oam-mi300x-8gpu slots; the 1-GPU instance
    assert h100.tp == 2 and h100.gpus_per_node == 8 and h100.nodes_per_replica == 1


def test_ollama_and_llamacpp_from_a_gguf_plan(tmp_path, saas_plan):
    data = json.loads(saas_plan.read_text())
    opt = next(o for o in data["options"] if o["id"] == "on_prem-mi300x")
    opt["performance"]["components"][0]["quant"] = "gguf-q4_k_m"
    # a plan written before the KV format and batch limit were recorded: the engine's cap the plan assumed
    del opt["performance"]["components"][0]["kv_quant"], opt["performance"]["components"][0]["max_batch_per_replica"]
    p = tmp_path / "gguf.json"
    p.write_text(json.dumps(data))
    out = _export(tmp_path, p, "ollama", "--option", "on_prem-mi300x")
    mf = (out / "assistant.Modelfile").read_text()
    assert "FROM /models/Llama-3.3-70B-Instruct-Q4_K_M.gguf" in mf
    sh = (out / "assistant.ollama.sh").read_text()
    assert "export OLLAMA_NUM_PARALLEL=4  # catalog engines[llamacpp].perf.max_batch_size" in sh
    assert '"$OLLAMA" create meta-llama/Llama-3.3-70B-Instruct' in sh
    out = _export(tmp_path, p, "llamacpp", "--option", "on_prem-mi300x")
    sh = (out / "assistant.llamacpp.sh").read_text()
    assert "-ngl all  # options[on_prem-mi300x].performance.components[0].gpu mi300x" in sh
    assert "-t " not in sh  # threads are set for CPU devices only


def test_every_self_hosted_option_exports_or_says_why(saas_plan):
    """Across the plan's options (allowed or not) and every format: the files come out, each vLLM and
    SGLang command parses with the release's options, and every value names its origin; or a
    DeployscopeError names the reason."""
    from deployscope.errors import DeployscopeError
    from deployscope.export import FORMATS, export_files, load_plan

    plan = load_plan(saas_plan)
    records = {e: json.loads((CLI / f).read_text()) for e, f in (("vllm", "vllm-0.11.0.json"), ("sglang", "sglang-0.5.3.json"))}
    exported = refused = 0
    for opt in plan.options:
        for fmt in FORMATS:
            try:
                res = export_files(plan, fmt, option_id=opt.id)
            except DeployscopeError as exc:
                assert str(exc) and exc.field, (opt.id, fmt)
                refused += 1
                continue
            exported += 1
            assert all(t["from"] for t in res.trace)
            if fmt in records:
                for name, text in res.files.items():
                    if name.endswith(f".{fmt}.sh"):
                        _parser(records[fmt]).parse_args(_argv_from_script(text))
    assert exported >= 10 and refused >= 10


def test_kv_format_the_engine_cannot_set_is_said_not_silently_dropped(tmp_path, saas_plan):
    """A plan sized with an fp8 KV cache exported to llama.cpp (no fp8 cache type): the launch keeps
    llama.cpp's default and says so."""
    data = json.loads(saas_plan.read_text())
    opt = next(o for o in data["options"] if o["id"] == "on_prem-mi300x")
    comp = opt["performance"]["components"][0]
    comp["quant"] = "gguf-q4_k_m"
    assert comp["kv_quant"] == "fp8"
    p = tmp_path / "gguf-fp8kv.json"
    p.write_text(json.dumps(data))
    sh = (_export(tmp_path, p, "llamacpp", "--option", "on_prem-mi300x") / "assistant.llamacpp.sh").read_text()
    assert "-ctk " not in sh.split("args=(", 1)[1]
    assert "with a fp8 KV cache, which llamacpp" in sh and "-ctk: f16" in sh
    assert f"-np {comp['max_batch_per_replica']}  # options[on_prem-mi300x].performance.components[0].max_batch_per_replica" in sh
    comp["kv_quant"] = "int8-kv"
    p.write_text(json.dumps(data))
    sh = (_export(tmp_path, p, "llamacpp", "--option", "on_prem-mi300x") / "assistant.llamacpp.sh").read_text()
    assert "-ctk q8_0  # options[on_prem-mi300x].performance.components[0].kv_quant int8-kv -> q8_0" in sh
