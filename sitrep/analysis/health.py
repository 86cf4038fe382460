"""Judging deploy windows: enough evidence to judge, and healthy or degraded against the typical."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median
from typing import Literal, Protocol

from sitrep.analysis.deploys import DeployWindow
from sitrep.domain import WindowStats

Verdict = Literal["healthy", "degraded", "insufficient"]


class HealthRules(Protocol):
    """When a window has enough evidence to judge, and when it counts as degraded (the
    configuration's [health] section is one)."""

    @property
    def min_requests(self) -> int: ...
    @property
    def min_minutes(self) -> float: ...
    @property
    def error_rate_ratio(self) -> float: ...
    @property
    def error_rate_floor(self) -> float: ...
    @property
    def latency_ratio(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Reference:
    """The typical health of a service: medians over its earlier windows that had enough
    evidence and were not degraded themselves."""

    error_rate: float | None
    p95_ms: float | None
    windows: int


@dataclass(frozen=True, slots=True)
class Judged:
    window: DeployWindow
    stats: WindowStats
    verdict: Verdict
    why: str


def judgeable(window: DeployWindow, stats: WindowStats, rules: HealthRules) -> bool:
    return stats.basis >= rules.min_requests and window.minutes >= rules.min_minutes


def reference(pairs: Sequence[tuple[DeployWindow, WindowStats]], rules: HealthRules) -> Reference:
    """The typical health: medians over earlier windows with enough evidence, leaving out the
    windows that are themselves degraded against it (repeated until nothing changes), so a
    history with several bad deploys does not make bad look typical. The current window never
    counts."""
    usable = [s for w, s in pairs if not w.current and judgeable(w, s, rules)]
    typical = usable
    ref = _medians(typical)
    for _ in range(len(usable)):
        kept = [s for s in usable if not _problems(s, ref, rules)]
        if len(kept) == len(typical) or not kept:
            break
        typical = kept
        ref = _medians(typical)
    return ref


def _medians(stats: Sequence[WindowStats]) -> Reference:
    rates = [s.error_rate for s in stats if s.error_rate is not None]
    latencies = [s.p95_ms for s in stats if s.p95_ms is not None]
    return Reference(
        error_rate=median(rates) if rates else None,
        p95_ms=median(latencies) if latencies else None,
        windows=len(stats),
    )


def error_rate_limit(ref: Reference, rules: HealthRules) -> float | None:
    if ref.error_rate is None:
        return None
    return max(ref.error_rate * rules.error_rate_ratio, ref.error_rate + rules.error_rate_floor)


def judge(window: DeployWindow, stats: WindowStats, ref: Reference, rules: HealthRules) -> Judged:
    if not judgeable(window, stats, rules):
        why = (
            f"not enough evidence: {stats.basis} lines over {window.minutes:.0f} min "
            f"(needs {rules.min_requests} over {rules.min_minutes:.0f} min)"
        )
        return Judged(window, stats, "insufficient", why)
    problems = _problems(stats, ref, rules)
    if problems:
        return Judged(window, stats, "degraded", "; ".join(problems))
    return Judged(window, stats, "healthy", "error rate and p95 within the typical range")


def _problems(stats: WindowStats, ref: Reference, rules: HealthRules) -> list[str]:
    problems = []
    limit = error_rate_limit(ref, rules)
    if limit is not None and stats.error_rate is not None and stats.error_rate > limit:
        problems.append(f"error rate {pct(stats.error_rate)} above the limit {pct(limit)}")
    if (
        ref.p95_ms is not None
        and stats.p95_ms is not None
        and stats.p95_ms > ref.p95_ms * rules.latency_ratio
    ):
        problems.append(
            f"p95 {stats.p95_ms:.0f} ms above {rules.latency_ratio:g}× the typical {ref.p95_ms:.0f} ms"
        )
    return problems


def pct(rate: float | None) -> str:
    if rate is None:
        return "n/a"
    return f"{rate * 100:.2f}%" if rate < 0.1 else f"{rate * 100:.1f}%"
