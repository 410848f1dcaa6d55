// A small JSON reader for plugin configurations: enough to walk an object of
// strings, numbers, booleans, null, arrays and nested objects. No
// allocation: strings are returned as slices of the input, escapes left in
// place (json_str_eq compares a slice with a plain C string, decoding simple
// escapes). The host has already validated the configuration against the
// manifest's JSON Schema, so this reader only needs to be correct, not
// friendly.
#ifndef SWITCHBOARD_EXAMPLE_JSON_H
#define SWITCHBOARD_EXAMPLE_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
  JSON_NULL,
  JSON_BOOL,
  JSON_NUMBER,
  JSON_STRING,
  JSON_ARRAY,
  JSON_OBJECT,
} json_kind;

typedef struct {
  const char *p;   // next unread byte
  const char *end; // one past the last byte
  const char *error;
} json_reader;

// A value just read: for strings, `str`/`len` is the raw text between the
// quotes; for numbers, `num`; for booleans, `boolean`. Arrays and objects are
// entered with json_next_item / json_next_member after reading them.
typedef struct {
  json_kind kind;
  const char *str;
  size_t len;
  double num;
  bool boolean;
} json_value;

void json_init(json_reader *r, const char *text, size_t len);

// Read the next value. For arrays and objects only the opening bracket is
// consumed; iterate their content with the two functions below, or skip it
// with json_skip_rest.
bool json_read(json_reader *r, json_value *out);

// Inside an object: read the next key into `key` (raw slice) and return true,
// or consume the closing brace and return false (also on error: check
// r->error). Then read the value. `first` starts true for each object:
//     bool first = true;
//     while (json_next_member(r, &first, &key)) { json_read(r, &value); ... }
bool json_next_member(json_reader *r, bool *first, json_value *key);

// Inside an array: return true if another item follows (then read it), or
// consume the closing bracket and return false. `first` as above.
bool json_next_item(json_reader *r, bool *first);

// Skip the rest of the array or object whose opening bracket was just read.
bool json_skip_rest(json_reader *r, json_kind kind);

// Whether the raw string slice equals `s` once simple escapes are decoded.
bool json_str_eq(const json_value *v, const char *s);

#endif
