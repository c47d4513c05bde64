/* test_huffman.c — the bit writer/reader (bounds, MSB-first order), package-merge code
 * lengths (optimal against plain Huffman and, under a tight limit, against exhaustive
 * search; Fibonacci frequencies forced to the limit), canonical encode/decode round
 * trips (skewed, uniform, single-symbol, empty, 24-bit codes, 65536 symbols), corrupt
 * streams and tables, and relative-index (gap) coding with fillers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/bits.h"
#include "dc/compress.h"
#include "dc/rng.h"

/* ---- bits ------------------------------------------------------------------------- */

static void test_bits_round_trip(void **state) {
  (void)state;
  dc_rng r;
  dc_rng_seed(&r, 1, 0);
  enum { N = 2000 };
  static uint32_t val[N];
  static int width[N];
  uint64_t total = 0;
  for (int i = 0; i < N; i++) {
    width[i] = (int)dc_rng_below(&r, 33); /* 0..32 */
    val[i] = width[i] == 32 ? (uint32_t)dc_rng_next(&r)
                            : (uint32_t)dc_rng_next(&r) & ((1u << width[i]) - 1);
    total += (uint64_t)width[i];
  }
  size_t nbytes = (size_t)((total + 7) / 8);
  uint8_t *buf = calloc(nbytes + 1, 1);
  dc_bitw w;
  dc_bitw_init(&w, buf, nbytes);
  for (int i = 0; i < N; i++) assert_int_equal(dc_bitw_put(&w, val[i], width[i]), 0);
  assert_true(w.pos == total);
  assert_int_equal(dc_bitw_put(&w, 0, (int)(nbytes * 8 - total) + 1), -1); /* no room */
  dc_bitr rd;
  dc_bitr_init(&rd, buf, total);
  for (int i = 0; i < N; i++) {
    uint32_t v = 0;
    if (width[i] > 0) assert_int_equal(dc_bitr_peek(&rd, width[i]), val[i]);
    assert_int_equal(dc_bitr_get(&rd, width[i], &v), 0);
    assert_int_equal(v, val[i]);
  }
  uint32_t v = 7;
  assert_int_equal(dc_bitr_get(&rd, 1, &v), -1); /* past the end: an error, nothing read */
  assert_int_equal(v, 7);
  assert_true(rd.pos == total);
  free(buf);
}

static void test_bits_msb_first_and_bounds(void **state) {
  (void)state;
  uint8_t buf[2] = {0, 0};
  dc_bitw w;
  dc_bitw_init(&w, buf, 2);
  assert_int_equal(dc_bitw_put(&w, 1, 1), 0);     /* 1        */
  assert_int_equal(dc_bitw_put(&w, 2, 3), 0);     /* 010      */
  assert_int_equal(dc_bitw_put(&w, 0x3f, 6), 0);  /* 111111   */
  assert_int_equal(buf[0], 0xAF);                 /* 1010 1111 */
  assert_int_equal(buf[1], 0xC0);                 /* 11.. .... */
  assert_int_equal(dc_bitw_put(&w, 0, 7), -1);    /* 10 + 7 > 16 */
  assert_int_equal(dc_bitw_put(&w, 0, 33), -1);
  assert_int_equal(dc_bitw_put(&w, 0x3f, 6), 0);  /* exactly full */
  assert_int_equal(dc_bitw_put(&w, 0, 1), -1);
  dc_bitr r;
  dc_bitr_init(&r, buf, 10); /* only 10 of the 16 bits belong to the stream */
  assert_int_equal(dc_bitr_peek(&r, 12), 0xAFC);  /* bits 10, 11 read as 0 */
  uint32_t v;
  assert_int_equal(dc_bitr_get(&r, 11, &v), -1);
  assert_int_equal(dc_bitr_get(&r, 10, &v), 0);
  assert_int_equal(v, 0x2BF);
  assert_int_equal(dc_bitr_peek(&r, 32), 0);      /* nothing left: zeros, no OOB read */
  assert_int_equal(dc_bitr_get(&r, 0, &v), 0);
  assert_int_equal(dc_bitr_get(&r, 1, &v), -1);
  dc_bitr_init(&r, buf, 0);
  assert_int_equal(dc_bitr_peek(&r, 8), 0);
}

/* ---- code lengths ----------------------------------------------------------------- */

/* Plain Huffman cost (sum of merged weights), O(n^2) for small n. */
static uint64_t huffman_cost(const uint64_t *freq, int nsym) {
  uint64_t w[512];
  int n = 0;
  for (int s = 0; s < nsym; s++)
    if (freq[s]) w[n++] = freq[s];
  if (n == 1) return w[0];
  uint64_t cost = 0;
  while (n > 1) {
    int a = 0, b = 1;
    if (w[b] < w[a]) a = 1, b = 0;
    for (int i = 2; i < n; i++) {
      if (w[i] < w[a]) {
        b = a;
        a = i;
      } else if (w[i] < w[b]) {
        b = i;
      }
    }
    uint64_t m = w[a] + w[b];
    cost += m;
    int lo = a < b ? a : b, hi = a < b ? b : a;
    w[lo] = m;
    w[hi] = w[--n];
  }
  return cost;
}

static uint64_t kraft24(const uint8_t *len, int nsym) {
  uint64_t k = 0;
  for (int s = 0; s < nsym; s++)
    if (len[s]) k += 1ull << (24 - len[s]);
  return k;
}

static void test_lengths_optimal(void **state) {
  (void)state;
  dc_rng r;
  dc_rng_seed(&r, 2, 0);
  for (int trial = 0; trial < 300; trial++) {
    int nsym = 2 + (int)dc_rng_below(&r, 300);
    uint64_t freq[512];
    uint8_t len[512];
    int used = 0;
    for (int s = 0; s < nsym; s++) {
      /* mixture of zeros, small counts and a few heavy symbols */
      uint32_t u = dc_rng_below(&r, 10);
      freq[s] = u < 3 ? 0 : u < 8 ? 1 + dc_rng_below(&r, 20) : 1 + dc_rng_below(&r, 100000);
      used += freq[s] != 0;
    }
    if (used == 0) freq[0] = 5, used = 1;
    assert_int_equal(dc_huff_lengths(freq, nsym, DC_HUFF_MAX_LEN, len), DC_OK);
    assert_int_equal(dc_huff_check(len, nsym, "test"), DC_OK);
    for (int s = 0; s < nsym; s++) assert_true((freq[s] == 0) == (len[s] == 0));
    if (used > 1) {
      assert_true(kraft24(len, nsym) == 1ull << 24);
      assert_true(dc_huff_cost(freq, len, nsym) == huffman_cost(freq, nsym));
    }
  }
}

/* Exhaustive minimum cost over all length vectors in 1..L with Kraft sum exactly 1. */
static uint64_t best_limited(const uint64_t *w, int n, int L, int i, uint64_t kraft,
                             uint64_t cost) {
  uint64_t one = 1ull << L;
  if (i == n) return kraft == one ? cost : UINT64_MAX;
  uint64_t best = UINT64_MAX;
  for (int l = 1; l <= L; l++) {
    uint64_t k = kraft + (1ull << (L - l));
    if (k > one) continue;
    uint64_t c = best_limited(w, n, L, i + 1, k, cost + w[i] * (uint64_t)l);
    if (c < best) best = c;
  }
  return best;
}

static void test_lengths_limited_optimal(void **state) {
  (void)state;
  dc_rng r;
  dc_rng_seed(&r, 3, 0);
  for (int trial = 0; trial < 60; trial++) {
    int n = 3 + (int)dc_rng_below(&r, 5); /* 3..7 symbols */
    int L = 2;
    while ((1 << L) < n) L++;
    L += (int)dc_rng_below(&r, 2); /* the tightest possible limit, or one more */
    uint64_t w[8];
    uint8_t len[8];
    for (int i = 0; i < n; i++) w[i] = 1 + (dc_rng_below(&r, 2) ? dc_rng_below(&r, 5) : dc_rng_below(&r, 5000));
    assert_int_equal(dc_huff_lengths(w, n, L, len), DC_OK);
    assert_int_equal(dc_huff_check(len, n, "test"), DC_OK);
    for (int i = 0; i < n; i++) assert_true(len[i] >= 1 && len[i] <= L);
    assert_true(dc_huff_cost(w, len, n) == best_limited(w, n, L, 0, 0, 0));
  }
}

static void test_lengths_fibonacci_hits_limit(void **state) {
  (void)state;
  enum { N = 45 };
  uint64_t f[N];
  uint8_t len[N];
  f[0] = f[1] = 1;
  for (int i = 2; i < N; i++) f[i] = f[i - 1] + f[i - 2]; /* unlimited depth would be 44 */
  const int limits[] = {24, 16, 8, 6};
  uint64_t prev_cost = 0;
  for (int t = 0; t < 4; t++) {
    int L = limits[t];
    assert_int_equal(dc_huff_lengths(f, N, L, len), DC_OK);
    assert_int_equal(dc_huff_check(len, N, "fib"), DC_OK);
    int mx = 0;
    for (int i = 0; i < N; i++) mx = len[i] > mx ? len[i] : mx;
    assert_int_equal(mx, L); /* the limit binds exactly */
    uint64_t c = dc_huff_cost(f, len, N);
    assert_true(c >= huffman_cost(f, N));
    assert_true(c >= prev_cost); /* tighter limit, never cheaper */
    prev_cost = c;
  }
  /* those 24-bit codes round-trip (the decoder's slow path) */
  assert_int_equal(dc_huff_lengths(f, N, 24, len), DC_OK);
  uint16_t sym[3 * N], back[3 * N];
  for (int i = 0; i < 3 * N; i++) sym[i] = (uint16_t)((i * 7) % N);
  uint8_t *buf;
  uint64_t nbits;
  assert_int_equal(dc_huff_encode(sym, 3 * N, len, N, &buf, &nbits), DC_OK);
  assert_int_equal(dc_huff_decode(buf, nbits, len, N, back, 3 * N, "fib"), DC_OK);
  assert_memory_equal(sym, back, sizeof sym);
  dc_free(buf);
}

static void test_lengths_errors(void **state) {
  (void)state;
  uint64_t f[6] = {1, 1, 1, 1, 1, 0};
  uint8_t len[6];
  dc_failure_clear();
  assert_int_equal(dc_huff_lengths(f, 0, 24, len), DC_ERR_ARG);
  assert_int_equal(dc_huff_lengths(f, 65537, 24, len), DC_ERR_ARG);
  assert_int_equal(dc_huff_lengths(f, 6, 0, len), DC_ERR_ARG);
  assert_int_equal(dc_huff_lengths(f, 6, 25, len), DC_ERR_ARG);
  dc_failure_clear();
  assert_int_equal(dc_huff_lengths(f, 6, 2, len), DC_ERR_ARG); /* 5 symbols, 4 codes of 2 bits */
  assert_non_null(strstr(dc_failure_reason(), "5 symbols"));
  assert_int_equal(dc_huff_lengths(f, 4, 2, len), DC_OK); /* exactly 4: fits */
  uint64_t big[2] = {1ull << 57, (1ull << 57) + 1}; /* sum just past 2^58 */
  dc_failure_clear();
  assert_int_equal(dc_huff_lengths(big, 2, 24, len), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "2^58"));
  uint64_t none[3] = {0, 0, 0};
  assert_int_equal(dc_huff_lengths(none, 3, 24, len), DC_OK);
  assert_true(len[0] == 0 && len[1] == 0 && len[2] == 0);
  uint64_t one[3] = {0, 9, 0};
  assert_int_equal(dc_huff_lengths(one, 3, 24, len), DC_OK);
  assert_true(len[0] == 0 && len[1] == 1 && len[2] == 0);
  dc_failure_clear();
}

static void test_check_rejects_bad_tables(void **state) {
  (void)state;
  struct {
    uint8_t len[4];
    const char *msg;
  } bad[] = {
      {{1, 1, 1, 0}, "over-subscribed"},
      {{1, 2, 0, 0}, "incomplete"},
      {{2, 0, 0, 0}, "single-symbol"},
      {{1, 25, 0, 0}, "longer than the limit"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    dc_failure_clear();
    assert_int_equal(dc_huff_check(bad[i].len, 4, "tbl"), DC_ERR_FORMAT);
    assert_non_null(strstr(dc_failure_reason(), bad[i].msg));
    assert_non_null(strstr(dc_failure_reason(), "tbl"));
    /* the decoder refuses them too */
    uint8_t buf[1] = {0};
    uint16_t s;
    dc_failure_clear();
    assert_int_equal(dc_huff_decode(buf, 1, bad[i].len, 4, &s, 1, "tbl"), DC_ERR_FORMAT);
  }
  uint8_t ok[4] = {1, 2, 3, 3};
  assert_int_equal(dc_huff_check(ok, 4, "tbl"), DC_OK);
  dc_failure_clear();
}

/* ---- round trips ------------------------------------------------------------------ */

static void round_trip(const uint16_t *sym, size_t n, int nsym) {
  uint64_t *freq = calloc((size_t)nsym, sizeof *freq);
  uint8_t *len = malloc((size_t)nsym);
  uint16_t *back = malloc((n + 1) * sizeof *back);
  for (size_t i = 0; i < n; i++) freq[sym[i]]++;
  assert_int_equal(dc_huff_lengths(freq, nsym, DC_HUFF_MAX_LEN, len), DC_OK);
  uint8_t *buf;
  uint64_t nbits;
  assert_int_equal(dc_huff_encode(sym, n, len, nsym, &buf, &nbits), DC_OK);
  assert_true(nbits == dc_huff_cost(freq, len, nsym));
  assert_int_equal(dc_huff_decode(buf, nbits, len, nsym, back, n, "rt"), DC_OK);
  if (n) assert_memory_equal(sym, back, n * sizeof *sym);
  dc_free(buf);
  free(freq);
  free(len);
  free(back);
}

static void test_round_trip_random(void **state) {
  (void)state;
  dc_rng r;
  dc_rng_seed(&r, 4, 0);
  const int alph[] = {2, 3, 17, 257, 4096, 65536};
  const size_t n = 20000;
  uint16_t *sym = malloc(n * sizeof *sym);
  for (size_t a = 0; a < sizeof alph / sizeof *alph; a++) {
    int nsym = alph[a];
    for (size_t i = 0; i < n; i++) sym[i] = (uint16_t)dc_rng_below(&r, (uint32_t)nsym); /* uniform */
    round_trip(sym, n, nsym);
    for (size_t i = 0; i < n; i++) { /* skewed: geometric */
      uint32_t s = 0;
      while (s + 1 < (uint32_t)nsym && dc_rng_uniform(&r) < 0.6f) s++;
      sym[i] = (uint16_t)s;
    }
    round_trip(sym, n, nsym);
  }
  free(sym);
}

static void test_round_trip_single_and_empty(void **state) {
  (void)state;
  uint16_t sym[100];
  for (int i = 0; i < 100; i++) sym[i] = 5;
  round_trip(sym, 100, 9);
  round_trip(sym, 1, 6);
  uint8_t len[9] = {0};
  len[5] = 1;
  uint8_t *buf;
  uint64_t nbits;
  assert_int_equal(dc_huff_encode(sym, 100, len, 9, &buf, &nbits), DC_OK);
  assert_true(nbits == 100); /* one bit per symbol */
  buf[3] |= 0x10;            /* a '1' bit: no code in a single-symbol table */
  uint16_t back[100];
  dc_failure_clear();
  assert_int_equal(dc_huff_decode(buf, nbits, len, 9, back, 100, "single"), DC_ERR_FORMAT);
  assert_non_null(strstr(dc_failure_reason(), "no code"));
  dc_free(buf);
  /* empty stream: no symbols, no bits, empty table */
  round_trip(sym, 0, 9);
  memset(len, 0, sizeof len);
  assert_int_equal(dc_huff_encode(sym, 0, len, 9, &buf, &nbits), DC_OK);
  assert_true(nbits == 0);
  assert_int_equal(dc_huff_decode(buf, 0, len, 9, back, 0, "empty"), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_huff_decode(buf, 0, len, 9, back, 1, "empty"), DC_ERR_FORMAT);
  assert_non_null(strstr(dc_failure_reason(), "table is empty"));
  dc_free(buf);
  dc_failure_clear();
}

static void test_encode_errors(void **state) {
  (void)state;
  uint8_t len[4] = {1, 2, 2, 0};
  uint16_t sym[2] = {0, 3};
  uint8_t *buf = (uint8_t *)1;
  uint64_t nbits = 1;
  dc_failure_clear();
  assert_int_equal(dc_huff_encode(sym, 2, len, 4, &buf, &nbits), DC_ERR_ARG); /* 3 has no code */
  assert_null(buf);
  assert_non_null(strstr(dc_failure_reason(), "symbol 3"));
  sym[1] = 9;
  assert_int_equal(dc_huff_encode(sym, 2, len, 4, &buf, &nbits), DC_ERR_ARG); /* >= nsym */
  uint8_t bad[4] = {1, 1, 1, 0};
  sym[1] = 1;
  assert_int_equal(dc_huff_encode(sym, 2, bad, 4, &buf, &nbits), DC_ERR_ARG);
  dc_failure_clear();
}

/* ---- corrupt streams -------------------------------------------------------------- */

static void test_corrupt_streams(void **state) {
  (void)state;
  dc_rng r;
  dc_rng_seed(&r, 5, 0);
  enum { N = 400, NSYM = 40 };
  uint16_t sym[N], back[N];
  uint64_t freq[NSYM] = {0};
  for (int i = 0; i < N; i++) {
    uint32_t s = 0;
    while (s + 1 < NSYM && dc_rng_uniform(&r) < 0.7f) s++;
    sym[i] = (uint16_t)s;
    freq[s]++;
  }
  uint8_t len[NSYM];
  assert_int_equal(dc_huff_lengths(freq, NSYM, DC_HUFF_MAX_LEN, len), DC_OK);
  uint8_t *buf;
  uint64_t nbits;
  assert_int_equal(dc_huff_encode(sym, N, len, NSYM, &buf, &nbits), DC_OK);
  size_t nbytes = (size_t)((nbits + 7) / 8);

  /* every truncation: the last symbol cannot complete (copy to an exact-size buffer so
   * ASan would catch any read past it) */
  for (uint64_t cut = 0; cut < nbits; cut++) {
    size_t cb = (size_t)((cut + 7) / 8);
    uint8_t *t = malloc(cb + 1);
    memcpy(t, buf, cb);
    if (cut & 7) t[cb - 1] &= (uint8_t)(0xff00 >> (cut & 7)); /* zero padding */
    dc_failure_clear();
    assert_int_equal(dc_huff_decode(t, cut, len, NSYM, back, N, "cut"), DC_ERR_FORMAT);
    assert_non_null(strstr(dc_failure_reason(), "ends inside a code"));
    free(t);
  }
  /* extra bits after the last symbol */
  uint8_t *ext = calloc(nbytes + 2, 1);
  memcpy(ext, buf, nbytes);
  dc_failure_clear();
  assert_int_equal(dc_huff_decode(ext, nbits + 9, len, NSYM, back, N, "ext"), DC_ERR_FORMAT);
  assert_non_null(strstr(dc_failure_reason(), "left over"));
  free(ext);
  /* nonzero padding */
  if (nbits & 7) {
    uint8_t *p = malloc(nbytes);
    memcpy(p, buf, nbytes);
    p[nbytes - 1] |= 1;
    dc_failure_clear();
    assert_int_equal(dc_huff_decode(p, nbits, len, NSYM, back, N, "pad"), DC_ERR_FORMAT);
    assert_non_null(strstr(dc_failure_reason(), "padding"));
    free(p);
  }
  /* every single-bit flip: detected, or decodes to a different sequence — never a
   * crash or an out-of-bounds read (a complete code cannot flag every flip; the .dcz
   * CRCs do that) */
  int detected = 0;
  for (uint64_t b = 0; b < nbits; b++) {
    uint8_t *p = malloc(nbytes);
    memcpy(p, buf, nbytes);
    p[b >> 3] ^= (uint8_t)(0x80 >> (b & 7));
    dc_failure_clear();
    dc_status st = dc_huff_decode(p, nbits, len, NSYM, back, N, "flip");
    if (st != DC_OK)
      detected++;
    else
      assert_true(memcmp(sym, back, sizeof sym) != 0);
    free(p);
  }
  assert_true(detected > 0);
  dc_free(buf);
  dc_failure_clear();
}

/* ---- relative indices --------------------------------------------------------------- */

static void test_gap_example(void **state) {
  (void)state;
  /* gap_bits 2 (max gap 3): 1 -> gap 1; 9 -> 7 skipped = filler (3 zeros + stored zero
   * at 5) then gap 3 */
  size_t pos[] = {1, 9}, ne, back[8], nnz;
  assert_int_equal(dc_gap_count(pos, 2, 2, &ne), DC_OK);
  assert_int_equal(ne, 3);
  uint16_t gap[3];
  uint8_t fill[3];
  assert_int_equal(dc_gap_encode(pos, 2, 2, gap, fill, 3), DC_OK);
  assert_true(gap[0] == 1 && fill[0] == 0);
  assert_true(gap[1] == 3 && fill[1] == 1);
  assert_true(gap[2] == 3 && fill[2] == 0);
  assert_int_equal(dc_gap_decode(gap, fill, 3, 2, 10, back, &nnz, "ex"), DC_OK);
  assert_int_equal(nnz, 2);
  assert_true(back[0] == 1 && back[1] == 9);
  /* exactly 2^bits skipped needs one filler and a zero gap; 2^bits - 1 needs none */
  size_t p2[] = {4}, p3[] = {3};
  assert_int_equal(dc_gap_count(p2, 1, 2, &ne), DC_OK);
  assert_int_equal(ne, 2);
  assert_int_equal(dc_gap_count(p3, 1, 2, &ne), DC_OK);
  assert_int_equal(ne, 1);
  /* nothing kept: no entries */
  assert_int_equal(dc_gap_count(pos, 0, 5, &ne), DC_OK);
  assert_int_equal(ne, 0);
  assert_int_equal(dc_gap_decode(gap, fill, 0, 5, 10, back, &nnz, "ex"), DC_OK);
  assert_int_equal(nnz, 0);
}

static void gap_round_trip(const size_t *pos, size_t nnz, int gap_bits, size_t count) {
  size_t ne, got;
  assert_int_equal(dc_gap_count(pos, nnz, gap_bits, &ne), DC_OK);
  size_t fillers_expected = 0, next = 0;
  for (size_t i = 0; i < nnz; i++) {
    fillers_expected += (pos[i] - next) >> gap_bits;
    next = pos[i] + 1;
  }
  assert_int_equal(ne, nnz + fillers_expected);
  uint16_t *gap = malloc((ne + 1) * sizeof *gap);
  uint8_t *fill = malloc(ne + 1);
  size_t *back = malloc((ne + 1) * sizeof *back);
  assert_int_equal(dc_gap_encode(pos, nnz, gap_bits, gap, fill, ne), DC_OK);
  for (size_t e = 0; e < ne; e++) assert_true(gap[e] < (1u << gap_bits));
  assert_int_equal(dc_gap_decode(gap, fill, ne, gap_bits, count, back, &got, "rt"), DC_OK);
  assert_int_equal(got, nnz);
  if (nnz) assert_memory_equal(back, pos, nnz * sizeof *pos);
  free(gap);
  free(fill);
  free(back);
}

static void test_gap_round_trip(void **state) {
  (void)state;
  dc_rng r;
  dc_rng_seed(&r, 6, 0);
  const size_t count = 30000;
  size_t *pos = malloc(count * sizeof *pos);
  const float dens[] = {0.9f, 0.3f, 0.05f, 0.002f};
  for (int gb = 1; gb <= 16; gb++)
    for (int d = 0; d < 4; d++) {
      size_t nnz = 0;
      for (size_t i = 0; i < count; i++)
        if (dc_rng_uniform(&r) < dens[d]) pos[nnz++] = i;
      gap_round_trip(pos, nnz, gb, count);
    }
  /* long runs: the first and last positions, and a run of 70000 zeros */
  size_t lr[] = {0, 70001, 70002, 199999};
  for (int gb = 1; gb <= 16; gb++) gap_round_trip(lr, 4, gb, 200000);
  size_t last[] = {199999};
  gap_round_trip(last, 1, 3, 200000);
  free(pos);
}

static void test_gap_errors(void **state) {
  (void)state;
  size_t pos[] = {3, 3}, ne, back[4], nnz;
  uint16_t gap[4];
  uint8_t fill[4];
  dc_failure_clear();
  assert_int_equal(dc_gap_count(pos, 2, 4, &ne), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "not increasing"));
  assert_int_equal(dc_gap_count(pos, 1, 0, &ne), DC_ERR_ARG);
  assert_int_equal(dc_gap_count(pos, 1, 17, &ne), DC_ERR_ARG);
  assert_int_equal(dc_gap_encode(pos, 1, 4, gap, fill, 2), DC_ERR_ARG); /* wrong nentries */

  struct {
    uint16_t gap[3];
    uint8_t fill[3];
    size_t n, count;
    const char *msg;
  } bad[] = {
      {{8, 0, 0}, {0, 0, 0}, 1, 100, "wider than"},
      {{5, 1, 0}, {1, 0, 0}, 2, 100, "filler entry 0 has gap 5"},
      {{1, 7, 0}, {0, 1, 0}, 2, 100, "last entry is a filler"},
      {{7, 7, 7}, {0, 0, 0}, 3, 23, "past the end"},
      {{0, 0, 0}, {0, 0, 0}, 1, 0, "past the end"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    dc_failure_clear();
    assert_int_equal(dc_gap_decode(bad[i].gap, bad[i].fill, bad[i].n, 3, bad[i].count, back, &nnz,
                                   "gaps"),
                     DC_ERR_FORMAT);
    assert_non_null(strstr(dc_failure_reason(), bad[i].msg));
    assert_non_null(strstr(dc_failure_reason(), "gaps"));
  }
  /* the boundary itself is fine: 7,7,7 -> positions 7, 15, 23 in 24 weights */
  uint16_t g[3] = {7, 7, 7};
  uint8_t f[3] = {0, 0, 0};
  assert_int_equal(dc_gap_decode(g, f, 3, 3, 24, back, &nnz, "gaps"), DC_OK);
  assert_true(nnz == 3 && back[2] == 23);
  dc_failure_clear();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bits_round_trip),
      cmocka_unit_test(test_bits_msb_first_and_bounds),
      cmocka_unit_test(test_lengths_optimal),
      cmocka_unit_test(test_lengths_limited_optimal),
      cmocka_unit_test(test_lengths_fibonacci_hits_limit),
      cmocka_unit_test(test_lengths_errors),
      cmocka_unit_test(test_check_rejects_bad_tables),
      cmocka_unit_test(test_round_trip_random),
      cmocka_unit_test(test_round_trip_single_and_empty),
      cmocka_unit_test(test_encode_errors),
      cmocka_unit_test(test_corrupt_streams),
      cmocka_unit_test(test_gap_example),
      cmocka_unit_test(test_gap_round_trip),
      cmocka_unit_test(test_gap_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
