"""How many times one tool call reads each source: deploy-log parses, git processes, passes
over the log files and log lines parsed, for rollback_candidates, incident_timeline
and error_patterns.

Run on the demo incident and on the 94,703 Nezha TrainTicket lines of 2023-01-30 (real logs
written by others; tests/fixtures/nezha), with a deploy log of four deploys of
ts-seat-service laid over them. Each source should be read once per distinct query:

    .venv/bin/python bench/reads_per_call.py

Counts, not timings: they are the same on a busy machine as on an idle one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sitrep.deadline import tool_call
from sitrep.demo import build_demo
from sitrep.settings import DeployLogSource, FilesSource, Settings, load_settings
from sitrep.sources import deploy_log, files, logparse
from sitrep.tools.context import ToolContext, build_context
from sitrep.tools.health import rollback_candidates
from sitrep.tools.logs import error_patterns
from sitrep.tools.timeline import incident_timeline

NEZHA = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "fixtures"
    / "nezha"
    / "trainticket-2023-01-30-faults.jsonl.gz"
)
NEZHA_NOW = datetime(2023, 1, 30, 14, 11, tzinfo=UTC)
NEZHA_DEPLOYS = (
    "2023-01-30T11:55:00Z",
    "2023-01-30T12:30:00Z",
    "2023-01-30T13:05:00Z",
    "2023-01-30T13:40:00Z",
)


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Count reads by wrapping the functions every read goes through."""
    counts: Counter[str] = Counter()
    patches: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, label: str, when: Callable[..., bool] = lambda *a, **k: True) -> None:
        original = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            if when(*args, **kwargs):
                counts[label] += 1
            return original(*args, **kwargs)

        patches.append((owner, name, original))
        setattr(owner, name, counted)

    wrap(deploy_log.DeployLog, "_read", "deploy log parses")
    wrap(subprocess, "Popen", "git processes", lambda argv, *a, **k: Path(str(argv[0])).name == "git")
    wrap(files.FileLogSource, "_file_records", "log file passes")
    wrap(logparse.LineParser, "parse_bytes", "log lines parsed")
    try:
        yield counts
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)


def measure(label: str, ctx: ToolContext, service: str, since: str) -> None:
    for tool, call in (
        ("rollback_candidates", lambda: rollback_candidates(ctx, service=service)),
        ("incident_timeline", lambda: incident_timeline(ctx, service=service, since=since)),
        ("error_patterns", lambda: error_patterns(ctx, service=service, since=since)),
    ):
        with counting() as counts, tool_call(tool, ctx.settings.deadline_seconds):
            call()
        shown = ", ".join(f"{name} {counts[name]:,}" for name in (
            "deploy log parses", "git processes", "log file passes", "log lines parsed"))  # fmt: skip
        print(f"{label:6} {tool:20} {shown}")


def nezha_context(directory: Path) -> ToolContext:
    log = directory / "deploys.jsonl"
    log.write_text(
        "".join(
            json.dumps({"timestamp": ts, "service": "ts-seat-service", "version": f"v1.{n}.0"}) + "\n"
            for n, ts in enumerate(NEZHA_DEPLOYS)
        )
    )
    settings = Settings(
        config_path=directory / "nezha.toml",
        files=FilesSource(paths=[str(NEZHA)]),
        deploy_log=DeployLogSource(path=log),
        deadline_seconds=300,
    )
    return build_context(settings, clock=lambda: NEZHA_NOW, cwd=Path("/"))


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        now = datetime(2026, 11, 23, 12, tzinfo=UTC)
        demo = build_demo(Path(tmp) / "demo", now=now)
        measure("demo", build_context(load_settings(demo.config_path), clock=lambda: now), "checkout", "6h")
        measure("nezha", nezha_context(Path(tmp)), "ts-seat-service", "2h")


if __name__ == "__main__":
    main()
