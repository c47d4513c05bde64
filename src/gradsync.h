/* gradsync.h — private: the step between backward and the solver. Each parameter's
 * gradient is reduced by kind (dc_param_reduce_grad) and, in a data-parallel job, summed
 * over the ranks: only what the solver updates travels (all of a DENSE gradient, the kept
 * entries of a MASKED one, the k centroid gradients of a SHARED one), and frozen
 * parameters (lr_mult 0) not at all. With overlap, a layer's sum starts as soon as
 * backward has finished that layer (the pass's grad_ready hook), the way Horovod and
 * PyTorch DDP overlap communication with the rest of backward. */
#ifndef DC_GRADSYNC_H
#define DC_GRADSYNC_H

#include <stddef.h>

#include "dc/layer.h"
#include "dc/net.h"

typedef struct dc_gradsync dc_gradsync;

/* For the params ps as their kinds and masks are now (make a new one when a stage
 * changes them). overlap: start sums during backward (see dc_gradsync_hook). */
dc_status dc_gradsync_create(dc_params *ps, int overlap, dc_gradsync **out);
void dc_gradsync_free(dc_gradsync *g);

/* Point the pass's grad_ready hook at g (nothing when alone or without overlap). */
void dc_gradsync_hook(dc_gradsync *g, dc_pass *pass);

/* After backward: reduce and sum what the hook did not start, wait for every sum and
 * unpack. The gradients are then ready for dc_solver_update. */
dc_status dc_gradsync_finish(dc_gradsync *g);

/* Floats summed over the ranks per step, and seconds the last step waited for sums. */
size_t dc_gradsync_floats(const dc_gradsync *g);
double dc_gradsync_waited(const dc_gradsync *g);

/* Make every rank's parameters identical to rank 0's: kinds, masks, codebooks, indices,
 * values and momenta (a broadcast; nothing when alone). Called whenever the ranks may
 * have got there separately: after loading weights or a checkpoint (rank 0 reads files),
 * after a prune round or quantization (computed by every rank, made bit-identical). */
dc_status dc_params_bcast(dc_params *ps);

/* Check that every rank holds the same parameter values (a hash compared across ranks):
 * a failure is a bug, reported naming `when`. */
dc_status dc_params_check_same(dc_params *ps, const char *when);

#endif
