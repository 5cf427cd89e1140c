/* Operator reads and deletes (sink_admin.h), and the reconciliation list
 * of open accounts (sink.h sink_list_open_accounts). */
#include "sink_admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_priv.h"

static PGresult *query(sink_t *s, const char *sql, int n, const char *const *params, int *rc) {
  PGconn *c = NULL;
  *rc = sink_connection(s, &c);
  if (*rc != SINK_OK) return NULL;
  PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    sink_set_err(s, "%s", PQresultErrorMessage(r));
    PQclear(r);
    *rc = SINK_ERR_DB;
    return NULL;
  }
  return r;
}

long sink_admin_dead_letters(sink_t *s, const char *kind, int64_t id, int with_raw,
                             sink_dead_letter_fn fn, void *user) {
  if (!s || !fn) return SINK_ERR_INVALID;
  char idtxt[24];
  snprintf(idtxt, sizeof idtxt, "%" PRId64, id);
  const char *params[3] = {kind, id > 0 ? idtxt : NULL, with_raw ? "1" : NULL};
  int rc;
  PGresult *r = query(s,
                      "SELECT id, kind, key, slot, reason, "
                      "CASE WHEN $3::text IS NULL THEN NULL ELSE raw END, attempts, "
                      "to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                      "to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                      "FROM dead_letters WHERE ($1::text IS NULL OR kind = $1) "
                      "AND ($2::bigint IS NULL OR id = $2) ORDER BY id",
                      3, params, &rc);
  if (!r) return rc;
  long n = 0;
  for (int i = 0; i < PQntuples(r); i++, n++) {
    sink_dead_letter_t d;
    memset(&d, 0, sizeof d);
    d.id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    d.kind = PQgetvalue(r, i, 1);
    d.key = PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2);
    d.slot = PQgetisnull(r, i, 3) ? 0 : strtoull(PQgetvalue(r, i, 3), NULL, 10);
    d.reason = PQgetvalue(r, i, 4);
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    if (!PQgetisnull(r, i, 5)) {
      raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 5), &rawlen);
      d.raw = raw;
      d.rawlen = raw ? rawlen : 0;
    }
    d.attempts = strtol(PQgetvalue(r, i, 6), NULL, 10);
    d.first_seen = PQgetvalue(r, i, 7);
    d.last_seen = PQgetvalue(r, i, 8);
    int stop = fn(user, &d);
    if (raw) PQfreemem(raw);
    if (stop) {
      n++;
      break;
    }
  }
  PQclear(r);
  return n;
}

long sink_admin_dead_letters_delete(sink_t *s, const int64_t *ids, size_t n) {
  if (!s || (n && !ids)) return SINK_ERR_INVALID;
  if (n == 0) return 0;
  sink_buf_t b = {0};
  sink_buf_put(&b, "{", 1);
  for (size_t i = 0; i < n; i++) {
    char t[24];
    int k = snprintf(t, sizeof t, "%s%" PRId64, i ? "," : "", ids[i]);
    sink_buf_put(&b, t, (size_t)k);
  }
  sink_buf_put(&b, "}", 2);
  if (b.oom) {
    sink_buf_free(&b);
    return SINK_ERR_NOMEM;
  }
  const char *params[1] = {b.p};
  int rc;
  PGresult *r = query(s, "DELETE FROM dead_letters WHERE id = ANY($1::bigint[])", 1, params, &rc);
  sink_buf_free(&b);
  if (!r) return rc;
  long d = strtol(PQcmdTuples(r), NULL, 10);
  PQclear(r);
  return d;
}

long sink_admin_dead_letters_purge(sink_t *s, const char *before) {
  if (!s || !before) return SINK_ERR_INVALID;
  const char *params[1] = {before};
  int rc;
  PGresult *r = query(s, "DELETE FROM dead_letters WHERE last_seen < $1::timestamptz", 1, params, &rc);
  if (!r) return rc;
  long d = strtol(PQcmdTuples(r), NULL, 10);
  PQclear(r);
  return d;
}

/* sink.h: every cached account not marked closed (reconciliation). */
int sink_list_open_accounts(sink_t *s, sink_account_cb cb, void *ud) {
  static const struct {
    const char *sql;
    cb_account_kind_t kind;
  } q[] = {
      {"SELECT config_pubkey, sync_slot FROM platform_config WHERE closed_at IS NULL "
       "ORDER BY config_pubkey", CB_ACCOUNT_GLOBAL_CONFIG},
      {"SELECT market_pubkey, sync_slot FROM markets_cache WHERE closed_at IS NULL "
       "ORDER BY market_pubkey", CB_ACCOUNT_MARKET},
      {"SELECT position_pubkey, sync_slot FROM position_accounts WHERE closed_at IS NULL "
       "ORDER BY position_pubkey", CB_ACCOUNT_POSITION},
      {"SELECT treasury_pubkey, sync_slot FROM treasuries_cache WHERE closed_at IS NULL "
       "ORDER BY treasury_pubkey", CB_ACCOUNT_TREASURY},
      {"SELECT oracle_pubkey, sync_slot FROM oracle_data_cache WHERE closed_at IS NULL "
       "ORDER BY oracle_pubkey", CB_ACCOUNT_ORACLE_DATA},
  };
  if (!s || !cb) return SINK_ERR_INVALID;
  int rc = sink_flush(s);
  if (rc != SINK_OK) return rc;
  PGconn *conn = NULL;
  rc = sink_connection(s, &conn);
  if (rc != SINK_OK) return rc;
  for (size_t t = 0; t < sizeof q / sizeof q[0]; t++) {
    if (!PQsendQueryParams(conn, q[t].sql, 0, NULL, NULL, NULL, NULL, 0) ||
        !PQsetSingleRowMode(conn)) {
      sink_set_err(s, "list accounts: %s", PQerrorMessage(conn));
      return SINK_ERR_DB; /* a broken connection is replaced at its next use */
    }
    int stop = 0, failed = 0;
    PGresult *r;
    while ((r = PQgetResult(conn)) != NULL) {
      ExecStatusType es = PQresultStatus(r);
      if (es == PGRES_SINGLE_TUPLE && !stop) {
        char *end = NULL;
        unsigned long long v = strtoull(PQgetvalue(r, 0, 1), &end, 10);
        if (cb(ud, PQgetvalue(r, 0, 0), q[t].kind, (uint64_t)v) != 0) stop = 1;
      } else if (es != PGRES_SINGLE_TUPLE && es != PGRES_TUPLES_OK && !failed) {
        sink_set_err(s, "list accounts: %s", PQresultErrorMessage(r));
        failed = 1;
      }
      PQclear(r);
    }
    if (failed) return SINK_ERR_DB;
    if (stop) return SINK_ERR_CALLBACK;
  }
  return SINK_OK;
}

static const char *const count_tables[] = {"platform_config",   "markets_cache",
                                           "position_accounts", "treasuries_cache",
                                           "oracle_data_cache", "transactions",
                                           "users",             "dead_letters",
                                           NULL};

int sink_admin_status(sink_t *s, json_t **out) {
  if (!s || !out) return SINK_ERR_INVALID;
  *out = NULL;
  int rc;
  json_t *o = json_object(), *cps = json_array(), *dl = json_object(), *rows = json_object();
  if (!o || !cps || !dl || !rows) goto nomem;
  json_object_set_new(o, "checkpoints", cps);
  json_object_set_new(o, "dead_letters", dl);
  json_object_set_new(o, "rows", rows);
  PGresult *r = query(s,
                      "SELECT stream, slot, to_char(updated_at AT TIME ZONE 'UTC', "
                      "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM sync_checkpoints ORDER BY stream",
                      0, NULL, &rc);
  if (!r) goto fail;
  const char *last = NULL;
  for (int i = 0; i < PQntuples(r); i++) {
    json_array_append_new(cps, json_pack("{s:s,s:I,s:s}", "stream", PQgetvalue(r, i, 0), "slot",
                                         (json_int_t)strtoll(PQgetvalue(r, i, 1), NULL, 10),
                                         "updated_at", PQgetvalue(r, i, 2)));
    if (!last || strcmp(PQgetvalue(r, i, 2), last) > 0) last = PQgetvalue(r, i, 2);
  }
  json_object_set_new(o, "last_commit", last ? json_string(last) : json_null());
  PQclear(r);
  r = query(s, "SELECT kind, count(*) FROM dead_letters GROUP BY kind ORDER BY kind", 0, NULL, &rc);
  if (!r) goto fail;
  for (int i = 0; i < PQntuples(r); i++)
    json_object_set_new(dl, PQgetvalue(r, i, 0),
                        json_integer(strtoll(PQgetvalue(r, i, 1), NULL, 10)));
  PQclear(r);
  for (int k = 0; count_tables[k]; k++) {
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", count_tables[k]); /* fixed names */
    r = query(s, sql, 0, NULL, &rc);
    if (!r) goto fail;
    json_object_set_new(rows, count_tables[k], json_integer(strtoll(PQgetvalue(r, 0, 0), NULL, 10)));
    PQclear(r);
  }
  *out = o;
  return SINK_OK;
nomem:
  rc = SINK_ERR_NOMEM;
fail:
  json_decref(o);
  if (!o) {
    json_decref(cps);
    json_decref(dl);
    json_decref(rows);
  }
  return rc;
}
