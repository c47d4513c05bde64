/* dc/experiment.h — a whole run from one experiments/NAME.cfg: net + data + solver +
 * compression schedule. Sections: [experiment], [data], [solver] (the dense training
 * stage), then the compression stages. The settings' types are in dc/config.h; this
 * header loads them and runs them. Every key is documented in README.md. */
#ifndef DC_EXPERIMENT_H
#define DC_EXPERIMENT_H

#include <stdio.h>

#include "dc/config.h"
#include "dc/error.h"

/* Parse and validate an experiment file; every error names file:line. */
dc_status dc_experiment_load(const char *path, dc_experiment *e);
/* The same with command-line overrides "section.key=value" (dc_cfg_override) applied,
 * in order, before anything is read: they are checked like the file's own keys, and
 * their errors name the "--set ARG" instead of a file line. */
dc_status dc_experiment_load_set(const char *path, const char *const *sets, int nsets, dc_experiment *e);

struct dc_dataset;
struct dc_net;

/* Open the experiment's training (train != 0) or test set as [data] says, limits applied. */
dc_status dc_experiment_open_data(const dc_experiment *e, int train, struct dc_dataset **out);

/* The data set must fit the net: its input shape, and no more classes than it outputs. */
dc_status dc_experiment_check_fit(const dc_experiment *e, const struct dc_dataset *d, const struct dc_net *net);

/* Run it. resume: a checkpoint to continue from (NULL: start fresh). out: progress
 * lines (stdout; only rank 0 of a data-parallel job prints). stopped (may be NULL): set
 * to DC_STOPPED_AFTER / DC_STOPPED_SIGNAL (dc/train.h) when the run checkpointed and
 * stopped early (--stop-after, a signal), else 0. */
dc_status dc_experiment_run(const dc_experiment *e, const char *resume, FILE *out, int *stopped);

#endif
