/* test_cli.c — the dctrain command as a user meets it: exit status 0 for help, 2 for bad
 * arguments, 1 for failures, and every error one line on stderr naming what is wrong.
 * Runs the built binary ($DC_DCTRAIN, set by ctest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <stb/stb_image_write.h>

#include "util_net.h"

/* Run "dctrain ARGS" from the source directory; return its exit status and put its
 * stderr in err. */
static int run(const char *args, char *err, size_t cap) {
  const char *bin = getenv("DC_DCTRAIN"), *src = getenv("DC_SOURCE_DIR");
  assert_non_null(bin);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s 2>&1 >/dev/null", src ? src : ".", bin, args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(err, 1, cap - 1, p);
  err[n] = '\0';
  int status = pclose(p);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void expect(const char *args, int status, const char *want) {
  char err[4096];
  int got = run(args, err, sizeof err);
  if (got != status || !strstr(err, want))
    fail_msg("dctrain %s: expected exit %d and '%s', got exit %d: %s", args, status, want, got, err);
  /* one line */
  char *nl = strchr(err, '\n');
  if (status != 0 && nl && nl[1] != '\0') fail_msg("dctrain %s: more than one line: %s", args, err);
}

static void help_and_version(void **state) {
  (void)state;
  char out[4096];
  const char *bin = getenv("DC_DCTRAIN");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' --help", bin);
  FILE *p = popen(cmd, "r");
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  assert_int_equal(pclose(p), 0);
  const char *commands[] = {"eval", "info", "export", "sensitivity", "bench", "--resume", "--stop-after", "--set"};
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) assert_non_null(strstr(out, commands[i]));
  expect("--version", 0, "");
  expect("eval --help", 0, "");
  expect("sensitivity --help", 0, "");
  expect("plan --help", 0, "");
}

static void bad_arguments_exit_2(void **state) {
  (void)state;
  char err[8192];
  assert_int_equal(run("", err, sizeof err), 2); /* no arguments: the usage, on stderr */
  assert_non_null(strstr(err, "usage: dctrain"));
  expect("a.cfg b.cfg", 2, "too many arguments at 'b.cfg'");
  expect("--threads 0 x.cfg", 2, "--threads: expected an integer in [1, 1024], got '0'");
  expect("--bogus x.cfg", 2, "unknown option '--bogus'");
  expect("--resume", 2, "--resume needs a value");
  expect("evl x", 2, "unknown command 'evl' (did you mean 'eval'?)");
  expect("eval", 2, "dctrain eval: missing MODEL");
  expect("eval m.dcz", 2, "missing --data EXPERIMENT.cfg");
  expect("export a.dcz", 2, "missing MODEL.dcz OUT.h5");
  expect("bench nets/lenet300.net --seconds 0", 2, "--seconds: expected a number in (0, 3600]");
  expect("sensitivity experiments/lenet5.cfg --densities 200", 2, "--densities");
  expect("sensitivity experiments/lenet5.cfg --bits 9", 2, "--bits: '9' is not a whole number of bits in 1..8");
  expect("sensitivity experiments/lenet5.cfg --bits 4 --densities 50", 2, "one sweep at a time");
  expect("plan experiments/lenet5.cfg --ratio 100", 2, "missing -o OUT.cfg");
  expect("plan experiments/lenet5.cfg -o x.cfg", 2, "give one budget: --ratio R or --size BYTES");
  expect("plan experiments/lenet5.cfg -o x.cfg --ratio 100 --size 20KB", 2, "give one budget");
  expect("plan experiments/lenet5.cfg -o x.cfg --size 20QB", 2, "--size: '20QB': unknown unit 'QB'");
  expect("plan experiments/lenet5.cfg -o x.cfg --size -3", 2, "--size: '-3' is not a size");
  expect("plan experiments/lenet5.cfg -o x.cfg --ratio 0", 2, "--ratio: expected a number in (0, 1000000]");
  expect("plan experiments/lenet5.cfg -o x.cfg --ratio 50 --max-loss x", 2, "--max-loss: expected points");
  expect("plan experiments/lenet5.cfg -o x.cfg --ratio 50 --bits 4,0", 2, "--bits: '0'");
  expect("experiments/lenet5.cfg --set solver", 2,
         "dctrain: --set solver: expected section.key=value (e.g. --set solver.max_iter=20)");
  expect("experiments/lenet5.cfg --set", 2, "--set needs a value");
  expect("eval m.dcz --data experiments/lenet5.cfg --set data.=1", 2, "--set data.=1: expected section.key=value");
}

/* --set is checked like the file's own keys, and its errors name the argument. */
static void set_errors_name_the_argument(void **state) {
  (void)state;
  expect("experiments/lenet5.cfg --set solver.max_iterr=20", 1,
         "dctrain: --set solver.max_iterr=20: [solver] unknown key 'max_iterr' (did you mean 'max_iter'?)");
  expect("experiments/lenet5.cfg --set solver.max_iter=1 --set solver.max_iter=-3", 1,
         "dctrain: --set solver.max_iter=-3: [solver] max_iter: expected an integer in [0, ");
  expect("experiments/lenet5.cfg --set solvr.max_iter=1", 1,
         "dctrain: --set solvr.max_iter=1: [solvr] unknown section (did you mean [solver]?)");
  expect("experiments/alexnet.cfg --set prune.retrain_iters=ten", 1,
         "dctrain: --set prune.retrain_iters=ten: [prune] retrain_iters: expected an integer in [0, ");
  expect("experiments/alexnet.cfg --set prune.fc9=10%", 1,
         "dctrain: --set prune.fc9=10%: [prune] fc9: neither an option nor a weighted layer of nets/alexnet.net "
         "(did you mean 'fc6'?)");
  /* a value the file had is replaced: a data directory that does not exist */
  expect("experiments/lenet5.cfg --set data.dir=/nonexistent/mnist --set solver.max_iter=1", 1,
         "/nonexistent/mnist/train-images-idx3-ubyte: cannot open");
  /* eval and sensitivity take --set too */
  expect("eval m.dcz --data experiments/lenet5.cfg --set data.test_limt=5", 1,
         "dctrain: --set data.test_limt=5: [data] unknown key 'test_limt' (did you mean 'test_limit'?)");
}

static void failures_exit_1(void **state) {
  (void)state;
  expect("nope.cfg", 1, "dctrain: nope.cfg: cannot open: No such file or directory");
  expect("info nope.dcz", 1, "nope.dcz");
  expect("info nets/lenet5.net", 1, "nets/lenet5.net");
  expect("bench nets/nope.net", 1, "nets/nope.net: cannot open");
  expect("plan nope.cfg -o x.cfg --ratio 10", 1, "dctrain: nope.cfg: cannot open");
  expect("plan experiments/lenet5.cfg -o x.cfg --ratio 10 --weights nope.h5", 1, "nope.h5: cannot open");
  /* inputs that are not regular files are refused at once, not read without end */
  expect("/dev/zero", 1, "dctrain: /dev/zero: is a device, not a regular file");
  expect("experiments/lenet5.cfg --set experiment.net=/dev/zero", 1, "/dev/zero: is a device, not a regular file");
  expect("info /dev/zero", 1, "/dev/zero: is a device, not a regular file");
  /* eval opens the experiment's test set before the model: this case needs real MNIST */
  char mnist[600];
  snprintf(mnist, sizeof mnist, "%s/data/mnist/t10k-images-idx3-ubyte", getenv("DC_SOURCE_DIR") ? getenv("DC_SOURCE_DIR") : ".");
  if (access(mnist, R_OK) == 0) {
    expect("eval nets/lenet5.net --data experiments/lenet5.cfg", 1, "nets/lenet5.net");
    expect("eval /dev/zero --data experiments/lenet5.cfg", 1, "/dev/zero: is a device, not a regular file");
  }
  else
    print_message("eval of a non-model not checked: no MNIST in data/mnist (scripts/fetch-mnist.sh)\n");
}

/* The run's header line comes before its error when stdout and stderr go to one file
 * (stdout is block-buffered there): here the first training batch fails. */
static void error_after_the_header(void **state) {
  (void)state;
  char *dir = tu_tmpdir();
  char path[1200], cmd[2400];
  unsigned char px[8 * 8 * 3];
  memset(px, 90, sizeof px);
  const char *cls[2] = {"a", "b"};
  for (int c = 0; c < 2; c++) {
    snprintf(path, sizeof path, "%s/train", dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/val", dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/train/%s", dir, cls[c]);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/val/%s", dir, cls[c]);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/val/%s/ok.png", dir, cls[c]);
    assert_true(stbi_write_png(path, 8, 8, 3, px, 8 * 3));
    snprintf(path, sizeof path, "%s/train/%s", dir, cls[c]);
    free(tu_write_file(path, "bad.png", "not an image\n")); /* every training image is bad */
  }
  free(tu_write_file(dir, "x.net", "[input]\nchannels = 3\nheight = 8\nwidth = 8\n[fc]\nname = ip1\nnum_output = 2\n"
                                   "[softmax_loss]\n"));
  snprintf(cmd, sizeof cmd,
           "[experiment]\nname = order\nnet = %s/x.net\noutput = %s/run\n[data]\nkind = imagenet\ndir = %s\n"
           "resize = 8\ncrop = 8\non_bad_image = stop\n[solver]\nbase_lr = 0.01\nbatch = 2\nmax_iter = 2\n"
           "test_interval = 0\n",
           dir, dir, dir);
  free(tu_write_file(dir, "x.cfg", cmd));
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' x.cfg > out.txt 2>&1", dir, getenv("DC_DCTRAIN"));
  int status = system(cmd);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 1);
  snprintf(path, sizeof path, "%s/out.txt", dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char first[1024] = "", line[1024], last[1024] = "";
  if (fgets(first, sizeof first, f)) snprintf(last, sizeof last, "%s", first);
  while (fgets(line, sizeof line, f)) snprintf(last, sizeof last, "%s", line);
  fclose(f);
  if (strncmp(first, "dctrain: order: net ", 20) != 0 || !strstr(last, "bad.png: cannot decode image"))
    fail_msg("expected the header line first and the error last, got first '%s', last '%s'", first, last);
  tu_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(help_and_version),
      cmocka_unit_test(bad_arguments_exit_2),
      cmocka_unit_test(failures_exit_1),
      cmocka_unit_test(set_errors_name_the_argument),
      cmocka_unit_test(error_after_the_header),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
