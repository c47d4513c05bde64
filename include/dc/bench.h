/* dc/bench.h — throughput of a net on this machine (dctrain bench; scripts/bench.sh). */
#ifndef DC_BENCH_H
#define DC_BENCH_H

#include <stdio.h>

#include "dc/error.h"

/* Train (forward + backward + SGD update) and inference (forward only) images/s of the
 * net at `batch`, with `threads` oneDNN threads, on random MNIST-range inputs with fresh
 * random labels each step. Each mode: a warm-up, then 5 timed repeats of ~seconds/5;
 * the median is reported. Then one profiled pass: seconds per layer, forward and
 * backward, and the share of the step outside the layers (framework overhead).
 * Prints human-readable lines plus machine-readable ones:
 *   dctrain NET train IMAGES_PER_S / dctrain NET infer IMAGES_PER_S / dctrain peak_rss_mib X
 * As one rank of a data-parallel job (dc/dist.h) each rank steps on its share of `batch`
 * with the gradients summed as in training (overlap: started during backward); images/s
 * are the job's, plus the share of a step spent waiting for the sums
 * (dctrain NET allreduce_wait_share X). Only rank 0 prints. */
dc_status dc_bench(const char *net_path, int batch, int threads, double seconds, int overlap, FILE *out);

#endif
