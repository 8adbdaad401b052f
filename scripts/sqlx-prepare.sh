#!/usr/bin/env bash
# Compile-time checked queries (`sqlx::query!`): refreshes the committed `.sqlx/` cache, or with
# `--check` proves it current. Either way every checked query is compiled against a scratch
# database (`opendata_sqlx`) migrated from the repository's migrations, each crate in its own
# schema: the crate's `.env` names the database and its search_path.
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
[[ "${1:-}" == "--check" ]] && check=true

# The crates with checked queries, and the schema each owns.
crates=(governance:opendata-governance incentives:opendata-incentives catalog:opendata-catalog ingestion:opendata-ingestion)

admin=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -Atq)
"${admin[@]}" -d postgres -c "DROP DATABASE IF EXISTS opendata_sqlx WITH (FORCE)"
"${admin[@]}" -d postgres -c "CREATE DATABASE opendata_sqlx"
for entry in "${crates[@]}"; do
    schema=${entry%%:*}
    "${admin[@]}" -d opendata_sqlx -c "CREATE SCHEMA IF NOT EXISTS $schema" >/dev/null
    for migration in crates/platform/migrations/*.sql "services/$schema/migrations/"*.sql; do
        "${admin[@]}" -d opendata_sqlx -c "SET search_path TO $schema" -f "$migration" >/dev/null
    done
done

out=.sqlx
if $check; then
    out=target/sqlx-check
fi
rm -rf "$out"
mkdir -p "$out"
for entry in "${crates[@]}"; do
    schema=${entry%%:*}
    crate=${entry#*:}
    # The macros run again only when the crate is rebuilt.
    touch "services/$schema/src/lib.rs"
    SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$PWD/$out" cargo check --quiet -p "$crate" --all-targets
done
if $check; then
    if ! diff -r .sqlx "$out" >/dev/null; then
        diff -r .sqlx "$out" || true
        echo "sqlx-prepare: .sqlx/ is out of date; run ./scripts/sqlx-prepare.sh and commit it" >&2
        exit 1
    fi
    echo "sqlx-prepare: .sqlx/ matches every checked query"
fi
