"""What a range of commits changed that is hard to reverse: the risks `deploy_diff` lists and
`rollback_candidates` weighs, read from git once and said in the result's terms."""

from sitrep.analysis.risks import Risk, conflict_marker_risks, merge_risk, path_risks, text_paths
from sitrep.domain import FileChange
from sitrep.results import RiskOut
from sitrep.sources.git import GitRepo
from sitrep.tools.output import clip


def diff_risks(
    repo: GitRepo,
    base: str,
    head: str,
    changes: list[FileChange],
    *,
    markers: bool,
    notes: list[str] | None = None,
) -> list[Risk]:
    """The risks of a diff; `notes` collects what could not be scanned whole."""
    risks = path_risks(changes)
    if markers:
        risks += conflict_marker_risks(repo.added_lines(base, head, text_paths(changes), notes))
    risks += [merge_risk(m.sha, m.brought_in, repo.branch, m.refs) for m in repo.merges(base, head)]
    return sorted(risks, key=lambda r: ({"high": 0, "medium": 1, "low": 2}[r.severity], r.kind, r.path or ""))


def risk_out(risk: Risk) -> RiskOut:
    return RiskOut(
        kind=risk.kind,
        severity=risk.severity,
        detail=risk.detail,
        path=risk.path,
        ref=risk.ref,
        evidence=[clip(e, 120) for e in risk.evidence],
    )
