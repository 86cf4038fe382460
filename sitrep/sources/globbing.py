"""Expanding the configured globs (`~`, `*`, `?`, `[...]`, and `**` for any depth) to files.

`glob.glob(recursive=True)` follows symlinked directories under `**` with no memory of where
it has been: two links back to their parent make the walk 2^40 paths long, and it cannot be
stopped. Here the walk remembers each directory it entered under a `**` (by device and inode),
so a loop is entered once, it stops at the call's deadline, and it stops the thread when the
call is given up on. Otherwise it matches as `glob` does: `*` does not match a leading dot.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from fnmatch import fnmatchcase

from sitrep.deadline import check, expired

__all__ = ["Expansion", "expand"]


class _OutOfTime(Exception):
    pass


class Expansion:
    """The files a pattern matched; `complete` is False when the deadline cut the walk short."""

    def __init__(self, files: list[str], complete: bool) -> None:
        self.files = files
        self.complete = complete


def expand(pattern: str) -> Expansion:
    """The files (not directories) `pattern` matches, in no particular order."""
    pattern = os.path.expanduser(pattern)  # noqa: PTH111 - a pattern, not a path
    if not glob.has_magic(pattern):
        return Expansion([pattern] if os.path.isfile(pattern) else [], True)  # noqa: PTH113
    base = os.sep if os.path.isabs(pattern) else ""  # noqa: PTH117
    parts = tuple(part for part in pattern.split("/") if part)
    files: list[str] = []
    try:
        for path in _walk(base, parts):
            if os.path.isfile(path):  # noqa: PTH113
                files.append(path)
    except _OutOfTime:
        return Expansion(files, False)
    return Expansion(files, True)


def _walk(base: str, parts: tuple[str, ...]) -> Iterator[str]:
    head, rest = parts[0], parts[1:]
    if head == "**":
        yield from _any_depth(base, rest, set())
    elif not glob.has_magic(head):
        path = os.path.join(base, head)  # noqa: PTH118
        if not rest:
            yield path
        elif os.path.isdir(path):  # noqa: PTH112
            yield from _walk(path, rest)
    else:
        for name, is_dir in _entries(base):
            if fnmatchcase(name, head) and (head.startswith(".") or not name.startswith(".")):
                path = os.path.join(base, name)  # noqa: PTH118
                if not rest:
                    yield path
                elif is_dir:
                    yield from _walk(path, rest)


def _any_depth(base: str, rest: tuple[str, ...], seen: set[tuple[int, int]]) -> Iterator[str]:
    """`**`: `rest` matched in `base` and in every directory below it, each entered once."""
    try:
        info = os.stat(base or ".")  # noqa: PTH116
    except OSError:
        return
    if (info.st_dev, info.st_ino) in seen:
        return  # a symlink back to where the walk has been
    seen.add((info.st_dev, info.st_ino))
    if rest:
        yield from _walk(base, rest)
    for name, is_dir in _entries(base):
        if name.startswith("."):
            continue
        path = os.path.join(base, name)  # noqa: PTH118
        if is_dir:
            yield from _any_depth(path, rest, seen)
        elif not rest:
            yield path


def _entries(directory: str) -> Iterator[tuple[str, bool]]:
    """(name, is a directory, symlinks followed) of each entry; nothing if it cannot be read."""
    check()
    if expired():
        raise _OutOfTime
    try:
        with os.scandir(directory or ".") as entries:
            found = []
            for entry in entries:
                try:
                    found.append((entry.name, entry.is_dir()))
                except OSError:
                    continue
    except OSError:
        return
    yield from found
