/* dc/rng.h — a small, seedable, reproducible random generator (splitmix64 seeding,
 * xoshiro256** stepping). Every random stream in dctrain (init, shuffle, dropout)
 * is derived from the run's seed plus a stream id, so a run's randomness is a pure
 * function of (seed, iteration) and resuming needs no hidden state. */
#ifndef DC_RNG_H
#define DC_RNG_H

#include <stdint.h>

typedef struct { uint64_t s[4]; } dc_rng;

/* Seed from a run seed and a stream id (e.g. hash of a layer name, an epoch). */
void dc_rng_seed(dc_rng *r, uint64_t seed, uint64_t stream);
uint64_t dc_rng_next(dc_rng *r);
/* Uniform in [0, 1). */
float dc_rng_uniform(dc_rng *r);
/* Standard normal (Box-Muller). */
float dc_rng_normal(dc_rng *r);
/* Uniform integer in [0, n), n > 0. */
uint32_t dc_rng_below(dc_rng *r, uint32_t n);
/* Fisher-Yates shuffle of perm[0..n). */
void dc_rng_shuffle(dc_rng *r, int *perm, int n);
/* FNV-1a hash of a string: a stable stream id for a name. */
uint64_t dc_hash_str(const char *s);

#endif
