/* test_dist.c — data-parallel training with real MPI processes (mpirun -np 2), and the
 * stop signals, as a user runs them: the built dctrain ($DC_DCTRAIN) on generated data
 * and on real MNIST.
 *   - 2 ranks at the same global batch follow the 1-process run: loss curve, weights,
 *     masks and test accuracy through dense training, a prune round and quantization
 *     (the tolerance below is a few times what was measured: 1.5e-7 after 600 steps);
 *   - eval across 2 ranks reports exactly the 1-process accuracy;
 *   - a rank that fails ends the whole job with status 1 and its one-line message;
 *   - SIGTERM (1 process) and SIGUSR1 through mpirun (2 ranks) stop a run with a
 *     checkpoint and status 75; --resume auto finishes it: bit-identical to an
 *     uninterrupted run at the same rank count, and resumable with another rank count;
 *     a burst of them during the GEMM kernels leaves the heap intact.
 *   - launched processes that would not form one job are refused.
 * In a build without MPI (the sanitizer build) the MPI cases are skipped with that reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb_image_write.h>

#include "dc/ckpt.h"
#include "dc/dist.h"
#include "util_net.h"

static char *g_dir;

#define MPIRUN "mpirun -np 2 --oversubscribe --bind-to none "

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Run a shell command line in g_dir with dctrain as $D; stdout+stderr into `log`
 * (relative to g_dir). Returns the exit status (-1 when killed by a signal). */
static int sh(const char *log, const char *fmt, ...) {
  char line[2048], cmd[3072];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "cd '%s' && D='%s' timeout 300 sh -c '%s' > '%s' 2>&1", g_dir, getenv("DC_DCTRAIN"), line,
           log);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *name) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  assert_non_null(b);
  b[fread(b, 1, (size_t)n, f)] = '\0';
  fclose(f);
  return b;
}

static void show(const char *log) {
  char *t = slurp(log);
  print_message("--- %s ---\n%s\n", log, t ? t : "(none)");
  free(t);
}

static int have_mpi(void) {
  if (!dc_dist_built()) return 0;
  return system("command -v mpirun >/dev/null 2>&1") == 0;
}

#define NEED_MPI()                                                                     \
  do {                                                                                 \
    if (!have_mpi()) {                                                                 \
      print_message("skipped: this build has no MPI (the sanitizer build is the one-process build)\n"); \
      skip();                                                                          \
    }                                                                                  \
  } while (0)

static const char *const TOY_CFG =
    "[experiment]\nnet = toy.net\nseed = 5\nthreads = 1\n"
    "[data]\ndir = .\n"
    "[solver]\nbase_lr = 0.05\nmomentum = 0.9\nweight_decay = 0.0005\nbatch = 16\nmax_iter = 150\n"
    "test_batch = 30\ntest_interval = 50\ndisplay = 10\nsnapshot = 0\n"
    "[prune]\nrounds = 1\nretrain_iters = 60\nconv1 = 60%\nip1 = 30%\nip2 = 50%\n"
    "[quantize]\nconv_bits = 4\nfc_bits = 3\nretrain_iters = 60\n"
    "[encode]\n";

/* The (stage, iter, loss) and (stage, iter, top1) rows of a log.csv. */
typedef struct {
  int n;
  char phase[512];
  double v[512];
} curve;

static void read_curve(const char *log, curve *c) {
  char *t = slurp(log);
  assert_non_null(t);
  c->n = 0;
  char *save = NULL;
  for (char *l = strtok_r(t, "\n", &save); l && c->n < 512; l = strtok_r(NULL, "\n", &save)) {
    char stage[64], phase[16];
    long si, it;
    double loss, lr, top1;
    if (sscanf(l, "%63[^,],%ld,%ld,%15[^,],%lf,", stage, &si, &it, phase, &loss) != 5) continue;
    if (!strcmp(phase, "test")) {
      if (sscanf(l, "%*[^,],%*d,%*d,test,%lf,,%lf", &loss, &top1) != 2) continue;
      c->phase[c->n] = 't';
      c->v[c->n++] = top1;
    } else {
      (void)lr;
      c->phase[c->n] = 'l';
      c->v[c->n++] = loss;
    }
  }
  free(t);
}

/* Weights of a stage file loaded into a fresh store of `net`. */
static dc_net *load_weights(const char *netfile, const char *h5) {
  char *text = slurp(netfile), path[600];
  assert_non_null(text);
  dc_net *net = tu_net(text, 1, 0);
  free(text);
  snprintf(path, sizeof path, "%s/%s", g_dir, h5);
  dc_failure_clear();
  if (dc_ckpt_load(path, net->params, NULL) != DC_OK) fail_msg("%s: %s", path, dc_failure_reason());
  return net;
}

/* Max |a - b| over every weight; masks must agree but for `mask_slack` of the entries. */
static double compare_weights(const char *netfile, const char *h5a, const char *h5b, double mask_slack) {
  dc_net *a = load_weights(netfile, h5a), *b = load_weights(netfile, h5b);
  double worst = 0.0;
  for (int i = 0; i < a->params->count; i++) {
    dc_param *p = &a->params->p[i], *q = &b->params->p[i];
    assert_int_equal(p->kind, q->kind);
    size_t differ = 0;
    for (size_t j = 0; j < p->count; j++) {
      worst = fmax(worst, fabs((double)p->data[j] - (double)q->data[j]));
      if (p->mask) differ += p->mask[j] != q->mask[j];
    }
    if ((double)differ > mask_slack * (double)p->count)
      fail_msg("%s: %zu of %zu mask entries differ between %s and %s", p->name, differ, p->count, h5a, h5b);
  }
  dc_net_free(a);
  dc_net_free(b);
  return worst;
}

/* 1 process against 2 ranks at the same global batch: same curve, weights, masks. */
static void check_same_run(const char *netfile, const char *one, const char *two, double loss_tol, double w_tol) {
  char a[256], b[256];
  snprintf(a, sizeof a, "%s/log.csv", one);
  snprintf(b, sizeof b, "%s/log.csv", two);
  curve ca, cb;
  read_curve(a, &ca);
  read_curve(b, &cb);
  assert_int_equal(ca.n, cb.n);
  assert_true(ca.n > 10);
  double worst_loss = 0.0, worst_acc = 0.0;
  for (int i = 0; i < ca.n; i++) {
    assert_int_equal(ca.phase[i], cb.phase[i]);
    double d = fabs(ca.v[i] - cb.v[i]);
    if (ca.phase[i] == 'l') worst_loss = fmax(worst_loss, d / fmax(1e-3, fabs(ca.v[i])));
    else worst_acc = fmax(worst_acc, d);
  }
  print_message("%s: 2 ranks vs 1: loss rel. diff %.2g, accuracy diff %.2g\n", netfile, worst_loss, worst_acc);
  assert_true(worst_loss <= loss_tol);
  assert_true(worst_acc <= 0.002); /* at most a sample in 500 flips */
  static const char *const stages[] = {"train", "prune1", "quantize"};
  for (int s = 0; s < 3; s++) {
    snprintf(a, sizeof a, "%s/%s.h5", one, stages[s]);
    snprintf(b, sizeof b, "%s/%s.h5", two, stages[s]);
    double w = compare_weights(netfile, a, b, 0.001);
    print_message("%s: %s weights max |diff| %.2g\n", netfile, stages[s], w);
    assert_true(w <= w_tol);
  }
}

/* The same run as 1 process into `one` and as 2 ranks into `two` (logs ONE.log and
 * TWO.log, shown when a run fails); args: the cfg and any options. */
static void run_one_and_two(const char *args, const char *one, const char *two) {
  const char *outs[2] = {one, two};
  for (int i = 0; i < 2; i++) {
    char log[64];
    snprintf(log, sizeof log, "%s.log", outs[i]);
    int rc = sh(log, "%s$D %s --output %s", i ? MPIRUN : "", args, outs[i]);
    if (rc != 0) show(log);
    assert_int_equal(rc, 0);
  }
}

static void two_ranks_follow_one_toy(void **state) {
  (void)state;
  NEED_MPI();
  free(tu_write_file(g_dir, "toy.cfg", TOY_CFG));
  run_one_and_two("toy.cfg", "one", "two");
  char *out = slurp("two.log");
  assert_non_null(strstr(out, "data-parallel: 2 ranks x 1 threads, 8 images of each global batch of 16"));
  /* rank 0 alone prints: the header once */
  char *h = strstr(out, "dctrain: toy:");
  assert_non_null(h);
  assert_null(strstr(h + 1, "dctrain: toy:"));
  free(out);
  check_same_run("toy.net", "one", "two", 1e-4, 1e-5);
  /* the compressed models decode to the same accuracy; eval over 2 ranks is exact */
  assert_int_equal(sh("e1.log", "$D eval one/model.dcz --data toy.cfg"), 0);
  assert_int_equal(sh("e2.log", MPIRUN "$D eval one/model.dcz --data toy.cfg"), 0);
  char *e1 = slurp("e1.log"), *e2 = slurp("e2.log");
  assert_string_equal(e1, e2);
  free(e1);
  free(e2);
}

/* Pruning with splicing over 2 ranks: each rank chooses masks from its own copy of the
 * shadow weights, which the summed gradients keep identical, so the ranks agree bit for
 * bit at every stage's end (the run checks it) and follow the 1-process run. */
static void two_ranks_splice_alike(void **state) {
  (void)state;
  NEED_MPI();
  free(tu_write_file(g_dir, "toy.cfg", TOY_CFG));
  run_one_and_two("toy.cfg --set prune.splice=7 --set prune.base_lr=0.05", "sone", "stwo");
  check_same_run("toy.net", "sone", "stwo", 1e-4, 1e-5);
}

static void two_ranks_follow_one_lenet300(void **state) {
  (void)state;
  NEED_MPI();
  char mnist[600];
  snprintf(mnist, sizeof mnist, "%s/data/mnist/train-images-idx3-ubyte", getenv("DC_SOURCE_DIR"));
  if (access(mnist, R_OK) != 0) {
    print_message("skipped: no MNIST in data/mnist (scripts/fetch-mnist.sh)\n");
    skip();
  }
  char cfg[2048];
  snprintf(cfg, sizeof cfg,
           "[experiment]\nnet = %s/nets/lenet300.net\nseed = 1\nthreads = 1\n"
           "[data]\ndir = %s/data/mnist\ntest_limit = 2000\n"
           "[solver]\nbase_lr = 0.01\nmomentum = 0.9\nweight_decay = 0.0005\nlr_policy = inv\ngamma = 0.0001\n"
           "power = 0.75\nbatch = 64\nmax_iter = 300\ntest_batch = 100\ntest_interval = 100\ndisplay = 20\n"
           "snapshot = 0\n"
           "[prune]\nrounds = 1\nretrain_iters = 100\nbase_lr = 0.005\nip1 = 8%%\nip2 = 9%%\nip3 = 26%%\n"
           "[quantize]\nfc_bits = 6\nretrain_iters = 100\nbase_lr = 0.001\n",
           getenv("DC_SOURCE_DIR"), getenv("DC_SOURCE_DIR"));
  free(tu_write_file(g_dir, "l300.cfg", cfg));
  char net[600];
  snprintf(net, sizeof net, "%s/nets/lenet300.net", getenv("DC_SOURCE_DIR"));
  assert_int_equal(sh("cp.log", "cp %s lenet300.net", net), 0);
  run_one_and_two("l300.cfg", "l1", "l2");
  check_same_run("lenet300.net", "l1", "l2", 1e-4, 1e-5);
}

/* A tiny image tree, 3x8x8 PNGs of one class, the sixth unreadable: with batch 8 and no
 * shuffling it is in rank 1's half of the first batch. */
static void write_tree_with_bad_image(void) {
  assert_int_equal(sh("mk.log", "mkdir -p img/train/a img/val/a"), 0);
  unsigned char px[8 * 8 * 3];
  for (int i = 0; i < 8; i++) {
    char path[700];
    snprintf(path, sizeof path, "%s/img/train/a/%d.png", g_dir, i);
    if (i == 5) {
      FILE *f = fopen(path, "w");
      assert_non_null(f);
      fputs("not an image", f);
      fclose(f);
      continue;
    }
    for (int k = 0; k < (int)sizeof px; k++) px[k] = (unsigned char)(k * 7 + i * 31);
    assert_true(stbi_write_png(path, 8, 8, 3, px, 24) != 0);
    if (i == 0) {
      snprintf(path, sizeof path, "%s/img/val/a/0.png", g_dir);
      assert_true(stbi_write_png(path, 8, 8, 3, px, 24) != 0);
    }
  }
  free(tu_write_file(g_dir, "img.net", "[input]\nchannels = 3\nheight = 8\nwidth = 8\n[fc]\nname = ip\nnum_output = 2\n[softmax_loss]\n"));
  free(tu_write_file(g_dir, "img.cfg",
                     "[experiment]\nnet = img.net\nthreads = 1\n"
                     "[data]\nkind = imagenet\ndir = img\nresize = 8\ncrop = 8\nmirror = false\nshuffle = false\n"
                     "loader_threads = 1\non_bad_image = stop\n"
                     "[solver]\nbase_lr = 0.01\nbatch = 8\nmax_iter = 5\ntest_batch = 1\n"));
}

static void failing_rank_stops_the_job(void **state) {
  (void)state;
  NEED_MPI();
  write_tree_with_bad_image();
  double t0 = now();
  int rc = sh("bad.log", MPIRUN "$D img.cfg --output bad");
  double took = now() - t0;
  char *out = slurp("bad.log");
  print_message("a failing rank ended the job in %.1f s with status %d\n", took, rc);
  if (rc != 1 || !strstr(out, "dctrain: rank 1: ") || !strstr(out, "img/train/a/5.png")) {
    show("bad.log");
    fail_msg("expected status 1 and rank 1's one-line message naming the image");
  }
  free(out);
  assert_true(took < 60.0);
}

/* Start "sh -c line" in g_dir in the background; returns its pid (the shell execs the
 * command, so signals reach dctrain or mpirun itself). */
static pid_t start(const char *log, const char *line) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && D='%s' && exec %s > '%s' 2>&1", g_dir, getenv("DC_DCTRAIN"), line, log);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  return pid;
}

/* Wait until `file` (in g_dir) contains `text`; fail when process pid ended first or
 * after 300 s (a hang guard: 2 MPI ranks on a loaded 2-core machine took over 60 s to
 * reach the prune round that an idle one reaches in seconds). */
static void wait_for(pid_t pid, const char *file, const char *text) {
  for (int i = 0; i < 30000; i++) {
    char *t = slurp(file);
    int found = t && strstr(t, text);
    free(t);
    if (found) return;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) break;
    nanosleep(&(struct timespec){0, 10000000}, NULL);
  }
  show(file);
  fail_msg("%s never showed '%s'", file, text);
}

static int wait_status(pid_t pid) {
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static int same_file(const char *a, const char *b) { return sh("cmp.log", "cmp %s %s", a, b) == 0; }

static const char *const LONG_CFG =
    "[experiment]\nnet = toy.net\nseed = 9\nthreads = 1\n"
    "[data]\ndir = .\n"
    "[solver]\nbase_lr = 0.05\nmomentum = 0.9\nbatch = 16\nmax_iter = 3000\n"
    "test_batch = 50\ntest_interval = 1000\ndisplay = 10\nsnapshot = 0\n"
    "[prune]\nrounds = 1\nretrain_iters = 1000\nip1 = 30%\n"
    "[quantize]\nfc_bits = 4\nconv_bits = 5\nretrain_iters = 200\n"
    "[encode]\n";

static void sigterm_stops_and_resume_auto_finishes(void **state) {
  (void)state;
  free(tu_write_file(g_dir, "long.cfg", LONG_CFG));
  assert_int_equal(sh("full.log", "$D long.cfg --output full"), 0);
  /* the same run, SIGTERMed during dense training */
  pid_t pid = start("part.log", "$D long.cfg --output part --resume auto");
  wait_for(pid, "part.log", "[train] iter     50/");
  kill(pid, SIGTERM);
  int rc = wait_status(pid);
  if (rc != 75) show("part.log");
  assert_int_equal(rc, 75);
  char *out = slurp("part.log");
  assert_non_null(strstr(out, "no checkpoint yet, starting fresh"));
  assert_non_null(strstr(out, "stopped at iteration"));
  assert_null(strstr(out, "finished in"));
  free(out);
  /* the next job of the chain: same command line */
  rc = sh("rest.log", "$D long.cfg --output part --resume auto");
  if (rc != 0) show("rest.log");
  assert_int_equal(rc, 0);
  out = slurp("rest.log");
  assert_non_null(strstr(out, "--resume auto: part/ckpt.h5"));
  free(out);
  assert_true(same_file("full/model.dcz", "part/model.dcz"));
  assert_true(same_file("full/quantize.h5", "part/quantize.h5") || compare_weights("toy.net", "full/quantize.h5", "part/quantize.h5", 0) == 0.0);
}

static void sigusr1_through_mpirun_and_resume_elsewhere(void **state) {
  (void)state;
  NEED_MPI();
  free(tu_write_file(g_dir, "long.cfg", LONG_CFG));
  assert_int_equal(sh("f2.log", MPIRUN "$D long.cfg --output f2"), 0);
  /* stopped in the prune round's retraining by SIGUSR1 sent to mpirun, which relays it */
  pid_t pid = start("p2.log", MPIRUN "$D long.cfg --output p2 --resume auto");
  wait_for(pid, "p2.log", "[prune1] iter     50/");
  kill(pid, SIGUSR1);
  int rc = wait_status(pid);
  if (rc != 75) show("p2.log");
  assert_int_equal(rc, 75);
  /* resumed with 2 ranks: bit-identical to the uninterrupted 2-rank run */
  assert_int_equal(sh("cp2.log", "cp -r p2 p1"), 0);
  rc = sh("r2.log", MPIRUN "$D long.cfg --output p2 --resume auto");
  if (rc != 0) show("r2.log");
  assert_int_equal(rc, 0);
  assert_true(same_file("f2/model.dcz", "p2/model.dcz"));
  /* the same checkpoint resumed by one process: the same run up to summation order */
  rc = sh("r1.log", "$D long.cfg --output p1 --resume auto");
  if (rc != 0) show("r1.log");
  assert_int_equal(rc, 0);
  double w = compare_weights("toy.net", "f2/quantize.h5", "p1/quantize.h5", 0.001);
  print_message("resumed on 1 process after 2 ranks: quantize weights max |diff| %.2g\n", w);
  assert_true(w <= 1e-5);
}

/* Copies of one stop signal within a second count once, also when a whole second of
 * the monotonic clock (the handler's) passes between them, as it does for a copy that
 * comes 15 ms later at x.99 s. A stopping run exits within milliseconds, so the copy has
 * to come that soon; three runs (long enough not to end first), each must stop with its
 * checkpoint. */
static void copies_of_a_signal_across_a_second_count_once(void **state) {
  (void)state;
  free(tu_write_file(g_dir, "dup.cfg",
                     "[experiment]\nnet = toy.net\nseed = 9\nthreads = 1\n[data]\ndir = .\n"
                     "[solver]\nbase_lr = 0.05\nbatch = 16\nmax_iter = 1000000\ntest_interval = 0\n"
                     "display = 1000\nsnapshot = 0\n"));
  for (int k = 0; k < 3; k++) {
    pid_t pid = start("dup.log", "$D dup.cfg --output dup");
    wait_for(pid, "dup.log", "[train] iter   1000/");
    struct timespec now;
    do {
      nanosleep(&(struct timespec){0, 1000000}, NULL);
      clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_nsec < 988000000L || now.tv_nsec > 993000000L);
    kill(pid, SIGTERM);
    nanosleep(&(struct timespec){0, 15000000}, NULL);
    kill(pid, SIGTERM);
    int rc = wait_status(pid);
    if (rc != 75) show("dup.log");
    assert_int_equal(rc, 75);
    char *out = slurp("dup.log");
    assert_non_null(strstr(out, "stopped at iteration"));
    free(out);
  }
}

/* A burst of stop signals while the GEMM kernels run must still stop with a checkpoint.
 * oneDNN's JIT GEMM kernels (through 3.11, its issue 4845) point RSP into a heap
 * workspace; a handler run on the interrupted stack wrote its frame over malloc's
 * headers ("corrupted size vs. prev_size while consolidating", status 134, in 4 of 4
 * runs before the fix). Two wide fc layers keep each step (~0.7 s) in those kernels; the
 * copies come within the second, so they count as one signal. Threads 1 and 2 (the
 * workers must not take the signal either). */
static void stop_signals_during_gemm_leave_the_heap_intact(void **state) {
  (void)state;
  char mnist[600]; /* MNIST's shapes pick the kernels that did it (the toy's did not) */
  snprintf(mnist, sizeof mnist, "%s/data/mnist/train-images-idx3-ubyte", getenv("DC_SOURCE_DIR"));
  if (access(mnist, R_OK) != 0) {
    print_message("skipped: no MNIST in data/mnist (scripts/fetch-mnist.sh)\n");
    skip();
  }
  free(tu_write_file(g_dir, "wide.net",
                     "[input]\nchannels = 1\nheight = 28\nwidth = 28\n"
                     "[fc]\nname = ip1\nnum_output = 4096\n[relu]\n"
                     "[fc]\nname = ip2\nnum_output = 4096\n[relu]\n"
                     "[fc]\nname = ip3\nnum_output = 10\n[softmax_loss]\n"));
  for (int threads = 1; threads <= 2; threads++) {
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "[experiment]\nnet = wide.net\nseed = 9\nthreads = %d\n[data]\ndir = %s/data/mnist\n"
             "[solver]\nbase_lr = 0.01\nbatch = 512\nmax_iter = 1000\ntest_interval = 0\n"
             "display = 1\nsnapshot = 0\n",
             threads, getenv("DC_SOURCE_DIR"));
    free(tu_write_file(g_dir, "wide.cfg", cfg));
    char log[32]; /* one per run: the last run's log would show its iterations too early */
    snprintf(log, sizeof log, "wide%d.log", threads);
    pid_t pid = start(log, "$D wide.cfg --output wide");
    wait_for(pid, log, "[train] iter      1/");
    double t0 = now();
    while (now() - t0 < 0.5) kill(pid, SIGUSR1);
    int rc = wait_status(pid);
    if (rc != 75) show(log);
    assert_int_equal(rc, 75);
    char *out = slurp(log);
    assert_non_null(strstr(out, "stopped at iteration"));
    free(out);
    assert_int_equal(sh("rm.log", "rm -rf wide"), 0);
  }
}

/* N launched processes that would not form one job must not become N runs writing the
 * same files: a build without MPI refuses to be one of several ranks, and a build with
 * MPI refuses tasks that srun started without an MPI plugin (each would be a job of one). */
static void refuses_to_be_separate_runs(void **state) {
  (void)state;
  free(tu_write_file(g_dir, "toy.cfg", TOY_CFG));
  int rc = dc_dist_built() ? sh("refuse.log", "SLURM_STEP_NUM_TASKS=2 $D toy.cfg --output refused")
                           : sh("refuse.log", "OMPI_COMM_WORLD_SIZE=2 $D toy.cfg --output refused");
  const char *want = dc_dist_built() ? "started as one of 2 tasks (SLURM_STEP_NUM_TASKS) but MPI sees a job of one"
                                     : "built without MPI but was started as one of 2 processes";
  char *out = slurp("refuse.log");
  if (rc != 1 || !strstr(out, want)) {
    show("refuse.log");
    fail_msg("expected a one-line refusal with status 1: %s", want);
  }
  free(out);
  assert_int_equal(sh("ls.log", "test ! -e refused/log.csv"), 0);
}

static int setup(void **state) {
  (void)state;
  g_dir = tu_toy_dir();
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1); /* CI runs as root */
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_rmdir(g_dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(two_ranks_follow_one_toy),
      cmocka_unit_test(two_ranks_splice_alike),
      cmocka_unit_test(two_ranks_follow_one_lenet300),
      cmocka_unit_test(failing_rank_stops_the_job),
      cmocka_unit_test(sigterm_stops_and_resume_auto_finishes),
      cmocka_unit_test(sigusr1_through_mpirun_and_resume_elsewhere),
      cmocka_unit_test(copies_of_a_signal_across_a_second_count_once),
      cmocka_unit_test(stop_signals_during_gemm_leave_the_heap_intact),
      cmocka_unit_test(refuses_to_be_separate_runs),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
