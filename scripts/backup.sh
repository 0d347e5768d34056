#!/usr/bin/env bash
# Back up Navreme's PostgreSQL database: a pg_dump custom-format archive, and beside it the
# audit chain's head as verified just before the dump (restore.sh checks the restored chain
# still contains it, so a backup cut short is noticed).
#
#   NAVREME_DATABASE_URL=postgresql://user@host:5432/navreme scripts/backup.sh /backups/navreme-$(date +%F).dump
#
# Needs pg_dump (of the server's major version or newer) and `navreme` on PATH.
set -euo pipefail

out=${1:?usage: backup.sh OUTPUT.dump}
url=${NAVREME_DATABASE_URL:?set NAVREME_DATABASE_URL to the postgresql:// URL of the database}
url=${url/postgresql+psycopg:/postgresql:}

verified=$(navreme audit verify)        # exits 1 (and so do we) if the chain is already broken
echo "$verified"
head=${verified##* head }
pg_dump --format=custom --compress=6 --no-owner --no-privileges --file="$out.partial" --dbname="$url"
mv "$out.partial" "$out"
echo "$head" > "$out.audit-head"
echo "backup written: $out ($(du -h "$out" | cut -f1)), audit head $head"
