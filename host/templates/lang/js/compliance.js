// {{name}}: a switchboard compliance check (world `{{world}}`), in JavaScript.
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
// WIT in JavaScript (componentize-js): records are objects with camelCase
// fields, enums are their WIT names as strings (`'needs-approval'`),
// `option<T>` is a value or `undefined`, `s64` is a BigInt, and a `result`
// error is returned by throwing it (a string). Anything else thrown traps the
// component, so the exported functions catch everything.
//
// Spans count characters (Unicode scalar values), not the UTF-16 units
// JavaScript strings index by: see `charIndex`.

import { log } from 'switchboard:rules/log@{{wit_version}}';

const PLUGIN = '{{name}}';
const VERDICTS = ['revise', 'needs-approval', 'block'];

/** The configuration, set by `configure`. */
let config = null;

/** Lower-cases A-Z only: every other character stays as it is, at its place. */
function asciiLower(s) {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** The character (code point) index of UTF-16 index `i` of `s`. */
function charIndex(s, i) {
  return Array.from(s.slice(0, i)).length;
}

/** The configuration, as in manifest.json's `config_schema`. */
function parseConfig(json) {
  const raw = JSON.parse(json);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw 'the configuration must be a JSON object';
  }
  const phrases = raw.banned_phrases;
  if (!Array.isArray(phrases) || !phrases.every((p) => typeof p === 'string' && p !== '')) {
    throw 'banned_phrases must be a list of non-empty strings';
  }
  if (!VERDICTS.includes(raw.verdict)) throw `verdict must be one of ${VERDICTS.join(', ')}`;
  return {
    // Each phrase as configured (for messages) and lower-cased (for matching).
    phrases: phrases.map((p) => ({ phrase: p, lower: asciiLower(p) })),
    verdict: raw.verdict,
  };
}

function check(draft) {
  const text = asciiLower(draft.text);
  const findings = [];
  for (const { phrase, lower } of config.phrases) {
    const at = text.indexOf(lower);
    if (at >= 0) {
      findings.push({
        ruleId: 'banned-phrase',
        severity: 'error',
        message: `"${phrase}" must not be sent to customers`,
        span: { start: charIndex(text, at), end: charIndex(text, at + lower.length) },
        suggestion: undefined,
      });
    }
  }
  if (findings.length === 0) return { verdict: 'approve', findings, redactedText: undefined };
  log('info', `draft for contact ${draft.context.contactId}: ${findings.length} banned phrase(s)`);
  return { verdict: config.verdict, findings, redactedText: undefined };
}

/** The exported `switchboard:rules/compliance` interface. */
export const compliance = {
  configure(json) {
    config = null; // a failed configure leaves no old configuration behind
    try {
      config = parseConfig(json);
    } catch (e) {
      throw `${PLUGIN}: invalid configuration: ${e}`;
    }
  },

  check(draft) {
    if (config === null) throw `${PLUGIN}: check called before configure`;
    try {
      return check(draft);
    } catch (e) {
      // A bug here is a plugin failure the host reports, not a trap.
      throw `${PLUGIN}: check failed: ${e}`;
    }
  },
};
