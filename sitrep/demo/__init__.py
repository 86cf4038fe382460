"""Write a believable incident into a directory, for `sitrep demo` and for the tests.

The story: checkout's last deploy (v1.4.0, 40 minutes ago) merged a feature branch whose
migration nobody ran, so orders fail on a missing column and a careless `None` breaks
discounts. The deploy before it (v1.3.1) was already shaky (Redis timeouts), so the right
rollback target is v1.3.0, two deploys back, not merely the previous one.

Everything derives from `seed` and `now`: the same pair gives byte-identical logs, deploy
log and commits. Secrets are planted on purpose (logs, commit messages, a config file) and
built at run time from the seed, so this file holds none and secret scanners stay quiet.
"""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime
from pathlib import Path

from sitrep.demo.repository import build_repository, deploys_of, write_deploy_log
from sitrep.demo.scenario import CONFIG, MIGRATION_PATH, SERVICE, DemoDeploy, DemoScenario, Health
from sitrep.demo.secrets import Secrets
from sitrep.demo.traffic import write_logs

__all__ = ["DemoDeploy", "DemoScenario", "Health", "build_demo"]


def build_demo(directory: Path, *, now: datetime | None = None, seed: int = 7) -> DemoScenario:
    """Write the incident into `directory` (created; refused if it exists and is not empty)."""
    now = _normalise(now)
    _prepare(directory)
    secrets = Secrets.generate(random.Random(f"{seed}/secrets"))
    shas = build_repository(directory / "checkout", now, secrets)
    deploys = deploys_of(now, shas)
    write_deploy_log(directory / "deploys.jsonl", deploys)
    metrics_path = directory / "metrics.om"
    new_errors = write_logs(directory / "logs", now, seed, deploys, secrets, metrics_path)
    config_path = directory / "sitrep.toml"
    config_path.write_text(CONFIG, encoding="utf-8")
    checkout = [d for d in deploys if d.service == SERVICE]
    bad = next(d for d in checkout if d.health == "bad")
    healthy_before = [d for d in checkout if d.deployed_at < bad.deployed_at and d.health == "healthy"]
    return DemoScenario(
        directory=directory,
        config_path=config_path,
        service=SERVICE,
        deploys=deploys,
        bad_sha=shas[bad.version],
        bad_version=bad.version,
        expected_top_sha=shas[healthy_before[-1].version],
        degraded_shas=tuple(shas[d.version] for d in checkout if d.health == "degraded"),
        migration_path=MIGRATION_PATH,
        new_error_messages=new_errors,
        planted_secrets=secrets.all(),
        now=now,
        metrics_path=metrics_path,
    )


def _normalise(now: datetime | None) -> datetime:
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    # Git dates have whole seconds; so does everything else, so they agree exactly.
    return now.astimezone(UTC).replace(microsecond=0)


def _prepare(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise FileExistsError(
            f"{directory} already exists and is not empty; the demo writes a fresh incident, "
            "so pass --dir with a new or empty directory (or remove this one first)"
        )
    if shutil.which("git") is None:
        raise RuntimeError("`sitrep demo` needs git on PATH to write the checkout repository")
    directory.mkdir(parents=True, exist_ok=True)
