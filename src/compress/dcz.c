/* compress/dcz.c — the .dcz compressed model file (byte layout: docs/dcz-format.md).
 *
 * Writer: per layer, mask -> kept positions -> relative-index entries (with fillers)
 * -> two symbol streams (codebook index or the filler symbol k; gap) -> Huffman code
 * lengths -> one self-contained record in memory, CRC'd, written, freed. The file
 * goes to PATH.tmp and is renamed into place only when complete.
 *
 * Reader: one pass, one record in memory at a time. Every length is checked against
 * the bytes actually left in the file before it is used to allocate or read, each
 * record's CRC is checked before its contents are parsed, and every field is then
 * validated (shape limits, code tables, stream sizes, positions) before the output
 * arrays — sized by the layer's weight count — are allocated. Those counts are bounded
 * by the file too: all layers together may declare DC_DCZ_DENSE_FREE weights plus
 * DC_DCZ_DENSE_PER_BYTE per byte of file, so a few bytes cannot ask for gigabytes. With
 * no output array (stats only: `dctrain info`) every record is checked as fully, and
 * nothing dense is built.
 *
 * Version 2 adds one record between the header and the layers, framed like a layer:
 * the model section (dc_dcz_model: net text, preprocessing, labels). The reader takes
 * its bytes from a FILE or from a caller's memory buffer through the same rd().
 *
 * Version 3 counts every byte: the writer sizes the
 * layer for every gap width from symbol counts alone (Huffman lengths from
 * frequencies, table sizes from the lengths) and keeps the smallest; code tables are
 * delta-coded bit strings, the codebook holds only the centroids in use (delta-coded),
 * biases may be fp16 or 8-bit, and the net text is deflated. Versions 1 and 2 still
 * read (the `v3` flag of layer_rec and the model parser).
 *
 * Version 4 (what the writer produces now; version 3 still on request, for the tests
 * of its reader: compress/dcz.h) stores the same in fewer bytes: the counts and sizes
 * of a record and its own length are LEB128 varints (minimal ones only), the codebook
 * may hold fp16 keys (per layer, when every centroid fits fp16 and the caller asks),
 * 8-bit biases may be Exp-Golomb coded around a centre (bias format 3, where smaller),
 * and the texts are raw-deflated with a preset dictionary of the net syntax. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "compress/bits.h"
#include "compress/dcz.h"
#include "dc/compress.h"
#include "atomic.h"
#include "util.h"

static const uint8_t MAGIC[4] = {'D', 'C', 'Z', 'F'};
enum {
  HEADER_BYTES = 16,                                /* magic, version, flags, nlayers, header CRC */
  TRAILER_BYTES = 4,                                /* file CRC */
  LAYER_FRAME = 8 + 4,                              /* record length before, layer CRC after */
  RECORD_FIXED = 1 + 4 + 8 + 8 + 4 + 4 + 4 + 8 + 8, /* without name, dims, codebook, payloads */
  MIN_RECORD = RECORD_FIXED + 1 + 4 + 8 + 2,        /* 1-char name, 1 dim, 2 centroids, 2 tables */
  RECORD_FIXED3 = RECORD_FIXED + 4,                 /* version 3: + codebook length */
  MIN_RECORD3 = RECORD_FIXED3 + 1 + 4 + 2,          /* 1-char name, 1 dim, two 1-byte tables */
  MIN_RECORD4 = 1 + 1 + 4 + 1 + 8 + 2,              /* version 4: name, 4 bytes, 1 dim and 8 counts of 1 byte, tables */
  MIN_FRAME4 = 1 + 4,                               /* version 4: a 1-byte record length, the layer CRC */
  MAX_VARINT = 10,                                  /* bytes of a LEB128 u64 */
  FLAG_MODEL = 1                                    /* version 3 and 4 header flag: a model section follows */
};

/* zlib's crc32 takes uInt lengths: feed large buffers in pieces. */
static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n) {
  uLong c = crc;
  while (n > 0) {
    uInt step = n > (1u << 30) ? (1u << 30) : (uInt)n;
    c = crc32(c, p, step);
    p += step;
    n -= step;
  }
  return (uint32_t)c;
}

/* ---------------------------------------------------------------- little-endian bytes */

typedef struct {
  uint8_t *p;
  size_t n, cap;
} obuf;

static void put_bytes(obuf *o, const void *src, size_t n) {
  DC_ASSERT(n <= o->cap - o->n); /* records are sized exactly before writing */
  if (n) memcpy(o->p + o->n, src, n);
  o->n += n;
}
static void put_uint(obuf *o, uint64_t v, int nbytes) {
  uint8_t b[8];
  for (int i = 0; i < nbytes; i++) b[i] = (uint8_t)(v >> (8 * i));
  put_bytes(o, b, (size_t)nbytes);
}
static void put_f32(obuf *o, float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  put_uint(o, u, 4);
}

static uint64_t get_le(const uint8_t *p, int nbytes) {
  uint64_t v = 0;
  for (int i = nbytes - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

typedef struct {
  const uint8_t *p;
  size_t left;
} cursor;

static int take(cursor *c, size_t n, const uint8_t **out) {
  if (n > c->left) return -1;
  *out = c->p;
  c->p += n;
  c->left -= n;
  return 0;
}
static int take_uint(cursor *c, int nbytes, uint64_t *v) {
  const uint8_t *p;
  if (take(c, (size_t)nbytes, &p)) return -1;
  *v = get_le(p, nbytes);
  return 0;
}
/* Unsigned LEB128 (version 4): 7 bits a byte, least significant group first, the high
 * bit set on every byte but the last. Minimal only: a last byte of 0 after another byte
 * (a redundant group) is refused, as are more than 10 bytes and values above 2^64 − 1. */
static int varint_len(uint64_t v) {
  int n = 1;
  while (v >>= 7) n++;
  return n;
}
static void put_varint(obuf *o, uint64_t v) {
  uint8_t b[MAX_VARINT];
  int n = 0;
  do {
    b[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) b[n] |= 0x80;
    n++;
  } while (v);
  put_bytes(o, b, (size_t)n);
}
/* Decode a varint from p[left]: its length (1..10), 0 when it runs past left bytes, -1
 * when it is not minimal or too long. */
static int varint_at(const uint8_t *p, size_t left, uint64_t *v) {
  uint64_t x = 0;
  for (int i = 0; i < MAX_VARINT; i++) {
    if ((size_t)i >= left) return 0;
    uint64_t g = p[i] & 0x7f;
    if (i == MAX_VARINT - 1 && g > 1) return -1; /* past 64 bits */
    x |= g << (7 * i);
    if (!(p[i] & 0x80)) {
      if (i > 0 && p[i] == 0) return -1; /* a redundant zero group */
      *v = x;
      return i + 1;
    }
  }
  return -1;
}
/* take_varint: 0, -1 when the cursor ends inside it, -2 when it is not minimal. */
static int take_varint(cursor *c, uint64_t *v) {
  int n = varint_at(c->p, c->left, v);
  if (n <= 0) return n == 0 ? -1 : -2;
  c->p += n;
  c->left -= (size_t)n;
  return 0;
}

static float f32_at(const uint8_t *p) {
  uint32_t u = (uint32_t)get_le(p, 4);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* ---------------------------------------------------------------- code-length tables */

/* Versions 1 and 2: byte 1..24 = the next symbol's length; byte 0 then u16 r = the
 * next r+1 symbols have no code. Returns NULL on success or what is wrong. */
static const char *table_read(const uint8_t *in, size_t nbytes, int nsym, uint8_t *len) {
  size_t i = 0;
  int s = 0;
  while (i < nbytes) {
    uint8_t b = in[i++];
    if (b > DC_HUFF_MAX_LEN) return "code length byte above 24";
    if (s >= nsym) return "more entries than symbols";
    if (b) {
      len[s++] = b;
      continue;
    }
    if (nbytes - i < 2) return "ends inside a zero run";
    int run = (int)get_le(in + i, 2) + 1;
    i += 2;
    if (run > nsym - s) return "zero run past the last symbol";
    memset(len + s, 0, (size_t)run);
    s += run;
  }
  if (s != nsym) return "covers fewer symbols than the alphabet";
  return NULL;
}

/* ---------------------------------------------------------------- version 3 coding */

/* Version 3 code-length tables: a bit string (MSB-first, zero-padded to a byte) over
 * the symbols in order, `prev` = the previous symbol's length (0 before the first):
 *   0             L = prev
 *   10 s          L = prev + 1 (s = 0) or prev − 1 (s = 1)
 *   110 LLLLL     L = the 5-bit literal, 0..24
 *   111 gamma(r)  the next r symbols (r >= 2) all have L = prev
 * gamma(r) is Elias gamma: floor(log2 r) zero bits, then r in binary. Lengths of
 * neighbouring symbols are close (sorted centroids, gaps), so most cost 1-3 bits;
 * unused symbols are length 0, and runs of them cost a few bits. */
static int gamma_len(uint64_t r) {
  int n = 0;
  while ((r >> n) > 1) n++;
  return 2 * n + 1;
}
static int put_gamma(dc_bitw *w, uint32_t r) {
  int n = (gamma_len(r) - 1) / 2;
  return dc_bitw_put(w, 0, n) || dc_bitw_put(w, r, n + 1);
}

/* Bits of the table for len[nsym]; with w also writes them. */
static uint64_t table_code(const uint8_t *len, int nsym, dc_bitw *w) {
  uint64_t bits = 0;
  int prev = 0, rc = 0;
  for (int s = 0; s < nsym;) {
    int L = len[s];
    if (L == prev) {
      int run = 1;
      while (s + run < nsym && len[s + run] == prev) run++;
      if (run >= 2 && 3 + gamma_len((uint64_t)run) < run) {
        bits += 3 + (uint64_t)gamma_len((uint64_t)run);
        if (w) rc |= dc_bitw_put(w, 7, 3) || put_gamma(w, (uint32_t)run);
      } else {
        bits += (uint64_t)run;
        if (w) rc |= dc_bitw_put(w, 0, run);
      }
      s += run;
      continue;
    }
    if (L == prev + 1 || L == prev - 1) {
      bits += 3;
      if (w) rc |= dc_bitw_put(w, L == prev + 1 ? 4 : 5, 3);
    } else {
      bits += 8;
      if (w) rc |= dc_bitw_put(w, (6u << 5) | (uint32_t)L, 8);
    }
    prev = L;
    s++;
  }
  DC_ASSERT(rc == 0); /* buffers are sized from the same count */
  return bits;
}

/* Inverse of table_code over in[nbytes]; NULL on success or what is wrong. */
static const char *table_read3(const uint8_t *in, size_t nbytes, int nsym, uint8_t *len) {
  dc_bitr r;
  dc_bitr_init(&r, in, (uint64_t)nbytes * 8);
  int prev = 0, s = 0;
  uint32_t b;
  while (s < nsym) {
    if (dc_bitr_get(&r, 1, &b)) return "ends before the last symbol";
    if (b == 0) {
      len[s++] = (uint8_t)prev;
      continue;
    }
    if (dc_bitr_get(&r, 1, &b)) return "ends before the last symbol";
    if (b == 0) {
      if (dc_bitr_get(&r, 1, &b)) return "ends before the last symbol";
      int L = b ? prev - 1 : prev + 1;
      if (L < 0 || L > DC_HUFF_MAX_LEN) return "a length step leaves 0..24";
      len[s++] = (uint8_t)(prev = L);
      continue;
    }
    if (dc_bitr_get(&r, 1, &b)) return "ends before the last symbol";
    if (b == 0) {
      if (dc_bitr_get(&r, 5, &b)) return "ends before the last symbol";
      if (b > DC_HUFF_MAX_LEN) return "code length above 24";
      len[s++] = (uint8_t)(prev = (int)b);
      continue;
    }
    int zeros = 0;
    for (;;) {
      if (dc_bitr_get(&r, 1, &b)) return "ends inside a run length";
      if (b) break;
      if (++zeros > 16) return "run length wider than 17 bits";
    }
    uint32_t rest = 0;
    if (zeros && dc_bitr_get(&r, zeros, &rest)) return "ends inside a run length";
    uint32_t run = (1u << zeros) | rest;
    if (run < 2) return "run of fewer than 2 symbols";
    if (run > (uint32_t)(nsym - s)) return "run past the last symbol";
    memset(len + s, prev, run);
    s += (int)run;
  }
  if (dc_bitr_left(&r) >= 8) return "bytes after the last symbol";
  if (dc_bitr_left(&r) && dc_bitr_peek(&r, (int)dc_bitr_left(&r))) return "nonzero padding bits";
  return NULL;
}

/* Version 3 codebook: the m centroids in use (those whose index has a code), in index
 * order, as a bit string: each value's order-preserving 32-bit key (dc_float_key, util.h: sign flipped for
 * positives, all bits flipped for negatives, so keys sort as the floats do); the first
 * key in 32 bits, then (m >= 2) a 5-bit order r and each next key's difference from the
 * previous, zigzag-mapped (d >= 0: 2d; d < 0: −2d − 1), as an order-r Exp-Golomb code:
 * x = z + 2^r written as bitlen(x) − 1 − r zero bits, then x in binary. Sorted centroids
 * a similar distance apart cost ~10-20 bits instead of 32, and decoding is exact. */
static int bitlen64(uint64_t x) {
  int n = 0;
  while (x) {
    n++;
    x >>= 1;
  }
  return n;
}
static uint64_t zigzag(uint32_t key, uint32_t prev) {
  int64_t d = (int64_t)key - (int64_t)prev;
  return d >= 0 ? (uint64_t)d << 1 : ((uint64_t)(-(d + 1)) << 1) | 1u;
}
static int put_bits64(dc_bitw *w, uint64_t v, int n) {
  if (n > 32) {
    if (dc_bitw_put(w, (uint32_t)(v >> 32), n - 32)) return -1;
    n = 32;
  }
  return dc_bitw_put(w, (uint32_t)v, n);
}

/* The order-r Exp-Golomb code of z (the codebook's key differences, format 3's bias
 * codes): x = z + 2^r as bitlen(x) − 1 − r zero bits, then x in binary. eg_bits is its
 * length, eg_put writes it (0, or -1 when w is full), eg_get reads one whose x takes at
 * most max_bits bits into *z: 0, 1 when the bits end, 2 when x would be wider. */
static uint64_t eg_bits(uint64_t z, int r) { return 2 * (uint64_t)bitlen64(z + (1ull << r)) - 1 - (uint64_t)r; }
static int eg_put(dc_bitw *w, uint64_t z, int r) {
  uint64_t x = z + (1ull << r);
  int n = bitlen64(x);
  return put_bits64(w, 0, n - 1 - r) || put_bits64(w, x, n) ? -1 : 0;
}
static int eg_get(dc_bitr *r, int order, int max_bits, uint64_t *z) {
  uint32_t b;
  int zeros = 0;
  for (;;) {
    if (dc_bitr_get(r, 1, &b)) return 1;
    if (b) break;
    if (++zeros + 1 + order > max_bits) return 2;
  }
  if (zeros + 1 + order > max_bits) return 2;
  uint64_t x = 1;
  for (int left = zeros + order; left > 0;) {
    int n = left > 16 ? 16 : left;
    if (dc_bitr_get(r, n, &b)) return 1;
    x = (x << n) | b;
    left -= n;
  }
  *z = x - (1ull << order);
  return 0;
}

/* Bits of the codebook of m keys of kb bits each (32: fp32 keys; 16, version 4: fp16
 * keys); with w also writes them. The order r is searched over 0..kb−1. */
static uint64_t codebook_code(const uint32_t *key, int m, int kb, dc_bitw *w) {
  if (m == 0) return 0;
  uint64_t best = UINT64_MAX;
  int r_best = 0;
  for (int r = 0; r < kb && m >= 2; r++) {
    uint64_t bits = 0;
    for (int j = 1; j < m; j++) bits += eg_bits(zigzag(key[j], key[j - 1]), r);
    if (bits < best) {
      best = bits;
      r_best = r;
    }
  }
  uint64_t total = (uint64_t)kb + (m >= 2 ? 5 + best : 0);
  if (w) {
    int rc = dc_bitw_put(w, key[0], kb);
    if (m >= 2) rc |= dc_bitw_put(w, (uint32_t)r_best, 5);
    for (int j = 1; j < m; j++) rc |= eg_put(w, zigzag(key[j], key[j - 1]), r_best);
    DC_ASSERT(rc == 0);
  }
  return total;
}

/* fp16 keys (version 4): the 16 bits of a binary16 made order-preserving as dc_float_key
 * does for 32 (positive: sign bit set; negative: every bit inverted). */
static uint32_t half_key(uint16_t h) { return (h & 0x8000u) ? (uint32_t)(uint16_t)~h : (uint32_t)(h | 0x8000u); }
static uint16_t key_half(uint32_t k) { return (uint16_t)((k & 0x8000u) ? (k & 0x7fffu) : (~k & 0xffffu)); }
static float f16_to(uint16_t h);

/* Inverse: m values of kb-bit keys into cb[used[j]]; NULL on success or what is wrong. A
 * difference code is at most kb + 2 bits (z < 2^(kb+1), so x = z + 2^r needs no more for
 * r < kb). */
static const char *codebook_read3(const uint8_t *in, size_t nbytes, const int *used, int m, int kb, float *cb) {
  dc_bitr r;
  dc_bitr_init(&r, in, (uint64_t)nbytes * 8);
  if (m == 0) return nbytes ? "bytes in the codebook of a layer without kept weights" : NULL;
  const int max_code = kb + 2;
  const int64_t max_key = kb == 32 ? (int64_t)UINT32_MAX : (1 << kb) - 1;
  uint32_t key, order = 0;
  if (dc_bitr_get(&r, kb, &key)) return "ends inside the first centroid";
  if (m >= 2 && dc_bitr_get(&r, 5, &order)) return "ends before the code order";
  for (int j = 0; j < m; j++) {
    if (j > 0) {
      uint64_t z;
      int e = eg_get(&r, (int)order, max_code, &z);
      if (e == 1) return "ends inside a centroid difference";
      if (e == 2) return kb == 32 ? "centroid difference wider than 34 bits" : "centroid difference wider than 18 bits";
      int64_t d = (z & 1) ? -(int64_t)(z >> 1) - 1 : (int64_t)(z >> 1);
      int64_t next = (int64_t)key + d;
      if (next < 0 || next > max_key)
        return kb == 32 ? "a centroid difference leaves the 32-bit range"
                        : "a centroid difference leaves the 16-bit range";
      key = (uint32_t)next;
    }
    if (kb == 32) {
      cb[used[j]] = dc_key_float(key);
      if (!isfinite(cb[used[j]])) return "a centroid is not finite";
    } else {
      uint16_t h = key_half(key);
      if (((h >> 10) & 0x1f) == 0x1f) return "an fp16 centroid is not finite";
      cb[used[j]] = f16_to(h);
    }
  }
  if (dc_bitr_left(&r) >= 8) return "bytes after the last centroid";
  if (dc_bitr_left(&r) && dc_bitr_peek(&r, (int)dc_bitr_left(&r))) return "nonzero padding bits";
  return NULL;
}

/* Biases (version 3 bias format byte: 0 fp32, 1 fp16, 2 8-bit linear; version 4 also 3:
 * the 8-bit codes Exp-Golomb coded, bias_eg_code). */
enum { BIAS_F32 = 0, BIAS_F16 = 1, BIAS_U8 = 2, BIAS_U8EG = 3 };
/* Version 4 formats byte: bits 0-1 the bias format, bit 2 fp16 codebook keys. */
enum { FMT_BIAS = 3, FMT_CB16 = 4 };

static int bias_format(int bias_bits) { return bias_bits == 16 ? BIAS_F16 : bias_bits == 8 ? BIAS_U8 : BIAS_F32; }
/* Bytes of n biases in formats 0-2 (format 3's depend on the values: bias_eg_code). */
static uint64_t bias_bytes(int format, uint64_t n) {
  return format == BIAS_F32 ? 4 * n : format == BIAS_F16 ? 2 * n : n ? 8 + n : 0;
}
static int bias_bits_of(int format) { return format == BIAS_F32 ? 32 : format == BIAS_F16 ? 16 : 8; }

/* Bias format 3 (version 4): format 2's lo and step, then a bit string (MSB-first,
 * zero-padded, no whole byte of padding) of the 8-bit centre c, a 3-bit order r and, for
 * each bias, its code's difference from c, zigzag-mapped, as an order-r Exp-Golomb code
 * (as the codebook's differences). Biases of a layer cluster (a few outliers stretch the
 * 8-bit range), so most codes sit near the centre and take 3-7 bits. The writer picks
 * the c and r giving the fewest bits; this is their count (without lo and step), and
 * with w also the bits. */
static uint64_t bias_eg_code(const uint8_t *code, int n, dc_bitw *w) {
  uint64_t best = UINT64_MAX;
  int c_best = 0, r_best = 0;
  for (int c = 0; c < 256; c++)
    for (int r = 0; r < 8; r++) {
      uint64_t bits = 11;
      for (int j = 0; j < n && bits < best; j++) bits += eg_bits(zigzag(code[j], (uint32_t)c), r);
      if (bits < best) {
        best = bits;
        c_best = c;
        r_best = r;
      }
    }
  if (w) {
    int rc = dc_bitw_put(w, (uint32_t)c_best, 8) || dc_bitw_put(w, (uint32_t)r_best, 3);
    for (int j = 0; j < n; j++) rc |= eg_put(w, zigzag(code[j], (uint32_t)c_best), r_best);
    DC_ASSERT(rc == 0);
  }
  return best;
}

/* Inverse: n codes from in[nbytes]; NULL on success or what is wrong. */
static const char *bias_eg_read(const uint8_t *in, uint64_t nbytes, uint64_t n, uint8_t *code) {
  dc_bitr r;
  dc_bitr_init(&r, in, nbytes * 8);
  uint32_t c, order;
  if (dc_bitr_get(&r, 8, &c) || dc_bitr_get(&r, 3, &order)) return "ends before the first 8-bit code";
  for (uint64_t j = 0; j < n; j++) {
    uint64_t z;
    int e = eg_get(&r, (int)order, 10, &z);
    if (e == 1) return "ends inside an 8-bit code";
    if (e == 2) return "8-bit code difference wider than 10 bits";
    int64_t v = (int64_t)c + ((z & 1) ? -(int64_t)(z >> 1) - 1 : (int64_t)(z >> 1));
    if (v < 0 || v > 255) return "an 8-bit code leaves 0..255";
    code[j] = (uint8_t)v;
  }
  if (dc_bitr_left(&r) >= 8) return "bytes after the last 8-bit code";
  if (dc_bitr_left(&r) && dc_bitr_peek(&r, (int)dc_bitr_left(&r))) return "nonzero padding bits";
  return NULL;
}

/* fp32 -> binary16, round to nearest, ties to even; -1 when it would overflow (or is
 * not finite). */
static int f16_from(float f, uint16_t *h) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a >= 0x477ff000u) return -1; /* >= 65520 rounds to infinity; also inf, NaN */
  if (a < 0x38800000u) {           /* below 2^-14: a subnormal half (or zero) */
    float af;
    memcpy(&af, &a, sizeof af);
    *h = (uint16_t)(sign | (uint32_t)rintf(af * 16777216.0f)); /* units of 2^-24; 1024 = 2^-14 */
    return 0;
  }
  uint32_t hv = ((((a >> 23) - 127 + 15) << 10) | ((a >> 13) & 0x3ffu)), rest = a & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (hv & 1))) hv++; /* a carry moves into the exponent */
  *h = (uint16_t)(sign | hv);
  return 0;
}
static float f16_to(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    float f = ldexpf((float)m, -24);
    return sign ? -f : f;
  }
  uint32_t u = sign | ((e - 15 + 127) << 23) | (m << 13);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static void u8_params(const float *in, int n, float *lo, float *step) {
  float mn = in[0], mx = in[0];
  for (int i = 1; i < n; i++) {
    if (in[i] < mn) mn = in[i];
    if (in[i] > mx) mx = in[i];
  }
  *lo = mn;
  *step = (float)(((double)mx - (double)mn) / 255.0);
}
static uint8_t u8_code(float b, float lo, float step) {
  if (!(step > 0.0f)) return 0;
  double c = nearbyint(((double)b - (double)lo) / (double)step);
  return (uint8_t)(c < 0 ? 0 : c > 255 ? 255 : c);
}
static float u8_value(float lo, float step, unsigned code) {
  return (float)((double)lo + (double)code * (double)step); /* the product is exact in double */
}

dc_status dc_dcz_bias_round(const float *in, int n, int bias_bits, float *out) {
  if (bias_bits != 0 && bias_bits != 32 && bias_bits != 16 && bias_bits != 8)
    return dc_fail(DC_ERR_ARG, "bias_bits = %d, must be 32, 16 or 8", bias_bits);
  for (int i = 0; i < n; i++)
    if (!isfinite(in[i])) return dc_fail(DC_ERR_ARG, "bias[%d] = %g is not finite", i, (double)in[i]);
  if (bias_bits == 16) {
    for (int i = 0; i < n; i++) {
      uint16_t h;
      if (f16_from(in[i], &h)) return dc_fail(DC_ERR_ARG, "bias[%d] = %g does not fit fp16", i, (double)in[i]);
      out[i] = f16_to(h);
    }
  } else if (bias_bits == 8 && n > 0) {
    float lo, step;
    u8_params(in, n, &lo, &step);
    for (int i = 0; i < n; i++) {
      float v = u8_value(lo, step, u8_code(in[i], lo, step));
      if (!isfinite(v)) return dc_fail(DC_ERR_ARG, "bias[%d] = %g: the 8-bit range overflows fp32", i, (double)in[i]);
      out[i] = v;
    }
  } else if (out != in) {
    memcpy(out, in, sizeof *out * (size_t)n);
  }
  return DC_OK;
}

int dc_dcz_codebook_round(const float *in, int k, int codebook_bits, float *out) {
  int fits = codebook_bits == 16;
  uint16_t h;
  for (int j = 0; j < k && fits; j++) fits = f16_from(in[j], &h) == 0; /* also refuses inf, NaN */
  for (int j = 0; j < k; j++) out[j] = fits ? (f16_from(in[j], &h), f16_to(h)) : in[j];
  return fits ? 16 : 32;
}

/* Write the n biases of the given format (sizes from bias_bytes; format 3: their
 * 8-bit codes[n] as eg_bytes of bit string, from bias_eg_code). */
static void put_biases(obuf *o, const float *b, int n, int format, const uint8_t *codes, uint64_t eg_bytes) {
  if (format == BIAS_F32) {
    for (int j = 0; j < n; j++) put_f32(o, b[j]);
  } else if (format == BIAS_F16) {
    for (int j = 0; j < n; j++) {
      uint16_t h = 0;
      int rc = f16_from(b[j], &h);
      DC_ASSERT(rc == 0); /* validated */
      put_uint(o, h, 2);
    }
  } else if (n > 0) {
    float lo, step;
    u8_params(b, n, &lo, &step);
    put_f32(o, lo);
    put_f32(o, step);
    if (format == BIAS_U8EG) {
      DC_ASSERT(eg_bytes <= o->cap - o->n);
      dc_bitw w;
      dc_bitw_init(&w, o->p + o->n, (size_t)eg_bytes);
      bias_eg_code(codes, n, &w);
      o->n += (size_t)eg_bytes;
    } else {
      for (int j = 0; j < n; j++) put_uint(o, u8_code(b[j], lo, step), 1);
    }
  }
}

/* Inverse into out[n] from p[bl]; NULL on success or what is wrong. */
static const char *read_biases(const uint8_t *p, uint64_t bl, uint64_t n, int format, float *out) {
  if (format == BIAS_F32) {
    for (uint64_t j = 0; j < n; j++)
      if (!isfinite(out[j] = f32_at(p + 4 * j))) return "a bias is not finite";
  } else if (format == BIAS_F16) {
    for (uint64_t j = 0; j < n; j++) {
      uint16_t h = (uint16_t)get_le(p + 2 * j, 2);
      if (((h >> 10) & 0x1f) == 0x1f) return "an fp16 bias is not finite";
      out[j] = f16_to(h);
    }
  } else if (n > 0) {
    float lo = f32_at(p), step = f32_at(p + 4);
    if (!isfinite(lo) || !isfinite(step) || step < 0.0f) return "8-bit bias range is not finite or has a negative step";
    const uint8_t *code = p + 8;
    uint8_t *dec = NULL;
    if (format == BIAS_U8EG) {
      if (!(dec = dc_alloc((size_t)n))) return "out of memory";
      const char *why = bias_eg_read(p + 8, bl - 8, n, dec);
      if (why) {
        dc_free(dec);
        return why;
      }
      code = dec;
    }
    for (uint64_t j = 0; j < n; j++)
      if (!isfinite(out[j] = u8_value(lo, step, code[j]))) {
        dc_free(dec);
        return "an 8-bit bias is not finite";
      }
    dc_free(dec);
  }
  return NULL;
}

/* ---------------------------------------------------------------- stats */

typedef struct {
  uint64_t count, nnz, nentries, nbias, framed; /* framed: record with its length and CRC */
  uint32_t t1, t2;
  uint64_t b1, b2;
  int bits, gap_bits, bias_bits;
  uint64_t centroids, cb_bytes, bias_bytes;
  int codebook_bits;
} layer_sizes;

static void fill_stats(dc_dcz_layer_stats *s, const char *name, const layer_sizes *z) {
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "%s", name);
  s->count = z->count;
  s->nnz = z->nnz;
  s->fillers = z->nentries - z->nnz;
  s->bits = z->bits;
  s->gap_bits = z->gap_bits;
  s->bias_bits = z->bias_bits;
  s->nbias = z->nbias;
  s->centroids = z->centroids;
  s->codebook_bits = z->codebook_bits;
  s->codebook_bytes = z->cb_bytes;
  s->table_bytes = (uint64_t)z->t1 + z->t2;
  s->index_bytes = (z->b1 + 7) / 8;
  s->gap_bytes = (z->b2 + 7) / 8;
  s->bias_bytes = z->bias_bytes;
  s->total_bytes = z->framed;
  s->header_bytes = s->total_bytes - s->codebook_bytes - s->table_bytes - s->index_bytes - s->gap_bytes - s->bias_bytes;
  s->index_bits_raw = z->nentries * (uint64_t)z->bits;
  s->index_bits = z->b1;
  s->gap_bits_raw = z->nentries * (uint64_t)z->gap_bits;
  s->gap_bits_huff = z->b2;
  s->dense_bytes = 4 * (z->count + z->nbias);
  if (z->nnz) {
    double k = (double)z->nnz;
    s->weight_bpw_raw = (double)s->index_bits_raw / k;
    s->weight_bpw = (double)s->index_bits / k;
    s->gap_bpw_raw = (double)s->gap_bits_raw / k;
    s->gap_bpw = (double)s->gap_bits_huff / k;
  }
  s->ratio = (double)s->dense_bytes / (double)s->total_bytes;
}

static void finish_stats(dc_dcz_stats *st) {
  st->file_bytes = HEADER_BYTES + TRAILER_BYTES + st->model_bytes;
  st->dense_bytes = 0;
  for (int i = 0; i < st->nlayers; i++) {
    st->file_bytes += st->layer[i].total_bytes;
    st->dense_bytes += st->layer[i].dense_bytes;
  }
  st->ratio = (double)st->dense_bytes / (double)st->file_bytes;
}

void dc_dcz_stats_free(dc_dcz_stats *stats) {
  if (!stats) return;
  dc_free(stats->layer);
  memset(stats, 0, sizeof *stats);
}

/* ---------------------------------------------------------------- writer */

/* Weights the layers of a size-byte file may declare in all: what bounds the dense
 * arrays a reader builds by the bytes it was given (read_impl; dc_dcz_write_model refuses to write more). */
static uint64_t dense_budget(uint64_t size) {
  const uint64_t cap = (uint64_t)DC_DCZ_MAX_LAYERS * DC_DCZ_MAX_WEIGHTS;
  return size >= cap / DC_DCZ_DENSE_PER_BYTE ? cap : DC_DCZ_DENSE_FREE + DC_DCZ_DENSE_PER_BYTE * size;
}

/* 1..63 printable ASCII characters; returns the length or -1. */
static int name_len(const char *name) {
  int n = 0;
  while (n < 64 && name[n]) {
    if (name[n] < 0x20 || name[n] > 0x7e) return -1;
    n++;
  }
  return (n >= 1 && n <= 63) ? n : -1;
}

static dc_status validate_layer(const char *path, int li, const dc_dcz_layer *L, uint64_t *count) {
  if (name_len(L->name) < 0)
    return dc_fail(DC_ERR_ARG, "%s: layer %d: name must be 1..63 printable ASCII characters", path, li);
  const char *nm = L->name;
  if (L->ndim < 1 || L->ndim > 4)
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): ndim = %d, must be 1..4", path, li, nm, L->ndim);
  uint64_t c = 1;
  for (int d = 0; d < L->ndim; d++) {
    if (L->dims[d] < 1)
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): dims[%d] = %d, must be >= 1", path, li, nm, d, L->dims[d]);
    c *= (uint64_t)L->dims[d];
    if (c > DC_DCZ_MAX_WEIGHTS)
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): more than %u weights", path, li, nm, DC_DCZ_MAX_WEIGHTS);
  }
  if (L->bits < 1 || L->bits > 8)
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): bits = %d, must be 1..8", path, li, nm, L->bits);
  if (L->gap_bits != DC_DCZ_GAP_AUTO && (L->gap_bits < 1 || L->gap_bits > 16))
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): gap_bits = %d, must be 1..16 or %d (auto)", path, li, nm,
                   L->gap_bits, DC_DCZ_GAP_AUTO);
  if (L->nbias < 0 || (uint64_t)L->nbias > DC_DCZ_MAX_WEIGHTS)
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): nbias = %d, must be 0..%u", path, li, nm, L->nbias,
                   DC_DCZ_MAX_WEIGHTS);
  if (!L->codebook) return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): codebook is NULL", path, li, nm);
  for (int j = 0; j < (1 << L->bits); j++)
    if (!isfinite(L->codebook[j]))
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): codebook[%d] = %g is not finite", path, li, nm, j,
                     (double)L->codebook[j]);
  if (L->codebook_bits != 0 && L->codebook_bits != 32 && L->codebook_bits != 16)
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): codebook_bits = %d, must be 32 or 16", path, li, nm,
                   L->codebook_bits);
  if (L->nbias > 0 && !L->bias) return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): bias is NULL", path, li, nm);
  for (int j = 0; j < L->nbias; j++)
    if (!isfinite(L->bias[j]))
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): bias[%d] = %g is not finite", path, li, nm, j,
                     (double)L->bias[j]);
  if (L->bias_bits != 0 && L->bias_bits != 32 && L->bias_bits != 16 && L->bias_bits != 8)
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): bias_bits = %d, must be 32, 16 or 8", path, li, nm, L->bias_bits);
  if (L->nbias > 0 && L->bias_bits != 0 && L->bias_bits != 32) {
    float *tmp = dc_alloc(sizeof *tmp * (size_t)L->nbias);
    if (!tmp) return DC_ERR_NOMEM;
    dc_status st = dc_dcz_bias_round(L->bias, L->nbias, L->bias_bits, tmp);
    dc_free(tmp);
    if (st != DC_OK) {
      char why[256]; /* dc_fail formats into the buffer dc_failure_reason returns */
      snprintf(why, sizeof why, "%s", dc_failure_reason());
      dc_failure_clear();
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): %d-bit biases: %s", path, li, nm, L->bias_bits, why);
    }
  }
  for (uint64_t i = 0; i < c; i++) {
    if (L->mask && L->mask[i] > 1)
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): mask[%llu] = %d, must be 0 or 1", path, li, nm,
                     (unsigned long long)i, L->mask[i]);
    if (L->mask && !L->mask[i]) continue;
    if (!L->index) return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): index is NULL but weights are kept", path, li, nm);
    if (L->index[i] >= (1 << L->bits))
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): index[%llu] = %d, codebook has %d entries", path, li, nm,
                     (unsigned long long)i, L->index[i], 1 << L->bits);
  }
  *count = c;
  return DC_OK;
}

/* One layer's two streams for one gap width, sized from symbol counts alone. */
typedef struct {
  int w;            /* gap width */
  uint64_t fillers; /* filler entries; entries = nnz + fillers */
  uint64_t b1, b2;  /* bits of the weight-index and gap streams */
  uint64_t t1, t2;  /* bytes of the two code tables */
  uint8_t *len_i;   /* (k + 1) code lengths of the index alphabet (caller's) */
  uint8_t *len_g;   /* (2^16) room for the gap alphabet's 2^w code lengths (caller's) */
} stream_plan;

/* Plan width w for kept weights whose skip distances (pruned positions before each)
 * are skip[nnz] and whose codebook indices have the counts ifreq[k]: fillers, symbol
 * frequencies, optimal code lengths (package-merge), stream bits (sum freq·len) and
 * table bytes, without building a stream. freq: scratch of max(k + 1, 2^16). */
static dc_status plan_streams(const size_t *skip, size_t nnz, const uint64_t *ifreq, int k, int w, uint64_t *freq,
                              stream_plan *p) {
  const size_t gmask = ((size_t)1 << w) - 1;
  const int nsym_g = 1 << w;
  uint64_t fillers = 0;
  memset(freq, 0, sizeof *freq * (size_t)nsym_g);
  for (size_t i = 0; i < nnz; i++) { /* d skipped: floor(d / 2^w) fillers, then gap d mod 2^w */
    fillers += skip[i] >> w;
    freq[skip[i] & gmask]++;
  }
  freq[gmask] += fillers;
  p->w = w;
  p->fillers = fillers;
  DC_TRY(dc_huff_lengths(freq, nsym_g, DC_HUFF_MAX_LEN, p->len_g));
  p->b2 = dc_huff_cost(freq, p->len_g, nsym_g);
  p->t2 = (table_code(p->len_g, nsym_g, NULL) + 7) / 8;
  memcpy(freq, ifreq, sizeof *freq * (size_t)k);
  freq[k] = fillers; /* the filler symbol */
  DC_TRY(dc_huff_lengths(freq, k + 1, DC_HUFF_MAX_LEN, p->len_i));
  p->b1 = dc_huff_cost(freq, p->len_i, k + 1);
  p->t1 = (table_code(p->len_i, k + 1, NULL) + 7) / 8;
  return DC_OK;
}

/* The bytes of a planned layer of nnz kept weights that depend on the gap width
 * (version 4: also the varints of the sizes and of the entry count). */
static uint64_t plan_bytes(const stream_plan *p, int version, uint64_t nnz) {
  uint64_t n = p->t1 + p->t2 + (p->b1 + 7) / 8 + (p->b2 + 7) / 8;
  if (version >= 4)
    n += (uint64_t)(varint_len(p->t1) + varint_len(p->t2) + varint_len(p->b1) + varint_len(p->b2) +
                    varint_len(nnz + p->fillers));
  return n;
}

/* Build the framed record (length, record, u32 CRC) of a validated layer of `count`
 * weights in a new buffer *out of *outlen bytes, in the layout of `version` (3: u64
 * length and fixed-width fields, fp32 codebook keys; 4: varints, fp16 codebook keys
 * when L->codebook_bits asks and every centroid fits). With gap_bits =
 * DC_DCZ_GAP_AUTO every width 1..16 is planned and the one giving the fewest bytes
 * kept (the smallest on ties); nothing else in the record depends on the width (but
 * the varint of the record's own length, which may rarely differ by a byte), so that
 * is the smallest record. */
static dc_status encode_layer(int version, const dc_dcz_layer *L, uint64_t count, uint8_t **out, size_t *outlen,
                              dc_dcz_layer_stats *stats) {
  const int k = 1 << L->bits, nsym_i = k + 1;
  size_t nnz = 0;
  for (uint64_t i = 0; i < count; i++) nnz += !L->mask || L->mask[i];

  dc_status st = DC_OK;
  size_t ne = 0;
  size_t *pos = dc_alloc(nnz * sizeof *pos), *skip = dc_alloc(nnz * sizeof *skip);
  uint64_t *ifreq = dc_alloc((size_t)k * sizeof *ifreq), *freq = dc_alloc(((size_t)1 << 16) * sizeof *freq);
  uint8_t *len_i = dc_alloc((size_t)nsym_i), *len_g = dc_alloc((size_t)1 << 16);
  int *used = dc_alloc((size_t)k * sizeof *used);
  uint32_t *ckey = dc_alloc((size_t)k * sizeof *ckey);
  float *ckey_f = dc_alloc((size_t)k * sizeof *ckey_f); /* scratch of dc_dcz_codebook_round */
  uint8_t *bcode = NULL;                                /* (nbias) 8-bit codes, for bias format 3 */
  uint16_t *gap = NULL, *isym = NULL;
  uint8_t *fill = NULL, *s1 = NULL, *s2 = NULL, *rec = NULL;
  uint64_t b1 = 0, b2 = 0;
  stream_plan plan = {0};
  if (!pos || !skip || !ifreq || !freq || !len_i || !len_g || !used || !ckey || !ckey_f) st = DC_ERR_NOMEM;
  if (st == DC_OK) {
    size_t j = 0, next = 0;
    for (uint64_t i = 0; i < count; i++)
      if (!L->mask || L->mask[i]) {
        pos[j] = (size_t)i;
        skip[j++] = (size_t)i - next;
        next = (size_t)i + 1;
        ifreq[L->index[i]]++;
      }
    plan.len_i = len_i;
    plan.len_g = len_g;
    if (L->gap_bits != DC_DCZ_GAP_AUTO) {
      st = plan_streams(skip, nnz, ifreq, k, L->gap_bits, freq, &plan);
    } else {
      int best = 1;
      uint64_t best_bytes = UINT64_MAX;
      for (int w = 1; w <= 16 && st == DC_OK; w++) {
        st = plan_streams(skip, nnz, ifreq, k, w, freq, &plan);
        if (st == DC_OK && plan_bytes(&plan, version, nnz) < best_bytes) {
          best_bytes = plan_bytes(&plan, version, nnz);
          best = w;
        }
      }
      if (st == DC_OK) st = plan_streams(skip, nnz, ifreq, k, best, freq, &plan);
    }
  }
  const int w = plan.w, nsym_g = 1 << w;
  if (st == DC_OK) st = dc_gap_count(pos, nnz, w, &ne);
  if (st == DC_OK) {
    DC_ASSERT(ne == nnz + plan.fillers);
    gap = dc_alloc(ne * sizeof *gap);
    isym = dc_alloc(ne * sizeof *isym);
    fill = dc_alloc(ne);
    if (!gap || !isym || !fill) st = DC_ERR_NOMEM;
  }
  if (st == DC_OK) st = dc_gap_encode(pos, nnz, w, gap, fill, ne);
  if (st == DC_OK) {
    for (size_t e = 0, j = 0; e < ne; e++) isym[e] = fill[e] ? (uint16_t)k : L->index[pos[j++]];
    st = dc_huff_encode(isym, ne, len_i, nsym_i, &s1, &b1);
  }
  if (st == DC_OK) st = dc_huff_encode(gap, ne, len_g, nsym_g, &s2, &b2);
  if (st == DC_OK) {
    DC_ASSERT(b1 == plan.b1 && b2 == plan.b2);
    int m = 0; /* centroids in use: those whose index has a code */
    for (int j = 0; j < k; j++)
      if (len_i[j]) used[m++] = j;
    /* their keys: fp16 (version 4, codebook_bits 16, every centroid within fp16) or fp32 */
    const int kb = version >= 4 && dc_dcz_codebook_round(L->codebook, k, L->codebook_bits, ckey_f) == 16 ? 16 : 32;
    for (int j = 0; j < m; j++) {
      uint16_t h = 0;
      if (kb == 16) f16_from(L->codebook[used[j]], &h);
      ckey[j] = kb == 16 ? half_key(h) : dc_float_key(L->codebook[used[j]]);
    }
    const uint64_t cbl = (codebook_code(ckey, m, kb, NULL) + 7) / 8;
    int bfmt = bias_format(L->bias_bits);
    uint64_t bl = bias_bytes(bfmt, (uint64_t)L->nbias), eg_bytes = 0;
    if (version >= 4 && bfmt == BIAS_U8 && L->nbias > 0) { /* format 3 when it is smaller */
      if (!(bcode = dc_alloc((size_t)L->nbias))) st = DC_ERR_NOMEM;
      float lo = 0, step = 0;
      if (bcode) u8_params(L->bias, L->nbias, &lo, &step);
      for (int j = 0; bcode && j < L->nbias; j++) bcode[j] = u8_code(L->bias[j], lo, step);
      if (bcode) eg_bytes = (bias_eg_code(bcode, L->nbias, NULL) + 7) / 8;
      if (bcode && 8 + eg_bytes < bl) {
        bfmt = BIAS_U8EG;
        bl = 8 + eg_bytes;
      }
    }
    int nl = name_len(L->name);
    const uint64_t payload = plan.t1 + plan.t2 + cbl + (b1 + 7) / 8 + (b2 + 7) / 8 + bl;
    size_t rl, framed;
    if (version >= 4) {
      uint64_t head = 1 + (uint64_t)nl + 4;
      for (int d = 0; d < L->ndim; d++) head += (uint64_t)varint_len((uint64_t)L->dims[d]);
      const uint64_t v[8] = {nnz, ne, (uint64_t)L->nbias, plan.t1, plan.t2, cbl, b1, b2};
      for (int j = 0; j < 8; j++) head += (uint64_t)varint_len(v[j]);
      rl = (size_t)(head + payload);
      framed = (size_t)varint_len(rl) + rl + 4;
    } else {
      rl = RECORD_FIXED3 + (size_t)nl + 4 * (size_t)L->ndim + (size_t)payload;
      framed = rl + LAYER_FRAME;
    }
    rec = st == DC_OK ? dc_alloc(framed) : NULL;
    if (!rec) st = DC_ERR_NOMEM;
    if (st == DC_OK) {
      obuf o = {rec, 0, framed};
      if (version >= 4)
        put_varint(&o, rl);
      else
        put_uint(&o, rl, 8);
      put_uint(&o, (uint64_t)nl, 1);
      put_bytes(&o, L->name, (size_t)nl);
      put_uint(&o, (uint64_t)L->ndim, 1);
      put_uint(&o, (uint64_t)L->bits, 1);
      put_uint(&o, (uint64_t)w, 1);
      put_uint(&o, (uint64_t)bfmt | (kb == 16 ? FMT_CB16 : 0u), 1);
      if (version >= 4) {
        for (int d = 0; d < L->ndim; d++) put_varint(&o, (uint64_t)L->dims[d]);
        const uint64_t v[8] = {nnz, ne, (uint64_t)L->nbias, plan.t1, plan.t2, cbl, b1, b2};
        for (int j = 0; j < 8; j++) put_varint(&o, v[j]);
      } else {
        for (int d = 0; d < L->ndim; d++) put_uint(&o, (uint64_t)L->dims[d], 4);
        put_uint(&o, nnz, 8);
        put_uint(&o, ne, 8);
        put_uint(&o, (uint64_t)L->nbias, 4);
        put_uint(&o, plan.t1, 4);
        put_uint(&o, plan.t2, 4);
        put_uint(&o, cbl, 4);
        put_uint(&o, b1, 8);
        put_uint(&o, b2, 8);
      }
      dc_bitw bw; /* the tables and the codebook are bit strings padded to bytes */
      dc_bitw_init(&bw, rec + o.n, (size_t)plan.t1);
      table_code(len_i, nsym_i, &bw);
      o.n += (size_t)plan.t1;
      dc_bitw_init(&bw, rec + o.n, (size_t)plan.t2);
      table_code(len_g, nsym_g, &bw);
      o.n += (size_t)plan.t2;
      dc_bitw_init(&bw, rec + o.n, (size_t)cbl);
      codebook_code(ckey, m, kb, &bw);
      o.n += (size_t)cbl;
      put_bytes(&o, s1, (size_t)((b1 + 7) / 8));
      put_bytes(&o, s2, (size_t)((b2 + 7) / 8));
      put_biases(&o, L->bias, L->nbias, bfmt, bcode, eg_bytes);
      put_uint(&o, crc_update(0, rec, o.n), 4);
      DC_ASSERT(o.n == o.cap);
      *out = rec;
      *outlen = o.n;
      if (stats) {
        layer_sizes z = {count,
                         nnz,
                         ne,
                         (uint64_t)L->nbias,
                         framed,
                         (uint32_t)plan.t1,
                         (uint32_t)plan.t2,
                         b1,
                         b2,
                         L->bits,
                         w,
                         bias_bits_of(bfmt),
                         (uint64_t)m,
                         cbl,
                         bl,
                         kb};
        fill_stats(stats, L->name, &z);
      }
    }
  }
  dc_free(pos);
  dc_free(skip);
  dc_free(ifreq);
  dc_free(freq);
  dc_free(len_i);
  dc_free(len_g);
  dc_free(used);
  dc_free(ckey);
  dc_free(ckey_f);
  dc_free(bcode);
  dc_free(gap);
  dc_free(isym);
  dc_free(fill);
  dc_free(s1);
  dc_free(s2);
  return st;
}

/* ---------------------------------------------------------------- model section */

enum {
  MODEL_FIXED = 4 + 1 + 3 + 4 + 12 + 4 + 4,      /* without the two texts */
  MODEL_FIXED3 = MODEL_FIXED + 4 + 4,            /* version 3: + the two deflated lengths */
  MODEL_FIXED4 = 1 + 1 + 1 + 1 + 12 + 4 + 1 + 1, /* version 4: 1-byte varints, no reserved bytes */
  MAX_RESIZE = 4096
}; /* the inference path allocates resize² pixels per image */

/* Text the model section may hold: printable ASCII, tab, CR, LF. Returns the length,
 * or -1 when empty, too long or holding another byte (*bad set to it). */
static long text_len(const char *t, int *bad) {
  size_t n = 0;
  for (; t[n]; n++) {
    unsigned char c = (unsigned char)t[n];
    if (n >= DC_DCZ_MAX_TEXT) return -1;
    if (!(c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c <= 0x7e))) {
      *bad = c;
      return -1;
    }
  }
  return n ? (long)n : -1;
}

static dc_status validate_model(const char *path, const dc_dcz_model *m, long *netlen, long *lablen) {
  int bad = -1;
  if (!m->net || (*netlen = text_len(m->net, &bad)) < 0)
    return dc_fail(DC_ERR_ARG, "%s: model net text must be 1..%u bytes of printable ASCII, tab or newline%s", path,
                   DC_DCZ_MAX_TEXT, bad >= 0 ? " (has a control or non-ASCII byte)" : "");
  *lablen = 0;
  if (m->labels && (*lablen = text_len(m->labels, &bad)) < 0)
    return dc_fail(DC_ERR_ARG, "%s: model labels must be 1..%u bytes of printable ASCII, tab or newline", path,
                   DC_DCZ_MAX_TEXT);
  if ((unsigned)m->color >= DC_COLOR_COUNT)
    return dc_fail(DC_ERR_ARG, "%s: model color %d, must be 0 (gray), 1 (BGR) or 2 (RGB)", path, (int)m->color);
  if (m->resize < 0 || m->resize > MAX_RESIZE)
    return dc_fail(DC_ERR_ARG, "%s: model resize %d, must be 0..%d", path, m->resize, MAX_RESIZE);
  for (int c = 0; c < 3; c++)
    if (!isfinite(m->mean[c])) return dc_fail(DC_ERR_ARG, "%s: model mean[%d] is not finite", path, c);
  if (!isfinite(m->scale) || m->scale == 0.0f)
    return dc_fail(DC_ERR_ARG, "%s: model scale %g, must be finite and nonzero", path, (double)m->scale);
  return DC_OK;
}

/* Version 4 deflates the texts raw (RFC 1951, no zlib header or checksum: the record's
 * CRC covers them) with this preset dictionary: the section headers and keys of the net
 * syntax (README "Net files"), the most frequent last (deflate reaches them cheapest).
 * Its exact bytes are part of the format (docs/dcz-format.md): never change them. */
static const char NET_DICT[] =
    "# \n[lrn]\nlocal_size = 5\nalpha = 0.0001\nbeta = 0.75\n"
    "[dropout]\nratio = 0.5\n"
    "weight_filler = gaussian\nweight_std = 0.01\nbias_value = 0.1\nbias_decay_mult = 0\n"
    "group = 2\npad = 1\n\n[softmax_loss]\n"
    "[input]\nchannels = 1\nheight = 28\nwidth = 28\n\n"
    "[maxpool]\nkernel = 2\nstride = 2\n\n[relu]\n\n"
    "[conv]\nname = conv1\nnum_output = 20\nkernel = 5\nbias_lr_mult = 2\n\n"
    "[fc]\nname = ip1\nnum_output = 500\nbias_lr_mult = 2\n\n";

/* text[len] deflated into a new buffer *z of *zlen bytes: version 3 zlib format (level
 * 9, compress2), version 4 raw deflate (level 9, window 2^15) with NET_DICT. */
static dc_status deflate_text(int version, const char *text, long len, uint8_t **z, uLongf *zlen) {
  *zlen = compressBound((uLong)len) + 16;
  *z = dc_alloc(*zlen);
  if (!*z) return DC_ERR_NOMEM;
  if (len == 0) {
    *zlen = 0;
    return DC_OK;
  }
  int ok;
  if (version >= 4) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ok = deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) == Z_OK;
    if (ok) {
      ok = deflateSetDictionary(&zs, (const Bytef *)NET_DICT, (uInt)(sizeof NET_DICT - 1)) == Z_OK;
      zs.next_in = (Bytef *)(uintptr_t)text;
      zs.avail_in = (uInt)len;
      zs.next_out = *z;
      zs.avail_out = (uInt)*zlen;
      ok = ok && deflate(&zs, Z_FINISH) == Z_STREAM_END;
      *zlen = zs.total_out;
      deflateEnd(&zs);
    }
  } else {
    ok = compress2(*z, zlen, (const Bytef *)text, (uLong)len, 9) == Z_OK;
  }
  if (!ok) {
    dc_free(*z);
    *z = NULL;
    return dc_fail(DC_ERR_NOMEM, "zlib: cannot deflate %ld bytes", len);
  }
  return DC_OK;
}

/* The framed model record (length, record, u32 CRC) in a new buffer: version 3 the
 * net text and the labels deflated, each preceded by its length and its deflated
 * length, fixed-width fields; version 4 varint lengths, no reserved bytes, the texts
 * raw-deflated with NET_DICT. *netz gets the deflated net text's size. */
static dc_status encode_model(int version, const dc_dcz_model *m, long netlen, long lablen, uint8_t **out,
                              size_t *outlen, uint64_t *netz) {
  uint8_t *zn = NULL, *zl = NULL;
  uLongf nz = 0, lz = 0;
  dc_status st = deflate_text(version, m->net, netlen, &zn, &nz);
  if (st == DC_OK) st = deflate_text(version, m->labels ? m->labels : "", lablen, &zl, &lz);
  size_t rl, framed;
  if (version >= 4) {
    rl = (size_t)(varint_len((uint64_t)netlen) + varint_len(nz) + 1 + varint_len((uint64_t)m->resize) + 16 +
                  varint_len((uint64_t)lablen) + varint_len(lz)) +
         (size_t)nz + (size_t)lz;
    framed = (size_t)varint_len(rl) + rl + 4;
  } else {
    rl = MODEL_FIXED3 + (size_t)nz + (size_t)lz;
    framed = rl + LAYER_FRAME;
  }
  uint8_t *rec = st == DC_OK ? dc_alloc(framed) : NULL;
  if (st == DC_OK && !rec) st = DC_ERR_NOMEM;
  if (st == DC_OK) {
    obuf o = {rec, 0, framed};
    if (version >= 4) {
      put_varint(&o, rl);
      put_varint(&o, (uint64_t)netlen);
      put_varint(&o, nz);
      put_bytes(&o, zn, nz);
      put_uint(&o, (uint64_t)m->color, 1);
      put_varint(&o, (uint64_t)m->resize);
    } else {
      put_uint(&o, rl, 8);
      put_uint(&o, (uint64_t)netlen, 4);
      put_uint(&o, nz, 4);
      put_bytes(&o, zn, nz);
      put_uint(&o, (uint64_t)m->color, 1);
      put_uint(&o, 0, 3);
      put_uint(&o, (uint64_t)m->resize, 4);
    }
    for (int c = 0; c < 3; c++) put_f32(&o, m->mean[c]);
    put_f32(&o, m->scale);
    if (version >= 4) {
      put_varint(&o, (uint64_t)lablen);
      put_varint(&o, lz);
    } else {
      put_uint(&o, (uint64_t)lablen, 4);
      put_uint(&o, lz, 4);
    }
    put_bytes(&o, zl, lz);
    put_uint(&o, crc_update(0, rec, o.n), 4);
    DC_ASSERT(o.n == o.cap);
    *out = rec;
    *outlen = o.n;
    *netz = nz;
  }
  dc_free(zn);
  dc_free(zl);
  return st;
}

void dc_dcz_model_free(dc_dcz_model *m) {
  if (!m) return;
  free(m->net);
  free(m->labels);
  memset(m, 0, sizeof *m);
}

static dc_status write_all(FILE *f, const char *tmp, const uint8_t *p, size_t n, uint32_t *crc) {
  if (n && fwrite(p, 1, n, f) != n) return dc_fail(DC_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
  *crc = crc_update(*crc, p, n);
  return DC_OK;
}

dc_status dc_dcz_write_version(const char *path, const dc_dcz_model *model, const dc_dcz_layer *layers, int n,
                               dc_dcz_stats *stats, int version) {
  DC_ASSERT(version == 3 || version == DC_DCZ_VERSION);
  if (stats) memset(stats, 0, sizeof *stats);
  long netlen = 0, lablen = 0;
  if (model) DC_TRY(validate_model(path, model, &netlen, &lablen));
  if (n < 0 || n > DC_DCZ_MAX_LAYERS)
    return dc_fail(DC_ERR_ARG, "%s: %d layers, must be 0..%d", path, n, DC_DCZ_MAX_LAYERS);
  if (n > 0 && !layers) return dc_fail(DC_ERR_ARG, "%s: layers is NULL", path);
  /* validate everything before creating any file */
  for (int i = 0; i < n; i++) {
    uint64_t count;
    DC_TRY(validate_layer(path, i, &layers[i], &count));
  }
  dc_dcz_layer_stats *ls = NULL;
  if (stats && n > 0 && !(ls = dc_alloc((size_t)n * sizeof *ls))) return DC_ERR_NOMEM;

  dc_atomic a;
  dc_status st = dc_atomic_open(&a, path, "wb");
  FILE *f = a.f;
  const char *tmp = a.tmp;
  uint32_t crc = 0;
  if (st == DC_OK) {
    uint8_t h[HEADER_BYTES];
    obuf o = {h, 0, sizeof h};
    put_bytes(&o, MAGIC, 4);
    put_uint(&o, (uint64_t)version, 2);
    put_uint(&o, model ? FLAG_MODEL : 0, 2);
    put_uint(&o, (uint64_t)n, 4);
    put_uint(&o, crc_update(0, h, 12), 4);
    st = write_all(f, tmp, h, sizeof h, &crc);
  }
  if (st == DC_OK && model) {
    uint8_t *rec = NULL;
    size_t rl = 0;
    uint64_t netz = 0;
    st = encode_model(version, model, netlen, lablen, &rec, &rl, &netz);
    if (st == DC_OK) st = write_all(f, tmp, rec, rl, &crc);
    if (stats) {
      stats->model_bytes = rl;
      stats->net_bytes = netz;
      stats->net_text_bytes = (uint64_t)netlen;
    }
    dc_free(rec);
  }
  for (int i = 0; st == DC_OK && i < n; i++) {
    uint8_t *rec = NULL;
    size_t rl = 0;
    uint64_t count = 1;
    for (int d = 0; d < layers[i].ndim; d++) count *= (uint64_t)layers[i].dims[d];
    st = encode_layer(version, &layers[i], count, &rec, &rl, ls ? &ls[i] : NULL);
    if (st == DC_OK) st = write_all(f, tmp, rec, rl, &crc);
    dc_free(rec);
  }
  if (st == DC_OK) {
    uint8_t t[4];
    obuf o = {t, 0, sizeof t};
    put_uint(&o, crc, 4);
    uint32_t unused = 0;
    st = write_all(f, tmp, t, sizeof t, &unused);
  }
  if (st == DC_OK) { /* what every reader would refuse (read_impl) is not written */
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
      uint64_t count = 1;
      for (int d = 0; d < layers[i].ndim; d++) count *= (uint64_t)layers[i].dims[d];
      total += count;
    }
    long bytes = ftell(f);
    if (bytes >= 0 && total > dense_budget((uint64_t)bytes))
      st = dc_fail(DC_ERR_ARG,
                   "%s: the layers have %llu weights in all but encode to %ld bytes; a .dcz may declare at most %u "
                   "weights plus %u per byte of file (is a large layer nearly all pruned?)",
                   path, (unsigned long long)total, bytes, DC_DCZ_DENSE_FREE, DC_DCZ_DENSE_PER_BYTE);
  }
  if (st == DC_OK)
    st = dc_atomic_commit(&a);
  else
    dc_atomic_abort(&a);
  if (st == DC_OK && stats) {
    stats->nlayers = n;
    stats->layer = ls;
    stats->version = version;
    finish_stats(stats);
  } else {
    dc_free(ls);
    if (stats) memset(stats, 0, sizeof *stats);
  }
  return st;
}

dc_status dc_dcz_write_model(const char *path, const dc_dcz_model *model, const dc_dcz_layer *layers, int n,
                             dc_dcz_stats *stats) {
  return dc_dcz_write_version(path, model, layers, n, stats, DC_DCZ_VERSION);
}

dc_status dc_dcz_write_stats(const char *path, const dc_dcz_layer *layers, int n, dc_dcz_stats *stats) {
  return dc_dcz_write_model(path, NULL, layers, n, stats);
}

dc_status dc_dcz_write(const char *path, const dc_dcz_layer *layers, int n) {
  return dc_dcz_write_stats(path, layers, n, NULL);
}

dc_status dc_dcz_layer_size(const dc_dcz_layer *layer, dc_dcz_layer_stats *stats) {
  uint64_t count;
  DC_TRY(validate_layer("size", 0, layer, &count));
  uint8_t *rec = NULL;
  size_t len = 0;
  dc_status st = encode_layer(DC_DCZ_VERSION, layer, count, &rec, &len, stats);
  dc_free(rec);
  if (st == DC_ERR_NOMEM) return dc_fail(st, "out of memory encoding layer '%s'", layer->name);
  return st;
}

/* ---------------------------------------------------------------- reader */

typedef struct {
  const char *path;
  FILE *f;            /* the file, or NULL when reading from mem */
  const uint8_t *mem; /* (size) the whole file in memory */
  uint64_t size, pos; /* file size, bytes consumed */
  uint32_t crc;       /* running CRC of everything consumed */
} reader;

static dc_status rd(reader *r, void *buf, size_t n) {
  DC_ASSERT(n <= r->size - r->pos); /* callers check sizes against the file first */
  if (r->mem) {
    if (n) memcpy(buf, r->mem + r->pos, n);
  } else if (n && fread(buf, 1, n, r->f) != n)
    return dc_fail(DC_ERR_IO, "%s: read failed at offset %llu: %s", r->path, (unsigned long long)r->pos,
                   ferror(r->f) ? strerror(errno) : "file shrank while reading");
  r->crc = crc_update(r->crc, buf, n);
  r->pos += n;
  return DC_OK;
}

/* A one-line format error about `who` ("PATH: layer I ('NAME')" or "PATH: model section"). */
static dc_status bad(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static dc_status bad(const char *who, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return dc_fail(DC_ERR_FORMAT, "%s: %s", who, msg);
}
static dc_status ends_inside(const char *who, const char *field) {
  return dc_fail(DC_ERR_FORMAT, "%s: record ends inside the %s", who, field);
}
/* A version-4 varint field of the record. */
static dc_status take_var(const char *who, cursor *c, const char *field, uint64_t *v) {
  int rc = take_varint(c, v);
  if (rc == -1) return ends_inside(who, field);
  if (rc == -2) return bad(who, "%s: varint not minimal or longer than 10 bytes", field);
  return DC_OK;
}

/* One layer record's fields, checked against each other and against the record's
 * length; the pointers point into the record. */
typedef struct {
  int v3;   /* version 3 or 4 layout (else versions 1 and 2) */
  int v4;   /* version 4: varint fields, formats byte */
  int cb16; /* version 4: fp16 codebook keys */
  uint64_t bits, gap_bits, count, nnz, ne, nbias, t1, t2, b1, b2;
  uint64_t cbl;          /* version 3: codebook bytes */
  int bfmt;              /* bias format (BIAS_F32 before version 3) */
  uint64_t bl;           /* bytes of the biases */
  int k, nsym_i, nsym_g; /* codebook entries, index symbols (k + the filler), gap symbols */
  const uint8_t *codebook, *tab_i, *tab_g, *str_i, *str_g, *bias;
} layer_rec;

/* A record's decoded streams: sized by its entry count, itself bounded by the bytes of
 * its streams (every code is 1..24 bits). */
typedef struct {
  uint8_t *len_i, *len_g; /* (nsym_i), (nsym_g) code lengths */
  uint16_t *isym, *gsym;  /* (ne) index and gap symbols */
  uint8_t *fill;          /* (ne) 1 where the entry is a filler */
  size_t *pos;            /* (ne) positions of the kept weights (nnz used) */
  float *cb, *bias;       /* (k), (nbias) decoded codebook (unstored centroids 0) and biases */
  int centroids;          /* codebook entries stored */
} layer_streams;

static void streams_free(layer_streams *s) {
  dc_free(s->len_i);
  dc_free(s->len_g);
  dc_free(s->isym);
  dc_free(s->gsym);
  dc_free(s->fill);
  dc_free(s->pos);
  dc_free(s->cb);
  dc_free(s->bias);
}

/* Name, ndim, bits, gap_bits and dims: the record's first fields, into L and r. Once
 * the name is known `who` (whocap bytes) names the layer by it too. */
static dc_status parse_shape(char *who, size_t whocap, const char *path, int li, cursor *c, dc_dcz_layer *L,
                             layer_rec *r) {
  const uint8_t *p;
  uint64_t nl, ndim, v;
  if (take_uint(c, 1, &nl)) return ends_inside(who, "name length");
  if (nl < 1 || nl > 63) return bad(who, "name length %llu, must be 1..63", (unsigned long long)nl);
  if (take(c, (size_t)nl, &p)) return ends_inside(who, "name");
  for (uint64_t i = 0; i < nl; i++)
    if (p[i] < 0x20 || p[i] > 0x7e) return bad(who, "name has a non-printable byte 0x%02x", p[i]);
  memcpy(L->name, p, (size_t)nl);
  L->name[nl] = '\0';
  snprintf(who, whocap, "%.500s: layer %d ('%s')", path, li, L->name);

  if (take_uint(c, 1, &ndim)) return ends_inside(who, "ndim");
  if (take_uint(c, 1, &r->bits)) return ends_inside(who, "bits");
  if (take_uint(c, 1, &r->gap_bits)) return ends_inside(who, "gap_bits");
  if (take_uint(c, 1, &v)) return ends_inside(who, r->v4 ? "formats byte" : r->v3 ? "bias format" : "reserved byte");
  if (ndim < 1 || ndim > 4) return bad(who, "ndim %llu, must be 1..4", (unsigned long long)ndim);
  if (r->bits < 1 || r->bits > 8) return bad(who, "bits %llu, must be 1..8", (unsigned long long)r->bits);
  if (r->gap_bits < 1 || r->gap_bits > 16)
    return bad(who, "gap_bits %llu, must be 1..16", (unsigned long long)r->gap_bits);
  if (r->v4) {
    if (v & ~(uint64_t)(FMT_BIAS | FMT_CB16)) return bad(who, "formats byte 0x%02x has unknown bits", (unsigned)v);
    r->cb16 = (v & FMT_CB16) != 0;
    v &= FMT_BIAS;
  }
  if (r->v3 && !r->v4 && v > BIAS_U8)
    return bad(who, "bias format %u, must be 0 (fp32), 1 (fp16) or 2 (8-bit)", (unsigned)v);
  if (!r->v3 && v != 0) return bad(who, "reserved byte is 0x%02x, must be 0", (unsigned)v);
  r->bfmt = (int)v;
  L->ndim = (int)ndim;
  L->bits = (int)r->bits;
  L->gap_bits = (int)r->gap_bits;
  r->count = 1;
  for (uint64_t d = 0; d < ndim; d++) {
    if (r->v4)
      DC_TRY(take_var(who, c, "dims", &v));
    else if (take_uint(c, 4, &v))
      return ends_inside(who, "dims");
    if (v < 1 || v > INT_MAX) return bad(who, "dims[%d] = %llu, must be 1..%d", (int)d, (unsigned long long)v, INT_MAX);
    L->dims[d] = (int)v;
    r->count *= v; /* <= 2^30 · 2^31: no overflow before the check */
    if (r->count > DC_DCZ_MAX_WEIGHTS)
      return bad(who, "shape has more than %u weights (the format limit)", DC_DCZ_MAX_WEIGHTS);
  }
  r->k = 1 << r->bits;
  r->nsym_i = r->k + 1;
  r->nsym_g = 1 << r->gap_bits;
  return DC_OK;
}

/* The codebook and the sizes after it, each checked against the layer's shape and the
 * record's remaining bytes, then pointers to the tables, streams and biases. */
static dc_status parse_sizes(const char *who, cursor *c, layer_rec *r) {
  if (!r->v3 && take(c, 4 * (size_t)r->k, &r->codebook)) return ends_inside(who, "codebook");
  if (r->v4) {
    DC_TRY(take_var(who, c, "nnz", &r->nnz));
    DC_TRY(take_var(who, c, "entry count", &r->ne));
    DC_TRY(take_var(who, c, "nbias", &r->nbias));
    DC_TRY(take_var(who, c, "index table size", &r->t1));
    DC_TRY(take_var(who, c, "gap table size", &r->t2));
    DC_TRY(take_var(who, c, "codebook size", &r->cbl));
    DC_TRY(take_var(who, c, "index stream size", &r->b1));
    DC_TRY(take_var(who, c, "gap stream size", &r->b2));
    /* the ranges of version 3's u32 fields */
    if (r->t1 > UINT32_MAX || r->t2 > UINT32_MAX || r->cbl > UINT32_MAX)
      return bad(who, "a table or codebook size above %u bytes", UINT32_MAX);
  } else {
    if (take_uint(c, 8, &r->nnz)) return ends_inside(who, "nnz");
    if (take_uint(c, 8, &r->ne)) return ends_inside(who, "entry count");
    if (take_uint(c, 4, &r->nbias)) return ends_inside(who, "nbias");
    if (take_uint(c, 4, &r->t1)) return ends_inside(who, "index table size");
    if (take_uint(c, 4, &r->t2)) return ends_inside(who, "gap table size");
    if (r->v3 && take_uint(c, 4, &r->cbl)) return ends_inside(who, "codebook size");
    if (take_uint(c, 8, &r->b1)) return ends_inside(who, "index stream size");
    if (take_uint(c, 8, &r->b2)) return ends_inside(who, "gap stream size");
  }
  const uint64_t count = r->count, nnz = r->nnz, ne = r->ne, b1 = r->b1, b2 = r->b2;
  if (nnz > count)
    return bad(who, "%llu kept weights in a layer of %llu", (unsigned long long)nnz, (unsigned long long)count);
  if (ne < nnz || ne - nnz > count >> r->gap_bits)
    return bad(who, "%llu stream entries for %llu kept weights of %llu is impossible", (unsigned long long)ne,
               (unsigned long long)nnz, (unsigned long long)count);
  if (r->nbias > DC_DCZ_MAX_WEIGHTS)
    return bad(who, "nbias %llu exceeds the format limit %u", (unsigned long long)r->nbias, DC_DCZ_MAX_WEIGHTS);
  /* every code is 1..24 bits: this bounds the entry count by the bytes present */
  if (ne == 0 ? (b1 || b2) : (b1 < ne || b2 < ne || b1 > ne * DC_HUFF_MAX_LEN || b2 > ne * DC_HUFF_MAX_LEN))
    return bad(who, "stream sizes (%llu and %llu bits) do not fit %llu entries", (unsigned long long)b1,
               (unsigned long long)b2, (unsigned long long)ne);
  uint64_t bl = bias_bytes(r->bfmt, r->nbias);
  uint64_t payload = r->t1 + r->t2 + r->cbl + (b1 + 7) / 8 + (b2 + 7) / 8;
  if (r->bfmt == BIAS_U8EG) { /* the biases take the rest: lo, step, 11 + 1..19 bits a code */
    bl = payload <= c->left ? c->left - payload : 0;
    const uint64_t lo = 8 + (11 + r->nbias + 7) / 8, hi = 8 + (11 + 19 * r->nbias + 7) / 8;
    if (r->nbias == 0 || bl < lo || bl > hi)
      return bad(who, "%llu bytes of Exp-Golomb coded biases for %llu biases (%llu..%llu)", (unsigned long long)bl,
                 (unsigned long long)r->nbias, (unsigned long long)lo, (unsigned long long)hi);
  }
  payload += bl;
  if (payload != c->left)
    return bad(who, "record has %zu bytes after its header but its sizes add up to %llu", c->left,
               (unsigned long long)payload);
  r->bl = bl;
  if (take(c, (size_t)r->t1, &r->tab_i) || take(c, (size_t)r->t2, &r->tab_g)) return ends_inside(who, "code tables");
  if (r->v3 && take(c, (size_t)r->cbl, &r->codebook)) return ends_inside(who, "codebook");
  if (take(c, (size_t)((b1 + 7) / 8), &r->str_i) || take(c, (size_t)((b2 + 7) / 8), &r->str_g))
    return ends_inside(who, "streams");
  if (take(c, (size_t)bl, &r->bias)) return ends_inside(who, "biases");
  return DC_OK;
}

/* Decode and check the codebook (version 3: the centroids in use, found from the index
 * code table in s->len_i) and the biases into s->cb and s->bias: all finite. */
static dc_status check_values(const char *who, const layer_rec *r, layer_streams *s) {
  if (!(s->cb = dc_alloc(4 * (size_t)r->k)) || !(s->bias = dc_alloc(4 * (size_t)r->nbias + 4))) return DC_ERR_NOMEM;
  const char *why;
  if (r->v3) {
    int *used = dc_alloc((size_t)r->k * sizeof *used);
    if (!used) return DC_ERR_NOMEM;
    int m = 0;
    for (int j = 0; j < r->k; j++)
      if (s->len_i[j]) used[m++] = j;
    s->centroids = m;
    why = codebook_read3(r->codebook, (size_t)r->cbl, used, m, r->cb16 ? 16 : 32, s->cb);
    dc_free(used);
    if (why) return bad(who, "codebook: %s", why);
  } else {
    s->centroids = r->k;
    for (int j = 0; j < r->k; j++) {
      float v = f32_at(r->codebook + 4 * j);
      if (!isfinite(v)) return bad(who, "codebook[%d] = %g is not finite", j, (double)v);
      s->cb[j] = v;
    }
  }
  if ((why = read_biases(r->bias, r->bl, r->nbias, r->bfmt, s->bias))) return bad(who, "biases: %s", why);
  return DC_OK;
}

/* Code tables, both Huffman streams and the gap decoding into s (the caller frees it,
 * also on failure); the kept positions must match the record's nnz. */
static dc_status decode_streams(const char *who, const layer_rec *r, layer_streams *s) {
  const char *why;
  if (!(s->len_i = dc_alloc((size_t)r->nsym_i)) || !(s->len_g = dc_alloc((size_t)r->nsym_g))) return DC_ERR_NOMEM;
  const char *(*tread)(const uint8_t *, size_t, int, uint8_t *) = r->v3 ? table_read3 : table_read;
  if ((why = tread(r->tab_i, (size_t)r->t1, r->nsym_i, s->len_i))) return bad(who, "weight-index code table: %s", why);
  if ((why = tread(r->tab_g, (size_t)r->t2, r->nsym_g, s->len_g))) return bad(who, "gap code table: %s", why);
  const size_t ne = (size_t)r->ne;
  if (ne == 0) {
    for (int j = 0; j < r->nsym_i; j++)
      if (s->len_i[j]) return bad(who, "weight-index code table is not empty but there are no entries");
    for (int j = 0; j < r->nsym_g; j++)
      if (s->len_g[j]) return bad(who, "gap code table is not empty but there are no entries");
  }
  s->isym = dc_alloc(ne * sizeof *s->isym);
  s->gsym = dc_alloc(ne * sizeof *s->gsym);
  s->fill = dc_alloc(ne);
  s->pos = dc_alloc(ne * sizeof *s->pos);
  if (!s->isym || !s->gsym || !s->fill || !s->pos) return DC_ERR_NOMEM;
  char what[700];
  snprintf(what, sizeof what, "%s: weight-index stream", who);
  DC_TRY(dc_huff_decode(r->str_i, r->b1, s->len_i, r->nsym_i, s->isym, ne, what));
  snprintf(what, sizeof what, "%s: gap stream", who);
  DC_TRY(dc_huff_decode(r->str_g, r->b2, s->len_g, r->nsym_g, s->gsym, ne, what));
  for (size_t e = 0; e < ne; e++) s->fill[e] = s->isym[e] == r->k;
  size_t kept;
  DC_TRY(dc_gap_decode(s->gsym, s->fill, ne, (int)r->gap_bits, (size_t)r->count, s->pos, &kept, what));
  if (kept != r->nnz)
    return bad(who, "streams hold %zu kept weights, the header says %llu", kept, (unsigned long long)r->nnz);
  return DC_OK;
}

/* The dense arrays of L (codebook, index and mask per weight, bias) from a checked
 * record and its decoded streams. */
static dc_status fill_layer(const layer_rec *r, const layer_streams *s, dc_dcz_layer *L) {
  L->nbias = (int)r->nbias;
  L->codebook = dc_alloc(4 * (size_t)r->k);
  L->index = dc_alloc((size_t)r->count);
  L->mask = dc_alloc((size_t)r->count);
  L->bias = dc_alloc(4 * (size_t)r->nbias);
  if (!L->codebook || !L->index || !L->mask || !L->bias) return DC_ERR_NOMEM;
  memcpy(L->codebook, s->cb, 4 * (size_t)r->k);
  if (r->nbias) memcpy(L->bias, s->bias, 4 * (size_t)r->nbias);
  L->bias_bits = bias_bits_of(r->bfmt);
  for (size_t e = 0, j = 0; e < (size_t)r->ne; e++) {
    if (s->fill[e]) continue;
    L->mask[s->pos[j]] = 1;
    L->index[s->pos[j]] = (uint8_t)s->isym[e];
    j++;
  }
  return DC_OK;
}

/* Parse and validate one CRC-checked record rec[rl]. L != NULL: into *L (arrays newly
 * allocated; on failure whatever was allocated is left in *L for dc_dcz_free); L NULL:
 * checked and counted only. *dense_left is what the file may still declare in weights
 * (see read_impl); this layer's count is taken from it. */
static dc_status parse_layer(const char *path, int li, unsigned version, const uint8_t *rec, size_t rl, uint64_t framed,
                             dc_dcz_layer *L, dc_dcz_layer_stats *stats, uint64_t *dense_left, uint64_t file_bytes) {
  const int v3 = version >= 3;
  char who[640];
  snprintf(who, sizeof who, "%.500s: layer %d", path, li);
  cursor c = {rec, rl};
  layer_rec r = {0};
  r.v3 = v3;
  r.v4 = version >= 4;
  dc_dcz_layer shape = {0}; /* name and shape when L is NULL */
  dc_dcz_layer *out = L ? L : &shape;
  DC_TRY(parse_shape(who, sizeof who, path, li, &c, out, &r));
  DC_TRY(parse_sizes(who, &c, &r));
  if (r.count > *dense_left)
    return bad(who,
               "%llu weights, more than a %llu-byte file can hold (a .dcz declares at most %u weights plus %u "
               "per byte of file): corrupt or crafted",
               (unsigned long long)r.count, (unsigned long long)file_bytes, DC_DCZ_DENSE_FREE, DC_DCZ_DENSE_PER_BYTE);
  *dense_left -= r.count;
  layer_streams s = {0};
  dc_status st = decode_streams(who, &r, &s);
  if (st == DC_OK) st = check_values(who, &r, &s);
  if (st == DC_OK && L) {
    st = fill_layer(&r, &s, L);
    L->codebook_bits = r.cb16 ? 16 : 32;
  }
  if (st == DC_OK && stats) {
    layer_sizes z = {r.count,
                     r.nnz,
                     r.ne,
                     r.nbias,
                     framed,
                     (uint32_t)r.t1,
                     (uint32_t)r.t2,
                     r.b1,
                     r.b2,
                     (int)r.bits,
                     (int)r.gap_bits,
                     bias_bits_of(r.bfmt),
                     (uint64_t)s.centroids,
                     v3 ? r.cbl : 4ull << r.bits,
                     r.bl,
                     r.cb16 ? 16 : 32};
    fill_stats(stats, out->name, &z);
  }
  streams_free(&s);
  return st;
}

/* A NUL-terminated copy of text[len] (checked as text_len does) into *out, or what is wrong. */
static const char *take_text(const uint8_t *p, uint64_t len, char **out) {
  for (uint64_t i = 0; i < len; i++)
    if (!(p[i] == '\t' || p[i] == '\n' || p[i] == '\r' || (p[i] >= 0x20 && p[i] <= 0x7e)))
      return "holds a control or non-ASCII byte";
  if (!(*out = malloc((size_t)len + 1))) return "out of memory";
  memcpy(*out, p, (size_t)len);
  (*out)[len] = '\0';
  return NULL;
}

/* take_text of the len bytes that z[zlen] inflates to (version 3: zlib format; 4: raw
 * deflate with NET_DICT): the stream must inflate to exactly len bytes using exactly
 * zlen. */
static const char *take_ztext(int version, const uint8_t *z, uint64_t zlen, uint64_t len, char **out) {
  uint8_t *buf = dc_alloc((size_t)len + 1);
  if (!buf) return "out of memory";
  int ok;
  if (version >= 4) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ok = inflateInit2(&zs, -15) == Z_OK;
    if (ok) {
      ok = inflateSetDictionary(&zs, (const Bytef *)NET_DICT, (uInt)(sizeof NET_DICT - 1)) == Z_OK;
      zs.next_in = (Bytef *)(uintptr_t)z;
      zs.avail_in = (uInt)zlen;
      zs.next_out = buf;
      zs.avail_out = (uInt)len;
      ok = ok && inflate(&zs, Z_FINISH) == Z_STREAM_END && zs.total_out == len && zs.avail_in == 0;
      inflateEnd(&zs);
    }
  } else {
    uLongf got = (uLongf)len;
    uLong used = (uLong)zlen;
    ok = uncompress2(buf, &got, z, &used) == Z_OK && got == len && used == zlen;
  }
  const char *why = ok ? take_text(buf, len, out) : "does not inflate to its stated length (corrupt deflate stream)";
  dc_free(buf);
  return why;
}

/* The fields of the model record in c into *m (texts newly allocated: the caller
 * releases *m, also on failure); version 3: the texts are deflated; 4: varint lengths,
 * no reserved bytes. *net_bytes gets the stored size of the net text. */
static dc_status parse_model_fields(const char *who, unsigned version, cursor *c, dc_dcz_model *m,
                                    uint64_t *net_bytes) {
  const int v3 = version >= 3, v4 = version >= 4;
  const uint8_t *p;
  uint64_t netlen, lablen, color, resv = 0, resize, zlen;
  const char *why;
  if (v4)
    DC_TRY(take_var(who, c, "net text length", &netlen));
  else if (take_uint(c, 4, &netlen))
    return ends_inside(who, "net text length");
  if (netlen < 1 || netlen > DC_DCZ_MAX_TEXT)
    return bad(who, "net text of %llu bytes, must be 1..%u", (unsigned long long)netlen, DC_DCZ_MAX_TEXT);
  zlen = netlen;
  if (v4)
    DC_TRY(take_var(who, c, "deflated net text length", &zlen));
  else if (v3 && take_uint(c, 4, &zlen))
    return ends_inside(who, "deflated net text length");
  if (zlen > c->left || take(c, (size_t)zlen, &p)) return ends_inside(who, "net text");
  *net_bytes = zlen;
  if ((why = v3 ? take_ztext((int)version, p, zlen, netlen, &m->net) : take_text(p, netlen, &m->net)))
    return bad(who, "net text %s", why);
  if (take_uint(c, 1, &color)) return ends_inside(who, "color");
  if (v4) {
    DC_TRY(take_var(who, c, "resize", &resize));
  } else {
    if (take_uint(c, 3, &resv)) return ends_inside(who, "reserved bytes");
    if (take_uint(c, 4, &resize)) return ends_inside(who, "resize");
  }
  if (color >= DC_COLOR_COUNT)
    return bad(who, "color %llu, must be 0 (gray), 1 (BGR) or 2 (RGB)", (unsigned long long)color);
  if (resv != 0) return bad(who, "reserved bytes are not 0");
  if (resize > MAX_RESIZE) return bad(who, "resize %llu, must be 0..%d", (unsigned long long)resize, MAX_RESIZE);
  m->color = (dc_color)color;
  m->resize = (int)resize;
  if (take(c, 16, &p)) return ends_inside(who, "mean and scale");
  for (int k = 0; k < 3; k++) {
    m->mean[k] = f32_at(p + 4 * k);
    if (!isfinite(m->mean[k])) return bad(who, "mean[%d] is not finite", k);
  }
  m->scale = f32_at(p + 12);
  if (!isfinite(m->scale) || m->scale == 0.0f)
    return bad(who, "scale %g, must be finite and nonzero", (double)m->scale);
  if (v4)
    DC_TRY(take_var(who, c, "label text length", &lablen));
  else if (take_uint(c, 4, &lablen))
    return ends_inside(who, "label text length");
  if (lablen > DC_DCZ_MAX_TEXT)
    return bad(who, "label text of %llu bytes, at most %u", (unsigned long long)lablen, DC_DCZ_MAX_TEXT);
  zlen = lablen;
  if (v4)
    DC_TRY(take_var(who, c, "deflated label text length", &zlen));
  else if (v3 && take_uint(c, 4, &zlen))
    return ends_inside(who, "deflated label text length");
  if (v3 && (lablen == 0) != (zlen == 0))
    return bad(who, "label text of %llu bytes stored in %llu", (unsigned long long)lablen, (unsigned long long)zlen);
  if (zlen > c->left || take(c, (size_t)zlen, &p)) return ends_inside(who, "label text");
  if (lablen && (why = v3 ? take_ztext((int)version, p, zlen, lablen, &m->labels) : take_text(p, lablen, &m->labels)))
    return bad(who, "label text %s", why);
  if (c->left != 0) return bad(who, "%zu unexpected bytes after the label text", c->left);
  return DC_OK;
}

/* Parse the CRC-checked model record rec[rl] into *m (texts newly allocated; on
 * failure *m is released). */
static dc_status parse_model(const char *path, unsigned version, const uint8_t *rec, size_t rl, dc_dcz_model *m,
                             uint64_t *net_bytes) {
  char who[600];
  snprintf(who, sizeof who, "%.500s: model section", path);
  cursor c = {rec, rl};
  dc_status st = parse_model_fields(who, version, &c, m, net_bytes);
  if (st != DC_OK) dc_dcz_model_free(m);
  return st;
}

/* The length field of the framed record at r's position, left bytes before the file
 * CRC (at least 1): u64 before version 4, else a varint; its bytes into lb[*nb] (the
 * record's CRC covers them). `what` names the record in messages ("layer 2 at offset
 * 300"). */
static dc_status read_len(reader *r, unsigned version, uint64_t left, const char *what, uint8_t *lb, int *nb,
                          uint64_t *rl) {
  if (version < 4) {
    DC_TRY(rd(r, lb, 8));
    *nb = 8;
    *rl = get_le(lb, 8);
    return DC_OK;
  }
  int n = 0;
  for (;;) { /* up to the last byte of the varint, 10 bytes or the bytes left */
    DC_TRY(rd(r, lb + n, 1));
    if (!(lb[n++] & 0x80) || n == MAX_VARINT || (uint64_t)n == left) break;
  }
  int got = varint_at(lb, (size_t)n, rl);
  if (got == 0)
    return dc_fail(DC_ERR_FORMAT, "%s: file truncated or corrupt: %s: the record length runs past the file", r->path,
                   what);
  if (got < 0)
    return dc_fail(DC_ERR_FORMAT, "%s: %s: record length varint not minimal or longer than 10 bytes: file corrupt",
                   r->path, what);
  *nb = n;
  return DC_OK;
}

/* Read the framed model record at r's position (right after the header). */
static dc_status read_model(reader *r, unsigned version, dc_dcz_model *m, dc_dcz_stats *stats) {
  uint64_t at = r->pos, left = r->size - r->pos - TRAILER_BYTES;
  const uint64_t min_rl = (version >= 4 ? MODEL_FIXED4 : version == 3 ? MODEL_FIXED3 : MODEL_FIXED) + 1;
  const uint64_t min_frame = version >= 4 ? MIN_FRAME4 : LAYER_FRAME;
  if (left < min_frame + min_rl)
    return dc_fail(DC_ERR_FORMAT, "%s: file truncated or corrupt: the model section at offset %llu has %llu bytes",
                   r->path, (unsigned long long)at, (unsigned long long)left);
  char what[64];
  snprintf(what, sizeof what, "the model section at offset %llu", (unsigned long long)at);
  uint8_t lb[MAX_VARINT];
  int nb = 0;
  uint64_t rl;
  DC_TRY(read_len(r, version, left, what, lb, &nb, &rl));
  const uint64_t room = left - (uint64_t)nb - 4; /* left >= nb + 4 + min_rl */
  if (rl < min_rl || rl > room)
    return dc_fail(DC_ERR_FORMAT,
                   "%s: file truncated or corrupt: the model section at offset %llu claims %llu bytes, but %llu "
                   "are left for it (minimum %d)",
                   r->path, (unsigned long long)at, (unsigned long long)rl, (unsigned long long)room, (int)min_rl);
  uint8_t *rec = dc_alloc((size_t)rl + (size_t)nb + 4);
  if (!rec) return DC_ERR_NOMEM;
  memcpy(rec, lb, (size_t)nb);
  dc_status st = rd(r, rec + nb, (size_t)rl + 4);
  if (st == DC_OK) {
    uint32_t crc = (uint32_t)get_le(rec + nb + rl, 4), comp = crc_update(0, rec, (size_t)nb + (size_t)rl);
    if (crc != comp)
      st = dc_fail(DC_ERR_FORMAT,
                   "%s: model section at offset %llu: CRC mismatch (stored 0x%08x, computed 0x%08x): file corrupt",
                   r->path, (unsigned long long)at, crc, comp);
  }
  dc_dcz_model tmp = {0};
  uint64_t net_bytes = 0;
  if (st == DC_OK) st = parse_model(r->path, version, rec + nb, (size_t)rl, m ? m : &tmp, &net_bytes);
  if (st == DC_OK && stats) {
    stats->net_bytes = net_bytes;
    stats->net_text_bytes = strlen((m ? m : &tmp)->net);
  }
  dc_dcz_model_free(&tmp);
  dc_free(rec);
  return st;
}

/* The 16-byte header: magic, version, CRC, flags; *nl layers, *version. */
static dc_status read_header(reader *r, uint32_t *nl, unsigned *version, unsigned *flags_out) {
  const char *path = r->path;
  if (r->size < HEADER_BYTES + TRAILER_BYTES)
    return dc_fail(DC_ERR_FORMAT, "%s: file is %llu bytes, too short for a .dcz file (at least %d)", path,
                   (unsigned long long)r->size, HEADER_BYTES + TRAILER_BYTES);
  uint8_t h[HEADER_BYTES];
  DC_TRY(rd(r, h, sizeof h));
  if (memcmp(h, MAGIC, 4) != 0)
    return dc_fail(DC_ERR_FORMAT, "%s: bad magic %02x %02x %02x %02x, expected 44 43 5a 46 ('DCZF'): not a .dcz file",
                   path, h[0], h[1], h[2], h[3]);
  unsigned flags = (unsigned)get_le(h + 6, 2);
  *version = (unsigned)get_le(h + 4, 2);
  if (*version < DC_DCZ_VERSION_PLAIN || *version > DC_DCZ_VERSION)
    return dc_fail(DC_ERR_FORMAT, "%s: format version %u not supported (this build reads versions %d to %d)", path,
                   *version, DC_DCZ_VERSION_PLAIN, DC_DCZ_VERSION);
  uint32_t hcrc = (uint32_t)get_le(h + 12, 4), hcomp = crc_update(0, h, 12);
  if (hcrc != hcomp)
    return dc_fail(DC_ERR_FORMAT, "%s: header CRC mismatch (stored 0x%08x, computed 0x%08x): file corrupt", path, hcrc,
                   hcomp);
  if (flags & ~(*version >= 3 ? FLAG_MODEL : 0u))
    return dc_fail(DC_ERR_FORMAT, "%s: unknown header flags 0x%04x", path, flags);
  *flags_out = flags;
  *nl = (uint32_t)get_le(h + 8, 4);
  return DC_OK;
}

/* Layer i's framed record at r's position, its length and CRC checked: *rec (the
 * frame's *nb length bytes, the rl record bytes, the CRC; the caller frees it) with the
 * record at *rec + *nb. */
static dc_status read_record(reader *r, unsigned version, uint32_t i, uint32_t nl, uint8_t **rec, int *nb,
                             uint64_t *rl) {
  const char *path = r->path;
  const int min_rec = version >= 4 ? MIN_RECORD4 : version == 3 ? MIN_RECORD3 : MIN_RECORD;
  const int min_frame = version >= 4 ? MIN_FRAME4 : LAYER_FRAME;
  uint64_t at = r->pos, left = r->size - r->pos - TRAILER_BYTES;
  if (left < (uint64_t)(min_frame + min_rec))
    return dc_fail(DC_ERR_FORMAT,
                   "%s: file truncated or corrupt: layer %u of %u at offset %llu has %llu bytes, a layer needs at "
                   "least %d",
                   path, i, nl, (unsigned long long)at, (unsigned long long)left, min_frame + min_rec);
  char what[64];
  snprintf(what, sizeof what, "layer %u at offset %llu", i, (unsigned long long)at);
  uint8_t lb[MAX_VARINT];
  DC_TRY(read_len(r, version, left, what, lb, nb, rl));
  const uint64_t room = left - (uint64_t)*nb - 4;
  if (*rl < (uint64_t)min_rec || *rl > room)
    return dc_fail(DC_ERR_FORMAT,
                   "%s: file truncated or corrupt: layer %u at offset %llu claims a %llu-byte record, but %llu bytes "
                   "are left for it (minimum %d)",
                   path, i, (unsigned long long)at, (unsigned long long)*rl, (unsigned long long)room, min_rec);
  if (!(*rec = dc_alloc((size_t)*rl + (size_t)*nb + 4))) return DC_ERR_NOMEM;
  memcpy(*rec, lb, (size_t)*nb);
  DC_TRY(rd(r, *rec + *nb, (size_t)*rl + 4));
  uint32_t lcrc = (uint32_t)get_le(*rec + *nb + *rl, 4), lcomp = crc_update(0, *rec, (size_t)*nb + (size_t)*rl);
  if (lcrc != lcomp)
    return dc_fail(DC_ERR_FORMAT,
                   "%s: layer %u at offset %llu: CRC mismatch (stored 0x%08x, computed 0x%08x): file corrupt", path, i,
                   (unsigned long long)at, lcrc, lcomp);
  return DC_OK;
}

/* Nothing after the last layer but the file CRC, which must match. */
static dc_status read_trailer(reader *r, uint32_t nl) {
  if (r->size - r->pos != TRAILER_BYTES)
    return dc_fail(DC_ERR_FORMAT, "%s: %llu unexpected bytes after the last of %u layers", r->path,
                   (unsigned long long)(r->size - r->pos - TRAILER_BYTES), nl);
  uint32_t fcomp = r->crc;
  uint8_t t[4];
  DC_TRY(rd(r, t, 4));
  uint32_t fcrc = (uint32_t)get_le(t, 4);
  if (fcrc != fcomp)
    return dc_fail(DC_ERR_FORMAT, "%s: file CRC mismatch (stored 0x%08x, computed 0x%08x): file corrupt", r->path, fcrc,
                   fcomp);
  return DC_OK;
}

/* Everything after opening: r->size set, r->f or r->mem at offset 0. Closes nothing.
 * layers NULL: stats and model only, no dense arrays. */
static dc_status read_impl(reader r, dc_dcz_layer **layers, int *n, dc_dcz_stats *stats, dc_dcz_model *model) {
  uint32_t nl = 0;
  unsigned version = 0, flags = 0;
  DC_TRY(read_header(&r, &nl, &version, &flags));
  uint64_t model_bytes = r.pos;
  if (version == DC_DCZ_VERSION_MODEL || (version >= 3 && (flags & FLAG_MODEL)))
    DC_TRY(read_model(&r, version, model, stats));
  model_bytes = r.pos - model_bytes;
  const uint64_t min_layer = version >= 4   ? MIN_FRAME4 + MIN_RECORD4
                             : version == 3 ? LAYER_FRAME + MIN_RECORD3
                                            : LAYER_FRAME + MIN_RECORD;
  uint64_t room = (r.size - r.pos - TRAILER_BYTES) / min_layer;
  if (nl > DC_DCZ_MAX_LAYERS || nl > room) {
    dc_dcz_model_free(model); /* read above: no half-read results */
    return dc_fail(
        DC_ERR_FORMAT,
        "%s: header claims %u layers; the limit is %d and the %llu-byte file has room for %llu: truncated or "
        "corrupt",
        r.path, nl, DC_DCZ_MAX_LAYERS, (unsigned long long)r.size, (unsigned long long)room);
  }
  dc_dcz_layer *ls = NULL;
  dc_dcz_layer_stats *ss = NULL;
  if (nl > 0 && ((layers && !(ls = calloc(nl, sizeof *ls))) || (stats && !(ss = dc_alloc(nl * sizeof *ss))))) {
    free(ls);
    dc_dcz_model_free(model);
    return dc_fail(DC_ERR_NOMEM, "%s: out of memory for %u layers", r.path, nl);
  }
  dc_status st = DC_OK;
  uint64_t dense_left = dense_budget(r.size);
  for (uint32_t i = 0; st == DC_OK && i < nl; i++) {
    uint8_t *rec = NULL;
    uint64_t rl = 0;
    int nb = 0;
    st = read_record(&r, version, i, nl, &rec, &nb, &rl);
    if (st == DC_OK)
      st = parse_layer(r.path, (int)i, version, rec + nb, (size_t)rl, (uint64_t)nb + rl + 4, ls ? &ls[i] : NULL,
                       ss ? &ss[i] : NULL, &dense_left, r.size);
    dc_free(rec);
  }
  if (st == DC_OK) st = read_trailer(&r, nl);
  if (st != DC_OK) {
    dc_dcz_free(ls, (int)nl); /* layers not reached hold NULL arrays */
    dc_free(ss);
    dc_dcz_model_free(model);
    return st;
  }
  if (layers) {
    *layers = ls;
    *n = (int)nl;
  }
  if (stats) {
    stats->nlayers = (int)nl;
    stats->layer = ss;
    stats->model_bytes = model_bytes;
    stats->version = (int)version;
    finish_stats(stats);
  }
  return DC_OK;
}

dc_status dc_dcz_read_model(const char *path, const void *buf, size_t len, dc_dcz_layer **layers, int *n,
                            dc_dcz_stats *stats, dc_dcz_model *model) {
  if (layers) *layers = NULL;
  if (n) *n = 0;
  if (stats) memset(stats, 0, sizeof *stats);
  if (model) memset(model, 0, sizeof *model);
  DC_ASSERT(!layers == !n);
  if (!path) path = "<memory>";
  reader r = {path, NULL, buf, len, 0, 0};
  if (buf) {
    dc_status st = read_impl(r, layers, n, stats, model);
    if (st != DC_OK) dc_dcz_model_free(model); /* a model section read before a later failure */
    return st;
  }
  DC_TRY(dc_check_input(path, 0));
  if (!(r.f = fopen(path, "rb"))) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  dc_status st;
  if (fstat(fileno(r.f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = dc_fail(DC_ERR_IO, "%s: not a regular file", path);
  } else {
    r.size = (uint64_t)sb.st_size;
    st = read_impl(r, layers, n, stats, model);
  }
  fclose(r.f);
  if (st != DC_OK) dc_dcz_model_free(model);
  return st;
}

dc_status dc_dcz_read_stats(const char *path, dc_dcz_layer **layers, int *n, dc_dcz_stats *stats) {
  return dc_dcz_read_model(path, NULL, 0, layers, n, stats, NULL);
}

dc_status dc_dcz_read(const char *path, dc_dcz_layer **layers, int *n) {
  return dc_dcz_read_stats(path, layers, n, NULL);
}

void dc_dcz_free(dc_dcz_layer *layers, int n) {
  if (!layers) return;
  for (int i = 0; i < n; i++) {
    dc_free(layers[i].codebook);
    dc_free(layers[i].index);
    dc_free(layers[i].mask);
    dc_free(layers[i].bias);
  }
  free(layers);
}
