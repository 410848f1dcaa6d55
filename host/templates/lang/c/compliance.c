// {{name}}: a switchboard compliance check (world `{{world}}`), in C.
//
// The host calls `configure` once per instance with the JSON configuration
// (already validated against `config_schema` in manifest.json), then `check`
// for every draft reply an agent is about to send.
//
// The rule: for each phrase of `banned_phrases` that the draft contains
// (anywhere; letters A-Z match either case, other characters exactly), one
// finding naming the phrase, with the span of its first occurrence. A draft
// with findings gets the configured `verdict`; a clean one is approved.
//
// WIT in C (wit-bindgen): `{{world_snake}}.h`, generated from wit/ into
// build/bindings/, declares the types and the functions to implement.
// - An export owns its arguments and must free them (`..._free`).
// - Everything it returns must be heap memory (`compliance_check_string_dup`,
//   `malloc`): the generated post-return function frees it once the host has
//   copied it. Strings passed to an import (the log) are only borrowed.
// - A `result` error is returned by filling `err` and returning false.
// - `abort()` traps: the host then applies the slot's fail policy.
// - Strings are UTF-8 bytes, not NUL-terminated; spans count characters
//   (Unicode scalar values): see `chars`.
// Nothing here touches stdio, files or clocks, so the module imports no WASI:
// its only import is `switchboard:rules/log`.

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "{{world_snake}}.h"

typedef compliance_check_string_t str_t;
typedef exports_switchboard_rules_compliance_finding_t finding_t;

// ---- text: a bounded string builder ---------------------------------------
// (snprintf would pull stdio into the module, and with it WASI imports.)

typedef struct {
  char buf[512];
  size_t len;
} text_t;

// Appends `n` bytes of `s`; what does not fit is dropped, never half a
// UTF-8 character (the host rejects strings that are not valid UTF-8).
static void put(text_t *t, const char *s, size_t n) {
  size_t room = sizeof t->buf - 1 - t->len;
  if (n > room) {
    n = room;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  memcpy(t->buf + t->len, s, n);
  t->len += n;
  t->buf[t->len] = 0;
}

// Appends the NUL-terminated strings given, up to a NULL:
// add(&t, "queue ", name, NULL).
static void add(text_t *t, ...) {
  va_list args;
  va_start(args, t);
  for (const char *s = va_arg(args, const char *); s != NULL; s = va_arg(args, const char *)) put(t, s, strlen(s));
  va_end(args);
}

// Appends `v` in decimal.
static void add_number(text_t *t, uint64_t v) {
  char digits[20];
  size_t n = 0;
  do digits[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
  while (n > 0) put(t, &digits[--n], 1);
}

// ---- json: a minimal reader for the configuration -------------------------
// The host validated the configuration against the manifest's JSON Schema
// and re-serialized it compactly, but every read is still checked: a bad
// configuration must come back as an error, never a trap.

typedef struct {
  const char *p, *end;
  const char *error; // the first problem found, or NULL
} json_t;

static bool json_fail(json_t *j, const char *why) {
  if (!j->error) j->error = why;
  return false;
}

static void json_ws(json_t *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

// Consumes `c` if it comes next (after whitespace).
static bool json_eat(json_t *j, char c) {
  json_ws(j);
  if (j->p < j->end && *j->p == c) {
    j->p++;
    return true;
  }
  return false;
}

static bool json_string_fail(json_t *j, char *s, const char *why) {
  free(s);
  return json_fail(j, why);
}

static int hex_digit(char h) {
  if (h >= '0' && h <= '9') return h - '0';
  if (h >= 'a' && h <= 'f') return h - 'a' + 10;
  if (h >= 'A' && h <= 'F') return h - 'A' + 10;
  return -1;
}

// A string, unescaped into a new NUL-terminated buffer (free it). The host
// writes every character as is except `"`, `\` and control characters, so
// only \u escapes from \u0001 to \u007f are supported.
static bool json_string(json_t *j, char **out) {
  if (!json_eat(j, '"')) return json_fail(j, "expected a string");
  char *s = malloc((size_t)(j->end - j->p) + 1); // unescaped is never longer
  if (!s) abort();
  size_t n = 0;
  while (j->p < j->end && *j->p != '"') {
    char c = *j->p++;
    if (c == '\\' && j->p < j->end) {
      c = *j->p++;
      const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
      const char *k = c ? strchr(from, c) : NULL;
      if (k) {
        c = to[k - from];
      } else if (c == 'u' && j->end - j->p >= 4) {
        int v = 0;
        for (int i = 0; i < 4; i++) {
          int d = hex_digit(*j->p++);
          v = d < 0 ? 0x10000 : v * 16 + d;
        }
        if (v < 1 || v > 0x7f) return json_string_fail(j, s, "unsupported \\u escape in a string");
        c = (char)v;
      } else {
        return json_string_fail(j, s, "bad escape in a string");
      }
    }
    s[n++] = c;
  }
  if (!json_eat(j, '"')) return json_string_fail(j, s, "unterminated string");
  s[n] = 0;
  *out = s;
  return true;
}

// Steps through an object: `while (json_member(&j, &first, key, sizeof key))`
// with `first = true`; stops at the closing brace or at an error. Keys longer
// than the buffer are cut (and so match no field).
static bool json_member(json_t *j, bool *first, char *key, size_t size) {
  if (*first) {
    *first = false;
    if (!json_eat(j, '{')) return json_fail(j, "expected an object");
    if (json_eat(j, '}')) return false;
  } else if (json_eat(j, '}')) {
    return false;
  } else if (!json_eat(j, ',')) {
    return json_fail(j, "expected , or }");
  }
  char *k;
  if (!json_string(j, &k)) return false;
  strncpy(key, k, size - 1);
  key[size - 1] = 0;
  free(k);
  return json_eat(j, ':') || json_fail(j, "expected :");
}

// Steps through an array, like json_member.
static bool json_item(json_t *j, bool *first) {
  if (*first) {
    *first = false;
    if (!json_eat(j, '[')) return json_fail(j, "expected an array");
    return !json_eat(j, ']');
  }
  if (json_eat(j, ']')) return false;
  return json_eat(j, ',') || json_fail(j, "expected , or ]");
}

// ---- configuration -------------------------------------------------------

#define MAX_PHRASES 256

// The configuration, set by `configure`; `ready` is false until one succeeds.
// Each phrase is kept as configured (for messages) and lower-cased (for matching).
static struct {
  bool ready;
  char *phrases[MAX_PHRASES];
  char *lower[MAX_PHRASES];
  size_t n_phrases;
  exports_switchboard_rules_compliance_verdict_t verdict;
} config;

static void config_clear(void) {
  for (size_t i = 0; i < config.n_phrases; i++) {
    free(config.phrases[i]);
    free(config.lower[i]);
  }
  memset(&config, 0, sizeof config);
}

// Lower-cases A-Z only: every other byte stays as it is, at its place.
static void ascii_lower(char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] >= 'A' && s[i] <= 'Z') s[i] = (char)(s[i] - 'A' + 'a');
}

// The verdict named `name` in the configuration.
static bool verdict_named(const char *name, exports_switchboard_rules_compliance_verdict_t *out) {
  if (strcmp(name, "revise") == 0) *out = EXPORTS_SWITCHBOARD_RULES_COMPLIANCE_VERDICT_REVISE;
  else if (strcmp(name, "needs-approval") == 0) *out = EXPORTS_SWITCHBOARD_RULES_COMPLIANCE_VERDICT_NEEDS_APPROVAL;
  else if (strcmp(name, "block") == 0) *out = EXPORTS_SWITCHBOARD_RULES_COMPLIANCE_VERDICT_BLOCK;
  else return false;
  return true;
}

// Reads the configuration into `config`; on a problem, says what in `why`.
static bool config_read(json_t *j, text_t *why) {
  bool first = true, have_phrases = false, have_verdict = false;
  char key[32];
  while (json_member(j, &first, key, sizeof key)) {
    if (strcmp(key, "banned_phrases") == 0) {
      bool first_phrase = true;
      have_phrases = true;
      while (json_item(j, &first_phrase)) {
        char *phrase;
        if (config.n_phrases == MAX_PHRASES) json_fail(j, "too many phrases");
        if (j->error || !json_string(j, &phrase)) break;
        char *lower = strdup(phrase);
        if (!lower) abort();
        ascii_lower(lower, strlen(lower));
        config.phrases[config.n_phrases] = phrase;
        config.lower[config.n_phrases++] = lower;
        if (phrase[0] == 0) json_fail(j, "empty phrase");
      }
    } else if (strcmp(key, "verdict") == 0) {
      char *name;
      if (json_string(j, &name)) {
        have_verdict = verdict_named(name, &config.verdict);
        if (!have_verdict) json_fail(j, "must be one of revise, needs-approval, block");
        free(name);
      }
    } else {
      add(why, "unknown field ", key, NULL);
      return false;
    }
    if (j->error) {
      add(why, key, ": ", j->error, NULL);
      return false;
    }
  }
  if (j->error) {
    add(why, j->error, NULL);
    return false;
  }
  const char *missing = !have_phrases ? "banned_phrases" : !have_verdict ? "verdict" : NULL;
  if (missing) {
    add(why, "missing field ", missing, NULL);
    return false;
  }
  return true;
}

bool exports_switchboard_rules_compliance_configure(str_t *json, str_t *err) {
  config_clear(); // a failed configure leaves no old configuration behind
  json_t j = {(const char *)json->ptr, (const char *)json->ptr + json->len, NULL};
  text_t why = {0};
  config.ready = config_read(&j, &why);
  compliance_check_string_free(json);
  if (!config.ready) {
    config_clear();
    text_t message = {0};
    add(&message, "{{name}}: invalid configuration: ", why.buf, NULL);
    compliance_check_string_dup(err, message.buf);
    return false;
  }
  return true;
}

// ---- check ---------------------------------------------------------------

// The number of characters in the first `n` bytes of UTF-8 text `s`: every
// byte that does not continue a character starts one.
static uint32_t chars(const char *s, size_t n) {
  uint32_t count = 0;
  for (size_t i = 0; i < n; i++) count += ((unsigned char)s[i] & 0xC0) != 0x80;
  return count;
}

bool exports_switchboard_rules_compliance_check(exports_switchboard_rules_compliance_draft_t *draft,
                                                exports_switchboard_rules_compliance_compliance_result_t *ret,
                                                str_t *err) {
  if (!config.ready) {
    compliance_check_string_dup(err, "{{name}}: check called before configure");
    exports_switchboard_rules_compliance_draft_free(draft);
    return false;
  }
  // A lower-cased copy of the draft: A-Z only, so every byte stays in place.
  size_t len = draft->text.len;
  char *text = malloc(len + 1);
  if (!text) abort();
  memcpy(text, draft->text.ptr, len);
  ascii_lower(text, len);

  // No findings, no redaction, approve, unless a phrase is found.
  memset(ret, 0, sizeof *ret);
  ret->verdict = EXPORTS_SWITCHBOARD_RULES_COMPLIANCE_VERDICT_APPROVE;
  finding_t *findings = calloc(config.n_phrases + 1, sizeof *findings);
  if (!findings) abort();
  size_t n = 0;
  for (size_t p = 0; p < config.n_phrases; p++) {
    const char *lower = config.lower[p];
    size_t plen = strlen(lower);
    for (size_t at = 0; at + plen <= len; at++) {
      if (memcmp(text + at, lower, plen) != 0) continue;
      // Found (the first occurrence): one finding, with the span in characters.
      text_t message = {0};
      add(&message, "\"", config.phrases[p], "\" must not be sent to customers", NULL);
      finding_t *f = &findings[n++];
      compliance_check_string_dup(&f->rule_id, "banned-phrase");
      f->severity = EXPORTS_SWITCHBOARD_RULES_COMPLIANCE_SEVERITY_ERROR;
      compliance_check_string_dup(&f->message, message.buf);
      f->span.is_some = true;
      f->span.val.start = chars(text, at);
      f->span.val.end = f->span.val.start + chars(lower, plen);
      break;
    }
  }
  if (n > 0) {
    ret->verdict = config.verdict;
    ret->findings.ptr = findings;
    ret->findings.len = n;

    // The log import only borrows the line: a stack buffer will do.
    text_t line = {0};
    add(&line, "draft for contact ", NULL);
    put(&line, (const char *)draft->context.contact_id.ptr, draft->context.contact_id.len);
    add(&line, ": ", NULL);
    add_number(&line, n);
    add(&line, " banned phrase(s)", NULL);
    str_t log_line;
    compliance_check_string_set(&log_line, line.buf);
    switchboard_rules_log_log(SWITCHBOARD_RULES_LOG_LEVEL_INFO, &log_line);
  } else {
    free(findings);
  }
  free(text);
  exports_switchboard_rules_compliance_draft_free(draft);
  return true;
}
