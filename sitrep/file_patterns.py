"""`sitrep patterns --file`: the patterns of one log file, with no configuration.

The same miner as `error_patterns`; `--label` prints each line's pattern in input order,
for pipes and benchmarks."""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sitrep.analysis.error_summary import summarize_patterns
from sitrep.analysis.patterns import OVERFLOW, PatternMiner
from sitrep.errors import InputError, SourceUnavailable
from sitrep.models import ErrorPatterns
from sitrep.records import ERROR_LEVELS, LogQuery, MessageGroup, ScanReport
from sitrep.redact import sanitize
from sitrep.settings import FieldNames, FilesSource, OutputSettings
from sitrep.sources.files import FileLogSource
from sitrep.sources.logparse import normalize_level
from sitrep.timespec import parse_instant
from sitrep.tools.common import iso_or_none
from sitrep.tools.logs import patterns_result


def _open(path: Path) -> IO[str]:
    try:
        return path.open(encoding="utf-8", errors="replace")
    except OSError as error:
        raise SourceUnavailable("file", f"cannot read {path}: {error.strerror}") from None


def label_file(path: Path, fmt: str, out: IO[str]) -> int:
    """Print `{"line": n, "pattern_id": …, "template": …}` for every line, in input order."""
    if fmt != "message":
        raise InputError("--label works with --format message (one message a line)")
    miner = PatternMiner()
    keys = array("i")
    with _open(path) as handle:
        for line in handle:
            keys.append(miner.add(line.rstrip("\n")))
    mining = miner.finish()
    labels = [(t.pattern_id, sanitize(t.template)) for t in mining.templates]
    write = out.write
    for number, key in enumerate(keys, start=1):
        index = mining.template_of(key)
        pattern_id, template = labels[index] if index != OVERFLOW else (None, None)
        write(json.dumps({"line": number, "pattern_id": pattern_id, "template": template}) + "\n")
    return 0


def summarize_file(
    path: Path, fmt: str, levels: list[str] | None, top: int, since: str | None, until: str | None
) -> ErrorPatterns:
    """Patterns of the whole file (or of --since/--until, given as ISO-8601 times)."""
    if not path.is_file():
        raise InputError(f"--file: {path} is not a readable file")
    if fmt == "message":
        groups: Iterator[MessageGroup] = _messages(path)
    else:
        groups = _records(path, fmt, _level_filter(levels), _bound(since, "since"), _bound(until, "until"))
    summary = summarize_patterns(((0, g) for g in groups), current=0)
    first = min((p.first_ts for p in summary.patterns), default=0.0)
    last = max((p.last_ts for p in summary.patterns), default=0.0)
    window = (iso_or_none(first) or "", iso_or_none(last) or "")
    levels_used = None if fmt == "message" else _level_filter(levels)
    notes = [
        f"patterns of {path}"
        + ("" if fmt == "message" else f", levels {', '.join(sorted(levels_used or ['all']))}")
    ]
    return patterns_result(summary, window, None, levels_used, top, notes, OutputSettings())


def _messages(path: Path) -> Iterator[MessageGroup]:
    with _open(path) as handle:
        for line in handle:
            yield MessageGroup(line.rstrip("\n"), 1, 0.0, 0.0, {path.name: 1})


def _records(
    path: Path, fmt: str, levels: frozenset[str] | None, start: float, end: float
) -> Iterator[MessageGroup]:
    source = FileLogSource(FilesSource(paths=[str(path)], format=fmt), FieldNames())
    query = LogQuery(start, end, None, levels)
    for _, group in source.message_groups(query, [(start, end)], ScanReport()):
        yield group


def _level_filter(levels: list[str] | None) -> frozenset[str] | None:
    if levels is None:
        return ERROR_LEVELS
    if any(level.strip().lower() == "all" for level in levels):
        return None
    return frozenset(n for level in levels if (n := normalize_level(level)))


def _bound(value: str | None, name: str) -> float:
    if value is None:
        return float("-inf") if name == "since" else float("inf")
    moment = parse_instant(value)
    if moment is None:
        raise InputError(f"--{name}: with --file give an ISO-8601 time such as 2026-11-23T08:00:00Z")
    return moment.timestamp()
