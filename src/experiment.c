/* experiment.c — read an experiment cfg and run its stages with the trainer. */
#include "dc/experiment.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dc/cfg.h"
#include "dc/ckpt.h"
#include "dc/compress.h"
#include "dc/data.h"
#include "dc/dist.h"
#include "dc/layer.h"
#include "dc/train.h"
#include "dc/report.h"
#include "gradsync.h"
#include "stages.h"
#include "atomic.h"
#include "util.h"

static const char *const g_sections[] = {"experiment", "data", "solver", "prune", "quantize", "encode"};
#define NSECTIONS ((int)(sizeof g_sections / sizeof g_sections[0]))
static const char *const g_data_kinds[DC_DATA_KIND_COUNT] = {"mnist", "imagenet"};

static dc_status copy_str(dc_cfg_section *s, const char *key, const char *def, char *dst, size_t cap) {
  const char *v;
  DC_TRY(dc_cfg_str(s, key, def, &v));
  if (strlen(v) >= cap) return dc_cfg_key_error(s, key, "longer than %zu characters", cap - 1);
  snprintf(dst, cap, "%s", v);
  return DC_OK;
}

/* A file the experiment names must be readable: say which key named it and where
 * relative paths start from (a run started from another directory is the usual cause). */
static dc_status check_readable(dc_cfg_section *s, const char *key, const char *path) {
  if (access(path, R_OK) == 0) return DC_OK;
  int err = errno;
  char cwd[512];
  if (path[0] != '/' && getcwd(cwd, sizeof cwd))
    return dc_cfg_key_error(s, key, "cannot open '%s': %s (relative paths start from the current directory, %s)", path,
                            strerror(err), cwd);
  return dc_cfg_key_error(s, key, "cannot open '%s': %s", path, strerror(err));
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
  DC_TRY(check_readable(s, "net", e->net));
  char defout[600];
  snprintf(defout, sizeof defout, "runs/%s", e->name);
  DC_TRY(copy_str(s, "output", defout, e->output, sizeof e->output));
  DC_TRY(copy_str(s, "weights", "", e->weights, sizeof e->weights));
  if (e->weights[0]) DC_TRY(check_readable(s, "weights", e->weights));
  DC_TRY(dc_cfg_int_range(s, "seed", 1, 0, INT64_MAX / 2, &v));
  e->seed = (uint64_t)v;
  DC_TRY(dc_cfg_int_range(s, "threads", 2, 1, 1024, &v));
  e->threads = (int)v;
  return dc_cfg_check_unused(s);
}

/* Keys only kind = imagenet reads; with another kind they are an error, not ignored. */
static const char *const g_imagenet_keys[] = {"resize", "crop",     "mean",        "mirror",   "loader_threads",
                                              "std",    "channels", "resize_mode", "val_list", "on_bad_image"};
static const char *const g_channels[] = {"bgr", "rgb"};
static const char *const g_resize_modes[] = {"squash", "shorter"};
static const char *const g_on_bad[] = {"stop", "skip"}; /* indexed by dc_on_bad */

static dc_status parse_data(dc_cfg_section *s, dc_experiment *e) {
  int kind;
  DC_TRY(dc_cfg_enum(s, "kind", g_data_kinds, DC_DATA_KIND_COUNT, DC_DATA_MNIST, &kind));
  e->data_kind = (dc_data_kind)kind;
  int imagenet = e->data_kind == DC_DATA_IMAGENET;
  DC_TRY(copy_str(s, "dir", imagenet ? "data/imagenet" : "data/mnist", e->data_dir, sizeof e->data_dir));
  DC_TRY(dc_cfg_float_range(s, "scale", imagenet ? 1.0 : 0.00390625, 1e-12, 1e12, &e->scale));
  DC_TRY(dc_cfg_int_range(s, "train_limit", 0, 0, 1L << 40, &e->train_limit));
  DC_TRY(dc_cfg_int_range(s, "test_limit", 0, 0, 1L << 40, &e->test_limit));
  DC_TRY(dc_cfg_bool(s, "shuffle", 1, &e->shuffle));
  if (!imagenet) {
    for (size_t i = 0; i < sizeof g_imagenet_keys / sizeof *g_imagenet_keys; i++)
      if (dc_cfg_has(s, g_imagenet_keys[i]))
        return dc_cfg_key_error(s, g_imagenet_keys[i], "only used with kind = imagenet (this is kind = %s)",
                                g_data_kinds[e->data_kind]);
    return dc_cfg_check_unused(s);
  }
  long v;
  DC_TRY(dc_cfg_int_range(s, "resize", 256, 1, 4096, &v));
  e->resize = (int)v;
  DC_TRY(dc_cfg_int_range(s, "crop", 227, 1, 65536, &v));
  e->crop = (int)v;
  if (e->crop > e->resize)
    return dc_cfg_key_error(s, "crop", "crop %d is larger than resize = %d (crops are cut from the resized image)",
                            e->crop, e->resize);
  DC_TRY(dc_cfg_enum(s, "resize_mode", g_resize_modes, 2, DC_RESIZE_SQUASH, &e->resize_mode));
  DC_TRY(dc_cfg_enum(s, "channels", g_channels, 2, 0, &e->rgb));
  int nmean, nstd;
  DC_TRY(dc_cfg_float_list(s, "mean", e->mean, 3, &nmean));
  if (nmean == 0) {
    e->mean[0] = 104; /* ImageNet B, G, R means (Caffe) */
    e->mean[1] = 117;
    e->mean[2] = 123;
  } else if (nmean != 3) {
    return dc_cfg_key_error(s, "mean", "expected 3 numbers (one per output channel, in `channels` order), got %d",
                            nmean);
  }
  DC_TRY(dc_cfg_float_list(s, "std", e->std, 3, &nstd));
  if (nstd == 0) {
    e->std[0] = e->std[1] = e->std[2] = 1;
  } else if (nstd != 3) {
    return dc_cfg_key_error(s, "std", "expected 3 numbers (one per output channel, in `channels` order), got %d", nstd);
  }
  for (int i = 0; i < 3; i++)
    if (!(e->std[i] > 0))
      return dc_cfg_key_error(s, "std", "expected positive numbers (they divide), got %g", e->std[i]);
  DC_TRY(dc_cfg_bool(s, "mirror", 1, &e->mirror));
  DC_TRY(dc_cfg_int_range(s, "loader_threads", 2, 1, 64, &v));
  e->loader_threads = (int)v;
  DC_TRY(copy_str(s, "val_list", "", e->val_list, sizeof e->val_list));
  DC_TRY(dc_cfg_enum(s, "on_bad_image", g_on_bad, 2, DC_BAD_SKIP, &e->on_bad_image));
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

/* The weighted layers of the net file, for checking per-layer keys in stage sections. */
typedef struct {
  int n;
  char name[DC_MAX_LAYER_SETTINGS][64];
} layer_names;

static dc_status read_layer_names(const dc_experiment *e, layer_names *ln) {
  dc_cfg *net;
  ln->n = 0;
  DC_TRY(dc_cfg_load(e->net, &net));
  for (int i = 0; i < dc_cfg_count(net) && ln->n < DC_MAX_LAYER_SETTINGS; i++) {
    dc_cfg_section *s = dc_cfg_at(net, i);
    int type = dc_layer_type_from_name(dc_cfg_section_name(s)); /* -1: the net builder reports it */
    if (type < 0 || dc_layer_type_weights((dc_layer_type)type) == DC_WEIGHTS_NONE) continue;
    const char *name = NULL;
    for (int k = 0; k < dc_cfg_key_count(s); k++) {
      const char *key, *value;
      dc_cfg_key_at(s, k, &key, &value, NULL);
      if (strcmp(key, "name") == 0) name = value;
    }
    if (!name) continue; /* the net builder reports it */
    snprintf(ln->name[ln->n], 64, "%.63s", name);
    ln->n++;
  }
  dc_cfg_free(net);
  return DC_OK;
}

static int layer_index(const layer_names *ln, const char *name) {
  for (int i = 0; i < ln->n; i++)
    if (strcmp(ln->name[i], name) == 0) return i;
  return -1;
}

typedef enum { LAYER_FRACTION, LAYER_BITS, LAYER_NUMBER } layer_value;

/* Every key that is not one of opts[] must name a weighted layer; their values are
 * returned in file order. */
static dc_status parse_layer_keys(dc_cfg_section *s, const layer_names *ln, const char *netpath,
                                  const char *const *opts, int nopts, layer_value kind, dc_layer_setting *out, int *n) {
  *n = 0;
  const char *cands[DC_MAX_LAYER_SETTINGS + 16];
  int nc = 0;
  for (int i = 0; i < nopts; i++) cands[nc++] = opts[i];
  for (int i = 0; i < ln->n; i++) cands[nc++] = ln->name[i];
  for (int k = 0; k < dc_cfg_key_count(s); k++) {
    const char *key, *value;
    dc_cfg_key_at(s, k, &key, &value, NULL);
    int is_opt = 0;
    for (int i = 0; i < nopts; i++) is_opt |= strcmp(key, opts[i]) == 0;
    if (is_opt) continue;
    if (layer_index(ln, key) < 0) {
      const char *hint = dc_closest(key, cands, nc);
      if (hint)
        return dc_cfg_key_error(s, key, "neither an option nor a weighted layer of %s (did you mean '%s'?)", netpath,
                                hint);
      return dc_cfg_key_error(s, key, "neither an option nor a weighted layer of %s", netpath);
    }
    DC_ASSERT(*n < DC_MAX_LAYER_SETTINGS);
    dc_layer_setting *ls = &out[(*n)++];
    snprintf(ls->layer, sizeof ls->layer, "%s", key);
    if (kind == LAYER_FRACTION) {
      DC_TRY(dc_cfg_fraction(s, key, 1.0, &ls->value));
    } else if (kind == LAYER_BITS) {
      long bits;
      DC_TRY(dc_cfg_int_range(s, key, 8, 1, 8, &bits));
      ls->value = (double)bits;
    } else {
      DC_TRY(dc_cfg_float_range(s, key, 1.0, 0.0, 100.0, &ls->value));
    }
  }
  return dc_cfg_check_unused(s);
}

static const char *const g_prune_modes[] = {"density", "quality"};
static const char *const g_freeze[] = {"none", "conv", "fc"};
static const char *const g_inits[] = {"linear", "density", "random"};

/* A stage's `lr_policy`: -1 (absent) for [solver]'s, else one that needs no step list
 * (multistep's stepvalue counts [solver] iterations); its gamma, power and stepsize are
 * [solver]'s, counted from the stage's iteration 0 (poly: over the stage's iterations). */
static dc_status stage_policy(dc_cfg_section *s, const dc_experiment *e, int *out) {
  *out = -1;
  if (!dc_cfg_has(s, "lr_policy")) return DC_OK;
  DC_TRY(dc_cfg_enum(s, "lr_policy", dc_lr_policy_names, DC_LR_POLICY_COUNT, DC_LR_FIXED, out));
  if (*out == DC_LR_MULTISTEP)
    return dc_cfg_key_error(s, "lr_policy", "multistep's stepvalue counts [solver] iterations: use step, poly, inv, exp or fixed");
  if (*out == DC_LR_STEP && e->solver.stepsize <= 0)
    return dc_cfg_key_error(s, "lr_policy", "step takes [solver] stepsize, which is not set");
  return DC_OK;
}

static dc_status parse_prune(dc_cfg_section *s, const layer_names *ln, dc_experiment *e) {
  dc_prune_conf *c = &e->prune;
  long v;
  int mode, freeze;
  c->enabled = 1;
  DC_TRY(dc_cfg_enum(s, "mode", g_prune_modes, 2, DC_PRUNE_DENSITY, &mode));
  c->mode = (dc_prune_mode)mode;
  DC_TRY(dc_cfg_int_range(s, "rounds", 1, 1, 1000, &v));
  c->rounds = (int)v;
  DC_TRY(dc_cfg_int_range(s, "retrain_iters", 1000, 0, 1L << 40, &c->retrain_iters));
  DC_TRY(dc_cfg_int_range(s, "final_retrain_iters", c->retrain_iters, 0, 1L << 40, &c->final_retrain_iters));
  DC_TRY(dc_cfg_float_range(s, "base_lr", e->solver.base_lr / 10, 0.0, 1e6, &c->lr));
  DC_TRY(stage_policy(s, e, &c->policy));
  DC_TRY(dc_cfg_enum(s, "freeze", g_freeze, 3, DC_FREEZE_NONE, &freeze));
  c->freeze = (dc_freeze)freeze;
  DC_TRY(dc_cfg_bool(s, "adjust_dropout", 1, &c->adjust_dropout));
  DC_TRY(dc_cfg_int_range(s, "splice", 0, 0, 1L << 40, &c->splice));
  DC_TRY(dc_cfg_fraction(s, "splice_margin", 0.0, &c->splice_margin));
  if (c->splice && c->mode != DC_PRUNE_DENSITY)
    return dc_cfg_key_error(s, "splice", "splicing re-chooses masks to the layers' densities: it needs mode = density");
  static const char *const opts[] = {"mode",   "rounds",         "retrain_iters", "final_retrain_iters",
                                     "base_lr", "freeze", "adjust_dropout", "splice", "splice_margin", "lr_policy"};
  DC_TRY(parse_layer_keys(s, ln, e->net, opts, 10, c->mode == DC_PRUNE_DENSITY ? LAYER_FRACTION : LAYER_NUMBER, c->layer,
                          &c->nlayers));
  for (int i = 0; c->mode == DC_PRUNE_DENSITY && i < c->nlayers; i++)
    if (c->layer[i].value <= 0.0)
      return dc_cfg_key_error(s, c->layer[i].layer, "a layer must keep some weights (density > 0)");
  return DC_OK;
}

static dc_status parse_quantize(dc_cfg_section *s, const layer_names *ln, dc_experiment *e) {
  dc_quantize_conf *c = &e->quantize;
  long v;
  c->enabled = 1;
  DC_TRY(dc_cfg_int_range(s, "conv_bits", 8, 1, 8, &v));
  c->conv_bits = (int)v;
  DC_TRY(dc_cfg_int_range(s, "fc_bits", 5, 1, 8, &v));
  c->fc_bits = (int)v;
  DC_TRY(dc_cfg_enum(s, "init", g_inits, 3, DC_KMEANS_LINEAR, &c->init));
  DC_TRY(dc_cfg_int_range(s, "retrain_iters", 1000, 0, 1L << 40, &c->retrain_iters));
  DC_TRY(dc_cfg_float_range(s, "base_lr", e->solver.base_lr / 10, 0.0, 1e6, &c->lr));
  DC_TRY(stage_policy(s, e, &c->policy));
  static const char *const opts[] = {"conv_bits", "fc_bits", "init", "retrain_iters", "base_lr", "lr_policy"};
  return parse_layer_keys(s, ln, e->net, opts, 6, LAYER_BITS, c->layer, &c->nlayers);
}

/* A gap width key: `auto` (DC_DCZ_GAP_AUTO) or 1..16. */
static dc_status gap_bits_key(dc_cfg_section *s, const char *key, int def, int *out) {
  const char *v;
  *out = def;
  if (!dc_cfg_has(s, key)) return DC_OK;
  DC_TRY(dc_cfg_str(s, key, NULL, &v));
  if (strcmp(v, "auto") == 0) {
    *out = DC_DCZ_GAP_AUTO;
    return DC_OK;
  }
  char *end;
  long n = strtol(v, &end, 10);
  if (end == v || *end || n < 1 || n > 16)
    return dc_cfg_key_error(s, key, "expected auto or a width of 1..16 bits, got '%s'", v);
  *out = (int)n;
  return DC_OK;
}

static dc_status parse_encode(dc_cfg_section *s, dc_experiment *e) {
  dc_encode_conf *c = &e->encode;
  int all;
  c->enabled = 1;
  DC_TRY(gap_bits_key(s, "gap_bits", DC_DCZ_GAP_AUTO, &all));
  DC_TRY(gap_bits_key(s, "conv_gap_bits", all, &c->conv_gap_bits));
  DC_TRY(gap_bits_key(s, "fc_gap_bits", all, &c->fc_gap_bits));
  static const char *const bias[] = {"auto", "32", "16", "8"};
  int b;
  DC_TRY(dc_cfg_enum(s, "bias_bits", bias, 4, 0, &b));
  c->bias_bits = b == 0 ? 0 : atoi(bias[b]);
  static const char *const cbits[] = {"auto", "32", "16"};
  DC_TRY(dc_cfg_enum(s, "codebook_bits", cbits, 3, 0, &b));
  c->codebook_bits = b == 0 ? 0 : atoi(cbits[b]);
  return dc_cfg_check_unused(s);
}

static dc_status parse_stages(dc_cfg *cfg, dc_experiment *e) {
  dc_cfg_section *p = dc_cfg_find(cfg, "prune"), *q = dc_cfg_find(cfg, "quantize"), *c = dc_cfg_find(cfg, "encode");
  if (!p && !q && !c) return DC_OK;
  layer_names ln;
  DC_TRY(read_layer_names(e, &ln));
  if (p) DC_TRY(parse_prune(p, &ln, e));
  if (q) DC_TRY(parse_quantize(q, &ln, e));
  if (c) {
    if (!q) return dc_cfg_section_error(c, "encoding stores codebook indices: it needs a [quantize] section before it");
    DC_TRY(parse_encode(c, e));
  }
  /* stages run in a fixed order: prune, quantize, encode */
  int lp = p ? dc_cfg_section_line(p) : 0, lq = q ? dc_cfg_section_line(q) : 0, lc = c ? dc_cfg_section_line(c) : 0;
  /* (a section a --set created has line 0 and no place in the file to check) */
  if (p && q && lp && lq && lq < lp)
    return dc_cfg_section_error(
        p, "must come before [quantize] (line %d): stages run in the order [prune], [quantize], [encode]", lq);
  if (q && c && lq && lc && lc < lq)
    return dc_cfg_section_error(
        q, "must come before [encode] (line %d): stages run in the order [prune], [quantize], [encode]", lc);
  return DC_OK;
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
      return dc_cfg_section_error(
          s, "unknown section (expected one of: experiment, data, solver, prune, quantize, encode)");
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
  DC_TRY(parse_solver(s, e));
  return parse_stages(cfg, e);
}

dc_status dc_experiment_load(const char *path, dc_experiment *e) { return dc_experiment_load_set(path, NULL, 0, e); }

dc_status dc_experiment_load_set(const char *path, const char *const *sets, int nsets, dc_experiment *e) {
  memset(e, 0, sizeof *e);
  if (strlen(path) >= sizeof e->path) return dc_fail(DC_ERR_ARG, "%s: path too long", path);
  snprintf(e->path, sizeof e->path, "%s", path);
  dc_cfg *cfg;
  DC_TRY(dc_cfg_load(path, &cfg));
  dc_status st = DC_OK;
  for (int i = 0; st == DC_OK && i < nsets; i++) st = dc_cfg_override(cfg, sets[i]);
  if (st == DC_OK) st = parse_all(cfg, e);
  dc_cfg_free(cfg);
  return st;
}

dc_status dc_experiment_open_data(const dc_experiment *e, int train, dc_dataset **out) {
  if (e->data_kind == DC_DATA_IMAGENET) {
    dc_imagefolder_conf c;
    dc_imagefolder_defaults(&c);
    c.resize = e->resize;
    c.resize_mode = (dc_resize_mode)e->resize_mode;
    c.crop = e->crop;
    c.rgb = e->rgb;
    for (int i = 0; i < 3; i++) c.mean[i] = (float)e->mean[i];
    for (int i = 0; i < 3; i++) c.std[i] = (float)e->std[i];
    c.scale = (float)e->scale;
    c.mirror = e->mirror;
    c.threads = e->loader_threads;
    c.val_list = e->val_list;
    DC_TRY(dc_imagefolder_open(e->data_dir, train, &c, out));
    dc_dataset_set_on_bad(*out, (dc_on_bad)e->on_bad_image, stderr);
  } else {
    DC_TRY(dc_mnist_open(e->data_dir, train, (float)e->scale, out));
  }
  /* limits keep samples spread over the whole set (every class); test_iters tests
   * test_iters batches, so it too is a limit: the first batches would be the first classes */
  long limit = train ? e->train_limit : e->test_limit;
  if (!train && e->test_iters > 0 && (limit == 0 || e->test_iters * e->test_batch < limit))
    limit = e->test_iters * e->test_batch;
  if (limit > 0) dc_dataset_limit(*out, (int)(limit < dc_dataset_count(*out) ? limit : dc_dataset_count(*out)));
  return DC_OK;
}

dc_status dc_experiment_check_fit(const dc_experiment *e, const dc_dataset *d, const dc_net *net) {
  int c, h, w;
  dc_dataset_shape(d, &c, &h, &w);
  dc_shape in = net->input;
  if (c != in.c || h != in.h || w != in.w)
    return dc_fail(DC_ERR_SHAPE, "%s: the data is %dx%dx%d (CxHxW) but %s's [input] is %dx%dx%d", e->path, c, h, w,
                   e->net, in.c, in.h, in.w);
  int classes = dc_dataset_classes(d);
  if (classes > net->classes)
    return dc_fail(DC_ERR_SHAPE, "%s: the data has %d classes but %s outputs %d", e->path, classes, e->net,
                   net->classes);
  return DC_OK;
}

static void trainer_close(dc_trainer *t) {
  dc_loader_close(t->loader); /* its workers read train_set: first */
  dc_net_free(t->test_net);
  dc_net_free(t->train_net);
  dc_dataset_free(t->train_set);
  dc_dataset_free(t->test_set);
  free(t->labels);
  if (t->log) fclose(t->log);
  if (t->lock_fd >= 0) close(t->lock_fd);
}

/* A run killed after its last checkpoint logged iterations it will now redo: keep only
 * the header and the lines up to iteration `iter` (third column), atomically. */
static dc_status trim_log(const char *path, int64_t iter) {
  FILE *in = fopen(path, "r");
  if (!in) return DC_OK; /* no log yet: the resumed run starts one */
  char line[512];
  dc_atomic a;
  if (dc_atomic_open(&a, path, "w") != DC_OK) {
    fclose(in);
    return DC_ERR_IO;
  }
  FILE *out = a.f;
  int first = 1;
  while (fgets(line, sizeof line, in)) {
    long long it;
    char stage[64];
    long stage_iter;
    int keep = first || sscanf(line, "%63[^,],%ld,%lld,", stage, &stage_iter, &it) != 3 || it <= iter;
    if (keep) fputs(line, out);
    first = 0;
  }
  fclose(in);
  return dc_atomic_commit(&a);
}

/* A resume must see the training data its checkpoint was written with: same count and,
 * for kinds that have one (image folders: the sorted file list), the same fingerprint,
 * else the data order and the rest of the run would silently differ. A checkpoint
 * without them (older files) resumes as before. */
static dc_status check_same_data(const char *resume, const dc_ckpt_state *st, const dc_dataset *d,
                                 const dc_experiment *e) {
  long now = dc_dataset_count(d);
  if (st->data_count > 0 && st->data_count != now)
    return dc_fail(DC_ERR_DATA,
                   "%s: the training data changed since this checkpoint: %lld samples then, %ld now (%s [data]); "
                   "resume with the same data or start afresh",
                   resume, (long long)st->data_count, now, e->path);
  if (st->data_hash && dc_dataset_fingerprint(d) && st->data_hash != dc_dataset_fingerprint(d))
    return dc_fail(DC_ERR_DATA,
                   "%s: the training data changed since this checkpoint: %ld samples then and now, but other files "
                   "(%s [data]); resume with the same data or start afresh",
                   resume, now, e->path);
  return DC_OK;
}

static dc_status trainer_open(const dc_experiment *e, const char *resume, FILE *out, dc_trainer *t) {
  memset(t, 0, sizeof *t);
  t->lock_fd = -1;
  int rank = dc_dist_rank(), size = dc_dist_size();
  /* rank 0 alone prints and writes; every rank reads the data */
  t->out = rank == 0 ? out : NULL;
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
  t->overlap = 1;
  if (e->batch < size)
    return dc_fail(DC_ERR_ARG, "%s: batch = %d is smaller than the %d ranks of the job: each rank needs a sample",
                   e->path, e->batch, size);
  /* this rank's share of every global batch: samples [B*r/size, B*(r+1)/size) */
  t->shard_first = (int)((int64_t)e->batch * rank / size);
  int local = (int)((int64_t)e->batch * (rank + 1) / size) - t->shard_first;
  DC_TRY(dc_net_load(e->net, local, DC_NET_TRAIN, NULL, &t->train_net));
  DC_TRY(dc_net_load(e->net, e->test_batch, DC_NET_REUSE, t->train_net->params, &t->test_net));
  DC_TRY(dc_experiment_open_data(e, 1, &t->train_set));
  DC_TRY(dc_experiment_open_data(e, 0, &t->test_set));
  DC_TRY(dc_experiment_check_fit(e, t->train_set, t->train_net));
  int nl = e->batch > e->test_batch ? e->batch : e->test_batch;
  t->labels = calloc((size_t)nl, sizeof(int));
  if (!t->labels) return dc_fail(DC_ERR_NOMEM, "out of memory");
  if (rank == 0) {
    DC_TRY(dc_make_dirs(e->output));
    DC_TRY(dc_lock_dir(e->output, &t->lock_fd)); /* one run per output directory */
  }
  snprintf(t->ckpt_path, sizeof t->ckpt_path, "%.511s/ckpt.h5", e->output);
  dc_net_init_params(t->train_net, e->seed);
  /* rank 0 reads the files and hands the result to the others */
  dc_status st = DC_OK;
  if (rank == 0 && resume) {
    st = dc_ckpt_load(resume, t->train_net->params, &t->state);
    if (st == DC_OK && t->state.seed != e->seed)
      st = dc_fail(DC_ERR_ARG, "%s: saved with seed %llu but %s says seed = %llu", resume,
                   (unsigned long long)t->state.seed, e->path, (unsigned long long)e->seed);
    if (st == DC_OK) st = check_same_data(resume, &t->state, t->train_set, e);
  } else if (rank == 0 && e->weights[0]) {
    st = dc_ckpt_load_weights(e->weights, t->train_net->params);
  }
  DC_TRY(st);
  /* what the checkpoints record about the training data */
  t->state.data_count = dc_dataset_count(t->train_set);
  t->state.data_hash = dc_dataset_fingerprint(t->train_set);
  t->have_ckpt = resume != NULL;
  DC_TRY(dc_params_bcast(t->train_net->params));
  DC_TRY(dc_dist_bcast(&t->state, sizeof t->state));
  if (rank != 0) return DC_OK;
  char logpath[600];
  snprintf(logpath, sizeof logpath, "%.580s/log.csv", e->output);
  if (resume) DC_TRY(trim_log(logpath, t->state.iter));
  t->log = fopen(logpath, resume ? "a" : "w");
  if (!t->log) return dc_fail(DC_ERR_IO, "%s: cannot open for writing: %s", logpath, strerror(errno));
  if (!resume) fprintf(t->log, "stage,stage_iter,iter,phase,loss,lr,top1,top5,images_per_s,decode_per_thread,wait_s\n");
  return DC_OK;
}

dc_status dc_experiment_run(const dc_experiment *e, const char *resume, FILE *out, int *stopped) {
  if (stopped) *stopped = 0;
  dc_set_threads(e->threads);
  dc_trainer t;
  static dc_stage stages[DC_MAX_STAGES];
  static dc_stage_result results[DC_MAX_STAGES];
  int nresults = 0, nstages = dc_stages_build(e, stages);
  dc_dcz_stats stats = {0};
  float *dropout0 = NULL;
  dc_status st = trainer_open(e, resume, out, &t);
  if (st == DC_OK && resume && dc_dist_rank() == 0)
    st = dc_stage_results_load(e->output, results, DC_MAX_STAGES, &nresults);
  if (st == DC_OK && t.state.stage > nstages)
    st = dc_fail(DC_ERR_ARG, "%s: at stage %ld but %s has only %d stages", resume, (long)t.state.stage, e->path,
                 nstages);
  if (st == DC_OK) {
    dropout0 = calloc((size_t)t.train_net->nlayers, sizeof(float));
    if (!dropout0) st = dc_fail(DC_ERR_NOMEM, "out of memory");
    for (int i = 0; st == DC_OK && i < t.train_net->nlayers; i++)
      if (t.train_net->layers[i].type == DC_LAYER_DROPOUT) dropout0[i] = dc_dropout_ratio(&t.train_net->layers[i]);
  }
  if (dc_dist_rank() != 0) out = NULL;
  if (st == DC_OK && out) {
    fprintf(out, "dctrain: %s: net %s (%zu parameters), %d train / %d test images, %d stage%s, output %s/\n", e->name,
            e->net, t.train_net->params->total, dc_dataset_count(t.train_set), dc_dataset_count(t.test_set), nstages,
            nstages == 1 ? "" : "s", e->output);
    if (dc_dist_size() > 1)
      fprintf(out, "data-parallel: %d ranks x %d threads, %d images of each global batch of %d per rank\n",
              dc_dist_size(), e->threads, t.train_net->batch, e->batch);
    if (resume)
      fprintf(out, "resuming from %s: stage %s, iteration %ld\n", resume,
              t.state.stage < nstages ? stages[t.state.stage].label : "(done)", (long)t.state.stage_iter);
    fflush(out); /* before any warning on stderr about the first batches */
  }
  double t_run = dc_now();
  while (st == DC_OK && t.state.stage < nstages) {
    const dc_stage *sg = &stages[t.state.stage];
    double t0 = dc_now();
    st = dc_stage_run(e, &t, sg, dropout0, &stats);
    if (st != DC_OK || t.stopped) break;
    dc_stage_result *r = &results[nresults < DC_MAX_STAGES ? nresults++ : DC_MAX_STAGES - 1];
    snprintf(r->label, sizeof r->label, "%s", sg->label);
    r->top1 = t.last.top1;
    r->top5 = t.last.top5;
    r->loss = t.last.loss;
    r->seconds = dc_now() - t0;
    r->nonzero = r->total = 0;
    for (int i = 0; i < t.train_net->nlayers; i++)
      if (t.train_net->layers[i].weight) {
        r->nonzero += (long)dc_param_nonzero(t.train_net->layers[i].weight);
        r->total += (long)t.train_net->layers[i].weight->count;
      }
    t.state.stage++;
    t.state.stage_iter = 0;
    st = dc_params_check_same(t.train_net->params, sg->label);
    if (st == DC_OK) st = dc_trainer_snapshot(&t);
    char path[600];
    snprintf(path, sizeof path, "%.500s/%s.h5", e->output, sg->label);
    int writer = dc_dist_rank() == 0;
    if (st == DC_OK && writer && sg->kind != DC_STAGE_ENCODE) st = dc_ckpt_save(path, t.train_net->params, NULL);
    if (st == DC_OK && writer) st = dc_stage_results_save(e->output, results, nresults);
    if (st == DC_OK && writer)
      st = dc_report_write(e->output, e->name, t.train_net, results, nresults, stats.layer ? &stats : NULL);
    if (st == DC_OK && out) {
      char took[32];
      dc_format_duration(r->seconds, took, sizeof took);
      struct rusage ru;
      getrusage(RUSAGE_SELF, &ru); /* this process's peak so far (Linux: KiB) */
      fprintf(out, "== stage %s done in %s: test top-1 %.2f%%, %.2f%% of weights kept%s%s; peak RSS %.0f MiB\n",
              sg->label, took, 100 * r->top1, r->total ? 100.0 * (double)r->nonzero / (double)r->total : 0.0,
              sg->kind != DC_STAGE_ENCODE ? "; weights " : "", sg->kind != DC_STAGE_ENCODE ? path : "",
              (double)ru.ru_maxrss / 1024.0);
      fflush(out);
    }
  }
  if (st == DC_OK && !t.stopped && out) {
    char took[32];
    dc_format_duration(dc_now() - t_run, took, sizeof took);
    fprintf(out, "dctrain: %s finished in %s; report: %s/report.md\n", e->name, took, e->output);
  }
  if (stopped) *stopped = t.stopped;
  dc_dcz_stats_free(&stats);
  free(dropout0);
  trainer_close(&t);
  return st;
}
