from collections.abc import Callable
from pathlib import Path

import pytest

from sitrep.errors import InputError, SourceUnavailable, WriteRefused
from sitrep.settings import GitSource
from sitrep.sources.git import GitRepo, discover_repo
from tests.gitrepo import Repo, hours_ago


@pytest.fixture
def history(make_repo: Callable[[str], Repo]) -> tuple[Repo, dict[str, str]]:
    repo = make_repo("svc")
    shas = {"one": repo.commit("first", {"app.py": "v = 1\n"}, hours_ago(10), author="ana")}
    repo.git("checkout", "-q", "-b", "feature/x")
    shas["feature"] = repo.commit("feature work", {"feature.py": "x = 1\n"}, hours_ago(9))
    repo.git("checkout", "-q", "main")
    shas["two"] = repo.commit(
        "second", {"db/migrations/0002_add.sql": "ALTER TABLE t ADD c int;\n"}, hours_ago(8)
    )
    repo.git("merge", "-q", "--no-ff", "-m", "Merge feature/x", "feature/x", when=hours_ago(7))
    shas["merge"] = repo.git("rev-parse", "HEAD")
    shas["three"] = repo.commit(
        "third", {"app.py": None, "main.py": "v = 1\n", "config/app.yaml": "<<<<<<< HEAD\na: 1\n=======\na: 2\n>>>>>>> x\n"},
        hours_ago(6), author="bo",
    )  # fmt: skip
    repo.git("tag", "v1.0", shas["one"])
    repo.git("tag", "-a", "v2.0", "-m", "release 2", shas["three"], when=hours_ago(5))
    return repo, shas


def git(repo: Repo, **options: object) -> GitRepo:
    return GitRepo(GitSource(service="svc", repo=repo.path, **options))  # type: ignore[arg-type]


def test_first_parent_commits_are_the_deploys(history: tuple[Repo, dict[str, str]]) -> None:
    repo, shas = history
    deploys = git(repo).deploys()
    assert [d.sha for d in deploys] == [shas["three"], shas["merge"], shas["two"], shas["one"]]
    assert (
        deploys[0].author == "bo"
        and deploys[0].message == "third"
        and deploys[0].timestamp == hours_ago(6).timestamp()
    )
    assert deploys[0].version == shas["three"][:7] and deploys[0].source == "git"


def test_tags_matching_a_pattern_are_the_deploys(history: tuple[Repo, dict[str, str]]) -> None:
    repo, shas = history
    deploys = git(repo, tag_pattern="v*").deploys()
    assert [(d.version, d.sha) for d in deploys] == [("v2.0", shas["three"]), ("v1.0", shas["one"])]
    assert deploys[0].timestamp == hours_ago(5).timestamp()  # the annotated tag's own date


def test_monorepo_path_limits_history(history: tuple[Repo, dict[str, str]]) -> None:
    repo, shas = history
    assert [d.sha for d in git(repo, path="db/").deploys()] == [shas["two"]]


def test_changes_risky_lines_and_merges(history: tuple[Repo, dict[str, str]]) -> None:
    repo, shas = history
    source = git(repo)
    changes = {c.path: c for c in source.changes(shas["one"], shas["three"])}
    assert (
        changes["db/migrations/0002_add.sql"].status == "A"
        and changes["db/migrations/0002_add.sql"].added == 1
    )
    assert changes["main.py"].status == "R" and changes["main.py"].old_path == "app.py"
    added = list(source.added_lines(shas["two"], shas["three"], ["config/app.yaml"]))
    assert ("config/app.yaml", "<<<<<<< HEAD") in added
    merges = source.merges(shas["one"], shas["three"])
    assert [(m.sha, m.brought_in, m.refs) for m in merges] == [(shas["merge"], 1, ("feature/x",))]
    assert source.is_ancestor(shas["one"], shas["three"]) and not source.is_ancestor(
        shas["three"], shas["one"]
    )


@pytest.mark.parametrize(
    "hostile",
    ["--output=/tmp/x", "-c", "$(touch x)", "../../etc/passwd", "HEAD..main", "a b", "main;ls", "@{-1}", "",
     "@{u}", "main@{1}", "HEAD:app.py", "^main", "HEAD~1..HEAD", "main\n", "HEAD~2 ", "HEAD^{tree}", "HEAD^!",
     "-x~1", "~1", "HEAD~-1", "main\x00"],
)  # fmt: skip
def test_hostile_refs_are_refused_and_change_nothing(
    history: tuple[Repo, dict[str, str]], hostile: str, tmp_path: Path
) -> None:
    repo, _ = history
    before = repo.snapshot()
    with pytest.raises(InputError, match="is not a commit sha, tag or branch name"):
        git(repo).resolve(hostile)
    assert repo.snapshot() == before
    assert not (tmp_path / "x").exists() and not Path("x").exists()


def test_refs_people_type_resolve(history: tuple[Repo, dict[str, str]]) -> None:
    repo, shas = history
    source = git(repo)
    assert source.resolve("HEAD") == shas["three"]
    assert source.resolve("HEAD~1") == source.resolve("HEAD^") == source.resolve("main~") == shas["merge"]
    assert source.resolve("HEAD^^") == source.resolve("HEAD~2") == shas["two"]
    assert source.resolve("HEAD~1^2") == shas["feature"]
    assert source.resolve("v2.0~3") == shas["one"]
    assert [c.sha for c in source.range_commits("HEAD~2", "HEAD", 10)] == [shas["three"], shas["merge"]]


def test_unknown_commit_names_the_repository(history: tuple[Repo, dict[str, str]]) -> None:
    repo, _ = history
    with pytest.raises(InputError, match=r"no commit 'deadbeef' in the svc repository"):
        git(repo).resolve("deadbeef")


def test_only_read_subcommands_run(history: tuple[Repo, dict[str, str]]) -> None:
    repo, _ = history
    source = git(repo)
    for command in ("push", "commit", "checkout", "reset", "gc", "config"):
        with pytest.raises(WriteRefused, match=f"git {command} is not an allowlisted read"):
            source._git(command)
    with pytest.raises(WriteRefused, match="could change or write files"):
        source._git("log", "--output=/tmp/out")


def test_not_a_repository_reports_not_ok(tmp_path: Path) -> None:
    source = GitRepo(GitSource(service="svc", repo=tmp_path))
    status = source.status()
    assert not status.ok and "is not a git repository" in status.detail
    missing = GitRepo(GitSource(service="svc", repo=tmp_path / "absent"))
    with pytest.raises(SourceUnavailable, match="does not exist"):
        missing.check()


def test_missing_branch_is_reported(history: tuple[Repo, dict[str, str]]) -> None:
    repo, _ = history
    status = git(repo, branch="production").status()
    assert not status.ok and "no commit 'production'" in status.detail


def test_discover_the_repository_around_a_directory(
    history: tuple[Repo, dict[str, str]], tmp_path: Path
) -> None:
    repo, _ = history
    (repo.path / "sub").mkdir()
    found = discover_repo(repo.path / "sub")
    assert found is not None and (found.service, found.repo, found.branch) == ("svc", repo.path, "main")
    assert discover_repo(tmp_path) is None
