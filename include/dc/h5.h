/* dc/h5.h — a small layer over HDF5 for checkpoints and weight export.
 *
 * A file is a tree of groups holding datasets, addressed by '/'-separated paths
 * ("/params/conv1/weight"; the leading '/' is optional, empty components are not
 * allowed). Numeric datasets are stored little-endian with the shape given; strings are
 * stored as scalar fixed-length string datasets (h5dump and h5py read both).
 *
 * Writing is atomic: dc_h5_create() writes PATH.tmp and dc_h5_commit() flushes, fsyncs
 * and renames it over PATH, so a killed process leaves either the old PATH or the new
 * one, never half of one. HDF5's own error printing is turned off; every failure
 * records one line through dc_fail(), e.g. "ckpt.h5: no dataset /params/fc/bias".
 * hdf5.h stays out of this header. Not thread-safe (the Debian HDF5 is serial). */
#ifndef DC_H5_H
#define DC_H5_H

#include <stdint.h>

#include "dc/error.h"

typedef enum { DC_H5_F32, DC_H5_U8, DC_H5_I32, DC_H5_I64, DC_H5_F64 } dc_h5_type;

#define DC_H5_MAX_DIMS 8

typedef struct dc_h5 dc_h5; /* an open file */

/* Create PATH.tmp (truncating a stale one) for writing; *out owns it. Finish with
 * dc_h5_commit() (keep) or dc_h5_abort() (discard). An existing PATH is untouched until
 * the commit. On failure *out = NULL (DC_ERR_IO "PATH.tmp: cannot create: <strerror>"). */
dc_status dc_h5_create(const char *path, dc_h5 **out);
/* Flush and close the file, fsync it, rename PATH.tmp → PATH, fsync the directory.
 * Always consumes f: on failure the temp file is removed and PATH keeps its old content.
 * f must come from dc_h5_create() (else DC_ERR_ARG, and f is just closed). */
dc_status dc_h5_commit(dc_h5 *f);
/* Close f and remove PATH.tmp (for a read-only f: the same as dc_h5_close). NULL is fine. */
void dc_h5_abort(dc_h5 *f);

/* Open an existing file read-only; *out owns it, release with dc_h5_close().
 * On failure *out = NULL: DC_ERR_IO "PATH: cannot open: <strerror>", or DC_ERR_FORMAT
 * "PATH: not an HDF5 file". */
dc_status dc_h5_open(const char *path, dc_h5 **out);
/* Close f. For a file from dc_h5_create() this is dc_h5_abort(): only a commit keeps it.
 * NULL is fine. */
void dc_h5_close(dc_h5 *f);

/* The path given at create/open time (PATH, not PATH.tmp). Owned by f. */
const char *dc_h5_path(const dc_h5 *f);

/* Write a new dataset at `path`, creating missing intermediate groups. ndim 0 writes a
 * scalar (dims ignored, may be NULL); else dims[0..ndim) >= 0, ndim <= DC_H5_MAX_DIMS,
 * and `data` holds prod(dims) elements of type t in C order (the caller keeps it).
 * Writing a path that already exists is DC_ERR_ARG; so is writing to a read-only f. */
dc_status dc_h5_write(dc_h5 *f, const char *path, dc_h5_type t, int ndim, const int64_t *dims,
                      const void *data);
/* 1 when a group or dataset exists at `path` (intermediate groups included), else 0. */
int dc_h5_exists(dc_h5 *f, const char *path);
/* Shape of the dataset at `path`: *ndim (0 for a scalar) and dims[0..*ndim); dims needs
 * room for DC_H5_MAX_DIMS. DC_ERR_FORMAT "FILE: no dataset /x" when missing, or when the
 * stored rank exceeds DC_H5_MAX_DIMS. */
dc_status dc_h5_shape(dc_h5 *f, const char *path, int *ndim, int64_t *dims);
/* Read the dataset at `path` into caller memory `data` (prod(dims) elements of type t).
 * The stored shape must equal (ndim, dims) exactly, else DC_ERR_FORMAT
 * "FILE: /params/conv1/weight has shape 20x1x5x5, expected 20x1x3x3". Missing →
 * DC_ERR_FORMAT "FILE: no dataset /x". Stored numbers are converted to t by HDF5
 * (e.g. f64 → f32); a non-numeric dataset is DC_ERR_FORMAT. */
dc_status dc_h5_read(dc_h5 *f, const char *path, dc_h5_type t, int ndim, const int64_t *dims,
                     void *data);

/* Write NUL-terminated `s` as a scalar string dataset at `path` (groups created as for
 * dc_h5_write). For metadata: the net file text, a format version. */
dc_status dc_h5_write_str(dc_h5 *f, const char *path, const char *s);
/* Read a string dataset (fixed- or variable-length) into a new NUL-terminated *out the
 * caller frees with free(). Missing → DC_ERR_FORMAT "FILE: no dataset /x"; not a string
 * → DC_ERR_FORMAT. */
dc_status dc_h5_read_str(dc_h5 *f, const char *path, char **out);

/* The names of the children (groups and datasets) of `group` ("/" for the root), sorted
 * by name, in a new array *names[0..*n) the caller frees with dc_h5_free_names(). An
 * empty group gives *names = NULL, *n = 0. Missing → DC_ERR_FORMAT "FILE: no group /x". */
dc_status dc_h5_list(dc_h5 *f, const char *group, char ***names, int *n);
/* Free what dc_h5_list() returned. NULL is fine. */
void dc_h5_free_names(char **names, int n);

#endif
