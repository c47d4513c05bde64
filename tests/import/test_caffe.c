/* test_caffe.c — `dctrain import caffe` on small nets: models written through
 * libprotobuf-c in the `layer`, V1 and V0 formats, with BlobShape and legacy shapes, float
 * and double data, come back bit for bit under /params/<layer>/weight|bias and load
 * into the net; every broken model (missing layer, extra layer, blob on a layer without
 * weights, mis-shaped blob, wrong blob count, short data, a name twice, truncated,
 * garbage, randomly corrupted, empty, absent) fails with one line naming the file and the layer and leaves
 * an existing output untouched; the command's exit statuses. The full-size AlexNet and
 * its logits against torch are in torch_logits.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "caffe_write.h"
#include "dc/ckpt.h"
#include "dc/h5.h"
#include "dc/import.h"
#include "dc/rng.h"

/* conv with groups and a legacy-unfriendly 4-D weight, LRN and pooling without blobs,
 * an fc on a 4-D input, an fc without bias. */
static const char *const NET =
    "[input]\nchannels = 4\nheight = 9\nwidth = 9\n"
    "[conv]\nname = conv1\nnum_output = 6\nkernel = 3\ngroup = 2\n"
    "[relu]\nname = relu1\n"
    "[lrn]\nlocal_size = 3\nalpha = 0.0001\n"
    "[maxpool]\nkernel = 2\n"
    "[fc]\nname = ip1\nnum_output = 7\n"
    "[relu]\n"
    "[fc]\nname = ip2\nnum_output = 3\nbias_term = false\n"
    "[softmax_loss]\n";

typedef struct {
  char dir[256];
  char net[300], model[300], out[300];
  dc_net *n; /* NET with seeded random parameters */
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/dc_import_XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->net, sizeof f->net, "%s/small.net", f->dir);
  snprintf(f->model, sizeof f->model, "%s/small.caffemodel", f->dir);
  snprintf(f->out, sizeof f->out, "%s/small.h5", f->dir);
  FILE *fp = fopen(f->net, "w");
  fputs(NET, fp);
  fclose(fp);
  dc_failure_clear();
  if (dc_net_load(f->net, 1, 0, NULL, &f->n) != DC_OK) return -1;
  for (int i = 0; i < f->n->params->count; i++) {
    dc_param *p = &f->n->params->p[i];
    dc_rng r;
    dc_rng_seed(&r, 7, dc_hash_str(p->name));
    for (size_t k = 0; k < p->count; k++) p->data[k] = dc_rng_normal(&r);
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  if (system(cmd) != 0) return -1;
  dc_net_free(f->n);
  free(f);
  return 0;
}

static tc_layer *layers(fixture *f, int *n) {
  tc_layer *ls = tc_layers_of_net(f->n, n);
  assert_non_null(ls);
  return ls;
}

static tc_layer *find(tc_layer *ls, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(ls[i].name, name)) return &ls[i];
  fail_msg("no layer %s", name);
  return NULL;
}

static void write_model(fixture *f, const tc_layer *ls, int n, tc_format fmt, int flags) {
  assert_int_equal(tc_write_caffemodel(f->model, "small", ls, n, fmt, flags), 0);
}

/* Import f->model, expect DC_OK, and compare every dataset of the output with the net. */
static void expect_exact(fixture *f) {
  dc_failure_clear();
  if (dc_import_caffe(f->model, f->net, f->out, NULL) != DC_OK) fail_msg("%s", dc_failure_reason());
  dc_h5 *h;
  assert_int_equal(dc_h5_open(f->out, &h), DC_OK);
  char **names;
  int nn;
  assert_int_equal(dc_h5_list(h, "/params", &names, &nn), DC_OK);
  assert_int_equal(nn, 3); /* conv1, ip1, ip2: nothing else */
  dc_h5_free_names(names, nn);
  for (int i = 0; i < f->n->params->count; i++) {
    const dc_param *p = &f->n->params->p[i];
    char path[128];
    int64_t d[4];
    for (int k = 0; k < p->ndim; k++) d[k] = p->dims[k];
    snprintf(path, sizeof path, "/params/%s", p->name);
    float *got = malloc(p->count * sizeof *got);
    if (dc_h5_read(h, path, DC_H5_F32, p->ndim, d, got) != DC_OK) fail_msg("%s", dc_failure_reason());
    assert_memory_equal(got, p->data, p->count * sizeof *got);
    free(got);
  }
  assert_false(dc_h5_exists(h, "/params/ip2/bias"));
  char *format;
  assert_int_equal(dc_h5_read_str(h, "/meta/format", &format), DC_OK);
  assert_string_equal(format, DC_CKPT_FORMAT);
  free(format);
  dc_h5_close(h);
  /* and it loads as weights of the net */
  dc_net *m;
  assert_int_equal(dc_net_load(f->net, 1, 0, NULL, &m), DC_OK);
  if (dc_ckpt_load(f->out, m->params, NULL) != DC_OK) fail_msg("%s", dc_failure_reason());
  assert_memory_equal(m->params->arena_data, f->n->params->arena_data, m->params->total * sizeof(float));
  dc_net_free(m);
  unlink(f->out);
}

static void every_format_reads_back_exactly(void **state) {
  fixture *f = *state;
  int n;
  tc_layer *ls = layers(f, &n);
  const tc_format fmts[] = {TC_LAYER, TC_V1, TC_V0};
  for (int i = 0; i < 3; i++)
    for (int flags = 0; flags < 4; flags++) {
      write_model(f, ls, n, fmts[i], flags);
      expect_exact(f);
    }
  free(ls);
}

/* Layers given in another order than the net's, and unrelated layers without blobs
 * (a second data layer, an accuracy layer), are fine: matching is by name. */
static void order_and_blobless_layers_do_not_matter(void **state) {
  fixture *f = *state;
  int n;
  tc_layer *ls = layers(f, &n);
  tc_layer *more = calloc((size_t)n + 2, sizeof *more);
  for (int i = 0; i < n; i++) more[i] = ls[n - 1 - i];
  more[n] = (tc_layer){.name = "accuracy", .type = "Accuracy"};
  more[n + 1] = (tc_layer){.name = "data", .type = "Data"};
  write_model(f, more, n + 2, TC_LAYER, 0);
  expect_exact(f);
  free(more);
  free(ls);
}

/* Import f->model expecting failure status s with a one-line reason that starts with
 * the model's path and contains every string of want (NULL-terminated). An existing
 * output must be left as it was. */
static void expect_error(fixture *f, dc_status s, ...) {
  FILE *old = fopen(f->out, "w");
  fputs("old", old);
  fclose(old);
  dc_failure_clear();
  dc_status got = dc_import_caffe(f->model, f->net, f->out, NULL);
  const char *msg = dc_failure_reason();
  if (got != s) fail_msg("expected status %d, got %d: %s", s, got, msg);
  assert_null(strchr(msg, '\n'));
  if (strncmp(msg, f->model, strlen(f->model)) != 0) fail_msg("message does not start with the file: %s", msg);
  va_list ap;
  va_start(ap, s);
  for (const char *w; (w = va_arg(ap, const char *));)
    if (!strstr(msg, w)) fail_msg("expected '%s' in: %s", w, msg);
  va_end(ap);
  print_message("  %s\n", msg);
  char buf[8] = {0};
  FILE *fp = fopen(f->out, "r");
  assert_non_null(fp);
  assert_int_equal(fread(buf, 1, sizeof buf, fp), 3);
  fclose(fp);
  assert_string_equal(buf, "old");
  char tmp[320];
  snprintf(tmp, sizeof tmp, "%s.tmp", f->out);
  assert_int_not_equal(access(tmp, F_OK), 0);
  unlink(f->out);
}

static void missing_layer(void **state) {
  fixture *f = *state;
  int n;
  tc_layer *ls = layers(f, &n);
  find(ls, n, "ip1")->nblobs = 0; /* present, but without its blobs */
  write_model(f, ls, n, TC_LAYER, 0);
  expect_error(f, DC_ERR_FORMAT, "layer 'ip1'", "small.net:", "missing from the file", NULL);
  write_model(f, ls, n - 3, TC_V1, 0); /* cut off ip2 as well: the first missing one is named */
  expect_error(f, DC_ERR_FORMAT, "layer 'ip1'", "missing", NULL);
  free(ls);
}

static void extra_layer(void **state) {
  fixture *f = *state;
  int n;
  tc_layer *ls = layers(f, &n);
  tc_layer *more = calloc((size_t)n + 1, sizeof *more);
  memcpy(more, ls, sizeof *ls * (size_t)n);
  more[n] = *find(ls, n, "ip2");
  more[n].name = "ip3";
  write_model(f, more, n + 1, TC_LAYER, 0);
  expect_error(f, DC_ERR_FORMAT, "layer 'ip3' has 1 blob(s)", "no weighted layer of that name", NULL);
  /* blobs on a layer the net has, but without weights */
  more[n].name = "relu1";
  find(more, n, "relu1")->name = "relu1_renamed";
  write_model(f, more, n + 1, TC_V1, 0);
  expect_error(f, DC_ERR_FORMAT, "layer 'relu1'", "has no weights", "small.net:", NULL);
  /* the same name twice with blobs */
  memcpy(more, ls, sizeof *ls * (size_t)n);
  more[n] = *find(ls, n, "conv1");
  write_model(f, more, n + 1, TC_LAYER, 0);
  expect_error(f, DC_ERR_FORMAT, "layer 'conv1' has blobs twice", NULL);
  free(more);
  free(ls);
}

static void mis_shaped_blob(void **state) {
  fixture *f = *state;
  int n;
  tc_layer *ls = layers(f, &n);
  tc_layer *conv = find(ls, n, "conv1");
  /* conv1 weight is 6x2x3x3 (group 2): a file made for group 1 has 6x4x3x3 */
  conv->dims[0][1] = 4;
  conv->count[0] = 6 * 4 * 3 * 3;
  float *big = calloc(conv->count[0], sizeof *big);
  const float *keep = conv->data[0];
  conv->data[0] = big;
  write_model(f, ls, n, TC_LAYER, 0);
  expect_error(f, DC_ERR_FORMAT, "layer 'conv1' weight is 6x4x3x3, expected 6x2x3x3", "small.net:", NULL);
  write_model(f, ls, n, TC_V1, TC_LEGACY_SHAPE);
  expect_error(f, DC_ERR_FORMAT, "layer 'conv1' weight is 6x4x3x3 (num x channels x height x width), expected 6x2x3x3",
               NULL);
  conv->dims[0][1] = 2, conv->count[0] = 6 * 2 * 3 * 3, conv->data[0] = keep;
  /* a rank that differs: an fc weight stored flat */
  tc_layer *ip1 = find(ls, n, "ip1");
  int64_t o = ip1->dims[0][0], in = ip1->dims[0][1];
  char want[128];
  ip1->ndim[0] = 1, ip1->dims[0][0] = o * in;
  write_model(f, ls, n, TC_LAYER, 0);
  snprintf(want, sizeof want, "layer 'ip1' weight is %lld, expected %lldx%lld", (long long)(o * in), (long long)o,
           (long long)in);
  expect_error(f, DC_ERR_FORMAT, want, NULL);
  ip1->ndim[0] = 2, ip1->dims[0][0] = o;
  /* a bias of the wrong length */
  ip1->dims[1][0] = 6, ip1->count[1] = 6;
  write_model(f, ls, n, TC_LAYER, 0);
  expect_error(f, DC_ERR_FORMAT, "layer 'ip1' bias is 6, expected 7", NULL);
  ip1->dims[1][0] = 7, ip1->count[1] = 7;
  /* data that does not fill the shape */
  ip1->count[0] = 10;
  write_model(f, ls, n, TC_LAYER, 0);
  snprintf(want, sizeof want, "layer 'ip1' weight holds 10 values, its shape needs %lld", (long long)(o * in));
  expect_error(f, DC_ERR_FORMAT, want, NULL);
  /* sanity: with everything restored the same list imports */
  ip1->count[0] = (size_t)(o * in);
  write_model(f, ls, n, TC_LAYER, 0);
  expect_exact(f);
  free(big);
  free(ls);
}

static void wrong_blob_count(void **state) {
  fixture *f = *state;
  int n;
  tc_layer *ls = layers(f, &n);
  find(ls, n, "conv1")->nblobs = 1;
  write_model(f, ls, n, TC_LAYER, 0);
  expect_error(f, DC_ERR_FORMAT, "layer 'conv1' has 1 blob(s)", "expects 2 (weight and bias)", NULL);
  find(ls, n, "conv1")->nblobs = 2;
  tc_layer *ip2 = find(ls, n, "ip2");
  ip2->nblobs = 2, ip2->ndim[1] = 1, ip2->dims[1][0] = 3, ip2->count[1] = 3, ip2->data[1] = ip2->data[0];
  write_model(f, ls, n, TC_V1, 0);
  expect_error(f, DC_ERR_FORMAT, "layer 'ip2' has 2 blob(s)", "expects 1 (weight only: bias_term = false)", NULL);
  free(ls);
}

/* A file cut anywhere, garbage, an empty file, a missing file. */
static void broken_files(void **state) {
  fixture *f = *state;
  int n;
  tc_layer *ls = layers(f, &n);
  write_model(f, ls, n, TC_LAYER, 0);
  free(ls);
  struct stat sb;
  assert_int_equal(stat(f->model, &sb), 0);
  FILE *fp = fopen(f->model, "rb");
  unsigned char *whole = malloc((size_t)sb.st_size);
  assert_int_equal(fread(whole, 1, (size_t)sb.st_size, fp), (size_t)sb.st_size);
  fclose(fp);
  /* every cut fails with a one-line error: most do not parse; a cut between two layers
   * parses and then lacks a layer */
  int parse_errors = 0;
  for (long cut = 1; cut < sb.st_size; cut += 1 + sb.st_size / 40) {
    fp = fopen(f->model, "wb");
    fwrite(whole, 1, (size_t)cut, fp);
    fclose(fp);
    dc_failure_clear();
    assert_int_equal(dc_import_caffe(f->model, f->net, f->out, NULL), DC_ERR_FORMAT);
    const char *msg = dc_failure_reason();
    assert_null(strchr(msg, '\n'));
    assert_int_equal(strncmp(msg, f->model, strlen(f->model)), 0);
    parse_errors += strstr(msg, "truncated or corrupt") != NULL;
  }
  assert_true(parse_errors >= 30);
  fp = fopen(f->model, "wb");
  fwrite(whole, 1, (size_t)sb.st_size / 2, fp);
  fclose(fp);
  expect_error(f, DC_ERR_FORMAT, "not a Caffe model: it does not parse as a NetParameter protobuf (truncated or corrupt)",
               NULL);
  /* garbage: a net file given as the model */
  fp = fopen(f->model, "wb");
  fputs(NET, fp);
  fclose(fp);
  expect_error(f, DC_ERR_FORMAT, "not a Caffe model", NULL);
  fp = fopen(f->model, "wb");
  fclose(fp);
  expect_error(f, DC_ERR_FORMAT, "empty file", NULL);
  unlink(f->model);
  expect_error(f, DC_ERR_IO, "cannot open", NULL);
  free(whole);
}

/* Seeded random byte changes to a valid model: the import either succeeds (a changed
 * float is still a float) or fails with one line naming the file; never a crash, which
 * the sanitizer build would catch. */
static void corrupted_bytes_fail_cleanly(void **state) {
  fixture *f = *state;
  int n;
  tc_layer *ls = layers(f, &n);
  write_model(f, ls, n, TC_V1, TC_LEGACY_SHAPE);
  free(ls);
  struct stat sb;
  assert_int_equal(stat(f->model, &sb), 0);
  size_t len = (size_t)sb.st_size;
  unsigned char *whole = malloc(len), *bad = malloc(len);
  FILE *fp = fopen(f->model, "rb");
  assert_int_equal(fread(whole, 1, len, fp), len);
  fclose(fp);
  dc_rng r;
  dc_rng_seed(&r, 11, 0);
  int failed = 0;
  for (int it = 0; it < 200; it++) {
    memcpy(bad, whole, len);
    int changes = 1 + (int)dc_rng_below(&r, 4);
    for (int c = 0; c < changes; c++) bad[dc_rng_below(&r, (uint32_t)len)] = (unsigned char)dc_rng_below(&r, 256);
    fp = fopen(f->model, "wb");
    fwrite(bad, 1, len, fp);
    fclose(fp);
    dc_failure_clear();
    dc_status s = dc_import_caffe(f->model, f->net, f->out, NULL);
    if (s == DC_OK) continue;
    failed++;
    const char *msg = dc_failure_reason();
    if (s != DC_ERR_FORMAT || strchr(msg, '\n') || strncmp(msg, f->model, strlen(f->model)) != 0)
      fail_msg("iteration %d: status %d: %s", it, s, msg);
  }
  print_message("  %d of 200 corrupted models refused, the others still fit the net\n", failed);
  assert_true(failed > 0);
  free(whole);
  free(bad);
}

/* Run "dctrain ARGS" (from $DC_DCTRAIN); exit status, combined output into out. */
static int run(const char *args, char *out, size_t cap) {
  const char *bin = getenv("DC_DCTRAIN");
  if (!bin) skip();
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void command_line(void **state) {
  fixture *f = *state;
  int n;
  tc_layer *ls = layers(f, &n);
  write_model(f, ls, n, TC_V1, TC_LEGACY_SHAPE);
  char args[1200], out[4096];
  snprintf(args, sizeof args, "import caffe '%s' '%s' --net '%s'", f->model, f->out, f->net);
  if (run(args, out, sizeof out) != 0) fail_msg("%s", out);
  assert_non_null(strstr(out, "V1 layers format"));
  assert_non_null(strstr(out, "3 weighted layers"));
  find(ls, n, "ip1")->nblobs = 0;
  write_model(f, ls, n, TC_LAYER, 0);
  assert_int_equal(run(args, out, sizeof out), 1);
  assert_non_null(strstr(out, "dctrain: "));
  assert_non_null(strstr(out, "layer 'ip1'"));
  assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
  snprintf(args, sizeof args, "import caffe '%s' '%s'", f->model, f->out);
  assert_int_equal(run(args, out, sizeof out), 2);
  assert_non_null(strstr(out, "missing --net"));
  snprintf(args, sizeof args, "import onnx '%s' '%s' --net x.net", f->model, f->out);
  assert_int_equal(run(args, out, sizeof out), 2);
  assert_non_null(strstr(out, "unknown format 'onnx'"));
  assert_int_equal(run("import caffe only_one_file", out, sizeof out), 2);
  assert_int_equal(run("import --help", out, sizeof out), 0);
  assert_non_null(strstr(out, "--net NET.net"));
  assert_int_equal(run("--help", out, sizeof out), 0);
  assert_non_null(strstr(out, "import caffe"));
  free(ls);
}

int main(void) {
  if (!dc_import_caffe_available()) {
    printf("skipped: dctrain was built without protobuf-c\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(every_format_reads_back_exactly, setup, teardown),
      cmocka_unit_test_setup_teardown(order_and_blobless_layers_do_not_matter, setup, teardown),
      cmocka_unit_test_setup_teardown(missing_layer, setup, teardown),
      cmocka_unit_test_setup_teardown(extra_layer, setup, teardown),
      cmocka_unit_test_setup_teardown(mis_shaped_blob, setup, teardown),
      cmocka_unit_test_setup_teardown(wrong_blob_count, setup, teardown),
      cmocka_unit_test_setup_teardown(broken_files, setup, teardown),
      cmocka_unit_test_setup_teardown(corrupted_bytes_fail_cleanly, setup, teardown),
      cmocka_unit_test_setup_teardown(command_line, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
