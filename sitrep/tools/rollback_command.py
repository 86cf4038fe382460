"""The rollback command a human is told to run, built so that pasting it runs only what the
template says.

A deploy's version, sha, service and branch come from a deploy log or from git: untrusted.
Each value the template uses is checked *before* it is quoted: it must hold only the
characters its kind can hold, and redaction must leave it as it is. Then it is shell-quoted
into the operator's template, and the finished command is checked, never edited: a command
that redaction would change is withheld, because removing one character of a quoted value
(a quote, say) can turn data into code. When any check fails there is no command, and the
candidate says why.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass

from sitrep.errors import ConfigError
from sitrep.redact import sanitize

__all__ = ["PLACEHOLDERS", "Rendered", "placeholders", "render_command"]

_SHA = re.compile(r"[0-9a-fA-F]{4,64}")
# A version, tag, branch or service name: what git refs, container tags and semver hold.
# It may not start with `-` (an option) or `.`, and holds no space, quote or shell character.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+@:/-]{0,127}")
# A path the operator configured (the repository, a subdirectory).
_PATH = re.compile(r"[A-Za-z0-9_./~+@:][A-Za-z0-9_./~+@:,= -]{0,1023}")

_KIND = {
    "service": ("service name", _NAME),
    "sha": ("sha", _SHA),
    "short_sha": ("sha", _SHA),
    "current_sha": ("current sha", _SHA),
    "version": ("version", _NAME),
    "current_version": ("current version", _NAME),
    "branch": ("branch", _NAME),
    "repo": ("repository path", _PATH),
    "path": ("path", _PATH),
}
_MESSAGE_PARTS = ("service", "version")
"""{message} is sitrep's own sentence around these values, so it is as safe as they are."""
PLACEHOLDERS = frozenset({*_KIND, "message"})
_ALLOWED = {
    _NAME: "letters, digits and . _ + @ : / - (not first)",
    _SHA: "hex digits",
    _PATH: "letters, digits, spaces and . _ / ~ + @ : , = -",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    command: str | None
    """The command, or None when a value or the template did not pass."""
    refused: str | None = None
    """Why there is no command: sitrep's own words, naming the value, never quoting it."""


def placeholders(template: str) -> set[str]:
    """The {placeholders} a template uses; a malformed or unknown one is a configuration error."""
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise ConfigError(f"rollback command template {template!r}: {error}") from None
    unknown = sorted(u for u in used if u not in PLACEHOLDERS)
    if unknown:
        raise ConfigError(
            f"rollback command template: unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
            f"use {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}"
        )
    return used


def render_command(template: str, values: Mapping[str, str]) -> Rendered:
    """Fill the template's placeholders with checked, shell-quoted values."""
    used = placeholders(template)
    checked = (used - {"message"}) | (set(_MESSAGE_PARTS) if "message" in used else set())
    for name in sorted(checked):
        refused = _refusal(name, values.get(name, ""))
        if refused:
            return Rendered(None, refused)
    command = template.format_map({name: shlex.quote(values.get(name, "")) for name in used})
    if sanitize(command) != command:
        return Rendered(
            None,
            "the command would hold text that looks like a secret or a hidden character; "
            "it is withheld rather than altered: check the [rollback] command template",
        )
    return Rendered(command)


def _refusal(name: str, value: str) -> str | None:
    label, pattern = _KIND[name]
    if not value:
        return f"no command: the deploy has no {label}"
    if sanitize(value) != value:
        return f"no command: the {label} holds what redaction would change (a secret, a hidden character)"
    if pattern.fullmatch(value) is None:
        return f"no command: the {label} holds characters a {label} cannot hold; allowed: {_ALLOWED[pattern]}"
    return None
