/* stages.c — what each stage of an experiment does to the net before its (re)training:
 * dense training, a pruning round, weight sharing, encoding; see stages.h. */
#include "stages.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dc/dist.h"
#include "dc/model.h"
#include "dc/prune.h"
#include "dc/rng.h"
#include "gradsync.h"
#include "util.h"

int dc_stages_build(const dc_experiment *e, dc_stage *st) {
  int n = 0;
  st[n++] = (dc_stage){DC_STAGE_TRAIN, 0, "train"};
  for (int r = 1; e->prune.enabled && r <= e->prune.rounds && n < DC_MAX_STAGES - 2; r++) {
    st[n] = (dc_stage){DC_STAGE_PRUNE, r, ""};
    snprintf(st[n].label, sizeof st[n].label, "prune%d", r);
    n++;
  }
  if (e->quantize.enabled) st[n++] = (dc_stage){DC_STAGE_QUANTIZE, 0, "quantize"};
  if (e->encode.enabled) st[n++] = (dc_stage){DC_STAGE_ENCODE, 0, "encode"};
  return n;
}

static const dc_layer_setting *setting_for(const dc_layer_setting *s, int n, const char *layer) {
  for (int i = 0; i < n; i++)
    if (strcmp(s[i].layer, layer) == 0) return &s[i];
  return NULL;
}

/* Prune round r of R: density targets approach the final ones geometrically
 * (d_r = d^(r/R)); quality thresholds ramp linearly (q_r = q·r/R) against the std of the
 * weights still kept. */
static dc_status apply_prune(const dc_experiment *e, dc_net *net, int r, FILE *out) {
  const dc_prune_conf *c = &e->prune;
  double t0 = dc_now();
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    if (!l->weight) continue;
    const dc_layer_setting *ls = setting_for(c->layer, c->nlayers, l->name);
    if (!ls) continue;
    double f = (double)r / c->rounds;
    if (c->mode == DC_PRUNE_DENSITY) /* the margin acts on SPLICED weights only */
      DC_TRY(dc_prune_splice(l->weight, pow(ls->value, f), c->splice ? c->splice_margin : 0.0));
    else
      DC_TRY(dc_prune_quality(l->weight, ls->value * f));
  }
  if (out) fprintf(out, "  pruned in %.2fs\n", dc_now() - t0);
  return DC_OK;
}

/* Pruning with splicing ([prune] splice = N): through the rounds the pruned layers'
 * weights are SPLICED (dc/param.h), and every N iterations each round chooses their masks
 * again from the shadow weights at its densities, so a weight pruned too early comes back
 * once its shadow outgrows a kept one. The last round chooses for the last time halfway
 * and retrains that mask fixed for its second half; its layers end MASKED. */
typedef struct {
  const dc_experiment *e;
  dc_net *net;
  int round;
  long last;        /* the last iteration of the round at which masks are chosen */
  uint8_t *before;  /* the masks before a choice, pruned layers one after another */
  long choices;     /* masks chosen in this process's part of the round */
  long back;        /* weights that came back in those choices (as many went out) */
} splicing;

static dc_status set_splicing(const dc_experiment *e, dc_net *net, int on) {
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    if (!l->weight || (on && !setting_for(e->prune.layer, e->prune.nlayers, l->name))) continue;
    if (on && dc_param_parts_of(l->weight).codebook)
      return dc_fail(DC_ERR_ARG, "%s: [prune] splice: layer %s holds quantized weights (a codebook); splicing prunes unquantized ones",
                     e->path, l->name);
    DC_TRY(dc_param_set_spliced(l->weight, on));
  }
  return DC_OK;
}

static dc_status splice_step(void *ctx, long done) {
  splicing *s = ctx;
  if (done > s->last || (done % s->e->prune.splice != 0 && done != s->last)) return DC_OK;
  size_t at = 0;
  for (int i = 0; i < s->net->nlayers; i++) {
    dc_param *w = s->net->layers[i].weight;
    if (w && w->kind == DC_PARAM_SPLICED) memcpy(s->before + at, w->mask, w->count), at += w->count;
  }
  DC_TRY(apply_prune(s->e, s->net, s->round, NULL));
  at = 0;
  for (int i = 0; i < s->net->nlayers; i++) {
    dc_param *w = s->net->layers[i].weight;
    if (!w || w->kind != DC_PARAM_SPLICED) continue;
    for (size_t j = 0; j < w->count; j++) s->back += w->mask[j] > s->before[at + j];
    at += w->count;
  }
  s->choices++;
  return DC_OK;
}

/* k-means per layer; the seconds each took are printed (the largest layer dominates). */
static dc_status apply_quantize(const dc_experiment *e, dc_net *net, FILE *out) {
  const dc_quantize_conf *c = &e->quantize;
  double total = dc_now();
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    if (!l->weight) continue;
    const dc_layer_setting *ls = setting_for(c->layer, c->nlayers, l->name);
    int bits = ls ? (int)ls->value : dc_layer_type_weights(l->type) == DC_WEIGHTS_CONV ? c->conv_bits : c->fc_bits;
    double t0 = dc_now();
    DC_TRY(dc_quantize(l->weight, bits, (dc_kmeans_init)c->init, e->seed ^ dc_hash_str(l->name)));
    if (out)
      fprintf(out, "  %-10s k-means, %d centroids over %zu weights: %.2fs\n", l->name, 1 << bits,
              dc_param_nonzero(l->weight), dc_now() - t0);
  }
  if (out) fprintf(out, "  quantized in %.2fs\n", dc_now() - total);
  return DC_OK;
}

/* Han et al. 2015: a pruned layer retrains with less dropout, D_r = D_o·sqrt(C_r/C_o),
 * C being the connections of the weighted layer whose input the dropout thins (the next
 * weighted layer). Recomputed from the masks, so a resumed run gets the same ratios. */
static void adjust_dropout(dc_net *net, const float *original, FILE *out) {
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    if (l->type != DC_LAYER_DROPOUT) continue;
    float ratio = original[i];
    for (int j = i + 1; j < net->nlayers; j++)
      if (net->layers[j].weight) {
        dc_param *w = net->layers[j].weight;
        ratio = (float)(original[i] * sqrt((double)dc_param_nonzero(w) / (double)w->count));
        break;
      }
    if (ratio != dc_dropout_ratio(l)) {
      dc_dropout_set_ratio(l, ratio);
      if (out) fprintf(out, "  %s: dropout ratio %.3f (was %.3f)\n", l->name, ratio, original[i]);
    }
  }
}

/* Freeze conv or fc layers for a retraining stage: lr_mult 0 (restored after). */
static void set_frozen(dc_net *net, dc_freeze which, float *saved, int restore) {
  int k = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    dc_param *ps[2] = {l->weight, l->bias};
    dc_weight_family family = dc_layer_type_weights(l->type);
    int frozen =
        (which == DC_FREEZE_CONV && family == DC_WEIGHTS_CONV) || (which == DC_FREEZE_FC && family == DC_WEIGHTS_FC);
    for (int j = 0; j < 2; j++) {
      if (!ps[j]) continue;
      if (restore)
        ps[j]->lr_mult = saved[k];
      else {
        saved[k] = ps[j]->lr_mult;
        if (frozen) ps[j]->lr_mult = 0.0f;
      }
      k++;
    }
  }
}

static void print_densities(dc_net *net, FILE *out) {
  if (!out) return;
  for (int i = 0; i < net->nlayers; i++) {
    dc_param *w = net->layers[i].weight;
    if (!w) continue;
    fprintf(out, "  %-10s %9zu weights, %6.2f%% kept", net->layers[i].name, w->count,
            100.0 * (double)dc_param_nonzero(w) / (double)w->count);
    int bits = dc_param_parts_of(w).bits; /* 0: no codebook */
    if (bits) fprintf(out, ", %d-bit codebook", bits);
    fprintf(out, "\n");
  }
}

/* The bias precision of the file: bias_bits 8, 16 or 32 as asked, or for 0 (auto) the
 * fewest of 8, 16 bits whose rounded biases leave the test result (top-1 and top-5,
 * sample for sample counts) what the fp32 biases give, else 32. On return the net holds
 * the biases the file will hold, and *with is their test result. */
static dc_status choose_biases(dc_trainer *t, int bias_bits, const dc_test_result *fp32, int *chosen,
                               dc_test_result *with) {
  dc_net *net = t->train_net;
  *with = *fp32;
  *chosen = 32;
  if (bias_bits == 32) return DC_OK;
  float *saved = malloc(sizeof(float) * (dc_model_bias_count(net) + 1));
  if (!saved) return dc_fail(DC_ERR_NOMEM, "out of memory");
  static const int tries[] = {8, 16};
  dc_status s = DC_OK;
  for (int i = 0; i < 2 && s == DC_OK; i++) {
    int b = tries[i];
    if (bias_bits && b != bias_bits) continue;
    s = dc_model_round_biases(net, b, saved);
    if (s != DC_OK && !bias_bits) { /* not representable (fp16 range): try the next */
      dc_failure_clear();
      s = DC_OK;
      continue;
    }
    if (s == DC_OK) s = dc_test(t, with);
    if (s != DC_OK) break;
    if (bias_bits || (with->top1 == fp32->top1 && with->top5 == fp32->top5)) {
      *chosen = b;
      break;
    }
    dc_model_restore_biases(net, saved);
    *with = *fp32;
  }
  free(saved);
  return s;
}

/* The codebook precision of the file, chosen after the biases (so it is measured with
 * the biases the file holds): codebook_bits 16 or 32 as asked, or for 0 (auto) 16 when
 * the net with fp16 centroids (in the layers whose centroids all fit fp16) scores
 * exactly *ref (top-1 and top-5 counts), else 32. On return the net holds the
 * centroids the file will hold, *with is their test result and *layers the number of
 * layers rounded to fp16. */
static dc_status choose_codebooks(dc_trainer *t, int codebook_bits, const dc_test_result *ref, int *chosen, int *layers,
                                  dc_test_result *with) {
  dc_net *net = t->train_net;
  *with = *ref;
  *chosen = 32;
  *layers = 0;
  if (codebook_bits == 32) return DC_OK;
  float *saved = malloc(sizeof(float) * (dc_model_codebook_count(net) + 1));
  if (!saved) return dc_fail(DC_ERR_NOMEM, "out of memory");
  int n = dc_model_round_codebooks(net, 16, saved);
  dc_status s = n ? dc_test(t, with) : DC_OK;
  if (s == DC_OK && n && (codebook_bits == 16 || (with->top1 == ref->top1 && with->top5 == ref->top5))) {
    *chosen = 16;
    *layers = n;
  } else {
    dc_model_restore_codebooks(net, saved);
    *with = *ref;
  }
  free(saved);
  return s;
}

dc_status dc_stage_encode(const dc_experiment *e, dc_trainer *t, const char *path, dc_dcz_stats *stats) {
  dc_params *ps = t->train_net->params;
  dc_test_result fp32, biased, before, after;
  int bias_bits, codebook_bits, cb_layers;
  DC_TRY(dc_test(t, &fp32));
  DC_TRY(choose_biases(t, e->encode.bias_bits, &fp32, &bias_bits, &biased));
  DC_TRY(choose_codebooks(t, e->encode.codebook_bits, &biased, &codebook_bits, &cb_layers, &before));
  double t_enc = 0, t_dec = 0;
  if (dc_dist_rank() == 0) { /* the writer; the other ranks hold the same weights */
    double t0 = dc_now();
    dc_dcz_model info; /* the net text and preprocessing travel with the weights */
    dc_status s = dc_model_describe(e, t->test_set, &info);
    int gc = e->encode.conv_gap_bits, gf = e->encode.fc_gap_bits;
    if (s == DC_ERR_FORMAT) { /* preprocessing the format cannot carry: weights only */
      if (t->out) fprintf(t->out, "[encode] note: %s; model.dcz holds the weights only\n", dc_failure_reason());
      dc_failure_clear();
      s = dc_model_encode_with(t->train_net, gc, gf, bias_bits, codebook_bits, NULL, path, NULL);
    } else if (s == DC_OK) {
      s = dc_model_encode_with(t->train_net, gc, gf, bias_bits, codebook_bits, &info, path, NULL);
      dc_dcz_model_free(&info);
    }
    DC_TRY(s);
    t_enc = dc_now() - t0;
    t0 = dc_now();
    DC_TRY(dc_model_decode_verify(path, t->train_net, stats));
    t_dec = dc_now() - t0;
  }
  DC_TRY(dc_params_bcast(ps)); /* the others take the decoded net as rank 0 holds it */
  DC_TRY(dc_test(t, &after));
  if (before.top1 != after.top1 || before.top5 != after.top5)
    return dc_fail(DC_ERR_FORMAT, "%s: decoded accuracy %.4f differs from %.4f (a bug: please report)", path,
                   after.top1, before.top1);
  t->last = after;
  if (t->out) {
    if (bias_bits != 32)
      fprintf(t->out, "[encode] biases in %d bits: test top-1 %.2f%% (fp32 biases: %.2f%%)\n", bias_bits,
              100 * biased.top1, 100 * fp32.top1);
    else if (e->encode.bias_bits == 0)
      fprintf(t->out, "[encode] biases in fp32: 8 and 16 bits changed the test result\n");
    if (codebook_bits == 16)
      fprintf(t->out, "[encode] codebooks in fp16 (%d layers): test top-1 %.2f%% (fp32 centroids: %.2f%%)\n", cb_layers,
              100 * before.top1, 100 * biased.top1);
    else if (e->encode.codebook_bits != 32)
      fprintf(t->out, "[encode] codebooks in fp32: %s\n",
              e->encode.codebook_bits == 0 ? "fp16 centroids changed the test result (or fit no layer)"
                                           : "no layer's centroids fit fp16");
    fprintf(
        t->out,
        "[encode] %s: %llu bytes, %.1fx smaller than fp32 (%llu bytes); decoded test top-1 %.2f%% "
        "(identical to the net with the file's biases and centroids); encoded in %.2fs, decoded and checked in %.2fs\n",
        path, (unsigned long long)stats->file_bytes, stats->ratio, (unsigned long long)stats->dense_bytes,
        100 * after.top1, t_enc, t_dec);
  }
  return DC_OK;
}

/* Encode, then prove it lossless: decode into the net, requiring every weight (and
 * bias, as the file stores it) to come back bit for bit (checked against the net as it
 * is, layer by layer: no copy of the 138M weights of VGG-16), then the same test
 * accuracy, sample for sample. */
static dc_status run_encode(const dc_experiment *e, dc_trainer *t, dc_dcz_stats *stats) {
  char path[600];
  snprintf(path, sizeof path, "%.580s/model.dcz", e->output);
  return dc_stage_encode(e, t, path, stats);
}

dc_status dc_stage_run(const dc_experiment *e, dc_trainer *t, const dc_stage *sg, const float *dropout0,
                       dc_dcz_stats *stats) {
  dc_net *net = t->train_net;
  int fresh = t->state.stage_iter == 0;
  dc_solver_conf retrain = e->solver;
  long iters = e->solver.max_iter;
  dc_freeze freeze = DC_FREEZE_NONE;
  switch (sg->kind) {
    case DC_STAGE_TRAIN:
      break;
    case DC_STAGE_PRUNE:
      if (fresh) {
        if (e->prune.splice) DC_TRY(set_splicing(e, net, 1));
        DC_TRY(apply_prune(e, net, sg->round, t->out));
        dc_solver_reset(net->params);
        DC_TRY(dc_params_bcast(net->params)); /* every rank pruned alike: make it bit-exact */
      }
      retrain.base_lr = e->prune.lr;
      if (e->prune.policy >= 0) retrain.policy = (dc_lr_policy)e->prune.policy;
      retrain.max_iter = iters = sg->round == e->prune.rounds ? e->prune.final_retrain_iters : e->prune.retrain_iters;
      freeze = e->prune.freeze;
      break;
    case DC_STAGE_QUANTIZE:
      if (fresh) {
        DC_TRY(apply_quantize(e, net, t->out));
        dc_solver_reset(net->params);
        DC_TRY(dc_params_bcast(net->params)); /* every rank clustered alike: make it bit-exact */
      }
      retrain.base_lr = e->quantize.lr;
      if (e->quantize.policy >= 0) retrain.policy = (dc_lr_policy)e->quantize.policy;
      retrain.max_iter = iters = e->quantize.retrain_iters;
      break;
    case DC_STAGE_ENCODE:
      return run_encode(e, t, stats);
  }
  if (sg->kind != DC_STAGE_TRAIN) {
    if (e->prune.enabled && e->prune.adjust_dropout) adjust_dropout(net, dropout0, t->out);
    if (t->out && fresh) print_densities(net, t->out);
    if (t->out) fflush(t->out);
  }
  float saved[2 * DC_MAX_LAYER_SETTINGS + 64];
  DC_ASSERT(net->params->count <= (int)(sizeof saved / sizeof saved[0]));
  int last_round = sg->kind == DC_STAGE_PRUNE && sg->round == e->prune.rounds;
  splicing sp = {e, net, sg->round, last_round ? iters / 2 : iters, NULL, 0, 0};
  if (sg->kind == DC_STAGE_PRUNE && e->prune.splice) {
    size_t n = 0;
    for (int i = 0; i < net->nlayers; i++)
      if (net->layers[i].weight) n += net->layers[i].weight->count;
    if (!(sp.before = malloc(n ? n : 1))) return dc_fail(DC_ERR_NOMEM, "out of memory for the masks of %s", sg->label);
    t->after_step = splice_step;
    t->after_step_ctx = &sp;
  }
  set_frozen(net, freeze, saved, 0);
  dc_status s = dc_train(t, &retrain, iters, sg->label);
  set_frozen(net, freeze, saved, 1);
  t->after_step = NULL;
  t->after_step_ctx = NULL;
  free(sp.before);
  if (sp.choices && t->out) {
    fprintf(t->out, "[%s] splicing: masks chosen %ld times%s; %ld weights came back (as many went out)\n",
            sg->label, sp.choices, last_round ? " (then fixed for the second half)" : "", sp.back);
    fflush(t->out);
  }
  if (s == DC_OK && !t->stopped && last_round) s = set_splicing(e, net, 0);
  return s;
}
