"""sitrep's local-file source at scale: every log tool over one large NDJSON file, beside
`cat`, `rg -c` and a plain Python line loop over the same file, in the same run.

    python bench/files_scale.py [DIR] [--lines 5000000] [--tools a,b] [--deadline 20]

Generates (or reuses, if present) `DIR/app-<lines>.jsonl`: `--lines` time-ordered ECS NDJSON
lines over 72 hours (~500 bytes a line; eight services; access lines with status and
duration, plain log lines at every level; timestamps up to 2 s out of order, as several
writers produce), a gzip copy `DIR/gz-<lines>/app.jsonl.gz`, and a deploy log. Checkout's last
deploy, 45 minutes before the end, is bad: new error templates, more 5xx, slower requests.
DIR defaults to a directory under the system's temp dir (outside the repository); generating
5M lines takes a few minutes, so files already there are reused.

Each tool runs in its own subprocess, as the MCP server runs it: inside a tool call with the
default deadline (`--deadline`, 20 s), the clock set to the end of the file. For each it
prints wall time, CPU time (user + system) and peak RSS of that subprocess (os.wait4), and
what the answer said (totals, whether it was cut by the deadline). Progress goes to stderr,
the table to stdout.

Goals (issue 14), on the 5M file: search_logs and error_patterns over 1 h within 2x `rg -c`
over the whole file; every tool under the deadline with a complete answer; 24 h windows
within 10x `cat`; peak RSS under 200 MB for every tool.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
SPAN = timedelta(hours=72)
SERVICES = ("checkout", "payments", "cart", "search", "users", "inventory", "shipping", "gateway")
BAD_DEPLOY = NOW - timedelta(minutes=45)
SEARCH_TERM = "discount_code"
ROUTES = ("GET /api/{s}/{n}", "POST /api/{s}/{n}/items", "GET /api/{s}?page={p}", "PUT /api/{s}/{n}")
ERRORS = (
    "Timeout after {ms} ms calling {dep}",
    "Connection refused: {dep}:{port}",
    "Request {id} failed: upstream returned 503",
    "Database pool exhausted (max 50, waiting {w})",
    "Rate limited by {dep}",
)
NEW_ERRORS = (
    'column "discount_code" does not exist in relation orders (order {n})',
    "NullPointerException in DiscountService.apply for cart {n}",
)
PLAIN = (
    ("info", "Cache warmed with {n} entries"),
    ("info", "Scheduled job {job} finished in {ms} ms"),
    ("debug", "Config reloaded from /etc/{s}/app.yaml"),
    ("warn", "Slow query took {ms} ms: SELECT * FROM {s} WHERE id = ?"),
    ("warn", "Retrying {dep} after {ms} ms (attempt {a})"),
    ("error", "Failed to publish event {id} to kafka topic {s}-events"),
)
DEPENDENCIES = ("postgres", "redis", "kafka", "payments-api", "inventory-api", "s3")
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4) Mobile/15E148",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
)
TOOLS = (
    ("search_logs 1h", "search_logs", {"query": SEARCH_TERM, "since": "1h"}),
    ("error_patterns 1h", "error_patterns", {"since": "1h"}),
    ("error_patterns 24h", "error_patterns", {"since": "24h"}),
    ("deploy_health", "deploy_health", {"service": "checkout"}),
    ("rollback_candidates", "rollback_candidates", {"service": "checkout"}),
    ("incident_timeline 6h", "incident_timeline", {"since": "6h"}),
    ("sources_status", "sources_status", {}),
)


@dataclass(frozen=True)
class Deploy:
    service: str
    version: str
    at: datetime


def deploys() -> list[Deploy]:
    """Every service deploys every 5-9 hours; checkout's last deploy is the bad one."""
    rng = random.Random(11)
    found = []
    for service in SERVICES:
        moment = NOW - SPAN - timedelta(hours=rng.uniform(1, 4))
        version = 1
        while moment < NOW - timedelta(hours=2):
            found.append(Deploy(service, f"v1.{version}.0", moment))
            moment += timedelta(hours=rng.uniform(5, 9))
            version += 1
        if service == "checkout":
            found.append(Deploy(service, f"v1.{version}.0", BAD_DEPLOY))
    return sorted(found, key=lambda d: d.at)


def generate(path: Path, total: int, seed: int = 5) -> None:
    """`total` NDJSON lines over SPAN, in time order but for up to 2 s of jitter."""
    rng = random.Random(seed)
    start = (NOW - SPAN).timestamp()
    step = SPAN.total_seconds() / total
    bad_at = BAD_DEPLOY.timestamp()
    versions = {d.service: d.version for d in deploys()}
    tmp = path.with_suffix(".part")
    with tmp.open("w", buffering=1 << 20) as out:
        for i in range(total):
            ts = min(start + i * step + rng.uniform(-2.0, 0.0), NOW.timestamp() - 0.001)
            service = SERVICES[rng.randrange(len(SERVICES))]
            bad = service == "checkout" and ts >= bad_at
            stamp = datetime.fromtimestamp(max(ts, start), UTC).isoformat(timespec="milliseconds")
            out.write(_line(rng, stamp[:-6] + "Z", service, bad, versions[service]))
            if i and i % 500_000 == 0:
                print(f"  generated {i:,} of {total:,} lines", file=sys.stderr)
    tmp.replace(path)


def _line(rng: random.Random, stamp: str, service: str, bad: bool, version: str) -> str:
    host = f"{service}-{rng.getrandbits(20):05x}"
    trace = f"{rng.getrandbits(128):032x}"
    common = (
        f'"service":{{"name":"{service}","version":"{version}","environment":"production"}},'
        f'"host":{{"name":"{host}"}},"trace":{{"id":"{trace}"}}'
    )
    if rng.random() < 0.85:
        failing = rng.random() < (0.25 if bad else 0.01)
        duration_ns = int(rng.lognormvariate(3.8 + (0.8 if bad else 0.0), 0.5) * 1e6)
        route = rng.choice(ROUTES).format(s=service, n=rng.randrange(10**6), p=rng.randrange(20))
        method, path = route.split(" ", 1)
        status = 503 if failing else rng.choice((200, 200, 200, 201, 404))
        level = "error" if failing else "info"
        if failing:
            message = _fill(rng.choice(NEW_ERRORS if bad and rng.random() < 0.8 else ERRORS), rng, service)
        else:
            message = f"{route} {status}"
        return (
            f'{{"@timestamp":"{stamp}","log":{{"level":"{level}","logger":"{service}.http"}},{common},'
            f'"http":{{"request":{{"method":"{method}"}},"response":{{"status_code":{status},'
            f'"body":{{"bytes":{rng.randrange(100, 90000)}}}}}}},"url":{{"path":{json.dumps(path)}}},'
            f'"client":{{"ip":"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"}},'
            f'"user_agent":{{"original":"{rng.choice(AGENTS)}"}},'
            f'"event":{{"duration":{duration_ns},"dataset":"{service}.access"}},'
            f'"message":{json.dumps(message)}}}\n'
        )
    level, template = rng.choice(PLAIN)
    message = _fill(template, rng, service)
    return (
        f'{{"@timestamp":"{stamp}","log":{{"level":"{level}","logger":"{service}.app",'
        f'"origin":{{"file":{{"name":"{service}/worker.py","line":{rng.randrange(40, 900)}}}}}}},'
        f'{common},"process":{{"pid":{rng.randrange(100, 60000)},'
        f'"thread":{{"name":"worker-{rng.randrange(16)}"}}}},"event":{{"dataset":"{service}.app"}},'
        f'"labels":{{"region":"eu-west-1","zone":"eu-west-1{rng.choice("abc")}"}},'
        f'"message":{json.dumps(message)}}}\n'
    )


def _fill(template: str, rng: random.Random, service: str) -> str:
    return template.format(
        ms=rng.choice((250, 500, 1000, 2000, 5000)),
        dep=rng.choice(DEPENDENCIES),
        port=rng.choice((5432, 6379, 9092)),
        id=f"{rng.getrandbits(48):012x}",
        w=rng.randrange(1, 40),
        n=rng.randrange(10**5),
        s=service,
        job=rng.choice(("cleanup", "reindex", "report")),
        a=rng.randrange(1, 4),
    )


def prepare(directory: Path, total: int) -> tuple[Path, Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    plain = directory / f"app-{total}.jsonl"
    packed = directory / f"gz-{total}" / "app.jsonl.gz"
    deploy_log = directory / "deploys.jsonl"
    if not plain.exists():
        print(f"generating {plain} ({total:,} lines)", file=sys.stderr)
        started = time.perf_counter()
        generate(plain, total)
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if not packed.exists():
        print(f"compressing {packed}", file=sys.stderr)
        packed.parent.mkdir(exist_ok=True)
        tmp = packed.with_suffix(".part")
        if shutil.which("gzip"):
            with tmp.open("wb") as out:
                subprocess.run(["gzip", "-1", "-c", str(plain)], stdout=out, check=True)
        else:
            with plain.open("rb") as source, gzip.open(tmp, "wb", compresslevel=1) as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        tmp.replace(packed)
    deploy_log.write_text(
        "".join(
            json.dumps({"timestamp": d.at.isoformat(), "service": d.service, "version": d.version}) + "\n"
            for d in deploys()
        )
    )
    return plain, packed, deploy_log


# -- one tool call, in a child process ---------------------------------------------------------
def run_tool(log: str, deploy_log: str, tool_name: str, arguments: dict[str, Any], deadline: float) -> None:
    """The child: one tool call as the server makes it, then a one-line JSON account."""
    from sitrep.deadline import tool_call
    from sitrep.settings import DeployLogSource, FilesSource, Settings
    from sitrep.tools import READ_TOOLS
    from sitrep.tools.binding import tool_arguments
    from sitrep.tools.context import build_context
    from sitrep.tools.output import with_sources_not_ok

    settings = Settings(
        config_path=Path(deploy_log).parent / "sitrep.toml",
        deploy_log=DeployLogSource(path=Path(deploy_log)),
        files=FilesSource(paths=[log], service="app"),
        deadline_seconds=deadline,
    )
    tool = next(t for t in READ_TOOLS if t.__name__ == tool_name)
    ctx = build_context(settings, clock=lambda: NOW)
    started = time.perf_counter()
    # As the server calls a tool (cli.main.call_tool would open a call of its own, without
    # the deadline).
    with tool_call(tool_name, deadline) as call:
        result = with_sources_not_ok(tool(ctx, **tool_arguments(tool).validate(arguments)), call.not_ok)
    elapsed = time.perf_counter() - started
    print(
        json.dumps({"inner": elapsed, "timed_out": call.timed_out, "answer": describe(result.model_dump())})
    )


def describe(data: dict[str, Any]) -> str:  # noqa: PLR0911 - one line per result kind
    notes = [n for n in data.get("notes", []) if "deadline" in n or "stopped" in n or "cover" in n]
    cut = " CUT" if notes else ""
    if "patterns" in data:
        new = sum(1 for p in data["patterns"] if p.get("new"))
        return f"total {data['total']:,}, {len(data['patterns'])} patterns ({new} new){cut}"
    if "lines" in data:
        return f"total {data['total']:,}, {len(data['lines'])} lines{cut}"
    if "windows" in data:
        latest = data["windows"][0] if data["windows"] else {}
        return (
            f"{len(data['windows'])} windows; latest {latest.get('verdict')} p95 {latest.get('p95_ms')}{cut}"
        )
    if "candidates" in data:
        top = data["candidates"][0] if data["candidates"] else {"version": None, "verdict": "-"}
        return f"current {data['current']['health']['verdict']}; top {top['version']} ({top['verdict']}){cut}"
    if "events" in data:
        return f"{len(data['events'])} events{cut}"
    if "sources" in data:
        return f"{len(data['services'])} services; " + "; ".join(s["detail"][:60] for s in data["sources"])
    return "?"


@dataclass
class Row:
    name: str
    wall: float
    cpu: float
    rss_mb: float
    answer: str


def measure(name: str, argv: list[str], *, stdout_is_answer: bool = False) -> Row:
    # The child imports sitrep from this checkout, whatever is installed.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert child.stdout is not None and child.stderr is not None
    out = child.stdout.read()
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):  # grep and rg say 1 when nothing matched
        print(err.decode(errors="replace")[-2000:], file=sys.stderr)
        answer = f"FAILED (exit {child.returncode})"
    elif stdout_is_answer:
        text = out.decode(errors="replace").strip()
        try:
            answer = json.loads(text.splitlines()[-1])["answer"]
        except (ValueError, KeyError, IndexError):
            answer = text[-120:]
    else:
        answer = out.decode(errors="replace").strip()[-60:]
    return Row(name, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, answer)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "directory", nargs="?", type=Path, default=Path(tempfile.gettempdir()) / "sitrep-files-bench"
    )
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--tools", help="comma-separated row names to run (default: all)")
    parser.add_argument(
        "--deadline", type=float, default=20.0, help="the tool call's deadline (default 20 s)"
    )
    parser.add_argument("--no-gz", action="store_true", help="skip the rows over the gzip copy")
    parser.add_argument("--run", nargs=4, metavar=("LOG", "DEPLOYS", "TOOL", "ARGS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        log, deploy_log, tool, arguments = args.run
        run_tool(log, deploy_log, tool, json.loads(arguments), args.deadline)
        return 0

    plain, packed, deploy_log = prepare(args.directory, args.lines)
    python = sys.executable
    rows: list[Row] = []
    wanted = set(args.tools.split(",")) if args.tools else None

    def tool_row(label: str, log: Path, tool: str, arguments: dict[str, Any]) -> None:
        if wanted is not None and label not in wanted:
            return
        print(f"running {label}", file=sys.stderr)
        argv = [python, __file__, "--deadline", str(args.deadline), "--run", str(log), str(deploy_log), tool,
                json.dumps(arguments)]  # fmt: skip
        rows.append(measure(label, argv, stdout_is_answer=True))

    # The peers first, so that the file is in the page cache for everyone alike.
    rows.append(measure("cat", ["sh", "-c", f"cat '{plain}' > /dev/null"]))
    rows.append(measure("cat", ["sh", "-c", f"cat '{plain}' > /dev/null"]))
    rows.pop(0)  # the first read warms the cache
    counter = ["rg", "-c", SEARCH_TERM] if shutil.which("rg") else ["grep", "-c", SEARCH_TERM]
    rows.append(measure(f"{counter[0]} -c {SEARCH_TERM}", [*counter, str(plain)]))
    loop = f"n = 0\nfor line in open({str(plain)!r}, 'rb'):\n    n += 1\nprint(n)"
    rows.append(measure("python line loop", [python, "-c", loop]))
    for label, tool, arguments in TOOLS:
        tool_row(label, plain, tool, arguments)
    if not args.no_gz:
        rows.append(measure("zcat (gz)", ["sh", "-c", f"gzip -dc '{packed}' > /dev/null"]))
        for label, tool, arguments in TOOLS[:3]:
            tool_row(f"{label} (gz)", packed.parent / "*.gz", tool, arguments)

    size = plain.stat().st_size
    print(f"{args.lines:,} lines, {size / 1e9:.2f} GB ({size / args.lines:.0f} bytes a line), 72 h; "
          f"gzip copy {packed.stat().st_size / 1e9:.2f} GB; deadline {args.deadline:g} s")  # fmt: skip
    print(f"{'what':26} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12}  answer")
    for row in rows:
        print(f"{row.name:26} {row.wall:8.2f} {row.cpu:8.2f} {row.rss_mb:12.0f}  {row.answer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
