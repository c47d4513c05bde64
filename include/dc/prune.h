/* dc/prune.h — turning parameters into MASKED and SHARED ones (Deep Compression stages 1
 * and 2: src/compress/prune.c and quantize.c), on top of dc/param.h and the k-means of
 * dc/compress.h. */
#ifndef DC_PRUNE_H
#define DC_PRUNE_H

#include <stdint.h>

#include "dc/compress.h"
#include "dc/param.h"

/* Standard deviation of the kept weights of p. */
double dc_param_std(const dc_param *p);

/* Keep the round(density * count) weights of largest magnitude (ties: lower index
 * first), pruning the rest; already pruned weights stay pruned, so asking for more
 * than remains keeps what remains. A SPLICED p ranks its shadow instead, every weight
 * alike: a pruned weight whose shadow grew comes back, and the count kept is exact.
 * density in [0, 1]. */
dc_status dc_prune_density(dc_param *p, double density);

/* dc_prune_density with hysteresis, for a SPLICED p: a weight kept now ranks as if its
 * shadow were (1 + margin) times larger, so a pruned one comes back only when it
 * outgrows the smallest kept one by that margin (fewer weights swap back and forth at
 * the threshold). margin 0: dc_prune_density. */
dc_status dc_prune_splice(dc_param *p, double density, double margin);

/* Han et al.'s rule: prune every weight with |w| < quality * std(kept weights). */
dc_status dc_prune_quality(dc_param *p, double quality);

/* Weight sharing: k-means (k = 1 << bits) over the kept weights only, then p becomes
 * SHARED with those centroids and assignments. */
dc_status dc_quantize(dc_param *p, int bits, dc_kmeans_init init, uint64_t seed);

#endif
