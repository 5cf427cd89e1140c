/* README's Layout table names every folder and file of the tree (tracked or
 * not ignored by git), each file in its folder's row (headers of include/ in
 * any row), and names nothing that does not exist. */
#include <sys/stat.h>

#include "testutil.h"

#define MAX_ROWS 64
#define MAX_TOKENS 4096

typedef struct row {
  char folder[128]; /* "src/base/", "./" */
  char *files;      /* the files cell (borrowed from the README copy) */
} row_t;

static row_t rows[MAX_ROWS];
static size_t nrows;
static char *readme;

/* Parses the Layout section into rows. */
static void load_rows(void) {
  readme = tu_read_file("README.md", NULL);
  char *a = strstr(readme, "\n## Layout\n");
  ck_assert_ptr_nonnull(a);
  char *b = strstr(a + 1, "\n## ");
  if (b) *b = '\0';
  nrows = 0;
  for (char *line = strtok(a, "\n"); line; line = strtok(NULL, "\n")) {
    if (strncmp(line, "| `", 3) != 0) continue;
    char *c1 = line + 3, *e1 = strchr(c1, '`');
    ck_assert_ptr_nonnull(e1);
    char *c2 = strchr(e1, '|');
    ck_assert_ptr_nonnull(c2);
    char *e2 = strchr(c2 + 1, '|');
    ck_assert_ptr_nonnull(e2);
    ck_assert_uint_lt(nrows, MAX_ROWS);
    row_t *r = &rows[nrows++];
    snprintf(r->folder, sizeof r->folder, "%.*s", (int)(e1 - c1), c1);
    *e2 = '\0';
    r->files = c2 + 1;
  }
  ck_assert_uint_gt(nrows, 10);
}

/* 1 when `name` is a backticked token of the cell. */
static int cell_has(const char *cell, const char *name) {
  char tok[300];
  snprintf(tok, sizeof tok, "`%.290s`", name);
  return strstr(cell, tok) != NULL;
}

static const row_t *row_of(const char *folder) {
  for (size_t i = 0; i < nrows; i++)
    if (strcmp(rows[i].folder, folder) == 0) return &rows[i];
  return NULL;
}

/* Every file of the tree, one per line ("dir/name"), without build output. */
static FILE *list_files(void) {
  FILE *p = popen("if git rev-parse --git-dir >/dev/null 2>&1; then "
                  "git ls-files --cached --others --exclude-standard; else "
                  "find . -path ./build -prune -o -path ./.git -prune -o -type f -print | "
                  "sed 's|^\\./||'; fi",
                  "r");
  ck_assert_ptr_nonnull(p);
  return p;
}

START_TEST(every_file_is_listed) {
  load_rows();
  FILE *p = list_files();
  char path[1024];
  size_t n = 0, missing = 0;
  char report[4096] = "";
  while (fgets(path, sizeof path, p)) {
    path[strcspn(path, "\n")] = '\0';
    if (!*path) continue;
    struct stat st;
    if (stat(path, &st) != 0) continue; /* deleted, not yet committed */
    n++;
    char folder[1024];
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (slash) snprintf(folder, sizeof folder, "%.*s", (int)(slash - path + 1), path);
    else snprintf(folder, sizeof folder, "./");
    /* folders described as a whole (data) */
    if (strncmp(path, "fixtures/", 9) == 0 || strncmp(path, "tests/fuzz/corpus/", 18) == 0) continue;
    int ok;
    if (strcmp(folder, "include/") == 0) {
      ok = 0;
      for (size_t i = 0; i < nrows; i++) ok |= cell_has(rows[i].files, name);
    } else {
      const row_t *r = row_of(folder);
      ok = r && cell_has(r->files, name);
    }
    if (!ok) {
      missing++;
      size_t l = strlen(report);
      snprintf(report + l, sizeof report - l, " %s", path);
    }
  }
  pclose(p);
  ck_assert_uint_gt(n, 50);
  ck_assert_msg(missing == 0, "README Layout misses %zu file(s):%s", missing, report);
}
END_TEST

START_TEST(every_listed_file_exists) {
  load_rows();
  size_t missing = 0;
  char report[4096] = "";
  for (size_t i = 0; i < nrows; i++) {
    struct stat st;
    char dir[200];
    snprintf(dir, sizeof dir, "%.127s", rows[i].folder);
    ck_assert_msg(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), "no folder %s", dir);
    for (const char *c = strchr(rows[i].files, '`'); c; c = strchr(c, '`')) {
      const char *e = strchr(c + 1, '`');
      ck_assert_ptr_nonnull(e);
      char name[256], path[600], alt[600];
      snprintf(name, sizeof name, "%.*s", (int)(e - c - 1), c + 1);
      snprintf(path, sizeof path, "%.127s%.255s", strcmp(rows[i].folder, "./") ? rows[i].folder : "",
               name);
      snprintf(alt, sizeof alt, "include/%.255s", name);
      if (stat(path, &st) != 0 && stat(alt, &st) != 0) {
        missing++;
        size_t l = strlen(report);
        snprintf(report + l, sizeof report - l, " %s", path);
      }
      c = e + 1;
    }
  }
  ck_assert_msg(missing == 0, "README Layout names %zu missing file(s):%s", missing, report);
}
END_TEST

START_TEST(every_folder_has_a_row) {
  load_rows();
  FILE *p = popen("find . -path ./build -prune -o -path ./.git -prune -o -path './fixtures/*' -prune "
                  "-o -path './tests/fuzz/corpus/*' -prune -o -type d -print | sed 's|^\\./||'",
                  "r");
  ck_assert_ptr_nonnull(p);
  char dir[1024];
  size_t missing = 0;
  char report[2048] = "";
  while (fgets(dir, sizeof dir, p)) {
    dir[strcspn(dir, "\n")] = '\0';
    if (strcmp(dir, ".") == 0 || strcmp(dir, "build") == 0 || strcmp(dir, ".git") == 0) continue;
    if (strncmp(dir, "fixtures/", 9) == 0 || strncmp(dir, "tests/fuzz/corpus/", 18) == 0) continue;
    char folder[1100];
    snprintf(folder, sizeof folder, "%s/", dir);
    if (!row_of(folder)) {
      missing++;
      size_t l = strlen(report);
      snprintf(report + l, sizeof report - l, " %s", folder);
    }
  }
  pclose(p);
  ck_assert_msg(missing == 0, "README Layout has no row for:%s", report);
}
END_TEST

static Suite *layout_suite(void) {
  Suite *s = suite_create("layout");
  TCase *tc = tcase_create("readme");
  tcase_add_test(tc, every_file_is_listed);
  tcase_add_test(tc, every_listed_file_exists);
  tcase_add_test(tc, every_folder_has_a_row);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(layout_suite()); }
