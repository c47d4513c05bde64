/* compress/bits.h — private bit writer / bit reader for the Huffman streams.
 *
 * Bit order is MSB-first: the first bit of a stream is bit 7 of byte 0, and a value
 * written with n bits appears most significant bit first. That keeps canonical
 * Huffman codes in natural order, so a peek of the next P bits is an integer whose
 * top bits are the code (what the table-driven decoder indexes with).
 *
 * Both work on caller-owned buffers of a fixed size and check bounds: writing past
 * the capacity or reading past the stream's bit count is an error, never UB. */
#ifndef DC_COMPRESS_BITS_H
#define DC_COMPRESS_BITS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t *buf;     /* (ceil(cap/8)) bytes, zeroed by the caller before writing */
  uint64_t cap;     /* capacity in bits */
  uint64_t pos;     /* bits written */
} dc_bitw;

typedef struct {
  const uint8_t *buf; /* (ceil(nbits/8)) bytes */
  uint64_t nbits;     /* stream length in bits */
  uint64_t pos;       /* bits consumed */
} dc_bitr;

/* Start writing into buf, which holds nbytes zeroed bytes. */
void dc_bitw_init(dc_bitw *w, uint8_t *buf, size_t nbytes);
/* Append the low n (0..32) bits of v, MSB first. Returns 0, or -1 (nothing written)
 * when the bits would not fit. */
int dc_bitw_put(dc_bitw *w, uint32_t v, int n);

/* Start reading nbits bits from buf (ceil(nbits/8) bytes). */
void dc_bitr_init(dc_bitr *r, const uint8_t *buf, uint64_t nbits);
/* The next n (0..32) bits as an integer without consuming them; bits past the end of
 * the stream read as 0 (callers check dc_bitr_left before consuming). */
uint32_t dc_bitr_peek(const dc_bitr *r, int n);
/* Consume n (0..32) bits into *v. Returns 0, or -1 (nothing consumed) past the end. */
int dc_bitr_get(dc_bitr *r, int n, uint32_t *v);
/* Bits not yet consumed. */
static inline uint64_t dc_bitr_left(const dc_bitr *r) { return r->nbits - r->pos; }

#endif
