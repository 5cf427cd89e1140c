/* Typed Crypto Bet records: what the decoder produces and the sink writes.
 *
 * Records are plain values. Strings are borrowed views into the byte buffer
 * that was decoded (cb_str_t): valid UTF-8 without NUL bytes (the decoder
 * rejects anything else), NOT NUL-terminated; they live as long as that
 * buffer. Pubkeys carry both their bytes and their base58 text. */
#ifndef CBI_CB_TYPES_H
#define CBI_CB_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#define CB_PUBKEY_B58_MAX 45    /* 44 chars + NUL */
#define CB_SIGNATURE_B58_MAX 89 /* 88 chars + NUL */

typedef struct cb_pubkey {
  uint8_t bytes[32];
  char b58[CB_PUBKEY_B58_MAX];
} cb_pubkey_t;

typedef struct cb_str {
  const char *ptr; /* borrowed; not NUL-terminated */
  uint32_t len;
} cb_str_t;

/* ---- enums ---------------------------------------------------------------
 *
 * Each enum is listed once: X(CONSTANT, IdlVariant, schema_label), in the
 * IDL's variant order (the Borsh index is the C value). The decoder binds
 * the IDL variants by name, the sink writes the schema labels. */

#define CB_MARKET_STATE_VARIANTS(X)                                           \
  X(CB_MARKET_ACTIVE, Active, active)                                         \
  X(CB_MARKET_RESOLVED, Resolved, resolved)                                   \
  X(CB_MARKET_CANCELLED, Cancelled, cancelled)                                \
  X(CB_MARKET_PAUSED, Paused, paused)
#define CB_MARKET_TYPE_VARIANTS(X)                                            \
  X(CB_MARKET_DEGEN, Degen, degen)                                            \
  X(CB_MARKET_STABLE, Stable, stable)
#define CB_TREASURY_TYPE_VARIANTS(X)                                          \
  X(CB_TREASURY_YES, YesPool, yes_pool)                                       \
  X(CB_TREASURY_NO, NoPool, no_pool)                                          \
  X(CB_TREASURY_PLATFORM, Platform, platform)
#define CB_SIDE_VARIANTS(X)                                                   \
  X(CB_SIDE_YES, Yes, yes)                                                    \
  X(CB_SIDE_NO, No, no)

#define CB_ENUM_CONST_(c, idl, label) c,
#define CB_ENUM_ONE_(c, idl, label) +1
typedef enum { CB_MARKET_STATE_VARIANTS(CB_ENUM_CONST_) } cb_market_state_t;
typedef enum { CB_MARKET_TYPE_VARIANTS(CB_ENUM_CONST_) } cb_market_type_t;
typedef enum { CB_TREASURY_TYPE_VARIANTS(CB_ENUM_CONST_) } cb_treasury_type_t;
/* CB_SIDE_NONE: the instruction or event has no side. */
typedef enum { CB_SIDE_NONE = -1, CB_SIDE_VARIANTS(CB_ENUM_CONST_) } cb_side_t;
/* Number of values of each (kept out of the enums so that switches over
 * them stay exhaustive). */
enum {
  CB_MARKET_STATE__COUNT = 0 CB_MARKET_STATE_VARIANTS(CB_ENUM_ONE_),
  CB_MARKET_TYPE__COUNT = 0 CB_MARKET_TYPE_VARIANTS(CB_ENUM_ONE_),
  CB_TREASURY_TYPE__COUNT = 0 CB_TREASURY_TYPE_VARIANTS(CB_ENUM_ONE_),
  CB_SIDE__COUNT = 0 CB_SIDE_VARIANTS(CB_ENUM_ONE_)
};
#undef CB_ENUM_CONST_
#undef CB_ENUM_ONE_

/* Schema labels ("active", "yes_pool", "yes", ...) and IDL variant names
 * ("Active", "YesPool", "Yes", ...) of the enums; NULL for a value outside
 * the enum (CB_SIDE_NONE included). Static strings. */
const char *cb_market_state_label(cb_market_state_t v);
const char *cb_market_type_label(cb_market_type_t v);
const char *cb_treasury_type_label(cb_treasury_type_t v);
const char *cb_side_label(cb_side_t v);
const char *cb_market_state_variant(cb_market_state_t v);
const char *cb_market_type_variant(cb_market_type_t v);
const char *cb_treasury_type_variant(cb_treasury_type_t v);
const char *cb_side_variant(cb_side_t v);

/* ---- account records -------------------------------------------------------
 *
 * Each record's fields are listed once, as
 *     X(ctx, member, KIND, aux)
 * in the order the sink sends them as columns (between the account's pubkey
 * first and its slot last). member is both the C member and the IDL field
 * (snake_case) the decoder binds it to; the sink's column list uses it too.
 * KIND and the C type it declares:
 *     PUBKEY      cb_pubkey_t          U8 U16 U32 U64  uintN_t
 *     I64         int64_t              BOOL            bool
 *     STR         cb_str_t             ENUM            cb_<aux>_t (aux: market_state, ...)
 *     OPT_BOOL    bool has_<member>; bool <member>           (IDL Option<bool>)
 *     OPT_PUBKEY  bool has_<member>; cb_pubkey_t <member>    (IDL Option<Pubkey>)
 *     BYTES64     uint8_t[64]                                 (IDL [u8; 64])
 * aux is "_" for every kind but ENUM. ctx is passed through untouched. */

#define CB_GLOBAL_CONFIG_FIELDS(X, ctx)                                       \
  X(ctx, authority, PUBKEY, _)                                                \
  X(ctx, platform_fee_bps, U16, _)                                            \
  X(ctx, min_market_duration, I64, _)                                         \
  X(ctx, max_market_duration, I64, _)                                         \
  X(ctx, min_bet_amount, U64, _)                                              \
  X(ctx, max_bet_amount, U64, _)                                              \
  X(ctx, platform_treasury, PUBKEY, _)                                        \
  X(ctx, is_paused, BOOL, _)                                                  \
  X(ctx, total_markets_created, U64, _)                                       \
  X(ctx, total_volume, U64, _)                                                \
  X(ctx, version, U8, _)                                                      \
  X(ctx, bump, U8, _)

#define CB_MARKET_FIELDS(X, ctx)                                              \
  X(ctx, market_id, U64, _)                                                   \
  X(ctx, authority, PUBKEY, _)                                                \
  X(ctx, title, STR, _)                                                       \
  X(ctx, description, STR, _)                                                 \
  X(ctx, category, STR, _)                                                    \
  X(ctx, market_type, ENUM, market_type)                                      \
  X(ctx, created_at, I64, _)                                                  \
  X(ctx, resolution_time, I64, _)                                             \
  X(ctx, state, ENUM, market_state)                                           \
  X(ctx, resolution_result, OPT_BOOL, _)                                      \
  X(ctx, yes_pool, U64, _)                                                    \
  X(ctx, no_pool, U64, _)                                                     \
  X(ctx, total_volume, U64, _)                                                \
  X(ctx, total_participants, U32, _)                                          \
  X(ctx, accepted_mint, PUBKEY, _)                                            \
  X(ctx, yes_vault, PUBKEY, _)                                                \
  X(ctx, no_vault, PUBKEY, _)                                                 \
  X(ctx, resolver, PUBKEY, _)                                                 \
  X(ctx, oracle_source, OPT_PUBKEY, _)                                        \
  X(ctx, metadata_uri, STR, _)                                                \
  X(ctx, creation_fee, U64, _)                                                \
  X(ctx, bump, U8, _)

/* yes_avg_price / no_avg_price: fixed point, 9 decimals (1_000_000_000 = 1.0). */
#define CB_POSITION_FIELDS(X, ctx)                                            \
  X(ctx, user, PUBKEY, _)                                                     \
  X(ctx, market, PUBKEY, _)                                                   \
  X(ctx, yes_shares, U64, _)                                                  \
  X(ctx, no_shares, U64, _)                                                   \
  X(ctx, total_invested, U64, _)                                              \
  X(ctx, yes_avg_price, U64, _)                                               \
  X(ctx, no_avg_price, U64, _)                                                \
  X(ctx, created_at, I64, _)                                                  \
  X(ctx, updated_at, I64, _)                                                  \
  X(ctx, claimed, BOOL, _)                                                    \
  X(ctx, claimed_amount, U64, _)                                              \
  X(ctx, bet_count, U32, _)                                                   \
  X(ctx, bump, U8, _)

#define CB_TREASURY_FIELDS(X, ctx)                                            \
  X(ctx, market, PUBKEY, _)                                                   \
  X(ctx, mint, PUBKEY, _)                                                     \
  X(ctx, authority, PUBKEY, _)                                                \
  X(ctx, total_deposits, U64, _)                                              \
  X(ctx, total_withdrawals, U64, _)                                           \
  X(ctx, current_balance, U64, _)                                             \
  X(ctx, treasury_type, ENUM, treasury_type)                                  \
  X(ctx, bump, U8, _)

#define CB_ORACLE_DATA_FIELDS(X, ctx)                                         \
  X(ctx, authority, PUBKEY, _)                                                \
  X(ctx, market, PUBKEY, _)                                                   \
  X(ctx, source, STR, _)                                                      \
  X(ctx, value, STR, _)                                                       \
  X(ctx, timestamp, I64, _)                                                   \
  X(ctx, confidence, U8, _)                                                   \
  X(ctx, signature, BYTES64, _)                                               \
  X(ctx, bump, U8, _)

/* The five account records: X(KIND_CONSTANT, IdlAccountName, union_member,
 * record_type, FIELDS_MACRO), in cb_account_kind_t order. */
#define CB_ACCOUNT_RECORDS(X)                                                 \
  X(CB_ACCOUNT_GLOBAL_CONFIG, GlobalConfig, config, cb_global_config_t, CB_GLOBAL_CONFIG_FIELDS) \
  X(CB_ACCOUNT_MARKET, Market, market, cb_market_t, CB_MARKET_FIELDS)         \
  X(CB_ACCOUNT_POSITION, Position, position, cb_position_t, CB_POSITION_FIELDS) \
  X(CB_ACCOUNT_TREASURY, Treasury, treasury, cb_treasury_t, CB_TREASURY_FIELDS) \
  X(CB_ACCOUNT_ORACLE_DATA, OracleData, oracle, cb_oracle_data_t, CB_ORACLE_DATA_FIELDS)

/* Member declarations, one per KIND. */
#define CB_DECL_PUBKEY(m, aux) cb_pubkey_t m;
#define CB_DECL_U8(m, aux) uint8_t m;
#define CB_DECL_U16(m, aux) uint16_t m;
#define CB_DECL_U32(m, aux) uint32_t m;
#define CB_DECL_U64(m, aux) uint64_t m;
#define CB_DECL_I64(m, aux) int64_t m;
#define CB_DECL_BOOL(m, aux) bool m;
#define CB_DECL_STR(m, aux) cb_str_t m;
#define CB_DECL_ENUM(m, aux) cb_##aux##_t m;
#define CB_DECL_OPT_BOOL(m, aux) bool has_##m; bool m;
#define CB_DECL_OPT_PUBKEY(m, aux) bool has_##m; cb_pubkey_t m;
#define CB_DECL_BYTES64(m, aux) uint8_t m[64];
#define CB_FIELD_DECL(ctx, m, kind, aux) CB_DECL_##kind(m, aux)

typedef struct cb_global_config { CB_GLOBAL_CONFIG_FIELDS(CB_FIELD_DECL, _) } cb_global_config_t;
typedef struct cb_market { CB_MARKET_FIELDS(CB_FIELD_DECL, _) } cb_market_t;
typedef struct cb_position { CB_POSITION_FIELDS(CB_FIELD_DECL, _) } cb_position_t;
typedef struct cb_treasury { CB_TREASURY_FIELDS(CB_FIELD_DECL, _) } cb_treasury_t;
typedef struct cb_oracle_data { CB_ORACLE_DATA_FIELDS(CB_FIELD_DECL, _) } cb_oracle_data_t;

/* Number of fields of a record list: CB_FIELD_COUNT(CB_MARKET_FIELDS). */
#define CB_FIELD_ONE_(ctx, m, kind, aux) +1
#define CB_FIELD_COUNT(FIELDS) (0 FIELDS(CB_FIELD_ONE_, _))

#define CB_ACCOUNT_KIND_(kind, name, member, type, fields) kind,
#define CB_ACCOUNT_ONE_(kind, name, member, type, fields) +1
typedef enum { CB_ACCOUNT_UNKNOWN = 0, CB_ACCOUNT_RECORDS(CB_ACCOUNT_KIND_) } cb_account_kind_t;
/* One past the last kind. */
enum { CB_ACCOUNT__COUNT = 1 CB_ACCOUNT_RECORDS(CB_ACCOUNT_ONE_) };
#undef CB_ACCOUNT_KIND_
#undef CB_ACCOUNT_ONE_

/* The IDL account name of a kind ("Market", ...), or NULL. */
const char *cb_account_kind_name(cb_account_kind_t k);

/* One account state as seen at a slot. closed: the account no longer
 * exists or is no longer owned by the program (zero lamports / empty
 * data); then only pubkey, slot and kind (if known) are meaningful. */
#define CB_ACCOUNT_MEMBER_(kind, name, member, type, fields) type member;
typedef struct cb_account {
  cb_account_kind_t kind;
  char pubkey[CB_PUBKEY_B58_MAX];
  uint64_t slot;
  uint64_t lamports;
  bool closed;
  /* closed only: the block time of the transaction that closed it, when
   * known (has_closed_time); otherwise the close is stamped when written. */
  bool has_closed_time;
  int64_t closed_time;
  /* Set by the decoder: the account holds non-zero bytes after its layout
   * (an account allocated larger than the layout, or grown by a program
   * upgrade); they were ignored. spare_bytes counts every byte after the
   * layout; spare_first is true for the first such account of its kind
   * that the decoder handle saw (log it once). */
  uint32_t spare_bytes;
  bool spare_first;
  union {
    CB_ACCOUNT_RECORDS(CB_ACCOUNT_MEMBER_)
  } u;
} cb_account_t;
#undef CB_ACCOUNT_MEMBER_

/* transactions.transaction_type values (schema enum transaction_type). */
typedef enum {
  CB_TX_INITIALIZE_CONFIG = 0,
  CB_TX_CREATE_MARKET,
  CB_TX_PLACE_BET,
  CB_TX_CLAIM_WINNINGS,
  CB_TX_CLAIM_REFUND,
  CB_TX_RESOLVE_MARKET,
  CB_TX_CANCEL_MARKET,
  CB_TX_UPDATE_ORACLE,
  CB_TX__COUNT
} cb_tx_type_t;

/* Returns the schema enum label ("place_bet", ...) or NULL. */
const char *cb_tx_type_name(cb_tx_type_t t);

/* One row of `transactions`: one Crypto Bet instruction of one transaction.
 * instruction_index counts every instruction of the transaction in
 * execution order, inner (CPI) instructions included: top-level 0, its inner
 * instructions 1..k, top-level 1 next, and so on. (signature,
 * instruction_index) is the row's key. Strings here are owned copies. */
typedef struct cb_tx_row {
  char signature[CB_SIGNATURE_B58_MAX];
  uint32_t instruction_index;
  cb_tx_type_t type;
  char market[CB_PUBKEY_B58_MAX]; /* "" when the instruction has none */
  char user[CB_PUBKEY_B58_MAX];   /* signer wallet; "" when none */
  uint64_t amount;                /* base units; 0 when not applicable */
  cb_side_t side;
  bool has_price;
  uint64_t price; /* fixed point, 9 decimals */
  uint64_t slot;
  bool has_block_time;
  int64_t block_time; /* unix seconds */
  bool has_block_height;
  uint64_t block_height;
  uint64_t fee;          /* transaction fee, lamports */
  uint64_t platform_fee; /* from the BetPlaced event */
  bool has_pools;        /* place_bet: the BetPlaced event was found */
  uint64_t yes_pool;     /* BetPlaced yes_pool / no_pool: the market's */
  uint64_t no_pool;      /* pools after the bet (base units) */
  bool failed;
  char error_message[256]; /* meta.err as compact JSON when failed */
  bool has_resolution;     /* resolve_market: outcome and time */
  bool resolution_result;
  int64_t resolved_at;
} cb_tx_row_t;

#endif
