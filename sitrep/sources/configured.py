"""The sources a configuration names, built once and handed to every tool.

`Sources` is a plain container: one field per capability, each a backend behind its
protocol (or None when not configured). Tests build one from fakes directly
(`Sources(logs=StalledLogs())`); the server and the CLI call `build_sources(settings)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sitrep.errors import InputError
from sitrep.settings import Settings
from sitrep.sources.deploy_log import DeployLog
from sitrep.sources.files import FileLogSource
from sitrep.sources.git import GitRepo, discover_repo
from sitrep.sources.protocols import AlertSource, LogSource, MetricsSource

if TYPE_CHECKING:
    from sitrep.sources.prometheus import PrometheusMetrics

__all__ = ["Sources", "build_sources"]


@dataclass(frozen=True, slots=True)
class Sources:
    repos: Mapping[str, GitRepo] = field(default_factory=dict)
    """One git repository per service: what each deploy changed (and, without a deploy log,
    the deploys themselves)."""
    deploy_log: DeployLog | None = None
    """The source of truth for when a deploy happened."""
    logs: LogSource | None = None
    """Log lines: local files or OpenSearch."""
    metrics: MetricsSource | None = None
    """Metric signals and PromQL: Prometheus or anything speaking its HTTP API."""
    alerts: AlertSource | None = None
    """Alerts firing now (Alertmanager) and fired before (Prometheus' ALERTS series)."""
    problems: tuple[str, ...] = ()
    """Configured sources that could not be set up, said so that sources_status shows them."""
    discovered: bool = False
    """True when no configuration named a repository and the working directory's was used."""


GIT_SECONDS = 10.0
"""The longest one git process may run (a call's deadline may cut it shorter)."""


def build_sources(settings: Settings, *, cwd: Path | None = None) -> Sources:
    configured = list(settings.git)
    discovered = False
    if not configured and settings.config_path is None:
        found = discover_repo(cwd or Path.cwd())
        if found is not None:
            configured, discovered = [found], True
    repos: dict[str, GitRepo] = {}
    problems: list[str] = []
    for source in configured:
        try:
            repos[source.service] = GitRepo(source, timeout=min(GIT_SECONDS, settings.deadline_seconds))
        except InputError as error:
            problems.append(f"[[git]] {source.service}: {error}")
    metrics = _metrics_source(settings)
    return Sources(
        repos=repos,
        deploy_log=DeployLog(settings.deploy_log) if settings.deploy_log else None,
        logs=_log_source(settings),
        metrics=metrics,
        alerts=_alert_source(settings, metrics),
        problems=tuple(problems),
        discovered=discovered,
    )


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


def _metrics_source(settings: Settings) -> PrometheusMetrics | None:
    if settings.prometheus is None:
        return None
    from sitrep.sources.prometheus import PrometheusMetrics

    return PrometheusMetrics(settings.prometheus, deadline_seconds=settings.deadline_seconds)


def _alert_source(settings: Settings, metrics: PrometheusMetrics | None) -> AlertSource | None:
    if settings.alertmanager is not None:
        from sitrep.sources.alertmanager import AlertmanagerAlerts

        return AlertmanagerAlerts(
            settings.alertmanager,
            deadline_seconds=settings.deadline_seconds,
            service_label=settings.prometheus.service_label if settings.prometheus else "service",
            history=metrics,
        )
    if metrics is not None:
        from sitrep.sources.prometheus import PrometheusAlerts

        return PrometheusAlerts(metrics)
    return None
