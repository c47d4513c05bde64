/* train.c — the training loop and test pass; see dc/train.h. */
#include "dc/train.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "dc/dist.h"
#include "gradsync.h"
#include "util.h"

static volatile sig_atomic_t g_stop;

void dc_request_stop(void) { g_stop = 1; }
int dc_stop_requested(void) { return g_stop != 0; }

void dc_format_duration(double s, char *buf, size_t cap) {
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
  else snprintf(buf, cap, "%lds", t);
}

dc_status dc_test(dc_trainer *t, dc_test_result *r) {
  dc_net *net = t->test_net;
  int n = dc_dataset_count(t->test_set);
  long batches = (n + t->test_batch - 1) / t->test_batch;
  if (t->test_iters > 0 && t->test_iters < batches) batches = t->test_iters;
  int classes = net->classes;
  long top1 = 0, top5 = 0, seen = 0;
  double loss_sum = 0.0;
  dc_pass pass = {.train = 0, .labels = t->labels, .seed = t->seed, .iter = 0};
  for (long b = dc_dist_rank(); b < batches; b += dc_dist_size()) {
    int first = (int)(b * t->test_batch);
    int m = n - first < t->test_batch ? n - first : t->test_batch;
    DC_TRY(dc_dataset_batch(t->test_set, t->seed, 0, first, m, net->input_data, t->labels));
    /* pad a short tail with copies of its first sample; only m samples are counted */
    size_t sample = dc_shape_sample(net->input);
    for (int i = m; i < t->test_batch; i++) {
      memcpy(net->input_data + (size_t)i * sample, net->input_data, sizeof(float) * sample);
      t->labels[i] = t->labels[0];
    }
    double loss;
    pass.count = pass.norm = m; /* the mean loss of the m counted samples, loss_weight included */
    DC_TRY(dc_net_forward(net, &pass, &loss));
    const float *probs = dc_net_output(net);
    top1 += dc_topk_correct(probs, t->labels, m, classes, 1);
    top5 += dc_topk_correct(probs, t->labels, m, classes, classes < 5 ? classes : 5);
    loss_sum += loss * m;
    seen += m;
  }
  int64_t counts[3] = {top1, top5, seen};
  DC_TRY(dc_dist_sum_i64(counts, 3));
  DC_TRY(dc_dist_sum_f64(&loss_sum, 1));
  top1 = (long)counts[0], top5 = (long)counts[1], seen = (long)counts[2];
  r->samples = (int)seen;
  r->top1 = seen ? (double)top1 / (double)seen : 0.0;
  r->top5 = seen ? (double)top5 / (double)seen : 0.0;
  r->loss = seen ? loss_sum / (double)seen : 0.0;
  return DC_OK;
}

dc_status dc_trainer_snapshot(dc_trainer *t) {
  t->have_ckpt = 1;
  if (dc_dist_rank() != 0) return DC_OK;
  return dc_ckpt_save(t->ckpt_path, t->train_net->params, &t->state);
}

static dc_status test_and_report(dc_trainer *t, const char *label) {
  dc_test_result r;
  DC_TRY(dc_test(t, &r));
  t->last = r;
  if (t->out)
    fprintf(t->out, "[%s] iter %6ld  test top-1 %6.2f%%  top-5 %6.2f%%  loss %.4f  (%d images)\n", label,
            (long)t->state.stage_iter, 100.0 * r.top1, 100.0 * r.top5, r.loss, r.samples);
  if (t->log)
    fprintf(t->log, "%s,%ld,%ld,test,%.6f,,%.6f,%.6f,,,\n", label, (long)t->state.stage_iter, (long)t->state.iter,
            r.loss, r.top1, r.top5);
  if (t->out) fflush(t->out);
  if (t->log) fflush(t->log);
  return DC_OK;
}

/* Prefetch depth of the training loader, in batches. */
#define DC_PREFETCH_DEPTH 2

/* The training samples at stream positions first.., n of them, through t->loader: kept
 * while each request continues the stream it serves (stride apart), else reopened. */
static dc_status next_batch(dc_trainer *t, int64_t first, int n, int64_t stride, float *x, int *y) {
  if (t->loader && !dc_loader_at(t->loader, first, n, stride)) {
    dc_loader_stats s;
    dc_loader_get_stats(t->loader, &s);
    t->load_done.images += s.images;
    t->load_done.busy += s.busy;
    t->load_done.waited += s.waited;
    t->load_done.batches += s.batches;
    dc_loader_close(t->loader);
    t->loader = NULL;
  }
  if (!t->loader)
    DC_TRY(dc_loader_open(t->train_set, t->seed, t->shuffle, first, n, stride, DC_PREFETCH_DEPTH, &t->loader));
  return dc_loader_next(t->loader, x, y);
}

/* Loader counters since the trainer opened, with the bad samples skipped (train and test). */
typedef struct {
  dc_loader_stats l;
  long skipped;
} data_stats;

static void get_data_stats(dc_trainer *t, data_stats *d) {
  d->l = t->load_done;
  if (t->loader) {
    dc_loader_stats s;
    dc_loader_get_stats(t->loader, &s);
    d->l.images += s.images;
    d->l.busy += s.busy;
    d->l.waited += s.waited;
    d->l.threads = s.threads;
  }
  d->skipped = dc_dataset_skipped(t->train_set) + (t->test_set ? dc_dataset_skipped(t->test_set) : 0);
}

/* ---- numerical faults: checked cheaply every step, located only once one occurs ---- */

/* 1 when every x[0..n) is finite: x*0 is 0 for finite x and NaN for NaN and ±Inf. */
static int all_finite(const float *x, size_t n) {
  float acc = 0.0f;
#pragma omp parallel for simd reduction(+ : acc) schedule(static) if (n >= 65536)
  for (size_t j = 0; j < n; j++) acc += x[j] * 0.0f;
  return acc == 0.0f;
}

static const char *nonfinite_name(const float *x, size_t n) {
  for (size_t j = 0; j < n; j++)
    if (isnan(x[j])) return "NaN";
  return "Inf";
}

/* Where a non-finite loss came from, into buf: the input batch, or the first layer (in
 * forward order) whose output holds NaN or Inf, and whether its parameters already do.
 * Reads the activations the failed forward left (the slow path: only after a fault). */
static void locate_nonfinite(dc_net *net, char *buf, size_t cap) {
  size_t n = dc_shape_count(net->input);
  if (!all_finite(net->input_data, n)) {
    snprintf(buf, cap, "the input batch holds %s", nonfinite_name(net->input_data, n));
    return;
  }
  size_t most = 0;
  for (int i = 0; i < net->nlayers; i++)
    if (dc_shape_count(net->layers[i].out) > most) most = dc_shape_count(net->layers[i].out);
  float *out = malloc(sizeof(float) * (most ? most : 1));
  snprintf(buf, cap, "no layer output holds NaN or Inf");
  for (int i = 0; out && i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    size_t m = dc_shape_count(l->out);
    if (dc_net_read_output(net, i, out) != DC_OK || all_finite(out, m)) continue;
    const char *why = "";
    if (l->weight && !all_finite(l->weight->data, l->weight->count)) why = ", whose weights already hold NaN or Inf";
    else if (l->bias && !all_finite(l->bias->data, l->bias->count)) why = ", whose bias already holds NaN or Inf";
    snprintf(buf, cap, "the first layer with %s in its output is '%s' (%s:%d)%s", nonfinite_name(out, m), l->name,
             net->path, l->line, why);
    break;
  }
  free(out);
  dc_failure_clear(); /* a failed read_output above must not become the run's reason */
}

static dc_status diverged(const dc_trainer *t, const char *label, long it, const char *what) {
  return dc_fail(DC_ERR_NUMERIC, "[%s] iteration %ld: %s; training diverged (try a lower base_lr); %s%s%s", label,
                 it + 1, what, t->have_ckpt ? "the last checkpoint " : "no checkpoint was written yet",
                 t->have_ckpt ? t->ckpt_path : "", t->have_ckpt ? " is intact" : "");
}

/* One step: this rank's share of the global batch, forward, backward with the gradient
 * sums started layer by layer, the per-step agreement (global loss, stop requests), the
 * update. *loss gets the global batch's mean loss, *stop whether any rank asked to stop. */
static dc_status step(dc_trainer *t, dc_gradsync *gs, const dc_solver_conf *conf, long it, const char *label,
                      double *loss, int *stop) {
  dc_net *net = t->train_net;
  /* one stream position per sample: a resumed run, or another rank count, sees the same
   * samples in the same global batches */
  int64_t first = t->state.iter * (int64_t)t->batch + t->shard_first;
  DC_TRY(next_batch(t, first, net->batch, t->batch, net->input_data, t->labels));
  dc_pass pass = {.train = 1, .labels = t->labels, .seed = t->seed, .iter = t->state.iter, .first = first,
                  .norm = t->batch};
  dc_gradsync_hook(gs, &pass);
  DC_TRY(dc_net_forward(net, &pass, loss));
  if (!isfinite(*loss)) {
    char where[800], what[900];
    locate_nonfinite(net, where, sizeof where);
    snprintf(what, sizeof what, "loss is %s: %s", isnan(*loss) ? "NaN" : "Inf", where);
    return diverged(t, label, it, what);
  }
  DC_TRY(dc_net_backward(net, &pass));
  DC_TRY(dc_gradsync_finish(gs));

  double agree[2] = {*loss, dc_stop_requested() ? 1.0 : 0.0};
  DC_TRY(dc_dist_sum_f64(agree, 2));
  *loss = agree[0];
  *stop = agree[1] > 0.0;
  int bad = dc_solver_update(conf, net->params, dc_solver_lr(conf, it));
  if (bad >= 0) { /* the run stops here: the updated weights are never saved */
    char what[200];
    dc_param_view v = dc_param_view_of(&net->params->p[bad]);
    snprintf(what, sizeof what, "the gradient of %s holds %s (the loss was %g)", net->params->p[bad].name,
             nonfinite_name(v.grad, v.n), *loss);
    return diverged(t, label, it, what);
  }
  return DC_OK;
}

dc_status dc_train(dc_trainer *t, const dc_solver_conf *conf, long iters, const char *label) {
  dc_gradsync *gs;
  DC_TRY(dc_gradsync_create(t->train_net->params, t->overlap, &gs));
  double waited = 0.0;
  t->comm_wait = 0.0;
  double t0 = dc_now(), t_disp = t0;
  long start = (long)t->state.stage_iter, disp_from = start;
  double loss_acc = 0.0;
  int nloss = 0;
  dc_status st = DC_OK;
  data_stats ds0, ds_disp, ds;
  get_data_stats(t, &ds0);
  ds_disp = ds0;
  int decodes = dc_dataset_decodes(t->train_set);
  for (long it = start; it < iters; it++) {
    double loss;
    int stop = 0;
    if ((st = step(t, gs, conf, it, label, &loss, &stop)) != DC_OK) break;
    double lr = dc_solver_lr(conf, it);
    t->state.iter++;
    t->state.stage_iter = it + 1;
    if (t->after_step && (st = t->after_step(t->after_step_ctx, it + 1)) != DC_OK) break;
    waited += dc_gradsync_waited(gs);
    t->comm_wait += dc_gradsync_waited(gs);
    loss_acc += loss;
    nloss++;
    long done = it + 1;
    if (t->display > 0 && (done % t->display == 0 || done == iters)) {
      double now = dc_now();
      double ips = (double)(done - disp_from) * t->batch / (now - t_disp);
      double eta = (double)(iters - done) * t->batch / (ips > 0 ? ips : 1);
      char eta_s[32], comm[48] = "";
      dc_format_duration(eta, eta_s, sizeof eta_s);
      /* decode (or load, for in-memory sets) rate per busy worker thread, and the time
       * steps waited for data */
      get_data_stats(t, &ds);
      double busy = ds.l.busy - ds_disp.l.busy, data_wait = ds.l.waited - ds_disp.l.waited;
      double dps = busy > 0 ? (double)(ds.l.images - ds_disp.l.images) / busy : 0.0;
      ds_disp = ds;
      if (dc_dist_size() > 1)
        snprintf(comm, sizeof comm, "  %d ranks, %.0f%% in allreduce", dc_dist_size(), 100.0 * waited / (now - t_disp));
      if (t->out)
        fprintf(t->out, "[%s] iter %6ld/%ld  loss %.4f  lr %.6g  %.0f img/s  %s %.0f img/s/thread  waited %.2fs  ETA %s%s\n",
                label, done, iters, loss_acc / nloss, lr, ips, decodes ? "decode" : "load", dps, data_wait, eta_s, comm);
      if (t->log)
        fprintf(t->log, "%s,%ld,%ld,train,%.6f,%.8g,,,%.1f,%.1f,%.3f\n", label, done, (long)t->state.iter,
                loss_acc / nloss, lr, ips, dps, data_wait);
      if (t->out) fflush(t->out);
      t_disp = now;
      disp_from = done;
      loss_acc = 0.0;
      nloss = 0;
      waited = 0.0;
    }
    int tested = t->test_interval > 0 && done % t->test_interval == 0 && done != iters;
    int saved = t->snapshot > 0 && done % t->snapshot == 0 && done != iters;
    if (tested && (st = test_and_report(t, label)) != DC_OK) break;
    if (saved && (st = dc_trainer_snapshot(t)) != DC_OK) break;
    if (tested || saved) {
      /* images/s and ETA measure training only */
      t_disp = dc_now();
      disp_from = done;
      waited = 0.0;
    }
    /* stop after this iteration's tests, like an uninterrupted run at this point */
    int after = t->stop_after > 0 && t->state.iter >= t->stop_after;
    if (after || stop) {
      if ((st = dc_trainer_snapshot(t)) != DC_OK) break;
      t->stopped = stop ? DC_STOPPED_SIGNAL : DC_STOPPED_AFTER;
      if (t->out)
        fprintf(t->out, "[%s] stopped at iteration %ld %s; the checkpoint %s is written: continue with --resume %s\n",
                label, (long)t->state.iter, stop ? "by a signal" : "as asked", t->ckpt_path,
                stop ? "auto" : t->ckpt_path);
      if (t->out) fflush(t->out);
      break;
    }
  }
  t->comm_floats = dc_gradsync_floats(gs);
  dc_gradsync_free(gs);
  if (st != DC_OK || t->stopped) return st;
  DC_TRY(test_and_report(t, label));
  if (t->out) {
    char took[32];
    dc_format_duration(dc_now() - t0, took, sizeof took);
    get_data_stats(t, &ds);
    long long imgs = ds.l.images - ds0.l.images;
    double busy = ds.l.busy - ds0.l.busy;
    long bad = ds.skipped - ds0.skipped;
    fprintf(t->out, "[%s] done: %ld iterations in %s", label, iters - start, took);
    if (imgs > 0 || bad > 0)
      fprintf(t->out, "; data: %lld images %s at %.0f img/s per thread (%d thread%s), steps waited %.2fs, %ld bad image%s skipped",
              imgs, decodes ? "decoded" : "loaded", busy > 0 ? (double)imgs / busy : 0.0, ds.l.threads, ds.l.threads == 1 ? "" : "s",
              ds.l.waited - ds0.l.waited, bad, bad == 1 ? "" : "s");
    if (dc_dist_size() > 1)
      fprintf(t->out, "; %.2f MB of gradients summed per step, %.0f%% of the time waiting for it",
              4e-6 * (double)t->comm_floats, 100.0 * t->comm_wait / (dc_now() - t0));
    fprintf(t->out, "\n");
    fflush(t->out);
  }
  return DC_OK;
}
