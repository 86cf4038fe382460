"""sources_status: what sitrep can see, and what else could be configured."""

from typing import Literal, cast

from sitrep.errors import SourceError
from sitrep.results import SignalOut, SourceOut, SourcesStatus
from sitrep.sources.configured import Sources
from sitrep.sources.protocols import SourceStatus
from sitrep.tools.context import ToolContext
from sitrep.tools.history import known_services
from sitrep.tools.output import clip, fit


def sources_status(ctx: ToolContext) -> SourcesStatus:
    """Each configured source with ok/not ok, latency and a detail, the services known, and
    hints for sources that are not configured yet. Call this first when a tool says a source
    is missing or when answers look empty."""
    sources = [
        SourceOut(name=s.name, kind=s.kind, ok=s.ok, latency_ms=s.latency_ms, detail=clip(s.detail, 600))
        for s in statuses(ctx.sources)
    ]
    services = [clip(name, 100) for name in known_services(ctx.sources)]
    hints = _hints(ctx)
    signals, missing = _signals(ctx, hints)

    def build(count: int) -> SourcesStatus:
        return SourcesStatus(
            sources=sources, services=services[:count], signals=signals, missing_signals=missing, hints=hints
        )

    # The sources and hints always; as many service names as fit after them.
    return fit(build, len(services), ctx.settings.output.max_chars)


def _hints(ctx: ToolContext) -> list[str]:
    hints = [
        f"configuration: {ctx.settings.config_path}" if ctx.settings.config_path else "no configuration file"
    ]
    hints += ctx.sources.problems
    if ctx.sources.discovered:
        repo = next(iter(ctx.sources.repos.values()))
        hints.append(
            f"no configuration: using the git repository at {repo.path} as service {repo.service!r}; "
            "pass --config FILE (or set SITREP_CONFIG) with [[git]] entries to name services"
        )
    elif not ctx.sources.repos:
        hints.append("add [[git]] entries (service, repo, branch) to see what each deploy changed")
    if ctx.sources.deploy_log is None:
        hints.append('add [deploy_log] path = "deploys.jsonl" so deploy times come from your deploy log')
    if ctx.sources.logs is None:
        hints.append(
            'add [files] paths = ["/var/log/app/*.jsonl"], or [opensearch] url = "https://…:9200" and '
            'index = "logs-*", for log search, error patterns and deploy health'
        )
    if ctx.sources.metrics is None:
        hints.append('add [prometheus] url = "http://…:9090" for metrics (query_metrics)')
    if ctx.sources.alerts is None:
        hints.append('add [alertmanager] url = "http://…:9093" for the alerts firing now')
    return hints


def _signals(ctx: ToolContext, hints: list[str]) -> tuple[list[SignalOut], list[str]]:
    metrics = ctx.sources.metrics
    if metrics is None:
        return [], []
    try:
        found = metrics.signals()
        missing = metrics.missing_signals()
    except SourceError as error:
        hints.append(f"metric signals unknown: {error}")
        return [], []
    signals = [
        SignalOut(
            name=signal.name,
            origin=signal.origin,
            bad=cast(Literal["up", "down"], signal.bad),
            promql=clip(signal.query, 500),
        )
        for signal in found
    ]
    if missing:
        hints.append(
            f"metric signals not found: {', '.join(missing)}; sitrep detects OpenTelemetry "
            "http_server_request_duration_seconds_* and classic http_requests_total{code}, or set them "
            "as PromQL under [prometheus.signals]"
        )
    return signals, missing


def statuses(sources: Sources) -> list[SourceStatus]:
    """Each configured source's own account of itself."""
    found = [repo.status() for repo in sources.repos.values()]
    if sources.deploy_log is not None:
        found.append(sources.deploy_log.status())
    if sources.logs is not None:
        found.append(sources.logs.status())
    if sources.metrics is not None:
        found.append(sources.metrics.status())
    if sources.alerts is not None and sources.alerts.name != getattr(sources.metrics, "name", None):
        found.append(sources.alerts.status())
    return found
