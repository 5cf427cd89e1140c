/* tools/checkdeps.sh: the real tree passes; a throwaway tree with one
 * deliberate violation of each kind (libpq in decode, socket I/O in codec,
 * an include against the layers, a private header, PGconn in a public
 * header, fixture-store code in the daemon, a sync module writing rows, a
 * source touching the sink) fails, naming each one; the same tree without
 * them passes. */
#include <sys/stat.h>

#include "testutil.h"

static char g_dir[64];

static void put(const char *rel, const char *text) {
  char path[512], cmd[700];
  snprintf(path, sizeof path, "%s/%s", g_dir, rel);
  snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
  ck_assert_int_eq(system(cmd), 0);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* Runs a shell command inside the throwaway tree. */
static void in_tree(const char *what) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && %s", g_dir, what);
  ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

/* Runs checkdeps on the throwaway tree; returns the exit code, output in *text. */
static int run_checkdeps(const char *build, const char *root, char **text) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "sh tools/checkdeps.sh '%s' '%s' 2>&1", build, root);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  ck_assert_ptr_nonnull(buf);
  size_t k;
  while ((k = fread(buf + n, 1, cap - 1 - n, p)) > 0) n += k;
  buf[n] = '\0';
  int st = pclose(p);
  *text = buf;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A minimal tree: a codec module, a decode module using it, a sink module,
 * their objects and a daemon binary, all within the rules. */
static void clean_tree(void) {
  put("include/tiny.h", "int tiny_one(void);\n");
  put("src/codec/tiny.c", "#include \"tiny.h\"\nint tiny_one(void) { return 1; }\n");
  put("include/pure.h", "#include \"tiny.h\"\nint pure_two(void);\n");
  put("src/decode/pure.c", "#include \"pure.h\"\nint pure_two(void) { return tiny_one() + 1; }\n");
  put("include/sink.h", "typedef struct sink sink_t;\n");
  put("src/sink/sink.c", "#include \"sink.h\"\n#include \"sink_priv.h\"\n");
  put("src/sink/sink_priv.h", "/* private */\n");
  put("src/cli/main.c", "#include \"pure.h\"\n#include \"sink.h\"\nint main(void) { return pure_two(); }\n");
  in_tree("mkdir -p build/obj/codec build/obj/decode build/obj/sink");
  in_tree("cc -c -Iinclude -o build/obj/codec/tiny.o src/codec/tiny.c");
  in_tree("cc -c -Iinclude -o build/obj/decode/pure.o src/decode/pure.c");
  in_tree("cc -Iinclude -o build/crypto-bet-indexer src/cli/main.c build/obj/decode/pure.o "
          "build/obj/codec/tiny.o");
}

START_TEST(real_tree_passes) {
  const char *b = getenv("CBI_BUILD");
  char *text = NULL;
  int rc = run_checkdeps(b && *b ? b : "build", ".", &text);
  ck_assert_msg(rc == 0, "checkdeps on the tree:\n%s", text);
  free(text);
}
END_TEST

START_TEST(violations_are_reported) {
  snprintf(g_dir, sizeof g_dir, "/tmp/cbi-checkdeps-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(g_dir));
  char *text = NULL;
  clean_tree();
  char build[128];
  snprintf(build, sizeof build, "%s/build", g_dir);
  int rc = run_checkdeps(build, g_dir, &text);
  ck_assert_msg(rc == 0, "clean tree:\n%s", text);
  free(text);

  /* 1. a decode object calling libpq */
  put("bad/pq.c", "void *PQconnectdb(const char *);\nvoid pure_bad(void);\n"
                  "void pure_bad(void) { (void)PQconnectdb(\"\"); }\n");
  in_tree("cc -c -o build/obj/decode/pq.o bad/pq.c");
  /* 2. a codec object doing socket I/O */
  put("bad/io.c", "#include <sys/socket.h>\nint tiny_sock(void);\n"
                  "int tiny_sock(void) { return socket(AF_INET, SOCK_STREAM, 0); }\n");
  in_tree("cc -c -o build/obj/codec/io.o bad/io.c");
  /* 3. decode including a header of a higher layer */
  put("src/decode/pure.c", "#include \"pure.h\"\n#include \"sink.h\"\n"
                           "int pure_two(void) { return tiny_one() + 1; }\n");
  /* 4. a private sink header used outside src/sink */
  put("src/cli/peek.c", "#include \"sink_priv.h\"\n");
  /* 5. libpq's type in a public header */
  put("include/pure.h", "#include \"tiny.h\"\ntypedef struct pg_conn PGconn;\nint pure_two(void);\n");
  /* 6. fixture-store code in the daemon */
  put("bad/store.c", "int replay_store_load(void);\nint replay_store_load(void) { return 0; }\n"
                     "int main(void) { return replay_store_load(); }\n");
  in_tree("cc -o build/crypto-bet-indexer bad/store.c");

  /* 7. a sync module other than ingest writing rows itself */
  put("bad/feed.c", "int sink_put_account(void *, const void *);\nint feed_one(void);\n"
                    "int feed_one(void) { return sink_put_account(0, 0); }\n");
  in_tree("mkdir -p build/obj/sync build/obj/source && cc -c -o build/obj/sync/feed.o bad/feed.c");
  /* 8. a source touching the sink */
  put("bad/src.c", "int sink_flush(void *);\nint src_one(void);\n"
                   "int src_one(void) { return sink_flush(0); }\n");
  in_tree("cc -c -o build/obj/source/src.o bad/src.c");

  rc = run_checkdeps(build, g_dir, &text);
  ck_assert_int_eq(rc, 1);
  static const char *const want[] = {
      "obj/decode/pq.o (decode): references PQconnectdb",
      "obj/codec/io.o (codec): references socket",
      "src/decode/pure.c (decode): includes sink.h of layer sink, above decode",
      "src/cli/peek.c: includes sink_priv.h, private to",
      "include/pure.h:2:typedef struct pg_conn PGconn;",
      "crypto-bet-indexer: contains replay_store_load",
      "obj/sync/feed.o: references sink_put_account (only sink/* sync/ingest.o may)",
      "obj/source/src.o (source): references sink_flush",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    ck_assert_msg(strstr(text, want[i]) != NULL, "missing '%s' in:\n%s", want[i], text);
  ck_assert_msg(strstr(text, "checkdeps: 8 violation(s)") != NULL, "%s", text);
  free(text);
  char rm[128];
  snprintf(rm, sizeof rm, "rm -rf '%s'", g_dir);
  ck_assert_int_eq(system(rm), 0);
}
END_TEST

static Suite *checkdeps_suite(void) {
  Suite *s = suite_create("checkdeps");
  TCase *tc = tcase_create("rules");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, real_tree_passes);
  tcase_add_test(tc, violations_are_reported);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(checkdeps_suite()); }
