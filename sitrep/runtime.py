"""The sources a server or CLI works with, built once from the settings and passed down."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sitrep.analysis.deploys import find_commit, merge_deploys
from sitrep.domain import Commit, Deploy
from sitrep.errors import InputError, SitrepError, SourceError
from sitrep.settings import Settings
from sitrep.sources.deploy_log import DeployLog
from sitrep.sources.files import FileLogSource
from sitrep.sources.git import GitRepo, discover_repo
from sitrep.sources.protocols import LogSource, SourceStatus

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(slots=True)
class DeployHistory:
    deploys: list[Deploy]
    """Oldest first."""
    notes: list[str] = field(default_factory=list)


def _log_source(settings: Settings) -> LogSource | None:
    if settings.files is not None:
        return FileLogSource(settings.files, settings.fields)
    if settings.opensearch is not None:
        # Imported here: opensearch-py is only loaded when a cluster is configured.
        from sitrep.sources.opensearch import OpenSearchLogSource

        return OpenSearchLogSource(
            settings.opensearch, settings.fields, deadline_seconds=settings.deadline_seconds
        )
    return None


class Runtime:
    """Holds the configured sources; every tool reads through it."""

    def __init__(self, settings: Settings, *, clock: Clock = utc_now, cwd: Path | None = None) -> None:
        self.settings = settings
        self.now = clock
        self.repos: dict[str, GitRepo] = {}
        self.notes: list[str] = []
        sources = list(settings.git)
        self.discovered = False
        if not sources and settings.config_path is None:
            found = discover_repo(cwd or Path.cwd())
            if found is not None:
                sources, self.discovered = [found], True
        for source in sources:
            try:
                self.repos[source.service] = GitRepo(source, timeout=min(10.0, settings.deadline_seconds))
            except InputError as error:
                self.notes.append(f"[[git]] {source.service}: {error}")
        self.deploy_log = DeployLog(settings.deploy_log) if settings.deploy_log else None
        self.logs: LogSource | None = _log_source(settings)

    # -- services ---------------------------------------------------------------------
    def _logged_services(self) -> set[str]:
        if self.deploy_log is None:
            return set()
        try:
            return {d.service for d in self.deploy_log.read().deploys}
        except SourceError:
            return set()

    def services(self) -> list[str]:
        names = set(self.repos) | self._logged_services()
        if self.logs is not None:
            names |= self.logs.services()
        return sorted(names)

    def require_service(self, service: str, *, name: str = "service") -> str:
        if service in self.repos or service in self._logged_services():
            return service  # found without reading the logs
        known = self.services()
        if service in known:
            return service
        listing = ", ".join(known) if known else "none — configure [[git]], [deploy_log] or [files]"
        raise InputError(f"{name}: unknown service {service!r}; known services: {listing}")

    # -- deploys ----------------------------------------------------------------------
    def deploys(self, service: str | None = None) -> DeployHistory:
        """Every deploy of `service` (or of all services) from every source, oldest first."""
        notes: list[str] = []
        logged = self._logged_deploys(notes)
        if service is not None:
            logged = [d for d in logged if d.service == service]
        repos = (
            [self.repos[service]] if service in self.repos else [] if service else list(self.repos.values())
        )
        from_git: dict[str, list[Deploy]] = {}
        commits: dict[str, Commit] = {}
        logged_services = {d.service for d in logged}
        for repo in repos:
            try:
                history = repo.history()
                commits.update({c.sha: c for c in history})
                if repo.service in logged_services:
                    commits.update(self._missing_commits(repo, logged, commits))
                else:
                    from_git[repo.service] = repo.deploys()
            except SitrepError as error:
                notes.append(f"{repo.name} not read: {error}")
        return DeployHistory(merge_deploys(logged, from_git, commits), notes)

    def _logged_deploys(self, notes: list[str]) -> list[Deploy]:
        if self.deploy_log is None:
            return []
        try:
            read = self.deploy_log.read()
        except SourceError as error:
            notes.append(f"deploy log not read: {error}")
            return []
        if read.lines_skipped:
            notes.append(f"deploy log: {read.lines_skipped} unreadable line(s) skipped")
        if not read.complete:
            notes.append("deploy log: the call's deadline came before its end; later deploys are missing")
        wanted = self.deploy_log_environment
        return [d for d in read.deploys if wanted is None or d.environment == wanted]

    @property
    def deploy_log_environment(self) -> str | None:
        return self.settings.deploy_log.environment if self.settings.deploy_log else None

    @staticmethod
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

    # -- status -----------------------------------------------------------------------
    def statuses(self) -> list[SourceStatus]:
        statuses = [repo.status() for repo in self.repos.values()]
        if self.deploy_log is not None:
            statuses.append(self.deploy_log.status())
        if self.logs is not None:
            statuses.append(self.logs.status())
        return statuses
