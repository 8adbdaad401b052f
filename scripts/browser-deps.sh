#!/usr/bin/env bash
# What the browser tests need: Debian's Chromium (installed when absent) and the npm packages
# locked in tests/browser/package-lock.json (playwright-core, axe-core), installed with `npm ci`
# when node_modules does not match the lockfile. Running it twice is harmless.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "browser-deps: need root to run: $*" >&2; exit 1; fi
}

apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

if ! command -v chromium >/dev/null; then
    echo "browser-deps: installing Chromium from Debian"
    apt_install chromium
fi
if ! command -v npm >/dev/null; then
    echo "browser-deps: installing Node.js and npm from Debian"
    apt_install nodejs npm
fi
lock=tests/browser/package-lock.json
installed=tests/browser/node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ "$lock" -nt "$installed" ]; then
    npm ci --prefix tests/browser --no-audit --no-fund
fi
