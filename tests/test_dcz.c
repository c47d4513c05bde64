/* test_dcz.c — the .dcz file: write → read round trips (codebooks, masks, indices,
 * decoded weights, biases, shapes exact; stats from writer and reader agree and add up
 * to the file size), fully pruned / fully dense layers, long gaps, every bits and
 * gap_bits, atomic writes, writer argument errors, and corruption: bad magic, wrong
 * version, every truncation length, every flipped byte, trailing bytes, and absurd
 * sizes planted with valid CRCs (rejected before anything is allocated from them), and
 * layers declaring more weights than the file's size allows (issue 11); stats-only reads.
 * Files live in a mkdtemp directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "compress/dcz.h"
#include "dc/compress.h"
#include "dc/rng.h"

static char g_dir[256];

static const char *tmp_path(const char *name) {
  static char p[4][512];
  static int i;
  i = (i + 1) & 3;
  snprintf(p[i], sizeof p[i], "%s/%s", g_dir, name);
  return p[i];
}

/* ---- fixtures ------------------------------------------------------------------------ */

typedef struct {
  dc_dcz_layer l;
  size_t count;
} owned_layer;

/* A random layer: skewed indices, `density` kept (1 = mask NULL), nbias biases. */
static owned_layer make_layer(const char *name, int ndim, const int *dims, int bits, int gap_bits, double density,
                              int nbias, uint64_t seed) {
  owned_layer o;
  memset(&o, 0, sizeof o);
  snprintf(o.l.name, sizeof o.l.name, "%s", name);
  o.l.ndim = ndim;
  o.count = 1;
  for (int d = 0; d < ndim; d++) {
    o.l.dims[d] = dims[d];
    o.count *= (size_t)dims[d];
  }
  o.l.bits = bits;
  o.l.gap_bits = gap_bits;
  dc_rng r;
  dc_rng_seed(&r, seed, 0);
  int k = 1 << bits;
  o.l.codebook = malloc((size_t)k * sizeof(float));
  for (int j = 0; j < k; j++) o.l.codebook[j] = (float)j * 0.01f - 0.5f + dc_rng_normal(&r) * 1e-3f;
  o.l.index = malloc(o.count + 1);
  for (size_t i = 0; i < o.count; i++) {
    uint32_t s = 0;
    while ((int)s + 1 < k && dc_rng_uniform(&r) < 0.8f) s++;
    o.l.index[i] = (uint8_t)s;
  }
  if (density < 1.0) {
    o.l.mask = malloc(o.count + 1);
    for (size_t i = 0; i < o.count; i++) o.l.mask[i] = dc_rng_uniform(&r) < density;
  }
  o.l.nbias = nbias;
  o.l.bias = nbias ? malloc((size_t)nbias * sizeof(float)) : NULL;
  for (int j = 0; j < nbias; j++) o.l.bias[j] = dc_rng_normal(&r);
  return o;
}

static void free_layer(owned_layer *o) {
  free(o->l.codebook);
  free(o->l.index);
  free(o->l.mask);
  free(o->l.bias);
}

static void assert_same_layer(const dc_dcz_layer *a, const dc_dcz_layer *b) {
  assert_string_equal(a->name, b->name);
  assert_int_equal(a->ndim, b->ndim);
  size_t count = 1;
  for (int d = 0; d < a->ndim; d++) {
    assert_int_equal(a->dims[d], b->dims[d]);
    count *= (size_t)a->dims[d];
  }
  assert_int_equal(a->bits, b->bits);
  if (a->gap_bits != DC_DCZ_GAP_AUTO) assert_int_equal(a->gap_bits, b->gap_bits);
  assert_true(b->gap_bits >= 1 && b->gap_bits <= 16);
  assert_non_null(b->mask); /* a read layer always has a mask */
  /* centroids in use come back bit for bit, the others (not stored) as 0 */
  for (int j = 0; j < (1 << a->bits); j++) {
    int in_use = 0;
    for (size_t i = 0; i < count && !in_use; i++) in_use = (!a->mask || a->mask[i]) && a->index[i] == j;
    float want = in_use ? a->codebook[j] : 0.0f;
    if (memcmp(&want, &b->codebook[j], sizeof want) != 0)
      fail_msg("%s: codebook[%d] = %a, read %a", a->name, j, (double)want, (double)b->codebook[j]);
  }
  for (size_t i = 0; i < count; i++) {
    int ma = a->mask ? a->mask[i] : 1;
    if (ma != b->mask[i]) fail_msg("%s: mask[%zu] = %d, read %d", a->name, i, ma, b->mask[i]);
    if (ma) assert_int_equal(a->index[i], b->index[i]);
    float wa = ma ? a->codebook[a->index[i]] : 0.0f;
    float wb = b->mask[i] ? b->codebook[b->index[i]] : 0.0f;
    assert_true(memcmp(&wa, &wb, sizeof wa) == 0); /* decoded weights bit-exact */
  }
  assert_int_equal(a->nbias, b->nbias);
  assert_int_equal(b->bias_bits, a->bias_bits ? a->bias_bits : 32);
  if (a->nbias) { /* biases as dc_dcz_bias_round documents, bit for bit */
    float *want = malloc((size_t)a->nbias * sizeof *want);
    assert_int_equal(dc_dcz_bias_round(a->bias, a->nbias, a->bias_bits, want), DC_OK);
    assert_memory_equal(want, b->bias, (size_t)a->nbias * sizeof(float));
    free(want);
  }
}

static long file_size(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) return -1;
  return (long)sb.st_size;
}

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*n + 1);
  assert_int_equal(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

static void spit(const char *path, const uint8_t *b, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (n) assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* Write layers, read back, compare everything including stats. */
static void round_trip(const char *name, owned_layer *ls, int n) {
  dc_dcz_layer in[16];
  for (int i = 0; i < n; i++) in[i] = ls[i].l;
  const char *path = tmp_path(name);
  dc_dcz_stats ws, rs;
  dc_failure_clear();
  if (dc_dcz_write_stats(path, in, n, &ws) != DC_OK) fail_msg("write: %s", dc_failure_reason());
  dc_dcz_layer *out = NULL;
  int nout = -1;
  if (dc_dcz_read_stats(path, &out, &nout, &rs) != DC_OK) fail_msg("read: %s", dc_failure_reason());
  assert_int_equal(nout, n);
  for (int i = 0; i < n; i++) assert_same_layer(&in[i], &out[i]);
  /* stats: writer == reader, parts add up, file size matches */
  assert_int_equal(ws.nlayers, n);
  assert_int_equal(rs.nlayers, n);
  assert_true(ws.file_bytes == (uint64_t)file_size(path));
  assert_true(rs.file_bytes == ws.file_bytes);
  assert_true(rs.dense_bytes == ws.dense_bytes);
  uint64_t sum = 20;
  for (int i = 0; i < n; i++) {
    const dc_dcz_layer_stats *a = &ws.layer[i], *b = &rs.layer[i];
    assert_memory_equal(a, b, sizeof *a);
    assert_true(a->header_bytes + a->codebook_bytes + a->table_bytes + a->index_bytes + a->gap_bytes + a->bias_bytes ==
                a->total_bytes);
    size_t kept = 0;
    for (size_t j = 0; j < ls[i].count; j++) kept += !in[i].mask || in[i].mask[j];
    assert_true(a->nnz == kept);
    assert_true(a->count == ls[i].count);
    assert_true(a->index_bits_raw == (a->nnz + a->fillers) * (uint64_t)a->bits);
    assert_true(a->gap_bits_raw == (a->nnz + a->fillers) * (uint64_t)a->gap_bits);
    assert_true(a->dense_bytes == 4 * (a->count + a->nbias));
    if (a->nnz) assert_true(fabs(a->weight_bpw * (double)a->nnz - (double)a->index_bits) < 1e-6);
    sum += a->total_bytes;
  }
  assert_true(sum == ws.file_bytes);
  dc_dcz_stats_free(&ws);
  dc_dcz_stats_free(&rs);
  assert_null(rs.layer);
  dc_dcz_free(out, nout);
}

/* ---- round trips ------------------------------------------------------------------- */

static void test_round_trip_lenet_like(void **state) {
  (void)state;
  owned_layer ls[4];
  ls[0] = make_layer("conv1", 4, (int[]){20, 1, 5, 5}, 8, 8, 0.66, 20, 1);
  ls[1] = make_layer("conv2", 4, (int[]){50, 20, 5, 5}, 8, 8, 0.12, 50, 2);
  ls[2] = make_layer("ip1", 2, (int[]){500, 800}, 5, 5, 0.08, 500, 3);
  ls[3] = make_layer("ip2", 2, (int[]){10, 500}, 5, 5, 1.0, 10, 4);
  round_trip("lenet.dcz", ls, 4);
  /* the compressed file is much smaller than fp32 */
  dc_dcz_stats st;
  dc_dcz_layer in[4] = {ls[0].l, ls[1].l, ls[2].l, ls[3].l};
  assert_int_equal(dc_dcz_write_stats(tmp_path("lenet2.dcz"), in, 4, &st), DC_OK);
  assert_true(st.ratio > 10.0);
  assert_true(st.layer[2].weight_bpw < st.layer[2].weight_bpw_raw); /* Huffman helps skew */
  assert_true(st.layer[3].fillers == 0);
  dc_dcz_stats_free(&st);
  for (int i = 0; i < 4; i++) free_layer(&ls[i]);
}

static void test_round_trip_all_bits(void **state) {
  (void)state;
  int seed = 10;
  for (int bits = 1; bits <= 8; bits++)
    for (int gb = 1; gb <= 16; gb++) {
      owned_layer l = make_layer("x", 2, (int[]){37, 29}, bits, gb, (gb % 3) ? 0.2 : 0.9, gb % 4, (uint64_t)seed++);
      round_trip("bits.dcz", &l, 1);
      free_layer(&l);
    }
}

static void test_empty_and_dense_layers(void **state) {
  (void)state;
  owned_layer ls[3];
  ls[0] = make_layer("none_kept", 2, (int[]){30, 40}, 4, 5, 0.5, 3, 20);
  memset(ls[0].l.mask, 0, ls[0].count);                            /* every weight pruned */
  ls[1] = make_layer("dense", 1, (int[]){1000}, 3, 4, 1.0, 0, 21); /* mask NULL */
  ls[2] = make_layer("single", 1, (int[]){1}, 1, 1, 1.0, 1, 22);
  round_trip("edge.dcz", ls, 3);
  /* a fully pruned layer stores no entries; the index array may even be NULL */
  free(ls[0].l.index);
  ls[0].l.index = NULL;
  round_trip("edge2.dcz", ls, 1);
  dc_dcz_stats st;
  assert_int_equal(dc_dcz_write_stats(tmp_path("edge3.dcz"), &ls[0].l, 1, &st), DC_OK);
  assert_true(st.layer[0].nnz == 0 && st.layer[0].fillers == 0);
  assert_true(st.layer[0].index_bytes == 0 && st.layer[0].gap_bytes == 0);
  assert_true(st.layer[0].weight_bpw == 0.0);
  dc_dcz_stats_free(&st);
  /* mask NULL and an all-ones mask give the same bytes */
  const char *p1 = tmp_path("d1.dcz"), *p2 = tmp_path("d2.dcz");
  assert_int_equal(dc_dcz_write(p1, &ls[1].l, 1), DC_OK);
  ls[1].l.mask = malloc(ls[1].count);
  memset(ls[1].l.mask, 1, ls[1].count);
  assert_int_equal(dc_dcz_write(p2, &ls[1].l, 1), DC_OK);
  size_t n1, n2;
  uint8_t *b1 = slurp(p1, &n1), *b2 = slurp(p2, &n2);
  assert_int_equal(n1, n2);
  assert_memory_equal(b1, b2, n1);
  free(b1);
  free(b2);
  /* zero layers */
  dc_dcz_layer *out = (dc_dcz_layer *)1;
  int n = -1;
  assert_int_equal(dc_dcz_write(tmp_path("zero.dcz"), NULL, 0), DC_OK);
  assert_int_equal(file_size(tmp_path("zero.dcz")), 20);
  assert_int_equal(dc_dcz_read(tmp_path("zero.dcz"), &out, &n), DC_OK);
  assert_int_equal(n, 0);
  assert_null(out);
  for (int i = 0; i < 3; i++) free_layer(&ls[i]);
}

static void test_long_gaps(void **state) {
  (void)state;
  const int count = 100000;
  for (int gb = 1; gb <= 16; gb += 5) {
    owned_layer l = make_layer("sparse", 1, (int[]){count}, 2, gb, 0.5, 0, 30);
    memset(l.l.mask, 0, (size_t)count);
    l.l.mask[0] = l.l.mask[50000] = l.l.mask[50001] = l.l.mask[count - 1] = 1;
    round_trip("gaps.dcz", &l, 1);
    dc_dcz_stats st;
    assert_int_equal(dc_dcz_write_stats(tmp_path("gaps2.dcz"), &l.l, 1, &st), DC_OK);
    uint64_t want = (49999u >> gb) + (49997u >> gb); /* zeros skipped / 2^gap_bits */
    assert_true(st.layer[0].fillers == want);
    assert_true(st.layer[0].nnz == 4);
    dc_dcz_stats_free(&st);
    free_layer(&l);
  }
  /* only the very last weight kept */
  owned_layer l = make_layer("tail", 2, (int[]){300, 7}, 3, 3, 0.5, 0, 31);
  memset(l.l.mask, 0, l.count);
  l.l.mask[l.count - 1] = 1;
  round_trip("tail.dcz", &l, 1);
  free_layer(&l);
}

/* ---- writer ------------------------------------------------------------------------- */

static void expect_write_error(const dc_dcz_layer *l, const char *msg) {
  const char *path = tmp_path("bad_write.dcz");
  remove(path);
  dc_failure_clear();
  assert_int_equal(dc_dcz_write(path, l, 1), DC_ERR_ARG);
  if (!strstr(dc_failure_reason(), msg)) fail_msg("expected '%s' in '%s'", msg, dc_failure_reason());
  assert_non_null(strstr(dc_failure_reason(), path));
  assert_int_equal(file_size(path), -1); /* nothing created */
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  assert_int_equal(file_size(tmp), -1);
}

static void test_write_errors(void **state) {
  (void)state;
  owned_layer o = make_layer("ok", 2, (int[]){4, 5}, 2, 3, 0.5, 2, 40);
  dc_dcz_layer l;
#define CASE(mutate, msg) \
  l = o.l;                \
  mutate;                 \
  expect_write_error(&l, msg)
  CASE(l.name[0] = '\0', "name");
  CASE(memset(l.name, 'a', sizeof l.name), "name"); /* 64 chars, no terminator */
  CASE(l.name[1] = '\n', "name");
  CASE(l.ndim = 0, "ndim = 0");
  CASE(l.ndim = 5, "ndim = 5");
  CASE(l.dims[1] = 0, "dims[1] = 0");
  CASE((l.dims[0] = 1 << 20, l.dims[1] = 1 << 11), "more than");
  CASE(l.bits = 0, "bits = 0");
  CASE(l.bits = 9, "bits = 9");
  CASE(l.gap_bits = -1, "gap_bits = -1");
  CASE(l.gap_bits = 17, "gap_bits = 17");
  CASE(l.bias_bits = 12, "bias_bits = 12");
  float bigb[2] = {1e6f, 0};
  CASE((l.bias = bigb, l.bias_bits = 16), "does not fit fp16");
  CASE(l.nbias = -1, "nbias");
  CASE(l.codebook = NULL, "codebook is NULL");
  CASE(l.bias = NULL, "bias is NULL");
  float badcb[4] = {0, NAN, 0, 0};
  CASE(l.codebook = badcb, "codebook[1]");
  float badb[2] = {0, INFINITY};
  CASE(l.bias = badb, "bias[1]");
  uint8_t badmask[20] = {0};
  badmask[7] = 2;
  CASE(l.mask = badmask, "mask[7] = 2");
  uint8_t badidx[20] = {0};
  badidx[3] = 4;
  CASE((l.mask = NULL, l.index = badidx), "index[3] = 4");
  CASE(l.index = NULL, "index is NULL");
#undef CASE
  dc_failure_clear();
  assert_int_equal(dc_dcz_write(tmp_path("n.dcz"), &o.l, -1), DC_ERR_ARG);
  assert_int_equal(dc_dcz_write(tmp_path("n.dcz"), &o.l, DC_DCZ_MAX_LAYERS + 1), DC_ERR_ARG);
  assert_int_equal(dc_dcz_write(tmp_path("n.dcz"), NULL, 1), DC_ERR_ARG);
  free_layer(&o);
  dc_failure_clear();
}

static void test_write_atomic(void **state) {
  (void)state;
  owned_layer o = make_layer("keep", 1, (int[]){64}, 2, 3, 0.5, 1, 41);
  const char *path = tmp_path("atomic.dcz");
  assert_int_equal(dc_dcz_write(path, &o.l, 1), DC_OK);
  size_t n0;
  uint8_t *before = slurp(path, &n0);
  /* a failing write (second layer invalid) leaves the old file and no .tmp */
  dc_dcz_layer two[2] = {o.l, o.l};
  two[1].bits = 0;
  dc_failure_clear();
  assert_int_equal(dc_dcz_write(path, two, 2), DC_ERR_ARG);
  size_t n1;
  uint8_t *after = slurp(path, &n1);
  assert_int_equal(n0, n1);
  assert_memory_equal(before, after, n0);
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  assert_int_equal(file_size(tmp), -1);
  /* unwritable location: an io error naming the .tmp */
  const char *nodir = tmp_path("no/such/dir.dcz");
  dc_failure_clear();
  assert_int_equal(dc_dcz_write(nodir, &o.l, 1), DC_ERR_IO);
  assert_non_null(strstr(dc_failure_reason(), "no/such/dir.dcz.tmp"));
  free(before);
  free(after);
  free_layer(&o);
  dc_failure_clear();
}

/* ---- reader: corruption ------------------------------------------------------------- */

/* A small two-layer file of format `version` (3 for the tests that patch fields at
 * version-3 offsets); returns its bytes. */
static uint8_t *small_file_v(const char *path, size_t *n, int version) {
  owned_layer ls[2];
  ls[0] = make_layer("c1", 4, (int[]){2, 1, 3, 3}, 2, 3, 0.6, 2, 50);
  ls[1] = make_layer("f2", 2, (int[]){3, 20}, 1, 2, 0.3, 3, 51);
  dc_dcz_layer in[2] = {ls[0].l, ls[1].l};
  assert_int_equal(dc_dcz_write_version(path, NULL, in, 2, NULL, version), DC_OK);
  free_layer(&ls[0]);
  free_layer(&ls[1]);
  return slurp(path, n);
}
static uint8_t *small_file(const char *path, size_t *n) { return small_file_v(path, n, 3); }

static dc_status read_expect_fail(const char *path, const char *msg) {
  dc_dcz_layer *out = (dc_dcz_layer *)1;
  int n = -1;
  dc_failure_clear();
  dc_status st = dc_dcz_read(path, &out, &n);
  if (st == DC_OK) fail_msg("%s: corrupt file accepted (expected '%s')", path, msg ? msg : "");
  assert_null(out);
  assert_int_equal(n, 0);
  const char *why = dc_failure_reason();
  if (!strstr(why, path)) fail_msg("message does not name the file: %s", why);
  if (msg && !strstr(why, msg)) fail_msg("expected '%s' in '%s'", msg, why);
  return st;
}

static void put_le(uint8_t *p, uint64_t v, int nbytes) {
  for (int i = 0; i < nbytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_le(const uint8_t *p, int nbytes) {
  uint64_t v = 0;
  for (int i = nbytes - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* Recompute the header CRC, every layer CRC and the file CRC of a well-framed file. */
static void fix_crcs(uint8_t *b, size_t n, int nlayers) {
  put_le(b + 12, crc32(0, b, 12), 4);
  size_t at = 16;
  for (int i = 0; i < nlayers; i++) {
    size_t rl = (size_t)get_le(b + at, 8);
    put_le(b + at + 8 + rl, crc32(0, b + at, (uInt)(8 + rl)), 4);
    at += 12 + rl;
  }
  put_le(b + n - 4, crc32(0, b, (uInt)(n - 4)), 4);
}

/* Offsets of layer 0's record fields in the small file (version 3 layout). */
typedef struct {
  size_t name_len, shape, dims, nnz, ne, nbias, t1, t2, cbl, b1, b2, tables, codebook;
} fields;

static fields layer0_fields(const uint8_t *b) {
  fields f;
  f.name_len = 24;
  size_t nl = b[24];
  f.shape = 25 + nl;
  int ndim = b[f.shape];
  f.dims = f.shape + 4;
  f.nnz = f.dims + 4 * (size_t)ndim;
  f.ne = f.nnz + 8;
  f.nbias = f.ne + 8;
  f.t1 = f.nbias + 4;
  f.t2 = f.t1 + 4;
  f.cbl = f.t2 + 4;
  f.b1 = f.cbl + 4;
  f.b2 = f.b1 + 8;
  f.tables = f.b2 + 8;
  f.codebook = f.tables + (size_t)get_le(b + f.t1, 4) + (size_t)get_le(b + f.t2, 4);
  return f;
}

static void test_read_bad_magic_and_version(void **state) {
  (void)state;
  const char *path = tmp_path("hdr.dcz");
  size_t n;
  uint8_t *b = small_file(path, &n);
  uint8_t *c = malloc(n);
  memcpy(c, b, n);
  c[0] = 'X';
  spit(path, c, n);
  assert_int_equal(read_expect_fail(path, "bad magic"), DC_ERR_FORMAT);
  memcpy(c, b, n);
  put_le(c + 4, 5, 2);
  spit(path, c, n);
  read_expect_fail(path, "format version 5 not supported (this build reads versions 1 to 4)");
  memcpy(c, b, n);
  put_le(c + 6, 2, 2); /* flags, with a valid header CRC */
  fix_crcs(c, n, 2);
  spit(path, c, n);
  read_expect_fail(path, "flags");
  memcpy(c, b, n);
  c[9] ^= 1; /* layer count without fixing the header CRC */
  spit(path, c, n);
  read_expect_fail(path, "header CRC mismatch");
  /* missing file, a directory */
  assert_int_equal(read_expect_fail(tmp_path("missing.dcz"), "cannot open"), DC_ERR_IO);
  assert_int_equal(read_expect_fail(g_dir, NULL), DC_ERR_IO);
  free(b);
  free(c);
}

static void test_read_every_truncation(void **state) {
  (void)state;
  const char *path = tmp_path("trunc.dcz");
  size_t n;
  uint8_t *b = small_file(path, &n);
  for (size_t len = 0; len < n; len++) {
    spit(path, b, len);
    assert_int_equal(read_expect_fail(path, NULL), DC_ERR_FORMAT);
  }
  spit(path, b, 10);
  read_expect_fail(path, "too short");
  spit(path, b, n - 1);
  read_expect_fail(path, "truncated");
  /* and one byte too many */
  uint8_t *c = malloc(n + 1);
  memcpy(c, b, n);
  c[n] = 0;
  spit(path, c, n + 1);
  read_expect_fail(path, NULL);
  free(c);
  free(b);
}

static void test_read_every_flipped_byte(void **state) {
  (void)state;
  const char *path = tmp_path("flip.dcz");
  size_t n;
  uint8_t *b = small_file(path, &n);
  uint8_t *c = malloc(n);
  const uint8_t flips[] = {0x01, 0x80, 0xff};
  for (size_t i = 0; i < n; i++)
    for (int f = 0; f < 3; f++) {
      memcpy(c, b, n);
      c[i] ^= flips[f];
      spit(path, c, n);
      assert_int_equal(read_expect_fail(path, NULL), DC_ERR_FORMAT);
    }
  /* a payload byte: caught by the layer CRC, reported as such */
  fields fl = layer0_fields(b);
  memcpy(c, b, n);
  c[fl.tables + 1] ^= 0x10;
  spit(path, c, n);
  read_expect_fail(path, "layer 0 at offset 16: CRC mismatch");
  /* the file CRC itself */
  memcpy(c, b, n);
  c[n - 2] ^= 0x01;
  spit(path, c, n);
  read_expect_fail(path, "file CRC mismatch");
  free(b);
  free(c);
}

/* Patch layer 0 field at `off` (nbytes) to v, refresh all CRCs, expect `msg`. */
static void planted(const uint8_t *b, size_t n, size_t off, int nbytes, uint64_t v, const char *msg) {
  const char *path = tmp_path("planted.dcz");
  uint8_t *c = malloc(n);
  memcpy(c, b, n);
  put_le(c + off, v, nbytes);
  fix_crcs(c, n, 2);
  spit(path, c, n);
  assert_int_equal(read_expect_fail(path, msg), DC_ERR_FORMAT);
  free(c);
}

static void test_read_absurd_sizes(void **state) {
  (void)state;
  const char *path = tmp_path("absurd.dcz");
  size_t n;
  uint8_t *b = small_file(path, &n);
  fields f = layer0_fields(b);
  /* header: layer counts beyond the limit or beyond what the file can hold */
  uint8_t *c = malloc(n);
  memcpy(c, b, n);
  put_le(c + 8, 0xffffffffu, 4);
  put_le(c + 12, crc32(0, c, 12), 4);
  spit(path, c, n);
  read_expect_fail(path, "claims 4294967295 layers");
  memcpy(c, b, n);
  put_le(c + 8, 3, 4);
  put_le(c + 12, crc32(0, c, 12), 4);
  spit(path, c, n);
  read_expect_fail(path, NULL);
  /* record length: huge, and below the minimum */
  memcpy(c, b, n);
  put_le(c + 16, 1ull << 62, 8);
  spit(path, c, n);
  read_expect_fail(path, "claims a 4611686018427387904-byte record");
  memcpy(c, b, n);
  put_le(c + 16, 3, 8);
  spit(path, c, n);
  read_expect_fail(path, "claims a 3-byte record");
  free(c);
  /* record fields, each with valid CRCs so only validation can catch them */
  planted(b, n, f.name_len, 1, 0, "name length 0");
  planted(b, n, f.name_len, 1, 200, "name length 200");
  planted(b, n, f.name_len + 1, 1, 7, "non-printable");
  planted(b, n, f.shape, 1, 9, "ndim 9");
  planted(b, n, f.shape + 1, 1, 0, "bits 0");
  planted(b, n, f.shape + 2, 1, 17, "gap_bits 17");
  planted(b, n, f.shape + 3, 1, 3, "bias format 3");
  planted(b, n, f.dims, 4, 0, "dims[0] = 0");
  planted(b, n, f.dims, 4, 0xffffffffu, "dims[0] = 4294967295");
  planted(b, n, f.dims + 4, 4, 0x7fffffff, "more than 1073741824 weights");
  planted(b, n, f.codebook, 4, 0x0000c0ffu, "codebook: a centroid is not finite"); /* NaN's key, MSB first */
  planted(b, n, f.cbl, 4, 0xffffffffu, "sizes add up");
  planted(b, n, f.nnz, 8, 1ull << 60, "kept weights in a layer of 18");
  planted(b, n, f.ne, 8, 1ull << 60, "entries");
  planted(b, n, f.nbias, 4, 0xffffffffu, "nbias 4294967295");
  planted(b, n, f.nbias, 4, 1000, "sizes add up");
  planted(b, n, f.t1, 4, 0xffffffffu, "sizes add up");
  planted(b, n, f.b1, 8, 1ull << 62, "stream sizes");
  planted(b, n, f.b2, 8, 0, "stream sizes");
  planted(b, n, f.tables, 1, 0xdf, "code length above 24"); /* literal 31 */
  uint64_t nnz = get_le(b + f.nnz, 8);
  planted(b, n, f.nnz, 8, nnz - 1, "the header says");
  free(b);
}

static void test_read_stream_errors(void **state) {
  (void)state;
  /* a one-layer file whose code table and streams we rewrite (CRCs refreshed) */
  owned_layer o = make_layer("s", 1, (int[]){200}, 2, 4, 0.5, 0, 60);
  const char *path = tmp_path("stream.dcz");
  assert_int_equal(dc_dcz_write_version(path, NULL, &o.l, 1, NULL, 3), DC_OK);
  size_t n;
  uint8_t *b = slurp(path, &n);
  fields f = layer0_fields(b);
  uint8_t *c = malloc(n);
  /* the table starts with the first symbol's length as a literal (110 LLLLL); making it
   * 1 shortens the codes that follow it by as much: Kraft sum > 1 */
  assert_int_equal(b[f.tables] >> 5, 6);
  assert_true((b[f.tables] & 31) >= 2);
  memcpy(c, b, n);
  c[f.tables] = 0xc1;
  fix_crcs(c, n, 1);
  spit(path, c, n);
  read_expect_fail(path, "weight-index stream: code lengths are over-subscribed");
  /* nonzero padding in the gap stream (last stream byte before the biases) */
  uint64_t b2 = get_le(b + f.b2, 8);
  if (b2 & 7) {
    memcpy(c, b, n);
    size_t last = n - 4 - 4 - 1; /* file CRC, layer CRC, no biases */
    c[last] |= 1;
    fix_crcs(c, n, 1);
    spit(path, c, n);
    read_expect_fail(path, "gap stream");
  }
  free(b);
  free(c);
  free_layer(&o);
}

/* ---- the encoder's own choices ---------------------------------------------------- */

/* Write l with gap width gap_bits alone; the file size (checked against the stats) and
 * the width used. */
static uint64_t written_size(const dc_dcz_layer *l, int gap_bits, int *used) {
  dc_dcz_layer x = *l;
  x.gap_bits = gap_bits;
  dc_dcz_stats st;
  const char *path = tmp_path("width.dcz");
  if (dc_dcz_write_stats(path, &x, 1, &st) != DC_OK) fail_msg("write: %s", dc_failure_reason());
  uint64_t n = st.file_bytes;
  assert_true(n == (uint64_t)file_size(path));
  if (used) *used = st.layer[0].gap_bits;
  dc_dcz_stats_free(&st);
  return n;
}

/* gap_bits = auto gives a file no larger than any fixed width, exactly the size of the
 * width it reports, and decodes exactly. */
static void check_auto_width(owned_layer *o, const char *what) {
  int chosen = 0;
  uint64_t a = written_size(&o->l, DC_DCZ_GAP_AUTO, &chosen);
  uint64_t best = UINT64_MAX;
  for (int w = 1; w <= 16; w++) {
    uint64_t f = written_size(&o->l, w, NULL);
    if (f < a)
      fail_msg("%s: auto (%d bits) gives %llu bytes, %d bits %llu", what, chosen, (unsigned long long)a, w,
               (unsigned long long)f);
    if (w == chosen) assert_true(f == a);
    if (f < best) best = f;
  }
  assert_true(a == best);
  o->l.gap_bits = DC_DCZ_GAP_AUTO;
  round_trip("auto.dcz", o, 1);
}

static void test_gap_width_auto(void **state) {
  (void)state;
  /* random masks, from very sparse to nearly dense */
  const double dens[] = {0.002, 0.02, 0.08, 0.3, 0.7, 0.97};
  for (int i = 0; i < 6; i++) {
    owned_layer o = make_layer("rand", 2, (int[]){100, 784}, 5, 1, dens[i], 10, 100 + (uint64_t)i);
    check_auto_width(&o, "random mask");
    free_layer(&o);
  }
  /* MNIST's first fc layer after pruning: 300 outputs x 28x28 inputs, the blank border
   * (4 pixels wide) pruned away entirely, 8-20% kept inside */
  for (int b = 0; b < 2; b++) {
    owned_layer o = make_layer("ip1", 2, (int[]){300, 784}, 6, 1, 0.5, 300, 110 + (uint64_t)b);
    dc_rng r;
    dc_rng_seed(&r, 7 + (uint64_t)b, 0);
    for (size_t i = 0; i < o.count; i++) {
      int px = (int)(i % 784), y = px / 28, x = px % 28;
      int border = y < 4 || y >= 24 || x < 4 || x >= 24;
      o.l.mask[i] = !border && dc_rng_uniform(&r) < (b ? 0.2f : 0.08f);
    }
    check_auto_width(&o, "border-pruned mask");
    free_layer(&o);
  }
  /* clustered: kept weights in runs (whole rows of a conv kernel), long pruned stretches */
  owned_layer o = make_layer("conv", 4, (int[]){50, 20, 5, 5}, 8, 1, 0.5, 50, 120);
  dc_rng r;
  dc_rng_seed(&r, 9, 0);
  for (size_t i = 0; i < o.count; i += 25) {
    int keep = dc_rng_uniform(&r) < 0.15f;
    for (size_t j = 0; j < 25; j++) o.l.mask[i + j] = keep && dc_rng_uniform(&r) < 0.8f;
  }
  check_auto_width(&o, "clustered mask");
  free_layer(&o);
  /* edge cases: nothing kept, everything kept, one weight */
  o = make_layer("none", 2, (int[]){40, 50}, 3, 1, 0.5, 0, 130);
  memset(o.l.mask, 0, o.count);
  check_auto_width(&o, "empty mask");
  free_layer(&o);
  o = make_layer("all", 1, (int[]){3000}, 4, 1, 1.0, 2, 131);
  check_auto_width(&o, "full mask");
  free_layer(&o);
  o = make_layer("one", 1, (int[]){1}, 1, 1, 1.0, 1, 132);
  check_auto_width(&o, "single weight");
  free_layer(&o);
}

/* Stored biases: what dc_dcz_bias_round says, bit for bit, for each format. */
static void test_bias_formats(void **state) {
  (void)state;
  struct {
    float in, want;
  } h[] = {
      {1.0f, 1.0f},
      {0.1f, 0.0999755859375f},
      {-2.5f, -2.5f},
      {65504.0f, 65504.0f},
      {65519.0f, 65504.0f},
      {1.0f + 0x1p-11f, 1.0f},               /* a tie: to the even mantissa */
      {1.0f + 3 * 0x1p-11f, 1.0f + 0x1p-9f}, /* a tie: up, to the even mantissa */
      {0x1p-24f, 0x1p-24f},                  /* the smallest subnormal half */
      {0x1p-25f, 0.0f},                      /* a tie between 0 and it: 0 */
      {3 * 0x1p-26f, 0x1p-24f},
      {0x1.ffap-15f, 0x1.ff8p-15f}, /* subnormal: 1023.25 units of 2^-24 -> 1023 */
      {0x1.ffcp-15f, 0x1p-14f},     /* 1023.5 units: a tie, to 1024 = the smallest normal */
      {0x1p-14f, 0x1p-14f},         /* the smallest normal half */
  };
  for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
    float out;
    assert_int_equal(dc_dcz_bias_round(&h[i].in, 1, 16, &out), DC_OK);
    if (memcmp(&out, &h[i].want, sizeof out) != 0)
      fail_msg("fp16 of %a: %a, expected %a", (double)h[i].in, (double)out, (double)h[i].want);
  }
  float neg0 = -0.0f, out;
  assert_int_equal(dc_dcz_bias_round(&neg0, 1, 16, &out), DC_OK);
  assert_true(signbit(out) && out == 0.0f);
  float big = 65520.0f;
  dc_failure_clear();
  assert_int_equal(dc_dcz_bias_round(&big, 1, 16, &out), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "fp16"));
  dc_failure_clear();
  assert_int_equal(dc_dcz_bias_round(&big, 1, 12, &out), DC_ERR_ARG);
  dc_failure_clear();
  /* 8 bits: the ends exact (lo; hi within the step's rounding), every value within half a step */
  float in8[5] = {-1.0f, 0.0f, 0.37f, 1.0f, -0.2f}, o8[5];
  assert_int_equal(dc_dcz_bias_round(in8, 5, 8, o8), DC_OK);
  assert_true(o8[0] == -1.0f);
  for (int i = 0; i < 5; i++) assert_true(fabsf(o8[i] - in8[i]) <= (2.0f / 255) * 0.5f + 1e-6f);
  float same[3] = {0.3f, 0.3f, 0.3f}, o3[3];
  assert_int_equal(dc_dcz_bias_round(same, 3, 8, o3), DC_OK);
  assert_memory_equal(same, o3, sizeof same);
  /* through a file, with the bytes each format takes */
  const int fmt[3] = {16, 8, 32};
  for (int i = 0; i < 3; i++) {
    owned_layer o = make_layer("b", 2, (int[]){30, 20}, 4, DC_DCZ_GAP_AUTO, 0.3, 30, 140 + (uint64_t)i);
    o.l.bias_bits = fmt[i];
    round_trip("bias.dcz", &o, 1);
    dc_dcz_stats st;
    assert_int_equal(dc_dcz_write_stats(tmp_path("bias2.dcz"), &o.l, 1, &st), DC_OK);
    assert_true(st.layer[0].bias_bytes == (fmt[i] == 16  ? 60u
                                           : fmt[i] == 8 ? 38u
                                                         : 120u) ||
                (fmt[i] == 8 && st.layer[0].bias_bytes < 38u)); /* version 4: format 3 when smaller */
    assert_int_equal(st.layer[0].bias_bits, fmt[i]);
    dc_dcz_stats_free(&st);
    assert_int_equal(dc_dcz_write_version(tmp_path("bias3.dcz"), NULL, &o.l, 1, &st, 3), DC_OK);
    assert_true(st.layer[0].bias_bytes == (fmt[i] == 16 ? 60u : fmt[i] == 8 ? 38u : 120u));
    dc_dcz_stats_free(&st);
    free_layer(&o);
  }
}

/* Only the centroids in use are stored, exactly, whatever their values and order. */
static void test_codebook_in_use(void **state) {
  (void)state;
  owned_layer o = make_layer("cb", 1, (int[]){500}, 8, 6, 1.0, 0, 150);
  const float vals[] = {-0.0f, 0.0f, 3.4e38f, -1e-40f /* subnormal */, 0.125f, -7.5f, 1e-3f};
  const int at[] = {3, 4, 250, 17, 100, 0, 255};
  for (int j = 0; j < 7; j++) o.l.codebook[at[j]] = vals[j];
  for (size_t i = 0; i < o.count; i++) o.l.index[i] = (uint8_t)at[i % 7];
  round_trip("cb.dcz", &o, 1);
  dc_dcz_stats st;
  assert_int_equal(dc_dcz_write_stats(tmp_path("cb2.dcz"), &o.l, 1, &st), DC_OK);
  assert_true(st.layer[0].centroids == 7);
  assert_true(st.layer[0].codebook_bytes <= (32 + 5 + 6 * 36 + 7) / 8); /* at most 36 bits a difference */
  dc_dcz_stats_free(&st);
  /* sorted, evenly spaced centroids (what k-means gives) cost far less than fp32 */
  for (int j = 0; j < 256; j++) o.l.codebook[j] = -0.2f + 0.4f * (float)j / 255;
  for (size_t i = 0; i < o.count; i++) o.l.index[i] = (uint8_t)(i % 256);
  round_trip("cb3.dcz", &o, 1);
  assert_int_equal(dc_dcz_write_stats(tmp_path("cb4.dcz"), &o.l, 1, &st), DC_OK);
  assert_true(st.layer[0].centroids == 256);
  assert_true(st.layer[0].codebook_bytes < 4 * 256 * 3 / 4);
  dc_dcz_stats_free(&st);
  free_layer(&o);
}

/* Files of versions 1 and 2 (the old layer layout: raw fp32 codebook, byte tables,
 * fp32 biases) still read. Built here byte by byte: layer 'a', 4 weights, 1-bit
 * codebook {-0.25, 0.75}, kept {0, 2, 3} with indices {0, 1, 1}, 2-bit gaps, bias 0.5. */
static size_t old_file(uint8_t *b, int version) {
  size_t n = 0;
#define PUT(v, k) (put_le(b + n, (uint64_t)(v), (k)), n += (k))
  memcpy(b, "DCZF", 4);
  n = 4;
  PUT(version, 2);
  PUT(0, 2);
  PUT(1, 4);
  PUT(crc32(0, b, 12), 4);
  if (version == 2) { /* model section: net "x", gray, no resize, mean 0, scale 1, no labels */
    size_t at = n;
    PUT(33, 8);
    PUT(1, 4);
    b[n++] = 'x';
    PUT(0, 1);
    PUT(0, 3);
    PUT(0, 4);
    for (int c = 0; c < 3; c++) PUT(0, 4);
    PUT(0x3f800000u, 4);
    PUT(0, 4);
    PUT(crc32(0, b + at, (uInt)(n - at)), 4);
  }
  size_t at = n;
  PUT(0, 8); /* record length, below */
  const uint8_t head[] = {1, 'a', 1, 1, 2, 0};
  memcpy(b + n, head, sizeof head);
  n += sizeof head;
  PUT(4, 4);                                /* dims */
  PUT(0xbe800000u, 4);                      /* -0.25 */
  PUT(0x3f400000u, 4);                      /* 0.75 */
  PUT(3, 8);                                /* nnz */
  PUT(3, 8);                                /* entries */
  PUT(1, 4);                                /* nbias */
  PUT(5, 4);                                /* index table */
  PUT(5, 4);                                /* gap table */
  PUT(3, 8);                                /* index bits */
  PUT(3, 8);                                /* gap bits */
  const uint8_t tables[] = {1, 1, 0, 0, 0,  /* index: 1, 1, then 1 unused (filler) */
                            1, 1, 0, 1, 0}; /* gaps: 1, 1, then 2 unused */
  memcpy(b + n, tables, sizeof tables);
  n += sizeof tables;
  b[n++] = 0x60;       /* indices 0 1 1 -> 011 */
  b[n++] = 0x40;       /* gaps 0 1 0 -> 010 */
  PUT(0x3f000000u, 4); /* bias 0.5 */
  put_le(b + at, n - at - 8, 8);
  PUT(crc32(0, b + at, (uInt)(n - at)), 4);
  PUT(crc32(0, b, (uInt)n), 4);
#undef PUT
  return n;
}

static void test_old_versions_read(void **state) {
  (void)state;
  for (int v = 1; v <= 2; v++) {
    uint8_t b[256];
    size_t n = old_file(b, v);
    const char *path = tmp_path("old.dcz");
    spit(path, b, n);
    dc_dcz_layer *out = NULL;
    int nl = 0;
    dc_dcz_stats st;
    if (dc_dcz_read_stats(path, &out, &nl, &st) != DC_OK) fail_msg("version %d: %s", v, dc_failure_reason());
    assert_int_equal(nl, 1);
    assert_int_equal(st.version, v);
    assert_true(st.file_bytes == n);
    const uint8_t mask[4] = {1, 0, 1, 1}, index[4] = {0, 0, 1, 1};
    assert_memory_equal(out[0].mask, mask, 4);
    assert_memory_equal(out[0].index, index, 4);
    assert_true(out[0].codebook[0] == -0.25f && out[0].codebook[1] == 0.75f);
    assert_true(out[0].bias[0] == 0.5f && out[0].bias_bits == 32);
    assert_int_equal(out[0].gap_bits, 2);
    assert_true(st.layer[0].codebook_bytes == 8 && st.layer[0].table_bytes == 10);
    dc_dcz_free(out, nl);
    dc_dcz_stats_free(&st);
    dc_dcz_model m;
    assert_int_equal(dc_dcz_read_model(path, b, n, &out, &nl, NULL, &m), DC_OK);
    if (v == 2)
      assert_string_equal(m.net, "x");
    else
      assert_null(m.net);
    dc_dcz_model_free(&m);
    dc_dcz_free(out, nl);
    /* the same bytes claiming version 3 are refused with one line */
    b[4] = 3;
    put_le(b + 12, crc32(0, b, 12), 4);
    spit(path, b, n);
    read_expect_fail(path, NULL);
  }
}

/* ---- reader: what a small file may declare ------------------------------------------ */

/* A version-1 file of nl fully pruned rows x cols layers (1-bit codebook, no entries,
 * no biases): about 70 bytes per layer with every CRC right. */
static size_t pruned_file(uint8_t *b, size_t cap, int nl, uint32_t rows, uint32_t cols) {
  static const uint8_t tables[6] = {0, 2, 0, 0, 1, 0}; /* 3 and 2 symbols without a code */
  size_t n = 0;
  memcpy(b, "DCZF", 4);
  put_le(b + 4, 1, 2);
  put_le(b + 6, 0, 2);
  put_le(b + 8, (uint64_t)nl, 4);
  put_le(b + 12, crc32(0, b, 12), 4);
  n = 16;
  for (int i = 0; i < nl; i++) {
    uint8_t r[128];
    size_t k = 0;
    r[k++] = 1, r[k++] = 'a' + (uint8_t)i;          /* name */
    r[k++] = 2, r[k++] = 1, r[k++] = 1, r[k++] = 0; /* ndim, bits, gap_bits, reserved */
    put_le(r + k, rows, 4), k += 4;
    put_le(r + k, cols, 4), k += 4;
    memset(r + k, 0, 8), k += 8; /* codebook 0, 0 */
    put_le(r + k, 0, 8), k += 8; /* nnz */
    put_le(r + k, 0, 8), k += 8; /* entries */
    put_le(r + k, 0, 4), k += 4; /* nbias */
    put_le(r + k, 3, 4), k += 4; /* table sizes */
    put_le(r + k, 3, 4), k += 4;
    put_le(r + k, 0, 8), k += 8; /* stream bits */
    put_le(r + k, 0, 8), k += 8;
    memcpy(r + k, tables, 6), k += 6;
    assert_true(n + 12 + k + 4 <= cap);
    put_le(b + n, k, 8);
    memcpy(b + n + 8, r, k);
    put_le(b + n + 8 + k, crc32(0, b + n, (uInt)(8 + k)), 4);
    n += 12 + k;
  }
  put_le(b + n, crc32(0, b, (uInt)n), 4);
  return n + 4;
}

/* Issue 11: a ~100-byte file with valid CRCs declaring fully pruned 32768 x 32768 layers
 * made the reader allocate and zero 2 GiB per layer. Now refused, by every reader and
 * before any dense allocation; a fully pruned layer within the allowance still reads. */
static void test_read_declared_size_bounded_by_file(void **state) {
  (void)state;
  uint8_t b[1024];
  const char *path = tmp_path("pruned.dcz");
  size_t n = pruned_file(b, sizeof b, 1, 32768, 32768);
  assert_true(n < 120);
  spit(path, b, n);
  read_expect_fail(path, "layer 0 ('a'): 1073741824 weights, more than a");
  dc_dcz_stats st;
  dc_failure_clear();
  assert_int_equal(dc_dcz_read_model("mem.dcz", b, n, NULL, NULL, &st, NULL), DC_ERR_FORMAT);
  assert_non_null(strstr(dc_failure_reason(), "mem.dcz: layer 0 ('a'): 1073741824 weights"));
  n = pruned_file(b, sizeof b, 4, 32768, 32768);
  spit(path, b, n);
  read_expect_fail(path, "more than a");
  /* the allowance is for all layers together: each alone fits, the third does not */
  n = pruned_file(b, sizeof b, 3, 1000, 1000);
  spit(path, b, n);
  read_expect_fail(path, "layer 2 ('c'): 1000000 weights");
  n = pruned_file(b, sizeof b, 1, 1024, 1024);
  spit(path, b, n);
  dc_dcz_layer *out;
  int nl;
  assert_int_equal(dc_dcz_read(path, &out, &nl), DC_OK);
  assert_int_equal(nl, 1);
  assert_int_equal(out[0].dims[0] * out[0].dims[1], DC_DCZ_DENSE_FREE);
  dc_dcz_free(out, nl);
  /* the writer does not write what the reader would refuse */
  owned_layer l = make_layer("empty", 2, (int[]){2048, 1024}, 1, 1, 0.5, 0, 70);
  memset(l.l.mask, 0, l.count);
  dc_failure_clear();
  assert_int_equal(dc_dcz_write(tmp_path("big-empty.dcz"), &l.l, 1), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "2097152 weights in all"));
  struct stat sb;
  assert_int_not_equal(stat(tmp_path("big-empty.dcz"), &sb), 0);
  free_layer(&l);
}

/* Stats without layer arrays (dctrain info) are those of the full read, and a file
 * either read refuses is refused by the other with the same message. */
static void test_read_stats_only(void **state) {
  (void)state;
  const char *path = tmp_path("stats.dcz");
  size_t n;
  uint8_t *b = small_file(path, &n);
  dc_dcz_layer *out;
  int nl;
  dc_dcz_stats full, only;
  assert_int_equal(dc_dcz_read_stats(path, &out, &nl, &full), DC_OK);
  assert_int_equal(dc_dcz_read_model(path, NULL, 0, NULL, NULL, &only, NULL), DC_OK);
  assert_int_equal(full.nlayers, only.nlayers);
  assert_memory_equal(full.layer, only.layer, sizeof *full.layer * (size_t)full.nlayers);
  assert_true(full.file_bytes == only.file_bytes && full.file_bytes == n);
  dc_dcz_free(out, nl);
  dc_dcz_stats_free(&full);
  dc_dcz_stats_free(&only);
  /* flip bits inside the records (not the frame: fix_crcs walks it), CRCs made right */
  size_t rl0 = (size_t)get_le(b + 16, 8);
  for (size_t i = 24; i < n - 4; i += 3) {
    if (i >= 28 + rl0 && i < 36 + rl0) continue;
    b[i] ^= 0x10;
    fix_crcs(b, n, 2);
    char m1[512], m2[512];
    dc_failure_clear();
    dc_status s1 = dc_dcz_read_model("f", b, n, &out, &nl, NULL, NULL);
    snprintf(m1, sizeof m1, "%s", dc_failure_reason());
    if (s1 == DC_OK) dc_dcz_free(out, nl);
    dc_failure_clear();
    dc_status s2 = dc_dcz_read_model("f", b, n, NULL, NULL, &only, NULL);
    snprintf(m2, sizeof m2, "%s", dc_failure_reason());
    if (s2 == DC_OK) dc_dcz_stats_free(&only);
    assert_int_equal(s1, s2);
    assert_string_equal(m1, m2);
    b[i] ^= 0x10;
  }
  free(b);
}

/* ---- version 4 --------------------------------------------------------------------- */

/* fp16 codebooks: a reader gets exactly the fp16-rounded centroids
 * (dc_dcz_codebook_round), in fewer bytes than fp32 keys; a centroid beyond fp16 keeps
 * the layer's codebook in fp32, exact. */
static void test_v4_codebook_fp16(void **state) {
  (void)state;
  owned_layer o = make_layer("conv", 4, (int[]){50, 20, 5, 5}, 8, DC_DCZ_GAP_AUTO, 0.12, 50, 200);
  const int k = 256;
  float rounded[256];
  assert_int_equal(dc_dcz_codebook_round(o.l.codebook, k, 16, rounded), 16);
  assert_int_equal(dc_dcz_codebook_round(o.l.codebook, k, 32, rounded + 0), 32); /* 32: unchanged */
  assert_memory_equal(rounded, o.l.codebook, sizeof rounded);
  assert_int_equal(dc_dcz_codebook_round(o.l.codebook, k, 16, rounded), 16);
  dc_dcz_stats s32, s16;
  assert_int_equal(dc_dcz_write_stats(tmp_path("cb32.dcz"), &o.l, 1, &s32), DC_OK);
  o.l.codebook_bits = 16;
  const char *path = tmp_path("cb16.dcz");
  assert_int_equal(dc_dcz_write_stats(path, &o.l, 1, &s16), DC_OK);
  assert_int_equal(s32.layer[0].codebook_bits, 32);
  assert_int_equal(s16.layer[0].codebook_bits, 16);
  assert_true(s16.layer[0].codebook_bytes < s32.layer[0].codebook_bytes * 2 / 3);
  dc_dcz_layer *out;
  int n;
  dc_dcz_stats rs;
  assert_int_equal(dc_dcz_read_stats(path, &out, &n, &rs), DC_OK);
  assert_int_equal(out[0].codebook_bits, 16);
  assert_memory_equal(&rs.layer[0], &s16.layer[0], sizeof rs.layer[0]);
  for (size_t i = 0; i < o.count; i++) {
    if (!out[0].mask[i]) continue;
    float want = rounded[o.l.index[i]], got = out[0].codebook[out[0].index[i]];
    if (memcmp(&want, &got, sizeof want) != 0) fail_msg("weight %zu: %a, expected %a", i, (double)got, (double)want);
  }
  dc_dcz_free(out, n);
  dc_dcz_stats_free(&rs);
  dc_dcz_stats_free(&s32);
  dc_dcz_stats_free(&s16);
  /* the rounded codebook round-trips bit for bit (what the encode stage writes) */
  memcpy(o.l.codebook, rounded, sizeof rounded);
  round_trip("cb16b.dcz", &o, 1);
  /* fp16 specials: -0, subnormals, the largest finite half, ties */
  const float special[] = {-0.0f, 0x1p-24f, -0x1p-20f, 65504.0f, -65519.0f, 1.0f + 0x1p-11f, 0.1f, -3.0f};
  for (int j = 0; j < 8; j++) o.l.codebook[j] = special[j];
  for (size_t i = 0; i < o.count; i++) o.l.index[i] = (uint8_t)(i % 8);
  assert_int_equal(dc_dcz_codebook_round(o.l.codebook, k, 16, rounded), 16);
  assert_true(signbit(rounded[0]) && rounded[0] == 0.0f && rounded[4] == -65504.0f && rounded[5] == 1.0f);
  memcpy(o.l.codebook, rounded, sizeof rounded);
  round_trip("cb16c.dcz", &o, 1);
  /* a centroid fp16 cannot hold (even an unused one): the layer stays fp32, exact */
  o.l.codebook[3] = 70000.0f;
  o.l.codebook[200] = -1e30f;
  assert_int_equal(dc_dcz_codebook_round(o.l.codebook, k, 16, rounded), 32);
  assert_memory_equal(rounded, o.l.codebook, sizeof rounded);
  round_trip("cb16d.dcz", &o, 1); /* codebook_bits 16 asked, 32 read back, values exact */
  assert_int_equal(dc_dcz_read(tmp_path("cb16d.dcz"), &out, &n), DC_OK);
  assert_int_equal(out[0].codebook_bits, 32);
  assert_true(out[0].codebook[3] == 70000.0f);
  dc_dcz_free(out, n);
  o.l.codebook_bits = 12;
  expect_write_error(&o.l, "codebook_bits = 12");
  free_layer(&o);
  dc_failure_clear();
}

/* Version 4 bias format 3: the 8-bit codes Exp-Golomb coded around a centre, chosen by
 * the writer when smaller than one byte a code; the values are format 2's, bit for bit. */
static void test_v4_bias_eg(void **state) {
  (void)state;
  owned_layer o = make_layer("ip1", 2, (int[]){500, 80}, 5, DC_DCZ_GAP_AUTO, 0.08, 500, 400);
  dc_rng r;
  dc_rng_seed(&r, 5, 0);
  for (int j = 0; j < 500; j++) o.l.bias[j] = 0.01f * dc_rng_normal(&r); /* clustered ... */
  o.l.bias[7] = 0.5f, o.l.bias[300] = -0.4f;                             /* ... and two outliers */
  o.l.bias_bits = 8;
  round_trip("beg.dcz", &o, 1); /* values as dc_dcz_bias_round(8) says */
  dc_dcz_stats st;
  assert_int_equal(dc_dcz_write_stats(tmp_path("beg2.dcz"), &o.l, 1, &st), DC_OK);
  assert_int_equal(st.layer[0].bias_bits, 8);
  assert_true(st.layer[0].bias_bytes < 8 + 500 * 6 / 8);
  dc_dcz_stats_free(&st);
  /* every code the same, one code, codes at both ends */
  for (int j = 0; j < 500; j++) o.l.bias[j] = 0.25f;
  round_trip("beg3.dcz", &o, 1);
  o.l.nbias = 1;
  round_trip("beg4.dcz", &o, 1);
  o.l.nbias = 3;
  o.l.bias[0] = -1, o.l.bias[1] = 1, o.l.bias[2] = 0;
  round_trip("beg5.dcz", &o, 1);
  /* a corrupt bit string: every flipped bit of the biases refused or read as some value,
   * never a crash (the layer CRC made right each time) */
  o.l.nbias = 500;
  for (int j = 0; j < 500; j++) o.l.bias[j] = 0.01f * (float)(j % 7) + (j == 9 ? 1.0f : 0.0f);
  const char *path = tmp_path("beg6.dcz");
  assert_int_equal(dc_dcz_write_stats(path, &o.l, 1, &st), DC_OK);
  uint64_t bl = st.layer[0].bias_bytes;
  assert_true(bl < 8 + 500);
  dc_dcz_stats_free(&st);
  size_t n;
  uint8_t *b = slurp(path, &n);
  size_t rl = 0, rec, i = 0;
  do rl |= (size_t)(b[16 + i] & 0x7f) << (7 * i);
  while (b[16 + i++] & 0x80);
  rec = 16 + i;
  for (size_t at = rec + rl - bl + 8; at < rec + rl; at++)
    for (int bit = 0; bit < 8; bit++) {
      b[at] ^= (uint8_t)(1 << bit);
      put_le(b + rec + rl, crc32(0, b + 16, (uInt)(i + rl)), 4);
      put_le(b + n - 4, crc32(0, b, (uInt)(n - 4)), 4);
      dc_dcz_layer *out;
      int nl;
      dc_failure_clear();
      if (dc_dcz_read_model("flip", b, n, &out, &nl, NULL, NULL) == DC_OK)
        dc_dcz_free(out, nl);
      else
        assert_non_null(strstr(dc_failure_reason(), "flip: layer 0 ('ip1'): biases: "));
      b[at] ^= (uint8_t)(1 << bit);
    }
  free(b);
  free_layer(&o);
  dc_failure_clear();
}

/* Layer 0's frame in a version-4 file: where its record starts and how long it is. */
static size_t v4_record(const uint8_t *b, size_t at, size_t *rl) {
  size_t v = 0, i = 0;
  do v |= (size_t)(b[at + i] & 0x7f) << (7 * i);
  while (b[at + i++] & 0x80);
  *rl = v;
  return at + i;
}

/* A copy of b[n] with the byte at `at` in layer 0's record replaced by ins[k + 1] (the
 * record's length, a 1-byte varint at 16, grows by k), all CRCs made right. */
static uint8_t *v4_splice(const uint8_t *b, size_t n, size_t at, const uint8_t *ins, size_t k, size_t *out_n) {
  size_t rl;
  size_t rec = v4_record(b, 16, &rl);
  assert_int_equal(rec, 17); /* a record below 128 bytes */
  assert_true(rl + k < 128);
  uint8_t *c = malloc(n + k);
  memcpy(c, b, at);
  memcpy(c + at, ins, k + 1);
  memcpy(c + at + k + 1, b + at + 1, n - at - 1);
  c[16] = (uint8_t)(rl + k);
  put_le(c + rec + rl + k, crc32(0, c + 16, (uInt)(1 + rl + k)), 4);
  put_le(c + n + k - 4, crc32(0, c, (uInt)(n + k - 4)), 4);
  *out_n = n + k;
  return c;
}

/* Version 4 files: every truncation and flipped byte refused with one line, varints
 * that are not minimal refused naming the field, and what the version-3 checks refuse
 * (planted with right CRCs) still refused. */
static void test_v4_read_errors(void **state) {
  (void)state;
  const char *path = tmp_path("v4.dcz");
  size_t n;
  uint8_t *b = small_file_v(path, &n, 4);
  assert_int_equal(b[4], 4);
  dc_dcz_layer *out;
  int nl;
  assert_int_equal(dc_dcz_read(path, &out, &nl), DC_OK);
  dc_dcz_free(out, nl);
  for (size_t len = 0; len < n; len++) {
    spit(path, b, len);
    assert_int_equal(read_expect_fail(path, NULL), DC_ERR_FORMAT);
  }
  uint8_t *c = malloc(n + 16);
  for (size_t i = 0; i < n; i++) {
    memcpy(c, b, n);
    c[i] ^= 0x40;
    spit(path, c, n);
    assert_int_equal(read_expect_fail(path, NULL), DC_ERR_FORMAT);
  }
  /* layer 0: u8 name length, name, ndim, bits, gap_bits, formats, then varint dims */
  size_t rl, rec = v4_record(b, 16, &rl);
  size_t dims = rec + 1 + b[rec] + 4;
  assert_int_equal(b[dims], 2); /* dims[0] of "c1" */
  size_t m;
  uint8_t *d = v4_splice(b, n, dims, (const uint8_t[]){0x82, 0x00}, 1, &m); /* 2 with a redundant zero group */
  spit(path, d, m);
  read_expect_fail(path, "layer 0 ('c1'): dims: varint not minimal");
  free(d);
  /* eleven bytes */
  static const uint8_t eleven[11] = {0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  d = v4_splice(b, n, dims, eleven, 10, &m);
  spit(path, d, m);
  read_expect_fail(path, "dims: varint not minimal or longer than 10 bytes");
  free(d);
  /* the record length itself: 0x80 | rl, 0x00 */
  memcpy(c, b, 16);
  c[16] = (uint8_t)(rl | 0x80);
  c[17] = 0;
  memcpy(c + 18, b + 17, n - 17);
  spit(path, c, n + 1);
  read_expect_fail(path, "layer 0 at offset 16: record length varint not minimal");
  /* a record length past the file */
  memcpy(c, b, n);
  c[16] = 0x7f;
  spit(path, c, n);
  read_expect_fail(path, "claims a 127-byte record");
  /* fields planted with right CRCs */
  struct {
    size_t at;
    uint8_t v;
    const char *want;
  } cases[] = {
      {rec + 1 + b[rec] + 3, 0x08, "formats byte 0x08 has unknown bits"},
      {rec + 1 + b[rec] + 3, 0x03, "bytes of Exp-Golomb coded biases for 2 biases"}, /* 8 bytes of fp32 */
      {dims, 0, "dims[0] = 0"},
      {dims + 4, (uint8_t)(b[dims + 4] - 1), "the header says"}, /* nnz */
      {dims + 4, 0x7f, "127 kept weights in a layer of 18"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memcpy(c, b, n);
    c[cases[i].at] = cases[i].v;
    put_le(c + rec + rl, crc32(0, c + 16, (uInt)(1 + rl)), 4);
    put_le(c + n - 4, crc32(0, c, (uInt)(n - 4)), 4);
    spit(path, c, n);
    read_expect_fail(path, cases[i].want);
  }
  free(c);
  free(b);
}

/* A version-3 file and its version-4 rewrite hold the same layers; version 4 is smaller. */
static void test_v3_and_v4_agree(void **state) {
  (void)state;
  owned_layer ls[2];
  ls[0] = make_layer("conv1", 4, (int[]){20, 1, 5, 5}, 8, DC_DCZ_GAP_AUTO, 0.66, 20, 300);
  ls[1] = make_layer("ip1", 2, (int[]){50, 80}, 5, DC_DCZ_GAP_AUTO, 0.08, 50, 301);
  ls[0].l.bias_bits = 8;
  dc_dcz_layer in[2] = {ls[0].l, ls[1].l};
  dc_dcz_model m = {"[input]\nchannels = 1\nheight = 28\nwidth = 28\n\n[fc]\nname = ip1\nnum_output = 10\n",
                    DC_COLOR_GRAY,
                    0,
                    {0, 0, 0},
                    0.00390625f,
                    NULL};
  dc_dcz_stats s3, s4;
  const char *p3 = tmp_path("a3.dcz"), *p4 = tmp_path("a4.dcz");
  assert_int_equal(dc_dcz_write_version(p3, &m, in, 2, &s3, 3), DC_OK);
  assert_int_equal(dc_dcz_write_version(p4, &m, in, 2, &s4, 4), DC_OK);
  assert_int_equal(s3.version, 3);
  assert_int_equal(s4.version, 4);
  assert_true(s4.file_bytes < s3.file_bytes);
  assert_true(s4.model_bytes < s3.model_bytes && s4.net_bytes < s3.net_bytes);
  for (int i = 0; i < 2; i++) {
    assert_true(s4.layer[i].header_bytes < s3.layer[i].header_bytes);
    assert_true(s4.layer[i].codebook_bytes == s3.layer[i].codebook_bytes); /* fp32 keys both */
  }
  dc_dcz_layer *a, *b;
  int na, nb;
  dc_dcz_model ma, mb;
  dc_dcz_stats ra, rb;
  assert_int_equal(dc_dcz_read_model(p3, NULL, 0, &a, &na, &ra, &ma), DC_OK);
  assert_int_equal(dc_dcz_read_model(p4, NULL, 0, &b, &nb, &rb, &mb), DC_OK);
  assert_int_equal(ra.version, 3);
  assert_int_equal(rb.version, 4);
  assert_true(ra.file_bytes == s3.file_bytes && rb.file_bytes == s4.file_bytes);
  assert_true(rb.model_bytes == s4.model_bytes && rb.net_bytes == s4.net_bytes);
  assert_string_equal(ma.net, m.net);
  assert_string_equal(mb.net, m.net);
  for (int i = 0; i < 2; i++) {
    assert_same_layer(&in[i], &a[i]);
    assert_same_layer(&in[i], &b[i]);
    assert_memory_equal(&rb.layer[i], &s4.layer[i], sizeof rb.layer[i]);
  }
  dc_dcz_free(a, na);
  dc_dcz_free(b, nb);
  dc_dcz_model_free(&ma);
  dc_dcz_model_free(&mb);
  dc_dcz_stats_free(&s3);
  dc_dcz_stats_free(&s4);
  dc_dcz_stats_free(&ra);
  dc_dcz_stats_free(&rb);
  free_layer(&ls[0]);
  free_layer(&ls[1]);
}

/* ---- setup -------------------------------------------------------------------------- */

static int setup(void **state) {
  (void)state;
  snprintf(g_dir, sizeof g_dir, "/tmp/dc_test_dcz_XXXXXX");
  return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_lenet_like),
      cmocka_unit_test(test_round_trip_all_bits),
      cmocka_unit_test(test_empty_and_dense_layers),
      cmocka_unit_test(test_long_gaps),
      cmocka_unit_test(test_gap_width_auto),
      cmocka_unit_test(test_bias_formats),
      cmocka_unit_test(test_codebook_in_use),
      cmocka_unit_test(test_old_versions_read),
      cmocka_unit_test(test_write_errors),
      cmocka_unit_test(test_write_atomic),
      cmocka_unit_test(test_read_bad_magic_and_version),
      cmocka_unit_test(test_read_every_truncation),
      cmocka_unit_test(test_read_every_flipped_byte),
      cmocka_unit_test(test_read_absurd_sizes),
      cmocka_unit_test(test_read_stream_errors),
      cmocka_unit_test(test_read_declared_size_bounded_by_file),
      cmocka_unit_test(test_read_stats_only),
      cmocka_unit_test(test_v4_codebook_fp16),
      cmocka_unit_test(test_v4_read_errors),
      cmocka_unit_test(test_v4_bias_eg),
      cmocka_unit_test(test_v3_and_v4_agree),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
