/* experiment.c — read an experiment cfg and run its stages with the trainer. */
#include "dc/experiment.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/dnn.h"
#include "dc/cfg.h"
#include "dc/ckpt.h"
#include "dc/data.h"
#include "dc/train.h"

static const char *const g_sections[] = {"experiment", "data", "solver"};
#define NSECTIONS ((int)(sizeof g_sections / sizeof g_sections[0]))
static const char *const g_data_kinds[DC_DATA_KIND_COUNT] = {"mnist"};

static dc_status copy_str(dc_cfg_section *s, const char *key, const char *def, char *dst, size_t cap) {
  const char *v;
  DC_TRY(dc_cfg_str(s, key, def, &v));
  if (strlen(v) >= cap) return dc_cfg_key_error(s, key, "longer than %zu characters", cap - 1);
  snprintf(dst, cap, "%s", v);
  return DC_OK;
}

static dc_status parse_experiment(dc_cfg_section *s, dc_experiment *e) {
  long v;
  const char *base = strrchr(e->path, '/');
  char defname[64];
  snprintf(defname, sizeof defname, "%.63s", base ? base + 1 : e->path);
  char *dot = strrchr(defname, '.');
  if (dot) *dot = '\0';
  DC_TRY(copy_str(s, "name", defname, e->name, sizeof e->name));
  DC_TRY(dc_cfg_require(s, "net"));
  DC_TRY(copy_str(s, "net", "", e->net, sizeof e->net));
  char defout[600];
  snprintf(defout, sizeof defout, "runs/%s", e->name);
  DC_TRY(copy_str(s, "output", defout, e->output, sizeof e->output));
  DC_TRY(copy_str(s, "weights", "", e->weights, sizeof e->weights));
  DC_TRY(dc_cfg_int_range(s, "seed", 1, 0, INT64_MAX / 2, &v));
  e->seed = (uint64_t)v;
  DC_TRY(dc_cfg_int_range(s, "threads", 2, 1, 1024, &v));
  e->threads = (int)v;
  return dc_cfg_check_unused(s);
}

static dc_status parse_data(dc_cfg_section *s, dc_experiment *e) {
  int kind;
  DC_TRY(dc_cfg_enum(s, "kind", g_data_kinds, DC_DATA_KIND_COUNT, DC_DATA_MNIST, &kind));
  e->data_kind = (dc_data_kind)kind;
  DC_TRY(copy_str(s, "dir", "data/mnist", e->data_dir, sizeof e->data_dir));
  DC_TRY(dc_cfg_float_range(s, "scale", 0.00390625, 1e-12, 1e12, &e->scale));
  DC_TRY(dc_cfg_int_range(s, "train_limit", 0, 0, 1L << 40, &e->train_limit));
  DC_TRY(dc_cfg_int_range(s, "test_limit", 0, 0, 1L << 40, &e->test_limit));
  DC_TRY(dc_cfg_bool(s, "shuffle", 1, &e->shuffle));
  return dc_cfg_check_unused(s);
}

static dc_status parse_solver(dc_cfg_section *s, dc_experiment *e) {
  dc_solver_conf *c = &e->solver;
  long v;
  int policy;
  DC_TRY(dc_cfg_require(s, "base_lr"));
  DC_TRY(dc_cfg_float_range(s, "base_lr", 0.01, 0.0, 1e6, &c->base_lr));
  DC_TRY(dc_cfg_float_range(s, "momentum", 0.9, 0.0, 0.999999, &c->momentum));
  DC_TRY(dc_cfg_float_range(s, "weight_decay", 0.0, 0.0, 1.0, &c->weight_decay));
  DC_TRY(dc_cfg_enum(s, "lr_policy", dc_lr_policy_names, DC_LR_POLICY_COUNT, DC_LR_FIXED, &policy));
  c->policy = (dc_lr_policy)policy;
  DC_TRY(dc_cfg_float_range(s, "gamma", 0.1, 0.0, 1e6, &c->gamma));
  DC_TRY(dc_cfg_float_range(s, "power", 1.0, 0.0, 1e6, &c->power));
  DC_TRY(dc_cfg_int_range(s, "stepsize", 0, 0, 1L << 40, &v));
  c->stepsize = v;
  double steps[DC_MAX_STEPVALUES];
  DC_TRY(dc_cfg_float_list(s, "stepvalue", steps, DC_MAX_STEPVALUES, &c->nstepvalues));
  for (int i = 0; i < c->nstepvalues; i++) {
    c->stepvalue[i] = (long)steps[i];
    if (steps[i] < 0 || (i > 0 && c->stepvalue[i] <= c->stepvalue[i - 1]))
      return dc_cfg_key_error(s, "stepvalue", "expected increasing non-negative iterations");
  }
  DC_TRY(dc_cfg_int_range(s, "max_iter", 10000, 0, 1L << 40, &c->max_iter));
  if (c->policy == DC_LR_STEP && c->stepsize <= 0)
    return dc_cfg_key_error(s, "stepsize", "lr_policy step needs a positive stepsize");
  if (c->policy == DC_LR_MULTISTEP && c->nstepvalues == 0)
    return dc_cfg_key_error(s, "stepvalue", "lr_policy multistep needs stepvalue = i1, i2, ...");
  DC_TRY(dc_cfg_int_range(s, "batch", 64, 1, 1 << 16, &v));
  e->batch = (int)v;
  DC_TRY(dc_cfg_int_range(s, "test_batch", 100, 1, 1 << 16, &v));
  e->test_batch = (int)v;
  DC_TRY(dc_cfg_int_range(s, "display", 100, 0, 1L << 40, &e->display));
  DC_TRY(dc_cfg_int_range(s, "test_interval", 1000, 0, 1L << 40, &e->test_interval));
  DC_TRY(dc_cfg_int_range(s, "test_iters", 0, 0, 1L << 40, &e->test_iters));
  DC_TRY(dc_cfg_int_range(s, "snapshot", 5000, 0, 1L << 40, &e->snapshot));
  return dc_cfg_check_unused(s);
}

static dc_status parse_all(dc_cfg *cfg, dc_experiment *e) {
  for (int i = 0; i < dc_cfg_count(cfg); i++) {
    dc_cfg_section *s = dc_cfg_at(cfg, i);
    const char *name = dc_cfg_section_name(s);
    int known = 0;
    for (int j = 0; j < NSECTIONS; j++) known |= strcmp(name, g_sections[j]) == 0;
    if (!known) {
      const char *hint = dc_closest(name, g_sections, NSECTIONS);
      if (hint) return dc_cfg_section_error(s, "unknown section (did you mean [%s]?)", hint);
      return dc_cfg_section_error(s, "unknown section (expected one of: experiment, data, solver)");
    }
    if (dc_cfg_find(cfg, name) != s) return dc_cfg_section_error(s, "section [%s] appears twice", name);
  }
  dc_cfg_section *s = dc_cfg_find(cfg, "experiment");
  if (!s) return dc_fail(DC_ERR_CFG, "%s: missing section [experiment] (it names the net)", e->path);
  DC_TRY(parse_experiment(s, e));
  dc_cfg *empty = NULL;
  s = dc_cfg_find(cfg, "data");
  if (!s) {
    /* all defaults: parse an empty section so the defaults come from one place */
    DC_TRY(dc_cfg_parse("[data]\n", e->path, &empty));
    s = dc_cfg_at(empty, 0);
  }
  dc_status st = parse_data(s, e);
  dc_cfg_free(empty);
  DC_TRY(st);
  s = dc_cfg_find(cfg, "solver");
  if (!s) return dc_fail(DC_ERR_CFG, "%s: missing section [solver]", e->path);
  return parse_solver(s, e);
}

dc_status dc_experiment_load(const char *path, dc_experiment *e) {
  memset(e, 0, sizeof *e);
  if (strlen(path) >= sizeof e->path) return dc_fail(DC_ERR_ARG, "%s: path too long", path);
  snprintf(e->path, sizeof e->path, "%s", path);
  dc_cfg *cfg;
  DC_TRY(dc_cfg_load(path, &cfg));
  dc_status st = parse_all(cfg, e);
  dc_cfg_free(cfg);
  return st;
}

/* mkdir -p */
static dc_status make_dirs(const char *dir) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return dc_fail(DC_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
      *p = c;
      if (c == '\0') break;
    }
  }
  return DC_OK;
}

static dc_status open_data(const dc_experiment *e, int train, dc_dataset **out) {
  DC_TRY(dc_mnist_open(e->data_dir, train, (float)e->scale, out));
  long limit = train ? e->train_limit : e->test_limit;
  if (limit > 0) dc_dataset_limit(*out, (int)(limit < dc_dataset_count(*out) ? limit : dc_dataset_count(*out)));
  return DC_OK;
}

static dc_status check_fit(const dc_experiment *e, dc_trainer *t) {
  int c, h, w;
  dc_dataset_shape(t->train_set, &c, &h, &w);
  dc_shape in = t->train_net->input;
  if (c != in.c || h != in.h || w != in.w)
    return dc_fail(DC_ERR_SHAPE, "%s: the data is %dx%dx%d (CxHxW) but %s's [input] is %dx%dx%d", e->path, c, h, w,
                   e->net, in.c, in.h, in.w);
  int classes = dc_dataset_classes(t->train_set);
  if (classes > t->train_net->classes)
    return dc_fail(DC_ERR_SHAPE, "%s: the data has %d classes but %s outputs %d", e->path, classes, e->net,
                   t->train_net->classes);
  return DC_OK;
}

typedef struct {
  dc_trainer t;
} run_ctx;

static void trainer_close(dc_trainer *t) {
  dc_net_free(t->test_net);
  dc_net_free(t->train_net);
  dc_dataset_free(t->train_set);
  dc_dataset_free(t->test_set);
  free(t->labels);
  if (t->log) fclose(t->log);
}

static dc_status trainer_open(const dc_experiment *e, const char *resume, FILE *out, dc_trainer *t) {
  memset(t, 0, sizeof *t);
  t->out = out;
  t->batch = e->batch;
  t->test_batch = e->test_batch;
  t->seed = e->seed;
  t->shuffle = e->shuffle;
  t->display = e->display;
  t->test_interval = e->test_interval;
  t->test_iters = e->test_iters;
  t->snapshot = e->snapshot;
  t->state.seed = e->seed;
  t->stop_after = e->stop_after;
  DC_TRY(dc_net_load(e->net, e->batch, DC_NET_TRAIN, NULL, &t->train_net));
  DC_TRY(dc_net_load(e->net, e->test_batch, 0, t->train_net->params, &t->test_net));
  DC_TRY(open_data(e, 1, &t->train_set));
  DC_TRY(open_data(e, 0, &t->test_set));
  DC_TRY(check_fit(e, t));
  int nl = e->batch > e->test_batch ? e->batch : e->test_batch;
  t->labels = calloc((size_t)nl, sizeof(int));
  if (!t->labels) return dc_fail(DC_ERR_NOMEM, "out of memory");
  DC_TRY(make_dirs(e->output));
  snprintf(t->ckpt_path, sizeof t->ckpt_path, "%.511s/ckpt.h5", e->output);
  dc_net_init_params(t->train_net, e->seed);
  if (resume) {
    DC_TRY(dc_ckpt_load(resume, t->train_net->params, &t->state));
    if (t->state.seed != e->seed)
      return dc_fail(DC_ERR_ARG, "%s: saved with seed %llu but %s says seed = %llu", resume,
                     (unsigned long long)t->state.seed, e->path, (unsigned long long)e->seed);
  } else if (e->weights[0]) {
    DC_TRY(dc_ckpt_load(e->weights, t->train_net->params, NULL));
  }
  char logpath[600];
  snprintf(logpath, sizeof logpath, "%s/log.csv", e->output);
  int fresh = !resume;
  t->log = fopen(logpath, fresh ? "w" : "a");
  if (!t->log) return dc_fail(DC_ERR_IO, "%s: cannot open for writing: %s", logpath, strerror(errno));
  if (fresh) fprintf(t->log, "stage,stage_iter,iter,phase,loss,lr,top1,top5,images_per_s\n");
  return DC_OK;
}

dc_status dc_experiment_run(const dc_experiment *e, const char *resume, FILE *out) {
  dc_dnn_set_threads(e->threads);
  dc_trainer t;
  dc_status st = trainer_open(e, resume, out, &t);
  if (st == DC_OK && out) {
    fprintf(out, "dctrain: %s — net %s, %d params, %d train / %d test images, output %s/\n", e->name, e->net,
            (int)t.train_net->params->total, dc_dataset_count(t.train_set), dc_dataset_count(t.test_set),
            e->output);
    if (resume) fprintf(out, "resuming from %s at iteration %ld\n", resume, (long)t.state.iter);
  }
  /* stage 0: dense training */
  if (st == DC_OK && t.state.stage == 0) {
    st = dc_train(&t, &e->solver, e->solver.max_iter, "train");
    if (st == DC_OK && !t.stopped) {
      t.state.stage = 1;
      t.state.stage_iter = 0;
      st = dc_trainer_snapshot(&t);
    }
    if (st == DC_OK && !t.stopped) {
      char path[600];
      snprintf(path, sizeof path, "%s/train.h5", e->output);
      st = dc_ckpt_save(path, t.train_net->params, NULL);
      if (st == DC_OK && out) fprintf(out, "dense weights: %s\n", path);
    }
  }
  trainer_close(&t);
  return st;
}
