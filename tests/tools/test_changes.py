"""The risks since each rollback candidate come from one walk of the commit range, and say
what a diff from that candidate to the head says."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from sitrep.analysis.risks import Risk
from sitrep.settings import GitSource
from sitrep.sources.git import GitRepo
from sitrep.tools.changes import RangeRisks, diff_risks
from tests.gitrepo import NOW, Repo


def _history(repo: Repo) -> list[str]:
    at = iter(range(100))

    def when() -> Any:
        return NOW - timedelta(hours=50 - next(at))

    shas = [repo.commit("base", {"app.py": "v0\n"}, when())]
    shas.append(repo.commit("schema", {"db/migrations/0001_init.sql": "CREATE TABLE t (id int);\n"}, when()))
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("feature work", {"feature.py": "x\n", "requirements.txt": "httpx\n"}, when())
    repo.git("checkout", "-q", "main")
    repo.commit("main meanwhile", {"app.py": "v1\n"}, when())
    repo.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature", when=when())
    shas.append(repo.git("rev-parse", "HEAD"))
    shas.append(
        repo.commit(
            "config and rename", {"config/app.yaml": "a: 1\n", "app.py": None, "main.py": "v1\n"}, when()
        )
    )
    shas.append(repo.commit("head", {"main.py": "v2\n"}, when()))
    return shas


def _key(risks: list[Risk]) -> list[tuple[str, str | None, str | None]]:
    return sorted((r.kind, r.path, r.ref) for r in risks)


def test_each_base_gets_what_its_own_diff_gives(make_repo: Callable[[str], Repo]) -> None:
    repo = make_repo("svc")
    shas = _history(repo)
    git = GitRepo(GitSource(service="svc", repo=repo.path, branch="main"))
    walk = RangeRisks.walk(git, shas[0], shas[-1])
    for base in shas[:-1]:
        alone, _ = diff_risks(git, base, shas[-1], git.changes(base, shas[-1]), markers=False)
        shared = walk.since(base)
        assert shared is not None and _key(shared) == _key(alone), base
    assert any(r.kind == "merge_from_outside" for r in walk.since(shas[0]) or [])


def test_a_base_off_the_first_parent_line_is_left_to_its_own_diff(make_repo: Callable[[str], Repo]) -> None:
    repo = make_repo("svc")
    shas = _history(repo)
    feature = repo.git("rev-parse", "feature")
    git = GitRepo(GitSource(service="svc", repo=repo.path, branch="main"))
    assert RangeRisks.walk(git, shas[0], shas[-1]).since(feature) is None
    assert RangeRisks.walk(git, feature, shas[-1]).since(feature) is None, "the oldest may be off it too"


def test_a_short_sha_from_the_deploy_log_finds_its_place(make_repo: Callable[[str], Repo]) -> None:
    repo = make_repo("svc")
    shas = _history(repo)
    git = GitRepo(GitSource(service="svc", repo=repo.path, branch="main"))
    walk = RangeRisks.walk(git, shas[0][:12], shas[-1])
    for base in shas[1:-1]:
        found = walk.since(base[:12])
        assert found is not None and found == walk.since(base)
    assert walk.since(shas[0][:12]) is not None  # the oldest, named as the walk was


def test_one_walk_costs_the_same_git_processes_for_any_number_of_bases(
    make_repo: Callable[[str], Repo], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo("svc")
    shas = _history(repo)
    git = GitRepo(GitSource(service="svc", repo=repo.path, branch="main"))
    started: list[list[str]] = []
    real = subprocess.Popen

    def counting(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        started.append(argv)
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", counting)
    walk = RangeRisks.walk(git, shas[0], shas[-1])
    before = len(started)
    for base in shas[:-1]:
        walk.since(base)
    assert len(started) == before, "asking about a base runs no git"
    # the line, the changes, the merges, and the merge's own two questions
    assert before <= 5, [a[4:6] for a in started]
