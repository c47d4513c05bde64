/* compress/quantize.c — weight sharing of one parameter (Deep Compression stage 2): the
 * k-means of kmeans.c over its kept weights, then the parameter becomes SHARED with those
 * centroids and assignments (dc_param_set_shared). */
#include "dc/prune.h"

#include <stdlib.h>

dc_status dc_quantize(dc_param *p, int bits, dc_kmeans_init init, uint64_t seed) {
  DC_ASSERT(bits >= 1 && bits <= 8);
  int k = 1 << bits;
  float *kept = malloc(sizeof(float) * (p->count ? p->count : 1));
  uint8_t *assign = malloc(p->count ? p->count : 1);
  uint8_t *index = calloc(p->count ? p->count : 1, 1);
  float codebook[256];
  dc_status s = DC_OK;
  if (!kept || !assign || !index) s = dc_fail(DC_ERR_NOMEM, "out of memory quantizing %s", p->name);
  size_t n = 0;
  for (size_t i = 0; s == DC_OK && i < p->count; i++)
    if (!p->mask || p->mask[i]) kept[n++] = p->data[i];
  if (s == DC_OK) s = dc_kmeans_1d(kept, n, k, init, seed, 100, codebook, assign);
  if (s == DC_OK) {
    for (size_t i = 0, j = 0; i < p->count; i++)
      if (!p->mask || p->mask[i]) index[i] = assign[j++];
    s = dc_param_set_shared(p, bits, codebook, index);
  }
  free(kept);
  free(assign);
  free(index);
  return s;
}
