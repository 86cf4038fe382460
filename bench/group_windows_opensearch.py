"""What one what_changed (and incident_timeline) call costs on OpenSearch when the logs are
sparse: requests, searches sent, seconds per call, with the message groups asked for every
window of the grid (as before) and only for the windows that hold lines (a count first).

Three data sets, each indexed into the node at OPENSEARCH_URL under its own throwaway name:
the generated-call test's hostile incident (a line every 7 minutes: the finest 5 s grid,
~480 windows), the demo incident (dense) and the Nezha TrainTicket fixture (real logs, every
faulty minute). Both ways must give the same answers (checked, and printed).

The old way is kept to a 40-minute what_changed (~480 windows): asked of a longer one
(window 1h, baseline 6h: ~5,000 windows in one _msearch) it ran a 512 MB development node
out of heap, which is the cost this change removes.

    OPENSEARCH_URL=http://127.0.0.1:9200 .venv/bin/python bench/group_windows_opensearch.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402 - after the path is set

from sitrep.demo import build_demo  # noqa: E402
from sitrep.settings import OpenSearchSettings, Settings, load_settings  # noqa: E402
from sitrep.sources import opensearch  # noqa: E402
from sitrep.sources.opensearch_client import ReadOnlyClient  # noqa: E402
from sitrep.tools.context import ToolContext, build_context  # noqa: E402
from sitrep.tools.timeline import incident_timeline  # noqa: E402
from sitrep.tools.what_changed import what_changed  # noqa: E402
from tests.gitrepo import NOW  # noqa: E402
from tests.hostile import build_hostile_incident  # noqa: E402
from tests.integration.cluster import Cluster, read_ndjson  # noqa: E402

NEZHA = ROOT / "tests" / "fixtures" / "nezha" / "trainticket-2023-01-30-faults.jsonl.gz"
NEZHA_NOW = datetime(2023, 1, 30, 15, tzinfo=UTC)
NEZHA_FAULTS = (
    "2023-01-30T11:59:21Z",
    "2023-01-30T12:44:36Z",
    "2023-01-30T13:30:52Z",
    "2023-01-30T14:08:19Z",
)
EVERY_WINDOW = 10**9
"""`_COUNT_FIRST_OVER` that never counts first: every window asked for its groups, as before."""


@contextmanager
def searches_sent() -> Iterator[list[int]]:
    """Count the searches each request carries (an _msearch carries many)."""
    sent: list[int] = []
    post, msearch = ReadOnlyClient.post, ReadOnlyClient.msearch

    def counted_post(self: ReadOnlyClient, *args: Any, **kwargs: Any) -> Any:
        sent.append(1)
        return post(self, *args, **kwargs)

    def counted_msearch(
        self: ReadOnlyClient, searches: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> Any:
        sent.append(len(searches))
        return msearch(self, searches, *args, **kwargs)

    ReadOnlyClient.post, ReadOnlyClient.msearch = counted_post, counted_msearch  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        ReadOnlyClient.post, ReadOnlyClient.msearch = post, msearch  # type: ignore[method-assign]


@contextmanager
def counting_first(over: int) -> Iterator[None]:
    saved = opensearch._COUNT_FIRST_OVER
    opensearch._COUNT_FIRST_OVER = over
    try:
        yield
    finally:
        opensearch._COUNT_FIRST_OVER = saved


def measure(ctx: ToolContext, call: Callable[[], BaseModel], repeat: int) -> tuple[str, float, int, int]:
    call()  # the field map and services are cached after a first call
    seconds = []
    with searches_sent() as sent:
        for _ in range(repeat):
            started = time.perf_counter()
            answer = call()
            seconds.append(time.perf_counter() - started)
    return (
        json.dumps(answer.model_dump(mode="json"), sort_keys=True),
        statistics.median(seconds),
        len(sent) // repeat,
        sum(sent) // repeat,
    )


def on_opensearch(settings: Settings, url: str, index: str, now: datetime) -> ToolContext:
    # Timeouts wide enough for every window's search to finish on a busy machine.
    found = OpenSearchSettings(url=url, index=index, timeout_seconds=60)
    update = {"files": None, "opensearch": found, "deadline_seconds": 300}
    return build_context(settings.model_copy(update=update), clock=lambda: now)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200"))
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    cluster = Cluster(options.url)
    failed = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            hostile = build_hostile_incident(Path(tmp) / "hostile")
            demo = build_demo(Path(tmp) / "demo", now=NOW)
            base = Settings(config_path=Path(tmp) / "nezha.toml")
            cases: list[tuple[str, ToolContext, Callable[[ToolContext], BaseModel]]] = []
            index = cluster.index("bench-hostile", read_ndjson(*hostile.log_dir.glob("*.jsonl")), shards=2)
            ctx = on_opensearch(load_settings(hostile.config_path), options.url, index, NOW)
            cases += [
                ("hostile what_changed at=2h", ctx, lambda c: what_changed(c, at="2h")),
                ("hostile what_changed default at", ctx, what_changed),
                ("hostile incident_timeline 6h", ctx, lambda c: incident_timeline(c, since="6h")),
            ]
            index = cluster.index(
                "bench-demo", read_ndjson(*sorted((demo.directory / "logs").glob("*.jsonl"))), shards=2
            )
            ctx = on_opensearch(load_settings(demo.config_path), options.url, index, NOW)
            bad = next(d for d in demo.deploys if d.sha == demo.bad_sha).deployed_at.isoformat()
            cases += [
                ("demo what_changed at bad deploy", ctx, lambda c: what_changed(c, at=bad)),
                ("demo incident_timeline 6h", ctx, lambda c: incident_timeline(c, since="6h")),
            ]
            index = cluster.index("bench-nezha", read_ndjson(NEZHA))
            ctx = on_opensearch(base, options.url, index, NEZHA_NOW)
            cases += [
                (f"nezha what_changed at={at[11:16]}", ctx, lambda c, at=at: what_changed(c, at=at))  # type: ignore[misc]
                for at in NEZHA_FAULTS
            ]
            print(f"{'call':36} {'way':14} {'s/call':>7} {'requests':>8} {'searches':>8}  same answer")
            for label, ctx, call in cases:
                with counting_first(EVERY_WINDOW):
                    old = measure(ctx, lambda: call(ctx), options.repeat)  # noqa: B023
                new = measure(ctx, lambda: call(ctx), options.repeat)  # noqa: B023
                same = old[0] == new[0]
                failed += not same
                for way, (_, seconds, requests, searches) in (("every window", old), ("lines first", new)):
                    said = "yes" if same else "NO"
                    print(f"{label:36} {way:14} {seconds:7.3f} {requests:8} {searches:8}  {said}")
    finally:
        cluster.close()
    if failed:
        sys.exit(f"{failed} call(s) answered differently")


if __name__ == "__main__":
    main()
