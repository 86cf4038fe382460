"""What changed at a moment: every signal of every service judged, services ranked by evidence.

A signal is one service's series of per-bucket values before and after the moment (log
volume, error lines, log latency, one pattern's count, or any metric series). Each is judged
by `judge.judge`; the p-values of all of them are corrected together (Benjamini–Hochberg), so
testing many services and patterns does not manufacture discoveries. A service's score is its
strongest evidence: -log10 of the smallest corrected p-value among the changes that moved the
way that hurts.

Nothing here knows where the series come from: a metrics source hands in `SignalSeries` the
same way the log-derived ones are built (`log_signals`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from sitrep.analysis.judge import Bad, Change, adjust_fdr, judge
from sitrep.deadline import check
from sitrep.domain import WindowStats

__all__ = [
    "PatternCounts",
    "ServiceChange",
    "SignalChange",
    "SignalSeries",
    "covered_buckets",
    "judge_onset",
    "log_signals",
    "pattern_signals",
    "rank_services",
]

LEVEL = 0.05
"""The false-discovery rate a change must pass."""
MATERIAL = 0.1
"""A change must also be material: a shift of at least this share of the signal's typical
level (any shift when that level is zero). Slow drifts (a JVM's heap creeping up 2 %) are
significant with enough samples and mean nothing; set before any benchmark was run, as
Kayenta sets an effect-size limit, and not fitted to any data set."""
SHORTEST_ONSET = 4
"""Fewest buckets after the moment judged on their own (see `judge_onset`)."""


@dataclass(frozen=True, slots=True)
class SignalSeries:
    """One service's signal, sampled once per bucket before (`before`) and after (`after`)."""

    service: str
    name: str
    source: str
    """logs or metrics."""
    bad: Bad
    before: Sequence[float]
    after: Sequence[float]
    pattern: str | None = None
    """The pattern id, for a pattern's count."""


@dataclass(frozen=True, slots=True)
class SignalChange:
    series: SignalSeries
    change: Change
    q_value: float

    @property
    def discovered(self) -> bool:
        return self.change.worse and self.change.enough and self.material and self.q_value <= LEVEL

    @property
    def material(self) -> bool:
        """The means moved by at least MATERIAL of the earlier mean (means, not medians: a
        rare pattern's median is zero on both sides)."""
        before, after = _mean(self.series.before), _mean(self.series.after)
        return after != before and abs(after - before) >= MATERIAL * abs(before)


@dataclass(slots=True)
class ServiceChange:
    service: str
    score: float
    signals: list[SignalChange] = field(default_factory=list)
    """Discoveries first, strongest first."""


def rank_services(series: Iterable[SignalSeries]) -> tuple[list[ServiceChange], int]:
    """Every signal judged and corrected together; services with at least one discovery,
    strongest evidence first (ties: larger effect, then more discoveries, then name). Also
    returns how many signals were tested."""
    judged: list[tuple[SignalSeries, Change]] = []
    for signal in series:
        check()
        judged.append((signal, judge_onset(signal)))
    q_values = adjust_fdr([change.p_value for _, change in judged])
    by_service: dict[str, list[SignalChange]] = {}
    for (signal, change), q in zip(judged, q_values, strict=True):
        by_service.setdefault(signal.service, []).append(SignalChange(signal, change, q))
    ranked: list[tuple[tuple[float, float, int, str], ServiceChange]] = []
    for service, changes in by_service.items():
        found = [c for c in changes if c.discovered]
        if not found:
            continue
        found.sort(key=lambda c: (c.q_value, -abs(c.change.effect), c.series.name))
        best = found[0]
        score = -math.log10(max(best.q_value, 1e-300))
        ranked.append(
            ((-score, -abs(best.change.effect), -len(found), service), ServiceChange(service, score, found))
        )
    ranked.sort(key=lambda item: item[0])
    return [item for _, item in ranked], len(judged)


def judge_onset(signal: SignalSeries) -> Change:
    """Judge the buckets after the moment against those before, allowing that the change may
    last less than the window: the first half, quarter … (down to SHORTEST_ONSET buckets) of
    the window are judged too, and the strongest is kept with its p-value multiplied by the
    number of spans tried (Bonferroni), so trying several costs what it should."""
    sizes = [len(signal.after)]
    while sizes[-1] // 2 >= SHORTEST_ONSET:
        sizes.append(sizes[-1] // 2)
    changes = [judge(signal.after[:size], signal.before, signal.bad, LEVEL) for size in sizes]
    best = min(changes, key=lambda c: (c.p_value, -len(sizes)))
    return replace(best, p_value=min(1.0, best.p_value * len(sizes)))


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def covered_buckets(totals: Sequence[int]) -> list[int]:
    """The buckets to judge, given every service's line count per bucket: a bucket where no
    service wrote a line is a gap in collection (no data), not a silence, and the bucket on
    either side of a gap is left out too, since a gap rarely starts or ends on a bucket's edge."""
    kept: list[int] = []
    for index, total in enumerate(totals):
        if total == 0:
            continue
        edge = (index > 0 and totals[index - 1] == 0) or (index + 1 < len(totals) and totals[index + 1] == 0)
        if index == 0 or index + 1 == len(totals) or not edge:
            kept.append(index)
    return kept


def log_signals(
    stats: Mapping[str, Sequence[WindowStats]], before: Sequence[int], after: Sequence[int]
) -> list[SignalSeries]:
    """Log volume (a drop hurts), error lines (a rise hurts) and, where lines carry durations,
    the median latency per bucket (a rise hurts), for each service, from per-bucket stats."""
    out: list[SignalSeries] = []
    for service, windows in stats.items():

        def values(pick: int, sides: Sequence[int], windows: Sequence[WindowStats] = windows) -> list[float]:
            return [float(windows[i].events if pick == 0 else windows[i].errors) for i in sides]

        out.append(SignalSeries(service, "log volume", "logs", "down", values(0, before), values(0, after)))
        errors_before, errors_after = values(1, before), values(1, after)
        if any(errors_before) or any(errors_after):
            out.append(SignalSeries(service, "error lines", "logs", "up", errors_before, errors_after))
        latency_before = [w.p50_ms for i in before if (w := windows[i]).p50_ms is not None]
        latency_after = [w.p50_ms for i in after if (w := windows[i]).p50_ms is not None]
        if latency_before or latency_after:
            out.append(SignalSeries(service, "latency p50", "logs", "up", latency_before, latency_after))
    return out


@dataclass(slots=True)
class PatternCounts:
    """One pattern's lines of one service, per bucket."""

    pattern_id: str
    template: str
    example: str
    per_bucket: dict[int, int] = field(default_factory=dict)

    def total(self, buckets: Iterable[int]) -> int:
        return sum(self.per_bucket.get(i, 0) for i in buckets)


def pattern_signals(
    counts: Mapping[str, Sequence[PatternCounts]], before: Sequence[int], after: Sequence[int]
) -> list[SignalSeries]:
    """Each pattern's count per bucket, per service: a rise (or a new pattern) hurts. Patterns
    absent after the moment are not tested: a pattern that stops is not what breaks."""
    out: list[SignalSeries] = []
    for service, patterns in counts.items():
        for pattern in patterns:
            after_values = [float(pattern.per_bucket.get(i, 0)) for i in after]
            if not any(after_values):
                continue
            before_values = [float(pattern.per_bucket.get(i, 0)) for i in before]
            out.append(
                SignalSeries(
                    service, "pattern", "logs", "up", before_values, after_values, pattern.pattern_id
                )
            )
    return out
