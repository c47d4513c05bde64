/* loader.c — the prefetching batch loader (see dc/loader.h): a ring of `depth` batch
 * buffers filled by worker threads, one sample per job, ahead of the consumer.
 *
 * Jobs are numbered j = 0, 1, ...: job j is slot i = j % n of request k = j / n, stream
 * position first + k*stride + i, written into ring buffer k % depth. A worker takes the
 * next job only while k < consumed + depth (the buffer is free), so at most `depth`
 * batches are in flight and memory stays bounded. Each buffer counts the samples it
 * still waits for; the worker that brings it to 0 wakes the consumer. The consumer
 * copies the batch out (a memcpy is small next to a training step) and frees the
 * buffer for request k + depth.
 *
 * Every sample is fetched by dc_dataset_sample_at, a pure function of (seed, shuffle,
 * position), so the bytes do not depend on which worker fetched what or when. A failed
 * batch keeps the failure of its lowest slot (all its slots are fetched), so the error
 * reported does not depend on timing either.
 *
 * One mutex guards the counters and per-buffer state; it is held only to claim a job
 * and to account for it, never while fetching.
 *
 * Workers lower their own scheduling priority (nice +LOADER_NICE, Linux: per thread).
 * The training step runs on OpenMP threads that meet at barriers dozens of times a
 * step: a decoder that preempts one of them stalls all of them, so decoding should
 * take the cores when the step leaves them idle, not in the middle of a layer. The
 * ring gives decoding the slack to wait for those moments. */
#define _GNU_SOURCE /* syscall(SYS_gettid): per-thread priority */
#include "dc/loader.h"

#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_LOADER_THREADS 64
#ifndef LOADER_NICE
#define LOADER_NICE 10
#endif

typedef struct {
  int left;          /* samples of the current request still to fetch */
  int fail_slot;     /* lowest failed slot, n when none */
  dc_status fail_st;
  char fail_msg[1024];
} ring_buf;

struct dc_loader {
  dc_dataset *d;     /* not owned */
  uint64_t seed;
  int shuffle;
  int64_t first, stride;
  int n, depth;
  size_t sample;     /* floats per sample */
  float *x;          /* (depth, n, sample) */
  int *y;            /* (depth, n) */
  ring_buf *buf;     /* (depth) */
  pthread_mutex_t mu;
  pthread_cond_t work; /* workers: a buffer became free, or stop */
  pthread_cond_t done; /* consumer: a buffer became complete */
  int64_t next_job;  /* next job to claim */
  int64_t consumed;  /* requests handed out so far */
  int stop;
  pthread_t tid[MAX_LOADER_THREADS];
  int nthreads;
  dc_loader_stats st;
};

static void *worker(void *arg) {
  dc_loader *l = arg;
#ifdef SYS_gettid
  {
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, tid);
    if (errno == 0) (void)setpriority(PRIO_PROCESS, tid, cur + LOADER_NICE); /* best effort */
  }
#endif
  pthread_mutex_lock(&l->mu);
  for (;;) {
    if (l->stop) break;
    int64_t k = l->next_job / l->n;
    if (k >= l->consumed + l->depth) {
      pthread_cond_wait(&l->work, &l->mu);
      continue;
    }
    int64_t j = l->next_job++;
    int i = (int)(j % l->n), r = (int)(k % l->depth);
    pthread_mutex_unlock(&l->mu);

    size_t at = (size_t)r * (size_t)l->n + (size_t)i;
    double t0 = dc_now();
    dc_failure_clear();
    dc_status s = dc_dataset_sample_at(l->d, l->seed, l->shuffle, l->first + k * l->stride + i,
                                       l->x + at * l->sample, l->y + at);
    double dt = dc_now() - t0;

    pthread_mutex_lock(&l->mu);
    ring_buf *b = &l->buf[r];
    if (s != DC_OK && i < b->fail_slot) {
      b->fail_slot = i;
      b->fail_st = s;
      snprintf(b->fail_msg, sizeof b->fail_msg, "%s", dc_failure_reason());
    }
    l->st.images++;
    l->st.busy += dt;
    if (--b->left == 0) pthread_cond_broadcast(&l->done);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

dc_status dc_loader_open(dc_dataset *d, uint64_t seed, int shuffle, int64_t first, int n, int64_t stride,
                         int depth, dc_loader **out) {
  *out = NULL;
  if (first < 0 || n < 1 || stride < 1 || depth < 1)
    return dc_fail(DC_ERR_ARG, "loader: bad request stream: first %lld, n %d, stride %lld, depth %d",
                   (long long)first, n, (long long)stride, depth);
  dc_loader *l = calloc(1, sizeof *l);
  if (!l) return dc_fail(DC_ERR_NOMEM, "loader: out of memory");
  int c, h, w;
  dc_dataset_shape(d, &c, &h, &w);
  l->d = d;
  l->seed = seed;
  l->shuffle = shuffle;
  l->first = first;
  l->stride = stride;
  l->n = n;
  l->depth = depth;
  l->sample = (size_t)c * (size_t)h * (size_t)w;
  l->x = dc_alloc(sizeof(float) * l->sample * (size_t)n * (size_t)depth);
  l->y = calloc((size_t)n * (size_t)depth, sizeof(int));
  l->buf = calloc((size_t)depth, sizeof *l->buf);
  if (!l->x || !l->y || !l->buf) {
    dc_free(l->x);
    free(l->y);
    free(l->buf);
    free(l);
    return dc_fail(DC_ERR_NOMEM, "loader: out of memory for %d batches of %d samples", depth, n);
  }
  for (int r = 0; r < depth; r++) {
    l->buf[r].left = n;
    l->buf[r].fail_slot = n;
  }
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->work, NULL);
  pthread_cond_init(&l->done, NULL);
  int want = dc_dataset_threads(d);
  if (want > MAX_LOADER_THREADS) want = MAX_LOADER_THREADS;
  for (int t = 0; t < want; t++) {
    if (pthread_create(&l->tid[l->nthreads], NULL, worker, l) != 0) break;
    l->nthreads++;
  }
  if (l->nthreads == 0) {
    dc_loader_close(l);
    return dc_fail(DC_ERR_NOMEM, "loader: cannot start a worker thread");
  }
  l->st.threads = l->nthreads;
  *out = l;
  return DC_OK;
}

dc_status dc_loader_next(dc_loader *l, float *x, int *y) {
  pthread_mutex_lock(&l->mu);
  int r = (int)(l->consumed % l->depth);
  ring_buf *b = &l->buf[r];
  if (b->left > 0) {
    double t0 = dc_now();
    while (b->left > 0) pthread_cond_wait(&l->done, &l->mu);
    l->st.waited += dc_now() - t0;
  }
  if (b->fail_slot < l->n) { /* stays failed: this request is never handed out */
    dc_status s = b->fail_st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", b->fail_msg);
    pthread_mutex_unlock(&l->mu);
    return dc_fail(s, "%s", msg);
  }
  pthread_mutex_unlock(&l->mu);
  /* the workers leave a complete buffer alone until consumed moves past it */
  size_t at = (size_t)r * (size_t)l->n;
  memcpy(x, l->x + at * l->sample, sizeof(float) * l->sample * (size_t)l->n);
  if (y) memcpy(y, l->y + at, sizeof(int) * (size_t)l->n);
  pthread_mutex_lock(&l->mu);
  b->left = l->n;
  b->fail_slot = l->n;
  l->consumed++;
  l->st.batches++;
  pthread_cond_broadcast(&l->work);
  pthread_mutex_unlock(&l->mu);
  return DC_OK;
}

int dc_loader_at(const dc_loader *l, int64_t first, int n, int64_t stride) {
  return l->n == n && l->stride == stride && l->first + l->consumed * l->stride == first;
}

void dc_loader_get_stats(dc_loader *l, dc_loader_stats *s) {
  pthread_mutex_lock(&l->mu);
  *s = l->st;
  pthread_mutex_unlock(&l->mu);
}

void dc_loader_close(dc_loader *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  pthread_cond_broadcast(&l->work);
  pthread_mutex_unlock(&l->mu);
  for (int t = 0; t < l->nthreads; t++) pthread_join(l->tid[t], NULL);
  pthread_cond_destroy(&l->work);
  pthread_cond_destroy(&l->done);
  pthread_mutex_destroy(&l->mu);
  dc_free(l->x);
  free(l->y);
  free(l->buf);
  free(l);
}
