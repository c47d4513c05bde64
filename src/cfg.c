/* cfg.c — the INI parser (syntax → sections of key/value entries) and the typed
 * getters that turn values into numbers, flags and choices with file:line errors.
 *
 * Layout: a dc_cfg holds an array of sections in file order; each section holds its
 * entries in file order plus the set of keys callers asked about ("known"), which feeds
 * the did-you-mean hint of dc_cfg_check_unused(). Sections are small (a few dozen keys),
 * so lookups are linear scans. */
#include "dc/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "util.h"

typedef struct {
  char *key;
  char *value;  /* trimmed, never NULL */
  int line;     /* 1-based */
  int used;     /* a getter or dc_cfg_mark_used() read it */
  char *origin; /* the "--set section.key=value" argument that set it; NULL: the file */
} cfg_entry;

struct dc_cfg_section {
  const dc_cfg *cfg; /* back pointer, for the file name in messages */
  char *name;
  int line; /* line of the [header] */
  cfg_entry *entries;
  int n, cap;
  char **known; /* owned copies of keys callers asked about (hint candidates) */
  int nknown, capknown;
  char *origin; /* the --set argument that created the section; NULL: the file */
};

struct dc_cfg {
  char *name;
  dc_cfg_section *sections; /* only reallocated while parsing and by dc_cfg_override, so pointers handed out
                               afterwards stay valid */
  int n, cap;
};

/* ---------------------------------------------------------------- helpers */

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f'; }

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Trim in place: returns a pointer into s, with trailing whitespace cut. */
static char *trim(char *s) {
  while (is_space(*s)) s++;
  size_t n = strlen(s);
  while (n > 0 && is_space(s[n - 1])) s[--n] = '\0';
  return s;
}

static int name_char(char ch, int allow_upper) {
  return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '/' || ch == '-' ||
         (allow_upper && ch >= 'A' && ch <= 'Z');
}

/* First character of s outside the name alphabet, or NULL when all are fine. */
static const char *bad_name_char(const char *s, int allow_upper) {
  for (; *s; s++)
    if (!name_char(*s, allow_upper)) return s;
  return NULL;
}

/* A printable rendering of one character for messages: "'x'", "space", "\\x01". */
static void show_char(char ch, char buf[16]) {
  unsigned char u = (unsigned char)ch;
  if (ch == ' ')
    snprintf(buf, 16, "space");
  else if (ch == '\t')
    snprintf(buf, 16, "tab");
  else if (u < 0x20 || u >= 0x7f)
    snprintf(buf, 16, "byte 0x%02x", u);
  else
    snprintf(buf, 16, "'%c'", ch);
}

/* ---------------------------------------------------------------- parsing */

static dc_status add_section(dc_cfg *c, const char *name, int line) {
  if (c->n == c->cap) {
    int cap = c->cap ? c->cap * 2 : 8;
    dc_cfg_section *ns = realloc(c->sections, (size_t)cap * sizeof *ns);
    if (!ns) return dc_fail(DC_ERR_NOMEM, "%s: out of memory while parsing", c->name);
    c->sections = ns;
    c->cap = cap;
  }
  dc_cfg_section *s = &c->sections[c->n];
  memset(s, 0, sizeof *s);
  s->name = dup_str(name);
  if (!s->name) return dc_fail(DC_ERR_NOMEM, "%s: out of memory while parsing", c->name);
  s->cfg = c;
  s->line = line;
  c->n++;
  return DC_OK;
}

static cfg_entry *find_entry(const dc_cfg_section *s, const char *key) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->entries[i].key, key) == 0) return &s->entries[i];
  return NULL;
}

static dc_status add_entry(dc_cfg *c, dc_cfg_section *s, const char *key, const char *value, int line) {
  if (s->n == s->cap) {
    int cap = s->cap ? s->cap * 2 : 8;
    cfg_entry *ne = realloc(s->entries, (size_t)cap * sizeof *ne);
    if (!ne) return dc_fail(DC_ERR_NOMEM, "%s: out of memory while parsing", c->name);
    s->entries = ne;
    s->cap = cap;
  }
  cfg_entry *e = &s->entries[s->n];
  e->key = dup_str(key);
  e->value = dup_str(value);
  e->line = line;
  e->used = 0;
  e->origin = NULL;
  if (!e->key || !e->value) {
    free(e->key);
    free(e->value);
    return dc_fail(DC_ERR_NOMEM, "%s: out of memory while parsing", c->name);
  }
  s->n++;
  return DC_OK;
}

void dc_cfg_strip_comments(char *text) {
  char *out = text;
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line), keep = len;
    for (size_t i = 0; i < len; i++) {
      if ((line[i] == '#' || line[i] == ';') && (i == 0 || is_space(line[i - 1]))) {
        keep = i;
        break;
      }
    }
    int cut = keep < len;
    while (cut && keep > 0 && is_space(line[keep - 1])) keep--;
    /* a line the comment emptied goes with its newline, but for the first: the parser
     * skips a UTF-8 byte-order mark at the start only, and the second line must not
     * move there (fuzz_cfg) */
    if (!cut || keep > 0 || line == text) {
      memmove(out, line, keep);
      out += keep;
      if (end) *out++ = '\n';
    }
    line = end ? end + 1 : line + len;
  }
  *out = '\0';
}

/* Parse one line (a writable copy without its '\n'). */
static dc_status parse_line(dc_cfg *c, char *raw, int lineno) {
  const char *file = c->name;
  char shown[16];
  /* A '#' or ';' at the start or after whitespace opens a comment; elsewhere
   * ("a;b", "x#1") it is part of the value. */
  for (size_t i = 0; raw[i]; i++) {
    if ((raw[i] == '#' || raw[i] == ';') && (i == 0 || is_space(raw[i - 1]))) {
      raw[i] = '\0';
      break;
    }
  }
  char *line = trim(raw);
  if (*line == '\0') return DC_OK;

  if (*line == '[') {
    char *close = strchr(line, ']');
    if (!close) return dc_fail(DC_ERR_CFG, "%s:%d: unterminated '[' in '%s' (expected '[name]')", file, lineno, line);
    if (*trim(close + 1) != '\0')
      return dc_fail(DC_ERR_CFG, "%s:%d: unexpected text after ']': '%s'", file, lineno, trim(close + 1));
    *close = '\0';
    char *name = trim(line + 1);
    if (*name == '\0') return dc_fail(DC_ERR_CFG, "%s:%d: empty section name '[]'", file, lineno);
    const char *bad = bad_name_char(name, 0);
    if (bad) {
      show_char(*bad, shown);
      return dc_fail(DC_ERR_CFG, "%s:%d: bad character %s in section name '%s' (use a-z 0-9 _ . / -)", file, lineno,
                     shown, name);
    }
    return add_section(c, name, lineno);
  }

  if (c->n == 0)
    return dc_fail(DC_ERR_CFG, "%s:%d: '%s' is outside any section (add a [section] header above it)", file, lineno,
                   line);
  dc_cfg_section *s = &c->sections[c->n - 1];
  char *eq = strchr(line, '=');
  if (!eq) return dc_fail(DC_ERR_CFG, "%s:%d: [%s] expected 'key = value', got '%s'", file, lineno, s->name, line);
  *eq = '\0';
  char *key = trim(line);
  char *value = trim(eq + 1);
  if (*key == '\0')
    return dc_fail(DC_ERR_CFG, "%s:%d: [%s] empty key before '=' (value '%s')", file, lineno, s->name, value);
  const char *bad = bad_name_char(key, 1);
  if (bad) {
    show_char(*bad, shown);
    return dc_fail(DC_ERR_CFG, "%s:%d: [%s] bad character %s in key '%s' (use A-Z a-z 0-9 _ . / -)", file, lineno,
                   s->name, shown, key);
  }
  const cfg_entry *prev = find_entry(s, key);
  if (prev)
    return dc_fail(DC_ERR_CFG, "%s:%d: [%s] duplicate key '%s' (first set on line %d)", file, lineno, s->name, key,
                   prev->line);
  return add_entry(c, s, key, value, lineno);
}

dc_status dc_cfg_parse(const char *text, const char *name, dc_cfg **out) {
  DC_ASSERT(out != NULL);
  *out = NULL;
  if (!name) name = "<string>";
  if (!text) return dc_fail(DC_ERR_ARG, "%s: no text to parse", name);
  dc_cfg *c = calloc(1, sizeof *c);
  if (!c) return dc_fail(DC_ERR_NOMEM, "%s: out of memory while parsing", name);
  c->name = dup_str(name);
  if (!c->name) {
    free(c);
    return dc_fail(DC_ERR_NOMEM, "%s: out of memory while parsing", name);
  }
  /* Editors on some systems prepend a UTF-8 byte order mark; it is not content. */
  if (strncmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3;

  char *buf = NULL; /* a writable copy of the current line */
  size_t bufcap = 0;
  dc_status st = DC_OK;
  int lineno = 0;
  const char *p = text;
  while (*p) {
    lineno++;
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    if (len + 1 > bufcap) {
      size_t cap = len + 1 > 256 ? len + 1 : 256;
      char *nb = realloc(buf, cap);
      if (!nb) {
        st = dc_fail(DC_ERR_NOMEM, "%s: out of memory while parsing", c->name);
        break;
      }
      buf = nb;
      bufcap = cap;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    st = parse_line(c, buf, lineno);
    if (st != DC_OK) break;
    p = eol ? eol + 1 : p + len;
  }
  free(buf);
  if (st != DC_OK) {
    dc_cfg_free(c);
    return st;
  }
  *out = c;
  return DC_OK;
}

dc_status dc_cfg_load(const char *path, dc_cfg **out) {
  DC_ASSERT(out != NULL && path != NULL);
  *out = NULL;
  DC_TRY(dc_check_input(path, 16u << 20)); /* cfg and net files are text of a few KB */
  FILE *fp = fopen(path, "rb");
  if (!fp) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  size_t len = 0, cap = 0;
  char *text = NULL;
  for (;;) {
    if (cap - len < 4096 + 1) {
      size_t ncap = cap ? cap * 2 : 16384;
      char *nt = realloc(text, ncap);
      if (!nt) {
        free(text);
        fclose(fp);
        return dc_fail(DC_ERR_NOMEM, "%s: out of memory reading the file", path);
      }
      text = nt;
      cap = ncap;
    }
    size_t got = fread(text + len, 1, cap - len - 1, fp);
    len += got;
    if (got == 0) break;
  }
  if (ferror(fp)) {
    int err = errno;
    free(text);
    fclose(fp);
    return dc_fail(DC_ERR_IO, "%s: read error: %s", path, strerror(err));
  }
  fclose(fp);
  text[len] = '\0';
  /* A NUL would silently end the text early; say where it is instead. */
  const char *nul = memchr(text, '\0', len);
  if (nul) {
    int line = 1;
    for (const char *q = text; q < nul; q++) line += *q == '\n';
    free(text);
    return dc_fail(DC_ERR_CFG, "%s:%d: NUL byte in the text (not a text file?)", path, line);
  }
  dc_status st = dc_cfg_parse(text, path, out);
  free(text);
  return st;
}

/* ---------------------------------------------------------------- overrides */

/* Split "section.key=value" into its parts (copies in sec/key, value points into arg).
 * Returns 0 and records DC_ERR_ARG with a one-line reason on bad syntax. */
static int split_override(const char *arg, char *sec, char *key, size_t cap, const char **value) {
  const char *dot = strchr(arg, '.'), *eq = strchr(arg, '=');
  char shown[16];
  for (const char *p = arg; *p; p++) /* a value is one line, as in a file (and so is the message) */
    if ((unsigned char)*p < 0x20 && *p != '\t') {
      show_char(*p, shown);
      dc_fail(DC_ERR_ARG, "--set %.*s...: control character %s (expected section.key=value on one line)",
              (int)(p - arg > 200 ? 200 : p - arg), arg, shown);
      return 0;
    }
  if (!dot || !eq || dot > eq || dot == arg || eq == dot + 1) {
    dc_fail(DC_ERR_ARG, "--set %s: expected section.key=value (e.g. --set solver.max_iter=20)", arg);
    return 0;
  }
  size_t ls = (size_t)(dot - arg), lk = (size_t)(eq - dot - 1);
  if (ls >= cap || lk >= cap) {
    dc_fail(DC_ERR_ARG, "--set %.80s...: section or key too long", arg);
    return 0;
  }
  memcpy(sec, arg, ls);
  sec[ls] = '\0';
  memcpy(key, dot + 1, lk);
  key[lk] = '\0';
  const char *bad = bad_name_char(sec, 0);
  if (bad) {
    show_char(*bad, shown);
    dc_fail(DC_ERR_ARG, "--set %s: bad character %s in section name '%s' (use a-z 0-9 _ / -)", arg, shown, sec);
    return 0;
  }
  bad = bad_name_char(key, 1);
  if (bad) {
    show_char(*bad, shown);
    dc_fail(DC_ERR_ARG, "--set %s: bad character %s in key '%s' (use A-Z a-z 0-9 _ . / -)", arg, shown, key);
    return 0;
  }
  *value = eq + 1;
  return 1;
}

dc_status dc_cfg_override_check(const char *arg) {
  char sec[256], key[256];
  const char *value;
  return split_override(arg, sec, key, sizeof sec, &value) ? DC_OK : DC_ERR_ARG;
}

dc_status dc_cfg_override(dc_cfg *c, const char *arg) {
  DC_ASSERT(c != NULL && arg != NULL);
  char sec[256], key[256];
  const char *raw;
  if (!split_override(arg, sec, key, sizeof sec, &raw)) return DC_ERR_ARG;
  char *value = dup_str(raw), *origin = dup_str(arg);
  if (!value || !origin) {
    free(value);
    free(origin);
    return dc_fail(DC_ERR_NOMEM, "--set %s: out of memory", arg);
  }
  char *v = trim(value);
  memmove(value, v, strlen(v) + 1);
  dc_cfg_section *s = dc_cfg_find(c, sec);
  if (!s) { /* a section the file lacks: append it, as if after the file's last line */
    dc_status st = add_section(c, sec, 0);
    if (st != DC_OK) {
      free(value);
      free(origin);
      return st;
    }
    s = &c->sections[c->n - 1];
    s->origin = dup_str(arg);
    if (!s->origin) {
      free(value);
      free(origin);
      return dc_fail(DC_ERR_NOMEM, "--set %s: out of memory", arg);
    }
  }
  cfg_entry *e = find_entry(s, key);
  if (!e) {
    dc_status st = add_entry(c, s, key, value, 0);
    if (st != DC_OK) {
      free(value);
      free(origin);
      return st;
    }
    e = &s->entries[s->n - 1];
  }
  free(e->value);
  e->value = value;
  free(e->origin);
  e->origin = origin; /* a later --set of the same key replaces an earlier one */
  e->used = 0;
  return DC_OK;
}

void dc_cfg_free(dc_cfg *c) {
  if (!c) return;
  for (int i = 0; i < c->n; i++) {
    dc_cfg_section *s = &c->sections[i];
    for (int j = 0; j < s->n; j++) {
      free(s->entries[j].key);
      free(s->entries[j].value);
      free(s->entries[j].origin);
    }
    for (int j = 0; j < s->nknown; j++) free(s->known[j]);
    free(s->entries);
    free(s->known);
    free(s->name);
    free(s->origin);
  }
  free(c->sections);
  free(c->name);
  free(c);
}

/* ---------------------------------------------------------------- navigation */

const char *dc_cfg_name(const dc_cfg *c) { return c->name; }
int dc_cfg_count(const dc_cfg *c) { return c->n; }

dc_cfg_section *dc_cfg_at(dc_cfg *c, int i) {
  DC_ASSERT(i >= 0 && i < c->n);
  return &c->sections[i];
}

dc_cfg_section *dc_cfg_find(dc_cfg *c, const char *section) {
  for (int i = 0; i < c->n; i++)
    if (strcmp(c->sections[i].name, section) == 0) return &c->sections[i];
  return NULL;
}

const char *dc_cfg_section_name(const dc_cfg_section *s) { return s->name; }
int dc_cfg_section_line(const dc_cfg_section *s) { return s->origin ? 0 : s->line; }

/* Where an entry (or, e NULL, the section header) comes from, for messages:
 * "FILE:LINE", or "--set ARG" for what a command-line override wrote. */
#define LOC_CAP 1200
static const char *where(const dc_cfg_section *s, const cfg_entry *e, char buf[LOC_CAP]) {
  const char *origin = e ? e->origin : s->origin;
  if (origin)
    snprintf(buf, LOC_CAP, "--set %s", origin);
  else
    snprintf(buf, LOC_CAP, "%s:%d", s->cfg->name, e ? e->line : s->line);
  return buf;
}

/* ---------------------------------------------------------------- known / used */

/* Remember `key` as a hint candidate. Running out of memory here only costs a hint,
 * so it is not an error. */
static void mark_known(dc_cfg_section *s, const char *key) {
  for (int i = 0; i < s->nknown; i++)
    if (strcmp(s->known[i], key) == 0) return;
  if (s->nknown == s->capknown) {
    int cap = s->capknown ? s->capknown * 2 : 16;
    char **nk = realloc(s->known, (size_t)cap * sizeof *nk);
    if (!nk) return;
    s->known = nk;
    s->capknown = cap;
  }
  char *copy = dup_str(key);
  if (copy) s->known[s->nknown++] = copy;
}

/* Mark known; when present mark used and return the entry. */
static cfg_entry *lookup(dc_cfg_section *s, const char *key) {
  DC_ASSERT(s != NULL && key != NULL);
  mark_known(s, key);
  cfg_entry *e = find_entry(s, key);
  if (e) e->used = 1;
  return e;
}

static dc_status value_error(const dc_cfg_section *s, const cfg_entry *e, const char *expected) {
  char at[LOC_CAP];
  return dc_fail(DC_ERR_CFG, "%s: [%s] %s: expected %s, got '%s'", where(s, e, at), s->name, e->key, expected,
                 e->value);
}

/* ---------------------------------------------------------------- value syntax */

static int parse_long(const char *v, long *out) {
  if (*v == '\0' || isspace((unsigned char)*v)) return 0;
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (end == v || *end != '\0' || errno == ERANGE) return 0;
  *out = x;
  return 1;
}

static int parse_double(const char *v, double *out) {
  if (*v == '\0' || isspace((unsigned char)*v)) return 0;
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (end == v || *end != '\0' || !isfinite(x)) return 0;
  *out = x;
  return 1;
}

/* ---------------------------------------------------------------- getters */

dc_status dc_cfg_int_range(dc_cfg_section *s, const char *key, long def, long min, long max, long *out) {
  DC_ASSERT(min <= max);
  const cfg_entry *e = lookup(s, key);
  if (!e) {
    *out = def;
    return DC_OK;
  }
  long x;
  if (parse_long(e->value, &x) && x >= min && x <= max) {
    *out = x;
    return DC_OK;
  }
  char what[96];
  if (min == LONG_MIN && max == LONG_MAX)
    snprintf(what, sizeof what, "an integer");
  else if (min == 1 && max == LONG_MAX)
    snprintf(what, sizeof what, "a positive integer");
  else if (min == 0 && max == LONG_MAX)
    snprintf(what, sizeof what, "a non-negative integer");
  else if (max == LONG_MAX)
    snprintf(what, sizeof what, "an integer >= %ld", min);
  else if (min == LONG_MIN)
    snprintf(what, sizeof what, "an integer <= %ld", max);
  else
    snprintf(what, sizeof what, "an integer in [%ld, %ld]", min, max);
  return value_error(s, e, what);
}

dc_status dc_cfg_int(dc_cfg_section *s, const char *key, long def, long *out) {
  return dc_cfg_int_range(s, key, def, LONG_MIN, LONG_MAX, out);
}

/* Shared by the float getters: `what` names the accepted set for the message. */
static dc_status get_float(dc_cfg_section *s, const char *key, double def, double min, double max, int exclusive_min,
                           const char *what, double *out) {
  const cfg_entry *e = lookup(s, key);
  if (!e) {
    *out = def;
    return DC_OK;
  }
  double x;
  if (parse_double(e->value, &x) && (exclusive_min ? x > min : x >= min) && x <= max) {
    *out = x;
    return DC_OK;
  }
  return value_error(s, e, what);
}

dc_status dc_cfg_float_range(dc_cfg_section *s, const char *key, double def, double min, double max, double *out) {
  DC_ASSERT(!isnan(min) && !isnan(max) && min <= max);
  char what[96];
  int lo = isfinite(min), hi = isfinite(max);
  if (lo && hi)
    snprintf(what, sizeof what, "a number in [%g, %g]", min, max);
  else if (lo)
    snprintf(what, sizeof what, "a number >= %g", min);
  else if (hi)
    snprintf(what, sizeof what, "a number <= %g", max);
  else
    snprintf(what, sizeof what, "a finite number");
  return get_float(s, key, def, min, max, 0, what, out);
}

dc_status dc_cfg_float(dc_cfg_section *s, const char *key, double def, double *out) {
  return get_float(s, key, def, -HUGE_VAL, HUGE_VAL, 0, "a finite number", out);
}

dc_status dc_cfg_float_pos(dc_cfg_section *s, const char *key, double def, double *out) {
  return get_float(s, key, def, 0.0, HUGE_VAL, 1, "a positive number", out);
}

dc_status dc_cfg_str(dc_cfg_section *s, const char *key, const char *def, const char **out) {
  const cfg_entry *e = lookup(s, key);
  *out = e ? e->value : def;
  return DC_OK;
}

dc_status dc_cfg_bool(dc_cfg_section *s, const char *key, int def, int *out) {
  static const char *const yes[] = {"1", "true", "yes", "on"};
  static const char *const no[] = {"0", "false", "no", "off"};
  const cfg_entry *e = lookup(s, key);
  if (!e) {
    *out = def;
    return DC_OK;
  }
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(e->value, yes[i]) == 0) {
      *out = 1;
      return DC_OK;
    }
    if (strcasecmp(e->value, no[i]) == 0) {
      *out = 0;
      return DC_OK;
    }
  }
  return value_error(s, e, "a boolean (1/0, true/false, yes/no, on/off)");
}

dc_status dc_cfg_enum(dc_cfg_section *s, const char *key, const char *const *choices, int n, int def, int *out) {
  DC_ASSERT(n > 0 && choices != NULL);
  const cfg_entry *e = lookup(s, key);
  if (!e) {
    *out = def;
    return DC_OK;
  }
  for (int i = 0; i < n; i++) {
    if (strcmp(e->value, choices[i]) == 0) {
      *out = i;
      return DC_OK;
    }
  }
  char list[512];
  size_t used = 0;
  list[0] = '\0';
  for (int i = 0; i < n && used < sizeof list; i++) {
    int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", choices[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  const char *hint = dc_closest(e->value, choices, n);
  char at[LOC_CAP];
  return dc_fail(DC_ERR_CFG, "%s: [%s] %s: expected one of: %s; got '%s'%s%s%s", where(s, e, at), s->name, e->key, list,
                 e->value, hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
}

dc_status dc_cfg_float_list(dc_cfg_section *s, const char *key, double *out, int max, int *count) {
  DC_ASSERT(max >= 0 && count != NULL);
  const cfg_entry *e = lookup(s, key);
  *count = 0;
  if (!e || e->value[0] == '\0') return DC_OK;
  char *copy = dup_str(e->value);
  if (!copy) return dc_fail(DC_ERR_NOMEM, "%s: out of memory", s->cfg->name);
  int k = 0;
  dc_status st = DC_OK;
  char *item = copy;
  for (;;) {
    char *comma = strchr(item, ',');
    if (comma) *comma = '\0';
    char *t = trim(item);
    double x;
    if (*t == '\0') {
      char what[96];
      snprintf(what, sizeof what, "a comma-separated list of numbers (item %d is empty)", k + 1);
      st = value_error(s, e, what);
      break;
    }
    if (!parse_double(t, &x)) {
      char what[160];
      snprintf(what, sizeof what, "a comma-separated list of numbers (item %d '%.60s' is not a finite number)", k + 1,
               t);
      st = value_error(s, e, what);
      break;
    }
    if (k < max) out[k] = x;
    k++;
    if (!comma) break;
    item = comma + 1;
  }
  free(copy);
  if (st != DC_OK) return st;
  if (k > max) {
    char what[96];
    snprintf(what, sizeof what, "at most %d number%s (got %d)", max, max == 1 ? "" : "s", k);
    return value_error(s, e, what);
  }
  *count = k;
  return DC_OK;
}

dc_status dc_cfg_fraction(dc_cfg_section *s, const char *key, double def, double *out) {
  const cfg_entry *e = lookup(s, key);
  if (!e) {
    *out = def;
    return DC_OK;
  }
  size_t n = strlen(e->value);
  int ok = 0;
  double x = 0;
  if (n > 0 && e->value[n - 1] == '%') {
    char *copy = dup_str(e->value);
    if (!copy) return dc_fail(DC_ERR_NOMEM, "%s: out of memory", s->cfg->name);
    copy[n - 1] = '\0';
    ok = parse_double(trim(copy), &x);
    x /= 100.0;
    free(copy);
  } else {
    ok = parse_double(e->value, &x);
  }
  if (ok && x >= 0.0 && x <= 1.0) {
    *out = x;
    return DC_OK;
  }
  return value_error(s, e, "a fraction in [0, 1] or a percentage in [0%, 100%]");
}

dc_status dc_cfg_require(dc_cfg_section *s, const char *key) {
  DC_ASSERT(s != NULL && key != NULL);
  mark_known(s, key);
  if (find_entry(s, key)) return DC_OK;
  char at[LOC_CAP];
  return dc_fail(DC_ERR_CFG, "%s: [%s] missing required key '%s'", where(s, NULL, at), s->name, key);
}

int dc_cfg_has(dc_cfg_section *s, const char *key) {
  DC_ASSERT(s != NULL && key != NULL);
  mark_known(s, key);
  return find_entry(s, key) != NULL;
}

/* ---------------------------------------------------------------- raw access */

int dc_cfg_key_count(const dc_cfg_section *s) { return s->n; }

void dc_cfg_key_at(const dc_cfg_section *s, int i, const char **key, const char **value, int *line) {
  DC_ASSERT(i >= 0 && i < s->n);
  if (key) *key = s->entries[i].key;
  if (value) *value = s->entries[i].value;
  if (line) *line = s->entries[i].line;
}

void dc_cfg_mark_used(dc_cfg_section *s, const char *key) { (void)lookup(s, key); }

dc_status dc_cfg_key_error(const dc_cfg_section *s, const char *key, const char *fmt, ...) {
  const cfg_entry *e = find_entry(s, key);
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char at[LOC_CAP];
  return dc_fail(DC_ERR_CFG, "%s: [%s] %s: %s", where(s, e, at), s->name, key, msg);
}

dc_status dc_cfg_section_error(const dc_cfg_section *s, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char at[LOC_CAP];
  return dc_fail(DC_ERR_CFG, "%s: [%s] %s", where(s, NULL, at), s->name, msg);
}

/* ---------------------------------------------------------------- did you mean */

int dc_edit_distance(const char *a, const char *b) {
  size_t m = strlen(a), n = strlen(b);
  /* Three rolling rows of the DP table (row i-2 is needed for transpositions). */
  int *rows = malloc(3 * (n + 1) * sizeof *rows);
  if (!rows) return (int)(m > n ? m : n); /* "far": costs a hint, nothing else */
  int *prev2 = rows, *prev = rows + (n + 1), *cur = rows + 2 * (n + 1);
  for (size_t j = 0; j <= n; j++) prev[j] = (int)j;
  for (size_t i = 1; i <= m; i++) {
    cur[0] = (int)i;
    for (size_t j = 1; j <= n; j++) {
      int cost = a[i - 1] != b[j - 1];
      int v = prev[j] + 1;
      if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
      if (prev[j - 1] + cost < v) v = prev[j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v) v = prev2[j - 2] + 1;
      cur[j] = v;
    }
    int *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  int d = prev[n];
  free(rows);
  return d;
}

static const char *closest(const char *word, const char *const *cands, int n, int skip_equal) {
  size_t wl = strlen(word);
  int limit = (int)(wl / 3 > 2 ? wl / 3 : 2);
  const char *best = NULL;
  int best_d = INT_MAX;
  for (int i = 0; i < n; i++) {
    if (!cands[i] || (skip_equal && strcmp(cands[i], word) == 0)) continue;
    size_t cl = strlen(cands[i]);
    int d = dc_edit_distance(word, cands[i]);
    if (d <= limit && (size_t)d < (wl > cl ? wl : cl) && d < best_d) {
      best = cands[i];
      best_d = d;
    }
  }
  return best;
}

const char *dc_closest(const char *word, const char *const *candidates, int n) {
  return closest(word, candidates, n, 0);
}

dc_status dc_cfg_check_unused(const dc_cfg_section *s) {
  for (int i = 0; i < s->n; i++) {
    const cfg_entry *e = &s->entries[i];
    if (e->used) continue;
    /* A key asked about with dc_cfg_has() but never read is "known" too; never suggest
     * a key as a correction of itself. */
    const char *hint = closest(e->key, (const char *const *)s->known, s->nknown, 1);
    char at[LOC_CAP];
    return dc_fail(DC_ERR_CFG, "%s: [%s] unknown key '%s'%s%s%s", where(s, e, at), s->name, e->key,
                   hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
  }
  return DC_OK;
}
