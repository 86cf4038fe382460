"""Error patterns of a window: every matched line accounted for, each template flagged new
when the baseline window never saw it. Current and baseline lines are mined together, so a
template means the same thing on both sides and `new` is exact."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sitrep.analysis.classify import classify
from sitrep.analysis.patterns import OVERFLOW, PatternMiner
from sitrep.deadline import check
from sitrep.domain import MessageGroup

_NO_TIME = float("-inf")
"""Where a group with no time sorts: before every timed one."""


@dataclass(slots=True)
class _Seen:
    count: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    example: str = ""
    services: dict[str, int] = field(default_factory=dict)

    def add(self, group: MessageGroup) -> None:
        first = _NO_TIME if group.first_ts is None else group.first_ts
        # The earliest message is the example: deterministic whether a backend sends lines
        # one by one or grouped, and it shows the onset.
        earliest = _sort_time(self.first_ts) if self.count else float("inf")
        if (first, group.message) < (earliest, self.example) or not self.example:
            self.example = group.message
        self.count += group.count
        if group.first_ts is not None:
            self.first_ts = group.first_ts if self.first_ts is None else min(self.first_ts, group.first_ts)
        if group.last_ts is not None:
            self.last_ts = group.last_ts if self.last_ts is None else max(self.last_ts, group.last_ts)
        for service, count in group.services.items():
            self.services[service] = self.services.get(service, 0) + count


@dataclass(slots=True)
class PatternFound:
    pattern_id: str
    template: str
    count: int
    first_ts: float | None
    last_ts: float | None
    example: str
    services: dict[str, int]
    baseline_count: int
    label: str
    signal: str | None


@dataclass(slots=True)
class PatternSummary:
    total: int
    """Lines matched in the window: the sum of every pattern's count and `unmined`."""
    patterns: list[PatternFound]
    """Most frequent first."""
    unmined: int
    """Lines counted but not grouped because the miner's cap was hit."""
    baseline_total: int


def summarize_patterns(
    groups: Iterable[tuple[int, MessageGroup]],
    current: int,
    max_groups: int = 50_000,
    ungrouped: Mapping[int, int] | None = None,
) -> PatternSummary:
    """`groups` are tagged with their window: `current` is the window asked about, any other
    tag is the baseline. `ungrouped` (read after `groups` is consumed) counts lines per window
    that a backend counted but did not return as text."""
    miner = PatternMiner(max_groups=max_groups)
    seen: dict[int, _Seen] = {}
    before: dict[int, int] = {}
    baseline_total = 0
    for window, group in groups:
        check()
        key = miner.add(group.message, group.count)
        if window == current:
            seen.setdefault(key, _Seen()).add(group)
        else:
            before[key] = before.get(key, 0) + group.count
            baseline_total += group.count
    mining = miner.finish()

    merged: dict[int, _Seen] = {}
    baseline_counts: dict[int, int] = {}
    for key, count in before.items():
        index = mining.template_of(key)
        baseline_counts[index] = baseline_counts.get(index, 0) + count
    for key, acc in seen.items():
        index = mining.template_of(key)
        target = merged.setdefault(index, _Seen())
        target.add(MessageGroup(acc.example, acc.count, acc.first_ts, acc.last_ts, acc.services))

    unmined = merged.pop(OVERFLOW).count if OVERFLOW in merged else 0
    unmined += (ungrouped or {}).get(current, 0)
    baseline_total += sum(count for window, count in (ungrouped or {}).items() if window != current)
    patterns = [
        _found(mining.templates[i].pattern_id, mining.templates[i].template, acc, baseline_counts.get(i, 0))
        for i, acc in merged.items()
    ]
    patterns.sort(key=lambda p: (-p.count, _sort_time(p.first_ts), p.pattern_id))
    total = sum(p.count for p in patterns) + unmined
    return PatternSummary(total, patterns, unmined, baseline_total)


def _sort_time(ts: float | None) -> float:
    return _NO_TIME if ts is None else ts


def _found(pattern_id: str, template: str, acc: _Seen, baseline_count: int) -> PatternFound:
    verdict = classify(template, acc.example)
    return PatternFound(
        pattern_id,
        template,
        acc.count,
        acc.first_ts,
        acc.last_ts,
        acc.example,
        dict(sorted(acc.services.items(), key=lambda kv: -kv[1])),
        baseline_count,
        verdict.label,
        verdict.signal,
    )
