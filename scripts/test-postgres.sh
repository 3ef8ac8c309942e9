#!/usr/bin/env bash
# Start (or reuse) a PostgreSQL server on loopback for the storage tests and print its URL.
# Prints nothing when PostgreSQL cannot be started here (the tests then skip PostgreSQL,
# unless SOUNDSTAGE_REQUIRE_POSTGRES=1, which makes that a failure).
set -uo pipefail
command -v pg_lsclusters >/dev/null || exit 0
[ "$(id -u)" -eq 0 ] || exit 0
ver=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1{print $1}')
if [ -z "$ver" ]; then
  ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
  [ -n "$ver" ] || exit 0
  pg_createcluster "$ver" main >/dev/null 2>&1 || exit 0
fi
port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main"{print $3}')
status=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main"{print $4}')
if [ "$status" != "online" ]; then
  pg_ctlcluster "$ver" main start >/dev/null 2>&1 || exit 0
fi
for _ in $(seq 1 30); do
  su postgres -c "psql -p $port -qAtc 'select 1'" >/dev/null 2>&1 && break
  sleep 0.5
done
su postgres -c "psql -p $port -qAtc \"DO \\\$\\\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='soundstage_test') THEN CREATE ROLE soundstage_test LOGIN SUPERUSER PASSWORD 'soundstage_test'; END IF; END\\\$\\\$\"" >/dev/null 2>&1 || exit 0
su postgres -c "psql -p $port -qAtc \"SELECT 1 FROM pg_database WHERE datname='soundstage_test'\"" 2>/dev/null | grep -q 1 \
  || su postgres -c "createdb -p $port -O soundstage_test soundstage_test" >/dev/null 2>&1 || exit 0
echo "postgresql+psycopg://soundstage_test:soundstage_test@127.0.0.1:$port/soundstage_test"
