#!/usr/bin/env bash
# The Python Socrata clients the write-API scenario runs (`sodapy`, pinned with its dependencies
# in tests/python/requirements.txt), in a virtual environment under target/, created or brought up
# to date when the requirements change. Python and its venv module come from Debian when absent.
# Running it twice is harmless.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/python-clients
requirements=tests/python/requirements.txt

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "python-clients: need root to run: $*" >&2; exit 1; fi
}

if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    echo "python-clients: installing Python's venv from Debian"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-venv
fi
if [ ! -x "$venv/bin/python" ] || [ "$requirements" -nt "$venv/installed" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    touch "$venv/installed"
fi
