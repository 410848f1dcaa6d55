// c-kpi: a switchboard KPI definition written in C.
//
// `switchboard plugin build` (see README.md) generates C bindings for the
// `kpi-definition` world of wit/worlds.wit with wit-bindgen's C generator,
// compiles them with this file and json.c using clang + wasi-libc (Debian
// packages) into a wasm32-wasi reactor module, and turns that into a
// component with wit-component. Nothing here calls stdio, files, clocks or
// the environment, so the core module imports no WASI at all and the
// component needs no WASI adapter: its only import is `switchboard:rules/log`.
//
// | measure            | aggregation     | sample                                              |
// |--------------------|-----------------|-----------------------------------------------------|
// | contacts_handled   | sum (contacts)  | 1 per `answered`                                    |
// | abandonment_ratio  | ratio           | 1/1 per queued `abandoned` after the short-abandon  |
// |                    |                 | threshold, 0/1 per queued `answered`                |
// | short_abandons     | sum (contacts)  | 1 per queued `abandoned` within the threshold       |
// | handle_time        | mean (seconds)  | answered -> wrap-up, per `wrap-up`                  |
// | transfers          | sum (contacts)  | 1 per `transferred`, queue = the queue it left      |
//
// Dimensions are those listed in the `dimensions` config, in that order,
// each only when known: queue, channel, agent (the answering agent, else
// the event's agent, else the contact's), tier.
//
// Memory: wit-bindgen's convention is that an export owns its arguments (we
// free them) and returns heap memory the generated post-return function
// frees, so every returned string is malloc'd (kpi_definition_string_dup).

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kpi_definition.h"

// Debug variant: `CFLAGS=-DKPI_DEBUG=1 switchboard plugin build` traces
// every event to stderr. stdio needs WASI (fd_write), so the module then imports
// wasi_snapshot_preview1 and the build adapts it with the WASI preview1
// reactor adapter by itself; the server sends guest stderr to the plugin's
// log (`switchboard plugin logs c-kpi <version>`). The default build has no
// WASI.
#ifdef KPI_DEBUG
#include <stdio.h>
#define DEBUG(...) fprintf(stderr, __VA_ARGS__)
#else
#define DEBUG(...) ((void)0)
#endif

typedef kpi_definition_string_t str_t;
typedef exports_switchboard_rules_kpi_kpi_input_t kpi_input_t;
typedef exports_switchboard_rules_kpi_emission_t emission_t;
typedef exports_switchboard_rules_kpi_sample_t sample_t;
typedef switchboard_rules_types_contact_t contact_t;

#define CONTACTS_HANDLED "contacts_handled"
#define ABANDONMENT_RATIO "abandonment_ratio"
#define SHORT_ABANDONS "short_abandons"
#define HANDLE_TIME "handle_time"
#define TRANSFERS "transfers"

enum dimension { DIM_QUEUE, DIM_CHANNEL, DIM_AGENT, DIM_TIER };
static const char *const DIMENSION_NAMES[] = {"queue", "channel", "agent", "tier"};
#define MAX_DIMENSIONS 4

// The configuration, set by `configure`.
static struct {
  int64_t short_abandon_ms;
  enum dimension dimensions[MAX_DIMENSIONS];
  size_t n_dimensions;
} config;

static void log_line(switchboard_rules_log_level_t level, const char *msg) {
  str_t s;
  kpi_definition_string_set(&s, msg); // borrowed: the import does not take ownership
  switchboard_rules_log_log(level, &s);
}

// A bounded string builder. snprintf would pull stdio into the module, and
// with it WASI imports (fd_write, fd_seek, fd_close) for nothing.
typedef struct {
  char buf[240];
  size_t len;
} text_t;

static text_t *put(text_t *t, const char *s, size_t n) {
  while (n-- && *s && t->len < sizeof t->buf - 1) t->buf[t->len++] = *s++;
  t->buf[t->len] = 0;
  return t;
}

static text_t *puts_(text_t *t, const char *s) {
  return put(t, s, (size_t)-1);
}

static text_t *putn(text_t *t, long long v) {
  char digits[24];
  size_t n = 0;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do digits[n++] = (char)('0' + u % 10); while ((u /= 10) && n < sizeof digits);
  if (v < 0) puts_(t, "-");
  while (n) put(t, &digits[--n], 1);
  return t;
}

// ---- configure ----------------------------------------------------------

static bool configure_error(str_t *err, const char *msg) {
  kpi_definition_string_dup(err, msg);
  return false;
}

bool exports_switchboard_rules_kpi_configure(str_t *json, str_t *err) {
  // Defaults, also when configure is called again.
  config.short_abandon_ms = 5000;
  config.dimensions[0] = DIM_QUEUE;
  config.dimensions[1] = DIM_CHANNEL;
  config.n_dimensions = 2;

  text_t why = {{0}, 0};
  json_reader r;
  json_value v, key;
  json_init(&r, (const char *)json->ptr, json->len);
  bool ok = json_read(&r, &v) && v.kind == JSON_OBJECT;
  bool first = true;
  while (ok && json_next_member(&r, &first, &key)) {
    if (!json_read(&r, &v)) break;
    if (json_str_eq(&key, "short_abandon_secs")) {
      if (v.kind != JSON_NUMBER || v.num < 0 || v.num > 86400 || v.num != (double)(int64_t)v.num) {
        kpi_definition_string_free(json);
        return configure_error(err, "short_abandon_secs must be an integer 0-86400");
      }
      config.short_abandon_ms = (int64_t)v.num * 1000;
    } else if (json_str_eq(&key, "dimensions")) {
      if (v.kind != JSON_ARRAY) {
        kpi_definition_string_free(json);
        return configure_error(err, "dimensions must be an array");
      }
      config.n_dimensions = 0;
      bool first_item = true;
      while (json_next_item(&r, &first_item)) {
        if (!json_read(&r, &v)) break;
        size_t d = 0;
        while (d < MAX_DIMENSIONS && !json_str_eq(&v, DIMENSION_NAMES[d])) d++;
        bool seen = false;
        for (size_t i = 0; i < config.n_dimensions; i++) seen |= config.dimensions[i] == (enum dimension)d;
        if (d == MAX_DIMENSIONS || seen) {
          puts_(&why, "dimensions: ");
          put(&why, v.str ? v.str : "?", v.str ? (v.len > 40 ? 40 : v.len) : 1);
          puts_(&why, " is not one of queue, channel, agent, tier (each once)");
          kpi_definition_string_free(json);
          return configure_error(err, why.buf);
        }
        config.dimensions[config.n_dimensions++] = (enum dimension)d;
      }
    } else {
      put(puts_(&why, "unknown configuration field "), key.str, key.len > 40 ? 40 : key.len);
      kpi_definition_string_free(json);
      return configure_error(err, why.buf);
    }
  }
  if (!ok || r.error) {
    puts_(puts_(&why, "configuration is not a JSON object: "), r.error ? r.error : "not an object");
    kpi_definition_string_free(json);
    return configure_error(err, why.buf);
  }
  kpi_definition_string_free(json);

  puts_(putn(puts_(&why, "c-kpi configured: short abandons <= "), config.short_abandon_ms / 1000), " s, dimensions");
  for (size_t i = 0; i < config.n_dimensions; i++) puts_(puts_(&why, " "), DIMENSION_NAMES[config.dimensions[i]]);
  log_line(SWITCHBOARD_RULES_LOG_LEVEL_INFO, why.buf);
  return true;
}

// ---- measures -----------------------------------------------------------

static void measure(exports_switchboard_rules_kpi_measure_t *m, const char *name, const char *unit,
                    exports_switchboard_rules_kpi_aggregation_t aggregation, const char *description) {
  kpi_definition_string_dup(&m->name, name);
  kpi_definition_string_dup(&m->unit, unit);
  m->aggregation = aggregation;
  kpi_definition_string_dup(&m->description, description);
}

void exports_switchboard_rules_kpi_measures(exports_switchboard_rules_kpi_list_measure_t *ret) {
  text_t short_desc = {{0}, 0}, ratio_desc = {{0}, 0};
  long long secs = (long long)(config.short_abandon_ms / 1000);
  puts_(putn(puts_(&ratio_desc, "Queued contacts abandoned after more than "), secs), " s / queued contacts answered");
  puts_(putn(puts_(&ratio_desc, " or abandoned after more than "), secs), " s.");
  puts_(putn(puts_(&short_desc, "Queued contacts abandoned within "), secs), " s (not in abandonment_ratio).");
  ret->len = 5;
  ret->ptr = calloc(ret->len, sizeof *ret->ptr);
  if (!ret->ptr) abort();
  measure(&ret->ptr[0], CONTACTS_HANDLED, "contacts", EXPORTS_SWITCHBOARD_RULES_KPI_AGGREGATION_SUM,
          "Contacts answered by an agent.");
  measure(&ret->ptr[1], ABANDONMENT_RATIO, "ratio", EXPORTS_SWITCHBOARD_RULES_KPI_AGGREGATION_RATIO, ratio_desc.buf);
  measure(&ret->ptr[2], SHORT_ABANDONS, "contacts", EXPORTS_SWITCHBOARD_RULES_KPI_AGGREGATION_SUM, short_desc.buf);
  measure(&ret->ptr[3], HANDLE_TIME, "seconds", EXPORTS_SWITCHBOARD_RULES_KPI_AGGREGATION_MEAN,
          "Time from answer to wrap-up, hold included.");
  measure(&ret->ptr[4], TRANSFERS, "contacts", EXPORTS_SWITCHBOARD_RULES_KPI_AGGREGATION_SUM,
          "Transfers, counted in the queue the contact left.");
}

// ---- on-event -----------------------------------------------------------

static const char *channel_name(switchboard_rules_types_channel_t c) {
  switch (c) {
    case SWITCHBOARD_RULES_TYPES_CHANNEL_VOICE: return "voice";
    case SWITCHBOARD_RULES_TYPES_CHANNEL_EMAIL: return "email";
    case SWITCHBOARD_RULES_TYPES_CHANNEL_CHAT: return "chat";
    case SWITCHBOARD_RULES_TYPES_CHANNEL_SMS: return "sms";
    default: return "social";
  }
}

// The known dimension values of one event; NULL strings are unknown.
typedef struct {
  const str_t *queue;
  const char *channel;
  const str_t *agent;
  const str_t *tier;
} dims_t;

static void dup_str(str_t *dst, const str_t *src) {
  kpi_definition_string_dup_n(dst, (const char *)src->ptr, src->len);
}

static emission_t *record(emission_t *e, const char *name, double value, double denominator, const dims_t *dims) {
  memset(e, 0, sizeof *e);
  e->tag = EXPORTS_SWITCHBOARD_RULES_KPI_EMISSION_RECORD;
  sample_t *s = &e->val.record;
  kpi_definition_string_dup(&s->measure, name);
  s->id.is_some = false;
  s->value = value;
  s->denominator = denominator;
  s->dimensions.ptr = calloc(MAX_DIMENSIONS, sizeof *s->dimensions.ptr);
  if (!s->dimensions.ptr) abort();
  size_t n = 0;
  for (size_t i = 0; i < config.n_dimensions; i++) {
    switchboard_rules_types_key_value_t *kv = &s->dimensions.ptr[n];
    enum dimension d = config.dimensions[i];
    const str_t *val = d == DIM_QUEUE ? dims->queue : d == DIM_AGENT ? dims->agent : d == DIM_TIER ? dims->tier : NULL;
    if (d == DIM_CHANNEL) {
      if (!dims->channel) continue;
      kpi_definition_string_dup(&kv->value, dims->channel);
    } else {
      if (!val) continue;
      dup_str(&kv->value, val);
    }
    kpi_definition_string_dup(&kv->key, DIMENSION_NAMES[d]);
    n++;
  }
  s->dimensions.len = n;
  if (n == 0) {
    free(s->dimensions.ptr);
    s->dimensions.ptr = NULL;
  }
  return e + 1;
}

static int64_t opt_or(switchboard_rules_types_option_timestamp_t t, int64_t fallback) {
  return t.is_some ? t.val : fallback;
}

bool exports_switchboard_rules_kpi_on_event(kpi_input_t *input, exports_switchboard_rules_kpi_list_emission_t *ret,
                                            str_t *err) {
  (void)err; // this definition never fails
  ret->ptr = NULL;
  ret->len = 0;
  // Agent events carry no contact: nothing here measures them.
  if (!input->contact.is_some) {
    exports_switchboard_rules_kpi_kpi_input_free(input);
    return true;
  }
  const contact_t *c = &input->contact.val;
  const switchboard_rules_types_event_t *ev = &input->event;
  const switchboard_rules_types_event_kind_t *kind = &ev->kind;
  DEBUG("c-kpi: event kind %d for contact %.*s\n", kind->tag, (int)c->id.len, (const char *)c->id.ptr);

  dims_t dims = {
      .queue = c->queue.is_some ? &c->queue.val : NULL,
      .channel = channel_name(c->channel),
      .agent = kind->tag == SWITCHBOARD_RULES_TYPES_EVENT_KIND_ANSWERED ? &kind->val.answered
               : input->agent.is_some                                 ? &input->agent.val.id
               : c->agent_id.is_some                                  ? &c->agent_id.val
                                                                      : NULL,
      .tier = c->customer_tier.len ? &c->customer_tier : NULL,
  };

  emission_t out[2];
  emission_t *e = out;
  const switchboard_rules_types_contact_times_t *t = &c->times;
  switch (kind->tag) {
    case SWITCHBOARD_RULES_TYPES_EVENT_KIND_ANSWERED:
      e = record(e, CONTACTS_HANDLED, 1, 0, &dims);
      if (t->queued_at.is_some) e = record(e, ABANDONMENT_RATIO, 0, 1, &dims);
      break;
    case SWITCHBOARD_RULES_TYPES_EVENT_KIND_ABANDONED:
      // Abandoned before reaching a queue (in the IVR, say) is not counted.
      if (t->queued_at.is_some) {
        int64_t waited = opt_or(t->abandoned_at, ev->at) - t->queued_at.val;
        if (waited <= config.short_abandon_ms)
          e = record(e, SHORT_ABANDONS, 1, 0, &dims);
        else
          e = record(e, ABANDONMENT_RATIO, 1, 1, &dims);
      }
      break;
    case SWITCHBOARD_RULES_TYPES_EVENT_KIND_WRAP_UP:
      if (t->answered_at.is_some) {
        int64_t ms = opt_or(t->wrap_up_at, ev->at) - t->answered_at.val;
        if (ms < 0) ms = 0; // a clock that went backwards is no negative time
        e = record(e, HANDLE_TIME, (double)ms / 1000.0, 0, &dims);
      }
      break;
    case SWITCHBOARD_RULES_TYPES_EVENT_KIND_TRANSFERRED: {
      const switchboard_rules_types_transfer_t *tr = &kind->val.transferred;
      dims_t from = dims;
      if (tr->from_queue.is_some) from.queue = &tr->from_queue.val;
      if (tr->from_agent.is_some) from.agent = &tr->from_agent.val;
      e = record(e, TRANSFERS, 1, 0, &from);
      break;
    }
    default:
      break;
  }

  ret->len = (size_t)(e - out);
  if (ret->len) {
    ret->ptr = malloc(ret->len * sizeof *ret->ptr);
    if (!ret->ptr) abort();
    memcpy(ret->ptr, out, ret->len * sizeof *ret->ptr);
  }
  // Every string in `out` was copied, so the input can go now.
  exports_switchboard_rules_kpi_kpi_input_free(input);
  return true;
}
