/* Schema migrations: the schema/NNN_name.sql files compiled into the binary
 * (embedded.h), applied in order, each in its own transaction, and recorded
 * in schema_migrations (version, description, checksum = sha256 hex of the
 * file, applied_at). Applying is idempotent; a changed file whose version is
 * already applied is an error naming the file.
 *
 * Part of the sink (src/sink), the only module that talks to PostgreSQL:
 * each call opens its own connection from a libpq connection string
 * (conninfo; secrets are redacted in every message) and closes it before
 * returning. The sink checks the schema on every connect the same way. */
#ifndef CBI_MIGRATE_H
#define CBI_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

enum {
  MIGRATE_OK = 0,
  MIGRATE_ERR_DB = -1,       /* a statement failed (detail in err) */
  MIGRATE_ERR_CHECKSUM = -2, /* an applied migration's file has changed */
  MIGRATE_ERR_UNKNOWN = -3,  /* the database has a version this build lacks */
  MIGRATE_ERR_PENDING = -4,  /* migrate_check: migrations not applied yet */
  MIGRATE_ERR_EMBED = -5,    /* an embedded file name is malformed */
  MIGRATE_ERR_CONNECT = -6   /* cannot connect (detail in err, conninfo redacted) */
};

/* Applies every embedded migration not yet recorded, in version order,
 * each in one transaction, under a session advisory lock so concurrent
 * runs serialise. *applied (may be NULL) gets the number applied now.
 * Returns 0, or a negative code (MIGRATE_ERR_CONNECT when the database
 * cannot be reached) with a message in err. */
int migrate_run(const char *conninfo, int *applied, char *err, size_t errsz);

/* Verifies that every embedded migration is applied with a matching
 * checksum and that the database has no version unknown to this build.
 * Returns 0, or MIGRATE_ERR_PENDING / _CHECKSUM / _UNKNOWN / _DB with a
 * message in err. Read-only. */
int migrate_check(const char *conninfo, char *err, size_t errsz);

/* Prints one line per migration: version, state (applied at ... / pending /
 * CHECKSUM MISMATCH / unknown to this build), file. Returns 0 when all are
 * applied and match, MIGRATE_ERR_PENDING when some are pending, or
 * another negative code. */
int migrate_status(const char *conninfo, FILE *out, char *err, size_t errsz);

/* Static text for a code. */
const char *migrate_strerror(int code);

#endif
