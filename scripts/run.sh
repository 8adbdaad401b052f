#!/usr/bin/env bash
# `make run`: starts the whole portal in one process, loads the Connecticut demo data, prints the
# URLs, and keeps running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/debug/opendata
mkdir -p .run
database=${OPENDATA_RUN_DATABASE:-opendata}
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc "select 1 from pg_database where datname = '$database'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -d postgres -qc "create database \"$database\""
    # A new database gets its own NATS streams: events of an earlier database must not replay.
    rm -f .run/nats-prefix
fi
# SoQL's geometry functions (convex_hull, extent, intersects, ...) run on PostGIS.
psql -h 127.0.0.1 -U postgres -d "$database" -qc "do \$\$ begin
    if exists (select 1 from pg_available_extensions where name = 'postgis') then
        create extension if not exists postgis;
    end if; end \$\$"
if [ ! -s .run/nats-prefix ]; then
    echo "run$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')" > .run/nats-prefix
fi
if [ ! -s .run/admin-key ]; then
    echo "odk_admin_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > .run/admin-key
    chmod 600 .run/admin-key
fi
admin_key=$(cat .run/admin-key)

export OPENDATA_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$database"
export OPENDATA_GOVERNANCE__BOOTSTRAP_ADMIN_KEY="$admin_key"
export OPENDATA_NATS__PREFIX="$(cat .run/nats-prefix)"
"$bin" up > .run/opendata.log 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; exit 0' INT TERM

edge=http://127.0.0.1:8080

# GET /readyz on 127.0.0.1:8080 without needing curl.
ready() {
    exec 3<>/dev/tcp/127.0.0.1/8080 || return 1
    printf 'GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    local status
    read -r _ status _ <&3 || true
    exec 3<&-
    [ "$status" = "200" ]
}
for _ in $(seq 1 120); do
    if ! kill -0 "$server" 2>/dev/null; then
        echo "opendata up exited; see .run/opendata.log:" >&2
        tail -n 20 .run/opendata.log >&2
        exit 1
    fi
    if ready 2>/dev/null; then break; fi
    sleep 0.5
done
ready 2>/dev/null || { echo "opendata did not become ready; see .run/opendata.log" >&2; exit 1; }

OPENDATA_KEY="$admin_key" "$bin" demo --data data

cat <<EOT

opendata is running (log: .run/opendata.log; admin key: .run/admin-key). Try:
  $edge/resource/5mzw-sjtu.json?\$limit=5
  $edge/resource/5mzw-sjtu.csv?town=Hartford
  $edge/api/views/5mzw-sjtu.json
  $edge/api/catalog/v1?q=reel+estate
  $edge/api/catalog/v1/autocomplete?q=brownf
  $edge/data.json
  $edge/api/incentives/awards?company=precision+gears
  $edge/api/incentives/summary?by=municipality,fiscal_year
  $edge/resource/decd-awrd.json?obligation_status=not+met
  $edge/readyz
  target/debug/opendata search "tax credits"
gRPC: governance http://127.0.0.1:50051, catalog http://127.0.0.1:50052, ingestion http://127.0.0.1:50053,
      search http://127.0.0.1:50054, incentives http://127.0.0.1:50055
Press Ctrl-C to stop.
EOT
wait $server
