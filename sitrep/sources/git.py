"""git, read-only by construction: allowlisted subcommands, argv lists, no shell.

Every ref is validated and placed after `--end-of-options`, so no caller-supplied string can
become an option (`--output=FILE` once wrote files through another server's read tool).
Optional locks are off, and external diff and textconv programs never run.

git's output is streamed, never read whole: each record (a line, a commit, a path) is cut to
`MAX_RECORD_BYTES` and the rest of it discarded unread, the whole read stops at
`MAX_OUTPUT_BYTES`, and the process is killed when the output is over that cap, when the
call's deadline comes, or when the call is given up on. A 1 MB commit subject or a 400 MB
changed file costs a bounded amount of memory and time.
"""

from __future__ import annotations

import heapq
import os
import re
import selectors
import subprocess
import tempfile
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import IO

from sitrep.deadline import check, once, time_left, touched
from sitrep.domain import Commit, Deploy, FileChange
from sitrep.errors import InputError, SourceResponseError, SourceTimeout, SourceUnavailable, WriteRefused
from sitrep.settings import GitSource
from sitrep.sources.protocols import SourceStatus

READ_SUBCOMMANDS = frozenset(
    {"log", "show", "diff", "rev-parse", "merge-base", "grep", "ls-tree", "cat-file", "for-each-ref"}
)
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/+-]{0,199}")
# What people type after a name: ancestry steps such as HEAD~2, HEAD^, HEAD^2, v1.2.3~1.
_ANCESTRY = re.compile(r"(?:[~^][0-9]{0,6}){1,20}\Z")
_TAG_PATTERN = re.compile(r"^[A-Za-z0-9._/*?+-]{1,100}$")
_SHA = re.compile(r"^[0-9a-f]{4,64}$")
_FIELD, _RECORD = "\x1f", "\x1e"
# The commit time before the author and subject: a record cut short keeps what dates it.
_COMMIT_FORMAT = "%H%x1f%P%x1f%ct%x1f%an%x1f%s%x1e"
_MAX_HISTORY = 500
_MAX_LINE = 5000
MAX_RECORD_BYTES = 16 << 10
"""A record of git's output (a line, a commit, a path) is cut here."""
MAX_OUTPUT_BYTES = 256 << 20
"""git's output is read to here at most, then the process is killed."""
MAX_TEXT_BYTES = 32 << 20
"""An answer read whole (a list of names or shas) is read to here at most."""
MAX_DIFF_BYTES = 64 << 20
"""A diff is scanned (for conflict markers) to here at most."""
_CHUNK = 1 << 16
# Hardening that comes from us, not from any caller: a repository's own config must not
# make a read start a program (fsmonitor hooks run on some read paths).
_ENV = {
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "LC_ALL": "C",
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "core.fsmonitor",
    "GIT_CONFIG_VALUE_0": "false",
}


def validate_ref(ref: str, *, name: str = "ref") -> str:
    """A ref or sha a caller named, with optional ancestry steps (`HEAD~2`, `main^2`); refuse
    anything git could read as an option, a range, a reflog entry or a path (`-x`, `a..b`,
    `@{1}`, `HEAD:file`, `^main`)."""
    steps = _ANCESTRY.search(ref)
    base = ref[: steps.start()] if steps else ref
    if not _REF.fullmatch(base) or ".." in base or base.endswith((".lock", "/", ".")) or "//" in base:
        raise InputError(
            f"{name}: {ref!r} is not a commit sha, tag or branch name "
            "(letters, digits and . _ / + - only, optionally followed by ~N or ^N as in HEAD~2; "
            "not starting with - or containing .., @{, : or spaces)"
        )
    return ref


@dataclass(frozen=True, slots=True)
class Merge:
    """A merge commit and the commits it brought in from outside the deploy branch."""

    sha: str
    subject: str
    merged_parent: str
    brought_in: int
    refs: tuple[str, ...]


class GitOutput:
    """The output of one git process, read as it comes: records ended by `separator` (or raw
    chunks for an empty separator), each cut to `MAX_RECORD_BYTES`. After the loop,
    `records_cut` counts the records that were cut and `over_cap` says the output went past
    `max_bytes` (the process was then killed and the records read so far are all there is).
    The process is killed too at the deadline (SourceTimeout), or when the call is given up on."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        timeout: float,
        ok: tuple[int, ...],
        separator: bytes,
        max_bytes: int,
    ) -> None:
        self._name, self._argv, self._timeout, self._ok = name, argv, timeout, ok
        self._separator, self._max_bytes = separator, max_bytes
        self.records_cut = 0
        self.over_cap = False
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        subcommand = self._argv[4]
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(
                    self._argv,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, **_ENV},
                )
            except FileNotFoundError:
                raise SourceUnavailable(self._name, "the git program is not installed") from None
            try:
                assert process.stdout is not None
                yield from self._split(self._chunks(process.stdout, subcommand))
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait()
                process.stdout.close()  # type: ignore[union-attr]
            if not self.over_cap and process.returncode not in self._ok:
                errors.seek(max(0, errors.seek(0, os.SEEK_END) - 4096))
                message = errors.read().decode("utf-8", "replace").strip().splitlines()
                detail = message[-1] if message else process.returncode
                raise SourceResponseError(self._name, f"git {subcommand} failed: {detail}")

    def _chunks(self, stdout: IO[bytes], subcommand: str) -> Iterator[bytes]:
        """What git writes, as it comes, until it ends, the cap, or the deadline."""
        deadline = time.monotonic() + self._timeout
        descriptor = stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(descriptor, selectors.EVENT_READ)
            while True:
                check()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SourceTimeout(self._name, f"git {subcommand} took over {self._timeout:.3g} s")
                if not selector.select(min(left, 0.25)):
                    continue
                chunk = os.read(descriptor, _CHUNK)
                if not chunk:
                    return
                self.bytes_read += len(chunk)
                if self.bytes_read > self._max_bytes:
                    self.over_cap = True
                    yield chunk[: len(chunk) - (self.bytes_read - self._max_bytes)]
                    return
                yield chunk

    def _split(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        separator = self._separator
        if not separator:
            yield from chunks
            return
        record = bytearray()
        dropping = False
        for chunk in chunks:
            start = 0
            while True:
                end = chunk.find(separator, start)
                piece = chunk[start:] if end < 0 else chunk[start:end]
                if not dropping:
                    room = MAX_RECORD_BYTES - len(record)
                    record += piece[:room]
                    if len(piece) > room:
                        dropping = True
                        self.records_cut += 1
                if end < 0:
                    break
                yield bytes(record)
                record.clear()
                dropping = False
                start = end + len(separator)
        if record:
            yield bytes(record)


class GitRepo:
    """One service's repository."""

    kind = "git"

    def __init__(self, config: GitSource, timeout: float = 10.0) -> None:
        self.service = config.service
        self.path = Path(config.repo)
        self.branch = validate_ref(config.branch, name="branch")
        self.tag_pattern = config.tag_pattern
        if self.tag_pattern is not None and not _TAG_PATTERN.match(self.tag_pattern):
            raise InputError(
                f"tag_pattern: {self.tag_pattern!r} may hold letters, digits, . _ / * ? + - only"
            )
        self.subpath = config.path
        self.rollback_command = config.rollback_command
        self.name = f"git:{config.service}"
        self._timeout = timeout

    # -- the one place a git process starts -------------------------------------------
    def _git(
        self,
        subcommand: str,
        *options: str,
        refs: Sequence[str] = (),
        paths: Sequence[str] = (),
        ok: tuple[int, ...] = (0,),
    ) -> str:
        """git's whole output as text (to `MAX_OUTPUT_BYTES`), for the small answers; the same
        question twice in one call runs git once."""
        key = ("git", str(self.path), subcommand, options, tuple(refs), tuple(paths), ok)
        return once(key, lambda: self._read_text(subcommand, options, refs, paths, ok))

    def _read_text(
        self,
        subcommand: str,
        options: tuple[str, ...],
        refs: Sequence[str],
        paths: Sequence[str],
        ok: tuple[int, ...],
    ) -> str:
        output = self._stream(
            subcommand, *options, refs=refs, paths=paths, ok=ok, separator=b"", max_bytes=MAX_TEXT_BYTES
        )
        text = b"".join(output).decode("utf-8", "replace")
        if output.over_cap:
            raise SourceResponseError(
                self.name, f"git {subcommand} wrote over {MAX_TEXT_BYTES >> 20} MiB; not read further"
            )
        return text

    def _records(
        self,
        subcommand: str,
        *options: str,
        refs: Sequence[str] = (),
        paths: Sequence[str] = (),
        separator: bytes = b"\n",
        max_bytes: int | None = None,
    ) -> GitOutput:
        """git's output as records ended by `separator`, each cut to `MAX_RECORD_BYTES`."""
        return self._stream(
            subcommand, *options, refs=refs, paths=paths, separator=separator, max_bytes=max_bytes
        )

    def _stream(
        self,
        subcommand: str,
        *options: str,
        refs: Sequence[str] = (),
        paths: Sequence[str] = (),
        ok: tuple[int, ...] = (0,),
        separator: bytes = b"\n",
        max_bytes: int | None = None,
    ) -> GitOutput:
        if subcommand not in READ_SUBCOMMANDS:
            raise WriteRefused(f"git {subcommand} is not an allowlisted read; sitrep only reads repositories")
        if any(option == "-c" or option.startswith("--output") for option in options):
            raise WriteRefused(f"git options {options} are refused: they could change or write files")
        touched(self.name)
        timeout = min(self._timeout, time_left())
        if timeout <= 0:
            raise SourceTimeout(self.name, f"git {subcommand} not run: the call's deadline has come")
        argv = ["git", "--no-pager", "-C", str(self.path), subcommand, *options]
        if refs:
            # rev-parse only honours --end-of-options in --verify mode (git 2.39 echoes it otherwise).
            if subcommand == "rev-parse" and "--verify" not in options:
                raise ValueError("git rev-parse with refs must use --verify")
            argv += ["--end-of-options", *refs]
        if paths:
            argv += ["--", *paths]
        return GitOutput(self.name, argv, timeout, ok, separator, max_bytes or MAX_OUTPUT_BYTES)

    # -- reads --------------------------------------------------------------------------
    def check(self) -> None:
        """Raise SourceUnavailable unless the path is a repository with the deploy branch."""
        if not self.path.exists():
            raise SourceUnavailable(self.name, f"{self.path} does not exist; fix repo = … under [[git]]")
        try:
            self._git("rev-parse", "--is-inside-work-tree")
        except SourceResponseError:
            # A bare repository is fine too.
            try:
                self._git("rev-parse", "--git-dir")
            except SourceResponseError:
                raise SourceUnavailable(self.name, f"{self.path} is not a git repository") from None
        self.resolve(self.branch, name="branch")

    def resolve(self, ref: str, *, name: str = "sha") -> str:
        """The full sha of a commit a caller named."""
        validate_ref(ref, name=name)
        out = self._git("rev-parse", "--verify", "--quiet", refs=[f"{ref}^{{commit}}"], ok=(0, 1, 128))
        sha = out.strip()
        if not _SHA.match(sha):
            raise InputError(f"{name}: no commit {ref!r} in the {self.service} repository ({self.path})")
        return sha

    def history(self, limit: int = _MAX_HISTORY) -> list[Commit]:
        """First-parent commits of the deploy branch, newest first."""
        return self._commit_log(
            "--first-parent",
            f"--max-count={limit}",
            refs=[self.branch],
            paths=[self.subpath] if self.subpath else (),
        )

    def range_commits(self, base: str, head: str, limit: int) -> list[Commit]:
        """First-parent commits after `base` up to `head`, newest first."""
        validate_ref(base)
        validate_ref(head)
        return self._commit_log("--first-parent", f"--max-count={limit}", refs=[f"{base}..{head}"])

    def commits(self, shas: Sequence[str]) -> dict[str, Commit]:
        """Details of the named commits, by full sha."""
        if not shas:
            return {}
        for sha in shas:
            validate_ref(sha)
        return {commit.sha: commit for commit in self._commit_log("--no-walk=unsorted", refs=list(shas))}

    def deploys(self) -> list[Deploy]:
        """What git alone says was deployed: first-parent commits, or tags matching the pattern."""
        if self.tag_pattern:
            return self._tag_deploys()
        return [
            Deploy(self.service, c.sha[:7], c.committed_at, c.sha, c.author, c.subject, source="git")
            for c in self.history()
        ]

    def _tag_deploys(self) -> list[Deploy]:
        """Tags matching the pattern, newest first, in the branch's topology: a tag on the
        first-parent line is newer than every tag on an older commit of that line, whatever
        their dates say; tags of one commit go by date, then version; tags off the line
        (a hotfix branch) fall in by date."""
        fmt = "%(refname:short)%1f%(objectname)%1f%(*objectname)%1f%(creatordate:unix)"
        out = self._git(
            "for-each-ref",
            "--sort=-v:refname",
            "--sort=-creatordate",
            f"--format={fmt}",
            f"--count={_MAX_HISTORY}",
            refs=[f"refs/tags/{self.tag_pattern}"],
        )
        tagged: list[tuple[str, str, float]] = []
        for line in out.splitlines():
            name, obj, peeled, created = ([*line.split("\x1f"), "", "", "", ""])[:4]
            if created.isdigit():
                tagged.append((name, peeled or obj, float(created)))
        tagged = _topological_tags(tagged, self._line_positions())
        details = self.commits([sha for _, sha, _ in tagged])
        deploys = []
        for name, sha, created_at in tagged:
            commit = details.get(sha)
            deploys.append(
                Deploy(
                    self.service,
                    name,
                    created_at,
                    sha,
                    commit.author if commit else None,
                    commit.subject if commit else None,
                    source="git",
                )
            )
        return deploys

    def _line_positions(self) -> dict[str, int]:
        """sha → its place on the deploy branch's first-parent line, 0 for the newest."""
        out = self._git(
            "log", "--first-parent", f"--max-count={_MAX_LINE}", "--format=%H", refs=[self.branch]
        )
        return {sha: index for index, sha in enumerate(out.split())}

    def changes(self, base: str, head: str) -> list[FileChange]:
        """Files changed from `base` to `head`, with line counts."""
        paths = [self.subpath] if self.subpath else ()
        refs = [base, head]
        status_out = self._git(
            "diff", "--no-ext-diff", "--no-textconv", "-M", "--name-status", "-z", refs=refs, paths=paths
        )
        stat_out = self._git(
            "diff", "--no-ext-diff", "--no-textconv", "-M", "--numstat", "-z", refs=refs, paths=paths
        )
        return _merge_changes(_parse_name_status(status_out), _parse_numstat(stat_out))

    def first_parent_line(self, base: str, head: str) -> list[tuple[str, str]]:
        """Every first-parent commit after `base` up to `head`, newest first, as (sha, its first
        parent); a root commit's parent is ""."""
        validate_ref(base)
        validate_ref(head)
        out = self._git("log", "--first-parent", "--format=%H %P", refs=[f"{base}..{head}"])
        line = [fields for fields in map(str.split, out.splitlines()) if fields]
        return [(fields[0], fields[1] if len(fields) > 1 else "") for fields in line]

    def first_parent_changes(self, base: str, head: str) -> dict[str, list[FileChange]]:
        """The files each first-parent commit after `base` up to `head` changed against its first
        parent (without line counts): one walk of a range, for questions about any part of it."""
        validate_ref(base)
        validate_ref(head)
        out = self._git(
            "log", "--first-parent", "--diff-merges=first-parent", "--no-ext-diff", "--no-textconv", "-M",
            "--name-status", "-z", "--format=%x1e%H",
            refs=[f"{base}..{head}"], paths=[self.subpath] if self.subpath else (),
        )  # fmt: skip
        changed: dict[str, list[FileChange]] = {}
        for chunk in out.split("\x1e")[1:]:
            sha, _, rest = chunk.partition("\0")
            statuses = _parse_name_status(rest.lstrip("\n"))
            changed[sha.strip()] = [
                FileChange(path, status, None, None, old_path=old) for status, path, old in statuses
            ]
        return changed

    def added_lines(
        self, base: str, head: str, paths: Sequence[str]
    ) -> Generator[tuple[str, str], None, bool]:
        """(path, line) for every line added from `base` to `head` in `paths`, each cut to
        `MAX_RECORD_BYTES`; the diff is read to `MAX_DIFF_BYTES`, and the generator returns
        True if it was cut there."""
        if not paths:
            return False
        output = self._records(
            "diff",
            "--no-ext-diff",
            "--no-textconv",
            "--no-color",
            "-U0",
            refs=[base, head],
            paths=paths,
            max_bytes=MAX_DIFF_BYTES,
        )
        current = ""
        for raw in output:
            line = raw.decode("utf-8", "replace")
            if line.startswith("+++ "):
                current = line[6:] if line.startswith("+++ b/") else line[4:]
            elif line.startswith("+") and not line.startswith("+++"):
                yield current, line[1:]
        return output.over_cap

    def _commit_log(self, *options: str, refs: Sequence[str], paths: Sequence[str] = ()) -> list[Commit]:
        """The commits `git log` lists, each record cut to `MAX_RECORD_BYTES` (a long
        subject keeps its start); the same log twice in one call runs git once."""
        key = ("git log", str(self.path), options, tuple(refs), tuple(paths))
        return list(once(key, lambda: self._read_commit_log(options, refs, paths)))

    def _read_commit_log(
        self, options: tuple[str, ...], refs: Sequence[str], paths: Sequence[str]
    ) -> list[Commit]:
        output = self._records(
            "log", *options, f"--format={_COMMIT_FORMAT}", refs=refs, paths=paths, separator=_RECORD.encode()
        )
        commits = list(_parse_commits(raw.decode("utf-8", "replace") for raw in output))
        if output.over_cap:
            raise SourceResponseError(
                self.name, f"git log wrote over {MAX_OUTPUT_BYTES >> 20} MiB; not read further"
            )
        return commits

    def merges(self, base: str, head: str) -> list[Merge]:
        """Merge commits on the deploy branch's first-parent line between `base` and `head`."""
        merges = []
        for commit in self._commit_log("--first-parent", "--merges", refs=[f"{base}..{head}"]):
            for parent in commit.parents[1:]:
                brought = self._git("log", "--format=%H", refs=[f"{commit.parents[0]}..{parent}"])
                refs_out = self._git(
                    "for-each-ref",
                    "--format=%(refname:short)",
                    f"--contains={parent}",
                    refs=["refs/heads", "refs/remotes"],
                )
                names = tuple(n for n in refs_out.split() if n not in (self.branch, f"origin/{self.branch}"))
                merges.append(Merge(commit.sha, commit.subject, parent, len(brought.split()), names))
        return merges

    def is_ancestor(self, older: str, newer: str) -> bool:
        """True when `older` is reachable from `newer`."""
        return self._git("merge-base", refs=[older, newer], ok=(0, 1)).strip() == older

    def status(self) -> SourceStatus:
        started = time.perf_counter()
        try:
            self.check()
            head = self.resolve(self.branch, name="branch")
        except (SourceUnavailable, SourceResponseError, SourceTimeout, InputError) as error:
            return SourceStatus(self.name, self.kind, False, _ms(started), str(error))
        mode = f"tags {self.tag_pattern}" if self.tag_pattern else f"branch {self.branch}"
        detail = f"{self.path} ({mode}, head {head[:12]})"
        return SourceStatus(self.name, self.kind, True, _ms(started), detail)


def discover_repo(cwd: Path) -> GitSource | None:
    """The repository around `cwd`, as the one service of a server run with no configuration."""
    probe = GitRepo(GitSource(service="probe", repo=cwd, branch="HEAD"))
    try:
        top = Path(probe._git("rev-parse", "--show-toplevel").strip())
        branch = probe._git("rev-parse", "--verify", "--abbrev-ref", refs=["HEAD"]).strip()
    except (SourceResponseError, SourceUnavailable, SourceTimeout):
        return None
    return GitSource(service=top.name, repo=top, branch=branch or "HEAD")


def _topological_tags(
    tagged: list[tuple[str, str, float]], line: dict[str, int]
) -> list[tuple[str, str, float]]:
    """(name, sha, created) newest first by date (then version) → newest first by topology."""
    on_line = [(index, tag) for index, tag in enumerate(tagged) if tag[1] in line]
    # Oldest first: the older commit first, then the older tag, then the lower version.
    on_line.sort(key=lambda item: (-line[item[1][1]], item[1][2], -item[0]))
    # Where a tag is dated after a newer one (made later on an old commit), it falls in at the
    # newer one's date.
    times = list(accumulate((tag[2] for _, tag in reversed(on_line)), min))[::-1]
    keyed = [(when, tag) for when, (_, tag) in zip(times, on_line, strict=True)]
    off_line = [(tag[2], tag) for tag in reversed(tagged) if tag[1] not in line]
    merged = heapq.merge(keyed, off_line, key=lambda item: item[0])
    return [tag for _, tag in merged][::-1]


def _parse_commits(records: Iterable[str]) -> Iterator[Commit]:
    for record in records:
        # A record cut short may lack its last fields: they are then empty.
        fields = [*record.strip("\n").split(_FIELD, 4), "", "", "", ""]
        sha, parents, committed, author, subject = fields[:5]
        if not _SHA.match(sha) or not committed.isdigit():
            continue
        yield Commit(sha, tuple(parents.split()), author, float(committed), subject)


def _parse_name_status(out: str) -> list[tuple[str, str, str | None]]:
    """(status, path, old_path) from `--name-status -z`."""
    parts = out.split("\0")
    changes: list[tuple[str, str, str | None]] = []
    index = 0
    while index < len(parts) - 1:
        status = parts[index]
        if status[:1] in ("R", "C"):
            changes.append((status[0], parts[index + 2], parts[index + 1]))
            index += 3
        elif status:
            changes.append((status[0], parts[index + 1], None))
            index += 2
        else:
            index += 1
    return changes


def _parse_numstat(out: str) -> dict[str, tuple[int | None, int | None]]:
    """path → (added, deleted) from `--numstat -z`; binary files have no counts."""
    stats: dict[str, tuple[int | None, int | None]] = {}
    parts = out.split("\0")
    index = 0
    while index < len(parts):
        head = parts[index]
        if not head:
            index += 1
            continue
        added, deleted, path = ([*head.split("\t", 2), "", "", ""])[:3]
        if path == "":  # a rename: the next two fields are the old and new path
            path = parts[index + 2] if index + 2 < len(parts) else ""
            index += 3
        else:
            index += 1
        stats[path] = (int(added) if added.isdigit() else None, int(deleted) if deleted.isdigit() else None)
    return stats


def _merge_changes(
    statuses: list[tuple[str, str, str | None]], stats: dict[str, tuple[int | None, int | None]]
) -> list[FileChange]:
    return [
        FileChange(path, status, *stats.get(path, (None, None)), old_path=old)
        for status, path, old in statuses
    ]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
