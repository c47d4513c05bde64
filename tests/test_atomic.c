/* test_atomic.c — the crash-safe output helper (src/atomic.c): a commit replaces PATH
 * whole and leaves no PATH.tmp; an abort and every failed write (a full filesystem:
 * ENOSPC; a file-size limit: EFBIG; a missing directory) leave the previous PATH as it
 * was, remove PATH.tmp and record one line naming the file and the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "util_fs.h"
#include "util_net.h"

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void assert_content(const char *path, const char *text) {
  char buf[256] = "";
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  assert_string_equal(buf, text);
}

static void test_commit_and_abort(void **state) {
  (void)state;
  char *dir = tu_tmpdir(), path[300], tmp[320];
  snprintf(path, sizeof path, "%s/out.csv", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  put(path, "old\n");
  dc_atomic a;
  assert_int_equal(dc_atomic_open(&a, path, "w"), DC_OK);
  assert_string_equal(a.tmp, tmp);
  fputs("new\n", a.f);
  assert_content(path, "old\n"); /* untouched until the commit */
  assert_int_equal(dc_atomic_commit(&a), DC_OK);
  assert_content(path, "new\n");
  assert_false(exists(tmp));

  assert_int_equal(dc_atomic_open(&a, path, "w"), DC_OK);
  fputs("half", a.f);
  dc_atomic_abort(&a);
  assert_content(path, "new\n");
  assert_false(exists(tmp));

  /* a path writer (HDF5, PNG) creates a.tmp itself */
  assert_int_equal(dc_atomic_begin(&a, path), DC_OK);
  assert_null(a.f);
  put(a.tmp, "by name\n");
  assert_int_equal(dc_atomic_commit(&a), DC_OK);
  assert_content(path, "by name\n");
  assert_false(exists(tmp));

  /* a missing directory */
  char bad[320];
  snprintf(bad, sizeof bad, "%s/no/such/out.csv", dir);
  dc_failure_clear();
  assert_int_equal(dc_atomic_open(&a, bad, "w"), DC_ERR_IO);
  char want[400];
  snprintf(want, sizeof want, "%s.tmp: cannot create: No such file or directory", bad);
  assert_string_equal(dc_failure_reason(), want);
  remove(path);
  rmdir(dir);
  free(dir);
}

/* Write 256 KiB through a stream into dir/out.bin over an old version: the commit must
 * fail with `reason`, keep the old file and remove the temp. */
static void fail_big_write(const char *dir, const char *reason) {
  char path[300], want[1200];
  snprintf(path, sizeof path, "%s/out.bin", dir);
  put(path, "old\n");
  dc_atomic a;
  assert_int_equal(dc_atomic_open(&a, path, "wb"), DC_OK);
  static char block[4096];
  memset(block, 7, sizeof block);
  for (int i = 0; i < 64; i++) fwrite(block, 1, sizeof block, a.f);
  dc_failure_clear();
  assert_int_equal(dc_atomic_commit(&a), DC_ERR_IO);
  snprintf(want, sizeof want, "%s: cannot write: %s", a.tmp, reason);
  assert_string_equal(dc_failure_reason(), want);
  assert_false(exists(a.tmp));
  assert_content(path, "old\n");
  remove(path);
}

static void test_file_size_limit(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  tu_fsize_limit(16384);
  fail_big_write(dir, "File too large");
  tu_fsize_limit(0);
  rmdir(dir);
  free(dir);
}

static void test_disk_full(void **state) {
  (void)state;
  char why[200];
  char *dir = tu_small_fs(64 * 1024, why, sizeof why);
  if (!dir) {
    fprintf(stderr, "skipped: %s\n", why);
    skip();
  }
  fail_big_write(dir, "No space left on device");
  tu_small_fs_release(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_commit_and_abort),
      cmocka_unit_test(test_file_size_limit),
      cmocka_unit_test(test_disk_full),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
