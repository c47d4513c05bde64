/* tests/fuzz/fuzz_cfg.c — the INI parser (dc_cfg_parse), its typed getters, the --set
 * override syntax, the experiment-file reader (dc_experiment_load) on fuzzed text, and
 * dc_cfg_strip_comments (the .dcz model section's net text): the stripped text must
 * parse to the same status, sections, keys and values.
 * Input: cfg text; after a first NUL byte, a --set argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/cfg.h"
#include "dc/experiment.h"
#include "fuzz_util.h"

/* Whether a and b hold the same sections, keys and values in the same order. */
static int same_cfg(dc_cfg *a, dc_cfg *b) {
  if (dc_cfg_count(a) != dc_cfg_count(b)) return 0;
  for (int i = 0; i < dc_cfg_count(a); i++) {
    dc_cfg_section *sa = dc_cfg_at(a, i), *sb = dc_cfg_at(b, i);
    if (strcmp(dc_cfg_section_name(sa), dc_cfg_section_name(sb)) != 0) return 0;
    if (dc_cfg_key_count(sa) != dc_cfg_key_count(sb)) return 0;
    for (int j = 0; j < dc_cfg_key_count(sa); j++) {
      const char *ka, *va, *kb, *vb;
      dc_cfg_key_at(sa, j, &ka, &va, NULL);
      dc_cfg_key_at(sb, j, &kb, &vb, NULL);
      if (strcmp(ka, kb) != 0 || strcmp(va, vb) != 0) return 0;
    }
  }
  return 1;
}

/* The text without comments parses as the text did. */
static void check_strip(const char *text) {
  char *stripped = strdup(text);
  dc_cfg_strip_comments(stripped);
  dc_cfg *a = NULL, *b = NULL;
  dc_status sa = dc_cfg_parse(text, "a.cfg", &a), sb = dc_cfg_parse(stripped, "b.cfg", &b);
  if (sa != sb || (sa == DC_OK && !same_cfg(a, b))) {
    fprintf(stderr, "fuzz: dc_cfg_strip_comments changed what the parser reads (status %d, then %d)\n", sa, sb);
    abort();
  }
  dc_cfg_free(a);
  dc_cfg_free(b);
  free(stripped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  const char *set = strlen(text) < size ? text + strlen(text) + 1 : NULL;
  dc_cfg *c = NULL;
  dc_status s = dc_cfg_parse(text, "fuzz.cfg", &c);
  fz_check(s, "dc_cfg_parse");
  if (s == DC_OK && set) fz_check(dc_cfg_override(c, set), "dc_cfg_override");
  for (int i = 0; c && i < dc_cfg_count(c); i++) {
    dc_cfg_section *sec = dc_cfg_at(c, i);
    for (int j = 0; j < dc_cfg_key_count(sec); j++) {
      const char *key, *value;
      dc_cfg_key_at(sec, j, &key, &value, NULL);
      long l;
      double d;
      int b;
      const char *str;
      double list[4];
      int n;
      fz_check(dc_cfg_int(sec, key, 0, &l), "dc_cfg_int");
      fz_check(dc_cfg_float(sec, key, 0, &d), "dc_cfg_float");
      fz_check(dc_cfg_fraction(sec, key, 0, &d), "dc_cfg_fraction");
      fz_check(dc_cfg_bool(sec, key, 0, &b), "dc_cfg_bool");
      fz_check(dc_cfg_str(sec, key, "", &str), "dc_cfg_str");
      fz_check(dc_cfg_float_list(sec, key, list, 4, &n), "dc_cfg_float_list");
    }
    fz_check(dc_cfg_check_unused(sec), "dc_cfg_check_unused");
  }
  dc_cfg_free(c);
  check_strip(text);
  /* the whole experiment reader, from a file as the command reads it */
  char path[600];
  fz_write(path, sizeof path, "exp.cfg", text, strlen(text));
  dc_experiment e;
  fz_check(dc_experiment_load(path, &e), "dc_experiment_load");
  free(text);
  return 0;
}
