/* main.c — the dctrain command: training (the default) and the subcommands eval, info,
 * export, sensitivity and bench, which call the library (dc/commands.h, dc/bench.h).
 * The only place that prints errors and exits: bad command-line arguments give one line
 * and exit status 2, failures reported by the library "dctrain: <reason>" and 1. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dc/bench.h"
#include "dc/cfg.h"
#include "dc/commands.h"
#include "dc/experiment.h"

#define DC_VERSION "0.1.0"

static const char *const USAGE =
    "usage: dctrain [options] EXPERIMENT.cfg\n"
    "       dctrain COMMAND ARGS...   (dctrain COMMAND --help for its usage)\n"
    "\n"
    "Train the net an experiment names on its data, then run its compression stages\n"
    "(prune, quantize, encode) as listed, writing checkpoints, a CSV log and reports\n"
    "into the experiment's output directory.\n"
    "\n"
    "commands:\n"
    "  train EXPERIMENT.cfg              train and compress (the default, as above)\n"
    "  eval MODEL --data EXPERIMENT.cfg  test accuracy of a .dcz model or HDF5 weights\n"
    "  info MODEL.dcz                    per-layer size table of a compressed model\n"
    "  export MODEL.dcz OUT.h5           dense fp32 HDF5 weights from a compressed model\n"
    "  sensitivity EXPERIMENT.cfg        accuracy when pruning one layer at a time\n"
    "  bench NET.net                     training/inference images/s and per-layer profile\n"
    "\n"
    "training options:\n"
    "  --resume CKPT.h5   continue a run from its checkpoint (OUTPUT/ckpt.h5)\n"
    "  --threads N        override [experiment] threads\n"
    "  --output DIR       override [experiment] output\n"
    "  --stop-after N     checkpoint and stop once N iterations are done in all\n"
    "                     (split a long run into jobs; continue with --resume)\n"
    "  -h, --help         this text\n"
    "  --version          print the version\n"
    "\n"
    "Every cfg key is documented in README.md. Example:\n"
    "  dctrain experiments/lenet5.cfg\n";

static const char *const EVAL_USAGE =
    "usage: dctrain eval MODEL --data EXPERIMENT.cfg [--threads N]\n"
    "\n"
    "Build the experiment's net, load MODEL into it and print its top-1 and top-5\n"
    "accuracy on the experiment's test set (test_limit, test_batch and test_iters as in\n"
    "training). MODEL is a .dcz compressed model (OUTPUT/model.dcz) or, recognised by\n"
    "content, HDF5 weights: a stage's OUTPUT/NAME.h5, a checkpoint, an export.\n"
    "A model.dcz scores exactly the accuracy its quantize stage reported when run with\n"
    "the experiment's thread count.\n"
    "\n"
    "  --data EXPERIMENT.cfg  the experiment whose net and test set to use (required)\n"
    "  --threads N            override [experiment] threads\n";

static const char *const INFO_USAGE =
    "usage: dctrain info MODEL.dcz\n"
    "\n"
    "Check a .dcz compressed model and print per layer: weights, % kept, codebook and\n"
    "relative-index bits, bits per weight and per index before and after Huffman\n"
    "coding, bytes and compression rate against fp32.\n";

static const char *const EXPORT_USAGE =
    "usage: dctrain export MODEL.dcz OUT.h5\n"
    "\n"
    "Decode a .dcz compressed model into dense fp32 HDF5 weights in the checkpoint layout\n"
    "(/params/LAYER/weight, /params/LAYER/bias; pruned weights are 0), readable by\n"
    "h5py, by `weights =` in an experiment, and by dctrain eval. No net file needed.\n"
    "OUT.h5 is written to OUT.h5.tmp and renamed when complete.\n";

static const char *const SENSITIVITY_USAGE =
    "usage: dctrain sensitivity EXPERIMENT.cfg [--weights W.h5] [--densities LIST]\n"
    "                           [--threads N] [--output DIR]\n"
    "\n"
    "From trained dense weights, prune every weighted layer alone by magnitude to each\n"
    "density and test, restoring it afterwards (Han et al. 2015, Fig. 5): which layers\n"
    "tolerate pruning. Prints a table (rows densities, columns layers, top-1 %) and\n"
    "writes OUTPUT/sensitivity.csv and OUTPUT/sensitivity.png.\n"
    "\n"
    "  --weights W.h5    the weights (default OUTPUT/train.h5, else [experiment] weights)\n"
    "  --densities LIST  percent of a layer's weights kept, comma-separated\n"
    "                    (default 100,90,80,70,60,50,40,30,20,10,5)\n"
    "  --threads N       override [experiment] threads\n"
    "  --output DIR      override [experiment] output (where the CSV and PNG go)\n";

static const char *const BENCH_USAGE =
    "usage: dctrain bench NET.net [--batch N] [--threads N] [--seconds S]\n"
    "\n"
    "Measure training (forward + backward + update) and inference images/s of a net on\n"
    "random inputs, then profile one step layer by layer.\n"
    "\n"
    "  --batch N     batch size (default 64)\n"
    "  --threads N   oneDNN threads (default 2)\n"
    "  --seconds S   timed seconds per mode (default 3)\n";

static int die(const char *msg) {
  fprintf(stderr, "dctrain: %s\n", msg && *msg ? msg : "failed");
  return 1;
}

/* One line about a bad argument; exit status 2. */
static int bad_arg(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad_arg(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "dctrain%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see dctrain%s%s --help)\n", cmd ? " " : "", cmd ? cmd : "");
  return 2;
}

static int is_help(const char *a) { return !strcmp(a, "-h") || !strcmp(a, "--help"); }

/* The value after option argv[*i], advancing *i; NULL when missing (error printed). */
static const char *opt_value(const char *cmd, int argc, char **argv, int *i) {
  if (*i + 1 >= argc) {
    bad_arg(cmd, "%s needs a value", argv[*i]);
    return NULL;
  }
  return argv[++*i];
}

/* An integer in [lo, hi]; 0 when fine, else the exit status 2 (error printed). */
static int parse_long(const char *cmd, const char *opt, const char *v, long lo, long hi, long *out) {
  char *end;
  long n = strtol(v, &end, 10);
  if (*end || end == v || n < lo || n > hi)
    return bad_arg(cmd, "%s: expected an integer in [%ld, %ld], got '%s'", opt, lo, hi, v);
  *out = n;
  return 0;
}

/* ---- train (the default) ---- */

static int cmd_train(const char *cmd, int argc, char **argv) {
  const char *cfg = NULL, *resume = NULL, *output = NULL;
  long threads = 0, stop_after = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    int rc;
    if (is_help(a)) {
      fputs(USAGE, stdout);
      return 0;
    } else if (!strcmp(a, "--version")) {
      printf("dctrain %s\n", DC_VERSION);
      return 0;
    } else if (!strcmp(a, "--resume") || !strcmp(a, "--output")) {
      const char *v = opt_value(cmd, argc, argv, &i);
      if (!v) return 2;
      if (!strcmp(a, "--resume")) resume = v;
      else output = v;
    } else if (!strcmp(a, "--threads")) {
      const char *v = opt_value(cmd, argc, argv, &i);
      if (!v) return 2;
      if ((rc = parse_long(cmd, a, v, 1, 1024, &threads))) return rc;
    } else if (!strcmp(a, "--stop-after")) {
      const char *v = opt_value(cmd, argc, argv, &i);
      if (!v) return 2;
      if ((rc = parse_long(cmd, a, v, 1, 1L << 40, &stop_after))) return rc;
    } else if (a[0] == '-') {
      return bad_arg(cmd, "unknown option '%s'", a);
    } else if (cfg) {
      return bad_arg(cmd, "one experiment at a time ('%s' and '%s')", cfg, a);
    } else {
      cfg = a;
    }
  }
  if (!cfg) {
    fputs(USAGE, stderr);
    return 2;
  }
  static dc_experiment e;
  if (dc_experiment_load(cfg, &e) != DC_OK) return die(dc_failure_reason());
  if (threads) e.threads = (int)threads;
  e.stop_after = stop_after;
  if (output) {
    if (strlen(output) >= sizeof e.output) return die("--output: path too long");
    snprintf(e.output, sizeof e.output, "%s", output);
  }
  if (dc_experiment_run(&e, resume, stdout) != DC_OK) return die(dc_failure_reason());
  return 0;
}

/* ---- eval ---- */

static int cmd_eval(const char *cmd, int argc, char **argv) {
  const char *model = NULL, *data = NULL;
  long threads = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    int rc;
    if (is_help(a)) {
      fputs(EVAL_USAGE, stdout);
      return 0;
    } else if (!strcmp(a, "--data")) {
      if (!(data = opt_value(cmd, argc, argv, &i))) return 2;
    } else if (!strcmp(a, "--threads")) {
      const char *v = opt_value(cmd, argc, argv, &i);
      if (!v) return 2;
      if ((rc = parse_long(cmd, a, v, 1, 1024, &threads))) return rc;
    } else if (a[0] == '-') {
      return bad_arg(cmd, "unknown option '%s'", a);
    } else if (model) {
      return bad_arg(cmd, "one model at a time ('%s' and '%s')", model, a);
    } else {
      model = a;
    }
  }
  if (!model) return bad_arg(cmd, "missing MODEL (a .dcz or .h5 file)");
  if (!data) return bad_arg(cmd, "missing --data EXPERIMENT.cfg (it gives the net and the test set)");
  static dc_experiment e;
  if (dc_experiment_load(data, &e) != DC_OK) return die(dc_failure_reason());
  if (threads) e.threads = (int)threads;
  dc_test_result r;
  if (dc_cmd_eval(&e, model, stdout, &r) != DC_OK) return die(dc_failure_reason());
  return 0;
}

/* ---- info, export ---- */

/* Exactly `want` positional arguments into pos[]; 0 when fine, -1 for --help printed. */
static int positionals(const char *cmd, const char *usage, int argc, char **argv, int want, const char **pos,
                       const char *what) {
  int n = 0;
  for (int i = 0; i < argc; i++) {
    if (is_help(argv[i])) {
      fputs(usage, stdout);
      return -1;
    }
    if (argv[i][0] == '-' && argv[i][1] != '\0') return bad_arg(cmd, "unknown option '%s'", argv[i]);
    if (n == want) return bad_arg(cmd, "unexpected argument '%s' (expected %s)", argv[i], what);
    pos[n++] = argv[i];
  }
  if (n < want) return bad_arg(cmd, "expected %s", what);
  return 0;
}

static int cmd_info(const char *cmd, int argc, char **argv) {
  const char *pos[1];
  int rc = positionals(cmd, INFO_USAGE, argc, argv, 1, pos, "MODEL.dcz");
  if (rc) return rc < 0 ? 0 : rc;
  if (dc_cmd_info(pos[0], stdout) != DC_OK) return die(dc_failure_reason());
  return 0;
}

static int cmd_export(const char *cmd, int argc, char **argv) {
  const char *pos[2];
  int rc = positionals(cmd, EXPORT_USAGE, argc, argv, 2, pos, "MODEL.dcz OUT.h5");
  if (rc) return rc < 0 ? 0 : rc;
  if (dc_cmd_export(pos[0], pos[1], stdout) != DC_OK) return die(dc_failure_reason());
  return 0;
}

/* ---- sensitivity ---- */

static int cmd_sensitivity(const char *cmd, int argc, char **argv) {
  const char *cfg = NULL, *weights = NULL, *output = NULL;
  double pct[DC_MAX_DENSITIES];
  int n = (int)(sizeof dc_default_densities / sizeof dc_default_densities[0]);
  memcpy(pct, dc_default_densities, sizeof dc_default_densities);
  long threads = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    int rc;
    if (is_help(a)) {
      fputs(SENSITIVITY_USAGE, stdout);
      return 0;
    } else if (!strcmp(a, "--weights")) {
      if (!(weights = opt_value(cmd, argc, argv, &i))) return 2;
    } else if (!strcmp(a, "--output")) {
      if (!(output = opt_value(cmd, argc, argv, &i))) return 2;
    } else if (!strcmp(a, "--densities")) {
      const char *v = opt_value(cmd, argc, argv, &i);
      if (!v) return 2;
      if (dc_parse_densities(v, pct, DC_MAX_DENSITIES, &n) != DC_OK) return bad_arg(cmd, "%s", dc_failure_reason());
    } else if (!strcmp(a, "--threads")) {
      const char *v = opt_value(cmd, argc, argv, &i);
      if (!v) return 2;
      if ((rc = parse_long(cmd, a, v, 1, 1024, &threads))) return rc;
    } else if (a[0] == '-') {
      return bad_arg(cmd, "unknown option '%s'", a);
    } else if (cfg) {
      return bad_arg(cmd, "one experiment at a time ('%s' and '%s')", cfg, a);
    } else {
      cfg = a;
    }
  }
  if (!cfg) return bad_arg(cmd, "missing EXPERIMENT.cfg");
  static dc_experiment e;
  if (dc_experiment_load(cfg, &e) != DC_OK) return die(dc_failure_reason());
  if (threads) e.threads = (int)threads;
  if (output) {
    if (strlen(output) >= sizeof e.output) return bad_arg(cmd, "--output: path too long");
    snprintf(e.output, sizeof e.output, "%s", output);
  }
  dc_sensitivity r;
  if (dc_cmd_sensitivity(&e, weights, pct, n, stdout, &r) != DC_OK) return die(dc_failure_reason());
  dc_sensitivity_free(&r);
  return 0;
}

/* ---- bench ---- */

static int cmd_bench(const char *cmd, int argc, char **argv) {
  const char *net = NULL;
  long batch = 64, threads = 2;
  double seconds = 3.0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    int rc;
    if (is_help(a)) {
      fputs(BENCH_USAGE, stdout);
      return 0;
    } else if (!strcmp(a, "--batch") || !strcmp(a, "--threads")) {
      const char *v = opt_value(cmd, argc, argv, &i);
      if (!v) return 2;
      if ((rc = parse_long(cmd, a, v, 1, !strcmp(a, "--batch") ? 1 << 16 : 1024,
                           !strcmp(a, "--batch") ? &batch : &threads)))
        return rc;
    } else if (!strcmp(a, "--seconds")) {
      const char *v = opt_value(cmd, argc, argv, &i);
      if (!v) return 2;
      char *end;
      seconds = strtod(v, &end);
      if (*end || end == v || !(seconds > 0.0 && seconds <= 3600.0))
        return bad_arg(cmd, "--seconds: expected a number in (0, 3600], got '%s'", v);
    } else if (a[0] == '-') {
      return bad_arg(cmd, "unknown option '%s'", a);
    } else if (net) {
      return bad_arg(cmd, "one net at a time ('%s' and '%s')", net, a);
    } else {
      net = a;
    }
  }
  if (!net) return bad_arg(cmd, "missing NET.net");
  if (dc_bench(net, (int)batch, (int)threads, seconds, stdout) != DC_OK) return die(dc_failure_reason());
  return 0;
}

/* ---- dispatch ---- */

typedef struct {
  const char *name;
  int (*run)(const char *cmd, int argc, char **argv); /* argv: the arguments after the name */
} subcommand;

static const subcommand g_commands[] = {
    {"train", cmd_train},         {"eval", cmd_eval},   {"info", cmd_info},
    {"export", cmd_export},       {"sensitivity", cmd_sensitivity}, {"bench", cmd_bench},
};
#define NCOMMANDS ((int)(sizeof g_commands / sizeof g_commands[0]))

int main(int argc, char **argv) {
  if (argc >= 2) {
    const char *a = argv[1];
    for (int i = 0; i < NCOMMANDS; i++)
      if (!strcmp(a, g_commands[i].name)) return g_commands[i].run(a, argc - 2, argv + 2);
    /* a mistyped command rather than an experiment file: "dctrain evl ..." */
    if (a[0] != '-' && !strchr(a, '.') && !strchr(a, '/') && access(a, F_OK) != 0) {
      const char *names[NCOMMANDS];
      for (int i = 0; i < NCOMMANDS; i++) names[i] = g_commands[i].name;
      const char *hint = dc_closest(a, names, NCOMMANDS);
      if (hint) return bad_arg(NULL, "unknown command '%s' (did you mean '%s'?)", a, hint);
    }
  }
  /* the default: train an experiment */
  return cmd_train(NULL, argc - 1, argv + 1);
}
