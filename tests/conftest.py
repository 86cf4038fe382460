"""Fixtures shared by every test."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from tests.gitrepo import Repo

# In CI the generated tests draw the same examples on every run, so that a run fails only
# for a change, never for the draw; run them locally to explore new examples. A failure
# found locally prints its example: add it to the test with @example.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True, scope="session")
def _audit_log_in_a_temporary_place(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Servers the tests start (in process or as subprocesses) keep their audit log here,
    not in the user's state directory; a test that looks at the log sets its own path."""
    import os

    os.environ.setdefault("SITREP_AUDIT__PATH", str(tmp_path_factory.mktemp("audit") / "audit.jsonl"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[str], Repo]:
    def make(name: str = "repo") -> Repo:
        return Repo(tmp_path / name)

    return make
