"""Deploys from every deploy source, merged, and the services the sources know.

The deploy log says when a deploy happened; git says what it was (and, for a service with no
deploy log, when). Reading is the sources' work and merging is analysis'; this module asks
the one and hands the records to the other, for every tool that needs the deploy history.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from sitrep.analysis.deploys import find_commit, merge_deploys
from sitrep.domain import Commit, Deploy
from sitrep.errors import InputError, SitrepError, SourceError
from sitrep.sources.configured import Sources
from sitrep.sources.git import GitRepo
from sitrep.tools.output import source_failed

__all__ = ["DeployHistory", "deploy_history", "known_services", "require_service"]


@dataclass(frozen=True, slots=True)
class DeployHistory:
    deploys: list[Deploy]
    """Oldest first."""
    notes: list[str] = field(default_factory=list)


MARKER_LOOKBACK = 7 * 86400.0
"""How far back metric deploy markers are read."""


def deploy_history(
    sources: Sources, service: str | None = None, now: float | None = None, since: float | None = None
) -> DeployHistory:
    """Every deploy of `service` (or of all services) from every source, oldest first. The
    deploy log says when for the services it knows; metric markers (a build-info label that
    changes) say when for the others, read from `since` (default: MARKER_LOOKBACK before now);
    git says what, and when for a service neither knows."""
    logged, notes = _logged_deploys(sources)
    marked, marker_notes = _marked_deploys(sources, {d.service for d in logged}, service, now, since)
    logged += marked
    notes += marker_notes
    if service is not None:
        logged = [d for d in logged if d.service == service]
    if service is None:
        repos = list(sources.repos.values())
    else:
        repos = [sources.repos[service]] if service in sources.repos else []
    from_git: dict[str, list[Deploy]] = {}
    commits: dict[str, Commit] = {}
    logged_services = {d.service for d in logged}
    for repo in repos:
        try:
            history = repo.history()
            commits.update({c.sha: c for c in history})
            if repo.service in logged_services:
                commits.update(_missing_commits(repo, logged, commits))
            else:
                from_git[repo.service] = repo.deploys()
        except SitrepError as error:
            notes.append(f"{repo.name} not read: {source_failed(error, repo.name)}")
    return DeployHistory(merge_deploys(logged, from_git, commits), notes)


def _logged_deploys(sources: Sources) -> tuple[list[Deploy], list[str]]:
    log = sources.deploy_log
    if log is None:
        return [], []
    try:
        read = log.read()
    except SourceError as error:
        return [], [f"deploy log not read: {source_failed(error, log.name)}"]
    notes = []
    if read.lines_skipped:
        notes.append(f"deploy log: {read.lines_skipped} unreadable line(s) skipped")
    if not read.complete:
        notes.append("deploy log: the call's deadline came before its end; later deploys are missing")
    wanted = log.environment
    return [d for d in read.deploys if wanted is None or d.environment == wanted], notes


def _marked_deploys(
    sources: Sources, logged_services: set[str], service: str | None, now: float | None, since: float | None
) -> tuple[list[Deploy], list[str]]:
    """Deploys marked by metrics, for services the deploy log does not know."""
    if sources.metrics is None or (service is not None and service in logged_services):
        return [], []
    end = time.time() if now is None else now
    start = end - MARKER_LOOKBACK if since is None else since
    try:
        marked = sources.metrics.deploy_markers(start, end, service)
    except SourceError as error:
        return [], [f"deploy markers not read from metrics: {error}"]
    return [d for d in marked if d.service not in logged_services], []


def _missing_commits(repo: GitRepo, logged: list[Deploy], known: dict[str, Commit]) -> dict[str, Commit]:
    """Look up deployed shas that are not on the branch's first-parent line (hotfix branches)."""
    found: dict[str, Commit] = {}
    for deploy in logged:
        if deploy.service != repo.service or not deploy.sha or find_commit(deploy.sha, known):
            continue
        try:
            found.update(repo.commits([repo.resolve(deploy.sha)]))
        except SitrepError:
            continue
    return found


def _logged_services(sources: Sources) -> set[str]:
    if sources.deploy_log is None:
        return set()
    try:
        return {d.service for d in sources.deploy_log.read().deploys}
    except SourceError:
        return set()


def known_services(sources: Sources) -> list[str]:
    names = set(sources.repos) | _logged_services(sources)
    if sources.logs is not None:
        names |= sources.logs.services()
    if sources.metrics is not None:
        # A metrics backend that is down costs its names, not the call (sources_status says why).
        with contextlib.suppress(SourceError):
            names |= sources.metrics.services()
    return sorted(names)


def require_service(sources: Sources, service: str, *, name: str = "service") -> str:
    """`service` if some source knows it; otherwise an error listing the services known."""
    if service in sources.repos or service in _logged_services(sources):
        return service  # found without reading the logs
    known = known_services(sources)
    if service in known:
        return service
    listing = ", ".join(known) if known else "none — configure [[git]], [deploy_log] or [files]"
    raise InputError(f"{name}: unknown service {service!r}; known services: {listing}")
