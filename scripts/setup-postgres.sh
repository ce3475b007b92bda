#!/usr/bin/env bash
# Prepares a Debian-family machine's PostgreSQL server for animus, as root, idempotently:
#   1. installs postgresql-server-dev-<major> for the running server;
#   2. builds and installs pgvector from Debian's source package `pgvector`, fetched through a
#      private apt configuration with a deb-src line for a release that carries pgvector 0.8
#      (trixie) — the machine's own apt sources are never changed;
#   3. starts the server if it is down and creates the databases the tests use.
# Environment: PGHOST (127.0.0.1), PGPORT (5432), PGUSER (postgres),
#              ANIMUS_TEST_DATABASES ("animus_test"), PGVECTOR_SUITE (trixie).
set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
suite="${PGVECTOR_SUITE:-trixie}"
databases="${ANIMUS_TEST_DATABASES:-animus_test}"
log() { printf '[setup-postgres] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-postgres.sh: run as root (it installs packages and extension files)" >&2
  exit 1
fi

# Start the cluster if it is not answering (CI machines start it, a rebooted one may not).
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  log "server not answering on $PGHOST:$PGPORT; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
fi
pg_isready -h "$PGHOST" -p "$PGPORT" >/dev/null || { echo "PostgreSQL is not reachable at $PGHOST:$PGPORT" >&2; exit 1; }

major="$(psql -XAtqc 'SHOW server_version_num' | cut -c1-2)"
log "server major version: $major"

have_vector() {
  psql -XAtqc "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'" | grep -q 1
}

if have_vector; then
  log "pgvector already available: $(psql -XAtqc "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")"
else
  export DEBIAN_FRONTEND=noninteractive
  if ! dpkg -s "postgresql-server-dev-$major" >/dev/null 2>&1; then
    log "installing postgresql-server-dev-$major"
    apt-get update -qq
    apt-get install -y -qq "postgresql-server-dev-$major" dpkg-dev >/dev/null
  fi
  command -v dpkg-source >/dev/null || apt-get install -y -qq dpkg-dev >/dev/null

  # A private apt configuration that only knows the deb-src line for pgvector's source.
  aptdir="$(mktemp -d /tmp/animus-apt.XXXXXX)"
  chmod 755 "$aptdir"
  trap 'rm -rf "$aptdir"' EXIT
  mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/sources.list.d" "$aptdir/preferences.d"
  # The machine's own Debian mirror (enabled .sources/.list files only), else Debian's default.
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -E '^(URIs:|deb )' | grep -oE 'https?://[^ ]+/debian/?( |$)' | tr -d ' ' | head -n1 || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "deb-src [signed-by=$keyring] $mirror $suite main" >"$aptdir/sources.list"
  aptopts=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=$aptdir/sources.list.d"
    -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache" -o "Dir::Etc::Preferences=$aptdir/preferences"
    -o "Dir::Etc::PreferencesParts=$aptdir/preferences.d" -o "APT::Sandbox::User=root")
  log "fetching Debian source package pgvector ($suite) from $mirror"
  apt-get "${aptopts[@]}" update -qq
  build="$aptdir/build"
  mkdir -p "$build"
  (cd "$build" && apt-get "${aptopts[@]}" source -qq --download-only pgvector >/dev/null)
  dsc="$(ls "$build"/pgvector_*.dsc | head -n1)"
  (cd "$build" && dpkg-source --no-check -x "$dsc" src >/dev/null)
  log "building $(basename "$dsc" .dsc) against PostgreSQL $major"
  make -s -C "$build/src" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" OPTFLAGS="" >/dev/null
  make -s -C "$build/src" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" install >/dev/null
  have_vector || { echo "pgvector was built but the server does not list it" >&2; exit 1; }
  log "pgvector installed: $(psql -XAtqc "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")"
fi

for db in $databases; do
  if ! psql -XAtqc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    log "creating database $db"
    createdb "$db"
  fi
done
log "ready: postgres://$PGUSER@$PGHOST:$PGPORT/ (databases: $databases)"
