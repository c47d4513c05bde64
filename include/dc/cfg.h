/* dc/cfg.h — the darknet-style INI parser behind net files (nets/NAME.net), solver
 * files and experiment files (experiments/NAME.cfg).
 *
 * Syntax, one construct per line:
 *   [section]          a header; sections may repeat and keep file order (a net file
 *                      is a list of layer sections)
 *   key = value        value runs to the end of the line (it may contain '='), trimmed
 *   # text / ; text    a comment: at the start of a line, or after whitespace
 *                      anywhere on it ("lr = 0.1   # per step")
 *   (blank line)
 * Section names use [a-z0-9_./-]. Keys use [A-Za-z0-9_./-] and are case-sensitive
 * (upper case is allowed so a key can be a layer name, e.g. a prune schedule
 * `ip1 = 8%`; `Base_lr` is then simply an unknown key with a hint).
 * Syntax errors are reported as "FILE:LINE: message".
 *
 * Reading a section: each typed getter marks its key as *known* (a candidate for
 * "did you mean" hints) and, when present, as *used*. Once a section is read,
 * dc_cfg_check_unused() rejects the first key nothing read, so a typo never becomes a
 * silent default:  "net.cfg:7: [solver] unknown key 'base_lrr' (did you mean 'base_lr'?)".
 * Value errors read "FILE:LINE: [section] key: expected ..., got 'VALUE'".
 *
 * A dc_cfg owns every string it hands out; they stay valid until dc_cfg_free(). */
#ifndef DC_CFG_H
#define DC_CFG_H

#include "dc/error.h"

typedef struct dc_cfg dc_cfg;                 /* a parsed file; owns all strings */
typedef struct dc_cfg_section dc_cfg_section; /* one [section]; owned by its dc_cfg */

/* Read and parse the file at `path` (the path is used as FILE in messages).
 * On success *out is a new dc_cfg the caller frees with dc_cfg_free(); on failure
 * *out = NULL: DC_ERR_IO "PATH: cannot open: <strerror>" or DC_ERR_CFG for syntax. */
dc_status dc_cfg_load(const char *path, dc_cfg **out);
/* Parse NUL-terminated `text`; `name` (copied; NULL → "<string>") is FILE in messages.
 * Ownership as dc_cfg_load(). */
dc_status dc_cfg_parse(const char *text, const char *name, dc_cfg **out);
/* Free `c` and every string and section it handed out. NULL is fine. */
void dc_cfg_free(dc_cfg *c);
/* Remove the comments from NUL-terminated `text` in place: each line's comment (a '#'
 * or ';' at the start or after whitespace, as the parser reads it) and the whitespace
 * before it; a line left empty by that goes entirely (the first line stays, empty:
 * a byte-order mark counts only there). What the parser reads is unchanged (but for
 * line numbers). The .dcz model section stores a net this way. */
void dc_cfg_strip_comments(char *text);

/* ---- command-line overrides ----
 * dc_cfg_override(c, "solver.max_iter=20") sets key max_iter of the first [solver]
 * section to "20" (trimmed), replacing the file's value, adding the key, or adding the
 * section when the file has none (at the end; dc_cfg_section_line() is then 0). Later
 * overrides of the same key replace earlier ones. The entry is read by the getters like
 * any other, so an unknown key or a bad value gives the file's messages with
 * "--set solver.max_iter=20" where FILE:LINE would be:
 *   "--set solver.max_iterr=20: [solver] unknown key 'max_iterr' (did you mean 'max_iter'?)".
 * Call right after parsing, before reading the cfg (it may move sections and values).
 * Bad syntax (no '.', no '=', empty section or key, characters a file would reject):
 * DC_ERR_ARG "--set ARG: expected section.key=value ...". */
dc_status dc_cfg_override(dc_cfg *c, const char *arg);
/* Only the syntax check of dc_cfg_override (for command-line parsing). */
dc_status dc_cfg_override_check(const char *arg);

/* The FILE name given at load/parse time. Owned by c. */
const char *dc_cfg_name(const dc_cfg *c);
/* Number of sections, in file order. */
int dc_cfg_count(const dc_cfg *c);
/* Section i, 0 <= i < dc_cfg_count(c). Owned by c. */
dc_cfg_section *dc_cfg_at(dc_cfg *c, int i);
/* First section called `section`, or NULL. */
dc_cfg_section *dc_cfg_find(dc_cfg *c, const char *section);
/* Header name without brackets, and the 1-based line of its header (0 for a section
 * created by dc_cfg_override). */
const char *dc_cfg_section_name(const dc_cfg_section *s);
int dc_cfg_section_line(const dc_cfg_section *s);

/* ---- typed getters ----
 * All: absent key → *out = def, DC_OK. Present and valid → *out = value, DC_OK.
 * Present but bad → DC_ERR_CFG "FILE:LINE: [section] key: expected ..., got 'v'"
 * and *out is left untouched. Each marks `key` known, and used when present. */

/* A base-10 integer (optional sign; no fraction, exponent or trailing text). */
dc_status dc_cfg_int(dc_cfg_section *s, const char *key, long def, long *out);
/* An integer in [min, max]. Message wording follows the bounds: "a positive integer"
 * (min 1, max LONG_MAX), "a non-negative integer" (min 0, max LONG_MAX), else
 * "an integer in [1, 8]". */
dc_status dc_cfg_int_range(dc_cfg_section *s, const char *key, long def, long min, long max, long *out);
/* A finite number (strtod syntax; nan and inf are rejected). */
dc_status dc_cfg_float(dc_cfg_section *s, const char *key, double def, double *out);
/* A finite number in [min, max]; an infinite bound means "no bound on that side"
 * ("a number >= 0", "a number in [0, 1]"). */
dc_status dc_cfg_float_range(dc_cfg_section *s, const char *key, double def, double min, double max, double *out);
/* A finite number > 0 ("a positive number"), e.g. a learning rate. */
dc_status dc_cfg_float_pos(dc_cfg_section *s, const char *key, double def, double *out);
/* The trimmed value as is (may be ""). *out points into c (or is def). */
dc_status dc_cfg_str(dc_cfg_section *s, const char *key, const char *def, const char **out);
/* 1/0, true/false, yes/no, on/off (case-insensitive) → 1 or 0. */
dc_status dc_cfg_bool(dc_cfg_section *s, const char *key, int def, int *out);
/* The value must equal one of choices[0..n) exactly; *out = its index. Otherwise
 * "expected one of: fixed, step, inv; got 'stpe' (did you mean 'step'?)". */
dc_status dc_cfg_enum(dc_cfg_section *s, const char *key, const char *const *choices, int n, int def, int *out);
/* A comma-separated list of finite numbers ("0.1, 0.01,1e-3"), at most `max`, into
 * out[0..*count). Absent or empty value → *count = 0. Empty items ("1,,2") and more
 * than `max` items are errors. */
dc_status dc_cfg_float_list(dc_cfg_section *s, const char *key, double *out, int max, int *count);
/* A fraction in [0, 1], written as "0.08" or as a percentage "8%" (→ 0.08). */
dc_status dc_cfg_fraction(dc_cfg_section *s, const char *key, double def, double *out);

/* A key that must be present: absent → DC_ERR_CFG
 * "FILE:LINE: [conv] missing required key 'num_output'" (LINE of the section header).
 * Marks it known (not used: read it with a getter afterwards). */
dc_status dc_cfg_require(dc_cfg_section *s, const char *key);
/* 1 if `key` is present, else 0. Marks it known (not used). */
int dc_cfg_has(dc_cfg_section *s, const char *key);

/* ---- raw access, for sections whose keys are data (e.g. layer names) ---- */
/* Number of key = value entries, in file order. */
int dc_cfg_key_count(const dc_cfg_section *s);
/* Entry i (0 <= i < count): key, value (owned by the cfg) and 1-based line. Any of the
 * out pointers may be NULL. Does not mark anything. */
void dc_cfg_key_at(const dc_cfg_section *s, int i, const char **key, const char **value, int *line);
/* Mark `key` known and, when present, used (for keys read through dc_cfg_key_at). */
void dc_cfg_mark_used(dc_cfg_section *s, const char *key);

/* Record "FILE:LINE: [section] key: <msg>" (LINE of `key`, or of the section header
 * when the key is absent) and return DC_ERR_CFG. For checks the getters cannot do,
 * e.g. "must be smaller than kernel_size". */
dc_status dc_cfg_key_error(const dc_cfg_section *s, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Record "FILE:LINE: [section] <msg>" (LINE of the header) and return DC_ERR_CFG, e.g.
 * "unknown layer type (did you mean 'conv'?)". */
dc_status dc_cfg_section_error(const dc_cfg_section *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Call after a section has been fully read: the first entry (file order) that no getter
 * or dc_cfg_mark_used() touched → DC_ERR_CFG
 * "FILE:LINE: [solver] unknown key 'base_lrr' (did you mean 'base_lr'?)", the hint being
 * dc_closest() over the section's known keys (no hint when none is close). */
dc_status dc_cfg_check_unused(const dc_cfg_section *s);

/* The candidate closest to `word` by edit distance (Levenshtein plus adjacent
 * transposition, so "stpe" is 1 from "step"), or NULL when none is close enough:
 * distance <= max(2, strlen(word)/3), and smaller than the longer of the two lengths
 * (so "ab" never suggests "cd"). Ties go to the earliest candidate; NULL candidates are
 * skipped. Returns one of the candidate pointers. */
const char *dc_closest(const char *word, const char *const *candidates, int n);
/* The edit distance dc_closest() uses (optimal string alignment). */
int dc_edit_distance(const char *a, const char *b);

#endif
