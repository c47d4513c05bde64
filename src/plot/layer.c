/* plot/layer.c — one weighted layer of a weights file or .dcz for the plots; see
 * plot/layer.h. */
#include "plot/layer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/cfg.h"
#include "dc/commands.h"
#include "dc/compress.h"
#include "dc/h5.h"
#include "util.h"

void pl_layer_free(pl_layer *l) {
  free(l->w);
  free(l->mask);
  free(l->index);
  memset(l, 0, sizeof *l);
}

void pl_short_name(const char *path, char *buf, size_t cap) {
  const char *p = path + strlen(path), *cut = path;
  int slashes = 0;
  while (p > path) {
    p--;
    if (*p == '/' && ++slashes == 2) {
      cut = p + 1;
      break;
    }
  }
  snprintf(buf, cap, "%s", cut);
}

/* "no layer 'x' (it has: a, b, c; did you mean 'b'?)" */
static dc_status no_such_layer(const char *path, const char *layer, char **names, int n) {
  char list[512] = "";
  size_t len = 0;
  for (int i = 0; i < n && len + 70 < sizeof list; i++)
    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
  const char *hint = n > 0 ? dc_closest(layer, (const char *const *)names, n) : NULL;
  char h[96] = "";
  if (hint) snprintf(h, sizeof h, "; did you mean '%s'?", hint);
  return dc_fail(DC_ERR_ARG, "%s: no weighted layer '%s' (it has: %s%s)", path, layer, n ? list : "none", h);
}

static dc_status read_h5(const char *path, const char *layer, pl_layer *out) {
  dc_h5 *f;
  DC_TRY(dc_h5_open(path, &f));
  char **names = NULL;
  int n = 0;
  dc_status s = dc_h5_list(f, "/params", &names, &n);
  if (s != DC_OK) {
    dc_failure_clear();
    s = dc_fail(DC_ERR_FORMAT, "%s: no /params group: not dctrain weights", path);
  }
  char p[160];
  snprintf(p, sizeof p, "/params/%s/weight", layer);
  if (s == DC_OK && (strlen(layer) >= sizeof out->name || !dc_h5_exists(f, p))) s = no_such_layer(path, layer, names, n);
  dc_h5_free_names(names, n);
  int64_t dims[DC_H5_MAX_DIMS];
  int nd = 0;
  if (s == DC_OK) s = dc_h5_shape(f, p, &nd, dims);
  if (s == DC_OK && (nd < 1 || nd > 4)) s = dc_fail(DC_ERR_FORMAT, "%s: %s has %d dimensions (expected 1-4)", path, p, nd);
  if (s == DC_OK) {
    snprintf(out->name, sizeof out->name, "%s", layer);
    out->ndim = nd;
    out->count = 1;
    for (int i = 0; i < nd; i++) {
      out->dims[i] = (int)dims[i];
      out->count *= (size_t)dims[i];
    }
    if (out->count == 0) s = dc_fail(DC_ERR_FORMAT, "%s: %s is empty", path, p);
  }
  if (s == DC_OK && !(out->w = malloc(sizeof(float) * out->count))) s = dc_fail(DC_ERR_NOMEM, "out of memory");
  if (s == DC_OK) s = dc_h5_read(f, p, DC_H5_F32, nd, dims, out->w);
  snprintf(p, sizeof p, "/params/%s/weight_mask", layer);
  if (s == DC_OK && dc_h5_exists(f, p)) {
    if (!(out->mask = malloc(out->count))) s = dc_fail(DC_ERR_NOMEM, "out of memory");
    if (s == DC_OK) s = dc_h5_read(f, p, DC_H5_U8, nd, dims, out->mask);
  }
  snprintf(p, sizeof p, "/params/%s/weight_codebook", layer);
  if (s == DC_OK && dc_h5_exists(f, p)) {
    int64_t kd[DC_H5_MAX_DIMS];
    int knd;
    s = dc_h5_shape(f, p, &knd, kd);
    if (s == DC_OK && (knd != 1 || kd[0] < 1 || kd[0] > 256))
      s = dc_fail(DC_ERR_FORMAT, "%s: %s is not a codebook of 1..256 values", path, p);
    if (s == DC_OK) {
      out->k = (int)kd[0];
      s = dc_h5_read(f, p, DC_H5_F32, 1, kd, out->codebook);
    }
    snprintf(p, sizeof p, "/params/%s/weight_index", layer);
    if (s == DC_OK && !(out->index = malloc(out->count))) s = dc_fail(DC_ERR_NOMEM, "out of memory");
    if (s == DC_OK) s = dc_h5_read(f, p, DC_H5_U8, nd, dims, out->index);
  }
  dc_h5_close(f);
  if (s != DC_OK) pl_layer_free(out);
  return s;
}

static dc_status read_dcz(const char *path, const char *layer, pl_layer *out) {
  dc_dcz_layer *ls;
  int n;
  DC_TRY(dc_dcz_read(path, &ls, &n));
  int at = -1;
  for (int i = 0; i < n; i++)
    if (!strcmp(ls[i].name, layer)) at = i;
  dc_status s = DC_OK;
  if (at < 0) {
    char **names = malloc(sizeof(char *) * (size_t)(n ? n : 1));
    if (!names) s = dc_fail(DC_ERR_NOMEM, "out of memory");
    for (int i = 0; s == DC_OK && i < n; i++) names[i] = ls[i].name;
    if (s == DC_OK) s = no_such_layer(path, layer, names, n);
    free(names);
  }
  if (s == DC_OK) {
    const dc_dcz_layer *d = &ls[at];
    snprintf(out->name, sizeof out->name, "%s", d->name);
    out->ndim = d->ndim;
    out->count = 1;
    for (int i = 0; i < d->ndim; i++) {
      out->dims[i] = d->dims[i];
      out->count *= (size_t)d->dims[i];
    }
    out->k = 1 << d->bits;
    memcpy(out->codebook, d->codebook, sizeof(float) * (size_t)out->k);
    out->gap_bits = d->gap_bits;
    out->dcz = 1;
    out->w = malloc(sizeof(float) * out->count);
    out->mask = malloc(out->count);
    out->index = malloc(out->count);
    if (!out->w || !out->mask || !out->index) s = dc_fail(DC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == DC_OK && i < out->count; i++) {
      out->mask[i] = d->mask[i];
      out->index[i] = d->index[i];
      out->w[i] = d->mask[i] ? d->codebook[d->index[i]] : 0.0f;
    }
  }
  dc_dcz_free(ls, n);
  if (s != DC_OK) pl_layer_free(out);
  return s;
}

dc_status pl_layer_read(const char *path, const char *layer, pl_layer *out) {
  memset(out, 0, sizeof *out);
  DC_TRY(dc_check_input(path, 0));
  int h5;
  DC_TRY(dc_file_is_hdf5(path, &h5));
  return h5 ? read_h5(path, layer, out) : read_dcz(path, layer, out);
}
