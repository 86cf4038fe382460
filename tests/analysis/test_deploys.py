from sitrep.analysis.deploys import deploy_windows, find_commit, merge_deploys
from sitrep.domain import Commit, Deploy
from tests.gitrepo import NOW, hours_ago

NOW_S = NOW.timestamp()


def at(hours: float) -> float:
    """Epoch seconds `hours` before NOW, as domain records carry time."""
    return hours_ago(hours).timestamp()


SHA_A, SHA_B = "a" * 40, "b" * 40
COMMITS = {
    SHA_A: Commit(SHA_A, (), "ana", at(9), "first"),
    SHA_B: Commit(SHA_B, (SHA_A,), "bo", at(5), "second"),
}


def test_deploy_log_time_wins_and_git_adds_what_changed() -> None:
    logged = [Deploy("svc", "v2", at(4), sha="bbbbbbb", author="deployer")]
    from_git = {"svc": [Deploy("svc", "bbbbbbb", at(5), SHA_B, "bo", "second", source="git")]}
    merged = merge_deploys(logged, from_git, COMMITS)
    assert len(merged) == 1
    deploy = merged[0]
    assert (deploy.timestamp, deploy.sha, deploy.author, deploy.message, deploy.source) == (
        at(4), SHA_B, "deployer", "second", "deploy_log+git",
    )  # fmt: skip


def test_git_deploys_stand_for_services_the_log_does_not_know() -> None:
    logged = [Deploy("other", "1", at(3))]
    from_git = {"svc": [Deploy("svc", "aaaaaaa", at(9), SHA_A, source="git")]}
    assert [d.service for d in merge_deploys(logged, from_git, COMMITS)] == ["svc", "other"]


def test_ambiguous_or_short_prefixes_match_nothing() -> None:
    assert find_commit("abc", COMMITS) is None
    assert find_commit("aaaa", COMMITS) is COMMITS[SHA_A]
    assert find_commit(None, COMMITS) is None


def test_windows_run_to_the_next_live_deploy_and_skip_failed_ones() -> None:
    deploys = [
        Deploy("svc", "1", at(6)),
        Deploy("svc", "2", at(4), status="failed"),
        Deploy("svc", "3", at(2)),
        Deploy("svc", "future", at(-1)),
    ]
    windows = deploy_windows(deploys, NOW_S)
    assert [(w.deploy.version, w.start, w.end, w.current) for w in windows] == [
        ("1", at(6), at(2), False),
        ("3", at(2), NOW_S, True),
    ]
    assert windows[0].minutes == 240


def test_git_order_stands_for_deploys_of_one_second() -> None:
    # git lists newest first; three commits of one rebase merge share a second.
    from_git = {"svc": [Deploy("svc", v, at(1), source="git") for v in ("head", "pr2", "pr1")]}
    merged = merge_deploys([], from_git, {})
    assert [d.version for d in merged] == ["pr1", "pr2", "head"]
    windows = deploy_windows(merged, NOW_S)
    assert [(w.deploy.version, w.current) for w in windows][-1] == ("head", True)


def test_an_old_deploy_dated_late_gets_an_empty_window() -> None:
    # A tag made last on the oldest commit: it stays the oldest, and no window runs backwards.
    deploys = [
        Deploy("svc", "old", at(1)),
        Deploy("svc", "mid", at(6)),
        Deploy("svc", "new", at(3)),
    ]
    windows = deploy_windows(deploys, NOW_S)
    assert [(w.deploy.version, w.start, w.end) for w in windows] == [
        ("old", at(6), at(6)),
        ("mid", at(6), at(3)),
        ("new", at(3), NOW_S),
    ]
