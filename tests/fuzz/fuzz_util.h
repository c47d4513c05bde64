/* tests/fuzz/fuzz_util.h — shared by the fuzz targets (tests/fuzz/fuzz_*.c): a private
 * temporary directory per process (removed at exit), writing an input there, the one
 * small net the model-file targets and their seeds agree on, and the check that a
 * refused input got a one-line reason. Each target is a libFuzzer target
 * (LLVMFuzzerTestOneInput) built with -fsanitize=fuzzer in a -DDC_FUZZ=ON build, or
 * linked with replay.c in any other build to run a corpus once (the regression ctests). */
#ifndef DC_FUZZ_UTIL_H
#define DC_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "dc/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A conv + pool + two fc net on 1x6x6 inputs with 3 classes: small enough that a
 * target builds it in microseconds, with every weighted layer kind. */
extern const char *const FZ_NET;

/* This process's temporary directory (created on first use under $TMPDIR or /tmp,
 * removed with everything in it at exit). */
const char *fz_dir(void);
/* fz_dir()/name (a static buffer per call site is the caller's: copied into buf[cap]). */
void fz_path(char *buf, size_t cap, const char *name);
/* Write data[size] to fz_dir()/name, into buf[cap] the path. Aborts if it cannot. */
void fz_write(char *buf, size_t cap, const char *name, const void *data, size_t size);

/* A copy of a .dcz file data[n] with its header, record and file CRCs made right (as
 * far as its record lengths can be followed), so mutations reach the parser instead of
 * stopping at a CRC mismatch. Caller frees. */
uint8_t *fz_dcz_fix_crcs(const uint8_t *data, size_t n);

/* After a library call on fuzzed input: a failure must carry a one-line reason (a
 * missing or multi-line message aborts: the fuzzer reports it as a finding). Clears the
 * reason for the next call. */
void fz_check(dc_status s, const char *what);

#endif
