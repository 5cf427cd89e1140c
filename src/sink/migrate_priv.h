/* Migrations on an open connection: the sink's own use (sink.c checks the
 * schema on every connect) behind the conninfo entry points of migrate.h.
 * Not a public interface: only src/sink includes it. Same contracts and
 * codes as migrate_run / migrate_check / migrate_status in migrate.h; the
 * connection is borrowed and stays open. */
#ifndef CBI_MIGRATE_PRIV_H
#define CBI_MIGRATE_PRIV_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

int migrate_run_conn(PGconn *conn, int *applied, char *err, size_t errsz);
int migrate_check_conn(PGconn *conn, char *err, size_t errsz);
int migrate_status_conn(PGconn *conn, FILE *out, char *err, size_t errsz);

#endif
