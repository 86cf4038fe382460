"""What changed at a moment: every signal of every service judged, services ranked by evidence.

A signal is one service's series of per-bucket values before and after the moment (log
volume, error lines, log latency, one pattern's count, or any metric series). Each is judged
by `judge.judge`; each service's p-values are combined (Simes) and the services' corrected
together (Benjamini–Hochberg), so testing many services and patterns does not manufacture
discoveries (see `rank_services`). Significance only admits a
change; how strong it is is measured on the signal's own scale (`strength`): the Hodges–Lehmann
shift over the reference's robust spread (1.4826 × its median absolute deviation), so a busy
service's tiny but very significant wobble does not outrank a quiet service that moved far out of
its usual range. A service's score is the strength of its strongest admitted change. Two rules
keep evidence about *other* services out of a service's score:

- Common shifts: a signal that changed the way that hurts for most of the services carrying it
  (more than half, of at least three) moved with the load or the platform, not with any one
  service; it is not evidence against any of them (`common_signals`).
- Own time: latency measured where a service serves requests includes the time it waits on
  the services it calls. When a service has both a serving-side latency `X` and a calling-side
  latency `client X` or `client_X` (OpenTelemetry's http.server.request.duration and
  http.client.request.duration; any configured pair named so), its own time `X self` =
  X − client X is judged instead of X, and client X is not evidence against it: a slow callee
  raises its callers' server and client latency together, their own time stays put (`own_time`).

Nothing here knows where the series come from: a metrics source hands in `SignalSeries` the
same way the log-derived ones are built (`log_signals`).
"""

from __future__ import annotations

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
    "common_signals",
    "covered_buckets",
    "judge_onset",
    "log_signals",
    "own_time",
    "pattern_signals",
    "rank_services",
    "robust_spread",
    "simes",
    "trace_signals",
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
CLIENT = ("client ", "client_")
"""Prefixes naming a calling-side latency paired with a serving-side one (see `own_time`)."""
SELF = " self"
"""The suffix naming a service's own time derived from such a pair."""
MAD_TO_SIGMA = 1.4826
"""Scales a median absolute deviation to a normal distribution's standard deviation."""


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
        return (
            self.change.worse
            and self.change.enough
            and self.material
            and self.change.p_value <= LEVEL
            and self.q_value <= LEVEL
        )

    @property
    def material(self) -> bool:
        """The means moved by at least MATERIAL of the earlier mean (means, not medians: a
        rare pattern's median is zero on both sides)."""
        before, after = _mean(self.series.before), _mean(self.series.after)
        return after != before and abs(after - before) >= MATERIAL * abs(before)

    @property
    def strength(self) -> float:
        """The shift in units of the reference's robust spread (see `robust_spread`)."""
        shift = max(abs(self.change.shift), abs(_mean(self.series.after) - _mean(self.series.before)))
        return shift / robust_spread(self.series.before, self.series.after)


@dataclass(slots=True)
class ServiceChange:
    service: str
    score: float
    signals: list[SignalChange] = field(default_factory=list)
    """Discoveries first, strongest first."""


def rank_services(series: Iterable[SignalSeries]) -> tuple[list[ServiceChange], int]:
    """Which services changed, strongest first. The question is about services, so the
    false-discovery correction is too: each service's signals are combined into one p-value
    (Simes: valid whatever their positive dependence), and those are corrected together
    (Benjamini–Hochberg), so a service with 200 patterns is not favoured over one with five
    signals, and one far-off signal of a quiet service is not drowned by every other service's
    patterns. In a changed service, the signals that moved the way that hurts at p ≤ LEVEL,
    materially, are its evidence; its score is the largest `strength` among them (ties:
    smaller q-value, more signals, name). Own time replaces serving-side latency where a
    calling-side pair exists, and common shifts are left out (see the module's docstring). A
    signal's `q_value` is its service's. Also returns how many signals were tested."""
    judged: list[tuple[SignalSeries, Change]] = []
    for signal in own_time(list(series)):
        check()
        judged.append((signal, judge_onset(signal)))
    by_service: dict[str, list[tuple[SignalSeries, Change]]] = {}
    for signal, change in judged:
        by_service.setdefault(signal.service, []).append((signal, change))
    names = list(by_service)
    q_values = adjust_fdr([simes([change.p_value for _, change in by_service[name]]) for name in names])
    changes = {
        name: [SignalChange(signal, change, q) for signal, change in by_service[name]]
        for name, q in zip(names, q_values, strict=True)
    }
    common = common_signals([c for mine in changes.values() for c in mine])
    ranked: list[tuple[tuple[float, float, int, str], ServiceChange]] = []
    for service, mine in changes.items():
        found = [
            c
            for c in mine
            if c.discovered and c.series.name not in common and not c.series.name.startswith(CLIENT)
        ]
        if not found:
            continue
        found.sort(key=lambda c: (-c.strength, c.change.p_value, c.series.name))
        best = found[0]
        ranked.append(
            (
                (-best.strength, best.q_value, -len(found), service),
                ServiceChange(service, best.strength, found),
            )
        )
    ranked.sort(key=lambda item: item[0])
    return [item for _, item in ranked], len(judged)


def simes(p_values: Sequence[float]) -> float:
    """Simes' combination of p-values into one for "none of these changed": the smallest
    p_(i)·n/i over the sorted p-values (1 for none)."""
    ordered = sorted(p_values)
    count = len(ordered)
    return min((min(1.0, p * count / rank) for rank, p in enumerate(ordered, 1)), default=1.0)


def common_signals(changes: Sequence[SignalChange]) -> set[str]:
    """The names of signals (patterns aside) discovered for more than half of the services that
    carry them, when at least three do: a shift shared by most services is the load's or the
    platform's, not evidence against one of them."""
    carriers: dict[str, set[str]] = {}
    moved: dict[str, set[str]] = {}
    for found in changes:
        if found.series.pattern is not None:
            continue
        carriers.setdefault(found.series.name, set()).add(found.series.service)
        if found.discovered:
            moved.setdefault(found.series.name, set()).add(found.series.service)
    return {
        name
        for name, services in carriers.items()
        if len(services) >= 3 and 2 * len(moved.get(name, ())) > len(services)
    }


def own_time(series: Sequence[SignalSeries]) -> list[SignalSeries]:
    """Each serving-side latency `X` that has a calling-side pair `client X` of the same service
    and source, sampled alike, replaced by the service's own time `X self` = X − client X (never
    below zero); everything else unchanged. The calling side stays in the list (it is judged
    and shown) but `rank_services` does not count it against the service."""
    index = {(s.service, s.source, s.name): s for s in series if s.pattern is None}
    out: list[SignalSeries] = []
    for signal in series:
        pair = next(
            (p for c in CLIENT if (p := index.get((signal.service, signal.source, c + signal.name)))), None
        )
        if (
            signal.pattern is not None
            or pair is None
            or len(pair.before) != len(signal.before)
            or len(pair.after) != len(signal.after)
        ):
            out.append(signal)
            continue
        out.append(
            replace(
                signal,
                name=signal.name + SELF,
                before=[max(0.0, a - b) for a, b in zip(signal.before, pair.before, strict=True)],
                after=[max(0.0, a - b) for a, b in zip(signal.after, pair.after, strict=True)],
            )
        )
    return out


def robust_spread(before: Sequence[float], after: Sequence[float]) -> float:
    """A signal's usual spread: 1.4826 × the median absolute deviation of the reference (the
    standard deviation, for normal data, that a few outliers in the reference cannot inflate);
    when over half the reference is one value, the mean absolute deviation of both sides
    together (a count that was mostly zero); when both sides are constant, 1 (the shift itself
    is then the strength)."""
    spread = MAD_TO_SIGMA * _mad(before) if before else 0.0
    if spread > 0:
        return spread
    pooled = [*before, *after]
    if pooled:
        centre = _median_of(pooled)
        spread = sum(abs(v - centre) for v in pooled) / len(pooled)
    return spread if spread > 0 else 1.0


def _mad(values: Sequence[float]) -> float:
    centre = _median_of(values)
    return _median_of([abs(v - centre) for v in values])


def _median_of(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


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


MAX_TRACE_SAMPLES = 400
"""Traces judged on each side of the moment, per service (see `trace_signals`)."""
TRACE_TIME = "trace time"
"""The signal of the time laid to a service between its traces' log lines (`analysis.traces`)."""


def trace_signals(
    times: Mapping[str, Sequence[Sequence[float]]], before: Sequence[int], after: Sequence[int]
) -> list[SignalSeries]:
    """Each service's time per trace (a rise hurts), from `traces.trace_times`: every trace is
    a sample, in time order, so the onset spans of `judge_onset` are still the first part of
    the window. A side of more than MAX_TRACE_SAMPLES traces is thinned evenly in time (the
    Hodges–Lehmann shift costs the product of the two sides' sizes)."""
    out: list[SignalSeries] = []
    for service, per_bucket in times.items():
        was = _thin([v for i in before for v in per_bucket[i]])
        now = _thin([v for i in after for v in per_bucket[i]])
        if was and now:
            out.append(SignalSeries(service, TRACE_TIME, "logs", "up", was, now))
    return out


def _thin(values: list[float]) -> list[float]:
    if len(values) <= MAX_TRACE_SAMPLES:
        return values
    step = len(values) / MAX_TRACE_SAMPLES
    return [values[int(i * step)] for i in range(MAX_TRACE_SAMPLES)]


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
