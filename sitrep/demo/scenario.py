"""What the demo wrote, for the CLI and for tests to check sitrep's answers against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, NamedTuple

Health = Literal["healthy", "degraded", "bad"]

SERVICE = "checkout"
MIGRATION_PATH = "db/migrations/0007_add_discount_code.sql"

CONFIG = """\
# Written by `sitrep demo`. Paths are relative to this file.

[[git]]
service = "checkout"
repo = "checkout"
branch = "main"

[deploy_log]
path = "deploys.jsonl"

[files]
paths = ["logs/*.jsonl"]
"""


class DemoDeploy(NamedTuple):
    service: str
    version: str
    sha: str | None
    deployed_at: datetime
    health: Health


@dataclass(frozen=True, slots=True)
class DemoScenario:
    """What the demo wrote, and the answers sitrep's tools should give about it."""

    directory: Path
    config_path: Path
    service: str
    deploys: tuple[DemoDeploy, ...]
    """Every deploy of every service, oldest first, as in the deploy log."""
    bad_sha: str
    bad_version: str
    expected_top_sha: str
    """The most recent healthy deploy before the bad one: v1.3.0, not the previous v1.3.1."""
    degraded_shas: tuple[str, ...]
    migration_path: str
    """Repository-relative path of the migration that only the bad deploy carries."""
    new_error_messages: tuple[str, ...]
    """One raw example per error message first seen after the bad deploy. Raw means
    unredacted: the connection-failure example carries a planted password."""
    planted_secrets: tuple[str, ...]
    now: datetime
    metrics_path: Path | None = None
    """OpenMetrics of the same requests, for `scripts/prometheus-dev load`."""


# (version, minutes before now, health, deployer, description)
CHECKOUT_RELEASES: tuple[tuple[str, int, Health, str, str], ...] = (
    ("v1.0.0", 23 * 60, "healthy", "priya.raman", "GA: carts, percentage discounts, payments"),
    ("v1.1.0", 19 * 60, "healthy", "priya.raman", "PDF receipts stored in S3"),
    ("v1.2.0", 15 * 60, "degraded", "priya.raman", "Order history on the account page"),
    ("v1.2.1", 11 * 60, "healthy", "marcus.chen", "Hotfix: index orders by customer"),
    ("v1.3.0", 6 * 60, "healthy", "priya.raman", "Server-side quantity validation"),
    ("v1.3.1", 2 * 60, "degraded", "priya.raman", "Cart sessions in Redis"),
    ("v1.4.0", 40, "bad", "sofia.alvarez", "Discount codes at checkout"),
)
PAYMENTS_RELEASES = (
    ("v2.7.0", 20 * 60, "lena.fischer", "Idempotency keys on acquirer retries"),
    ("v2.8.0", 5 * 60, "lena.fischer", "Partial refunds via the API"),
)
