#include "migrate.h"

#include <libpq-fe.h>

#include <inttypes.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "log.h"
#include "migrate_priv.h"
#include "progress.h"

/* Session advisory lock key serialising concurrent migrate runs ("cbimigr"). */
#define MIGRATE_LOCK_KEY "7164854523081599090"
#define MIGRATE_MAX 256

typedef struct migration {
  const embedded_file_t *file;
  char version[16];
  char description[128];
  char checksum[65];
} migration_t;

typedef struct applied {
  char version[16];
  char checksum[65];
  char applied_at[64];
} applied_t;

static const char *const bootstrap_sql =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version TEXT PRIMARY KEY,"
    " description TEXT NOT NULL,"
    " checksum CHAR(64) NOT NULL,"
    " applied_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),"
    " applied_by TEXT NOT NULL DEFAULT current_user,"
    " execution_time_ms INTEGER)";

const char *migrate_strerror(int code) {
  switch (code) {
  case MIGRATE_OK: return "ok";
  case MIGRATE_ERR_DB: return "database error";
  case MIGRATE_ERR_CHECKSUM: return "applied migration has been modified (checksum mismatch)";
  case MIGRATE_ERR_UNKNOWN: return "database has a migration unknown to this build";
  case MIGRATE_ERR_PENDING: return "migrations pending";
  case MIGRATE_ERR_EMBED: return "malformed embedded migration name";
  case MIGRATE_ERR_CONNECT: return "cannot connect to the database";
  default: return "unknown error";
  }
}

static void sha256_hex(const char *data, size_t len, char out[65]) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, (const unsigned char *)data, len);
  sodium_bin2hex(out, 65, h, sizeof h);
}

/* "schema/001_core_tables.sql" -> version "001", description "core tables". */
static int parse_name(const char *name, migration_t *m) {
  const char *prefix = "schema/";
  size_t plen = strlen(prefix);
  if (strncmp(name, prefix, plen) != 0) return 1; /* not a migration */
  const char *base = name + plen;
  size_t blen = strlen(base);
  if (blen < 5 || strcmp(base + blen - 4, ".sql") != 0) return 1;
  size_t nd = 0;
  while (base[nd] >= '0' && base[nd] <= '9') nd++;
  if (nd == 0 || nd >= sizeof m->version || base[nd] != '_') return -1;
  memcpy(m->version, base, nd);
  m->version[nd] = '\0';
  const char *d = base + nd + 1;
  size_t dlen = blen - nd - 1 - 4;
  if (dlen == 0 || dlen >= sizeof m->description) return -1;
  for (size_t i = 0; i < dlen; i++) m->description[i] = d[i] == '_' ? ' ' : d[i];
  m->description[dlen] = '\0';
  return 0;
}

/* Collects the embedded migrations in file order (sorted by path). */
static int list_migrations(migration_t *out, size_t cap, size_t *n, char *err, size_t errsz) {
  *n = 0;
  for (const embedded_file_t *f = embedded_files; f->name; f++) {
    migration_t m;
    memset(&m, 0, sizeof m);
    int r = parse_name(f->name, &m);
    if (r > 0) continue;
    if (r < 0) {
      snprintf(err, errsz, "embedded migration %s: name must be schema/NNN_description.sql",
               f->name);
      return MIGRATE_ERR_EMBED;
    }
    if (*n > 0 && strcmp(out[*n - 1].version, m.version) >= 0) {
      snprintf(err, errsz, "embedded migration %s: version %s is not after %s", f->name,
               m.version, out[*n - 1].version);
      return MIGRATE_ERR_EMBED;
    }
    if (*n >= cap) {
      snprintf(err, errsz, "too many migrations (max %zu)", cap);
      return MIGRATE_ERR_EMBED;
    }
    m.file = f;
    sha256_hex(f->data, f->len, m.checksum);
    out[(*n)++] = m;
  }
  return MIGRATE_OK;
}

static int exec_ok(PGconn *conn, const char *sql, char *err, size_t errsz) {
  PGresult *r = PQexec(conn, sql);
  ExecStatusType st = PQresultStatus(r);
  int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : MIGRATE_ERR_DB;
  if (rc) snprintf(err, errsz, "%s", PQresultErrorMessage(r));
  PQclear(r);
  return rc;
}

/* Reads schema_migrations (if it exists) into *out (caller frees). */
static int read_applied(PGconn *conn, applied_t **out, size_t *n, char *err, size_t errsz) {
  *out = NULL;
  *n = 0;
  int rc = MIGRATE_OK;
  PGresult *r = PQexec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    snprintf(err, errsz, "%s", PQresultErrorMessage(r));
    rc = MIGRATE_ERR_DB;
    goto out;
  }
  if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) goto out;
  PQclear(r);
  r = PQexec(conn, "SELECT version, checksum, to_char(applied_at AT TIME ZONE 'UTC', "
                   "'YYYY-MM-DD HH24:MI:SS') || ' UTC' FROM schema_migrations ORDER BY version");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    snprintf(err, errsz, "%s", PQresultErrorMessage(r));
    rc = MIGRATE_ERR_DB;
    goto out;
  }
  int rows = PQntuples(r);
  if (rows > 0) {
    *out = calloc((size_t)rows, sizeof **out);
    if (!*out) {
      snprintf(err, errsz, "out of memory");
      rc = MIGRATE_ERR_DB;
      goto out;
    }
  }
  for (int i = 0; i < rows; i++) {
    snprintf((*out)[i].version, sizeof (*out)[i].version, "%s", PQgetvalue(r, i, 0));
    snprintf((*out)[i].checksum, sizeof (*out)[i].checksum, "%s", PQgetvalue(r, i, 1));
    snprintf((*out)[i].applied_at, sizeof (*out)[i].applied_at, "%s", PQgetvalue(r, i, 2));
  }
  *n = (size_t)rows;
out:
  PQclear(r);
  return rc;
}

static const applied_t *find_applied(const applied_t *a, size_t n, const char *version) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(a[i].version, version) == 0) return &a[i];
  return NULL;
}

static const migration_t *find_migration(const migration_t *m, size_t n, const char *version) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(m[i].version, version) == 0) return &m[i];
  return NULL;
}

/* Compares applied versions against the embedded ones: checksum mismatch
 * or unknown versions are errors; *pending counts missing ones. */
static int compare(const migration_t *m, size_t nm, const applied_t *a, size_t na,
                   size_t *pending, char *err, size_t errsz) {
  *pending = 0;
  for (size_t i = 0; i < nm; i++) {
    const applied_t *ap = find_applied(a, na, m[i].version);
    if (!ap) {
      (*pending)++;
      continue;
    }
    if (strcmp(ap->checksum, m[i].checksum) != 0) {
      snprintf(err, errsz,
               "migration %s (%s) was applied with checksum %s but the file now has %s: "
               "applied migrations must not be edited; add a new migration instead",
               m[i].version, m[i].file->name, ap->checksum, m[i].checksum);
      return MIGRATE_ERR_CHECKSUM;
    }
  }
  for (size_t i = 0; i < na; i++) {
    if (!find_migration(m, nm, a[i].version)) {
      snprintf(err, errsz,
               "database has migration %s which this build does not know (newer build?)",
               a[i].version);
      return MIGRATE_ERR_UNKNOWN;
    }
  }
  return MIGRATE_OK;
}

/* The embedded migrations, checksummed, into a new array *m_out (caller
 * frees it, also on failure) of *nm entries. Returns 0 or a MIGRATE_ERR_*
 * code with a message in err. */
static int load_migrations(migration_t **m_out, size_t *nm, char *err, size_t errsz) {
  migration_t *m = calloc(MIGRATE_MAX, sizeof *m);
  *m_out = m;
  if (!m) {
    snprintf(err, errsz, "out of memory");
    return MIGRATE_ERR_DB;
  }
  if (sodium_init() < 0) {
    snprintf(err, errsz, "libsodium initialisation failed");
    return MIGRATE_ERR_DB;
  }
  return list_migrations(m, MIGRATE_MAX, nm, err, errsz);
}

static int apply_one(PGconn *conn, const migration_t *m, char *err, size_t errsz) {
  char detail[512];
  int64_t t0 = progress_now_ms();
  if (exec_ok(conn, "BEGIN", detail, sizeof detail) != 0) goto fail;
  if (exec_ok(conn, m->file->data, detail, sizeof detail) != 0) goto fail_rollback;
  char ms[32];
  snprintf(ms, sizeof ms, "%" PRId64, progress_now_ms() - t0);
  const char *params[4] = {m->version, m->description, m->checksum, ms};
  PGresult *r = PQexecParams(conn,
                             "INSERT INTO schema_migrations (version, description, checksum, "
                             "execution_time_ms) VALUES ($1, $2, $3, $4::integer)",
                             4, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    snprintf(detail, sizeof detail, "%s", PQresultErrorMessage(r));
    PQclear(r);
    goto fail_rollback;
  }
  PQclear(r);
  if (exec_ok(conn, "COMMIT", detail, sizeof detail) != 0) goto fail;
  log_info("migrate", "applied version=%s file=%s ms=%" PRId64, m->version, m->file->name,
           progress_now_ms() - t0);
  return MIGRATE_OK;
fail_rollback:
  PQclear(PQexec(conn, "ROLLBACK"));
fail:
  snprintf(err, errsz, "migration %s (%s) failed: %s", m->version, m->file->name, detail);
  return MIGRATE_ERR_DB;
}

int migrate_run_conn(PGconn *conn, int *applied, char *err, size_t errsz) {
  migration_t *m = NULL;
  applied_t *a = NULL;
  size_t nm = 0, na = 0, pending = 0;
  int locked = 0, count = 0, rc;
  if (applied) *applied = 0;
  rc = load_migrations(&m, &nm, err, errsz);
  if (rc) goto out;
  rc = exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errsz);
  if (rc) goto out;
  locked = 1;
  rc = exec_ok(conn, "SET client_min_messages = warning", err, errsz);
  if (rc) goto out;
  rc = exec_ok(conn, bootstrap_sql, err, errsz);
  if (rc) goto out;
  rc = read_applied(conn, &a, &na, err, errsz);
  if (rc) goto out;
  rc = compare(m, nm, a, na, &pending, err, errsz);
  if (rc) goto out;
  for (size_t i = 0; i < nm; i++) {
    if (find_applied(a, na, m[i].version)) continue;
    rc = apply_one(conn, &m[i], err, errsz);
    if (rc) goto out;
    count++;
  }
  if (count == 0) log_info("migrate", "schema up to date versions=%zu", nm);
out:
  if (locked) {
    PQclear(PQexec(conn, "RESET client_min_messages"));
    PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
  }
  if (applied) *applied = count;
  free(a);
  free(m);
  return rc;
}

int migrate_check_conn(PGconn *conn, char *err, size_t errsz) {
  migration_t *m = NULL;
  applied_t *a = NULL;
  size_t nm = 0, na = 0, pending = 0;
  int rc = load_migrations(&m, &nm, err, errsz);
  if (rc) goto out;
  rc = read_applied(conn, &a, &na, err, errsz);
  if (rc) goto out;
  rc = compare(m, nm, a, na, &pending, err, errsz);
  if (rc) goto out;
  if (pending > 0) {
    snprintf(err, errsz, "%zu of %zu migrations not applied: run 'crypto-bet-indexer migrate'",
             pending, nm);
    rc = MIGRATE_ERR_PENDING;
  }
out:
  free(a);
  free(m);
  return rc;
}

int migrate_status_conn(PGconn *conn, FILE *out, char *err, size_t errsz) {
  migration_t *m = NULL;
  applied_t *a = NULL;
  size_t nm = 0, na = 0;
  int rc, pending = 0, bad = 0, unknown = 0;
  rc = load_migrations(&m, &nm, err, errsz);
  if (rc) goto out;
  rc = read_applied(conn, &a, &na, err, errsz);
  if (rc) goto out;
  for (size_t i = 0; i < nm; i++) {
    const applied_t *ap = find_applied(a, na, m[i].version);
    if (!ap) {
      fprintf(out, "%-6s pending                          %s\n", m[i].version, m[i].file->name);
      pending++;
    } else if (strcmp(ap->checksum, m[i].checksum) != 0) {
      fprintf(out, "%-6s CHECKSUM MISMATCH                %s\n", m[i].version,
              m[i].file->name);
      bad++;
    } else {
      fprintf(out, "%-6s applied %-24s %s\n", m[i].version, ap->applied_at, m[i].file->name);
    }
  }
  for (size_t i = 0; i < na; i++) {
    if (!find_migration(m, nm, a[i].version)) {
      fprintf(out, "%-6s unknown to this build (applied %s)\n", a[i].version, a[i].applied_at);
      unknown++;
    }
  }
  if (bad) {
    snprintf(err, errsz, "%d applied migration(s) modified since they were applied", bad);
    rc = MIGRATE_ERR_CHECKSUM;
  } else if (unknown) {
    snprintf(err, errsz, "%d applied migration(s) unknown to this build", unknown);
    rc = MIGRATE_ERR_UNKNOWN;
  } else if (pending) {
    snprintf(err, errsz, "%d migration(s) pending", pending);
    rc = MIGRATE_ERR_PENDING;
  }
out:
  free(a);
  free(m);
  return rc;
}

/* ---- entry points by connection string ------------------------------------ */

/* Connects for one migrate_* call. Returns the connection or NULL with a
 * message naming the redacted conninfo in err. */
static PGconn *migrate_connect(const char *conninfo, char *err, size_t errsz) {
  char redacted[512];
  log_redact_conninfo(conninfo ? conninfo : "", redacted, sizeof redacted);
  PGconn *c = PQconnectdb(conninfo ? conninfo : "");
  if (PQstatus(c) != CONNECTION_OK) {
    snprintf(err, errsz, "cannot connect database=%s: %s", redacted,
             c ? PQerrorMessage(c) : "out of memory");
    PQfinish(c);
    return NULL;
  }
  return c;
}

int migrate_run(const char *conninfo, int *applied, char *err, size_t errsz) {
  if (applied) *applied = 0;
  PGconn *c = migrate_connect(conninfo, err, errsz);
  if (!c) return MIGRATE_ERR_CONNECT;
  int rc = migrate_run_conn(c, applied, err, errsz);
  PQfinish(c);
  return rc;
}

int migrate_check(const char *conninfo, char *err, size_t errsz) {
  PGconn *c = migrate_connect(conninfo, err, errsz);
  if (!c) return MIGRATE_ERR_CONNECT;
  int rc = migrate_check_conn(c, err, errsz);
  PQfinish(c);
  return rc;
}

int migrate_status(const char *conninfo, FILE *out, char *err, size_t errsz) {
  PGconn *c = migrate_connect(conninfo, err, errsz);
  if (!c) return MIGRATE_ERR_CONNECT;
  int rc = migrate_status_conn(c, out, err, errsz);
  PQfinish(c);
  return rc;
}
