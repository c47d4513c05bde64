/* util_net.h — test helpers: build nets from cfg text, finite-difference gradient
 * checks, random fills. Linked into every test program. */
#ifndef DC_TEST_UTIL_NET_H
#define DC_TEST_UTIL_NET_H

#include <stdint.h>

#include <stdio.h>

#include "dc/net.h"

/* Build a net from net-file text; fails the test (cmocka) with the reason on error. */
dc_net *tu_net(const char *text, int batch, int flags);
/* Uniform random values in [lo, hi). */
void tu_fill(float *x, size_t n, uint64_t seed, float lo, float hi);
/* Random labels in [0, classes). */
void tu_labels(int *y, int n, int classes, uint64_t seed);
/* Central-difference check of d(loss)/d(input) (when the net was built with
 * DC_NET_INPUT_GRAD) and d(loss)/d(every param) against backward, on `samples` random
 * coordinates of each. Returns the worst relative error
 *   |a - n| / max(|a|, |n|, floor). */
double tu_gradcheck(dc_net *net, const int *labels, float eps, int samples, double floor);

/* Write a small learnable MNIST-format data set into dir: train-*-ubyte (ntrain) and
 * t10k-*-ubyte (ntest) idx files of 8x8 images in 4 classes (class c brightens
 * quadrant c). */
void tu_write_toy_mnist(const char *dir, int ntrain, int ntest);
/* A fresh temporary directory (mkdtemp); caller frees the string. */
char *tu_tmpdir(void);
/* A fresh temporary directory holding the toy data set (600 train, 200 test images)
 * and TU_TOY_NET as toy.net; remove it with tu_rmdir. */
char *tu_toy_dir(void);
/* rm -rf dir, then free the string. */
void tu_rmdir(char *dir);
/* Write text to dir/name; returns the path (caller frees). */
char *tu_write_file(const char *dir, const char *name, const char *text);

/* Load experiment file cfg and run it in-process (resume: NULL or a checkpoint;
 * stop_after as dc_experiment.stop_after); progress into out (NULL: dropped). Clears the
 * failure reason first, so dc_failure_reason() tells why it failed. */
dc_status tu_run(const char *cfg, const char *resume, long stop_after, FILE *out);
/* Write cfg text to dir/bad.cfg, run it, and fail the test unless the run fails with
 * status s and a one-line reason containing want. */
void tu_expect_run_error(const char *dir, const char *text, dc_status s, const char *want);
/* A DENSE 1-D parameter of n floats: data/diff/history zeroed from dc_alloc, lr_mult and
 * decay_mult 1, fan_in n. Release with tu_param_free. */
dc_param tu_param(const char *name, size_t n);
void tu_param_free(dc_param *p);

/* A net for the toy data: conv -> relu -> maxpool -> fc -> dropout -> fc -> loss. */
extern const char *const TU_TOY_NET;

#endif
