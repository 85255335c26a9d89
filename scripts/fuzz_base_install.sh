#!/usr/bin/env bash
# Run the CLI fuzzer (tests/test_fuzz_cli.py) through the `deployscope` of a virtual environment
# that holds only the base install -- `pip install .`, no extras, no test tools -- so a module that
# only an extra brings in (click via uvicorn, SQLAlchemy, FastAPI...) cannot hide a crash.
#
# The environment lives in a cache directory keyed by the base dependencies (created once, with pip from
# the package index); each run reinstalls this checkout's code into it. The fuzzer itself runs in
# the calling Python (it needs pytest and hypothesis). Cases per generator: DEPLOYSCOPE_FUZZ_EXAMPLES
# (default 5 here). Extra arguments go to pytest. Exit 3: the environment could not be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
CACHE="${DEPLOYSCOPE_BASE_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deployscope}"
# keyed by the base dependencies and Python version: a new dependency makes a new environment
KEY="$("$PYTHON" -c 'import hashlib, sys, tomllib; deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; print(hashlib.sha256(repr((sorted(deps), sys.version_info[:2])).encode()).hexdigest()[:12])')"
VENV="$CACHE/base-venv-$KEY"

install() {
  if [ ! -x "$VENV/bin/deployscope" ]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" && "$VENV/bin/python" -m pip install -q --disable-pip-version-check . || return 1
  else
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall . || return 1
  fi
}
mkdir -p "$CACHE"
if ! install >"$CACHE/base-venv-install.log" 2>&1; then
  echo "fuzz_base_install: could not install the base environment in $VENV (see $CACHE/base-venv-install.log)" >&2
  tail -5 "$CACHE/base-venv-install.log" >&2 || true
  exit 3
fi

# The point of the exercise: none of the extras' modules may be importable there.
"$VENV/bin/python" - <<'PY'
import importlib.util, sys
extras_only = ["fastapi", "uvicorn", "sqlalchemy", "psycopg", "weasyprint", "openpyxl", "gguf", "ray", "pandas",
               "hypothesis", "pytest", "playwright", "multipart"]
leaked = [m for m in extras_only if importlib.util.find_spec(m) is not None]
if leaked:
    sys.exit(f"fuzz_base_install: the base environment imports modules only extras bring: {', '.join(leaked)}")
PY

echo "fuzz_base_install: $VENV/bin/deployscope ($("$VENV/bin/python" -c 'import deployscope; print(deployscope.__version__)'))" >&2
DEPLOYSCOPE_FUZZ_EXE="$VENV/bin/deployscope" \
DEPLOYSCOPE_FUZZ_EXAMPLES="${DEPLOYSCOPE_FUZZ_EXAMPLES:-5}" \
  "$PYTHON" -m pytest tests/test_fuzz_cli.py -p no:cacheprovider "$@"
