/* Solana wire-format parsing (txmsg) and the normalized transaction view
 * (txn_parse) across the json, base64 and jsonParsed encodings, on real
 * mainnet responses (fixtures/rpc-samples) and hand-built messages. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "base58.h"
#include "jsonx.h"
#include "testutil.h"
#include "txmsg.h"
#include "txn.h"

#define SAMPLES "fixtures/rpc-samples/"

static json_t *load_json(const char *path) {
  size_t len;
  char *text = tu_read_file(path, &len);
  char err[256];
  json_t *j = jsonx_loads(text, len, err, sizeof err);
  ck_assert_msg(j != NULL, "%s: %s", path, err);
  free(text);
  return j;
}

static txn_t *parse_ok(const json_t *txj, const txn_block_t *blk) {
  txn_t *tx = NULL;
  char err[256];
  int rc = txn_parse(txj, blk, &tx, err, sizeof err);
  ck_assert_msg(rc == TXN_OK, "txn_parse: %d %s", rc, err);
  ck_assert_ptr_nonnull(tx);
  return tx;
}

/* The two views describe the same instructions. Where either side lacks
 * accounts or data (jsonParsed "parsed" instructions) only the program id
 * and position are compared. */
static void assert_same_ix(const txn_t *a, const txn_t *b, int tx_no) {
  ck_assert_msg(a->n_ix == b->n_ix, "tx %d: %zu vs %zu instructions", tx_no, a->n_ix, b->n_ix);
  ck_assert_uint_eq(a->n_top, b->n_top);
  for (size_t i = 0; i < a->n_ix; i++) {
    const txn_ix_t *x = &a->ix[i], *y = &b->ix[i];
    ck_assert_uint_eq(x->index, i);
    ck_assert_uint_eq(y->index, i);
    ck_assert_msg(strcmp(x->program_id, y->program_id) == 0, "tx %d ix %zu: %s vs %s", tx_no, i,
                  x->program_id, y->program_id);
    ck_assert_int_eq(x->inner, y->inner);
    ck_assert_uint_eq(x->top_index, y->top_index);
    ck_assert_uint_eq(x->stack_height, y->stack_height);
    if (x->has_accounts && y->has_accounts) {
      ck_assert_uint_eq(x->n_accounts, y->n_accounts);
      for (size_t k = 0; k < x->n_accounts; k++)
        ck_assert_str_eq(x->accounts[k], y->accounts[k]);
    }
    if (x->has_data && y->has_data) {
      ck_assert_uint_eq(x->data_len, y->data_len);
      ck_assert(x->data_len == 0 || memcmp(x->data, y->data, x->data_len) == 0);
    }
  }
}

/* ---- compact-u16 -------------------------------------------------------- */

START_TEST(compact_u16_vectors) {
  static const struct {
    uint8_t b[3];
    size_t n;
    int rc;
    uint16_t v;
    size_t used;
  } cases[] = {
      {{0x00}, 1, 0, 0, 1},
      {{0x7f}, 1, 0, 127, 1},
      {{0x80, 0x01}, 2, 0, 128, 2},
      {{0xff, 0x7f}, 2, 0, 16383, 2},
      {{0x80, 0x80, 0x01}, 3, 0, 16384, 3},
      {{0xff, 0xff, 0x03}, 3, 0, 65535, 3},
      {{0x05, 0xff}, 2, 0, 5, 1}, /* reads one value only */
      {{0x80, 0x00}, 2, TXMSG_ERR_COMPACT_U16, 0, 0},       /* alias of 0 */
      {{0xff, 0x80, 0x00}, 3, TXMSG_ERR_COMPACT_U16, 0, 0}, /* alias */
      {{0xff, 0xff, 0x04}, 3, TXMSG_ERR_COMPACT_U16, 0, 0}, /* > 0xffff */
      {{0x80, 0x80, 0x80}, 3, TXMSG_ERR_COMPACT_U16, 0, 0},
      {{0x80}, 1, TXMSG_ERR_TRUNCATED, 0, 0},
      {{0x80, 0x80}, 2, TXMSG_ERR_TRUNCATED, 0, 0},
      {{0}, 0, TXMSG_ERR_TRUNCATED, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t off = 0;
    uint16_t v = 0xabcd;
    int rc = txmsg_read_compact_u16(cases[i].b, cases[i].n, &off, &v);
    ck_assert_msg(rc == cases[i].rc, "case %zu: rc %d", i, rc);
    if (rc == 0) {
      ck_assert_uint_eq(v, cases[i].v);
      ck_assert_uint_eq(off, cases[i].used);
    } else {
      ck_assert_uint_eq(off, 0);
    }
  }
}
END_TEST

/* ---- real samples -------------------------------------------------------- */

START_TEST(block_base64_matches_json) {
  json_t *b64 = load_json(SAMPLES "get_block_base64_encoding.json");
  json_t *js = load_json(SAMPLES "get_block_json_encoding.json");
  json_t *jp = load_json(SAMPLES "get_block_json_parsed_encoding.json");
  const json_t *rb = json_object_get(b64, "result"), *rj = json_object_get(js, "result"),
               *rp = json_object_get(jp, "result");
  txn_block_t blk;
  ck_assert_int_eq(txn_block_from_json(rb, 147078735, &blk), 0);
  ck_assert(blk.has_block_time && blk.block_time == 1657486664);
  ck_assert(blk.has_block_height && blk.block_height == 139015678);
  const json_t *tb = json_object_get(rb, "transactions"), *tj = json_object_get(rj, "transactions"),
               *tp = json_object_get(rp, "transactions");
  ck_assert_uint_eq(json_array_size(tb), 25);
  ck_assert_uint_eq(json_array_size(tj), 25);
  ck_assert_uint_eq(json_array_size(tp), 25);
  size_t total_inner = 0, total_ix = 0, compared_data_jp = 0;
  for (size_t i = 0; i < json_array_size(tb); i++) {
    txn_t *a = parse_ok(json_array_get(tb, i), &blk);
    txn_t *b = parse_ok(json_array_get(tj, i), &blk);
    txn_t *c = parse_ok(json_array_get(tp, i), &blk);
    ck_assert_int_eq(a->encoding, TXN_ENC_BASE64);
    ck_assert_int_eq(b->encoding, TXN_ENC_JSON);
    ck_assert_int_eq(c->encoding, TXN_ENC_JSON_PARSED);
    ck_assert_uint_eq(a->slot, 147078735);
    ck_assert(a->has_block_height && a->block_height == 139015678);
    ck_assert(a->has_block_time && a->block_time == 1657486664);
    /* signatures */
    ck_assert_uint_ge(a->n_signatures, 1);
    ck_assert_uint_eq(a->n_signatures, b->n_signatures);
    for (size_t k = 0; k < a->n_signatures; k++) {
      ck_assert_str_eq(a->signatures[k], b->signatures[k]);
      ck_assert_str_eq(a->signatures[k], c->signatures[k]);
    }
    ck_assert_str_eq(a->signature, b->signature);
    /* key lists and their flags: header-derived (base64, json) vs the node's
     * own flags (jsonParsed) */
    ck_assert_uint_eq(a->n_keys, b->n_keys);
    ck_assert_uint_eq(a->n_keys, c->n_keys);
    for (size_t k = 0; k < a->n_keys; k++) {
      ck_assert_str_eq(a->keys[k], b->keys[k]);
      ck_assert_str_eq(a->keys[k], c->keys[k]);
      ck_assert_int_eq(a->key_writable[k], b->key_writable[k]);
      ck_assert_int_eq(a->key_signer[k], b->key_signer[k]);
      ck_assert_int_eq(a->key_signer[k], c->key_signer[k]);
      ck_assert_msg(a->key_writable[k] == c->key_writable[k], "tx %zu key %zu (%s) writable %d vs node %d",
                    i, k, a->keys[k], a->key_writable[k], c->key_writable[k]);
    }
    /* meta */
    ck_assert_uint_eq(a->fee, b->fee);
    ck_assert_uint_eq(a->fee, (uint64_t)json_integer_value(json_object_get(
                                  json_object_get(json_array_get(tb, i), "meta"), "fee")));
    ck_assert_int_eq(a->failed, b->failed);
    ck_assert_str_eq(a->error_message, b->error_message);
    ck_assert_uint_eq(a->n_logs, b->n_logs);
    for (size_t k = 0; k < a->n_logs; k++) ck_assert_str_eq(a->logs[k], b->logs[k]);
    assert_same_ix(a, b, (int)i);
    assert_same_ix(a, c, (int)i);
    for (size_t k = 0; k < a->n_ix; k++) {
      if (a->ix[k].inner) total_inner++;
      if (c->ix[k].has_data) compared_data_jp++;
    }
    total_ix += a->n_ix;
    txn_free(a);
    txn_free(b);
    txn_free(c);
  }
  /* the block holds 9 inner-instruction groups */
  ck_assert_uint_ge(total_inner, 9);
  ck_assert_uint_gt(total_ix, 25);
  ck_assert_uint_gt(compared_data_jp, 0);
  json_decref(b64);
  json_decref(js);
  json_decref(jp);
}
END_TEST

/* Inner instructions land right after their top-level instruction, with
 * their account indexes resolved (values read off the sample by hand). */
START_TEST(block_inner_order) {
  json_t *js = load_json(SAMPLES "get_block_json_encoding.json");
  const json_t *txs = json_object_get(json_object_get(js, "result"), "transactions");
  size_t found = 0;
  for (size_t i = 0; i < json_array_size(txs); i++) {
    const json_t *t = json_array_get(txs, i);
    const json_t *groups = json_object_get(json_object_get(t, "meta"), "innerInstructions");
    if (json_array_size(groups) == 0) continue;
    txn_t *tx = parse_ok(t, NULL);
    const json_t *msg = json_object_get(json_object_get(t, "transaction"), "message");
    const json_t *keys = json_object_get(msg, "accountKeys");
    size_t n_top = json_array_size(json_object_get(msg, "instructions"));
    ck_assert_uint_eq(tx->n_top, n_top);
    /* expected flattened positions, computed from the JSON directly */
    size_t pos = 0;
    for (size_t top = 0; top < n_top; top++) {
      ck_assert(!tx->ix[pos].inner);
      ck_assert_uint_eq(tx->ix[pos].top_index, top);
      pos++;
      for (size_t g = 0; g < json_array_size(groups); g++) {
        const json_t *gr = json_array_get(groups, g);
        if ((size_t)json_integer_value(json_object_get(gr, "index")) != top) continue;
        const json_t *list = json_object_get(gr, "instructions");
        for (size_t k = 0; k < json_array_size(list); k++, pos++) {
          const json_t *ij = json_array_get(list, k);
          const txn_ix_t *x = &tx->ix[pos];
          ck_assert(x->inner);
          ck_assert_uint_eq(x->top_index, top);
          ck_assert_str_eq(x->program_id,
                           json_string_value(json_array_get(
                               keys, (size_t)json_integer_value(json_object_get(ij, "programIdIndex")))));
          const json_t *acc = json_object_get(ij, "accounts");
          ck_assert_uint_eq(x->n_accounts, json_array_size(acc));
          for (size_t a = 0; a < x->n_accounts; a++)
            ck_assert_str_eq(x->accounts[a],
                             json_string_value(json_array_get(
                                 keys, (size_t)json_integer_value(json_array_get(acc, a)))));
          found++;
        }
      }
    }
    ck_assert_uint_eq(pos, tx->n_ix);
    txn_free(tx);
  }
  ck_assert_uint_ge(found, 9);
  json_decref(js);
}
END_TEST

/* The first inner instruction of the block (CrankPop -> token transfer),
 * checked against literal values from the sample. */
START_TEST(block_inner_literal) {
  json_t *js = load_json(SAMPLES "get_block_base64_encoding.json");
  const json_t *txs = json_object_get(json_object_get(js, "result"), "transactions");
  int seen = 0;
  for (size_t i = 0; i < json_array_size(txs) && !seen; i++) {
    txn_t *tx = parse_ok(json_array_get(txs, i), NULL);
    for (size_t k = 0; k < tx->n_ix; k++) {
      if (!tx->ix[k].inner) continue;
      ck_assert_uint_eq(k, 1);
      ck_assert_str_eq(tx->ix[0].program_id, "2TfB33aLaneQb5TNVwyDz3jSZXS6jdW2ARw1Dgf84XCG");
      ck_assert_str_eq(tx->ix[1].program_id, "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
      ck_assert_uint_eq(tx->ix[1].n_accounts, 3);
      ck_assert_str_eq(tx->ix[1].accounts[0], "H5LvDvwP3EQsm6yWy3EtiLuFJupsiYD7fWUHv34DGYip");
      ck_assert_str_eq(tx->ix[1].accounts[1], "FVLfR6C2ckZhbSwBzZY4CX7YBcddUSge5BNeGQv5eKhy");
      ck_assert_str_eq(tx->ix[1].accounts[2], "BYM81n8HvTJuqZU1PmTVcwZ9G8uoji7FKM6EaPkwphPt");
      /* "3px3hhrW2tYw": spl-token Transfer (3) of 12500 */
      static const uint8_t want[] = {3, 0xd4, 0x30, 0, 0, 0, 0, 0, 0};
      ck_assert_uint_eq(tx->ix[1].data_len, sizeof want);
      ck_assert(memcmp(tx->ix[1].data, want, sizeof want) == 0);
      /* no stackHeight in this old response: taken from "invoke [2]" */
      ck_assert_uint_eq(tx->ix[1].stack_height, 2);
      ck_assert(tx->ix[1].has_stack_height);
      seen = 1;
      break;
    }
    txn_free(tx);
    if (seen) break;
  }
  ck_assert(seen);
  json_decref(js);
}
END_TEST

START_TEST(get_transaction_three_encodings) {
  json_t *b64 = load_json(SAMPLES "get_transaction_base64_encoding.json");
  json_t *js = load_json(SAMPLES "get_transaction_json_encoding.json");
  json_t *jp = load_json(SAMPLES "get_transaction_json_parsed_encoding.json");
  txn_t *a = parse_ok(json_object_get(b64, "result"), NULL);
  txn_t *b = parse_ok(json_object_get(js, "result"), NULL);
  txn_t *c = parse_ok(json_object_get(jp, "result"), NULL);
  ck_assert_uint_eq(a->slot, 147558327);
  ck_assert(a->has_block_time && a->block_time == 1661417105);
  ck_assert(!a->has_block_height);
  txn_set_block_height(a, 12345);
  ck_assert(a->has_block_height && a->block_height == 12345);
  ck_assert_str_eq(a->signature,
                   "4zExa66hUSr28i2ma6EJwEsm3nZo4VFryEyRYE5Zrr4Q6dZpP1ctzsoMqUhLnp6iHGPp5MB722rZXRBKg927WXN9");
  ck_assert_str_eq(b->signature, a->signature);
  ck_assert_str_eq(c->signature, a->signature);
  ck_assert_int_eq(a->version, -1);
  ck_assert_uint_eq(a->n_keys, 5);
  ck_assert_str_eq(a->keys[0], "5p8qKVyKthA9DUb1rwQDzjcmTkaZdwN97J3LiaEywUjd");
  ck_assert_str_eq(a->keys[4], "Vote111111111111111111111111111111111111111");
  ck_assert(a->key_writable[0] && a->key_signer[0]);
  ck_assert(a->key_writable[1] && !a->key_signer[1]);
  ck_assert(!a->key_writable[2] && !a->key_writable[3] && !a->key_writable[4]);
  ck_assert_uint_eq(a->n_ix, 1);
  ck_assert_str_eq(a->ix[0].program_id, "Vote111111111111111111111111111111111111111");
  ck_assert_uint_eq(a->ix[0].n_accounts, 4);
  ck_assert_str_eq(a->ix[0].accounts[0], "EsEtxoyhFTgfvudcy2VwwQJ1qA6BScLUW39PKpYczuxF");
  ck_assert_str_eq(a->ix[0].accounts[3], "5p8qKVyKthA9DUb1rwQDzjcmTkaZdwN97J3LiaEywUjd");
  ck_assert(!c->ix[0].has_data && !c->ix[0].has_accounts); /* parsed by the node */
  assert_same_ix(a, b, 0);
  assert_same_ix(a, c, 0);
  ck_assert_uint_eq(a->fee, 5000);
  ck_assert(!a->failed);
  ck_assert(txn_touches_program(a, "Vote111111111111111111111111111111111111111"));
  ck_assert(!txn_touches_program(a, "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe"));
  txn_free(a);
  txn_free(b);
  txn_free(c);
  json_decref(b64);
  json_decref(js);
  json_decref(jp);
}
END_TEST

/* Every proper prefix of every real transaction fails to parse, with an
 * offset inside the prefix; the whole one parses. */
START_TEST(truncation_every_byte) {
  json_t *b64 = load_json(SAMPLES "get_block_base64_encoding.json");
  const json_t *txs = json_object_get(json_object_get(b64, "result"), "transactions");
  size_t prefixes = 0;
  for (size_t i = 0; i < json_array_size(txs); i++) {
    const char *p =
        json_string_value(json_array_get(json_object_get(json_array_get(txs, i), "transaction"), 0));
    uint8_t *bytes = NULL;
    size_t len = 0;
    ck_assert_int_eq(b64_decode(p, strlen(p), &bytes, &len), 0);
    txmsg_t m;
    ck_assert_int_eq(txmsg_parse(bytes, len, &m, NULL), TXMSG_OK);
    txmsg_free(&m);
    for (size_t cut = 0; cut < len; cut++) {
      /* a fresh allocation of exactly cut bytes: ASan catches any overread */
      uint8_t *pre = malloc(cut ? cut : 1);
      memcpy(pre, bytes, cut);
      size_t off = 12345;
      int rc = txmsg_parse(pre, cut, &m, &off);
      ck_assert_msg(rc < 0, "tx %zu prefix %zu parsed", i, cut);
      ck_assert_uint_le(off, cut);
      ck_assert_ptr_null(m.ix);
      free(pre);
      prefixes++;
    }
    /* trailing garbage */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, bytes, len);
    longer[len] = 0;
    ck_assert_int_eq(txmsg_parse(longer, len + 1, &m, NULL), TXMSG_ERR_TRAILING);
    free(longer);
    free(bytes);
  }
  ck_assert_uint_gt(prefixes, 5000);
  json_decref(b64);
}
END_TEST

/* The same through txn_parse: the getTransaction sample with its payload
 * truncated at every byte (re-encoded as base64) is an error, never a crash. */
START_TEST(truncation_through_txn_parse) {
  json_t *doc = load_json(SAMPLES "get_transaction_base64_encoding.json");
  json_t *res = json_object_get(doc, "result");
  json_t *arr = json_object_get(res, "transaction");
  const char *p = json_string_value(json_array_get(arr, 0));
  uint8_t *bytes = NULL;
  size_t len = 0;
  ck_assert_int_eq(b64_decode(p, strlen(p), &bytes, &len), 0);
  for (size_t cut = 0; cut < len; cut++) {
    char *enc = b64_encode(bytes, cut);
    ck_assert_ptr_nonnull(enc);
    json_t *copy = json_deep_copy(res);
    json_array_set_new(json_object_get(copy, "transaction"), 0, json_string(enc));
    txn_t *tx = NULL;
    char err[256];
    int rc = txn_parse(copy, NULL, &tx, err, sizeof err);
    ck_assert_msg(rc == TXN_ERR_WIRE, "cut %zu: rc %d", cut, rc);
    ck_assert_ptr_null(tx);
    ck_assert(err[0] != '\0');
    json_decref(copy);
    free(enc);
  }
  /* not base64 at all */
  json_t *copy = json_deep_copy(res);
  json_array_set_new(json_object_get(copy, "transaction"), 0, json_string("!!!notbase64"));
  txn_t *tx = NULL;
  char err[256];
  ck_assert_int_eq(txn_parse(copy, NULL, &tx, err, sizeof err), TXN_ERR_FORMAT);
  json_decref(copy);
  free(bytes);
  json_decref(doc);
}
END_TEST

/* Random single-byte corruption of real transactions: parse or fail, never
 * read out of bounds (run under ASan by `make check`). */
START_TEST(mutation_no_crash) {
  json_t *b64 = load_json(SAMPLES "get_block_base64_encoding.json");
  const json_t *txs = json_object_get(json_object_get(b64, "result"), "transactions");
  uint32_t seed = 12345;
  size_t ok = 0, bad = 0;
  for (size_t i = 0; i < json_array_size(txs); i++) {
    const char *p =
        json_string_value(json_array_get(json_object_get(json_array_get(txs, i), "transaction"), 0));
    uint8_t *bytes = NULL;
    size_t len = 0;
    ck_assert_int_eq(b64_decode(p, strlen(p), &bytes, &len), 0);
    for (int round = 0; round < 400; round++) {
      uint8_t *mut = malloc(len);
      memcpy(mut, bytes, len);
      seed = seed * 1103515245u + 12345u;
      size_t pos = (seed >> 8) % len;
      seed = seed * 1103515245u + 12345u;
      mut[pos] = (uint8_t)(seed >> 16);
      txmsg_t m;
      if (txmsg_parse(mut, len, &m, NULL) == TXMSG_OK) {
        ok++;
        for (size_t k = 0; k < m.n_ix; k++) {
          ck_assert_uint_lt(m.ix[k].program_id_index, m.n_keys);
          for (size_t a = 0; a < m.ix[k].n_accounts; a++)
            ck_assert_uint_lt(m.ix[k].accounts[a],
                              (size_t)m.n_keys + m.n_loaded_writable + m.n_loaded_readonly);
        }
        txmsg_free(&m);
      } else {
        bad++;
      }
      free(mut);
    }
    free(bytes);
  }
  ck_assert_uint_gt(ok, 0);
  ck_assert_uint_gt(bad, 0);
  json_decref(b64);
}
END_TEST

/* ---- hand-built v0 message with address table lookups ------------------- */

/* A pubkey whose 32 bytes are all b, in base58. */
static void key_b58(uint8_t b, char out[BASE58_ENCODED_32_SZ]) {
  uint8_t k[32];
  memset(k, b, sizeof k);
  base58_encode_32(k, out);
}

/* The transaction, byte by byte:
 *   01                      1 signature
 *   64 x 0x5a               the signature
 *   80                      version 0
 *   01 00 01                header: 1 signer (writable), 0 readonly signed, 1 readonly unsigned
 *   03  K(0x01) K(0x02) K(0x03)   static keys: payer, a writable account, the program
 *   32 x 0x0b               recent blockhash
 *   01                      1 instruction
 *     02                    program = static key 2
 *     08 00 01 03 04 05 06 07 08   accounts: payer, static 1, then loaded 3..8
 *     03 aa bb cc           data
 *   02                      2 lookups
 *     32 x 0x0c  02 05 02  01 07     table A: writable [5, 2], readonly [7]
 *     32 x 0x0d  01 01     02 00 03  table B: writable [1], readonly [0, 3]
 * Full key list: static 0..2, loaded writable A5 A2 B1 (3..5), loaded
 * readonly A7 B0 B3 (6..8). */
static size_t build_v0(uint8_t *buf) {
  size_t o = 0;
  buf[o++] = 1;
  memset(buf + o, 0x5a, 64);
  o += 64;
  buf[o++] = 0x80;
  buf[o++] = 1;
  buf[o++] = 0;
  buf[o++] = 1;
  buf[o++] = 3;
  for (uint8_t k = 1; k <= 3; k++) {
    memset(buf + o, k, 32);
    o += 32;
  }
  memset(buf + o, 0x0b, 32);
  o += 32;
  buf[o++] = 1;
  buf[o++] = 2;
  static const uint8_t acc[] = {8, 0, 1, 3, 4, 5, 6, 7, 8};
  memcpy(buf + o, acc, sizeof acc);
  o += sizeof acc;
  static const uint8_t data[] = {3, 0xaa, 0xbb, 0xcc};
  memcpy(buf + o, data, sizeof data);
  o += sizeof data;
  buf[o++] = 2;
  memset(buf + o, 0x0c, 32);
  o += 32;
  static const uint8_t la[] = {2, 5, 2, 1, 7};
  memcpy(buf + o, la, sizeof la);
  o += sizeof la;
  memset(buf + o, 0x0d, 32);
  o += 32;
  static const uint8_t lb[] = {1, 1, 2, 0, 3};
  memcpy(buf + o, lb, sizeof lb);
  o += sizeof lb;
  return o;
}

START_TEST(v0_wire_fields) {
  uint8_t buf[512];
  size_t len = build_v0(buf);
  ck_assert_uint_eq(len, 1 + 64 + 1 + 3 + 1 + 96 + 32 + 1 + 1 + 9 + 4 + 1 + 37 + 37);
  txmsg_t m;
  ck_assert_int_eq(txmsg_parse(buf, len, &m, NULL), TXMSG_OK);
  ck_assert_int_eq(m.version, 0);
  ck_assert_uint_eq(m.n_signatures, 1);
  ck_assert_uint_eq(m.message_offset, 65);
  ck_assert_uint_eq(m.n_keys, 3);
  ck_assert_uint_eq(m.keys[64], 3);
  ck_assert_uint_eq(m.recent_blockhash[0], 0x0b);
  ck_assert_uint_eq(m.n_ix, 1);
  ck_assert_uint_eq(m.ix[0].program_id_index, 2);
  ck_assert_uint_eq(m.ix[0].n_accounts, 8);
  ck_assert_uint_eq(m.ix[0].data_len, 3);
  ck_assert_uint_eq(m.ix[0].data[2], 0xcc);
  ck_assert_uint_eq(m.n_lookups, 2);
  ck_assert_uint_eq(m.lookups[0].n_writable, 2);
  ck_assert_uint_eq(m.lookups[0].writable[0], 5);
  ck_assert_uint_eq(m.lookups[1].n_readonly, 2);
  ck_assert_uint_eq(m.lookups[1].readonly[1], 3);
  ck_assert_uint_eq(m.n_loaded_writable, 3);
  ck_assert_uint_eq(m.n_loaded_readonly, 3);
  ck_assert(txmsg_is_static_writable(&m, 0));
  ck_assert(txmsg_is_static_writable(&m, 1));
  ck_assert(!txmsg_is_static_writable(&m, 2));
  ck_assert(!txmsg_is_static_writable(&m, 3));
  txmsg_free(&m);

  /* version 1 is refused */
  buf[65] = 0x81;
  ck_assert_int_eq(txmsg_parse(buf, len, &m, NULL), TXMSG_ERR_VERSION);
  buf[65] = 0x80;
  /* account index 9 is past the 9 keys */
  buf[65 + 1 + 3 + 1 + 96 + 32 + 1 + 1 + 1 + 7] = 9;
  size_t off = 0;
  ck_assert_int_eq(txmsg_parse(buf, len, &m, &off), TXMSG_ERR_INDEX);
  ck_assert_uint_eq(off, 65 + 1 + 3 + 1 + 96 + 32 + 1 + 1 + 1 + 7);
  buf[off] = 8;
  /* program id from a lookup table is refused */
  buf[65 + 1 + 3 + 1 + 96 + 32 + 1] = 3;
  ck_assert_int_eq(txmsg_parse(buf, len, &m, &off), TXMSG_ERR_INDEX);
  ck_assert_uint_eq(off, 65 + 1 + 3 + 1 + 96 + 32 + 1);
  buf[65 + 1 + 3 + 1 + 96 + 32 + 1] = 2;
  /* signature count must match the header */
  buf[66] = 2;
  ck_assert_int_eq(txmsg_parse(buf, len, &m, NULL), TXMSG_ERR_HEADER);
  buf[66] = 1;
  ck_assert_int_eq(txmsg_parse(buf, len, &m, NULL), TXMSG_OK);
  txmsg_free(&m);
}
END_TEST

static json_t *v0_result(const uint8_t *buf, size_t len, const char *const *lw, size_t nw,
                         const char *const *lr, size_t nr) {
  char *enc = b64_encode(buf, len);
  json_t *w = json_array(), *r = json_array();
  for (size_t i = 0; i < nw; i++) json_array_append_new(w, json_string(lw[i]));
  for (size_t i = 0; i < nr; i++) json_array_append_new(r, json_string(lr[i]));
  json_t *res = json_pack("{s:I, s:I, s:i, s:{s:n, s:i, s:[], s:{s:o, s:o}, s:[s]}, s:[s, s]}",
                          "slot", (json_int_t)999, "blockTime", (json_int_t)1700000000, "version",
                          0, "meta", "err", "fee", 5000, "innerInstructions", "loadedAddresses",
                          "writable", w, "readonly", r, "logMessages", "Program x invoke [1]",
                          "transaction", enc, "base64");
  free(enc);
  ck_assert_ptr_nonnull(res);
  return res;
}

START_TEST(v0_loaded_addresses_order) {
  uint8_t buf[512];
  size_t len = build_v0(buf);
  char k[16][BASE58_ENCODED_32_SZ];
  for (int i = 0; i < 16; i++) key_b58((uint8_t)(0x20 + i), k[i]);
  /* loadedAddresses as the node reports them: writable (A5, A2, B1), then
   * readonly (A7, B0, B3) */
  const char *lw[] = {k[0], k[1], k[2]};
  const char *lr[] = {k[3], k[4], k[5]};
  json_t *res = v0_result(buf, len, lw, 3, lr, 3);
  txn_t *tx = parse_ok(res, NULL);
  ck_assert_int_eq(tx->version, 0);
  ck_assert_uint_eq(tx->n_static_keys, 3);
  ck_assert_uint_eq(tx->n_keys, 9);
  char s1[BASE58_ENCODED_32_SZ], s2[BASE58_ENCODED_32_SZ], s3[BASE58_ENCODED_32_SZ];
  key_b58(1, s1);
  key_b58(2, s2);
  key_b58(3, s3);
  ck_assert_uint_eq(tx->n_ix, 1);
  const txn_ix_t *x = &tx->ix[0];
  ck_assert_str_eq(x->program_id, s3);
  ck_assert_uint_eq(x->n_accounts, 8);
  const char *want[] = {s1, s2, k[0], k[1], k[2], k[3], k[4], k[5]};
  const bool want_w[] = {true, true, true, true, true, false, false, false};
  for (size_t a = 0; a < 8; a++) {
    ck_assert_str_eq(x->accounts[a], want[a]);
    ck_assert_int_eq(tx->key_writable[x->account_idx[a]], want_w[a]);
  }
  ck_assert(tx->key_signer[0] && !tx->key_signer[1] && !tx->key_signer[3]);
  ck_assert_uint_eq(x->data_len, 3);
  ck_assert_uint_eq(x->data[0], 0xaa);
  ck_assert_uint_eq(tx->slot, 999);
  ck_assert(tx->has_block_time && tx->block_time == 1700000000);
  /* signature: 64 x 0x5a */
  uint8_t sig[64];
  ck_assert_int_eq(base58_decode_64(tx->signature, sig), 0);
  for (int i = 0; i < 64; i++) ck_assert_uint_eq(sig[i], 0x5a);
  txn_free(tx);
  json_decref(res);

  /* loadedAddresses that do not match the lookups are refused */
  res = v0_result(buf, len, lw, 2, lr, 3);
  txn_t *bad = NULL;
  char err[256];
  ck_assert_int_eq(txn_parse(res, NULL, &bad, err, sizeof err), TXN_ERR_FORMAT);
  ck_assert_ptr_null(bad);
  ck_assert(strstr(err, "loadedAddresses") != NULL);
  json_decref(res);
  /* "version": "legacy" contradicting the message */
  res = v0_result(buf, len, lw, 3, lr, 3);
  json_object_set_new(res, "version", json_string("legacy"));
  ck_assert_int_eq(txn_parse(res, NULL, &bad, err, sizeof err), TXN_ERR_FORMAT);
  json_decref(res);
}
END_TEST

/* The json encoding of a v0 transaction resolves the same way, and the
 * jsonParsed form (accountKeys including the looked-up ones) agrees. */
START_TEST(v0_json_and_parsed) {
  char k[12][BASE58_ENCODED_32_SZ];
  for (int i = 0; i < 12; i++) key_b58((uint8_t)(0x40 + i), k[i]);
  char sig[BASE58_ENCODED_64_SZ];
  uint8_t s[64];
  memset(s, 7, sizeof s);
  base58_encode_64(s, sig);
  /* static: payer k0, k1 (writable), program k2 (readonly); loaded: w k3, r k4 */
  json_t *js = json_pack(
      "{s:I, s:n, s:i, s:{s:n, s:i, s:[{s:i, s:[{s:[i,i], s:s, s:i, s:i}]}], s:{s:[s], s:[s]}, "
      "s:[]},"
      " s:{s:[s], s:{s:[s,s,s], s:{s:i, s:i, s:i}, s:s, s:[{s:i, s:[i,i,i,i], s:s, s:n}],"
      " s:[{s:s, s:[i], s:[i]}]}}}",
      "slot", (json_int_t)5, "blockTime", "version", 0, "meta", "err", "fee", 5000,
      "innerInstructions", "index", 0, "instructions", "accounts", 3, 4, "data", "2", "programIdIndex",
      2, "stackHeight", 2, "loadedAddresses", "writable", k[3], "readonly", k[4], "logMessages",
      "transaction", "signatures", sig, "message", "accountKeys", k[0], k[1], k[2], "header",
      "numRequiredSignatures", 1, "numReadonlySignedAccounts", 0, "numReadonlyUnsignedAccounts", 1,
      "recentBlockhash", k[9], "instructions", "programIdIndex", 2, "accounts", 0, 1, 3, 4, "data",
      "5Q", "stackHeight", "addressTableLookups", "accountKey", k[10], "writableIndexes", 0,
      "readonlyIndexes", 1);
  ck_assert_ptr_nonnull(js);
  txn_t *a = parse_ok(js, NULL);
  ck_assert(!a->has_block_time);
  ck_assert_uint_eq(a->n_keys, 5);
  ck_assert_uint_eq(a->n_ix, 2);
  ck_assert_str_eq(a->ix[0].accounts[2], k[3]);
  ck_assert_str_eq(a->ix[0].accounts[3], k[4]);
  ck_assert(a->key_writable[3] && !a->key_writable[4]);
  ck_assert(a->ix[1].inner && a->ix[1].stack_height == 2);
  ck_assert_str_eq(a->ix[1].accounts[0], k[3]);
  /* base58 "5Q" = 0xff, "2" = 0x01 */
  ck_assert_uint_eq(a->ix[0].data_len, 1);
  ck_assert_uint_eq(a->ix[0].data[0], 0xff);
  ck_assert_uint_eq(a->ix[1].data[0], 0x01);

  json_t *jp = json_pack(
      "{s:I, s:n, s:i, s:{s:n, s:i, s:[{s:i, s:[{s:[s,s], s:s, s:s, s:i}]}], s:{s:[s], s:[s]}, "
      "s:[]},"
      " s:{s:[s], s:{s:[{s:s,s:b,s:b,s:s},{s:s,s:b,s:b,s:s},{s:s,s:b,s:b,s:s},"
      "{s:s,s:b,s:b,s:s},{s:s,s:b,s:b,s:s}], s:s, s:[{s:s, s:[s,s,s,s], s:s, s:n}],"
      " s:[{s:s, s:[i], s:[i]}]}}}",
      "slot", (json_int_t)5, "blockTime", "version", 0, "meta", "err", "fee", 5000,
      "innerInstructions", "index", 0, "instructions", "accounts", k[3], k[4], "data", "2",
      "programId", k[2], "stackHeight", 2, "loadedAddresses", "writable", k[3], "readonly", k[4],
      "logMessages", "transaction", "signatures", sig, "message", "accountKeys", "pubkey", k[0],
      "signer", 1, "writable", 1, "source", "transaction", "pubkey", k[1], "signer", 0, "writable", 1,
      "source", "transaction", "pubkey", k[2], "signer", 0, "writable", 0, "source", "transaction",
      "pubkey", k[3], "signer", 0, "writable", 1, "source", "lookupTable", "pubkey", k[4], "signer", 0,
      "writable", 0, "source", "lookupTable", "recentBlockhash", k[9], "instructions", "programId",
      k[2], "accounts", k[0], k[1], k[3], k[4], "data", "5Q", "stackHeight", "addressTableLookups",
      "accountKey", k[10], "writableIndexes", 0, "readonlyIndexes", 1);
  ck_assert_ptr_nonnull(jp);
  txn_t *c = parse_ok(jp, NULL);
  ck_assert_int_eq(c->encoding, TXN_ENC_JSON_PARSED);
  ck_assert_uint_eq(c->n_keys, 5); /* loaded keys not appended twice */
  ck_assert_uint_eq(c->n_static_keys, 3);
  for (size_t i = 0; i < 5; i++) {
    ck_assert_str_eq(a->keys[i], c->keys[i]);
    ck_assert_int_eq(a->key_writable[i], c->key_writable[i]);
  }
  assert_same_ix(a, c, 0);
  txn_free(a);
  txn_free(c);
  json_decref(js);
  json_decref(jp);
}
END_TEST

/* Malformed JSON shapes are errors with messages, never crashes. */
START_TEST(malformed_shapes) {
  static const char *const docs[] = {
      "[]",
      "{}",
      "{\"transaction\": 5}",
      "{\"transaction\": [\"AA==\"]}",
      "{\"transaction\": [\"AA==\", \"base32\"]}",
      "{\"transaction\": {\"signatures\": [], \"message\": {\"accountKeys\": []}}}",
      "{\"transaction\": {\"signatures\": [], \"message\": {\"accountKeys\": [\"x\"], \"header\": "
      "{\"numRequiredSignatures\": 1, \"numReadonlySignedAccounts\": 0, "
      "\"numReadonlyUnsignedAccounts\": 0}, \"instructions\": []}}}",
      "{\"transaction\": {\"signatures\": [], \"message\": {\"accountKeys\": "
      "[\"11111111111111111111111111111111\"], \"header\": {\"numRequiredSignatures\": 1, "
      "\"numReadonlySignedAccounts\": 0, \"numReadonlyUnsignedAccounts\": 0}, \"instructions\": "
      "[{\"programIdIndex\": 1, \"accounts\": [], \"data\": \"\"}]}}}",
      "{\"transaction\": {\"signatures\": [], \"message\": {\"accountKeys\": "
      "[\"11111111111111111111111111111111\"], \"header\": {\"numRequiredSignatures\": 1, "
      "\"numReadonlySignedAccounts\": 0, \"numReadonlyUnsignedAccounts\": 0}, \"instructions\": "
      "[{\"programIdIndex\": 0, \"accounts\": [3], \"data\": \"\"}]}}}",
      "{\"transaction\": {\"signatures\": [], \"message\": {\"accountKeys\": "
      "[\"11111111111111111111111111111111\"], \"header\": {\"numRequiredSignatures\": 1, "
      "\"numReadonlySignedAccounts\": 0, \"numReadonlyUnsignedAccounts\": 0}, \"instructions\": "
      "[{\"programIdIndex\": 0, \"accounts\": [], \"data\": \"0OIl\"}]}}}",
      "{\"meta\": {\"innerInstructions\": [{\"index\": 4, \"instructions\": []}]}, \"transaction\": "
      "{\"signatures\": [], \"message\": {\"accountKeys\": [\"11111111111111111111111111111111\"], "
      "\"header\": {\"numRequiredSignatures\": 1, \"numReadonlySignedAccounts\": 0, "
      "\"numReadonlyUnsignedAccounts\": 0}, \"instructions\": []}}}",
      "{\"meta\": {\"fee\": -1}, \"transaction\": {\"signatures\": [], \"message\": {\"accountKeys\": "
      "[\"11111111111111111111111111111111\"], \"header\": {\"numRequiredSignatures\": 1, "
      "\"numReadonlySignedAccounts\": 0, \"numReadonlyUnsignedAccounts\": 0}, \"instructions\": "
      "[]}}}",
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
    char err[256];
    json_t *j = jsonx_loads(docs[i], strlen(docs[i]), err, sizeof err);
    ck_assert_msg(j != NULL, "doc %zu: %s", i, err);
    txn_t *tx = NULL;
    err[0] = '\0';
    int rc = txn_parse(j, NULL, &tx, err, sizeof err);
    ck_assert_msg(rc < 0, "doc %zu parsed", i);
    ck_assert_ptr_null(tx);
    ck_assert_msg(err[0] != '\0', "doc %zu: no message", i);
    json_decref(j);
  }
  /* the minimal valid one: no signatures, one key, no instructions */
  const char *okdoc =
      "{\"slot\": 18446744073709551615, \"transaction\": {\"signatures\": [], \"message\": "
      "{\"accountKeys\": [\"11111111111111111111111111111111\"], \"header\": "
      "{\"numRequiredSignatures\": 1, \"numReadonlySignedAccounts\": 0, "
      "\"numReadonlyUnsignedAccounts\": 0}, \"instructions\": []}}}";
  char err[256];
  json_t *j = jsonx_loads(okdoc, strlen(okdoc), err, sizeof err);
  ck_assert_ptr_nonnull(j);
  txn_t *tx = parse_ok(j, NULL);
  ck_assert_uint_eq(tx->slot, UINT64_MAX);
  ck_assert_str_eq(tx->signature, "");
  ck_assert_uint_eq(tx->n_ix, 0);
  ck_assert(!tx->has_meta);
  txn_free(tx);
  json_decref(j);
}
END_TEST

/* Every member and element of real responses replaced in turn by values
 * of the wrong type: txn_parse succeeds or fails cleanly, never crashes. */
static size_t g_mutations, g_mutations_ok;

static void parse_any(const json_t *root) {
  txn_t *tx = NULL;
  char err[256];
  int rc = txn_parse(root, NULL, &tx, err, sizeof err);
  g_mutations++;
  if (rc == TXN_OK) {
    g_mutations_ok++;
    /* walk the view: every pointer must be readable */
    for (size_t i = 0; i < tx->n_ix; i++) {
      ck_assert_ptr_nonnull(tx->ix[i].program_id);
      for (size_t a = 0; a < tx->ix[i].n_accounts; a++) ck_assert_ptr_nonnull(tx->ix[i].accounts[a]);
    }
    txn_free(tx);
  } else {
    ck_assert_ptr_null(tx);
    ck_assert(err[0] != '\0');
  }
}

static void mutate_walk(json_t *root, json_t *node, int depth) {
  json_t *mutants[5];
  if (depth > 12) return;
  if (json_is_object(node)) {
    /* keys first: deleting and re-adding a key moves it to the end */
    size_t nk = json_object_size(node), k = 0;
    char **keys = calloc(nk ? nk : 1, sizeof *keys);
    const char *key;
    json_t *child;
    json_object_foreach(node, key, child) keys[k++] = strdup(key);
    for (k = 0; k < nk; k++) {
      child = json_incref(json_object_get(node, keys[k]));
      mutants[0] = json_null();
      mutants[1] = json_string("x");
      mutants[2] = json_integer(-1);
      mutants[3] = json_array();
      mutants[4] = json_object();
      for (int m = 0; m < 5; m++) {
        json_object_set_new(node, keys[k], mutants[m]);
        parse_any(root);
      }
      json_object_del(node, keys[k]);
      parse_any(root);
      json_object_set_new(node, keys[k], child);
      mutate_walk(root, child, depth + 1);
      free(keys[k]);
    }
    free(keys);
  } else if (json_is_array(node)) {
    for (size_t i = 0; i < json_array_size(node); i++) {
      json_t *child = json_incref(json_array_get(node, i));
      mutants[0] = json_null();
      mutants[1] = json_string("x");
      mutants[2] = json_integer(300);
      mutants[3] = json_array();
      mutants[4] = json_object();
      for (int m = 0; m < 5; m++) {
        json_array_set_new(node, i, mutants[m]);
        parse_any(root);
      }
      json_array_set_new(node, i, child);
      mutate_walk(root, child, depth + 1);
    }
  }
}

START_TEST(json_shape_mutations) {
  static const char *const files[] = {SAMPLES "get_transaction_json_encoding.json",
                                      SAMPLES "get_transaction_json_parsed_encoding.json",
                                      SAMPLES "get_transaction_base64_encoding.json"};
  g_mutations = g_mutations_ok = 0;
  for (size_t f = 0; f < 3; f++) {
    json_t *doc = load_json(files[f]);
    json_t *res = json_object_get(doc, "result");
    mutate_walk(res, res, 0);
    json_decref(doc);
  }
  /* one block transaction with inner instructions, json and jsonParsed */
  static const char *const blocks[] = {SAMPLES "get_block_json_encoding.json",
                                       SAMPLES "get_block_json_parsed_encoding.json"};
  for (size_t f = 0; f < 2; f++) {
    json_t *doc = load_json(blocks[f]);
    json_t *txs = json_object_get(json_object_get(doc, "result"), "transactions");
    for (size_t i = 0; i < json_array_size(txs); i++) {
      json_t *t = json_array_get(txs, i);
      json_t *meta = json_object_get(t, "meta");
      if (json_array_size(json_object_get(meta, "innerInstructions")) == 0) continue;
      json_object_del(meta, "preTokenBalances");
      json_object_del(meta, "postTokenBalances");
      json_object_del(meta, "rewards");
      mutate_walk(t, t, 0);
      break;
    }
    json_decref(doc);
  }
  ck_assert_uint_gt(g_mutations, 1000);
  ck_assert_uint_gt(g_mutations_ok, 0);
  ck_assert_uint_lt(g_mutations_ok, g_mutations);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("txmsg");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, compact_u16_vectors);
  tcase_add_test(tc, block_base64_matches_json);
  tcase_add_test(tc, block_inner_order);
  tcase_add_test(tc, block_inner_literal);
  tcase_add_test(tc, get_transaction_three_encodings);
  tcase_add_test(tc, truncation_every_byte);
  tcase_add_test(tc, truncation_through_txn_parse);
  tcase_add_test(tc, mutation_no_crash);
  tcase_add_test(tc, v0_wire_fields);
  tcase_add_test(tc, v0_loaded_addresses_order);
  tcase_add_test(tc, v0_json_and_parsed);
  tcase_add_test(tc, malformed_shapes);
  tcase_add_test(tc, json_shape_mutations);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(suite()); }
