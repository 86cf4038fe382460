"""incident_timeline on Nezha TrainTicket's injected faults: does it show something, and on whom?

    python bench/nezha_timeline.py [--data ../shared/data/nezha-trainticket/2023-01-30] [--config C]

Converts the day's log CSVs (faulty and fault-free) as bench/nezha_rca.py does, then for every
fault in fault_list.json asks incident_timeline for the fault window, since=<inject time> and
until=10 minutes later, with its default baseline and no configuration beyond the file's path
(with --config naming a Prometheus holding the Nezha metrics, see examples/nezha/sitrep.toml,
its metric signals are read too). Per fault it prints the events by kind, the services they
name in time order, whether the faulty service (inject_pod without its replica suffix) is
among them and at which place, and the answer's size and time; then how many of the windows
show something, and how many name the faulty service (first, or at all). Beside it, from the
same converted lines, the peer a person would try first: does the faulty service write any
ERROR line in the window, and is it the service with the most?
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from nezha_rca import convert, faults, read_lines  # noqa: E402

from sitrep.results import as_json  # noqa: E402 - after the path is set
from sitrep.settings import FilesSource, Settings, load_settings  # noqa: E402
from sitrep.tools.context import build_context  # noqa: E402
from sitrep.tools.timeline import incident_timeline  # noqa: E402

WINDOW = timedelta(minutes=10)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared" / "data" / "nezha-trainticket" / "2023-01-30"
    )
    parser.add_argument("--config", type=Path, help="a sitrep configuration naming a metrics source")
    parser.add_argument("--baseline", help="incident_timeline's baseline argument (default: its own)")
    parser.add_argument("--logs", type=Path, help="already converted logs (skips the conversion)")
    args = parser.parse_args()
    listed = faults(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        logs = args.logs or Path(tmp) / "nezha.jsonl"
        if args.logs is None:
            convert(args.data, logs)
        lines = read_lines(logs)
        now = datetime.fromtimestamp(max(ts for ts, *_ in lines), tz=UTC) + timedelta(hours=1)
        files = FilesSource(paths=[str(logs)])
        if args.config is not None:
            settings = load_settings(args.config).model_copy(update={"files": files})
        else:
            settings = Settings(config_path=Path(tmp) / "none.toml", files=files)
        ctx = build_context(settings, clock=lambda: now, cwd=Path(tmp))
        extra = {"baseline": args.baseline} if args.baseline else {}
        print(
            f"{'inject (UTC)':<20} {'faulty service':<28} {'type':<15} {'events':>6} {'place':>5} "
            f"{'err':>4}  chars  secs  kinds; services named"
        )
        shown = first = named = error_any = error_top = 0
        for at, target, kind in listed:
            started = time.perf_counter()
            result = incident_timeline(ctx, since=at.isoformat(), until=(at + WINDOW).isoformat(), **extra)
            seconds = time.perf_counter() - started
            events = [e for e in result.events if e.kind != "deploy"]
            services = list(dict.fromkeys(e.service for e in events if e.service))
            place = services.index(target) + 1 if target in services else None
            errors = Counter(
                service
                for ts, service, level, _ in lines
                if level == "error" and at.timestamp() <= ts < (at + WINDOW).timestamp()
            )
            shown += bool(events)
            first += place == 1
            named += place is not None
            error_any += errors[target] > 0
            error_top += bool(errors) and errors.most_common(1)[0][0] == target
            kinds = ", ".join(f"{k} {n}" for k, n in Counter(e.kind for e in events).items()) or "none"
            print(
                f"{at:%Y-%m-%d %H:%M:%S} {target:<28} {kind:<15} {len(events):>6} "
                f"{'-' if place is None else place:>5} {errors[target]:>4}  {len(as_json(result)):>5} "
                f"{seconds:>5.1f}  {kinds}; {', '.join(services[:4]) or '-'}"
            )
            if not events:
                print(f"{'':20} {result.summary}")
    n = len(listed)
    signals = "logs and metrics" if getattr(ctx.sources, "metrics", None) else "logs only"
    print(
        f"\n{n} fault windows ({signals}): the timeline shows something in {shown}/{n}; names the "
        f"faulty service in {named}/{n}, first in {first}/{n}.\n"
        f"peer (ERROR lines in the window): the faulty service writes one in {error_any}/{n}, "
        f"the most of any service in {error_top}/{n}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
