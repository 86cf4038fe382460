"""Mining the messages of one file on every core, for `sitrep patterns --file`.

Masking a message is most of the cost of mining it, and messages are masked independently,
so a large file is cut into byte ranges on line boundaries and each range is masked in a
process of its own. The parent merges the shapes the parts counted into one miner and
mines them there: `finish` sees the same shapes and totals whatever the number of parts,
so the templates, counts and ids are those of a single pass (until the cap on shapes is
hit; then, as with any order of lines, which shapes got in can differ).

Memory stays bounded for any size of file: the miner is capped, and the per-line keys that
`--label` needs are spilled to temporary files instead of being held in memory.

This module imports nothing heavy: the worker processes import it alone.
"""

from __future__ import annotations

import contextlib
import gzip
import multiprocessing
import os
import tempfile
import threading
from array import array
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import IO

from sitrep.analysis.patterns import OVERFLOW, Mining, PatternMiner

__all__ = ["FileMining", "mine_file"]

PARALLEL_FROM_BYTES = 32 << 20
"""Smaller files are mined in this process: starting workers would cost more than it saves."""
MAX_WORKERS = 4
EXAMPLE_CHARS = 2_000
"""An example is cut here; outputs cut it further to their own budget."""
_KEYS_CHUNK = 1 << 18


@dataclass(slots=True)
class _Part:
    """What one worker found in its byte range of the file."""

    shapes: list[str]
    counts: list[int]
    overflow: int
    examples: list[str]
    """The first message of each shape in the range, by shape key."""
    lines: int
    keys_path: str | None
    """int32 keys, one per line, when they were asked for."""


@dataclass
class FileMining:
    """The shapes of a file's messages, and (when asked for) their templates."""

    lines: int
    examples: list[str]
    """The first message of each shape in the file, by the parent miner's shape key."""
    shape_counts: list[int]
    """Lines per shape, by the parent miner's shape key."""
    unmined: int
    """Lines counted but not grouped: a miner's cap on shapes was hit."""
    workers: int
    _miner: PatternMiner = field(repr=False)
    _parts: list[tuple[str | None, array[int]]] = field(default_factory=list, repr=False)

    @cached_property
    def mining(self) -> Mining:
        """The templates; mined on first use (a summary mines the shapes' examples itself)."""
        mining = self._miner.finish()
        return replace(mining, overflow_count=self.unmined, capped=self.unmined > 0)

    def line_templates(self) -> Iterator[int]:
        """The template index (or OVERFLOW) of every line, in file order."""
        for keys_path, remap in self._parts:
            if keys_path is None:
                raise ValueError("mine_file was not asked to keep the lines' keys (keys_dir)")
            for keys in _read_keys(keys_path):
                for key in keys:
                    yield self.mining.template_of(OVERFLOW if key == OVERFLOW else remap[key])


def mine_file(
    path: Path, *, max_groups: int = 50_000, keys_dir: str | None = None, workers: int | None = None
) -> FileMining:
    """Mine every line of `path` (one message a line). With `keys_dir`, remember the key of
    each line there so that `line_templates` can replay them; `workers` overrides the
    number of processes (one for a small or compressed file)."""
    ranges = _ranges(path, workers if workers is not None else _default_workers(path))
    if len(ranges) == 1:
        parts = [_mine_range(str(path), *ranges[0], max_groups, keys_dir)]
    else:
        with ProcessPoolExecutor(len(ranges), mp_context=_context()) as pool:
            futures = [
                pool.submit(_mine_range, str(path), start, end, max_groups, keys_dir) for start, end in ranges
            ]
            parts = [future.result() for future in futures]
    return _merge(parts, max_groups, len(ranges))


def _merge(parts: list[_Part], max_groups: int, workers: int) -> FileMining:
    miner = PatternMiner(max_groups)
    examples: list[str] = []
    remaps: list[tuple[str | None, array[int]]] = []
    for part in parts:
        remap = array("i")
        for local, (shape, count) in enumerate(zip(part.shapes, part.counts, strict=True)):
            key = miner.add_shape(shape, count)
            if key == len(examples):  # a shape no earlier part had: its first line is here
                examples.append(part.examples[local])
            remap.append(key)
        remaps.append((part.keys_path, remap))
    _shapes, counts, merged_over_cap = miner.tallies()
    # Lines a worker could not key (its own cap was hit) are counted, not grouped, as are
    # the shapes that did not fit the merged miner.
    unmined = merged_over_cap + sum(part.overflow for part in parts)
    return FileMining(sum(p.lines for p in parts), examples, counts, unmined, workers, miner, remaps)


def _mine_range(path: str, start: int, end: int | None, max_groups: int, keys_dir: str | None) -> _Part:
    """The worker: mask and count the lines that start in [start, end) (None: to the end)."""
    miner = PatternMiner(max_groups)
    with contextlib.ExitStack() as stack:
        spill = (
            stack.enter_context(tempfile.NamedTemporaryFile(dir=keys_dir, suffix=".keys", delete=False))
            if keys_dir is not None
            else None
        )
        examples, lines = _scan(path, start, end, miner, spill)
    shapes, counts, overflow = miner.tallies()
    return _Part(shapes, counts, overflow, examples, lines, spill.name if spill else None)


def _scan(
    path: str, start: int, end: int | None, miner: PatternMiner, spill: IO[bytes] | None
) -> tuple[list[str], int]:
    add = miner.add
    examples: list[str] = []
    keys = array("i")
    lines = 0
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        handle.seek(start)
        position = start
        for raw in handle:
            if end is not None and position >= end:
                break
            position += len(raw)
            message = raw.decode("utf-8", "replace").rstrip("\r\n")
            key = add(message)
            if key == len(examples):
                examples.append(message[:EXAMPLE_CHARS])
            lines += 1
            if spill is not None:
                keys.append(key)
                if len(keys) >= _KEYS_CHUNK:
                    keys.tofile(spill)
                    del keys[:]
    if spill is not None:
        keys.tofile(spill)
    return examples, lines


def _read_keys(path: str) -> Iterator[array[int]]:
    with open(path, "rb") as handle:  # noqa: PTH123
        while True:
            chunk = array("i")
            with contextlib.suppress(EOFError):  # the last, shorter chunk: fromfile keeps what it read
                chunk.fromfile(handle, _KEYS_CHUNK)
            if not chunk:
                return
            yield chunk


def _ranges(path: Path, workers: int) -> list[tuple[int, int | None]]:
    """`workers` byte ranges of about equal size, each starting at the start of a line; a
    compressed file is one range, to its end."""
    size = path.stat().st_size
    if workers <= 1 or path.suffix == ".gz":
        return [(0, None)]
    starts = [0]
    with path.open("rb") as handle:
        for i in range(1, workers):
            handle.seek(size * i // workers)
            handle.readline()
            if handle.tell() > starts[-1] and handle.tell() < size:
                starts.append(handle.tell())
    ends: list[int | None] = [*starts[1:], None]
    return list(zip(starts, ends, strict=True))


def _default_workers(path: Path) -> int:
    try:
        size = path.stat().st_size
    except OSError:
        return 1
    if size < PARALLEL_FROM_BYTES:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def _context() -> multiprocessing.context.BaseContext:
    # fork starts a worker in milliseconds with this module already loaded, but forking a
    # process that runs other threads can deadlock the child (and Python 3.12+ warns):
    # then spawn, which pays for a fresh interpreter instead.
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")
