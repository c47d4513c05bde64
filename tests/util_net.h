/* util_net.h — test helpers: build nets from cfg text, finite-difference gradient
 * checks, random fills. Linked into every test program. */
#ifndef DC_TEST_UTIL_NET_H
#define DC_TEST_UTIL_NET_H

#include <stdint.h>

#include "dc/net.h"

/* Build a net from net-file text; fails the test (cmocka) with the reason on error. */
dc_net *tu_net(const char *text, int batch, int flags);
/* Uniform random values in [lo, hi). */
void tu_fill(float *x, size_t n, uint64_t seed, float lo, float hi);
/* Random labels in [0, classes). */
void tu_labels(int *y, int n, int classes, uint64_t seed);
/* Central-difference check of d(loss)/d(input) (when the net was built with
 * DC_NET_INPUT_GRAD) and d(loss)/d(every param) against backward, on `samples` random
 * coordinates of each. Returns the worst relative error
 *   |a - n| / max(|a|, |n|, floor). */
double tu_gradcheck(dc_net *net, const int *labels, float eps, int samples, double floor);

#endif
