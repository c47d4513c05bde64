/* test_layers.c — every layer kind: finite-difference gradient checks (input and
 * parameters) and, for the oneDNN-backed kinds, agreement with naive reference kernels;
 * the table's weight family of each kind. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dc/cfg.h"
#include "dc/rng.h"
#include "util_net.h"

#define GRAD_TOL 2e-2

/* [input] + body + a summed softmax loss: the loss is a scalar function of the body's
 * output whatever its shape, so its gradient exercises the body's backward. */
static dc_net *grad_net(const char *input, const char *body, int batch) {
  char text[2048];
  snprintf(text, sizeof text, "[input]\n%s\n%s\n[softmax_loss]\nloss_weight = %d\n", input, body, batch);
  return tu_net(text, batch, DC_NET_TRAIN | DC_NET_INPUT_GRAD);
}

/* Inputs spaced at least `spread` apart (a shuffled grid), so a finite-difference step
 * smaller than half of it never swaps a max-pooling winner. */
static void fill_distinct(float *x, size_t n, float spread) {
  int *perm = malloc(sizeof(int) * n);
  for (size_t i = 0; i < n; i++) perm[i] = (int)i;
  dc_rng r;
  dc_rng_seed(&r, 17, 0);
  dc_rng_shuffle(&r, perm, (int)n);
  for (size_t i = 0; i < n; i++) x[i] = ((float)perm[i] - (float)n / 2) * spread;
  free(perm);
}

static void gradcheck_eps(const char *input, const char *body, int batch, float lo, float hi, float eps,
                          double tol) {
  dc_net *net = grad_net(input, body, batch);
  if (lo == hi) fill_distinct(net->input_data, dc_shape_count(net->input), lo);
  else tu_fill(net->input_data, dc_shape_count(net->input), 3, lo, hi);
  dc_net_init_params(net, 5);
  /* non-zero biases so they matter */
  for (int i = 0; i < net->params->count; i++)
    if (strstr(net->params->p[i].name, "/bias")) tu_fill(net->params->p[i].data, net->params->p[i].count, 11, -0.2f, 0.2f);
  int labels[16];
  tu_labels(labels, batch, net->classes, 13);
  double worst = tu_gradcheck(net, labels, eps, 40, 1e-2);
  char first[48];
  snprintf(first, sizeof first, "%s", body);
  for (char *c = first; *c; c++) if (*c == '\n') *c = ' ';
  print_message("  %-44s worst rel err %.2e\n", first, worst);
  assert_true(worst < tol);
  dc_net_free(net);
}

static void run_gradcheck(const char *input, const char *body, int batch, float lo, float hi) {
  gradcheck_eps(input, body, batch, lo, hi, 1e-2f, GRAD_TOL);
}

static const char *IN_4x6x6 = "channels = 4\nheight = 6\nwidth = 6";

static void grad_conv(void **state) {
  (void)state;
  run_gradcheck(IN_4x6x6, "[conv]\nname = c\nnum_output = 3\nkernel = 3", 2, -1, 1);
  run_gradcheck(IN_4x6x6, "[conv]\nname = c\nnum_output = 4\nkernel = 3\nstride = 2\npad = 1", 2, -1, 1);
  /* one input channel, 16 outputs (LeNet-5's conv1 in small): on AVX2 machines the
   * backward-weights kernel reorders into layouts of its own (conv.c, bwd_weights_setup) */
  run_gradcheck("channels = 1\nheight = 9\nwidth = 9", "[conv]\nname = c\nnum_output = 16\nkernel = 5", 2, -1, 1);
}

static void grad_conv_groups(void **state) {
  (void)state;
  run_gradcheck(IN_4x6x6, "[conv]\nname = c\nnum_output = 6\nkernel = 3\ngroup = 2\npad = 1", 2, -1, 1);
}

static void grad_fc(void **state) {
  (void)state;
  run_gradcheck(IN_4x6x6, "[fc]\nname = f\nnum_output = 7", 3, -1, 1);
  run_gradcheck(IN_4x6x6, "[fc]\nname = f\nnum_output = 5\nbias_term = false", 2, -1, 1);
}

static void grad_pool(void **state) {
  (void)state;
  run_gradcheck(IN_4x6x6, "[maxpool]\nkernel = 2", 2, 0.05f, 0.05f);
  run_gradcheck(IN_4x6x6, "[maxpool]\nkernel = 3\nstride = 2", 2, 0.05f, 0.05f); /* Caffe ceil: 6 -> 3 */
  run_gradcheck(IN_4x6x6, "[avgpool]\nkernel = 3\nstride = 2\npad = 1", 2, -1, 1);
}

static void grad_relu(void **state) {
  (void)state;
  run_gradcheck(IN_4x6x6, "[relu]", 2, -1, 1);
  run_gradcheck(IN_4x6x6, "[relu]\nnegative_slope = 0.1", 2, -1, 1);
  /* after another layer a ReLU with slope >= 0 runs in place (its gradient from its output) */
  run_gradcheck(IN_4x6x6, "[fc]\nname = f\nnum_output = 9\n[relu]\n[fc]\nname = g\nnum_output = 4", 2, -1, 1);
  run_gradcheck(IN_4x6x6, "[fc]\nname = f\nnum_output = 9\n[relu]\nnegative_slope = 0.1\n[fc]\nname = g\nnum_output = 4",
                2, -1, 1);
  run_gradcheck(IN_4x6x6, "[fc]\nname = f\nnum_output = 9\n[relu]\nnegative_slope = -0.5\n[fc]\nname = g\nnum_output = 4",
                2, -1, 1);
  const char *fmt = "[input]\nchannels = 2\nheight = 4\nwidth = 4\n[fc]\nname = f\nnum_output = 5\n[relu]\n"
                    "negative_slope = %s\n[relu]\n[softmax_loss]\n";
  const char *slopes[] = {"0", "0.1", "-0.5"};
  for (int k = 0; k < 3; k++) {
    char text[256];
    snprintf(text, sizeof text, fmt, slopes[k]);
    dc_net *net = tu_net(text, 2, DC_NET_TRAIN);
    int in_place = k < 2;
    assert_int_equal(net->layers[1].out_data == net->layers[0].out_data, in_place);
    assert_int_equal(net->layers[1].in_diff == net->layers[1].out_diff, in_place);
    assert_true(net->layers[2].out_data == net->layers[1].out_data); /* slope 0: in place after any layer */
    dc_net_free(net);
  }
}

static void grad_lrn(void **state) {
  (void)state;
  run_gradcheck("channels = 7\nheight = 3\nwidth = 3", "[lrn]\nlocal_size = 5\nalpha = 0.5\nbeta = 0.75", 2, -2, 2);
}

static void grad_dropout(void **state) {
  (void)state;
  run_gradcheck(IN_4x6x6, "[dropout]\nratio = 0.3", 2, -1, 1);
}

static void grad_softmax_loss(void **state) {
  (void)state;
  run_gradcheck("channels = 10\nheight = 1\nwidth = 1", "", 4, -3, 3);
}

static void grad_stack(void **state) {
  (void)state;
  /* many kinks (ReLU, max): a small step keeps the finite difference on one side of
   * them, at the price of more float round-off, hence the wider tolerance */
  gradcheck_eps("channels = 2\nheight = 8\nwidth = 8",
                "[conv]\nname = c1\nnum_output = 4\nkernel = 3\n[relu]\n[maxpool]\nkernel = 2\n"
                "[fc]\nname = f1\nnum_output = 6\n[dropout]\nratio = 0.5\n[fc]\nname = f2\nnum_output = 3",
                2, -1, 1, 1e-3f, 5e-2);
}

/* ---- naive reference kernels ---- */

static void ref_conv(const float *x, const float *w, const float *b, float *y, int n, int ci, int h, int wd,
                     int co, int k, int s, int p, int g) {
  int oh = (h + 2 * p - k) / s + 1, ow = (wd + 2 * p - k) / s + 1;
  int cig = ci / g, cog = co / g;
  for (int in = 0; in < n; in++)
    for (int o = 0; o < co; o++)
      for (int y0 = 0; y0 < oh; y0++)
        for (int x0 = 0; x0 < ow; x0++) {
          double acc = b ? b[o] : 0.0;
          int grp = o / cog;
          for (int c = 0; c < cig; c++)
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                int iy = y0 * s - p + ky, ix = x0 * s - p + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += (double)x[((in * ci + grp * cig + c) * h + iy) * wd + ix] *
                       w[((o * cig + c) * k + ky) * k + kx];
              }
          y[((in * co + o) * oh + y0) * ow + x0] = (float)acc;
        }
}

static void assert_close(const float *a, const float *b, size_t n, float tol) {
  for (size_t i = 0; i < n; i++)
    if (fabsf(a[i] - b[i]) > tol * (1.0f + fabsf(b[i]))) fail_msg("at %zu: got %g, reference %g", i, a[i], b[i]);
}

/* Run the body alone (forward, inference) and return its output (the layer before the
 * loss) as plain NCHW; valid until the next call. */
static const float *forward_body(dc_net *net) {
  static float out[1 << 14];
  dc_pass pass = {.train = 0};
  assert_int_equal(dc_net_forward(net, &pass, NULL), DC_OK);
  int i = net->nlayers - 2;
  assert_true(dc_shape_count(net->layers[i].out) <= sizeof out / sizeof out[0]);
  assert_int_equal(dc_net_read_output(net, i, out), DC_OK);
  return out;
}

static void ref_conv_check(int g, int s, int p) {
  char body[256];
  snprintf(body, sizeof body, "[conv]\nname = c\nnum_output = 6\nkernel = 3\nstride = %d\npad = %d\ngroup = %d", s,
           p, g);
  char text[512];
  snprintf(text, sizeof text, "[input]\nchannels = 4\nheight = 7\nwidth = 7\n%s\n[softmax_loss]\n", body);
  dc_net *net = tu_net(text, 2, 0);
  tu_fill(net->input_data, dc_shape_count(net->input), 1, -1, 1);
  dc_net_init_params(net, 2);
  dc_layer *l = &net->layers[0];
  tu_fill(l->bias->data, l->bias->count, 3, -1, 1);
  const float *y = forward_body(net);
  size_t n = dc_shape_count(l->out);
  float *ref = malloc(sizeof(float) * n);
  ref_conv(net->input_data, l->weight->data, l->bias->data, ref, 2, 4, 7, 7, 6, 3, s, p, g);
  assert_close(y, ref, n, 1e-4f);
  free(ref);
  dc_net_free(net);
}

static void ref_conv_all(void **state) {
  (void)state;
  ref_conv_check(1, 1, 0);
  ref_conv_check(2, 2, 1);
  ref_conv_check(1, 2, 2);
}

static void ref_fc(void **state) {
  (void)state;
  dc_net *net = tu_net("[input]\nchannels = 3\nheight = 2\nwidth = 2\n[fc]\nname = f\nnum_output = 5\n[softmax_loss]\n", 3, 0);
  tu_fill(net->input_data, 36, 1, -1, 1);
  dc_net_init_params(net, 2);
  dc_layer *l = &net->layers[0];
  tu_fill(l->bias->data, 5, 3, -1, 1);
  const float *y = forward_body(net);
  float ref[15];
  for (int n = 0; n < 3; n++)
    for (int o = 0; o < 5; o++) {
      double acc = l->bias->data[o];
      for (int i = 0; i < 12; i++) acc += (double)net->input_data[n * 12 + i] * l->weight->data[o * 12 + i];
      ref[n * 5 + o] = (float)acc;
    }
  assert_close(y, ref, 15, 1e-5f);
  dc_net_free(net);
}

static void ref_pool_check(int maxpool, int k, int s, int p) {
  char text[512];
  snprintf(text, sizeof text, "[input]\nchannels = 2\nheight = 7\nwidth = 7\n[%s]\nkernel = %d\nstride = %d\npad = %d\n[softmax_loss]\n",
           maxpool ? "maxpool" : "avgpool", k, s, p);
  dc_net *net = tu_net(text, 2, 0);
  tu_fill(net->input_data, dc_shape_count(net->input), 4, -1, 1);
  const float *y = forward_body(net);
  dc_layer *l = &net->layers[0];
  int oh = l->out.h, ow = l->out.w;
  /* Caffe: ceil((7 + 2p - k) / s) + 1, clipped so the last window starts inside */
  int want = (7 + 2 * p - k + s - 1) / s + 1;
  if (p > 0 && (want - 1) * s >= 7 + p) want--;
  assert_int_equal(oh, want);
  for (int n = 0; n < 2; n++)
    for (int c = 0; c < 2; c++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          const float *x = net->input_data + (n * 2 + c) * 49;
          double acc = maxpool ? -1e30 : 0.0;
          int cnt = 0;
          for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
              int iy = oy * s - p + ky, ix = ox * s - p + kx;
              if (iy < 0 || iy >= 7 || ix < 0 || ix >= 7) continue;
              float v = x[iy * 7 + ix];
              if (maxpool) acc = v > acc ? v : acc;
              else acc += v;
              cnt++;
            }
          float ref = (float)(maxpool ? acc : acc / cnt);
          float got = y[((n * 2 + c) * oh + oy) * ow + ox];
          if (fabsf(got - ref) > 1e-5f) fail_msg("pool (%d,%d,%d,%d): got %g want %g", n, c, oy, ox, got, ref);
        }
  dc_net_free(net);
}

static void ref_pool(void **state) {
  (void)state;
  ref_pool_check(1, 2, 2, 0);
  ref_pool_check(1, 3, 2, 0);
  ref_pool_check(0, 3, 2, 1);
  ref_pool_check(0, 2, 2, 0);
}

static void ref_lrn(void **state) {
  (void)state;
  dc_net *net = tu_net("[input]\nchannels = 7\nheight = 2\nwidth = 3\n[lrn]\nlocal_size = 5\nalpha = 0.3\nbeta = 0.75\nk = 2\n[softmax_loss]\n", 2, 0);
  tu_fill(net->input_data, dc_shape_count(net->input), 4, -2, 2);
  const float *y = forward_body(net);
  for (int n = 0; n < 2; n++)
    for (int c = 0; c < 7; c++)
      for (int i = 0; i < 6; i++) {
        double sum = 0;
        for (int cc = c - 2; cc <= c + 2; cc++) {
          if (cc < 0 || cc >= 7) continue;
          double v = net->input_data[(n * 7 + cc) * 6 + i];
          sum += v * v;
        }
        double x = net->input_data[(n * 7 + c) * 6 + i];
        double ref = x / pow(2.0 + 0.3 / 5 * sum, 0.75);
        float got = y[(n * 7 + c) * 6 + i];
        if (fabs(got - ref) > 1e-5 * (1 + fabs(ref))) fail_msg("lrn: got %g want %g", got, ref);
      }
  dc_net_free(net);
}

static void dropout_semantics(void **state) {
  (void)state;
  dc_net *net = tu_net("[input]\nchannels = 1000\nheight = 1\nwidth = 1\n[dropout]\nratio = 0.25\n[softmax_loss]\n", 4, DC_NET_TRAIN);
  for (int i = 0; i < 4000; i++) net->input_data[i] = 1.0f;
  int labels[4] = {0, 1, 2, 3};
  dc_pass pass = {.train = 1, .labels = labels, .seed = 7, .iter = 3, .first = 12};
  assert_int_equal(dc_net_forward(net, &pass, NULL), DC_OK);
  const float *y = net->layers[0].out_data;
  int zeros = 0;
  for (int i = 0; i < 4000; i++) {
    assert_true(y[i] == 0.0f || fabsf(y[i] - 1.0f / 0.75f) < 1e-6f);
    zeros += y[i] == 0.0f;
  }
  assert_in_range(zeros, 850, 1150); /* 25% of 4000, binomial sd ~27 */
  float *first = malloc(sizeof(float) * 4000);
  memcpy(first, y, sizeof(float) * 4000);
  assert_int_equal(dc_net_forward(net, &pass, NULL), DC_OK); /* same (seed, iter): same mask */
  assert_memory_equal(first, y, sizeof(float) * 4000);
  pass.first = 16; /* the next batch's samples: other masks */
  assert_int_equal(dc_net_forward(net, &pass, NULL), DC_OK);
  assert_true(memcmp(first, y, sizeof(float) * 4000) != 0);
  /* a sample's mask depends on its stream position only: sample 1 of the batch at 16
   * is sample 0 of a batch at 17 */
  float *second = malloc(sizeof(float) * 4000);
  memcpy(second, y, sizeof(float) * 4000);
  pass.first = 17;
  assert_int_equal(dc_net_forward(net, &pass, NULL), DC_OK);
  assert_memory_equal(second + 1000, y, sizeof(float) * 3000);
  free(second);
  pass.first = 16;
  dc_dropout_set_ratio(&net->layers[0], 0.0f);
  assert_int_equal(dc_net_forward(net, &pass, NULL), DC_OK);
  for (int i = 0; i < 4000; i++) assert_true(y[i] == 1.0f);
  pass.train = 0;
  dc_dropout_set_ratio(&net->layers[0], 0.5f);
  assert_int_equal(dc_net_forward(net, &pass, NULL), DC_OK);
  for (int i = 0; i < 4000; i++) assert_true(y[i] == 1.0f);
  free(first);
  dc_net_free(net);
}

/* No layer of the shipped nets may fall back to oneDNN's reference kernels, forward or
 * backward: they are hundreds of times slower (the conv backward-data weight layout once
 * did, silently); nor run conv backward-weights on an input padded to over twice its
 * channels (on AVX2, the layouts oneDNN chose for LeNet-5's conv1 padded 1 to 8). */
static void no_reference_kernels(void **state) {
  (void)state;
  const char *src = getenv("DC_SOURCE_DIR");
  const char *nets[] = {"lenet5.net", "lenet300.net"};
  for (int k = 0; k < 2; k++) {
    char path[600];
    snprintf(path, sizeof path, "%s/nets/%s", src ? src : ".", nets[k]);
    dc_net *net;
    dc_failure_clear();
    if (dc_net_load(path, 64, DC_NET_TRAIN, NULL, &net) != DC_OK) fail_msg("%s", dc_failure_reason());
    for (int i = 0; i < net->nlayers; i++) {
      char impl[128];
      dc_layer_describe(&net->layers[i], impl, sizeof impl);
      if (!strncmp(impl, "ref", 3) || strstr(impl, "ref kernel") || strstr(impl, "padded"))
        fail_msg("%s %s: %s", nets[k], net->layers[i].name, impl);
    }
    dc_net_free(net);
  }
  /* AlexNet's kinds at a small size: grouped conv, LRN, overlapping pooling */
  dc_net *net = tu_net("[input]\nchannels = 3\nheight = 35\nwidth = 35\n"
                       "[conv]\nname = c1\nnum_output = 32\nkernel = 5\nstride = 2\n[relu]\n[lrn]\n"
                       "[maxpool]\nkernel = 3\nstride = 2\n"
                       "[conv]\nname = c2\nnum_output = 64\nkernel = 3\npad = 1\ngroup = 2\n[relu]\n[lrn]\n"
                       "[maxpool]\nkernel = 3\nstride = 2\n[fc]\nname = f\nnum_output = 10\n[softmax_loss]\n",
                       16, DC_NET_TRAIN);
  for (int i = 0; i < net->nlayers; i++) {
    char impl[128];
    dc_layer_describe(&net->layers[i], impl, sizeof impl);
    print_message("  %-10s %s\n", net->layers[i].name, impl);
    if (!strncmp(impl, "ref", 3) || strstr(impl, "ref kernel")) fail_msg("%s: %s", net->layers[i].name, impl);
  }
  dc_net_free(net);
}

/* A forward-only net with DC_NET_REUSE (two activation slots) gives the same scores and
 * probabilities as one that keeps every activation, also with conversions between
 * blocked and plain layouts and a dropout; it holds less; inference nets have no
 * gradient arena. */
static void reuse_equals_keep(void **state) {
  (void)state;
  const char *text = "[input]\nchannels = 3\nheight = 35\nwidth = 35\n"
                     "[conv]\nname = c1\nnum_output = 32\nkernel = 5\nstride = 2\n[relu]\n[lrn]\n"
                     "[maxpool]\nkernel = 3\nstride = 2\n"
                     "[conv]\nname = c2\nnum_output = 64\nkernel = 3\npad = 1\ngroup = 2\n[relu]\n"
                     "[maxpool]\nkernel = 3\nstride = 2\n[fc]\nname = f1\nnum_output = 40\n[relu]\n[dropout]\n"
                     "[fc]\nname = f2\nnum_output = 10\n[softmax_loss]\n";
  dc_net *keep = tu_net(text, 4, 0), *reuse = tu_net(text, 4, DC_NET_REUSE);
  assert_null(keep->act_diffs);
  assert_null(reuse->act_diffs);
  dc_net_init_params(keep, 3);
  dc_net_init_params(reuse, 3);
  size_t nin = dc_shape_count(keep->input), nout = dc_shape_count(keep->layers[keep->nlayers - 1].out);
  size_t nscore = dc_shape_count(keep->layers[keep->nlayers - 2].out);
  float *a = malloc(sizeof(float) * nscore), *b = malloc(sizeof(float) * nscore);
  int labels[4] = {1, 2, 3, 4};
  dc_pass pass = {.train = 0, .labels = labels};
  for (int round = 0; round < 2; round++) { /* a second batch over the reused buffers */
    tu_fill(keep->input_data, nin, 11 + (uint64_t)round, -1.0f, 1.0f);
    memcpy(reuse->input_data, keep->input_data, sizeof(float) * nin);
    double lk, lr;
    assert_int_equal(dc_net_forward(keep, &pass, &lk), DC_OK);
    assert_int_equal(dc_net_forward(reuse, &pass, &lr), DC_OK);
    assert_true(lk == lr);
    assert_memory_equal(dc_net_output(keep), dc_net_output(reuse), sizeof(float) * nout);
    assert_int_equal(dc_net_read_output(keep, keep->nlayers - 2, a), DC_OK);
    assert_int_equal(dc_net_read_output(reuse, reuse->nlayers - 2, b), DC_OK);
    assert_memory_equal(a, b, sizeof(float) * nscore);
  }
  /* the slots: every output lies in two buffers after the input's region */
  float *lo = reuse->acts + nin, *hi = lo;
  for (int i = 0; i < reuse->nlayers; i++) {
    float *o = reuse->layers[i].out_data;
    assert_true(o >= lo);
    if (o > hi) hi = o;
  }
  int distinct = 0;
  for (int i = 0; i < reuse->nlayers; i++) distinct += reuse->layers[i].out_data == lo || reuse->layers[i].out_data == hi;
  assert_int_equal(distinct, reuse->nlayers);
  assert_true(hi > lo);
  free(a);
  free(b);
  dc_net_free(keep);
  dc_net_free(reuse);
}

/* The table's weight family: conv and fc have weights of their own family, every other
 * kind none, and a built net gives parameters to exactly the layers with a family. */
static void weight_families(void **state) {
  (void)state;
  for (int t = 0; t < DC_LAYER_TYPE_COUNT; t++) {
    dc_weight_family f = dc_layer_type_weights((dc_layer_type)t);
    dc_weight_family want = t == DC_LAYER_CONV ? DC_WEIGHTS_CONV : t == DC_LAYER_FC ? DC_WEIGHTS_FC : DC_WEIGHTS_NONE;
    assert_int_equal(f, want);
  }
  dc_net *net = grad_net(IN_4x6x6,
                         "[conv]\nname = c1\nnum_output = 2\nkernel = 3\n[relu]\n[maxpool]\nkernel = 2\n"
                         "[fc]\nname = f1\nnum_output = 3",
                         2);
  for (int i = 0; i < net->nlayers; i++) {
    const dc_layer *l = &net->layers[i];
    assert_int_equal(l->weight != NULL, dc_layer_type_weights(l->type) != DC_WEIGHTS_NONE);
  }
  dc_net_free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(grad_conv),       cmocka_unit_test(grad_conv_groups), cmocka_unit_test(grad_fc),
      cmocka_unit_test(grad_pool),       cmocka_unit_test(grad_relu),        cmocka_unit_test(grad_lrn),
      cmocka_unit_test(grad_dropout),    cmocka_unit_test(grad_softmax_loss), cmocka_unit_test(grad_stack),
      cmocka_unit_test(ref_conv_all),    cmocka_unit_test(ref_fc),           cmocka_unit_test(ref_pool),
      cmocka_unit_test(ref_lrn),         cmocka_unit_test(dropout_semantics),
      cmocka_unit_test(no_reference_kernels),     cmocka_unit_test(reuse_equals_keep),
      cmocka_unit_test(weight_families),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
