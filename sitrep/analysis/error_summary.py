"""Error patterns of a window: every matched line accounted for, each template judged against
the baseline window. Current and baseline lines are mined together, so a template means the
same thing on both sides and `new` is exact.

Given the time the logs cover on each side, each pattern's count is tested against its baseline count with
the conditional binomial test of two rates (`judge.compare_counts`), corrected for the many
patterns tested at once (Benjamini–Hochberg): `increased` and `decreased` are discoveries,
`chronic` a pattern of the baseline whose rate this window does not tell apart, `new` and
`gone` what only one side saw. Patterns come most surprising first: by the chance of at least
their count at the baseline's rate, so a new or rising pattern outranks chronic noise.

Each pattern is labelled transient or persistent: by its text (`classify`); when the text says
nothing, by its timing (it stopped while the window's other lines went on: transient); else
transient, the cheaper mistake (a wrong "transient" costs a retry, a wrong "persistent" stops
a human).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from sitrep.analysis.classify import Classification, classify
from sitrep.analysis.judge import adjust_fdr, compare_counts
from sitrep.analysis.patterns import OVERFLOW, PatternMiner
from sitrep.deadline import check
from sitrep.domain import MessageGroup

_NO_TIME = float("-inf")
"""Where a group with no time sorts: before every timed one."""

LEVEL = 0.05
"""The false-discovery rate at which a pattern counts as increased or decreased, and the
chance below which a silence counts as a stop."""

Change = Literal["new", "increased", "decreased", "chronic", "gone"]


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
    change: Change | None = None
    """None when there is no baseline to judge against."""
    ratio: float | None = None
    """The window's rate over the baseline's, per second; None without baseline lines."""
    p_value: float | None = None
    """Chance of at least `count` lines at the baseline's rate (at most, for `gone`)."""


@dataclass(slots=True)
class PatternSummary:
    total: int
    """Lines matched in the window: the sum of every pattern's count and `unmined`."""
    patterns: list[PatternFound]
    """Most surprising first when judged against a baseline, else most frequent first."""
    unmined: int
    """Lines counted but not grouped because the miner's cap was hit."""
    baseline_total: int
    gone: list[PatternFound] = field(default_factory=list)
    """Patterns of the baseline with no line in the window (count 0), least likely first."""
    judged: bool = False
    """Whether counts were judged against the baseline (both sides observed)."""


def summarize_patterns(
    groups: Iterable[tuple[int, MessageGroup]],
    current: int,
    max_groups: int = 50_000,
    ungrouped: Mapping[int, int] | None = None,
    lengths: tuple[float, float] | None = None,
    observed: bool = False,
) -> PatternSummary:
    """`groups` are tagged with their window: `current` is the window asked about, any other
    tag is the baseline. `ungrouped` (read after `groups` is consumed) counts lines per window
    that a backend counted but did not return as text. `lengths` (seconds of the window, of
    the baseline) let counts be judged: the time the logs cover on each side, when `observed`
    (then a baseline with no matching line is a known zero, and a side covering nothing
    leaves every change unknown), else the windows' nominal lengths (then a baseline with no
    matching line leaves changes unknown). Unjudged patterns come most frequent first."""
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
    baseline_counts.pop(OVERFLOW, None)
    end = max((acc.last_ts for acc in merged.values() if acc.last_ts is not None), default=None)
    patterns = [
        _found(
            mining.templates[i].pattern_id, mining.templates[i].template, acc, baseline_counts.get(i, 0), end
        )
        for i, acc in merged.items()
    ]
    gone = [
        _found(mining.templates[i].pattern_id, mining.templates[i].template, _Seen(), count, end)
        for i, count in baseline_counts.items()
        if i not in merged
    ]
    judged = lengths is not None and min(lengths) > 0 and (observed or baseline_total > 0)
    if lengths is not None and judged:
        judged_all = _judge(patterns + gone, lengths)
        patterns, gone = judged_all[: len(patterns)], judged_all[len(patterns) :]
        patterns.sort(key=lambda p: (p.p_value, -p.count, _sort_time(p.first_ts), p.pattern_id))
        gone.sort(key=lambda p: (p.p_value, -p.baseline_count, p.pattern_id))
    else:
        patterns.sort(key=lambda p: (-p.count, _sort_time(p.first_ts), p.pattern_id))
        gone.sort(key=lambda p: (-p.baseline_count, p.pattern_id))
    total = sum(p.count for p in patterns) + unmined
    return PatternSummary(total, patterns, unmined, baseline_total, gone if judged else [], judged)


def _judge(patterns: list[PatternFound], lengths: tuple[float, float]) -> list[PatternFound]:
    """The patterns with their change, ratio and p-value, tested together."""
    tests = [compare_counts(p.count, p.baseline_count, *lengths) for p in patterns]
    q_values = adjust_fdr([min(1.0, 2 * min(t.p_up, t.p_down)) for t in tests])
    return [
        replace(
            pattern,
            change=_change(pattern, test.p_up < test.p_down, q),
            ratio=test.ratio,
            p_value=test.p_down if pattern.count == 0 else test.p_up,
        )
        for pattern, test, q in zip(patterns, tests, q_values, strict=True)
    ]


def _change(pattern: PatternFound, up: bool, q_value: float) -> Change:
    if pattern.baseline_count == 0:
        return "new"
    if pattern.count == 0:
        return "gone"
    if q_value <= LEVEL:
        return "increased" if up else "decreased"
    return "chronic"


def _sort_time(ts: float | None) -> float:
    return _NO_TIME if ts is None else ts


def _found(
    pattern_id: str, template: str, acc: _Seen, baseline_count: int, end: float | None
) -> PatternFound:
    verdict = label(template, acc.example or None, acc.count, acc.first_ts, acc.last_ts, end)
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


def label(
    template: str,
    example: str | None,
    count: int,
    first_ts: float | None,
    last_ts: float | None,
    end: float | None,
) -> Classification:
    """The text's verdict; else the timing's; else transient, the cheaper mistake."""
    verdict = classify(template, example)
    if verdict.label != "unknown":
        return verdict
    if count and first_ts is not None and last_ts is not None and end is not None and end > first_ts:
        # At its own rate since it began, how likely is the silence since its last line,
        # while other lines of the window went on? (A Poisson stream leaves a gap of g with
        # chance exp(-rate * g).)
        silence = end - last_ts
        if math.exp(-count * silence / (end - first_ts)) <= LEVEL:
            return Classification(
                "transient", f"timing: stopped {_duration(silence)} before the window's last line"
            )
    return Classification("transient", "default: no sign of a lasting cause")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
