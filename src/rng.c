/* rng.c — splitmix64 + xoshiro256**, see dc/rng.h. */
#include "dc/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void dc_rng_seed(dc_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t dc_rng_next(dc_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

float dc_rng_uniform(dc_rng *r) { return (float)(dc_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

float dc_rng_normal(dc_rng *r) {
  double u1 = ((double)(dc_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  double u2 = (double)(dc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint32_t dc_rng_below(dc_rng *r, uint32_t n) {
  return (uint32_t)(((dc_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

void dc_rng_shuffle(dc_rng *r, int *perm, int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)dc_rng_below(r, (uint32_t)(i + 1));
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

uint64_t dc_hash_str(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  return h;
}
