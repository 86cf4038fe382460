"""Plain-text views of the tools' results for humans at a terminal (`--json` prints the data)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from sitrep.analysis.health import pct
from sitrep.cli.triage import TriageReport
from sitrep.results import (
    Alerts,
    DeployDiff,
    DeployHealth,
    ErrorPatterns,
    IncidentTimeline,
    QueryMetrics,
    RecentDeploys,
    RiskOut,
    RollbackCandidates,
    SearchLogs,
    SourcesStatus,
    Truncation,
    WhatChanged,
    WindowOut,
)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}ms"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _short(sha: str | None) -> str:
    return (sha or "-")[:10]


SPARKS = "▁▂▃▄▅▆▇█"
_EXAMPLE_CHARS = 200


def sparkline(values: Sequence[float | None]) -> str:
    """One bar a value, from zero (▁) to the largest (█); a space where there is no value."""
    top = max((v for v in values if v is not None), default=0.0)
    return "".join(
        " "
        if v is None
        else SPARKS[0 if top <= 0 else min(len(SPARKS) - 1, round(v / top * (len(SPARKS) - 1)))]
        for v in values
    )


def _footer(result: Truncation) -> list[str]:
    lines = (
        [f"  … {result.omitted} more not shown (narrow the query, or raise limit, top or [output] max_chars)"]
        if result.truncated
        else []
    )
    return lines + [f"  note: {note}" for note in result.notes]


def deploys(result: RecentDeploys) -> list[str]:
    lines = [f"Deploys {result.since} → {result.until}: {result.total}"]
    for d in result.deploys:
        lines.append(
            f"  {d.timestamp}  {d.service:<14} {d.version:<10} {_short(d.sha):<10} "
            f"{d.author or '-':<12} {d.message or ''}"
        )
    return lines + _footer(result)


def logs(result: SearchLogs) -> list[str]:
    lines = [
        f"Log lines {result.since} → {result.until}: "
        f"{result.total} matched, {result.returned} shown (newest first)"
    ]
    lines += [
        f"  {line.timestamp} {line.service or '-'} {line.level or '-':<5} {line.message}"
        for line in result.lines
    ]
    return lines + _footer(result)


def patterns(result: ErrorPatterns) -> list[str]:
    lines = [
        f"Error patterns {result.since} → {result.until} ({', '.join(result.levels)}): {result.total} lines"
    ]
    for index, p in enumerate(result.patterns):
        change = p.change or ("new" if p.new else "")
        services = ", ".join(f"{name}×{count}" for name, count in p.services.items())
        lines.append(f"  {p.count:>6}  {change:<10}{p.label:<10} {p.pattern_id}  {p.template}")
        lines.append(f"          first {p.first_seen}  last {p.last_seen}  {services}")
        if p.example and p.example != p.template and (index == 0 or _mostly_variable(p.template)):
            lines.append(f"          e.g. {_cut(p.example, _EXAMPLE_CHARS)}")
    if result.other_count:
        lines.append(f"  {result.other_count:>6}  in {result.other_patterns} other pattern(s)")
    lines += [f"  gone (baseline {g.baseline_count}): {g.pattern_id}  {g.template}" for g in result.gone]
    if result.gone_total > len(result.gone):
        lines.append(f"  gone: {result.gone_total - len(result.gone)} other pattern(s) of the baseline")
    return lines + _footer(result)


def _mostly_variable(template: str) -> bool:
    """`POST <*> <*>`: the template hides what a human needs, so the example says it."""
    return len(re.sub(r"<\*>|\W", "", template)) < 12


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def health(result: DeployHealth) -> list[str]:
    typical = result.typical
    lines = [
        f"Deploy health of {result.service} (typical over {typical.windows} windows: "
        f"error rate {pct(typical.error_rate)}, p95 {_ms(typical.p95_ms)})"
    ]
    oldest_first = result.windows[::-1]
    if len(oldest_first) > 1:
        lines += [
            f"  error rate  {sparkline([w.error_rate for w in oldest_first])}  oldest → newest, "
            f"highest {_highest(oldest_first, 'error_rate', pct)}",
            f"  p95         {sparkline([w.p95_ms for w in oldest_first])}  oldest → newest, "
            f"highest {_highest(oldest_first, 'p95_ms', _ms)}",
        ]
    errors = sparkline([w.error_rate for w in result.windows])
    p95s = sparkline([w.p95_ms for w in result.windows])
    for w, error_bar, p95_bar in zip(result.windows, errors, p95s, strict=True):
        mark = "*" if w.current else " "
        lines.append(
            f" {mark}{w.version:<10} {_short(w.sha):<10} {w.start} → {w.end}  {w.requests:>7} {w.basis:<9} "
            f"err {error_bar} {pct(w.error_rate):>7}  p50 {_ms(w.p50_ms):>7} "
            f"p95 {p95_bar} {_ms(w.p95_ms):>7} p99 {_ms(w.p99_ms):>7}  {w.verdict}"
        )
    return lines + _footer(result)


def _highest(windows: Sequence[WindowOut], field: str, show: Callable[[float | None], str]) -> str:
    values = [(getattr(w, field), w) for w in windows if getattr(w, field) is not None]
    if not values:
        return "n/a"
    value, window = max(values, key=lambda item: item[0])
    return f"{show(value)} ({window.version}{', current' if window.current else ''})"


def _risk(risk: RiskOut) -> str:
    where = risk.path or _short(risk.ref)
    return f"      risk [{risk.severity}] {risk.kind}: {where} — {risk.detail}"


def rollback(result: RollbackCandidates) -> list[str]:
    lines = []
    shown: dict[tuple[str, ...], int] = {}  # a risk → the rank it was first listed under
    if result.current:
        h = result.current.health
        lines.append(
            f"Current {result.service} {result.current.version} ({_short(result.current.sha)}) since "
            f"{result.current.deployed_at}: error rate {pct(h.error_rate)}, p95 {_ms(h.p95_ms)} — {h.verdict}"
        )
    for c in result.candidates:
        lines.append(
            f"  #{c.rank} {c.version} ({_short(c.sha)}) deployed {c.deployed_at}  "
            f"score {c.score}  {c.verdict}"
        )
        lines += [f"      - {reason}" for reason in c.reasons]
        keys = [(r.severity, r.kind, r.path or "", r.ref or "", r.detail) for r in c.risks]
        lines += [_risk(r) for r, key in zip(c.risks, keys, strict=True) if key not in shown]
        repeated = sorted({shown[key] for key in keys if key in shown})
        if repeated:
            count = sum(1 for key in keys if key in shown)
            ranks = ", ".join(f"#{rank}" for rank in repeated)
            lines.append(f"      risk: also the {count} listed under {ranks}")
        for key in keys:
            shown.setdefault(key, c.rank)
        if c.command.command:
            lines.append(f"      command (NOT executed — a human runs it): {c.command.command}")
        else:
            lines.append(f"      command: {c.command.note}")
    return lines + _footer(result)


def timeline(result: IncidentTimeline) -> list[str]:
    lines = [
        f"Timeline {result.since} → {result.until} (baseline from {result.baseline_since})",
        result.summary,
    ]
    for e in result.events:
        quoted = f'  "{e.text}"' if e.text else ""
        lines.append(f"  {e.timestamp}  {e.kind:<13} {e.summary}{quoted}")
    return lines + _footer(result)


def diff(result: DeployDiff) -> list[str]:
    lines = [
        f"{result.service} {_short(result.base)}..{_short(result.sha)}: {result.files_changed} files, "
        f"+{result.lines_added} -{result.lines_deleted}, {len(result.commits)} commits"
    ]
    lines += [f"  {_short(c.sha)} {c.committed_at} {c.author}: {c.subject}" for c in result.commits]
    lines += [f"  {f.status} {_count(f.added):>5} {_count(f.deleted):>5}  {f.path}" for f in result.files]
    lines += [_risk(r) for r in result.risks]
    return lines + _footer(result)


def status(result: SourcesStatus) -> list[str]:
    lines = [
        f"  {'ok ' if s.ok else 'NOT OK'} {s.name:<16} {s.latency_ms:>7.1f}ms  {s.detail}"
        for s in result.sources
    ]
    lines.append(f"  services: {', '.join(result.services) or 'none'}")
    lines += [f"  signal {s.name} ({s.origin}, bad {s.bad}): {s.promql}" for s in result.signals]
    if result.missing_signals:
        lines.append(f"  signals missing: {', '.join(result.missing_signals)}")
    return ["Sources", *lines, *(f"  hint: {hint}" for hint in result.hints)]


def changed(result: WhatChanged) -> list[str]:
    lines = [
        f"What changed at {result.at} (before: from {result.baseline_since}; after: to {result.until}; "
        f"{result.bucket_seconds}s buckets)",
        f"  {result.summary}",
    ]
    for s in result.services:
        lines.append(f"  {s.service}  score {s.score:g}")
        lines += [
            f"    {g.signal} ({g.source}) {g.direction}: {g.before:g} → {g.after:g}, shift {g.shift:g} "
            f"[{g.interval[0]:g}, {g.interval[1]:g}], p={g.p_value:g} q={g.q_value:g}"
            for g in s.signals
        ]
        lines += [
            f"    {'new' if p.new else 'more'} {p.pattern_id} {p.before} → {p.after} "
            f"(q={p.q_value:g}): {p.template}"
            for p in s.patterns
        ]
    return lines + _footer(result)


def triage(report: TriageReport) -> list[str]:
    lines = [f"TRIAGE {report.service} at {report.generated_at}", ""]
    lines += [f"  • {finding}" for finding in report.findings]
    parts: list[tuple[str, Truncation | None]] = [
        ("Recent deploys", report.deploys),
        ("Error patterns", report.patterns),
        ("Deploy windows", report.health),
        ("Rollback candidates", report.rollback),
    ]
    notes: list[str] = []
    for title, part in parts:
        if part is not None:
            # Each part's notes are said once, together, after the parts.
            notes += [note for note in part.notes if note not in notes]
            lines += ["", f"== {title}", *VIEWS[type(part)](part.model_copy(update={"notes": []}))]
    if notes or report.problems:
        lines += ["", "== Notes"]
    lines += [f"  note: {note}" for note in notes]
    lines += [f"  problem: {problem}" for problem in report.problems]
    lines += ["", "sitrep is read-only: it ran nothing. A human decides and runs any rollback."]
    return lines


def metrics(result: QueryMetrics) -> list[str]:
    lines = [
        f"{result.query}  {result.since} → {result.until}: {result.total_series} series "
        f"(step {result.step_seconds:g}s)"
    ]
    for s in result.series:
        labels = ",".join(f"{k}={v}" for k, v in s.labels.items()) or "{}"
        lines.append(f"  {labels}")
        lines.append(
            f"    min {_num(s.min)}  median {_num(s.median)}  max {_num(s.max)}  "
            f"last {_num(s.last)} at {s.last_at or '-'}  ({s.samples} samples)"
        )
    return lines + _footer(result)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def alerts(result: Alerts) -> list[str]:
    when = "now" if result.since is None else f"{result.since} → {result.until}"
    lines = [f"Alerts ({result.source}, {when}): {result.total}, {result.firing} firing"]
    for group in result.groups:
        services = ", ".join(group.services) or "-"
        lines.append(
            f"  {group.name} [{group.severity or '-'}] ×{group.count}  {services}  since {group.first_start}"
        )
        for a in group.alerts:
            end = f" → {a.ends_at}" if a.ends_at else ""
            lines.append(f"    {a.state:<10} {a.service or '-':<16} {a.starts_at}{end}  {a.summary or ''}")
    return lines + _footer(result)


VIEWS: dict[type[BaseModel], Callable[..., list[str]]] = {
    QueryMetrics: metrics,
    Alerts: alerts,
    RecentDeploys: deploys,
    SearchLogs: logs,
    ErrorPatterns: patterns,
    DeployHealth: health,
    RollbackCandidates: rollback,
    IncidentTimeline: timeline,
    DeployDiff: diff,
    SourcesStatus: status,
    WhatChanged: changed,
    TriageReport: triage,
}


def render(result: BaseModel) -> str:
    failed = result.sources_not_ok if isinstance(result, Truncation) else []
    # First, before any figure: numbers read without their missing source look like health.
    warning = [f"SOURCE NOT OK (this answer is incomplete): {text}" for text in failed]
    return "\n".join([*warning, *VIEWS[type(result)](result)])
