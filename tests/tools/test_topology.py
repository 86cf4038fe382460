"""Deploys are ordered by the repository's topology, not by commit dates: a rebase-merged
pull request leaves several commits dated the same second, and its last commit (HEAD) is
the current deploy, never a rollback target (issue 13)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from sitrep.server.mcp import build_server
from sitrep.settings import GitSource, load_settings
from sitrep.sources.git import GitRepo
from sitrep.tools.context import build_context
from tests.gitrepo import NOW, Repo, hours_ago
from tests.tools.calls import call

pytestmark = pytest.mark.anyio

MERGED_AT = hours_ago(2)


def ordinary_history(repo: Repo) -> dict[str, str]:
    """A merge commit, a squash merge, then a three-commit pull request rebase-merged: its
    commits all carry the committer date of the merge, as a hosting service's rebase merge
    leaves them. Two tags name HEAD, and a tag made last names an old commit."""
    shas = {"base": repo.commit("base", {"app.py": "v = 0\n"}, hours_ago(30))}
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("feature", {"feature.py": "f = 1\n"}, hours_ago(29))
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature", when=hours_ago(28))
    shas["merge"] = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "squashed")
    repo.commit("wip 1", {"s.py": "s = 1\n"}, hours_ago(27))
    repo.commit("wip 2", {"s.py": "s = 2\n"}, hours_ago(26))
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--squash", "squashed", when=hours_ago(25))
    shas["squash"] = repo.commit("Squashed feature (#2)", {}, hours_ago(25))
    repo.git("checkout", "-q", "-b", "pr", shas["merge"])
    for n in (1, 2, 3):
        repo.commit(f"pr part {n}", {f"pr{n}.py": f"p = {n}\n"}, hours_ago(24 - n))
    # A rebase merge: the pull request's commits replayed onto main, all in one second.
    repo.git("rebase", "-q", "main", when=MERGED_AT)
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--ff-only", "pr", when=MERGED_AT)
    log = repo.git("log", "--format=%H %ct", "-3").splitlines()
    assert len({line.split()[1] for line in log}) == 1, "the rebase must leave one committer second"
    shas["pr1"], shas["pr2"], shas["head"] = [line.split()[0] for line in reversed(log)]
    repo.git("tag", "v1.0", shas["merge"])
    repo.git("tag", "v1.1", shas["squash"])
    repo.git("tag", "v1.2", shas["pr1"])
    repo.git("tag", "v1.3.0", shas["head"])
    repo.git("tag", "v1.3.1", shas["head"])
    # Tagged after everything else, on the first commit: a release named retroactively.
    repo.git("tag", "-a", "v0.9", "-m", "retroactive", shas["base"], when=hours_ago(1))
    return shas


@pytest.fixture
def history(make_repo: Callable[[str], Repo]) -> tuple[Repo, dict[str, str]]:
    repo = make_repo("svc")
    return repo, ordinary_history(repo)


def test_first_parent_deploys_follow_topology(history: tuple[Repo, dict[str, str]]) -> None:
    repo, shas = history
    deploys = GitRepo(GitSource(service="svc", repo=repo.path)).deploys()
    assert [d.sha for d in deploys] == [shas[k] for k in ("head", "pr2", "pr1", "squash", "merge", "base")]


def test_tags_follow_topology_then_version(history: tuple[Repo, dict[str, str]]) -> None:
    repo, shas = history
    deploys = GitRepo(GitSource(service="svc", repo=repo.path, tag_pattern="v*")).deploys()
    assert [d.version for d in deploys] == ["v1.3.1", "v1.3.0", "v1.2", "v1.1", "v1.0", "v0.9"]
    assert [d.sha for d in deploys[1:3]] == [shas["head"], shas["pr1"]]


def test_a_tag_off_the_branch_falls_in_by_date(history: tuple[Repo, dict[str, str]]) -> None:
    repo, shas = history
    repo.git("checkout", "-q", "-b", "hotfix", shas["squash"])
    hotfix = repo.commit("hotfix", {"fix.py": "1\n"}, hours_ago(10))
    repo.git("tag", "v1.1.1", hotfix)
    deploys = GitRepo(GitSource(service="svc", repo=repo.path, tag_pattern="v*")).deploys()
    assert [d.version for d in deploys] == ["v1.3.1", "v1.3.0", "v1.2", "v1.1.1", "v1.1", "v1.0", "v0.9"]


async def _rollback(tmp_path: Path, git: str) -> dict[str, Any]:
    config = tmp_path / "sitrep.toml"
    config.write_text(f'[[git]]\nservice = "svc"\nrepo = "svc"\nbranch = "main"\n{git}')
    runtime = build_context(load_settings(config), clock=lambda: NOW)
    async with Client(build_server(runtime.settings, runtime)) as client:
        recent = await call(client, "recent_deploys", service="svc", since="2d")
        assert (
            recent["deploys"][0]["sha"]
            == (await call(client, "deploy_health", service="svc"))["windows"][0]["sha"]
        )
        return await call(client, "rollback_candidates", service="svc")


async def test_head_is_current_and_never_a_rollback_target(
    history: tuple[Repo, dict[str, str]], tmp_path: Path
) -> None:
    _, shas = history
    result = await _rollback(tmp_path, "")
    assert result["current"]["sha"] == shas["head"]
    candidates = [c["sha"] for c in result["candidates"]]
    assert shas["head"] not in candidates
    # No logs: nothing is judged healthy, so the most recent earlier deploys come first.
    assert candidates[:2] == [shas["pr2"], shas["pr1"]]


async def test_with_tags_the_newest_tag_of_head_is_current(
    history: tuple[Repo, dict[str, str]], tmp_path: Path
) -> None:
    _, shas = history
    result = await _rollback(tmp_path, 'tag_pattern = "v*"\n')
    assert (result["current"]["sha"], result["current"]["version"]) == (shas["head"], "v1.3.1")
    versions = [c["version"] for c in result["candidates"]]
    # v1.3.0 names the running commit: rolling back to it would change nothing.
    assert versions[:2] == ["v1.2", "v1.1"] and "v1.3.0" not in versions


async def test_deploy_diff_takes_the_refs_people_type(
    history: tuple[Repo, dict[str, str]], tmp_path: Path
) -> None:
    _, shas = history
    config = tmp_path / "sitrep.toml"
    config.write_text('[[git]]\nservice = "svc"\nrepo = "svc"\nbranch = "main"\n')
    runtime = build_context(load_settings(config), clock=lambda: NOW)
    async with Client(build_server(runtime.settings, runtime)) as client:
        diff = await call(client, "deploy_diff", sha="HEAD", base="HEAD~2")
        assert (diff["sha"], diff["base"]) == (shas["head"], shas["pr1"])
        assert [c["sha"] for c in diff["commits"]] == [shas["head"], shas["pr2"]]
        assert (await call(client, "deploy_diff", sha="main^", base="v1.0"))["sha"] == shas["pr2"]
        refused = await client.call_tool("deploy_diff", {"sha": "HEAD@{1}"})
        assert refused.is_error and "is not a commit sha" in refused.content[0].text  # type: ignore[union-attr]
