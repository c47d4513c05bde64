/* tests/fuzz/replay.c — main() for a fuzz target outside libFuzzer: runs each file
 * argument, and each file of each directory argument, through LLVMFuzzerTestOneInput
 * once (arguments starting with '-' are libFuzzer flags and are ignored). The
 * regression ctests (fuzz_replay_*) run the seed and regression corpora this way in
 * every build, so a fixed finding stays fixed under gcc and under the sanitizers. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  return 0;
}

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += got;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf) return -1;
  /* an exact-size copy, as libFuzzer passes it, so ASan sees reads past the end */
  unsigned char *in = malloc(n ? n : 1);
  memcpy(in, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(in, n);
  free(in);
  return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  int ran = 0, bad = 0;
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] == '-') continue;
    struct stat sb;
    if (stat(argv[i], &sb) != 0) {
      perror(argv[i]);
      return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
      bad |= run_file(argv[i]) != 0;
      ran++;
      continue;
    }
    struct dirent **ents;
    int n = scandir(argv[i], &ents, NULL, NULL);
    if (n < 0) {
      perror(argv[i]);
      return 1;
    }
    char **names = malloc(sizeof *names * (size_t)(n ? n : 1));
    int m = 0;
    for (int j = 0; j < n; j++) {
      if (ents[j]->d_name[0] != '.') names[m++] = strdup(ents[j]->d_name);
      free(ents[j]);
    }
    free(ents);
    qsort(names, (size_t)m, sizeof *names, cmp_str);
    for (int j = 0; j < m; j++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[i], names[j]);
      bad |= run_file(path) != 0;
      ran++;
      free(names[j]);
    }
    free(names);
  }
  printf("replay: %d inputs run\n", ran);
  return bad;
}
