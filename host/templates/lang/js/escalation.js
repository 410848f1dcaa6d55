// {{name}}: a switchboard escalation rule (world `{{world}}`), in JavaScript.
//
// The host calls `configure` once per instance with the JSON configuration
// (already validated against `config_schema` in manifest.json), then
// `onEvent` for every event of every contact.
//
// The rule: when an event brings a customer sentiment below
// `negative_sentiment_below` (a `sentiment-changed` event, or a message from
// the customer with a sentiment), add `tag` to the contact, raise its
// priority by `raise_priority` (if not 0) and, if `notify_supervisor`, page a
// supervisor. A contact that already has the tag is left alone, so this
// happens once per contact. Any other event: no actions.
//
// WIT in JavaScript (componentize-js): records are objects with camelCase
// fields, enums are their WIT names as strings (`'high'`), `option<T>` is a
// value or `undefined`, `s64` is a BigInt, variants are `{ tag, val }`
// (`{ tag: 'add-tag', val: 'at-risk' }`), and a `result` error is returned
// by throwing it (a string). Anything else thrown traps the component, so
// the exported functions catch everything.

import { log } from 'switchboard:rules/log@{{wit_version}}';

const PLUGIN = '{{name}}';

/** The configuration, set by `configure`. */
let config = null;

/** `raw[key]`, which must be of JavaScript type `type` ('string', 'number', ...). */
function field(raw, key, type) {
  const value = raw[key];
  if (value === undefined) throw `missing field ${key}`;
  if (typeof value !== type) throw `${key} must be of type ${type}`;
  return value;
}

/** The configuration, as in manifest.json's `config_schema`. */
function parseConfig(json) {
  const raw = JSON.parse(json);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw 'the configuration must be a JSON object';
  }
  return {
    negativeSentimentBelow: field(raw, 'negative_sentiment_below', 'number'),
    tag: field(raw, 'tag', 'string'),
    raisePriority: field(raw, 'raise_priority', 'number'),
    notifySupervisor: field(raw, 'notify_supervisor', 'boolean'),
  };
}

function nothing(reason) {
  return { actions: [], recheck: undefined, reason };
}

function onEvent(input) {
  const contact = input.contact;
  const kind = input.event.kind;

  // The sentiment this event reports, if any.
  let sentiment;
  if (kind.tag === 'sentiment-changed') {
    sentiment = kind.val;
  } else if (kind.tag === 'message' && kind.val.fromCustomer) {
    sentiment = kind.val.sentiment;
  }
  if (sentiment === undefined) return nothing('no customer sentiment in this event');
  if (sentiment >= config.negativeSentimentBelow) return nothing('sentiment not below threshold');
  if (contact.tags.includes(config.tag)) return nothing(`already tagged ${config.tag}`);

  // Below the threshold for the first time: act, and say what was done.
  const actions = [{ tag: 'add-tag', val: config.tag }];
  let reason = `sentiment below threshold -> tag ${config.tag}`;
  if (config.raisePriority > 0) {
    actions.push({ tag: 'raise-priority', val: config.raisePriority });
    reason += `, priority +${config.raisePriority}`;
  }
  if (config.notifySupervisor) {
    actions.push({
      tag: 'notify',
      val: {
        target: { tag: 'supervisor' },
        urgency: 'high',
        message: `contact ${contact.id} is at risk: customer sentiment dropped below the threshold`,
      },
    });
    reason += ', supervisor notified';
  }
  log('info', `contact ${contact.id}: ${reason}`);
  return { actions, recheck: undefined, reason };
}

/** The exported `switchboard:rules/escalation` interface. */
export const escalation = {
  configure(json) {
    config = null; // a failed configure leaves no old configuration behind
    try {
      config = parseConfig(json);
    } catch (e) {
      throw `${PLUGIN}: invalid configuration: ${e}`;
    }
  },

  onEvent(input) {
    if (config === null) throw `${PLUGIN}: on-event called before configure`;
    try {
      return onEvent(input);
    } catch (e) {
      // A bug here is a plugin failure the host reports, not a trap.
      throw `${PLUGIN}: on-event failed: ${e}`;
    }
  },
};
