from sitrep.analysis.deploys import DeployWindow
from sitrep.analysis.health import judge, reference
from sitrep.analysis.ranking import rank_candidates
from sitrep.domain import Deploy, WindowStats
from sitrep.settings import HealthSettings
from tests.gitrepo import NOW, hours_ago

NOW_S = NOW.timestamp()


def at(hours: float) -> float:
    """Epoch seconds `hours` before NOW, as domain records carry time."""
    return hours_ago(hours).timestamp()


RULES = HealthSettings()


def window(
    version: str, start_h: float, end_h: float, requests: int, errors: int, p95: float, current: bool = False
):
    deploy = Deploy("svc", version, at(start_h), sha=version * 8)
    win = DeployWindow(deploy, at(start_h), at(end_h) if end_h else NOW_S, current)
    stats = WindowStats(
        win.start,
        win.end,
        events=requests,
        requests=requests,
        errors=errors,
        p95_ms=p95,
    )
    return win, stats


def judged(pairs):
    ref = reference(pairs, RULES)
    return [judge(w, s, ref, RULES) for w, s in pairs], ref


def test_most_recent_healthy_first_then_unproven_then_degraded() -> None:
    pairs = [
        window("a", 20, 16, 5000, 10, 180),  # healthy
        window("b", 16, 12, 5000, 250, 600),  # degraded
        window("c", 12, 8, 5000, 12, 170),  # healthy: the one to offer
        window("d", 8, 7.9, 20, 0, 150),  # too little evidence
        window("e", 7.9, 2, 5000, 200, 500),  # degraded: the previous deploy
        window("f", 2, 0, 3000, 600, 1500, current=True),  # the incident
    ]
    found, ref = judged(pairs)
    assert [j.verdict for j in found] == [
        "healthy",
        "degraded",
        "healthy",
        "insufficient",
        "degraded",
        "degraded",
    ]
    ranked = rank_candidates(found[:-1], found[-1], ref, RULES)
    assert [r.judged.window.deploy.version for r in ranked] == ["c", "a", "d", "e", "b"]
    assert [r.score for r in ranked] == [0.9, 0.88, 0.5, 0.2, 0.18]
    top = ranked[0].reasons
    assert top[0].startswith("most recent healthy deploy; the 2 deploy(s) after it")
    assert "error rate 0.24% vs 20.0%" in top[2] and "p95 170 ms vs 1500 ms" in top[2]
    assert top[3].startswith("healthy against the typical of 2 window(s)")


def test_the_current_deploy_and_its_redeploys_are_never_candidates() -> None:
    pairs = [window("a", 10, 5, 5000, 5, 100), window("b", 5, 0, 5000, 5, 100, current=True)]
    found, ref = judged(pairs)
    redeploy_of_current = judge(*window("b", 12, 10, 5000, 5, 100), ref, RULES)
    ranked = rank_candidates([redeploy_of_current, *found[:-1]], found[-1], ref, RULES)
    assert [r.judged.window.deploy.version for r in ranked] == ["a"]


def test_latency_alone_degrades_a_window() -> None:
    pairs = [
        window("a", 30, 20, 5000, 5, 100),
        window("b", 20, 10, 5000, 5, 110),
        window("c", 10, 0, 5000, 5, 400, True),
    ]
    found, _ = judged(pairs)
    assert found[-1].verdict == "degraded" and "p95 400 ms above 1.5× the typical 105 ms" in found[-1].why
