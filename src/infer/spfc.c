/* infer/spfc.c — the compressed fc layer in memory (CSR of 16-bit columns and 8-bit
 * codebook indices) and its kernels; see spfc.h. */
#include "infer/spfc.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DC_SPFC_X86 1
#endif

dc_status dc_spfc_build(dc_spfc *f, int out, int in, int bits, const float *codebook, const uint8_t *mask,
                        const uint8_t *index, const float *bias, int threads) {
  memset(f, 0, sizeof *f);
  if (out < 1 || in < 1 || in > DC_SPFC_MAX_IN)
    return dc_fail(DC_ERR_ARG, "sparse fc: %d x %d weights; inputs must be 1..%d", out, in, DC_SPFC_MAX_IN);
  if (bits < 1 || bits > 8) return dc_fail(DC_ERR_ARG, "sparse fc: bits %d, must be 1..8", bits);
  if (threads < 1) threads = 1;
  size_t nnz = 0, count = (size_t)out * (size_t)in;
  for (size_t i = 0; i < count; i++) nnz += mask[i] != 0;
  if (nnz > UINT32_MAX) return dc_fail(DC_ERR_ARG, "sparse fc: %zu kept weights, at most 2^32-1", nnz);
  f->out = out;
  f->in = in;
  f->bits = bits;
  f->nnz = nnz;
  memcpy(f->codebook, codebook, sizeof(float) << bits);
  f->row_start = dc_alloc(sizeof(uint32_t) * ((size_t)out + 1));
  f->col = dc_alloc(sizeof(uint16_t) * (nnz ? nnz : 1));
  f->idx = dc_alloc(nnz ? nnz : 1);
  f->bias = dc_alloc(sizeof(float) * (size_t)out);
  f->nsplit = threads;
  f->split = dc_alloc(sizeof(int) * ((size_t)threads + 1));
  if (!f->row_start || !f->col || !f->idx || !f->bias || !f->split) {
    dc_spfc_free(f);
    return DC_ERR_NOMEM;
  }
  size_t j = 0;
  for (int o = 0; o < out; o++) {
    f->row_start[o] = (uint32_t)j;
    const uint8_t *m = mask + (size_t)o * in, *ix = index + (size_t)o * in;
    for (int c = 0; c < in; c++) {
      if (!m[c]) continue;
      DC_ASSERT(ix[c] < (1 << bits));
      f->col[j] = (uint16_t)c;
      f->idx[j] = ix[c];
      j++;
    }
  }
  f->row_start[out] = (uint32_t)j;
  if (bias) memcpy(f->bias, bias, sizeof(float) * (size_t)out);
  /* thread t takes rows [split[t], split[t+1]): the first row where t/threads of the
   * work is done, counting a kept weight as one unit and each row as one more */
  f->split[0] = 0;
  int o = 0;
  for (int t = 1; t < threads; t++) {
    double want = (double)(nnz + (size_t)out) * t / threads;
    while (o < out && (double)f->row_start[o] + o < want) o++;
    f->split[t] = o;
  }
  f->split[threads] = out;
  return DC_OK;
}

void dc_spfc_free(dc_spfc *f) {
  if (!f) return;
  dc_free(f->row_start);
  dc_free(f->col);
  dc_free(f->idx);
  dc_free(f->bias);
  dc_free(f->split);
  dc_free(f->scratch);
  memset(f, 0, sizeof *f);
}

size_t dc_spfc_bytes(const dc_spfc *f) {
  return sizeof(uint32_t) * ((size_t)f->out + 1) + 3 * f->nnz + (sizeof(float) << f->bits) +
         sizeof(float) * (size_t)f->out;
}

/* ---------------------------------------------------------------- batch 1 */

/* Rows r0..r1: sparse dot products, four partial sums to hide the add latency.
 * Measured against AVX2 versions (8 kept weights per step: the inputs gathered, the
 * centroids gathered or looked up in registers with vpermps + blends): no faster
 * within the noise of this machine (faster on AlexNet fc6, slower on fc7), so the
 * plain loop stays. */
static void rows_b1(const dc_spfc *f, int r0, int r1, const float *x, float *y) {
  const uint16_t *col = f->col;
  const uint8_t *idx = f->idx;
  const float *cb = f->codebook;
  for (int o = r0; o < r1; o++) {
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    uint32_t j = f->row_start[o];
    const uint32_t b = f->row_start[o + 1];
    for (; j + 4 <= b; j += 4) {
      a0 += cb[idx[j]] * x[col[j]];
      a1 += cb[idx[j + 1]] * x[col[j + 1]];
      a2 += cb[idx[j + 2]] * x[col[j + 2]];
      a3 += cb[idx[j + 3]] * x[col[j + 3]];
    }
    for (; j < b; j++) a0 += cb[idx[j]] * x[col[j]];
    y[o] = f->bias[o] + ((a0 + a1) + (a2 + a3));
  }
}

#ifdef DC_SPFC_X86
static int have_avx2(void) {
  static int v = -1;
  if (v < 0) v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return v;
}
#endif

/* ---------------------------------------------------------------- batch > 1 */

/* Rows r0..r1 for samples [s0, s0 + 8*nv) of the transposed input xt (I, np) into yt
 * (O, np): each kept weight times a run of samples. Generic C: the compiler
 * vectorizes the loops over samples. */
static void rows_bn_c(const dc_spfc *f, int r0, int r1, const float *xt, int np, int s0, int nv, float *yt) {
  const int w = 8 * nv;
  for (int o = r0; o < r1; o++) {
    float acc[64];
    for (int q = 0; q < w; q++) acc[q] = 0;
    for (uint32_t j = f->row_start[o]; j < f->row_start[o + 1]; j++) {
      const float v = f->codebook[f->idx[j]];
      const float *xr = xt + (size_t)f->col[j] * np + s0;
      for (int q = 0; q < w; q++) acc[q] += v * xr[q];
    }
    for (int q = 0; q < w; q++) yt[(size_t)o * np + s0 + q] = acc[q];
  }
}

#ifdef DC_SPFC_X86
/* The same with AVX2 + FMA: NV vectors of 8 samples stay in registers across a row. */
#define DC_SPFC_ROWS_AVX2(NV)                                                                         \
  __attribute__((target("avx2,fma"))) static void rows_bn_avx2_##NV(                                 \
      const dc_spfc *f, int r0, int r1, const float *xt, int np, int s0, float *yt) {               \
    for (int o = r0; o < r1; o++) {                                                                   \
      __m256 acc[NV];                                                                                 \
      for (int q = 0; q < NV; q++) acc[q] = _mm256_setzero_ps();                                      \
      for (uint32_t j = f->row_start[o]; j < f->row_start[o + 1]; j++) {                             \
        const __m256 v = _mm256_broadcast_ss(&f->codebook[f->idx[j]]);                                \
        const float *xr = xt + (size_t)f->col[j] * np + s0;                                           \
        for (int q = 0; q < NV; q++) acc[q] = _mm256_fmadd_ps(v, _mm256_load_ps(xr + 8 * q), acc[q]); \
      }                                                                                               \
      for (int q = 0; q < NV; q++) _mm256_store_ps(yt + (size_t)o * np + s0 + 8 * q, acc[q]);         \
    }                                                                                                 \
  }
DC_SPFC_ROWS_AVX2(1)
DC_SPFC_ROWS_AVX2(2)
DC_SPFC_ROWS_AVX2(4)
DC_SPFC_ROWS_AVX2(8)
#endif

/* Rows r0..r1 for all np samples, in blocks of at most 64. */
static void rows_bn(const dc_spfc *f, int r0, int r1, const float *xt, int np, float *yt) {
  for (int s0 = 0; s0 < np;) {
    int left = (np - s0) / 8, nv = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
#ifdef DC_SPFC_X86
    if (have_avx2()) {
      switch (nv) {
        case 8: rows_bn_avx2_8(f, r0, r1, xt, np, s0, yt); break;
        case 4: rows_bn_avx2_4(f, r0, r1, xt, np, s0, yt); break;
        case 2: rows_bn_avx2_2(f, r0, r1, xt, np, s0, yt); break;
        default: rows_bn_avx2_1(f, r0, r1, xt, np, s0, yt); break;
      }
      s0 += 8 * nv;
      continue;
    }
#endif
    rows_bn_c(f, r0, r1, xt, np, s0, nv, yt);
    s0 += 8 * nv;
  }
}

dc_status dc_spfc_forward(dc_spfc *f, const float *x, int n, float *y) {
  DC_ASSERT(n >= 1);
  const int nt = f->nsplit;
  if (n == 1) {
#pragma omp parallel for num_threads(nt) schedule(static, 1) if (nt > 1)
    for (int t = 0; t < nt; t++) rows_b1(f, f->split[t], f->split[t + 1], x, y);
    return DC_OK;
  }
  const int np = (n + 7) / 8 * 8;
  size_t need = (size_t)np * ((size_t)f->in + (size_t)f->out);
  if (need > f->scratch_floats) {
    dc_free(f->scratch);
    f->scratch_floats = 0;
    if (!(f->scratch = dc_alloc(sizeof(float) * need))) return DC_ERR_NOMEM;
    f->scratch_floats = need;
  }
  float *xt = f->scratch, *yt = f->scratch + (size_t)np * f->in;
  const int in = f->in, out = f->out;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    /* transpose x (n, I) into xt (I, np), padding samples with zeros */
#pragma omp for schedule(static)
    for (int c = 0; c < in; c++) {
      float *r = xt + (size_t)c * np;
      for (int s = 0; s < n; s++) r[s] = x[(size_t)s * in + c];
      for (int s = n; s < np; s++) r[s] = 0;
    }
#pragma omp for schedule(static, 1)
    for (int t = 0; t < nt; t++) rows_bn(f, f->split[t], f->split[t + 1], xt, np, yt);
#pragma omp for schedule(static)
    for (int s = 0; s < n; s++)
      for (int o = 0; o < out; o++) y[(size_t)s * out + o] = yt[(size_t)o * np + s] + f->bias[o];
  }
  return DC_OK;
}
