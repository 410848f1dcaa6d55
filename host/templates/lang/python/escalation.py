"""{{name}}: a switchboard escalation rule (world `{{world}}`), in Python.

The host calls `configure` once per instance with the JSON configuration
(already validated against `config_schema` in manifest.json), then
`on_event` for every event of every contact.

The rule: when an event brings a customer sentiment below
`negative_sentiment_below` (a `sentiment-changed` event, or a message from
the customer with a sentiment), add `tag` to the contact, raise its priority
by `raise_priority` (if not 0) and, if `notify_supervisor`, page a
supervisor. A contact that already has the tag is left alone, so this
happens once per contact. Any other event: no actions.

WIT in Python (componentize-py): records are dataclasses with snake_case
fields, enums are `Enum`s, `option<T>` is a value or None, variants are one
class per case (`EscalationAction_AddTag(value="at-risk")`), and a `result`
error is raised as `Err("message")`. Any other exception traps the
component, so `configure` and `on_event` turn them into `Err`.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.escalation import (
    EscalationAction_AddTag,
    EscalationAction_Notify,
    EscalationAction_RaisePriority,
    EscalationOutcome,
    Notification,
    NotifyTarget_Supervisor,
    Urgency,
)
from wit_world.imports import log
from wit_world.imports.types import EventKind_Message, EventKind_SentimentChanged

PLUGIN = "{{name}}"

# The configuration, set by `configure`. componentize-py may create the
# `Escalation` object more than once, so state lives at module level.
_config = None


class Config:
    """The configuration, as in manifest.json's `config_schema`."""

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ValueError("the configuration must be a JSON object")
        self.negative_sentiment_below = float(_field(raw, "negative_sentiment_below", (int, float)))
        self.tag = _field(raw, "tag", str)
        self.raise_priority = _field(raw, "raise_priority", int)
        self.notify_supervisor = _field(raw, "notify_supervisor", bool)


def _field(raw, key, kind):
    """`raw[key]`, which must be a `kind` (a JSON true is not a number here)."""
    if key not in raw:
        raise ValueError("missing field %s" % key)
    value = raw[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError("%s has the wrong type" % key)
    return value


def nothing(reason):
    return EscalationOutcome(actions=[], recheck=None, reason=reason)


def on_event(config, input):
    """The outcome of one event. Pure: no WIT calls."""
    contact = input.contact
    kind = input.event.kind

    # The sentiment this event reports, if any.
    sentiment = None
    if isinstance(kind, EventKind_SentimentChanged):
        sentiment = kind.value
    elif isinstance(kind, EventKind_Message) and kind.value.from_customer:
        sentiment = kind.value.sentiment
    if sentiment is None:
        return nothing("no customer sentiment in this event")
    if sentiment >= config.negative_sentiment_below:
        return nothing("sentiment not below threshold")
    if config.tag in contact.tags:
        return nothing("already tagged %s" % config.tag)

    # Below the threshold for the first time: act, and say what was done.
    actions = [EscalationAction_AddTag(value=config.tag)]
    reason = "sentiment below threshold -> tag %s" % config.tag
    if config.raise_priority > 0:
        actions.append(EscalationAction_RaisePriority(value=config.raise_priority))
        reason += ", priority +%d" % config.raise_priority
    if config.notify_supervisor:
        message = "contact %s is at risk: customer sentiment dropped below the threshold" % contact.id
        actions.append(
            EscalationAction_Notify(
                value=Notification(target=NotifyTarget_Supervisor(), urgency=Urgency.HIGH, message=message)
            )
        )
        reason += ", supervisor notified"
    log.log(log.Level.INFO, "contact %s: %s" % (contact.id, reason))
    return EscalationOutcome(actions=actions, recheck=None, reason=reason)


class Escalation(exports.Escalation):
    """The exported `switchboard:rules/escalation` interface."""

    def configure(self, config: str) -> None:
        global _config
        _config = None  # a failed configure leaves no old configuration behind
        try:
            _config = Config(json.loads(config))
        except Exception as e:  # bad JSON, a missing field, a wrong type, ...
            raise Err("%s: invalid configuration: %s" % (PLUGIN, e))

    def on_event(self, input) -> EscalationOutcome:
        if _config is None:
            raise Err("%s: on-event called before configure" % PLUGIN)
        try:
            return on_event(_config, input)
        except Exception as e:  # a bug here is a plugin failure, not a trap
            raise Err("%s: on-event failed: %r" % (PLUGIN, e))
