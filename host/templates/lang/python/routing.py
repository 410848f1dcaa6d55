"""{{name}}: a switchboard routing policy (world `{{world}}`), in Python.

The host calls `configure` once per instance with the JSON configuration
(already validated against `config_schema` in manifest.json), then `route`
for every contact that needs a queue.

The rule: a contact whose customer tier is in `vip_tiers` goes to
`vip_queue`, its priority raised by `vip_priority_bonus`, tagged `vip` and
given the attribute `segment=vip` (escalation rules and KPI definitions see
it in `contact.attributes`); everyone else goes to `default_queue` at the
priority they have. `reason` says which and why.

WIT in Python (componentize-py): records are dataclasses with snake_case
fields, enums are `Enum`s, `option<T>` is a value or None, and a `result`
error is raised as `Err("message")`. Any other exception traps the
component, so `configure` and `route` turn them into `Err`.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.routing import RoutingDecision
from wit_world.imports import log
from wit_world.imports.types import KeyValue

PLUGIN = "{{name}}"
U32_MAX = 4294967295

# The configuration, set by `configure`. componentize-py may create the
# `Routing` object more than once, so state lives at module level.
_config = None


class Config:
    """The configuration, as in manifest.json's `config_schema`."""

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ValueError("the configuration must be a JSON object")
        self.default_queue = _field(raw, "default_queue", str)
        self.vip_queue = _field(raw, "vip_queue", str)
        self.vip_tiers = _field(raw, "vip_tiers", list)
        self.vip_priority_bonus = _field(raw, "vip_priority_bonus", int)
        # What the JSON Schema cannot check.
        if self.vip_queue == self.default_queue:
            raise ValueError(
                "vip_queue and default_queue are both %s: VIP contacts would not get a queue of their own"
                % self.default_queue
            )


def _field(raw, key, kind):
    """`raw[key]`, which must be a `kind` (a JSON true is not an int here)."""
    if key not in raw:
        raise ValueError("missing field %s" % key)
    value = raw[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError("%s must be of type %s" % (key, kind.__name__))
    return value


def decision(queue, priority, reason):
    """A decision with no skills, team, language, preferred agent or relaxation."""
    return RoutingDecision(
        queue=queue,
        priority=priority,
        required_skills=[],
        preferred_skills=[],
        team=None,
        language=None,
        preferred_agent=None,
        relaxation=[],
        tags=[],
        attributes=[],
        reason=reason,
    )


def route(config, contact):
    """The routing decision for one contact. Pure: no WIT calls."""
    tier = contact.customer_tier
    if tier not in config.vip_tiers:
        # Not a VIP: the default queue, priority unchanged.
        return decision(
            config.default_queue,
            contact.priority,
            "tier %s -> queue %s" % (tier, config.default_queue),
        )
    bonus = config.vip_priority_bonus
    # Priorities are u32: do not go past the largest one.
    result = decision(
        config.vip_queue,
        min(contact.priority + bonus, U32_MAX),
        "tier %s is a VIP tier -> queue %s, priority +%d" % (tier, config.vip_queue, bonus),
    )
    result.tags.append("vip")
    result.attributes.append(KeyValue(key="segment", value="vip"))
    return result


class Routing(exports.Routing):
    """The exported `switchboard:rules/routing` interface."""

    def configure(self, config: str) -> None:
        global _config
        _config = None  # a failed configure leaves no old configuration behind
        try:
            _config = Config(json.loads(config))
        except Exception as e:  # bad JSON, a missing field, a wrong type, ...
            raise Err("%s: invalid configuration: %s" % (PLUGIN, e))

    def route(self, input) -> RoutingDecision:
        if _config is None:
            raise Err("%s: route called before configure" % PLUGIN)
        try:
            result = route(_config, input.contact)
        except Exception as e:  # a bug here is a plugin failure, not a trap
            raise Err("%s: route failed: %r" % (PLUGIN, e))
        log.log(log.Level.DEBUG, "contact %s: %s" % (input.contact.id, result.reason))
        return result
