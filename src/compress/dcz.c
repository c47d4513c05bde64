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
 * arrays — sized by the layer's weight count — are allocated.
 *
 * Version 2 adds one record between the header and the layers, framed like a layer:
 * the model section (dc_dcz_model: net text, preprocessing, labels). The reader takes
 * its bytes from a FILE or from a caller's memory buffer through the same rd(). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dc/compress.h"
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
    return dc_fail(DC_ERR_IO, "%s: write failed (disk full?)", tmp);
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

  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5);
  if (!tmp) {
    dc_free(ls);
    return dc_fail(DC_ERR_NOMEM, "%s: out of memory", path);
  }
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  dc_status st = DC_OK;
  FILE *f = fopen(tmp, "wb");
  if (!f) st = dc_fail(DC_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
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
  if (st == DC_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
    st = dc_fail(DC_ERR_IO, "%s: flush failed: %s", tmp, strerror(errno));
  if (f && fclose(f) != 0 && st == DC_OK)
    st = dc_fail(DC_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
  if (st == DC_OK && rename(tmp, path) != 0)
    st = dc_fail(DC_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
  if (st != DC_OK && f) remove(tmp);
  free(tmp);
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

#define NEED(expr, field)                                                                   \
  do {                                                                                      \
    if (expr) {                                                                             \
      st = dc_fail(DC_ERR_FORMAT, "%s: record ends inside the %s", who, field);             \
      goto done;                                                                            \
    }                                                                                       \
  } while (0)
#define BAD(...)                                                  \
  do {                                                            \
    char msg_[256];                                               \
    snprintf(msg_, sizeof msg_, __VA_ARGS__);                     \
    st = dc_fail(DC_ERR_FORMAT, "%s: %s", who, msg_);             \
    goto done;                                                    \
  } while (0)

/* Parse and validate one CRC-checked record rec[rl] into *L (arrays newly allocated;
 * on failure whatever was allocated is left in *L for dc_dcz_free). */
static dc_status parse_layer(const char *path, int li, const uint8_t *rec, size_t rl,
                             dc_dcz_layer *L, dc_dcz_layer_stats *stats) {
  char who[640];
  snprintf(who, sizeof who, "%.500s: layer %d", path, li);
  dc_status st = DC_OK;
  cursor c = {rec, rl};
  const uint8_t *p;
  uint64_t v, nl, ndim, bits, gap_bits, count = 1, nnz, ne, nbias, t1, t2, b1, b2;
  uint16_t *isym = NULL, *gsym = NULL;
  uint8_t *fill = NULL, *len_i = NULL, *len_g = NULL;
  size_t *pos = NULL;
  char whatbuf[700];

  NEED(take_uint(&c, 1, &nl), "name length");
  if (nl < 1 || nl > 63) BAD("name length %llu, must be 1..63", (unsigned long long)nl);
  NEED(take(&c, (size_t)nl, &p), "name");
  for (uint64_t i = 0; i < nl; i++)
    if (p[i] < 0x20 || p[i] > 0x7e) BAD("name has a non-printable byte 0x%02x", p[i]);
  memcpy(L->name, p, (size_t)nl);
  L->name[nl] = '\0';
  snprintf(who, sizeof who, "%.500s: layer %d ('%s')", path, li, L->name);

  NEED(take_uint(&c, 1, &ndim), "ndim");
  NEED(take_uint(&c, 1, &bits), "bits");
  NEED(take_uint(&c, 1, &gap_bits), "gap_bits");
  NEED(take_uint(&c, 1, &v), "reserved byte");
  if (ndim < 1 || ndim > 4) BAD("ndim %llu, must be 1..4", (unsigned long long)ndim);
  if (bits < 1 || bits > 8) BAD("bits %llu, must be 1..8", (unsigned long long)bits);
  if (gap_bits < 1 || gap_bits > 16)
    BAD("gap_bits %llu, must be 1..16", (unsigned long long)gap_bits);
  if (v != 0) BAD("reserved byte is 0x%02x, must be 0", (unsigned)v);
  L->ndim = (int)ndim;
  L->bits = (int)bits;
  L->gap_bits = (int)gap_bits;
  for (uint64_t d = 0; d < ndim; d++) {
    NEED(take_uint(&c, 4, &v), "dims");
    if (v < 1 || v > INT_MAX)
      BAD("dims[%d] = %llu, must be 1..%d", (int)d, (unsigned long long)v, INT_MAX);
    L->dims[d] = (int)v;
    count *= v; /* <= 2^30 · 2^31: no overflow before the check */
    if (count > DC_DCZ_MAX_WEIGHTS)
      BAD("shape has more than %u weights (the format limit)", DC_DCZ_MAX_WEIGHTS);
  }
  const int k = 1 << bits, nsym_i = k + 1, nsym_g = 1 << gap_bits;
  const uint8_t *cb;
  NEED(take(&c, 4 * (size_t)k, &cb), "codebook");
  NEED(take_uint(&c, 8, &nnz), "nnz");
  NEED(take_uint(&c, 8, &ne), "entry count");
  NEED(take_uint(&c, 4, &nbias), "nbias");
  NEED(take_uint(&c, 4, &t1), "index table size");
  NEED(take_uint(&c, 4, &t2), "gap table size");
  NEED(take_uint(&c, 8, &b1), "index stream size");
  NEED(take_uint(&c, 8, &b2), "gap stream size");
  if (nnz > count)
    BAD("%llu kept weights in a layer of %llu", (unsigned long long)nnz,
        (unsigned long long)count);
  if (ne < nnz || ne - nnz > count >> gap_bits)
    BAD("%llu stream entries for %llu kept weights of %llu is impossible", (unsigned long long)ne,
        (unsigned long long)nnz, (unsigned long long)count);
  if (nbias > DC_DCZ_MAX_WEIGHTS)
    BAD("nbias %llu exceeds the format limit %u", (unsigned long long)nbias, DC_DCZ_MAX_WEIGHTS);
  /* every code is 1..24 bits: this bounds the entry count by the bytes present */
  if (ne == 0 ? (b1 || b2)
              : (b1 < ne || b2 < ne || b1 > ne * DC_HUFF_MAX_LEN || b2 > ne * DC_HUFF_MAX_LEN))
    BAD("stream sizes (%llu and %llu bits) do not fit %llu entries", (unsigned long long)b1,
        (unsigned long long)b2, (unsigned long long)ne);
  uint64_t payload = t1 + t2 + (b1 + 7) / 8 + (b2 + 7) / 8 + 4 * nbias;
  if (payload != c.left)
    BAD("record has %zu bytes after its header but its sizes add up to %llu", c.left,
        (unsigned long long)payload);

  /* code tables */
  const uint8_t *tb1, *tb2, *sb1, *sb2, *bb;
  NEED(take(&c, (size_t)t1, &tb1) || take(&c, (size_t)t2, &tb2), "code tables");
  NEED(take(&c, (size_t)((b1 + 7) / 8), &sb1) || take(&c, (size_t)((b2 + 7) / 8), &sb2),
       "streams");
  NEED(take(&c, 4 * (size_t)nbias, &bb), "biases");
  len_i = dc_alloc((size_t)nsym_i);
  len_g = dc_alloc((size_t)nsym_g);
  if (!len_i || !len_g) {
    st = DC_ERR_NOMEM;
    goto done;
  }
  const char *why;
  if ((why = table_read(tb1, (size_t)t1, nsym_i, len_i))) BAD("weight-index code table: %s", why);
  if ((why = table_read(tb2, (size_t)t2, nsym_g, len_g))) BAD("gap code table: %s", why);
  if (ne == 0) {
    for (int s = 0; s < nsym_i; s++)
      if (len_i[s]) BAD("weight-index code table is not empty but there are no entries");
    for (int s = 0; s < nsym_g; s++)
      if (len_g[s]) BAD("gap code table is not empty but there are no entries");
  }

  /* streams: ne <= b1 <= 8·rl, so these allocations are bounded by the file */
  isym = dc_alloc((size_t)ne * sizeof *isym);
  gsym = dc_alloc((size_t)ne * sizeof *gsym);
  fill = dc_alloc((size_t)ne);
  pos = dc_alloc((size_t)ne * sizeof *pos);
  if (!isym || !gsym || !fill || !pos) {
    st = DC_ERR_NOMEM;
    goto done;
  }
  snprintf(whatbuf, sizeof whatbuf, "%s: weight-index stream", who);
  if ((st = dc_huff_decode(sb1, b1, len_i, nsym_i, isym, (size_t)ne, whatbuf))) goto done;
  snprintf(whatbuf, sizeof whatbuf, "%s: gap stream", who);
  if ((st = dc_huff_decode(sb2, b2, len_g, nsym_g, gsym, (size_t)ne, whatbuf))) goto done;
  for (uint64_t e = 0; e < ne; e++) fill[e] = isym[e] == k;
  size_t kept;
  if ((st = dc_gap_decode(gsym, fill, (size_t)ne, (int)gap_bits, (size_t)count, pos, &kept,
                          whatbuf)))
    goto done;
  if (kept != nnz)
    BAD("streams hold %zu kept weights, the header says %llu", kept, (unsigned long long)nnz);

  /* everything checks out: allocate the layer */
  L->nbias = (int)nbias;
  L->codebook = dc_alloc(4 * (size_t)k);
  L->index = dc_alloc((size_t)count);
  L->mask = dc_alloc((size_t)count);
  L->bias = dc_alloc(4 * (size_t)nbias);
  if (!L->codebook || !L->index || !L->mask || !L->bias) {
    st = DC_ERR_NOMEM;
    goto done;
  }
  for (int j = 0; j < k; j++) {
    L->codebook[j] = f32_at(cb + 4 * j);
    if (!isfinite(L->codebook[j]))
      BAD("codebook[%d] = %g is not finite", j, (double)L->codebook[j]);
  }
  for (uint64_t j = 0; j < nbias; j++) {
    L->bias[j] = f32_at(bb + 4 * j);
    if (!isfinite(L->bias[j])) BAD("bias[%d] = %g is not finite", (int)j, (double)L->bias[j]);
  }
  for (size_t e = 0, j = 0; e < ne; e++) {
    if (fill[e]) continue;
    L->mask[pos[j]] = 1;
    L->index[pos[j]] = (uint8_t)isym[e];
    j++;
  }
  if (stats) {
    layer_sizes z = {count, nnz, ne, nbias, rl, (uint32_t)t1, (uint32_t)t2, b1, b2, (int)bits,
                     (int)gap_bits};
    fill_stats(stats, L->name, &z);
  }
done:
  dc_free(isym);
  dc_free(gsym);
  dc_free(fill);
  dc_free(pos);
  dc_free(len_i);
  dc_free(len_g);
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

/* Parse the CRC-checked model record rec[rl] into *m (texts newly allocated; on
 * failure *m is released). */
static dc_status parse_model(const char *path, const uint8_t *rec, size_t rl, dc_dcz_model *m) {
  char who[600];
  snprintf(who, sizeof who, "%.500s: model section", path);
  dc_status st = DC_OK;
  cursor c = {rec, rl};
  const uint8_t *p;
  uint64_t netlen, lablen, color, resv, resize;
  const char *why;
  NEED(take_uint(&c, 4, &netlen), "net text length");
  if (netlen < 1 || netlen > DC_DCZ_MAX_TEXT)
    BAD("net text of %llu bytes, must be 1..%u", (unsigned long long)netlen, DC_DCZ_MAX_TEXT);
  NEED(take(&c, (size_t)netlen, &p), "net text");
  if ((why = take_text(p, netlen, &m->net))) BAD("net text %s", why);
  NEED(take_uint(&c, 1, &color), "color");
  NEED(take_uint(&c, 3, &resv), "reserved bytes");
  NEED(take_uint(&c, 4, &resize), "resize");
  if (color >= DC_COLOR_COUNT) BAD("color %llu, must be 0 (gray), 1 (BGR) or 2 (RGB)", (unsigned long long)color);
  if (resv != 0) BAD("reserved bytes are not 0");
  if (resize > MAX_RESIZE) BAD("resize %llu, must be 0..%d", (unsigned long long)resize, MAX_RESIZE);
  m->color = (dc_color)color;
  m->resize = (int)resize;
  NEED(take(&c, 16, &p), "mean and scale");
  for (int k = 0; k < 3; k++) {
    m->mean[k] = f32_at(p + 4 * k);
    if (!isfinite(m->mean[k])) BAD("mean[%d] is not finite", k);
  }
  m->scale = f32_at(p + 12);
  if (!isfinite(m->scale) || m->scale == 0.0f) BAD("scale %g, must be finite and nonzero", (double)m->scale);
  NEED(take_uint(&c, 4, &lablen), "label text length");
  if (lablen > DC_DCZ_MAX_TEXT)
    BAD("label text of %llu bytes, at most %u", (unsigned long long)lablen, DC_DCZ_MAX_TEXT);
  NEED(take(&c, (size_t)lablen, &p), "label text");
  if (lablen && (why = take_text(p, lablen, &m->labels))) BAD("label text %s", why);
  if (c.left != 0) BAD("%zu unexpected bytes after the label text", c.left);
done:
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

/* Everything after opening: r->size set, r->f or r->mem at offset 0. Closes nothing. */
static dc_status read_impl(reader r, dc_dcz_layer **layers, int *n, dc_dcz_stats *stats, dc_dcz_model *model) {
  const char *path = r.path;
  dc_status st = DC_OK;
  dc_dcz_layer *ls = NULL;
  dc_dcz_layer_stats *ss = NULL;
  uint8_t *rec = NULL;
  uint32_t nl = 0;
  uint64_t model_bytes = 0;
  if (r.size < HEADER_BYTES + TRAILER_BYTES) {
    st = dc_fail(DC_ERR_FORMAT, "%s: file is %llu bytes, too short for a .dcz file (at least %d)",
                 path, (unsigned long long)r.size, HEADER_BYTES + TRAILER_BYTES);
    goto done;
  }
  uint8_t h[HEADER_BYTES];
  if ((st = rd(&r, h, sizeof h))) goto done;
  if (memcmp(h, MAGIC, 4) != 0) {
    st = dc_fail(DC_ERR_FORMAT,
                 "%s: bad magic %02x %02x %02x %02x, expected 44 43 5a 46 ('DCZF'): not a .dcz "
                 "file",
                 path, h[0], h[1], h[2], h[3]);
    goto done;
  }
  unsigned version = (unsigned)get_le(h + 4, 2), flags = (unsigned)get_le(h + 6, 2);
  if (version != DC_DCZ_VERSION && version != DC_DCZ_VERSION_PLAIN) {
    st = dc_fail(DC_ERR_FORMAT, "%s: format version %u not supported (this build reads versions %d and %d)",
                 path, version, DC_DCZ_VERSION_PLAIN, DC_DCZ_VERSION);
    goto done;
  }
  uint32_t hcrc = (uint32_t)get_le(h + 12, 4), hcomp = crc_update(0, h, 12);
  if (hcrc != hcomp) {
    st = dc_fail(DC_ERR_FORMAT,
                 "%s: header CRC mismatch (stored 0x%08x, computed 0x%08x): file corrupt", path,
                 hcrc, hcomp);
    goto done;
  }
  if (flags != 0) {
    st = dc_fail(DC_ERR_FORMAT, "%s: unknown header flags 0x%04x", path, flags);
    goto done;
  }
  nl = (uint32_t)get_le(h + 8, 4);
  model_bytes = r.pos;
  if (version == DC_DCZ_VERSION && (st = read_model(&r, model))) goto done;
  model_bytes = r.pos - model_bytes;
  uint64_t room = (r.size - r.pos - TRAILER_BYTES) / (LAYER_FRAME + MIN_RECORD);
  if (nl > DC_DCZ_MAX_LAYERS || nl > room) {
    st = dc_fail(DC_ERR_FORMAT,
                 "%s: header claims %u layers; the limit is %d and the %llu-byte file has room "
                 "for %llu: truncated or corrupt",
                 path, nl, DC_DCZ_MAX_LAYERS, (unsigned long long)r.size, (unsigned long long)room);
    goto done;
  }
  if (nl > 0) {
    ls = calloc(nl, sizeof *ls);
    ss = stats ? dc_alloc(nl * sizeof *ss) : NULL;
    if (!ls || (stats && !ss)) {
      st = dc_fail(DC_ERR_NOMEM, "%s: out of memory for %u layers", path, nl);
      goto done;
    }
  }
  for (uint32_t i = 0; i < nl; i++) {
    uint64_t at = r.pos, left = r.size - r.pos - TRAILER_BYTES;
    if (left < LAYER_FRAME + MIN_RECORD) {
      st = dc_fail(DC_ERR_FORMAT,
                   "%s: file truncated or corrupt: layer %u of %u at offset %llu has %llu bytes, "
                   "a layer needs at least %d",
                   path, i, nl, (unsigned long long)at, (unsigned long long)left,
                   LAYER_FRAME + MIN_RECORD);
      goto done;
    }
    uint8_t lb[8];
    if ((st = rd(&r, lb, 8))) goto done;
    uint64_t rl = get_le(lb, 8);
    if (rl < MIN_RECORD || rl > left - LAYER_FRAME) {
      st = dc_fail(DC_ERR_FORMAT,
                   "%s: file truncated or corrupt: layer %u at offset %llu claims a %llu-byte "
                   "record, but %llu bytes are left for it (minimum %d)",
                   path, i, (unsigned long long)at, (unsigned long long)rl,
                   (unsigned long long)(left - LAYER_FRAME), MIN_RECORD);
      goto done;
    }
    rec = dc_alloc((size_t)rl + LAYER_FRAME);
    if (!rec) {
      st = DC_ERR_NOMEM;
      goto done;
    }
    memcpy(rec, lb, 8);
    if ((st = rd(&r, rec + 8, (size_t)rl + 4))) goto done;
    uint32_t lcrc = (uint32_t)get_le(rec + 8 + rl, 4), lcomp = crc_update(0, rec, 8 + (size_t)rl);
    if (lcrc != lcomp) {
      st = dc_fail(DC_ERR_FORMAT,
                   "%s: layer %u at offset %llu: CRC mismatch (stored 0x%08x, computed 0x%08x): "
                   "file corrupt",
                   path, i, (unsigned long long)at, lcrc, lcomp);
      goto done;
    }
    *n = (int)i + 1; /* so the cleanup frees this layer's partial arrays too */
    if ((st = parse_layer(path, (int)i, rec + 8, (size_t)rl, &ls[i], ss ? &ss[i] : NULL)))
      goto done;
    dc_free(rec);
    rec = NULL;
  }
  if (r.size - r.pos != TRAILER_BYTES) {
    st = dc_fail(DC_ERR_FORMAT, "%s: %llu unexpected bytes after the last of %u layers", path,
                 (unsigned long long)(r.size - r.pos - TRAILER_BYTES), nl);
    goto done;
  }
  uint32_t fcomp = r.crc;
  uint8_t t[4];
  if ((st = rd(&r, t, 4))) goto done;
  uint32_t fcrc = (uint32_t)get_le(t, 4);
  if (fcrc != fcomp) {
    st = dc_fail(DC_ERR_FORMAT, "%s: file CRC mismatch (stored 0x%08x, computed 0x%08x): file corrupt",
                 path, fcrc, fcomp);
    goto done;
  }
done:
  dc_free(rec);
  if (st != DC_OK) {
    dc_dcz_free(ls, *n);
    dc_free(ss);
    *n = 0;
    dc_dcz_model_free(model);
    return st;
  }
  *layers = ls;
  *n = (int)nl;
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
  *layers = NULL;
  *n = 0;
  if (stats) memset(stats, 0, sizeof *stats);
  if (model) memset(model, 0, sizeof *model);
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
