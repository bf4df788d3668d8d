#!/usr/bin/env bash
# Postgres for the service's scale-out tests: Debian's cluster on 127.0.0.1:5432 with a role and a database
# named oda (password oda; the role may create databases, as the tests do). Idempotent; run as root. Installs the package when it is missing.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "start_postgres: not root; skipping" >&2
  exit 0
fi
if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$version main"; then
  pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
  pg_ctlcluster "$version" main start
fi
for _ in $(seq 1 30); do
  if su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1; then
    break
  fi
  sleep 1
done
su postgres -c "psql -qAtc \"select 1 from pg_roles where rolname = 'oda'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"create role oda login password 'oda'\""
# the tests make a fresh database per test and drop it after
su postgres -c "psql -qc 'alter role oda createdb'"
su postgres -c "psql -qAtc \"select 1 from pg_database where datname = 'oda'\"" | grep -q 1 \
  || su postgres -c "psql -qc 'create database oda owner oda'"
echo "postgres $version: postgresql://oda:oda@127.0.0.1:5432/oda"
