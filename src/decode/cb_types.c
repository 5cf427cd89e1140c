#include "cb_types.h"

#include <stddef.h>

static const char *const tx_type_names[CB_TX__COUNT] = {
    "initialize_config", "create_market",  "place_bet",     "claim_winnings",
    "claim_refund",      "resolve_market", "cancel_market", "update_oracle",
};

const char *cb_tx_type_name(cb_tx_type_t t) {
  return ((unsigned)t < CB_TX__COUNT) ? tx_type_names[t] : NULL;
}
