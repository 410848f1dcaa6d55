// js-compliance: a switchboard compliance check written in JavaScript.
//
// Built into a WebAssembly component with jco + componentize-js against the
// `compliance-check` world of wit/worlds.wit by `switchboard plugin build`
// (see README.md). The host calls `configure` once per instance with the
// JSON configuration (already validated against `config_schema` in
// manifest.json), then `check` for every draft reply an agent is about to
// send.
//
// Findings, each with a character span into the draft:
//   banned-phrase      error    -> verdict block
//   discouraged-phrase warning  -> verdict revise, with the approved wording
//   email-address      warning  -> verdict revise; `redacted_text` masks it
//   too-long           warning  -> verdict revise (per-channel limit)
//   approval-topic     info     -> verdict needs-approval (no span)
// The verdict is the strictest finding's (approve < revise < needs-approval
// < block).
//
// Spans count Unicode scalar values (code points), as compliance.wit says:
// not bytes and not the UTF-16 units JavaScript strings index by, so every
// position below goes through `Text`, which works on code points.
//
// WIT <-> JS (componentize-js): records are objects with camelCase fields,
// enums are their WIT names as strings ('needs-approval'), `option` is a
// value or `undefined`, `s64` is a BigInt, and a `result` error is returned
// by throwing the error payload (a string here).

import { log } from 'switchboard:rules/log@0.2.0';

const VERDICTS = ['approve', 'revise', 'needs-approval', 'block'];

/** The configuration, set by `configure`. */
let config = null;

function stricter(a, b) {
  return VERDICTS.indexOf(a) >= VERDICTS.indexOf(b) ? a : b;
}

/** Lower-case one code point on its own (length may change: 'İ' -> 'i̇'). */
function lowerCodePoints(s) {
  return Array.from(s, (c) => Array.from(c.toLowerCase())).flat();
}

// Scripts whose letters have no case, so `isLetterLike` cannot tell them by
// case: Hebrew, Arabic, Devanagari, Thai, Hangul, kana, CJK ideographs.
// (StarlingMonkey is built without ICU, so `\p{L}` in a RegExp is a syntax
// error inside the component: no Unicode property escapes.)
const UNCASED_LETTERS = [
  [0x0300, 0x036f], // combining diacritical marks
  [0x0590, 0x05ff],
  [0x0600, 0x06ff],
  [0x0900, 0x097f],
  [0x0e00, 0x0e7f],
  [0x1100, 0x11ff],
  [0x3040, 0x30ff],
  [0x3130, 0x318f],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xac00, 0xd7a3],
];

/** Whether a code point continues a word: phrase matches stop at non-word chars. */
function isWordChar(c) {
  if (/[0-9A-Za-z_]/.test(c)) return true;
  const cp = c.codePointAt(0);
  if (cp < 0x80) return false;
  if (c.toLowerCase() !== c.toUpperCase()) return true;
  return UNCASED_LETTERS.some(([lo, hi]) => cp >= lo && cp <= hi);
}

/**
 * A draft as code points, lower-cased code point by code point, remembering
 * for each lower-cased code point which original one it came from, so
 * matches map back to spans of the original text.
 */
class Text {
  constructor(text) {
    this.chars = Array.from(text);
    this.lower = [];
    this.origin = [];
    this.chars.forEach((c, i) => {
      for (const l of Array.from(c.toLowerCase())) {
        this.lower.push(l);
        this.origin.push(i);
      }
    });
    // UTF-16 index -> code point index, for spans of regular-expression matches.
    this.cpAt = new Uint32Array(text.length + 1);
    let u = 0;
    this.chars.forEach((c, i) => {
      for (let k = 0; k < c.length; k++) this.cpAt[u + k] = i;
      u += c.length;
    });
    this.cpAt[u] = this.chars.length;
    this.text = text;
  }

  get length() {
    return this.chars.length;
  }

  isWordChar(i) {
    return i >= 0 && i < this.chars.length && isWordChar(this.chars[i]);
  }

  /** Non-overlapping occurrences of `needle` (lower-cased code points). */
  findAll(needle, wholeWords) {
    const spans = [];
    const n = needle.length;
    if (n === 0) return spans;
    for (let i = 0; i + n <= this.lower.length; ) {
      let hit = true;
      for (let k = 0; k < n; k++) {
        if (this.lower[i + k] !== needle[k]) {
          hit = false;
          break;
        }
      }
      if (hit) {
        const start = this.origin[i];
        const end = this.origin[i + n - 1] + 1;
        if (!wholeWords || (!this.isWordChar(start - 1) && !this.isWordChar(end))) {
          spans.push({ start, end });
          i += n;
          continue;
        }
      }
      i += 1;
    }
    return spans;
  }

  /** The code points `start..end` of the original text. */
  slice(start, end) {
    return this.chars.slice(start, end).join('');
  }
}

// Local part, @, domain labels, a letters-only top-level domain.
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;

function parseConfig(json) {
  let raw;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw `not JSON: ${e}`;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw 'the configuration must be a JSON object';
  }
  const phrase = (p, where) => {
    if (typeof p !== 'string' || p.trim() === '') throw `${where}: phrases must be non-empty strings`;
    return { text: p.trim(), needle: lowerCodePoints(p.trim()) };
  };
  const cfg = {
    banned: (raw.banned_phrases ?? []).map((p, i) => phrase(p, `banned_phrases[${i}]`)),
    discouraged: (raw.discouraged_phrases ?? []).map((d, i) => ({
      ...phrase(d.phrase, `discouraged_phrases[${i}]`),
      suggestion: String(d.suggestion),
    })),
    wholeWords: raw.whole_words ?? true,
    redactEmails: raw.redact_emails ?? true,
    allowedDomains: (raw.allowed_email_domains ?? []).map((d) => String(d).toLowerCase()),
    maxChars: raw.max_chars_by_channel ?? {},
    approvalTopics: new Set(raw.approval_topics ?? []),
  };
  for (const [channel, max] of Object.entries(cfg.maxChars)) {
    if (!Number.isInteger(max) || max < 1) throw `max_chars_by_channel.${channel} must be a positive integer`;
  }
  return cfg;
}

/** Whether `domain` is an allowed domain or a subdomain of one. */
function allowedDomain(domain) {
  const d = domain.toLowerCase();
  return config.allowedDomains.some((a) => d === a || d.endsWith('.' + a));
}

function check(draft) {
  const text = new Text(draft.text);
  const findings = [];
  let verdict = 'approve';
  const add = (v, f) => {
    verdict = stricter(verdict, v);
    findings.push(f);
  };

  for (const p of config.banned) {
    for (const span of text.findAll(p.needle, config.wholeWords)) {
      add('block', {
        ruleId: 'banned-phrase',
        severity: 'error',
        message: `"${text.slice(span.start, span.end)}" must not be sent to customers`,
        span,
        suggestion: undefined,
      });
    }
  }
  for (const p of config.discouraged) {
    for (const span of text.findAll(p.needle, config.wholeWords)) {
      add('revise', {
        ruleId: 'discouraged-phrase',
        severity: 'warning',
        message: `avoid "${text.slice(span.start, span.end)}"; say "${p.suggestion}"`,
        span,
        suggestion: p.suggestion,
      });
    }
  }

  let redacted = null;
  if (config.redactEmails) {
    const out = text.chars.slice();
    for (const m of draft.text.matchAll(EMAIL)) {
      const at = m[0].indexOf('@');
      const domain = m[0].slice(at + 1);
      if (allowedDomain(domain)) continue;
      const start = text.cpAt[m.index];
      const end = text.cpAt[m.index + m[0].length];
      const localEnd = text.cpAt[m.index + at];
      // Keep the first character and the domain; same length, so spans of
      // the draft are spans of the redacted text too.
      for (let i = start + 1; i < localEnd; i++) out[i] = '*';
      redacted = out;
      add('revise', {
        ruleId: 'email-address',
        severity: 'warning',
        message: `e-mail address at ${domain} must not be sent in clear`,
        span: { start, end },
        suggestion: undefined,
      });
    }
    if (redacted) redacted = redacted.join('');
  }

  const max = config.maxChars[draft.context.channel];
  if (max !== undefined && text.length > max) {
    add('revise', {
      ruleId: 'too-long',
      severity: 'warning',
      message: `${draft.context.channel} replies are limited to ${max} characters; this one has ${text.length}`,
      span: { start: max, end: text.length },
      suggestion: undefined,
    });
  }

  const topic = draft.context.topics.find((t) => config.approvalTopics.has(t));
  if (topic !== undefined) {
    add('needs-approval', {
      ruleId: 'approval-topic',
      severity: 'info',
      message: `replies about ${topic} need a supervisor's approval`,
      span: undefined,
      suggestion: undefined,
    });
  }

  // Reading order; findings without a span (about the whole draft) first.
  const pos = (f) => (f.span === undefined ? -1 : f.span.start);
  findings.sort((a, b) => pos(a) - pos(b));
  return { verdict, findings, redactedText: redacted ?? undefined };
}

/** The exported `switchboard:rules/compliance` interface. */
export const compliance = {
  configure(json) {
    try {
      config = parseConfig(json);
    } catch (e) {
      throw `invalid configuration: ${e}`;
    }
    log(
      'info',
      `js-compliance configured: ${config.banned.length} banned, ${config.discouraged.length} discouraged phrases`,
    );
  },

  check(draft) {
    if (config === null) throw 'check called before configure';
    try {
      return check(draft);
    } catch (e) {
      // A bug here is a plugin failure the host reports, not a trap.
      throw `js-compliance failed: ${e}`;
    }
  },
};
