/* dcz.h — run a Deep Compression model (.dcz, written by dctrain's encode stage) from
 * your own program. The whole public inference API: one opaque handle, plain C types.
 *
 *   dcz_model *m;
 *   if (dcz_open("model.dcz", NULL, &m) != DCZ_OK) { puts(dcz_last_error()); ... }
 *   float probs[10];
 *   dcz_classify_file(m, "digit.png", probs);   // or dcz_run(m, x, n, probs)
 *   dcz_close(m);
 *
 * Link with libdc.a and what it needs (see README "Running compressed models").
 *
 * Errors: every function that can fail returns a dcz_status; on failure a one-line
 * message naming the file or argument is available from dcz_last_error() on the same
 * thread until the next failing call. Nothing here exits or aborts on bad input (bad
 * sizes, NULL pointers, truncated, corrupt or foreign files).
 * Threads: a dcz_model runs one call at a time; use one model per thread. */
#ifndef DCZ_H
#define DCZ_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dcz_model dcz_model; /* opaque */

typedef enum {
  DCZ_OK = 0,
  DCZ_ERR_ARG,     /* NULL pointer, bad size or count, wrong input size */
  DCZ_ERR_IO,      /* a file cannot be opened or read */
  DCZ_ERR_FORMAT,  /* not a .dcz, corrupt, truncated, or a net that does not fit it */
  DCZ_ERR_IMAGE,   /* an image file that cannot be decoded */
  DCZ_ERR_NOMEM,   /* out of memory */
  DCZ_ERR_RUNTIME  /* the compute backend failed */
} dcz_status;

typedef struct {
  int threads;   /* compute threads (default 2); the library computes on OpenMP and sets
                    the process's OpenMP thread count to this at open */
  int max_batch; /* samples per internal pass; longer batches are split (default 64) */
  int fc_mode;   /* 0 auto (per fc layer and batch size, the sparse kernels or dense
                    oneDNN, whichever the measured crossover says is faster; a layer run
                    dense keeps its decoded weights), 1 always sparse (least memory),
                    2 always dense (default 0) */
} dcz_params;

/* The defaults above. */
dcz_params dcz_default_params(void);

/* Open a .dcz file. params NULL: defaults. On success *out is a new model released
 * with dcz_close; on failure *out = NULL. The file must carry its net (written by
 * dctrain's encode stage since .dcz version 2). */
dcz_status dcz_open(const char *path, const dcz_params *params, dcz_model **out);
/* The same from a .dcz held in memory: buf[len] is read during the call only. */
dcz_status dcz_open_memory(const void *buf, size_t len, const dcz_params *params, dcz_model **out);
/* Release m (NULL is a no-op). */
void dcz_close(dcz_model *m);

/* Input of one sample: channels, height, width (floats per sample = c*h*w). Any out
 * pointer may be NULL. */
dcz_status dcz_input_shape(const dcz_model *m, int *c, int *h, int *w);
/* Number of classes (floats of output per sample), 0 when m is NULL. */
int dcz_num_classes(const dcz_model *m);
/* Name of class i from the model's labels, or NULL when it has none or i is out of range.
 * Owned by m. */
const char *dcz_class_name(const dcz_model *m, int i);

/* probs[n * classes] = class probabilities of x[n * c*h*w] (NCHW floats, already
 * preprocessed as the model expects: see dcz_preprocess). input_floats must equal
 * n * c*h*w (DCZ_ERR_ARG otherwise, so a wrong input size is caught). */
dcz_status dcz_run(dcz_model *m, const float *x, size_t input_floats, int n, float *probs);

/* The model's preprocessing: an 8-bit image pixels[h][w][channels] (1 gray, 2 gray +
 * alpha, 3 RGB, 4 RGBA) into x[c*h*w] floats for dcz_run (colour conversion, resize,
 * centre crop, mean and scale as the model was trained). */
dcz_status dcz_preprocess(const dcz_model *m, const unsigned char *pixels, int width, int height, int channels,
                          float *x);

/* Decode an image file (PNG, JPEG, BMP, GIF, TGA, PNM), preprocess it and run it:
 * probs[classes]. */
dcz_status dcz_classify_file(dcz_model *m, const char *image_path, float *probs);

/* Bytes of memory the model's weights hold (compressed fc layers, decoded conv layers
 * and biases, fc layers decoded for dense runs), and what the dense model would take. */
dcz_status dcz_memory(const dcz_model *m, size_t *weights_bytes, size_t *dense_bytes);

/* The message of the last failed call on this thread ("" if none). */
const char *dcz_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
