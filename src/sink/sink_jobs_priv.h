/* Internals shared by sink_jobs.c (job queue) and sink_leader.c
 * (leadership): the dedicated connection. Not a public interface. */
#ifndef CBI_SINK_JOBS_PRIV_H
#define CBI_SINK_JOBS_PRIV_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Connects to conninfo with keepalives, connect_timeout (ms, rounded up to
 * whole seconds, at least 2), tcp_user_timeout and statement_timeout of
 * io_timeout_ms (0 = none) so a lost network fails a statement instead of
 * hanging, and the given application_name. Returns the connection or NULL
 * with a message in err (conninfo redacted). */
PGconn *sink_jobs_connect(const char *conninfo, int connect_timeout_ms, int io_timeout_ms,
                          const char *appname, char *err, size_t errsz);

#endif
