"""sources_status: what sitrep can see, and what else could be configured."""

from sitrep.results import SourceOut, SourcesStatus
from sitrep.runtime import Runtime
from sitrep.tools.output import clip, fit


def sources_status(rt: Runtime) -> SourcesStatus:
    """Each configured source with ok/not ok, latency and a detail, the services known, and
    hints for sources that are not configured yet. Call this first when a tool says a source
    is missing or when answers look empty."""
    sources = [
        SourceOut(name=s.name, kind=s.kind, ok=s.ok, latency_ms=s.latency_ms, detail=clip(s.detail, 600))
        for s in rt.statuses()
    ]
    services = [clip(name, 100) for name in rt.services()]
    hints = _hints(rt)

    def build(count: int) -> SourcesStatus:
        return SourcesStatus(sources=sources, services=services[:count], hints=hints)

    # The sources and hints always; as many service names as fit after them.
    return fit(build, len(services), rt.settings.output.max_chars)


def _hints(rt: Runtime) -> list[str]:
    hints = [
        f"configuration: {rt.settings.config_path}" if rt.settings.config_path else "no configuration file"
    ]
    hints += rt.notes
    if rt.discovered:
        repo = next(iter(rt.repos.values()))
        hints.append(
            f"no configuration: using the git repository at {repo.path} as service {repo.service!r}; "
            "pass --config FILE (or set SITREP_CONFIG) with [[git]] entries to name services"
        )
    elif not rt.repos:
        hints.append("add [[git]] entries (service, repo, branch) to see what each deploy changed")
    if rt.deploy_log is None:
        hints.append('add [deploy_log] path = "deploys.jsonl" so deploy times come from your deploy log')
    if rt.logs is None:
        hints.append(
            'add [files] paths = ["/var/log/app/*.jsonl"], or [opensearch] url = "https://…:9200" and '
            'index = "logs-*", for log search, error patterns and deploy health'
        )
    return hints
