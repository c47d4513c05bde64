/* compress/huffman.c — stream coding for Deep Compression §4: length-limited canonical
 * Huffman codes (package-merge), a table-driven decoder, and relative-index (gap)
 * coding of kept-weight positions with filler entries.
 *
 * Canonical codes: symbols sorted by (length, symbol) get consecutive code values,
 * so a code table is fully described by its lengths — that is all the .dcz file
 * stores. Codes are written MSB-first (compress/bits.h). */
#include <stdlib.h>
#include <string.h>

#include "compress/bits.h"
#include "dc/compress.h"

#define FAST_BITS 10 /* decoder lookup table: 2^10 entries cover codes up to 10 bits */

static const char *name_or(const char *what) { return what ? what : "huffman stream"; }

/* ---------------------------------------------------------------- code lengths */

typedef struct {
  uint64_t w;
  uint32_t sym;
} leaf;

static int leaf_cmp(const void *pa, const void *pb) {
  const leaf *a = pa, *b = pb;
  if (a->w != b->w) return a->w < b->w ? -1 : 1;
  return a->sym < b->sym ? -1 : a->sym > b->sym;
}

/* Package-merge for u >= 2 leaves sorted by weight, limit L (u <= 2^L): the optimal
 * lengths are, for each leaf, the number of levels in which it is selected.
 *   level L (deepest) list = the leaves;
 *   level d list = merge(leaves, packages of adjacent pairs of level d+1's list);
 *   select the first 2u-2 items of level 1; a selected package at level d selects
 *   its two items at level d+1, i.e. a prefix of 2·(packages selected) there.
 * Since every selection is a prefix, only whether each list item is a package needs
 * keeping: flags[d][i]. Leaves within a list appear in weight order, so the leaves
 * selected at a level are the lightest ones: leaf i gains 1 per level where
 * i < (leaves selected). Memory: L·2u flag bytes + two 2u weight arrays. */
static dc_status package_merge(const leaf *lv, int u, int L, uint8_t *len_sorted) {
  size_t cap = 2 * (size_t)u;
  uint64_t *prev = dc_alloc(cap * sizeof *prev);
  uint64_t *cur = dc_alloc(cap * sizeof *cur);
  uint8_t *flags = dc_alloc((size_t)L * cap);
  size_t *nitems = dc_alloc(((size_t)L + 1) * sizeof *nitems);
  if (!prev || !cur || !flags || !nitems) {
    dc_free(prev);
    dc_free(cur);
    dc_free(flags);
    dc_free(nitems);
    return DC_ERR_NOMEM;
  }
  /* level L: leaves only (flags row L-1 stays 0) */
  for (int i = 0; i < u; i++) prev[i] = lv[i].w;
  nitems[L] = (size_t)u;
  for (int d = L - 1; d >= 1; d--) {
    size_t npk = nitems[d + 1] / 2, a = 0, b = 0, o = 0;
    uint8_t *f = flags + (size_t)(d - 1) * cap;
    while (a < (size_t)u || b < npk) {
      uint64_t pw = b < npk ? prev[2 * b] + prev[2 * b + 1] : 0;
      if (b >= npk || (a < (size_t)u && lv[a].w <= pw)) {
        cur[o] = lv[a++].w;
        f[o++] = 0;
      } else {
        cur[o] = pw;
        f[o++] = 1;
        b++;
      }
    }
    nitems[d] = o;
    uint64_t *t = prev;
    prev = cur;
    cur = t;
  }
  memset(len_sorted, 0, (size_t)u);
  size_t take = 2 * (size_t)u - 2;
  for (int d = 1; d <= L && take > 0; d++) {
    const uint8_t *f = flags + (size_t)(d - 1) * cap;
    DC_ASSERT(take <= nitems[d]);
    size_t leaves = 0, packages = 0;
    for (size_t i = 0; i < take; i++) {
      if (f[i])
        packages++;
      else
        leaves++;
    }
    for (size_t i = 0; i < leaves; i++) len_sorted[i]++;
    take = 2 * packages;
  }
  dc_free(prev);
  dc_free(cur);
  dc_free(flags);
  dc_free(nitems);
  return DC_OK;
}

dc_status dc_huff_lengths(const uint64_t *freq, int nsym, int max_len, uint8_t *len) {
  if (nsym < 1 || nsym > DC_HUFF_MAX_SYMBOLS)
    return dc_fail(DC_ERR_ARG, "huffman: alphabet of %d symbols, must be 1..%d", nsym,
                   DC_HUFF_MAX_SYMBOLS);
  if (max_len < 1 || max_len > DC_HUFF_MAX_LEN)
    return dc_fail(DC_ERR_ARG, "huffman: max code length %d, must be 1..%d", max_len,
                   DC_HUFF_MAX_LEN);
  memset(len, 0, (size_t)nsym);
  int u = 0;
  uint64_t total = 0;
  for (int s = 0; s < nsym; s++) {
    if (!freq[s]) continue;
    u++;
    if (freq[s] > (1ull << 58) - total)
      return dc_fail(DC_ERR_ARG, "huffman: symbol frequencies sum past 2^58");
    total += freq[s];
  }
  if (u == 0) return DC_OK;
  if ((uint64_t)u > (1ull << max_len))
    return dc_fail(DC_ERR_ARG, "huffman: %d symbols in use cannot have codes of <= %d bits", u,
                   max_len);
  leaf *lv = dc_alloc((size_t)u * sizeof *lv);
  uint8_t *ls = dc_alloc((size_t)u);
  if (!lv || !ls) {
    dc_free(lv);
    dc_free(ls);
    return DC_ERR_NOMEM;
  }
  int j = 0;
  for (int s = 0; s < nsym; s++)
    if (freq[s]) lv[j++] = (leaf){freq[s], (uint32_t)s};
  dc_status st = DC_OK;
  if (u == 1) {
    ls[0] = 1;
  } else {
    qsort(lv, (size_t)u, sizeof *lv, leaf_cmp);
    int L = max_len < u - 1 ? max_len : u - 1; /* no optimal code is deeper than u-1 */
    st = package_merge(lv, u, L, ls);
  }
  if (st == DC_OK)
    for (int i = 0; i < u; i++) len[lv[i].sym] = ls[i];
  dc_free(lv);
  dc_free(ls);
  return st;
}

/* Count codes per length; 0 when valid (complete, single length-1 code, or empty),
 * else a dc_fail status naming `what`. */
static dc_status check_lengths(const uint8_t *len, int nsym, const char *what, dc_status err,
                               uint32_t count[DC_HUFF_MAX_LEN + 1]) {
  if (nsym < 1 || nsym > DC_HUFF_MAX_SYMBOLS)
    return dc_fail(err, "%s: alphabet of %d symbols, must be 1..%d", name_or(what), nsym,
                   DC_HUFF_MAX_SYMBOLS);
  memset(count, 0, (DC_HUFF_MAX_LEN + 1) * sizeof *count);
  int used = 0;
  for (int s = 0; s < nsym; s++) {
    if (len[s] > DC_HUFF_MAX_LEN)
      return dc_fail(err, "%s: symbol %d has code length %d, longer than the limit %d",
                     name_or(what), s, len[s], DC_HUFF_MAX_LEN);
    if (len[s]) {
      count[len[s]]++;
      used++;
    }
  }
  if (used == 0) return DC_OK;
  if (used == 1) {
    if (count[1] == 1) return DC_OK;
    return dc_fail(err, "%s: a single-symbol code must have length 1", name_or(what));
  }
  /* Kraft sum in units of 2^-MAX_LEN: 2^24 · 65536 fits easily in 64 bits */
  uint64_t kraft = 0;
  for (int l = 1; l <= DC_HUFF_MAX_LEN; l++) kraft += (uint64_t)count[l] << (DC_HUFF_MAX_LEN - l);
  uint64_t one = 1ull << DC_HUFF_MAX_LEN;
  if (kraft > one)
    return dc_fail(err, "%s: code lengths are over-subscribed (Kraft sum > 1): not a prefix code",
                   name_or(what));
  if (kraft < one)
    return dc_fail(err, "%s: code lengths are incomplete (Kraft sum < 1)", name_or(what));
  return DC_OK;
}

dc_status dc_huff_check(const uint8_t *len, int nsym, const char *what) {
  uint32_t count[DC_HUFF_MAX_LEN + 1];
  return check_lengths(len, nsym, what, DC_ERR_FORMAT, count);
}

uint64_t dc_huff_cost(const uint64_t *freq, const uint8_t *len, int nsym) {
  uint64_t bits = 0;
  for (int s = 0; s < nsym; s++) bits += freq[s] * len[s];
  return bits;
}

/* Canonical code values (deflate's rule): codes of each length are consecutive in
 * symbol order, starting where the previous length's codes end, doubled. */
static void canonical_codes(const uint8_t *len, int nsym, const uint32_t *count, uint32_t *code) {
  uint32_t next[DC_HUFF_MAX_LEN + 2];
  uint32_t c = 0;
  next[1] = 0;
  for (int l = 1; l <= DC_HUFF_MAX_LEN; l++) {
    c = (c + (l > 1 ? count[l - 1] : 0)) << (l > 1 ? 1 : 0);
    next[l] = c;
  }
  for (int s = 0; s < nsym; s++) code[s] = len[s] ? next[len[s]]++ : 0;
}

/* ---------------------------------------------------------------- encode */

dc_status dc_huff_encode(const uint16_t *sym, size_t n, const uint8_t *len, int nsym,
                         uint8_t **out, uint64_t *nbits) {
  *out = NULL;
  *nbits = 0;
  uint32_t count[DC_HUFF_MAX_LEN + 1];
  DC_TRY(check_lengths(len, nsym, "huffman encode", DC_ERR_ARG, count));
  uint64_t bits = 0;
  for (size_t i = 0; i < n; i++) {
    if (sym[i] >= nsym || !len[sym[i]])
      return dc_fail(DC_ERR_ARG, "huffman encode: symbol %u at %zu has no code", sym[i], i);
    bits += len[sym[i]];
  }
  uint32_t *code = dc_alloc((size_t)nsym * sizeof *code);
  uint8_t *buf = dc_alloc((size_t)((bits + 7) / 8));
  if (!code || !buf) {
    dc_free(code);
    dc_free(buf);
    return DC_ERR_NOMEM;
  }
  canonical_codes(len, nsym, count, code);
  dc_bitw w;
  dc_bitw_init(&w, buf, (size_t)((bits + 7) / 8));
  for (size_t i = 0; i < n; i++) {
    int rc = dc_bitw_put(&w, code[sym[i]], len[sym[i]]);
    DC_ASSERT(rc == 0); /* the buffer was sized from the same lengths */
  }
  dc_free(code);
  *out = buf;
  *nbits = bits;
  return DC_OK;
}

/* ---------------------------------------------------------------- decode */

typedef struct {
  uint32_t count[DC_HUFF_MAX_LEN + 1]; /* codes per length */
  uint16_t *sorted;                    /* (used) symbols in (length, symbol) order */
  uint32_t fast[1 << FAST_BITS];       /* peek -> (symbol << 8 | length), 0 = not here */
  int maxlen;
} decoder;

static dc_status decoder_build(decoder *d, const uint8_t *len, int nsym, const char *what) {
  d->sorted = NULL;
  DC_TRY(check_lengths(len, nsym, what, DC_ERR_FORMAT, d->count));
  d->maxlen = 0;
  uint32_t offs[DC_HUFF_MAX_LEN + 2];
  offs[1] = 0;
  for (int l = 1; l <= DC_HUFF_MAX_LEN; l++) {
    offs[l + 1] = offs[l] + d->count[l];
    if (d->count[l]) d->maxlen = l;
  }
  d->sorted = dc_alloc((size_t)(offs[DC_HUFF_MAX_LEN + 1] + 1) * sizeof *d->sorted);
  uint32_t *code = dc_alloc((size_t)nsym * sizeof *code);
  if (!d->sorted || !code) {
    dc_free(code);
    dc_free(d->sorted);
    d->sorted = NULL;
    return DC_ERR_NOMEM;
  }
  for (int s = 0; s < nsym; s++)
    if (len[s]) d->sorted[offs[len[s]]++] = (uint16_t)s;
  canonical_codes(len, nsym, d->count, code);
  memset(d->fast, 0, sizeof d->fast);
  for (int s = 0; s < nsym; s++) {
    int l = len[s];
    if (!l || l > FAST_BITS) continue;
    uint32_t first = code[s] << (FAST_BITS - l), span = 1u << (FAST_BITS - l);
    for (uint32_t i = 0; i < span; i++) d->fast[first + i] = ((uint32_t)s << 8) | (uint32_t)l;
  }
  dc_free(code);
  return DC_OK;
}

/* One symbol. Fast path: one table lookup on the next FAST_BITS bits. Slow path
 * (long codes, invalid patterns): canonical search one bit at a time — at length l
 * the codes are the count[l] values starting at `first`. */
static int decode_one(const decoder *d, dc_bitr *r, uint16_t *sym, const char **why) {
  uint32_t e = d->fast[dc_bitr_peek(r, FAST_BITS)];
  if (e) {
    uint32_t l = e & 0xff;
    if (l > dc_bitr_left(r)) {
      *why = "the stream ends inside a code";
      return -1;
    }
    r->pos += l;
    *sym = (uint16_t)(e >> 8);
    return 0;
  }
  uint32_t code = 0, first = 0, index = 0, bit;
  for (int l = 1; l <= d->maxlen; l++) {
    if (dc_bitr_get(r, 1, &bit)) {
      *why = "the stream ends inside a code";
      return -1;
    }
    code |= bit;
    if (code - first < d->count[l]) {
      *sym = d->sorted[index + (code - first)];
      return 0;
    }
    index += d->count[l];
    first = (first + d->count[l]) << 1;
    code <<= 1;
  }
  *why = "a bit pattern that is no code";
  return -1;
}

dc_status dc_huff_decode(const uint8_t *buf, uint64_t nbits, const uint8_t *len, int nsym,
                         uint16_t *sym, size_t n, const char *what) {
  decoder d;
  DC_TRY(decoder_build(&d, len, nsym, what));
  dc_status st = DC_OK;
  dc_bitr r;
  dc_bitr_init(&r, buf, nbits);
  if (n > 0 && d.maxlen == 0)
    st = dc_fail(DC_ERR_FORMAT, "%s: %zu symbols to decode but the code table is empty",
                 name_or(what), n);
  for (size_t i = 0; st == DC_OK && i < n; i++) {
    const char *why = NULL;
    uint64_t at = r.pos;
    if (decode_one(&d, &r, &sym[i], &why))
      st = dc_fail(DC_ERR_FORMAT, "%s: symbol %zu of %zu at bit %llu: %s", name_or(what), i, n,
                   (unsigned long long)at, why);
  }
  if (st == DC_OK && dc_bitr_left(&r) != 0)
    st = dc_fail(DC_ERR_FORMAT, "%s: %llu bits left over after the last of %zu symbols",
                 name_or(what), (unsigned long long)dc_bitr_left(&r), n);
  if (st == DC_OK && (nbits & 7) && (buf[nbits >> 3] & (0xffu >> (nbits & 7))))
    st = dc_fail(DC_ERR_FORMAT, "%s: nonzero padding bits after the last code", name_or(what));
  dc_free(d.sorted);
  return st;
}

/* ---------------------------------------------------------------- relative indices */

static dc_status check_gap_bits(int gap_bits) {
  if (gap_bits < 1 || gap_bits > 16)
    return dc_fail(DC_ERR_ARG, "gap coding: gap_bits = %d, must be 1..16", gap_bits);
  return DC_OK;
}

dc_status dc_gap_count(const size_t *pos, size_t nnz, int gap_bits, size_t *nentries) {
  DC_TRY(check_gap_bits(gap_bits));
  size_t ne = 0, next = 0; /* next = first position the next entry may take */
  for (size_t i = 0; i < nnz; i++) {
    if (i > 0 && pos[i] <= pos[i - 1])
      return dc_fail(DC_ERR_ARG, "gap coding: positions not increasing at %zu (%zu after %zu)", i,
                     pos[i], pos[i - 1]);
    ne += ((pos[i] - next) >> gap_bits) + 1; /* fillers, each spanning 2^gap_bits positions */
    next = pos[i] + 1;
  }
  *nentries = ne;
  return DC_OK;
}

dc_status dc_gap_encode(const size_t *pos, size_t nnz, int gap_bits, uint16_t *gap,
                        uint8_t *filler, size_t nentries) {
  size_t want;
  DC_TRY(dc_gap_count(pos, nnz, gap_bits, &want));
  if (want != nentries)
    return dc_fail(DC_ERR_ARG, "gap coding: room for %zu entries, %zu needed", nentries, want);
  const size_t maxgap = ((size_t)1 << gap_bits) - 1;
  size_t e = 0, next = 0;
  for (size_t i = 0; i < nnz; i++) {
    size_t d = pos[i] - next;
    while (d > maxgap) { /* filler: skip maxgap zeros, then a stored zero */
      gap[e] = (uint16_t)maxgap;
      filler[e++] = 1;
      d -= maxgap + 1;
    }
    gap[e] = (uint16_t)d;
    filler[e++] = 0;
    next = pos[i] + 1;
  }
  DC_ASSERT(e == nentries);
  return DC_OK;
}

dc_status dc_gap_decode(const uint16_t *gap, const uint8_t *filler, size_t nentries, int gap_bits,
                        size_t count, size_t *pos, size_t *nnz, const char *what) {
  const char *w = what ? what : "gap stream";
  *nnz = 0;
  if (gap_bits < 1 || gap_bits > 16)
    return dc_fail(DC_ERR_FORMAT, "%s: gap_bits = %d, must be 1..16", w, gap_bits);
  const size_t maxgap = ((size_t)1 << gap_bits) - 1;
  size_t next = 0, k = 0;
  for (size_t e = 0; e < nentries; e++) {
    if (gap[e] > maxgap)
      return dc_fail(DC_ERR_FORMAT, "%s: entry %zu has gap %u, wider than %d bits", w, e, gap[e],
                     gap_bits);
    if (filler[e] && gap[e] != maxgap)
      return dc_fail(DC_ERR_FORMAT, "%s: filler entry %zu has gap %u, expected %zu", w, e,
                     gap[e], maxgap);
    if (gap[e] >= count || next >= count - gap[e])
      return dc_fail(DC_ERR_FORMAT, "%s: entry %zu points past the end of the %zu weights", w, e,
                     count);
    size_t p = next + gap[e];
    next = p + 1;
    if (!filler[e]) pos[k++] = p;
  }
  if (nentries > 0 && filler[nentries - 1])
    return dc_fail(DC_ERR_FORMAT, "%s: the last entry is a filler (no kept weight follows)", w);
  *nnz = k;
  return DC_OK;
}
