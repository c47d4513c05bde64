/* test_h5.c — the HDF5 layer: round trips of every element type and of scalar, 1-D,
 * 4-D and empty shapes, nested groups, exact shape checks, missing datasets, non-HDF5
 * files, atomic create/commit/abort, listing, strings (ours and variable-length ones
 * written by other tools), other layouts (chunked and compressed, compact, unwritten),
 * corrupt layouts refused before the read, and each argument error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dc/h5.h"
#include "util_fs.h"

typedef struct {
  char dir[64];
  char path[128]; /* dir/t.h5 */
  char tmp[160];  /* dir/t.h5.tmp */
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  if (!fx) return -1;
  snprintf(fx->dir, sizeof fx->dir, "/tmp/dc_test_h5_XXXXXX");
  if (!mkdtemp(fx->dir)) return -1;
  snprintf(fx->path, sizeof fx->path, "%s/t.h5", fx->dir);
  snprintf(fx->tmp, sizeof fx->tmp, "%s/t.h5.tmp", fx->dir);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  /* Every HDF5 handle the module opened must be closed again. */
  ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open_ids != 0) {
    fprintf(stderr, "%zd HDF5 objects left open\n", open_ids);
    return -1;
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
  int rc = system(cmd);
  free(fx);
  return rc == 0 ? 0 : -1;
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static void expect_reason(const char *fmt, const char *file, const char *tail) {
  char want[512];
  snprintf(want, sizeof want, fmt, file, tail ? tail : "");
  assert_string_equal(dc_failure_reason(), want);
}

/* Write one dataset of each shape class for type t, commit, read back, compare bytes. */
static void round_trip(const fixture *fx, dc_h5_type t, size_t esize, const void *v4d) {
  dc_h5 *f;
  int64_t d1[1] = {5}, d4[4] = {2, 1, 3, 2}; /* 12 elements */
  assert_int_equal(dc_h5_create(fx->path, &f), DC_OK);
  assert_int_equal(dc_h5_write(f, "/s", t, 0, NULL, v4d), DC_OK);
  assert_int_equal(dc_h5_write(f, "/v", t, 1, d1, v4d), DC_OK);
  assert_int_equal(dc_h5_write(f, "/params/conv1/weight", t, 4, d4, v4d), DC_OK);
  assert_int_equal(dc_h5_commit(f), DC_OK);

  unsigned char got[12 * 8];
  assert_int_equal(dc_h5_open(fx->path, &f), DC_OK);
  memset(got, 0xAB, sizeof got);
  assert_int_equal(dc_h5_read(f, "/s", t, 0, NULL, got), DC_OK);
  assert_memory_equal(got, v4d, esize);
  assert_int_equal(got[esize], 0xAB); /* nothing past the scalar */
  memset(got, 0xAB, sizeof got);
  assert_int_equal(dc_h5_read(f, "v", t, 1, d1, got), DC_OK); /* leading '/' optional */
  assert_memory_equal(got, v4d, 5 * esize);
  assert_int_equal(got[5 * esize], 0xAB);
  memset(got, 0xAB, sizeof got);
  assert_int_equal(dc_h5_read(f, "/params/conv1/weight", t, 4, d4, got), DC_OK);
  assert_memory_equal(got, v4d, 12 * esize);

  int ndim = -1;
  int64_t dims[DC_H5_MAX_DIMS];
  assert_int_equal(dc_h5_shape(f, "/params/conv1/weight", &ndim, dims), DC_OK);
  assert_int_equal(ndim, 4);
  assert_true(dims[0] == 2 && dims[1] == 1 && dims[2] == 3 && dims[3] == 2);
  assert_int_equal(dc_h5_shape(f, "/s", &ndim, dims), DC_OK);
  assert_int_equal(ndim, 0);
  assert_int_equal(dc_h5_shape(f, "/v", &ndim, dims), DC_OK);
  assert_int_equal(ndim, 1);
  assert_true(dims[0] == 5);
  dc_h5_close(f);
}

static void test_round_trip_types(void **state) {
  fixture *fx = *state;
  float f32[12];
  uint8_t u8[12];
  int32_t i32[12];
  int64_t i64[12];
  double f64[12];
  for (int i = 0; i < 12; i++) {
    f32[i] = -1.5f + 0.37f * (float)i;
    u8[i] = (uint8_t)(250 - 7 * i);
    i32[i] = -2000000000 + 123456789 * i;
    i64[i] = (int64_t)-9000000000000000000LL + (int64_t)i * 1000000000000000LL;
    f64[i] = 1e300 / (i + 1);
  }
  round_trip(fx, DC_H5_F32, sizeof f32[0], f32);
  round_trip(fx, DC_H5_U8, sizeof u8[0], u8);
  round_trip(fx, DC_H5_I32, sizeof i32[0], i32);
  round_trip(fx, DC_H5_I64, sizeof i64[0], i64);
  round_trip(fx, DC_H5_F64, sizeof f64[0], f64);
}

static void test_conversion_and_empty(void **state) {
  fixture *fx = *state;
  dc_h5 *f;
  double d[3] = {0.5, -2.25, 3.0};
  int32_t i[3] = {7, -8, 9};
  int64_t n3[1] = {3}, e2[2] = {0, 4};
  assert_int_equal(dc_h5_create(fx->path, &f), DC_OK);
  assert_int_equal(dc_h5_write(f, "/d", DC_H5_F64, 1, n3, d), DC_OK);
  assert_int_equal(dc_h5_write(f, "/i", DC_H5_I32, 1, n3, i), DC_OK);
  assert_int_equal(dc_h5_write(f, "/empty", DC_H5_F32, 2, e2, NULL), DC_OK); /* 0x4 */
  assert_int_equal(dc_h5_commit(f), DC_OK);

  assert_int_equal(dc_h5_open(fx->path, &f), DC_OK);
  float fd[3];
  assert_int_equal(dc_h5_read(f, "/d", DC_H5_F32, 1, n3, fd), DC_OK);
  assert_true(fd[0] == 0.5f && fd[1] == -2.25f && fd[2] == 3.0f);
  double di[3];
  assert_int_equal(dc_h5_read(f, "/i", DC_H5_F64, 1, n3, di), DC_OK);
  assert_true(di[0] == 7 && di[1] == -8 && di[2] == 9);
  assert_int_equal(dc_h5_read(f, "/empty", DC_H5_F32, 2, e2, NULL), DC_OK);
  int ndim;
  int64_t dims[DC_H5_MAX_DIMS];
  assert_int_equal(dc_h5_shape(f, "/empty", &ndim, dims), DC_OK);
  assert_int_equal(ndim, 2);
  assert_true(dims[0] == 0 && dims[1] == 4);
  dc_h5_close(f);
}

static void test_shape_mismatch_and_missing(void **state) {
  fixture *fx = *state;
  dc_h5 *f;
  float w[20 * 25] = {0};
  int64_t have[4] = {20, 1, 5, 5}, want[4] = {20, 1, 3, 3}, flat[1] = {500};
  assert_int_equal(dc_h5_create(fx->path, &f), DC_OK);
  assert_int_equal(dc_h5_write(f, "/params/conv1/weight", DC_H5_F32, 4, have, w), DC_OK);
  assert_int_equal(dc_h5_write(f, "/one", DC_H5_F32, 0, NULL, w), DC_OK);
  assert_int_equal(dc_h5_commit(f), DC_OK);
  assert_int_equal(dc_h5_open(fx->path, &f), DC_OK);

  float out[500];
  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/params/conv1/weight", DC_H5_F32, 4, want, out), DC_ERR_FORMAT);
  expect_reason("%s: /params/conv1/weight has shape 20x1x5x5, expected 20x1x3x3%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/params/conv1/weight", DC_H5_F32, 1, flat, out), DC_ERR_FORMAT);
  expect_reason("%s: /params/conv1/weight has shape 20x1x5x5, expected 500%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/one", DC_H5_F32, 1, flat, out), DC_ERR_FORMAT);
  expect_reason("%s: /one has shape (), expected 500%s", fx->path, NULL);

  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/x", DC_H5_F32, 1, flat, out), DC_ERR_FORMAT);
  expect_reason("%s: no dataset /x%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/params/conv2/weight", DC_H5_F32, 1, flat, out), DC_ERR_FORMAT);
  expect_reason("%s: no dataset /params/conv2/weight%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/params/conv1/weight/x", DC_H5_F32, 1, flat, out), DC_ERR_FORMAT);
  expect_reason("%s: no dataset /params/conv1/weight/x%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/params/conv1", DC_H5_F32, 1, flat, out), DC_ERR_FORMAT);
  expect_reason("%s: /params/conv1 is a group, not a dataset%s", fx->path, NULL);
  int ndim;
  int64_t dims[DC_H5_MAX_DIMS];
  dc_failure_clear();
  assert_int_equal(dc_h5_shape(f, "/nope", &ndim, dims), DC_ERR_FORMAT);
  expect_reason("%s: no dataset /nope%s", fx->path, NULL);
  char *s = (char *)1;
  dc_failure_clear();
  assert_int_equal(dc_h5_read_str(f, "/meta/net", &s), DC_ERR_FORMAT);
  expect_reason("%s: no dataset /meta/net%s", fx->path, NULL);
  assert_null(s);
  dc_h5_close(f);
}

static void test_not_hdf5(void **state) {
  fixture *fx = *state;
  dc_h5 *f = (dc_h5 *)1;
  FILE *fp = fopen(fx->path, "w");
  assert_non_null(fp);
  fputs("[net]\nthis is text, not HDF5\n", fp);
  fclose(fp);
  dc_failure_clear();
  assert_int_equal(dc_h5_open(fx->path, &f), DC_ERR_FORMAT);
  assert_null(f);
  expect_reason("%s: not an HDF5 file%s", fx->path, NULL);

  fp = fopen(fx->path, "w"); /* empty */
  fclose(fp);
  dc_failure_clear();
  assert_int_equal(dc_h5_open(fx->path, &f), DC_ERR_FORMAT);
  expect_reason("%s: not an HDF5 file%s", fx->path, NULL);

  dc_failure_clear();
  assert_int_equal(dc_h5_open("/nonexistent/ckpt.h5", &f), DC_ERR_IO);
  assert_string_equal(dc_failure_reason(), "/nonexistent/ckpt.h5: cannot open: No such file or directory");
  assert_int_equal(dc_h5_open(fx->dir, &f), DC_ERR_FORMAT); /* a directory */
}

/* Read the scalar i32 at /v of PATH. */
static int32_t version_of(const char *path) {
  dc_h5 *f;
  int32_t v = -1;
  assert_int_equal(dc_h5_open(path, &f), DC_OK);
  assert_int_equal(dc_h5_read(f, "/v", DC_H5_I32, 0, NULL, &v), DC_OK);
  dc_h5_close(f);
  return v;
}

static dc_h5 *create_version(const fixture *fx, int32_t v) {
  dc_h5 *f;
  assert_int_equal(dc_h5_create(fx->path, &f), DC_OK);
  assert_int_equal(dc_h5_write(f, "/v", DC_H5_I32, 0, NULL, &v), DC_OK);
  return f;
}

static void test_atomic_commit(void **state) {
  fixture *fx = *state;
  /* PATH absent until commit; the temp file exists meanwhile. */
  dc_h5 *f = create_version(fx, 1);
  assert_string_equal(dc_h5_path(f), fx->path);
  assert_false(file_exists(fx->path));
  assert_true(file_exists(fx->tmp));
  assert_int_equal(dc_h5_commit(f), DC_OK);
  assert_true(file_exists(fx->path));
  assert_false(file_exists(fx->tmp));
  assert_int_equal(version_of(fx->path), 1);

  /* abort removes the temp and leaves PATH as it was. */
  f = create_version(fx, 2);
  assert_int_equal(version_of(fx->path), 1); /* readable while the new one is written */
  dc_h5_abort(f);
  assert_false(file_exists(fx->tmp));
  assert_int_equal(version_of(fx->path), 1);

  /* close on a file being written is an abort too. */
  f = create_version(fx, 3);
  dc_h5_close(f);
  assert_false(file_exists(fx->tmp));
  assert_int_equal(version_of(fx->path), 1);

  /* commit replaces PATH. */
  f = create_version(fx, 4);
  assert_int_equal(version_of(fx->path), 1);
  assert_int_equal(dc_h5_commit(f), DC_OK);
  assert_int_equal(version_of(fx->path), 4);
  assert_false(file_exists(fx->tmp));

  /* A stale temp from a killed run is simply overwritten. */
  FILE *fp = fopen(fx->tmp, "w");
  fputs("garbage", fp);
  fclose(fp);
  f = create_version(fx, 5);
  assert_int_equal(dc_h5_commit(f), DC_OK);
  assert_int_equal(version_of(fx->path), 5);

  dc_h5_abort(NULL);
  dc_h5_close(NULL);
}

static void test_commit_and_create_failures(void **state) {
  fixture *fx = *state;
  dc_h5 *f = (dc_h5 *)1;
  char bad[192];
  snprintf(bad, sizeof bad, "%s/no/such/dir/x.h5", fx->dir);
  dc_failure_clear();
  assert_int_equal(dc_h5_create(bad, &f), DC_ERR_IO);
  assert_null(f);
  expect_reason("%s.tmp: cannot create: No such file or directory%s", bad, NULL);

  /* The rename fails when PATH is a non-empty directory: error, temp removed. */
  char sub[192];
  assert_int_equal(mkdir(fx->path, 0777), 0);
  snprintf(sub, sizeof sub, "%s/keep", fx->path);
  assert_int_equal(mkdir(sub, 0777), 0);
  f = create_version(fx, 1);
  dc_failure_clear();
  assert_int_equal(dc_h5_commit(f), DC_ERR_IO);
  char want[400];
  snprintf(want, sizeof want, "%s: cannot rename %s into place: ", fx->path, fx->tmp);
  assert_memory_equal(dc_failure_reason(), want, strlen(want));
  assert_false(file_exists(fx->tmp));
  assert_true(file_exists(sub));
  rmdir(sub);
  rmdir(fx->path);

  /* commit of a read-only file */
  f = create_version(fx, 1);
  assert_int_equal(dc_h5_commit(f), DC_OK);
  assert_int_equal(dc_h5_open(fx->path, &f), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_h5_commit(f), DC_ERR_ARG);
  expect_reason("%s: opened read-only, nothing to commit%s", fx->path, NULL);
  assert_true(file_exists(fx->path)); /* and abort of a read-only file removes nothing */
  assert_int_equal(dc_h5_open(fx->path, &f), DC_OK);
  dc_h5_abort(f);
  assert_true(file_exists(fx->path));
}

/* A write HDF5 cannot finish (a file-size limit: EFBIG; a full filesystem: ENOSPC) is one
 * line naming the file, the reason and the dataset, never HDF5's error record (time,
 * descriptor, buffer address); PATH keeps its previous version and PATH.tmp is gone. */
static void big_write_fails(const char *path, const char *want) {
  static float big[64 * 1024]; /* 256 KiB: past HDF5's 64 KiB sieve buffer, written at once */
  int64_t d[1] = {64 * 1024};
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  dc_h5 *f;
  assert_int_equal(dc_h5_create(path, &f), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/params/ip1/weight", DC_H5_F32, 1, d, big), DC_ERR_IO);
  assert_string_equal(dc_failure_reason(), want);
  dc_h5_abort(f);
  assert_false(file_exists(tmp));
}

static void test_write_past_file_size_limit(void **state) {
  fixture *fx = *state;
  char want[600];
  tu_fsize_limit(32 * 1024);
  snprintf(want, sizeof want, "%s: file too large while writing /params/ip1/weight (no t.h5 was written)", fx->path);
  big_write_fails(fx->path, want);
  dc_h5_commit(create_version(fx, 1));
  snprintf(want, sizeof want, "%s: file too large while writing /params/ip1/weight (the previous t.h5 is intact)",
           fx->path);
  big_write_fails(fx->path, want);
  tu_fsize_limit(0);
  assert_int_equal(version_of(fx->path), 1);
}

static void test_write_to_full_disk(void **state) {
  (void)state;
  char why[200], path[300], want[600];
  char *dir = tu_small_fs(128 * 1024, why, sizeof why);
  if (!dir) {
    fprintf(stderr, "skipped: %s\n", why);
    skip();
  }
  snprintf(path, sizeof path, "%s/t.h5", dir);
  fixture fx;
  assert_true(strlen(path) < sizeof fx.path);
  memcpy(fx.path, path, strlen(path) + 1);
  dc_h5_commit(create_version(&fx, 3));
  snprintf(want, sizeof want,
           "%s: no space left on device while writing /params/ip1/weight (the previous t.h5 is intact)", path);
  big_write_fails(path, want);
  assert_int_equal(version_of(path), 3);
  tu_small_fs_release(dir);
}

static void test_write_errors(void **state) {
  fixture *fx = *state;
  dc_h5 *f;
  float x[4] = {1, 2, 3, 4};
  int64_t d1[1] = {4}, neg[2] = {2, -2}, d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 4};
  assert_int_equal(dc_h5_create(fx->path, &f), DC_OK);
  assert_int_equal(dc_h5_write(f, "/a/b", DC_H5_F32, 1, d1, x), DC_OK);

  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/a/b", DC_H5_F32, 1, d1, x), DC_ERR_ARG);
  expect_reason("%s: /a/b already exists%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/a", DC_H5_F32, 1, d1, x), DC_ERR_ARG);
  expect_reason("%s: /a already exists%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/a/b/c/d", DC_H5_F32, 1, d1, x), DC_ERR_ARG);
  expect_reason("%s: cannot write /a/b/c/d: /a/b is a dataset, not a group%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_write_str(f, "/a/b/s", "x"), DC_ERR_ARG);
  expect_reason("%s: cannot write /a/b/s: /a/b is a dataset, not a group%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/p//q", DC_H5_F32, 1, d1, x), DC_ERR_ARG);
  expect_reason("%s: bad path '/p//q' (empty component)%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/p/", DC_H5_F32, 1, d1, x), DC_ERR_ARG);
  expect_reason("%s: bad path '/p/' (empty component)%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/", DC_H5_F32, 1, d1, x), DC_ERR_ARG);
  expect_reason("%s: '/' names the root group, not a dataset%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/n", DC_H5_F32, 2, neg, x), DC_ERR_ARG);
  expect_reason("%s: /n: negative dimension -2%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/n", DC_H5_F32, 9, d9, x), DC_ERR_ARG);
  expect_reason("%s: /n: rank 9 outside [0, 8]%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/n", (dc_h5_type)77, 1, d1, x), DC_ERR_ARG);
  expect_reason("%s: /n: bad element type 77%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/n", DC_H5_F32, 1, d1, NULL), DC_ERR_ARG);
  expect_reason("%s: /n: no data given%s", fx->path, NULL);
  assert_false(dc_h5_exists(f, "/n"));
  assert_int_equal(dc_h5_commit(f), DC_OK);

  /* Nothing can be written to a file opened for reading. */
  assert_int_equal(dc_h5_open(fx->path, &f), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_h5_write(f, "/z", DC_H5_F32, 1, d1, x), DC_ERR_ARG);
  expect_reason("%s: opened read-only, cannot write%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_write_str(f, "/z", "x"), DC_ERR_ARG);
  expect_reason("%s: opened read-only, cannot write%s", fx->path, NULL);
  float y[4];
  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/a/b", DC_H5_F32, 9, d9, y), DC_ERR_ARG);
  expect_reason("%s: /a/b: rank 9 outside [0, 8]%s", fx->path, NULL);
  dc_h5_close(f);
}

static void test_exists_and_list(void **state) {
  fixture *fx = *state;
  dc_h5 *f;
  float x[2] = {1, 2};
  int64_t d1[1] = {2};
  assert_int_equal(dc_h5_create(fx->path, &f), DC_OK);
  assert_int_equal(dc_h5_write(f, "/params/ip1/weight", DC_H5_F32, 1, d1, x), DC_OK);
  assert_int_equal(dc_h5_write(f, "/params/ip1/bias", DC_H5_F32, 1, d1, x), DC_OK);
  assert_int_equal(dc_h5_write(f, "/params/conv1/weight", DC_H5_F32, 1, d1, x), DC_OK);
  assert_int_equal(dc_h5_write(f, "/params/conv2/weight", DC_H5_F32, 1, d1, x), DC_OK);
  assert_int_equal(dc_h5_write_str(f, "/version", "1"), DC_OK);
  /* exists works on the file being written, too */
  assert_true(dc_h5_exists(f, "/params/ip1"));
  assert_int_equal(dc_h5_commit(f), DC_OK);

  assert_int_equal(dc_h5_open(fx->path, &f), DC_OK);
  assert_true(dc_h5_exists(f, "/"));
  assert_true(dc_h5_exists(f, ""));
  assert_true(dc_h5_exists(f, "/params"));
  assert_true(dc_h5_exists(f, "params/ip1/bias"));
  assert_true(dc_h5_exists(f, "/version"));
  assert_false(dc_h5_exists(f, "/params/ip2"));
  assert_false(dc_h5_exists(f, "/params/ip2/weight"));
  assert_false(dc_h5_exists(f, "/version/x")); /* below a dataset */
  assert_false(dc_h5_exists(f, "/params//ip1"));
  assert_false(dc_h5_exists(f, "/params/"));
  assert_false(dc_h5_exists(f, NULL));

  char **names = (char **)1;
  int n = -1;
  assert_int_equal(dc_h5_list(f, "/", &names, &n), DC_OK);
  assert_int_equal(n, 2);
  assert_string_equal(names[0], "params");
  assert_string_equal(names[1], "version");
  dc_h5_free_names(names, n);
  assert_int_equal(dc_h5_list(f, "/params", &names, &n), DC_OK);
  assert_int_equal(n, 3);
  assert_string_equal(names[0], "conv1"); /* sorted by name, not creation order */
  assert_string_equal(names[1], "conv2");
  assert_string_equal(names[2], "ip1");
  dc_h5_free_names(names, n);
  assert_int_equal(dc_h5_list(f, "params/ip1", &names, &n), DC_OK);
  assert_int_equal(n, 2);
  assert_string_equal(names[0], "bias");
  assert_string_equal(names[1], "weight");
  dc_h5_free_names(names, n);

  dc_failure_clear();
  assert_int_equal(dc_h5_list(f, "/solver", &names, &n), DC_ERR_FORMAT);
  expect_reason("%s: no group /solver%s", fx->path, NULL);
  assert_null(names);
  assert_int_equal(n, 0);
  dc_failure_clear();
  assert_int_equal(dc_h5_list(f, "/version", &names, &n), DC_ERR_FORMAT);
  expect_reason("%s: /version is a dataset, not a group%s", fx->path, NULL);
  dc_h5_free_names(NULL, 0);
  dc_h5_close(f);

  /* An empty file lists nothing. */
  assert_int_equal(dc_h5_create(fx->path, &f), DC_OK);
  assert_int_equal(dc_h5_list(f, "/", &names, &n), DC_OK);
  assert_int_equal(n, 0);
  assert_null(names);
  dc_h5_abort(f);
}

static void test_strings(void **state) {
  fixture *fx = *state;
  dc_h5 *f;
  size_t big_n = 100000;
  char *big = malloc(big_n + 1);
  assert_non_null(big);
  for (size_t i = 0; i < big_n; i++) big[i] = (char)('a' + i % 26);
  big[big_n] = '\0';
  const char *net = "[net]\nbatch = 64\n\n[conv]\nnum_output = 20 # ü\n";
  float x = 1;
  assert_int_equal(dc_h5_create(fx->path, &f), DC_OK);
  assert_int_equal(dc_h5_write_str(f, "/meta/net", net), DC_OK);
  assert_int_equal(dc_h5_write_str(f, "/meta/empty", ""), DC_OK);
  assert_int_equal(dc_h5_write_str(f, "/meta/big", big), DC_OK);
  assert_int_equal(dc_h5_write(f, "/num", DC_H5_F32, 0, NULL, &x), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_h5_write_str(f, "/meta/net", "again"), DC_ERR_ARG);
  expect_reason("%s: /meta/net already exists%s", fx->path, NULL);
  assert_int_equal(dc_h5_commit(f), DC_OK);

  assert_int_equal(dc_h5_open(fx->path, &f), DC_OK);
  char *s = NULL;
  assert_int_equal(dc_h5_read_str(f, "/meta/net", &s), DC_OK);
  assert_string_equal(s, net);
  free(s);
  assert_int_equal(dc_h5_read_str(f, "meta/empty", &s), DC_OK);
  assert_string_equal(s, "");
  free(s);
  assert_int_equal(dc_h5_read_str(f, "/meta/big", &s), DC_OK);
  assert_string_equal(s, big);
  free(s);
  free(big);

  /* Strings and numbers do not mix. */
  dc_failure_clear();
  assert_int_equal(dc_h5_read_str(f, "/num", &s), DC_ERR_FORMAT);
  expect_reason("%s: /num is not a string%s", fx->path, NULL);
  float y;
  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/meta/net", DC_H5_F32, 0, NULL, &y), DC_ERR_FORMAT);
  assert_non_null(strstr(dc_failure_reason(), "/meta/net does not hold numbers"));
  dc_failure_clear();
  assert_int_equal(dc_h5_read_str(f, "/meta", &s), DC_ERR_FORMAT);
  expect_reason("%s: /meta is a group, not a dataset%s", fx->path, NULL);
  dc_h5_close(f);
}

/* Files written by other tools (h5py writes variable-length strings) and ranks we do
 * not support, built with the raw HDF5 API. */
static void test_foreign_file(void **state) {
  fixture *fx = *state;
  hid_t file = H5Fcreate(fx->path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(file >= 0);
  hid_t vt = H5Tcopy(H5T_C_S1);
  H5Tset_size(vt, H5T_VARIABLE);
  hid_t scalar = H5Screate(H5S_SCALAR);
  hid_t ds = H5Dcreate2(file, "/vstr", vt, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const char *text = "written by h5py";
  assert_true(H5Dwrite(ds, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) >= 0);
  H5Dclose(ds);
  hsize_t d2[1] = {2};
  hid_t sp2 = H5Screate_simple(1, d2, NULL);
  const char *pair[2] = {"a", "b"};
  ds = H5Dcreate2(file, "/vstrs", vt, sp2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(H5Dwrite(ds, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, pair) >= 0);
  H5Dclose(ds);
  H5Sclose(sp2);
  hsize_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 2};
  hid_t sp9 = H5Screate_simple(9, d9, NULL);
  ds = H5Dcreate2(file, "/rank9", H5T_NATIVE_FLOAT, sp9, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(ds);
  H5Sclose(sp9);
  hid_t nullsp = H5Screate(H5S_NULL);
  ds = H5Dcreate2(file, "/null", H5T_NATIVE_FLOAT, nullsp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(ds);
  H5Sclose(nullsp);
  H5Sclose(scalar);
  H5Tclose(vt);
  H5Fclose(file);

  dc_h5 *f;
  assert_int_equal(dc_h5_open(fx->path, &f), DC_OK);
  char *s = NULL;
  assert_int_equal(dc_h5_read_str(f, "/vstr", &s), DC_OK);
  assert_string_equal(s, "written by h5py");
  free(s);
  dc_failure_clear();
  assert_int_equal(dc_h5_read_str(f, "/vstrs", &s), DC_ERR_FORMAT);
  expect_reason("%s: /vstrs is not a single string (rank 1)%s", fx->path, NULL);
  int ndim;
  int64_t dims[DC_H5_MAX_DIMS];
  dc_failure_clear();
  assert_int_equal(dc_h5_shape(f, "/rank9", &ndim, dims), DC_ERR_FORMAT);
  expect_reason("%s: /rank9 has rank 9, more than 8%s", fx->path, NULL);
  float y[2];
  int64_t two[1] = {2};
  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/rank9", DC_H5_F32, 1, two, y), DC_ERR_FORMAT);
  expect_reason("%s: /rank9 has shape 1x1x1x1x1x1x1x1x2, expected 2%s", fx->path, NULL);
  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/null", DC_H5_F32, 1, two, y), DC_ERR_FORMAT);
  expect_reason("%s: /null has no data (null dataspace)%s", fx->path, NULL);
  dc_h5_close(f);
}

/* Datasets as other tools write them (h5py with compression=, or compact ones, or
 * created without data) read like ours: the storage check before H5Dread refuses only
 * storage that does not match the dataspace. */
static void test_other_layouts(void **state) {
  fixture *fx = *state;
  float v[12];
  for (int i = 0; i < 12; i++) v[i] = (float)i - 2.5f;
  hsize_t d2[2] = {3, 4}, chunk[2] = {2, 3};
  hid_t file = H5Fcreate(fx->path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(file >= 0);
  hid_t space = H5Screate_simple(2, d2, NULL);
  hid_t gz = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(gz, 2, chunk);
  H5Pset_shuffle(gz);
  H5Pset_deflate(gz, 4);
  hid_t compact = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_layout(compact, H5D_COMPACT);
  const struct {
    const char *name;
    hid_t dcpl;
    int write;
  } sets[] = {{"/gzip", gz, 1}, {"/compact", compact, 1}, {"/contig", H5P_DEFAULT, 1}, {"/unwritten", H5P_DEFAULT, 0}};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    hid_t ds = H5Dcreate2(file, sets[i].name, H5T_IEEE_F32LE, space, H5P_DEFAULT, sets[i].dcpl, H5P_DEFAULT);
    assert_true(ds >= 0);
    if (sets[i].write) assert_true(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(ds);
  }
  /* a variable-length string in compact storage: 16 bytes in the file, not sizeof(char *) */
  hid_t vt = H5Tcopy(H5T_C_S1);
  H5Tset_size(vt, H5T_VARIABLE);
  hid_t scalar = H5Screate(H5S_SCALAR);
  hid_t ds = H5Dcreate2(file, "/vstr", vt, scalar, H5P_DEFAULT, compact, H5P_DEFAULT);
  const char *text = "compact";
  assert_true(H5Dwrite(ds, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) >= 0);
  H5Dclose(ds);
  H5Sclose(scalar);
  H5Tclose(vt);
  H5Pclose(gz);
  H5Pclose(compact);
  H5Sclose(space);
  H5Fclose(file);

  dc_h5 *f;
  assert_int_equal(dc_h5_open(fx->path, &f), DC_OK);
  int64_t dims[2] = {3, 4};
  float got[12];
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    memset(got, 0xAB, sizeof got);
    assert_int_equal(dc_h5_read(f, sets[i].name, DC_H5_F32, 2, dims, got), DC_OK);
    if (sets[i].write)
      assert_memory_equal(got, v, sizeof v);
    else
      for (int j = 0; j < 12; j++) assert_true(got[j] == 0.0f); /* the fill value */
  }
  char *s = NULL;
  assert_int_equal(dc_h5_read_str(f, "/vstr", &s), DC_OK);
  assert_string_equal(s, "compact");
  free(s);
  dc_h5_close(f);
}

/* The bytes of path into *buf (malloc'd); returns the size. */
static size_t slurp(const char *path, unsigned char **buf) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  assert_true(n > 0);
  rewind(fp);
  *buf = malloc((size_t)n);
  assert_non_null(*buf);
  assert_int_equal(fread(*buf, 1, (size_t)n, fp), (size_t)n);
  fclose(fp);
  return (size_t)n;
}

static void spill(const char *path, const unsigned char *buf, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(buf, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

/* Position of the only occurrence of pat[m] in buf[n]. */
static size_t find_once(const unsigned char *buf, size_t n, const unsigned char *pat, size_t m) {
  size_t at = n;
  for (size_t i = 0; i + m <= n; i++)
    if (memcmp(buf + i, pat, m) == 0) {
      assert_int_equal(at, n);
      at = i;
    }
  assert_true(at < n);
  return at;
}

static void put_le(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A layout message that does not match the dataspace (the fuzz_h5 finding: libhdf5 1.10
 * memcpy'd a compact dataset's 48 bytes from a NULL buffer), refused with one line
 * before H5Dread. The files are ours with their layout message's size or address
 * changed, and the fuzz input itself (tests/fuzz/regress/fuzz_h5/compact-size-0). */
static void test_corrupt_storage(void **state) {
  fixture *fx = *state;
  float v[12];
  for (int i = 0; i < 12; i++) v[i] = (float)i;
  hsize_t d2[2] = {3, 4};
  int64_t dims[2] = {3, 4};
  float got[12];
  /* layout message version 3: class 0 (compact) and a 2-byte size, or class 1
   * (contiguous), an 8-byte address and an 8-byte size */
  for (int kind = 0; kind < 4; kind++) {
    hid_t file = H5Fcreate(fx->path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = H5Screate_simple(2, d2, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (kind < 2) H5Pset_layout(dcpl, H5D_COMPACT);
    hid_t ds = H5Dcreate2(file, "/w", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    haddr_t at = H5Dget_offset(ds);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
    unsigned char *b;
    size_t n = slurp(fx->path, &b);
    unsigned char msg[18] = {3, kind < 2 ? 0 : 1};
    if (kind < 2)
      put_le(msg + 2, 48, 2);
    else
      put_le(msg + 2, at, 8), put_le(msg + 10, 48, 8);
    size_t m = find_once(b, n, msg, kind < 2 ? 4 : 18);
    const char *want;
    if (kind == 0)
      put_le(b + m + 2, 0, 2), want = "it stores 0 bytes, its shape and type need 48";
    else if (kind == 1)
      put_le(b + m + 2, 8, 2), want = "it stores 8 bytes, its shape and type need 48";
    else if (kind == 2)
      put_le(b + m + 2, n - 20, 8), want = "";
    else
      put_le(b + m + 2, (uint64_t)1 << 40, 8), want = "";
    spill(fx->path, b, n);
    char tail[160];
    if (kind >= 2)
      snprintf(tail, sizeof tail, "its 48 bytes at offset %llu lie past the end of the file (%zu bytes)",
               kind == 2 ? (unsigned long long)(n - 20) : 1ULL << 40, n);
    free(b);
    dc_h5 *f;
    assert_int_equal(dc_h5_open(fx->path, &f), DC_OK);
    dc_failure_clear();
    assert_int_equal(dc_h5_read(f, "/w", DC_H5_F32, 2, dims, got), DC_ERR_FORMAT);
    expect_reason("%s: /w is corrupt: %s", fx->path, kind < 2 ? want : tail);
    dc_h5_close(f);
  }

  const char *src = getenv("DC_SOURCE_DIR");
  if (!src) return; /* run outside ctest */
  char path[256];   /* expect_reason formats into 512 bytes */
  snprintf(path, sizeof path, "%s/tests/fuzz/regress/fuzz_h5/compact-size-0", src);
  dc_h5 *f;
  assert_int_equal(dc_h5_open(path, &f), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_h5_read(f, "/params/ip2/weight", DC_H5_F32, 2, dims, got), DC_ERR_FORMAT);
  expect_reason("%s: /params/ip2/weight is corrupt: it stores 0 bytes, its shape and type need 48%s", path, NULL);
  dc_h5_close(f);

  /* fuzz finding: a scalar string whose layout message says chunked (chunk rank 1):
   * libhdf5 1.10.8's H5Dread allocated without end (2 GB in a second); refused first */
  snprintf(path, sizeof path, "%s/tests/fuzz/regress/fuzz_h5/chunked-scalar-string", src);
  assert_int_equal(dc_h5_open(path, &f), DC_OK);
  char *s = NULL;
  dc_failure_clear();
  assert_int_equal(dc_h5_read_str(f, "/meta/format", &s), DC_ERR_FORMAT);
  assert_null(s);
  expect_reason("%s: /meta/format is corrupt: chunks of rank 1 for a dataset of rank 0%s", path, NULL);
  dc_h5_close(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip_types, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conversion_and_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shape_mismatch_and_missing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_hdf5, setup, teardown),
      cmocka_unit_test_setup_teardown(test_atomic_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_commit_and_create_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_past_file_size_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_to_full_disk, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exists_and_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
      cmocka_unit_test_setup_teardown(test_foreign_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_layouts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_storage, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
