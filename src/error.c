/* error.c — the failure-reason side channel, aligned allocation, assertions. */
#include "dc/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_reason[1024];

dc_status dc_fail(dc_status s, const char *fmt, ...) {
  if (g_reason[0] == '\0') {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_reason, sizeof g_reason, fmt, ap);
    va_end(ap);
  }
  return s;
}

const char *dc_failure_reason(void) { return g_reason; }

void dc_failure_clear(void) { g_reason[0] = '\0'; }

const char *dc_status_name(dc_status s) {
  switch (s) {
    case DC_OK: return "ok";
    case DC_ERR_IO: return "io error";
    case DC_ERR_CFG: return "config error";
    case DC_ERR_DATA: return "data error";
    case DC_ERR_SHAPE: return "shape error";
    case DC_ERR_NOMEM: return "out of memory";
    case DC_ERR_BACKEND: return "backend error";
    case DC_ERR_NUMERIC: return "numeric error";
    case DC_ERR_FORMAT: return "format error";
    case DC_ERR_ARG: return "argument error";
  }
  return "unknown error";
}

void *dc_alloc(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void *p = aligned_alloc(64, rounded);
  if (!p) {
    dc_fail(DC_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return NULL;
  }
  memset(p, 0, rounded);
  return p;
}

void dc_free(void *p) { free(p); }

void dc_assert_fail(const char *cond, const char *file, int line) {
  fprintf(stderr, "%s:%d: internal error: assertion '%s' failed\n", file, line, cond);
  abort();
}
