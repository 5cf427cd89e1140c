/* The sink's SQL: prepared statements that take one array per column
 * (unnest), so a whole batch of one record kind is one statement, and the
 * encoders that turn typed records into those arrays: binary format for
 * batches (the server parses binary arrays in less than half the time of
 * text literals), text for the per-record path. */
#include <stdlib.h>
#include <string.h>

#include "sink_priv.h"

/* ------------------------------------------------------------ buffers */

static int buf_reserve(sink_buf_t *b, size_t extra) {
  if (b->oom) return -1;
  if (extra <= b->cap - b->n) return 0;
  size_t need = b->n + extra;
  if (need < b->n) goto fail;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) goto fail;
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p) goto fail;
  b->p = p;
  b->cap = cap;
  return 0;
fail:
  b->oom = true;
  return -1;
}

void sink_buf_put(sink_buf_t *b, const char *s, size_t n) {
  if (buf_reserve(b, n) != 0) return;
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static void buf_putc(sink_buf_t *b, char c) {
  if (buf_reserve(b, 1) != 0) return;
  b->p[b->n++] = c;
}

void sink_buf_free(sink_buf_t *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

size_t sink_u64_dec(uint64_t v, char *buf) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return n;
}

/* ------------------------------------------------------ array columns */

static void put_be32(char *o, uint32_t v) {
  o[0] = (char)(v >> 24);
  o[1] = (char)(v >> 16);
  o[2] = (char)(v >> 8);
  o[3] = (char)v;
}

static void buf_be16(sink_buf_t *b, uint16_t v) {
  char o[2] = {(char)(v >> 8), (char)v};
  sink_buf_put(b, o, 2);
}

static void buf_be32(sink_buf_t *b, uint32_t v) {
  char o[4];
  put_be32(o, v);
  sink_buf_put(b, o, 4);
}

static void buf_be64(sink_buf_t *b, uint64_t v) {
  char o[8];
  for (int k = 0; k < 8; k++) o[k] = (char)(v >> (56 - 8 * k));
  sink_buf_put(b, o, 8);
}

void sink_cols_begin(sink_cols_t *cs, const sink_stmt_def_t *def, bool binary) {
  cs->ncol = def->nparams;
  cs->types = def->types;
  cs->rows = 0;
  cs->finished = false;
  cs->binary = binary;
  cs->range_error = false;
  for (int i = 0; i < cs->ncol; i++) {
    cs->col[i].n = 0;
    cs->col[i].oom = false;
    cs->hasnull[i] = false;
    if (binary) {
      if (buf_reserve(&cs->col[i], SINK_ARRAY_HDR) == 0) cs->col[i].n = SINK_ARRAY_HDR;
    } else {
      buf_putc(&cs->col[i], '{');
    }
  }
}

void sink_cols_end_row(sink_cols_t *cs) { cs->rows++; }

int sink_cols_finish(sink_cols_t *cs) {
  int rc = 0;
  for (int i = 0; i < cs->ncol; i++) {
    sink_buf_t *b = &cs->col[i];
    if (!cs->finished) {
      if (!cs->binary) {
        buf_putc(b, '}');
        buf_putc(b, '\0');
      } else if (!b->oom) {
        /* ndim, has-nulls flag, element type, then one dimension (length,
         * lower bound 1); an empty array has no dimension. */
        size_t hdr = cs->rows ? SINK_ARRAY_HDR : 12;
        if (!cs->rows) b->n = hdr;
        put_be32(b->p, cs->rows ? 1 : 0);
        put_be32(b->p + 4, cs->hasnull[i] ? 1 : 0);
        put_be32(b->p + 8, cs->types[i]);
        if (cs->rows) {
          put_be32(b->p + 12, (uint32_t)cs->rows);
          put_be32(b->p + 16, 1);
        }
      }
    }
    if (b->oom || b->n > (size_t)INT32_MAX || cs->rows > (size_t)INT32_MAX) rc = -1;
    cs->params[i] = b->p;
    cs->lengths[i] = (int)(b->n > (size_t)INT32_MAX ? 0 : b->n);
    cs->formats[i] = cs->binary ? 1 : 0;
  }
  cs->finished = true;
  return rc;
}

void sink_cols_free(sink_cols_t *cs) {
  for (int i = 0; i < SINK_MAX_COLS; i++) sink_buf_free(&cs->col[i]);
}

static void col_sep(sink_cols_t *cs, int i) {
  if (cs->rows > 0) buf_putc(&cs->col[i], ',');
}

/* Binary element: length word, then the bytes. */
static void bin_elem(sink_cols_t *cs, int i, const void *p, size_t n) {
  sink_buf_t *b = &cs->col[i];
  if (n > (size_t)INT32_MAX - 4) {
    b->oom = true;
    return;
  }
  buf_be32(b, (uint32_t)n);
  sink_buf_put(b, p, n);
}

void sink_col_text(sink_cols_t *cs, int i, const char *s, size_t len) {
  sink_buf_t *b = &cs->col[i];
  if (cs->binary) {
    bin_elem(cs, i, s, len);
    return;
  }
  col_sep(cs, i);
  if (len > (SIZE_MAX - 2) / 2 || buf_reserve(b, 2 * len + 2) != 0) {
    b->oom = true;
    return;
  }
  char *o = b->p + b->n;
  *o++ = '"';
  for (size_t k = 0; k < len; k++) {
    char c = s[k];
    if (c == '"' || c == '\\') *o++ = '\\';
    *o++ = c;
  }
  *o++ = '"';
  b->n = (size_t)(o - b->p);
}

void sink_col_str(sink_cols_t *cs, int i, const char *s) {
  if (!s)
    sink_col_null(cs, i);
  else
    sink_col_text(cs, i, s, strlen(s));
}

void sink_col_null(sink_cols_t *cs, int i) {
  if (cs->binary) {
    cs->hasnull[i] = true;
    buf_be32(&cs->col[i], UINT32_MAX); /* length -1 */
    return;
  }
  col_sep(cs, i);
  sink_buf_put(&cs->col[i], "NULL", 4);
}

/* numeric's binary form of a magnitude: base-10000 digits, most
 * significant first, trailing zero digits dropped (weight keeps the
 * scale), display scale 0. */
static void bin_numeric(sink_cols_t *cs, int i, uint64_t mag, bool neg) {
  uint16_t d[5];
  int nd = 0;
  while (mag) {
    d[nd++] = (uint16_t)(mag % 10000);
    mag /= 10000;
  }
  int weight = nd - 1, lo = 0;
  while (lo < nd && d[lo] == 0) lo++;
  int ndig = nd - lo;
  sink_buf_t *b = &cs->col[i];
  buf_be32(b, (uint32_t)(8 + 2 * ndig));
  buf_be16(b, (uint16_t)ndig);
  buf_be16(b, (uint16_t)(ndig ? weight : 0));
  buf_be16(b, ndig && neg ? 0x4000 : 0);
  buf_be16(b, 0);
  for (int k = nd - 1; k >= lo; k--) buf_be16(b, d[k]);
}

/* A signed value (magnitude mag) into column i's type. */
static void bin_int(sink_cols_t *cs, int i, uint64_t mag, bool neg) {
  sink_buf_t *b = &cs->col[i];
  uint64_t lim;
  switch (cs->types[i]) {
  case SINK_OID_NUMERIC: bin_numeric(cs, i, mag, neg); return;
  case SINK_OID_INT8: lim = (uint64_t)INT64_MAX; break;
  case SINK_OID_INT4: lim = (uint64_t)INT32_MAX; break;
  case SINK_OID_INT2: lim = (uint64_t)INT16_MAX; break;
  default: cs->range_error = true; sink_col_null(cs, i); return;
  }
  if (mag > lim + (neg ? 1 : 0)) {
    cs->range_error = true;
    sink_col_null(cs, i);
    return;
  }
  uint64_t v = neg ? (uint64_t)0 - mag : mag; /* two's complement */
  switch (cs->types[i]) {
  case SINK_OID_INT8: buf_be32(b, 8); buf_be64(b, v); break;
  case SINK_OID_INT4: buf_be32(b, 4); buf_be32(b, (uint32_t)v); break;
  default: buf_be32(b, 2); buf_be16(b, (uint16_t)v); break;
  }
}

void sink_col_u64(sink_cols_t *cs, int i, uint64_t v) {
  if (cs->binary) {
    bin_int(cs, i, v, false);
    return;
  }
  char d[21];
  size_t n = sink_u64_dec(v, d);
  col_sep(cs, i);
  sink_buf_put(&cs->col[i], d, n);
}

void sink_col_i64(sink_cols_t *cs, int i, int64_t v) {
  uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  if (cs->binary) {
    bin_int(cs, i, mag, v < 0);
    return;
  }
  char d[22];
  size_t n;
  if (v < 0) {
    d[0] = '-';
    n = 1 + sink_u64_dec(mag, d + 1);
  } else {
    n = sink_u64_dec(mag, d);
  }
  col_sep(cs, i);
  sink_buf_put(&cs->col[i], d, n);
}

void sink_col_u64_opt(sink_cols_t *cs, int i, bool has, uint64_t v) {
  if (has)
    sink_col_u64(cs, i, v);
  else
    sink_col_null(cs, i);
}

void sink_col_i64_opt(sink_cols_t *cs, int i, bool has, int64_t v) {
  if (has)
    sink_col_i64(cs, i, v);
  else
    sink_col_null(cs, i);
}

void sink_col_bool(sink_cols_t *cs, int i, bool v) {
  if (cs->binary) {
    char c = v ? 1 : 0;
    bin_elem(cs, i, &c, 1);
    return;
  }
  col_sep(cs, i);
  buf_putc(&cs->col[i], v ? 't' : 'f');
}

/* bytea element; in text form the hex input form "\\x0a1b..." inside the
 * array literal. */
void sink_col_bytea(sink_cols_t *cs, int i, const uint8_t *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (cs->binary) {
    bin_elem(cs, i, p, n);
    return;
  }
  sink_buf_t *b = &cs->col[i];
  col_sep(cs, i);
  if (n > (SIZE_MAX - 8) / 2 || buf_reserve(b, 2 * n + 8) != 0) {
    b->oom = true;
    return;
  }
  char *o = b->p + b->n;
  *o++ = '"';
  *o++ = '\\';
  *o++ = '\\';
  *o++ = 'x';
  for (size_t k = 0; k < n; k++) {
    *o++ = hex[p[k] >> 4];
    *o++ = hex[p[k] & 15];
  }
  *o++ = '"';
  b->n = (size_t)(o - b->p);
}

/* ------------------------------------------------------------ encoders */

static void col_cbstr(sink_cols_t *cs, int i, cb_str_t s) {
  sink_col_text(cs, i, s.len ? s.ptr : "", s.len);
}

/* Account rows: the account's pubkey, then one column per field of the
 * record's list in cb_types.h (in list order), then its slot. Enums go as
 * their schema labels (NULL outside the enum: rejected by NOT NULL, a dead
 * letter); an absent option is SQL NULL. */
#define ENC_PUBKEY(cs, i, r, m, aux) sink_col_str(cs, i, (r)->m.b58)
#define ENC_U8(cs, i, r, m, aux) sink_col_u64(cs, i, (r)->m)
#define ENC_U16(cs, i, r, m, aux) sink_col_u64(cs, i, (r)->m)
#define ENC_U32(cs, i, r, m, aux) sink_col_u64(cs, i, (r)->m)
#define ENC_U64(cs, i, r, m, aux) sink_col_u64(cs, i, (r)->m)
#define ENC_I64(cs, i, r, m, aux) sink_col_i64(cs, i, (r)->m)
#define ENC_BOOL(cs, i, r, m, aux) sink_col_bool(cs, i, (r)->m)
#define ENC_STR(cs, i, r, m, aux) col_cbstr(cs, i, (r)->m)
#define ENC_ENUM(cs, i, r, m, aux) sink_col_str(cs, i, cb_##aux##_label((r)->m))
#define ENC_OPT_BOOL(cs, i, r, m, aux) \
  ((r)->has_##m ? sink_col_bool(cs, i, (r)->m) : sink_col_null(cs, i))
#define ENC_OPT_PUBKEY(cs, i, r, m, aux) sink_col_str(cs, i, (r)->has_##m ? (r)->m.b58 : NULL)
#define ENC_BYTES64(cs, i, r, m, aux) sink_col_bytea(cs, i, (r)->m, sizeof (r)->m)
#define ENC_FIELD_(r, m, kind, aux) ENC_##kind(cs, col++, r, m, aux);

#define ROW_ENCODER(fn, member, FIELDS)                   \
  void fn(sink_cols_t *cs, const cb_account_t *a) {       \
    int col = 0;                                          \
    sink_col_str(cs, col++, a->pubkey);                   \
    FIELDS(ENC_FIELD_, &a->u.member)                      \
    sink_col_u64(cs, col, a->slot);                       \
    sink_cols_end_row(cs);                                \
  }

ROW_ENCODER(sink_row_config, config, CB_GLOBAL_CONFIG_FIELDS)
ROW_ENCODER(sink_row_market, market, CB_MARKET_FIELDS)
ROW_ENCODER(sink_row_position, position, CB_POSITION_FIELDS)
ROW_ENCODER(sink_row_treasury, treasury, CB_TREASURY_FIELDS)
ROW_ENCODER(sink_row_oracle, oracle, CB_ORACLE_DATA_FIELDS)

void sink_row_tx(sink_cols_t *cs, const cb_tx_row_t *t) {
  sink_col_str(cs, 0, t->signature);
  sink_col_u64(cs, 1, t->instruction_index);
  sink_col_str(cs, 2, t->user[0] ? t->user : NULL);
  sink_col_str(cs, 3, t->market[0] ? t->market : NULL);
  sink_col_str(cs, 4, cb_tx_type_name(t->type));
  sink_col_u64(cs, 5, t->amount);
  sink_col_str(cs, 6, cb_side_label(t->side));
  sink_col_u64_opt(cs, 7, t->has_price, t->price);
  sink_col_u64_opt(cs, 8, t->has_block_height, t->block_height);
  sink_col_u64(cs, 9, t->slot);
  sink_col_i64_opt(cs, 10, t->has_block_time, t->block_time);
  sink_col_u64(cs, 11, t->fee);
  sink_col_u64(cs, 12, t->platform_fee);
  sink_col_str(cs, 13, t->failed ? "failed" : "confirmed");
  sink_col_str(cs, 14, t->failed && t->error_message[0] ? t->error_message : NULL);
  if (t->has_resolution) {
    sink_col_bool(cs, 15, t->resolution_result);
    sink_col_i64(cs, 16, t->resolved_at);
  } else {
    sink_col_null(cs, 15);
    sink_col_null(cs, 16);
  }
  sink_cols_end_row(cs);
}

/* ---------------------------------------------------------- statements */

/* A record whose close was seen at a slot >= its own is stored closed, with
 * sync_slot the close's slot, as when a close applies to an existing row:
 * a closed row's sync_slot is always its closed_slot. The guards below never
 * let a state at the same slot rewrite a closed row, so an older state that
 * arrives after the close (and is joined to it) changes nothing. */
#define CLOSURE_JOIN "LEFT JOIN account_closures c ON c.pubkey = v.pk AND c.closed_slot >= v.slot "

/* Column names of the account statements (dead-letter rendering): pubkey,
 * the record's fields (cb_types.h), slot. */
#define COL_NAME_(ctx, m, kind, aux) #m,

/* A close from a transaction ($3, its block time, not NULL: closed_by_tx)
 * gives the slot and time the account was emptied; a close from an account
 * read only says it was gone by that slot (stamped now()). A transaction's
 * close replaces a read's, whichever arrived first; among closes of the
 * same kind the later slot wins (schema/005_closures.sql). */
static const char *const cols_closures[] = {"pubkey", "slot", "block_time"};
static const char sql_closures[] =
    "INSERT INTO account_closures AS c (pubkey, closed_slot, closed_at, closed_by_tx) "
    "SELECT v.pk, v.slot, COALESCE(to_timestamp(v.t), now()), v.t IS NOT NULL "
    "FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(pk, slot, t) "
    "ON CONFLICT (pubkey) DO UPDATE SET closed_slot = EXCLUDED.closed_slot, "
    " closed_at = EXCLUDED.closed_at, closed_by_tx = EXCLUDED.closed_by_tx "
    "WHERE (EXCLUDED.closed_by_tx AND NOT c.closed_by_tx) "
    " OR (EXCLUDED.closed_by_tx = c.closed_by_tx AND c.closed_slot < EXCLUDED.closed_slot)";

static const char *const cols_users[] = {"wallet_address"};
static const char sql_users[] =
    "INSERT INTO users (wallet_address) "
    "SELECT DISTINCT w FROM unnest($1::text[]) AS w "
    "WHERE w IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.wallet_address = w) "
    "ORDER BY w "
    "ON CONFLICT (wallet_address) DO NOTHING";

static const char *const cols_configs[] = {"pubkey", CB_GLOBAL_CONFIG_FIELDS(COL_NAME_, _) "slot"};
static const char sql_configs[] =
    "INSERT INTO platform_config AS t (config_pubkey, authority_pubkey, platform_fee_bps, "
    " min_market_duration, max_market_duration, min_bet_amount, max_bet_amount, "
    " platform_treasury, is_paused, total_markets_created, total_volume, version, bump, "
    " sync_slot, last_sync_at, closed_at, closed_slot) "
    "SELECT v.pk, v.authority, v.fee_bps, v.min_dur, v.max_dur, v.min_bet, v.max_bet, "
    " v.treasury, v.paused, v.markets, v.volume, v.version, v.bump, COALESCE(c.closed_slot, v.slot), now(), "
    " c.closed_at, c.closed_slot "
    "FROM unnest($1::text[], $2::text[], $3::integer[], $4::bigint[], $5::bigint[], "
    " $6::numeric[], $7::numeric[], $8::text[], $9::boolean[], $10::numeric[], $11::numeric[], "
    " $12::smallint[], $13::smallint[], $14::bigint[]) "
    " AS v(pk, authority, fee_bps, min_dur, max_dur, min_bet, max_bet, treasury, paused, "
    " markets, volume, version, bump, slot) " CLOSURE_JOIN
    "ON CONFLICT (config_pubkey) DO UPDATE SET authority_pubkey = EXCLUDED.authority_pubkey, "
    " platform_fee_bps = EXCLUDED.platform_fee_bps, "
    " min_market_duration = EXCLUDED.min_market_duration, "
    " max_market_duration = EXCLUDED.max_market_duration, "
    " min_bet_amount = EXCLUDED.min_bet_amount, max_bet_amount = EXCLUDED.max_bet_amount, "
    " platform_treasury = EXCLUDED.platform_treasury, is_paused = EXCLUDED.is_paused, "
    " total_markets_created = EXCLUDED.total_markets_created, "
    " total_volume = EXCLUDED.total_volume, version = EXCLUDED.version, bump = EXCLUDED.bump, "
    " sync_slot = EXCLUDED.sync_slot, last_sync_at = now(), closed_at = EXCLUDED.closed_at, "
    " closed_slot = EXCLUDED.closed_slot "
    "WHERE t.sync_slot < EXCLUDED.sync_slot OR (t.sync_slot = EXCLUDED.sync_slot "
    " AND t.closed_slot IS NULL)";

/* Rows are processed in key order (bytewise, as the client sorts them) so
 * that two writers upserting overlapping batches lock rows in the same
 * order and cannot deadlock; the ORDER BY keeps a join from reordering
 * them. */
#define KEY_ORDER "ORDER BY v.pk COLLATE \"C\" "

/* markets_cache.resolved_at of a resolved market from an earlier resolving
 * transaction (see sql_txs for the other order). */
#define MARKET_RESOLVED_AT                                                       \
  "CASE WHEN v.state = 'resolved' THEN (SELECT COALESCE(x.resolved_at, x.block_time) " \
  " FROM transactions x WHERE x.market_pubkey = v.pk "                           \
  " AND x.transaction_type = 'resolve_market' AND x.status <> 'failed' "         \
  " ORDER BY x.slot, x.instruction_index LIMIT 1) END"

/* Slot guard of the cache upserts: a record applies if its slot is newer
 * than the row's, or equal and the record differs from the row in one of
 * the data columns: an identical record at the same slot (re-delivery,
 * live and backfill overlapping) writes no new row version. */
#define GUARD(data)                                                              \
  "WHERE t.sync_slot < EXCLUDED.sync_slot OR (t.sync_slot = EXCLUDED.sync_slot "   \
  " AND t.closed_slot IS NULL AND " data("t.") " IS DISTINCT FROM " data("EXCLUDED.") ")"

#define MARKET_DATA(p)                                                                   \
  "(" p "market_id, " p "authority_pubkey, " p "title, " p "description, " p "category, "  \
  p "market_type, " p "created_at_unix, " p "resolution_time_unix, " p "state, "           \
  p "resolution_result, " p "yes_pool, " p "no_pool, " p "total_volume, "                  \
  p "total_participants, " p "accepted_mint, " p "yes_vault, " p "no_vault, "              \
  p "resolver_pubkey, " p "oracle_source, " p "metadata_uri, " p "creation_fee, " p "bump, " \
  p "closed_slot)"

static const char *const cols_markets[] = {"pubkey", CB_MARKET_FIELDS(COL_NAME_, _) "slot"};
static const char sql_markets[] =
    "INSERT INTO markets_cache AS t (market_pubkey, market_id, authority_pubkey, title, "
    " description, category, market_type, created_at, created_at_unix, resolution_time, "
    " resolution_time_unix, resolved_at, state, resolution_result, yes_pool, no_pool, "
    " total_volume, total_participants, accepted_mint, yes_vault, no_vault, resolver_pubkey, "
    " oracle_source, metadata_uri, creation_fee, bump, sync_slot, last_sync_at, closed_at, "
    " closed_slot) "
    "SELECT v.pk, v.market_id, v.authority, v.title, v.description, v.category, v.mtype, "
    " cbi_unix_to_timestamptz(v.created), v.created, cbi_unix_to_timestamptz(v.restime), "
    " v.restime, " MARKET_RESOLVED_AT ", "
    " v.state, v.result, v.yes_pool, v.no_pool, v.volume, v.participants, v.mint, "
    " v.yes_vault, v.no_vault, v.resolver, v.oracle, v.uri, v.fee, v.bump, COALESCE(c.closed_slot, v.slot), now(), "
    " c.closed_at, c.closed_slot "
    "FROM unnest($1::text[], $2::numeric[], $3::text[], $4::text[], $5::text[], $6::text[], "
    " $7::text[]::market_type[], $8::bigint[], $9::bigint[], $10::text[]::market_state[], "
    " $11::boolean[], $12::numeric[], $13::numeric[], $14::numeric[], $15::bigint[], "
    " $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], "
    " $22::numeric[], $23::smallint[], $24::bigint[]) "
    " AS v(pk, market_id, authority, title, description, category, mtype, created, restime, "
    " state, result, yes_pool, no_pool, volume, participants, mint, yes_vault, no_vault, "
    " resolver, oracle, uri, fee, bump, slot) " CLOSURE_JOIN KEY_ORDER
    "ON CONFLICT (market_pubkey) DO UPDATE SET market_id = EXCLUDED.market_id, "
    " authority_pubkey = EXCLUDED.authority_pubkey, title = EXCLUDED.title, "
    " description = EXCLUDED.description, category = EXCLUDED.category, "
    " market_type = EXCLUDED.market_type, created_at = EXCLUDED.created_at, "
    " created_at_unix = EXCLUDED.created_at_unix, resolution_time = EXCLUDED.resolution_time, "
    " resolution_time_unix = EXCLUDED.resolution_time_unix, "
    " resolved_at = COALESCE(t.resolved_at, EXCLUDED.resolved_at), state = EXCLUDED.state, "
    " resolution_result = EXCLUDED.resolution_result, yes_pool = EXCLUDED.yes_pool, "
    " no_pool = EXCLUDED.no_pool, total_volume = EXCLUDED.total_volume, "
    " total_participants = EXCLUDED.total_participants, accepted_mint = EXCLUDED.accepted_mint, "
    " yes_vault = EXCLUDED.yes_vault, no_vault = EXCLUDED.no_vault, "
    " resolver_pubkey = EXCLUDED.resolver_pubkey, oracle_source = EXCLUDED.oracle_source, "
    " metadata_uri = EXCLUDED.metadata_uri, creation_fee = EXCLUDED.creation_fee, "
    " bump = EXCLUDED.bump, sync_slot = EXCLUDED.sync_slot, last_sync_at = now(), "
    " closed_at = EXCLUDED.closed_at, closed_slot = EXCLUDED.closed_slot " GUARD(MARKET_DATA);

/* Positions go to position_accounts; the view positions_cache adds their
 * derived columns when read (schema/002_derived.sql), so a market update
 * rewrites none of its positions. user_id follows user_pubkey. */
#define POSITION_DATA(p)                                                                   \
  "(" p "user_pubkey, " p "market_pubkey, " p "yes_shares, " p "no_shares, "                 \
  p "total_invested, " p "yes_avg_price, " p "no_avg_price, " p "created_at_unix, "          \
  p "updated_at_unix, " p "claimed, " p "claimed_amount, " p "bet_count, " p "bump, "        \
  p "closed_slot)"
static const char *const cols_positions[] = {"pubkey", CB_POSITION_FIELDS(COL_NAME_, _) "slot"};
static const char sql_positions[] =
    "INSERT INTO position_accounts AS t (position_pubkey, user_id, user_pubkey, market_pubkey, "
    " yes_shares, no_shares, total_invested, yes_avg_price, no_avg_price, created_at, "
    " created_at_unix, updated_at, updated_at_unix, claimed, claimed_amount, bet_count, bump, "
    " sync_slot, last_sync_at, closed_at, closed_slot) "
    "SELECT v.pk, u.id, v.usr, v.market, v.yes_shares, v.no_shares, v.invested, "
    " v.yes_price * 0.000000001, v.no_price * 0.000000001, "
    " cbi_unix_to_timestamptz(v.created), v.created, cbi_unix_to_timestamptz(v.updated), "
    " v.updated, v.claimed, v.claimed_amount, v.bets, v.bump, COALESCE(c.closed_slot, v.slot), now(), c.closed_at, "
    " c.closed_slot "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[], "
    " $6::numeric[], $7::numeric[], $8::numeric[], $9::bigint[], $10::bigint[], "
    " $11::boolean[], $12::numeric[], $13::bigint[], $14::smallint[], $15::bigint[]) "
    " AS v(pk, usr, market, yes_shares, no_shares, invested, yes_price, no_price, created, "
    " updated, claimed, claimed_amount, bets, bump, slot) "
    "LEFT JOIN users u ON u.wallet_address = v.usr " CLOSURE_JOIN KEY_ORDER
    "ON CONFLICT (position_pubkey) DO UPDATE SET user_id = EXCLUDED.user_id, "
    " user_pubkey = EXCLUDED.user_pubkey, market_pubkey = EXCLUDED.market_pubkey, "
    " yes_shares = EXCLUDED.yes_shares, no_shares = EXCLUDED.no_shares, "
    " total_invested = EXCLUDED.total_invested, yes_avg_price = EXCLUDED.yes_avg_price, "
    " no_avg_price = EXCLUDED.no_avg_price, created_at = EXCLUDED.created_at, "
    " created_at_unix = EXCLUDED.created_at_unix, updated_at = EXCLUDED.updated_at, "
    " updated_at_unix = EXCLUDED.updated_at_unix, claimed = EXCLUDED.claimed, "
    " claimed_amount = EXCLUDED.claimed_amount, "
    " bet_count = EXCLUDED.bet_count, bump = EXCLUDED.bump, sync_slot = EXCLUDED.sync_slot, "
    " last_sync_at = now(), closed_at = EXCLUDED.closed_at, closed_slot = EXCLUDED.closed_slot "
    GUARD(POSITION_DATA);

static const char *const cols_treasuries[] = {"pubkey", CB_TREASURY_FIELDS(COL_NAME_, _) "slot"};
static const char sql_treasuries[] =
    "INSERT INTO treasuries_cache AS t (treasury_pubkey, market_pubkey, mint, "
    " authority_pubkey, total_deposits, total_withdrawals, current_balance, treasury_type, "
    " bump, sync_slot, last_sync_at, closed_at, closed_slot) "
    "SELECT v.pk, v.market, v.mint, v.authority, v.deposits, v.withdrawals, v.balance, "
    " v.ttype, v.bump, COALESCE(c.closed_slot, v.slot), now(), c.closed_at, c.closed_slot "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], "
    " $6::numeric[], $7::numeric[], $8::text[]::treasury_type[], $9::smallint[], $10::bigint[]) "
    " AS v(pk, market, mint, authority, deposits, withdrawals, balance, ttype, bump, slot) "
    CLOSURE_JOIN
    "ON CONFLICT (treasury_pubkey) DO UPDATE SET market_pubkey = EXCLUDED.market_pubkey, "
    " mint = EXCLUDED.mint, authority_pubkey = EXCLUDED.authority_pubkey, "
    " total_deposits = EXCLUDED.total_deposits, total_withdrawals = EXCLUDED.total_withdrawals, "
    " current_balance = EXCLUDED.current_balance, treasury_type = EXCLUDED.treasury_type, "
    " bump = EXCLUDED.bump, sync_slot = EXCLUDED.sync_slot, last_sync_at = now(), "
    " closed_at = EXCLUDED.closed_at, closed_slot = EXCLUDED.closed_slot "
    "WHERE t.sync_slot < EXCLUDED.sync_slot OR (t.sync_slot = EXCLUDED.sync_slot "
    " AND t.closed_slot IS NULL)";

static const char *const cols_oracles[] = {"pubkey", CB_ORACLE_DATA_FIELDS(COL_NAME_, _) "slot"};
static const char sql_oracles[] =
    "INSERT INTO oracle_data_cache AS t (oracle_pubkey, authority_pubkey, market_pubkey, "
    " source, value, data_timestamp, data_timestamp_unix, confidence, signature, bump, "
    " sync_slot, last_sync_at, closed_at, closed_slot) "
    "SELECT v.pk, v.authority, v.market, v.source, v.value, cbi_unix_to_timestamptz(v.ts), "
    " v.ts, v.confidence, v.sig, v.bump, COALESCE(c.closed_slot, v.slot), now(), c.closed_at, c.closed_slot "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], "
    " $7::smallint[], $8::bytea[], $9::smallint[], $10::bigint[]) "
    " AS v(pk, authority, market, source, value, ts, confidence, sig, bump, slot) "
    CLOSURE_JOIN
    "ON CONFLICT (oracle_pubkey) DO UPDATE SET authority_pubkey = EXCLUDED.authority_pubkey, "
    " market_pubkey = EXCLUDED.market_pubkey, source = EXCLUDED.source, value = EXCLUDED.value, "
    " data_timestamp = EXCLUDED.data_timestamp, "
    " data_timestamp_unix = EXCLUDED.data_timestamp_unix, confidence = EXCLUDED.confidence, "
    " signature = EXCLUDED.signature, bump = EXCLUDED.bump, sync_slot = EXCLUDED.sync_slot, "
    " last_sync_at = now(), closed_at = EXCLUDED.closed_at, closed_slot = EXCLUDED.closed_slot "
    "WHERE t.sync_slot < EXCLUDED.sync_slot OR (t.sync_slot = EXCLUDED.sync_slot "
    " AND t.closed_slot IS NULL)";

/* Applies the recorded closures of these pubkeys to whichever cache table
 * holds them (slot-guarded). Returns the number of rows closed. */
#define CLOSE_ONE(alias, table, col)                                                       \
  alias " AS (UPDATE " table " t SET closed_at = c.closed_at, closed_slot = c.closed_slot, " \
        "sync_slot = c.closed_slot, last_sync_at = now() FROM account_closures c "          \
        "WHERE c.pubkey = ANY($1::text[]) AND t." col " = c.pubkey "                        \
        "AND ((t.closed_slot IS NULL AND t.sync_slot <= c.closed_slot) "                     \
        " OR (t.closed_slot IS NOT NULL AND t.sync_slot <= t.closed_slot "                   \
        "     AND t.closed_slot IS DISTINCT FROM c.closed_slot AND c.closed_by_tx)) RETURNING 1)"
static const char *const cols_closes[] = {"pubkey"};
static const char sql_closes[] =
    "WITH " CLOSE_ONE("a", "platform_config", "config_pubkey") ", "
    CLOSE_ONE("b", "markets_cache", "market_pubkey") ", "
    CLOSE_ONE("d", "position_accounts", "position_pubkey") ", "
    CLOSE_ONE("e", "treasuries_cache", "treasury_pubkey") ", "
    CLOSE_ONE("f", "oracle_data_cache", "oracle_pubkey") " "
    "SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b) + (SELECT count(*) FROM d) "
    " + (SELECT count(*) FROM e) + (SELECT count(*) FROM f)";

/* Inserts transaction rows (updating only status columns of known ones) and
 * sets markets_cache.resolved_at from successful resolve_market rows.
 * Returns (rows written, markets resolved). */
static const char *const cols_txs[] = {
    "signature", "instruction_index", "user",     "market",        "transaction_type",
    "amount",    "side",              "price",    "block_height",  "slot",
    "block_time", "fee",              "platform_fee", "status",    "error_message",
    "resolution_result", "resolved_at"};
static const char sql_txs[] =
    "WITH v AS (SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], "
    " $5::text[]::transaction_type[], $6::numeric[], $7::text[]::bet_side[], $8::numeric[], "
    " $9::bigint[], $10::bigint[], $11::bigint[], $12::numeric[], $13::numeric[], "
    " $14::text[]::transaction_status[], "
    " $15::text[], $16::boolean[], $17::bigint[]) "
    " AS v(sig, ix, usr, market, ttype, amount, side, price, height, slot, btime, fee, pfee, "
    " status, err, result, resolved)), "
    "ins AS ("
    "INSERT INTO transactions AS t (signature, instruction_index, user_id, user_pubkey, "
    " market_pubkey, transaction_type, amount, side, price, block_height, slot, block_time, "
    " block_time_unix, fee_amount, platform_fee, status, error_message, resolution_result, "
    " resolved_at, resolved_at_unix) "
    "SELECT v.sig, v.ix, u.id, v.usr, v.market, v.ttype, v.amount, v.side, "
    " v.price * 0.000000001, v.height, v.slot, cbi_unix_to_timestamptz(v.btime), v.btime, "
    " v.fee, v.pfee, v.status, v.err, v.result, cbi_unix_to_timestamptz(v.resolved), "
    " v.resolved "
    "FROM v LEFT JOIN users u ON u.wallet_address = v.usr "
    "ON CONFLICT (signature, instruction_index) DO UPDATE SET status = EXCLUDED.status, "
    " error_message = EXCLUDED.error_message, "
    " block_time = COALESCE(EXCLUDED.block_time, t.block_time), "
    " block_time_unix = COALESCE(EXCLUDED.block_time_unix, t.block_time_unix), "
    " block_height = COALESCE(EXCLUDED.block_height, t.block_height) "
    "WHERE (t.status, t.error_message, t.block_time_unix, t.block_height) IS DISTINCT FROM "
    " (EXCLUDED.status, EXCLUDED.error_message, "
    "  COALESCE(EXCLUDED.block_time_unix, t.block_time_unix), "
    "  COALESCE(EXCLUDED.block_height, t.block_height)) "
    "RETURNING 1), "
    "res AS ("
    "UPDATE markets_cache m SET resolved_at = r.at "
    "FROM (SELECT DISTINCT ON (v.market) v.market, "
    "  COALESCE(cbi_unix_to_timestamptz(v.resolved), cbi_unix_to_timestamptz(v.btime)) AS at "
    "  FROM v WHERE v.ttype = 'resolve_market' AND v.status <> 'failed' "
    "  AND v.market IS NOT NULL ORDER BY v.market, v.slot, v.ix) r "
    "WHERE m.market_pubkey = r.market AND m.resolved_at IS NULL AND r.at IS NOT NULL "
    "RETURNING 1) "
    "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM res)";

static const char *const cols_dead[] = {"kind",   "key",         "slot",    "reason",
                                        "raw",    "fingerprint", "attempts"};
static const char sql_dead[] =
    "INSERT INTO dead_letters AS d (kind, key, slot, reason, raw, fingerprint, attempts) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bytea[], "
    " $6::bytea[], $7::integer[]) "
    "ON CONFLICT (fingerprint) DO UPDATE SET attempts = d.attempts + EXCLUDED.attempts, "
    " last_seen = now(), reason = EXCLUDED.reason, "
    " slot = GREATEST(d.slot, EXCLUDED.slot)";

static const char *const cols_checkpoints[] = {"stream", "slot", "signature"};
static const char sql_checkpoints[] =
    "INSERT INTO sync_checkpoints AS k (stream, slot, signature, updated_at) "
    "SELECT s, sl, sig, now() FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(s, sl, sig) "
    "ON CONFLICT (stream) DO UPDATE SET slot = EXCLUDED.slot, signature = EXCLUDED.signature, "
    " updated_at = now()";

static const char *const cols_get_checkpoint[] = {"stream"};
static const char sql_get_checkpoint[] =
    "SELECT slot, signature FROM sync_checkpoints WHERE stream = $1";

#define T SINK_OID_TEXT
#define N SINK_OID_NUMERIC
#define I8 SINK_OID_INT8
#define I4 SINK_OID_INT4
#define I2 SINK_OID_INT2
#define B SINK_OID_BOOL
#define BY SINK_OID_BYTEA
/* Element type of each record field's column, by field kind. */
#define TY_PUBKEY T
#define TY_U8 I2
#define TY_U16 I4
#define TY_U32 I8
#define TY_U64 N
#define TY_I64 I8
#define TY_BOOL B
#define TY_STR T
#define TY_ENUM T
#define TY_OPT_BOOL B
#define TY_OPT_PUBKEY T
#define TY_BYTES64 BY
#define TY_(ctx, m, kind, aux) TY_##kind,
static const uint32_t ty_closures[] = {T, I8, I8};
static const uint32_t ty_text1[] = {T};
static const uint32_t ty_configs[] = {T, CB_GLOBAL_CONFIG_FIELDS(TY_, _) I8};
static const uint32_t ty_markets[] = {T, CB_MARKET_FIELDS(TY_, _) I8};
static const uint32_t ty_positions[] = {T, CB_POSITION_FIELDS(TY_, _) I8};
static const uint32_t ty_treasuries[] = {T, CB_TREASURY_FIELDS(TY_, _) I8};
static const uint32_t ty_oracles[] = {T, CB_ORACLE_DATA_FIELDS(TY_, _) I8};
static const uint32_t ty_txs[] = {T, I4, T, T, T, N, T, N, I8, I8, I8, N, N, T, T, B, I8};
static const uint32_t ty_dead[] = {T, T, I8, T, BY, BY, I4};
static const uint32_t ty_checkpoints[] = {T, I8, T};
#define NTYPES(a) (sizeof(a) / sizeof((a)[0]))
/* Account statements: pubkey + the record's fields + slot. */
#define ACCOUNT_NPARAMS(FIELDS) (2 + CB_FIELD_COUNT(FIELDS))
_Static_assert(NTYPES(ty_closures) == 3 && NTYPES(ty_configs) == 14 && NTYPES(ty_markets) == 24 &&
                   NTYPES(ty_positions) == 15 && NTYPES(ty_treasuries) == 10 &&
                   NTYPES(ty_oracles) == 10 && NTYPES(ty_txs) == 17 && NTYPES(ty_dead) == 7 &&
                   NTYPES(ty_checkpoints) == 3,
               "one element type per statement parameter");
_Static_assert(NTYPES(cols_configs) == ACCOUNT_NPARAMS(CB_GLOBAL_CONFIG_FIELDS) &&
                   NTYPES(cols_markets) == ACCOUNT_NPARAMS(CB_MARKET_FIELDS) &&
                   NTYPES(cols_positions) == ACCOUNT_NPARAMS(CB_POSITION_FIELDS) &&
                   NTYPES(cols_treasuries) == ACCOUNT_NPARAMS(CB_TREASURY_FIELDS) &&
                   NTYPES(cols_oracles) == ACCOUNT_NPARAMS(CB_ORACLE_DATA_FIELDS),
               "one column name per statement parameter");
#undef T
#undef N
#undef I8
#undef I4
#undef I2
#undef B
#undef BY

const sink_stmt_def_t sink_stmts[SQ__COUNT] = {
    [SQ_CLOSURES] = {"cbi_closures", sql_closures, 3, cols_closures, ty_closures},
    [SQ_USERS] = {"cbi_users", sql_users, 1, cols_users, ty_text1},
    [SQ_CONFIGS] = {"cbi_configs", sql_configs, ACCOUNT_NPARAMS(CB_GLOBAL_CONFIG_FIELDS),
                    cols_configs, ty_configs},
    [SQ_MARKETS] = {"cbi_markets", sql_markets, ACCOUNT_NPARAMS(CB_MARKET_FIELDS), cols_markets,
                    ty_markets},
    [SQ_POSITIONS] = {"cbi_positions", sql_positions, ACCOUNT_NPARAMS(CB_POSITION_FIELDS),
                      cols_positions, ty_positions},
    [SQ_TREASURIES] = {"cbi_treasuries", sql_treasuries, ACCOUNT_NPARAMS(CB_TREASURY_FIELDS),
                       cols_treasuries, ty_treasuries},
    [SQ_ORACLES] = {"cbi_oracles", sql_oracles, ACCOUNT_NPARAMS(CB_ORACLE_DATA_FIELDS),
                    cols_oracles, ty_oracles},
    [SQ_CLOSES] = {"cbi_closes", sql_closes, 1, cols_closes, ty_text1},
    [SQ_TXS] = {"cbi_txs", sql_txs, 17, cols_txs, ty_txs},
    [SQ_DEAD] = {"cbi_dead", sql_dead, 7, cols_dead, ty_dead},
    [SQ_CHECKPOINTS] = {"cbi_checkpoints", sql_checkpoints, 3, cols_checkpoints, ty_checkpoints},
    [SQ_GET_CHECKPOINT] = {"cbi_get_checkpoint", sql_get_checkpoint, 1, cols_get_checkpoint,
                           ty_text1},
    [SQ_ANALYTICS] = {"cbi_analytics", sink_analytics_sql, SINK_ANALYTICS_NPARAMS,
                      sink_analytics_cols, sink_analytics_types},
    [SQ_ANALYTICS_POS] = {"cbi_analytics_pos", sink_analytics_pos_sql, 1, sink_analytics_pos_cols,
                          sink_analytics_pos_types},
};
#undef NTYPES
