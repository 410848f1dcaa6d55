// {{name}}: a switchboard KPI definition (world `{{world}}`), in C.
//
// The host calls `configure` once per instance with the JSON configuration
// (already validated against `config_schema` in manifest.json), `measures`
// once, then `on_event` for every contact and agent event. It adds the
// samples up into time buckets per dimension value.
//
// The rule: when a contact is resolved, emit
// - `contacts_resolved` (sum): 1;
// - `resolution_time` (mean, seconds): from the contact's creation to its
//   resolution.
// Each sample carries the dimensions listed in `dimensions`, in that order,
// each only when known: `channel`, `queue` (the contact's), `tier` (the
// customer's). Every other event emits nothing.
//
// WIT in C (wit-bindgen): `{{world_snake}}.h`, generated from wit/ into
// build/bindings/, declares the types and the functions to implement.
// - An export owns its arguments and must free them (`..._free`).
// - Everything it returns must be heap memory (`kpi_definition_string_dup`,
//   `malloc`): the generated post-return function frees it once the host has
//   copied it.
// - A `result` error is returned by filling `err` and returning false.
// - `abort()` traps: the host then applies the slot's fail policy.
// Nothing here touches stdio, files or clocks, so the module imports no WASI:
// its only import is `switchboard:rules/log`.

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "{{world_snake}}.h"

typedef kpi_definition_string_t str_t;
typedef exports_switchboard_rules_kpi_emission_t emission_t;
typedef switchboard_rules_types_key_value_t key_value_t;

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

enum dimension { CHANNEL, QUEUE, TIER };
static const char *const DIMENSION_NAMES[] = {"channel", "queue", "tier"};
#define N_DIMENSIONS 3

// The configuration, set by `configure`; `ready` is false until one succeeds.
static struct {
  bool ready;
  enum dimension dimensions[N_DIMENSIONS];
  size_t n_dimensions;
} config;

// Reads the configuration into `config`; on a problem, says what in `why`.
static bool config_read(json_t *j, text_t *why) {
  bool first = true, have_dimensions = false;
  char key[32];
  while (json_member(j, &first, key, sizeof key)) {
    if (strcmp(key, "dimensions") == 0) {
      bool first_dimension = true;
      have_dimensions = true;
      while (json_item(j, &first_dimension)) {
        char *name;
        if (!json_string(j, &name)) break;
        size_t d = 0;
        while (d < N_DIMENSIONS && strcmp(name, DIMENSION_NAMES[d]) != 0) d++;
        free(name);
        if (d == N_DIMENSIONS || config.n_dimensions == N_DIMENSIONS) {
          json_fail(j, "each must be one of channel, queue, tier");
          break;
        }
        config.dimensions[config.n_dimensions++] = (enum dimension)d;
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
  if (!have_dimensions) {
    add(why, "missing field dimensions", NULL);
    return false;
  }
  return true;
}

bool exports_switchboard_rules_kpi_configure(str_t *json, str_t *err) {
  memset(&config, 0, sizeof config); // a failed configure leaves no old configuration behind
  json_t j = {(const char *)json->ptr, (const char *)json->ptr + json->len, NULL};
  text_t why = {0};
  config.ready = config_read(&j, &why);
  kpi_definition_string_free(json);
  if (!config.ready) {
    memset(&config, 0, sizeof config);
    text_t message = {0};
    add(&message, "{{name}}: invalid configuration: ", why.buf, NULL);
    kpi_definition_string_dup(err, message.buf);
    return false;
  }
  return true;
}

// ---- measures ------------------------------------------------------------

static void measure(exports_switchboard_rules_kpi_measure_t *m, const char *name, const char *unit,
                    exports_switchboard_rules_kpi_aggregation_t aggregation, const char *description) {
  kpi_definition_string_dup(&m->name, name);
  kpi_definition_string_dup(&m->unit, unit);
  m->aggregation = aggregation;
  kpi_definition_string_dup(&m->description, description);
}

void exports_switchboard_rules_kpi_measures(exports_switchboard_rules_kpi_list_measure_t *ret) {
  ret->len = 2;
  ret->ptr = calloc(ret->len, sizeof *ret->ptr);
  if (!ret->ptr) abort();
  measure(&ret->ptr[0], "contacts_resolved", "contacts", EXPORTS_SWITCHBOARD_RULES_KPI_AGGREGATION_SUM,
          "Contacts resolved.");
  measure(&ret->ptr[1], "resolution_time", "seconds", EXPORTS_SWITCHBOARD_RULES_KPI_AGGREGATION_MEAN,
          "Time from the contact's creation to its resolution.");
}

// ---- on-event ------------------------------------------------------------

static const char *channel_name(switchboard_rules_types_channel_t channel) {
  switch (channel) {
    case SWITCHBOARD_RULES_TYPES_CHANNEL_VOICE: return "voice";
    case SWITCHBOARD_RULES_TYPES_CHANNEL_EMAIL: return "email";
    case SWITCHBOARD_RULES_TYPES_CHANNEL_CHAT: return "chat";
    case SWITCHBOARD_RULES_TYPES_CHANNEL_SMS: return "sms";
    default: return "social";
  }
}

// Sets `kv` to a copy of `key` and of the `n` bytes of `value`.
static void key_value(key_value_t *kv, const char *key, const char *value, size_t n) {
  kpi_definition_string_dup(&kv->key, key);
  kpi_definition_string_dup_n(&kv->value, value, n);
}

// A new sample of `measure`: `value`, with the contact's configured dimensions.
static void record(emission_t *e, const char *measure, double value,
                   const switchboard_rules_types_contact_t *contact) {
  e->tag = EXPORTS_SWITCHBOARD_RULES_KPI_EMISSION_RECORD;
  exports_switchboard_rules_kpi_sample_t *s = &e->val.record;
  kpi_definition_string_dup(&s->measure, measure);
  s->value = value;
  key_value_t *dims = calloc(N_DIMENSIONS, sizeof *dims);
  if (!dims) abort();
  size_t n = 0;
  // The dimensions, in the configured order, each when known.
  for (size_t i = 0; i < config.n_dimensions; i++) {
    switch (config.dimensions[i]) {
      case CHANNEL: {
        const char *name = channel_name(contact->channel);
        key_value(&dims[n++], "channel", name, strlen(name));
        break;
      }
      case QUEUE:
        if (contact->queue.is_some)
          key_value(&dims[n++], "queue", (const char *)contact->queue.val.ptr, contact->queue.val.len);
        break;
      case TIER:
        if (contact->customer_tier.len > 0)
          key_value(&dims[n++], "tier", (const char *)contact->customer_tier.ptr, contact->customer_tier.len);
        break;
    }
  }
  s->dimensions.ptr = dims;
  s->dimensions.len = n;
}

bool exports_switchboard_rules_kpi_on_event(exports_switchboard_rules_kpi_kpi_input_t *input,
                                            exports_switchboard_rules_kpi_list_emission_t *ret, str_t *err) {
  if (!config.ready) {
    kpi_definition_string_dup(err, "{{name}}: on-event called before configure");
    exports_switchboard_rules_kpi_kpi_input_free(input);
    return false;
  }
  ret->ptr = NULL;
  ret->len = 0;
  // Only resolutions count, and agent events have no contact.
  if (input->event.kind.tag == SWITCHBOARD_RULES_TYPES_EVENT_KIND_RESOLVED && input->contact.is_some) {
    const switchboard_rules_types_contact_t *contact = &input->contact.val;
    // Times are milliseconds; the event time stands in for a missing resolved_at.
    const switchboard_rules_types_contact_times_t *times = &contact->times;
    int64_t resolved_at = times->resolved_at.is_some ? times->resolved_at.val : input->event.at;
    int64_t millis = resolved_at > times->created_at ? resolved_at - times->created_at : 0;

    ret->len = 2;
    ret->ptr = calloc(ret->len, sizeof *ret->ptr);
    if (!ret->ptr) abort();
    record(&ret->ptr[0], "contacts_resolved", 1.0, contact);
    record(&ret->ptr[1], "resolution_time", (double)millis / 1000.0, contact);
  }
  // Every string returned is a copy, so the input can go now.
  exports_switchboard_rules_kpi_kpi_input_free(input);
  return true;
}
