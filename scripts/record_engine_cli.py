#!/usr/bin/env python3
"""Record an engine release's command-line options from its released source, without importing it.

vLLM and SGLang define their CLI in modules that import torch, so the tests cannot import their
parsers. This script reads the release's own source files with ``ast`` (no import, no GPU stack)
and writes every option it defines: its spellings, whether it takes a value, is a switch or a
``--flag/--no-flag`` pair, and its allowed values where the source lists them as a literal.
``tests/test_export_engines.py`` rebuilds an argparse parser from that record and parses every
generated launch command with it.

Usage (sources from the package registry, e.g. ``pip download vllm==0.11.0 --no-deps`` and
``pip download sglang==0.5.3 --no-deps --no-binary :all:``)::

    scripts/record_engine_cli.py vllm 0.11.0 UNPACKED_WHEEL_DIR  > tests/fixtures/engine_cli/vllm-0.11.0.json
    scripts/record_engine_cli.py sglang 0.5.3 UNPACKED_SDIST_DIR > tests/fixtures/engine_cli/sglang-0.5.3.json
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from typing import Any


def _literal_aliases(files: list[Path]) -> dict[str, list[str]]:
    """Module-level ``Name = Literal["a", "b"]`` aliases."""
    out: dict[str, list[str]] = {}
    for f in files:
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                vals = _literal_values(node.value, {})
                if vals is not None:
                    out[node.targets[0].id] = vals
    return out


def _literal_values(ann: ast.AST, aliases: dict[str, list[str]]) -> list[str] | None:
    if isinstance(ann, ast.Name) and ann.id in aliases:
        return aliases[ann.id]
    if isinstance(ann, ast.Subscript) and getattr(ann.value, "id", None) == "Literal":
        elts = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        vals = [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        return vals if len(vals) == len(elts) else None
    if isinstance(ann, ast.Subscript) and getattr(ann.value, "id", None) in ("Optional", "Union", "SkipValidation", "Annotated"):
        elts = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        for e in elts:  # Union[ModelDType, torch.dtype]: the first literal member gives the choices
            vals = _literal_values(e, aliases)
            if vals is not None:
                return vals
        return None
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):  # X | None
        return _literal_values(ann.left, aliases) or _literal_values(ann.right, aliases)
    return None


def _is_bool(ann: ast.AST) -> bool:
    src = re.sub(r"^(SkipValidation|Annotated)\[(.*?)(, .*)?\]$", r"\2", ast.unparse(ann))
    return bool(re.fullmatch(r"(Optional\[bool\]|bool(\s*\|\s*None)?|None\s*\|\s*bool)", src))


def _dataclass_fields(files: list[Path], aliases: dict[str, list[str]]) -> dict[str, dict[str, dict[str, Any]]]:
    """class name -> field name -> {"bool": ..., "choices": ...} for every class with annotated fields."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ClassDef):
                fields = {}
                for st in node.body:
                    if isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name):
                        fields[st.target.id] = {"bool": _is_bool(st.annotation), "choices": _literal_values(st.annotation, aliases)}
                if fields:
                    out[node.name] = fields
    return out


def _option(names: list[str], kind: str, choices: list[str] | None) -> dict[str, Any]:
    return {"names": names, "kind": kind, "choices": choices}


def _add_argument_calls(func: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(func) if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "add_argument"]


def _module_lists(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level ``NAME = ["a", "b"]`` lists (choices given by name)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, (ast.List, ast.Tuple)):
            vals = [e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(vals) == len(node.value.elts):
                out[node.targets[0].id] = vals
    return out


def _explicit(call: ast.Call, lists: dict[str, list[str]] | None = None) -> tuple[str | None, list[str] | None]:
    kind = choices = None
    for kw in call.keywords:
        if kw.arg == "action":
            a = ast.unparse(kw.value)
            kind = "switch" if "store_true" in a or "store_false" in a else "bool_optional" if "BooleanOptional" in a else None
        if kw.arg == "choices" and isinstance(kw.value, (ast.List, ast.Tuple)):
            vals = [e.value for e in kw.value.elts if isinstance(e, ast.Constant)]
            choices = [str(v) for v in vals] if len(vals) == len(kw.value.elts) else None
        if kw.arg == "choices" and isinstance(kw.value, ast.Name) and lists and kw.value.id in lists:
            choices = lists[kw.value.id]
    return kind, choices


def record_vllm(root: Path) -> list[dict[str, Any]]:
    cfg_files = sorted((root / "vllm" / "config").glob("*.py"))
    arg_utils = root / "vllm" / "engine" / "arg_utils.py"
    cli_args = root / "vllm" / "entrypoints" / "openai" / "cli_args.py"
    quant_init = root / "vllm" / "model_executor" / "layers" / "quantization" / "__init__.py"
    files = [*cfg_files, arg_utils, cli_args, quant_init]
    aliases = _literal_aliases(files)
    classes = _dataclass_fields(files, aliases)
    fields: dict[str, dict[str, Any]] = {}
    for cls in classes.values():
        for k, v in cls.items():
            fields.setdefault(k, v)
    opts = []
    tree = ast.parse(arg_utils.read_text())
    add_cli = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "add_cli_args")
    for call in _add_argument_calls(add_cli):
        names = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if not names or not names[0].startswith("-"):
            continue
        kind, choices = _explicit(call)
        for kw in call.keywords:  # **model_kwargs["max_model_len"]: the dataclass field decides
            if kw.arg is None and isinstance(kw.value, ast.Subscript) and isinstance(kw.value.slice, ast.Constant):
                f = fields.get(kw.value.slice.value, {})
                kind = kind or ("bool_optional" if f.get("bool") else None)
                choices = choices or f.get("choices")
        opts.append(_option(names, kind or "value", choices))
    # `vllm serve` front-end options: one per FrontendArgs field (cli_args.FrontendArgs.add_cli_args)
    for name, f in classes.get("FrontendArgs", {}).items():
        flag = "--" + name.replace("_", "-")
        opts.append(_option([flag], "bool_optional" if f["bool"] else "value", f["choices"]))
    return opts


def record_sglang(root: Path) -> list[dict[str, Any]]:
    server_args = next(root.rglob("sglang/srt/server_args.py"))
    tree = ast.parse(server_args.read_text())
    add_cli = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "add_cli_args")
    opts = []
    for call in _add_argument_calls(add_cli):
        names = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if not names or not names[0].startswith("-"):
            continue
        kind, choices = _explicit(call, _module_lists(tree))
        opts.append(_option(names, kind or "value", choices))
    return opts


def main(argv: list[str]) -> int:
    engine, version, root = argv[1], argv[2], Path(argv[3])
    opts = {"vllm": record_vllm, "sglang": record_sglang}[engine](root)
    files = {
        "vllm": ["vllm/engine/arg_utils.py (EngineArgs.add_cli_args)", "vllm/entrypoints/openai/cli_args.py (FrontendArgs)",
                 "vllm/config/*.py (field types)", "vllm/model_executor/layers/quantization/__init__.py (QuantizationMethods)"],
        "sglang": ["python/sglang/srt/server_args.py (ServerArgs.add_cli_args)"],
    }[engine]
    out = {
        "engine": engine,
        "version": version,
        "source": f"{engine} {version} as released on PyPI; read with scripts/record_engine_cli.py from " + "; ".join(files),
        "positional": ["model_tag"] if engine == "vllm" else [],
        "options": opts,
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
