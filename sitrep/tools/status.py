"""sources_status: what sitrep can see, and what else could be configured."""

from sitrep.results import SourceOut, SourcesStatus
from sitrep.sources.configured import Sources
from sitrep.sources.protocols import SourceStatus
from sitrep.tools.context import ToolContext
from sitrep.tools.history import known_services
from sitrep.tools.output import clip, fit


def sources_status(ctx: ToolContext) -> SourcesStatus:
    """Each source (ok or not, latency, detail), the known services, and what else to configure.
    Call it first, and when an answer looks empty or lists sources_not_ok."""
    sources = [
        SourceOut(name=s.name, kind=s.kind, ok=s.ok, latency_ms=s.latency_ms, detail=clip(s.detail, 600))
        for s in statuses(ctx.sources)
    ]
    services = [clip(name, 100) for name in known_services(ctx.sources)]
    hints = _hints(ctx)

    def build(count: int) -> SourcesStatus:
        return SourcesStatus(sources=sources, services=services[:count], hints=hints)

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
    return hints


def statuses(sources: Sources) -> list[SourceStatus]:
    """Each configured source's own account of itself."""
    found = [repo.status() for repo in sources.repos.values()]
    if sources.deploy_log is not None:
        found.append(sources.deploy_log.status())
    if sources.logs is not None:
        found.append(sources.logs.status())
    return found
