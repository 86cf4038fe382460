"""An incident timeline: deploys, alerts firing and resolving, the onset of new error
patterns, and the change points of every signal (log volume, error lines, latency, metrics)
with their recoveries, in time order.

A signal's change points are found by `changepoints.segment` (the change judge's Mann–Whitney
test, Bonferroni over the edges tried) and corrected together over every signal
(Benjamini–Hochberg); each is then described by `judge.judge` across it: before, after, the
Hodges–Lehmann shift with its interval. No fixed ratio decides a spike."""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from sitrep.analysis.changed import LEVEL, MATERIAL, covered_buckets, robust_spread
from sitrep.analysis.changepoints import Step, Stretch, step, stretches
from sitrep.analysis.error_summary import PatternFound
from sitrep.analysis.judge import Bad, Change, adjust_fdr, judge
from sitrep.deadline import check
from sitrep.domain import Alert, Deploy, WindowStats

_BUCKETS = (5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
_KIND_ORDER = {
    "deploy": 0,
    "alert_firing": 1,
    "error_onset": 2,
    "error_spike": 3,
    "latency_spike": 4,
    "volume_drop": 5,
    "metric_change": 6,
    "recovery": 7,
    "alert_resolved": 8,
}
SAME_ALERT_SECONDS = 300.0
"""An active alert and a history run of the same name and service starting this close are one."""


@dataclass(frozen=True, slots=True)
class Event:
    ts: float
    kind: str
    service: str | None
    summary: str
    """sitrep's own words."""
    ref: str | None = None
    text: str | None = None
    """Quoted untrusted text (a commit subject, an error template), kept apart from the summary."""


def bucket_seconds(span_seconds: float, max_buckets: int = 60) -> int:
    """The smallest round bucket that cuts the span into at most `max_buckets`."""
    for size in _BUCKETS:
        if span_seconds / size <= max_buckets:
            return size
    return _BUCKETS[-1]


def buckets(start: float, end: float, size: int, cuts: Iterable[float] = ()) -> list[tuple[float, float]]:
    """Round buckets over [start, end), also cut at `cuts` (deploy times) so that no bucket
    straddles a deploy and a spike is never dated before the deploy that caused it."""
    edges = {start, end}
    edge = start - start % size + size
    while edge < end:
        edges.add(edge)
        edge += size
    edges.update(cut for cut in cuts if start < cut < end)
    ordered_edges = sorted(edges)
    return list(itertools.pairwise(ordered_edges))


def deploy_events(deploys: Iterable[Deploy]) -> list[Event]:
    return [
        Event(
            d.timestamp,
            "deploy",
            d.service,
            f"{d.service} {d.version} deployed" + (" (failed: never went live)" if not d.went_live else ""),
            ref=d.sha,
            text=d.message,
        )
        for d in deploys
    ]


def alert_events(active: Iterable[Alert], history: Iterable[Alert], start: float, end: float) -> list[Event]:
    """An alert's firing and, if it ended, its resolving, within [start, end). What fires now
    (Alertmanager) wins over the same alert seen in the history (Prometheus' ALERTS)."""
    now = [a for a in active if a.state != "pending"]
    past = [
        a
        for a in history
        if not any(
            (b.name, b.service) == (a.name, a.service)
            and abs(b.starts_at - a.starts_at) <= SAME_ALERT_SECONDS
            for b in now
        )
    ]
    events = []
    for alert in [*now, *past]:
        severity = f" ({alert.severity})" if alert.severity else ""
        where = f" for {alert.service}" if alert.service else ""
        silenced = " (silenced)" if alert.state == "suppressed" else ""
        text = alert.annotations.get("summary") or alert.annotations.get("description")
        if start <= alert.starts_at < end:
            summary = f"alert {alert.name}{severity} firing{where}{silenced} [{alert.source}]"
            events.append(Event(alert.starts_at, "alert_firing", alert.service, summary, text=text))
        if alert.ends_at is not None and start <= alert.ends_at < end:
            summary = f"alert {alert.name}{severity} resolved{where} [{alert.source}]"
            events.append(Event(alert.ends_at, "alert_resolved", alert.service, summary))
    return events


def onset_events(patterns: Iterable[PatternFound], limit: int = 10) -> list[Event]:
    """The first line of each new error pattern (absent from the baseline), largest first;
    a pattern whose lines carry no time has no place in a timeline."""
    new = [(p, ts) for p in patterns if p.baseline_count == 0 and (ts := p.first_ts) is not None][:limit]
    return [
        Event(
            ts,
            "error_onset",
            next(iter(p.services), None),
            f"first line of a new error pattern ({p.count} line(s) in the range)",
            ref=p.pattern_id,
            text=p.template,
        )
        for p, ts in new
    ]


@dataclass(frozen=True, slots=True)
class Signal:
    """One service's signal over the reference and the range: (bucket start, value) in time
    order; buckets with no value (no data) are simply absent."""

    service: str
    name: str
    """log volume, error lines, latency p95, or a metric signal's name."""
    source: str
    """logs or metrics."""
    bad: Bad
    samples: Sequence[tuple[float, float]]
    unit: str = ""


@dataclass(frozen=True, slots=True)
class SignalShift:
    """A stretch of the range where a signal differed from its baseline the way that hurts:
    when it began, when it came back (None: not within the range), the judged change of the
    stretch against the baseline, and its q-value."""

    signal: Signal
    ts: float
    back: float | None
    change: Change
    q_value: float
    strength: float
    """The shift over the baseline's robust spread (`changed.robust_spread`)."""
    further: bool = False
    """A step inside a stretch already changed: judged against the stretch's beginning."""
    means: tuple[float, float] = (0.0, 0.0)
    """The mean before and after (a rare count's medians are both zero)."""


def signal_shifts(
    signals: Sequence[Signal], start: float, level: float = LEVEL, cuts: Sequence[float] = ()
) -> tuple[list[SignalShift], int]:
    """Every stretch of the range (from `start`) where a signal left its baseline (the
    samples before `start`) the way that hurts, and every further step inside such a stretch
    (worse again than the stretch's own beginning: a second deploy), kept when it passes the
    false-discovery rate `level` over every test made for every signal (Benjamini–Hochberg)
    and is material (`changed.MATERIAL`); touching stretches of one signal are one. A
    stretch's edges are not moved across `cuts` (deploy times). Also how many signals could
    be tested (had samples on both sides of `start`)."""
    made: list[tuple[int, int, Stretch, Step | None]] = []
    tested = 0
    for number, signal in enumerate(signals):
        check()
        values = [v for _, v in signal.samples]
        times = [t for t, _ in signal.samples]
        first = bisect_left(times, start)
        if 0 < first < len(values):
            tested += 1
            fixed = [bisect_left(times, cut) - first for cut in cuts if cut > start]
            for stretch in stretches(values[:first], values[first:], signal.bad, level, fixed):
                made.append((number, first, stretch, None))
                inside = values[first + stretch.start : first + stretch.end]
                further = step(inside, signal.bad, level) if stretch.passed else None
                if further is not None:
                    made.append((number, first, stretch, further))
    q_values = adjust_fdr([(inner or stretch).p_value for _, _, stretch, inner in made])
    passed = [
        (item, q)
        for item, q in zip(made, q_values, strict=True)
        if (item[3] or item[2]).passed and q <= level
    ]
    kept = {(number, stretch.start) for (number, _, stretch, inner), _ in passed if inner is None}
    shifts: list[SignalShift] = []
    steps: list[SignalShift] = []
    for (number, first, stretch, inner), q in sorted(passed, key=lambda item: (item[0][0], item[0][2].start)):
        signal = signals[number]
        values = [v for _, v in signal.samples]
        low, high = first + stretch.start, first + stretch.end
        if inner is not None:
            if (number, stretch.start) in kept:
                cut = low + inner.index
                steps += _judged(signal, cut, None, values[low:cut], values[cut:high], q, level, further=True)
            continue
        back = signal.samples[high][0] if high < len(values) else None
        found = _judged(signal, low, back, values[:first], values[low:high], q, level)
        last = shifts[-1] if shifts else None
        if found and last is not None and last.signal is signal and last.back == found[0].ts:
            stronger = max(last, found[0], key=lambda s: s.strength)
            shifts[-1] = replace(stronger, ts=last.ts, back=back, q_value=min(last.q_value, q))
            continue
        shifts += found
    return shifts + steps, tested


def _judged(
    signal: Signal,
    index: int,
    back: float | None,
    before: Sequence[float],
    after: Sequence[float],
    q: float,
    level: float,
    *,
    further: bool = False,
) -> list[SignalShift]:
    """The shift from `before` to `after`, when it hurts and is material."""
    change = judge(after, before, signal.bad, level)
    if not change.worse or not _material(before, after):
        return []
    strength = abs(change.shift) / robust_spread(before, after)
    means = (sum(before) / len(before), sum(after) / len(after))
    return [SignalShift(signal, signal.samples[index][0], back, change, q, strength, further, means)]


def _material(before: Sequence[float], after: Sequence[float]) -> bool:
    was, now = sum(before) / len(before), sum(after) / len(after)
    return was != now and abs(now - was) >= MATERIAL * abs(was)


def shift_events(
    shifts: Sequence[SignalShift], carriers: Mapping[str, int], same_moment: float = 60.0, limit: int = 12
) -> tuple[list[Event], int]:
    """Events for the stretches that hurt (and their ends, as recoveries), the `limit`
    strongest: a signal that left its baseline at the same moment (onsets at most
    `same_moment` seconds after the first) for more than half of the services that carry it
    (`carriers`: services per signal name; at least three) is one fleet-wide event. Also how
    many were left out."""
    fleet: dict[tuple[str, float], list[SignalShift]] = {}
    for shift in sorted(shifts, key=lambda s: (s.signal.name, s.ts)):
        name = shift.signal.name
        moment = next((ts for (n, ts) in fleet if n == name and 0 <= shift.ts - ts <= same_moment), shift.ts)
        fleet.setdefault((name, moment), []).append(shift)
    ranked: list[tuple[tuple[float, float], list[Event]]] = []
    for (name, ts), members in fleet.items():
        if len(members) >= 3 and 2 * len(members) > carriers.get(name, 0):
            ranked.append(((min(m.q_value for m in members), 0.0), [_fleet_event(name, ts, members)]))
            continue
        for shift in members:
            found = [_shift_event(shift)]
            if shift.back is not None:
                found.append(_back_event(shift, shift.back))
            ranked.append(((shift.q_value, -shift.strength), found))
    ranked.sort(key=lambda item: item[0])
    events = [event for _, found in ranked[:limit] for event in found]
    return events, max(0, len(ranked) - limit)


def _shift_event(shift: SignalShift) -> Event:
    signal, change = shift.signal, shift.change
    unit = f" {signal.unit}" if signal.unit else ""
    moved = ("rose" if change.direction == "up" else "fell") + (" further" if shift.further else "")
    interval = f"[{_number(change.low)}, {_number(change.high)}]"
    was, now = shift.means
    q = f"{shift.q_value:.2g}" if shift.q_value >= 1e-12 else "< 1e-12"
    numbers = (
        f"from {_number(was)} to {_number(now)}{unit} on average "
        f"(shift {_number(change.shift)} {interval}, q {q})"
    )
    kind = "metric_change" if signal.source == "metrics" else _LOG_KINDS.get(signal.name, "metric_change")
    summary = f"{signal.name} of {signal.service} {moved} {numbers}"
    return Event(shift.ts, kind, signal.service, summary, ref=f"{signal.source}:{signal.name}")


def _back_event(shift: SignalShift, ts: float) -> Event:
    signal = shift.signal
    summary = f"{signal.name} of {signal.service} back within its baseline"
    return Event(ts, "recovery", signal.service, summary, ref=f"{signal.source}:{signal.name}")


def _fleet_event(name: str, ts: float, members: Sequence[SignalShift]) -> Event:
    moved = "rose" if members[0].change.direction == "up" else "fell"
    names = ", ".join(sorted(m.signal.service for m in members)[:5])
    more = f" and {len(members) - 5} more" if len(members) > 5 else ""
    kind = "metric_change" if members[0].signal.source == "metrics" else _LOG_KINDS.get(name, "metric_change")
    summary = f"{name} {moved} in {len(members)} services at once ({names}{more}): the load or the platform"
    return Event(ts, kind, None, summary, ref=f"{members[0].signal.source}:{name}")


_LOG_KINDS = {"log volume": "volume_drop", "error lines": "error_spike", "latency p95": "latency_spike"}


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) >= 0.01 or value == 0 else f"{value:.1e}"


def log_signals(stats: Mapping[str, Sequence[WindowStats]]) -> list[Signal]:
    """Per service, from per-bucket stats over the reference and the range: log volume (a
    drop hurts) and error lines (a rise hurts), per minute so that a bucket cut short by a
    deploy compares with a whole one, and the p95 latency where lines carry durations (a
    rise hurts). Buckets where no service wrote a line are a gap in collection, not a
    silence, and left out with their neighbours (`changed.covered_buckets`)."""
    if not stats:
        return []
    count = len(next(iter(stats.values())))
    kept = covered_buckets([sum(windows[i].events for windows in stats.values()) for i in range(count)])
    out: list[Signal] = []
    for service, windows in stats.items():
        rows = [windows[i] for i in kept]

        def per_minute(value: int, bucket: WindowStats) -> float:
            return 60.0 * value / max(bucket.end - bucket.start, 1.0)

        volume = [(w.start, per_minute(w.events, w)) for w in rows]
        out.append(Signal(service, "log volume", "logs", "down", volume, "lines/min"))
        errors = [(w.start, per_minute(w.errors, w)) for w in rows]
        if any(v for _, v in errors):
            out.append(Signal(service, "error lines", "logs", "up", errors, "/min"))
        latency = [(w.start, w.p95_ms) for w in rows if w.p95_ms is not None]
        if latency:
            out.append(Signal(service, "latency p95", "logs", "up", latency, "ms"))
    return out


def ordered(events: Iterable[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.ts, _KIND_ORDER.get(e.kind, 9), e.service or ""))
