/* layers/relu.c — rectified linear unit, plain C (memory-bound; no primitive needed).
 * Option: negative_slope (0): out = in > 0 ? in : negative_slope * in. */
#include <stdlib.h>

#include "layers/layers.h"

typedef struct {
  float slope;
  size_t n; /* floats in the (possibly blocked, padded) activation buffers */
} relu_priv;

static dc_status relu_parse(dc_layer *l, dc_cfg_section *s, dc_param *w, dc_param *b) {
  (void)w, (void)b;
  relu_priv *p = calloc(1, sizeof *p);
  if (!p) return dc_fail(DC_ERR_NOMEM, "out of memory");
  l->priv = p;
  double v;
  DC_TRY(dc_cfg_float(s, "negative_slope", 0.0, &v));
  p->slope = (float)v;
  return DC_OK;
}

static dc_status relu_shape(dc_layer *l, const char *file, dc_param *w, dc_param *b) {
  (void)file, (void)w, (void)b;
  l->out = l->in;
  return DC_OK;
}

/* Elementwise: works in whatever layout the input comes (padding stays 0). */
static dc_status relu_setup(dc_layer *l, int train, dc_layout *lay) {
  (void)train;
  lay->want = lay->out = lay->in;
  ((relu_priv *)l->priv)->n = dc_layout_floats(&lay->in);
  return DC_OK;
}

/* In place (see relu_in_place) y aliases x and dy aliases dx: elementwise at one index,
 * so no restrict here. */
static dc_status relu_forward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  const float slope = ((relu_priv *)l->priv)->slope;
  const size_t n = ((relu_priv *)l->priv)->n;
  const float *x = l->in_data;
  float *y = l->out_data;
  /* split like the oneDNN kernels around it, so each thread finds its half in cache */
#pragma omp parallel for simd schedule(static) if (n >= 8192)
  for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
  return DC_OK;
}

/* x > 0 decides the gradient; in place only y is left, and y > 0 exactly when x > 0 for a
 * slope >= 0 (y = slope·x <= 0 otherwise), so backward reads out_data either way. */
static dc_status relu_backward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  if (!l->in_diff) return DC_OK;
  const float slope = ((relu_priv *)l->priv)->slope;
  const size_t n = ((relu_priv *)l->priv)->n;
  const float *x = slope >= 0.0f ? l->out_data : l->in_data, *dy = l->out_diff;
  float *dx = l->in_diff;
#pragma omp parallel for simd schedule(static) if (n >= 8192)
  for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
  return DC_OK;
}

static int relu_in_place(const dc_layer *l) { return ((const relu_priv *)l->priv)->slope >= 0.0f; }

static void relu_destroy(dc_layer *l) {
  free(l->priv);
  l->priv = NULL;
}

const dc_layer_kind dc_relu_kind = {"relu",       DC_WEIGHTS_NONE, relu_parse,    relu_shape,   relu_setup,
                                    relu_forward, relu_backward, relu_destroy, NULL,         relu_in_place};
