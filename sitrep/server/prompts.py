"""The runbooks: `skills/<name>/SKILL.md`, served as MCP prompts and resources.

They ship inside the wheel (as `sitrep/_skills`); in a source checkout they are read from
the repository's `skills/` folder, the Claude Code plugin layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

SKILLS = ("incident-triage", "customer-comms", "postmortem", "verify-root-cause")


@dataclass(frozen=True, slots=True)
class Skill:
    name: str
    description: str
    body: str


def _skills_root() -> Traversable:
    packaged = resources.files("sitrep") / "_skills"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "skills"


@cache
def load_skill(name: str) -> Skill:
    if name not in SKILLS:
        raise KeyError(name)
    text = (_skills_root() / name / "SKILL.md").read_text(encoding="utf-8")
    meta, body = split_frontmatter(text)
    return Skill(name=meta.get("name", name), description=meta.get("description", ""), body=body.strip())


def split_frontmatter(text: str) -> tuple[dict[str, str], str]:
    """The `---` YAML header's simple `key: value` pairs (folded `>` values too), and the body."""
    if not text.startswith("---"):
        return {}, text
    header, _, body = text[3:].partition("\n---")
    meta: dict[str, str] = {}
    key = None
    for line in header.strip("\n").splitlines():
        if line[:1].isspace() and key:
            meta[key] = f"{meta[key]} {line.strip()}".strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            meta[key] = "" if value in (">", "|", ">-", "|-") else value.strip("\"'")
    return meta, body.lstrip("\n").removeprefix("\n")


def with_context(body: str, **context: str | None) -> str:
    """The runbook followed by the facts the human gave, as a separate block."""
    given = [f"- {key.replace('_', ' ')}: {value}" for key, value in context.items() if value]
    if not given:
        return body
    return body + "\n\n## This incident\n\n" + "\n".join(given) + "\n"
