/* bench.c — throughput and per-layer profile of a net; see dc/bench.h. */
#include "dc/bench.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "dc/dist.h"
#include "dc/net.h"
#include "dc/rng.h"
#include "dc/solver.h"
#include "gradsync.h"
#include "util.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  dc_net *net;
  dc_solver_conf conf;
  int *labels;
  dc_rng rng;
  int train;
  int global_batch;  /* the batch all ranks together process per step */
  dc_gradsync *gs;   /* per-kind reduction and, across ranks, the gradient sums */
  double waited;     /* seconds spent waiting for gradient sums since last reset */
} bench_ctx;

static dc_status step(bench_ctx *b, int64_t iter) {
  dc_net *net = b->net;
  for (int i = 0; i < net->batch; i++) b->labels[i] = (int)dc_rng_below(&b->rng, (uint32_t)net->classes);
  dc_pass pass = {.train = b->train, .labels = b->labels, .seed = 1, .iter = iter, .norm = b->global_batch};
  DC_TRY(dc_net_forward(net, &pass, NULL));
  if (!b->train) return DC_OK;
  dc_gradsync_hook(b->gs, &pass);
  DC_TRY(dc_net_backward(net, &pass));
  DC_TRY(dc_gradsync_finish(b->gs));
  b->waited += dc_gradsync_waited(b->gs);
  dc_solver_update(&b->conf, net->params, 0.001);
  return DC_OK;
}

/* Median images/s over 5 repeats of about `seconds` / 5 each, and the share of the time
 * spent waiting for gradient sums in that repeat. Ranks run the same number of steps
 * (rank 0 decides): training steps meet in collectives. Inference images/s are summed
 * over the ranks, each running its share independently. */
static dc_status measure(bench_ctx *b, double seconds, double *ips, double *wait_share) {
  int64_t it = 0, go = 1;
  double t0 = dc_now();
  while (go) { /* warm-up */
    DC_TRY(step(b, it++));
    go = dc_now() - t0 < 0.3 || it < 3;
    DC_TRY(dc_dist_bcast(&go, sizeof go));
  }
  double per = (dc_now() - t0) / (double)it;
  int64_t n = (int64_t)(seconds / 5 / per) + 1;
  DC_TRY(dc_dist_bcast(&n, sizeof n));
  double r[5][2];
  for (int k = 0; k < 5; k++) {
    double s = dc_now();
    b->waited = 0.0;
    for (int64_t i = 0; i < n; i++) DC_TRY(step(b, it++));
    double took = dc_now() - s;
    r[k][0] = (double)n * (b->train ? b->global_batch : b->net->batch) / took;
    r[k][1] = b->waited / took;
    if (!b->train) DC_TRY(dc_dist_sum_f64(&r[k][0], 1));
  }
  qsort(r, 5, sizeof r[0], cmp_double);
  *ips = r[2][0];
  if (wait_share) *wait_share = r[2][1];
  return DC_OK;
}

static const char *basename_of(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

dc_status dc_bench(const char *net_path, int batch, int threads, double seconds, int overlap, FILE *out) {
  dc_set_threads(threads);
  dc_net *train = NULL, *infer = NULL;
  bench_ctx b = {0};
  int rank = dc_dist_rank(), size = dc_dist_size();
  if (batch < size)
    return dc_fail(DC_ERR_ARG, "--batch %d is smaller than the %d ranks: each rank needs a sample", batch, size);
  if (rank != 0) out = NULL;
  b.global_batch = batch;
  /* this rank's share of the batch, as in training */
  int local = (int)((int64_t)batch * (rank + 1) / size - (int64_t)batch * rank / size);
  dc_status s = dc_net_load(net_path, local, DC_NET_TRAIN, NULL, &train);
  if (s == DC_OK) s = dc_net_load(net_path, local, DC_NET_REUSE, train->params, &infer);
  if (s == DC_OK) s = dc_gradsync_create(train->params, overlap, &b.gs);
  if (s != DC_OK) goto done;
  dc_net_init_params(train, 1);
  b.labels = calloc((size_t)local, sizeof(int));
  double *profile = calloc((size_t)train->nlayers * 2, sizeof(double));
  if (!b.labels || !profile) {
    free(profile);
    s = dc_fail(DC_ERR_NOMEM, "out of memory");
    goto done;
  }
  dc_rng_seed(&b.rng, 1, 2);
  for (size_t i = 0; i < dc_shape_count(train->input); i++) train->input_data[i] = dc_rng_uniform(&b.rng);
  memcpy(infer->input_data, train->input_data, sizeof(float) * dc_shape_count(train->input));
  b.conf = (dc_solver_conf){.base_lr = 0.001, .momentum = 0.9, .weight_decay = 5e-4, .policy = DC_LR_FIXED};
  char name[128];
  snprintf(name, sizeof name, "%s", basename_of(net_path));
  char *dot = strrchr(name, '.');
  if (dot) *dot = '\0';
  double train_ips, infer_ips, wait_share;
  b.net = train;
  b.train = 1;
  if ((s = measure(&b, seconds, &train_ips, &wait_share)) != DC_OK) goto done_p;
  b.net = infer;
  b.train = 0;
  if ((s = measure(&b, seconds, &infer_ips, NULL)) != DC_OK) goto done_p;
  /* profile: where a training step's time goes */
  b.net = train;
  b.train = 1;
  train->profile = profile;
  int64_t n = (int64_t)(seconds / 5 * train_ips / batch) + 1;
  if ((s = dc_dist_bcast(&n, sizeof n)) != DC_OK) goto done_p;
  double t0 = dc_now();
  for (int64_t i = 0; i < n && s == DC_OK; i++) s = step(&b, i);
  double total = dc_now() - t0;
  train->profile = NULL;
  if (s != DC_OK) goto done_p;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  if (!out) goto done_p;
  fprintf(out, "%s: batch %d, %d threads: train %.0f images/s, inference %.0f images/s, peak RSS %.1f MiB\n", name,
          batch, threads, train_ips, infer_ips, (double)ru.ru_maxrss / 1024.0);
  if (size > 1) {
    fprintf(out, "  data-parallel: %d ranks x %d threads, %d images per rank; %.1f%% of a step waiting for the "
                 "gradient allreduce (%s), %.2f MB summed per step\n",
            size, threads, local, 100 * wait_share, overlap ? "overlapped with backward" : "after backward",
            4e-6 * (double)dc_gradsync_floats(b.gs));
    fprintf(out, "dctrain %s allreduce_wait_share %.4f\n", name, wait_share);
  }
  fprintf(out, "  per training step (%.3f ms):\n  %-14s %-12s %10s %10s %7s  %s\n", 1e3 * total / n, "layer", "kind",
          "fwd ms", "bwd ms", "share", "implementation");
  double layers = 0;
  for (int i = 0; i < train->nlayers; i++) {
    double f = profile[i] / n, bw = profile[train->nlayers + i] / n;
    layers += f + bw;
    char impl[96];
    dc_layer_describe(&train->layers[i], impl, sizeof impl);
    fprintf(out, "  %-14s %-12s %10.3f %10.3f %6.1f%%  %s\n", train->layers[i].name,
            dc_layer_type_name(train->layers[i].type), 1e3 * f, 1e3 * bw, 100 * (f + bw) / (total / n), impl);
  }
  fprintf(out, "  %-14s %-12s %21.3f %6.1f%%\n", "(other)", "data/solver", 1e3 * (total / n - layers),
          100 * (total / n - layers) / (total / n));
  fprintf(out, "dctrain %s train %.1f\ndctrain %s infer %.1f\ndctrain peak_rss_mib %.1f\n", name, train_ips, name,
          infer_ips, (double)ru.ru_maxrss / 1024.0);
done_p:
  free(profile);
done:
  dc_gradsync_free(b.gs);
  free(b.labels);
  dc_net_free(infer);
  dc_net_free(train);
  return s;
}
