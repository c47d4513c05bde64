/* dc/data.h — labelled image datasets and the deterministic batch stream.
 *
 * A dc_dataset is an in-memory (or on-demand) set of `count` samples, each a
 * c×h×w float image (one NCHW slice) plus an int label in [0, classes).
 * Training reads it as an endless stream of positions 0, 1, 2, ...: position p is
 * sample perm_e[p % count] of epoch e = p / count, with perm_e a seeded shuffle.
 * The stream is a pure function of (seed, shuffle, position), so resuming at
 * iteration i just asks for the batch starting at i*batch — no loader state to save.
 *
 * Dataset kinds (MNIST idx files, ImageNet-style image folders) plug in through
 * dc_dataset_ops + dc_dataset_create; the shuffle/batch/limit logic is shared.
 * A kind with random augmentation (crops, mirrors) also registers an augmenting getter
 * (dc_dataset_set_aug) that is handed the run seed and the stream position, so the
 * augmentation too is a pure function of (seed, position).
 *
 * Samples may be fetched from several threads at once (dc_dataset_sample_at,
 * dc_dataset_batch, dc_dataset_get); dc_dataset_limit and the setters must not run
 * concurrently with them. With dc_dataset_set_threads(d, k), k > 1, dc_dataset_batch
 * fetches the batch's samples on k worker threads, and a dc_loader (dc/loader.h)
 * prefetches training batches on k threads.
 *
 * A sample the kind cannot read (DC_ERR_DATA, e.g. a corrupt JPEG) stops the batch by
 * default; with dc_dataset_set_on_bad(d, DC_BAD_SKIP, stderr) it is reported once and
 * its stream slot is refilled by the sample of the next position (see
 * dc_dataset_sample_at), so a run goes on and stays a pure function of the seed. */
#ifndef DC_DATA_H
#define DC_DATA_H

#include <stdint.h>
#include <stdio.h>

#include "dc/error.h"

typedef struct dc_dataset dc_dataset; /* opaque */

/* Caffe's MNIST input scale: pixel/256, so uint8 pixels map into [0, 1). */
#define DC_MNIST_SCALE 0.00390625f

/* Open one MNIST split in `dir`: train != 0 → train-images-idx3-ubyte +
 * train-labels-idx1-ubyte (60000 samples), else t10k-images-idx3-ubyte +
 * t10k-labels-idx1-ubyte (10000). Each file may be plain or gzipped with a ".gz"
 * suffix; the plain file is used when both exist. Pixels are kept as uint8 and
 * turned into pixel*scale floats when batching. Shape is 1×28×28 for real MNIST.
 * On success *out is a new dataset the caller frees with dc_dataset_free; on
 * failure *out is NULL and the reason names the file (a missing file points at
 * scripts/fetch-mnist.sh). */
dc_status dc_mnist_open(const char *dir, int train, float scale, dc_dataset **out);

/* Open an idx3 ubyte image file and the matching idx1 ubyte label file by path
 * (either may be gzip-compressed; detected from content). Validates the magics
 * (0x00000803 images, 0x00000801 labels), the dims (all ≥ 1), that each file's size
 * is exactly header + payload, and that image and label counts agree.
 * Ownership as for dc_mnist_open. */
dc_status dc_dataset_open_idx(const char *images_path, const char *labels_path, float scale,
                              dc_dataset **out);

/* How an image-folder sample is resized before cropping. */
typedef enum {
  DC_RESIZE_SQUASH = 0, /* to resize × resize, aspect ignored (Caffe's convert_imageset) */
  DC_RESIZE_SHORTER     /* the shorter side to resize, the other floor(resize*long/short),
                           aspect kept (torchvision's Resize(resize)) */
} dc_resize_mode;

/* Options of an image-folder data set (dc_imagefolder_open). Fill with
 * dc_imagefolder_defaults, then change what you need. */
typedef struct dc_imagefolder_conf {
  int resize;    /* see resize_mode */
  dc_resize_mode resize_mode;
  int crop;      /* output is crop × crop, crop <= resize (AlexNet 227, VGG 224) */
  int rgb;       /* output channel order: 0 B, G, R (Caffe's models), 1 R, G, B (torchvision's) */
  float mean[3]; /* per output channel, in pixel units (0..255), subtracted first */
  float std[3];  /* per output channel, divides next (> 0) */
  float scale;   /* then multiplied by this: x = (pixel - mean[c]) / std[c] * scale */
  int mirror;    /* training: flip horizontally with probability 1/2 */
  int threads;   /* decode threads used by dc_dataset_batch and dc_loader (1: on the caller's thread) */
  /* NULL or "": the val split is read from class folders root/val/<class>/. Else a Caffe
   * list file (relative to root unless absolute) of "relative/path label" lines, paths
   * relative to root/val, labels in [0, classes): ImageNet's usual val.txt. */
  const char *val_list;
} dc_imagefolder_conf;

/* ImageNet defaults (Caffe's): resize 256 squash, crop 227, BGR, mean 104, 117, 123,
 * std 1, 1, 1, scale 1, mirror on, 2 threads, val from class folders. */
void dc_imagefolder_defaults(dc_imagefolder_conf *conf);

/* Open one split of an image tree in the torchvision ImageFolder / ImageNet layout:
 *   root/train/<class>/<image>   and   root/val/<class>/<image> (or conf->val_list)
 * train != 0 opens root/train, else root/val. The classes are the sorted names of
 * root/train's subdirectories (label = index in that order; names starting with '.'
 * are skipped) for both splits, so val must only hold class directories train has.
 * Images are the regular files (symlinks followed) under each class directory, in its
 * subdirectories too (at most 16 levels; torchvision's ImageFolder does the same), named
 * .jpg, .jpeg or .png (any case), ordered by directory and then name; samples are ordered
 * class by class. A dangling symlink with an image name, a directory loop and deeper
 * nesting fail the open naming the path. The dataset's fingerprint
 * (dc_dataset_fingerprint) hashes the file list and labels. With a val
 * list, val's samples are the listed files in list order; every line is checked at
 * open ("FILE:LINE: ..." for a line that is not "path label", a label out of range,
 * a missing file). Opening only scans directories; images are decoded when batched.
 * A sample is decoded with stb_image as 3-channel 8-bit (grey is replicated, alpha
 * dropped; the format is read from the content, whatever the name), resized as
 * resize_mode says (skipped when it already has that size), cropped to crop × crop,
 * and written as NCHW floats in the conf's channel order:
 * x[c][i][j] = (pixel - mean[c]) / std[c] * scale.
 * The crop is chosen per sample: a training split (train != 0) takes a random offset
 * and (when conf->mirror) a random horizontal flip drawn from (seed, stream position)
 * in dc_dataset_batch; a val split and dc_dataset_get always take the centre crop
 * (offsets floor((side - crop) / 2)), unflipped.
 * conf NULL means the defaults. On success *out is a new dataset the caller frees
 * with dc_dataset_free; on failure *out is NULL and the reason names the directory,
 * list line or key: a missing train/ or val/, no class directories, a class directory
 * without images, a val class unknown to train, crop > resize, bad numbers. A corrupt or
 * unreadable image fails the dc_dataset_batch / dc_dataset_get call that reaches it
 * with DC_ERR_DATA "PATH: cannot decode image: <stb_image's reason>" or "PATH: cannot
 * open image: <strerror, or dangling symlink to 'T'>" (or is skipped,
 * see dc_dataset_set_on_bad). */
dc_status dc_imagefolder_open(const char *root, int train, const dc_imagefolder_conf *conf,
                              dc_dataset **out);

/* The directory name of class `label` of an image-folder dataset (owned by d), or
 * NULL when d is not one or label is out of range. */
const char *dc_imagefolder_class_name(const dc_dataset *d, int label);

/* Release d and everything it owns. NULL is a no-op. */
void dc_dataset_free(dc_dataset *d);

/* Number of samples in use (after dc_dataset_limit). */
int dc_dataset_count(const dc_dataset *d);
/* Per-sample shape: channels, height, width. Any out pointer may be NULL. */
void dc_dataset_shape(const dc_dataset *d, int *c, int *h, int *w);
/* 1 + the largest label in the whole set (unchanged by dc_dataset_limit). */
int dc_dataset_classes(const dc_dataset *d);

/* Use only n samples (n clipped to the number the dataset holds), spread over the
 * whole set: sample j of the n is the kind's sample floor(j * total / n), so a
 * class-ordered set (an image folder) keeps every class, not the first ones. n <= 0
 * restores all samples. For quick runs, test subsets and tests. */
void dc_dataset_limit(dc_dataset *d, int n);

/* Fill x (n × c×h×w floats, NCHW) and y (n int labels; may be NULL) with the
 * samples at stream positions first .. first+n-1. Position p is sample
 * perm_e[p % count] of epoch e = p / count, where perm_e is a Fisher-Yates shuffle
 * of 0..count-1 by an rng seeded with dc_rng_seed(r, seed, e) when shuffle != 0,
 * and the identity otherwise. The result depends only on the arguments (and the
 * dataset's contents/limit); batches may straddle an epoch boundary. x and y are
 * caller-owned. DC_ERR_ARG for first < 0, n < 0 or an empty dataset. */
dc_status dc_dataset_batch(dc_dataset *d, uint64_t seed, int shuffle, int64_t first, int n,
                           float *x, int *y);

/* One stream position of dc_dataset_batch: position p into x (c×h×w floats) and *y
 * (may be NULL). Safe to call from several threads at once. When the sample fails
 * with DC_ERR_DATA and the policy is DC_BAD_SKIP, it is reported (once per sample, one
 * line on the report stream) and the sample of position p+1 is used instead (p+2, ...
 * while those fail too), augmented as position p's would be; so the slot's content
 * stays a pure function of (seed, shuffle, p). DC_ERR_DATA when no sample of a whole
 * epoch's worth of positions could be read. */
dc_status dc_dataset_sample_at(dc_dataset *d, uint64_t seed, int shuffle, int64_t position,
                               float *x, int *y);

/* What a sample that cannot be read does: stop the batch with its error (the default),
 * or be reported once and skipped (dc_dataset_sample_at). */
typedef enum { DC_BAD_STOP = 0, DC_BAD_SKIP } dc_on_bad;
/* Set the policy; `report` (not owned; NULL: silent) receives the one-line report
 * "dctrain: warning: PATH: cannot decode image: REASON (skipped, ...)". */
void dc_dataset_set_on_bad(dc_dataset *d, dc_on_bad policy, FILE *report);
/* Fetches skipped so far (each refilled slot counts each bad sample it passed), and
 * distinct bad samples reported so far. */
long dc_dataset_skipped(const dc_dataset *d);
long dc_dataset_bad_samples(const dc_dataset *d);

/* Read sample `index` (0 <= index < count, no shuffling) into x (c×h×w floats) and
 * *y (may be NULL). DC_ERR_ARG when index is out of range. Never augmented (an
 * image-folder sample is its centre crop). */
dc_status dc_dataset_get(dc_dataset *d, int index, float *x, int *y);

/* Fetch the samples of each dc_dataset_batch call on `threads` worker threads
 * (threads <= 1: one by one on the calling thread, the default). The kind's getters
 * must then be safe to call concurrently for different output buffers (the MNIST and
 * image-folder kinds are). The result, including which failure is reported (that of
 * the earliest failing position), does not depend on the thread count. */
void dc_dataset_set_threads(dc_dataset *d, int threads);
/* The thread count set (1 when none was). */
int dc_dataset_threads(const dc_dataset *d);

/* ---- For dataset kinds (implementers only) ---------------------------------- */

/* What a dataset kind provides. `impl` is the kind's private state. */
typedef struct dc_dataset_ops {
  const char *kind; /* short name for messages, e.g. "mnist" */
  /* Write sample index (0 <= index < the count given to dc_dataset_create) as
   * c×h×w floats into x and its label into *y. May fail (e.g. a bad JPEG) with a
   * recorded reason. */
  dc_status (*get)(void *impl, int index, float *x, int *y);
  /* Release impl. */
  void (*destroy)(void *impl);
  /* 1: get decodes a file per sample (progress says "decode"); 0: the samples are in
   * memory (progress says "load"). */
  int decodes;
} dc_dataset_ops;

/* An optional augmenting getter: as dc_dataset_ops.get, but also handed the run seed
 * and the sample's stream position (first + i in dc_dataset_batch), from which all
 * its randomness must derive. */
typedef dc_status (*dc_dataset_aug_fn)(void *impl, int index, uint64_t seed, int64_t position,
                                       float *x, int *y);

/* Wrap a kind's state into a dataset of `count` samples of shape c×h×w with labels
 * in [0, classes). Takes ownership of impl in every case: on failure it calls
 * ops->destroy(impl) and sets *out = NULL. ops must outlive the dataset (use a
 * static table). DC_ERR_ARG for count < 1, any dim < 1 or classes < 1. */
dc_status dc_dataset_create(const dc_dataset_ops *ops, void *impl, int count, int c, int h,
                            int w, int classes, dc_dataset **out);

/* Make dc_dataset_batch fetch samples through get_aug instead of ops->get (which
 * dc_dataset_get keeps using). NULL restores ops->get. */
void dc_dataset_set_aug(dc_dataset *d, dc_dataset_aug_fn get_aug);

/* A 64-bit hash of what the kind read at open (an image folder: its sorted file list
 * and labels), stored in checkpoints so a resume against changed data is refused; 0
 * (the default) when the kind has none. */
void dc_dataset_set_fingerprint(dc_dataset *d, uint64_t fingerprint);
uint64_t dc_dataset_fingerprint(const dc_dataset *d);

/* 1 when d's kind decodes a file per sample (dc_dataset_ops.decodes). */
int dc_dataset_decodes(const dc_dataset *d);

/* The kind's impl when d was created with `ops`, else NULL (lets a kind's own
 * accessors check they were handed their kind). */
void *dc_dataset_impl(const dc_dataset *d, const dc_dataset_ops *ops);

#endif
