"""Deploys from every source merged into one history, and the windows they were live."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

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
    deploys happened and when; git adds what changed. Otherwise git's deploys stand."""
    logged = list(logged)
    logged_services = {d.service for d in logged}
    merged = [_with_git(d, commits) for d in logged]
    for service, deploys in from_git.items():
        if service not in logged_services:
            merged.extend(deploys)
    return sorted(merged, key=lambda d: (d.timestamp, d.service))


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
    """Windows of one service's deploys that went live, oldest first; the last is current."""
    live = [d for d in sorted(deploys, key=lambda d: d.timestamp) if d.went_live and d.timestamp <= now]
    windows = []
    for index, deploy in enumerate(live):
        is_last = index == len(live) - 1
        end = now if is_last else live[index + 1].timestamp
        windows.append(DeployWindow(deploy, deploy.timestamp, end, current=is_last))
    return windows
