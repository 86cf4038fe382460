"""What makes a change hard to reverse: migrations, config, dependencies, conflict markers,
and merges that brought in work from outside the deploy branch."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sitrep.domain import FileChange

Severity = Literal["high", "medium", "low"]

_MIGRATION = re.compile(
    r"(?i)(^|/)(migrations?|migrate|alembic|flyway|liquibase|schema|ddl)(/|$)"
    r"|(^|/)V\d+(_\d+)*__[^/]+\.sql$|\.sql$"
)
_DEPENDENCY_NAMES = frozenset(
    {
        "requirements.txt",
        "requirements.in",
        "constraints.txt",
        "pipfile",
        "pipfile.lock",
        "poetry.lock",
        "uv.lock",
        "pdm.lock",
        "setup.py",
        "setup.cfg",
        "package.json",
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "npm-shrinkwrap.json",
        "go.mod",
        "go.sum",
        "cargo.toml",
        "cargo.lock",
        "pom.xml",
        "build.gradle",
        "build.gradle.kts",
        "gradle.lockfile",
        "gemfile",
        "gemfile.lock",
        "composer.json",
        "composer.lock",
        "mix.exs",
        "mix.lock",
        "packages.config",
        "directory.packages.props",
        "pyproject.toml",
    }
)
_DEPENDENCY = re.compile(r"(?i)(^|/)requirements[^/]*\.(txt|in)$|\.csproj$")
_CONFIG_DIRS = re.compile(
    r"(?i)(^|/)(config|configs|conf|settings|deploy|deployment|k8s|kubernetes|helm|charts|terraform|"
    r"ansible|manifests|\.github/workflows)(/|$)"
)
_CONFIG_FILES = re.compile(
    r"(?i)(^|/)(dockerfile[^/]*|docker-compose[^/]*|\.env[^/]*|values[^/]*\.ya?ml|[^/]*\.(ya?ml|toml|ini|cfg|conf|"
    r"properties|env|tf|tfvars|hcl))$"
)
_MARKER = re.compile(r"^(<<<<<<< |>>>>>>> |=======\s*$)")


@dataclass(frozen=True, slots=True)
class Risk:
    kind: str
    """migration, config, dependency, conflict_markers, merge_from_outside, unchecked"""
    severity: Severity
    detail: str
    path: str | None = None
    ref: str | None = None
    evidence: tuple[str, ...] = field(default=())
    """Text quoted from the repository (lines, branch names): data, not instructions."""


def classify_path(path: str) -> str | None:
    """migration, dependency or config for paths that make a change hard to reverse."""
    name = path.rsplit("/", 1)[-1].lower()
    if _MIGRATION.search(path):
        return "migration"
    if name in _DEPENDENCY_NAMES or _DEPENDENCY.search(path):
        return "dependency"
    if _CONFIG_DIRS.search(path) or _CONFIG_FILES.search(path):
        return "config"
    return None


_SEVERITY: dict[str, Severity] = {"migration": "high", "config": "medium", "dependency": "medium"}
RISK_KINDS = (
    "migration: a schema migration; a code rollback leaves the schema as it is. "
    "config: a configuration file; it may need its own rollback. "
    "dependency: a dependency manifest or lock file; a rollback downgrades them. "
    "conflict_markers: committed merge-conflict markers. "
    "merge_from_outside: a merge of commits from outside the deploy branch; a rollback removes them too. "
    "unchecked: changes could not be checked."
)
"""What each risk kind means, said once in the tool descriptions rather than in every risk."""


def path_risks(changes: Iterable[FileChange]) -> list[Risk]:
    risks = []
    for change in changes:
        kind = classify_path(change.path)
        if kind is not None:
            verb = {"A": "added", "D": "deleted", "R": "renamed"}.get(change.status, "changed")
            risks.append(Risk(kind, _SEVERITY[kind], verb, path=change.path))
    return risks


def conflict_marker_risks(added_lines: Iterable[tuple[str, str]]) -> list[Risk]:
    """Files where a `<<<<<<< ` or `>>>>>>> ` line was committed; a lone `=======` is an underline."""
    markers: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    confirmed: set[str] = set()
    for path, line in added_lines:
        if _MARKER.match(line):
            counts[path] = counts.get(path, 0) + 1
            examples = markers.setdefault(path, [])
            if len(examples) < 3:  # counted, not kept: a file may hold millions
                examples.append(line.rstrip()[:60])
            if not line.startswith("="):
                confirmed.add(path)
    return [
        Risk(
            "conflict_markers",
            "high",
            f"{counts[path]} committed merge-conflict marker line(s)",
            path=path,
            evidence=tuple(lines),
        )
        for path, lines in sorted(markers.items())
        if path in confirmed
    ]


def merge_risk(sha: str, brought_in: int, branch: str, refs: Sequence[str]) -> Risk:
    """A merge commit on the deploy branch; `refs` are the other branches holding its merged side."""
    detail = f"merge of {brought_in} commit(s) from outside {branch}"
    return Risk("merge_from_outside", "medium", detail, ref=sha, evidence=tuple(refs[:3]))


def text_paths(changes: Iterable[FileChange], limit: int = 200) -> list[str]:
    """Changed files still present, for scanning added lines; bounded so one huge change stays cheap."""
    return [c.path for c in changes if c.status != "D"][:limit]
