/* dc/dist.h — data-parallel training across processes: rank, world size and the few
 * collectives the trainer needs. Only src/dist.c touches MPI; everything else sees rank
 * and size (the shape of llm.c's multi-process path).
 *
 * A build without MPI (CMake found none) is always one process. Started by an MPI
 * launcher with more than one rank, dc_dist_init fails with a one-line error instead of
 * letting N independent runs write the same files. A build with MPI calls MPI_Init only
 * when a launcher started it (mpirun, mpiexec, srun with PMI/PMIx); `dctrain x.cfg`
 * alone stays an ordinary single process.
 *
 * The collectives are called by every rank in the same order. A rank that fails does not
 * try to tell the others: the command prints its one-line message and calls
 * dc_dist_abort, which ends every rank (MPI_Abort), so no rank waits forever in a
 * collective the failed one will never join. */
#ifndef DC_DIST_H
#define DC_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "dc/error.h"

/* Join the job (MPI_Init when launched by MPI). Call once, first thing, from main. */
dc_status dc_dist_init(int *argc, char ***argv);
/* Leave the job (MPI_Finalize); no collective may follow. */
void dc_dist_finalize(void);
/* End every rank of the job with exit status `code` (exit(code) when alone). */
void dc_dist_abort(int code) __attribute__((noreturn));

int dc_dist_rank(void);    /* 0 .. size-1; 0 when alone */
int dc_dist_size(void);    /* ranks in the job; 1 when alone */
int dc_dist_built(void);   /* 1 when built with MPI */

/* Blocking, in place, every rank: sums (f32, f64, i64), maximum (i64), broadcast from
 * rank 0. Alone they do nothing. */
dc_status dc_dist_sum_f32(float *buf, size_t n);
dc_status dc_dist_sum_f64(double *buf, int n);
dc_status dc_dist_sum_i64(int64_t *buf, int n);
dc_status dc_dist_max_i64(int64_t *buf, int n);
dc_status dc_dist_bcast(void *buf, size_t bytes);

/* Non-blocking sum in place of buf[0..n): starts it and returns at once. buf must stay
 * untouched until dc_dist_wait_all. Sums started are completed in the order started. */
dc_status dc_dist_isum_f32(float *buf, size_t n);
/* Let started sums advance (call between pieces of other work). */
void dc_dist_progress(void);
/* Complete every started sum. */
dc_status dc_dist_wait_all(void);

#endif
