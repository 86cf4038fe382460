"""scripts/nezha-to-ecs: a corrupt row is skipped and counted; rows repeated across files once."""

import csv
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "nezha-to-ecs"
HEADER = ["Timestamp", "TimeUnixNano", "Node", "PodName", "Container", "TraceID", "SpanID", "Log"]


def row(ts: str, text: str) -> list[str]:
    line = f"19:50:59.971 INFO  t.s.TravelServiceImpl#457 TraceID: abc SpanID: def {text}\n"
    return [
        ts,
        "0",
        "node",
        "ts-travel-service-64469b5b48-5rjvb",
        "c",
        "abc",
        "def",
        json.dumps({"log": line}),
    ]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_corrupt_rows_are_skipped_and_repeats_dropped(tmp_path: Path) -> None:
    first = write(
        tmp_path / "11_50_log.csv", [row("2023-01-30T11:50:59.1Z", "a"), row("2023-01-30T11:50:59.9Z", "b")]
    )
    broken = row("2023-01-30T11:51:00.5Z", "c")
    broken[-1] = '{"log": "unterminated'
    second = write(
        tmp_path / "11_51_log.csv",
        [
            row("2023-01-30T11:50:59.9Z", "b"),
            broken,
            row("2023-01-30T11:51:01Z", "d"),
            row("2023-01-30T11:51:01Z", "d"),
        ],
    )
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(first), str(second)], capture_output=True, text=True, check=True
    )
    docs = [json.loads(line) for line in done.stdout.splitlines()]
    assert [d["message"].split()[-1] for d in docs] == [
        "a",
        "b",
        "d",
        "d",
    ]  # a repeat within one file is real
    assert docs[0]["service"] == {"name": "ts-travel-service"}
    assert "skipped 1 corrupt row(s), dropped 1 row(s) repeated" in done.stderr
