/* Leadership through a term-scoped lease row (sink_jobs.h, "Leadership").
 *
 * Why a lease row and not a session advisory lock: an advisory lock is
 * released by the server the moment it sees the holder's session end, while
 * the holder learns of it only at its next statement, so for a moment two
 * nodes believe they lead. With the lease, the holder's trust ends at
 * (send time of its last successful renewal + ttl - margin) on its own
 * clock, strictly before the expiry the server stored, and nobody can take
 * the lease before that expiry. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "progress.h"
#include "sink_jobs.h"
#include "sink_jobs_priv.h"

#define NAME_MAX_LEN 128

struct sink_leader {
  char *conninfo;
  char name[NAME_MAX_LEN];
  char holder[NAME_MAX_LEN];
  int ttl_ms;
  PGconn *conn;
  int leading;                      /* tick thread's view */
  int64_t term_local;               /* term while leading */
  int64_t next_renew_ms;            /* mono */
  int64_t holdoff_until_ms;         /* mono: no contending before */
  _Atomic int64_t trusted_until_ms; /* mono; 0 = not leading */
  _Atomic int64_t term;             /* 0 = not leading */
  int warned_conn;
};

static int margin_ms(const sink_leader_t *l) {
  int m = l->ttl_ms / 10;
  return m < 50 ? 50 : m;
}

int sink_leader_new(const char *conninfo, const char *name, const char *holder, int ttl_ms,
                    sink_leader_t **out, char *err, size_t errsz) {
  *out = NULL;
  if (!conninfo || !name || !*name || strlen(name) >= NAME_MAX_LEN || !holder || !*holder ||
      strlen(holder) >= NAME_MAX_LEN || ttl_ms < 300) {
    snprintf(err, errsz, "sink_leader_new: conninfo, name, holder (1..%d chars) and ttl >= 300 ms",
             NAME_MAX_LEN - 1);
    return SINK_JOBS_ERR_INVALID;
  }
  sink_leader_t *l = calloc(1, sizeof *l);
  if (!l || !(l->conninfo = strdup(conninfo))) {
    free(l);
    snprintf(err, errsz, "out of memory");
    return SINK_JOBS_ERR_NOMEM;
  }
  snprintf(l->name, sizeof l->name, "%s", name);
  snprintf(l->holder, sizeof l->holder, "%s", holder);
  l->ttl_ms = ttl_ms;
  atomic_store(&l->trusted_until_ms, 0);
  atomic_store(&l->term, 0);
  *out = l;
  return 0;
}

static void drop_conn(sink_leader_t *l) {
  if (l->conn) PQfinish(l->conn);
  l->conn = NULL;
}

static int ensure(sink_leader_t *l) {
  if (l->conn && PQstatus(l->conn) == CONNECTION_OK) return 0;
  drop_conn(l);
  char err[512];
  /* application_name names the holder (pg_stat_activity shows who leads) */
  char app[64];
  snprintf(app, sizeof app, "cbi leader %.52s", l->holder);
  l->conn = sink_jobs_connect(l->conninfo, l->ttl_ms / 4, l->ttl_ms / 4, app, err, sizeof err);
  if (!l->conn) {
    if (!l->warned_conn++)
      log_warn("leader", "database unavailable name=%s error=%s", l->name, err);
    return SINK_JOBS_ERR_CONNECT;
  }
  l->warned_conn = 0;
  return 0;
}

static void step_down(sink_leader_t *l, const char *why) {
  atomic_store(&l->trusted_until_ms, 0);
  atomic_store(&l->term, 0);
  if (l->leading)
    log_warn("leader", "stepped down name=%s holder=%s term=%" PRId64 " reason=%s", l->name,
             l->holder, l->term_local, why);
  l->leading = 0;
  l->term_local = 0;
  l->holdoff_until_ms = progress_now_ms() + l->ttl_ms;
}

/* Runs the lease statement; returns the term (> 0) when we hold the lease
 * afterwards, 0 when not, or a negative code. */
static int64_t lease_stmt(sink_leader_t *l, const char *sql, int with_term) {
  char ttl[16], term[24];
  snprintf(ttl, sizeof ttl, "%d", l->ttl_ms);
  snprintf(term, sizeof term, "%" PRId64, l->term_local);
  const char *p[4] = {l->name, l->holder, ttl, term};
  PGresult *r = PQexecParams(l->conn, sql, with_term ? 4 : 3, NULL, p, NULL, NULL, 0);
  int64_t out;
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    log_warn("leader", "lease statement failed name=%s error=%s", l->name, PQresultErrorMessage(r));
    out = PQstatus(l->conn) == CONNECTION_OK ? SINK_JOBS_ERR_DB : SINK_JOBS_ERR_CONNECT;
    if (out == SINK_JOBS_ERR_CONNECT) drop_conn(l);
  } else {
    out = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
  }
  PQclear(r);
  return out;
}

int sink_leader_tick(sink_leader_t *l) {
  int64_t now = progress_now_ms();
  if (l->leading) {
    if (now < l->next_renew_ms && sink_leader_is_leader(l)) return 1;
    if (!sink_leader_is_leader(l)) {
      step_down(l, "lease not renewed in time");
      return 0;
    }
    if (ensure(l) != 0) {
      step_down(l, "database connection lost");
      return SINK_JOBS_ERR_CONNECT;
    }
    int64_t t0 = progress_now_ms();
    int64_t t = lease_stmt(l,
                           "UPDATE leader_leases SET renewed_at = now(),"
                           " expires_at = now() + $3::integer * interval '1 millisecond'"
                           " WHERE name = $1 AND holder = $2 AND term = $4::bigint"
                           " AND expires_at > now() RETURNING term",
                           1);
    if (t <= 0) {
      step_down(l, t == 0 ? "lease taken" : "renewal failed");
      return t == 0 ? 0 : (int)t;
    }
    atomic_store(&l->trusted_until_ms, t0 + l->ttl_ms - margin_ms(l));
    l->next_renew_ms = t0 + l->ttl_ms / 4;
    return 1;
  }
  if (now < l->holdoff_until_ms) return 0;
  if (ensure(l) != 0) return SINK_JOBS_ERR_CONNECT;
  int64_t t0 = progress_now_ms();
  int64_t t = lease_stmt(l,
                         "INSERT INTO leader_leases (name, holder, term, expires_at)"
                         " VALUES ($1, $2, 1, now() + $3::integer * interval '1 millisecond')"
                         " ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder,"
                         "  term = leader_leases.term + 1, acquired_at = now(), renewed_at = now(),"
                         "  expires_at = EXCLUDED.expires_at"
                         " WHERE leader_leases.expires_at <= now() RETURNING term",
                         0);
  if (t < 0) return (int)t;
  if (t == 0) return 0;
  l->leading = 1;
  l->term_local = t;
  atomic_store(&l->term, t);
  atomic_store(&l->trusted_until_ms, t0 + l->ttl_ms - margin_ms(l));
  l->next_renew_ms = t0 + l->ttl_ms / 4;
  log_info("leader", "leading name=%s holder=%s term=%" PRId64, l->name, l->holder, t);
  return 1;
}

bool sink_leader_is_leader(const sink_leader_t *l) {
  int64_t until = atomic_load(&((sink_leader_t *)l)->trusted_until_ms);
  return until > 0 && progress_now_ms() < until;
}

int64_t sink_leader_term(const sink_leader_t *l) {
  return sink_leader_is_leader(l) ? atomic_load(&((sink_leader_t *)l)->term) : 0;
}

int sink_leader_next_tick_ms(const sink_leader_t *l) {
  int64_t now = progress_now_ms();
  int64_t at = l->leading ? l->next_renew_ms : now + l->ttl_ms / 4;
  if (!l->leading && l->holdoff_until_ms > at) at = l->holdoff_until_ms;
  return at > now ? (int)(at - now) : 0;
}

int sink_leader_current(sink_leader_t *l, char *holder, size_t holdersz, int64_t *term,
                        bool *valid) {
  if (holder && holdersz) holder[0] = '\0';
  *term = 0;
  *valid = false;
  if (ensure(l) != 0) return SINK_JOBS_ERR_CONNECT;
  const char *p[1] = {l->name};
  PGresult *r = PQexecParams(l->conn,
                             "SELECT holder, term, expires_at > now() FROM leader_leases"
                             " WHERE name = $1",
                             1, NULL, p, NULL, NULL, 0);
  int rc;
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    rc = PQstatus(l->conn) == CONNECTION_OK ? SINK_JOBS_ERR_DB : SINK_JOBS_ERR_CONNECT;
  } else if (PQntuples(r) == 0) {
    rc = 0;
  } else {
    if (holder && holdersz) snprintf(holder, holdersz, "%s", PQgetvalue(r, 0, 0));
    *term = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    *valid = PQgetvalue(r, 0, 2)[0] == 't';
    rc = 1;
  }
  PQclear(r);
  return rc;
}

int sink_leader_backend_pid(const sink_leader_t *l) {
  return l->conn && PQstatus(l->conn) == CONNECTION_OK ? PQbackendPID(l->conn) : 0;
}

void sink_leader_free(sink_leader_t *l) {
  if (!l) return;
  if (l->leading && l->conn && PQstatus(l->conn) == CONNECTION_OK) {
    atomic_store(&l->trusted_until_ms, 0);
    char term[24];
    snprintf(term, sizeof term, "%" PRId64, l->term_local);
    const char *p[3] = {l->name, l->holder, term};
    PGresult *r = PQexecParams(l->conn,
                               "UPDATE leader_leases SET expires_at = now()"
                               " WHERE name = $1 AND holder = $2 AND term = $3::bigint",
                               3, NULL, p, NULL, NULL, 0);
    PQclear(r);
    log_info("leader", "released name=%s holder=%s term=%" PRId64, l->name, l->holder,
             l->term_local);
  }
  drop_conn(l);
  free(l->conninfo);
  free(l);
}
