/* backend/dnn.c — oneDNN engine, stream and primitive wrapper; see backend/dnn.h; and
 * the process's thread count (dc_set_threads, dc/net.h). */
#include "backend/dnn.h"
#include "dc/net.h"

#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <xmmintrin.h>

static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;

dnnl_engine_t dc_dnn_engine(void) {
  if (!g_engine) {
    dnnl_status_t s = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    DC_ASSERT(s == dnnl_success);
    s = dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags);
    DC_ASSERT(s == dnnl_success);
  }
  return g_engine;
}

dnnl_stream_t dc_dnn_stream(void) {
  dc_dnn_engine();
  return g_stream;
}

void dc_set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
  /* Flush denormals to zero (FTZ) and read them as zero (DAZ) on every thread of the
   * pool: late in training gradients and momenta underflow into denormals, which x86
   * handles ~100x slower; measured LeNet-5 dropping from ~5,500 to ~400 images/s. */
#pragma omp parallel
  {
    _mm_setcsr(_mm_getcsr() | 0x8040);
    /* Workers take no asynchronous signal: oneDNN's JIT GEMM kernels (through 3.11, its
     * issue 4845) point RSP into a heap workspace while they run, and a signal handled
     * there writes its frame into the heap. The main thread takes them, on a stack of
     * its own (main.c). */
    if (omp_get_thread_num() != 0) {
      sigset_t async;
      sigfillset(&async);
      int sync[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS};
      for (size_t i = 0; i < sizeof sync / sizeof sync[0]; i++) sigdelset(&async, sync[i]);
      pthread_sigmask(SIG_BLOCK, &async, NULL);
    }
  }
}

dnnl_memory_desc_t dc_dnn_md(int ndim, const dnnl_dim_t *dims, dnnl_format_tag_t tag) {
  dnnl_memory_desc_t md;
  dnnl_status_t s = dnnl_memory_desc_init_by_tag(&md, ndim, dims, dnnl_f32, tag);
  DC_ASSERT(s == dnnl_success);
  return md;
}

dc_status dc_op_create(dc_op *op, const_dnnl_op_desc_t op_desc, const_dnnl_primitive_desc_t hint,
                       const int *args, int nargs, const char *what) {
  DC_ASSERT(nargs <= DC_OP_MAX_ARGS);
  memset(op, 0, sizeof *op);
  dnnl_status_t s = dnnl_primitive_desc_create(&op->pd, op_desc, NULL, dc_dnn_engine(), hint);
  if (s != dnnl_success)
    return dc_fail(DC_ERR_BACKEND, "%s: oneDNN has no implementation for this layer (status %d)", what,
                   (int)s);
  s = dnnl_primitive_create(&op->prim, op->pd);
  if (s != dnnl_success) {
    dc_op_destroy(op);
    return dc_fail(DC_ERR_BACKEND, "%s: oneDNN could not create the primitive (status %d)", what,
                   (int)s);
  }
  for (int i = 0; i < nargs; i++) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(op->pd, dnnl_query_exec_arg_md, args[i]);
    DC_ASSERT(md != NULL);
    op->args[i].arg = args[i];
    s = dnnl_memory_create(&op->args[i].memory, md, dc_dnn_engine(), DNNL_MEMORY_NONE);
    if (s != dnnl_success) {
      op->nargs = i;
      dc_op_destroy(op);
      return dc_fail(DC_ERR_BACKEND, "%s: oneDNN could not create memory (status %d)", what, (int)s);
    }
  }
  op->nargs = nargs;
  return DC_OK;
}

dc_status dc_op_create_reorder(dc_op *op, const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md,
                               const char *what) {
  memset(op, 0, sizeof *op);
  dnnl_status_t s = dnnl_reorder_primitive_desc_create(&op->pd, src_md, dc_dnn_engine(), dst_md, dc_dnn_engine(), NULL);
  if (s == dnnl_success) s = dnnl_primitive_create(&op->prim, op->pd);
  const dnnl_memory_desc_t *mds[2] = {src_md, dst_md};
  int args[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
  for (int i = 0; s == dnnl_success && i < 2; i++) {
    op->args[i].arg = args[i];
    s = dnnl_memory_create(&op->args[i].memory, mds[i], dc_dnn_engine(), DNNL_MEMORY_NONE);
    op->nargs = i + 1;
  }
  if (s != dnnl_success) {
    dc_op_destroy(op);
    return dc_fail(DC_ERR_BACKEND, "%s: oneDNN cannot reorder between these layouts (status %d)", what, (int)s);
  }
  return DC_OK;
}

dnnl_memory_desc_t dc_op_md(const dc_op *op, int arg) {
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(op->pd, dnnl_query_exec_arg_md, arg);
  DC_ASSERT(md != NULL);
  return *md;
}

const char *dc_op_impl(const dc_op *op) {
  const char *name = NULL;
  if (!op->pd || dnnl_primitive_desc_query(op->pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success || !name)
    return "";
  return name;
}

void dc_op_describe(char *buf, size_t cap, const dc_op *fwd, const dc_op *const *others, int n) {
  int ref = 0;
  for (int i = 0; i < n; i++) ref |= strncmp(dc_op_impl(others[i]), "ref", 3) == 0;
  snprintf(buf, cap, "%s%s", dc_op_impl(fwd), ref ? " (ref kernel in backward)" : "");
}

dnnl_memory_desc_t dc_dnn_nchw(int n, int c, int h, int w) {
  dnnl_dim_t d[4] = {n, c, h, w};
  return dc_dnn_md(4, d, dnnl_nchw);
}

dnnl_memory_desc_t dc_dnn_any(int ndim, const dnnl_dim_t *dims) {
  return dc_dnn_md(ndim, dims, dnnl_format_tag_any);
}

size_t dc_op_arg_bytes(const dc_op *op, int arg) {
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(op->pd, dnnl_query_exec_arg_md, arg);
  return md ? dnnl_memory_desc_get_size(md) : 0;
}

dc_status dc_op_run(dc_op *op, void *const *ptrs) {
  for (int i = 0; i < op->nargs; i++) dnnl_memory_set_data_handle(op->args[i].memory, ptrs[i]);
  dnnl_status_t s = dnnl_primitive_execute(op->prim, dc_dnn_stream(), op->nargs, op->args);
  if (s == dnnl_success) s = dnnl_stream_wait(dc_dnn_stream());
  if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "oneDNN primitive failed (status %d)", (int)s);
  return DC_OK;
}

void dc_op_destroy(dc_op *op) {
  for (int i = 0; i < op->nargs; i++)
    if (op->args[i].memory) dnnl_memory_destroy(op->args[i].memory);
  if (op->prim) dnnl_primitive_destroy(op->prim);
  if (op->pd) dnnl_primitive_desc_destroy(op->pd);
  memset(op, 0, sizeof *op);
}
