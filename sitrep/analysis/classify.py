"""Label an error pattern `transient`, `persistent` or `unknown`, with the signal that matched.

Read by a tired human mid-incident: when unsure, say `unknown` rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Label = Literal["transient", "persistent", "unknown"]


@dataclass(frozen=True, slots=True)
class Classification:
    label: Label
    signal: str | None
    """The text that decided the label, or None for `unknown`."""


_TRANSIENT = re.compile(r"(?i)\b(timed? ?out|connection (?:reset|refused|closed)|\b50[234]\b|429)")
_PERSISTENT = re.compile(r"(?i)(exception|assertion|validation|null ?pointer|\b40[04]\b)")


def classify(template: str, example: str | None = None) -> Classification:
    """Label a template; `example` (one raw message) shows values the template masked."""
    for text in (template, example or ""):
        if match := _TRANSIENT.search(text):
            return Classification("transient", match.group(0))
    for text in (template, example or ""):
        if match := _PERSISTENT.search(text):
            return Classification("persistent", match.group(0))
    return Classification("unknown", None)
