"""Transient/persistent labels, change labels and template stability on real logs.

    python bench/pattern_labels.py [--nezha ../shared/data/nezha-trainticket/2023-01-30]
                                   [--loghub ../shared/data/loghub-2k]

Nezha TrainTicket (2023-01-30, converted with scripts/nezha-to-ecs): for every injected fault,
error_patterns over the 10 minutes after the injection with a 30-minute baseline, once with
the default levels (error, fatal, critical) and once with every level, top=100; the labels
and change labels of the patterns returned are counted. Loghub 2k: each dataset's `Content`
column mined as one window; the label of every pattern is counted, by patterns and by lines.

Then how stable templates are: the Nezha lines are cut into windows (5 minutes of warn and
error lines of all services; 10 minutes of every line, per service), each window mined on its
own, and a distinct message counts as unstable when two windows gave it different templates.

Prints figures only; nothing is tuned to these data.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sitrep.analysis.error_summary import summarize_patterns  # noqa: E402 - after the path is set
from sitrep.analysis.patterns import mine_in_order  # noqa: E402
from sitrep.domain import MessageGroup  # noqa: E402
from sitrep.settings import FilesSource, Settings  # noqa: E402
from sitrep.tools.context import build_context  # noqa: E402
from sitrep.tools.logs import error_patterns  # noqa: E402

WINDOW = timedelta(minutes=10)
LOGHUB = ("HDFS", "OpenStack", "Apache", "Zookeeper", "Spark", "OpenSSH")
Line = tuple[float, str, str, str]


def convert(data: Path, out: Path) -> None:
    files = sorted((data / "baseline" / "log").glob("*.csv")) + sorted(
        (data / "faulty" / "log").glob("*.csv")
    )
    with out.open("w") as handle:
        command = [sys.executable, str(ROOT / "scripts" / "nezha-to-ecs"), "--minimal", *map(str, files)]
        subprocess.run(command, stdout=handle, stderr=subprocess.DEVNULL, check=True)


def read_lines(path: Path) -> list[Line]:
    lines = []
    with path.open() as handle:
        for raw in handle:
            doc = json.loads(raw)
            ts = datetime.fromisoformat(doc["@timestamp"].replace("Z", "+00:00")).timestamp()
            level = (doc.get("log") or {}).get("level", "")
            lines.append((ts, doc["service"]["name"], level, doc.get("message", "")))
    return sorted(lines)


def fault_times(data: Path) -> list[datetime]:
    listed = json.loads((data / "fault_list.json").read_text())
    return sorted(
        datetime.fromisoformat(f["inject_time"]).replace(tzinfo=UTC) for h in listed.values() for f in h
    )


def nezha_labels(data: Path, logs: Path, lines: list[Line]) -> None:
    now = datetime.fromtimestamp(lines[-1][0], tz=UTC) + timedelta(hours=1)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(config_path=Path(tmp) / "none.toml", files=FilesSource(paths=[str(logs)]))
        ctx = build_context(settings, clock=lambda: now, cwd=Path(tmp))
        for name, levels in (("error levels", ["error", "fatal", "critical"]), ("all levels", ["all"])):
            labels: Counter[str] = Counter()
            changes: Counter[str] = Counter()
            signals: Counter[str] = Counter()
            gone = 0
            for at in fault_times(data):
                result = error_patterns(
                    ctx,
                    since=at.isoformat(),
                    until=(at + WINDOW).isoformat(),
                    levels=levels,
                    baseline="30m",
                    top=100,
                )
                labels.update(p.label for p in result.patterns)
                changes.update(str(getattr(p, "change", "n/a")) for p in result.patterns)
                signals.update(_signal_kind(p.signal) for p in result.patterns)
                gone += len(getattr(result, "gone", []))
            print(f"Nezha, 17 faults, {name}: {sum(labels.values())} patterns returned")
            print(f"  labels  {_shares(labels)}")
            print(f"  decided {_shares(signals)}")
            print(f"  change  {_shares(changes)}; gone listed: {gone}")


def _signal_kind(signal: str | None) -> str:
    if signal is None:
        return "none"
    if signal.startswith("timing:"):
        return "timing"
    if signal.startswith("default:"):
        return "default"
    return "text"


def _shares(counts: Counter[str]) -> str:
    total = sum(counts.values()) or 1
    return ", ".join(f"{k} {n} ({100 * n / total:.0f}%)" for k, n in counts.most_common())


def loghub_labels(data: Path) -> None:
    print("Loghub 2k, each dataset one window (patterns / lines):")
    for dataset in LOGHUB:
        path = data / dataset / f"{dataset}_2k.log_structured.csv"
        with path.open(newline="") as handle:
            contents = [row["Content"] for row in csv.DictReader(handle)]
        groups = ((0, MessageGroup(c, 1, float(i), float(i), {dataset: 1})) for i, c in enumerate(contents))
        summary = summarize_patterns(groups, current=0)
        by_pattern = Counter(p.label for p in summary.patterns)
        by_line: Counter[str] = Counter()
        for p in summary.patterns:
            by_line[p.label] += p.count
        print(f"  {dataset:<10} {_shares(by_pattern)}  |  lines: {_shares(by_line)}")


def stability(lines: list[Line]) -> None:
    def run(name: str, key: Callable[[Line], str | None], seconds: float) -> None:
        templates: dict[str, set[str]] = defaultdict(set)
        weight: Counter[str] = Counter()
        windows: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
        for line in lines:
            k = key(line)
            if k is not None:
                windows[(k, int(line[0] // seconds))][line[3]] += 1
        for messages in windows.values():
            distinct = list(messages)
            mining, indexes = mine_in_order(distinct)
            for message, index in zip(distinct, indexes, strict=True):
                templates[message].add(mining.templates[index].template)
                weight[message] += messages[message]
        unstable = [m for m, t in templates.items() if len(t) > 1]
        print(
            f"  {name}: {len(windows)} windows, {len(unstable)} of {len(templates)} distinct messages "
            "unstable "
            f"({sum(weight[m] for m in unstable)} of {sum(weight.values())} lines)"
        )

    print("Template stability, Nezha, each window mined alone:")
    run("warn+error, all services, 5 min", lambda line: "all" if line[2] in {"warn", "error"} else None, 300)
    run("every level, per service, 10 min", lambda line: line[1], 600)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    shared = ROOT.parent / "shared" / "data"
    parser.add_argument("--nezha", type=Path, default=shared / "nezha-trainticket" / "2023-01-30")
    parser.add_argument("--loghub", type=Path, default=shared / "loghub-2k")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp) / "nezha.jsonl"
        convert(args.nezha, logs)
        lines = read_lines(logs)
        nezha_labels(args.nezha, logs, lines)
    loghub_labels(args.loghub)
    stability(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
