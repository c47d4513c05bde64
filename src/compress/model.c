/* compress/model.c — a net's SHARED parameters to and from the .dcz file, and the
 * model section an experiment writes beside them. */
#include "dc/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/cfg.h"
#include "dc/data.h"
#include "dc/config.h"
#include "util.h"

dc_status dc_model_encode(dc_net *net, int conv_gap_bits, int fc_gap_bits, const char *path, dc_dcz_stats *stats) {
  return dc_model_encode_with(net, conv_gap_bits, fc_gap_bits, 32, 32, NULL, path, stats);
}

size_t dc_model_bias_count(const dc_net *net) {
  size_t n = 0;
  for (int i = 0; i < net->nlayers; i++)
    if (net->layers[i].weight && net->layers[i].bias) n += net->layers[i].bias->count;
  return n;
}

dc_status dc_model_round_biases(dc_net *net, int bias_bits, float *saved) {
  size_t at = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dc_param *b = net->layers[i].weight ? net->layers[i].bias : NULL;
    if (!b) continue;
    if (saved) memcpy(saved + at, b->data, sizeof(float) * b->count);
    at += b->count;
  }
  for (int i = 0; i < net->nlayers; i++) {
    dc_param *b = net->layers[i].weight ? net->layers[i].bias : NULL;
    dc_status s = b ? dc_dcz_bias_round(b->data, (int)b->count, bias_bits, b->data) : DC_OK;
    if (s != DC_OK) { /* leave the net as it was */
      if (saved) dc_model_restore_biases(net, saved);
      char why[256];
      snprintf(why, sizeof why, "%s", dc_failure_reason());
      dc_failure_clear();
      return dc_fail(s, "layer %s: %s", net->layers[i].name, why);
    }
  }
  return DC_OK;
}

void dc_model_restore_biases(dc_net *net, const float *saved) {
  size_t at = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dc_param *b = net->layers[i].weight ? net->layers[i].bias : NULL;
    if (!b) continue;
    memcpy(b->data, saved + at, sizeof(float) * b->count);
    at += b->count;
  }
}

size_t dc_model_codebook_count(const dc_net *net) {
  size_t n = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dc_param_parts parts = net->layers[i].weight ? dc_param_parts_of(net->layers[i].weight) : (dc_param_parts){0};
    if (parts.codebook) n += (size_t)1 << parts.bits;
  }
  return n;
}

int dc_model_round_codebooks(dc_net *net, int codebook_bits, float *saved) {
  size_t at = 0;
  int rounded = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dc_param *w = net->layers[i].weight;
    dc_param_parts parts = w ? dc_param_parts_of(w) : (dc_param_parts){0};
    if (!parts.codebook) continue;
    const int k = 1 << parts.bits;
    if (saved) memcpy(saved + at, parts.codebook, sizeof(float) * (size_t)k);
    at += (size_t)k;
    rounded += dc_dcz_codebook_round(parts.codebook, k, codebook_bits, parts.codebook) == 16;
    dc_param_sync(w); /* the weights are codebook[index] again */
  }
  return rounded;
}

void dc_model_restore_codebooks(dc_net *net, const float *saved) {
  size_t at = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dc_param *w = net->layers[i].weight;
    dc_param_parts parts = w ? dc_param_parts_of(w) : (dc_param_parts){0};
    if (!parts.codebook) continue;
    const size_t k = (size_t)1 << parts.bits;
    memcpy(parts.codebook, saved + at, sizeof(float) * k);
    at += k;
    dc_param_sync(w);
  }
}

dc_status dc_model_layer(const dc_layer *l, int conv_gap_bits, int fc_gap_bits, dc_dcz_layer *d) {
  dc_param *w = l->weight;
  dc_param_parts parts = dc_param_parts_of(w);
  if (!parts.codebook)
    return dc_fail(DC_ERR_ARG, "encode: layer %s is not quantized (the encode stage needs a quantize stage before it)",
                   l->name);
  memset(d, 0, sizeof *d);
  snprintf(d->name, sizeof d->name, "%s", l->name);
  d->ndim = w->ndim;
  memcpy(d->dims, w->dims, sizeof d->dims);
  d->bits = parts.bits;
  d->codebook = parts.codebook;
  d->index = parts.index;
  d->mask = parts.mask;
  d->gap_bits = dc_layer_type_weights(l->type) == DC_WEIGHTS_CONV ? conv_gap_bits : fc_gap_bits;
  d->nbias = l->bias ? (int)l->bias->count : 0;
  d->bias = l->bias ? l->bias->data : NULL;
  return DC_OK;
}

dc_status dc_model_encode_with(dc_net *net, int conv_gap_bits, int fc_gap_bits, int bias_bits, int codebook_bits,
                               const dc_dcz_model *model, const char *path, dc_dcz_stats *stats) {
  dc_dcz_layer *layers = calloc((size_t)net->nlayers + 1, sizeof *layers);
  if (!layers) return dc_fail(DC_ERR_NOMEM, "out of memory");
  int n = 0;
  dc_status s = DC_OK;
  for (int i = 0; i < net->nlayers && s == DC_OK; i++) {
    dc_layer *l = &net->layers[i];
    if (!l->weight) continue;
    s = dc_model_layer(l, conv_gap_bits, fc_gap_bits, &layers[n]);
    layers[n].codebook_bits = codebook_bits;
    layers[n++].bias_bits = bias_bits;
  }
  if (s == DC_OK) s = dc_dcz_write_model(path, model, layers, n, stats);
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
    dc_param_parts parts = {.mask = d->mask, .codebook = d->codebook, .index = d->index, .bits = d->bits};
    s = dc_param_set_parts(w, &parts);
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

/* The whole file at path as a NUL-terminated string (caller frees). */
static dc_status slurp(const char *path, char **out) {
  *out = NULL;
  DC_TRY(dc_check_input(path, 0));
  FILE *f = fopen(path, "rb");
  if (!f) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;
    char *nb = cap > DC_DCZ_MAX_TEXT * 2u ? NULL : realloc(buf, cap *= 2);
    if (!nb) {
      free(buf);
      buf = NULL;
    } else {
      buf = nb;
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf) return dc_fail(DC_ERR_NOMEM, "%s: too large or out of memory", path);
  if (bad) {
    free(buf);
    return dc_fail(DC_ERR_IO, "%s: read failed", path);
  }
  buf[n] = '\0';
  *out = buf;
  return DC_OK;
}

dc_status dc_model_describe(const dc_experiment *e, const dc_dataset *test, dc_dcz_model *out) {
  memset(out, 0, sizeof *out);
  DC_TRY(slurp(e->net, &out->net));
  dc_cfg_strip_comments(out->net); /* the file runs the net; its comments stay in nets/ */
  out->scale = (float)e->scale;
  if (e->data_kind == DC_DATA_IMAGENET) {
    /* what the model section cannot say yet must not be dropped silently */
    if (e->resize_mode != DC_RESIZE_SQUASH || e->std[0] != 1.0 || e->std[1] != 1.0 || e->std[2] != 1.0) {
      dc_dcz_model_free(out);
      return dc_fail(DC_ERR_FORMAT,
                     "%s: [data] %s is not expressible in a .dcz model section yet (it holds colour order, a "
                     "square resize, mean and one scale)",
                     e->path, e->resize_mode != DC_RESIZE_SQUASH ? "resize_mode = shorter" : "std");
    }
    out->color = e->rgb ? DC_COLOR_RGB : DC_COLOR_BGR;
    out->resize = e->resize;
    for (int c = 0; c < 3; c++) out->mean[c] = (float)e->mean[c];
  } else {
    out->color = DC_COLOR_GRAY;
  }
  int classes = test ? dc_dataset_classes(test) : 0;
  if (test && dc_imagefolder_class_name(test, 0)) {
    size_t len = 0;
    for (int i = 0; i < classes; i++) len += strlen(dc_imagefolder_class_name(test, i)) + 1;
    if (!(out->labels = malloc(len + 1))) {
      dc_dcz_model_free(out);
      return dc_fail(DC_ERR_NOMEM, "out of memory");
    }
    char *p = out->labels;
    for (int i = 0; i < classes; i++) p += sprintf(p, i ? "\n%s" : "%s", dc_imagefolder_class_name(test, i));
  }
  return DC_OK;
}
