/* backend/dnn.h — private oneDNN glue: one CPU engine and stream for the process,
 * and dc_op, a primitive created once per shape together with its memory objects.
 * Each run binds caller buffers to the memory objects and executes; nothing is created
 * inside the iteration loop. Activations between oneDNN layers may be in blocked
 * layouts the primitives prefer (e.g. nChw16c); parameters are always plain. */
#ifndef DC_BACKEND_DNN_H
#define DC_BACKEND_DNN_H

#include <dnnl.h>

#include "dc/error.h"

#define DC_OP_MAX_ARGS 8

typedef struct {
  dnnl_primitive_t prim;
  dnnl_primitive_desc_t pd;
  int nargs;
  dnnl_exec_arg_t args[DC_OP_MAX_ARGS];
} dc_op;

dnnl_engine_t dc_dnn_engine(void);
dnnl_stream_t dc_dnn_stream(void);

/* A plain memory descriptor; ndim 1..5. */
dnnl_memory_desc_t dc_dnn_md(int ndim, const dnnl_dim_t *dims, dnnl_format_tag_t tag);

/* Create the primitive for op_desc (hint: forward pd for backward ops, or NULL) and a
 * memory object per argument kind in args[0..nargs) (DNNL_ARG_SRC, ...), using the
 * layouts the primitive reports. `what` names the layer in error messages. */
dc_status dc_op_create(dc_op *op, const_dnnl_op_desc_t op_desc, const_dnnl_primitive_desc_t hint,
                       const int *args, int nargs, const char *what);
/* A reorder from src_md to dst_md (args: DNNL_ARG_FROM, DNNL_ARG_TO). */
dc_status dc_op_create_reorder(dc_op *op, const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md,
                               const char *what);
/* The layout the primitive chose for argument `arg` (e.g. DNNL_ARG_SRC after asking
 * for dnnl_format_tag_any). */
dnnl_memory_desc_t dc_op_md(const dc_op *op, int arg);
/* Plain NCHW descriptor of (n, c, h, w). */
dnnl_memory_desc_t dc_dnn_nchw(int n, int c, int h, int w);
/* An "any layout" descriptor of the same dims as md. */
dnnl_memory_desc_t dc_dnn_any(int ndim, const dnnl_dim_t *dims);
static inline int dc_dnn_md_equal(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) {
  return dnnl_memory_desc_equal(a, b);
}

/* oneDNN's name for the implementation it chose (e.g. "jit:avx512_core", "ref:any");
 * "" for an op never created. */
const char *dc_op_impl(const dc_op *op);
/* Append to buf "name" of op (a forward op), then " (ref kernel in backward)" if any of
 * the n other ops uses one of oneDNN's slow reference kernels. */
void dc_op_describe(char *buf, size_t cap, const dc_op *fwd, const dc_op *const *others, int n);

/* Bytes the primitive needs for argument `arg` (e.g. DNNL_ARG_WORKSPACE); 0 if none. */
size_t dc_op_arg_bytes(const dc_op *op, int arg);
/* Bind ptrs[i] to args[i] and execute on the stream, waiting for completion. */
dc_status dc_op_run(dc_op *op, void *const *ptrs);
void dc_op_destroy(dc_op *op);

/* The thread count is set with dc_set_threads() (dc/net.h), defined in dnn.c. */

#endif
