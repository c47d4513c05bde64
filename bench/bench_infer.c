/* bench/bench_infer.c — a benchmark, not a test (scripts/bench-infer.sh runs it): the
 * compressed fc kernels against oneDNN's dense inner product on the paper's layers, and
 * whole-net latency of a compressed model in the engine against the dense net.
 *
 *   bench_infer fc [--layers all|NAME,...] [--batch 1,64] [--threads 2] [--seconds S]
 *       one line per (layer, batch): "fc LAYER BATCH DENSE_US SPARSE_US"
 *   bench_infer crossover [--threads 2] [--seconds S]
 *       4096 x 4096 and 1000 x 4096 layers at densities 5..100% and batches 1..256, dense
 *       and sparse microseconds: "xoROWS DENSITY_PCT BATCH DENSE_US SPARSE_US"
 *   bench_infer format [--layers ...] [--threads 2] [--seconds S]
 *       batch 1, the CSR in-memory form against weights grouped by centroid:
 *       "format LAYER CSR_US GROUPED_US CSR_BYTES_PER_KEPT GROUPED_BYTES_PER_KEPT"
 *   bench_infer net MODEL.dcz NET.net [--threads 2] [--seconds S]
 *       batch-1 latency of the engine and of the dense-decoded dc_net (what dctrain eval
 *       runs): "net MODEL ENGINE_US DENSE_US"
 *   bench_infer rss MODEL.dcz engine|engine-sparse|dense [NET.net]
 *       resident memory (VmRSS) growth from opening the model and running one sample,
 *       in the engine (automatic or always-sparse fc) or as a dense dc_net: "rss MODEL
 *       WHICH KIB" plus the engine's own accounting "mem MODEL WHICH FC_SPARSE FC_DENSE
 *       CONV_AND_BIAS DENSE_MODEL FILE"
 *   bench_infer synth NET.net OUT.dcz
 *       a model of NET's size compressed as the paper did AlexNet / VGG-16 (random
 *       weights pruned by magnitude to the paper's per-layer densities, conv 8-bit and
 *       fc 5-bit codebooks, conv 8-bit and fc 5-bit gaps), for the benchmarks
 *
 * Random layers have exactly the stated density (kept positions drawn uniformly), codebook
 * indices uniform over 2^bits entries, inputs uniform in [-1, 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dc/cfg.h"
#include "dc/engine.h"
#include "dc/model.h"
#include "dc/net.h"
#include "dc/prune.h"
#include "dc/rng.h"
#include "infer/spfc.h"
#include "layers/layers.h"
#include "util.h"

typedef struct {
  const char *name;
  int out, in;
  double density;
  int bits;
  double paper; /* the paper's CPU speed-up at batch 1 (Han et al. 2016, Table / Fig. 9) */
} layer_spec;

/* AlexNet and VGG-16 fc layers at the paper's densities (Tables 4 and 5), 5-bit codebooks. */
static const layer_spec g_layers[] = {
    {"alexnet-fc6", 4096, 9216, 0.09, 5, 2.45}, {"alexnet-fc7", 4096, 4096, 0.09, 5, 4.83},
    {"alexnet-fc8", 1000, 4096, 0.25, 5, 1.27}, {"vgg16-fc6", 4096, 25088, 0.03, 5, 9.28},
    {"vgg16-fc7", 4096, 4096, 0.04, 5, 9.86},   {"vgg16-fc8", 1000, 4096, 0.23, 5, 1.00},
};
#define NLAYERS ((int)(sizeof g_layers / sizeof g_layers[0]))

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* --cpu-time: measure process CPU time instead of wall time (with --threads 1 this
 * ignores the time the process waits for a core on a busy machine: for comparing
 * kernels, not for the tables) */
static int g_cpu_time;
static double now(void) {
  if (!g_cpu_time) return dc_now();
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Median microseconds per call of fn over ~seconds, in 5 repeats after a warm-up. */
typedef dc_status (*call_fn)(void *ctx);
static double time_us(call_fn fn, void *ctx, double seconds) {
  double t0 = now();
  long it = 0;
  while (now() - t0 < seconds / 10 || it < 2) {
    if (fn(ctx) != DC_OK) return -1;
    it++;
  }
  double per = (now() - t0) / (double)it;
  long n = (long)(seconds / 5 / per) + 1;
  double r[5];
  for (int k = 0; k < 5; k++) {
    double s = now();
    for (long i = 0; i < n; i++)
      if (fn(ctx) != DC_OK) return -1;
    r[k] = (now() - s) / (double)n * 1e6;
  }
  qsort(r, 5, sizeof r[0], cmp_double);
  return r[2];
}

/* The alternative in-memory form the CSR one was measured against (batch 1): per row
 * the kept weights grouped by centroid, a 16-bit column per weight and per group a u32
 * end offset and the centroid (about 2.2 bytes per kept weight at these densities);
 * the inner loop only adds inputs, one multiply per group. */
typedef struct {
  int out;
  uint32_t *row_group; /* (out + 1) */
  uint32_t *group_end; /* (ngroups + 1) */
  uint8_t *group_k;    /* (ngroups) */
  uint16_t *col;       /* (nnz) */
  float cb[256];
  int nt;
  size_t bytes;
} grouped_form;

static dc_status grouped_build(grouped_form *f, int out, int in, int bits, const float *cb, const uint8_t *mask,
                               const uint8_t *index, int threads) {
  const int k = 1 << bits;
  size_t nnz = 0, ng = 0, count = (size_t)out * in;
  for (size_t i = 0; i < count; i++) nnz += mask[i];
  int cnt[256];
  for (int o = 0; o < out; o++) {
    memset(cnt, 0, sizeof cnt);
    for (int c = 0; c < in; c++) cnt[index[(size_t)o * in + c]] += mask[(size_t)o * in + c];
    for (int q = 0; q < k; q++) ng += cnt[q] > 0;
  }
  f->out = out;
  f->nt = threads;
  memcpy(f->cb, cb, sizeof(float) * (size_t)k);
  f->row_group = malloc(sizeof(uint32_t) * ((size_t)out + 1));
  f->group_end = malloc(sizeof(uint32_t) * (ng + 1));
  f->group_k = malloc(ng + 1);
  f->col = malloc(2 * nnz + 2);
  if (!f->row_group || !f->group_end || !f->group_k || !f->col) return DC_ERR_NOMEM;
  f->bytes = 4 * ((size_t)out + 1) + 5 * ng + 2 * nnz;
  size_t g = 0, j = 0;
  f->group_end[0] = 0;
  for (int o = 0; o < out; o++) {
    f->row_group[o] = (uint32_t)g;
    const uint8_t *m = mask + (size_t)o * in, *ix = index + (size_t)o * in;
    memset(cnt, 0, sizeof cnt);
    for (int c = 0; c < in; c++) cnt[ix[c]] += m[c];
    size_t at = j;
    for (int q = 0; q < k; q++) {
      if (!cnt[q]) continue;
      int nq = cnt[q];
      cnt[q] = (int)(at - j);
      at += (size_t)nq;
      f->group_k[g] = (uint8_t)q;
      f->group_end[++g] = (uint32_t)at;
    }
    for (int c = 0; c < in; c++)
      if (m[c]) f->col[j + (size_t)cnt[ix[c]]++] = (uint16_t)c;
    j = at;
  }
  f->row_group[out] = (uint32_t)g;
  return DC_OK;
}

static void grouped_forward_b1(const grouped_form *f, const float *x, float *y) {
  const uint16_t *col = f->col;
#pragma omp parallel for num_threads(f->nt) schedule(static)
  for (int o = 0; o < f->out; o++) {
    float r0 = 0, r1 = 0, r2 = 0, r3 = 0;
    for (uint32_t g = f->row_group[o]; g < f->row_group[o + 1]; g++) {
      uint32_t j = f->group_end[g];
      const uint32_t b = f->group_end[g + 1];
      float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (; j + 4 <= b; j += 4) {
        a0 += x[col[j]];
        a1 += x[col[j + 1]];
        a2 += x[col[j + 2]];
        a3 += x[col[j + 3]];
      }
      for (; j < b; j++) a0 += x[col[j]];
      const float v = f->cb[f->group_k[g]];
      r0 += v * a0;
      r1 += v * a1;
      r2 += v * a2;
      r3 += v * a3;
    }
    y[o] = (r0 + r1) + (r2 + r3);
  }
}

typedef struct {
  dc_net *net; /* [input] -> fc -> softmax_loss, forward only, batch n */
  dc_layer *fc;
  dc_spfc sp;
  grouped_form grp;
  float *x, *y;
  int n;
} fc_bench;

static dc_status run_dense(void *p) {
  fc_bench *b = p;
  dc_pass pass = {0};
  return dc_layer_kind_of(DC_LAYER_FC)->forward(b->fc, &pass);
}
static dc_status run_sparse(void *p) {
  fc_bench *b = p;
  return dc_spfc_forward(&b->sp, b->x, b->n, b->y);
}

static dc_status run_grouped(void *p) {
  fc_bench *b = p;
  grouped_forward_b1(&b->grp, b->x, b->y);
  return DC_OK;
}

static dc_status fc_open(const layer_spec *s, int n, int threads, fc_bench *b) {
  memset(b, 0, sizeof *b);
  char text[256];
  snprintf(text, sizeof text,
           "[input]\nchannels = %d\nheight = 1\nwidth = 1\n[fc]\nname = fc\nnum_output = %d\n"
           "[softmax_loss]\n",
           s->in, s->out);
  dc_cfg *cfg;
  DC_TRY(dc_cfg_parse(text, s->name, &cfg));
  dc_status st = dc_net_create(cfg, n, 0, NULL, &b->net);
  dc_cfg_free(cfg);
  DC_TRY(st);
  b->fc = &b->net->layers[0];
  b->n = n;
  size_t count = (size_t)s->out * s->in;
  uint8_t *mask = malloc(count), *index = malloc(count);
  float cb[256];
  if (!mask || !index) return DC_ERR_NOMEM;
  dc_rng r;
  dc_rng_seed(&r, 1, (uint64_t)s->out * 7 + (uint64_t)s->in);
  uint32_t thresh = (uint32_t)(s->density * 4294967295.0);
  for (size_t i = 0; i < count; i++) {
    mask[i] = (uint32_t)(dc_rng_next(&r) >> 32) < thresh;
    index[i] = (uint8_t)dc_rng_below(&r, 1u << s->bits);
  }
  for (int k = 0; k < (1 << s->bits); k++) cb[k] = (float)(k - (1 << (s->bits - 1))) / 64.0f;
  float *w = b->fc->weight->data;
  for (size_t i = 0; i < count; i++) w[i] = mask[i] ? cb[index[i]] : 0.0f;
  st = dc_spfc_build(&b->sp, s->out, s->in, s->bits, cb, mask, index, b->fc->bias->data, threads);
  if (st == DC_OK && n == 1) st = grouped_build(&b->grp, s->out, s->in, s->bits, cb, mask, index, threads);
  free(mask);
  free(index);
  DC_TRY(st);
  b->x = b->fc->in_data;
  b->y = dc_alloc(sizeof(float) * (size_t)n * s->out);
  if (!b->y) return DC_ERR_NOMEM;
  for (size_t i = 0; i < (size_t)n * s->in; i++) b->x[i] = (float)dc_rng_below(&r, 2000) / 1000.0f - 1.0f;
  return DC_OK;
}

static void fc_close(fc_bench *b) {
  free(b->grp.row_group);
  free(b->grp.group_end);
  free(b->grp.group_k);
  free(b->grp.col);
  dc_spfc_free(&b->sp);
  dc_free(b->y);
  dc_net_free(b->net);
}

static int parse_list(const char *s, int *v, int max) {
  int n = 0;
  while (*s && n < max) {
    v[n++] = atoi(s);
    const char *c = strchr(s, ',');
    if (!c) break;
    s = c + 1;
  }
  return n;
}

static int wanted(const char *list, const char *name) {
  if (!list || strcmp(list, "all") == 0) return 1;
  size_t l = strlen(name);
  for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
    if ((p == list || p[-1] == ',') && (p[l] == ',' || p[l] == '\0')) return 1;
  return 0;
}

/* Batch 1: the CSR form against the grouped one, microseconds and bytes per kept weight. */
static int bench_format(const char *layers, int threads, double seconds) {
  for (int i = 0; i < NLAYERS; i++) {
    if (!wanted(layers, g_layers[i].name)) continue;
    fc_bench b;
    if (fc_open(&g_layers[i], 1, threads, &b) != DC_OK) {
      fprintf(stderr, "bench_infer: %s\n", dc_failure_reason());
      return 1;
    }
    double c = time_us(run_sparse, &b, seconds), g = time_us(run_grouped, &b, seconds);
    printf("format %s %.1f %.1f %.2f %.2f\n", g_layers[i].name, c, g, (double)dc_spfc_bytes(&b.sp) / b.sp.nnz,
           (double)b.grp.bytes / b.sp.nnz);
    fflush(stdout);
    fc_close(&b);
  }
  return 0;
}

static int bench_fc(const char *layers, const int *batch, int nb, int threads, double seconds, const char *tag) {
  for (int i = 0; i < NLAYERS; i++) {
    if (!wanted(layers, g_layers[i].name)) continue;
    for (int j = 0; j < nb; j++) {
      fc_bench b;
      if (fc_open(&g_layers[i], batch[j], threads, &b) != DC_OK) {
        fprintf(stderr, "bench_infer: %s\n", dc_failure_reason());
        return 1;
      }
      double d = time_us(run_dense, &b, seconds), s = time_us(run_sparse, &b, seconds);
      char impl[128];
      dc_layer_describe(b.fc, impl, sizeof impl);
      printf("%s %s %d %.1f %.1f %.2f %s\n", tag, g_layers[i].name, batch[j], d, s, g_layers[i].paper, impl);
      fflush(stdout);
      fc_close(&b);
    }
  }
  return 0;
}

/* Where dense overtakes sparse: a 4096 x 4096 layer (64 MB dense: from memory) and a
 * 1000 x 4096 one (16 MB: fits this machine's 32 MB L3) at several densities and batches. */
static int bench_crossover(int threads, double seconds) {
  static const double dens[] = {0.05, 0.10, 0.20, 0.35, 0.50, 0.75, 1.00};
  static const int xb[] = {1, 4, 16, 64, 256}, rows[] = {4096, 1000};
  for (int r = 0; r < 2; r++)
    for (int d = 0; d < (int)(sizeof dens / sizeof dens[0]); d++)
      for (int j = 0; j < (int)(sizeof xb / sizeof xb[0]); j++) {
        layer_spec s = {"xo", rows[r], 4096, dens[d], 5, 0};
        fc_bench b;
        if (fc_open(&s, xb[j], threads, &b) != DC_OK) {
          fprintf(stderr, "bench_infer: %s\n", dc_failure_reason());
          return 1;
        }
        double dt = time_us(run_dense, &b, seconds), st = time_us(run_sparse, &b, seconds);
        printf("xo%d %.0f %d %.1f %.1f\n", rows[r], 100 * dens[d], xb[j], dt, st);
        fflush(stdout);
        fc_close(&b);
      }
  return 0;
}

/* ---------------------------------------------------------------- whole nets */

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &v) == 1) break;
  if (f) fclose(f);
  return v;
}

typedef struct {
  dc_engine *e;
  dc_net *net;
  float *x, *p;
} net_bench;

static dc_status run_engine1(void *ctx) {
  net_bench *b = ctx;
  return dc_engine_run(b->e, b->x, 1, b->p);
}
static dc_status run_dense1(void *ctx) {
  net_bench *b = ctx;
  dc_pass pass = {0};
  return dc_net_forward(b->net, &pass, NULL);
}

static int fail(void) {
  fprintf(stderr, "bench_infer: %s\n", dc_failure_reason());
  return 1;
}

static int bench_net(const char *model, const char *netfile, int threads, double seconds) {
  net_bench b = {0};
  dc_engine_conf c = dc_engine_defaults();
  c.threads = threads;
  if (dc_engine_open(model, NULL, 0, &c, &b.e) != DC_OK) return fail();
  if (dc_net_load(netfile, 1, 0, NULL, &b.net) != DC_OK || dc_model_decode(model, b.net, NULL) != DC_OK) return fail();
  size_t in = dc_shape_sample(b.net->input);
  b.x = b.net->input_data;
  b.p = malloc(sizeof(float) * (size_t)b.net->classes);
  dc_rng r;
  dc_rng_seed(&r, 5, 5);
  for (size_t i = 0; i < in; i++) b.x[i] = dc_rng_uniform(&r);
  double te = time_us(run_engine1, &b, seconds), td = time_us(run_dense1, &b, seconds);
  printf("net %s %.1f %.1f\n", model, te, td);
  dc_engine_free(b.e);
  dc_net_free(b.net);
  free(b.p);
  return 0;
}

static int bench_rss(const char *model, const char *which, const char *netfile, int threads) {
  long before = rss_kib();
  if (strncmp(which, "engine", 6) == 0) {
    dc_engine_conf c = dc_engine_defaults();
    c.threads = threads;
    if (strcmp(which, "engine-sparse") == 0) c.fc = DC_FC_SPARSE;
    dc_engine *e;
    if (dc_engine_open(model, NULL, 0, &c, &e) != DC_OK) return fail();
    int C, H, W;
    dc_engine_input_shape(e, &C, &H, &W);
    float *x = calloc((size_t)C * H * W, sizeof(float)), *p = calloc((size_t)dc_engine_classes(e), sizeof(float));
    if (dc_engine_run(e, x, 1, p) != DC_OK) return fail();
    printf("rss %s %s %ld\n", model, which, rss_kib() - before);
    dc_engine_memory m;
    dc_engine_memory_of(e, &m);
    printf("mem %s %s %zu %zu %zu %zu %zu\n", model, which, m.fc_sparse, m.fc_dense, m.conv_dense, m.dense_model,
           m.file);
    dc_engine_free(e);
    free(x);
    free(p);
    return 0;
  }
  dc_net *net;
  if (!netfile || dc_net_load(netfile, 1, 0, NULL, &net) != DC_OK || dc_model_decode(model, net, NULL) != DC_OK)
    return fail();
  dc_pass pass = {0};
  if (dc_net_forward(net, &pass, NULL) != DC_OK) return fail();
  printf("rss %s dense %ld\n", model, rss_kib() - before);
  dc_net_free(net);
  return 0;
}

/* The paper's AlexNet and VGG-16 densities (Han et al. 2016, Tables 4 and 5). */
static const struct {
  const char *layer;
  double density;
} g_paper[] = {{"conv1", 0.84},   {"conv2", 0.38},   {"conv3", 0.35},   {"conv4", 0.37},   {"conv5", 0.37},
               {"fc6", 0.09},     {"fc7", 0.09},     {"fc8", 0.25},     {"conv1_1", 0.58}, {"conv1_2", 0.22},
               {"conv2_1", 0.34}, {"conv2_2", 0.36}, {"conv3_1", 0.53}, {"conv3_2", 0.24}, {"conv3_3", 0.42},
               {"conv4_1", 0.32}, {"conv4_2", 0.27}, {"conv4_3", 0.34}, {"conv5_1", 0.35}, {"conv5_2", 0.29},
               {"conv5_3", 0.36}};

static int synth(const char *netfile, const char *out, int vgg) {
  dc_net *net;
  if (dc_net_load(netfile, 1, 0, NULL, &net) != DC_OK) return fail();
  dc_net_init_params(net, 1);
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    if (!l->weight) continue;
    double d = 1.0;
    for (int k = 0; k < (int)(sizeof g_paper / sizeof g_paper[0]); k++)
      if (strcmp(g_paper[k].layer, l->name) == 0) d = g_paper[k].density;
    if (vgg && strcmp(l->name, "fc6") == 0) d = 0.03;
    if (vgg && strcmp(l->name, "fc7") == 0) d = 0.04;
    if (vgg && strcmp(l->name, "fc8") == 0) d = 0.23;
    int fc = l->type == DC_LAYER_FC;
    if (dc_prune_density(l->weight, d) != DC_OK || dc_quantize(l->weight, fc ? 5 : 8, DC_KMEANS_LINEAR, 1) != DC_OK)
      return fail();
    fprintf(stderr, "synth: %s %.0f%% kept, %d-bit codebook\n", l->name, 100 * d, fc ? 5 : 8);
  }
  FILE *f = fopen(netfile, "rb");
  static char text[1 << 16];
  size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
  if (f) fclose(f);
  text[n] = '\0';
  dc_dcz_model m = {text, DC_COLOR_BGR, 256, {104, 117, 123}, 1, NULL};
  dc_dcz_stats st;
  if (dc_model_encode_with(net, 8, 5, 32, 32, &m, out, &st) != DC_OK) return fail();
  fprintf(stderr, "synth: %s %llu bytes, %.1fx\n", out, (unsigned long long)st.file_bytes, st.ratio);
  dc_dcz_stats_free(&st);
  dc_net_free(net);
  return 0;
}

/* Spin ~0.5 s so the cores are at full clock before the first measurement. */
static void warm_up(void) {
  volatile double x = 0;
  double t0 = dc_now();
  while (dc_now() - t0 < 0.5)
    for (int i = 0; i < 100000; i++) x += i;
  (void)x;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_infer fc|crossover|net ...\n");
    return 2;
  }
  const char *mode = argv[1], *layers = "all", *pos[3] = {NULL, NULL, NULL};
  int npos = 0;
  int threads = 2, batch[16] = {1, 64}, nb = 2;
  double seconds = 1.0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--layers") == 0 && i + 1 < argc)
      layers = argv[++i];
    else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
      nb = parse_list(argv[++i], batch, 16);
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (strcmp(argv[i], "--cpu-time") == 0)
      g_cpu_time = 1;
    else if (argv[i][0] != '-' && npos < 3)
      pos[npos++] = argv[i];
    else {
      fprintf(stderr, "bench_infer: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  dc_set_threads(threads);
  warm_up();
  if (strcmp(mode, "fc") == 0) return bench_fc(layers, batch, nb, threads, seconds, "fc");
  if (strcmp(mode, "crossover") == 0) return bench_crossover(threads, seconds);
  if (strcmp(mode, "format") == 0) return bench_format(layers, threads, seconds);
  if (strcmp(mode, "net") == 0 && npos == 2) return bench_net(pos[0], pos[1], threads, seconds);
  if (strcmp(mode, "rss") == 0 && npos >= 2) return bench_rss(pos[0], pos[1], pos[2], threads);
  if (strcmp(mode, "synth") == 0 && npos == 2) return synth(pos[0], pos[1], strstr(pos[0], "vgg") != NULL);
  fprintf(stderr, "bench_infer: unknown mode %s\n", mode);
  return 2;
}
