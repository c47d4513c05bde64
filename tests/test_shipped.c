/* test_shipped.c — every net and experiment file that ships with dctrain parses, builds
 * and has the shape its paper gives: a typo in a shipped file fails here, not in a
 * user's three-day run. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dc/experiment.h"
#include "dc/net.h"

static const char *src_dir(void) {
  const char *s = getenv("DC_SOURCE_DIR");
  return s ? s : ".";
}

static void expect_net(const char *file, size_t params, int classes, int nweighted) {
  char path[600];
  snprintf(path, sizeof path, "%s/nets/%s", src_dir(), file);
  dc_net *net;
  dc_failure_clear();
  if (dc_net_load(path, 1, 0, NULL, &net) != DC_OK) fail_msg("%s", dc_failure_reason());
  int weighted = 0;
  for (int i = 0; i < net->nlayers; i++) weighted += net->layers[i].weight != NULL;
  print_message("  %-14s %10zu parameters, %d weighted layers\n", file, net->params->total, weighted);
  assert_int_equal(net->params->total, params);
  assert_int_equal(net->classes, classes);
  assert_int_equal(weighted, nweighted);
  dc_net_free(net);
}

static void nets_have_their_papers_shapes(void **state) {
  (void)state;
  expect_net("lenet300.net", 266610, 10, 3);    /* 784*300+300 + 300*100+100 + 100*10+10 */
  expect_net("lenet5.net", 431080, 10, 4);      /* Caffe's LeNet */
  expect_net("lenet300-dropout.net", 266610, 10, 3); /* the labs: lenet300 with dropout */
  expect_net("alexnet.net", 60965224, 1000, 8); /* Caffe's bvlc_alexnet */
  expect_net("vgg16.net", 138357544, 1000, 16); /* VGG-16, configuration D */
  expect_net("alexnet-torchvision.net", 61100840, 1000, 8); /* torchvision's alexnet */
}

static void experiments_load(void **state) {
  (void)state;
  char dir[600];
  snprintf(dir, sizeof dir, "%s/experiments", src_dir());
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *ent;
  int n = 0;
  /* experiment files name nets relative to the repository root */
  char cwd[1024];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(src_dir()), 0);
  while ((ent = readdir(d))) {
    size_t len = strlen(ent->d_name);
    if (len < 5 || strcmp(ent->d_name + len - 4, ".cfg") != 0) continue;
    /* The configs for imported torchvision weights name a weights file that is not
     * shipped (the user imports it, README "Bringing trained weights in") and use the
     * [data] keys channels, std and resize_mode of the ImageNet loader (issue 7). */
    if (strstr(ent->d_name, "-torchvision.cfg")) continue;
    char path[700];
    snprintf(path, sizeof path, "experiments/%s", ent->d_name);
    static dc_experiment e;
    dc_failure_clear();
    if (dc_experiment_load(path, &e) != DC_OK) fail_msg("%s", dc_failure_reason());
    print_message("  %-24s net %s%s%s%s\n", path, e.net, e.prune.enabled ? ", prune" : "",
                  e.quantize.enabled ? ", quantize" : "", e.encode.enabled ? ", encode" : "");
    n++;
  }
  closedir(d);
  assert_int_equal(chdir(cwd), 0);
  assert_true(n >= 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(nets_have_their_papers_shapes),
      cmocka_unit_test(experiments_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
