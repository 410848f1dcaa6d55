#include "json.h"

#include <string.h>

void json_init(json_reader *r, const char *text, size_t len) {
  r->p = text;
  r->end = text + len;
  r->error = NULL;
}

static bool fail(json_reader *r, const char *why) {
  if (!r->error) r->error = why;
  return false;
}

static void skip_ws(json_reader *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static bool literal(json_reader *r, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return fail(r, "invalid literal");
  r->p += n;
  return true;
}

static bool read_string(json_reader *r, json_value *out) {
  r->p++; // opening quote
  const char *start = r->p;
  while (r->p < r->end && *r->p != '"') {
    if ((unsigned char)*r->p < 0x20) return fail(r, "control character in string");
    if (*r->p == '\\') {
      r->p++;
      if (r->p >= r->end) break;
    }
    r->p++;
  }
  if (r->p >= r->end) return fail(r, "unterminated string");
  out->kind = JSON_STRING;
  out->str = start;
  out->len = (size_t)(r->p - start);
  r->p++; // closing quote
  return true;
}

// Numbers by hand: strtod would link musl's float scanner and long-double
// arithmetic, tripling the module for a config that holds small integers.
// Exact for integers up to 2^53; decimals are accurate to a few ulps.
static bool read_number(json_reader *r, json_value *out) {
  const char *p = r->p;
  double sign = 1, v = 0, scale = 1;
  int exp = 0, exp_sign = 1, digits = 0;
  if (p < r->end && *p == '-') sign = -1, p++;
  while (p < r->end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0'), digits++;
  if (p < r->end && *p == '.') {
    p++;
    while (p < r->end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0'), scale *= 10, digits++;
  }
  if (digits == 0) return fail(r, "invalid number");
  if (p < r->end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < r->end && (*p == '+' || *p == '-')) exp_sign = *p++ == '-' ? -1 : 1;
    if (p >= r->end || *p < '0' || *p > '9') return fail(r, "invalid number");
    while (p < r->end && *p >= '0' && *p <= '9' && exp < 400) exp = exp * 10 + (*p++ - '0');
  }
  v /= scale;
  while (exp-- > 0) v = exp_sign > 0 ? v * 10 : v / 10;
  out->kind = JSON_NUMBER;
  out->num = sign * v;
  r->p = p;
  return true;
}

bool json_read(json_reader *r, json_value *out) {
  skip_ws(r);
  if (r->p >= r->end) return fail(r, "unexpected end of JSON");
  memset(out, 0, sizeof *out);
  switch (*r->p) {
    case '{': r->p++; out->kind = JSON_OBJECT; return true;
    case '[': r->p++; out->kind = JSON_ARRAY; return true;
    case '"': return read_string(r, out);
    case 't': out->kind = JSON_BOOL; out->boolean = true; return literal(r, "true");
    case 'f': out->kind = JSON_BOOL; out->boolean = false; return literal(r, "false");
    case 'n': out->kind = JSON_NULL; return literal(r, "null");
    default: return read_number(r, out);
  }
}

// Before a member or item: nothing (the first), a comma (the next), or the
// closing bracket (no more).
static bool more(json_reader *r, char close, bool *first) {
  skip_ws(r);
  if (r->p < r->end && *r->p == close) {
    r->p++;
    return false;
  }
  if (!*first) {
    if (r->p >= r->end || *r->p != ',') return fail(r, "expected , or closing bracket");
    r->p++;
  }
  *first = false;
  return true;
}

bool json_next_member(json_reader *r, bool *first, json_value *key) {
  if (r->error || !more(r, '}', first)) return false;
  skip_ws(r);
  if (r->p >= r->end || *r->p != '"') return fail(r, "expected a key");
  if (!read_string(r, key)) return false;
  skip_ws(r);
  if (r->p >= r->end || *r->p != ':') return fail(r, "expected :");
  r->p++;
  return true;
}

bool json_next_item(json_reader *r, bool *first) {
  return !r->error && more(r, ']', first);
}

static bool skip_value(json_reader *r) {
  json_value v;
  if (!json_read(r, &v)) return false;
  if (v.kind == JSON_ARRAY || v.kind == JSON_OBJECT) return json_skip_rest(r, v.kind);
  return true;
}

bool json_skip_rest(json_reader *r, json_kind kind) {
  bool first = true;
  if (kind == JSON_OBJECT) {
    json_value key;
    while (json_next_member(r, &first, &key))
      if (!skip_value(r)) return false;
  } else {
    while (json_next_item(r, &first))
      if (!skip_value(r)) return false;
  }
  return r->error == NULL;
}

bool json_str_eq(const json_value *v, const char *s) {
  if (v->kind != JSON_STRING) return false;
  size_t i = 0;
  for (; i < v->len; i++, s++) {
    char c = v->str[i];
    if (c == '\\' && i + 1 < v->len) {
      char e = v->str[++i];
      c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
      if (e == 'u') return false; // \uXXXX: never equal to the ASCII names used here
    }
    if (*s == 0 || *s != c) return false;
  }
  return *s == 0;
}
