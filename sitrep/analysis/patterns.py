"""Log template mining: group messages into templates with `<*>` for their variable parts.

One miner serves every log source. Local files feed it one message at a time; OpenSearch
feeds it distinct messages weighted by their counts. The result does not depend on the
order of `add` calls nor on whether duplicates arrive pre-aggregated, so both give the
same templates, and a template's id depends only on its text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

OVERFLOW = -1
"""The key `add` returns once `max_groups` distinct shapes have been seen."""

_VARIABLE = re.compile(
    r"""(?x)
      \b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b
    | \b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b
    | \b0x[0-9a-fA-F]+\b
    | \b[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b
    | [-+]?\b\d+(?:\.\d+)?\b
    """
)


def pattern_id(template: str) -> str:
    """The stable id of a template: the same text gives the same id in any window."""
    return "p" + hashlib.blake2b(template.encode(), digest_size=5).hexdigest()


@dataclass(frozen=True, slots=True)
class Template:
    pattern_id: str
    template: str


@dataclass(slots=True)
class Mining:
    """What `PatternMiner.finish` found."""

    templates: list[Template]
    counts: list[int]
    """Weighted count per template, parallel to `templates`."""
    overflow_count: int
    """Weighted count of messages that arrived after the group cap was hit."""
    capped: bool
    _key_to_template: list[int] = field(repr=False)

    def template_of(self, key: int) -> int:
        """Index into `templates` for a key returned by `add`, or OVERFLOW."""
        return OVERFLOW if key == OVERFLOW else self._key_to_template[key]


class PatternMiner:
    """Collects messages, then mines templates in one deterministic pass."""

    def __init__(self, max_groups: int = 50_000) -> None:
        self._max_groups = max_groups
        self._keys: dict[str, int] = {}
        self._shapes: list[str] = []
        self._counts: list[int] = []
        self._overflow = 0

    def add(self, message: str, count: int = 1) -> int:
        """Feed one message weighted by `count`; return its group key (or OVERFLOW)."""
        shape = _VARIABLE.sub("<*>", message.strip())
        key = self._keys.get(shape)
        if key is None:
            if len(self._shapes) >= self._max_groups:
                self._overflow += count
                return OVERFLOW
            key = len(self._shapes)
            self._keys[shape] = key
            self._shapes.append(shape)
            self._counts.append(0)
        self._counts[key] += count
        return key

    def finish(self) -> Mining:
        """Mine templates from everything added so far."""
        order = sorted(range(len(self._shapes)), key=self._shapes.__getitem__)
        index_of_key = [0] * len(self._shapes)
        templates: list[Template] = []
        counts: list[int] = []
        for index, key in enumerate(order):
            shape = self._shapes[key]
            templates.append(Template(pattern_id(shape), shape))
            counts.append(self._counts[key])
            index_of_key[key] = index
        return Mining(
            templates=templates,
            counts=counts,
            overflow_count=self._overflow,
            capped=self._overflow > 0,
            _key_to_template=index_of_key,
        )
