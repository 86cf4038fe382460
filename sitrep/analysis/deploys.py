"""Deploys from every source merged into one history, and the windows they were live."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate

from sitrep.domain import Commit, Deploy


@dataclass(frozen=True, slots=True)
class DeployWindow:
    """The time a deploy was live: from its timestamp to the next live deploy (or now)."""

    deploy: Deploy
    start: float
    end: float
    current: bool

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / 60


def merge_deploys(
    logged: Iterable[Deploy],
    from_git: Mapping[str, Sequence[Deploy]],
    commits: Mapping[str, Commit],
) -> list[Deploy]:
    """One history, oldest first. For a service the deploy log knows, the log says which
    deploys happened and when (in its own order for deploys of one second); git adds what
    changed. Otherwise git's deploys stand, in git's order (`from_git`: newest first, in
    topological order): commits of one second, as a rebase-merged pull request leaves them,
    keep their order, and so does a tag made after a later commit was."""
    logged = sorted(logged, key=lambda d: d.timestamp)
    logged_services = {d.service for d in logged}
    sequences = [[_with_git(d, commits) for d in logged if d.service == s] for s in sorted(logged_services)]
    sequences += [list(reversed(d)) for s, d in sorted(from_git.items()) if s not in logged_services]
    keyed: list[tuple[float, str, int, Deploy]] = []
    for sequence in sequences:
        for clock, deploy in zip(settled_times(sequence), sequence, strict=True):
            keyed.append((clock, deploy.service, len(keyed), deploy))
    return [deploy for *_, deploy in sorted(keyed, key=lambda k: k[:3])]


def settled_times(deploys: Sequence[Deploy]) -> list[float]:
    """When each of a service's deploys (oldest first) went live: its own time, unless a later
    deploy is dated earlier (a tag made afterwards on an old commit, a skewed clock); it then
    went live no later than that one, and its window is empty."""
    return list(accumulate((d.timestamp for d in reversed(deploys)), min))[::-1]


def _with_git(deploy: Deploy, commits: Mapping[str, Commit]) -> Deploy:
    commit = find_commit(deploy.sha, commits)
    if commit is None:
        return deploy
    return replace(
        deploy,
        sha=commit.sha,
        author=deploy.author or commit.author,
        message=commit.subject,
        source="deploy_log+git",
    )


def find_commit(sha: str | None, commits: Mapping[str, Commit]) -> Commit | None:
    """The commit a full or abbreviated sha names, if it is unambiguous."""
    if not sha:
        return None
    if sha in commits:
        return commits[sha]
    found = [c for full, c in commits.items() if full.startswith(sha)] if len(sha) >= 4 else []
    return found[0] if len(found) == 1 else None


def deploy_windows(deploys: Sequence[Deploy], now: float) -> list[DeployWindow]:
    """Windows of one service's deploys that went live, in the order given (oldest first, as
    `merge_deploys` orders them); the last is current. No window runs backwards: see
    `settled_times`."""
    live = [d for d in deploys if d.went_live and d.timestamp <= now]
    starts = settled_times(live)
    windows = []
    for index, deploy in enumerate(live):
        is_last = index == len(live) - 1
        end = now if is_last else starts[index + 1]
        windows.append(DeployWindow(deploy, starts[index], end, current=is_last))
    return windows
