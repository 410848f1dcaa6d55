// {{name}}: a switchboard routing policy (world `{{world}}`), in C.
//
// The host calls `configure` once per instance with the JSON configuration
// (already validated against `config_schema` in manifest.json), then `route`
// for every contact that needs a queue.
//
// The rule: a contact whose customer tier is in `vip_tiers` goes to
// `vip_queue`, its priority raised by `vip_priority_bonus`, tagged `vip` and
// given the attribute `segment=vip` (escalation rules and KPI definitions see
// it in `contact.attributes`); everyone else goes to `default_queue` at the
// priority they have. `reason` says which and why.
//
// WIT in C (wit-bindgen): `{{world_snake}}.h`, generated from wit/ into
// build/bindings/, declares the types and the functions to implement.
// - An export owns its arguments and must free them (`..._free`).
// - Everything it returns must be heap memory (`routing_policy_string_dup`,
//   `malloc`): the generated post-return function frees it once the host has
//   copied it. Strings passed to an import (the log) are only borrowed.
// - A `result` error is returned by filling `err` and returning false.
// - `abort()` traps: the host then applies the slot's fail policy.
// Nothing here touches stdio, files or clocks, so the module imports no WASI:
// its only import is `switchboard:rules/log`.

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "{{world_snake}}.h"

typedef routing_policy_string_t str_t;

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

// A number, read without strtod (which would double the module's size):
// exact for the short decimals a configuration holds.
static bool json_number(json_t *j, double *out) {
  json_ws(j);
  bool negative = json_eat(j, '-');
  double mantissa = 0;
  int scale = 0, digits = 0;
  for (; j->p < j->end && *j->p >= '0' && *j->p <= '9'; j->p++, digits++) mantissa = mantissa * 10 + (*j->p - '0');
  if (json_eat(j, '.'))
    for (; j->p < j->end && *j->p >= '0' && *j->p <= '9'; j->p++, digits++, scale--)
      mantissa = mantissa * 10 + (*j->p - '0');
  if (digits == 0) return json_fail(j, "expected a number");
  if (json_eat(j, 'e') || json_eat(j, 'E')) {
    bool minus = json_eat(j, '-');
    if (!minus) json_eat(j, '+');
    int e = 0;
    for (; j->p < j->end && *j->p >= '0' && *j->p <= '9'; j->p++) e = e < 1000 ? e * 10 + (*j->p - '0') : e;
    scale += minus ? -e : e;
  }
  double power = 1;
  for (int i = 0; i < (scale < 0 ? -scale : scale) && i < 400; i++) power *= 10;
  *out = (scale < 0 ? mantissa / power : mantissa * power) * (negative ? -1 : 1);
  return true;
}

// An integer from `min` to `max`.
static bool json_integer(json_t *j, double min, double max, uint32_t *out) {
  double v;
  if (!json_number(j, &v)) return false;
  if (v != (double)(int64_t)v || v < min || v > max) return json_fail(j, "integer out of range");
  *out = (uint32_t)v;
  return true;
}

// ---- configuration -------------------------------------------------------

#define MAX_TIERS 64

// The configuration, set by `configure`; `ready` is false until one succeeds.
static struct {
  bool ready;
  char *default_queue;
  char *vip_queue;
  char *vip_tiers[MAX_TIERS];
  size_t n_vip_tiers;
  uint32_t vip_priority_bonus;
} config;

static void config_clear(void) {
  free(config.default_queue);
  free(config.vip_queue);
  for (size_t i = 0; i < config.n_vip_tiers; i++) free(config.vip_tiers[i]);
  memset(&config, 0, sizeof config);
}

// Reads the configuration into `config`; on a problem, says what in `why`.
static bool config_read(json_t *j, text_t *why) {
  bool first = true, have_tiers = false, have_bonus = false;
  char key[32];
  while (json_member(j, &first, key, sizeof key)) {
    if (strcmp(key, "default_queue") == 0) {
      json_string(j, &config.default_queue);
    } else if (strcmp(key, "vip_queue") == 0) {
      json_string(j, &config.vip_queue);
    } else if (strcmp(key, "vip_tiers") == 0) {
      bool first_tier = true;
      have_tiers = true;
      while (json_item(j, &first_tier)) {
        if (config.n_vip_tiers == MAX_TIERS) json_fail(j, "too many tiers");
        if (j->error || !json_string(j, &config.vip_tiers[config.n_vip_tiers])) break;
        config.n_vip_tiers++;
      }
    } else if (strcmp(key, "vip_priority_bonus") == 0) {
      have_bonus = json_integer(j, 0, 1000, &config.vip_priority_bonus);
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
  const char *missing = !config.default_queue ? "default_queue"
                        : !config.vip_queue   ? "vip_queue"
                        : !have_tiers         ? "vip_tiers"
                        : !have_bonus         ? "vip_priority_bonus"
                                              : NULL;
  if (missing) {
    add(why, "missing field ", missing, NULL);
    return false;
  }
  // What the JSON Schema cannot check.
  if (strcmp(config.vip_queue, config.default_queue) == 0) {
    add(why, "vip_queue and default_queue are both ", config.default_queue,
        ": VIP contacts would not get a queue of their own", NULL);
    return false;
  }
  return true;
}

bool exports_switchboard_rules_routing_configure(str_t *json, str_t *err) {
  config_clear(); // a failed configure leaves no old configuration behind
  json_t j = {(const char *)json->ptr, (const char *)json->ptr + json->len, NULL};
  text_t why = {0};
  config.ready = config_read(&j, &why);
  routing_policy_string_free(json);
  if (!config.ready) {
    config_clear();
    text_t message = {0};
    add(&message, "{{name}}: invalid configuration: ", why.buf, NULL);
    routing_policy_string_dup(err, message.buf);
    return false;
  }
  return true;
}

// ---- route ---------------------------------------------------------------

// Whether the WIT string `s` (not NUL-terminated) equals `c`.
static bool str_is(const str_t *s, const char *c) {
  return s->len == strlen(c) && memcmp(s->ptr, c, s->len) == 0;
}

bool exports_switchboard_rules_routing_route(exports_switchboard_rules_routing_routing_input_t *input,
                                             exports_switchboard_rules_routing_routing_decision_t *ret, str_t *err) {
  if (!config.ready) {
    routing_policy_string_dup(err, "{{name}}: route called before configure");
    exports_switchboard_rules_routing_routing_input_free(input);
    return false;
  }
  const switchboard_rules_types_contact_t *contact = &input->contact;
  const str_t *tier = &contact->customer_tier;
  bool vip = false;
  for (size_t i = 0; i < config.n_vip_tiers; i++) vip |= str_is(tier, config.vip_tiers[i]);

  // Every list empty and every option none, then fill in what we decide.
  memset(ret, 0, sizeof *ret);
  text_t reason = {0};
  add(&reason, "tier ", NULL);
  put(&reason, (const char *)tier->ptr, tier->len);
  if (!vip) {
    // Not a VIP: the default queue, priority unchanged.
    routing_policy_string_dup(&ret->queue, config.default_queue);
    ret->priority = contact->priority;
    add(&reason, " -> queue ", config.default_queue, NULL);
  } else {
    routing_policy_string_dup(&ret->queue, config.vip_queue);
    // Priorities are u32: do not go past the largest one.
    uint64_t priority = (uint64_t)contact->priority + config.vip_priority_bonus;
    ret->priority = priority > UINT32_MAX ? UINT32_MAX : (uint32_t)priority;
    ret->tags.len = 1;
    ret->tags.ptr = malloc(sizeof *ret->tags.ptr);
    ret->attributes.len = 1;
    ret->attributes.ptr = malloc(sizeof *ret->attributes.ptr);
    if (!ret->tags.ptr || !ret->attributes.ptr) abort();
    routing_policy_string_dup(&ret->tags.ptr[0], "vip");
    routing_policy_string_dup(&ret->attributes.ptr[0].key, "segment");
    routing_policy_string_dup(&ret->attributes.ptr[0].value, "vip");
    add(&reason, " is a VIP tier -> queue ", config.vip_queue, ", priority +", NULL);
    add_number(&reason, config.vip_priority_bonus);
  }
  routing_policy_string_dup(&ret->reason, reason.buf);

  // The log import only borrows the line: a stack buffer will do.
  text_t line = {0};
  add(&line, "contact ", NULL);
  put(&line, (const char *)contact->id.ptr, contact->id.len);
  add(&line, ": ", reason.buf, NULL);
  str_t message;
  routing_policy_string_set(&message, line.buf);
  switchboard_rules_log_log(SWITCHBOARD_RULES_LOG_LEVEL_DEBUG, &message);

  exports_switchboard_rules_routing_routing_input_free(input);
  return true;
}
