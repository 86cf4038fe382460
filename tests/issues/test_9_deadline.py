"""Issue 9, class 3: the deadline is a promise, and work stops when it is broken.

A timed-out call used to leave its worker thread running: after calls into a `**` glob over a
symlink loop, every one of them still burnt CPU, and unrelated tools slowed down."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from sitrep import deadline
from sitrep.domain import LogQuery
from sitrep.server.mcp import build_server
from sitrep.settings import Settings
from sitrep.sources.configured import Sources
from sitrep.sources.globbing import expand
from sitrep.tools.context import ToolContext
from tests.issues.incident import answer, configure, good_line, session
from tests.server.test_mcp import StalledLogs

pytestmark = pytest.mark.anyio
CALLS = 8


def _busy_in_sitrep() -> list[str]:
    """Threads running sitrep code now (an idle pooled worker waits in the standard library)."""
    busy = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        walk: Any = frame
        while walk is not None:
            if "/sitrep/" in walk.f_code.co_filename and "/tests/" not in walk.f_code.co_filename:
                busy.append(f"{ident}: {walk.f_code.co_name}")
                break
            walk = walk.f_back
    return busy


def _settles(baseline: int, seconds: float = 10.0) -> bool:
    """Whether, within `seconds`, no thread runs sitrep code and the count is back to baseline."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not _busy_in_sitrep() and threading.active_count() <= baseline:
            return True
        time.sleep(0.05)
    return False


def _symlink_loops(directory: Path) -> None:
    """Two links back to their own directory: 2^40 paths for a glob that follows them."""
    for name in ("again", "more"):
        (directory / name).symlink_to(".")


async def test_calls_into_a_symlink_loop_glob_leave_no_thread_behind(tmp_path: Path) -> None:
    config = configure(tmp_path, globs='["logs/**/*.jsonl"]')
    (tmp_path / "logs" / "app.jsonl").write_text(good_line(5) + "\n")
    _symlink_loops(tmp_path / "logs")
    async with session(config, deadline=1.0) as client:
        await answer(client, "recent_deploys", since="24h")  # a worker thread now idles in the pool
        baseline = threading.active_count()
        for _ in range(CALLS):
            await answer(client, "search_logs", since="1h")  # an answer or a timeout, never a crash
            time.sleep(0.05)
        assert _settles(baseline + 1), (threading.active_count(), baseline, _busy_in_sitrep())
        started = time.monotonic()
        failed, text, found = await answer(client, "recent_deploys", since="24h")
        assert not failed, text
        assert time.monotonic() - started < 5.0
        failed, text, found = await answer(client, "search_logs", since="1h")
    assert not failed, text
    assert found["total"] == 1  # the file found once, not once per path through the loop


def test_the_glob_walk_enters_a_loop_once_and_matches_as_glob_does(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.log", "a/b/y.log", "a/.hidden.log", "z.log", "a/b/w.txt"):
        (tmp_path / name).write_text("x\n")
    _symlink_loops(tmp_path / "a")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "e.log").write_text("x\n")
    (tmp_path / "a" / "linked").symlink_to(tmp_path / "elsewhere")
    found = expand(str(tmp_path / "**" / "*.log"))
    assert found.complete
    assert {str(Path(p).relative_to(tmp_path)) for p in found.files} >= {"a/x.log", "a/b/y.log", "z.log"}
    assert not any(".hidden" in p for p in found.files)
    assert any(p.endswith("e.log") for p in found.files)  # a symlinked directory is still followed
    assert len(found.files) < 20
    assert sorted(expand(str(tmp_path / "a" / "*.log")).files) == [str(tmp_path / "a" / "x.log")]


class _EndlessLogs(StalledLogs):
    """A log source that reads forever, as a loop over a huge input does, checking as it goes."""

    rounds = 0

    def search(self, query: LogQuery, limit: int) -> Any:
        while True:
            deadline.check()
            type(self).rounds += 1
            time.sleep(0.001)


async def test_work_past_the_deadline_stops() -> None:
    settings = Settings(config_path=Path("/nonexistent"), deadline_seconds=0.3)
    runtime = ToolContext(settings, Sources(logs=_EndlessLogs()))
    async with Client(build_server(settings, runtime)) as client:
        await answer(client, "recent_deploys")
        baseline = threading.active_count()
        for _ in range(CALLS):
            failed, text, _ = await answer(client, "search_logs", service="checkout")
            assert failed and "did not finish within 0.3 s" in text
            time.sleep(0.05)
        assert _settles(baseline + 1), (threading.active_count(), baseline, _busy_in_sitrep())
        rounds = _EndlessLogs.rounds
        time.sleep(0.3)
        assert _EndlessLogs.rounds == rounds  # nothing reads on after its call has ended
