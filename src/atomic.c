/* atomic.c — write to PATH.tmp, fsync, rename, fsync the directory; see atomic.h. */
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

dc_status dc_atomic_begin(dc_atomic *a, const char *path) {
  memset(a, 0, sizeof *a);
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof a->path) return dc_fail(DC_ERR_ARG, "%.200s: output path too long (%zu chars)", path, n);
  memcpy(a->path, path, n + 1);
  memcpy(a->tmp, path, n);
  memcpy(a->tmp + n, ".tmp", 5);
  return DC_OK;
}

dc_status dc_atomic_open(dc_atomic *a, const char *path, const char *mode) {
  DC_TRY(dc_atomic_begin(a, path));
  a->f = fopen(a->tmp, mode);
  if (!a->f) return dc_fail(DC_ERR_IO, "%s: cannot create: %s", a->tmp, strerror(errno));
  return DC_OK;
}

/* fsync the directory holding `path`, so the rename is on disk too. A filesystem that
 * cannot sync a directory (EINVAL, ENOTSUP) is not an error: the rename is still atomic. */
static dc_status sync_dir(const char *path) {
  char dir[DC_ATOMIC_PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == path) snprintf(dir, sizeof dir, "/");
  else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return dc_fail(DC_ERR_IO, "%s: cannot open the directory to sync it: %s", dir, strerror(errno));
  int bad = fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP;
  int err = errno;
  close(fd);
  if (bad) return dc_fail(DC_ERR_IO, "%s: cannot sync the directory: %s", dir, strerror(err));
  return DC_OK;
}

dc_status dc_atomic_commit(dc_atomic *a) {
  dc_status st = DC_OK;
  if (a->f) {
    /* a write error earlier (ENOSPC, EFBIG) leaves the flag set and errno as it was */
    int err = ferror(a->f) ? (errno ? errno : EIO) : 0;
    if (!err && fflush(a->f) != 0) err = errno;
    if (!err && fsync(fileno(a->f)) != 0) err = errno;
    if (fclose(a->f) != 0 && !err) err = errno;
    a->f = NULL;
    if (err) st = dc_fail(DC_ERR_IO, "%s: cannot write: %s", a->tmp, strerror(err));
  } else {
    int fd = open(a->tmp, O_RDONLY | O_CLOEXEC);
    int bad = fd < 0 || fsync(fd) != 0;
    int err = errno;
    if (fd >= 0) close(fd);
    if (bad) st = dc_fail(DC_ERR_IO, "%s: cannot sync: %s", a->tmp, strerror(err));
  }
  if (st == DC_OK && rename(a->tmp, a->path) != 0)
    st = dc_fail(DC_ERR_IO, "%s: cannot rename %s into place: %s", a->path, a->tmp, strerror(errno));
  if (st != DC_OK) {
    unlink(a->tmp);
    return st;
  }
  return sync_dir(a->path);
}

void dc_atomic_abort(dc_atomic *a) {
  if (a->f) fclose(a->f);
  a->f = NULL;
  if (a->tmp[0]) unlink(a->tmp);
}
