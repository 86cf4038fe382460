"""Root-cause ranking on Nezha TrainTicket's injected faults: what_changed against two baselines.

    python bench/nezha_rca.py [--data ../shared/data/nezha-trainticket/2023-01-30]

Converts the day's log CSVs (faulty and fault-free) with scripts/nezha-to-ecs into a temporary
file, then for every fault in fault_list.json calls what_changed(at=<inject time>) with its
defaults (10 min after, 30 min before, no configuration beyond the file's path) and records
the rank of the faulty service (inject_pod without its replica suffix) and its strongest
signal. The conversion keeps the lines' TraceID and SpanID, so the trace time is judged too.
Beside it, in the same run and over the same windows, two baselines:

  errors     services ranked by ERROR lines in the 10 minutes after the injection;
  new-tmpl   services ranked by digit-masked message templates seen in those 10 minutes and
             not in the 30 minutes before.

A baseline ranks by strict count: services tied with the faulty one count against it, and a
count of zero gives no rank. Prints top-1 and top-3 overall and per fault type, what_changed's
answer sizes and times. With --config naming a Prometheus (issue 11) its metrics are judged too.
Nothing here is tuned to this day: the tool runs with its defaults.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sitrep.results import as_json  # noqa: E402 - after the path is set
from sitrep.settings import FilesSource, Settings, load_settings  # noqa: E402
from sitrep.tools.context import build_context  # noqa: E402
from sitrep.tools.what_changed import what_changed  # noqa: E402

WINDOW = timedelta(minutes=10)
BASELINE = timedelta(minutes=30)
DIGITS = re.compile(r"\d+")


def service_of(pod: str) -> str:
    return pod.rsplit("-", 2)[0]


def faults(data: Path) -> list[tuple[datetime, str, str]]:
    listed = json.loads((data / "fault_list.json").read_text())
    found = [
        (
            # inject_time is UTC (the data's README); inject_timestamp disagrees with it by a
            # minute for some faults, and the log minute files follow inject_time
            datetime.fromisoformat(f["inject_time"]).replace(tzinfo=UTC),
            service_of(f["inject_pod"]),
            f["inject_type"],
        )
        for hour in listed.values()
        for f in hour
    ]
    return sorted(found)


def convert(data: Path, out: Path) -> None:
    files = sorted((data / "baseline" / "log").glob("*.csv")) + sorted(
        (data / "faulty" / "log").glob("*.csv")
    )
    with out.open("w") as handle:
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "nezha-to-ecs"), "--minimal", *map(str, files)],
            stdout=handle,
            check=True,
        )


def read_lines(path: Path) -> list[tuple[float, str, str, str]]:
    lines = []
    with path.open() as handle:
        for raw in handle:
            doc = json.loads(raw)
            ts = datetime.fromisoformat(doc["@timestamp"].replace("Z", "+00:00")).timestamp()
            level = (doc.get("log") or {}).get("level", "")
            lines.append((ts, doc["service"]["name"], level, doc.get("message", "")))
    return lines


def strict_rank(scores: Counter[str], target: str) -> int | None:
    mine = scores.get(target, 0)
    if mine <= 0:
        return None
    return 1 + sum(1 for value in scores.values() if value > mine)


def baselines(
    lines: list[tuple[float, str, str, str]], at: float, target: str
) -> tuple[int | None, int | None]:
    errors: Counter[str] = Counter()
    before: dict[str, set[str]] = defaultdict(set)
    after: dict[str, set[str]] = defaultdict(set)
    for ts, service, level, message in lines:
        if at <= ts < at + WINDOW.total_seconds():
            errors[service] += level == "error"
            after[service].add(DIGITS.sub("0", message))
        elif at - BASELINE.total_seconds() <= ts < at:
            before[service].add(DIGITS.sub("0", message))
    new = Counter({service: len(shapes - before[service]) for service, shapes in after.items()})
    return strict_rank(errors, target), strict_rank(new, target)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared" / "data" / "nezha-trainticket" / "2023-01-30"
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="a sitrep configuration naming a metrics source (e.g. examples/nezha/sitrep.toml with its "
        "Prometheus loaded): its [files] are replaced by the converted logs",
    )
    args = parser.parse_args()
    listed = faults(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp) / "nezha.jsonl"
        convert(args.data, logs)
        lines = read_lines(logs)
        now = datetime.fromtimestamp(max(ts for ts, *_ in lines), tz=UTC) + timedelta(hours=1)
        files = FilesSource(paths=[str(logs)])
        if args.config is not None:
            settings = load_settings(args.config).model_copy(update={"files": files})
        else:
            settings = Settings(config_path=Path(tmp) / "none.toml", files=files)
        ctx = build_context(settings, clock=lambda: now, cwd=Path(tmp))
        rows = []
        for at, target, kind in listed:
            started = time.perf_counter()
            result = what_changed(ctx, at=at.isoformat())
            seconds = time.perf_counter() - started
            ranked = [s.service for s in result.services]
            ours = ranked.index(target) + 1 if target in ranked else None
            errors, new = baselines(lines, at.timestamp(), target)
            found = next((s for s in result.services if s.service == target), None)
            why = found.signals[0].signal if found is not None and found.signals else "-"
            rows.append((at, target, kind, ours, errors, new, len(as_json(result)), seconds, ranked[:3], why))
    report(rows, "logs and metrics" if getattr(ctx.sources, "metrics", None) else "logs only")
    return 0


def report(rows: list[tuple], signals: str) -> None:  # type: ignore[type-arg]
    print(
        f"{'inject (UTC)':<20} {'faulty service':<32} {'type':<15} {'ours':>5} {'errors':>6} {'new-tmpl':>8}"
        f"  chars  secs  {'its strongest signal':<20}  our top 3"
    )
    for at, target, kind, ours, errors, new, chars, seconds, top, why in rows:
        print(
            f"{at:%Y-%m-%d %H:%M:%S} {target:<32} {kind:<15} {_r(ours):>5} {_r(errors):>6} {_r(new):>8}"
            f"  {chars:>5} {seconds:>5.1f}  {why:<20}  {', '.join(top) or '-'}"
        )
    print()
    groups: dict[str, list[tuple]] = defaultdict(list)  # type: ignore[type-arg]
    for row in rows:
        groups["all"].append(row)
        groups[row[2]].append(row)
    print(
        f"{'faults':<16} {'n':>3}  {'what_changed top1/top3':>22}  {'errors top1/top3':>17}"
        f"  {'new-tmpl top1/top3':>19}"
    )
    for name, members in groups.items():
        cells = [_share(members, column) for column in (3, 4, 5)]
        print(f"{name:<16} {len(members):>3}  {cells[0]:>22}  {cells[1]:>17}  {cells[2]:>19}")
    sizes = sorted(row[6] for row in rows)
    times = sorted(row[7] for row in rows)
    print(
        f"\nwhat_changed answers: median {sizes[len(sizes) // 2]} chars (max {sizes[-1]}); "
        f"median {times[len(times) // 2]:.1f} s (max {times[-1]:.1f} s) per call; signals: {signals}."
    )


def _r(rank: int | None) -> str:
    return "-" if rank is None else str(rank)


def _share(rows: list[tuple], column: int) -> str:  # type: ignore[type-arg]
    n = len(rows)
    top1 = sum(1 for row in rows if row[column] == 1)
    top3 = sum(1 for row in rows if row[column] is not None and row[column] <= 3)
    return f"{top1}/{n} {100 * top1 / n:.0f}% {top3}/{n} {100 * top3 / n:.0f}%"


if __name__ == "__main__":
    sys.exit(main())
