/* Typed decoding of the Crypto Bet accounts, instructions and events.
 *
 * IDL-driven: at first use the IDL's definitions are bound to the records
 * of cb_types.h / decoder.h. Each IDL field becomes one operation (C kind +
 * offset into the record), checked against what the record expects; IDL
 * fields the record does not carry become validating skips. Decoding then
 * runs those operations over the bytes, writing straight into the record.
 * The binding is built once per idl_t and published atomically. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "cb_types.h"
#include "decode_borsh.h"
#include "decoder.h"
#include "idl_layout.h"

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

typedef struct cb_enum_spec {
  uint8_t n;
  const char *names[4];
  int values[4];
} cb_enum_spec_t;

static const cb_enum_spec_t ENUM_MARKET_STATE = {
    4,
    {"Active", "Resolved", "Cancelled", "Paused"},
    {CB_MARKET_ACTIVE, CB_MARKET_RESOLVED, CB_MARKET_CANCELLED, CB_MARKET_PAUSED}};
static const cb_enum_spec_t ENUM_MARKET_TYPE = {
    2, {"Degen", "Stable"}, {CB_MARKET_DEGEN, CB_MARKET_STABLE}};
static const cb_enum_spec_t ENUM_TREASURY_TYPE = {
    3,
    {"YesPool", "NoPool", "Platform"},
    {CB_TREASURY_YES, CB_TREASURY_NO, CB_TREASURY_PLATFORM}};
static const cb_enum_spec_t ENUM_SIDE = {2, {"Yes", "No"}, {CB_SIDE_YES, CB_SIDE_NO}};

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
  uint32_t node;                /* OP_SKIP */
  const cb_enum_spec_t *en;     /* OP_ENUM */
  const char *name;             /* IDL field name, for error paths */
} cb_op_t;

typedef struct cb_prog {
  const idl_def_t *def;
  cb_op_t *ops;
  size_t n_ops;
} cb_prog_t;

enum { ROLE_MARKET = 0, ROLE_POSITION, ROLE_USER, ROLE_ORACLE, ROLE_GLOBAL, ROLE__COUNT };

typedef struct cb_binding {
  int status;         /* 0, or DECODE_ERR_LAYOUT / DECODE_ERR_NOMEM */
  decode_error_t err; /* why the binding failed */
  cb_prog_t acc[5];   /* by cb_account_kind_t - 1 */
  cb_prog_t ix[CB_TX__COUNT];
  int ix_role[CB_TX__COUNT][ROLE__COUNT]; /* account index per role, -1 none */
  cb_prog_t ev[6];                        /* by cb_event_kind_t */
} cb_binding_t;

/* ---- record specifications ---------------------------------------------- */

#define F(rec, nm, opk, member) {nm, opk, (uint16_t)offsetof(rec, member), 0, NULL}
#define FE(rec, nm, member, spec) {nm, OP_ENUM, (uint16_t)offsetof(rec, member), 0, &spec}
#define FO(rec, nm, opk, member, has) \
  {nm, opk, (uint16_t)offsetof(rec, member), (uint16_t)offsetof(rec, has), NULL}
#define FEND {NULL, 0, 0, 0, NULL}

static const cb_fspec_t SPEC_CONFIG[] = {
    F(cb_global_config_t, "authority", OP_PUBKEY, authority),
    F(cb_global_config_t, "platform_fee_bps", OP_U16, platform_fee_bps),
    F(cb_global_config_t, "min_market_duration", OP_I64, min_market_duration),
    F(cb_global_config_t, "max_market_duration", OP_I64, max_market_duration),
    F(cb_global_config_t, "min_bet_amount", OP_U64, min_bet_amount),
    F(cb_global_config_t, "max_bet_amount", OP_U64, max_bet_amount),
    F(cb_global_config_t, "platform_treasury", OP_PUBKEY, platform_treasury),
    F(cb_global_config_t, "is_paused", OP_BOOL, is_paused),
    F(cb_global_config_t, "total_markets_created", OP_U64, total_markets_created),
    F(cb_global_config_t, "total_volume", OP_U64, total_volume),
    F(cb_global_config_t, "version", OP_U8, version),
    F(cb_global_config_t, "bump", OP_U8, bump),
    FEND};

static const cb_fspec_t SPEC_MARKET[] = {
    F(cb_market_t, "authority", OP_PUBKEY, authority),
    F(cb_market_t, "market_id", OP_U64, market_id),
    F(cb_market_t, "title", OP_STR, title),
    F(cb_market_t, "description", OP_STR, description),
    F(cb_market_t, "category", OP_STR, category),
    F(cb_market_t, "created_at", OP_I64, created_at),
    F(cb_market_t, "resolution_time", OP_I64, resolution_time),
    FE(cb_market_t, "state", state, ENUM_MARKET_STATE),
    FE(cb_market_t, "market_type", market_type, ENUM_MARKET_TYPE),
    F(cb_market_t, "accepted_mint", OP_PUBKEY, accepted_mint),
    F(cb_market_t, "yes_vault", OP_PUBKEY, yes_vault),
    F(cb_market_t, "no_vault", OP_PUBKEY, no_vault),
    F(cb_market_t, "yes_pool", OP_U64, yes_pool),
    F(cb_market_t, "no_pool", OP_U64, no_pool),
    F(cb_market_t, "total_volume", OP_U64, total_volume),
    F(cb_market_t, "total_participants", OP_U32, total_participants),
    FO(cb_market_t, "resolution_result", OP_OPT_BOOL, resolution_result, has_resolution_result),
    F(cb_market_t, "resolver", OP_PUBKEY, resolver),
    FO(cb_market_t, "oracle_source", OP_OPT_PUBKEY, oracle_source, has_oracle_source),
    F(cb_market_t, "metadata_uri", OP_STR, metadata_uri),
    F(cb_market_t, "creation_fee", OP_U64, creation_fee),
    F(cb_market_t, "bump", OP_U8, bump),
    FEND};

static const cb_fspec_t SPEC_POSITION[] = {
    F(cb_position_t, "user", OP_PUBKEY, user),
    F(cb_position_t, "market", OP_PUBKEY, market),
    F(cb_position_t, "yes_shares", OP_U64, yes_shares),
    F(cb_position_t, "no_shares", OP_U64, no_shares),
    F(cb_position_t, "total_invested", OP_U64, total_invested),
    F(cb_position_t, "yes_avg_price", OP_U64, yes_avg_price),
    F(cb_position_t, "no_avg_price", OP_U64, no_avg_price),
    F(cb_position_t, "created_at", OP_I64, created_at),
    F(cb_position_t, "updated_at", OP_I64, updated_at),
    F(cb_position_t, "claimed", OP_BOOL, claimed),
    F(cb_position_t, "claimed_amount", OP_U64, claimed_amount),
    F(cb_position_t, "bet_count", OP_U32, bet_count),
    F(cb_position_t, "bump", OP_U8, bump),
    FEND};

static const cb_fspec_t SPEC_TREASURY[] = {
    F(cb_treasury_t, "market", OP_PUBKEY, market),
    F(cb_treasury_t, "mint", OP_PUBKEY, mint),
    F(cb_treasury_t, "authority", OP_PUBKEY, authority),
    F(cb_treasury_t, "total_deposits", OP_U64, total_deposits),
    F(cb_treasury_t, "total_withdrawals", OP_U64, total_withdrawals),
    F(cb_treasury_t, "current_balance", OP_U64, current_balance),
    FE(cb_treasury_t, "treasury_type", treasury_type, ENUM_TREASURY_TYPE),
    F(cb_treasury_t, "bump", OP_U8, bump),
    FEND};

static const cb_fspec_t SPEC_ORACLE[] = {
    F(cb_oracle_data_t, "authority", OP_PUBKEY, authority),
    F(cb_oracle_data_t, "market", OP_PUBKEY, market),
    F(cb_oracle_data_t, "source", OP_STR, source),
    F(cb_oracle_data_t, "value", OP_STR, value),
    F(cb_oracle_data_t, "timestamp", OP_I64, timestamp),
    F(cb_oracle_data_t, "confidence", OP_U8, confidence),
    F(cb_oracle_data_t, "signature", OP_BYTES64, signature),
    F(cb_oracle_data_t, "bump", OP_U8, bump),
    FEND};

static const struct {
  const char *name;
  const cb_fspec_t *spec;
} ACCOUNTS[5] = {{"GlobalConfig", SPEC_CONFIG},
                 {"Market", SPEC_MARKET},
                 {"Position", SPEC_POSITION},
                 {"Treasury", SPEC_TREASURY},
                 {"OracleData", SPEC_ORACLE}};

#define EV_MARKET F(cb_event_t, "market", OP_PUBKEY, market)
#define EV_POSITION F(cb_event_t, "position", OP_PUBKEY, position)
#define EV_TS F(cb_event_t, "timestamp", OP_I64, timestamp)

static const cb_fspec_t SPEC_EV_CREATED[] = {
    EV_MARKET,
    F(cb_event_t, "market_id", OP_U64, market_id),
    F(cb_event_t, "authority", OP_PUBKEY, user),
    FE(cb_event_t, "market_type", market_type, ENUM_MARKET_TYPE),
    F(cb_event_t, "creation_fee", OP_U64, creation_fee),
    EV_TS,
    FEND};
static const cb_fspec_t SPEC_EV_BET[] = {
    EV_MARKET,
    EV_POSITION,
    F(cb_event_t, "user", OP_PUBKEY, user),
    FE(cb_event_t, "side", side, ENUM_SIDE),
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
} EVENTS[6] = {{"MarketCreated", SPEC_EV_CREATED},   {"BetPlaced", SPEC_EV_BET},
               {"WinningsClaimed", SPEC_EV_CLAIM},   {"RefundClaimed", SPEC_EV_CLAIM},
               {"MarketResolved", SPEC_EV_RESOLVED}, {"MarketCancelled", SPEC_EV_CANCELLED}};

static const cb_fspec_t SPEC_IX_NONE[] = {FEND};
static const cb_fspec_t SPEC_IX_CREATE[] = {F(cb_instruction_t, "market_id", OP_U64, market_id),
                                            FEND};
static const cb_fspec_t SPEC_IX_BET[] = {FE(cb_instruction_t, "side", side, ENUM_SIDE),
                                         F(cb_instruction_t, "amount", OP_U64, amount), FEND};
static const cb_fspec_t SPEC_IX_RESOLVE[] = {
    FO(cb_instruction_t, "result", OP_HAS_BOOL, result, has_result), FEND};

/* Per instruction: argument spec and the account roles it must name
 * (bit per ROLE_*; ROLE_USER is its first signer). */
static const struct {
  const cb_fspec_t *spec;
  unsigned roles;
} INSTRUCTIONS[CB_TX__COUNT] = {
    [CB_TX_INITIALIZE_CONFIG] = {SPEC_IX_NONE, 1u << ROLE_USER | 1u << ROLE_GLOBAL},
    [CB_TX_CREATE_MARKET] = {SPEC_IX_CREATE, 1u << ROLE_MARKET | 1u << ROLE_USER},
    [CB_TX_PLACE_BET] = {SPEC_IX_BET, 1u << ROLE_MARKET | 1u << ROLE_POSITION | 1u << ROLE_USER},
    [CB_TX_CLAIM_WINNINGS] = {SPEC_IX_NONE,
                              1u << ROLE_MARKET | 1u << ROLE_POSITION | 1u << ROLE_USER},
    [CB_TX_CLAIM_REFUND] = {SPEC_IX_NONE, 1u << ROLE_MARKET | 1u << ROLE_POSITION | 1u << ROLE_USER},
    [CB_TX_RESOLVE_MARKET] = {SPEC_IX_RESOLVE, 1u << ROLE_MARKET | 1u << ROLE_USER},
    [CB_TX_CANCEL_MARKET] = {SPEC_IX_NONE, 1u << ROLE_MARKET | 1u << ROLE_USER},
    [CB_TX_UPDATE_ORACLE] = {SPEC_IX_NONE, 1u << ROLE_MARKET | 1u << ROLE_ORACLE | 1u << ROLE_USER},
};

static const char *const ROLE_NAMES[ROLE__COUNT] = {"market", "position", "(signer)", "oracle_data",
                                                    "global_config"};

/* ---- binding ---------------------------------------------------------------- */

static void binding_fail(cb_binding_t *b, const char *type, const char *path, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

static void binding_fail(cb_binding_t *b, const char *type, const char *path, const char *fmt,
                         ...) {
  if (b->status) return;
  b->status = DECODE_ERR_LAYOUT;
  b->err.code = DECODE_ERR_LAYOUT;
  snprintf(b->err.type, sizeof b->err.type, "%s", type);
  snprintf(b->err.path, sizeof b->err.path, "%s", path);
  b->err.offset = 0;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->err.detail, sizeof b->err.detail, fmt, ap);
  va_end(ap);
  if (n < 0) b->err.detail[0] = '\0';
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
    case OP_ENUM: {
      if (n->kind != IDL_K_ENUM || n->count != fs->en->n) return 0;
      for (uint32_t i = 0; i < n->count; i++) {
        const idl_variant_t *v = &idl->variants[n->child + i];
        if (v->node != IDL_NONE || strcmp(v->name, fs->en->names[i]) != 0) return 0;
      }
      return 1;
    }
    default: return 0;
  }
}

static void snake(const char *name, char *out, size_t outsz) {
  if (idl_snake_case(name, out, outsz) != 0) snprintf(out, outsz, "%s", name);
}

/* Compiles def's fields against spec into prog. */
static void bind_def(cb_binding_t *b, const idl_t *idl, const idl_def_t *def,
                     const cb_fspec_t *spec, cb_prog_t *prog) {
  const idl_node_t *n = &idl->nodes[def->node];
  prog->def = def;
  if (n->kind != IDL_K_STRUCT) {
    binding_fail(b, def->name, "", "expected a Borsh struct layout");
    return;
  }
  size_t nspec = 0;
  while (spec[nspec].name) nspec++;
  unsigned char seen[32] = {0};
  if (nspec > sizeof seen) {
    binding_fail(b, def->name, "", "record specification too long");
    return;
  }
  prog->ops = calloc(n->count ? n->count : 1, sizeof *prog->ops);
  if (!prog->ops) {
    b->status = DECODE_ERR_NOMEM;
    b->err.code = DECODE_ERR_NOMEM;
    return;
  }
  prog->n_ops = n->count;
  for (uint32_t i = 0; i < n->count; i++) {
    const idl_field_t *f = &idl->fields[n->child + i];
    cb_op_t *op = &prog->ops[i];
    char sn[128];
    snake(f->name, sn, sizeof sn);
    op->name = f->name;
    op->node = f->node;
    op->op = OP_SKIP;
    for (size_t s = 0; s < nspec; s++) {
      if (strcmp(spec[s].name, sn) != 0) continue;
      if (!node_matches(idl, f->node, &spec[s])) {
        binding_fail(b, def->name, f->name, "IDL type does not match the record's %s",
                     op_text(spec[s].op));
        return;
      }
      if (seen[s]) {
        binding_fail(b, def->name, f->name, "field appears twice");
        return;
      }
      seen[s] = 1;
      op->op = spec[s].op;
      op->off = spec[s].off;
      op->off2 = spec[s].off2;
      op->en = spec[s].en;
      break;
    }
  }
  for (size_t s = 0; s < nspec; s++)
    if (!seen[s]) {
      binding_fail(b, def->name, spec[s].name, "field missing from the IDL (record needs %s)",
                   op_text(spec[s].op));
      return;
    }
}

void decode_cb_binding_free(void *p) {
  cb_binding_t *b = p;
  if (!b) return;
  for (int i = 0; i < 5; i++) free(b->acc[i].ops);
  for (int i = 0; i < CB_TX__COUNT; i++) free(b->ix[i].ops);
  for (int i = 0; i < 6; i++) free(b->ev[i].ops);
  free(b);
}

static cb_binding_t *binding_build(const idl_t *idl) {
  cb_binding_t *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  for (int k = 0; k < 5 && !b->status; k++) {
    const idl_def_t *d = idl_find_def_name(idl->accounts, idl->n_accounts, ACCOUNTS[k].name);
    if (!d) {
      binding_fail(b, ACCOUNTS[k].name, "", "account missing from the IDL");
      break;
    }
    bind_def(b, idl, d, ACCOUNTS[k].spec, &b->acc[k]);
  }
  for (int k = 0; k < 6 && !b->status; k++) {
    const idl_def_t *d = idl_find_def_name(idl->events, idl->n_events, EVENTS[k].name);
    if (!d) {
      binding_fail(b, EVENTS[k].name, "", "event missing from the IDL");
      break;
    }
    bind_def(b, idl, d, EVENTS[k].spec, &b->ev[k]);
  }
  for (int t = 0; t < CB_TX__COUNT && !b->status; t++) {
    const char *want = cb_tx_type_name((cb_tx_type_t)t);
    const idl_def_t *d = NULL;
    for (size_t i = 0; i < idl->n_instructions && !d; i++) {
      char sn[128];
      snake(idl->instructions[i].name, sn, sizeof sn);
      if (strcmp(sn, want) == 0) d = &idl->instructions[i];
    }
    if (!d) {
      binding_fail(b, want, "", "instruction missing from the IDL");
      break;
    }
    bind_def(b, idl, d, INSTRUCTIONS[t].spec, &b->ix[t]);
    for (int r = 0; r < ROLE__COUNT; r++) b->ix_role[t][r] = -1;
    for (size_t a = 0; a < d->n_accounts; a++) {
      char sn[128];
      snake(d->accounts[a].name, sn, sizeof sn);
      if (d->accounts[a].signer && b->ix_role[t][ROLE_USER] < 0) b->ix_role[t][ROLE_USER] = (int)a;
      for (int r = 0; r < ROLE__COUNT; r++)
        if (r != ROLE_USER && b->ix_role[t][r] < 0 && strcmp(sn, ROLE_NAMES[r]) == 0)
          b->ix_role[t][r] = (int)a;
    }
    for (int r = 0; r < ROLE__COUNT && !b->status; r++)
      if ((INSTRUCTIONS[t].roles & (1u << r)) && b->ix_role[t][r] < 0)
        binding_fail(b, d->name, "accounts", "no %s account", ROLE_NAMES[r]);
  }
  return b;
}

static const cb_binding_t *binding_get(const idl_t *idl) {
  struct idl *I = (struct idl *)idl; /* the cache slot is the only mutable part */
  void *cur = atomic_load_explicit(&I->cb, memory_order_acquire);
  if (cur) return cur;
  cb_binding_t *nb = binding_build(idl);
  if (!nb) return NULL;
  void *expected = NULL;
  if (!atomic_compare_exchange_strong_explicit(&I->cb, &expected, nb, memory_order_acq_rel,
                                               memory_order_acquire)) {
    decode_cb_binding_free(nb); /* another thread won */
    return expected;
  }
  return nb;
}

static int binding_status(const cb_binding_t *b, decode_error_t *err) {
  if (!b) {
    err->code = DECODE_ERR_NOMEM;
    snprintf(err->detail, sizeof err->detail, "out of memory building the typed binding");
    return DECODE_ERR_NOMEM;
  }
  if (b->status) {
    *err = b->err;
    return b->status;
  }
  return 0;
}

int cb_decoder_check_idl(const idl_t *idl, decode_error_t *err) {
  decode_error_t scratch;
  if (!err) err = &scratch;
  memset(err, 0, sizeof *err);
  return binding_status(binding_get(idl), err) == 0 ? 0 : -1;
}

/* ---- decoding --------------------------------------------------------------- */

static inline uint32_t ld32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t ld64(const uint8_t *p) {
  return (uint64_t)ld32(p) | ((uint64_t)ld32(p + 4) << 32);
}

static int op_fail(const decode_ctx_t *c, int code, const cb_op_t *op, size_t off,
                   const char *detail) {
  decode_pframe_t fr = {NULL, op->name, 0, DECODE_PF_NAME};
  return decode_borsh_fail(c, code, &fr, NULL, off, "%s", detail);
}

static int op_trunc(const decode_ctx_t *c, const cb_op_t *op, size_t off, size_t need) {
  decode_pframe_t fr = {NULL, op->name, 0, DECODE_PF_NAME};
  return decode_borsh_fail(c, DECODE_ERR_TRUNCATED, &fr, NULL, off, "needs %zu bytes, %zu left",
                           need, c->len - off);
}

static inline void put_pubkey(uint8_t *rec, uint16_t off, const uint8_t *src) {
  cb_pubkey_t *pk = (cb_pubkey_t *)(rec + off);
  memcpy(pk->bytes, src, 32);
  base58_encode_32(pk->bytes, pk->b58);
}

static inline void put_int(uint8_t *rec, uint16_t off, int v) { memcpy(rec + off, &v, sizeof v); }

static inline int get_bool(const decode_ctx_t *c, const cb_op_t *op, size_t o, bool *v) {
  uint8_t b = c->data[o];
  if (b > 1) {
    decode_pframe_t fr = {NULL, op->name, 0, DECODE_PF_NAME};
    return decode_borsh_fail(c, DECODE_ERR_BOOL, &fr, NULL, o, "bool byte is %u", b);
  }
  *v = b;
  return 0;
}

/* Runs prog's operations from *off, writing into rec. */
static int run_ops(const decode_ctx_t *c, const cb_prog_t *prog, size_t *off, uint8_t *rec) {
  const uint8_t *d = c->data;
  const size_t len = c->len;
  size_t o = *off;
  int rc;
  for (size_t i = 0; i < prog->n_ops; i++) {
    const cb_op_t *op = &prog->ops[i];
    size_t rem = len - o;
    switch (op->op) {
      case OP_PUBKEY:
        if (rem < 32) return op_trunc(c, op, o, 32);
        put_pubkey(rec, op->off, d + o);
        o += 32;
        break;
      case OP_U64:
      case OP_I64:
        if (rem < 8) return op_trunc(c, op, o, 8);
        {
          uint64_t v = ld64(d + o);
          memcpy(rec + op->off, &v, 8);
        }
        o += 8;
        break;
      case OP_U32:
        if (rem < 4) return op_trunc(c, op, o, 4);
        {
          uint32_t v = ld32(d + o);
          memcpy(rec + op->off, &v, 4);
        }
        o += 4;
        break;
      case OP_U16:
        if (rem < 2) return op_trunc(c, op, o, 2);
        {
          uint16_t v = (uint16_t)(d[o] | (d[o + 1] << 8));
          memcpy(rec + op->off, &v, 2);
        }
        o += 2;
        break;
      case OP_U8:
        if (rem < 1) return op_trunc(c, op, o, 1);
        rec[op->off] = d[o++];
        break;
      case OP_BOOL:
      case OP_HAS_BOOL: {
        if (rem < 1) return op_trunc(c, op, o, 1);
        bool v = false;
        if ((rc = get_bool(c, op, o, &v)) != 0) return rc;
        memcpy(rec + op->off, &v, sizeof v);
        if (op->op == OP_HAS_BOOL) {
          bool t = true;
          memcpy(rec + op->off2, &t, sizeof t);
        }
        o++;
        break;
      }
      case OP_STR: {
        if (rem < 4) return op_trunc(c, op, o, 4);
        uint32_t L = ld32(d + o);
        if (L > rem - 4) {
          decode_pframe_t fr = {NULL, op->name, 0, DECODE_PF_NAME};
          return decode_borsh_fail(c, DECODE_ERR_LENGTH, &fr, NULL, o,
                                   "length %" PRIu32 " exceeds the %zu bytes left", L, rem - 4);
        }
        size_t bad;
        if ((rc = decode_utf8_check(d + o + 4, L, &bad)) != 0) {
          decode_pframe_t fr = {NULL, op->name, 0, DECODE_PF_NAME};
          return decode_borsh_fail(c, rc, &fr, NULL, o + 4 + bad,
                                   rc == DECODE_ERR_NUL ? "NUL byte in string at index %zu"
                                                        : "invalid UTF-8 at index %zu",
                                   bad);
        }
        cb_str_t s = {(const char *)(d + o + 4), L};
        memcpy(rec + op->off, &s, sizeof s);
        o += 4 + (size_t)L;
        break;
      }
      case OP_ENUM: {
        if (rem < 1) return op_trunc(c, op, o, 1);
        uint8_t idx = d[o];
        if (idx >= op->en->n) {
          decode_pframe_t fr = {NULL, op->name, 0, DECODE_PF_NAME};
          return decode_borsh_fail(c, DECODE_ERR_ENUM, &fr, NULL, o,
                                   "variant index %u, the enum has %u variants", idx, op->en->n);
        }
        put_int(rec, op->off, op->en->values[idx]);
        o++;
        break;
      }
      case OP_OPT_BOOL:
      case OP_OPT_PUBKEY: {
        if (rem < 1) return op_trunc(c, op, o, 1);
        uint8_t tag = d[o];
        if (tag > 1) return op_fail(c, DECODE_ERR_OPTION, op, o, "option tag is not 0 or 1");
        bool has = tag == 1;
        memcpy(rec + op->off2, &has, sizeof has);
        o++;
        rem--;
        if (op->op == OP_OPT_BOOL) {
          bool v = false;
          if (has) {
            if (rem < 1) return op_trunc(c, op, o, 1);
            if ((rc = get_bool(c, op, o, &v)) != 0) return rc;
            o++;
          }
          memcpy(rec + op->off, &v, sizeof v);
        } else if (has) {
          if (rem < 32) return op_trunc(c, op, o, 32);
          put_pubkey(rec, op->off, d + o);
          o += 32;
        } else {
          memset(rec + op->off, 0, sizeof(cb_pubkey_t));
        }
        break;
      }
      case OP_BYTES64:
        if (rem < 64) return op_trunc(c, op, o, 64);
        memcpy(rec + op->off, d + o, 64);
        o += 64;
        break;
      default: {
        decode_pframe_t fr = {NULL, op->name, 0, DECODE_PF_NAME};
        if ((rc = decode_borsh_walk(c, op->node, &o, NULL, &fr, 1)) != 0) return rc;
        break;
      }
    }
  }
  *off = o;
  return 0;
}

static const cb_prog_t *find_prog(const cb_prog_t *progs, size_t n, const uint8_t *data,
                                  size_t len, size_t *which) {
  const cb_prog_t *best = NULL;
  for (size_t i = 0; i < n; i++) {
    const idl_def_t *d = progs[i].def;
    if (d->disc_len <= len && (d->disc_len == 0 || memcmp(d->disc, data, d->disc_len) == 0) &&
        (!best || d->disc_len > best->def->disc_len)) {
      best = &progs[i];
      *which = i;
    }
  }
  return best;
}

int cb_decode_account(const idl_t *idl, const uint8_t *data, size_t len, cb_account_t *out,
                      decode_error_t *err) {
  decode_error_t scratch;
  if (!err) err = &scratch;
  err->code = 0;
  const cb_binding_t *b = binding_get(idl);
  int rc = binding_status(b, err);
  if (rc != 0) return rc;
  size_t k = 0;
  const cb_prog_t *p = find_prog(b->acc, 5, data, len, &k);
  if (!p) {
    out->kind = CB_ACCOUNT_UNKNOWN;
    return decode_unknown_disc(err, "account", data, len);
  }
  out->kind = (cb_account_kind_t)(k + 1);
  decode_ctx_t c = {idl, data, len, p->def->name, err};
  size_t off = p->def->disc_len;
  if ((rc = run_ops(&c, p, &off, (uint8_t *)&out->u)) != 0) return rc;
  return decode_borsh_trailing(&c, off, 0);
}

int cb_decode_event(const idl_t *idl, const uint8_t *data, size_t len, cb_event_t *out,
                    decode_error_t *err) {
  decode_error_t scratch;
  if (!err) err = &scratch;
  err->code = 0;
  const cb_binding_t *b = binding_get(idl);
  int rc = binding_status(b, err);
  if (rc != 0) return rc;
  size_t k = 0;
  const cb_prog_t *p = find_prog(b->ev, 6, data, len, &k);
  if (!p) return decode_unknown_disc(err, "event", data, len);
  memset(out, 0, sizeof *out);
  out->kind = (cb_event_kind_t)k;
  out->side = CB_SIDE_NONE;
  decode_ctx_t c = {idl, data, len, p->def->name, err};
  size_t off = p->def->disc_len;
  if ((rc = run_ops(&c, p, &off, (uint8_t *)out)) != 0) return rc;
  return decode_borsh_trailing(&c, off, 0);
}

int cb_decode_instruction(const idl_t *idl, const uint8_t *data, size_t len,
                          const char *const *account_keys, size_t n_keys, cb_instruction_t *out,
                          decode_error_t *err) {
  decode_error_t scratch;
  if (!err) err = &scratch;
  err->code = 0;
  const cb_binding_t *b = binding_get(idl);
  int rc = binding_status(b, err);
  if (rc != 0) return rc;
  size_t k = 0;
  const cb_prog_t *p = find_prog(b->ix, CB_TX__COUNT, data, len, &k);
  if (!p) return decode_unknown_disc(err, "instruction", data, len);
  memset(out, 0, sizeof *out);
  out->type = (cb_tx_type_t)k;
  out->side = CB_SIDE_NONE;
  decode_ctx_t c = {idl, data, len, p->def->name, err};
  size_t off = p->def->disc_len;
  /* Leftover bytes after the arguments are ignored, as the program does. */
  if ((rc = run_ops(&c, p, &off, (uint8_t *)out)) != 0) return rc;
  char *dst[ROLE__COUNT] = {out->market, out->position, out->user, out->oracle_data,
                            out->global_config};
  for (int r = 0; r < ROLE__COUNT; r++) {
    int ai = b->ix_role[k][r];
    if (ai < 0 || (size_t)ai >= n_keys || !account_keys || !account_keys[ai]) continue;
    size_t kl = strlen(account_keys[ai]);
    if (kl >= CB_PUBKEY_B58_MAX)
      return decode_borsh_fail(&c, DECODE_ERR_LENGTH, NULL, p->def->accounts[ai].name, 0,
                               "account key of %zu characters is not a pubkey", kl);
    memcpy(dst[r], account_keys[ai], kl + 1);
  }
  return 0;
}
