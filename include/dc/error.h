/* dc/error.h — status codes, the failure-reason side channel, and assertions.
 *
 * Library functions return a dc_status. The first failure after dc_failure_clear()
 * records a one-line message ("file:line: what went wrong"); later failures keep it,
 * so the message names the root cause. Only the dctrain command prints and exits.
 * DC_ASSERT is for broken invariants (bugs): it aborts with file:line. User errors
 * (bad cfg, missing file, corrupt data) must never reach an assertion. */
#ifndef DC_ERROR_H
#define DC_ERROR_H

#include <stddef.h>

typedef enum {
  DC_OK = 0,
  DC_ERR_IO,      /* cannot open/read/write a file */
  DC_ERR_CFG,     /* bad cfg / net file: syntax, unknown key, bad value */
  DC_ERR_DATA,    /* bad data file: magic, counts, sizes */
  DC_ERR_SHAPE,   /* shapes that do not fit together */
  DC_ERR_NOMEM,   /* allocation failed */
  DC_ERR_BACKEND, /* oneDNN or HDF5 refused */
  DC_ERR_NUMERIC, /* NaN / Inf during training */
  DC_ERR_FORMAT,  /* corrupt or wrong-version model / checkpoint file */
  DC_ERR_ARG      /* bad argument from the command line or caller */
} dc_status;

/* Record `fmt` as the failure reason unless one is already recorded; return s. */
dc_status dc_fail(dc_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The recorded reason, or "" when none. Valid until the next dc_failure_clear(). */
const char *dc_failure_reason(void);
/* Forget the recorded reason (call before an operation whose failure is expected). */
void dc_failure_clear(void);
/* A short name for a status, e.g. "io error". */
const char *dc_status_name(dc_status s);

/* Zeroed, 64-byte-aligned memory; NULL (with a recorded reason) on failure.
 * Release with dc_free(). */
void *dc_alloc(size_t bytes);
void dc_free(void *p);

#define DC_TRY(expr)                   \
  do {                                 \
    dc_status dc_try_s_ = (expr);      \
    if (dc_try_s_ != DC_OK) return dc_try_s_; \
  } while (0)

void dc_assert_fail(const char *cond, const char *file, int line) __attribute__((noreturn));
#define DC_ASSERT(c) ((c) ? (void)0 : dc_assert_fail(#c, __FILE__, __LINE__))

#endif
