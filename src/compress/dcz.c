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
 * its bytes from a FILE or from a caller's memory buffer through the same rd(). */
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

#include "dc/compress.h"
#include "atomic.h"
#include "util.h"

static const uint8_t MAGIC[4] = {'D', 'C', 'Z', 'F'};
enum {
  HEADER_BYTES = 16,    /* magic, version, flags, nlayers, header CRC */
  TRAILER_BYTES = 4,    /* file CRC */
  LAYER_FRAME = 8 + 4,  /* record length before, layer CRC after */
  RECORD_FIXED = 1 + 4 + 8 + 8 + 4 + 4 + 4 + 8 + 8, /* without name, dims, codebook, payloads */
  MIN_RECORD = RECORD_FIXED + 1 + 4 + 8 + 2 /* 1-char name, 1 dim, 2 centroids, 2 tables */
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
static float f32_at(const uint8_t *p) {
  uint32_t u = (uint32_t)get_le(p, 4);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* ---------------------------------------------------------------- code-length tables */

/* Run-length form of len[nsym]: byte 1..24 = the next symbol's length; byte 0 then
 * u16 r = the next r+1 symbols have no code. Worst case 3 bytes per symbol. */
static size_t table_write(const uint8_t *len, int nsym, uint8_t *out) {
  size_t o = 0;
  for (int s = 0; s < nsym;) {
    if (len[s]) {
      out[o++] = len[s++];
      continue;
    }
    int run = 1;
    while (s + run < nsym && !len[s + run] && run < 65536) run++;
    out[o++] = 0;
    out[o++] = (uint8_t)((run - 1) & 0xff);
    out[o++] = (uint8_t)((run - 1) >> 8);
    s += run;
  }
  return o;
}

/* Inverse; returns NULL on success or what is wrong. */
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

/* ---------------------------------------------------------------- stats */

typedef struct {
  uint64_t count, nnz, nentries, nbias, rec_len;
  uint32_t t1, t2;
  uint64_t b1, b2;
  int bits, gap_bits;
} layer_sizes;

static void fill_stats(dc_dcz_layer_stats *s, const char *name, const layer_sizes *z) {
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "%s", name);
  s->count = z->count;
  s->nnz = z->nnz;
  s->fillers = z->nentries - z->nnz;
  s->bits = z->bits;
  s->gap_bits = z->gap_bits;
  s->nbias = z->nbias;
  s->codebook_bytes = 4ull << z->bits;
  s->table_bytes = (uint64_t)z->t1 + z->t2;
  s->index_bytes = (z->b1 + 7) / 8;
  s->gap_bytes = (z->b2 + 7) / 8;
  s->bias_bytes = 4 * z->nbias;
  s->total_bytes = LAYER_FRAME + z->rec_len;
  s->header_bytes = s->total_bytes - s->codebook_bytes - s->table_bytes - s->index_bytes -
                    s->gap_bytes - s->bias_bytes;
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
    return dc_fail(DC_ERR_ARG, "%s: layer %d: name must be 1..63 printable ASCII characters", path,
                   li);
  const char *nm = L->name;
  if (L->ndim < 1 || L->ndim > 4)
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): ndim = %d, must be 1..4", path, li, nm,
                   L->ndim);
  uint64_t c = 1;
  for (int d = 0; d < L->ndim; d++) {
    if (L->dims[d] < 1)
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): dims[%d] = %d, must be >= 1", path, li, nm,
                     d, L->dims[d]);
    c *= (uint64_t)L->dims[d];
    if (c > DC_DCZ_MAX_WEIGHTS)
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): more than %u weights", path, li, nm,
                     DC_DCZ_MAX_WEIGHTS);
  }
  if (L->bits < 1 || L->bits > 8)
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): bits = %d, must be 1..8", path, li, nm,
                   L->bits);
  if (L->gap_bits < 1 || L->gap_bits > 16)
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): gap_bits = %d, must be 1..16", path, li, nm,
                   L->gap_bits);
  if (L->nbias < 0 || (uint64_t)L->nbias > DC_DCZ_MAX_WEIGHTS)
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): nbias = %d, must be 0..%u", path, li, nm,
                   L->nbias, DC_DCZ_MAX_WEIGHTS);
  if (!L->codebook)
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): codebook is NULL", path, li, nm);
  for (int j = 0; j < (1 << L->bits); j++)
    if (!isfinite(L->codebook[j]))
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): codebook[%d] = %g is not finite", path, li,
                     nm, j, (double)L->codebook[j]);
  if (L->nbias > 0 && !L->bias)
    return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): bias is NULL", path, li, nm);
  for (int j = 0; j < L->nbias; j++)
    if (!isfinite(L->bias[j]))
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): bias[%d] = %g is not finite", path, li, nm,
                     j, (double)L->bias[j]);
  for (uint64_t i = 0; i < c; i++) {
    if (L->mask && L->mask[i] > 1)
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): mask[%llu] = %d, must be 0 or 1", path, li,
                     nm, (unsigned long long)i, L->mask[i]);
    if (L->mask && !L->mask[i]) continue;
    if (!L->index)
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): index is NULL but weights are kept", path,
                     li, nm);
    if (L->index[i] >= (1 << L->bits))
      return dc_fail(DC_ERR_ARG, "%s: layer %d ('%s'): index[%llu] = %d, codebook has %d entries",
                     path, li, nm, (unsigned long long)i, L->index[i], 1 << L->bits);
  }
  *count = c;
  return DC_OK;
}

/* Build the framed record (u64 length, record, u32 CRC) of a validated layer of
 * `count` weights in a new buffer *out of *outlen bytes. */
static dc_status encode_layer(const dc_dcz_layer *L, uint64_t count, uint8_t **out,
                              size_t *outlen, dc_dcz_layer_stats *stats) {
  const int k = 1 << L->bits, nsym_i = k + 1, nsym_g = 1 << L->gap_bits;
  size_t nnz = 0;
  for (uint64_t i = 0; i < count; i++) nnz += !L->mask || L->mask[i];

  dc_status st = DC_OK;
  size_t ne = 0;
  size_t *pos = dc_alloc(nnz * sizeof *pos);
  uint16_t *gap = NULL, *isym = NULL;
  uint8_t *fill = NULL, *len_i = NULL, *len_g = NULL, *tab = NULL, *s1 = NULL, *s2 = NULL;
  uint8_t *rec = NULL;
  uint64_t *freq = NULL, b1 = 0, b2 = 0;
  if (!pos) st = DC_ERR_NOMEM;
  if (st == DC_OK) {
    size_t j = 0;
    for (uint64_t i = 0; i < count; i++)
      if (!L->mask || L->mask[i]) pos[j++] = (size_t)i;
    st = dc_gap_count(pos, nnz, L->gap_bits, &ne);
  }
  if (st == DC_OK) {
    gap = dc_alloc(ne * sizeof *gap);
    isym = dc_alloc(ne * sizeof *isym);
    fill = dc_alloc(ne);
    freq = dc_alloc((size_t)(nsym_i > nsym_g ? nsym_i : nsym_g) * sizeof *freq);
    len_i = dc_alloc((size_t)nsym_i);
    len_g = dc_alloc((size_t)nsym_g);
    tab = dc_alloc(3 * ((size_t)nsym_i + (size_t)nsym_g));
    if (!gap || !isym || !fill || !freq || !len_i || !len_g || !tab) st = DC_ERR_NOMEM;
  }
  if (st == DC_OK) st = dc_gap_encode(pos, nnz, L->gap_bits, gap, fill, ne);
  if (st == DC_OK) {
    for (size_t e = 0, j = 0; e < ne; e++) isym[e] = fill[e] ? (uint16_t)k : L->index[pos[j++]];
    memset(freq, 0, (size_t)nsym_i * sizeof *freq);
    for (size_t e = 0; e < ne; e++) freq[isym[e]]++;
    st = dc_huff_lengths(freq, nsym_i, DC_HUFF_MAX_LEN, len_i);
  }
  if (st == DC_OK) {
    memset(freq, 0, (size_t)nsym_g * sizeof *freq);
    for (size_t e = 0; e < ne; e++) freq[gap[e]]++;
    st = dc_huff_lengths(freq, nsym_g, DC_HUFF_MAX_LEN, len_g);
  }
  if (st == DC_OK) st = dc_huff_encode(isym, ne, len_i, nsym_i, &s1, &b1);
  if (st == DC_OK) st = dc_huff_encode(gap, ne, len_g, nsym_g, &s2, &b2);
  if (st == DC_OK) {
    size_t t1 = table_write(len_i, nsym_i, tab);
    size_t t2 = table_write(len_g, nsym_g, tab + t1);
    int nl = name_len(L->name);
    size_t rl = RECORD_FIXED + (size_t)nl + 4 * (size_t)L->ndim + 4 * (size_t)k + t1 + t2 +
                (size_t)((b1 + 7) / 8) + (size_t)((b2 + 7) / 8) + 4 * (size_t)L->nbias;
    rec = dc_alloc(rl + LAYER_FRAME);
    if (!rec) st = DC_ERR_NOMEM;
    if (st == DC_OK) {
      obuf o = {rec, 0, rl + LAYER_FRAME};
      put_uint(&o, rl, 8);
      put_uint(&o, (uint64_t)nl, 1);
      put_bytes(&o, L->name, (size_t)nl);
      put_uint(&o, (uint64_t)L->ndim, 1);
      put_uint(&o, (uint64_t)L->bits, 1);
      put_uint(&o, (uint64_t)L->gap_bits, 1);
      put_uint(&o, 0, 1);
      for (int d = 0; d < L->ndim; d++) put_uint(&o, (uint64_t)L->dims[d], 4);
      for (int j = 0; j < k; j++) put_f32(&o, L->codebook[j]);
      put_uint(&o, nnz, 8);
      put_uint(&o, ne, 8);
      put_uint(&o, (uint64_t)L->nbias, 4);
      put_uint(&o, t1, 4);
      put_uint(&o, t2, 4);
      put_uint(&o, b1, 8);
      put_uint(&o, b2, 8);
      put_bytes(&o, tab, t1 + t2);
      put_bytes(&o, s1, (size_t)((b1 + 7) / 8));
      put_bytes(&o, s2, (size_t)((b2 + 7) / 8));
      for (int j = 0; j < L->nbias; j++) put_f32(&o, L->bias[j]);
      put_uint(&o, crc_update(0, rec, o.n), 4);
      DC_ASSERT(o.n == o.cap);
      *out = rec;
      *outlen = o.n;
      if (stats) {
        layer_sizes z = {count, nnz, ne, (uint64_t)L->nbias, rl, (uint32_t)t1, (uint32_t)t2,
                         b1, b2, L->bits, L->gap_bits};
        fill_stats(stats, L->name, &z);
      }
    }
  }
  dc_free(pos);
  dc_free(gap);
  dc_free(isym);
  dc_free(fill);
  dc_free(freq);
  dc_free(len_i);
  dc_free(len_g);
  dc_free(tab);
  dc_free(s1);
  dc_free(s2);
  return st;
}

/* ---------------------------------------------------------------- model section */

enum { MODEL_FIXED = 4 + 1 + 3 + 4 + 12 + 4 + 4, /* without the two texts */
       MAX_RESIZE = 65536 };

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

/* The framed model record (u64 length, record, u32 CRC) in a new buffer. */
static dc_status encode_model(const dc_dcz_model *m, long netlen, long lablen, uint8_t **out, size_t *outlen) {
  size_t rl = MODEL_FIXED + (size_t)netlen + (size_t)lablen;
  uint8_t *rec = dc_alloc(rl + LAYER_FRAME);
  if (!rec) return DC_ERR_NOMEM;
  obuf o = {rec, 0, rl + LAYER_FRAME};
  put_uint(&o, rl, 8);
  put_uint(&o, (uint64_t)netlen, 4);
  put_bytes(&o, m->net, (size_t)netlen);
  put_uint(&o, (uint64_t)m->color, 1);
  put_uint(&o, 0, 3);
  put_uint(&o, (uint64_t)m->resize, 4);
  for (int c = 0; c < 3; c++) put_f32(&o, m->mean[c]);
  put_f32(&o, m->scale);
  put_uint(&o, (uint64_t)lablen, 4);
  put_bytes(&o, m->labels, (size_t)lablen);
  put_uint(&o, crc_update(0, rec, o.n), 4);
  DC_ASSERT(o.n == o.cap);
  *out = rec;
  *outlen = o.n;
  return DC_OK;
}

void dc_dcz_model_free(dc_dcz_model *m) {
  if (!m) return;
  free(m->net);
  free(m->labels);
  memset(m, 0, sizeof *m);
}

static dc_status write_all(FILE *f, const char *tmp, const uint8_t *p, size_t n, uint32_t *crc) {
  if (n && fwrite(p, 1, n, f) != n)
    return dc_fail(DC_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
  *crc = crc_update(*crc, p, n);
  return DC_OK;
}

dc_status dc_dcz_write_model(const char *path, const dc_dcz_model *model, const dc_dcz_layer *layers, int n,
                             dc_dcz_stats *stats) {
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
    put_uint(&o, model ? DC_DCZ_VERSION : DC_DCZ_VERSION_PLAIN, 2);
    put_uint(&o, 0, 2);
    put_uint(&o, (uint64_t)n, 4);
    put_uint(&o, crc_update(0, h, 12), 4);
    st = write_all(f, tmp, h, sizeof h, &crc);
  }
  if (st == DC_OK && model) {
    uint8_t *rec = NULL;
    size_t rl = 0;
    st = encode_model(model, netlen, lablen, &rec, &rl);
    if (st == DC_OK) st = write_all(f, tmp, rec, rl, &crc);
    if (stats) stats->model_bytes = rl;
    dc_free(rec);
  }
  for (int i = 0; st == DC_OK && i < n; i++) {
    uint8_t *rec = NULL;
    size_t rl = 0;
    uint64_t count = 1;
    for (int d = 0; d < layers[i].ndim; d++) count *= (uint64_t)layers[i].dims[d];
    st = encode_layer(&layers[i], count, &rec, &rl, ls ? &ls[i] : NULL);
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
  if (st == DC_OK) st = dc_atomic_commit(&a);
  else dc_atomic_abort(&a);
  if (st == DC_OK && stats) {
    stats->nlayers = n;
    stats->layer = ls;
    finish_stats(stats);
  } else {
    dc_free(ls);
    if (stats) memset(stats, 0, sizeof *stats);
  }
  return st;
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
  dc_status st = encode_layer(layer, count, &rec, &len, stats);
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
    return dc_fail(DC_ERR_IO, "%s: read failed at offset %llu: %s", r->path,
                   (unsigned long long)r->pos,
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

/* One layer record's fields, checked against each other and against the record's
 * length; the pointers point into the record. */
typedef struct {
  uint64_t bits, gap_bits, count, nnz, ne, nbias, t1, t2, b1, b2;
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
} layer_streams;

static void streams_free(layer_streams *s) {
  dc_free(s->len_i);
  dc_free(s->len_g);
  dc_free(s->isym);
  dc_free(s->gsym);
  dc_free(s->fill);
  dc_free(s->pos);
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
  if (take_uint(c, 1, &v)) return ends_inside(who, "reserved byte");
  if (ndim < 1 || ndim > 4) return bad(who, "ndim %llu, must be 1..4", (unsigned long long)ndim);
  if (r->bits < 1 || r->bits > 8) return bad(who, "bits %llu, must be 1..8", (unsigned long long)r->bits);
  if (r->gap_bits < 1 || r->gap_bits > 16)
    return bad(who, "gap_bits %llu, must be 1..16", (unsigned long long)r->gap_bits);
  if (v != 0) return bad(who, "reserved byte is 0x%02x, must be 0", (unsigned)v);
  L->ndim = (int)ndim;
  L->bits = (int)r->bits;
  L->gap_bits = (int)r->gap_bits;
  r->count = 1;
  for (uint64_t d = 0; d < ndim; d++) {
    if (take_uint(c, 4, &v)) return ends_inside(who, "dims");
    if (v < 1 || v > INT_MAX) return bad(who, "dims[%d] = %llu, must be 1..%d", (int)d, (unsigned long long)v, INT_MAX);
    L->dims[d] = (int)v;
    r->count *= v; /* <= 2^30 · 2^31: no overflow before the check */
    if (r->count > DC_DCZ_MAX_WEIGHTS) return bad(who, "shape has more than %u weights (the format limit)", DC_DCZ_MAX_WEIGHTS);
  }
  r->k = 1 << r->bits;
  r->nsym_i = r->k + 1;
  r->nsym_g = 1 << r->gap_bits;
  return DC_OK;
}

/* The codebook and the sizes after it, each checked against the layer's shape and the
 * record's remaining bytes, then pointers to the tables, streams and biases. */
static dc_status parse_sizes(const char *who, cursor *c, layer_rec *r) {
  if (take(c, 4 * (size_t)r->k, &r->codebook)) return ends_inside(who, "codebook");
  if (take_uint(c, 8, &r->nnz)) return ends_inside(who, "nnz");
  if (take_uint(c, 8, &r->ne)) return ends_inside(who, "entry count");
  if (take_uint(c, 4, &r->nbias)) return ends_inside(who, "nbias");
  if (take_uint(c, 4, &r->t1)) return ends_inside(who, "index table size");
  if (take_uint(c, 4, &r->t2)) return ends_inside(who, "gap table size");
  if (take_uint(c, 8, &r->b1)) return ends_inside(who, "index stream size");
  if (take_uint(c, 8, &r->b2)) return ends_inside(who, "gap stream size");
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
  uint64_t payload = r->t1 + r->t2 + (b1 + 7) / 8 + (b2 + 7) / 8 + 4 * r->nbias;
  if (payload != c->left)
    return bad(who, "record has %zu bytes after its header but its sizes add up to %llu", c->left,
               (unsigned long long)payload);
  if (take(c, (size_t)r->t1, &r->tab_i) || take(c, (size_t)r->t2, &r->tab_g)) return ends_inside(who, "code tables");
  if (take(c, (size_t)((b1 + 7) / 8), &r->str_i) || take(c, (size_t)((b2 + 7) / 8), &r->str_g))
    return ends_inside(who, "streams");
  if (take(c, 4 * (size_t)r->nbias, &r->bias)) return ends_inside(who, "biases");
  return DC_OK;
}

/* The codebook and biases must be finite. */
static dc_status check_values(const char *who, const layer_rec *r) {
  for (int j = 0; j < r->k; j++) {
    float v = f32_at(r->codebook + 4 * j);
    if (!isfinite(v)) return bad(who, "codebook[%d] = %g is not finite", j, (double)v);
  }
  for (uint64_t j = 0; j < r->nbias; j++) {
    float v = f32_at(r->bias + 4 * j);
    if (!isfinite(v)) return bad(who, "bias[%d] = %g is not finite", (int)j, (double)v);
  }
  return DC_OK;
}

/* Code tables, both Huffman streams and the gap decoding into s (the caller frees it,
 * also on failure); the kept positions must match the record's nnz. */
static dc_status decode_streams(const char *who, const layer_rec *r, layer_streams *s) {
  const char *why;
  if (!(s->len_i = dc_alloc((size_t)r->nsym_i)) || !(s->len_g = dc_alloc((size_t)r->nsym_g))) return DC_ERR_NOMEM;
  if ((why = table_read(r->tab_i, (size_t)r->t1, r->nsym_i, s->len_i))) return bad(who, "weight-index code table: %s", why);
  if ((why = table_read(r->tab_g, (size_t)r->t2, r->nsym_g, s->len_g))) return bad(who, "gap code table: %s", why);
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
  for (int j = 0; j < r->k; j++) L->codebook[j] = f32_at(r->codebook + 4 * j);
  for (uint64_t j = 0; j < r->nbias; j++) L->bias[j] = f32_at(r->bias + 4 * j);
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
static dc_status parse_layer(const char *path, int li, const uint8_t *rec, size_t rl, dc_dcz_layer *L,
                             dc_dcz_layer_stats *stats, uint64_t *dense_left, uint64_t file_bytes) {
  char who[640];
  snprintf(who, sizeof who, "%.500s: layer %d", path, li);
  cursor c = {rec, rl};
  layer_rec r = {0};
  dc_dcz_layer shape = {0}; /* name and shape when L is NULL */
  dc_dcz_layer *out = L ? L : &shape;
  DC_TRY(parse_shape(who, sizeof who, path, li, &c, out, &r));
  DC_TRY(parse_sizes(who, &c, &r));
  if (r.count > *dense_left)
    return bad(who, "%llu weights, more than a %llu-byte file can hold (a .dcz declares at most %u weights plus %u "
               "per byte of file): corrupt or crafted",
               (unsigned long long)r.count, (unsigned long long)file_bytes, DC_DCZ_DENSE_FREE, DC_DCZ_DENSE_PER_BYTE);
  *dense_left -= r.count;
  DC_TRY(check_values(who, &r));
  layer_streams s = {0};
  dc_status st = decode_streams(who, &r, &s);
  if (st == DC_OK && L) st = fill_layer(&r, &s, L);
  if (st == DC_OK && stats) {
    layer_sizes z = {r.count, r.nnz, r.ne, r.nbias, rl, (uint32_t)r.t1, (uint32_t)r.t2, r.b1, r.b2, (int)r.bits,
                     (int)r.gap_bits};
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

/* The fields of the model record in c into *m (texts newly allocated: the caller
 * releases *m, also on failure). */
static dc_status parse_model_fields(const char *who, cursor *c, dc_dcz_model *m) {
  const uint8_t *p;
  uint64_t netlen, lablen, color, resv, resize;
  const char *why;
  if (take_uint(c, 4, &netlen)) return ends_inside(who, "net text length");
  if (netlen < 1 || netlen > DC_DCZ_MAX_TEXT)
    return bad(who, "net text of %llu bytes, must be 1..%u", (unsigned long long)netlen, DC_DCZ_MAX_TEXT);
  if (take(c, (size_t)netlen, &p)) return ends_inside(who, "net text");
  if ((why = take_text(p, netlen, &m->net))) return bad(who, "net text %s", why);
  if (take_uint(c, 1, &color)) return ends_inside(who, "color");
  if (take_uint(c, 3, &resv)) return ends_inside(who, "reserved bytes");
  if (take_uint(c, 4, &resize)) return ends_inside(who, "resize");
  if (color >= DC_COLOR_COUNT) return bad(who, "color %llu, must be 0 (gray), 1 (BGR) or 2 (RGB)", (unsigned long long)color);
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
  if (!isfinite(m->scale) || m->scale == 0.0f) return bad(who, "scale %g, must be finite and nonzero", (double)m->scale);
  if (take_uint(c, 4, &lablen)) return ends_inside(who, "label text length");
  if (lablen > DC_DCZ_MAX_TEXT)
    return bad(who, "label text of %llu bytes, at most %u", (unsigned long long)lablen, DC_DCZ_MAX_TEXT);
  if (take(c, (size_t)lablen, &p)) return ends_inside(who, "label text");
  if (lablen && (why = take_text(p, lablen, &m->labels))) return bad(who, "label text %s", why);
  if (c->left != 0) return bad(who, "%zu unexpected bytes after the label text", c->left);
  return DC_OK;
}

/* Parse the CRC-checked model record rec[rl] into *m (texts newly allocated; on
 * failure *m is released). */
static dc_status parse_model(const char *path, const uint8_t *rec, size_t rl, dc_dcz_model *m) {
  char who[600];
  snprintf(who, sizeof who, "%.500s: model section", path);
  cursor c = {rec, rl};
  dc_status st = parse_model_fields(who, &c, m);
  if (st != DC_OK) dc_dcz_model_free(m);
  return st;
}

/* Read the framed model record at r's position (right after the header). */
static dc_status read_model(reader *r, dc_dcz_model *m) {
  uint64_t at = r->pos, left = r->size - r->pos - TRAILER_BYTES;
  if (left < LAYER_FRAME + MODEL_FIXED + 1)
    return dc_fail(DC_ERR_FORMAT, "%s: file truncated or corrupt: the model section at offset %llu has %llu bytes",
                   r->path, (unsigned long long)at, (unsigned long long)left);
  uint8_t lb[8];
  DC_TRY(rd(r, lb, 8));
  uint64_t rl = get_le(lb, 8);
  if (rl < MODEL_FIXED + 1 || rl > left - LAYER_FRAME)
    return dc_fail(DC_ERR_FORMAT,
                   "%s: file truncated or corrupt: the model section at offset %llu claims %llu bytes, but %llu "
                   "are left for it (minimum %d)",
                   r->path, (unsigned long long)at, (unsigned long long)rl, (unsigned long long)(left - LAYER_FRAME),
                   MODEL_FIXED + 1);
  uint8_t *rec = dc_alloc((size_t)rl + LAYER_FRAME);
  if (!rec) return DC_ERR_NOMEM;
  memcpy(rec, lb, 8);
  dc_status st = rd(r, rec + 8, (size_t)rl + 4);
  if (st == DC_OK) {
    uint32_t crc = (uint32_t)get_le(rec + 8 + rl, 4), comp = crc_update(0, rec, 8 + (size_t)rl);
    if (crc != comp)
      st = dc_fail(DC_ERR_FORMAT,
                   "%s: model section at offset %llu: CRC mismatch (stored 0x%08x, computed 0x%08x): file corrupt",
                   r->path, (unsigned long long)at, crc, comp);
  }
  dc_dcz_model tmp = {0};
  if (st == DC_OK) st = parse_model(r->path, rec + 8, (size_t)rl, m ? m : &tmp);
  dc_dcz_model_free(&tmp);
  dc_free(rec);
  return st;
}

/* The 16-byte header: magic, version, CRC, flags; *nl layers, *version. */
static dc_status read_header(reader *r, uint32_t *nl, unsigned *version) {
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
  if (*version != DC_DCZ_VERSION && *version != DC_DCZ_VERSION_PLAIN)
    return dc_fail(DC_ERR_FORMAT, "%s: format version %u not supported (this build reads versions %d and %d)", path,
                   *version, DC_DCZ_VERSION_PLAIN, DC_DCZ_VERSION);
  uint32_t hcrc = (uint32_t)get_le(h + 12, 4), hcomp = crc_update(0, h, 12);
  if (hcrc != hcomp)
    return dc_fail(DC_ERR_FORMAT, "%s: header CRC mismatch (stored 0x%08x, computed 0x%08x): file corrupt", path, hcrc,
                   hcomp);
  if (flags != 0) return dc_fail(DC_ERR_FORMAT, "%s: unknown header flags 0x%04x", path, flags);
  *nl = (uint32_t)get_le(h + 8, 4);
  return DC_OK;
}

/* Layer i's framed record at r's position, its length and CRC checked: *rec (rl + the
 * frame bytes, the caller frees it) with the record at *rec + 8. */
static dc_status read_record(reader *r, uint32_t i, uint32_t nl, uint8_t **rec, uint64_t *rl) {
  const char *path = r->path;
  uint64_t at = r->pos, left = r->size - r->pos - TRAILER_BYTES;
  if (left < LAYER_FRAME + MIN_RECORD)
    return dc_fail(DC_ERR_FORMAT,
                   "%s: file truncated or corrupt: layer %u of %u at offset %llu has %llu bytes, a layer needs at "
                   "least %d",
                   path, i, nl, (unsigned long long)at, (unsigned long long)left, LAYER_FRAME + MIN_RECORD);
  uint8_t lb[8];
  DC_TRY(rd(r, lb, 8));
  *rl = get_le(lb, 8);
  if (*rl < MIN_RECORD || *rl > left - LAYER_FRAME)
    return dc_fail(DC_ERR_FORMAT,
                   "%s: file truncated or corrupt: layer %u at offset %llu claims a %llu-byte record, but %llu bytes "
                   "are left for it (minimum %d)",
                   path, i, (unsigned long long)at, (unsigned long long)*rl, (unsigned long long)(left - LAYER_FRAME),
                   MIN_RECORD);
  if (!(*rec = dc_alloc((size_t)*rl + LAYER_FRAME))) return DC_ERR_NOMEM;
  memcpy(*rec, lb, 8);
  DC_TRY(rd(r, *rec + 8, (size_t)*rl + 4));
  uint32_t lcrc = (uint32_t)get_le(*rec + 8 + *rl, 4), lcomp = crc_update(0, *rec, 8 + (size_t)*rl);
  if (lcrc != lcomp)
    return dc_fail(DC_ERR_FORMAT, "%s: layer %u at offset %llu: CRC mismatch (stored 0x%08x, computed 0x%08x): file corrupt",
                   path, i, (unsigned long long)at, lcrc, lcomp);
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
  unsigned version = 0;
  DC_TRY(read_header(&r, &nl, &version));
  uint64_t model_bytes = r.pos;
  if (version == DC_DCZ_VERSION) DC_TRY(read_model(&r, model));
  model_bytes = r.pos - model_bytes;
  uint64_t room = (r.size - r.pos - TRAILER_BYTES) / (LAYER_FRAME + MIN_RECORD);
  if (nl > DC_DCZ_MAX_LAYERS || nl > room)
    return dc_fail(DC_ERR_FORMAT,
                   "%s: header claims %u layers; the limit is %d and the %llu-byte file has room for %llu: truncated or "
                   "corrupt",
                   r.path, nl, DC_DCZ_MAX_LAYERS, (unsigned long long)r.size, (unsigned long long)room);
  dc_dcz_layer *ls = NULL;
  dc_dcz_layer_stats *ss = NULL;
  if (nl > 0 && ((layers && !(ls = calloc(nl, sizeof *ls))) || (stats && !(ss = dc_alloc(nl * sizeof *ss))))) {
    free(ls);
    return dc_fail(DC_ERR_NOMEM, "%s: out of memory for %u layers", r.path, nl);
  }
  dc_status st = DC_OK;
  uint64_t dense_left = dense_budget(r.size);
  for (uint32_t i = 0; st == DC_OK && i < nl; i++) {
    uint8_t *rec = NULL;
    uint64_t rl = 0;
    st = read_record(&r, i, nl, &rec, &rl);
    if (st == DC_OK)
      st = parse_layer(r.path, (int)i, rec + 8, (size_t)rl, ls ? &ls[i] : NULL, ss ? &ss[i] : NULL, &dense_left,
                       r.size);
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
  if (buf) return read_impl(r, layers, n, stats, model);
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
