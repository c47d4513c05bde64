/* dc/solver.h — SGD with momentum, weight decay and Caffe's learning-rate policies.
 *
 * Update, per element of every parameter view (see dc/param.h), Caffe's rule:
 *   v = momentum * v + lr * lr_mult * (g + weight_decay * decay_mult * w);  w -= v
 * For SHARED parameters the view is the codebook: centroids get the same rule. */
#ifndef DC_SOLVER_H
#define DC_SOLVER_H

#include <stdint.h>

#include "dc/error.h"
#include "dc/net.h"

typedef enum {
  DC_LR_FIXED = 0, DC_LR_STEP, DC_LR_MULTISTEP, DC_LR_INV, DC_LR_POLY, DC_LR_EXP, DC_LR_POLICY_COUNT
} dc_lr_policy;

#define DC_MAX_STEPVALUES 16

typedef struct {
  double base_lr, momentum, weight_decay;
  dc_lr_policy policy;
  double gamma, power;  /* step/multistep/inv/exp: gamma; inv/poly: power */
  long stepsize;        /* step */
  long stepvalue[DC_MAX_STEPVALUES]; int nstepvalues; /* multistep */
  long max_iter;        /* poly uses it; also the training length */
} dc_solver_conf;

extern const char *const dc_lr_policy_names[DC_LR_POLICY_COUNT];

/* Learning rate at iteration iter (0-based), as Caffe computes it. */
double dc_solver_lr(const dc_solver_conf *c, long iter);

/* One update of every parameter in ps at learning rate lr: reduce gradients by kind,
 * apply the rule above, re-derive data. Frozen params (lr_mult == 0) are untouched. */
void dc_solver_step(const dc_solver_conf *c, dc_params *ps, double lr);

/* dc_solver_step without the reduction: every unfrozen parameter's gradient must already
 * be reduced by kind (dc_param_reduce_grad), and summed over the ranks when data-parallel
 * (the trainer's gradient sync does both). Returns the index in ps of the first parameter
 * whose gradient held NaN or Inf (checked in the same pass, so it costs nothing; that
 * parameter is updated all the same: the caller stops), or -1. */
int dc_solver_update(const dc_solver_conf *c, dc_params *ps, double lr);

/* Zero every momentum buffer (used when a stage restarts training). */
void dc_solver_reset(dc_params *ps);

#endif
