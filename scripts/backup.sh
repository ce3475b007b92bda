#!/usr/bin/env bash
# One backup of animus's Postgres database: `pg_dump --format=custom` into
# $ANIMUS_BACKUP_DIR/animus-<UTC timestamp>.dump, written to a temporary name first and
# renamed when complete, then only the newest $ANIMUS_BACKUP_KEEP dumps are kept.
# Restore:  createdb animus_restored && pg_restore --no-owner -d <url of it> <dump>
# Environment:
#   DATABASE_URL         the database to dump (required; the embedded default cannot be
#                        dumped while `animus serve` holds it — see README.md ("animus as a service"))
#   ANIMUS_BACKUP_DIR    where dumps go (default ~/.local/share/animus/backups)
#   ANIMUS_BACKUP_KEEP   how many dumps to keep (default 7, at least 1)
# Exit codes: 0 done; 64 bad settings; 69 pg_dump failed; 78 no DATABASE_URL.
set -euo pipefail
umask 077

die() { local code="$1"; shift; printf 'animus-backup: %s\n' "$*" >&2; exit "$code"; }

[ -n "${DATABASE_URL:-}" ] || die 78 "DATABASE_URL is not set (example: DATABASE_URL=postgres://animus@127.0.0.1:5432/animus)"
dir="${ANIMUS_BACKUP_DIR:-${HOME}/.local/share/animus/backups}"
keep="${ANIMUS_BACKUP_KEEP:-7}"
case "$keep" in
  ''|*[!0-9]*) die 64 "ANIMUS_BACKUP_KEEP must be a whole number of dumps to keep, got '$keep' (example: ANIMUS_BACKUP_KEEP=7)" ;;
esac
[ "$keep" -ge 1 ] || die 64 "ANIMUS_BACKUP_KEEP must be at least 1, got '$keep'"
command -v pg_dump >/dev/null || die 69 "pg_dump not found (Debian: apt-get install postgresql-client)"

mkdir -p "$dir"
stamp="$(date -u +%Y%m%dT%H%M%S.%3NZ)"
target="$dir/animus-$stamp.dump"
partial="$target.partial"
trap 'rm -f "$partial"' EXIT

if ! pg_dump --format=custom --no-owner --file="$partial" --dbname="$DATABASE_URL"; then
  die 69 "pg_dump failed; the previous dumps in $dir are untouched"
fi
mv "$partial" "$target"
printf 'animus-backup: wrote %s (%s bytes)\n' "$target" "$(stat -c %s "$target")"

# Retention: names sort by time, so everything before the newest $keep goes.
mapfile -t dumps < <(find "$dir" -maxdepth 1 -type f -name 'animus-*.dump' -printf '%f\n' | sort)
excess=$(( ${#dumps[@]} - keep ))
for (( i = 0; i < excess; i++ )); do
  rm -f -- "$dir/${dumps[$i]}"
  printf 'animus-backup: removed old dump %s\n' "${dumps[$i]}"
done
