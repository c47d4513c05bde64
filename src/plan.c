/* plan.c — `dctrain plan`: per-layer densities and bits from a size budget and the
 * measured sensitivities, written as an experiment file; see dc/plan.h.
 *
 * The model: a layer at (density d, bits b) costs P_l(d) + Q_l(b) points of top-1, the
 * losses measured with that layer alone pruned to d and alone quantized to b (no
 * retraining; each made non-decreasing along the grid, so measurement noise cannot make
 * a deeper cut look free), and takes S_l(d, b) bytes, the size the .dcz writer gives
 * the layer pruned and quantized exactly as the stages would do it. The file is
 * C + sum S_l, C the header and model section. Allocation is greedy on the lower hull:
 * from every layer at the grid's top (100%, most bits), repeatedly move the one layer
 * to the grid point that costs least loss per byte saved, until the file fits; then
 * give bytes back where a layer can move up again at the best gain per byte while the
 * file still fits. Quantization is kept within --max-loss in all (the sum of Q_l):
 * retraining recovers pruning losses with every kept weight free to move, while after
 * quantization only the 2^b centroids of a layer are trained. */
#include "dc/plan.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/ckpt.h"
#include "dc/commands.h"
#include "dc/compress.h"
#include "dc/data.h"
#include "dc/model.h"
#include "dc/net.h"
#include "dc/prune.h"
#include "dc/rng.h"
#include "atomic.h"
#include "util.h"

static const double g_densities[] = {100, 80,  65, 50, 40,  30,  23,  17,  13,  10,
                                     7.5, 5.5, 4,  3,  2.2, 1.6, 1.2, 0.9, 0.7, 0.5};
static const int g_bits[] = {8, 7, 6, 5, 4, 3, 2, 1};

#define MIN_ROUND_KEEP 0.55 /* a pruning round keeps at least this much of the last */

void dc_plan_free(dc_plan *p) {
  if (!p) return;
  free(p->layer);
  memset(p, 0, sizeof *p);
}

dc_status dc_parse_size(const char *text, const char *what, uint64_t *bytes) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (end == text || errno || !isfinite(v) || v <= 0)
    return dc_fail(DC_ERR_ARG, "%s: '%s' is not a size (expected e.g. 20KB, 17220, 1.5MB, 16KiB)", what, text);
  while (*end == ' ') end++;
  static const struct {
    const char *unit;
    double mult;
  } units[] = {{"", 1}, {"b", 1}, {"kb", 1e3}, {"k", 1e3}, {"mb", 1e6}, {"m", 1e6}, {"kib", 1024}, {"mib", 1048576}};
  char unit[8];
  size_t n = strlen(end);
  if (n >= sizeof unit) return dc_fail(DC_ERR_ARG, "%s: '%s': unknown unit (B, KB, MB, KiB, MiB)", what, text);
  for (size_t i = 0; i <= n; i++) unit[i] = (char)tolower((unsigned char)end[i]);
  for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
    if (!strcmp(unit, units[u].unit)) {
      double b = floor(v * units[u].mult);
      if (b < 1 || b > 1e18) return dc_fail(DC_ERR_ARG, "%s: '%s' is not a size between 1 byte and 1 EB", what, text);
      *bytes = (uint64_t)b;
      return DC_OK;
    }
  return dc_fail(DC_ERR_ARG, "%s: '%s': unknown unit '%s' (B, KB, MB, KiB, MiB)", what, text, end);
}

dc_status dc_plan_budget_from_ratio(const dc_experiment *e, double ratio, uint64_t *bytes) {
  if (!(ratio > 0 && isfinite(ratio))) return dc_fail(DC_ERR_ARG, "plan: --ratio %g must be a number above 0", ratio);
  dc_net *net;
  DC_TRY(dc_net_load(e->net, 1, DC_NET_REUSE, NULL, &net));
  uint64_t dense = 0;
  for (int i = 0; i < net->nlayers; i++) {
    const dc_layer *l = &net->layers[i];
    if (l->weight) dense += 4 * (l->weight->count + (l->bias ? l->bias->count : 0));
  }
  dc_net_free(net);
  *bytes = (uint64_t)floor((double)dense / ratio);
  if (*bytes == 0)
    return dc_fail(DC_ERR_ARG, "plan: --ratio %g leaves no bytes of the %llu of %s", ratio, (unsigned long long)dense,
                   e->net);
  return DC_OK;
}

/* ---- the size model ---- */

/* Prune l's weight to pct percent and quantize it to bits, as the stages would (the
 * quantize stage's seed). */
static dc_status cut(const dc_experiment *e, dc_layer *l, double pct, int bits) {
  DC_TRY(dc_prune_density(l->weight, pct / 100.0));
  return dc_quantize(l->weight, bits, (dc_kmeans_init)e->quantize.init, e->seed ^ dc_hash_str(l->name));
}

/* The bias width the size model assumes: [encode] bias_bits, and for auto 16: the stage
 * takes 8 bits only when the test result stays exactly as with fp32 biases, and fp16
 * biases have always passed that test here, so 16 is the likely worst case (8 only makes
 * the file smaller). */
static int planned_bias_bits(const dc_experiment *e) { return e->encode.bias_bits ? e->encode.bias_bits : 16; }

/* The codebook width the size model assumes: [encode] codebook_bits, and for auto 32:
 * the stage keeps fp16 centroids only when the test result does not move, which the
 * plan cannot know before retraining (fp16 only makes the file smaller). */
static int planned_codebook_bits(const dc_experiment *e) {
  return e->encode.codebook_bits ? e->encode.codebook_bits : 32;
}

/* Bytes of l's record in a .dcz as it is now (SHARED). */
static dc_status layer_bytes(const dc_experiment *e, const dc_layer *l, uint64_t *bytes) {
  dc_dcz_layer d;
  if (e->encode.enabled)
    DC_TRY(dc_model_layer(l, e->encode.conv_gap_bits, e->encode.fc_gap_bits, &d));
  else
    DC_TRY(dc_model_layer(l, DC_DCZ_GAP_AUTO, DC_DCZ_GAP_AUTO, &d)); /* [encode]'s defaults */
  d.bias_bits = planned_bias_bits(e);
  d.codebook_bits = planned_codebook_bits(e);
  dc_dcz_layer_stats st;
  DC_TRY(dc_dcz_layer_size(&d, &st));
  *bytes = st.total_bytes;
  return DC_OK;
}

/* S[(i * nb) + j] for one layer: every density i, every bits j. */
static dc_status size_grid(const dc_experiment *e, const dc_plan_conf *c, dc_layer *l, uint64_t *S) {
  dc_param_snapshot dense, pruned;
  DC_TRY(dc_param_snapshot_take(l->weight, &dense));
  dc_status s = DC_OK;
  for (int i = 0; i < c->ndensities && s == DC_OK; i++) {
    s = dc_param_snapshot_restore(l->weight, &dense);
    if (s == DC_OK) s = dc_prune_density(l->weight, c->density[i] / 100.0);
    if (s != DC_OK) break;
    if ((s = dc_param_snapshot_take(l->weight, &pruned)) != DC_OK) break;
    for (int j = 0; j < c->nbits && s == DC_OK; j++) {
      s = dc_param_snapshot_restore(l->weight, &pruned);
      if (s == DC_OK)
        s = dc_quantize(l->weight, c->bits[j], (dc_kmeans_init)e->quantize.init, e->seed ^ dc_hash_str(l->name));
      if (s == DC_OK) s = layer_bytes(e, l, &S[i * c->nbits + j]);
    }
    dc_param_snapshot_free(&pruned);
  }
  dc_status s2 = dc_param_snapshot_restore(l->weight, &dense);
  dc_param_snapshot_free(&dense);
  return s != DC_OK ? s : s2;
}

/* ---- the allocation ---- */

typedef struct {
  int nl, nd, nb;
  const double *P, *Q; /* (nl x nd), (nl x nb): monotone losses in points */
  const uint64_t *S;   /* (nl x nd x nb) bytes */
  double max_q;
} model;

static uint64_t size_at(const model *m, int l, int i, int j) { return m->S[((size_t)l * m->nd + i) * m->nb + j]; }
static double cost_at(const model *m, int l, int i, int j) { return m->P[l * m->nd + i] + m->Q[l * m->nb + j]; }

/* Greedy allocation into a[], b[] (grid indices) for `room` bytes of layers. Returns
 * the layers' bytes (> room when even the deepest admissible cuts do not fit). */
static uint64_t allocate(const model *m, uint64_t room, int *a, int *b) {
  uint64_t total = 0;
  double qsum = 0;
  for (int l = 0; l < m->nl; l++) {
    a[l] = b[l] = 0;
    total += size_at(m, l, 0, 0);
    qsum += m->Q[l * m->nb];
  }
  while (total > room) {
    int bl = -1, bi = 0, bj = 0;
    double best = INFINITY;
    uint64_t bsave = UINT64_MAX;
    for (int l = 0; l < m->nl; l++)
      for (int i = a[l]; i < m->nd; i++)
        for (int j = b[l]; j < m->nb; j++) {
          uint64_t now = size_at(m, l, a[l], b[l]), then = size_at(m, l, i, j);
          if (then >= now) continue;
          double dq = m->Q[l * m->nb + j] - m->Q[l * m->nb + b[l]];
          if (qsum + dq > m->max_q + 1e-9) continue;
          double r = (cost_at(m, l, i, j) - cost_at(m, l, a[l], b[l])) / (double)(now - then);
          /* equal rates (free cuts above all): the smaller step first, so the plan stops
           * at the mildest cut that fits */
          if (r < best - 1e-12 || (fabs(r - best) <= 1e-12 && now - then < bsave)) {
            best = r, bsave = now - then, bl = l, bi = i, bj = j;
          }
        }
    if (bl < 0) break;
    qsum += m->Q[bl * m->nb + bj] - m->Q[bl * m->nb + b[bl]];
    total -= bsave;
    a[bl] = bi, b[bl] = bj;
  }
  if (total > room) return total;
  /* give back: a layer moves up where the loss it saves per byte is largest and the
   * file still fits */
  for (;;) {
    int bl = -1, bi = 0, bj = 0;
    double best = 0;
    for (int l = 0; l < m->nl; l++)
      for (int i = 0; i <= a[l]; i++)
        for (int j = 0; j <= b[l]; j++) {
          double gain = cost_at(m, l, a[l], b[l]) - cost_at(m, l, i, j);
          if (gain <= 1e-12) continue;
          double dq = m->Q[l * m->nb + j] - m->Q[l * m->nb + b[l]];
          if (qsum + dq > m->max_q + 1e-9) continue;
          uint64_t now = size_at(m, l, a[l], b[l]), then = size_at(m, l, i, j);
          if (then > now && total + (then - now) > room) continue;
          double r = then > now ? gain / (double)(then - now) : INFINITY;
          if (r > best) best = r, bl = l, bi = i, bj = j;
        }
    if (bl < 0) break;
    qsum += m->Q[bl * m->nb + bj] - m->Q[bl * m->nb + b[bl]];
    total = total - size_at(m, bl, a[bl], b[bl]) + size_at(m, bl, bi, bj);
    a[bl] = bi, b[bl] = bj;
  }
  return total;
}

/* ---- the planned file: the plan applied at once, encoded ---- */

static dc_status write_planned(const dc_experiment *e, dc_net *net, const dc_plan *p, const char *path,
                               dc_dcz_stats *st) {
  int k = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    if (!l->weight) continue;
    DC_TRY(cut(e, l, p->layer[k].density, p->layer[k].bits));
    k++;
  }
  /* the same as weights (masks, codebooks, indices): for eval, export, another encoder */
  char h5[620];
  snprintf(h5, sizeof h5, "%.600s/plan.h5", e->output);
  DC_TRY(dc_ckpt_save(h5, net->params, NULL));
  /* the gap widths of the size model, per layer kind */
  int conv_gap = e->encode.conv_gap_bits, fc_gap = e->encode.fc_gap_bits; /* auto without [encode] */
  dc_dataset *test = NULL;
  DC_TRY(dc_experiment_open_data(e, 0, &test));
  dc_dcz_model info;
  dc_status s = dc_model_describe(e, test, &info);
  dc_dataset_free(test);
  if (s == DC_ERR_FORMAT) { /* as the encode stage: weights only */
    dc_failure_clear();
    return dc_model_encode_with(net, conv_gap, fc_gap, planned_bias_bits(e), planned_codebook_bits(e), NULL, path, st);
  }
  DC_TRY(s);
  s = dc_model_encode_with(net, conv_gap, fc_gap, planned_bias_bits(e), planned_codebook_bits(e), &info, path, st);
  dc_dcz_model_free(&info);
  return s;
}

/* ---- the experiment file ---- */

static int is_header(const char *line, char *name, size_t cap) {
  const char *p = line;
  while (*p == ' ' || *p == '\t') p++;
  if (*p != '[') return 0;
  const char *q = strchr(p, ']');
  if (!q) return 0;
  size_t n = (size_t)(q - p - 1);
  if (n >= cap) n = cap - 1;
  memcpy(name, p + 1, n);
  name[n] = '\0';
  return 1;
}

static int is_key(const char *line, const char *key) {
  while (*line == ' ' || *line == '\t') line++;
  size_t n = strlen(key);
  if (strncmp(line, key, n) != 0) return 0;
  line += n;
  while (*line == ' ' || *line == '\t') line++;
  return *line == '=';
}

static int is_comment_or_blank(const char *line) {
  while (*line == ' ' || *line == '\t') line++;
  return *line == '\0' || *line == '\n' || *line == '\r' || *line == '#' || *line == ';';
}

/* The new file's name without directory and .cfg: the experiment's name. */
static void stem_of(const char *path, char *out, size_t cap) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  size_t n = strlen(b);
  if (n > 4 && !strcmp(b + n - 4, ".cfg")) n -= 4;
  if (n >= cap) n = cap - 1;
  if (n == 0)
    snprintf(out, cap, "plan");
  else {
    memcpy(out, b, n);
    out[n] = '\0';
  }
}

static void fmt_bytes(uint64_t v, char *buf, size_t cap) {
  char digits[32];
  int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v), o = 0;
  for (int i = 0; i < n && o + 2 < (int)cap; i++) {
    if (i > 0 && (n - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = digits[i];
  }
  buf[o] = '\0';
}

/* Copy e's file into f without its leading comment, [prune], [quantize] and [encode]
 * (and the comments just above them), with name and output set; the [encode] keys
 * are collected into enc. */
static dc_status copy_base(const dc_experiment *e, FILE *f, const char *name, char *enc, size_t enc_cap) {
  DC_TRY(dc_check_input(e->path, 16u << 20));
  FILE *in = fopen(e->path, "r");
  if (!in) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", e->path, strerror(errno));
  char line[4096], section[64] = "", pending[16384] = "";
  size_t plen = 0, elen = 0;
  int seen_header = 0;
  enc[0] = '\0';
  while (fgets(line, sizeof line, in)) {
    char hdr[64];
    if (is_header(line, hdr, sizeof hdr)) {
      snprintf(section, sizeof section, "%s", hdr);
      int drop = !strcmp(hdr, "prune") || !strcmp(hdr, "quantize") || !strcmp(hdr, "encode");
      if (!drop && seen_header) fputs(pending, f);
      pending[0] = '\0', plen = 0;
      seen_header = 1;
      if (!drop) {
        fputs(line, f);
        if (!strcmp(hdr, "experiment")) fprintf(f, "name = %s\noutput = runs/%s\n", name, name);
      }
      continue;
    }
    int stage = !strcmp(section, "prune") || !strcmp(section, "quantize") || !strcmp(section, "encode");
    if (is_comment_or_blank(line)) {
      size_t n = strlen(line);
      if (plen + n < sizeof pending) {
        memcpy(pending + plen, line, n + 1);
        plen += n;
      }
      continue;
    }
    if (!strcmp(section, "encode")) {
      size_t n = strlen(line);
      if (elen + n < enc_cap) {
        memcpy(enc + elen, line, n + 1);
        elen += n;
      }
    }
    if (stage) {
      pending[0] = '\0', plen = 0;
      continue;
    }
    if (!strcmp(section, "experiment") && (is_key(line, "name") || is_key(line, "output"))) {
      fputs(pending, f);
      pending[0] = '\0', plen = 0;
      continue;
    }
    fputs(pending, f);
    pending[0] = '\0', plen = 0;
    fputs(line, f);
  }
  int bad = ferror(in);
  fclose(in);
  if (bad) return dc_fail(DC_ERR_IO, "%s: read failed", e->path);
  return DC_OK;
}

static dc_status write_cfg(const dc_experiment *e, const dc_plan_conf *c, const dc_plan *p, const char *wpath) {
  char name[64];
  stem_of(c->out_cfg, name, sizeof name);
  dc_atomic at;
  DC_TRY(dc_atomic_open(&at, c->out_cfg, "w"));
  FILE *f = at.f;
  char budget[32], bytes[32], dense[32];
  fmt_bytes(p->budget, budget, sizeof budget);
  fmt_bytes(p->bytes, bytes, sizeof bytes);
  fmt_bytes(p->dense_bytes, dense, sizeof dense);
  double min_d = 100;
  for (int l = 0; l < p->nlayers; l++) min_d = fmin(min_d, p->layer[l].density);
  fprintf(f, "# %s: planned by dctrain plan from %s (the net as trained: top-1 %.2f%%)\n", name, wpath,
          100 * p->dense_top1);
  if (c->command) fprintf(f, "#   %s\n", c->command);
  fprintf(f,
          "# for a model.dcz of at most %s bytes (%.1fx smaller than the fp32 weights, %s bytes).\n"
          "# Per layer: the density and bits chosen, the bytes the layer takes encoded, and\n"
          "# the top-1 points lost with that layer alone pruned / alone quantized so, no\n"
          "# retraining (dctrain sensitivity, --bits): the plan spends the budget where a\n"
          "# byte costs least accuracy.\n"
          "#   %-10s %9s %8s %5s %8s %12s %15s\n",
          budget, (double)p->dense_bytes / (double)p->budget, dense, "layer", "weights", "kept", "bits", "bytes",
          "loss pruned", "loss quantized");
  for (int l = 0; l < p->nlayers; l++) {
    const dc_plan_layer *L = &p->layer[l];
    fprintf(f, "#   %-10s %9llu %7.4g%% %5d %8llu %12.2f %15.2f\n", L->name, (unsigned long long)L->weights, L->density,
            L->bits, (unsigned long long)L->bytes, L->prune_loss, L->quant_loss);
  }
  fprintf(f,
          "# Estimated model.dcz: %s bytes, %.1fx (the plan applied at once to the trained\n"
          "# weights and encoded; retraining moves it by a little). All layers cut at once, before\n"
          "# retraining: top-1 %.2f%%; the %d pruning rounds and the centroid retraining below\n"
          "# are what recovers it: compare runs/%s/report.md with the dense net.\n"
          "# To start from those trained weights instead of training again:\n"
          "#   dctrain %s --set experiment.weights=%s --set solver.max_iter=0\n",
          bytes, p->ratio, 100 * p->oneshot_top1, p->rounds, name, c->out_cfg, wpath);
  char enc[4096];
  dc_status s = copy_base(e, f, name, enc, sizeof enc);
  if (s == DC_OK) {
    int pruned = 0;
    for (int l = 0; l < p->nlayers; l++) pruned += p->layer[l].density < 100;
    long iters = e->prune.enabled ? e->prune.retrain_iters : (e->solver.max_iter >= 2 ? e->solver.max_iter / 2 : 1000);
    double lr = e->prune.enabled ? e->prune.lr : e->solver.base_lr / 2;
    if (pruned) {
      fprintf(f,
              "\n# %d rounds: layer densities approach their targets geometrically (round r keeps d^(r/%d),\n"
              "# each round at least %.0f%% of the last).\n[prune]\nrounds = %d\nretrain_iters = %ld\n",
              p->rounds, p->rounds, 100 * MIN_ROUND_KEEP, p->rounds, iters);
      if (e->prune.enabled && e->prune.final_retrain_iters != e->prune.retrain_iters)
        fprintf(f, "final_retrain_iters = %ld\n", e->prune.final_retrain_iters);
      fprintf(f, "base_lr = %.6g\n", lr);
      if (e->prune.enabled && e->prune.policy >= 0) fprintf(f, "lr_policy = %s\n", dc_lr_policy_names[e->prune.policy]);
      if (e->prune.enabled && e->prune.freeze != DC_FREEZE_NONE)
        fprintf(f, "freeze = %s\n", e->prune.freeze == DC_FREEZE_CONV ? "conv" : "fc");
      if (e->prune.enabled && !e->prune.adjust_dropout) fprintf(f, "adjust_dropout = false\n");
      if (e->prune.enabled && e->prune.splice)
        fprintf(f, "splice = %ld\nsplice_margin = %.4g%%\n", e->prune.splice, 100 * e->prune.splice_margin);
      for (int l = 0; l < p->nlayers; l++)
        if (p->layer[l].density < 100) fprintf(f, "%s = %.4g%%\n", p->layer[l].name, p->layer[l].density);
    }
    static const char *const inits[] = {"linear", "density", "random"};
    long qiters = e->quantize.enabled ? e->quantize.retrain_iters : iters;
    double qlr = e->quantize.enabled ? e->quantize.lr : e->solver.base_lr / 10;
    fprintf(f,
            "\n# Bits per layer (quantization within --max-loss %.2g points in all, measured alone).\n"
            "[quantize]\nretrain_iters = %ld\nbase_lr = %.6g\n",
            c->max_loss, qiters, qlr);
    if (e->quantize.init != DC_KMEANS_LINEAR) fprintf(f, "init = %s\n", inits[e->quantize.init]);
    if (e->quantize.enabled && e->quantize.policy >= 0)
      fprintf(f, "lr_policy = %s\n", dc_lr_policy_names[e->quantize.policy]);
    for (int l = 0; l < p->nlayers; l++) fprintf(f, "%s = %d\n", p->layer[l].name, p->layer[l].bits);
    fprintf(f, "\n[encode]\n%s", enc);
  }
  if (s != DC_OK) {
    dc_atomic_abort(&at);
    return s;
  }
  return dc_atomic_commit(&at);
}

/* ---- the command ---- */

/* Loss in points, never negative, never smaller than at an earlier (milder) grid point. */
static void monotone_losses(const dc_sensitivity *r, int l, double *out) {
  double worst = 0;
  for (int d = 0; d < r->ndensities; d++) {
    double loss = 100 * (r->dense.top1 - r->top1[d * r->nlayers + l]);
    worst = fmax(worst, loss);
    out[d] = worst;
  }
}

static dc_status check_conf(const dc_plan_conf *c, dc_plan_conf *g) {
  *g = *c;
  if (!c->out_cfg || !*c->out_cfg) return dc_fail(DC_ERR_ARG, "plan: no output file (-o OUT.cfg)");
  if (c->budget == 0) return dc_fail(DC_ERR_ARG, "plan: no budget (--ratio R or --size BYTES)");
  if (!(c->max_loss >= 0 && c->max_loss <= 100))
    return dc_fail(DC_ERR_ARG, "plan: --max-loss %g is not in [0, 100] points", c->max_loss);
  if (!(c->reserve >= 0 && c->reserve < 100))
    return dc_fail(DC_ERR_ARG, "plan: --reserve %g%% is not in [0, 100)", c->reserve);
  if (c->rounds < 0 || c->rounds > 1000) return dc_fail(DC_ERR_ARG, "plan: --rounds %d is not in 1..1000", c->rounds);
  if (g->ndensities == 0) {
    g->ndensities = (int)(sizeof g_densities / sizeof g_densities[0]);
    memcpy(g->density, g_densities, sizeof g_densities);
  }
  if (g->nbits == 0) {
    g->nbits = (int)(sizeof g_bits / sizeof g_bits[0]);
    memcpy(g->bits, g_bits, sizeof g_bits);
  }
  if (g->ndensities > DC_PLAN_MAX_GRID || g->nbits > DC_PLAN_MAX_GRID)
    return dc_fail(DC_ERR_ARG, "plan: more than %d grid points", DC_PLAN_MAX_GRID);
  for (int i = 0; i < g->ndensities; i++)
    if (!(g->density[i] > 0 && g->density[i] <= 100) || (i && g->density[i] >= g->density[i - 1]))
      return dc_fail(DC_ERR_ARG, "plan: densities must fall from at most 100%% to above 0%% (got %g%%)", g->density[i]);
  for (int j = 0; j < g->nbits; j++)
    if (g->bits[j] < 1 || g->bits[j] > 8 || (j && g->bits[j] >= g->bits[j - 1]))
      return dc_fail(DC_ERR_ARG, "plan: bit widths must fall within 8..1 (got %d)", g->bits[j]);
  return DC_OK;
}

/* A table sensitivity wrote (OUTPUT/sensitivity.csv or sensitivity-bits.csv) back
 * into *r: rows, layer names, top-1; r->dense.top1 from the 100% row of a density table. */
static dc_status read_table(const char *path, dc_sens_kind kind, dc_sensitivity *r) {
  memset(r, 0, sizeof *r);
  r->kind = kind;
  DC_TRY(dc_check_input(path, 1u << 20));
  FILE *f = fopen(path, "r");
  if (!f)
    return dc_fail(DC_ERR_IO, "%s: cannot open: %s (measure it with dctrain sensitivity%s)", path, strerror(errno),
                   kind ? " --bits" : "");
  char line[8192];
  dc_status s = DC_OK;
  int lineno = 1, dense_row = -1;
  const char *first = kind == DC_SENS_PRUNE ? "density," : "bits,";
  if (!fgets(line, sizeof line, f) || strncmp(line, first, strlen(first)) != 0)
    s = dc_fail(DC_ERR_FORMAT, "%s:1: expected a header starting '%s' (a table of dctrain sensitivity)", path, first);
  if (s == DC_OK) {
    line[strcspn(line, "\r\n")] = '\0';
    for (char *q = strchr(line, ','); q; q = strchr(q + 1, ',')) r->nlayers++;
    r->layer = calloc((size_t)r->nlayers, sizeof *r->layer);
    r->top1 = calloc((size_t)r->nlayers * DC_MAX_DENSITIES, sizeof(double));
    r->top5 = calloc((size_t)r->nlayers * DC_MAX_DENSITIES, sizeof(double));
    if (!r->layer || !r->top1 || !r->top5) s = dc_fail(DC_ERR_NOMEM, "out of memory");
    int l = 0;
    for (char *q = strchr(line, ','); s == DC_OK && q; q = strchr(q + 1, ','), l++) {
      size_t n = strcspn(q + 1, ",");
      snprintf(r->layer[l], sizeof r->layer[l], "%.*s", (int)(n < 63 ? n : 63), q + 1);
    }
  }
  while (s == DC_OK && fgets(line, sizeof line, f)) {
    lineno++;
    if (r->ndensities == DC_MAX_DENSITIES) {
      s = dc_fail(DC_ERR_FORMAT, "%s:%d: more than %d rows", path, lineno, DC_MAX_DENSITIES);
      break;
    }
    char *q = line, *end;
    double v = strtod(q, &end);
    int ok = end != q && isfinite(v);
    double *row = r->top1 + (size_t)r->ndensities * r->nlayers;
    for (int l = 0; ok && l < r->nlayers; l++) {
      ok = *end == ',';
      q = end + 1;
      row[l] = strtod(q, &end);
      ok = ok && end != q && row[l] >= 0 && row[l] <= 1;
    }
    ok = ok && (*end == '\n' || *end == '\r' || *end == '\0');
    if (!ok) {
      s = dc_fail(DC_ERR_FORMAT, "%s:%d: expected %d numbers after the %s", path, lineno, r->nlayers, first);
      break;
    }
    r->density[r->ndensities] = kind == DC_SENS_PRUNE ? 100 * v : v;
    if (kind == DC_SENS_PRUNE && fabs(v - 1) < 1e-9) dense_row = r->ndensities;
    r->ndensities++;
  }
  fclose(f);
  if (s == DC_OK && r->ndensities == 0) s = dc_fail(DC_ERR_FORMAT, "%s: no rows", path);
  if (s == DC_OK && kind == DC_SENS_PRUNE) {
    if (dense_row < 0)
      s = dc_fail(DC_ERR_FORMAT, "%s: no 100%% row (the unpruned net's accuracy)", path);
    else
      r->dense.top1 = r->top1[(size_t)dense_row * r->nlayers];
  }
  if (s != DC_OK) dc_sensitivity_free(r);
  return s;
}

/* The sensitivities: measured, or read back from c->tables (same layers, the grid
 * becomes the tables' rows). */
static dc_status sensitivities(const dc_experiment *e, dc_plan_conf *c, const char *wpath, FILE *out, dc_sensitivity *P,
                               dc_sensitivity *Q) {
  if (!c->tables) {
    DC_TRY(dc_cmd_sensitivity(e, wpath, c->density, c->ndensities, out, P));
    dc_status s = dc_cmd_sensitivity_bits(e, wpath, c->bits, c->nbits, out, Q);
    if (s != DC_OK) dc_sensitivity_free(P);
    return s;
  }
  char pp[600], qp[600];
  snprintf(pp, sizeof pp, "%.570s/sensitivity.csv", c->tables);
  snprintf(qp, sizeof qp, "%.570s/sensitivity-bits.csv", c->tables);
  DC_TRY(read_table(pp, DC_SENS_PRUNE, P));
  dc_status s = read_table(qp, DC_SENS_QUANTIZE, Q);
  if (s == DC_OK && (Q->nlayers != P->nlayers))
    s = dc_fail(DC_ERR_FORMAT, "%s: %d layers, %s has %d", qp, Q->nlayers, pp, P->nlayers);
  for (int l = 0; s == DC_OK && l < P->nlayers; l++)
    if (strcmp(P->layer[l], Q->layer[l]) != 0)
      s = dc_fail(DC_ERR_FORMAT, "%s: layer %d is '%s', in %s '%s'", qp, l + 1, Q->layer[l], pp, P->layer[l]);
  if (s == DC_OK) {
    Q->dense = P->dense;
    c->ndensities = P->ndensities;
    memcpy(c->density, P->density, sizeof(double) * (size_t)P->ndensities);
    c->nbits = Q->ndensities;
    for (int j = 0; j < Q->ndensities; j++) c->bits[j] = (int)Q->density[j];
    dc_plan_conf g;
    s = check_conf(c, &g);
    if (s != DC_OK)
      s = dc_fail(DC_ERR_FORMAT, "%s: %s (rows must fall as the planner's grid)", c->tables, dc_failure_reason());
  }
  if (s == DC_OK && out)
    fprintf(out, "[plan] sensitivities from %s and %s (dense top-1 %.2f%%)\n", pp, qp, 100 * P->dense.top1);
  if (s != DC_OK) {
    dc_sensitivity_free(P);
    dc_sensitivity_free(Q);
  }
  return s;
}

/* Every layer's monotone losses (pl, ql) and size at every grid point (S), checking
 * that the sensitivity tables name the net's weighted layers in order; fills the names,
 * weight counts and dense bytes of p. */
static dc_status size_layers(const dc_experiment *e, const dc_plan_conf *c, dc_net *net, const dc_sensitivity *P,
                             const dc_sensitivity *Q, double *pl, double *ql, uint64_t *S, dc_plan *p, FILE *out) {
  const int nl = P->nlayers, nd = c->ndensities, nb = c->nbits;
  double t0 = dc_now();
  int seen = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *L = &net->layers[i];
    int l = seen;
    if (!L->weight) continue;
    if (l >= nl || strcmp(P->layer[l], L->name) != 0)
      return dc_fail(DC_ERR_FORMAT, "plan: the sensitivity tables' layer %d is '%s', the net's '%s' (%s)", l + 1,
                     l < nl ? P->layer[l] : "(none)", L->name, e->net);
    monotone_losses(P, l, pl + (size_t)l * nd);
    monotone_losses(Q, l, ql + (size_t)l * nb);
    DC_TRY(size_grid(e, c, L, S + (size_t)l * nd * nb));
    snprintf(p->layer[l].name, sizeof p->layer[l].name, "%s", L->name);
    p->layer[l].weights = L->weight->count;
    p->dense_bytes += 4 * (L->weight->count + (L->bias ? L->bias->count : 0));
    seen++;
  }
  if (seen != nl)
    return dc_fail(DC_ERR_FORMAT, "plan: the sensitivity tables have %d layers, %s has %d weighted ones", nl, e->net,
                   seen);
  if (out) {
    fprintf(out, "[plan] sized %d layers x %d densities x %d bit widths in %.1fs\n", nl, nd, nb, dc_now() - t0);
    fflush(out);
  }
  return DC_OK;
}

/* p's layers and summed losses from the grid indices a[], b[]. */
static void take_allocation(const model *m, const dc_plan_conf *c, const int *a, const int *b, dc_plan *p) {
  p->prune_loss = p->quant_loss = 0;
  for (int l = 0; l < m->nl; l++) {
    dc_plan_layer *L = &p->layer[l];
    L->density = c->density[a[l]];
    L->bits = c->bits[b[l]];
    L->bytes = size_at(m, l, a[l], b[l]);
    L->prune_loss = m->P[(size_t)l * m->nd + a[l]];
    L->quant_loss = m->Q[(size_t)l * m->nb + b[l]];
    p->prune_loss += L->prune_loss;
    p->quant_loss += L->quant_loss;
  }
}

/* The plan applied to net's weights at once and encoded to `dcz` (stats in *st); the
 * net's weights are restored afterwards. */
static dc_status encode_planned(const dc_experiment *e, dc_net *net, const dc_plan *p, const char *dcz,
                                dc_dcz_stats *st) {
  dc_param_snapshot *saved = calloc((size_t)net->nlayers, sizeof *saved);
  if (!saved) return dc_fail(DC_ERR_NOMEM, "out of memory");
  dc_status s = DC_OK;
  for (int i = 0; s == DC_OK && i < net->nlayers; i++)
    if (net->layers[i].weight) s = dc_param_snapshot_take(net->layers[i].weight, &saved[i]);
  if (s == DC_OK) s = dc_make_dirs(e->output);
  if (s == DC_OK) s = write_planned(e, net, p, dcz, st);
  for (int i = 0; i < net->nlayers; i++)
    if (net->layers[i].weight && saved[i].data) {
      dc_status s2 = dc_param_snapshot_restore(net->layers[i].weight, &saved[i]);
      if (s == DC_OK) s = s2;
      dc_param_snapshot_free(&saved[i]);
    }
  free(saved);
  return s;
}

/* Allocate for the budget less the reserve. The layers' room is the target less what the
 * rest of the file (header, model section) takes, which is measured on the planned file:
 * the allocation is redone when that was off (at most three passes). */
static dc_status fit(const dc_experiment *e, const dc_plan_conf *c, dc_net *net, const model *m, const char *dcz,
                     int *a, int *b, dc_plan *p) {
  /* the reserve: retraining changes the kept weights and their indices, and the
   * finished file has come out up to 4% larger than the plan applied at once */
  const uint64_t target = (uint64_t)floor((double)c->budget * (1 - c->reserve / 100));
  uint64_t fixed = 0;
  for (int pass = 0; pass < 3; pass++) {
    uint64_t room = target > fixed ? target - fixed : 0;
    uint64_t layers = allocate(m, room, a, b);
    if (layers > room) {
      char want[32], got[32];
      fmt_bytes(c->budget, want, sizeof want);
      fmt_bytes(layers + fixed, got, sizeof got);
      return dc_fail(DC_ERR_ARG,
                     "plan: %s: cannot fit %s bytes: the smallest plan found takes %s bytes (densities down to the "
                     "grid's %g%%, bits as low as --max-loss %g allows)",
                     e->path, want, got, c->density[m->nd - 1], c->max_loss);
    }
    take_allocation(m, c, a, b, p);
    dc_dcz_stats st = {0};
    DC_TRY(encode_planned(e, net, p, dcz, &st));
    uint64_t sum = 0;
    for (int l = 0; l < st.nlayers; l++) sum += st.layer[l].total_bytes;
    p->bytes = st.file_bytes;
    fixed = st.file_bytes - sum;
    dc_dcz_stats_free(&st);
    if (p->bytes <= target) return DC_OK;
  }
  return dc_fail(DC_ERR_ARG, "plan: the planned file takes %llu bytes, over the budget (a bug: please report)",
                 (unsigned long long)p->bytes);
}

static void print_plan(FILE *out, const dc_plan_conf *c, const dc_plan *p, const char *dcz) {
  char budget[32], bytes[32];
  fmt_bytes(c->budget, budget, sizeof budget);
  fmt_bytes(p->bytes, bytes, sizeof bytes);
  fprintf(out, "plan for %s bytes (%.1fx), dense top-1 %.2f%%; losses alone, no retraining, in points:\n", budget,
          (double)p->dense_bytes / (double)c->budget, 100 * p->dense_top1);
  fprintf(out, "%-10s %9s %8s %5s %8s %12s %15s\n", "layer", "weights", "kept", "bits", "bytes", "loss pruned",
          "loss quantized");
  for (int l = 0; l < p->nlayers; l++) {
    const dc_plan_layer *L = &p->layer[l];
    fprintf(out, "%-10s %9llu %7.4g%% %5d %8llu %12.2f %15.2f\n", L->name, (unsigned long long)L->weights, L->density,
            L->bits, (unsigned long long)L->bytes, L->prune_loss, L->quant_loss);
  }
  fprintf(out,
          "estimated model.dcz %s bytes (%.1fx; %s); all cut at once, before retraining: top-1 %.2f%%; %d "
          "pruning rounds\nwrote %s\n",
          bytes, p->ratio, dcz, 100 * p->oneshot_top1, p->rounds, c->out_cfg);
}

dc_status dc_cmd_plan(const dc_experiment *e, const dc_plan_conf *conf, FILE *out, dc_plan *res) {
  dc_plan_conf c;
  DC_TRY(check_conf(conf, &c));
  char wpath[600];
  DC_TRY(dc_pick_weights(e, c.weights, wpath, sizeof wpath));
  dc_sensitivity P, Q;
  dc_status s = sensitivities(e, &c, wpath, out, &P, &Q);
  if (s != DC_OK) return s;
  dc_plan local, *p = res ? res : &local;
  memset(p, 0, sizeof *p);
  const int nl = P.nlayers, nd = c.ndensities, nb = c.nbits;
  dc_net *net = NULL;
  double *pl = calloc((size_t)nl * nd, sizeof *pl), *ql = calloc((size_t)nl * nb, sizeof *ql);
  uint64_t *S = calloc((size_t)nl * nd * nb, sizeof *S);
  int *a = calloc((size_t)nl, sizeof *a), *b = calloc((size_t)nl, sizeof *b);
  p->layer = calloc((size_t)nl, sizeof *p->layer);
  if (!pl || !ql || !S || !a || !b || !p->layer) s = dc_fail(DC_ERR_NOMEM, "out of memory");
  p->nlayers = nl;
  p->budget = c.budget;
  p->dense_top1 = P.dense.top1;
  if (s == DC_OK) s = dc_net_load(e->net, 1, DC_NET_REUSE, NULL, &net);
  if (s == DC_OK) {
    dc_net_init_params(net, e->seed);
    s = dc_load_model(wpath, net);
  }
  if (s == DC_OK) s = size_layers(e, &c, net, &P, &Q, pl, ql, S, p, out);
  char dcz[600];
  snprintf(dcz, sizeof dcz, "%.580s/plan.dcz", e->output);
  model m = {nl, nd, nb, pl, ql, S, c.max_loss};
  if (s == DC_OK) s = fit(e, &c, net, &m, dcz, a, b, p);
  dc_net_free(net);
  if (s == DC_OK) {
    p->ratio = (double)p->dense_bytes / (double)p->bytes;
    int rounds = c.rounds;
    double min_d = 1;
    for (int l = 0; l < nl; l++) min_d = fmin(min_d, p->layer[l].density / 100);
    if (!rounds) rounds = min_d < 1 ? (int)ceil(log(min_d) / log(MIN_ROUND_KEEP) - 1e-9) : 1;
    p->rounds = rounds < 1 ? 1 : rounds;
    dc_test_result r;
    s = dc_cmd_eval(e, dcz, NULL, &r);
    p->oneshot_top1 = r.top1;
  }
  if (s == DC_OK) s = write_cfg(e, &c, p, wpath);
  if (s == DC_OK && out) print_plan(out, &c, p, dcz);
  free(pl);
  free(ql);
  free(S);
  free(a);
  free(b);
  dc_sensitivity_free(&P);
  dc_sensitivity_free(&Q);
  if (s != DC_OK || p == &local) dc_plan_free(p);
  return s;
}
