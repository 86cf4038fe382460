"""sitrep's Prometheus source at scale: deploy_health, rollback_candidates and
incident_timeline over 200 services x 4 signals x 7 days at 1-minute resolution, backfilled
into a real Prometheus started by scripts/prometheus-dev (in its own state directory).

    python bench/prometheus_scale.py [--services 200] [--days 7] [--state DIR] [--keep]

Per service and minute: request counts by status (200, 500) in the OpenTelemetry names (the
four signals requests, errors, error_ratio and latency_p95 are configured on them and on a
p95 gauge) and `app_build_info{version, revision}`, whose version changes once a day, at a
time of day of each service's own (so a 6 h timeline sees a quarter of them deploy): the
deploy markers. svc-000's last deploy, 45 minutes before the end, is bad (errors x8, p95 x3).

Writing and loading the 717 MB take minutes (1 + 1.5 on a loaded 2-core machine, with
scripts/prometheus-dev's 168 h blocks; 24 with promtool's 2 h ones), so it is done once per state
directory (--state, default $TMPDIR/sitrep-bench-prometheus; data stays there after the
servers stop) and generator: a file named after the generator's parameters (services, days,
end, GENERATOR) says it is loaded, and a state directory holding another backfill is refused
rather than mixed. --keep leaves the servers running afterwards.

Two more rows read the four signals of every service over 6 h (what a fleet-wide timeline
reads): batched, one query a signal grouped by service (MetricsSource.signal_by_service), and
one query per service and signal (one run after the warm-up: 800 requests).

For each tool it prints the median wall time of 5 runs after one warm-up, beside the time of
the raw Prometheus requests the tool issued in those runs (measured at the client: sent to
decoded), their count, and the size of the tool's output. Progress to stderr, table to stdout.
Goal: ≤ 1 s median and ≤ 2x the raw requests; outputs within the default budget (8,000).

First run (2026-12-07, a 2-core machine shared with five other jobs; backfill 24 min):
deploy_health 0.21 s (raw 0.14 s, 6 requests, 4,034 chars), rollback_candidates 0.20 s (0.13,
6, 4,691), incident_timeline of one service 0.03 s (0.03, 4), of every service 2.17 s (1.65, 3:
the deploy markers of all 200 services over 30 h in one range query). svc-000's bad deploy
is judged degraded on errors and error_ratio (p = 1.2e-7).

2026-12-08, generator 2 (deploys spread over the day), load average 10 on the 2 cores:
deploy_health 0.54 s (raw 0.34 s, 7 requests, 4,536 chars), rollback_candidates 0.51 s (0.30,
7, 5,179), incident_timeline of one service 0.09 s (0.08, 5), of every service 0.69 s (0.62,
4, 7,115 chars: 53 deploys; the markers are an instant query naming the services that changed,
then a sparse range query of those); the four signals of every service batched 1.13 s (0.97,
4 requests) against 9.86 s (9.72, 808) one service at a time. On generator 1's data (every
deploy at the end's time of day) the fleet timeline took 0.11-0.22 s (4 requests).

2026-12-08, with metric change points in the timeline (8 requests: the four signals over the
baseline and the range, 12 h at 600 s steps), load average 8-11: the fleet timeline took
10.4 s (raw 2.98 s) when each signal rebuilt the change-point candidates, 1.71 s (raw 1.16 s,
ratio 1.47, same 7,260-char answer) once they are shared; one service 0.11 s (0.10, 9). The
rest of its time is decoding and parsing ~57,000 samples; the raw time, Prometheus's.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sitrep.settings import PrometheusSettings, Settings
from sitrep.tools.context import ToolContext, build_context
from sitrep.tools.health import deploy_health, rollback_candidates
from sitrep.tools.timeline import incident_timeline

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "prometheus-dev"
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
RUNS = 5
GENERATOR = 2
"""Bumped whenever write_openmetrics writes other series: a state loaded by another is not reused."""
COUNT = "http_server_request_duration_seconds_count"
SIGNALS = {
    "requests": f'sum(rate({COUNT}{{service="{{service}}"}}[{{range}}]))',
    "errors": f'sum(rate({COUNT}{{service="{{service}}",http_response_status_code="500"}}[{{range}}]))',
    "error_ratio": (
        f'sum(rate({COUNT}{{service="{{service}}",http_response_status_code="500"}}[{{range}}]))'
        f' / sum(rate({COUNT}{{service="{{service}}"}}[{{range}}]))'
    ),
    "latency_p95": 'max(max_over_time(latency_p95_seconds{service="{service}"}[{range}]))',
}


def deploy_offset(index: int) -> int:
    """Seconds before the end's time of day that service `index` deploys, spread over the day:
    a 6 h timeline sees about a quarter of the services deploy."""
    return (index * 431 * 60) % 86400


def write_openmetrics(path: Path, services: int, days: int) -> None:
    """Four series per service (two counters, a gauge, build info), one sample a minute."""
    end = int(NOW.timestamp())
    start = end - days * 86400
    minutes = range(start, end + 1, 60)
    bad_from = end - 45 * 60
    rng = random.Random(11)
    with path.open("w", encoding="utf-8") as out:
        for name, kind in ((COUNT, "gauge"), ("latency_p95_seconds", "gauge"), ("app_build_info", "gauge")):
            out.write(f"# TYPE {name} gauge\n" if kind else "")
            for index in range(services):
                service = f"svc-{index:03d}"
                rate = 20 + 80 * rng.random()
                ok = errors = 0.0
                lines = []
                for t in minutes:
                    bad = index == 0 and t >= bad_from
                    day = 1 + 0.5 * math.cos(2 * math.pi * ((t % 86400) / 86400 - 0.6))
                    if name == COUNT:
                        ok += rate * day * 60 * rng.uniform(0.9, 1.1)
                        errors += rate * day * 60 * 0.002 * (8 if bad else 1) * rng.uniform(0.5, 1.5)
                        labels = f'service="{service}",http_response_status_code'
                        lines.append(f'{name}{{{labels}="200"}} {ok:.0f} {t}\n')
                        lines.append(f'{name}{{{labels}="500"}} {errors:.0f} {t}\n')
                    elif name == "latency_p95_seconds":
                        value = 0.2 * (3 if bad else 1) * rng.uniform(0.9, 1.1)
                        lines.append(f'{name}{{service="{service}"}} {value:.4f} {t}\n')
                    else:
                        # Each service deploys once a day at its own time (svc-000 at the end's).
                        day_index = (end - t + deploy_offset(index)) // 86400
                        version = f"v{days - day_index}.{1 if index == 0 and t >= bad_from else 0}"
                        labels = f'service="{service}",version="{version}",revision=""'
                        lines.append(f"{name}{{{labels}}} 1 {t}\n")
                out.writelines(sorted(lines, key=lambda line: line.split("}")[0]))
        out.write("# EOF\n")


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed:\n{done.stderr[-2000:]}")
    return done.stdout


class Timed:
    """Wraps the guarded client's get and post: the time and count of raw requests."""

    def __init__(self, client: Any) -> None:
        self.seconds = 0.0
        self.count = 0
        for method in ("get", "post"):
            setattr(client, method, self._wrap(getattr(client, method)))

    def _wrap(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.count += 1

        return timed


class Fleet(BaseModel):
    series: int
    points: int


def fleet_signals(ctx: ToolContext, *, batched: bool) -> Fleet:
    """The four signals of every service over the 6 h before NOW at 10-minute steps (what a
    fleet-wide timeline reads): batched (MetricsSource.signal_by_service, one query a signal)
    or one query per service and signal."""
    metrics = ctx.sources.metrics
    assert metrics is not None
    end = NOW.timestamp()
    start, step = end - 6 * 3600, 600.0
    found = []
    for signal in metrics.signals():
        if batched:
            found += list(metrics.signal_by_service(signal, "10m", start, end, step).values())
        else:
            for name in sorted(metrics.services()):
                found += metrics.query_range(
                    signal.promql(name, "10m"), start, end, step, max_series=1
                ).series
    return Fleet(series=len(found), points=sum(len(s.samples) for s in found))


def measure(
    url: str, name: str, call: Callable[[ToolContext], BaseModel], runs: int = RUNS
) -> tuple[str, float, float, float, int]:
    walls, raws, counts, size = [], [], [], 0
    for attempt in range(runs + 1):
        settings = Settings(
            prometheus=PrometheusSettings(url=url, signals=SIGNALS, timeout_seconds=60),
            deadline_seconds=120.0,
        )
        ctx = build_context(settings, clock=lambda: NOW)
        timed = Timed(ctx.sources.metrics.client)  # type: ignore[union-attr]
        started = time.perf_counter()
        result = call(ctx)
        wall = time.perf_counter() - started
        size = len(result.model_dump_json())
        if attempt:
            walls.append(wall)
            raws.append(timed.seconds)
            counts.append(timed.count)
    return name, statistics.median(walls), statistics.median(raws), statistics.median(counts), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument(
        "--state", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "sitrep-bench-prometheus"
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "SITREP_PROMETHEUS_STATE": str(args.state)}
    args.state.mkdir(parents=True, exist_ok=True)
    marker = args.state / f"bench-{args.services}x{args.days}-{NOW:%Y%m%dT%H%M}-g{GENERATOR}-loaded"
    other = [p.name for p in args.state.glob("bench-*-loaded") if p != marker]
    if other:
        sys.exit(f"{args.state} holds another backfill ({other[0]}): use another --state, or reset it")
    run([str(SCRIPT), "start"], env)
    try:
        if not marker.exists():
            data = args.state / "bench.om"
            started = time.perf_counter()
            write_openmetrics(data, args.services, args.days)
            print(
                f"wrote {data.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
            started = time.perf_counter()
            run([str(SCRIPT), "load", str(data)], env)
            print(f"loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            data.unlink()
            marker.touch()
        urls = dict(
            p.split("=", 1) for p in run([str(SCRIPT), "start"], env).strip().splitlines()[-1].split()
        )
        url = urls["PROMETHEUS_URL"]
        rows = [
            measure(url, "deploy_health svc-000", lambda c: deploy_health(c, "svc-000")),
            measure(url, "rollback_candidates svc-000", lambda c: rollback_candidates(c, "svc-000")),
            measure(url, "incident_timeline svc-000 6h", lambda c: incident_timeline(c, "svc-000")),
            measure(url, "incident_timeline all 6h", incident_timeline),
            measure(url, "4 signals x all, batched", lambda c: fleet_signals(c, batched=True)),
            measure(url, "4 signals x all, per service", lambda c: fleet_signals(c, batched=False), 1),
        ]
    finally:
        if not args.keep:
            run([str(SCRIPT), "stop"], env)
    print(f"$ {' '.join(['python', *sys.argv])}")
    print(f"{args.services} services x 4 signals x {args.days} days, 1-minute samples; median of {RUNS}")
    print(f"{'tool':32} {'wall s':>8} {'raw s':>8} {'ratio':>6} {'requests':>9} {'output':>7}")
    for name, wall, raw, count, size in rows:
        ratio = wall / raw if raw else float("inf")
        print(f"{name:32} {wall:8.3f} {raw:8.3f} {ratio:6.2f} {count:9.0f} {size:7d}")


if __name__ == "__main__":
    main()
