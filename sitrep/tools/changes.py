"""What a range of commits changed that is hard to reverse: the risks `deploy_diff` lists and
`rollback_candidates` weighs, read from git once and said in the result's terms."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sitrep.analysis.risks import Risk, conflict_marker_risks, merge_risk, path_risks, text_paths
from sitrep.domain import FileChange
from sitrep.results import RiskOut
from sitrep.sources.git import MAX_DIFF_BYTES, GitRepo, Merge
from sitrep.tools.output import clip

_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def diff_risks(
    repo: GitRepo,
    base: str,
    head: str,
    changes: list[FileChange],
    *,
    markers: bool,
) -> tuple[list[Risk], list[str]]:
    """The risks of a diff, and notes on what could not be scanned whole."""
    risks = path_risks(changes)
    notes: list[str] = []
    if markers:
        added = repo.added_lines(base, head, text_paths(changes))
        cut = False

        def lines() -> Iterator[tuple[str, str]]:
            nonlocal cut
            cut = yield from added

        risks += conflict_marker_risks(lines())
        if cut:
            notes.append(
                f"the diff is over {MAX_DIFF_BYTES >> 20} MiB: only its first "
                f"{MAX_DIFF_BYTES >> 20} MiB were scanned for conflict markers"
            )
    risks += [merge_risk(m.sha, m.brought_in, repo.branch, m.refs) for m in repo.merges(base, head)]
    return _ordered(risks), notes


def _ordered(risks: list[Risk]) -> list[Risk]:
    return sorted(risks, key=lambda r: (_SEVERITY_ORDER[r.severity], r.kind, r.path or ""))


@dataclass(frozen=True, slots=True)
class RangeRisks:
    """The hard-to-reverse changes from any commit of a first-parent range to its head, from
    one walk of the range: rollback candidates share it instead of each diffing to the head.

    A file changed by several commits counts once, with its earliest change; a file changed
    and changed back still counts (a migration that ran stays applied)."""

    repo: GitRepo
    oldest: str
    line: list[tuple[str, str]]
    """First-parent commits after `oldest`, newest first, with their first parents."""
    changed: dict[str, list[FileChange]]
    merges: list[Merge]

    @classmethod
    def walk(cls, repo: GitRepo, oldest: str, head: str) -> RangeRisks:
        return cls(
            repo,
            oldest,
            repo.first_parent_line(oldest, head),
            repo.first_parent_changes(oldest, head),
            repo.merges(oldest, head),
        )

    def since(self, base: str) -> list[Risk] | None:
        """The risks from `base` to the head; None when `base` is not on the range's line."""
        shas = [sha for sha, _ in self.line]
        if len(base) < 7:
            return None
        if base == self.oldest:
            # Only when the range starts at `oldest` itself: a deploy off the line (a hotfix)
            # differs from the head by more than the line's commits.
            if self.line and not self.line[-1][1].startswith(base):
                return None
            after = shas
        else:
            # A deploy log may name a short sha.
            position = next((i for i, sha in enumerate(shas) if sha.startswith(base)), None)
            if position is None:
                return None
            after = shas[:position]
        seen: dict[str, FileChange] = {}
        for sha in reversed(after):  # oldest first: the earliest change of a file is kept
            for change in self.changed.get(sha, ()):
                seen.setdefault(change.path, change)
        later = set(after)
        merged = [m for m in self.merges if m.sha in later]
        risks = path_risks(seen.values()) + [
            merge_risk(m.sha, m.brought_in, self.repo.branch, m.refs) for m in merged
        ]
        return _ordered(risks)


def risk_out(risk: Risk) -> RiskOut:
    return RiskOut(
        kind=risk.kind,
        severity=risk.severity,
        detail=risk.detail,
        path=risk.path,
        ref=risk.ref,
        evidence=[clip(e, 120) for e in risk.evidence],
    )
