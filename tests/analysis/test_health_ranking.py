"""Deploy windows judged by the shared change judge, and the ranking built on the verdicts.

The judge used to be ratio thresholds (2x the typical error rate, 1.5x its p95); these tests
pin the statistical behaviour that replaced them: Mann-Whitney U on per-bucket samples
against the earlier healthy windows, BH-corrected, with a large-effect requirement."""

import random

from sitrep.analysis.deploys import DeployWindow
from sitrep.analysis.health import Samples, WindowSignals, judge_windows
from sitrep.analysis.ranking import rank_candidates
from sitrep.domain import Deploy, WindowStats
from sitrep.settings import HealthSettings
from tests.gitrepo import NOW, hours_ago

NOW_S = NOW.timestamp()
RULES = HealthSettings()


def at(hours: float) -> float:
    """Epoch seconds `hours` before NOW, as domain records carry time."""
    return hours_ago(hours).timestamp()


def window(
    version: str,
    start_h: float,
    end_h: float,
    requests: int,
    error_rate: float,
    p95: float,
    current: bool = False,
    *,
    buckets: int = 30,
    metrics: dict[str, tuple[str, float]] | None = None,
    logs: bool = True,
) -> WindowSignals:
    """A window whose buckets scatter around the given error rate and p95 (seeded noise)."""
    rng = random.Random(f"{version}/{start_h}")
    deploy = Deploy("svc", version, at(start_h), sha=version * 8)
    win = DeployWindow(deploy, at(start_h), at(end_h) if end_h else NOW_S, current)
    stats = WindowStats(
        win.start,
        win.end,
        events=requests if logs else 0,
        requests=requests if logs else 0,
        errors=round(requests * error_rate) if logs else 0,
        p95_ms=p95 if logs else None,
    )
    item = WindowSignals(win, stats)
    if logs:
        item.samples += [
            Samples(
                "error_rate",
                "logs",
                "up",
                tuple(max(0.0, rng.gauss(error_rate, 0.002)) for _ in range(buckets)),
            ),
            Samples("p95_ms", "logs", "up", tuple(rng.gauss(p95, p95 * 0.08) for _ in range(buckets))),
            Samples("volume_per_min", "logs", "down", tuple(rng.gauss(20, 3) for _ in range(buckets))),
        ]
    for name, (bad, level) in (metrics or {}).items():
        item.samples.append(
            Samples(name, "metrics", bad, tuple(rng.gauss(level, level * 0.05) for _ in range(buckets)))  # type: ignore[arg-type]
        )
    return item


def test_most_recent_healthy_first_then_unproven_then_degraded() -> None:
    items = [
        window("a", 20, 16, 5000, 0.002, 180),  # healthy
        window("b", 16, 12, 5000, 0.05, 600),  # degraded
        window("c", 12, 8, 5000, 0.0024, 170),  # healthy: the one to offer
        window("d", 8, 7.9, 20, 0, 150, buckets=6),  # too little evidence
        window("e", 7.9, 2, 5000, 0.04, 500),  # degraded: the previous deploy
        window("f", 2, 0, 3000, 0.2, 1500, current=True),  # the incident
    ]
    found, ref = judge_windows(items, RULES)
    assert [j.verdict for j in found] == [
        "healthy",
        "degraded",
        "healthy",
        "insufficient",
        "degraded",
        "degraded",
    ]
    assert ref.windows == 2 and ref.p95_ms == 175
    ranked = rank_candidates(found[:-1], found[-1], ref, RULES)
    assert [r.judged.window.deploy.version for r in ranked] == ["c", "a", "d", "e", "b"]
    assert [r.score for r in ranked] == [0.9, 0.88, 0.5, 0.2, 0.18]
    top = ranked[0].reasons
    assert top[0].startswith("most recent healthy deploy; the 2 deploy(s) after it")
    assert "error rate 0.24% vs 20.0%" in top[2] and "p95 170 ms vs 1500 ms" in top[2]
    assert top[3].startswith("healthy on logs: none of 3 signal(s) worse than its 1 reference window(s)")
    assert "; strongest: " in top[3] and "p=" in top[3] and "shift" in top[3]
    incident = found[-1]
    assert incident.judged_on == ("logs",)
    cited = incident.why
    assert "error_rate (logs) up" in cited and "p95_ms (logs) up" in cited and "p=" in cited and "q=" in cited
    assert "shift" in cited and "[" in cited


def test_the_current_deploy_and_its_redeploys_are_never_candidates() -> None:
    items = [window("a", 10, 5, 5000, 0.001, 100), window("b", 5, 0, 5000, 0.001, 100, current=True)]
    found, ref = judge_windows(items, RULES)
    redeploy, _ = judge_windows([window("b", 12, 10, 5000, 0.001, 100), items[0]], RULES)
    ranked = rank_candidates([redeploy[0], *found[:-1]], found[-1], ref, RULES)
    assert [r.judged.window.deploy.version for r in ranked] == ["a"]


def test_latency_alone_degrades_a_window_and_a_small_drift_does_not() -> None:
    items = [
        window("a", 30, 20, 5000, 0.001, 100),
        window("b", 20, 10, 5000, 0.001, 103),  # 3% slower: not a large effect
        window("c", 10, 0, 5000, 0.001, 400, True),
    ]
    found, _ = judge_windows(items, RULES)
    assert [j.verdict for j in found] == ["healthy", "healthy", "degraded"]
    assert found[-1].why.startswith("p95_ms (logs) up")


def test_few_buckets_cannot_reach_the_level_and_stay_healthy_unproven() -> None:
    """Two buckets against the reference: the judge cannot decide, so nothing counts as worse."""
    items = [window("a", 30, 20, 5000, 0.001, 100), window("b", 1, 0, 5000, 0.3, 900, True, buckets=1)]
    found, _ = judge_windows(items, RULES)
    assert found[-1].verdict == "healthy"
    assert not any(e.counts for e in found[-1].evidence)


def test_metrics_alone_decide_when_there_are_no_logs_and_are_cited() -> None:
    signals = {"errors": ("up", 1.0), "requests": ("down", 100.0)}
    bad = {"errors": ("up", 9.0), "requests": ("down", 100.0)}
    items = [
        window("a", 30, 20, 0, 0, 0, metrics=signals, logs=False),
        window("b", 20, 10, 0, 0, 0, metrics=signals, logs=False),
        window("c", 10, 0, 0, 0, 0, True, metrics=bad, logs=False),
    ]
    found, _ = judge_windows(items, RULES)
    assert [j.verdict for j in found] == ["healthy", "healthy", "degraded"]
    assert found[-1].judged_on == ("metrics",) and found[-1].why.startswith("errors (metrics) up")


def test_a_traffic_drop_counts_only_as_a_collapse() -> None:
    """Traffic follows the day: a halving is no verdict, a drop to a tenth is."""
    day = {"requests": ("down", 100.0)}
    items = [
        window("a", 30, 20, 5000, 0.001, 100, metrics=day),
        window("b", 20, 10, 5000, 0.001, 100, metrics={"requests": ("down", 50.0)}),
        window("c", 10, 0, 5000, 0.001, 100, True, metrics={"requests": ("down", 10.0)}),
    ]
    found, _ = judge_windows(items, RULES)
    assert [j.verdict for j in found] == ["healthy", "healthy", "degraded"]
    assert found[-1].judged_on == ("logs", "metrics")
    assert found[-1].why.startswith("requests (metrics) down")


def test_window_stats_folded_from_buckets_when_the_deadline_is_near() -> None:
    """Counts add up exactly; a percentile is the traffic-weighted median of the buckets' own."""
    from sitrep.tools.health import _fold

    buckets = [[(0.0, 60.0), (60.0, 120.0), (120.0, 180.0)], [(180.0, 240.0)]]
    stats = [
        WindowStats(0, 60, events=10, requests=10, errors=1, p50_ms=10, p95_ms=100, p99_ms=200),
        WindowStats(60, 120, events=30, requests=30, errors=0, p50_ms=20, p95_ms=300, p99_ms=400),
        WindowStats(120, 180, events=5, requests=5, errors=5, p50_ms=30, p95_ms=900, p99_ms=950),
        WindowStats(180, 240, events=0),
    ]
    first, second = _fold([(0.0, 180.0), (180.0, 240.0)], buckets, stats)
    assert (first.events, first.requests, first.errors) == (45, 45, 6)
    assert (first.p50_ms, first.p95_ms, first.p99_ms) == (20, 300, 400)
    assert second.events == 0 and second.p95_ms is None
