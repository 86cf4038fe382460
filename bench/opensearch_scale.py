"""sitrep's OpenSearch source at scale: error_patterns and rollback_candidates over a million
synthetic ECS log documents in a real node.

    scripts/opensearch-dev stop
    OPENSEARCH_JAVA_OPTS="-Xms2g -Xmx2g" scripts/opensearch-dev start
    python bench/opensearch_scale.py [--docs 1000000] [--url http://127.0.0.1:9200] [--keep]

Indexes `--docs` documents (48 hours of eight services: request lines with status and
duration, and plain log lines at every level) with this script's own `_bulk` loader, and a
deploy log beside them. Every service deploys every few hours; checkout's last deploy, 45
minutes before the end, is bad: new error templates, more 5xx and slower requests. With
`--keep` an index that already holds the documents is reused.

Then, for error_patterns over the last 1 h and 24 h (each against the 24 h before it) and for
rollback_candidates of checkout, it prints the median wall time of 5 runs (after one warm-up;
the cluster's request cache is cleared before each run so that no answer is served from
it) beside the time of the raw OpenSearch requests sitrep issued during those runs — measured
at the client (sent to decoded) and as the server's own `took` — the bytes fetched from the
cluster, and the size of the tool's output. Progress goes to stderr, the table to stdout.

Goal: error_patterns over 1M documents in ≤ 1 s median, and ≤ 2x its own raw requests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from sitrep.settings import DeployLogSource, OpenSearchSettings, Settings
from sitrep.tools.context import ToolContext, build_context
from sitrep.tools.health import rollback_candidates
from sitrep.tools.logs import error_patterns

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
SPAN = timedelta(hours=48)
CHUNK = 5_000
RUNS = 5
SERVICES = ("checkout", "payments", "cart", "search", "users", "inventory", "shipping", "gateway")
BAD_DEPLOY = NOW - timedelta(minutes=45)
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


@dataclass(frozen=True)
class Deploy:
    service: str
    version: str
    at: datetime
    bad: bool = False


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
            found.append(Deploy(service, f"v1.{version}.0", BAD_DEPLOY, bad=True))
    return sorted(found, key=lambda d: d.at)


def documents(total: int, seed: int = 5) -> Iterator[str]:
    """`total` documents as NDJSON bulk pairs, in time order."""
    rng = random.Random(seed)
    start = (NOW - SPAN).timestamp()
    step = SPAN.total_seconds() / total
    action = '{"index":{}}'
    for i in range(total):
        ts = start + i * step + rng.random() * step
        service = SERVICES[i % len(SERVICES)]
        bad = service == "checkout" and ts >= BAD_DEPLOY.timestamp()
        document = request(rng, service, bad) if rng.random() < 0.85 else plain(rng, service)
        stamp = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        document = {"@timestamp": stamp, "service": {"name": service}, **document}
        yield action + "\n" + json.dumps(document, separators=(",", ":")) + "\n"


def request(rng: random.Random, service: str, bad: bool) -> dict[str, Any]:
    failing = rng.random() < (0.25 if bad else 0.01)
    duration_ms = rng.lognormvariate(3.8 + (0.8 if bad else 0.0), 0.5)
    route = rng.choice(ROUTES).format(s=service, n=rng.randrange(10**6), p=rng.randrange(20))
    status = 503 if failing else rng.choice((200, 200, 200, 201, 404))
    document: dict[str, Any] = {
        "log": {"level": "error" if failing else "info"},
        "http": {"response": {"status_code": status}},
        "event": {"duration": int(duration_ms * 1e6)},
    }
    if failing:
        templates = NEW_ERRORS if bad and rng.random() < 0.8 else ERRORS
        document["message"] = fill(rng.choice(templates), rng, service)
    else:
        document["message"] = f"{route} {status}"
    return document


def plain(rng: random.Random, service: str) -> dict[str, Any]:
    level, template = rng.choice(PLAIN)
    return {"log": {"level": level}, "message": fill(template, rng, service)}


def fill(template: str, rng: random.Random, service: str) -> str:
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


# -- loading (the benchmark's own writes; sitrep itself never writes) --------------------------
def load(http: httpx.Client, index: str, total: int, keep: bool) -> None:
    if keep and _count(http, index) == total:
        print(f"reusing {index} ({total:,} documents)", file=sys.stderr)
        return
    http.delete(f"/{index}")
    settings = {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"}
    http.put(f"/{index}", json={"settings": settings}).raise_for_status()
    started = time.perf_counter()
    sent = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = []
        batch: list[str] = []
        for pair in documents(total):
            batch.append(pair)
            if len(batch) == CHUNK:
                pending.append(pool.submit(_bulk, http, index, "".join(batch)))
                batch = []
                sent += CHUNK
                if len(pending) > 4:
                    pending.pop(0).result()
                if sent % 100_000 == 0:
                    rate = sent / (time.perf_counter() - started)
                    print(f"  indexed {sent:,} of {total:,} ({rate:,.0f} docs/s)", file=sys.stderr)
        if batch:
            pending.append(pool.submit(_bulk, http, index, "".join(batch)))
        for future in pending:
            future.result()
    http.post(f"/{index}/_refresh", timeout=600).raise_for_status()
    print(f"indexed {total:,} documents in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def _bulk(http: httpx.Client, index: str, body: str) -> None:
    response = http.post(
        f"/{index}/_bulk", content=body, headers={"content-type": "application/x-ndjson"}, timeout=600
    )
    response.raise_for_status()
    if response.json()["errors"]:
        raise SystemExit(f"bulk load into {index} failed: {response.text[:500]}")


def _count(http: httpx.Client, index: str) -> int:
    response = http.get(f"/{index}/_count")
    return int(response.json().get("count", -1)) if response.status_code == 200 else -1


# -- measuring ---------------------------------------------------------------------------------
@dataclass
class Figures:
    name: str
    wall: float
    client: float
    took: float
    requests: float
    bytes: float
    output: int
    detail: str


def measure(
    name: str, runtime: ToolContext, http: httpx.Client, index: str, call: Callable[[], BaseModel]
) -> Figures:
    source = runtime.logs
    assert source is not None
    call()  # warm-up: field caps, connections, the JIT
    walls, clients, tooks, counts, sizes = [], [], [], [], []
    result: BaseModel | None = None
    for _ in range(RUNS):
        http.post(f"/{index}/_cache/clear", params={"request": "true"}).raise_for_status()
        before = len(source.exchanges)  # type: ignore[attr-defined]
        started = time.perf_counter()
        result = call()
        walls.append(time.perf_counter() - started)
        sent = list(source.exchanges)[before:]  # type: ignore[attr-defined]
        clients.append(sum(e.seconds for e in sent))
        tooks.append(sum(e.took_ms or 0 for e in sent) / 1000)
        counts.append(len(sent))
        sizes.append(sum(e.bytes for e in sent))
    assert result is not None
    return Figures(
        name,
        statistics.median(walls),
        statistics.median(clients),
        statistics.median(tooks),
        statistics.median(counts),
        statistics.median(sizes),
        len(result.model_dump_json()),
        describe(result),
    )


def describe(result: BaseModel) -> str:
    data = result.model_dump()
    if "total" in data:
        new = sum(1 for p in data["patterns"] if p["new"])
        patterns = f"{len(data['patterns'])} patterns ({new} new)"
        return f"total {data['total']:,}, {patterns}, other {data['other_count']}, {len(data['notes'])} notes"
    current = data["current"]["health"]["verdict"]
    top = data["candidates"][0] if data["candidates"] else {"version": None, "verdict": "-"}
    return f"current {current}; top candidate {top['version']} ({top['verdict']})"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--url", default=os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200"))
    parser.add_argument("--index", default=None, help="index name (default sitrep-bench-<docs>)")
    parser.add_argument(
        "--keep", action="store_true", help="reuse the index if it already holds --docs documents"
    )
    args = parser.parse_args()
    index = args.index or f"sitrep-bench-{args.docs}"
    http = httpx.Client(base_url=args.url, timeout=120)
    load(http, index, args.docs, args.keep)
    with tempfile.TemporaryDirectory() as directory:
        deploy_log = Path(directory) / "deploys.jsonl"
        deploy_log.write_text(
            "".join(
                json.dumps({"timestamp": d.at.isoformat(), "service": d.service, "version": d.version}) + "\n"
                for d in deploys()
            )
        )
        settings = Settings(
            config_path=Path(directory) / "sitrep.toml",
            deploy_log=DeployLogSource(path=deploy_log),
            opensearch=OpenSearchSettings(url=args.url, index=index),
        )
        runtime = build_context(settings, clock=lambda: NOW)
        figures = [
            measure("error_patterns 1h", runtime, http, index, lambda: error_patterns(runtime, since="1h")),
            measure("error_patterns 24h", runtime, http, index, lambda: error_patterns(runtime, since="24h")),
            measure(
                "rollback_candidates",
                runtime,
                http,
                index,
                lambda: rollback_candidates(runtime, service="checkout"),
            ),
        ]
    version = http.get("/").json()["version"]["number"]
    print(f"{args.docs:,} documents in {index} (OpenSearch {version}); median of {RUNS} runs")
    print(
        f"{'tool':22} {'wall':>8} {'requests':>9} {'client':>8} {'took':>8} {'wall/client':>11} "
        f"{'fetched':>10} {'output':>8}  answer"
    )
    for f in figures:
        times = f"{f.wall * 1000:6.0f}ms {f.requests:9.0f} {f.client * 1000:6.0f}ms {f.took * 1000:6.0f}ms"
        sizes = f"{f.bytes / 1e3:8.0f}KB {f.output / 1e3:6.1f}KB"
        print(f"{f.name:22} {times} {f.wall / f.client:11.2f} {sizes}  {f.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
