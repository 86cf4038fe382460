"""deploy_health and rollback_candidates: each deploy's window judged by the shared change
judge on per-bucket signals from the logs and, when configured, from Prometheus."""

import math
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Annotated

from pydantic import Field

from sitrep.analysis.deploys import DeployWindow, deploy_windows
from sitrep.analysis.health import (
    STRONGEST,
    Bad,
    Evidence,
    Judged,
    Reference,
    Samples,
    WindowSignals,
    judge_windows,
)
from sitrep.analysis.ranking import Ranked, rank_candidates
from sitrep.analysis.risks import Risk
from sitrep.deadline import time_left
from sitrep.domain import LogQuery, ScanReport, WindowStats
from sitrep.errors import InputError, SitrepError
from sitrep.results import (
    CandidateOut,
    CurrentDeploy,
    DeployHealth,
    EvidenceOut,
    RollbackCandidates,
    RollbackCommand,
    Typical,
    WindowOut,
)
from sitrep.sources.protocols import MetricsSource
from sitrep.timespec import epoch_iso
from sitrep.tools.changes import RangeRisks, diff_risks, risk_out
from sitrep.tools.context import ToolContext
from sitrep.tools.history import deploy_history, require_service
from sitrep.tools.output import clip, fit, scan_notes, source_failed
from sitrep.tools.params import RequiredService
from sitrep.tools.rollback_command import render_command

HISTORY_WINDOWS = 20
BUCKETS_PER_WINDOW = 30
MIN_BUCKET_SECONDS = 60.0
METRIC_POINTS = 2000
"""At most this many points per metric signal over the whole history."""
EVIDENCE_SHOWN = 2
Span = tuple[float, float]
DEFAULT_GIT_COMMAND = (
    "cd {repo} && git restore --source={sha} --staged --worktree -- {path} && git commit -m {message}"
)


@dataclass(slots=True)
class Assessment:
    """Every recent window of one service, judged against the service's typical health."""

    judged: list[Judged]
    """Oldest first; the last is the current deploy."""
    ref: Reference
    notes: list[str] = field(default_factory=list)
    lines_skipped: int = 0


def assess(ctx: ToolContext, service: str) -> Assessment:
    history = deploy_history(ctx.sources, service, ctx.now().timestamp())
    windows = deploy_windows(history.deploys, ctx.now().timestamp())[-HISTORY_WINDOWS:]
    if not windows:
        raise InputError(
            f"service: no deploys of {service!r} found; recent_deploys and sources_status show what is known"
        )
    buckets = [_buckets(w) for w in windows]
    stats, per_bucket, report = _window_stats(ctx, service, windows, buckets)
    items = [WindowSignals(w, s) for w, s in zip(windows, stats, strict=True)]
    _log_samples(items, per_bucket, buckets)
    notes = history.notes + scan_notes(report)
    if ctx.sources.metrics is not None:
        notes += _metric_samples(ctx.sources.metrics, service, items, buckets)
    judged, ref = judge_windows(items, ctx.settings.health)
    return Assessment(judged, ref, notes, report.lines_skipped)


def _buckets(window: DeployWindow) -> list[Span]:
    """About BUCKETS_PER_WINDOW equal buckets of at least a minute; a last one shorter than
    half a bucket joins the one before."""
    length = window.end - window.start
    width = max(MIN_BUCKET_SECONDS, length / BUCKETS_PER_WINDOW)
    count = max(1, math.floor(length / width + 0.5))
    edges = [window.start + i * width for i in range(count)] + [window.end]
    return [(a, b) for a, b in pairwise(edges) if b > a]


def _window_stats(
    ctx: ToolContext, service: str, windows: list[DeployWindow], buckets: list[list[Span]]
) -> tuple[list[WindowStats], list[WindowStats], ScanReport]:
    """The service's statistics per window and per bucket (all windows' buckets in one
    list), and what the reads skipped or could not do."""
    spans = [(w.start, w.end) for w in windows]
    empty = [WindowStats(start, end) for start, end in spans]
    if ctx.sources.logs is None:
        note = "no log source configured: log signals are unknown; add [files] paths"
        return empty, [], ScanReport(notes=[note])
    query = LogQuery(spans[0][0], spans[-1][1], frozenset({service}))
    flat = [b for per_window in buckets for b in per_window]
    try:
        started = time.monotonic()
        per_bucket = ctx.sources.logs.scan(query, stats=flat)
        by_bucket = per_bucket.stats.get(service, [])
        # The window-level read (exact percentiles) costs about what the first did: skipped
        # when the call's deadline would not leave time for it, or the first was cut short.
        if per_bucket.report.partial or time_left() < 1.5 * (time.monotonic() - started):
            report = per_bucket.report
            report.notes.append(
                "window percentiles approximated from per-bucket ones: the call's deadline was near"
            )
            return _fold(spans, buckets, by_bucket), by_bucket, report
        found = ctx.sources.logs.scan(query, stats=spans)
    except SitrepError as error:
        return empty, [], ScanReport(partial=True, notes=[f"logs not read: {source_failed(error, 'logs')}"])
    return found.stats.get(service, empty), by_bucket, found.report


def _fold(spans: list[Span], buckets: list[list[Span]], by_bucket: list[WindowStats]) -> list[WindowStats]:
    """Window statistics from bucket ones: counts exact, percentiles the traffic-weighted
    median of the buckets' own."""
    out, position = [], 0
    for (start, end), mine in zip(spans, buckets, strict=True):
        part = by_bucket[position : position + len(mine)]
        position += len(mine)
        out.append(
            WindowStats(
                start,
                end,
                events=sum(b.events for b in part),
                requests=sum(b.requests for b in part),
                errors=sum(b.errors for b in part),
                p50_ms=_weighted_median([(b.p50_ms, b.basis) for b in part]),
                p95_ms=_weighted_median([(b.p95_ms, b.basis) for b in part]),
                p99_ms=_weighted_median([(b.p99_ms, b.basis) for b in part]),
            )
        )
    return out


def _weighted_median(pairs: list[tuple[float | None, int]]) -> float | None:
    known = sorted((v, w) for v, w in pairs if v is not None and w > 0)
    total = sum(w for _, w in known)
    running = 0
    for value, weight in known:
        running += weight
        if running * 2 >= total:
            return value
    return None


def _log_samples(
    items: list[WindowSignals], per_bucket: list[WindowStats], buckets: list[list[Span]]
) -> None:
    """Error rate, p95 and volume per bucket from the logs, onto each window's samples."""
    if not per_bucket:
        return
    position = 0
    for item, spans in zip(items, buckets, strict=True):
        mine = per_bucket[position : position + len(spans)]
        position += len(spans)
        used = [b for b in mine if b.basis]
        if not used:
            continue
        item.samples += [
            Samples("error_rate", "logs", "up", tuple(b.error_rate or 0.0 for b in used)),
            Samples("p95_ms", "logs", "up", tuple(b.p95_ms for b in used if b.p95_ms is not None)),
            Samples("volume_per_min", "logs", "down", tuple(b.basis * 60 / (b.end - b.start) for b in mine)),
        ]


def _metric_samples(
    metrics: MetricsSource, service: str, items: list[WindowSignals], buckets: list[list[Span]]
) -> list[str]:
    """Each metric signal of the service, read once over the whole history and averaged into
    each window's buckets; notes say what could not be read."""
    start, end = items[0].window.start, items[-1].window.end
    step = max(MIN_BUCKET_SECONDS, (end - start) / METRIC_POINTS)
    window = f"{int(max(2 * step, 120))}s"
    notes: list[str] = []
    try:
        signals = metrics.signals(service)
    except SitrepError as error:
        return [f"metrics not read: {error}"]
    for signal in signals:
        try:
            page = metrics.query_range(signal.promql(service, window), start, end, step, max_series=2)
        except SitrepError as error:
            notes.append(f"metric {signal.name} not read: {error}")
            continue
        if not page.series:
            continue
        if page.total > 1:
            notes.append(f"metric {signal.name} has {page.total} series for {service}; the first is judged")
        bad: Bad = "down" if signal.bad == "down" else "up"
        samples = [(ts, v) for ts, v in page.series[0].samples if math.isfinite(v)]
        for item, spans in zip(items, buckets, strict=True):
            values = _bucket_means(samples, spans)
            if values:
                item.samples.append(Samples(signal.name, "metrics", bad, tuple(values)))
    return notes


def _bucket_means(samples: list[tuple[float, float]], spans: list[Span]) -> list[float]:
    sums: dict[int, list[float]] = {}
    starts = [a for a, _ in spans]
    for ts, value in samples:
        index = bisect_right(starts, ts) - 1
        if 0 <= index < len(spans) and ts < spans[index][1]:
            sums.setdefault(index, []).append(value)
    return [sum(v) / len(v) for _, v in sorted(sums.items())]


def deploy_health(
    ctx: ToolContext,
    service: RequiredService,
    limit: Annotated[int, Field(ge=1, le=HISTORY_WINDOWS, description="At most this many windows.")] = 10,
) -> DeployHealth:
    """Each deploy window of a service, newest first: requests, error rate, p50/p95/p99 and a
    verdict (healthy, degraded, insufficient) by Mann-Whitney tests of its log and metric signals
    against earlier healthy windows, citing p, q, shift and interval."""
    service = require_service(ctx.sources, service)
    found = assess(ctx, service)
    windows = [window_out(j) for j in reversed(found.judged)][:limit]

    def build(count: int) -> DeployHealth:
        return DeployHealth(
            service=service,
            typical=Typical(
                error_rate=found.ref.error_rate, p95_ms=found.ref.p95_ms, windows=found.ref.windows
            ),
            windows=windows[:count],
            notes=found.notes,
            lines_skipped=found.lines_skipped,
        )

    return fit(build, len(windows), ctx.settings.output.max_chars)


def window_out(judged: Judged) -> WindowOut:
    stats, window = judged.stats, judged.window
    return WindowOut(
        sha=window.deploy.sha,
        version=clip(window.deploy.version, 80),
        start=epoch_iso(window.start),
        end=epoch_iso(window.end),
        current=window.current,
        requests=stats.basis,
        basis="requests" if stats.requests else "log_lines",
        errors=stats.errors,
        error_rate=_round(stats.error_rate, 5),
        p50_ms=_round(stats.p50_ms, 1),
        p95_ms=_round(stats.p95_ms, 1),
        p99_ms=_round(stats.p99_ms, 1),
        verdict=judged.verdict,
        why=_short_why(judged),
        judged_on=[on for on in ("logs", "metrics") if on in judged.judged_on],
        evidence=[evidence_out(e) for e in _shown(judged)],
    )


def _short_why(judged: Judged) -> str:
    """The verdict's reason; a degraded window's statistics are in its evidence, so named only."""
    counted = [f"{e.name} ({e.source}) {e.change.direction}" for e in judged.evidence if e.counts]
    return f"worse: {', '.join(counted)}" if counted else judged.why.split(STRONGEST)[0]


def _shown(judged: Judged) -> list[Evidence]:
    """The signals that made a window degraded (the strongest of each source first), else its
    strongest tested one."""
    counted = [e for e in judged.evidence if e.counts] or list(judged.evidence[:1])
    firsts = [
        next(e for e in counted if e.source == s)
        for s in ("metrics", "logs")
        if any(e.source == s for e in counted)
    ]
    return (firsts + [e for e in counted if e not in firsts])[:EVIDENCE_SHOWN]


def evidence_out(e: Evidence) -> EvidenceOut:
    c = e.change
    return EvidenceOut(
        signal=e.name,
        source=e.source,
        direction=c.direction,
        before=_sig(c.before),
        after=_sig(c.after),
        shift=_sig(c.shift),
        interval=[_sig(c.low), _sig(c.high)],
        p_value=_sig(c.p_value, 2),
        q_value=_sig(e.q_value, 2),
    )


def _sig(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def rollback_candidates(
    ctx: ToolContext,
    service: RequiredService,
    top: Annotated[int, Field(ge=1, le=HISTORY_WINDOWS, description="At most this many candidates.")] = 5,
) -> RollbackCandidates:
    """Earlier deploys to roll back to, best first (score 0.9 healthy, 0.5 unproven, 0.2 degraded),
    with evidence, the hard-to-reverse risks since each (migrations, config, dependencies, merged
    work) and the command a human would run; sitrep never runs it."""
    service = require_service(ctx.sources, service)
    found = assess(ctx, service)
    current = found.judged[-1]
    ranked = rank_candidates(found.judged[:-1], current, found.ref, ctx.settings.health)[:top]
    notes = list(found.notes)
    if current.verdict == "healthy":
        notes.append("the current deploy's window looks healthy; rolling back may not help")
    if not ranked:
        notes.append("no earlier deploy to roll back to")
    walk, walk_note = _walk(ctx, service, ranked, found.judged)
    notes += walk_note
    candidates = []
    for r in ranked:
        candidate, note = _candidate_out(ctx, service, r, current, walk)
        candidates.append(candidate)
        if note is not None and note not in notes:
            notes.append(note)
    head = CurrentDeploy(
        sha=current.window.deploy.sha,
        version=clip(current.window.deploy.version, 80),
        deployed_at=epoch_iso(current.window.start),
        health=window_out(current),
    )

    def build(count: int) -> RollbackCandidates:
        return RollbackCandidates(
            service=service,
            current=head,
            candidates=candidates[:count],
            notes=notes,
        )

    return fit(build, len(candidates), ctx.settings.output.max_chars)


def _walk(
    ctx: ToolContext, service: str, ranked: list[Ranked], judged: list[Judged]
) -> tuple[RangeRisks | None, list[str]]:
    """One walk of the commits from the oldest candidate to the current deploy (the last of
    `judged`, which is oldest first), shared by all; with a note when it could not be read."""
    repo = ctx.sources.repos.get(service)
    chosen = {id(r.judged) for r in ranked}
    shas = [sha for j in judged if id(j) in chosen and (sha := j.window.deploy.sha)]
    head = judged[-1].window.deploy.sha
    if repo is None or not shas or not head:
        return None, []
    oldest = shas[0]
    try:
        return RangeRisks.walk(repo, oldest, head), []
    except SitrepError as error:
        return None, [f"risks not read in one walk from {oldest[:12]}: {source_failed(error, repo.name)}"]


def _candidate_out(
    ctx: ToolContext, service: str, ranked: Ranked, current: Judged, walk: RangeRisks | None
) -> tuple[CandidateOut, str | None]:
    """The candidate, and a note when its risks could not be read."""
    deploy = ranked.judged.window.deploy
    risks, note = _risks_since(ctx, service, deploy.sha, current.window.deploy.sha, walk)
    candidate = CandidateOut(
        rank=ranked.rank,
        sha=deploy.sha,
        version=clip(deploy.version, 80),
        deployed_at=epoch_iso(deploy.timestamp),
        score=ranked.score,
        verdict=ranked.judged.verdict,
        reasons=ranked.reasons,
        risks=[risk_out(r) for r in risks],
        command=rollback_command(ctx, service, ranked.judged.window, current.window),
    )
    return candidate, note


def _risks_since(
    ctx: ToolContext,
    service: str,
    sha: str | None,
    current_sha: str | None,
    walk: RangeRisks | None,
) -> tuple[list[Risk], str | None]:
    """The risks of rolling back to `sha`, and a note when git could not be read."""
    repo = ctx.sources.repos.get(service)
    if repo is None or not sha or not current_sha:
        why = "no git repository is configured for it" if repo is None else "the deploy log names no sha"
        return [Risk("unchecked", "low", f"changes since this deploy were not checked: {why}")], None
    shared = walk.since(sha) if walk is not None else None
    if shared is not None:
        return shared, None
    try:  # a deploy off the first-parent line (a hotfix branch): its own diff
        risks, _ = diff_risks(repo, sha, current_sha, repo.changes(sha, current_sha), markers=False)
        return risks, None
    except SitrepError as error:
        note = f"risks not checked for {sha[:12]}: {source_failed(error, repo.name)}"
        return [Risk("unchecked", "low", "changes since this deploy could not be read from git")], note


def rollback_command(
    ctx: ToolContext, service: str, target: DeployWindow, current: DeployWindow
) -> RollbackCommand:
    repo = ctx.sources.repos.get(service)
    template = (repo.rollback_command if repo else None) or ctx.settings.rollback.command
    if template is None and repo is not None and target.deploy.sha:
        template = DEFAULT_GIT_COMMAND
    if template is None:
        return RollbackCommand(
            command=None,
            executed=False,
            note="no rollback command configured; set [rollback] command in the configuration",
        )
    deploy, now = target.deploy, current.deploy
    values = {
        "service": service,
        "sha": deploy.sha or "",
        "short_sha": (deploy.sha or "")[:12],
        "version": deploy.version,
        "current_sha": now.sha or "",
        "current_version": now.version,
        "repo": str(repo.path) if repo else "",
        "branch": repo.branch if repo else "",
        "path": (repo.subpath if repo and repo.subpath else "."),
        "message": f"Roll back {service} to {deploy.version} ({(deploy.sha or '')[:12]})",
    }
    rendered = render_command(template, values)
    if rendered.command is None:
        return RollbackCommand(command=None, executed=False, note=rendered.refused or "no command")
    note = (
        "not executed: sitrep never runs commands. Review it, then run it yourself "
        "through your normal release process."
    )
    return RollbackCommand(command=rendered.command, executed=False, note=note)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
