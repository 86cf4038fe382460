"""Ranking rollback candidates: the most recent healthy deploy first, then deploys with too
little evidence to judge, then degraded ones. The current deploy is never a candidate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sitrep.analysis.health import HealthRules, Judged, Reference, error_rate_limit, pct
from sitrep.domain import WindowStats
from sitrep.timespec import epoch_iso

_TIER = {"healthy": 0, "insufficient": 1, "degraded": 2}
_BASE_SCORE = {"healthy": 0.9, "insufficient": 0.5, "degraded": 0.2}


@dataclass(frozen=True, slots=True)
class Ranked:
    judged: Judged
    rank: int
    score: float
    reasons: list[str]


def rank_candidates(
    earlier: Sequence[Judged], current: Judged, ref: Reference, rules: HealthRules
) -> list[Ranked]:
    """`earlier`: judged windows of earlier deploys, oldest first (the order of the deploy
    history, which is git's topology for commits of one second); `current`: the live deploy's."""
    current_sha = current.window.deploy.sha
    # A redeploy of the running sha would change nothing, so it is no candidate either.
    pool = [
        (age, j)
        for age, j in enumerate(earlier)
        if not j.window.current and (current_sha is None or j.window.deploy.sha != current_sha)
    ]
    newer_not_healthy = _newer_unhealthy(pool)
    pool.sort(key=lambda item: (_TIER[item[1].verdict], -item[0]))
    ranked = []
    position_in_tier: dict[str, int] = {}
    for rank, (_, judged) in enumerate(pool, start=1):
        position = position_in_tier.get(judged.verdict, 0)
        position_in_tier[judged.verdict] = position + 1
        score = round(max(0.01, _BASE_SCORE[judged.verdict] - 0.02 * position), 2)
        reasons = _reasons(judged, current, ref, rules)
        if rank == 1 and judged.verdict == "healthy" and newer_not_healthy.get(id(judged)):
            count = newer_not_healthy[id(judged)]
            reasons.insert(
                0,
                f"most recent healthy deploy; the {count} deploy(s) after it were degraded "
                "or had too little evidence",
            )
        ranked.append(Ranked(judged, rank, score, reasons))
    return ranked


def _newer_unhealthy(pool: Sequence[tuple[int, Judged]]) -> dict[int, int]:
    """For each healthy window, how many later candidate windows were not healthy; `pool`
    is oldest first."""
    counts = {}
    for index, (_, judged) in enumerate(pool):
        if judged.verdict == "healthy":
            counts[id(judged)] = sum(1 for _, other in pool[index + 1 :] if other.verdict != "healthy")
    return counts


def _reasons(judged: Judged, current: Judged, ref: Reference, rules: HealthRules) -> list[str]:
    stats, window = judged.stats, judged.window
    reasons = [
        f"window {epoch_iso(window.start)} – {epoch_iso(window.end)} ({window.minutes:.0f} min): "
        f"{_traffic(stats)}, error rate {pct(stats.error_rate)}, p95 {_ms(stats.p95_ms)}",
        f"vs the current window: error rate {pct(stats.error_rate)} vs {pct(current.stats.error_rate)}, "
        f"p95 {_ms(stats.p95_ms)} vs {_ms(current.stats.p95_ms)}",
    ]
    verdict = judged.verdict if judged.verdict == "healthy" else f"{judged.verdict} ({judged.why})"
    if ref.windows:
        limit = error_rate_limit(ref, rules)
        reasons.append(
            f"{verdict} against the typical of {ref.windows} window(s): error rate {pct(ref.error_rate)} "
            f"(limit {pct(limit)}), p95 {_ms(ref.p95_ms)} (limit {rules.latency_ratio:g}×)"
        )
    else:
        reasons.append(f"{verdict}; no earlier window had enough evidence to set a typical")
    return reasons


def _traffic(stats: WindowStats) -> str:
    return f"{stats.requests} requests" if stats.requests else f"{stats.events} log lines"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"
