#!/usr/bin/env bash
# Installs everything autotune and its tests need on a fresh Debian machine with Python 3.11.
# Idempotent: a second run only checks. Debian packages are installed only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
    else
        echo "setup: please install: ${need_apt[*]}" >&2
        exit 1
    fi
fi

python3 -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
echo "setup: done ($(python3 --version), autotune $(python3 -c 'import importlib.metadata as m; print(m.version("autotune"))'))"
