"""Judging deploy windows with the shared change judge (analysis/judge.py).

Each window carries per-bucket samples of its signals: from the logs (error rate, p95
latency, volume) and, where Prometheus is configured, its metric signals (requests, errors,
latency_p95, named extras), each with the direction that is bad. A window is compared with
its reference — the samples of the (up to) three most recent earlier windows judged healthy,
or, for the oldest windows, the nearest other windows — by a Mann–Whitney U test and a
Hodges–Lehmann shift with its interval, the window's tests corrected together
(Benjamini–Hochberg). It is degraded when a signal moved the bad way with q at most the
false-discovery rate, a large effect (rank-biserial at least `min_effect`) and a material
shift (a tenth of the reference's median); for a signal
whose drop is bad (traffic), only a collapse to under a quarter of the reference counts, as
traffic follows the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Literal, Protocol

from sitrep.analysis import judge as stats_judge
from sitrep.analysis.deploys import DeployWindow
from sitrep.domain import WindowStats

Verdict = Literal["healthy", "degraded", "insufficient"]
Bad = Literal["up", "down"]
REFERENCE_WINDOWS = 3
MATERIAL = 0.1
"""A bad-when-up signal counts only when its shift is at least this share of the reference median
(a memory creep of 0.5% is significant on many samples, and no verdict)."""
STRONGEST = "; strongest: "
COLLAPSE = 0.25
"""A bad-when-down signal (traffic) counts only when its median fell below this share of the reference."""


class HealthRules(Protocol):
    """When a window has enough evidence to judge, and the judge's levels (the
    configuration's [health] section is one)."""

    @property
    def min_requests(self) -> int: ...
    @property
    def min_minutes(self) -> float: ...
    @property
    def fdr(self) -> float: ...
    @property
    def min_effect(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Samples:
    """One signal of one window, one value per bucket."""

    name: str
    source: Literal["logs", "metrics"]
    bad: Bad
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One signal judged against its reference."""

    name: str
    source: Literal["logs", "metrics"]
    bad: Bad
    change: stats_judge.Change
    q_value: float
    counts: bool
    """Moved the bad way, significant after correction, with a large effect."""


@dataclass(frozen=True, slots=True)
class Reference:
    """The typical health of a service: medians over the windows judged healthy."""

    error_rate: float | None
    p95_ms: float | None
    windows: int


@dataclass(frozen=True, slots=True)
class Judged:
    window: DeployWindow
    stats: WindowStats
    verdict: Verdict
    why: str
    evidence: tuple[Evidence, ...] = ()
    """Every signal tested, strongest (smallest q) first."""
    judged_on: tuple[str, ...] = ()
    """"logs", "metrics", or both: what the verdict rests on."""


@dataclass(slots=True)
class WindowSignals:
    """A window, its whole-window log statistics and its per-bucket signals."""

    window: DeployWindow
    stats: WindowStats
    samples: list[Samples] = field(default_factory=list)


def judgeable(item: WindowSignals, rules: HealthRules) -> bool:
    """Long enough, and with enough traffic in the logs or some metric samples."""
    if item.window.minutes < rules.min_minutes:
        return False
    metric_samples = any(s.source == "metrics" and len(s.values) >= 2 for s in item.samples)
    return item.stats.basis >= rules.min_requests or metric_samples


def judge_windows(items: Sequence[WindowSignals], rules: HealthRules) -> tuple[list[Judged], Reference]:
    """Every window judged, oldest first (the order given), and the typical health."""
    judged: list[Judged | None] = [None] * len(items)
    healthy: list[int] = []
    for index, item in enumerate(items):
        if not judgeable(item, rules):
            judged[index] = _insufficient(item, rules)
            continue
        refs = healthy[-REFERENCE_WINDOWS:] or _nearest(items, index, rules)
        if not refs:
            judged[index] = Judged(
                item.window,
                item.stats,
                "insufficient",
                "no other window with enough evidence to compare with",
            )
            continue
        judged[index] = _judge(item, [items[i] for i in refs], rules)
        if judged[index].verdict == "healthy" and not item.window.current:  # type: ignore[union-attr]
            healthy.append(index)
    done = [j for j in judged if j is not None]
    return done, _typical([items[i].stats for i in healthy])


def _nearest(items: Sequence[WindowSignals], index: int, rules: HealthRules) -> list[int]:
    """For a window with no earlier healthy one: the closest other judgeable, non-current windows."""
    others = [
        i for i, item in enumerate(items) if i != index and not item.window.current and judgeable(item, rules)
    ]
    return sorted(others, key=lambda i: abs(i - index))[:REFERENCE_WINDOWS]


def _insufficient(item: WindowSignals, rules: HealthRules) -> Judged:
    why = (
        f"not enough evidence: {item.stats.basis} lines over {item.window.minutes:.0f} min "
        f"(needs {rules.min_requests} over {rules.min_minutes:.0f} min)"
    )
    return Judged(item.window, item.stats, "insufficient", why)


def _judge(item: WindowSignals, refs: Sequence[WindowSignals], rules: HealthRules) -> Judged:
    tests: list[tuple[Samples, stats_judge.Change]] = []
    for samples in item.samples:
        reference = [
            v
            for ref in refs
            for s in ref.samples
            if (s.name, s.source) == (samples.name, samples.source)
            for v in s.values
        ]
        if samples.values and reference:
            tests.append((samples, stats_judge.judge(samples.values, reference, samples.bad, rules.fdr)))
    if not tests:
        return Judged(item.window, item.stats, "insufficient", "no signal with samples on both sides")
    q_values = stats_judge.adjust_fdr([change.p_value for _, change in tests])
    evidence = sorted(
        (
            Evidence(s.name, s.source, s.bad, change, q, _counts(s.bad, change, q, rules))
            for (s, change), q in zip(tests, q_values, strict=True)
        ),
        key=lambda e: (not e.counts, e.q_value),
    )
    sources = tuple(sorted({s.source for s, _ in tests}))
    bad = [e for e in evidence if e.counts]
    if bad:
        why = "; ".join(cite(e) for e in bad[:3])
        return Judged(item.window, item.stats, "degraded", why, tuple(evidence), sources)
    why = (
        f"none of {len(tests)} signal(s) worse than its {len(refs)} reference window(s) "
        f"at {rules.fdr:g} FDR{STRONGEST}{cite(evidence[0])}"
    )
    return Judged(item.window, item.stats, "healthy", why, tuple(evidence), sources)


def _counts(bad: Bad, change: stats_judge.Change, q: float, rules: HealthRules) -> bool:
    effect = change.effect if bad == "up" else -change.effect
    if not (change.worse and q <= rules.fdr and effect >= rules.min_effect):
        return False
    if bad == "down":
        return change.after < COLLAPSE * change.before
    return change.shift > 0 and change.shift >= MATERIAL * abs(change.before)


def cite(e: Evidence) -> str:
    """One signal's evidence in a line: which way, from what to what, the shift and its
    interval, p and q."""
    c = e.change
    return (
        f"{e.name} ({e.source}) {c.direction} {_num(c.before)}→{_num(c.after)}, "
        f"shift {_num(c.shift)} [{_num(c.low)}, {_num(c.high)}], p={c.p_value:.2g} q={e.q_value:.2g}"
    )


def _typical(stats: Sequence[WindowStats]) -> Reference:
    rates = [s.error_rate for s in stats if s.error_rate is not None]
    latencies = [s.p95_ms for s in stats if s.p95_ms is not None]
    return Reference(
        error_rate=median(rates) if rates else None,
        p95_ms=median(latencies) if latencies else None,
        windows=len(stats),
    )


def _num(value: float) -> str:
    return f"{value:.3g}"


def pct(rate: float | None) -> str:
    if rate is None:
        return "n/a"
    return f"{rate * 100:.2f}%" if rate < 0.1 else f"{rate * 100:.1f}%"
