#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432, user postgres without a password) and NATS with JetStream
# (127.0.0.1:4222) are listening, and that PostgreSQL offers PostGIS. Uses what is already there;
# otherwise installs Debian's `postgresql`, `postgresql-N-postgis-3` and `nats-server` and starts
# them. Running it twice is harmless.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "ensure-services: need root to run: $*" >&2; exit 1; fi
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
    local port=$1 name=$2
    for _ in $(seq 1 60); do listening "$port" && return 0; sleep 0.5; done
    echo "ensure-services: $name did not start listening on 127.0.0.1:$port" >&2
    exit 1
}

apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

ensure_postgres() {
    if ! listening 5432; then
        if ! command -v pg_ctlcluster >/dev/null; then
            echo "ensure-services: installing PostgreSQL from Debian"
            apt_install postgresql
            trust_local_connections
        fi
        local version
        version=$(ls /etc/postgresql | sort -V | tail -n 1)
        echo "ensure-services: starting PostgreSQL $version"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        wait_for 5432 PostgreSQL
    fi
    if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
        echo "ensure-services: PostgreSQL on 127.0.0.1:5432 refuses user postgres without a password;" >&2
        echo "  allow it (trust for 127.0.0.1 in pg_hba.conf) or point OPENDATA_TEST_DATABASE_URL elsewhere" >&2
        exit 1
    fi
}

# A PostgreSQL we installed ourselves is a development server: let local TCP connections in
# without a password, as the tests and `make run` expect.
trust_local_connections() {
    local hba
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
        as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    done
}

# SoQL's geometry functions run on PostGIS: install Debian's package for the server's major
# version when the server does not offer the extension yet (the tests create it per database).
ensure_postgis() {
    local offered major
    offered=$(psql -h 127.0.0.1 -U postgres -d postgres -Atqc \
        "select 1 from pg_available_extensions where name = 'postgis'")
    if [ "$offered" = "1" ]; then return 0; fi
    major=$(psql -h 127.0.0.1 -U postgres -d postgres -Atqc "show server_version_num" | cut -c1-2)
    echo "ensure-services: installing PostGIS for PostgreSQL $major from Debian"
    if ! apt_install "postgresql-$major-postgis-3"; then
        echo "ensure-services: could not install postgresql-$major-postgis-3; SoQL's geometry" >&2
        echo "  functions and their tests need PostGIS on the test server" >&2
        exit 1
    fi
}

ensure_nats() {
    if listening 4222; then return 0; fi
    if [ ! -x /usr/sbin/nats-server ]; then
        echo "ensure-services: installing nats-server from Debian"
        apt_install nats-server
    fi
    echo "ensure-services: starting nats-server with JetStream"
    as_root mkdir -p /var/lib/nats-server
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    wait_for 4222 nats-server
}

command -v psql >/dev/null || apt_install postgresql-client
ensure_postgres
ensure_postgis
ensure_nats
echo "ensure-services: PostgreSQL 127.0.0.1:5432 (with PostGIS) and NATS 127.0.0.1:4222 are up"
