"""`sitrep patterns --file`: the patterns of one log file, with no configuration.

The same miner as `error_patterns`; `--label` prints each line's pattern in input order,
for pipes and benchmarks."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from sitrep.analysis.error_summary import summarize_patterns
from sitrep.analysis.patterns import OVERFLOW
from sitrep.cli.file_mining import FileMining, mine_file
from sitrep.domain import ERROR_LEVELS, LogQuery, MessageGroup
from sitrep.errors import InputError, SourceUnavailable
from sitrep.redact import sanitize
from sitrep.results import ErrorPatterns
from sitrep.settings import FieldNames, FilesSource, OutputSettings
from sitrep.sources.files import FileLogSource
from sitrep.sources.logparse import normalize_level
from sitrep.timespec import epoch_iso_or_none, parse_instant
from sitrep.tools.logs import patterns_result


def label_file(path: Path, fmt: str, out: IO[str]) -> int:
    """Print `{"line": n, "pattern_id": …, "template": …}` for every line, in input order."""
    if fmt != "message":
        raise InputError("--label works with --format message (one message a line)")
    _require_file(path)
    with tempfile.TemporaryDirectory(prefix="sitrep-label-") as keys_dir:
        found = _mine(path, keys_dir)
        # Each template's part of the line is written once, not once per line.
        tails = [
            f', "pattern_id": {json.dumps(t.pattern_id)}, "template": {json.dumps(sanitize(t.template))}'
            for t in found.mining.templates
        ]
        unmined = ', "pattern_id": null, "template": null'
        write = out.write
        for number, index in enumerate(found.line_templates(), start=1):
            write(f'{{"line": {number}{tails[index] if index != OVERFLOW else unmined}}}\n')
    return 0


def summarize_file(
    path: Path, fmt: str, levels: list[str] | None, top: int, since: str | None, until: str | None
) -> ErrorPatterns:
    """Patterns of the whole file (or of --since/--until, given as ISO-8601 times)."""
    _require_file(path)
    ungrouped: dict[int, int] = {}
    if fmt == "message":
        groups: Iterator[MessageGroup] = _shape_groups(_mine(path, None), path.name, ungrouped)
    else:
        groups = _records(path, fmt, _level_filter(levels), _bound(since, "since"), _bound(until, "until"))
    summary = summarize_patterns(((0, g) for g in groups), current=0, ungrouped=ungrouped)
    first = min((p.first_ts for p in summary.patterns if p.first_ts is not None), default=None)
    last = max((p.last_ts for p in summary.patterns if p.last_ts is not None), default=None)
    window = (epoch_iso_or_none(first) or "", epoch_iso_or_none(last) or "")
    levels_used = None if fmt == "message" else _level_filter(levels)
    notes = [
        f"patterns of {path}"
        + ("" if fmt == "message" else f", levels {', '.join(sorted(levels_used or ['all']))}")
    ]
    return patterns_result(summary, window, None, levels_used, top, notes, OutputSettings())


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"--file: {path} is not a readable file")


def _mine(path: Path, keys_dir: str | None) -> FileMining:
    try:
        return mine_file(path, keys_dir=keys_dir)
    except OSError as error:
        raise SourceUnavailable("file", f"cannot read {path}: {error.strerror or error}") from None


def _shape_groups(found: FileMining, name: str, ungrouped: dict[int, int]) -> Iterator[MessageGroup]:
    """One group per distinct shape, its first message as the example: the summary mines
    them again, as it does OpenSearch's distinct messages, and gets the same templates."""
    ungrouped[0] = found.unmined
    for example, count in zip(found.examples, found.shape_counts, strict=True):
        if count:
            yield MessageGroup(example, count, None, None, {name: count})


def _records(
    path: Path, fmt: str, levels: frozenset[str] | None, start: float, end: float
) -> Iterator[MessageGroup]:
    source = FileLogSource(FilesSource(paths=[str(path)], format=fmt), FieldNames())
    query = LogQuery(start, end, None, levels)
    for _, group in source.scan(query, groups=[(start, end)]).groups:
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
