"""Real git repositories built commit by commit for tests, and the tests' fixed clock."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
_GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}


class Repo:
    """A real repository the test writes; sitrep only ever reads it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, when: datetime | None = None, author: str = "dev") -> str:
        env = {**os.environ, **_GIT_ENV}
        if when is not None:
            stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
            env |= {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        argv = ["git", "-C", str(self.path), "-c", f"user.name={author}", "-c", f"user.email={author}@example.test",
                "-c", "commit.gpgsign=false", *args]  # fmt: skip
        return subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout.strip()

    def commit(self, message: str, files: dict[str, str | None], when: datetime, author: str = "dev") -> str:
        """Write (or, for None, delete) files and commit them; return the sha."""
        for name, text in files.items():
            target = self.path / name
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, when=when, author=author)
        return self.git("rev-parse", "HEAD")

    def snapshot(self) -> str:
        """Everything git knows about the repository, to prove a read changed nothing."""
        refs = self.git("for-each-ref", "--format=%(refname) %(objectname)")
        status = self.git("status", "--porcelain", "--ignored")
        files = sorted(
            str(p.relative_to(self.path)) for p in self.path.rglob("*") if ".git/" not in str(p) + "/"
        )
        return "\n".join([refs, status, *files])


def hours_ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)
