#!/usr/bin/env bash
# Create (or reuse) a virtual environment and install this checkout into it.
#
#   bash scripts/venv.sh DIR [SPEC] [--system-site-packages]
#
# SPEC is what pip installs from the checkout: "." (the base install, no extras: what a user gets
# from `pip install .`) by default, or e.g. ".[test]". Prints the environment's python on stdout,
# so callers can do: PY=$(bash scripts/venv.sh /tmp/base-venv) && "$PY" -m deployscope --help
# Sourced, it defines the function make_venv with the same arguments.
set -euo pipefail

make_venv() {
  local dir="$1" spec="${2:-.}" site="${3:-}"
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [ ! -x "$dir/bin/python" ]; then
    # Debian and Ubuntu ship venv and ensurepip in a separate package
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
      echo "python3 cannot create virtual environments: install python3-venv (apt-get install python3-venv)" >&2
      return 1
    fi
    python3 -m venv $site "$dir" >&2
  fi
  (cd "$root" && "$dir/bin/python" -m pip install -q "$spec" >&2)
  echo "$dir/bin/python"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  if [ $# -lt 1 ]; then
    echo "usage: bash scripts/venv.sh DIR [SPEC] [--system-site-packages]" >&2
    exit 2
  fi
  make_venv "$@"
fi
