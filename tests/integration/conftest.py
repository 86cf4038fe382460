"""A real OpenSearch node for the integration tests.

`OPENSEARCH_URL` names a node to use (CI's `scripts/test` starts one and sets it). Without it,
the session starts one with `scripts/opensearch-dev start` and stops it at the end, unless
it was already running: a node this session did not start is left as it was.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.cluster import Cluster

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "opensearch-dev"
START_SECONDS = 900  # a fresh machine downloads OpenSearch with Maven first


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    given = os.environ.get("OPENSEARCH_URL")
    if given:
        yield _reachable(given.rstrip("/"))
        return
    was_running = subprocess.run([SCRIPT, "status"], capture_output=True, check=False).returncode == 0
    started = subprocess.run(
        [SCRIPT, "start"], capture_output=True, text=True, timeout=START_SECONDS, check=False
    )
    if started.returncode != 0:
        pytest.fail(
            f"scripts/opensearch-dev start failed (exit {started.returncode}); set OPENSEARCH_URL to a "
            f"running node or fix the cause:\n{started.stderr[-3000:]}",
            pytrace=False,
        )
    url = started.stdout.strip().splitlines()[-1]
    try:
        yield _reachable(url)
    finally:
        if not was_running:
            subprocess.run([SCRIPT, "stop"], capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def cluster(opensearch_url: str) -> Iterator[Cluster]:
    node = Cluster(opensearch_url)
    try:
        yield node
    finally:
        node.close()


def _reachable(url: str) -> str:
    try:
        httpx.get(
            f"{url}/_cluster/health", params={"wait_for_status": "yellow", "timeout": "30s"}, timeout=40
        )
    except httpx.HTTPError as error:
        pytest.fail(f"OpenSearch at {url} does not answer: {error}", pytrace=False)
    return url
