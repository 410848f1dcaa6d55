// {{name}}: a switchboard routing policy (world `{{world}}`), in JavaScript.
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
// WIT in JavaScript (componentize-js): records are objects with camelCase
// fields (`contact.customerTier`), enums are their WIT names as strings,
// `option<T>` is a value or `undefined`, `s64` is a BigInt, variants are
// `{ tag, val }`, and a `result` error is returned by throwing it (a
// string). Anything else thrown traps the component, so `configure` and
// `route` catch everything.

import { log } from 'switchboard:rules/log@{{wit_version}}';

const PLUGIN = '{{name}}';
const U32_MAX = 4294967295;

/** The configuration, set by `configure`. */
let config = null;

/** `raw[key]`, which must be of JavaScript type `type` ('string', 'number', ...). */
function field(raw, key, type) {
  const value = raw[key];
  if (value === undefined) throw `missing field ${key}`;
  const ok = type === 'array' ? Array.isArray(value) : typeof value === type;
  if (!ok) throw `${key} must be of type ${type}`;
  return value;
}

/** The configuration, as in manifest.json's `config_schema`. */
function parseConfig(json) {
  const raw = JSON.parse(json);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw 'the configuration must be a JSON object';
  }
  const cfg = {
    defaultQueue: field(raw, 'default_queue', 'string'),
    vipQueue: field(raw, 'vip_queue', 'string'),
    vipTiers: field(raw, 'vip_tiers', 'array'),
    vipPriorityBonus: field(raw, 'vip_priority_bonus', 'number'),
  };
  // What the JSON Schema cannot check.
  if (cfg.vipQueue === cfg.defaultQueue) {
    throw `vip_queue and default_queue are both ${cfg.defaultQueue}: VIP contacts would not get a queue of their own`;
  }
  return cfg;
}

/** A decision with no skills, team, language, preferred agent or relaxation. */
function decision(queue, priority, reason) {
  return {
    queue,
    priority,
    requiredSkills: [],
    preferredSkills: [],
    team: undefined,
    language: undefined,
    preferredAgent: undefined,
    relaxation: [],
    tags: [],
    attributes: [],
    reason,
  };
}

function route(contact) {
  const tier = contact.customerTier;
  if (!config.vipTiers.includes(tier)) {
    // Not a VIP: the default queue, priority unchanged.
    return decision(config.defaultQueue, contact.priority, `tier ${tier} -> queue ${config.defaultQueue}`);
  }
  const bonus = config.vipPriorityBonus;
  // Priorities are u32: do not go past the largest one.
  const result = decision(
    config.vipQueue,
    Math.min(contact.priority + bonus, U32_MAX),
    `tier ${tier} is a VIP tier -> queue ${config.vipQueue}, priority +${bonus}`,
  );
  result.tags.push('vip');
  result.attributes.push({ key: 'segment', value: 'vip' });
  return result;
}

/** The exported `switchboard:rules/routing` interface. */
export const routing = {
  configure(json) {
    config = null; // a failed configure leaves no old configuration behind
    try {
      config = parseConfig(json);
    } catch (e) {
      throw `${PLUGIN}: invalid configuration: ${e}`;
    }
  },

  route(input) {
    if (config === null) throw `${PLUGIN}: route called before configure`;
    let result;
    try {
      result = route(input.contact);
    } catch (e) {
      // A bug here is a plugin failure the host reports, not a trap.
      throw `${PLUGIN}: route failed: ${e}`;
    }
    log('debug', `contact ${input.contact.id}: ${result.reason}`);
    return result;
  },
};
