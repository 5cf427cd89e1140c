/* log_events_scan: attribution of "Program data:" lines to the executing
 * program through the invoke/success/failed stack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "jsonx.h"
#include "testutil.h"

#define OUR "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe"
#define OTHER "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
#define ROUTER "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4"

/* base64 written out: "AQID" = 01 02 03, "BAU=" = 04 05,
 * "BgcICQ==" = 06 07 08 09, "AA==" = 00 */
static const uint8_t B123[] = {1, 2, 3};
static const uint8_t B6789[] = {6, 7, 8, 9};
static const uint8_t B12345[] = {1, 2, 3, 4, 5};

static log_events_t scan(const char *const *lines, size_t n, const char *pid) {
  log_events_t ev;
  ck_assert_int_eq(log_events_scan(lines, n, pid, &ev), 0);
  return ev;
}

static void expect_item(const log_events_t *ev, size_t i, const uint8_t *data, size_t len,
                        uint32_t invocation, uint32_t depth) {
  ck_assert_uint_lt(i, ev->count);
  ck_assert_uint_eq(ev->items[i].len, len);
  ck_assert_mem_eq(ev->items[i].data, data, len);
  ck_assert_uint_eq(ev->items[i].invocation, invocation);
  ck_assert_uint_eq(ev->items[i].depth, depth);
}

START_TEST(test_nesting_and_ordinals) {
  const char *lines[] = {
      "Program " ROUTER " invoke [1]",      /* invocation 0 */
      "Program log: Instruction: Route",
      "Program " OUR " invoke [2]",         /* invocation 1 */
      "Program data: AQID",                 /* ours */
      "Program " OTHER " invoke [3]",       /* invocation 2 */
      "Program data: BAU=",                 /* OTHER's, nested inside ours */
      "Program " OTHER " consumed 100 of 200 compute units",
      "Program " OTHER " success",
      "Program data: BgcICQ==",             /* ours again */
      "Program " OUR " consumed 5000 of 190000 compute units",
      "Program " OUR " success",
      "Program data: AA==",                 /* ROUTER's */
      "Program return: " ROUTER " AQID",
      "Program " ROUTER " success",
      "Program " OUR " invoke [1]",         /* invocation 3 */
      "Program log: hi",
      "Program data: AQID BAU=",            /* two slices, one payload */
      "Program " OUR " success",
  };
  log_events_t ev = scan(lines, sizeof lines / sizeof lines[0], OUR);
  ck_assert_uint_eq(ev.count, 3);
  expect_item(&ev, 0, B123, 3, 1, 2);
  expect_item(&ev, 1, B6789, 4, 1, 2);
  expect_item(&ev, 2, B12345, 5, 3, 1);
  ck_assert(!ev.truncated);
  ck_assert_uint_eq(ev.bad_lines, 0);
  log_events_free(&ev);

  /* The same logs from the other programs' point of view. */
  ev = scan(lines, sizeof lines / sizeof lines[0], OTHER);
  ck_assert_uint_eq(ev.count, 1);
  static const uint8_t b45[] = {4, 5};
  expect_item(&ev, 0, b45, 2, 2, 3);
  log_events_free(&ev);
  ev = scan(lines, sizeof lines / sizeof lines[0], ROUTER);
  ck_assert_uint_eq(ev.count, 1);
  static const uint8_t b0[] = {0};
  expect_item(&ev, 0, b0, 1, 0, 1);
  log_events_free(&ev);
}
END_TEST

START_TEST(test_spoofing) {
  /* Another program logs our event bytes, and text that looks like our
   * invoke line: its own output is always prefixed, so neither counts. */
  const char *lines[] = {
      "Program " OTHER " invoke [1]",
      "Program log: Program " OUR " invoke [1]",
      "Program data: AQID",
      "Program log: Program " OUR " success",
      "Program data: BAU=",
      "Program " OTHER " success",
      "Program data: BgcICQ==", /* outside any frame */
  };
  log_events_t ev = scan(lines, sizeof lines / sizeof lines[0], OUR);
  ck_assert_uint_eq(ev.count, 0);
  log_events_free(&ev);
}
END_TEST

START_TEST(test_failed_frames) {
  const char *lines[] = {
      "Program " OUR " invoke [1]",   /* 0 */
      "Program " OTHER " invoke [2]", /* 1 */
      "Program " OTHER " failed: custom program error: 0x1",
      "Program data: AQID", /* back in our frame */
      "Program " OUR " failed: custom program error: 0x1771",
      "Program data: BAU=", /* no frame */
      "Program " OTHER " invoke [1]", /* 2 */
      "Program data: BAU=",
      "Program " OTHER " failed: insufficient funds",
      "Program " OUR " invoke [1]", /* 3 */
      "Program data: BgcICQ==",
      "Program " OUR " success",
  };
  log_events_t ev = scan(lines, sizeof lines / sizeof lines[0], OUR);
  ck_assert_uint_eq(ev.count, 2);
  expect_item(&ev, 0, B123, 3, 0, 1);
  expect_item(&ev, 1, B6789, 4, 3, 1);
  log_events_free(&ev);
}
END_TEST

START_TEST(test_truncated_and_bad) {
  const char *lines[] = {
      "Program " OUR " invoke [1]",
      "Program data: AQID",
      "Program data: not*base64",
      "Program data: AQI",       /* missing padding */
      "Program data: ",          /* no slices */
      "Program " OTHER " invoke [2]",
      "Program data: %%%%",      /* not ours: not counted */
      "Program " OTHER " success",
      "Log truncated",
      "Program data: BAU=",      /* nothing after the cut is trusted */
  };
  log_events_t ev = scan(lines, sizeof lines / sizeof lines[0], OUR);
  ck_assert_uint_eq(ev.count, 1);
  expect_item(&ev, 0, B123, 3, 0, 1);
  ck_assert(ev.truncated);
  ck_assert_uint_eq(ev.bad_lines, 3);
  log_events_free(&ev);

  /* Empty input, NULL lines. */
  const char *none[] = {NULL, "", "Program", "Program data:"};
  ev = scan(none, 4, OUR);
  ck_assert_uint_eq(ev.count, 0);
  ck_assert(!ev.truncated);
  log_events_free(&ev);
}
END_TEST

START_TEST(test_deep_stack) {
  /* More frames than the scanner tracks: no crash, attribution resumes
   * when the stack unwinds. */
  enum { DEPTH = 100 };
  char *lines[2 * DEPTH + 3];
  size_t n = 0;
  for (int i = 0; i < DEPTH; i++) {
    lines[n] = malloc(96);
    snprintf(lines[n++], 96, "Program %s invoke [%d]", i == 0 ? OUR : OTHER, i + 1);
  }
  lines[n++] = strdup("Program data: AQID"); /* top is OTHER */
  for (int i = DEPTH - 1; i >= 1; i--) {
    lines[n] = malloc(96);
    snprintf(lines[n++], 96, "Program %s success", OTHER);
  }
  lines[n++] = strdup("Program data: BAU="); /* ours */
  log_events_t ev = scan((const char *const *)lines, n, OUR);
  ck_assert_uint_eq(ev.count, 1);
  static const uint8_t b45[] = {4, 5};
  expect_item(&ev, 0, b45, 2, 0, 1);
  log_events_free(&ev);
  for (size_t i = 0; i < n; i++) free(lines[i]);
}
END_TEST

/* Real mainnet logs (fixtures/rpc-samples, slot 147078735): every
 * "Program data:" line inside a frame is attributed to exactly one
 * program, and the known one to its emitter. */
START_TEST(test_real_block) {
  size_t len;
  char *text = tu_read_file("fixtures/rpc-samples/get_block_json_encoding.json", &len);
  char err[256];
  json_t *root = jsonx_loads(text, len, err, sizeof err);
  ck_assert_msg(root != NULL, "%s", err);
  free(text);
  json_t *res = json_object_get(root, "result");
  if (!res) res = root;
  json_t *txs = json_object_get(res, "transactions");
  ck_assert_uint_gt(json_array_size(txs), 0);
  size_t data_lines = 0, attributed = 0, crank = 0;
  for (size_t t = 0; t < json_array_size(txs); t++) {
    json_t *logs = json_object_get(json_object_get(json_array_get(txs, t), "meta"), "logMessages");
    size_t n = json_array_size(logs);
    if (n == 0) continue;
    const char **lines = calloc(n, sizeof *lines);
    for (size_t i = 0; i < n; i++) {
      lines[i] = json_string_value(json_array_get(logs, i));
      if (strncmp(lines[i], "Program data: ", 14) == 0) data_lines++;
    }
    /* every program that was invoked in this transaction */
    char ids[64][48];
    size_t nids = 0;
    for (size_t i = 0; i < n; i++) {
      char id[48];
      if (sscanf(lines[i], "Program %47s invoke", id) != 1 || !strstr(lines[i], " invoke [")) continue;
      size_t k = 0;
      while (k < nids && strcmp(ids[k], id) != 0) k++;
      if (k == nids && nids < 64) snprintf(ids[nids++], sizeof ids[0], "%s", id);
    }
    for (size_t k = 0; k < nids; k++) {
      log_events_t ev = scan(lines, n, ids[k]);
      attributed += ev.count;
      ck_assert_uint_eq(ev.bad_lines, 0);
      if (strcmp(ids[k], "2TfB33aLaneQb5TNVwyDz3jSZXS6jdW2ARw1Dgf84XCG") == 0) {
        crank += ev.count;
        for (size_t e = 0; e < ev.count; e++) ck_assert_uint_eq(ev.items[e].depth, 1);
      }
      log_events_free(&ev);
    }
    free(lines);
  }
  ck_assert_uint_eq(data_lines, 17);
  ck_assert_uint_eq(attributed, data_lines);
  ck_assert_uint_gt(crank, 0);
  json_decref(root);
}
END_TEST

int main(void) {
  Suite *s = suite_create("logscan");
  TCase *tc = tcase_create("logscan");
  tcase_add_test(tc, test_nesting_and_ordinals);
  tcase_add_test(tc, test_spoofing);
  tcase_add_test(tc, test_failed_frames);
  tcase_add_test(tc, test_truncated_and_bad);
  tcase_add_test(tc, test_deep_stack);
  tcase_add_test(tc, test_real_block);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
