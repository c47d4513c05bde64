/* layers/dropout.c — inverted dropout, seeded per sample from (run seed, layer name, the
 * sample's stream position) so a resumed run, or a data-parallel one, draws the same
 * masks. Option: ratio (0.5), the probability of dropping.
 * Training: out = in * keep / (1 - ratio); testing: out = in. The ratio may change at
 * run time (pruning retrains rescale it, Han et al. 2015). */
#include <stdlib.h>
#include <string.h>

#include "dc/rng.h"
#include "layers/layers.h"

typedef struct {
  float ratio;
  size_t n;     /* floats in the (possibly blocked, padded) activation buffers */
  float *scale; /* (n) 0 or 1/(1-ratio) for the last training forward */
} dropout_priv;

static dc_status dropout_parse(dc_layer *l, dc_cfg_section *s, dc_param *w, dc_param *b) {
  (void)w, (void)b;
  dropout_priv *p = calloc(1, sizeof *p);
  if (!p) return dc_fail(DC_ERR_NOMEM, "out of memory");
  l->priv = p;
  double v;
  DC_TRY(dc_cfg_float(s, "ratio", 0.5, &v));
  if (!(v >= 0.0 && v < 1.0)) return dc_cfg_key_error(s, "ratio", "expected a value in [0, 1), got %g", v);
  p->ratio = (float)v;
  return DC_OK;
}

static dc_status dropout_shape(dc_layer *l, const char *file, dc_param *w, dc_param *b) {
  (void)file, (void)w, (void)b;
  l->out = l->in;
  return DC_OK;
}

static dc_status dropout_setup(dc_layer *l, int train, dc_layout *lay) {
  dropout_priv *p = l->priv;
  lay->want = lay->out = lay->in;
  p->n = dc_layout_floats(&lay->in);
  if (train) {
    p->scale = dc_alloc(sizeof(float) * p->n);
    if (!p->scale) return DC_ERR_NOMEM;
  }
  return DC_OK;
}

static dc_status dropout_forward(dc_layer *l, const dc_pass *pass) {
  dropout_priv *p = l->priv;
  const size_t n = p->n;
  if (!pass->train || p->ratio == 0.0f) {
    memcpy(l->out_data, l->in_data, sizeof(float) * n);
    if (p->scale)
      for (size_t i = 0; i < n; i++) p->scale[i] = 1.0f;
    return DC_OK;
  }
  /* one stream per sample, keyed by its stream position: the same mask whether the
   * sample is in a batch of 64 on one process or of 16 on one of four */
  const uint64_t seed = pass->seed ^ dc_hash_str(l->name);
  const float keep_scale = 1.0f / (1.0f - p->ratio), ratio = p->ratio;
  const int batch = l->in.n;
  const size_t per = n / (size_t)batch; /* floats of one sample (batch is the outer dim) */
#pragma omp parallel for schedule(static) if (n >= 8192)
  for (int s = 0; s < batch; s++) {
    dc_rng r;
    dc_rng_seed(&r, seed, (uint64_t)(pass->first + s));
    for (size_t i = (size_t)s * per; i < (size_t)(s + 1) * per; i++) {
      p->scale[i] = dc_rng_uniform(&r) >= ratio ? keep_scale : 0.0f;
      l->out_data[i] = l->in_data[i] * p->scale[i];
    }
  }
  return DC_OK;
}

static dc_status dropout_backward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  dropout_priv *p = l->priv;
  if (!l->in_diff) return DC_OK;
#pragma omp parallel for simd schedule(static) if (p->n >= 8192)
  for (size_t i = 0; i < p->n; i++) l->in_diff[i] = l->out_diff[i] * p->scale[i];
  return DC_OK;
}

static void dropout_destroy(dc_layer *l) {
  dropout_priv *p = l->priv;
  if (!p) return;
  dc_free(p->scale);
  free(p);
  l->priv = NULL;
}

float dc_dropout_ratio(const dc_layer *l) {
  DC_ASSERT(l->type == DC_LAYER_DROPOUT);
  return ((const dropout_priv *)l->priv)->ratio;
}

void dc_dropout_set_ratio(dc_layer *l, float ratio) {
  DC_ASSERT(l->type == DC_LAYER_DROPOUT && ratio >= 0.0f && ratio < 1.0f);
  ((dropout_priv *)l->priv)->ratio = ratio;
}

const dc_layer_kind dc_dropout_kind = {"dropout", DC_WEIGHTS_NONE, dropout_parse, dropout_shape, dropout_setup,
                                       dropout_forward, dropout_backward, dropout_destroy, NULL, NULL};
