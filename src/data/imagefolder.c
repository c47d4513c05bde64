/* imagefolder.c — the image-folder dataset kind (ImageNet / torchvision ImageFolder
 * layout): scanning root/{train,val}/<class>/ at open, and decoding, resizing,
 * cropping, mirroring and mean-subtracting one image per sample on demand, the way
 * Caffe's ImageNet models were fed (see dc_imagefolder_open in dc/data.h).
 *
 * Memory: only names are kept — one string pool of "<class>/<file>" paths relative to
 * the split directory (ImageNet's 1.28M training names take ~40 MB) and an offset and
 * label per sample. Decoding goes through libstb's stb_image; its failure reason is
 * thread-local in that build, so samples may be decoded on several threads at once
 * (dataset.c does that when the dataset has threads > 1).
 *
 * Resizing is our own bilinear interpolation with OpenCV's INTER_LINEAR geometry
 * (pixel centres at +0.5, edges clamped, no antialiasing), which is what Caffe's
 * convert_imageset used to make its 256x256 ImageNet. stb_image_resize was the first
 * choice, but its float filters took ~4.6 ms for a 500x375 → 256x256 image (twice
 * the JPEG decode) and the Debian build keeps its internal asserts, which abort the
 * process for some size pairs with non-default filters. Fixed-point weights keep
 * the result identical on every machine.
 *
 * Augmentation randomness comes from an rng seeded with (run seed ^ AUG_STREAM,
 * stream position), so the crop and flip of position p are the same in every run and
 * in a resumed one, and differ across positions (and so across epochs). */
#define _DEFAULT_SOURCE /* dirent d_type: most entries need no stat */
#include <errno.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb/stb_image.h>

#include "dc/data.h"
#include "dc/rng.h"
#include "data/decode.h"
#include "data/resize.h"
#include "util.h"

#define MAX_SIDE 65536 /* resize / crop beyond this is surely a typo */

typedef struct {
  char *root;          /* the split directory, root/train or root/val */
  int train;           /* random crop + mirror in batches (else centre crop) */
  dc_imagefolder_conf conf;
  int nclasses;
  char **class_names;  /* (nclasses) sorted names of root/train's subdirectories */
  int n;               /* samples */
  size_t *name_at;     /* (n) offset into names of "<class>/<file>" */
  int *label;          /* (n) */
  char *names;         /* the pool of NUL-terminated relative paths */
  size_t names_len, names_cap;
  float lut[3][256];   /* per output channel: (pixel - mean) / std * scale */
} folder_impl;

static const char *const g_split_names[2] = {"val", "train"};

/* ---- decoding one sample ---------------------------------------------------- */

/* The size a w×h image is resized to: squash R×R, or shorter side R (torchvision's
 * Resize(R): the longer side int(R * long / short)). */
static void target_size(const folder_impl *f, int w, int h, int *dw, int *dh) {
  const int R = f->conf.resize;
  if (f->conf.resize_mode == DC_RESIZE_SQUASH) {
    *dw = *dh = R;
  } else if (w <= h) {
    *dw = R;
    *dh = (int)((int64_t)R * h / w);
  } else {
    *dh = R;
    *dw = (int)((int64_t)R * w / h);
  }
}

/* Decode sample `index`, resize, and write its crop as NCHW floats in the conf's
 * channel order: x[c][i][j] = (pixel - mean[c]) / std[c] * scale. With r == NULL the
 * centre crop, unflipped; else offsets and a flip drawn from r (oy, ox, flip: the
 * order the squash-mode draws always had, so old runs keep their crops). */
static dc_status render(const folder_impl *f, int index, dc_rng *r, float *x) {
  const int C = f->conf.crop;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", f->root, f->names + f->name_at[index]);
  int w = 0, h = 0, ch = 0;
  unsigned char *img;
  dc_status ds = dc_image_decode(path, 3, &img, &w, &h, &ch); /* h×w×3 RGB */
  if (ds != DC_OK) return DC_ERR_DATA; /* e.g. a directory named x.JPEG: a bad sample */
  int dw, dh;
  target_size(f, w, h, &dw, &dh);
  if (dw < C || dh < C) { /* only from extreme aspect ratios in shorter mode: cannot happen */
    free(img);
    return dc_fail(DC_ERR_DATA, "%s: %dx%d resizes to %dx%d, smaller than crop %d", path, w, h, dw, dh, C);
  }
  int oy = (dh - C) / 2, ox = (dw - C) / 2, flip = 0;
  if (r) {
    oy = (int)dc_rng_below(r, (uint32_t)(dh - C + 1));
    ox = (int)dc_rng_below(r, (uint32_t)(dw - C + 1));
    flip = (int)(dc_rng_next(r) >> 63); /* drawn even when mirror is off: same crops */
    flip &= f->conf.mirror;
  }
  unsigned char *px = malloc((size_t)C * (size_t)C * 3); /* the crop, C×C×3 RGB */
  if (!px) {
    free(img);
    return dc_fail(DC_ERR_NOMEM, "%s: out of memory", path);
  }
  if (w == dw && h == dh) {
    for (int i = 0; i < C; i++)
      memcpy(px + (size_t)i * C * 3, img + ((size_t)(oy + i) * (size_t)w + (size_t)ox) * 3, (size_t)C * 3);
  } else if (dc_resize_window(img, w, h, 3, dw, dh, oy, ox, C, C, px) != DC_OK) {
    free(img);
    free(px);
    return dc_fail(DC_ERR_NOMEM, "%s: out of memory resizing to %dx%d", path, dw, dh);
  }
  free(img);
  const size_t plane = (size_t)C * (size_t)C;
  for (int c = 0; c < 3; c++) {
    const int src_c = f->conf.rgb ? c : 2 - c; /* pixels are R, G, B */
    const float *lut = f->lut[c];
    float *out = x + (size_t)c * plane;
    for (int i = 0; i < C; i++) {
      const unsigned char *row = px + (size_t)i * (size_t)C * 3 + src_c;
      float *o = out + (size_t)i * (size_t)C;
      if (flip)
        for (int j = 0; j < C; j++) o[C - 1 - j] = lut[row[(size_t)j * 3]];
      else
        for (int j = 0; j < C; j++) o[j] = lut[row[(size_t)j * 3]];
    }
  }
  free(px);
  return DC_OK;
}

/* The un-augmented view: centre crop, no flip. */
static dc_status folder_get(void *impl, int index, float *x, int *y) {
  const folder_impl *f = impl;
  DC_TRY(render(f, index, NULL, x));
  *y = f->label[index];
  return DC_OK;
}

/* Stream id mixed into the seed so crop draws are independent of the shuffle's
 * (dc_rng_seed(seed, epoch)) and dropout's streams. */
#define AUG_STREAM 0x6175676d656e7431ULL /* "augment1" */

static dc_status folder_get_aug(void *impl, int index, uint64_t seed, int64_t position, float *x,
                                int *y) {
  const folder_impl *f = impl;
  if (!f->train) return folder_get(impl, index, x, y);
  dc_rng r;
  dc_rng_seed(&r, seed ^ AUG_STREAM, (uint64_t)position);
  DC_TRY(render(f, index, &r, x));
  *y = f->label[index];
  return DC_OK;
}

static void folder_destroy(void *impl) {
  folder_impl *f = impl;
  if (!f) return;
  for (int i = 0; i < f->nclasses; i++) free(f->class_names[i]);
  free(f->class_names);
  free(f->name_at);
  free(f->label);
  free(f->names);
  free(f->root);
  dc_free(f);
}

static const dc_dataset_ops folder_ops = {"imagefolder", folder_get, folder_destroy, 1};

/* ---- scanning --------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_image_name(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot || dot == name) return 0;
  return strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
         strcasecmp(dot, ".png") == 0;
}

/* A growable list of malloc'd strings. */
typedef struct {
  char **v;
  int n, cap;
} str_list;

static void list_free(str_list *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = l->cap = 0;
}

static dc_status list_push(str_list *l, const char *s) {
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 64;
    char **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return dc_fail(DC_ERR_NOMEM, "out of memory listing a directory");
    l->v = v;
    l->cap = cap;
  }
  char *copy = strdup(s);
  if (!copy) return dc_fail(DC_ERR_NOMEM, "out of memory listing a directory");
  l->v[l->n++] = copy;
  return DC_OK;
}

/* The sorted subdirectories of `dir` (following symlinks; names starting with '.'
 * skipped). */
static dc_status list_dirs(const char *dir, str_list *out) {
  DIR *dp = opendir(dir);
  if (!dp) return dc_fail(DC_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
  dc_status s = DC_OK;
  struct dirent *e;
  char path[4096];
  while (s == DC_OK && (e = readdir(dp)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (is_dir(path)) s = list_push(out, e->d_name);
  }
  closedir(dp);
  if (s != DC_OK) {
    list_free(out);
    return s;
  }
  if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
  return DC_OK;
}

/* Image order inside a class: by directory, then by name, as torchvision's ImageFolder
 * (sorted os.walk, then sorted file names): "a.jpg" < "sub/a.jpg" < "sub/deeper/a.jpg". */
static int cmp_relpath(const void *pa, const void *pb) {
  const char *a = *(char *const *)pa, *b = *(char *const *)pb;
  const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
  size_t la = sa ? (size_t)(sa - a) : 0, lb = sb ? (size_t)(sb - b) : 0;
  if (!sa || !sb) {
    if (sa != sb) return sa ? 1 : -1; /* files of the class directory itself first */
  } else {
    size_t m = la < lb ? la : lb;
    int c = memcmp(a, b, m);
    if (c != 0) return c;
    if (la != lb) return la < lb ? -1 : 1;
  }
  return strcmp(sa ? sa + 1 : a, sb ? sb + 1 : b);
}

#define MAX_DEPTH 16 /* subdirectory levels below a class directory */

/* The directories from the class directory down to the one being walked (to refuse a
 * symlink that leads back up: a loop). */
typedef struct {
  dev_t dev[MAX_DEPTH + 1];
  ino_t ino[MAX_DEPTH + 1];
} dir_path;

/* Add the images under `dir` (at `depth` below its class directory; names relative to
 * the class directory, `rel` the prefix, "" or "sub/") to out, recursing into
 * subdirectories like torchvision's ImageFolder. Symlinks are followed; an image is a
 * regular file named .jpg/.jpeg/.png (a directory named x.JPEG is walked, not counted);
 * names starting with '.' are skipped. An image name that cannot be examined (a dangling
 * symlink, no permission), a directory loop and nesting deeper than MAX_DEPTH are errors
 * naming the path. */
static dc_status walk(const char *dir, const char *rel, int depth, dir_path *up, str_list *out) {
  DIR *dp = opendir(dir);
  if (!dp) return dc_fail(DC_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
  dc_status s = DC_OK;
  struct dirent *e;
  char path[4096], name[4096], why[600];
  while (s == DC_OK && (e = readdir(dp)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
        (size_t)snprintf(name, sizeof name, "%s%s", rel, e->d_name) >= sizeof name) {
      s = dc_fail(DC_ERR_DATA, "%s/%s: path too long", dir, e->d_name);
      break;
    }
    int image = is_image_name(e->d_name);
    struct stat st;
    if (e->d_type == DT_REG) { /* no stat needed: the common case of ImageNet's 1.28M files */
      if (image) s = list_push(out, name);
      continue;
    }
    if (stat(path, &st) != 0) {
      if (image) s = dc_fail(DC_ERR_DATA, "%s: %s", path, dc_open_failure(path, errno, why, sizeof why));
      continue; /* not an image name: it would not be a sample anyway */
    }
    if (S_ISDIR(st.st_mode)) {
      if (depth >= MAX_DEPTH) {
        s = dc_fail(DC_ERR_DATA, "%s: directories nested more than %d levels below the class directory", path,
                    MAX_DEPTH);
        break;
      }
      for (int i = 0; i <= depth; i++)
        if (up->dev[i] == st.st_dev && up->ino[i] == st.st_ino) {
          s = dc_fail(DC_ERR_DATA, "%s: directory loop (a symlink leads back to a directory above it)", path);
          break;
        }
      if (s != DC_OK) break;
      up->dev[depth + 1] = st.st_dev;
      up->ino[depth + 1] = st.st_ino;
      strcat(name, "/");
      s = walk(path, name, depth + 1, up, out);
    } else if (image && S_ISREG(st.st_mode)) {
      s = list_push(out, name);
    } else if (image) {
      s = dc_fail(DC_ERR_DATA, "%s: not a regular file", path);
    }
  }
  closedir(dp);
  return s;
}

/* The images under class directory `dir`, in cmp_relpath order. */
static dc_status list_images(const char *dir, str_list *out) {
  dir_path up;
  struct stat st;
  if (stat(dir, &st) != 0) return dc_fail(DC_ERR_IO, "%s: %s", dir, strerror(errno));
  up.dev[0] = st.st_dev;
  up.ino[0] = st.st_ino;
  dc_status s = walk(dir, "", 0, &up, out);
  if (s != DC_OK) {
    list_free(out);
    return s;
  }
  if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_relpath);
  return DC_OK;
}

/* Append "<cls>/<file>" (cls NULL: "<file>") to the name pool as sample f->n with
 * `label`. */
static dc_status add_sample(folder_impl *f, int *cap, const char *cls, const char *file,
                            int label) {
  if (f->n == INT32_MAX - 1) return dc_fail(DC_ERR_DATA, "%s: too many images", f->root);
  if (f->n == *cap) {
    int c = *cap ? *cap * 2 : 1024;
    if (c < 0) c = INT32_MAX - 1;
    size_t *at = realloc(f->name_at, (size_t)c * sizeof *at);
    if (!at) return dc_fail(DC_ERR_NOMEM, "out of memory listing %s", f->root);
    f->name_at = at;
    int *lb = realloc(f->label, (size_t)c * sizeof *lb);
    if (!lb) return dc_fail(DC_ERR_NOMEM, "out of memory listing %s", f->root);
    f->label = lb;
    *cap = c;
  }
  size_t len = (cls ? strlen(cls) + 1 : 0) + strlen(file) + 1;
  if (f->names_len + len > f->names_cap) {
    size_t c = f->names_cap ? f->names_cap * 2 : 65536;
    while (c < f->names_len + len) c *= 2;
    char *p = realloc(f->names, c);
    if (!p) return dc_fail(DC_ERR_NOMEM, "out of memory listing %s", f->root);
    f->names = p;
    f->names_cap = c;
  }
  f->name_at[f->n] = f->names_len;
  if (cls) snprintf(f->names + f->names_len, len, "%s/%s", cls, file);
  else snprintf(f->names + f->names_len, len, "%s", file);
  f->names_len += len;
  f->label[f->n++] = label;
  return DC_OK;
}

/* Find `name` among the sorted class names; -1 when absent. */
static int find_class(const folder_impl *f, const char *name) {
  char *const *hit = bsearch(&name, f->class_names, (size_t)f->nclasses, sizeof *f->class_names,
                             cmp_str);
  return hit ? (int)(hit - f->class_names) : -1;
}

/* The samples of a Caffe list file (f->conf.val_list): "relative/path label" per line,
 * the path relative to f->root (it may hold spaces: the label is the last field),
 * blank lines skipped. Every line is checked now, so a bad list fails at open, naming
 * FILE:LINE, and not hours into a run. */
static dc_status scan_list(folder_impl *f, const char *rootdir) {
  char listpath[4096];
  const char *lp = f->conf.val_list;
  if (lp[0] == '/') snprintf(listpath, sizeof listpath, "%s", lp);
  else snprintf(listpath, sizeof listpath, "%s/%s", rootdir, lp);
  DC_TRY(dc_check_input(listpath, 0));
  FILE *fp = fopen(listpath, "r");
  if (!fp) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", listpath, strerror(errno));
  char line[4096 + 64], path[8192];
  int lineno = 0, cap = 0;
  dc_status s = DC_OK;
  while (s == DC_OK && fgets(line, sizeof line, fp)) {
    lineno++;
    size_t len = strlen(line);
    if (len == sizeof line - 1 && line[len - 1] != '\n') {
      s = dc_fail(DC_ERR_DATA, "%s:%d: line longer than %zu characters", listpath, lineno, sizeof line - 2);
      break;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                       line[len - 1] == '\t'))
      line[--len] = '\0';
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0') continue;
    char *sp = strrchr(p, ' '), *tab = strrchr(p, '\t');
    if (tab && (!sp || tab > sp)) sp = tab;
    if (!sp) {
      s = dc_fail(DC_ERR_DATA, "%s:%d: expected 'relative/path label', got '%.200s'", listpath, lineno, p);
      break;
    }
    char *lab = sp + 1, *end = sp;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
    *end = '\0';
    char *stop;
    errno = 0;
    long label = strtol(lab, &stop, 10);
    if (*lab == '\0' || *stop != '\0' || errno) {
      s = dc_fail(DC_ERR_DATA, "%s:%d: label '%.60s' is not an integer (expected 'relative/path label')", listpath,
                  lineno, lab);
      break;
    }
    if (label < 0 || label >= f->nclasses) {
      s = dc_fail(DC_ERR_DATA, "%s:%d: label %ld out of range [0, %d) (the classes are the %d directories of %s/train)",
                  listpath, lineno, label, f->nclasses, f->nclasses, rootdir);
      break;
    }
    snprintf(path, sizeof path, "%s/%s", f->root, p);
    struct stat st;
    if (stat(path, &st) != 0) {
      char why[600];
      s = dc_fail(DC_ERR_DATA, "%s:%d: %s: %s", listpath, lineno, path, dc_open_failure(path, errno, why, sizeof why));
      break;
    }
    if (!S_ISREG(st.st_mode)) {
      s = dc_fail(DC_ERR_DATA, "%s:%d: %s: not a regular file", listpath, lineno, path);
      break;
    }
    s = add_sample(f, &cap, NULL, p, (int)label);
  }
  if (s == DC_OK && ferror(fp)) s = dc_fail(DC_ERR_IO, "%s: read error", listpath);
  fclose(fp);
  if (s == DC_OK && f->n == 0) s = dc_fail(DC_ERR_DATA, "%s: no images listed", listpath);
  return s;
}

/* Fill f's classes (from rootdir/train) and samples (from f->root or the val list). */
static dc_status scan(folder_impl *f, const char *rootdir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/train", rootdir);
  if (!is_dir(path))
    return dc_fail(DC_ERR_IO, "%s: missing directory (expected %s/train/<class>/<images>)", path,
                   rootdir);
  str_list classes = {0};
  DC_TRY(list_dirs(path, &classes));
  if (classes.n == 0) {
    list_free(&classes);
    return dc_fail(DC_ERR_DATA, "%s: no class directories", path);
  }
  f->class_names = classes.v; /* f owns them now */
  f->nclasses = classes.n;
  if (!f->train && f->conf.val_list && f->conf.val_list[0]) return scan_list(f, rootdir);
  if (!f->train && !is_dir(f->root))
    return dc_fail(DC_ERR_IO, "%s: missing directory (expected %s/val/<class>/<images>)", f->root,
                   rootdir);
  str_list dirs = {0};
  if (f->train) {
    for (int i = 0; i < f->nclasses; i++) {
      dc_status s = list_push(&dirs, f->class_names[i]);
      if (s != DC_OK) {
        list_free(&dirs);
        return s;
      }
    }
  } else {
    DC_TRY(list_dirs(f->root, &dirs));
    if (dirs.n == 0) {
      list_free(&dirs);
      return dc_fail(DC_ERR_DATA, "%s: no class directories", f->root);
    }
  }
  int cap = 0;
  dc_status s = DC_OK;
  for (int i = 0; s == DC_OK && i < dirs.n; i++) {
    int label = find_class(f, dirs.v[i]);
    if (label < 0) {
      s = dc_fail(DC_ERR_DATA, "%s/%s: class '%s' is not in %s/train", f->root, dirs.v[i],
                  dirs.v[i], rootdir);
      break;
    }
    snprintf(path, sizeof path, "%s/%s", f->root, dirs.v[i]);
    str_list files = {0};
    s = list_images(path, &files);
    if (s != DC_OK) break;
    if (files.n == 0)
      s = dc_fail(DC_ERR_DATA, "%s: empty class directory (no .jpg, .jpeg or .png files)", path);
    for (int k = 0; s == DC_OK && k < files.n; k++)
      s = add_sample(f, &cap, dirs.v[i], files.v[k], label);
    list_free(&files);
  }
  list_free(&dirs);
  return s;
}

/* FNV-1a over the samples' relative names and labels in order: a resume against a
 * folder whose file list changed is refused (the sample order would differ). Never 0. */
static uint64_t file_list_hash(const folder_impl *f) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (int i = 0; i < f->n; i++) {
    for (const unsigned char *p = (const unsigned char *)f->names + f->name_at[i];; p++) {
      h = (h ^ *p) * 0x100000001b3ULL;
      if (*p == '\0') break;
    }
    for (int b = 0; b < 4; b++) h = (h ^ (unsigned char)(f->label[i] >> (8 * b))) * 0x100000001b3ULL;
  }
  return h ? h : 1;
}

/* ---- public ------------------------------------------------------------------ */

void dc_imagefolder_defaults(dc_imagefolder_conf *conf) {
  memset(conf, 0, sizeof *conf);
  conf->resize = 256;
  conf->resize_mode = DC_RESIZE_SQUASH;
  conf->crop = 227;
  conf->rgb = 0;
  conf->mean[0] = 104.0f; /* B */
  conf->mean[1] = 117.0f; /* G */
  conf->mean[2] = 123.0f; /* R */
  conf->std[0] = conf->std[1] = conf->std[2] = 1.0f;
  conf->scale = 1.0f;
  conf->mirror = 1;
  conf->threads = 2;
  conf->val_list = NULL;
}

dc_status dc_imagefolder_open(const char *root, int train, const dc_imagefolder_conf *conf,
                              dc_dataset **out) {
  *out = NULL;
  dc_imagefolder_conf c;
  if (conf) c = *conf;
  else dc_imagefolder_defaults(&c);
  if (c.resize < 1 || c.resize > MAX_SIDE)
    return dc_fail(DC_ERR_ARG, "%s: resize %d: expected an integer in [1, %d]", root, c.resize,
                   MAX_SIDE);
  if (c.crop < 1 || c.crop > c.resize)
    return dc_fail(DC_ERR_ARG, "%s: crop %d: expected an integer in [1, resize = %d]", root, c.crop,
                   c.resize);
  for (int i = 0; i < 3; i++)
    if (!(c.mean[i] > -1e30f && c.mean[i] < 1e30f))
      return dc_fail(DC_ERR_ARG, "%s: mean: expected 3 finite numbers", root);
  for (int i = 0; i < 3; i++)
    if (!(c.std[i] > 0.0f && c.std[i] < 1e30f))
      return dc_fail(DC_ERR_ARG, "%s: std: expected 3 finite positive numbers", root);
  if (c.resize_mode != DC_RESIZE_SQUASH && c.resize_mode != DC_RESIZE_SHORTER)
    return dc_fail(DC_ERR_ARG, "%s: resize_mode %d: expected squash or shorter", root, (int)c.resize_mode);
  if (!(c.scale > 0.0f && c.scale < 1e30f))
    return dc_fail(DC_ERR_ARG, "%s: scale: expected a finite positive number", root);
  if (strlen(root) > 3000) return dc_fail(DC_ERR_ARG, "%s: path too long", root);
  folder_impl *f = dc_alloc(sizeof *f);
  if (!f) return DC_ERR_NOMEM;
  f->train = train != 0;
  f->conf = c;
  f->conf.val_list = NULL; /* only needed while scanning: not kept (the caller owns it) */
  for (int ch = 0; ch < 3; ch++)
    for (int p = 0; p < 256; p++) f->lut[ch][p] = ((float)p - c.mean[ch]) / c.std[ch] * c.scale;
  size_t len = strlen(root) + 8;
  f->root = malloc(len);
  if (!f->root) {
    folder_destroy(f);
    return dc_fail(DC_ERR_NOMEM, "out of memory");
  }
  snprintf(f->root, len, "%s/%s", root, g_split_names[f->train]);
  f->conf.val_list = c.val_list;
  dc_status s = scan(f, root);
  f->conf.val_list = NULL;
  if (s != DC_OK) {
    folder_destroy(f);
    return s;
  }
  int classes = f->nclasses;
  uint64_t h = file_list_hash(f);
  DC_TRY(dc_dataset_create(&folder_ops, f, f->n, 3, c.crop, c.crop, classes, out));
  dc_dataset_set_fingerprint(*out, h);
  dc_dataset_set_aug(*out, folder_get_aug);
  dc_dataset_set_threads(*out, c.threads);
  return DC_OK;
}

const char *dc_imagefolder_class_name(const dc_dataset *d, int label) {
  const folder_impl *f = dc_dataset_impl(d, &folder_ops);
  if (!f || label < 0 || label >= f->nclasses) return NULL;
  return f->class_names[label];
}
