"""{{name}}: a switchboard KPI definition (world `{{world}}`), in Python.

The host calls `configure` once per instance with the JSON configuration
(already validated against `config_schema` in manifest.json), `measures`
once, then `on_event` for every contact and agent event. It adds the
samples up into time buckets per dimension value.

The rule: when a contact is resolved, emit
- `contacts_resolved` (sum): 1;
- `resolution_time` (mean, seconds): from the contact's creation to its
  resolution.
Each sample carries the dimensions listed in `dimensions`, in that order,
each only when known: `channel`, `queue` (the contact's), `tier` (the
customer's). Every other event emits nothing.

WIT in Python (componentize-py): records are dataclasses with snake_case
fields, enums are `Enum`s, `option<T>` is a value or None, variants are one
class per case (`Emission_Record(value=Sample(...))`), and a `result` error
is raised as `Err("message")`. Any other exception traps the component, so
`configure` and `on_event` turn them into `Err`.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.kpi import Aggregation, Emission, Emission_Record, Measure, Sample
from wit_world.imports.types import EventKind_Resolved, KeyValue

PLUGIN = "{{name}}"
DIMENSIONS = ("channel", "queue", "tier")

# The configuration, set by `configure`. componentize-py may create the
# `Kpi` object more than once, so state lives at module level.
_config = None


class Config:
    """The configuration, as in manifest.json's `config_schema`."""

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ValueError("the configuration must be a JSON object")
        dimensions = raw.get("dimensions")
        if not isinstance(dimensions, list) or not all(d in DIMENSIONS for d in dimensions):
            raise ValueError("dimensions must be a list of %s" % ", ".join(DIMENSIONS))
        self.dimensions = dimensions


MEASURES = [
    Measure(name="contacts_resolved", unit="contacts", aggregation=Aggregation.SUM, description="Contacts resolved."),
    Measure(
        name="resolution_time",
        unit="seconds",
        aggregation=Aggregation.MEAN,
        description="Time from the contact's creation to its resolution.",
    ),
]


def on_event(config, input):
    """The samples for one event. Pure: no WIT calls."""
    contact = input.contact
    # Only resolutions count, and agent events have no contact.
    if not isinstance(input.event.kind, EventKind_Resolved) or contact is None:
        return []

    # The dimensions, in the configured order, each when known.
    dimensions = []
    for d in config.dimensions:
        if d == "channel":
            dimensions.append(KeyValue(key="channel", value=contact.channel.name.lower()))
        elif d == "queue" and contact.queue is not None:
            dimensions.append(KeyValue(key="queue", value=contact.queue))
        elif d == "tier" and contact.customer_tier:
            dimensions.append(KeyValue(key="tier", value=contact.customer_tier))

    # Times are milliseconds; the event time stands in for a missing resolved_at.
    times = contact.times
    resolved_at = times.resolved_at if times.resolved_at is not None else input.event.at
    seconds = max(resolved_at - times.created_at, 0) / 1000

    def record(measure, value):
        sample = Sample(measure=measure, id=None, dimensions=list(dimensions), value=value, denominator=0.0)
        return Emission_Record(value=sample)

    return [record("contacts_resolved", 1.0), record("resolution_time", seconds)]


class Kpi(exports.Kpi):
    """The exported `switchboard:rules/kpi` interface."""

    def configure(self, config: str) -> None:
        global _config
        _config = None  # a failed configure leaves no old configuration behind
        try:
            _config = Config(json.loads(config))
        except Exception as e:  # bad JSON, a missing field, a wrong type, ...
            raise Err("%s: invalid configuration: %s" % (PLUGIN, e))

    def measures(self) -> list[Measure]:
        return MEASURES

    def on_event(self, input) -> list[Emission]:
        if _config is None:
            raise Err("%s: on-event called before configure" % PLUGIN)
        try:
            return on_event(_config, input)
        except Exception as e:  # a bug here is a plugin failure, not a trap
            raise Err("%s: on-event failed: %r" % (PLUGIN, e))
