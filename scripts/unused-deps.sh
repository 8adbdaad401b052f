#!/usr/bin/env bash
# Fails when a crate declares a dependency its code never uses (`cargo machete`, pinned, installed
# from crates.io into .tools/ unless it is there already). `make lint` runs it. A dependency used
# only in a way the tool cannot see (generated code, a feature switch) is listed, with why, under
# `[package.metadata.cargo-machete]` in its crate's Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.9.2
tool=.tools/bin/cargo-machete
# Run by path, not as `cargo machete`: with CARGO set (make exports it) the tool would read its
# arguments as a cargo subcommand's.
if [ ! -x "$tool" ] || [ "$(env -u CARGO "$tool" --version 2>/dev/null)" != "$version" ]; then
    echo "unused-deps: installing cargo-machete $version"
    cargo install --quiet --locked --root .tools --version "$version" cargo-machete
fi
env -u CARGO "$tool"
