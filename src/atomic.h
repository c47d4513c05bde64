/* atomic.h — crash-safe output files. Everything dctrain writes (checkpoints, weights,
 * .dcz, reports, logs, plots) goes to PATH.tmp beside its target, is flushed and fsynced,
 * and is renamed over PATH only when complete; then the directory is fsynced so the rename
 * itself survives a power cut. A killed run leaves the old PATH or the new one, never half
 * of one. One helper for every output, so no writer forgets a step. */
#ifndef DC_ATOMIC_H
#define DC_ATOMIC_H

#include <stdio.h>

#include "dc/error.h"

enum { DC_ATOMIC_PATH_MAX = 1024 };

typedef struct {
  FILE *f;                          /* the stream to write (dc_atomic_open), else NULL */
  char path[DC_ATOMIC_PATH_MAX];    /* the target */
  char tmp[DC_ATOMIC_PATH_MAX + 8]; /* PATH.tmp, written until the commit */
} dc_atomic;

/* Create PATH.tmp (truncating a stale one) for writing with fopen mode `mode` ("w",
 * "wb") into a->f; finish with dc_atomic_commit() or dc_atomic_abort(). On failure
 * nothing is left open: "PATH.tmp: cannot create: <strerror>". */
dc_status dc_atomic_open(dc_atomic *a, const char *path, const char *mode);
/* For writers that take a file name (HDF5, the PNG writer): only fill in a->path and
 * a->tmp (a->f = NULL); the caller creates and closes a->tmp itself, then commits. */
dc_status dc_atomic_begin(dc_atomic *a, const char *path);
/* Make PATH.tmp durable and visible as PATH: with a stream, check its error flag, fflush,
 * fsync and fclose it; with a name, fsync the closed file; then rename it over PATH and
 * fsync the directory. On failure PATH.tmp is removed, PATH is untouched, and the one-line
 * error names the file and strerror ("runs/x/log.csv.tmp: cannot write: No space left on
 * device"). */
dc_status dc_atomic_commit(dc_atomic *a);
/* Close a->f if open and remove PATH.tmp. */
void dc_atomic_abort(dc_atomic *a);

#endif
