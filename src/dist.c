/* dist.c — the only file that touches MPI: joining the job, rank and size, and the
 * collectives of dc/dist.h. Without DC_HAVE_MPI (CMake found no MPI) every call is the
 * one-process version, and dc_dist_init refuses to run as one of several ranks. */
#include "dc/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many processes a launcher says it started, from the variables launchers set for
 * each process: Open MPI's mpirun, PMIx and PMI (MPICH, Slurm's srun --mpi=...), and
 * srun itself. 0 when none is set. `who` gets the variable's name. */
static long launched_size(const char **who) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    long n = v ? strtol(v, NULL, 10) : 0;
    if (n > 0) {
      *who = vars[i];
      return n;
    }
  }
  return 0;
}

#ifdef DC_HAVE_MPI
#include <malloc.h>
#include <mpi.h>

#define MAX_PENDING 4096
#define CHUNK (1 << 30) /* MPI counts are ints: longer buffers go in pieces */
/* Non-blocking sums go in pieces of 4 M floats (16 MB): each piece's scratch stays small
 * enough to be reused from the heap, and pieces complete (and are progressed) one by one
 * while backward goes on. On AlexNet with 2 ranks (scripts/bench-dist.sh) this took the
 * job from 63% to 88% of the one-process images/s, against one 151 MB sum for fc6. */
#define ISUM_CHUNK ((size_t)1 << 22)

static int g_joined; /* MPI_Init was called by us */
static int g_rank, g_size = 1;
static MPI_Comm g_comm;
static MPI_Request g_pending[MAX_PENDING];
static int g_npending;

static dc_status mpi_fail(int rc, const char *what) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return dc_fail(DC_ERR_BACKEND, "MPI %s failed on rank %d: %s", what, g_rank, msg);
}

dc_status dc_dist_init(int *argc, char ***argv) {
  const char *who = "";
  /* MPI_Init only under a launcher: a plain `dctrain` needs no MPI runtime at all */
  if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK") && launched_size(&who) <= 1)
    return DC_OK;
  int provided = 0;
  int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) return dc_fail(DC_ERR_BACKEND, "MPI_Init failed");
  g_joined = 1;
  MPI_Comm_dup(MPI_COMM_WORLD, &g_comm);
  MPI_Comm_set_errhandler(g_comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(g_comm, &g_rank);
  MPI_Comm_size(g_comm, &g_size);
  /* The MPI library allocates scratch for every sum it runs; blocks up to 32 MB come from
   * the heap and stay there between steps instead of being mapped and faulted in anew */
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  long n = launched_size(&who);
  if (g_size == 1 && n > 1)
    return dc_fail(DC_ERR_ARG,
                   "started as one of %ld tasks (%s) but MPI sees a job of one: launch with mpirun, or srun "
                   "--mpi=pmix, so the tasks form one job",
                   n, who);
  return DC_OK;
}

void dc_dist_finalize(void) {
  if (!g_joined) return;
  dc_dist_wait_all();
  MPI_Comm_free(&g_comm);
  MPI_Finalize();
  g_joined = 0;
}

void dc_dist_abort(int code) {
  fflush(stdout);
  fflush(stderr);
  if (g_joined && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
  exit(code);
}

int dc_dist_rank(void) { return g_rank; }
int dc_dist_size(void) { return g_size; }
int dc_dist_built(void) { return 1; }

static dc_status allreduce(void *buf, size_t n, MPI_Datatype type, size_t elem, MPI_Op op, const char *what) {
  if (g_size == 1) return DC_OK;
  for (size_t off = 0; off < n; off += CHUNK) {
    int m = (int)(n - off < CHUNK ? n - off : CHUNK);
    int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * elem, m, type, op, g_comm);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, what);
  }
  return DC_OK;
}

dc_status dc_dist_sum_f32(float *buf, size_t n) { return allreduce(buf, n, MPI_FLOAT, sizeof *buf, MPI_SUM, "allreduce"); }
dc_status dc_dist_sum_f64(double *buf, int n) { return allreduce(buf, (size_t)n, MPI_DOUBLE, sizeof *buf, MPI_SUM, "allreduce"); }
dc_status dc_dist_sum_i64(int64_t *buf, int n) { return allreduce(buf, (size_t)n, MPI_INT64_T, sizeof *buf, MPI_SUM, "allreduce"); }
dc_status dc_dist_max_i64(int64_t *buf, int n) { return allreduce(buf, (size_t)n, MPI_INT64_T, sizeof *buf, MPI_MAX, "allreduce"); }

dc_status dc_dist_bcast(void *buf, size_t bytes) {
  if (g_size == 1) return DC_OK;
  for (size_t off = 0; off < bytes; off += CHUNK) {
    int m = (int)(bytes - off < CHUNK ? bytes - off : CHUNK);
    int rc = MPI_Bcast((char *)buf + off, m, MPI_BYTE, 0, g_comm);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "broadcast");
  }
  return DC_OK;
}

dc_status dc_dist_isum_f32(float *buf, size_t n) {
  if (g_size == 1) return DC_OK;
  for (size_t off = 0; off < n; off += ISUM_CHUNK) {
    if (g_npending == MAX_PENDING) DC_TRY(dc_dist_wait_all());
    int m = (int)(n - off < ISUM_CHUNK ? n - off : ISUM_CHUNK);
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buf + off, m, MPI_FLOAT, MPI_SUM, g_comm, &g_pending[g_npending]);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "allreduce");
    g_npending++;
  }
  return DC_OK;
}

void dc_dist_progress(void) {
  if (g_npending == 0) return;
  int done = 0;
  MPI_Testall(g_npending, g_pending, &done, MPI_STATUSES_IGNORE);
  if (done) g_npending = 0;
}

dc_status dc_dist_wait_all(void) {
  if (g_npending == 0) return DC_OK;
  int rc = MPI_Waitall(g_npending, g_pending, MPI_STATUSES_IGNORE);
  g_npending = 0;
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "allreduce");
  return DC_OK;
}

#else /* one process */

dc_status dc_dist_init(int *argc, char ***argv) {
  (void)argc, (void)argv;
  const char *who = "";
  long n = launched_size(&who);
  if (n > 1)
    return dc_fail(DC_ERR_ARG,
                   "this dctrain was built without MPI but was started as one of %ld processes (%s=%ld); they "
                   "would be %ld separate runs writing the same files. Install libopenmpi-dev and rebuild "
                   "(scripts/setup.sh), or start one process",
                   n, who, n, n);
  return DC_OK;
}

void dc_dist_finalize(void) {}
void dc_dist_abort(int code) {
  fflush(stdout);
  fflush(stderr);
  exit(code);
}
int dc_dist_rank(void) { return 0; }
int dc_dist_size(void) { return 1; }
int dc_dist_built(void) { return 0; }
dc_status dc_dist_sum_f32(float *buf, size_t n) { (void)buf, (void)n; return DC_OK; }
dc_status dc_dist_sum_f64(double *buf, int n) { (void)buf, (void)n; return DC_OK; }
dc_status dc_dist_sum_i64(int64_t *buf, int n) { (void)buf, (void)n; return DC_OK; }
dc_status dc_dist_max_i64(int64_t *buf, int n) { (void)buf, (void)n; return DC_OK; }
dc_status dc_dist_bcast(void *buf, size_t bytes) { (void)buf, (void)bytes; return DC_OK; }
dc_status dc_dist_isum_f32(float *buf, size_t n) { (void)buf, (void)n; return DC_OK; }
void dc_dist_progress(void) {}
dc_status dc_dist_wait_all(void) { return DC_OK; }

#endif
