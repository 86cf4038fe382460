"""sources_status: what sitrep can see, and what else could be configured.

Each source is asked at once, in its own thread, and given until the call's deadline: a slow
or hung backend is reported as such, beside the answers of the others, instead of taking the
whole call past its deadline (a cluster dripping its answer a byte at a time did).
"""

import contextvars
import threading
import time
from collections.abc import Callable, Sequence
from typing import Literal, cast

from sitrep.deadline import time_left
from sitrep.errors import SourceError
from sitrep.results import SignalOut, SourceOut, SourcesStatus
from sitrep.sources.configured import Sources
from sitrep.sources.protocols import SourceStatus
from sitrep.tools.context import ToolContext
from sitrep.tools.history import known_services
from sitrep.tools.output import clip, fit


def sources_status(ctx: ToolContext) -> SourcesStatus:
    """Each source (ok or not, latency, detail), the known services, and what else to configure.
    Call it first, and when an answer looks empty or lists sources_not_ok."""
    asks: list[Callable[[], object]] = [*_status_asks(ctx.sources), lambda: known_services(ctx.sources)]
    answers, waited = _all_within(asks, time_left())
    sources = [
        SourceOut(name=s.name, kind=s.kind, ok=s.ok, latency_ms=s.latency_ms, detail=clip(s.detail, 600))
        if isinstance(s, SourceStatus)
        else SourceOut(
            name=name, kind=kind, ok=False, latency_ms=round(waited * 1000, 1), detail=_slow(waited)
        )
        for s, (name, kind) in zip(answers[:-1], _names(ctx.sources), strict=True)
    ]
    listed = answers[-1]
    services = [clip(str(name), 100) for name in listed] if isinstance(listed, list) else []
    hints = _hints(ctx)
    if not isinstance(listed, list):
        hints.insert(0, f"services not listed: {_slow(waited)}")
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
    return [ask() for ask in _status_asks(sources)]


def _status_asks(sources: Sources) -> list[Callable[[], SourceStatus]]:
    asks: list[Callable[[], SourceStatus]] = [repo.status for repo in sources.repos.values()]
    if sources.deploy_log is not None:
        asks.append(sources.deploy_log.status)
    if sources.logs is not None:
        asks.append(sources.logs.status)
    if sources.metrics is not None:
        asks.append(sources.metrics.status)
    if sources.alerts is not None and sources.alerts.name != getattr(sources.metrics, "name", None):
        asks.append(sources.alerts.status)
    return asks


def _names(sources: Sources) -> list[tuple[str, str]]:
    """(name, kind) of each source `_status_asks` asks, in its order."""
    names = [(repo.name, "git") for repo in sources.repos.values()]
    if sources.deploy_log is not None:
        names.append((sources.deploy_log.name, "deploy_log"))
    if sources.logs is not None:
        names.append((sources.logs.name, sources.logs.name))
    if sources.metrics is not None:
        names.append((sources.metrics.name, "metrics"))
    if sources.alerts is not None and sources.alerts.name != getattr(sources.metrics, "name", None):
        names.append((sources.alerts.name, "alerts"))
    return names


def _slow(seconds: float) -> str:
    return f"no answer within {seconds:.1f} s: slow or hung; the other sources answered without it"


def _all_within(asks: Sequence[Callable[[], object]], seconds: float) -> tuple[list[object], float]:
    """Each ask's answer, all asked at once, or None for one that did not come within
    `seconds` (it then runs on until the call's cancellation stops it); and the seconds
    waited. An ask that raised raises here."""
    answers: list[object] = [None] * len(asks)
    failures: list[BaseException] = []
    done = [threading.Event() for _ in asks]

    def run(index: int) -> None:
        try:
            answers[index] = asks[index]()
        except BaseException as error:  # said in the caller's thread, as if asked there
            failures.append(error)
        finally:
            done[index].set()

    started = time.monotonic()
    for index in range(len(asks)):
        context = contextvars.copy_context()  # the call: its deadline, memo and cancellation
        threading.Thread(target=context.run, args=(run, index), daemon=True).start()
    for event in done:
        event.wait(None if seconds == float("inf") else max(0.0, started + seconds - time.monotonic()))
    if failures:
        raise failures[0]
    return [answer if event.is_set() else None for answer, event in zip(answers, done, strict=True)], (
        time.monotonic() - started
    )
