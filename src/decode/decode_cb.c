/* The Crypto Bet binding (cb_decoder.h): typed decoding of the program's
 * accounts, instructions and events.
 *
 * IDL-driven: cb_decoder_new binds the IDL's definitions to the records of
 * cb_types.h / cb_decoder.h. Each IDL field becomes one operation (C kind +
 * offset into the record), checked against what the record expects; IDL
 * fields the record does not carry become validating skips. Decoding then
 * runs those operations over the bytes, writing straight into the record.
 * The account records' fields come from the lists of cb_types.h, the same
 * lists the sink's column encoders use. */
#include "cb_decoder.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "decode_borsh.h"
#include "idl_layout.h"
#include "log.h"

_Static_assert(sizeof(cb_market_state_t) == sizeof(int), "enum size");
_Static_assert(sizeof(cb_market_type_t) == sizeof(int), "enum size");
_Static_assert(sizeof(cb_treasury_type_t) == sizeof(int), "enum size");
_Static_assert(sizeof(cb_side_t) == sizeof(int), "enum size");

typedef enum {
  OP_SKIP = 0, /* not in the record: validated by the generic walker */
  OP_PUBKEY,
  OP_BOOL,
  OP_U8,
  OP_U16,
  OP_U32,
  OP_U64,
  OP_I64,
  OP_STR,
  OP_ENUM,
  OP_OPT_BOOL,   /* Option<bool>: off2 = has_ flag */
  OP_OPT_PUBKEY, /* Option<Pubkey>: off2 = has_ flag */
  OP_BYTES64,    /* [u8; 64] */
  OP_HAS_BOOL    /* bool that also sets the flag at off2 */
} cb_opkind_t;

#define CB_ENUM_MAX 4

typedef struct cb_enum_spec {
  uint8_t n;
  const char *names[CB_ENUM_MAX];
  int values[CB_ENUM_MAX];
} cb_enum_spec_t;

/* The enums of cb_types.h: IDL variant names in Borsh index order. */
#define VNAME_(c, idl, label) #idl,
#define VVALUE_(c, idl, label) c,
#define ENUM_SPEC(name, LIST, COUNT)                                            \
  _Static_assert(COUNT <= CB_ENUM_MAX, "enum too long");                        \
  static const cb_enum_spec_t ENUM_##name = {COUNT, {LIST(VNAME_)}, {LIST(VVALUE_)}};
ENUM_SPEC(market_state, CB_MARKET_STATE_VARIANTS, CB_MARKET_STATE__COUNT)
ENUM_SPEC(market_type, CB_MARKET_TYPE_VARIANTS, CB_MARKET_TYPE__COUNT)
ENUM_SPEC(treasury_type, CB_TREASURY_TYPE_VARIANTS, CB_TREASURY_TYPE__COUNT)
ENUM_SPEC(side, CB_SIDE_VARIANTS, CB_SIDE__COUNT)
#undef ENUM_SPEC
#undef VNAME_
#undef VVALUE_

/* What a record expects of one IDL field (snake_case name). */
typedef struct cb_fspec {
  const char *name;
  uint8_t op;
  uint16_t off, off2;
  const cb_enum_spec_t *en;
} cb_fspec_t;

typedef struct cb_op {
  uint8_t op;
  uint16_t off, off2;
  uint32_t node;            /* OP_SKIP */
  const cb_enum_spec_t *en; /* OP_ENUM */
  const char *name;         /* IDL field name, for error paths */
} cb_op_t;

typedef struct cb_prog {
  const idl_def_t *def;
  cb_op_t *ops;
  size_t n_ops;
} cb_prog_t;

enum { ROLE_MARKET = 0, ROLE_POSITION, ROLE_USER, ROLE_ORACLE, ROLE_GLOBAL, ROLE__COUNT };

struct cb_decoder {
  const idl_t *idl;
  bool strict;
  cb_prog_t acc[CB_ACCOUNT__COUNT]; /* by cb_account_kind_t; [0] unused */
  cb_prog_t ix[CB_TX__COUNT];
  int ix_role[CB_TX__COUNT][ROLE__COUNT]; /* account index per role, -1 none */
  cb_prog_t ev[CB_EVENT__COUNT];
  /* Accounts with non-zero bytes after the layout, per kind. Separate
   * allocation: the only state that changes after cb_decoder_new. */
  _Atomic uint64_t *spare;
};

/* ---- record specifications ---------------------------------------------- */

#define F(rec, nm, opk, member) {nm, opk, (uint16_t)offsetof(rec, member), 0, NULL}
#define FE(rec, nm, member, spec) {nm, OP_ENUM, (uint16_t)offsetof(rec, member), 0, &spec}
#define FO(rec, nm, opk, member, has) \
  {nm, opk, (uint16_t)offsetof(rec, member), (uint16_t)offsetof(rec, has), NULL}
#define FEND {NULL, 0, 0, 0, NULL}

/* Account records: one entry per field of the cb_types.h lists. */
#define SPEC_PUBKEY(rec, m, aux) F(rec, #m, OP_PUBKEY, m)
#define SPEC_U8(rec, m, aux) F(rec, #m, OP_U8, m)
#define SPEC_U16(rec, m, aux) F(rec, #m, OP_U16, m)
#define SPEC_U32(rec, m, aux) F(rec, #m, OP_U32, m)
#define SPEC_U64(rec, m, aux) F(rec, #m, OP_U64, m)
#define SPEC_I64(rec, m, aux) F(rec, #m, OP_I64, m)
#define SPEC_BOOL(rec, m, aux) F(rec, #m, OP_BOOL, m)
#define SPEC_STR(rec, m, aux) F(rec, #m, OP_STR, m)
#define SPEC_ENUM(rec, m, aux) FE(rec, #m, m, ENUM_##aux)
#define SPEC_OPT_BOOL(rec, m, aux) FO(rec, #m, OP_OPT_BOOL, m, has_##m)
#define SPEC_OPT_PUBKEY(rec, m, aux) FO(rec, #m, OP_OPT_PUBKEY, m, has_##m)
#define SPEC_BYTES64(rec, m, aux) F(rec, #m, OP_BYTES64, m)
#define SPEC_FIELD_(rec, m, kind, aux) SPEC_##kind(rec, m, aux),

#define ACCOUNT_SPEC_(kind, name, member, type, FIELDS) \
  static const cb_fspec_t SPEC_ACC_##member[] = {FIELDS(SPEC_FIELD_, type) FEND};
CB_ACCOUNT_RECORDS(ACCOUNT_SPEC_)
#undef ACCOUNT_SPEC_

#define ACCOUNT_ENTRY_(kind, name, member, type, FIELDS) [kind] = {#name, SPEC_ACC_##member},
static const struct {
  const char *name;
  const cb_fspec_t *spec;
} ACCOUNTS[CB_ACCOUNT__COUNT] = {CB_ACCOUNT_RECORDS(ACCOUNT_ENTRY_)};
#undef ACCOUNT_ENTRY_

/* Events and instructions fill the shared cb_event_t / cb_instruction_t
 * under IDL names of their own (authority and resolver land in user). */
#define EV_MARKET F(cb_event_t, "market", OP_PUBKEY, market)
#define EV_POSITION F(cb_event_t, "position", OP_PUBKEY, position)
#define EV_TS F(cb_event_t, "timestamp", OP_I64, timestamp)

static const cb_fspec_t SPEC_EV_CREATED[] = {
    EV_MARKET,
    F(cb_event_t, "market_id", OP_U64, market_id),
    F(cb_event_t, "authority", OP_PUBKEY, user),
    FE(cb_event_t, "market_type", market_type, ENUM_market_type),
    F(cb_event_t, "creation_fee", OP_U64, creation_fee),
    EV_TS,
    FEND};
static const cb_fspec_t SPEC_EV_BET[] = {
    EV_MARKET,
    EV_POSITION,
    F(cb_event_t, "user", OP_PUBKEY, user),
    FE(cb_event_t, "side", side, ENUM_side),
    F(cb_event_t, "amount", OP_U64, amount),
    F(cb_event_t, "platform_fee", OP_U64, platform_fee),
    F(cb_event_t, "price", OP_U64, price),
    F(cb_event_t, "yes_pool", OP_U64, yes_pool),
    F(cb_event_t, "no_pool", OP_U64, no_pool),
    EV_TS,
    FEND};
static const cb_fspec_t SPEC_EV_CLAIM[] = {
    EV_MARKET, EV_POSITION, F(cb_event_t, "user", OP_PUBKEY, user),
    F(cb_event_t, "amount", OP_U64, amount), EV_TS, FEND};
static const cb_fspec_t SPEC_EV_RESOLVED[] = {
    EV_MARKET, F(cb_event_t, "resolver", OP_PUBKEY, user), F(cb_event_t, "result", OP_BOOL, result),
    EV_TS, FEND};
static const cb_fspec_t SPEC_EV_CANCELLED[] = {
    EV_MARKET, F(cb_event_t, "authority", OP_PUBKEY, user), EV_TS, FEND};

static const struct {
  const char *name;
  const cb_fspec_t *spec;
} EVENTS[CB_EVENT__COUNT] = {
    {"MarketCreated", SPEC_EV_CREATED},   {"BetPlaced", SPEC_EV_BET},
    {"WinningsClaimed", SPEC_EV_CLAIM},   {"RefundClaimed", SPEC_EV_CLAIM},
    {"MarketResolved", SPEC_EV_RESOLVED}, {"MarketCancelled", SPEC_EV_CANCELLED}};

static const cb_fspec_t SPEC_IX_NONE[] = {FEND};
static const cb_fspec_t SPEC_IX_CREATE[] = {F(cb_instruction_t, "market_id", OP_U64, market_id),
                                            FEND};
static const cb_fspec_t SPEC_IX_BET[] = {FE(cb_instruction_t, "side", side, ENUM_side),
                                         F(cb_instruction_t, "amount", OP_U64, amount), FEND};
static const cb_fspec_t SPEC_IX_RESOLVE[] = {
    FO(cb_instruction_t, "result", OP_HAS_BOOL, result, has_result), FEND};

/* Per instruction: argument spec and the account roles it must name
 * (bit per ROLE_*; ROLE_USER is its first signer). */
#define R(x) (1u << ROLE_##x)
static const struct {
  const cb_fspec_t *spec;
  unsigned roles;
} INSTRUCTIONS[CB_TX__COUNT] = {
    [CB_TX_INITIALIZE_CONFIG] = {SPEC_IX_NONE, R(USER) | R(GLOBAL)},
    [CB_TX_CREATE_MARKET] = {SPEC_IX_CREATE, R(MARKET) | R(USER)},
    [CB_TX_PLACE_BET] = {SPEC_IX_BET, R(MARKET) | R(POSITION) | R(USER)},
    [CB_TX_CLAIM_WINNINGS] = {SPEC_IX_NONE, R(MARKET) | R(POSITION) | R(USER)},
    [CB_TX_CLAIM_REFUND] = {SPEC_IX_NONE, R(MARKET) | R(POSITION) | R(USER)},
    [CB_TX_RESOLVE_MARKET] = {SPEC_IX_RESOLVE, R(MARKET) | R(USER)},
    [CB_TX_CANCEL_MARKET] = {SPEC_IX_NONE, R(MARKET) | R(USER)},
    [CB_TX_UPDATE_ORACLE] = {SPEC_IX_NONE, R(MARKET) | R(ORACLE) | R(USER)},
};
#undef R

static const char *const ROLE_NAMES[ROLE__COUNT] = {"market", "position", "(signer)", "oracle_data",
                                                    "global_config"};

/* ---- binding ---------------------------------------------------------------- */

/* Binding state: the decoder being built and the first error. */
typedef struct bind_ctx {
  cb_decoder_t *d;
  int status; /* 0, or DECODE_ERR_LAYOUT / DECODE_ERR_NOMEM */
  decode_error_t *err;
} bind_ctx_t;

static void bind_fail(bind_ctx_t *b, const char *type, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void bind_fail(bind_ctx_t *b, const char *type, const char *path, const char *fmt, ...) {
  if (b->status) return;
  b->status = DECODE_ERR_LAYOUT;
  decode_error_t *e = b->err;
  e->code = DECODE_ERR_LAYOUT;
  snprintf(e->type, sizeof e->type, "%s", type);
  snprintf(e->path, sizeof e->path, "%s", path);
  e->offset = 0;
  va_list ap;
  va_start(ap, fmt);
  log_vset_err(e->detail, sizeof e->detail, fmt, ap);
  va_end(ap);
}

static void bind_nomem(bind_ctx_t *b) {
  if (b->status) return;
  b->status = DECODE_ERR_NOMEM;
  memset(b->err, 0, sizeof *b->err);
  b->err->code = DECODE_ERR_NOMEM;
  snprintf(b->err->detail, sizeof b->err->detail, "out of memory building the typed binding");
}

static const char *op_text(int op) {
  switch (op) {
    case OP_PUBKEY: return "pubkey";
    case OP_BOOL: case OP_HAS_BOOL: return "bool";
    case OP_U8: return "u8";
    case OP_U16: return "u16";
    case OP_U32: return "u32";
    case OP_U64: return "u64";
    case OP_I64: return "i64";
    case OP_STR: return "string";
    case OP_ENUM: return "enum";
    case OP_OPT_BOOL: return "option<bool>";
    case OP_OPT_PUBKEY: return "option<pubkey>";
    case OP_BYTES64: return "[u8; 64]";
    default: return "?";
  }
}

static int enum_matches(const idl_t *idl, const idl_node_t *n, const cb_enum_spec_t *en) {
  if (n->kind != IDL_K_ENUM || n->count != en->n) return 0;
  for (uint32_t i = 0; i < n->count; i++) {
    const idl_variant_t *v = &idl->variants[n->child + i];
    if (v->node != IDL_NONE || strcmp(v->name, en->names[i]) != 0) return 0;
  }
  return 1;
}

/* Does IDL node ni hold what op expects? */
static int node_matches(const idl_t *idl, uint32_t ni, const cb_fspec_t *fs) {
  const idl_node_t *n = &idl->nodes[ni];
  switch (fs->op) {
    case OP_PUBKEY: return n->kind == IDL_K_PUBKEY;
    case OP_BOOL: case OP_HAS_BOOL: return n->kind == IDL_K_BOOL;
    case OP_U8: return n->kind == IDL_K_U8;
    case OP_U16: return n->kind == IDL_K_U16;
    case OP_U32: return n->kind == IDL_K_U32;
    case OP_U64: return n->kind == IDL_K_U64;
    case OP_I64: return n->kind == IDL_K_I64;
    case OP_STR: return n->kind == IDL_K_STRING;
    case OP_OPT_BOOL: return n->kind == IDL_K_OPTION && idl->nodes[n->child].kind == IDL_K_BOOL;
    case OP_OPT_PUBKEY:
      return n->kind == IDL_K_OPTION && idl->nodes[n->child].kind == IDL_K_PUBKEY;
    case OP_BYTES64:
      return n->kind == IDL_K_ARRAY && n->count == 64 && idl->nodes[n->child].kind == IDL_K_U8;
    case OP_ENUM: return enum_matches(idl, n, fs->en);
    default: return 0;
  }
}

static void snake(const char *name, char *out, size_t outsz) {
  if (idl_snake_case(name, out, outsz) != 0) snprintf(out, outsz, "%s", name);
}

/* Binds one IDL field (op) to the spec entry of the same snake_case name,
 * if any; seen marks the spec entries used. */
static void bind_field(bind_ctx_t *b, const idl_def_t *def, const idl_field_t *f,
                       const cb_fspec_t *spec, size_t nspec, unsigned char *seen, cb_op_t *op) {
  const idl_t *idl = b->d->idl;
  char sn[128];
  snake(f->name, sn, sizeof sn);
  op->name = f->name;
  op->node = f->node;
  op->op = OP_SKIP;
  for (size_t s = 0; s < nspec; s++) {
    if (strcmp(spec[s].name, sn) != 0) continue;
    if (!node_matches(idl, f->node, &spec[s])) {
      bind_fail(b, def->name, f->name, "IDL type does not match the record's %s",
                op_text(spec[s].op));
      return;
    }
    if (seen[s]) {
      bind_fail(b, def->name, f->name, "field appears twice");
      return;
    }
    seen[s] = 1;
    op->op = spec[s].op;
    op->off = spec[s].off;
    op->off2 = spec[s].off2;
    op->en = spec[s].en;
    return;
  }
}

/* Compiles def's fields against spec into prog. */
static void bind_def(bind_ctx_t *b, const idl_def_t *def, const cb_fspec_t *spec,
                     cb_prog_t *prog) {
  const idl_t *idl = b->d->idl;
  const idl_node_t *n = &idl->nodes[def->node];
  prog->def = def;
  if (n->kind != IDL_K_STRUCT) {
    bind_fail(b, def->name, "", "expected a Borsh struct layout");
    return;
  }
  size_t nspec = 0;
  while (spec[nspec].name) nspec++;
  unsigned char seen[32] = {0};
  if (nspec > sizeof seen) {
    bind_fail(b, def->name, "", "record specification too long");
    return;
  }
  prog->ops = calloc(n->count ? n->count : 1, sizeof *prog->ops);
  if (!prog->ops) {
    bind_nomem(b);
    return;
  }
  prog->n_ops = n->count;
  for (uint32_t i = 0; i < n->count && !b->status; i++)
    bind_field(b, def, &idl->fields[n->child + i], spec, nspec, seen, &prog->ops[i]);
  for (size_t s = 0; s < nspec && !b->status; s++)
    if (!seen[s])
      bind_fail(b, def->name, spec[s].name, "field missing from the IDL (record needs %s)",
                op_text(spec[s].op));
}

static void bind_accounts(bind_ctx_t *b) {
  const idl_t *idl = b->d->idl;
  for (int k = 1; k < CB_ACCOUNT__COUNT && !b->status; k++) {
    const idl_def_t *d = idl_find_def_name(idl->accounts, idl->n_accounts, ACCOUNTS[k].name);
    if (!d) {
      bind_fail(b, ACCOUNTS[k].name, "", "account missing from the IDL");
      return;
    }
    bind_def(b, d, ACCOUNTS[k].spec, &b->d->acc[k]);
  }
}

static void bind_events(bind_ctx_t *b) {
  const idl_t *idl = b->d->idl;
  for (int k = 0; k < CB_EVENT__COUNT && !b->status; k++) {
    const idl_def_t *d = idl_find_def_name(idl->events, idl->n_events, EVENTS[k].name);
    if (!d) {
      bind_fail(b, EVENTS[k].name, "", "event missing from the IDL");
      return;
    }
    bind_def(b, d, EVENTS[k].spec, &b->d->ev[k]);
  }
}

/* The account index of each role of instruction t (def d). */
static void bind_roles(bind_ctx_t *b, int t, const idl_def_t *d) {
  int *role = b->d->ix_role[t];
  for (int r = 0; r < ROLE__COUNT; r++) role[r] = -1;
  for (size_t a = 0; a < d->n_accounts; a++) {
    char sn[128];
    snake(d->accounts[a].name, sn, sizeof sn);
    if (d->accounts[a].signer && role[ROLE_USER] < 0) role[ROLE_USER] = (int)a;
    for (int r = 0; r < ROLE__COUNT; r++)
      if (r != ROLE_USER && role[r] < 0 && strcmp(sn, ROLE_NAMES[r]) == 0) role[r] = (int)a;
  }
  for (int r = 0; r < ROLE__COUNT && !b->status; r++)
    if ((INSTRUCTIONS[t].roles & (1u << r)) && role[r] < 0)
      bind_fail(b, d->name, "accounts", "no %s account", ROLE_NAMES[r]);
}

static void bind_instructions(bind_ctx_t *b) {
  const idl_t *idl = b->d->idl;
  for (int t = 0; t < CB_TX__COUNT && !b->status; t++) {
    const char *want = cb_tx_type_name((cb_tx_type_t)t);
    const idl_def_t *d = NULL;
    for (size_t i = 0; i < idl->n_instructions && !d; i++) {
      char sn[128];
      snake(idl->instructions[i].name, sn, sizeof sn);
      if (strcmp(sn, want) == 0) d = &idl->instructions[i];
    }
    if (!d) {
      bind_fail(b, want, "", "instruction missing from the IDL");
      return;
    }
    bind_def(b, d, INSTRUCTIONS[t].spec, &b->d->ix[t]);
    if (!b->status) bind_roles(b, t, d);
  }
}

int cb_decoder_default_idl(idl_t **out, char *err, size_t errsz) {
  return idl_load_embedded(CB_DECODER_IDL_EMBEDDED, out, err, errsz);
}

void cb_decoder_free(cb_decoder_t *d) {
  if (!d) return;
  for (int i = 0; i < CB_ACCOUNT__COUNT; i++) free(d->acc[i].ops);
  for (int i = 0; i < CB_TX__COUNT; i++) free(d->ix[i].ops);
  for (int i = 0; i < CB_EVENT__COUNT; i++) free(d->ev[i].ops);
  free((void *)d->spare);
  free(d);
}

int cb_decoder_new_opts(const idl_t *idl, const cb_decoder_options_t *opts, cb_decoder_t **out,
                        decode_error_t *err) {
  decode_error_t scratch;
  if (!err) err = &scratch;
  memset(err, 0, sizeof *err);
  *out = NULL;
  bind_ctx_t b = {calloc(1, sizeof(cb_decoder_t)), 0, err};
  if (!b.d) {
    bind_nomem(&b);
    return b.status;
  }
  b.d->idl = idl;
  b.d->strict = opts ? opts->strict : false;
  b.d->spare = calloc(CB_ACCOUNT__COUNT, sizeof *b.d->spare);
  if (!b.d->spare) bind_nomem(&b);
  for (int k = 0; k < CB_ACCOUNT__COUNT && b.d->spare; k++) atomic_init(&b.d->spare[k], 0);
  bind_accounts(&b);
  bind_events(&b);
  bind_instructions(&b);
  if (b.status) {
    cb_decoder_free(b.d);
    return b.status;
  }
  *out = b.d;
  return 0;
}

int cb_decoder_new(const idl_t *idl, cb_decoder_t **out, decode_error_t *err) {
  return cb_decoder_new_opts(idl, NULL, out, err);
}

const idl_t *cb_decoder_idl(const cb_decoder_t *dec) { return dec->idl; }

bool cb_decoder_strict(const cb_decoder_t *dec) { return dec->strict; }

uint64_t cb_decoder_trailing_count(const cb_decoder_t *dec, cb_account_kind_t kind) {
  if ((unsigned)kind >= CB_ACCOUNT__COUNT || kind == CB_ACCOUNT_UNKNOWN) return 0;
  return atomic_load_explicit(&dec->spare[kind], memory_order_relaxed);
}

/* ---- decoding --------------------------------------------------------------- */

static inline uint32_t ld32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t ld64(const uint8_t *p) {
  return (uint64_t)ld32(p) | ((uint64_t)ld32(p + 4) << 32);
}

static int op_fail(const decode_ctx_t *c, int code, const cb_op_t *op, size_t off,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int op_fail(const decode_ctx_t *c, int code, const cb_op_t *op, size_t off,
                   const char *fmt, ...) {
  char detail[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  if (n < 0) detail[0] = '\0';
  decode_pframe_t fr = {NULL, op->name, 0, DECODE_PF_NAME};
  return decode_borsh_fail(c, code, &fr, NULL, off, "%s", detail);
}

static int op_trunc(const decode_ctx_t *c, const cb_op_t *op, size_t off, size_t need) {
  return op_fail(c, DECODE_ERR_TRUNCATED, op, off, "needs %zu bytes, %zu left", need,
                 c->len - off);
}

static inline void put_pubkey(uint8_t *rec, uint16_t off, const uint8_t *src) {
  cb_pubkey_t *pk = (cb_pubkey_t *)(rec + off);
  memcpy(pk->bytes, src, 32);
  base58_encode_32(pk->bytes, pk->b58);
}

static inline void put_bool(uint8_t *rec, uint16_t off, bool v) { memcpy(rec + off, &v, sizeof v); }

static inline int get_bool(const decode_ctx_t *c, const cb_op_t *op, size_t o, bool *v) {
  if (o >= c->len) return op_trunc(c, op, o, 1);
  uint8_t b = c->data[o];
  if (b > 1) return op_fail(c, DECODE_ERR_BOOL, op, o, "bool byte is %u", b);
  *v = b;
  return 0;
}

/* Fixed-size integers, pubkeys and byte arrays: no validation beyond the
 * bounds. Returns 0 and advances *o, or the error. */
static int op_fixed(const decode_ctx_t *c, const cb_op_t *op, size_t *o, uint8_t *rec) {
  static const uint8_t width[] = {[OP_PUBKEY] = 32, [OP_U8] = 1,  [OP_U16] = 2,     [OP_U32] = 4,
                                  [OP_U64] = 8,     [OP_I64] = 8, [OP_BYTES64] = 64};
  const uint8_t *p = c->data + *o;
  size_t w = width[op->op];
  if (c->len - *o < w) return op_trunc(c, op, *o, w);
  switch (op->op) {
    case OP_PUBKEY: put_pubkey(rec, op->off, p); break;
    case OP_U8: rec[op->off] = p[0]; break;
    case OP_U16: {
      uint16_t v = (uint16_t)(p[0] | (p[1] << 8));
      memcpy(rec + op->off, &v, 2);
      break;
    }
    case OP_U32: {
      uint32_t v = ld32(p);
      memcpy(rec + op->off, &v, 4);
      break;
    }
    case OP_BYTES64: memcpy(rec + op->off, p, 64); break;
    default: { /* OP_U64, OP_I64 */
      uint64_t v = ld64(p);
      memcpy(rec + op->off, &v, 8);
      break;
    }
  }
  *o += w;
  return 0;
}

/* A Borsh string: u32 length, then valid UTF-8 without NUL; borrowed. */
static int op_str(const decode_ctx_t *c, const cb_op_t *op, size_t *o, uint8_t *rec) {
  size_t rem = c->len - *o;
  if (rem < 4) return op_trunc(c, op, *o, 4);
  uint32_t L = ld32(c->data + *o);
  if (L > rem - 4)
    return op_fail(c, DECODE_ERR_LENGTH, op, *o, "length %" PRIu32 " exceeds the %zu bytes left",
                   L, rem - 4);
  const uint8_t *s = c->data + *o + 4;
  size_t bad;
  int rc = decode_utf8_check(s, L, &bad);
  if (rc != 0)
    return op_fail(c, rc, op, *o + 4 + bad,
                   rc == DECODE_ERR_NUL ? "NUL byte in string at index %zu"
                                        : "invalid UTF-8 at index %zu",
                   bad);
  cb_str_t v = {(const char *)s, L};
  memcpy(rec + op->off, &v, sizeof v);
  *o += 4 + (size_t)L;
  return 0;
}

static int op_enum(const decode_ctx_t *c, const cb_op_t *op, size_t *o, uint8_t *rec) {
  if (*o >= c->len) return op_trunc(c, op, *o, 1);
  uint8_t idx = c->data[*o];
  if (idx >= op->en->n)
    return op_fail(c, DECODE_ERR_ENUM, op, *o, "variant index %u, the enum has %u variants", idx,
                   op->en->n);
  int v = op->en->values[idx];
  memcpy(rec + op->off, &v, sizeof v);
  (*o)++;
  return 0;
}

/* bool, and bool that also sets its has_ flag (an instruction argument). */
static int op_bool(const decode_ctx_t *c, const cb_op_t *op, size_t *o, uint8_t *rec) {
  bool v = false;
  int rc = get_bool(c, op, *o, &v);
  if (rc != 0) return rc;
  put_bool(rec, op->off, v);
  if (op->op == OP_HAS_BOOL) put_bool(rec, op->off2, true);
  (*o)++;
  return 0;
}

/* Option<bool> / Option<Pubkey>: u8 tag, payload when 1. */
static int op_option(const decode_ctx_t *c, const cb_op_t *op, size_t *o, uint8_t *rec) {
  if (*o >= c->len) return op_trunc(c, op, *o, 1);
  uint8_t tag = c->data[*o];
  if (tag > 1) return op_fail(c, DECODE_ERR_OPTION, op, *o, "option tag is not 0 or 1");
  bool has = tag == 1;
  put_bool(rec, op->off2, has);
  (*o)++;
  if (op->op == OP_OPT_BOOL) {
    bool v = false;
    if (has) {
      int rc = get_bool(c, op, *o, &v);
      if (rc != 0) return rc;
      (*o)++;
    }
    put_bool(rec, op->off, v);
    return 0;
  }
  if (!has) {
    memset(rec + op->off, 0, sizeof(cb_pubkey_t));
    return 0;
  }
  if (c->len - *o < 32) return op_trunc(c, op, *o, 32);
  put_pubkey(rec, op->off, c->data + *o);
  *o += 32;
  return 0;
}

/* Runs prog's operations from *off, writing into rec. */
static int run_ops(const decode_ctx_t *c, const cb_prog_t *prog, size_t *off, uint8_t *rec) {
  size_t o = *off;
  for (size_t i = 0; i < prog->n_ops; i++) {
    const cb_op_t *op = &prog->ops[i];
    int rc;
    switch (op->op) {
      case OP_PUBKEY: case OP_U8: case OP_U16: case OP_U32: case OP_U64: case OP_I64:
      case OP_BYTES64:
        rc = op_fixed(c, op, &o, rec);
        break;
      case OP_STR: rc = op_str(c, op, &o, rec); break;
      case OP_ENUM: rc = op_enum(c, op, &o, rec); break;
      case OP_BOOL: case OP_HAS_BOOL: rc = op_bool(c, op, &o, rec); break;
      case OP_OPT_BOOL: case OP_OPT_PUBKEY: rc = op_option(c, op, &o, rec); break;
      default: {
        decode_pframe_t fr = {NULL, op->name, 0, DECODE_PF_NAME};
        rc = decode_borsh_walk(c, op->node, &o, NULL, &fr, 1);
        break;
      }
    }
    if (rc != 0) return rc;
  }
  *off = o;
  return 0;
}

static const cb_prog_t *find_prog(const cb_prog_t *progs, size_t first, size_t n,
                                  const uint8_t *data, size_t len, size_t *which) {
  const cb_prog_t *best = NULL;
  for (size_t i = first; i < n; i++) {
    const idl_def_t *d = progs[i].def;
    if (d->disc_len <= len && (d->disc_len == 0 || memcmp(d->disc, data, d->disc_len) == 0) &&
        (!best || d->disc_len > best->def->disc_len)) {
      best = &progs[i];
      *which = i;
    }
  }
  return best;
}

static void err_reset(decode_error_t *err) { memset(err, 0, sizeof *err); }

int cb_decode_account(const cb_decoder_t *dec, const uint8_t *data, size_t len,
                      cb_account_t *out, decode_error_t *err) {
  decode_error_t scratch;
  if (!err) err = &scratch;
  err_reset(err);
  out->spare_bytes = 0;
  out->spare_first = false;
  size_t k = 0;
  const cb_prog_t *p = find_prog(dec->acc, 1, CB_ACCOUNT__COUNT, data, len, &k);
  if (!p) {
    out->kind = CB_ACCOUNT_UNKNOWN;
    return decode_unknown_disc(err, "account", data, len);
  }
  out->kind = (cb_account_kind_t)k;
  decode_ctx_t c = {dec->idl, data, len, p->def->name, err};
  size_t off = p->def->disc_len;
  int rc = run_ops(&c, p, &off, (uint8_t *)&out->u);
  if (rc != 0) return rc;
  size_t first;
  if (off >= len || decode_all_zero(data + off, len - off, &first)) return 0;
  /* Non-zero bytes after the layout: ignored (Anchor), or refused. */
  if (dec->strict) return decode_borsh_trailing(&c, off, 0);
  out->spare_bytes = len - off > UINT32_MAX ? UINT32_MAX : (uint32_t)(len - off);
  out->spare_first =
      atomic_fetch_add_explicit(&dec->spare[k], 1, memory_order_relaxed) == 0;
  return 0;
}

int cb_decode_event(const cb_decoder_t *dec, const uint8_t *data, size_t len, cb_event_t *out,
                    decode_error_t *err) {
  decode_error_t scratch;
  if (!err) err = &scratch;
  err_reset(err);
  size_t k = 0;
  const cb_prog_t *p = find_prog(dec->ev, 0, CB_EVENT__COUNT, data, len, &k);
  if (!p) return decode_unknown_disc(err, "event", data, len);
  memset(out, 0, sizeof *out);
  out->kind = (cb_event_kind_t)k;
  out->side = CB_SIDE_NONE;
  decode_ctx_t c = {dec->idl, data, len, p->def->name, err};
  size_t off = p->def->disc_len;
  int rc = run_ops(&c, p, &off, (uint8_t *)out);
  if (rc != 0) return rc;
  return decode_borsh_trailing(&c, off, 0);
}

int cb_decode_instruction(const cb_decoder_t *dec, const uint8_t *data, size_t len,
                          const char *const *account_keys, size_t n_keys, cb_instruction_t *out,
                          decode_error_t *err) {
  decode_error_t scratch;
  if (!err) err = &scratch;
  err_reset(err);
  size_t k = 0;
  const cb_prog_t *p = find_prog(dec->ix, 0, CB_TX__COUNT, data, len, &k);
  if (!p) return decode_unknown_disc(err, "instruction", data, len);
  memset(out, 0, sizeof *out);
  out->type = (cb_tx_type_t)k;
  out->side = CB_SIDE_NONE;
  decode_ctx_t c = {dec->idl, data, len, p->def->name, err};
  size_t off = p->def->disc_len;
  /* Leftover bytes after the arguments are ignored, as the program does. */
  int rc = run_ops(&c, p, &off, (uint8_t *)out);
  if (rc != 0) return rc;
  char *dst[ROLE__COUNT] = {out->market, out->position, out->user, out->oracle_data,
                            out->global_config};
  for (int r = 0; r < ROLE__COUNT; r++) {
    int ai = dec->ix_role[k][r];
    if (ai < 0 || (size_t)ai >= n_keys || !account_keys || !account_keys[ai]) continue;
    size_t kl = strlen(account_keys[ai]);
    if (kl >= CB_PUBKEY_B58_MAX)
      return decode_borsh_fail(&c, DECODE_ERR_LENGTH, NULL, p->def->accounts[ai].name, 0,
                               "account key of %zu characters is not a pubkey", kl);
    memcpy(dst[r], account_keys[ai], kl + 1);
  }
  return 0;
}
