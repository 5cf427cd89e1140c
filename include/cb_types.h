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

typedef enum {
  CB_MARKET_ACTIVE = 0,
  CB_MARKET_RESOLVED = 1,
  CB_MARKET_CANCELLED = 2,
  CB_MARKET_PAUSED = 3
} cb_market_state_t;

typedef enum { CB_MARKET_DEGEN = 0, CB_MARKET_STABLE = 1 } cb_market_type_t;
typedef enum { CB_TREASURY_YES = 0, CB_TREASURY_NO = 1, CB_TREASURY_PLATFORM = 2 } cb_treasury_type_t;
typedef enum { CB_SIDE_NONE = -1, CB_SIDE_YES = 0, CB_SIDE_NO = 1 } cb_side_t;

typedef struct cb_global_config {
  cb_pubkey_t authority;
  uint16_t platform_fee_bps;
  int64_t min_market_duration;
  int64_t max_market_duration;
  uint64_t min_bet_amount;
  uint64_t max_bet_amount;
  cb_pubkey_t platform_treasury;
  bool is_paused;
  uint64_t total_markets_created;
  uint64_t total_volume;
  uint8_t version;
  uint8_t bump;
} cb_global_config_t;

typedef struct cb_market {
  cb_pubkey_t authority;
  uint64_t market_id;
  cb_str_t title;
  cb_str_t description;
  cb_str_t category;
  int64_t created_at;
  int64_t resolution_time;
  cb_market_state_t state;
  cb_market_type_t market_type;
  cb_pubkey_t accepted_mint;
  cb_pubkey_t yes_vault;
  cb_pubkey_t no_vault;
  uint64_t yes_pool;
  uint64_t no_pool;
  uint64_t total_volume;
  uint32_t total_participants;
  bool has_resolution_result;
  bool resolution_result;
  cb_pubkey_t resolver;
  bool has_oracle_source;
  cb_pubkey_t oracle_source;
  cb_str_t metadata_uri;
  uint64_t creation_fee;
  uint8_t bump;
} cb_market_t;

typedef struct cb_position {
  cb_pubkey_t user;
  cb_pubkey_t market;
  uint64_t yes_shares;
  uint64_t no_shares;
  uint64_t total_invested;
  uint64_t yes_avg_price; /* fixed point, 9 decimals: 1_000_000_000 = 1.0 */
  uint64_t no_avg_price;
  int64_t created_at;
  int64_t updated_at;
  bool claimed;
  uint64_t claimed_amount;
  uint32_t bet_count;
  uint8_t bump;
} cb_position_t;

typedef struct cb_treasury {
  cb_pubkey_t market;
  cb_pubkey_t mint;
  cb_pubkey_t authority;
  uint64_t total_deposits;
  uint64_t total_withdrawals;
  uint64_t current_balance;
  cb_treasury_type_t treasury_type;
  uint8_t bump;
} cb_treasury_t;

typedef struct cb_oracle_data {
  cb_pubkey_t authority;
  cb_pubkey_t market;
  cb_str_t source;
  cb_str_t value;
  int64_t timestamp;
  uint8_t confidence;
  uint8_t signature[64];
  uint8_t bump;
} cb_oracle_data_t;

typedef enum {
  CB_ACCOUNT_UNKNOWN = 0,
  CB_ACCOUNT_GLOBAL_CONFIG,
  CB_ACCOUNT_MARKET,
  CB_ACCOUNT_POSITION,
  CB_ACCOUNT_TREASURY,
  CB_ACCOUNT_ORACLE_DATA
} cb_account_kind_t;

/* One account state as seen at a slot. closed: the account no longer
 * exists or is no longer owned by the program (zero lamports / empty
 * data); then only pubkey, slot and kind (if known) are meaningful. */
typedef struct cb_account {
  cb_account_kind_t kind;
  char pubkey[CB_PUBKEY_B58_MAX];
  uint64_t slot;
  uint64_t lamports;
  bool closed;
  union {
    cb_global_config_t config;
    cb_market_t market;
    cb_position_t position;
    cb_treasury_t treasury;
    cb_oracle_data_t oracle;
  } u;
} cb_account_t;

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
  bool failed;
  char error_message[256]; /* meta.err as compact JSON when failed */
  bool has_resolution;     /* resolve_market: outcome and time */
  bool resolution_result;
  int64_t resolved_at;
} cb_tx_row_t;

#endif
