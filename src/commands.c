/* commands.c — the dctrain subcommands besides training (eval, info, export,
 * sensitivity) and the PNG line plot sensitivity draws; see dc/commands.h. */
#include "dc/commands.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "dc/ckpt.h"
#include "dc/compress.h"
#include "dc/data.h"
#include "dc/h5.h"
#include "dc/model.h"
#include "dc/plot.h"
#include "dc/prune.h"
#include "dc/report.h"
#include "dc/rng.h"
#include "atomic.h"
#include "stages.h"
#include "util.h"

/* ---- loading a model ---- */

dc_status dc_file_is_hdf5(const char *path, int *is_hdf5) {
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  *is_hdf5 = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  unsigned char head[8];
  size_t got = fread(head, 1, sizeof head, f);
  int bad = ferror(f);
  fclose(f);
  if (bad) return dc_fail(DC_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
  *is_hdf5 = got == sizeof head && memcmp(head, sig, sizeof sig) == 0;
  return DC_OK;
}

dc_status dc_load_model(const char *path, dc_net *net) {
  int h5;
  DC_TRY(dc_file_is_hdf5(path, &h5));
  if (h5) return dc_ckpt_load_weights(path, net->params);
  return dc_model_decode(path, net, NULL);
}

/* ---- the experiment's test side: a forward-only net and the test set ---- */

typedef struct {
  dc_net *net;      /* batch = test_batch, owns its params */
  dc_dataset *test;
  dc_trainer t;     /* only the fields dc_test reads */
} evaluator;

static void evaluator_close(evaluator *ev) {
  dc_net_free(ev->net);
  dc_dataset_free(ev->test);
  free(ev->t.labels);
  memset(ev, 0, sizeof *ev);
}

/* The same net, test set and test settings as the experiment's training stages use,
 * so accuracies agree to the sample. */
static dc_status evaluator_open(const dc_experiment *e, evaluator *ev) {
  memset(ev, 0, sizeof *ev);
  dc_set_threads(e->threads);
  DC_TRY(dc_net_load(e->net, e->test_batch, DC_NET_REUSE, NULL, &ev->net));
  dc_net_init_params(ev->net, e->seed);
  DC_TRY(dc_experiment_open_data(e, 0, &ev->test));
  DC_TRY(dc_experiment_check_fit(e, ev->test, ev->net));
  dc_trainer *t = &ev->t;
  t->test_net = ev->net;
  t->test_set = ev->test;
  t->test_batch = e->test_batch;
  t->batch = e->test_batch;
  t->seed = e->seed;
  t->test_iters = e->test_iters;
  t->labels = calloc((size_t)e->test_batch, sizeof(int));
  if (!t->labels) return dc_fail(DC_ERR_NOMEM, "out of memory");
  return DC_OK;
}

/* ---- eval ---- */

dc_status dc_cmd_eval(const dc_experiment *e, const char *model, FILE *out, dc_test_result *r) {
  evaluator ev;
  dc_status s = evaluator_open(e, &ev);
  if (s == DC_OK) s = dc_load_model(model, ev.net);
  if (s == DC_OK) s = dc_test(&ev.t, r);
  evaluator_close(&ev);
  DC_TRY(s);
  if (out)
    fprintf(out, "%s: test top-1 %.2f%%  top-5 %.2f%%  loss %.4f  (%d images of %s, %s)\n", model, 100 * r->top1,
            100 * r->top5, r->loss, r->samples, e->data_dir, e->net);
  return DC_OK;
}

/* ---- info ---- */

dc_status dc_cmd_info(const char *path, FILE *out) {
  dc_dcz_stats stats = {0};
  DC_TRY(dc_dcz_read_model(path, NULL, 0, NULL, NULL, &stats, NULL)); /* no dense arrays */
  if (out) dc_report_print_dcz(out, path, &stats);
  dc_dcz_stats_free(&stats);
  return DC_OK;
}

/* ---- encode ---- */

dc_status dc_cmd_encode(const dc_experiment *e, const char *weights, const char *dcz, FILE *out) {
  char wpath[600], opath[600];
  snprintf(wpath, sizeof wpath, "%.580s/quantize.h5", e->output);
  snprintf(opath, sizeof opath, "%.580s/model.dcz", e->output);
  if (!weights) weights = wpath;
  if (!dcz) dcz = opath;
  evaluator ev;
  dc_status s = evaluator_open(e, &ev);
  if (s == DC_OK) s = dc_ckpt_load_weights(weights, ev.net->params);
  for (int i = 0; s == DC_OK && i < ev.net->nlayers; i++) {
    dc_param *w = ev.net->layers[i].weight;
    if (w && !dc_param_parts_of(w).codebook) /* not SHARED */
      s = dc_fail(DC_ERR_ARG, "%s: layer %s is not quantized (encode takes a quantize stage's weights, e.g. "
                  "OUTPUT/quantize.h5)", weights, ev.net->layers[i].name);
  }
  dc_dcz_stats stats = {0};
  if (s == DC_OK) {
    ev.t.train_net = ev.net;
    ev.t.out = out;
    s = dc_stage_encode(e, &ev.t, dcz, &stats);
  }
  evaluator_close(&ev);
  if (s == DC_OK && out) dc_report_print_dcz(out, dcz, &stats);
  dc_dcz_stats_free(&stats);
  return s;
}

/* ---- export ---- */

static dc_status export_layers(dc_h5 *f, const dc_dcz_layer *layers, int n, uint64_t *kept, uint64_t *total) {
  DC_TRY(dc_h5_write_str(f, "/meta/format", DC_CKPT_FORMAT));
  for (int l = 0; l < n; l++) {
    const dc_dcz_layer *d = &layers[l];
    int64_t dims[4];
    size_t count = 1;
    for (int k = 0; k < d->ndim; k++) {
      dims[k] = d->dims[k];
      count *= (size_t)d->dims[k];
    }
    float *w = malloc(sizeof(float) * (count ? count : 1));
    if (!w) return dc_fail(DC_ERR_NOMEM, "out of memory exporting layer %s", d->name);
    /* the values dc_param_sync computes for a SHARED parameter */
    for (size_t i = 0; i < count; i++) {
      w[i] = d->mask[i] ? d->codebook[d->index[i]] : 0.0f;
      *kept += d->mask[i];
    }
    *total += count;
    char path[160];
    snprintf(path, sizeof path, "/params/%s/weight", d->name);
    dc_status s = dc_h5_write(f, path, DC_H5_F32, d->ndim, dims, w);
    free(w);
    DC_TRY(s);
    if (d->nbias > 0) {
      int64_t nb = d->nbias;
      snprintf(path, sizeof path, "/params/%s/bias", d->name);
      DC_TRY(dc_h5_write(f, path, DC_H5_F32, 1, &nb, d->bias));
    }
  }
  return DC_OK;
}

dc_status dc_cmd_export(const char *dcz, const char *h5, FILE *out) {
  dc_dcz_layer *layers;
  int n;
  DC_TRY(dc_dcz_read(dcz, &layers, &n));
  dc_h5 *f;
  dc_status s = dc_h5_create(h5, &f);
  uint64_t kept = 0, total = 0;
  if (s == DC_OK) {
    s = export_layers(f, layers, n, &kept, &total);
    if (s == DC_OK) s = dc_h5_commit(f);
    else dc_h5_abort(f);
  }
  dc_dcz_free(layers, n);
  DC_TRY(s);
  if (out)
    fprintf(out, "%s: %d layers, %llu weights (%llu kept, the rest 0) as dense fp32 into %s\n", dcz, n,
            (unsigned long long)total, (unsigned long long)kept, h5);
  return DC_OK;
}

/* ---- sensitivity ---- */

const double dc_default_densities[11] = {100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 5};

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
  return s;
}

dc_status dc_parse_densities(const char *text, double *pct, int max, int *n) {
  *n = 0;
  const char *p = text;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char buf[64];
    if (len >= sizeof buf) return dc_fail(DC_ERR_ARG, "--densities: '%.20s...' is too long for a number", p);
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *item = trim(buf);
    size_t il = strlen(item);
    if (il > 0 && item[il - 1] == '%') item[--il] = '\0';
    if (il == 0) return dc_fail(DC_ERR_ARG, "--densities: empty entry in '%s' (expected e.g. 100,50,10)", text);
    char *end;
    errno = 0;
    double v = strtod(item, &end);
    if (*end || errno || !isfinite(v) || v < 0.0 || v > 100.0)
      return dc_fail(DC_ERR_ARG, "--densities: '%s' is not a number in [0, 100] (percent of weights kept)", item);
    if (*n >= max) return dc_fail(DC_ERR_ARG, "--densities: more than %d values", max);
    pct[(*n)++] = v;
    if (!comma) break;
    p = comma + 1;
  }
  return DC_OK;
}

dc_status dc_parse_bits(const char *text, int *bits, int max, int *n) {
  *n = 0;
  if (!strcmp(text, "all")) {
    for (int b = 8; b >= 1 && *n < max; b--) bits[(*n)++] = b;
    return DC_OK;
  }
  const char *p = text;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char buf[64];
    if (len >= sizeof buf) return dc_fail(DC_ERR_ARG, "--bits: '%.20s...' is too long for a number", p);
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *item = trim(buf), *end;
    if (!*item) return dc_fail(DC_ERR_ARG, "--bits: empty entry in '%s' (expected e.g. 8,6,4,2 or all)", text);
    errno = 0;
    long v = strtol(item, &end, 10);
    if (*end || errno || v < 1 || v > 8)
      return dc_fail(DC_ERR_ARG, "--bits: '%s' is not a whole number of bits in 1..8", item);
    if (*n >= max) return dc_fail(DC_ERR_ARG, "--bits: more than %d values", max);
    bits[(*n)++] = (int)v;
    if (!comma) break;
    p = comma + 1;
  }
  return DC_OK;
}

void dc_sensitivity_free(dc_sensitivity *res) {
  if (!res) return;
  free(res->layer);
  free(res->top1);
  free(res->top5);
  memset(res, 0, sizeof *res);
}

dc_status dc_pick_weights(const dc_experiment *e, const char *weights, char *path, size_t cap) {
  if (weights) {
    snprintf(path, cap, "%s", weights);
    return DC_OK;
  }
  snprintf(path, cap, "%.580s/train.h5", e->output);
  if (access(path, F_OK) == 0) return DC_OK;
  if (e->weights[0]) {
    snprintf(path, cap, "%s", e->weights);
    return DC_OK;
  }
  return dc_fail(DC_ERR_ARG,
                 "%s: no trained weights: %s does not exist and [experiment] names no weights (train first, or "
                 "pass --weights W.h5)",
                 e->path, path);
}

/* What one sweep varies: rows, file names, words. */
typedef struct {
  const char *row;      /* CSV column and table heading of the rows */
  const char *file;     /* OUTPUT/<file>.csv and .png */
  const char *what;     /* the table's title */
  const char *xlabel;   /* the plot's x axis */
  const char *title;    /* the plot's title, before the experiment's name */
  const char *done;     /* progress: "top-1 X% at <level><done>" */
} sweep_words;

static const sweep_words g_words[2] = {
    {"density", "sensitivity", "test top-1 % with one layer pruned (rows: % of that layer's weights kept)",
     "density (% of the layer's weights kept)", "Pruning sensitivity", "% kept"},
    {"bits", "sensitivity-bits",
     "test top-1 % with one layer quantized (rows: bits per weight, a k-means codebook of 2^bits)",
     "bits per weight (k-means codebook of 2^bits centroids)", "Quantization sensitivity", " bits"},
};

static dc_status write_csv(const char *path, const dc_sensitivity *r) {
  dc_atomic a;
  DC_TRY(dc_atomic_open(&a, path, "w"));
  FILE *f = a.f;
  fprintf(f, "%s", g_words[r->kind].row);
  for (int l = 0; l < r->nlayers; l++) fprintf(f, ",%s", r->layer[l]);
  fprintf(f, "\n");
  for (int d = 0; d < r->ndensities; d++) {
    fprintf(f, "%.6g", r->kind == DC_SENS_PRUNE ? r->density[d] / 100.0 : r->density[d]);
    for (int l = 0; l < r->nlayers; l++) fprintf(f, ",%.6f", r->top1[d * r->nlayers + l]);
    fprintf(f, "\n");
  }
  return dc_atomic_commit(&a);
}

static void print_table(FILE *out, const dc_sensitivity *r) {
  fprintf(out, "%s\n%8s", g_words[r->kind].what, g_words[r->kind].row);
  for (int l = 0; l < r->nlayers; l++) fprintf(out, " %9s", r->layer[l]);
  fprintf(out, "\n");
  for (int d = 0; d < r->ndensities; d++) {
    if (r->kind == DC_SENS_PRUNE) fprintf(out, "%7.4g%%", r->density[d]);
    else fprintf(out, "%8d", (int)r->density[d]);
    for (int l = 0; l < r->nlayers; l++) fprintf(out, " %9.2f", 100 * r->top1[d * r->nlayers + l]);
    fprintf(out, "\n");
  }
}

/* One trial on a layer: prune it to density[d] percent, or quantize it to density[d]
 * bits with the experiment's k-means init and the seed its quantize stage would use. */
static dc_status trial(const dc_experiment *e, const dc_sensitivity *r, dc_layer *layer, int d) {
  if (r->kind == DC_SENS_PRUNE) return dc_prune_density(layer->weight, r->density[d] / 100.0);
  return dc_quantize(layer->weight, (int)r->density[d], (dc_kmeans_init)e->quantize.init,
                     e->seed ^ dc_hash_str(layer->name));
}

/* The sweep over an open evaluator whose weights are loaded. */
static dc_status sweep(const dc_experiment *e, evaluator *ev, FILE *out, dc_sensitivity *r) {
  dc_net *net = ev->net;
  int nl = 0;
  for (int i = 0; i < net->nlayers; i++) nl += net->layers[i].weight != NULL;
  if (nl == 0) return dc_fail(DC_ERR_ARG, "%s: has no weighted layers to %s", e->net, r->kind ? "quantize" : "prune");
  r->layer = calloc((size_t)nl, sizeof *r->layer);
  r->top1 = calloc((size_t)(nl * r->ndensities), sizeof(double));
  r->top5 = calloc((size_t)(nl * r->ndensities), sizeof(double));
  if (!r->layer || !r->top1 || !r->top5) return dc_fail(DC_ERR_NOMEM, "out of memory");
  DC_TRY(dc_test(&ev->t, &r->dense));
  if (out) {
    fprintf(out, "dctrain sensitivity: %s: %d layers x %d %s on %d test images; unpruned top-1 %.2f%%\n", e->name, nl,
            r->ndensities, r->kind ? "bit widths" : "densities", r->dense.samples, 100 * r->dense.top1);
    fflush(out);
  }
  double t0 = dc_now();
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *layer = &net->layers[i];
    if (!layer->weight) continue;
    int l = r->nlayers++;
    snprintf(r->layer[l], sizeof r->layer[l], "%s", layer->name);
    dc_param_snapshot saved; /* undoes each trial exactly */
    DC_TRY(dc_param_snapshot_take(layer->weight, &saved));
    dc_status s = DC_OK;
    for (int d = 0; d < r->ndensities && s == DC_OK; d++) {
      dc_test_result tr;
      s = trial(e, r, layer, d);
      if (s == DC_OK) s = dc_test(&ev->t, &tr);
      if (s == DC_OK) {
        r->top1[d * nl + l] = tr.top1;
        r->top5[d * nl + l] = tr.top5;
      }
      dc_status s2 = dc_param_snapshot_restore(layer->weight, &saved);
      if (s == DC_OK) s = s2;
    }
    dc_param_snapshot_free(&saved);
    DC_TRY(s);
    if (out) {
      double el = dc_now() - t0, eta = el / (l + 1) * (nl - l - 1);
      char el_s[32], eta_s[32];
      dc_format_duration(el, el_s, sizeof el_s);
      dc_format_duration(eta, eta_s, sizeof eta_s);
      fprintf(out, "[sensitivity] %-10s %d/%d done: top-1 %.2f%% at %.4g%s; elapsed %s, ETA %s\n", layer->name, l + 1,
              nl, 100 * r->top1[(r->ndensities - 1) * nl + l], r->density[r->ndensities - 1], g_words[r->kind].done,
              el_s, eta_s);
      fflush(out);
    }
  }
  return DC_OK;
}

static dc_status run_sensitivity(const dc_experiment *e, const char *weights, dc_sens_kind kind, const double *level,
                                 int n, FILE *out, dc_sensitivity *res) {
  const sweep_words *w = &g_words[kind];
  char wpath[600];
  DC_TRY(dc_pick_weights(e, weights, wpath, sizeof wpath));
  dc_sensitivity local, *r = res ? res : &local;
  memset(r, 0, sizeof *r);
  r->kind = kind;
  r->ndensities = n;
  memcpy(r->density, level, sizeof(double) * (size_t)n);
  evaluator ev;
  dc_status s = evaluator_open(e, &ev);
  if (s == DC_OK) s = dc_load_model(wpath, ev.net);
  if (s == DC_OK && out) fprintf(out, "weights: %s\n", wpath);
  if (s == DC_OK) s = sweep(e, &ev, out, r);
  evaluator_close(&ev);
  char csv[600], png[600];
  snprintf(csv, sizeof csv, "%.570s/%s.csv", e->output, w->file);
  snprintf(png, sizeof png, "%.570s/%s.png", e->output, w->file);
  if (s == DC_OK) s = dc_make_dirs(e->output);
  if (s == DC_OK) s = write_csv(csv, r);
  if (s == DC_OK) {
    double *y = malloc(sizeof(double) * (size_t)(n * r->nlayers));
    const char **names = malloc(sizeof(char *) * (size_t)r->nlayers);
    if (!y || !names) s = dc_fail(DC_ERR_NOMEM, "out of memory");
    for (int l = 0; s == DC_OK && l < r->nlayers; l++) {
      names[l] = r->layer[l];
      for (int d = 0; d < n; d++) y[l * n + d] = 100 * r->top1[d * r->nlayers + l];
    }
    char title[160];
    snprintf(title, sizeof title, "%s: %.100s", w->title, e->name);
    if (s == DC_OK) s = dc_plot_png(png, title, w->xlabel, "test top-1 (%)", r->density, n, y, r->nlayers, names);
    free(y);
    free(names);
  }
  if (s == DC_OK && out) {
    print_table(out, r);
    fprintf(out, "wrote %s and %s\n", csv, png);
  }
  if (s != DC_OK || r == &local) dc_sensitivity_free(r);
  return s;
}

dc_status dc_cmd_sensitivity(const dc_experiment *e, const char *weights, const double *pct, int n, FILE *out,
                             dc_sensitivity *res) {
  if (n < 1 || n > DC_MAX_DENSITIES)
    return dc_fail(DC_ERR_ARG, "sensitivity: %d densities (expected 1..%d)", n, DC_MAX_DENSITIES);
  for (int i = 0; i < n; i++)
    if (!(pct[i] >= 0.0 && pct[i] <= 100.0))
      return dc_fail(DC_ERR_ARG, "sensitivity: density %g%% is outside [0, 100]", pct[i]);
  return run_sensitivity(e, weights, DC_SENS_PRUNE, pct, n, out, res);
}

dc_status dc_cmd_sensitivity_bits(const dc_experiment *e, const char *weights, const int *bits, int n, FILE *out,
                                  dc_sensitivity *res) {
  if (n < 1 || n > DC_MAX_DENSITIES)
    return dc_fail(DC_ERR_ARG, "sensitivity: %d bit widths (expected 1..%d)", n, DC_MAX_DENSITIES);
  double level[DC_MAX_DENSITIES];
  for (int i = 0; i < n; i++) {
    if (bits[i] < 1 || bits[i] > 8)
      return dc_fail(DC_ERR_ARG, "sensitivity: %d bits is outside 1..8 (a codebook of 2^bits centroids)", bits[i]);
    level[i] = bits[i];
  }
  return run_sensitivity(e, weights, DC_SENS_QUANTIZE, level, n, out, res);
}
