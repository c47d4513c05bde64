/* test_mnist.c — end to end on the real MNIST (fetched by scripts/test.sh into
 * data/mnist): LeNet-300-100 for 500 iterations must be clearly above chance on the
 * official 10k test set. Skipped when the files are absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dc/experiment.h"
#include "util_net.h"

static void lenet300_learns(void **state) {
  (void)state;
  const char *src = getenv("DC_SOURCE_DIR");
  char images[600];
  snprintf(images, sizeof images, "%s/data/mnist/t10k-images-idx3-ubyte", src ? src : ".");
  if (!src || access(images, R_OK) != 0) {
    print_message("  real MNIST not found under $DC_SOURCE_DIR/data/mnist: skipped\n");
    skip();
  }
  char *dir = tu_tmpdir();
  char text[2048];
  snprintf(text, sizeof text,
           "[experiment]\nnet = %s/nets/lenet300.net\noutput = %s/run\nseed = 1\nthreads = 1\n"
           "[data]\ndir = %s/data/mnist\n"
           "[solver]\nbase_lr = 0.01\nmomentum = 0.9\nweight_decay = 0.0005\nlr_policy = inv\n"
           "gamma = 0.0001\npower = 0.75\nbatch = 64\nmax_iter = 500\ntest_interval = 0\ndisplay = 100\n"
           "snapshot = 0\n",
           src, dir, src);
  char *cfg = tu_write_file(dir, "e2e.cfg", text);
  static dc_experiment e;
  dc_failure_clear();
  assert_int_equal(dc_experiment_load(cfg, &e), DC_OK);
  char logpath[600];
  snprintf(logpath, sizeof logpath, "%s/progress.txt", dir);
  FILE *out = fopen(logpath, "w+");
  dc_status s = dc_experiment_run(&e, NULL, out, NULL);
  if (s != DC_OK) fail_msg("%s", dc_failure_reason());
  rewind(out);
  char line[256];
  double top1 = -1;
  while (fgets(line, sizeof line, out)) {
    const char *p = strstr(line, "test top-1");
    if (p) sscanf(p, "test top-1 %lf", &top1);
  }
  fclose(out);
  print_message("  LeNet-300-100, 500 iterations: test top-1 %.2f%%\n", top1);
  /* measured 92.4% here (seed 1); chance is 10% */
  assert_true(top1 > 88.0);
  snprintf(text, sizeof text, "rm -rf '%s'", dir);
  assert_int_equal(system(text), 0);
  free(cfg);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(lenet300_learns)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
