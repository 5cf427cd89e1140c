#!/bin/sh
# Throwaway PostgreSQL cluster for tests, benchmarks and the demo.
#   . tests/pg.sh; pg_start; ...; pg_stop
# pg_start exports PG_TMP, PGPORT and CBI_TEST_DATABASE_URL (superuser,
# trust auth, 127.0.0.1 only). Runs the server as the "postgres" user when
# invoked as root (initdb refuses root).

pg_bindir() {
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

pg_as() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  PG_BIN=$(pg_bindir) || { echo "pg.sh: initdb not found (apt-get install postgresql)" >&2; return 1; }
  PG_TMP=$(mktemp -d /tmp/cbi-pg.XXXXXX)
  chmod 755 "$PG_TMP"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_TMP"
  PGPORT=${PGPORT_TEST:-$(( 20000 + $$ % 20000 ))}
  pg_as "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres -A trust -E UTF8 --no-locale >"$PG_TMP/initdb.log" 2>&1 \
    || { cat "$PG_TMP/initdb.log" >&2; return 1; }
  pg_as "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
    -o "-p $PGPORT -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
    start >/dev/null || { cat "$PG_TMP/server.log" >&2; return 1; }
  CBI_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT/postgres"
  export PG_TMP PG_BIN PGPORT CBI_TEST_DATABASE_URL
}

# Restart (used by tests that kill the server mid-batch).
pg_restart() {
  pg_as "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w restart >/dev/null
}

pg_stop() {
  [ -n "${PG_TMP:-}" ] || return 0
  pg_as "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
  PG_TMP=""
}
