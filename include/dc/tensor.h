/* dc/tensor.h — shapes of the NCHW float32 activations that flow between layers.
 * Activations are plain float buffers (64-byte aligned, owned by the net); a shape
 * says how to read them. Fully-connected outputs are (N, C, 1, 1). */
#ifndef DC_TENSOR_H
#define DC_TENSOR_H

#include <stddef.h>

typedef struct {
  int n, c, h, w; /* batch, channels, height, width */
} dc_shape;

static inline size_t dc_shape_count(dc_shape s) { return (size_t)s.n * s.c * s.h * s.w; }
/* Elements of one sample: c*h*w. */
static inline size_t dc_shape_sample(dc_shape s) { return (size_t)s.c * s.h * s.w; }

#endif
