// {{name}}: a switchboard KPI definition (world `{{world}}`), in JavaScript.
//
// The host calls `configure` once per instance with the JSON configuration
// (already validated against `config_schema` in manifest.json), `measures`
// once, then `onEvent` for every contact and agent event. It adds the
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
// WIT in JavaScript (componentize-js): records are objects with camelCase
// fields, enums are their WIT names as strings (`'email'`), `option<T>` is a
// value or `undefined`, `s64` (timestamps) is a BigInt, variants are
// `{ tag, val }` (`{ tag: 'record', val: sample }`), and a `result` error is
// returned by throwing it (a string). Anything else thrown traps the
// component, so the exported functions catch everything.

const PLUGIN = '{{name}}';
const DIMENSIONS = ['channel', 'queue', 'tier'];

const MEASURES = [
  { name: 'contacts_resolved', unit: 'contacts', aggregation: 'sum', description: 'Contacts resolved.' },
  {
    name: 'resolution_time',
    unit: 'seconds',
    aggregation: 'mean',
    description: "Time from the contact's creation to its resolution.",
  },
];

/** The configuration, set by `configure`. */
let config = null;

/** The configuration, as in manifest.json's `config_schema`. */
function parseConfig(json) {
  const raw = JSON.parse(json);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw 'the configuration must be a JSON object';
  }
  const dimensions = raw.dimensions;
  if (!Array.isArray(dimensions) || !dimensions.every((d) => DIMENSIONS.includes(d))) {
    throw `dimensions must be a list of ${DIMENSIONS.join(', ')}`;
  }
  return { dimensions };
}

function onEvent(input) {
  const contact = input.contact;
  // Only resolutions count, and agent events have no contact.
  if (input.event.kind.tag !== 'resolved' || contact === undefined) return [];

  // The dimensions, in the configured order, each when known.
  const dimensions = [];
  for (const d of config.dimensions) {
    if (d === 'channel') dimensions.push({ key: 'channel', value: contact.channel });
    else if (d === 'queue' && contact.queue !== undefined) dimensions.push({ key: 'queue', value: contact.queue });
    else if (d === 'tier' && contact.customerTier !== '') dimensions.push({ key: 'tier', value: contact.customerTier });
  }

  // Times are BigInt milliseconds; the event time stands in for a missing resolvedAt.
  const times = contact.times;
  const resolvedAt = times.resolvedAt ?? input.event.at;
  const millis = resolvedAt > times.createdAt ? resolvedAt - times.createdAt : 0n;
  const seconds = Number(millis) / 1000;

  const record = (measure, value) => ({
    tag: 'record',
    val: { measure, id: undefined, dimensions: [...dimensions], value, denominator: 0 },
  });
  return [record('contacts_resolved', 1), record('resolution_time', seconds)];
}

/** The exported `switchboard:rules/kpi` interface. */
export const kpi = {
  configure(json) {
    config = null; // a failed configure leaves no old configuration behind
    try {
      config = parseConfig(json);
    } catch (e) {
      throw `${PLUGIN}: invalid configuration: ${e}`;
    }
  },

  measures() {
    return MEASURES;
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
