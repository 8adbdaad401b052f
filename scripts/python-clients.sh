#!/usr/bin/env bash
# The Python Socrata clients the write-API scenario runs (`sodapy`, pinned with its dependencies
# in tests/python/requirements.txt), in a virtual environment under target/, created or brought up
# to date when the requirements change. Running it twice is harmless.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/python-clients
requirements=tests/python/requirements.txt
if [ ! -x "$venv/bin/python" ] || [ "$requirements" -nt "$venv/installed" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    touch "$venv/installed"
fi
