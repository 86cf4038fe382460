"""Issue 9, class 4: memory is bounded by the work, not by the input.

Each hostile input is built in a fraction of a second in a temporary directory; the tool runs
in a subprocess of its own, which reports how much its peak resident memory grew
(`ru_maxrss`) and how long the call took. The caps are generous: they tell a bounded read
from one that holds the input (a gigabyte, or a gigabyte per copy)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sitrep.domain import ScanReport
from tests.gitrepo import NOW, Repo
from tests.issues.incident import configure, good_line, iso

CAP_MB = 150
SLACK = 5.0
"""Past the deadline, for building the answer on a busy machine: the reading itself stops at
the deadline, whatever the load."""
SMALL_CAP_MB = 40
"""For the inputs that today's reads hold only a part of: 80-95 MB before the fix, none after."""
RUNNER = r"""
import importlib, json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a runaway read fails, not the machine
config, tool, arguments, overrides, deadline, NOW = json.loads(sys.argv[1])
for dotted, value in overrides.items():
    module, name = dotted.rsplit(".", 1)
    setattr(importlib.import_module(module), name, value)
from datetime import datetime
from pathlib import Path
from sitrep import tools
from sitrep.deadline import tool_call
from sitrep.results import as_json
from sitrep.tools.context import ToolContext, build_context
from sitrep.settings import load_settings
settings = load_settings(Path(config)).model_copy(update={"deadline_seconds": deadline})
rt = build_context(settings, clock=lambda: datetime.fromisoformat(NOW))
function = next(t for t in tools.READ_TOOLS if t.__name__ == tool)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.monotonic()
with tool_call(tool, deadline):
    result = function(rt, **arguments)
seconds = time.monotonic() - started
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"seconds": seconds, "grown_mb": grown, "result": json.loads(as_json(result))}))
"""


def run(
    config: Path, tool: str, deadline: float = 20.0, overrides: dict[str, Any] | None = None, **arguments: Any
) -> dict[str, Any]:
    argv = [
        sys.executable,
        "-c",
        RUNNER,
        json.dumps([str(config), tool, arguments, overrides or {}, deadline, NOW.isoformat()]),
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, check=False, cwd=Path(__file__).parents[2]
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_gzip_bomb_costs_a_mebibyte_of_its_line(tmp_path: Path) -> None:
    config = configure(tmp_path)
    member = gzip.compress(b"a" * (1 << 20), compresslevel=9)  # ~1 KB that expands to 1 MiB
    with (tmp_path / "logs" / "bomb.jsonl.gz").open("wb") as out:
        out.write(gzip.compress((good_line(5) + "\n").encode()))
        out.write(member * 1024)  # one line of 1 GiB, in 1 MB of file (gzip members concatenate)
        out.write(gzip.compress(("\n" + good_line(4) + "\n").encode()))
    found = run(config, "search_logs", since="1h")
    assert found["grown_mb"] < CAP_MB, found["grown_mb"]
    result = found["result"]
    # The .gz reader (sources/filescan.py) keeps a line's first MiB and reads on past the rest:
    # the lines before and after the bomb are both found, the bomb is one unreadable line.
    assert result["total"] == 2
    assert result["lines_skipped"] == 1
    assert any("read to their first MiB only" in note for note in result["notes"])


def test_a_30_mb_line_of_pairs_is_cut_before_it_is_redacted(tmp_path: Path) -> None:
    config = configure(tmp_path)
    pairs = b"user:alice password:hunter2 token:abc123 key:value " * 600_000  # ~30 MB
    with (tmp_path / "logs" / "app.log").open("wb") as out:
        out.write(f"{iso(3)} ERROR ".encode() + pairs + b"\n" + good_line(2).encode() + b"\n")
    found = run(config, "search_logs", deadline=10.0, since="1h")
    assert found["grown_mb"] < CAP_MB, found["grown_mb"]
    assert found["seconds"] < 10.0 + SLACK
    result = found["result"]
    assert result["total"] == 2
    assert "hunter2" not in json.dumps(result)
    assert any("read to their first MiB only" in note for note in result["notes"])


def test_millions_of_unreadable_lines_are_counted_not_kept(tmp_path: Path) -> None:
    config = configure(tmp_path)
    with (tmp_path / "logs" / "junk.log").open("wb") as out:
        out.write(b"x\n" * 15_000_000)  # 30 MB: more lines than a short deadline reads
        out.write((good_line(5) + "\n").encode())  # the newest line, which is read first
    found = run(config, "search_logs", deadline=3.0, since="1h")
    assert found["grown_mb"] < SMALL_CAP_MB, found["grown_mb"]
    assert found["seconds"] < 3.0 + SLACK
    result = found["result"]
    assert result["total"] == 1
    assert result["lines_skipped"] > 10_000
    assert any("partial answer" in note or "stopped reading" in note for note in result["notes"])


def test_a_scan_report_keeps_a_few_examples_not_every_skipped_line() -> None:
    report = ScanReport()
    for number in range(1, 200_001):
        report.skip("junk.log", number)
    for number in range(1, 200_001):  # a second pass over the same file counts nothing twice
        report.skip("junk.log", number)
    assert report.lines_skipped == 200_000
    assert len(report.examples) <= 5
    assert not any(isinstance(getattr(report, name), set) for name in report.__slots__)  # type: ignore[attr-defined]


def _git_incident(tmp_path: Path) -> tuple[Path, Repo]:
    repo = Repo(tmp_path / "checkout")
    config = configure(
        tmp_path, extra='\n[[git]]\nservice = "checkout"\nrepo = "checkout"\nbranch = "main"\n'
    )
    (tmp_path / "deploys.jsonl").write_text("")
    return config, repo


def test_commits_with_megabyte_subjects_are_read_cut(tmp_path: Path) -> None:
    config, repo = _git_incident(tmp_path)
    subject = "fix " + "x" * (1 << 20)
    script = []
    for number in range(100):  # 100 MB of subjects, written by one git process
        when = int(NOW.timestamp()) - 3600 * (100 - number)
        message = f"{number} {subject}\n".encode()
        script.append(
            b"commit refs/heads/main\ncommitter dev <dev@example.test> %d +0000\ndata %d\n"
            % (when, len(message))
            + message
        )
    subprocess.run(
        ["git", "-C", str(repo.path), "fast-import", "--quiet"], input=b"".join(script), check=True
    )
    found = run(config, "recent_deploys", since="30d", limit=100)
    assert found["grown_mb"] < SMALL_CAP_MB, found["grown_mb"]
    deploys = found["result"]["deploys"]
    assert deploys and all("…[+" in d["message"] for d in deploys)  # cut, and says so


@pytest.mark.timeout(300)
def test_a_huge_changed_file_is_scanned_to_a_cap(tmp_path: Path) -> None:
    config, repo = _git_incident(tmp_path)
    first = repo.commit("start", {"a.txt": "a\n"}, when=NOW.replace(hour=1))
    (repo.path / "big.txt").write_bytes(
        b"<<<<<<< HEAD\n" + b"line of text\n" * 1_500_000 + b"y" * (2 << 20) + b"\n"
    )
    head = repo.commit("add a 22 MB file", {}, when=NOW.replace(hour=2))
    cap: dict[str, Any] = {"sitrep.sources.git.MAX_DIFF_BYTES": 4 << 20}  # the 64 MiB cap, scaled
    # Memory is what this measures: on a busy machine the 22 MB diff may take git over the
    # usual 10 s, so the time limits are generous here (issue 13: no test needs an idle machine).
    cap["sitrep.sources.configured.GIT_SECONDS"] = 90.0
    found = run(config, "deploy_diff", deadline=90.0, overrides=cap, sha=head, base=first)
    assert found["grown_mb"] < CAP_MB, found["grown_mb"]
    result = found["result"]
    assert any("only its first 4 MiB were scanned" in note for note in result["notes"])
    assert any(risk["kind"] == "conflict_markers" for risk in result["risks"])
