"""Hostile and malformed input, generated: thousands of argument sets drawn from each tool's
own inputSchema (well-formed, wrong types, missing or unknown arguments, option-like and
traversal strings, huge and invisible text) against a real incident full of secrets.

The server must answer every call, within its deadline, with either a result that holds no
secret and no hidden character and keeps to the output cap, or an error that says what was
wrong - never a crash, a traceback or an "internal error". The repository and the logs it
reads must be unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from typing import Any

import anyio.from_thread
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client

from sitrep.server.mcp import build_server
from sitrep.settings import load_settings
from sitrep.tools import READ_TOOLS
from sitrep.tools.context import build_context
from tests.gitrepo import NOW
from tests.hostile import (
    HostileIncident,
    arguments,
    build_hostile_incident,
    generated,
    in_time,
    problems,
    secret_pieces,
)

EXAMPLES_PER_TOOL = int(os.environ.get("SITREP_HOSTILE_EXAMPLES", "400"))
"""Eleven tools: 4,400 generated argument sets in all, the same on every run (derandomized), which
keeps CI within its time; SITREP_HOSTILE_EXAMPLES=910 runs 10,000."""
HARD_CAP_CHARS = 20_000
DEADLINE = 10.0
TALLY: dict[str, int] = {}
PIECES: dict[int, frozenset[str]] = {}


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> HostileIncident:
    return build_hostile_incident(tmp_path_factory.mktemp("hostile") / "incident")


@pytest.fixture(scope="module")
def session(incident: HostileIncident) -> Iterator[tuple[anyio.from_thread.BlockingPortal, Client]]:
    settings = load_settings(incident.config_path).model_copy(update={"deadline_seconds": DEADLINE})
    server = build_server(settings, build_context(settings, clock=lambda: NOW))
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(server)) as client,
    ):
        yield portal, client


@pytest.fixture(scope="module")
def schemas(session: tuple[anyio.from_thread.BlockingPortal, Client]) -> dict[str, dict[str, Any]]:
    portal, client = session
    return {tool.name: tool.input_schema for tool in portal.call(client.list_tools).tools}


def fingerprint(incident: HostileIncident) -> str:
    """Everything a read could have changed: the repository as git sees it, every file's bytes."""
    digest = hashlib.sha256(incident.repo.snapshot().encode())
    for path in sorted(incident.directory.rglob("*")):
        if path.is_file():
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def before(incident: HostileIncident) -> str:
    return fingerprint(incident)


def check(tool: str, result: Any, seconds: float, incident: HostileIncident) -> None:
    text = "".join(getattr(part, "text", "") for part in result.content)
    assert in_time(seconds, DEADLINE), f"{tool} took {seconds:.1f} s"
    if result.is_error:
        assert text.strip(), f"{tool}: an error with no message"
        for sign in ("Traceback", "internal error", "unexpected exception"):
            assert sign not in text, f"{tool}: {text[:500]}"
        TALLY["errors"] = TALLY.get("errors", 0) + 1
    else:
        assert result.structured_content is not None, f"{tool}: no structured result"
        assert len(text) <= HARD_CAP_CHARS, f"{tool} returned {len(text)} characters"
        TALLY["answers"] = TALLY.get("answers", 0) + 1
    found = problems(text, result.structured_content, PIECES.setdefault(0, secret_pieces(incident.secrets)))
    assert not found, f"{tool}: {found[:3]}"


# The per-test timeout guards against a hang, and 1,250 calls of the slowest tool take over
# three minutes on a busy 2-core machine: the loop is bounded by its count, not by time.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("tool", sorted(t.__name__ for t in READ_TOOLS))
def test_generated_arguments_never_break_a_tool(
    tool: str,
    session: tuple[anyio.from_thread.BlockingPortal, Client],
    schemas: dict[str, dict[str, Any]],
    incident: HostileIncident,
    before: str,
) -> None:
    portal, client = session

    @generated(EXAMPLES_PER_TOOL)
    @given(arguments(schemas[tool], incident))
    def call(drawn: dict[str, Any]) -> None:
        started = time.monotonic()
        result = portal.call(client.call_tool, tool, drawn)
        check(tool, result, time.monotonic() - started, incident)
        TALLY["calls"] = TALLY.get("calls", 0) + 1

    call()
    assert fingerprint(incident) == before, "a read tool changed the repository or the files it reads"


def test_write_sounding_names_with_generated_arguments_are_refused(
    session: tuple[anyio.from_thread.BlockingPortal, Client], incident: HostileIncident
) -> None:
    portal, client = session

    @generated(200)
    @given(
        st.sampled_from(
            ["rollback", "restart", "delete_index", "deploy", "run", "exec", "scale", "git_reset"]
        ),
        st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=3),
    )
    def call(name: str, drawn: dict[str, Any]) -> None:
        result = portal.call(client.call_tool, name, drawn)
        assert result.is_error and "read-only" in result.content[0].text

    call()
