/* main.c — the dctrain command: training (the default) and the subcommands eval, info,
 * export, sensitivity, bench, import, predict, plan and plot, which call the library (dc/commands.h, dc/bench.h).
 * The only place that prints errors and exits: bad command-line arguments give one line
 * and exit status 2, failures reported by the library "dctrain: <reason>" and 1. */
#define _XOPEN_SOURCE 700 /* sigaltstack, SA_ONSTACK */
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dc/bench.h"
#include "dc/cfg.h"
#include "dc/commands.h"
#include "dc/dist.h"
#include "dc/experiment.h"
#include "dc/train.h"
#include "dc/import.h"
#include "dc/plan.h"
#include "dc/plot.h"
#include "dc/predict.h"

#ifndef DC_VERSION /* from CMake's project(VERSION) */
#define DC_VERSION "unknown"
#endif

/* Exit status of a run that a signal stopped with a checkpoint: resume it (--resume auto).
 * 75 is EX_TEMPFAIL of sysexits.h, "try again later". */
#define EXIT_RESUMABLE 75

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
    "  encode EXPERIMENT.cfg             (re)encode quantized weights into a .dcz\n"
    "  export MODEL.dcz OUT.h5           dense fp32 HDF5 weights from a compressed model\n"
    "  sensitivity EXPERIMENT.cfg        accuracy when pruning (or quantizing) one layer at a time\n"
    "  plan EXPERIMENT.cfg --ratio R -o OUT.cfg\n"
    "                                    per-layer densities and bits for a size budget\n"
    "  bench NET.net                     training/inference images/s and per-layer profile\n"
    "  import caffe IN.caffemodel OUT.h5 --net NET.net\n"
    "                                    trained Caffe weights as HDF5 weights\n"
    "  predict MODEL.dcz INPUT...        top classes of images (or --idx records) by a .dcz\n"
    "  plot KIND ... -o OUT.png          pictures of a run: curves, hist, mask, codes, tradeoff\n"
    "\n"
    "training options:\n"
    "  --resume CKPT.h5   continue a run from its checkpoint (OUTPUT/ckpt.h5);\n"
    "                     --resume auto: from OUTPUT/ckpt.h5 when it exists, else fresh\n"
    "  --threads N        override [experiment] threads\n"
    "  --output DIR       override [experiment] output\n"
    "  --stop-after N     checkpoint and stop once N iterations are done in all\n"
    "                     (split a long run into jobs; continue with --resume)\n"
    "  --set S.K=V        set key K of section [S] for this run, as if the file said so\n"
    "                     (repeatable; e.g. --set solver.max_iter=20)\n"
    "  -h, --help         this text\n"
    "  --version          print the version\n"
    "\n"
    "SIGTERM, SIGINT or SIGUSR1 stop a run at the next iteration with a checkpoint and\n"
    "exit status 75 (resumable); a second signal a second later stops at once.\n"
    "Data-parallel: start it under mpirun or srun (see README, \"Clusters\").\n"
    "\n"
    "Every cfg key is documented in README.md. Example:\n"
    "  dctrain experiments/lenet5.cfg\n";

static const char *const EVAL_USAGE =
    "usage: dctrain eval MODEL --data EXPERIMENT.cfg [--threads N] [--set S.K=V]...\n"
    "\n"
    "Build the experiment's net, load MODEL into it and print its top-1 and top-5\n"
    "accuracy on the experiment's test set (test_limit, test_batch and test_iters as in\n"
    "training). MODEL is a .dcz compressed model (OUTPUT/model.dcz) or, recognised by\n"
    "content, HDF5 weights: a stage's OUTPUT/NAME.h5, a checkpoint, an export.\n"
    "A model.dcz scores exactly the accuracy its quantize stage reported when run with\n"
    "the experiment's thread count.\n"
    "\n"
    "  --data EXPERIMENT.cfg  the experiment whose net and test set to use (required)\n"
    "  --threads N            override [experiment] threads\n"
    "  --set S.K=V            set a key of the experiment for this run (repeatable)\n";

static const char *const INFO_USAGE =
    "usage: dctrain info MODEL.dcz\n"
    "\n"
    "Check a .dcz compressed model and print per layer: weights, % kept, codebook and\n"
    "relative-index bits, bits per weight and per index before and after Huffman\n"
    "coding, bytes and compression rate against fp32.\n";

static const char *const ENCODE_USAGE =
    "usage: dctrain encode EXPERIMENT.cfg [--weights W.h5] [--out OUT.dcz] [--threads N]\n"
    "                      [--set S.K=V]...\n"
    "\n"
    "Run the experiment's encode stage alone on quantized weights: choose the bias and\n"
    "codebook precision and the relative-index widths as [encode] says, write the .dcz\n"
    "(format version 4), decode it and check every weight and the test accuracy, then\n"
    "print the size tables. Re-encodes a finished run with a newer encoder or other\n"
    "[encode] settings (--set encode.K=V).\n"
    "\n"
    "  --weights W.h5  quantized weights (default OUTPUT/quantize.h5)\n"
    "  --out OUT.dcz   where to write (default OUTPUT/model.dcz)\n"
    "  --threads N     override [experiment] threads\n"
    "  --set S.K=V     set a key of the experiment for this run (repeatable)\n";

static const char *const EXPORT_USAGE =
    "usage: dctrain export MODEL.dcz OUT.h5\n"
    "\n"
    "Decode a .dcz compressed model into dense fp32 HDF5 weights in the checkpoint layout\n"
    "(/params/LAYER/weight, /params/LAYER/bias; pruned weights are 0), readable by\n"
    "h5py, by `weights =` in an experiment, and by dctrain eval. No net file needed.\n"
    "OUT.h5 is written to OUT.h5.tmp and renamed when complete.\n";

static const char *const SENSITIVITY_USAGE =
    "usage: dctrain sensitivity EXPERIMENT.cfg [--weights W.h5] [--densities LIST | --bits LIST]\n"
    "                           [--threads N] [--output DIR] [--set S.K=V]...\n"
    "\n"
    "From trained dense weights, prune every weighted layer alone by magnitude to each\n"
    "density and test, restoring it afterwards (Han et al. 2015, Fig. 5): which layers\n"
    "tolerate pruning. Prints a table (rows densities, columns layers, top-1 %) and\n"
    "writes OUTPUT/sensitivity.csv and OUTPUT/sensitivity.png.\n"
    "With --bits, quantize every layer alone instead (k-means to 2^bits shared values,\n"
    "as the quantize stage does, no retraining): rows are bit widths, and the files\n"
    "OUTPUT/sensitivity-bits.csv and OUTPUT/sensitivity-bits.png.\n"
    "\n"
    "  --weights W.h5    the weights (default OUTPUT/train.h5, else [experiment] weights)\n"
    "  --densities LIST  percent of a layer's weights kept, comma-separated\n"
    "                    (default 100,90,80,70,60,50,40,30,20,10,5)\n"
    "  --bits LIST       bits per weight, comma-separated (1..8), or all (8,7,...,1)\n"
    "  --threads N       override [experiment] threads\n"
    "  --output DIR      override [experiment] output (where the CSV and PNG go)\n"
    "  --set S.K=V       set a key of the experiment for this run (repeatable)\n";

static const char *const PLAN_USAGE =
    "usage: dctrain plan EXPERIMENT.cfg (--ratio R | --size BYTES) -o OUT.cfg [--max-loss P]\n"
    "                    [--weights W.h5] [--rounds N] [--densities LIST] [--bits LIST]\n"
    "                    [--sensitivity DIR] [--reserve PCT]\n"
    "                    [--threads N] [--output DIR] [--set S.K=V]...\n"
    "\n"
    "From trained dense weights, measure how much accuracy each layer loses pruned alone\n"
    "and quantized alone (dctrain sensitivity and sensitivity --bits), and what it takes\n"
    "encoded at each density and bit width (the .dcz writer's own sizes); choose per-layer\n"
    "densities and bits that fit the budget at the least summed loss; write OUT.cfg: the\n"
    "experiment with that [prune] and [quantize] and comments on the choice. Run it as any\n"
    "other. Also writes OUTPUT/plan.dcz (the plan applied at once, no retraining: its size\n"
    "is the estimate) and the sensitivity tables.\n"
    "\n"
    "  --ratio R         model.dcz at most 1/R of the fp32 weights and biases\n"
    "  --size BYTES      model.dcz at most this size: 17220, 20KB, 1.5MB, 16KiB\n"
    "  -o OUT.cfg        the experiment file to write (its name sets name and output)\n"
    "  --max-loss P      top-1 points the quantization may cost in all, measured\n"
    "                    layer by layer without retraining (default 0.1)\n"
    "  --weights W.h5    the dense weights (default OUTPUT/train.h5, else [experiment] weights)\n"
    "  --reserve PCT     plan for PCT% less than the budget: retraining moves the\n"
    "                    encoded size by a few percent (default 3)\n"
    "  --rounds N        pruning rounds (default: each round keeps >= 55% of the last)\n"
    "  --densities LIST  the densities tried, percent, falling\n"
    "                    (default 100,80,65,50,40,30,23,17,13,10,7.5,5.5,4,3,2.2,1.6,1.2,0.9,0.7,0.5)\n"
    "  --bits LIST       the bit widths tried, falling (default all: 8,7,...,1)\n"
    "  --sensitivity DIR do not measure: read DIR/sensitivity.csv and sensitivity-bits.csv\n"
    "                    (an earlier plan's OUTPUT, for the same weights); seconds, not minutes\n"
    "  --threads N       override [experiment] threads\n"
    "  --output DIR      override [experiment] output (sensitivity tables, plan.dcz)\n"
    "  --set S.K=V       set a key of the experiment for the measurements (repeatable;\n"
    "                    OUT.cfg is written from the file as it is)\n";

static const char *const BENCH_USAGE =
    "usage: dctrain bench NET.net [--batch N] [--threads N] [--seconds S]\n"
    "\n"
    "Measure training (forward + backward + update) and inference images/s of a net on\n"
    "random inputs, then profile one step layer by layer.\n"
    "\n"
    "  --batch N     batch size (default 64); under mpirun the global batch, split\n"
    "                over the ranks as in training\n"
    "  --threads N   oneDNN threads (default 2; per rank)\n"
    "  --seconds S   timed seconds per mode (default 3)\n"
    "  --overlap 0|1 data-parallel: start gradient sums during backward (1, the\n"
    "                default, as training does) or only after it (0)\n";

static const char *const IMPORT_USAGE =
    "usage: dctrain import caffe IN.caffemodel OUT.h5 --net NET.net\n"
    "\n"
    "Read trained Caffe weights (a binary .caffemodel, the current `layer` or the old V1\n"
    "`layers` format) and write them as HDF5 weights in the checkpoint layout\n"
    "(/params/LAYER/weight, /params/LAYER/bias), for `weights =`, --weights and eval.\n"
    "Blobs are matched to NET's weighted layers by name and every shape is checked:\n"
    "a layer missing from the file, a layer with blobs that NET lacks, or a blob of the\n"
    "wrong shape is an error naming the layer. Layers without blobs are ignored.\n"
    "OUT.h5 is written to OUT.h5.tmp and renamed when complete.\n"
    "(PyTorch/torchvision state_dicts: scripts/import_torchvision.py.)\n"
    "\n"
    "  --net NET.net   the dctrain net the weights are for (required),\n"
    "                  e.g. nets/alexnet.net for bvlc_alexnet.caffemodel\n";

static const char *const PREDICT_USAGE =
    "usage: dctrain predict MODEL.dcz [IMAGE...] [--idx FILE --first N] [--top K]\n"
    "                       [--labels FILE] [--data EXPERIMENT.cfg] [--threads N]\n"
    "\n"
    "Run a compressed model as it is (fc layers on the sparse-quantized kernels, conv\n"
    "layers decoded) and print the top classes with probabilities, one line per input.\n"
    "Images (PNG, JPEG, BMP, ...) are preprocessed as the model says (colour, resize,\n"
    "crop, mean, scale: written into the .dcz by the encode stage).\n"
    "\n"
    "  --idx FILE        also the records of an idx3 ubyte image file (MNIST's format)\n"
    "  --first N         with --idx: its first N records (default 10)\n"
    "  --top K           classes per input (default 5)\n"
    "  --labels FILE     class names, one per line (default: the model's, else numbers)\n"
    "  --data EXP.cfg    take the net and preprocessing from an experiment instead of the\n"
    "                    file (for .dcz files written before they carried them)\n"
    "  --threads N       compute threads (default 2)\n";

static const char *const PLOT_USAGE =
    "usage: dctrain plot curves LOG.csv... -o OUT.png\n"
    "       dctrain plot hist WEIGHTS --layer L [--codebook Q]... [--bins N] -o OUT.png\n"
    "       dctrain plot mask WEIGHTS --layer L [--net NET.net] -o OUT.png\n"
    "       dctrain plot codes MODEL.dcz --layer L -o OUT.png\n"
    "       dctrain plot tradeoff RUN_DIR... -o OUT.png\n"
    "\n"
    "Draw a PNG (written to OUT.png.tmp and renamed) of what training and compression did.\n"
    "WEIGHTS is any weights file of a run (train.h5, prune2.h5, quantize.h5, ckpt.h5, an\n"
    "export or import) or a .dcz model.\n"
    "\n"
    "  curves    training loss (log scale) and test top-1 against the iteration from one\n"
    "            or more runs' OUTPUT/log.csv; dashed lines where stages start\n"
    "  hist      histogram of layer L's kept weights (pruned ones left out); the codebook\n"
    "            centroids marked underneath when the layer is shared, or those of each\n"
    "            --codebook Q (up to 4, e.g. right after k-means and after fine-tuning)\n"
    "  mask      kept connections per input pixel of an fc layer that reads the input\n"
    "            image (ip1 of LeNet-300-100), as a scaled-up image with a colour bar;\n"
    "            the net comes from --net, or from the .dcz itself\n"
    "  codes     how often each codebook index and each relative-index gap occurs in\n"
    "            layer L of a .dcz, the Huffman code length of each, bits per entry\n"
    "  tradeoff  test top-1 against compression ratio, one labelled point per run\n"
    "            directory (its stages.csv and model.dcz)\n"
    "\n"
    "  -o OUT.png      the PNG to write (required)\n"
    "  --layer L       the weighted layer (hist, mask, codes)\n"
    "  --codebook Q    hist: mark the centroids of layer L in Q (repeatable)\n"
    "  --bins N        hist: number of bins (default 80)\n"
    "  --net NET.net   mask: the net file of HDF5 weights\n"
    "  --title TEXT    replace the title\n"
    "\n"
    "Examples (docs/labs/ uses them all):\n"
    "  dctrain plot curves runs/lenet300/log.csv -o curves.png\n"
    "  dctrain plot hist runs/lenet300/quantize.h5 --layer ip2 -o ip2.png\n"
    "  dctrain plot mask runs/lenet300/model.dcz --layer ip1 -o mask.png\n";

/* A failure: one line, status 1. In a data-parallel job the line names the rank, and the
 * whole job ends here: the other ranks may be waiting in a collective for this one. */
static int die(const char *msg) {
  fflush(stdout); /* what the run printed comes first when both go to one file */
  if (dc_dist_size() > 1) {
    fprintf(stderr, "dctrain: rank %d: %s\n", dc_dist_rank(), msg && *msg ? msg : "failed");
    dc_dist_abort(1);
  }
  fprintf(stderr, "dctrain: %s\n", msg && *msg ? msg : "failed");
  return 1;
}

/* The first SIGTERM / SIGINT / SIGUSR1 asks the run to stop at the next iteration with a
 * checkpoint. One that comes a second or more later ends the process at once (the last
 * complete checkpoint stays intact: checkpoints are renamed into place whole). Copies of
 * one signal that a launcher relays within the second (srun forwards what Slurm also
 * sends each task) count once.
 *
 * g_first_signal_ns: CLOCK_MONOTONIC nanoseconds (+1, never 0) of the first signal, 0
 * before it. One lock-free atomic, claimed by compare-and-swap: the copies that --full
 * and srun send arrive together and their handlers can run at once on two threads (a
 * process signal goes to any thread that does not block it), so the second must not
 * read a half-written first time and take itself for a later signal. */
static _Atomic long long g_first_signal_ns;

static void on_stop_signal(int sig) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec + 1, first = 0;
  if (!atomic_compare_exchange_strong(&g_first_signal_ns, &first, ns)) {
    /* in nanoseconds: tv_sec alone would count a copy that comes 10 ms later but past
     * a whole second of the clock as a second signal */
    if (ns - first < 1000000000LL) return;
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  dc_request_stop();
  static const char msg[] = "dctrain: signal received: stopping at the next iteration with a checkpoint\n";
  if (dc_dist_rank() == 0) (void)!write(2, msg, sizeof msg - 1);
}

static void catch_stop_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  /* On a stack of its own: oneDNN's JIT GEMM kernels (through 3.11, its issue 4845)
   * point RSP into a heap workspace while they run, and a handler run on the current
   * stack there writes the signal frame over the heap ("corrupted size vs. prev_size"
   * in a later free). OpenMP workers block these signals (dc_set_threads). */
  static char altstack[64 * 1024];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  sa.sa_flags = SA_RESTART | (sigaltstack(&ss, NULL) == 0 ? SA_ONSTACK : 0);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
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

/* One option of a command: a string, an integer in [lo, hi], a number in (0, hi], or a
 * repeatable cfg override "section.key=value" (collected in a set_list). */
typedef enum { OPT_STR, OPT_LONG, OPT_DOUBLE, OPT_SET } opt_kind;
typedef struct {
  const char *name; /* "--threads" */
  opt_kind kind;
  void *out; /* const char **, long *, double * or set_list * */
  long lo, hi;
} opt;

#define MAX_SETS 256
typedef struct {
  const char *v[MAX_SETS]; /* the arguments of --set, in order (point into argv) */
  int n;
} set_list;

/* Parse argv against opts[]; the other arguments are positionals, at most maxpos of
 * them into pos[] (`what` names them in messages). Returns -1 to go on, else the exit
 * status: 0 after printing usage for --help, 2 after a one-line error. */
static int parse_args(const char *cmd, const char *usage, int argc, char **argv, const opt *opts, int nopts,
                      const char **pos, int maxpos, int *npos, const char *what) {
  *npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return 0;
    }
    if (a[0] != '-' || a[1] == '\0') {
      if (*npos == maxpos) return bad_arg(cmd, "too many arguments at '%s' (expected %s)", a, what);
      pos[(*npos)++] = a;
      continue;
    }
    const opt *o = NULL;
    for (int k = 0; k < nopts && !o; k++)
      if (!strcmp(a, opts[k].name)) o = &opts[k];
    if (!o) return bad_arg(cmd, "unknown option '%s'", a);
    if (i + 1 >= argc) return bad_arg(cmd, "%s needs a value", a);
    const char *v = argv[++i];
    char *end;
    if (o->kind == OPT_STR) {
      *(const char **)o->out = v;
    } else if (o->kind == OPT_SET) {
      set_list *l = o->out;
      if (dc_cfg_override_check(v) != DC_OK) return bad_arg(cmd, "%s", dc_failure_reason());
      if (l->n == MAX_SETS) return bad_arg(cmd, "more than %d --set options", MAX_SETS);
      l->v[l->n++] = v;
    } else if (o->kind == OPT_LONG) {
      long n = strtol(v, &end, 10);
      if (*end || end == v || n < o->lo || n > o->hi)
        return bad_arg(cmd, "%s: expected an integer in [%ld, %ld], got '%s'", a, o->lo, o->hi, v);
      *(long *)o->out = n;
    } else {
      double d = strtod(v, &end);
      if (*end || end == v || !(d > 0.0 && d <= (double)o->hi))
        return bad_arg(cmd, "%s: expected a number in (0, %ld], got '%s'", a, o->hi, v);
      *(double *)o->out = d;
    }
  }
  if (*npos < maxpos) return bad_arg(cmd, "missing %s", what);
  return -1;
}

/* Apply --threads and --output overrides to a loaded experiment. */
static int override(const char *cmd, dc_experiment *e, long threads, const char *output) {
  if (threads) e->threads = (int)threads;
  if (output) {
    if (strlen(output) >= sizeof e->output) return bad_arg(cmd, "--output: path too long");
    snprintf(e->output, sizeof e->output, "%s", output);
  }
  return -1;
}

#define NOPTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- train (the default) ---- */

static int cmd_train(const char *cmd, int argc, char **argv) {
  const char *cfg, *resume = NULL, *output = NULL;
  long threads = 0, stop_after = 0;
  static set_list sets;
  int n, rc;
  for (int i = 0; i < argc; i++)
    if (!strcmp(argv[i], "--version")) {
      printf("dctrain %s (%s)\n", DC_VERSION,
             dc_dist_built() ? "data-parallel: MPI" : "one process: built without MPI");
      return 0;
    }
  if (argc == 0) {
    fputs(USAGE, stderr);
    return 2;
  }
  const opt opts[] = {{"--resume", OPT_STR, &resume, 0, 0},
                      {"--output", OPT_STR, &output, 0, 0},
                      {"--threads", OPT_LONG, &threads, 1, 1024},
                      {"--stop-after", OPT_LONG, &stop_after, 1, 1L << 40},
                      {"--set", OPT_SET, &sets, 0, 0}};
  if ((rc = parse_args(cmd, USAGE, argc, argv, opts, NOPTS(opts), &cfg, 1, &n, "EXPERIMENT.cfg")) >= 0) return rc;
  static dc_experiment e;
  if (dc_experiment_load_set(cfg, sets.v, sets.n, &e) != DC_OK) return die(dc_failure_reason());
  if ((rc = override(cmd, &e, threads, output)) >= 0) return rc;
  e.stop_after = stop_after;
  char auto_path[600];
  if (resume && !strcmp(resume, "auto")) {
    /* one command line for every job of a chain: continue when there is a checkpoint */
    snprintf(auto_path, sizeof auto_path, "%.580s/ckpt.h5", e.output);
    resume = access(auto_path, F_OK) == 0 ? auto_path : NULL;
    if (dc_dist_rank() == 0)
      printf("dctrain: --resume auto: %s\n", resume ? auto_path : "no checkpoint yet, starting fresh");
  }
  catch_stop_signals();
  int stopped;
  if (dc_experiment_run(&e, resume, stdout, &stopped) != DC_OK) return die(dc_failure_reason());
  return stopped == DC_STOPPED_SIGNAL ? EXIT_RESUMABLE : 0;
}

/* ---- eval ---- */

static int cmd_eval(const char *cmd, int argc, char **argv) {
  const char *model, *data = NULL;
  long threads = 0;
  static set_list sets;
  int n, rc;
  const opt opts[] = {
      {"--data", OPT_STR, &data, 0, 0}, {"--threads", OPT_LONG, &threads, 1, 1024}, {"--set", OPT_SET, &sets, 0, 0}};
  if ((rc = parse_args(cmd, EVAL_USAGE, argc, argv, opts, NOPTS(opts), &model, 1, &n, "MODEL (a .dcz or .h5 file)")) >=
      0)
    return rc;
  if (!data) return bad_arg(cmd, "missing --data EXPERIMENT.cfg (it gives the net and the test set)");
  static dc_experiment e;
  if (dc_experiment_load_set(data, sets.v, sets.n, &e) != DC_OK) return die(dc_failure_reason());
  if ((rc = override(cmd, &e, threads, NULL)) >= 0) return rc;
  dc_test_result r;
  if (dc_cmd_eval(&e, model, dc_dist_rank() == 0 ? stdout : NULL, &r) != DC_OK) return die(dc_failure_reason());
  return 0;
}

/* ---- info, export ---- */

static int cmd_info(const char *cmd, int argc, char **argv) {
  const char *pos[1];
  int n, rc;
  if ((rc = parse_args(cmd, INFO_USAGE, argc, argv, NULL, 0, pos, 1, &n, "MODEL.dcz")) >= 0) return rc;
  if (dc_cmd_info(pos[0], stdout) != DC_OK) return die(dc_failure_reason());
  return 0;
}

static int cmd_encode(const char *cmd, int argc, char **argv) {
  const char *cfg, *weights = NULL, *out = NULL;
  long threads = 0;
  static set_list sets;
  int n, rc;
  const opt opts[] = {{"--weights", OPT_STR, &weights, 0, 0},
                      {"--out", OPT_STR, &out, 0, 0},
                      {"--threads", OPT_LONG, &threads, 1, 1024},
                      {"--set", OPT_SET, &sets, 0, 0}};
  if ((rc = parse_args(cmd, ENCODE_USAGE, argc, argv, opts, NOPTS(opts), &cfg, 1, &n, "EXPERIMENT.cfg")) >= 0)
    return rc;
  static dc_experiment e;
  if (dc_experiment_load_set(cfg, sets.v, sets.n, &e) != DC_OK) return die(dc_failure_reason());
  if ((rc = override(cmd, &e, threads, NULL)) >= 0) return rc;
  if (dc_cmd_encode(&e, weights, out, stdout) != DC_OK) return die(dc_failure_reason());
  return 0;
}

static int cmd_export(const char *cmd, int argc, char **argv) {
  const char *pos[2];
  int n, rc;
  if ((rc = parse_args(cmd, EXPORT_USAGE, argc, argv, NULL, 0, pos, 2, &n, "MODEL.dcz OUT.h5")) >= 0) return rc;
  if (dc_cmd_export(pos[0], pos[1], stdout) != DC_OK) return die(dc_failure_reason());
  return 0;
}

/* ---- sensitivity ---- */

static int cmd_sensitivity(const char *cmd, int argc, char **argv) {
  const char *cfg, *weights = NULL, *output = NULL, *densities = NULL, *bits = NULL;
  long threads = 0;
  static set_list sets;
  int n, rc;
  const opt opts[] = {{"--weights", OPT_STR, &weights, 0, 0},     {"--output", OPT_STR, &output, 0, 0},
                      {"--densities", OPT_STR, &densities, 0, 0}, {"--bits", OPT_STR, &bits, 0, 0},
                      {"--threads", OPT_LONG, &threads, 1, 1024}, {"--set", OPT_SET, &sets, 0, 0}};
  if ((rc = parse_args(cmd, SENSITIVITY_USAGE, argc, argv, opts, NOPTS(opts), &cfg, 1, &n, "EXPERIMENT.cfg")) >= 0)
    return rc;
  double pct[DC_MAX_DENSITIES];
  int npct = NOPTS(dc_default_densities);
  memcpy(pct, dc_default_densities, sizeof dc_default_densities);
  int nbits = 0, widths[DC_MAX_DENSITIES];
  if (densities && bits) return bad_arg(cmd, "--densities and --bits: one sweep at a time");
  if (densities && dc_parse_densities(densities, pct, DC_MAX_DENSITIES, &npct) != DC_OK)
    return bad_arg(cmd, "%s", dc_failure_reason());
  if (bits && dc_parse_bits(bits, widths, DC_MAX_DENSITIES, &nbits) != DC_OK)
    return bad_arg(cmd, "%s", dc_failure_reason());
  static dc_experiment e;
  if (dc_experiment_load_set(cfg, sets.v, sets.n, &e) != DC_OK) return die(dc_failure_reason());
  if ((rc = override(cmd, &e, threads, output)) >= 0) return rc;
  dc_sensitivity r;
  dc_status s = bits ? dc_cmd_sensitivity_bits(&e, weights, widths, nbits, stdout, &r)
                     : dc_cmd_sensitivity(&e, weights, pct, npct, stdout, &r);
  if (s != DC_OK) return die(dc_failure_reason());
  dc_sensitivity_free(&r);
  return 0;
}

/* ---- plan ---- */

static int cmd_plan(const char *cmd, int argc, char **argv) {
  const char *cfg, *weights = NULL, *output = NULL, *densities = NULL, *bits = NULL, *out_cfg = NULL;
  const char *size = NULL, *max_loss = "0.1", *tables = NULL;
  double reserve = 3;
  long threads = 0, rounds = 0;
  double ratio = 0;
  static set_list sets;
  int n, rc;
  const opt opts[] = {{"--weights", OPT_STR, &weights, 0, 0},
                      {"--output", OPT_STR, &output, 0, 0},
                      {"--densities", OPT_STR, &densities, 0, 0},
                      {"--bits", OPT_STR, &bits, 0, 0},
                      {"-o", OPT_STR, &out_cfg, 0, 0},
                      {"--size", OPT_STR, &size, 0, 0},
                      {"--max-loss", OPT_STR, &max_loss, 0, 0},
                      {"--ratio", OPT_DOUBLE, &ratio, 0, 1000000},
                      {"--rounds", OPT_LONG, &rounds, 1, 1000},
                      {"--threads", OPT_LONG, &threads, 1, 1024},
                      {"--set", OPT_SET, &sets, 0, 0},
                      {"--sensitivity", OPT_STR, &tables, 0, 0},
                      {"--reserve", OPT_DOUBLE, &reserve, 0, 99}};
  if ((rc = parse_args(cmd, PLAN_USAGE, argc, argv, opts, NOPTS(opts), &cfg, 1, &n, "EXPERIMENT.cfg")) >= 0) return rc;
  static dc_plan_conf c;
  if (!out_cfg) return bad_arg(cmd, "missing -o OUT.cfg (the experiment file to write)");
  if (!size == !(ratio > 0)) return bad_arg(cmd, "give one budget: --ratio R or --size BYTES");
  if (size && dc_parse_size(size, "--size", &c.budget) != DC_OK) return bad_arg(cmd, "%s", dc_failure_reason());
  char *end;
  c.max_loss = strtod(max_loss, &end);
  if (*end || end == max_loss || !(c.max_loss >= 0 && c.max_loss <= 100))
    return bad_arg(cmd, "--max-loss: expected points of top-1 in [0, 100], got '%s'", max_loss);
  if (densities && dc_parse_densities(densities, c.density, DC_PLAN_MAX_GRID, &c.ndensities) != DC_OK)
    return bad_arg(cmd, "%s", dc_failure_reason());
  if (bits && dc_parse_bits(bits, c.bits, DC_PLAN_MAX_GRID, &c.nbits) != DC_OK)
    return bad_arg(cmd, "%s", dc_failure_reason());
  static char command[2048];
  int len = snprintf(command, sizeof command, "dctrain plan");
  for (int i = 0; i < argc && len < (int)sizeof command; i++)
    len += snprintf(command + len, sizeof command - (size_t)len, " %s", argv[i]);
  c.weights = weights;
  c.out_cfg = out_cfg;
  c.command = command;
  c.rounds = (int)rounds;
  c.tables = tables;
  c.reserve = reserve;
  if (tables && (densities || bits))
    return bad_arg(cmd, "--sensitivity DIR: the grid is its tables' rows (no --densities, --bits)");
  static dc_experiment e;
  if (dc_experiment_load_set(cfg, sets.v, sets.n, &e) != DC_OK) return die(dc_failure_reason());
  if ((rc = override(cmd, &e, threads, output)) >= 0) return rc;
  if (ratio > 0) {
    /* the fp32 size is the net's: known once the plan has loaded it; 1/R of it */
    c.budget = 0;
    if (dc_plan_budget_from_ratio(&e, ratio, &c.budget) != DC_OK) return die(dc_failure_reason());
  }
  dc_plan p;
  if (dc_cmd_plan(&e, &c, stdout, &p) != DC_OK) return die(dc_failure_reason());
  dc_plan_free(&p);
  return 0;
}

/* ---- bench ---- */

static int cmd_bench(const char *cmd, int argc, char **argv) {
  const char *net;
  long batch = 64, threads = 2, overlap = 1;
  double seconds = 3.0;
  int n, rc;
  const opt opts[] = {{"--batch", OPT_LONG, &batch, 1, 1 << 16},
                      {"--threads", OPT_LONG, &threads, 1, 1024},
                      {"--seconds", OPT_DOUBLE, &seconds, 0, 3600},
                      {"--overlap", OPT_LONG, &overlap, 0, 1}};
  if ((rc = parse_args(cmd, BENCH_USAGE, argc, argv, opts, NOPTS(opts), &net, 1, &n, "NET.net")) >= 0) return rc;
  if (dc_bench(net, (int)batch, (int)threads, seconds, (int)overlap, stdout) != DC_OK) return die(dc_failure_reason());
  return 0;
}

/* ---- import ---- */

static int cmd_import(const char *cmd, int argc, char **argv) {
  const char *pos[3], *net = NULL;
  int n, rc;
  const opt opts[] = {{"--net", OPT_STR, &net, 0, 0}};
  if ((rc = parse_args(cmd, IMPORT_USAGE, argc, argv, opts, NOPTS(opts), pos, 3, &n, "caffe IN.caffemodel OUT.h5")) >=
      0)
    return rc;
  if (strcmp(pos[0], "caffe") != 0) return bad_arg(cmd, "unknown format '%s' (only 'caffe')", pos[0]);
  if (!net) return bad_arg(cmd, "missing --net NET.net (the net the weights are checked against)");
  if (dc_import_caffe(pos[1], net, pos[2], stdout) != DC_OK) return die(dc_failure_reason());
  return 0;
}

/* ---- predict ---- */

static int cmd_predict(const char *cmd, int argc, char **argv) {
  const char *idx = NULL, *labels = NULL, *data = NULL;
  long first = 10, top = 5, threads = 2;
  const opt opts[] = {{"--idx", OPT_STR, &idx, 0, 0},        {"--labels", OPT_STR, &labels, 0, 0},
                      {"--data", OPT_STR, &data, 0, 0},      {"--first", OPT_LONG, &first, 1, 1000000},
                      {"--top", OPT_LONG, &top, 1, 1 << 20}, {"--threads", OPT_LONG, &threads, 1, 1024}};
  /* positionals (MODEL, IMAGE...) are any number: parse the options alone */
  char **optv = malloc(sizeof(char *) * (size_t)(argc + 1));
  const char **pos = malloc(sizeof(char *) * (size_t)(argc + 1));
  if (!optv || !pos) return die("out of memory");
  int no = 0, np = 0, n, rc;
  for (int i = 0; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1] != '\0') {
      optv[no++] = argv[i];
      if (strcmp(argv[i], "-h") && strcmp(argv[i], "--help") && i + 1 < argc) optv[no++] = argv[++i];
    } else {
      pos[np++] = argv[i];
    }
  }
  rc = parse_args(cmd, PREDICT_USAGE, no, optv, opts, NOPTS(opts), NULL, 0, &n, "");
  if (rc < 0 && np == 0) rc = bad_arg(cmd, "missing MODEL.dcz");
  if (rc < 0 && np == 1 && !idx) rc = bad_arg(cmd, "no input: give image files or --idx FILE");
  if (rc < 0) {
    dc_predict_conf c = {pos[0], pos + 1, np - 1, idx, (int)first, (int)top, labels, data, (int)threads};
    rc = dc_cmd_predict(&c, stdout) == DC_OK ? 0 : die(dc_failure_reason());
  }
  free(optv);
  free(pos);
  return rc;
}

/* ---- plot ---- */

static int cmd_plot(const char *cmd, int argc, char **argv) {
  static const char *const kinds[] = {"curves", "hist", "mask", "codes", "tradeoff"};
  const char *out = NULL, *layer = NULL, *net = NULL, *title = NULL;
  long bins = 80;
  const char *codebooks[4];
  int ncb = 0;
  if (argc >= 1 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
    fputs(PLOT_USAGE, stdout);
    return 0;
  }
  if (argc < 1) return bad_arg(cmd, "missing KIND (curves, hist, mask, codes or tradeoff)");
  int kind = -1;
  for (int i = 0; i < 5; i++)
    if (!strcmp(argv[0], kinds[i])) kind = i;
  if (kind < 0) {
    const char *hint = dc_closest(argv[0], kinds, 5);
    return bad_arg(cmd, "unknown kind '%s'%s%s%s", argv[0], hint ? " (did you mean '" : "", hint ? hint : "",
                   hint ? "'?)" : "");
  }
  /* positionals are any number: collect them, parse the options as for other commands */
  char **optv = malloc(sizeof(char *) * (size_t)(argc + 1));
  const char **pos = malloc(sizeof(char *) * (size_t)(argc + 1));
  if (!optv || !pos) return die("out of memory");
  int no = 0, np = 0, n, rc = -1;
  for (int i = 1; i < argc && rc < 0; i++) {
    if (!strcmp(argv[i], "--codebook")) {
      if (i + 1 >= argc)
        rc = bad_arg(cmd, "--codebook needs a value");
      else if (ncb == 4)
        rc = bad_arg(cmd, "at most 4 --codebook files");
      else
        codebooks[ncb++] = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      optv[no++] = argv[i];
      if (strcmp(argv[i], "-h") && strcmp(argv[i], "--help") && i + 1 < argc) optv[no++] = argv[++i];
    } else {
      pos[np++] = argv[i];
    }
  }
  const opt opts[] = {{"-o", OPT_STR, &out, 0, 0},
                      {"--layer", OPT_STR, &layer, 0, 0},
                      {"--net", OPT_STR, &net, 0, 0},
                      {"--title", OPT_STR, &title, 0, 0},
                      {"--bins", OPT_LONG, &bins, 5, 1000}};
  if (rc < 0) rc = parse_args(cmd, PLOT_USAGE, no, optv, opts, NOPTS(opts), NULL, 0, &n, "");
  int one_input = kind == 1 || kind == 2 || kind == 3;
  if (rc < 0 && np == 0)
    rc = bad_arg(cmd, "%s: missing %s", kinds[kind],
                 kind == 0   ? "LOG.csv"
                 : kind == 4 ? "RUN_DIR"
                 : kind == 3 ? "MODEL.dcz"
                             : "WEIGHTS");
  if (rc < 0 && one_input && np > 1)
    rc = bad_arg(cmd, "%s: one input file, got %d ('%s', '%s'...)", kinds[kind], np, pos[0], pos[1]);
  if (rc < 0 && !out) rc = bad_arg(cmd, "%s: missing -o OUT.png", kinds[kind]);
  if (rc < 0 && one_input && !layer)
    rc = bad_arg(cmd, "%s: missing --layer L (a weighted layer, e.g. ip1)", kinds[kind]);
  if (rc < 0 && ncb && kind != 1) rc = bad_arg(cmd, "--codebook is for plot hist");
  if (rc < 0 && net && kind != 2) rc = bad_arg(cmd, "--net is for plot mask");
  if (rc < 0) {
    dc_status s;
    switch (kind) {
      case 0:
        s = dc_plot_curves(out, pos, np, title);
        break;
      case 1:
        s = dc_plot_hist(out, pos[0], layer, codebooks, ncb, (int)bins, title);
        break;
      case 2:
        s = dc_plot_mask(out, pos[0], layer, net, title);
        break;
      case 3:
        s = dc_plot_codes(out, pos[0], layer, title);
        break;
      default:
        s = dc_plot_tradeoff(out, pos, np, title);
        break;
    }
    rc = s == DC_OK ? 0 : die(dc_failure_reason());
    if (rc == 0) printf("wrote %s\n", out);
  }
  free(optv);
  free(pos);
  return rc;
}

/* ---- dispatch ---- */

typedef struct {
  const char *name;
  int (*run)(const char *cmd, int argc, char **argv); /* argv: the arguments after the name */
  int parallel; /* may run as one of several ranks (the others are one-process commands) */
} subcommand;

static const subcommand g_commands[] = {
    {"train", cmd_train, 1},     {"eval", cmd_eval, 1},     {"info", cmd_info, 0},
    {"export", cmd_export, 0},   {"encode", cmd_encode, 0}, {"sensitivity", cmd_sensitivity, 0},
    {"plan", cmd_plan, 0},       {"bench", cmd_bench, 1},   {"import", cmd_import, 0},
    {"predict", cmd_predict, 0}, {"plot", cmd_plot, 0},
};
#define NCOMMANDS ((int)(sizeof g_commands / sizeof g_commands[0]))

/* OpenMP's default is to spin ~300,000 times at every barrier before sleeping. When
 * another OpenMP process (a second run, a parallel test) shares the cores, each barrier
 * then waits for a descheduled partner: two LeNet-300-100 benches side by side on 2
 * cores ran at 10,000 images/s each, against 30,000 with 3,000 spins and no loss when
 * alone (122,000). libgomp reads the setting only at start-up, so when the user has set
 * neither GOMP_SPINCOUNT nor OMP_WAIT_POLICY, dctrain sets it and restarts itself. */
static void tune_openmp_waiting(char **argv) {
  if (getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY")) return;
  if (setenv("GOMP_SPINCOUNT", "3000", 1) != 0) return;
  execv("/proc/self/exe", argv);
  /* no /proc (or exec refused): carry on with the default */
}

static int dispatch(int argc, char **argv) {
  if (argc >= 2) {
    const char *a = argv[1];
    for (int i = 0; i < NCOMMANDS; i++) {
      if (strcmp(a, g_commands[i].name) != 0) continue;
      if (dc_dist_size() > 1 && !g_commands[i].parallel)
        return die("this command runs as one process: start it without mpirun or srun");
      return g_commands[i].run(a, argc - 2, argv + 2);
    }
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

int main(int argc, char **argv) {
  tune_openmp_waiting(argv);
  if (dc_dist_init(&argc, &argv) != DC_OK) return die(dc_failure_reason());
  int rc = dispatch(argc, argv);
  dc_dist_finalize();
  return rc;
}
