"""{{name}}: a switchboard compliance check (world `{{world}}`), in Python.

The host calls `configure` once per instance with the JSON configuration
(already validated against `config_schema` in manifest.json), then `check`
for every draft reply an agent is about to send.

The rule: for each phrase of `banned_phrases` that the draft contains
(anywhere; letters A-Z match either case, other characters exactly), one
finding naming the phrase, with the span of its first occurrence. A draft
with findings gets the configured `verdict`; a clean one is approved.

WIT in Python (componentize-py): records are dataclasses with snake_case
fields, enums are `Enum`s (`Verdict.NEEDS_APPROVAL`), `option<T>` is a value
or None, and a `result` error is raised as `Err("message")`. Any other
exception traps the component, so `configure` and `check` turn them into
`Err`. Spans count characters (Unicode scalar values), which is what Python
string indices count too.
"""

import json
import string

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.compliance import ComplianceResult, Finding, Severity, Span, Verdict
from wit_world.imports import log

PLUGIN = "{{name}}"
VERDICTS = {"revise": Verdict.REVISE, "needs-approval": Verdict.NEEDS_APPROVAL, "block": Verdict.BLOCK}
# Lower-cases A-Z only: every other character stays as it is, at its place.
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)

# The configuration, set by `configure`. componentize-py may create the
# `Compliance` object more than once, so state lives at module level.
_config = None


class Config:
    """The configuration, as in manifest.json's `config_schema`."""

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ValueError("the configuration must be a JSON object")
        phrases = raw.get("banned_phrases")
        if not isinstance(phrases, list) or not all(isinstance(p, str) and p for p in phrases):
            raise ValueError("banned_phrases must be a list of non-empty strings")
        # Each phrase as configured (for messages) and lower-cased (for matching).
        self.phrases = [(p, p.translate(ASCII_LOWER)) for p in phrases]
        if raw.get("verdict") not in VERDICTS:
            raise ValueError("verdict must be one of %s" % ", ".join(VERDICTS))
        self.verdict = VERDICTS[raw["verdict"]]


def check(config, draft):
    """The result for one draft. Pure: no WIT calls."""
    text = draft.text.translate(ASCII_LOWER)
    findings = []
    for phrase, lower in config.phrases:
        start = text.find(lower)
        if start >= 0:
            findings.append(
                Finding(
                    rule_id="banned-phrase",
                    severity=Severity.ERROR,
                    message='"%s" must not be sent to customers' % phrase,
                    span=Span(start=start, end=start + len(lower)),
                    suggestion=None,
                )
            )
    if not findings:
        return ComplianceResult(verdict=Verdict.APPROVE, findings=[], redacted_text=None)
    log.log(
        log.Level.INFO,
        "draft for contact %s: %d banned phrase(s)" % (draft.context.contact_id, len(findings)),
    )
    return ComplianceResult(verdict=config.verdict, findings=findings, redacted_text=None)


class Compliance(exports.Compliance):
    """The exported `switchboard:rules/compliance` interface."""

    def configure(self, config: str) -> None:
        global _config
        _config = None  # a failed configure leaves no old configuration behind
        try:
            _config = Config(json.loads(config))
        except Exception as e:  # bad JSON, a missing field, a wrong type, ...
            raise Err("%s: invalid configuration: %s" % (PLUGIN, e))

    def check(self, draft) -> ComplianceResult:
        if _config is None:
            raise Err("%s: check called before configure" % PLUGIN)
        try:
            return check(_config, draft)
        except Exception as e:  # a bug here is a plugin failure, not a trap
            raise Err("%s: check failed: %r" % (PLUGIN, e))
