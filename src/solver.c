/* solver.c — SGD with momentum and Caffe's learning-rate policies; see dc/solver.h. */
#include "dc/solver.h"

#include <math.h>
#include <string.h>

const char *const dc_lr_policy_names[DC_LR_POLICY_COUNT] = {"fixed", "step", "multistep",
                                                            "inv",   "poly", "exp"};

double dc_solver_lr(const dc_solver_conf *c, long iter) {
  switch (c->policy) {
    case DC_LR_FIXED:
      return c->base_lr;
    case DC_LR_STEP:
      return c->base_lr * pow(c->gamma, (double)(iter / (c->stepsize > 0 ? c->stepsize : 1)));
    case DC_LR_MULTISTEP: {
      int passed = 0;
      while (passed < c->nstepvalues && iter >= c->stepvalue[passed]) passed++;
      return c->base_lr * pow(c->gamma, passed);
    }
    case DC_LR_INV:
      return c->base_lr * pow(1.0 + c->gamma * (double)iter, -c->power);
    case DC_LR_POLY:
      if (c->max_iter <= 0 || iter >= c->max_iter) return 0.0;
      return c->base_lr * pow(1.0 - (double)iter / (double)c->max_iter, c->power);
    case DC_LR_EXP:
      return c->base_lr * pow(c->gamma, (double)iter);
    case DC_LR_POLICY_COUNT:
      break;
  }
  DC_ASSERT(0 && "unknown lr policy");
  return 0.0;
}

void dc_solver_step(const dc_solver_conf *c, dc_params *ps, double lr) {
  for (int i = 0; i < ps->count; i++)
    if (ps->p[i].lr_mult != 0.0f) dc_param_reduce_grad(&ps->p[i]);
  dc_solver_update(c, ps, lr);
}

int dc_solver_update(const dc_solver_conf *c, dc_params *ps, double lr) {
  int bad = -1;
  for (int i = 0; i < ps->count; i++) {
    dc_param *p = &ps->p[i];
    if (p->lr_mult == 0.0f) continue;
    dc_param_view v = dc_param_view_of(p);
    const float rate = (float)(lr * p->lr_mult);
    const float decay = (float)(c->weight_decay * p->decay_mult);
    const float mom = (float)c->momentum;
    float *restrict w = v.value, *restrict g = v.grad, *restrict h = v.history;
    const uint8_t *restrict mask = v.mask;
    float finite = 0.0f; /* sum of g*0: 0 unless some g is NaN or Inf */
    if (mask) {
      /* a pruned weight: gradient forced to 0, value and momentum already 0, so
       * h = mom*0 + rate*(0 + decay*0) = 0 and w stays exactly 0 */
#pragma omp parallel for simd schedule(static) reduction(+ : finite) if (v.n >= 16384)
      for (size_t j = 0; j < v.n; j++) {
        float gj = mask[j] ? g[j] : 0.0f;
        g[j] = gj;
        finite += gj * 0.0f;
        h[j] = mom * h[j] + rate * (gj + decay * w[j]);
        w[j] -= h[j];
      }
    } else if (v.decay_scale) {
      /* centroids (at most 256): the decay of the n_k weights each stands for */
      const float *restrict ds = v.decay_scale;
      for (size_t j = 0; j < v.n; j++) {
        finite += g[j] * 0.0f;
        h[j] = mom * h[j] + rate * (g[j] + decay * ds[j] * w[j]);
        w[j] -= h[j];
      }
    } else {
#pragma omp parallel for simd schedule(static) reduction(+ : finite) if (v.n >= 16384)
      for (size_t j = 0; j < v.n; j++) {
        finite += g[j] * 0.0f;
        h[j] = mom * h[j] + rate * (g[j] + decay * w[j]);
        w[j] -= h[j];
      }
    }
    if (v.derived) dc_param_sync(p);
    if (finite != 0.0f && bad < 0) bad = i;
  }
  return bad;
}

void dc_solver_reset(dc_params *ps) {
  for (int i = 0; i < ps->count; i++) {
    dc_param_view v = dc_param_view_of(&ps->p[i]);
    memset(v.history, 0, sizeof(float) * v.n);
  }
}
