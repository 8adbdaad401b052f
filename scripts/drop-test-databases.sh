#!/usr/bin/env bash
# Drops databases left behind by tests that did not finish (their names start with `t_`), and the
# roles that owned some of them (tests of a database owner that is not a superuser).
set -euo pipefail
psql -h 127.0.0.1 -U postgres -d postgres -Atqc "select datname from pg_database where datname like 't\_%'" |
    while read -r name; do
        psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists \"$name\" with (force)" >/dev/null
    done
psql -h 127.0.0.1 -U postgres -d postgres -Atqc "select rolname from pg_roles where rolname like 't\_%\_owner'" |
    while read -r role; do
        psql -h 127.0.0.1 -U postgres -d postgres -qc "drop role if exists \"$role\"" >/dev/null
    done
