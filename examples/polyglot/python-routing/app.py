"""python-routing: a switchboard routing policy written in Python.

Built into a WebAssembly component with componentize-py against the
`routing-policy` world of wit/worlds.wit by `switchboard plugin build` (see
README.md). The host calls `configure` once per instance with the JSON
configuration (already validated against `config_schema` in manifest.json),
then `route` for every contact.

What it decides, each part explained in `reason`:

- queue: the contact's most specific topic (topics come most specific first)
  that has a queue in `topic_queues`, else `default_queue`;
- required skills: every skill listed for any of the contact's topics in
  `topic_skills` (the highest level wins when several topics name a skill);
- priority: `base_priority` + the tier bonus from `tier_priority`
  + `upset_priority_bonus` when the sentiment is at or below
  `upset_sentiment_at_or_below` + `repeat_priority_bonus` for repeat callers;
- language: the contact's language is required when its primary subtag
  ("pt" of "pt-BR") is in `supported_languages` (an empty list: any);
- repeat callers (`history.same_topic_repeats >= repeat_threshold`) are offered
  to `history.last_agent` first for `repeat_agent_timeout_secs` and tagged;
- relaxation: when `overflow_queue` is set (and is not the chosen queue),
  contacts still waiting after `overflow_after_secs` move there.

Everything the policy needs is in its input: no clock, files or network.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.routing import (
    PreferredAgent,
    RelaxationAction_Overflow,
    RelaxationStep,
    RoutingDecision,
)
from wit_world.imports import log
from wit_world.imports.types import SkillLevel

U32_MAX = 4294967295

# The configuration, set by `configure`. componentize-py may create a new
# `Routing` object per call, so state lives at module level.
_config = None


class Config:
    """The validated configuration with its defaults applied."""

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ValueError("the configuration must be a JSON object")
        self.default_queue = _str(raw, "default_queue", None)
        if not self.default_queue or not self.default_queue.strip():
            raise ValueError("default_queue must be a non-empty string")
        self.topic_queues = _map(raw, "topic_queues", str)
        self.tier_priority = _map(raw, "tier_priority", int)
        self.base_priority = _int(raw, "base_priority", 1)
        self.supported_languages = [
            lang.lower() for lang in raw.get("supported_languages", [])
        ]
        self.require_language = bool(raw.get("require_language", True))
        self.repeat_threshold = _int(raw, "repeat_threshold", 2)
        self.repeat_agent_timeout_secs = _int(raw, "repeat_agent_timeout_secs", 45)
        self.repeat_priority_bonus = _int(raw, "repeat_priority_bonus", 0)
        self.upset_sentiment_at_or_below = float(
            raw.get("upset_sentiment_at_or_below", -0.5)
        )
        self.upset_priority_bonus = _int(raw, "upset_priority_bonus", 0)
        self.overflow_queue = raw.get("overflow_queue")
        self.overflow_after_secs = _int(raw, "overflow_after_secs", 300)
        self.topic_skills = {}
        for topic, skills in raw.get("topic_skills", {}).items():
            levels = []
            for s in skills:
                level = int(s["min_proficiency"])
                if not 1 <= level <= 5:
                    raise ValueError(
                        "topic_skills.%s: min_proficiency of %s must be 1-5, got %d"
                        % (topic, s["skill"], level)
                    )
                levels.append((str(s["skill"]), level))
            self.topic_skills[topic] = levels
        if self.repeat_threshold < 1:
            raise ValueError("repeat_threshold must be at least 1")


def _str(raw, key, default):
    value = raw.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ValueError("%s must be a string" % key)
    return value


def _int(raw, key, default):
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("%s must be an integer" % key)
    if not 0 <= value <= U32_MAX:
        raise ValueError("%s must be 0-%d" % (key, U32_MAX))
    return value


def _map(raw, key, kind):
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ValueError("%s must be an object" % key)
    for k, v in value.items():
        if kind is int and (isinstance(v, bool) or not isinstance(v, int)):
            raise ValueError("%s.%s must be an integer" % (key, k))
        if kind is str and not isinstance(v, str):
            raise ValueError("%s.%s must be a string" % (key, k))
    return value


def _sat(n):
    """Clamp to the u32 range the WIT priority uses."""
    return max(0, min(U32_MAX, n))


def decide(config, inp):
    """The routing decision for one `routing-input`. Pure: no WIT calls."""
    contact = inp.contact
    history = inp.history
    reasons = []
    tags = []

    queue = None
    for topic in contact.topics:
        if topic in config.topic_queues:
            queue = config.topic_queues[topic]
            reasons.append("topic %s -> queue %s" % (topic, queue))
            break
    if queue is None:
        queue = config.default_queue
        reasons.append("no topic queue -> queue %s" % queue)

    priority = config.base_priority
    bonus = config.tier_priority.get(contact.customer_tier, 0)
    if bonus:
        priority += bonus
        reasons.append("tier %s +%d" % (contact.customer_tier, bonus))
    sentiment = contact.sentiment
    if (
        config.upset_priority_bonus
        and sentiment is not None
        and sentiment <= config.upset_sentiment_at_or_below
    ):
        priority += config.upset_priority_bonus
        tags.append("upset")
        reasons.append(
            "sentiment %.2f +%d" % (sentiment, config.upset_priority_bonus)
        )

    required = {}
    order = []
    for topic in contact.topics:
        for skill, level in config.topic_skills.get(topic, []):
            if skill not in required:
                order.append(skill)
                required[skill] = level
            else:
                required[skill] = max(required[skill], level)
    required_skills = [SkillLevel(skill=s, proficiency=required[s]) for s in order]
    if required_skills:
        reasons.append(
            "requires " + ", ".join("%s>=%d" % (s, required[s]) for s in order)
        )

    language = None
    if config.require_language:
        tag = contact.language.strip()
        primary = tag.split("-")[0].lower()
        if not tag:
            log.log(log.Level.WARN, "contact %s has no language" % contact.id)
        elif config.supported_languages and primary not in config.supported_languages:
            tags.append("language-unsupported")
            reasons.append("language %s not staffed, not required" % tag)
        else:
            language = tag
            reasons.append("language %s required" % tag)

    preferred_agent = None
    repeats = history.same_topic_repeats
    if repeats >= config.repeat_threshold:
        tags.append("repeat-caller")
        if config.repeat_priority_bonus:
            priority += config.repeat_priority_bonus
        if history.last_agent:
            preferred_agent = PreferredAgent(
                agent_id=history.last_agent,
                timeout_secs=config.repeat_agent_timeout_secs,
            )
            reasons.append(
                "repeat caller (%d same-topic contacts) -> prefer agent %s for %ds"
                % (repeats, history.last_agent, config.repeat_agent_timeout_secs)
            )
        else:
            reasons.append(
                "repeat caller (%d same-topic contacts), previous agent unknown"
                % repeats
            )
        if config.repeat_priority_bonus:
            reasons.append("repeat +%d" % config.repeat_priority_bonus)

    relaxation = []
    if config.overflow_queue and config.overflow_queue != queue:
        relaxation.append(
            RelaxationStep(
                after_secs=config.overflow_after_secs,
                actions=[RelaxationAction_Overflow(value=config.overflow_queue)],
            )
        )

    return RoutingDecision(
        queue=queue,
        priority=_sat(priority),
        required_skills=required_skills,
        preferred_skills=[],
        team=None,
        language=language,
        preferred_agent=preferred_agent,
        relaxation=relaxation,
        tags=tags,
        attributes=[],
        reason="; ".join(reasons),
    )


class Routing(exports.Routing):
    """The exported `switchboard:rules/routing` interface."""

    def configure(self, config: str) -> None:
        global _config
        try:
            _config = Config(json.loads(config))
        except (ValueError, KeyError, TypeError) as e:
            raise Err("invalid configuration: %s" % e)
        log.log(
            log.Level.INFO,
            "python-routing configured: %d topic queues, default %s"
            % (len(_config.topic_queues), _config.default_queue),
        )

    def route(self, input) -> RoutingDecision:
        if _config is None:
            raise Err("route called before configure")
        try:
            return decide(_config, input)
        except Exception as e:  # a bug here is a plugin failure, not a trap
            raise Err("python-routing failed: %r" % e)
