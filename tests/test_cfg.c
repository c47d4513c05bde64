/* test_cfg.c — the INI parser: good files, each syntax error with its file:line, every
 * typed getter (good / bad / absent), ranges, fractions, lists, enums, did-you-mean
 * hints, dc_cfg_check_unused(), raw key iteration and command-line overrides (--set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dc/cfg.h"

/* Parse `text` as "t.cfg", expecting success. */
static dc_cfg *parse_ok(const char *text) {
  dc_cfg *c = NULL;
  dc_failure_clear();
  dc_status st = dc_cfg_parse(text, "t.cfg", &c);
  if (st != DC_OK) fail_msg("unexpected parse failure: %s", dc_failure_reason());
  assert_non_null(c);
  return c;
}

/* Parse `text`, expecting DC_ERR_CFG with exactly `msg`. */
static void parse_fails(const char *text, const char *msg) {
  dc_cfg *c = (dc_cfg *)1;
  dc_failure_clear();
  assert_int_equal(dc_cfg_parse(text, "t.cfg", &c), DC_ERR_CFG);
  assert_null(c);
  assert_string_equal(dc_failure_reason(), msg);
}

/* The first section of a one-section text; the cfg is returned through *c. */
static dc_cfg_section *one(const char *text, dc_cfg **c) {
  *c = parse_ok(text);
  assert_true(dc_cfg_count(*c) >= 1);
  return dc_cfg_at(*c, 0);
}

/* ------------------------------------------------------------------ syntax */

static void test_good_file(void **state) {
  (void)state;
  const char *text =
      "# a net file\n"
      "; another comment\n"
      "\n"
      "[net]\n"
      "  batch   =   64   \n"
      "name = lenet # trailing comment\n"
      "path = data/mnist#1\n" /* '#' not after whitespace: part of the value */
      "expr = a=b;c\n"        /* '=' and ';' inside the value */
      "\t\n"
      "[conv]\r\n" /* CRLF */
      "num_output = 20\r\n"
      "   [ conv ]   ; spaces inside the brackets\n"
      "num_output=50\n"
      "empty =\n"
      "[fc]"; /* no final newline */
  dc_cfg *c = parse_ok(text);
  assert_string_equal(dc_cfg_name(c), "t.cfg");
  assert_int_equal(dc_cfg_count(c), 4);
  assert_string_equal(dc_cfg_section_name(dc_cfg_at(c, 0)), "net");
  assert_int_equal(dc_cfg_section_line(dc_cfg_at(c, 0)), 4);
  assert_string_equal(dc_cfg_section_name(dc_cfg_at(c, 1)), "conv");
  assert_int_equal(dc_cfg_section_line(dc_cfg_at(c, 1)), 10);
  assert_string_equal(dc_cfg_section_name(dc_cfg_at(c, 2)), "conv");
  assert_int_equal(dc_cfg_section_line(dc_cfg_at(c, 2)), 12);
  assert_string_equal(dc_cfg_section_name(dc_cfg_at(c, 3)), "fc");
  assert_int_equal(dc_cfg_key_count(dc_cfg_at(c, 3)), 0);

  dc_cfg_section *net = dc_cfg_find(c, "net");
  assert_ptr_equal(net, dc_cfg_at(c, 0));
  const char *v;
  assert_int_equal(dc_cfg_str(net, "batch", NULL, &v), DC_OK);
  assert_string_equal(v, "64");
  assert_int_equal(dc_cfg_str(net, "name", NULL, &v), DC_OK);
  assert_string_equal(v, "lenet");
  assert_int_equal(dc_cfg_str(net, "path", NULL, &v), DC_OK);
  assert_string_equal(v, "data/mnist#1");
  assert_int_equal(dc_cfg_str(net, "expr", NULL, &v), DC_OK);
  assert_string_equal(v, "a=b;c");

  /* Repeated sections keep their own keys; find returns the first. */
  long n;
  assert_ptr_equal(dc_cfg_find(c, "conv"), dc_cfg_at(c, 1));
  assert_int_equal(dc_cfg_int(dc_cfg_at(c, 1), "num_output", 0, &n), DC_OK);
  assert_int_equal(n, 20);
  assert_int_equal(dc_cfg_int(dc_cfg_at(c, 2), "num_output", 0, &n), DC_OK);
  assert_int_equal(n, 50);
  assert_int_equal(dc_cfg_str(dc_cfg_at(c, 2), "empty", "def", &v), DC_OK);
  assert_string_equal(v, "");
  assert_null(dc_cfg_find(c, "pool"));
  dc_cfg_free(c);
}

static void test_empty_and_comment_only(void **state) {
  (void)state;
  dc_cfg *c = parse_ok("");
  assert_int_equal(dc_cfg_count(c), 0);
  dc_cfg_free(c);
  c = parse_ok("# only\n;comments\n\n   \n");
  assert_int_equal(dc_cfg_count(c), 0);
  dc_cfg_free(c);
  c = parse_ok("\xEF\xBB\xBF[net]\nx = 1\n"); /* UTF-8 BOM */
  assert_int_equal(dc_cfg_count(c), 1);
  assert_string_equal(dc_cfg_section_name(dc_cfg_at(c, 0)), "net");
  dc_cfg_free(c);
  dc_cfg_free(NULL);
}

static void test_default_name(void **state) {
  (void)state;
  dc_cfg *c = NULL;
  dc_failure_clear();
  assert_int_equal(dc_cfg_parse("x = 1\n", NULL, &c), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(),
                      "<string>:1: 'x = 1' is outside any section (add a [section] header above it)");
}

static void test_syntax_errors(void **state) {
  (void)state;
  parse_fails("# c\n\nlr = 0.1\n[solver]\n",
              "t.cfg:3: 'lr = 0.1' is outside any section (add a [section] header above it)");
  parse_fails("[net]\nbatch 64\n", "t.cfg:2: [net] expected 'key = value', got 'batch 64'");
  parse_fails("[net]\n\n  = 64\n", "t.cfg:3: [net] empty key before '=' (value '64')");
  parse_fails("[net]\nbatch = 1\nx = 2\nbatch = 3\n", "t.cfg:4: [net] duplicate key 'batch' (first set on line 2)");
  parse_fails("[net]\nx=1\n[conv\n", "t.cfg:3: unterminated '[' in '[conv' (expected '[name]')");
  parse_fails("[conv] extra\n", "t.cfg:1: unexpected text after ']': 'extra'");
  parse_fails("[ ]\n", "t.cfg:1: empty section name '[]'");
  parse_fails("[Conv]\n", "t.cfg:1: bad character 'C' in section name 'Conv' (use a-z 0-9 _ . / -)");
  parse_fails("[net]\nbase lr = 1\n", "t.cfg:2: [net] bad character space in key 'base lr' (use A-Z a-z 0-9 _ . / -)");
  parse_fails("[net]\nx\x01y = 1\n",
              "t.cfg:2: [net] bad character byte 0x01 in key 'x\x01y' (use A-Z a-z 0-9 _ . / -)");
  /* The same key in two different sections (or repeated sections) is fine. */
  dc_cfg *c = parse_ok("[a]\nk=1\n[b]\nk=2\n[a]\nk=3\n");
  dc_cfg_free(c);
}

/* ------------------------------------------------------------------ load */

static void write_file(const char *path, const char *data, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

static void test_load(void **state) {
  (void)state;
  char path[] = "/tmp/dc_test_cfg_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  const char *text = "[solver]\nbase_lr = 0.01\n";
  write_file(path, text, strlen(text));
  dc_cfg *c = NULL;
  dc_failure_clear();
  assert_int_equal(dc_cfg_load(path, &c), DC_OK);
  assert_string_equal(dc_cfg_name(c), path);
  double lr;
  assert_int_equal(dc_cfg_float(dc_cfg_find(c, "solver"), "base_lr", 0, &lr), DC_OK);
  assert_true(lr == 0.01);
  dc_cfg_free(c);

  /* Errors from a loaded file name the path. */
  write_file(path, "[solver]\n\nbase_lr 0.01\n", 23);
  dc_failure_clear();
  assert_int_equal(dc_cfg_load(path, &c), DC_ERR_CFG);
  assert_null(c);
  char want[256];
  snprintf(want, sizeof want, "%s:3: [solver] expected 'key = value', got 'base_lr 0.01'", path);
  assert_string_equal(dc_failure_reason(), want);

  /* A NUL byte is reported with its line rather than silently ending the text. */
  write_file(path, "[a]\nx = 1\ny\0 = 2\n", 17);
  dc_failure_clear();
  assert_int_equal(dc_cfg_load(path, &c), DC_ERR_CFG);
  snprintf(want, sizeof want, "%s:3: NUL byte in the text (not a text file?)", path);
  assert_string_equal(dc_failure_reason(), want);
  unlink(path);

  dc_failure_clear();
  assert_int_equal(dc_cfg_load("/nonexistent/dir/x.cfg", &c), DC_ERR_IO);
  assert_null(c);
  assert_string_equal(dc_failure_reason(), "/nonexistent/dir/x.cfg: cannot open: No such file or directory");

  dc_failure_clear();
  assert_int_equal(dc_cfg_load("/tmp", &c), DC_ERR_IO); /* a directory */
  assert_non_null(strstr(dc_failure_reason(), "/tmp: "));
}

/* ------------------------------------------------------------------ getters */

static void test_int(void **state) {
  (void)state;
  dc_cfg *c;
  dc_cfg_section *s =
      one("[conv]\na = 12\nb = -3\nc = abc\nd = 1.5\ne = 7x\nf = 99999999999999999999999\n"
          "g = +4\nh =\n",
          &c);
  long v = 0;
  assert_int_equal(dc_cfg_int(s, "a", 0, &v), DC_OK);
  assert_int_equal(v, 12);
  assert_int_equal(dc_cfg_int(s, "b", 0, &v), DC_OK);
  assert_int_equal(v, -3);
  assert_int_equal(dc_cfg_int(s, "g", 0, &v), DC_OK);
  assert_int_equal(v, 4);
  assert_int_equal(dc_cfg_int(s, "absent", 42, &v), DC_OK);
  assert_int_equal(v, 42);

  v = 5;
  dc_failure_clear();
  assert_int_equal(dc_cfg_int(s, "c", 0, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:4: [conv] c: expected an integer, got 'abc'");
  assert_int_equal(v, 5); /* untouched on error */
  dc_failure_clear();
  assert_int_equal(dc_cfg_int(s, "d", 0, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:5: [conv] d: expected an integer, got '1.5'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_int(s, "e", 0, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:6: [conv] e: expected an integer, got '7x'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_int(s, "f", 0, &v), DC_ERR_CFG); /* overflow */
  assert_string_equal(dc_failure_reason(), "t.cfg:7: [conv] f: expected an integer, got '99999999999999999999999'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_int(s, "h", 0, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:9: [conv] h: expected an integer, got ''");
  dc_cfg_free(c);
}

static void test_int_range(void **state) {
  (void)state;
  dc_cfg *c;
  dc_cfg_section *s = one("[conv]\ngroup = 12\nzero = 0\nneg = -1\nok = 8\nbad = abc\n", &c);
  long v = 0;
  assert_int_equal(dc_cfg_int_range(s, "ok", 1, 1, 8, &v), DC_OK);
  assert_int_equal(v, 8);
  assert_int_equal(dc_cfg_int_range(s, "absent", 3, 1, 8, &v), DC_OK);
  assert_int_equal(v, 3);
  dc_failure_clear();
  assert_int_equal(dc_cfg_int_range(s, "group", 1, 1, 8, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:2: [conv] group: expected an integer in [1, 8], got '12'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_int_range(s, "zero", 1, 1, LONG_MAX, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:3: [conv] zero: expected a positive integer, got '0'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_int_range(s, "bad", 1, 1, LONG_MAX, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:6: [conv] bad: expected a positive integer, got 'abc'");
  assert_int_equal(dc_cfg_int_range(s, "zero", 1, 0, LONG_MAX, &v), DC_OK);
  assert_int_equal(v, 0);
  dc_failure_clear();
  assert_int_equal(dc_cfg_int_range(s, "neg", 1, 0, LONG_MAX, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:4: [conv] neg: expected a non-negative integer, got '-1'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_int_range(s, "neg", 1, 2, LONG_MAX, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:4: [conv] neg: expected an integer >= 2, got '-1'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_int_range(s, "group", 1, LONG_MIN, 10, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:2: [conv] group: expected an integer <= 10, got '12'");
  dc_cfg_free(c);
}

static void test_float(void **state) {
  (void)state;
  dc_cfg *c;
  dc_cfg_section *s =
      one("[solver]\nlr = 0.01\nexp = -1.5e-3\nnan = nan\ninf = inf\nminf = -Infinity\n"
          "junk = 0.1x\nbig = 1e999\nint = 3\n",
          &c);
  double v = 0;
  assert_int_equal(dc_cfg_float(s, "lr", 0, &v), DC_OK);
  assert_true(v == 0.01);
  assert_int_equal(dc_cfg_float(s, "exp", 0, &v), DC_OK);
  assert_true(v == -1.5e-3);
  assert_int_equal(dc_cfg_float(s, "int", 0, &v), DC_OK);
  assert_true(v == 3.0);
  assert_int_equal(dc_cfg_float(s, "absent", 0.25, &v), DC_OK);
  assert_true(v == 0.25);
  v = 7;
  dc_failure_clear();
  assert_int_equal(dc_cfg_float(s, "nan", 0, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:4: [solver] nan: expected a finite number, got 'nan'");
  assert_true(v == 7);
  dc_failure_clear();
  assert_int_equal(dc_cfg_float(s, "inf", 0, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:5: [solver] inf: expected a finite number, got 'inf'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_float(s, "minf", 0, &v), DC_ERR_CFG);
  dc_failure_clear();
  assert_int_equal(dc_cfg_float(s, "junk", 0, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:7: [solver] junk: expected a finite number, got '0.1x'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_float(s, "big", 0, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:8: [solver] big: expected a finite number, got '1e999'");
  dc_cfg_free(c);
}

static void test_float_range(void **state) {
  (void)state;
  dc_cfg *c;
  dc_cfg_section *s = one("[solver]\nmomentum = 0.9\nhigh = 1.5\nneg = -0.1\nzero = 0\n", &c);
  double v = 0;
  assert_int_equal(dc_cfg_float_range(s, "momentum", 0, 0, 1, &v), DC_OK);
  assert_true(v == 0.9);
  assert_int_equal(dc_cfg_float_range(s, "absent", 0.5, 0, 1, &v), DC_OK);
  assert_true(v == 0.5);
  dc_failure_clear();
  assert_int_equal(dc_cfg_float_range(s, "high", 0, 0, 1, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:3: [solver] high: expected a number in [0, 1], got '1.5'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_float_range(s, "neg", 0, 0, INFINITY, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:4: [solver] neg: expected a number >= 0, got '-0.1'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_float_range(s, "high", 0, -INFINITY, 1, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:3: [solver] high: expected a number <= 1, got '1.5'");
  assert_int_equal(dc_cfg_float_range(s, "neg", 0, -INFINITY, INFINITY, &v), DC_OK);
  assert_true(v == -0.1);
  /* positive: 0 is out */
  assert_int_equal(dc_cfg_float_pos(s, "momentum", 1, &v), DC_OK);
  assert_true(v == 0.9);
  assert_int_equal(dc_cfg_float_pos(s, "absent", 1, &v), DC_OK);
  assert_true(v == 1);
  dc_failure_clear();
  assert_int_equal(dc_cfg_float_pos(s, "zero", 1, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:5: [solver] zero: expected a positive number, got '0'");
  dc_cfg_free(c);
}

static void test_str_bool(void **state) {
  (void)state;
  dc_cfg *c;
  dc_cfg_section *s =
      one("[net]\nname = le net\nt1 = 1\nt2 = true\nt3 = YES\nt4 = on\n"
          "f1 = 0\nf2 = False\nf3 = no\nf4 = off\nbad = maybe\n",
          &c);
  const char *str;
  assert_int_equal(dc_cfg_str(s, "name", "x", &str), DC_OK);
  assert_string_equal(str, "le net");
  assert_int_equal(dc_cfg_str(s, "absent", "dflt", &str), DC_OK);
  assert_string_equal(str, "dflt");
  assert_int_equal(dc_cfg_str(s, "absent", NULL, &str), DC_OK);
  assert_null(str);
  const char *yes[] = {"t1", "t2", "t3", "t4"}, *no[] = {"f1", "f2", "f3", "f4"};
  for (int i = 0; i < 4; i++) {
    int b = -1;
    assert_int_equal(dc_cfg_bool(s, yes[i], 0, &b), DC_OK);
    assert_int_equal(b, 1);
    assert_int_equal(dc_cfg_bool(s, no[i], 1, &b), DC_OK);
    assert_int_equal(b, 0);
  }
  int b = -1;
  assert_int_equal(dc_cfg_bool(s, "absent", 1, &b), DC_OK);
  assert_int_equal(b, 1);
  dc_failure_clear();
  assert_int_equal(dc_cfg_bool(s, "bad", 0, &b), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(),
                      "t.cfg:11: [net] bad: expected a boolean (1/0, true/false, yes/no, on/off), got 'maybe'");
  dc_cfg_free(c);
}

static void test_enum(void **state) {
  (void)state;
  static const char *const policies[] = {"fixed", "step", "inv"};
  dc_cfg *c;
  dc_cfg_section *s = one("[solver]\na = inv\nb = stpe\nc = exponential\nd = Step\n", &c);
  int v = -1;
  assert_int_equal(dc_cfg_enum(s, "a", policies, 3, 0, &v), DC_OK);
  assert_int_equal(v, 2);
  assert_int_equal(dc_cfg_enum(s, "absent", policies, 3, 1, &v), DC_OK);
  assert_int_equal(v, 1);
  v = -1;
  dc_failure_clear();
  assert_int_equal(dc_cfg_enum(s, "b", policies, 3, 0, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(),
                      "t.cfg:3: [solver] b: expected one of: fixed, step, inv; got 'stpe' (did you mean 'step'?)");
  assert_int_equal(v, -1);
  dc_failure_clear();
  assert_int_equal(dc_cfg_enum(s, "c", policies, 3, 0, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:4: [solver] c: expected one of: fixed, step, inv; got 'exponential'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_enum(s, "d", policies, 3, 0, &v), DC_ERR_CFG); /* case-sensitive */
  assert_string_equal(dc_failure_reason(),
                      "t.cfg:5: [solver] d: expected one of: fixed, step, inv; got 'Step' (did you mean 'step'?)");
  dc_cfg_free(c);
}

static void test_float_list(void **state) {
  (void)state;
  dc_cfg *c;
  dc_cfg_section *s =
      one("[solver]\nsteps = 1000, 2000,3e3\none = 5\nempty =\nhole = 1,,2\n"
          "trail = 1,2,\njunk = 1, x\nmany = 1,2,3,4\nnan = 1, nan\n",
          &c);
  double v[3] = {0};
  int n = -1;
  assert_int_equal(dc_cfg_float_list(s, "steps", v, 3, &n), DC_OK);
  assert_int_equal(n, 3);
  assert_true(v[0] == 1000 && v[1] == 2000 && v[2] == 3000);
  assert_int_equal(dc_cfg_float_list(s, "one", v, 3, &n), DC_OK);
  assert_int_equal(n, 1);
  assert_true(v[0] == 5);
  assert_int_equal(dc_cfg_float_list(s, "empty", v, 3, &n), DC_OK);
  assert_int_equal(n, 0);
  n = -1;
  assert_int_equal(dc_cfg_float_list(s, "absent", v, 3, &n), DC_OK);
  assert_int_equal(n, 0);
  dc_failure_clear();
  assert_int_equal(dc_cfg_float_list(s, "hole", v, 3, &n), DC_ERR_CFG);
  assert_string_equal(
      dc_failure_reason(),
      "t.cfg:5: [solver] hole: expected a comma-separated list of numbers (item 2 is empty), got '1,,2'");
  assert_int_equal(n, 0);
  dc_failure_clear();
  assert_int_equal(dc_cfg_float_list(s, "trail", v, 3, &n), DC_ERR_CFG);
  assert_string_equal(
      dc_failure_reason(),
      "t.cfg:6: [solver] trail: expected a comma-separated list of numbers (item 3 is empty), got '1,2,'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_float_list(s, "junk", v, 3, &n), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(),
                      "t.cfg:7: [solver] junk: expected a comma-separated list of numbers (item 2 'x' is not a finite "
                      "number), got '1, x'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_float_list(s, "many", v, 3, &n), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:8: [solver] many: expected at most 3 numbers (got 4), got '1,2,3,4'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_float_list(s, "nan", v, 3, &n), DC_ERR_CFG);
  dc_cfg_free(c);
}

static void test_fraction(void **state) {
  (void)state;
  dc_cfg *c;
  dc_cfg_section *s =
      one("[prune]\nip1 = 8%\nip2 = 0.08\nall = 100%\nnone = 0\nsp = 9 %\n"
          "over = 150%\nneg = -0.1\npct = %\njunk = 8%%\nhigh = 1.01\n",
          &c);
  double v = -1;
  assert_int_equal(dc_cfg_fraction(s, "ip1", 0, &v), DC_OK);
  assert_true(fabs(v - 0.08) < 1e-15);
  assert_int_equal(dc_cfg_fraction(s, "ip2", 0, &v), DC_OK);
  assert_true(v == 0.08);
  assert_int_equal(dc_cfg_fraction(s, "all", 0, &v), DC_OK);
  assert_true(v == 1.0);
  assert_int_equal(dc_cfg_fraction(s, "none", 1, &v), DC_OK);
  assert_true(v == 0.0);
  assert_int_equal(dc_cfg_fraction(s, "sp", 0, &v), DC_OK);
  assert_true(fabs(v - 0.09) < 1e-15);
  assert_int_equal(dc_cfg_fraction(s, "absent", 0.5, &v), DC_OK);
  assert_true(v == 0.5);
  const char *bad[] = {"over", "neg", "pct", "junk", "high"};
  const char *raw[] = {"150%", "-0.1", "%", "8%%", "1.01"};
  const int line[] = {7, 8, 9, 10, 11};
  for (int i = 0; i < 5; i++) {
    char want[200];
    snprintf(want, sizeof want,
             "t.cfg:%d: [prune] %s: expected a fraction in [0, 1] or a percentage in [0%%, 100%%], got '%s'", line[i],
             bad[i], raw[i]);
    v = 42;
    dc_failure_clear();
    assert_int_equal(dc_cfg_fraction(s, bad[i], 0, &v), DC_ERR_CFG);
    assert_string_equal(dc_failure_reason(), want);
    assert_true(v == 42);
  }
  dc_cfg_free(c);
}

static void test_require_has(void **state) {
  (void)state;
  dc_cfg *c = parse_ok("[net]\n[conv]\nkernel_size = 5\n\n");
  dc_cfg_section *s = dc_cfg_at(c, 1);
  assert_int_equal(dc_cfg_require(s, "kernel_size"), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_cfg_require(s, "num_output"), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:2: [conv] missing required key 'num_output'");
  assert_int_equal(dc_cfg_has(s, "kernel_size"), 1);
  assert_int_equal(dc_cfg_has(s, "stride"), 0);
  /* require/has do not mark used: the key still has to be read. */
  dc_failure_clear();
  assert_int_equal(dc_cfg_check_unused(s), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:3: [conv] unknown key 'kernel_size'");
  long k;
  assert_int_equal(dc_cfg_int(s, "kernel_size", 0, &k), DC_OK);
  assert_int_equal(dc_cfg_check_unused(s), DC_OK);
  dc_cfg_free(c);
}

/* ------------------------------------------------------------------ unused keys, hints */

static void test_check_unused(void **state) {
  (void)state;
  dc_cfg *c = parse_ok("[solver]\nbase_lr = 0.1\nmomentum = 0.9\nbase_lrr = 0.2\nzzzzzzzz = 1\n");
  dc_cfg_section *s = dc_cfg_at(c, 0);
  double v;
  assert_int_equal(dc_cfg_float(s, "base_lr", 0, &v), DC_OK);
  assert_int_equal(dc_cfg_float(s, "momentum", 0, &v), DC_OK);
  assert_int_equal(dc_cfg_float(s, "weight_decay", 0, &v), DC_OK); /* known, absent */
  dc_failure_clear();
  assert_int_equal(dc_cfg_check_unused(s), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:4: [solver] unknown key 'base_lrr' (did you mean 'base_lr'?)");
  /* Hints also come from absent known keys. */
  dc_cfg_mark_used(s, "base_lrr");
  dc_failure_clear();
  assert_int_equal(dc_cfg_check_unused(s), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:5: [solver] unknown key 'zzzzzzzz'");
  dc_cfg_mark_used(s, "zzzzzzzz");
  assert_int_equal(dc_cfg_check_unused(s), DC_OK);
  dc_cfg_free(c);

  c = parse_ok("[solver]\nweight_decy = 1\nmomentun = 1\n");
  s = dc_cfg_at(c, 0);
  assert_int_equal(dc_cfg_float(s, "weight_decay", 0, &v), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_cfg_check_unused(s), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(),
                      "t.cfg:2: [solver] unknown key 'weight_decy' (did you mean 'weight_decay'?)");
  dc_cfg_free(c);

  /* Section with nothing read at all, nothing known: no hint. */
  c = parse_ok("[a]\nx = 1\n");
  dc_failure_clear();
  assert_int_equal(dc_cfg_check_unused(dc_cfg_at(c, 0)), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:2: [a] unknown key 'x'");
  dc_cfg_free(c);

  /* A key only probed with dc_cfg_has() is not suggested as a correction of itself. */
  c = parse_ok("[a]\nstride = 1\n");
  s = dc_cfg_at(c, 0);
  assert_int_equal(dc_cfg_has(s, "stride"), 1);
  dc_failure_clear();
  assert_int_equal(dc_cfg_check_unused(s), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:2: [a] unknown key 'stride'");
  dc_cfg_free(c);
}

static void test_closest(void **state) {
  (void)state;
  const char *const cands[] = {"base_lr", "momentum", "weight_decay", NULL, "lr_policy", "gamma"};
  assert_string_equal(dc_closest("base_lrr", cands, 6), "base_lr");
  assert_string_equal(dc_closest("monentum", cands, 6), "momentum");
  assert_string_equal(dc_closest("momnetum", cands, 6), "momentum"); /* transposition = 1 */
  assert_string_equal(dc_closest("weightdecay", cands, 6), "weight_decay");
  assert_string_equal(dc_closest("gama", cands, 6), "gamma");
  assert_string_equal(dc_closest("gamma", cands, 6), "gamma");
  assert_null(dc_closest("batch_size", cands, 6));
  assert_null(dc_closest("xyz", cands, 6));
  assert_null(dc_closest("anything", cands, 0));
  /* Threshold max(2, len/3): a 12-letter word tolerates 4 edits, a short one 2. */
  const char *const longw[] = {"weight_decay"};
  assert_string_equal(dc_closest("wieght_dcey", longw, 1), "weight_decay"); /* 3 */
  assert_null(dc_closest("w_d", longw, 1));
  const char *const shortw[] = {"lr", "ab"};
  assert_string_equal(dc_closest("lrx", shortw, 2), "lr");
  assert_null(dc_closest("cd", shortw, 2)); /* every letter replaced: not a hint */
  /* Ties go to the first candidate. */
  const char *const tie[] = {"abcx", "abcy"};
  assert_string_equal(dc_closest("abcz", tie, 2), "abcx");

  assert_int_equal(dc_edit_distance("", ""), 0);
  assert_int_equal(dc_edit_distance("abc", ""), 3);
  assert_int_equal(dc_edit_distance("", "ab"), 2);
  assert_int_equal(dc_edit_distance("kitten", "sitting"), 3);
  assert_int_equal(dc_edit_distance("ab", "ba"), 1);
  assert_int_equal(dc_edit_distance("step", "stpe"), 1);
}

/* ------------------------------------------------------------------ raw access, custom errors */

static void test_key_iteration(void **state) {
  (void)state;
  dc_cfg *c = parse_ok("[prune]\nip1 = 8%\n\nConv1 = 50%\nip2=9%\n");
  dc_cfg_section *s = dc_cfg_at(c, 0);
  assert_int_equal(dc_cfg_key_count(s), 3);
  const char *k, *v;
  int line;
  dc_cfg_key_at(s, 0, &k, &v, &line);
  assert_string_equal(k, "ip1");
  assert_string_equal(v, "8%");
  assert_int_equal(line, 2);
  dc_cfg_key_at(s, 1, &k, &v, &line);
  assert_string_equal(k, "Conv1"); /* keys keep their case */
  assert_int_equal(line, 4);
  dc_cfg_key_at(s, 2, &k, NULL, NULL);
  assert_string_equal(k, "ip2");

  /* Iteration marks nothing; mark_used does. */
  dc_failure_clear();
  assert_int_equal(dc_cfg_check_unused(s), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:2: [prune] unknown key 'ip1'");
  for (int i = 0; i < dc_cfg_key_count(s); i++) {
    dc_cfg_key_at(s, i, &k, NULL, NULL);
    dc_cfg_mark_used(s, k);
  }
  assert_int_equal(dc_cfg_check_unused(s), DC_OK);
  /* Keys are case-sensitive. */
  assert_int_equal(dc_cfg_has(s, "conv1"), 0);
  assert_int_equal(dc_cfg_has(s, "Conv1"), 1);
  dc_cfg_free(c);
}

static void test_custom_errors(void **state) {
  (void)state;
  dc_cfg *c = parse_ok("[pool]\n\nkernel_size = 3\nstride = 5\n");
  dc_cfg_section *s = dc_cfg_at(c, 0);
  dc_failure_clear();
  assert_int_equal(dc_cfg_key_error(s, "stride", "must not exceed kernel_size (%d)", 3), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:4: [pool] stride: must not exceed kernel_size (3)");
  dc_failure_clear();
  assert_int_equal(dc_cfg_key_error(s, "pad", "needed when stride > 1"), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:1: [pool] pad: needed when stride > 1");
  dc_failure_clear();
  assert_int_equal(dc_cfg_section_error(s, "unknown layer type (did you mean '%s'?)", "pooling"), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:1: [pool] unknown layer type (did you mean 'pooling'?)");
  dc_cfg_free(c);
}

/* ------------------------------------------------------------------ --set overrides */

/* Expect dc_cfg_override(c, arg) to fail with status st and exactly msg. */
static void override_fails(dc_cfg *c, const char *arg, dc_status st, const char *msg) {
  dc_failure_clear();
  assert_int_equal(dc_cfg_override(c, arg), st);
  assert_string_equal(dc_failure_reason(), msg);
}

static void test_override(void **state) {
  (void)state;
  dc_cfg *c = parse_ok("[solver]\nbase_lr = 0.1\nmax_iter = 100\n[prune]\nfc6 = 9%\n");
  long v;
  double d;
  /* replace a value, add a key, add a section; the last of two overrides wins */
  assert_int_equal(dc_cfg_override(c, "solver.max_iter=5"), DC_OK);
  assert_int_equal(dc_cfg_override(c, "solver.max_iter= 20 "), DC_OK);
  assert_int_equal(dc_cfg_override(c, "solver.display=7"), DC_OK);
  assert_int_equal(dc_cfg_override(c, "data.dir=a=b/c d"), DC_OK);  /* '=' and spaces in values */
  assert_int_equal(dc_cfg_override(c, "prune.conv1.x=84%"), DC_OK); /* keys may hold '.' */
  assert_int_equal(dc_cfg_count(c), 3);
  dc_cfg_section *s = dc_cfg_find(c, "solver");
  assert_int_equal(dc_cfg_int(s, "max_iter", 0, &v), DC_OK);
  assert_int_equal(v, 20);
  assert_int_equal(dc_cfg_int(s, "display", 0, &v), DC_OK);
  assert_int_equal(v, 7);
  assert_int_equal(dc_cfg_float(s, "base_lr", 0, &d), DC_OK); /* untouched */
  assert_true(d == 0.1);
  assert_int_equal(dc_cfg_check_unused(s), DC_OK);
  dc_cfg_section *data = dc_cfg_find(c, "data");
  assert_non_null(data);
  assert_int_equal(dc_cfg_section_line(data), 0); /* not in the file */
  assert_int_equal(dc_cfg_section_line(s), 1);
  const char *str;
  assert_int_equal(dc_cfg_str(data, "dir", "", &str), DC_OK);
  assert_string_equal(str, "a=b/c d");
  dc_cfg_section *p = dc_cfg_find(c, "prune");
  assert_int_equal(dc_cfg_fraction(p, "conv1.x", 0, &d), DC_OK);
  assert_true(fabs(d - 0.84) < 1e-12);

  /* errors of values read from overrides name the argument instead of FILE:LINE */
  assert_int_equal(dc_cfg_override(c, "solver.batch=many"), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_cfg_int_range(s, "batch", 64, 1, 100, &v), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(),
                      "--set solver.batch=many: [solver] batch: expected an integer in [1, 100], got 'many'");
  assert_int_equal(dc_cfg_override(c, "solver.max_itr=3"), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_cfg_check_unused(s), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(),
                      "--set solver.max_itr=3: [solver] unknown key 'max_itr' (did you mean 'max_iter'?)");
  /* a key error / required key in a section an override created names that override */
  dc_failure_clear();
  assert_int_equal(dc_cfg_require(data, "kind"), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "--set data.dir=a=b/c d: [data] missing required key 'kind'");
  dc_failure_clear();
  assert_int_equal(dc_cfg_key_error(p, "fc6", "too small"), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(), "t.cfg:5: [prune] fc6: too small"); /* file keys keep FILE:LINE */
  int choice;
  static const char *const pol[] = {"fixed", "step"};
  assert_int_equal(dc_cfg_override(c, "solver.lr_policy=stpe"), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_cfg_enum(s, "lr_policy", pol, 2, 0, &choice), DC_ERR_CFG);
  assert_string_equal(dc_failure_reason(),
                      "--set solver.lr_policy=stpe: [solver] lr_policy: expected one of: fixed, step; got 'stpe' "
                      "(did you mean 'step'?)");

  /* syntax: a one-line DC_ERR_ARG naming the argument; the cfg is unchanged */
  override_fails(c, "solver", DC_ERR_ARG, "--set solver: expected section.key=value (e.g. --set solver.max_iter=20)");
  override_fails(c, "max_iter=3", DC_ERR_ARG,
                 "--set max_iter=3: expected section.key=value (e.g. --set solver.max_iter=20)");
  override_fails(c, ".max_iter=3", DC_ERR_ARG,
                 "--set .max_iter=3: expected section.key=value (e.g. --set solver.max_iter=20)");
  override_fails(c, "solver.=3", DC_ERR_ARG,
                 "--set solver.=3: expected section.key=value (e.g. --set solver.max_iter=20)");
  override_fails(c, "x=1.5", DC_ERR_ARG, "--set x=1.5: expected section.key=value (e.g. --set solver.max_iter=20)");
  override_fails(c, "Solver.max_iter=3", DC_ERR_ARG,
                 "--set Solver.max_iter=3: bad character 'S' in section name 'Solver' (use a-z 0-9 _ / -)");
  override_fails(c, "solver.max iter=3", DC_ERR_ARG,
                 "--set solver.max iter=3: bad character space in key 'max iter' (use A-Z a-z 0-9 _ . / -)");
  /* fuzz finding: a newline (any control character but tab) in the argument made the
   * message, and every later message naming the override, span lines */
  override_fails(c, "solver.max_iter=3\n# x", DC_ERR_ARG,
                 "--set solver.max_iter=3...: control character byte 0x0a (expected section.key=value on one line)");
  override_fails(c, "solver.base_lr=\r1", DC_ERR_ARG,
                 "--set solver.base_lr=...: control character byte 0x0d (expected section.key=value on one line)");
  assert_int_equal(dc_cfg_override_check("solver.max_iter=3"), DC_OK);
  dc_failure_clear();
  assert_int_equal(dc_cfg_override_check("solver"), DC_ERR_ARG);
  assert_int_equal(dc_cfg_count(c), 3);
  dc_cfg_free(c);
}

/* The model section's net text: comments and the whitespace before them go, lines only
 * a comment held go with their newline; values with '#' or ';' inside stay; the parser
 * reads the same sections, keys and values. */
static void test_strip_comments(void **state) {
  (void)state;
  char text[] = "# head\n[a] ; sec\nk = v#1 a;b # c\n\n  ; only\nx = 2\t# t\ny = 3";
  char *copy = strdup(text);
  dc_cfg_strip_comments(text);
  assert_string_equal(text, "\n[a]\nk = v#1 a;b\n\nx = 2\ny = 3");
  dc_cfg *a, *b;
  assert_int_equal(dc_cfg_parse(copy, "a", &a), DC_OK);
  assert_int_equal(dc_cfg_parse(text, "b", &b), DC_OK);
  assert_int_equal(dc_cfg_count(a), 1);
  assert_int_equal(dc_cfg_count(b), 1);
  dc_cfg_section *sa = dc_cfg_find(a, "a"), *sb = dc_cfg_find(b, "a");
  assert_non_null(sa);
  assert_non_null(sb);
  assert_int_equal(dc_cfg_key_count(sa), 3);
  assert_int_equal(dc_cfg_key_count(sb), 3);
  for (int i = 0; i < 3; i++) {
    const char *ka, *va, *kb, *vb;
    int la, lb;
    dc_cfg_key_at(sa, i, &ka, &va, &la);
    dc_cfg_key_at(sb, i, &kb, &vb, &lb);
    assert_string_equal(ka, kb);
    assert_string_equal(va, vb);
  }
  dc_cfg_free(a);
  dc_cfg_free(b);
  free(copy);
  char none[] = "";
  dc_cfg_strip_comments(none);
  assert_string_equal(none, "");
  /* fuzz finding: a byte-order mark counts at the start only; the line after a dropped
   * first comment must not move there (it would turn "BOM# x" into a comment) */
  char bom[] = "# c\n\xef\xbb\xbf# x\n[s]\n";
  dc_cfg_strip_comments(bom);
  assert_string_equal(bom, "\n\xef\xbb\xbf# x\n[s]\n");
  assert_int_equal(dc_cfg_parse(bom, "bom", &a), DC_ERR_CFG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_file),     cmocka_unit_test(test_empty_and_comment_only),
      cmocka_unit_test(test_default_name),  cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_load),          cmocka_unit_test(test_int),
      cmocka_unit_test(test_int_range),     cmocka_unit_test(test_float),
      cmocka_unit_test(test_float_range),   cmocka_unit_test(test_str_bool),
      cmocka_unit_test(test_enum),          cmocka_unit_test(test_float_list),
      cmocka_unit_test(test_fraction),      cmocka_unit_test(test_require_has),
      cmocka_unit_test(test_check_unused),  cmocka_unit_test(test_closest),
      cmocka_unit_test(test_key_iteration), cmocka_unit_test(test_custom_errors),
      cmocka_unit_test(test_override),      cmocka_unit_test(test_strip_comments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
