#!/usr/bin/env bash
# Fails when a crate declares a dependency its code never uses (`cargo machete`, pinned, installed
# from crates.io into .tools/ unless it is there already). `make lint` runs it. A dependency used
# only in a way the tool cannot see (generated code, a feature switch) is listed, with why, under
# `[package.metadata.cargo-machete]` in its crate's Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.9.2
tool=.tools/bin/cargo-machete
if [ ! -x "$tool" ] || [ "$("$tool" --version 2>/dev/null)" != "$version" ]; then
    echo "unused-deps: installing cargo-machete $version"
    cargo install --quiet --locked --root .tools --version "$version" cargo-machete
fi
"$tool"
