/* dc/experiment.h — a whole run from one experiments/NAME.cfg: net + data + solver +
 * compression schedule. Sections: [experiment], [data], [solver] (the dense training
 * stage), then the compression stages. Every key is documented in README.md. */
#ifndef DC_EXPERIMENT_H
#define DC_EXPERIMENT_H

#include <stdint.h>
#include <stdio.h>

#include "dc/error.h"
#include "dc/solver.h"

typedef enum { DC_DATA_MNIST = 0, DC_DATA_KIND_COUNT } dc_data_kind;

typedef struct {
  char path[512];        /* the cfg file */
  /* [experiment] */
  char name[64];
  char net[512];         /* net file */
  char output[512];      /* run directory */
  char weights[512];     /* optional: start from these HDF5 weights */
  uint64_t seed;
  int threads;
  /* [data] */
  dc_data_kind data_kind;
  char data_dir[512];
  double scale;
  long train_limit, test_limit; /* 0: all samples */
  int shuffle;
  /* [solver] */
  dc_solver_conf solver;
  int batch, test_batch;
  long display, test_interval, test_iters, snapshot;
  /* command line */
  long stop_after;       /* >0: checkpoint and stop after this many total iterations */
} dc_experiment;

/* Parse and validate an experiment file; every error names file:line. */
dc_status dc_experiment_load(const char *path, dc_experiment *e);

/* Run it. resume: a checkpoint to continue from (NULL: start fresh). out: progress
 * lines (stdout). */
dc_status dc_experiment_run(const dc_experiment *e, const char *resume, FILE *out);

#endif
