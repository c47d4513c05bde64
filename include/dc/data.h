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
 * A dataset is not thread-safe: dc_dataset_batch caches the current epoch's
 * permutation inside it. Use one dataset per thread. With dc_dataset_set_threads(d, k),
 * k > 1, dc_dataset_batch itself fetches the batch's samples on k worker threads
 * (the permutation is resolved before they start, on the calling thread). */
#ifndef DC_DATA_H
#define DC_DATA_H

#include <stdint.h>

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

/* Options of an image-folder data set (dc_imagefolder_open). Fill with
 * dc_imagefolder_defaults, then change what you need. */
typedef struct dc_imagefolder_conf {
  int resize;    /* every image is resized to resize × resize, aspect ignored (Caffe) */
  int crop;      /* output is crop × crop, crop <= resize (AlexNet 227, VGG 224) */
  float mean[3]; /* per-channel mean in output (B, G, R) order, subtracted first */
  float scale;   /* then multiplied by this */
  int mirror;    /* training: flip horizontally with probability 1/2 */
  int threads;   /* decode threads used by dc_dataset_batch (1: on the caller's thread) */
} dc_imagefolder_conf;

/* ImageNet defaults: resize 256, crop 227, mean 104, 117, 123 (BGR), scale 1,
 * mirror on, 2 threads. */
void dc_imagefolder_defaults(dc_imagefolder_conf *conf);

/* Open one split of an image tree in the torchvision ImageFolder / ImageNet layout:
 *   root/train/<class>/<image>   and   root/val/<class>/<image>
 * train != 0 opens root/train, else root/val. The classes are the sorted names of
 * root/train's subdirectories (label = index in that order; names starting with '.'
 * are skipped) for both splits, so val must only hold class directories train has.
 * Images are the files of each class directory (not recursive) ending in .jpg, .jpeg
 * or .png (any case), sorted by name; samples are ordered class by class. Opening only
 * scans directories; images are decoded when batched.
 * A sample is decoded with stb_image as 3-channel 8-bit (grey is replicated, alpha
 * dropped), resized to resize × resize (skipped when it already is), cropped to
 * crop × crop, and written as NCHW floats in BGR channel order (as Caffe's ImageNet
 * models expect): x[c][i][j] = (pixel - mean[c]) * scale.
 * The crop is chosen per sample: a training split (train != 0) takes a random offset
 * and (when conf->mirror) a random horizontal flip drawn from (seed, stream position)
 * in dc_dataset_batch; a val split and dc_dataset_get always take the centre crop
 * (offset (resize - crop) / 2), unflipped.
 * conf NULL means the defaults. On success *out is a new dataset the caller frees
 * with dc_dataset_free; on failure *out is NULL and the reason names the directory
 * or key: a missing train/ or val/, no class directories, a class directory without
 * images, a val class unknown to train, crop > resize, bad numbers. A corrupt or
 * unreadable image fails the dc_dataset_batch / dc_dataset_get call that reaches it
 * with DC_ERR_DATA "PATH: cannot decode image: <stb_image's reason>". */
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

/* Use only the first n samples (n clipped to the number the dataset holds);
 * n <= 0 restores all samples. For quick runs and tests. */
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

/* The kind's impl when d was created with `ops`, else NULL (lets a kind's own
 * accessors check they were handed their kind). */
void *dc_dataset_impl(const dc_dataset *d, const dc_dataset_ops *ops);

#endif
