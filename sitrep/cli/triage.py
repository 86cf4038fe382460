"""The triage report: recent deploys → error patterns of the last hour → the health of each
deploy window → rollback candidates, in the form a human who decides can read in a minute."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import Field

from sitrep.analysis.health import pct
from sitrep.errors import InputError, SitrepError
from sitrep.results import DeployHealth, ErrorPatterns, RecentDeploys, Result, RollbackCandidates
from sitrep.timespec import isoformat
from sitrep.tools.context import ToolContext
from sitrep.tools.deploys import recent_deploys
from sitrep.tools.health import HISTORY_WINDOWS, deploy_health, rollback_candidates
from sitrep.tools.history import known_services, require_service
from sitrep.tools.logs import error_patterns

T = TypeVar("T")


class TriageReport(Result):
    service: str
    generated_at: str
    findings: list[str] = Field(description="sitrep's summary, one fact a line.")
    deploys: RecentDeploys | None
    patterns: ErrorPatterns | None
    health: DeployHealth | None
    rollback: RollbackCandidates | None
    problems: list[str] = Field(description="Parts of the report that could not be built, and why.")


def build_triage(ctx: ToolContext, service: str | None, since: str = "1h") -> TriageReport:
    """The report for `service`; for None, the only service the sources know."""
    service = require_service(ctx.sources, service) if service is not None else only_service(ctx)
    problems: list[str] = []
    deploys = _attempt(problems, "recent deploys", lambda: recent_deploys(ctx, service=service, since="24h"))
    patterns = _attempt(problems, "error patterns", lambda: error_patterns(ctx, service=service, since=since))
    health = _attempt(
        problems, "deploy health", lambda: deploy_health(ctx, service=service, limit=HISTORY_WINDOWS)
    )
    rollback = _attempt(
        problems, "rollback candidates", lambda: rollback_candidates(ctx, service=service, top=5)
    )
    return TriageReport(
        service=service,
        generated_at=isoformat(ctx.now()),
        findings=_findings(deploys, patterns, rollback, since),
        deploys=deploys,
        patterns=patterns,
        health=health,
        rollback=rollback,
        problems=problems,
    )


def only_service(ctx: ToolContext) -> str:
    """The one service the sources know; with none or several, an error saying which to pass."""
    known = known_services(ctx.sources)
    if len(known) == 1:
        return known[0]
    if not known:
        raise InputError(
            "no service is known: configure [[git]], [deploy_log] or [files] "
            "(sitrep status shows what is set up)"
        )
    raise InputError(f"--service is needed: {len(known)} services are known: {', '.join(known)}")


def _attempt(problems: list[str], what: str, build: Callable[[], T]) -> T | None:
    try:
        return build()
    except SitrepError as error:
        problems.append(f"{what}: {error}")
        return None


def _findings(
    deploys: RecentDeploys | None,
    patterns: ErrorPatterns | None,
    rollback: RollbackCandidates | None,
    since: str,
) -> list[str]:
    lines: list[str] = []
    if rollback and rollback.current:
        health = rollback.current.health
        lines.append(
            f"current deploy {rollback.current.version} since {rollback.current.deployed_at}: "
            f"error rate {pct(health.error_rate)}, p95 {_ms(health.p95_ms)} — {health.verdict}"
        )
    if deploys is not None:
        lines.append(f"{deploys.total} deploy(s) in the last 24 h")
    if patterns is not None:
        new = [p for p in patterns.patterns if p.new]
        lines.append(
            f"{patterns.total} error line(s) in the last {since} in "
            f"{len(patterns.patterns) + patterns.other_patterns} pattern(s); "
            f"{len(new)} new since the baseline"
        )
    if rollback and rollback.candidates:
        best = rollback.candidates[0]
        risks = ", ".join(sorted({r.kind for r in best.risks})) or "none found"
        lines.append(
            f"best rollback target: {best.version} ({(best.sha or '')[:12]}), {best.verdict}; risks: {risks}"
        )
    return lines


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"
