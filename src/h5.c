/* h5.c — the HDF5 glue behind dc/h5.h: atomic create/commit, typed dataset write/read
 * with exact shape checks (and, before a read, the stored bytes checked against the
 * shape: libhdf5 1.10 trusts a corrupt layout), string datasets, group listing.
 *
 * Every entry point turns HDF5's automatic error printing off, so the only report is
 * the one line recorded with dc_fail(); for unexpected library failures that line ends
 * with the innermost message of HDF5's error stack. Files are opened with the STRONG
 * close degree, so H5Fclose() really closes the file (and flushes it) even if an object
 * handle leaked: commit relies on that before it fsyncs and renames. */
#define _GNU_SOURCE /* memfd_create: see discard() */
#include "dc/h5.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include "atomic.h"
#include "util.h"

struct dc_h5 {
  hid_t file;
  char *path;    /* PATH as given: used in messages and as the commit target */
  char *tmp;     /* PATH.tmp while writing (points into out); NULL for a read-only file */
  dc_atomic out; /* the crash-safe commit of a written file */
};

enum { PATH_MAX_LEN = 1024 };

/* ---------------------------------------------------------------- helpers */

/* No automatic error printing (every failure is one line through dc_fail), and no
 * library shutdown at exit: HDF5 1.10 keeps a half-destroyed handle when closing a file
 * fails, and its exit handler would then crash the process after our one-line error.
 * H5dont_atexit only acts before the library's first use, which is here. */
static void quiet(void) {
  static int first = 1;
  if (first) H5dont_atexit();
  first = 0;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static herr_t first_error(unsigned n, const H5E_error2_t *e, void *data) {
  if (n == 0 && e->desc) snprintf((char *)data, 256, "%s", e->desc);
  return 0;
}

/* The errno of a failed system call on HDF5's error stack, 0 when there is none: the
 * file driver records it inside its message ("file write failed: time = ..., errno = 28,
 * error message = 'No space left on device', buf = 0x..."). */
static herr_t find_errno(unsigned n, const H5E_error2_t *e, void *data) {
  (void)n;
  const char *p = e->desc ? strstr(e->desc, "errno = ") : NULL;
  if (p && *(int *)data == 0) *(int *)data = atoi(p + 8);
  return 0;
}

/* The reason on HDF5's error stack (then cleared), for "...: <reason>": strerror of the
 * system call that failed, else the innermost message. Never the driver's whole record
 * (time, descriptor, buffer address). *err gets that errno (0 when none) if err != NULL. */
static const char *h5_reason_errno(char buf[256], int *err) {
  int e = 0;
  buf[0] = '\0';
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, find_errno, &e);
  if (e > 0)
    snprintf(buf, 256, "%s", strerror(e));
  else
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, buf);
  H5Eclear2(H5E_DEFAULT);
  if (buf[0] == '\0') snprintf(buf, 256, "HDF5 error");
  if (err) *err = e > 0 ? e : 0;
  return buf;
}

static const char *h5_reason(char buf[256]) { return h5_reason_errno(buf, NULL); }

/* A write into f (PATH.tmp) failed while `doing` ("writing /params/ip1/weight",
 * "flushing"): one line saying why and that PATH is as it was, e.g. "runs/x/ckpt.h5: no
 * space left on device while writing /params/ip1/weight (the previous ckpt.h5 is
 * intact)". */
static dc_status write_failed(const dc_h5 *f, const char *doing) {
  char r[256];
  int err;
  h5_reason_errno(r, &err);
  const char *base = strrchr(f->path, '/');
  base = base ? base + 1 : f->path;
  char state[300];
  if (access(f->path, F_OK) == 0)
    snprintf(state, sizeof state, "the previous %s is intact", base);
  else
    snprintf(state, sizeof state, "no %s was written", base);
  if (err == 0) return dc_fail(DC_ERR_IO, "%s: %s failed: %s (%s)", f->path, doing, r, state);
  if (r[0] >= 'A' && r[0] <= 'Z' && !(r[1] >= 'A' && r[1] <= 'Z')) r[0] = (char)(r[0] - 'A' + 'a');
  return dc_fail(DC_ERR_IO, "%s: %s while %s (%s)", f->path, r, doing, state);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int valid_type(dc_h5_type t) { return t >= DC_H5_F32 && t <= DC_H5_F64; }

/* In-memory (native) type: what the caller's buffer holds. */
static hid_t mem_type(dc_h5_type t) {
  switch (t) {
    case DC_H5_F32:
      return H5T_NATIVE_FLOAT;
    case DC_H5_U8:
      return H5T_NATIVE_UINT8;
    case DC_H5_I32:
      return H5T_NATIVE_INT32;
    case DC_H5_I64:
      return H5T_NATIVE_INT64;
    case DC_H5_F64:
      return H5T_NATIVE_DOUBLE;
  }
  return H5I_INVALID_HID;
}

/* On-disk type: fixed little-endian so files are the same on every machine. */
static hid_t file_type(dc_h5_type t) {
  switch (t) {
    case DC_H5_F32:
      return H5T_IEEE_F32LE;
    case DC_H5_U8:
      return H5T_STD_U8LE;
    case DC_H5_I32:
      return H5T_STD_I32LE;
    case DC_H5_I64:
      return H5T_STD_I64LE;
    case DC_H5_F64:
      return H5T_IEEE_F64LE;
  }
  return H5I_INVALID_HID;
}

/* Canonical "/a/b/c" form of a user path into buf[PATH_MAX_LEN]: leading '/' optional,
 * no empty components, no trailing '/'. "/" (or "") names the root, allowed only when
 * allow_root. */
static dc_status norm_path(const dc_h5 *f, const char *p, int allow_root, char *buf) {
  if (!p) return dc_fail(DC_ERR_ARG, "%s: no path given", f->path);
  const char *rest = p[0] == '/' ? p + 1 : p;
  if (*rest == '\0') {
    if (!allow_root) return dc_fail(DC_ERR_ARG, "%s: '%s' names the root group, not a dataset", f->path, p);
    snprintf(buf, PATH_MAX_LEN, "/");
    return DC_OK;
  }
  size_t n = strlen(rest);
  if (n + 2 > PATH_MAX_LEN) return dc_fail(DC_ERR_ARG, "%s: path too long (%zu chars)", f->path, n);
  if (rest[n - 1] == '/' || strstr(rest, "//") || rest[0] == '/')
    return dc_fail(DC_ERR_ARG, "%s: bad path '%s' (empty component)", f->path, p);
  buf[0] = '/';
  memcpy(buf + 1, rest, n + 1);
  return DC_OK;
}

/* 1 when every component of canonical path cp exists (H5Lexists needs its parents). */
static int path_exists(hid_t file, const char *cp) {
  if (strcmp(cp, "/") == 0) return 1;
  char buf[PATH_MAX_LEN];
  snprintf(buf, sizeof buf, "%s", cp);
  for (char *q = strchr(buf + 1, '/');; q = strchr(q + 1, '/')) {
    if (q) *q = '\0';
    int ok = H5Lexists(file, buf, H5P_DEFAULT) > 0;
    if (!ok) {
      H5Eclear2(H5E_DEFAULT);
      return 0;
    }
    if (!q) return 1;
    *q = '/';
  }
}

/* The kind of the object at cp (which must exist): H5I_GROUP, H5I_DATASET, ... */
static H5I_type_t object_kind(hid_t file, const char *cp) {
  hid_t o = H5Oopen(file, cp, H5P_DEFAULT);
  if (o < 0) {
    H5Eclear2(H5E_DEFAULT);
    return H5I_BADID;
  }
  H5I_type_t k = H5Iget_type(o);
  H5Oclose(o);
  return k;
}

static const char *kind_name(H5I_type_t k) {
  switch (k) {
    case H5I_GROUP:
      return "a group";
    case H5I_DATASET:
      return "a dataset";
    case H5I_DATATYPE:
      return "a named datatype";
    default:
      return "not a dataset";
  }
}

/* Open the dataset at canonical path cp into *ds. */
static dc_status open_dataset(dc_h5 *f, const char *cp, hid_t *ds) {
  if (!path_exists(f->file, cp)) return dc_fail(DC_ERR_FORMAT, "%s: no dataset %s", f->path, cp);
  H5I_type_t k = object_kind(f->file, cp);
  if (k != H5I_DATASET) return dc_fail(DC_ERR_FORMAT, "%s: %s is %s, not a dataset", f->path, cp, kind_name(k));
  *ds = H5Dopen2(f->file, cp, H5P_DEFAULT);
  if (*ds < 0) {
    char r[256];
    return dc_fail(DC_ERR_FORMAT, "%s: cannot open %s: %s", f->path, cp, h5_reason(r));
  }
  return DC_OK;
}

/* Before creating cp: parents that already exist must be groups, and cp must not exist. */
static dc_status check_new_path(dc_h5 *f, const char *cp) {
  char buf[PATH_MAX_LEN];
  snprintf(buf, sizeof buf, "%s", cp);
  for (char *q = strchr(buf + 1, '/'); q; q = strchr(q + 1, '/')) {
    *q = '\0';
    if (!path_exists(f->file, buf)) return DC_OK; /* the rest will be created */
    H5I_type_t k = object_kind(f->file, buf);
    if (k != H5I_GROUP)
      return dc_fail(DC_ERR_ARG, "%s: cannot write %s: %s is %s, not a group", f->path, cp, buf, kind_name(k));
    *q = '/';
  }
  if (path_exists(f->file, cp)) return dc_fail(DC_ERR_ARG, "%s: %s already exists", f->path, cp);
  return DC_OK;
}

static dc_status check_writable(const dc_h5 *f) {
  if (!f->tmp) return dc_fail(DC_ERR_ARG, "%s: opened read-only, cannot write", f->path);
  return DC_OK;
}

/* "20x1x5x5", or "()" for a scalar. */
static void format_shape(char *buf, size_t len, int ndim, const hsize_t *dims) {
  if (ndim == 0) {
    snprintf(buf, len, "()");
    return;
  }
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < ndim && used < len; i++) {
    int w = snprintf(buf + used, len - used, "%s%llu", i ? "x" : "", (unsigned long long)dims[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
}

/* Stored rank and dims of an open dataset (rank <= H5S_MAX_RANK). A null dataspace
 * (no data at all) is a format error. */
static dc_status stored_shape(dc_h5 *f, const char *cp, hid_t ds, int *rank, hsize_t *dims) {
  hid_t space = H5Dget_space(ds);
  if (space < 0) {
    char r[256];
    return dc_fail(DC_ERR_FORMAT, "%s: cannot read the shape of %s: %s", f->path, cp, h5_reason(r));
  }
  H5S_class_t cls = H5Sget_simple_extent_type(space);
  int n = cls == H5S_SCALAR ? 0 : H5Sget_simple_extent_ndims(space);
  if (cls == H5S_SIMPLE && n >= 0) H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  if (cls != H5S_SCALAR && cls != H5S_SIMPLE)
    return dc_fail(DC_ERR_FORMAT, "%s: %s has no data (null dataspace)", f->path, cp);
  if (n < 0) {
    char r[256];
    return dc_fail(DC_ERR_FORMAT, "%s: cannot read the shape of %s: %s", f->path, cp, h5_reason(r));
  }
  *rank = n;
  return DC_OK;
}

/* Bytes one element of type ft takes in the file: its size, except for a variable-length
 * string, stored as a 4-byte length and a global heap ID (an address and a 4-byte index). */
static hsize_t stored_elem_size(const dc_h5 *f, hid_t ft) {
  if (H5Tis_variable_str(ft) <= 0) return H5Tget_size(ft);
  size_t addr = 8, size = 8;
  hid_t fcpl = H5Fget_create_plist(f->file);
  if (fcpl >= 0) {
    H5Pget_sizes(fcpl, &addr, &size);
    H5Pclose(fcpl);
  }
  return 4 + (hsize_t)addr + 4;
}

/* Before H5Dread: the dataset's stored bytes must be as many as its dataspace and type
 * need, and inside the file. libhdf5 1.10 trusts the layout message: a compact dataset
 * whose message says it holds fewer bytes (0 in a corrupt checkpoint found by fuzz_h5)
 * is read by memcpy from a NULL or short buffer, a segfault inside the library.
 * Contiguous data is checked against the file's size (none allocated yet is fine: the
 * read gives the fill value). Chunked data, possibly compressed, has no fixed size: the
 * library checks each chunk it reads. Virtual datasets (data in other files) are not
 * read. */
static dc_status check_storage(dc_h5 *f, const char *cp, hid_t ds, hid_t ft) {
  hid_t dcpl = H5Dget_create_plist(ds);
  H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
  hsize_t chunk[H5S_MAX_RANK];
  int chunk_rank = layout == H5D_CHUNKED ? H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk) : 0;
  if (dcpl >= 0) H5Pclose(dcpl);
  hid_t space = H5Dget_space(ds);
  hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  if (space >= 0) H5Sclose(space);
  /* a chunked layout whose rank is not the dataspace's (a chunked scalar, found by
   * fuzz_h5): libhdf5 1.10.8's H5Dread then allocates without end */
  if (layout == H5D_CHUNKED && chunk_rank != rank)
    return dc_fail(DC_ERR_FORMAT, "%s: %s is corrupt: chunks of rank %d for a dataset of rank %d", f->path, cp,
                   chunk_rank, rank);
  hsize_t esize = stored_elem_size(f, ft);
  char r[256];
  if (layout == H5D_LAYOUT_ERROR || n < 0 || esize == 0)
    return dc_fail(DC_ERR_FORMAT, "%s: cannot read the layout of %s: %s", f->path, cp, h5_reason(r));
  if ((hsize_t)n > (hsize_t)-1 / esize)
    return dc_fail(DC_ERR_FORMAT, "%s: %s is corrupt: %lld elements of %llu bytes", f->path, cp, (long long)n,
                   (unsigned long long)esize);
  hsize_t need = (hsize_t)n * esize, stored = H5Dget_storage_size(ds);
  haddr_t at = HADDR_UNDEF;
  if (layout == H5D_CONTIGUOUS) {
    at = H5Dget_offset(ds);
    H5Eclear2(H5E_DEFAULT); /* HADDR_UNDEF (not allocated) leaves an error on the stack */
  }
  if ((layout == H5D_COMPACT && stored != need) || (at != HADDR_UNDEF && stored < need))
    return dc_fail(DC_ERR_FORMAT, "%s: %s is corrupt: it stores %llu bytes, its shape and type need %llu", f->path, cp,
                   (unsigned long long)stored, (unsigned long long)need);
  hsize_t fsize = 0;
  if (at != HADDR_UNDEF && H5Fget_filesize(f->file, &fsize) < 0)
    return dc_fail(DC_ERR_FORMAT, "%s: cannot read the file size: %s", f->path, h5_reason(r));
  if (at != HADDR_UNDEF && (at > fsize || fsize - at < need))
    return dc_fail(DC_ERR_FORMAT,
                   "%s: %s is corrupt: its %llu bytes at offset %llu lie past the end of the file (%llu bytes)",
                   f->path, cp, (unsigned long long)need, (unsigned long long)at, (unsigned long long)fsize);
  if (layout == H5D_VIRTUAL)
    return dc_fail(DC_ERR_FORMAT, "%s: %s is a virtual dataset (data in other files), which is not read", f->path, cp);
  return DC_OK;
}

/* ---------------------------------------------------------------- files */

static hid_t make_fapl(void) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0) H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  return fapl;
}

static void free_handle(dc_h5 *f) {
  free(f->path);
  free(f);
}

dc_status dc_h5_create(const char *path, dc_h5 **out) {
  DC_ASSERT(path != NULL && out != NULL);
  *out = NULL;
  quiet();
  dc_h5 *f = calloc(1, sizeof *f);
  if (f) f->path = dup_str(path);
  if (!f || !f->path) {
    if (f) free_handle(f);
    return dc_fail(DC_ERR_NOMEM, "%s: out of memory", path);
  }
  if (dc_atomic_begin(&f->out, path) != DC_OK) {
    free_handle(f);
    return DC_ERR_ARG;
  }
  f->tmp = f->out.tmp;
  /* Create the file ourselves first: a failure then has a plain errno reason
   * ("No such file or directory") instead of HDF5's stack. */
  int fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd < 0) {
    dc_status st = dc_fail(DC_ERR_IO, "%s: cannot create: %s", f->tmp, strerror(errno));
    free_handle(f);
    return st;
  }
  close(fd);
  hid_t fapl = make_fapl();
  f->file = H5Fcreate(f->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (fapl >= 0) H5Pclose(fapl);
  if (f->file < 0) {
    char r[256];
    dc_status st = dc_fail(DC_ERR_IO, "%s: cannot create HDF5 file: %s", f->tmp, h5_reason(r));
    unlink(f->tmp);
    free_handle(f);
    return st;
  }
  *out = f;
  return DC_OK;
}

/* Close a written file that is thrown away. HDF5 writes its metadata and extends the file
 * to its allocated end when closing; after a write failed (disk full, file-size limit)
 * that fails again, and a failed close leaves a handle that cannot be closed. So the
 * descriptor is pointed at an anonymous in-memory file, and the file-size limit lifted to
 * its hard limit, while closing: the close has nothing left to fail on. */
static void discard(dc_h5 *f) {
  void *h = NULL;
  if (H5Fget_vfd_handle(f->file, H5P_DEFAULT, &h) >= 0 && h) {
    int mfd = memfd_create("dc_h5_discard", MFD_CLOEXEC);
    if (mfd >= 0) {
      (void)dup3(mfd, *(int *)h, O_CLOEXEC);
      close(mfd);
    }
  }
  struct rlimit old;
  int lifted = getrlimit(RLIMIT_FSIZE, &old) == 0 && old.rlim_cur != old.rlim_max;
  if (lifted) {
    struct rlimit r = {old.rlim_max, old.rlim_max};
    lifted = setrlimit(RLIMIT_FSIZE, &r) == 0;
  }
  H5Fclose(f->file);
  H5Eclear2(H5E_DEFAULT);
  if (lifted) setrlimit(RLIMIT_FSIZE, &old);
  f->file = H5I_INVALID_HID;
}

dc_status dc_h5_commit(dc_h5 *f) {
  DC_ASSERT(f != NULL);
  quiet();
  if (!f->tmp) {
    dc_status st = dc_fail(DC_ERR_ARG, "%s: opened read-only, nothing to commit", f->path);
    dc_h5_close(f);
    return st;
  }
  dc_status st = DC_OK;
  if (H5Fflush(f->file, H5F_SCOPE_GLOBAL) < 0) {
    st = write_failed(f, "flushing");
    discard(f);
  } else if (H5Fclose(f->file) < 0) {
    st = write_failed(f, "closing");
  }
  f->file = H5I_INVALID_HID;
  /* fsync, rename over PATH, fsync the directory; removes PATH.tmp on failure */
  if (st == DC_OK)
    st = dc_atomic_commit(&f->out);
  else
    dc_atomic_abort(&f->out);
  free_handle(f);
  return st;
}

void dc_h5_abort(dc_h5 *f) {
  if (!f) return;
  quiet();
  if (f->file >= 0 && f->tmp)
    discard(f);
  else if (f->file >= 0)
    H5Fclose(f->file);
  if (f->tmp) dc_atomic_abort(&f->out);
  free_handle(f);
}

dc_status dc_h5_open(const char *path, dc_h5 **out) {
  DC_ASSERT(path != NULL && out != NULL);
  *out = NULL;
  quiet();
  /* Probe with open() first for a plain errno reason. */
  int fd = open(path, O_RDONLY);
  if (fd < 0) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  close(fd);
  DC_TRY(dc_check_input(path, 0));
  if (H5Fis_hdf5(path) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return dc_fail(DC_ERR_FORMAT, "%s: not an HDF5 file", path);
  }
  dc_h5 *f = calloc(1, sizeof *f);
  if (f) f->path = dup_str(path);
  if (!f || !f->path) {
    free(f);
    return dc_fail(DC_ERR_NOMEM, "%s: out of memory", path);
  }
  hid_t fapl = make_fapl();
  f->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  if (fapl >= 0) H5Pclose(fapl);
  if (f->file < 0) {
    char r[256];
    dc_status st = dc_fail(DC_ERR_FORMAT, "%s: cannot open as HDF5: %s", path, h5_reason(r));
    free_handle(f);
    return st;
  }
  *out = f;
  return DC_OK;
}

void dc_h5_close(dc_h5 *f) {
  if (!f) return;
  if (f->tmp) {
    dc_h5_abort(f);
    return;
  }
  quiet();
  if (f->file >= 0) H5Fclose(f->file);
  free_handle(f);
}

const char *dc_h5_path(const dc_h5 *f) { return f->path; }

/* ---------------------------------------------------------------- datasets */

/* Create dataset cp of file type ftype over `space`, with missing parent groups. */
static hid_t create_dataset(dc_h5 *f, const char *cp, hid_t ftype, hid_t space) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  if (lcpl < 0) return H5I_INVALID_HID;
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t ds = H5Dcreate2(f->file, cp, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  return ds;
}

dc_status dc_h5_write(dc_h5 *f, const char *path, dc_h5_type t, int ndim, const int64_t *dims, const void *data) {
  DC_ASSERT(f != NULL);
  quiet();
  char cp[PATH_MAX_LEN];
  DC_TRY(check_writable(f));
  DC_TRY(norm_path(f, path, 0, cp));
  if (!valid_type(t)) return dc_fail(DC_ERR_ARG, "%s: %s: bad element type %d", f->path, cp, (int)t);
  if (ndim < 0 || ndim > DC_H5_MAX_DIMS)
    return dc_fail(DC_ERR_ARG, "%s: %s: rank %d outside [0, %d]", f->path, cp, ndim, DC_H5_MAX_DIMS);
  hsize_t hd[DC_H5_MAX_DIMS];
  int empty = 0;
  for (int i = 0; i < ndim; i++) {
    if (dims[i] < 0) return dc_fail(DC_ERR_ARG, "%s: %s: negative dimension %lld", f->path, cp, (long long)dims[i]);
    hd[i] = (hsize_t)dims[i];
    empty |= dims[i] == 0;
  }
  if (!empty && !data) return dc_fail(DC_ERR_ARG, "%s: %s: no data given", f->path, cp);
  DC_TRY(check_new_path(f, cp));

  char r[256];
  hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, hd, NULL);
  if (space < 0) return dc_fail(DC_ERR_BACKEND, "%s: %s: cannot make a dataspace: %s", f->path, cp, h5_reason(r));
  hid_t ds = create_dataset(f, cp, file_type(t), space);
  H5Sclose(space);
  char doing[PATH_MAX_LEN + 16];
  snprintf(doing, sizeof doing, "writing %s", cp);
  if (ds < 0) return write_failed(f, doing);
  dc_status st = DC_OK;
  if (!empty && H5Dwrite(ds, mem_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) st = write_failed(f, doing);
  if (H5Dclose(ds) < 0 && st == DC_OK) st = write_failed(f, doing);
  return st;
}

int dc_h5_exists(dc_h5 *f, const char *path) {
  DC_ASSERT(f != NULL);
  quiet();
  if (!path) return 0;
  const char *rest = path[0] == '/' ? path + 1 : path;
  size_t n = strlen(rest);
  if (n == 0) return 1; /* the root */
  if (n + 2 > PATH_MAX_LEN || rest[n - 1] == '/' || strstr(rest, "//") || rest[0] == '/') return 0;
  char cp[PATH_MAX_LEN];
  cp[0] = '/';
  memcpy(cp + 1, rest, n + 1);
  return path_exists(f->file, cp);
}

dc_status dc_h5_shape(dc_h5 *f, const char *path, int *ndim, int64_t *dims) {
  DC_ASSERT(f != NULL && ndim != NULL && dims != NULL);
  quiet();
  char cp[PATH_MAX_LEN];
  DC_TRY(norm_path(f, path, 0, cp));
  hid_t ds;
  DC_TRY(open_dataset(f, cp, &ds));
  hsize_t hd[H5S_MAX_RANK];
  int rank = 0;
  dc_status st = stored_shape(f, cp, ds, &rank, hd);
  H5Dclose(ds);
  if (st != DC_OK) return st;
  if (rank > DC_H5_MAX_DIMS)
    return dc_fail(DC_ERR_FORMAT, "%s: %s has rank %d, more than %d", f->path, cp, rank, DC_H5_MAX_DIMS);
  *ndim = rank;
  for (int i = 0; i < rank; i++) dims[i] = (int64_t)hd[i];
  return DC_OK;
}

dc_status dc_h5_read(dc_h5 *f, const char *path, dc_h5_type t, int ndim, const int64_t *dims, void *data) {
  DC_ASSERT(f != NULL);
  quiet();
  char cp[PATH_MAX_LEN];
  DC_TRY(norm_path(f, path, 0, cp));
  if (!valid_type(t)) return dc_fail(DC_ERR_ARG, "%s: %s: bad element type %d", f->path, cp, (int)t);
  if (ndim < 0 || ndim > DC_H5_MAX_DIMS)
    return dc_fail(DC_ERR_ARG, "%s: %s: rank %d outside [0, %d]", f->path, cp, ndim, DC_H5_MAX_DIMS);
  hid_t ds;
  DC_TRY(open_dataset(f, cp, &ds));

  hsize_t hd[H5S_MAX_RANK];
  int rank = 0;
  dc_status st = stored_shape(f, cp, ds, &rank, hd);
  int same = st == DC_OK && rank == ndim;
  int empty = 0;
  for (int i = 0; same && i < ndim; i++) {
    same = dims[i] >= 0 && hd[i] == (hsize_t)dims[i];
    empty |= dims[i] == 0;
  }
  if (st == DC_OK && !same) {
    char have[160], want[160];
    hsize_t wd[DC_H5_MAX_DIMS];
    for (int i = 0; i < ndim; i++) wd[i] = dims[i] < 0 ? 0 : (hsize_t)dims[i];
    format_shape(have, sizeof have, rank, hd);
    format_shape(want, sizeof want, ndim, wd);
    st = dc_fail(DC_ERR_FORMAT, "%s: %s has shape %s, expected %s", f->path, cp, have, want);
  }
  if (st == DC_OK) {
    hid_t ft = H5Dget_type(ds);
    H5T_class_t cls = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
      st = dc_fail(DC_ERR_FORMAT, "%s: %s does not hold numbers (HDF5 type class %d)", f->path, cp, (int)cls);
    if (st == DC_OK && !empty) st = check_storage(f, cp, ds, ft);
    if (ft >= 0) H5Tclose(ft);
  }
  if (st == DC_OK && !empty) {
    DC_ASSERT(data != NULL);
    char r[256];
    if (H5Dread(ds, mem_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
      st = dc_fail(DC_ERR_FORMAT, "%s: cannot read %s: %s", f->path, cp, h5_reason(r));
  }
  H5Dclose(ds);
  return st;
}

/* ---------------------------------------------------------------- strings */

dc_status dc_h5_write_str(dc_h5 *f, const char *path, const char *s) {
  DC_ASSERT(f != NULL && s != NULL);
  quiet();
  char cp[PATH_MAX_LEN];
  DC_TRY(check_writable(f));
  DC_TRY(norm_path(f, path, 0, cp));
  DC_TRY(check_new_path(f, cp));
  size_t n = strlen(s);
  char r[256];
  /* Fixed length = strlen (HDF5 has no zero-size type, so "" is one NUL byte), padded
   * with NULs: readers strip the padding. */
  hid_t st_type = H5Tcopy(H5T_C_S1);
  if (st_type < 0) return dc_fail(DC_ERR_BACKEND, "%s: %s: %s", f->path, cp, h5_reason(r));
  H5Tset_size(st_type, n ? n : 1);
  H5Tset_strpad(st_type, H5T_STR_NULLPAD);
  H5Tset_cset(st_type, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t ds = space >= 0 ? create_dataset(f, cp, st_type, space) : H5I_INVALID_HID;
  dc_status st = DC_OK;
  char doing[PATH_MAX_LEN + 16];
  snprintf(doing, sizeof doing, "writing %s", cp);
  if (ds < 0)
    st = write_failed(f, doing);
  else if (H5Dwrite(ds, st_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, n ? s : "") < 0)
    st = write_failed(f, doing);
  if (ds >= 0 && H5Dclose(ds) < 0 && st == DC_OK) st = write_failed(f, doing);
  if (space >= 0) H5Sclose(space);
  H5Tclose(st_type);
  return st;
}

/* Read the scalar string dataset ds (type ft) into a malloc'd *out. */
static dc_status read_str(dc_h5 *f, const char *cp, hid_t ds, hid_t ft, char **out) {
  char r[256];
  htri_t var = H5Tis_variable_str(ft);
  if (var > 0) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    char *p = NULL;
    herr_t e = H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p);
    H5Tclose(mt);
    if (e < 0) return dc_fail(DC_ERR_FORMAT, "%s: cannot read %s: %s", f->path, cp, h5_reason(r));
    *out = dup_str(p ? p : "");
    if (p) H5free_memory(p);
  } else {
    size_t size = H5Tget_size(ft);
    if (size == 0) return dc_fail(DC_ERR_FORMAT, "%s: cannot read %s: %s", f->path, cp, h5_reason(r));
    char *buf = malloc(size + 1);
    if (!buf) return dc_fail(DC_ERR_NOMEM, "%s: out of memory reading %s", f->path, cp);
    /* Read the bytes as stored (same type in memory), then NUL-terminate: that strips
     * NUL padding and the terminator of NULLTERM strings alike. */
    hid_t mt = H5Tcopy(ft);
    herr_t e = mt >= 0 ? H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : -1;
    if (mt >= 0) H5Tclose(mt);
    if (e < 0) {
      free(buf);
      return dc_fail(DC_ERR_FORMAT, "%s: cannot read %s: %s", f->path, cp, h5_reason(r));
    }
    buf[size] = '\0';
    *out = buf;
    return DC_OK;
  }
  if (!*out) return dc_fail(DC_ERR_NOMEM, "%s: out of memory reading %s", f->path, cp);
  return DC_OK;
}

dc_status dc_h5_read_str(dc_h5 *f, const char *path, char **out) {
  DC_ASSERT(f != NULL && out != NULL);
  *out = NULL;
  quiet();
  char cp[PATH_MAX_LEN];
  DC_TRY(norm_path(f, path, 0, cp));
  hid_t ds;
  DC_TRY(open_dataset(f, cp, &ds));
  hsize_t hd[H5S_MAX_RANK];
  int rank = 0;
  dc_status st = stored_shape(f, cp, ds, &rank, hd);
  if (st == DC_OK && rank != 0)
    st = dc_fail(DC_ERR_FORMAT, "%s: %s is not a single string (rank %d)", f->path, cp, rank);
  hid_t ft = st == DC_OK ? H5Dget_type(ds) : H5I_INVALID_HID;
  if (st == DC_OK && (ft < 0 || H5Tget_class(ft) != H5T_STRING))
    st = dc_fail(DC_ERR_FORMAT, "%s: %s is not a string", f->path, cp);
  if (st == DC_OK) st = check_storage(f, cp, ds, ft);
  if (st == DC_OK) st = read_str(f, cp, ds, ft, out);
  if (ft >= 0) H5Tclose(ft);
  H5Dclose(ds);
  return st;
}

/* ---------------------------------------------------------------- listing */

typedef struct {
  char **names;
  int n, cap;
} name_list;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *data) {
  (void)g;
  (void)info;
  name_list *l = data;
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 16;
    char **nn = realloc(l->names, (size_t)cap * sizeof *nn);
    if (!nn) return -1;
    l->names = nn;
    l->cap = cap;
  }
  char *copy = dup_str(name);
  if (!copy) return -1;
  l->names[l->n++] = copy;
  return 0;
}

dc_status dc_h5_list(dc_h5 *f, const char *group, char ***names, int *n) {
  DC_ASSERT(f != NULL && names != NULL && n != NULL);
  *names = NULL;
  *n = 0;
  quiet();
  char cp[PATH_MAX_LEN];
  DC_TRY(norm_path(f, group, 1, cp));
  if (!path_exists(f->file, cp)) return dc_fail(DC_ERR_FORMAT, "%s: no group %s", f->path, cp);
  H5I_type_t k = object_kind(f->file, cp);
  if (k != H5I_GROUP) return dc_fail(DC_ERR_FORMAT, "%s: %s is %s, not a group", f->path, cp, kind_name(k));
  hid_t g = H5Gopen2(f->file, cp, H5P_DEFAULT);
  char r[256];
  if (g < 0) return dc_fail(DC_ERR_FORMAT, "%s: cannot open group %s: %s", f->path, cp, h5_reason(r));
  name_list l = {NULL, 0, 0};
  hsize_t idx = 0;
  herr_t e = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &l);
  H5Gclose(g);
  if (e < 0) {
    dc_h5_free_names(l.names, l.n);
    return dc_fail(DC_ERR_FORMAT, "%s: cannot list %s: %s", f->path, cp, h5_reason(r));
  }
  *names = l.names;
  *n = l.n;
  return DC_OK;
}

void dc_h5_free_names(char **names, int n) {
  if (!names) return;
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}
