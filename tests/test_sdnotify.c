/* systemd notify protocol: datagrams arrive, in order and exact, on a
 * socket the test owns (path and abstract); watchdog interval rules. */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"
#include "testutil.h"

/* Binds a datagram socket: name "/path" or "@abstract". */
static int listen_at(const char *name) {
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  ck_assert_int_ge(fd, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  size_t len = strlen(name);
  memcpy(a.sun_path, name, len);
  socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
  if (name[0] == '@') {
    a.sun_path[0] = '\0';
    al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
  }
  ck_assert_msg(bind(fd, (struct sockaddr *)&a, al) == 0, "bind %s: %s", name, strerror(errno));
  struct timeval tv = {.tv_sec = 2};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static void expect_dgram(int fd, const char *want) {
  char buf[1024];
  ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
  ck_assert_msg(n >= 0, "no datagram (wanted %s): %s", want, strerror(errno));
  buf[n] = '\0';
  ck_assert_str_eq(buf, want);
}

static void expect_none(int fd) {
  char buf[64];
  ck_assert_int_lt(recv(fd, buf, sizeof buf, MSG_DONTWAIT), 0);
}

static void clear_env(void) {
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
}

static void sequence(const char *name) {
  int fd = listen_at(name);
  clear_env();
  setenv("NOTIFY_SOCKET", name, 1);
  sdnotify_t n;
  ck_assert_int_eq(sdnotify_init(&n), 0);
  ck_assert_int_eq(n.enabled, 1);
  ck_assert_int_eq(sdnotify_status(&n, "catching up lag=%d slots", 120), 0);
  ck_assert_int_eq(sdnotify_extend_timeout(&n, 60000000), 0);
  ck_assert_int_eq(sdnotify_ready(&n), 0);
  ck_assert_int_eq(sdnotify_status(&n, "line one\nWATCHDOG=trigger"), 0);
  ck_assert_int_eq(sdnotify_watchdog(&n), 0);
  ck_assert_int_eq(sdnotify_stopping(&n), 0);
  expect_dgram(fd, "STATUS=catching up lag=120 slots");
  expect_dgram(fd, "EXTEND_TIMEOUT_USEC=60000000");
  expect_dgram(fd, "READY=1");
  expect_dgram(fd, "STATUS=line one WATCHDOG=trigger"); /* no injected assignment */
  expect_dgram(fd, "WATCHDOG=1");
  expect_dgram(fd, "STOPPING=1");
  expect_none(fd);
  sdnotify_close(&n);
  close(fd);
  clear_env();
}

START_TEST(path_socket_sequence) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/cbi_notify_%d", (int)getpid());
  unlink(path);
  sequence(path);
  unlink(path);
}
END_TEST

START_TEST(abstract_socket_sequence) {
  char name[64];
  snprintf(name, sizeof name, "@cbi_notify_test_%d", (int)getpid());
  sequence(name);
}
END_TEST

START_TEST(unset_is_noop) {
  clear_env();
  sdnotify_t n;
  ck_assert_int_eq(sdnotify_init(&n), 0);
  ck_assert_int_eq(n.enabled, 0);
  ck_assert_int_eq(sdnotify_ready(&n), 0);
  ck_assert_int_eq(sdnotify_status(&n, "x"), 0);
  ck_assert_int_eq(sdnotify_watchdog_tick(&n, 1), 0);
  ck_assert_uint_eq(sdnotify_watchdog_interval_usec(&n), 0);
  sdnotify_close(&n);
  setenv("NOTIFY_SOCKET", "relative/path", 1);
  ck_assert_int_eq(sdnotify_init(&n), SDNOTIFY_ERR_ADDR);
  ck_assert_int_eq(n.enabled, 0);
  ck_assert_int_eq(sdnotify_ready(&n), 0);
  sdnotify_close(&n);
  setenv("NOTIFY_SOCKET", "@", 1);
  ck_assert_int_eq(sdnotify_init(&n), SDNOTIFY_ERR_ADDR);
  ck_assert_int_eq(sdnotify_send(&n, ""), SDNOTIFY_ERR_INVALID);
  /* A socket that does not exist: sending fails with a code, never crashes. */
  setenv("NOTIFY_SOCKET", "/tmp/cbi_notify_nobody_listens", 1);
  ck_assert_int_eq(sdnotify_init(&n), 0);
  ck_assert_int_eq(sdnotify_ready(&n), SDNOTIFY_ERR_SEND);
  ck_assert_int_ne(n.last_errno, 0);
  ck_assert_str_eq(sdnotify_strerror(SDNOTIFY_ERR_SEND), "cannot send to the notify socket");
  sdnotify_close(&n);
  clear_env();
}
END_TEST

START_TEST(watchdog_interval) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/cbi_notify_wd_%d", (int)getpid());
  unlink(path);
  int fd = listen_at(path);
  clear_env();
  setenv("NOTIFY_SOCKET", path, 1);
  setenv("WATCHDOG_USEC", "200000", 1);
  sdnotify_t n;
  ck_assert_int_eq(sdnotify_init(&n), 0);
  ck_assert_uint_eq(sdnotify_watchdog_interval_usec(&n), 100000); /* half */
  ck_assert_int_eq(sdnotify_watchdog_tick(&n, 1), 1);             /* first call pings */
  ck_assert_int_eq(sdnotify_watchdog_tick(&n, 1), 0);             /* not due yet */
  usleep(120000);
  ck_assert_int_eq(sdnotify_watchdog_tick(&n, 0), 0); /* due, but no progress: silent */
  ck_assert_int_eq(sdnotify_watchdog_tick(&n, 1), 1);
  expect_dgram(fd, "WATCHDOG=1");
  expect_dgram(fd, "WATCHDOG=1");
  expect_none(fd);
  sdnotify_close(&n);

  /* WATCHDOG_PID naming us keeps it; naming another process turns it off. */
  char pid[32];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  setenv("WATCHDOG_PID", pid, 1);
  ck_assert_int_eq(sdnotify_init(&n), 0);
  ck_assert_uint_eq(sdnotify_watchdog_interval_usec(&n), 100000);
  sdnotify_close(&n);
  snprintf(pid, sizeof pid, "%d", (int)getpid() + 1);
  setenv("WATCHDOG_PID", pid, 1);
  ck_assert_int_eq(sdnotify_init(&n), 0);
  ck_assert_uint_eq(sdnotify_watchdog_interval_usec(&n), 0);
  ck_assert_int_eq(sdnotify_watchdog_tick(&n, 1), 0);
  sdnotify_close(&n);
  unsetenv("WATCHDOG_PID");
  setenv("WATCHDOG_USEC", "12x", 1); /* malformed: off */
  ck_assert_int_eq(sdnotify_init(&n), 0);
  ck_assert_uint_eq(sdnotify_watchdog_interval_usec(&n), 0);
  sdnotify_close(&n);
  expect_none(fd);
  close(fd);
  unlink(path);
  clear_env();
}
END_TEST

int main(void) {
  Suite *s = suite_create("sdnotify");
  TCase *tc = tcase_create("sdnotify");
  tcase_add_test(tc, path_socket_sequence);
  tcase_add_test(tc, abstract_socket_sequence);
  tcase_add_test(tc, unset_is_noop);
  tcase_add_test(tc, watchdog_interval);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
