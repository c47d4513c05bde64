/* compress/model.c — a net's SHARED parameters to and from the .dcz file. */
#include "dc/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dc_status dc_model_encode(dc_net *net, int conv_gap_bits, int fc_gap_bits, const char *path, dc_dcz_stats *stats) {
  dc_dcz_layer *layers = calloc((size_t)net->nlayers + 1, sizeof *layers);
  if (!layers) return dc_fail(DC_ERR_NOMEM, "out of memory");
  int n = 0;
  dc_status s = DC_OK;
  for (int i = 0; i < net->nlayers && s == DC_OK; i++) {
    dc_layer *l = &net->layers[i];
    if (!l->weight) continue;
    dc_param *w = l->weight;
    if (w->kind != DC_PARAM_SHARED) {
      s = dc_fail(DC_ERR_ARG, "encode: layer %s is not quantized (the encode stage needs a quantize stage before it)",
                  l->name);
      break;
    }
    dc_dcz_layer *d = &layers[n++];
    snprintf(d->name, sizeof d->name, "%s", l->name);
    d->ndim = w->ndim;
    memcpy(d->dims, w->dims, sizeof d->dims);
    d->bits = w->bits;
    d->codebook = w->codebook;
    d->index = w->index;
    d->mask = w->mask;
    d->gap_bits = l->type == DC_LAYER_CONV ? conv_gap_bits : fc_gap_bits;
    d->nbias = l->bias ? (int)l->bias->count : 0;
    d->bias = l->bias ? l->bias->data : NULL;
  }
  if (s == DC_OK) s = dc_dcz_write_stats(path, layers, n, stats);
  free(layers);
  return s;
}

/* Is the decoded layer d, weight for weight and bias for bias, bit for bit what l holds
 * now? The values a SHARED weight takes are codebook[index] where kept, +0 where pruned. */
static int same_values(const dc_dcz_layer *d, const dc_layer *l) {
  const float *w = l->weight->data;
  for (size_t i = 0; i < l->weight->count; i++) {
    float v = d->mask[i] ? d->codebook[d->index[i]] : 0.0f;
    if (memcmp(&v, &w[i], sizeof v) != 0) return 0;
  }
  return !l->bias || memcmp(d->bias, l->bias->data, sizeof(float) * (size_t)d->nbias) == 0;
}

static dc_status decode(const char *path, dc_net *net, dc_dcz_stats *stats, int verify) {
  dc_dcz_layer *layers;
  int n;
  DC_TRY(dc_dcz_read_stats(path, &layers, &n, stats));
  dc_status s = DC_OK;
  int j = 0;
  for (int i = 0; i < net->nlayers && s == DC_OK; i++) {
    dc_layer *l = &net->layers[i];
    if (!l->weight) continue;
    if (j >= n) {
      s = dc_fail(DC_ERR_FORMAT, "%s: has %d layers but the net has more (no '%s')", path, n, l->name);
      break;
    }
    dc_dcz_layer *d = &layers[j++];
    dc_param *w = l->weight;
    int same = strcmp(d->name, l->name) == 0 && d->ndim == w->ndim;
    for (int k = 0; same && k < d->ndim; k++) same = d->dims[k] == w->dims[k];
    if (!same || d->nbias != (l->bias ? (int)l->bias->count : 0)) {
      s = dc_fail(DC_ERR_FORMAT, "%s: layer %d is '%s' with another shape or bias than the net's '%s'", path, j,
                  d->name, l->name);
      break;
    }
    if (verify && !same_values(d, l)) {
      s = dc_fail(DC_ERR_FORMAT, "%s: decoded weights of '%s' differ from the encoded ones (a bug: please report)",
                  path, l->name);
      break;
    }
    dc_param_make_dense(w);
    s = dc_param_set_mask(w, d->mask);
    if (s == DC_OK) s = dc_param_set_shared(w, d->bits, d->codebook, d->index);
    if (s == DC_OK && l->bias) memcpy(l->bias->data, d->bias, sizeof(float) * (size_t)d->nbias);
  }
  if (s == DC_OK && j != n) s = dc_fail(DC_ERR_FORMAT, "%s: has %d layers, the net only %d weighted ones", path, n, j);
  dc_dcz_free(layers, n);
  if (s != DC_OK && stats) dc_dcz_stats_free(stats);
  return s;
}

dc_status dc_model_decode(const char *path, dc_net *net, dc_dcz_stats *stats) { return decode(path, net, stats, 0); }

dc_status dc_model_decode_verify(const char *path, dc_net *net, dc_dcz_stats *stats) {
  return decode(path, net, stats, 1);
}
