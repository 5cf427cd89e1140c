/* Names and labels of the Crypto Bet record types (cb_types.h). */
#include "cb_types.h"

#include <stddef.h>

static const char *const tx_type_names[CB_TX__COUNT] = {
    "initialize_config", "create_market",  "place_bet",     "claim_winnings",
    "claim_refund",      "resolve_market", "cancel_market", "update_oracle",
};

const char *cb_tx_type_name(cb_tx_type_t t) {
  return ((unsigned)t < CB_TX__COUNT) ? tx_type_names[t] : NULL;
}

#define LABEL_(c, idl, label) #label,
#define VARIANT_(c, idl, label) #idl,
#define ENUM_NAMES(fn, type, LIST, COUNT, WHICH)                 \
  const char *fn(type v) {                                       \
    static const char *const names[] = {LIST(WHICH)};            \
    _Static_assert(sizeof names / sizeof names[0] == COUNT, #fn); \
    return ((unsigned)v < (unsigned)COUNT) ? names[v] : NULL;    \
  }

ENUM_NAMES(cb_market_state_label, cb_market_state_t, CB_MARKET_STATE_VARIANTS,
           CB_MARKET_STATE__COUNT, LABEL_)
ENUM_NAMES(cb_market_type_label, cb_market_type_t, CB_MARKET_TYPE_VARIANTS,
           CB_MARKET_TYPE__COUNT, LABEL_)
ENUM_NAMES(cb_treasury_type_label, cb_treasury_type_t, CB_TREASURY_TYPE_VARIANTS,
           CB_TREASURY_TYPE__COUNT, LABEL_)
ENUM_NAMES(cb_side_label, cb_side_t, CB_SIDE_VARIANTS, CB_SIDE__COUNT, LABEL_)
ENUM_NAMES(cb_market_state_variant, cb_market_state_t, CB_MARKET_STATE_VARIANTS,
           CB_MARKET_STATE__COUNT, VARIANT_)
ENUM_NAMES(cb_market_type_variant, cb_market_type_t, CB_MARKET_TYPE_VARIANTS,
           CB_MARKET_TYPE__COUNT, VARIANT_)
ENUM_NAMES(cb_treasury_type_variant, cb_treasury_type_t, CB_TREASURY_TYPE_VARIANTS,
           CB_TREASURY_TYPE__COUNT, VARIANT_)
ENUM_NAMES(cb_side_variant, cb_side_t, CB_SIDE_VARIANTS, CB_SIDE__COUNT, VARIANT_)

const char *cb_account_kind_name(cb_account_kind_t k) {
#define KIND_NAME_(kind, name, member, type, fields) [kind] = #name,
  static const char *const names[CB_ACCOUNT__COUNT] = {CB_ACCOUNT_RECORDS(KIND_NAME_)};
#undef KIND_NAME_
  return ((unsigned)k < CB_ACCOUNT__COUNT) ? names[k] : NULL;
}
