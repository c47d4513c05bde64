/* bench.c — throughput and per-layer profile of a net; see dc/bench.h. */
#include "dc/bench.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "backend/dnn.h"
#include "dc/net.h"
#include "dc/rng.h"
#include "dc/solver.h"
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
} bench_ctx;

static dc_status step(bench_ctx *b, int64_t iter) {
  dc_net *net = b->net;
  for (int i = 0; i < net->batch; i++) b->labels[i] = (int)dc_rng_below(&b->rng, (uint32_t)net->classes);
  dc_pass pass = {.train = b->train, .labels = b->labels, .seed = 1, .iter = iter};
  DC_TRY(dc_net_forward(net, &pass, NULL));
  if (!b->train) return DC_OK;
  DC_TRY(dc_net_backward(net, &pass));
  dc_solver_step(&b->conf, net->params, 0.001);
  return DC_OK;
}

/* Median images/s over 5 repeats of about `seconds` / 5 each. */
static dc_status measure(bench_ctx *b, double seconds, double *ips) {
  int64_t it = 0;
  double t0 = dc_now();
  while (dc_now() - t0 < 0.3 || it < 3) DC_TRY(step(b, it++)); /* warm-up */
  double per = (dc_now() - t0) / (double)it;
  long n = (long)(seconds / 5 / per) + 1;
  double r[5];
  for (int k = 0; k < 5; k++) {
    double s = dc_now();
    for (long i = 0; i < n; i++) DC_TRY(step(b, it++));
    r[k] = (double)n * b->net->batch / (dc_now() - s);
  }
  qsort(r, 5, sizeof r[0], cmp_double);
  *ips = r[2];
  return DC_OK;
}

static const char *basename_of(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

dc_status dc_bench(const char *net_path, int batch, int threads, double seconds, FILE *out) {
  dc_dnn_set_threads(threads);
  dc_net *train = NULL, *infer = NULL;
  bench_ctx b = {0};
  dc_status s = dc_net_load(net_path, batch, DC_NET_TRAIN, NULL, &train);
  if (s == DC_OK) s = dc_net_load(net_path, batch, 0, train->params, &infer);
  if (s != DC_OK) goto done;
  dc_net_init_params(train, 1);
  b.labels = calloc((size_t)batch, sizeof(int));
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
  double train_ips, infer_ips;
  b.net = train;
  b.train = 1;
  if ((s = measure(&b, seconds, &train_ips)) != DC_OK) goto done_p;
  b.net = infer;
  b.train = 0;
  if ((s = measure(&b, seconds, &infer_ips)) != DC_OK) goto done_p;
  /* profile: where a training step's time goes */
  b.net = train;
  b.train = 1;
  train->profile = profile;
  long n = (long)(seconds / 5 * train_ips / batch) + 1;
  double t0 = dc_now();
  for (long i = 0; i < n && s == DC_OK; i++) s = step(&b, i);
  double total = dc_now() - t0;
  train->profile = NULL;
  if (s != DC_OK) goto done_p;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  fprintf(out, "%s: batch %d, %d threads: train %.0f images/s, inference %.0f images/s, peak RSS %.1f MiB\n", name,
          batch, threads, train_ips, infer_ips, (double)ru.ru_maxrss / 1024.0);
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
  free(b.labels);
  dc_net_free(infer);
  dc_net_free(train);
  return s;
}
