/* main.c — the dctrain command. The only place that prints errors and exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/experiment.h"

#define DC_VERSION "0.1.0"

static const char *const USAGE =
    "usage: dctrain [options] EXPERIMENT.cfg\n"
    "\n"
    "Train the net an experiment names on its data, then run its compression stages\n"
    "(prune, quantize, encode) as listed, writing checkpoints, a CSV log and reports\n"
    "into the experiment's output directory.\n"
    "\n"
    "options:\n"
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

static int die(const char *msg) {
  fprintf(stderr, "dctrain: %s\n", msg && *msg ? msg : "failed");
  return 1;
}

int main(int argc, char **argv) {
  const char *cfg = NULL, *resume = NULL, *output = NULL;
  int threads = 0;
  long stop_after = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(USAGE, stdout);
      return 0;
    } else if (!strcmp(a, "--version")) {
      printf("dctrain %s\n", DC_VERSION);
      return 0;
    } else if (!strcmp(a, "--resume") || !strcmp(a, "--threads") || !strcmp(a, "--output") ||
               !strcmp(a, "--stop-after")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "dctrain: %s needs a value (see --help)\n", a);
        return 2;
      }
      const char *v = argv[++i];
      if (!strcmp(a, "--resume")) resume = v;
      else if (!strcmp(a, "--output")) output = v;
      else {
        char *end;
        long n = strtol(v, &end, 10);
        long max = !strcmp(a, "--threads") ? 1024 : 1L << 40;
        if (*end || end == v || n < 1 || n > max) {
          fprintf(stderr, "dctrain: %s: expected an integer in [1, %ld], got '%s'\n", a, max, v);
          return 2;
        }
        if (!strcmp(a, "--threads")) threads = (int)n;
        else stop_after = n;
      }
    } else if (a[0] == '-') {
      fprintf(stderr, "dctrain: unknown option '%s' (see --help)\n", a);
      return 2;
    } else if (cfg) {
      fprintf(stderr, "dctrain: one experiment at a time ('%s' and '%s')\n", cfg, a);
      return 2;
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
  if (threads) e.threads = threads;
  e.stop_after = stop_after;
  if (output) {
    if (strlen(output) >= sizeof e.output) return die("--output: path too long");
    snprintf(e.output, sizeof e.output, "%s", output);
  }
  if (dc_experiment_run(&e, resume, stdout) != DC_OK) return die(dc_failure_reason());
  return 0;
}
