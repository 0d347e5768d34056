#!/usr/bin/env bash
# Restore a backup made by backup.sh into the database NAVREME_DATABASE_URL names, then prove
# it: the audit chain verifies and still contains the head noted at backup time.
#
#   NAVREME_DATABASE_URL=postgresql://user@host:5432/navreme scripts/restore.sh /backups/navreme-2026-11-23.dump
#
# The database is created when missing; one that already holds tables is refused (drop it
# first, deliberately). Stop the API and the workers before, start them after.
# Needs pg_restore and psql (of the server's major version or newer) and `navreme` on PATH.
set -euo pipefail

dump=${1:?usage: restore.sh INPUT.dump}
url=${NAVREME_DATABASE_URL:?set NAVREME_DATABASE_URL to the postgresql:// URL of the database}
url=${url/postgresql+psycopg:/postgresql:}
base=${url%%\?*}
query=${url#"$base"}
name=${base##*/}
maintenance="${base%/*}/postgres$query"

sql() {  # psql interpolates :'name' in a script read from stdin, never in --command
  psql --no-psqlrc --quiet --tuples-only --no-align --set=ON_ERROR_STOP=1 --set=name="$name" "$@"
}
if [[ -z $(sql --dbname="$maintenance" <<<"SELECT 1 FROM pg_database WHERE datname = :'name'") ]]; then
  sql --dbname="$maintenance" <<<'CREATE DATABASE :"name"'
elif [[ $(sql --dbname="$url" <<<"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") != 0 ]]; then
  echo "refusing: database $name already holds tables (drop it first to restore over it)" >&2
  exit 2
fi

pg_restore --exit-on-error --single-transaction --no-owner --no-privileges --dbname="$url" "$dump"
expect=()
if [[ -f "$dump.audit-head" ]]; then
  expect=(--expect-head "$(cat "$dump.audit-head")")
fi
navreme audit verify "${expect[@]}"
echo "restored $dump into $name"
