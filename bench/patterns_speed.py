"""Throughput and peak memory of the pattern miner against Drain3 (with its example masks).

    python bench/patterns_speed.py [--lines 1000000] [--data DIR] [--messages-only]

Builds `--lines` realistic messages from the Nezha TrainTicket logs in DIR (every
`*_log.csv` below it; column `Log` is JSON whose `log` field is the application line),
giving every copy new hex ids and permuted digits so that copies are not repeats, and
writes them to a temporary file. Each contender then runs in a fresh Python process that
times the whole pipeline: open and read the file, strip each line, add it, finish, count.
The child reports its own peak RSS, so neither contender's memory shows in the other's.

With --messages-only the time, level, logger and trace ids are cut from each line first,
leaving the message as a log shipper would store it (shorter, fewer ids).

Contenders: `read` (read and strip only: the floor any miner pays); `sitrep`, the path
`sitrep patterns --file` takes (`sitrep.file_mining.mine_file`: a large file is masked on
every core, then mined once); `sitrep-1proc`, the same in one process; and Drain3 0.9.x with
the masking instructions of its examples/drain3.ini. Drain3 takes minutes on a million
lines; it reports progress on stderr. Peak memory counts the workers too: the parent's peak
plus each worker's. Last, `sitrep patterns --file … --format message --json` is timed as a
command, interpreter start and output included.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path("/work/shared/data/nezha-trainticket/2023-01-30/faulty/log")
CONTENDERS = ("read", "sitrep", "sitrep-1proc", "drain3+masks")
PROGRESS_EVERY = 100_000


# `19:50:59.971 INFO  t.s.TravelServiceImpl#457 TraceID: 2ffb… SpanID: 04ba… ` before the message.
_HEADER = re.compile(r"^\S+\s+[A-Z]+\s+\S+\s+TraceID:\s*\S*\s+SpanID:\s*\S*\s*")


def source_lines(data: Path, messages_only: bool = False) -> list[str]:
    """The application lines of every Nezha log CSV below `data`; with `messages_only`, the
    message alone, as a shipper that parses the time, level, logger and trace ids would store it."""
    csv.field_size_limit(1 << 24)
    lines = []
    for path in sorted(data.rglob("*_log.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                try:
                    line = json.loads(row["Log"])["log"].strip()
                except (ValueError, KeyError, TypeError):
                    continue
                if messages_only:
                    line = _HEADER.sub("", line)
                if line:
                    lines.append(line)
    if not lines:
        raise SystemExit(f"no Nezha log lines (*_log.csv with a Log column) below {data}")
    return lines


_HEX_ID = re.compile(r"(?<![0-9a-zA-Z])[0-9a-f]{8,}(?![0-9a-zA-Z])")


def varied(lines: list[str], count: int, seed: int = 7) -> Iterator[str]:
    """`count` lines drawn from `lines`, each copy with new hex ids (trace, span, object ids)
    and its digits permuted: times, counters, ports and ids change from copy to copy, the
    words do not."""
    rng = random.Random(seed)
    tables = []
    for _ in range(4096):
        digits = list("0123456789")
        rng.shuffle(digits)
        tables.append(str.maketrans("0123456789", "".join(digits)))

    def new_id(match: re.Match[str]) -> str:
        width = len(match.group(0))
        return f"{rng.getrandbits(4 * width):0{width}x}"

    for _ in range(count):
        yield _HEX_ID.sub(new_id, rng.choice(lines)).translate(rng.choice(tables))


def build_corpus(data: Path, count: int, directory: str, messages_only: bool) -> Path:
    path = Path(directory) / "messages.log"
    with path.open("w", encoding="utf-8") as out:
        for line in varied(source_lines(data, messages_only), count):
            out.write(line + "\n")
    return path


def run_contender(name: str, path: Path) -> dict[str, float]:
    """Run one contender in a fresh interpreter; return what it measured."""
    done = subprocess.run(
        [sys.executable, __file__, "--contender", name, "--file", str(path)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def contend(name: str, path: Path) -> dict[str, float]:
    """The child side: time the pipeline, then report it with this process's peak RSS."""
    sys.path.insert(0, str(ROOT))
    start = time.perf_counter()
    lines, groups = PIPELINES[name](path)
    seconds = time.perf_counter() - start
    return {"lines": lines, "groups": groups, "seconds": seconds, "peak_mb": peak_rss_kib() / 1024}


def time_command(path: Path) -> float:
    """Wall time of `sitrep patterns --file PATH --format message --json`, start to exit."""
    command = [
        sys.executable,
        "-m",
        "sitrep",
        "patterns",
        "--file",
        str(path),
        "--format",
        "message",
        "--json",
    ]
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
    return time.perf_counter() - started


def peak_rss_kib() -> int:
    """Peak resident memory of this process since it started, plus that of every worker
    it ran (at most `WORKERS` at once; each counted at the largest one's peak).

    VmHWM first: `ru_maxrss` of a process started by fork and exec also counts the parent's
    memory at the fork, which here holds the whole source corpus."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = int(line.split()[1])
    except OSError:
        pass
    return own + WORKERS[0] * resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


WORKERS = [0]
"""Worker processes the contender used, set by the pipeline."""


def pipeline_read(path: Path) -> tuple[int, int]:
    lines = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line.strip()
            lines += 1
    return lines, 0


def pipeline_sitrep(path: Path, workers: int | None = None) -> tuple[int, int]:
    from sitrep.cli.file_mining import mine_file

    found = mine_file(path, workers=workers)
    WORKERS[0] = found.workers if found.workers > 1 else 0
    mining = found.mining
    return sum(mining.counts) + mining.overflow_count, len(mining.templates)


def pipeline_sitrep_one_process(path: Path) -> tuple[int, int]:
    return pipeline_sitrep(path, workers=1)


def pipeline_drain3(path: Path) -> tuple[int, int]:
    sys.path.insert(0, str(ROOT / "bench"))
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig
    from loghub_accuracy import drain3_example_masks

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.masking_instructions = drain3_example_masks()
    config.mask_prefix, config.mask_suffix = "<:", ":>"
    miner = TemplateMiner(config=config)
    add = miner.add_log_message
    started = time.perf_counter()
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            add(line.strip())
            if number % PROGRESS_EVERY == 0:
                rate = number / (time.perf_counter() - started)
                print(f"  drain3+masks: {number:,} lines, {rate:,.0f} lines/s", file=sys.stderr, flush=True)
    clusters = miner.drain.clusters
    return sum(c.size for c in clusters), len(clusters)


PIPELINES = {
    "read": pipeline_read,
    "sitrep": pipeline_sitrep,
    "sitrep-1proc": pipeline_sitrep_one_process,
    "drain3+masks": pipeline_drain3,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Prints lines/s and peak memory per contender and sitrep's speed-up over Drain3.",
    )
    parser.add_argument("--lines", type=int, default=1_000_000, help="messages to mine (default 1,000,000)")
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help=f"directory searched for Nezha *_log.csv files (default {DEFAULT_DATA})",
    )
    parser.add_argument(
        "--messages-only",
        action="store_true",
        help="drop each line's time, level, logger and trace ids: mine the messages alone",
    )
    parser.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.contender:
        print(json.dumps(contend(args.contender, args.file)))
        return 0

    with tempfile.TemporaryDirectory() as directory:
        print(f"building {args.lines:,} messages from {args.data} ...", file=sys.stderr, flush=True)
        path = build_corpus(args.data, args.lines, directory, args.messages_only)
        size = path.stat().st_size
        print(f"corpus: {args.lines:,} lines, {size / 1e6:,.0f} MB ({size / args.lines:,.0f} bytes a line)")
        results = {}
        for name in CONTENDERS:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = r = run_contender(name, path)
            print(
                f"{name:<13} {r['seconds']:8.2f} s  {r['lines'] / r['seconds']:>12,.0f} lines/s"
                f"  peak {r['peak_mb']:6.0f} MB  groups {int(r['groups']):,}",
                flush=True,
            )
        print("running the sitrep patterns command ...", file=sys.stderr, flush=True)
        command = time_command(path)
        print(f"{'sitrep patterns --file (command, start to exit)':<13} {command:8.2f} s")
    ratio = results["drain3+masks"]["seconds"] / results["sitrep"]["seconds"]
    print(f"sitrep is {ratio:.1f}x the speed of drain3+masks on the same lines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
