#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback, for the store tests.
#
#   scripts/postgres-test-cluster.sh start [DIR]   start a cluster in DIR (default: a new temp
#                                                  dir); print its URL on stdout
#   scripts/postgres-test-cluster.sh env [DIR]     start, then print `export …` lines for eval:
#                                                  BRIGHTLINE_TEST_POSTGRES_URL and _DIR
#   scripts/postgres-test-cluster.sh url DIR       print the URL of the cluster in DIR
#   scripts/postgres-test-cluster.sh stop DIR      stop the cluster and delete DIR
#   scripts/postgres-test-cluster.sh run CMD…      start a cluster, run CMD with the two
#                                                  variables set, stop the cluster whatever
#                                                  happens; CMD's exit status (`make test`)
#
# PostgreSQL is installed from Debian's packages when no initdb/pg_ctl can be found
# (this needs root). initdb refuses to run as root, so as root the cluster belongs to
# the `postgres` user (created by the package). The cluster trusts local connections:
# it listens on 127.0.0.1 only, on a free port, and lives only as long as the tests.
set -euo pipefail

die() { echo "postgres-test-cluster: $*" >&2; exit 1; }
log() { echo "postgres-test-cluster: $*" >&2; }

find_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(readlink -f "$(command -v initdb)")"; return 0
  fi
  return 1
}

ensure_postgres() {
  if BINDIR=$(find_bindir); then return 0; fi
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
  log "installing PostgreSQL from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  BINDIR=$(find_bindir) || die "PostgreSQL was installed but initdb/pg_ctl were not found"
}

# Run a PostgreSQL program as the cluster's owner.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$OWNER" -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  die "no free port found"
}

cmd_start() {
  ensure_postgres
  local dir=${1:-}
  if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/brightline-pg.XXXXXX"); fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -e "$dir/data" ] && die "$dir already holds a cluster"
  OWNER=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    OWNER=postgres
    id "$OWNER" >/dev/null 2>&1 || useradd --system --no-create-home "$OWNER"
    chown "$OWNER" "$dir"
  fi
  as_owner "$BINDIR/initdb" -D "$dir/data" -U brightline --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  local port
  port=$(free_port)
  # fsync off: the cluster is thrown away; a killed client (the crash tests) never
  # depends on the server's durability, only on its transactions.
  as_owner "$BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$dir/server.log" >&2; die "the server did not start"; }
  as_owner "$BINDIR/createdb" -h 127.0.0.1 -p "$port" -U brightline brightline_test \
    || die "createdb failed"
  echo "$OWNER" >"$dir/owner"
  echo "$BINDIR" >"$dir/bindir"
  echo "postgresql+psycopg://brightline@127.0.0.1:$port/brightline_test" >"$dir/url"
  log "cluster running in $dir"
  echo "$dir"
}

cmd_stop() {
  local dir=${1:?usage: stop DIR}
  [ -d "$dir/data" ] || die "no cluster in $dir"
  OWNER=$(cat "$dir/owner")
  BINDIR=$(cat "$dir/bindir")
  as_owner "$BINDIR/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start)
    dir=$(cmd_start "${2:-}")
    cat "$dir/url"
    ;;
  env)
    dir=$(cmd_start "${2:-}")
    echo "export BRIGHTLINE_TEST_POSTGRES_URL=$(cat "$dir/url")"
    echo "export BRIGHTLINE_TEST_POSTGRES_DIR=$dir"
    ;;
  run)
    shift
    [ $# -gt 0 ] || die "usage: run CMD…"
    if [ -n "${BRIGHTLINE_TEST_POSTGRES_URL:-}" ]; then exec "$@"; fi  # a server given
    dir=$(cmd_start "")
    trap 'cmd_stop "$dir"' EXIT
    trap 'exit 130' INT TERM
    status=0
    BRIGHTLINE_TEST_POSTGRES_URL=$(cat "$dir/url") BRIGHTLINE_TEST_POSTGRES_DIR=$dir "$@" \
      || status=$?
    exit "$status"
    ;;
  url) cat "${2:?usage: url DIR}/url" ;;
  stop) cmd_stop "${2:-}" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
