/* compress/bits.c — MSB-first bit writer / reader with bounds checks (see bits.h). */
#include "compress/bits.h"

void dc_bitw_init(dc_bitw *w, uint8_t *buf, size_t nbytes) {
  w->buf = buf;
  w->cap = (uint64_t)nbytes * 8;
  w->pos = 0;
}

int dc_bitw_put(dc_bitw *w, uint32_t v, int n) {
  if (n < 0 || n > 32 || (uint64_t)n > w->cap - w->pos) return -1;
  while (n > 0) {
    int off = (int)(w->pos & 7);
    int take = 8 - off < n ? 8 - off : n;
    /* the next `take` bits of v, counted from its top (bit n-1) */
    uint32_t chunk = (uint32_t)((v >> (n - take)) & ((1u << take) - 1));
    w->buf[w->pos >> 3] |= (uint8_t)(chunk << (8 - off - take));
    w->pos += (uint64_t)take;
    n -= take;
  }
  return 0;
}

void dc_bitr_init(dc_bitr *r, const uint8_t *buf, uint64_t nbits) {
  r->buf = buf;
  r->nbits = nbits;
  r->pos = 0;
}

uint32_t dc_bitr_peek(const dc_bitr *r, int n) {
  if (n <= 0) return 0;
  /* Gather the (up to 5) bytes covering bits [pos, pos+n) into a 64-bit window whose
   * top byte is byte pos/8; bytes past the stream's last byte contribute zeros. */
  uint64_t nbytes = (r->nbits + 7) / 8;
  uint64_t first = r->pos >> 3;
  uint64_t acc = 0;
  for (int i = 0; i < 5; i++) {
    uint64_t b = first + (uint64_t)i;
    acc = (acc << 8) | (b < nbytes ? r->buf[b] : 0u);
  }
  acc <<= 24; /* 40 bits gathered: align byte `first` to bits 63..56 */
  acc <<= (r->pos & 7);
  uint32_t v = (uint32_t)(acc >> (64 - n));
  uint64_t left = r->nbits - r->pos;
  if (left < (uint64_t)n) { /* padding bits beyond nbits read as zero */
    int gone = n - (int)left;
    v = gone >= 32 ? 0u : (v >> gone) << gone;
  }
  return v;
}

int dc_bitr_get(dc_bitr *r, int n, uint32_t *v) {
  if (n < 0 || n > 32 || (uint64_t)n > r->nbits - r->pos) return -1;
  *v = dc_bitr_peek(r, n);
  r->pos += (uint64_t)n;
  return 0;
}
