#!/usr/bin/env bash
# The test command: install everything the test suite needs, then run the whole suite.
#
# It changes the machine: it installs Debian packages system-wide (below) with apt-get, as root or
# through sudo. Meant for CI and disposable machines. The Python side goes into a virtual
# environment, .cache/test-venv/ in the checkout (it sees the system's site-packages, so what is
# already installed there is reused).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# System packages the tests use (add here, never install by hand).
APT_PACKAGES=(
  build-essential
  cmake
  chromium
  postgresql
  libpango-1.0-0
  libpangoft2-1.0-0
  libharfbuzz-subset0
  fonts-dejavu-core
  iproute2
  git
)
# Debian's python3 creates virtual environments only with python3-venv installed
if [ "$(command -v python3)" = "/usr/bin/python3" ]; then
  APT_PACKAGES+=("python3-venv")
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

source scripts/venv.sh
PY=$(make_venv .cache/test-venv '-e.[test]' --system-site-packages)

"$PY" -m pytest "$@"
