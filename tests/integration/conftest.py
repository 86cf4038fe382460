"""A real OpenSearch node for the integration tests.

Also a real Prometheus and Alertmanager (`prometheus_dev`), started with scripts/prometheus-dev.

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
from tests.integration.prometheus_data import PrometheusDev, synthetic_openmetrics

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


# -- Prometheus and Alertmanager ------------------------------------------------------------

PROMETHEUS_SCRIPT = SCRIPT.parent / "prometheus-dev"
NEZHA_TO_OPENMETRICS = SCRIPT.parent / "nezha-to-openmetrics"
PROMETHEUS_START_SECONDS = 600  # a fresh machine installs the Debian packages first


@pytest.fixture(scope="session")
def prometheus_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusDev]:
    """A real Prometheus and Alertmanager from scripts/prometheus-dev, with the Nezha metrics
    and a small synthetic set (OpenTelemetry HTTP metrics, ALERTS) backfilled. Its state lives
    in $SITREP_TEST_PROMETHEUS_STATE (scripts/test sets it and starts the servers early) or a
    temporary directory, never in a developer's own prometheus-dev state; the servers are
    stopped at the end unless they were already running."""
    state = Path(os.environ.get("SITREP_TEST_PROMETHEUS_STATE") or tmp_path_factory.mktemp("prometheus"))
    env = {**os.environ, "SITREP_PROMETHEUS_STATE": str(state)}
    was_running = (
        subprocess.run([PROMETHEUS_SCRIPT, "status"], env=env, capture_output=True, check=False).returncode
        == 0
    )
    started = subprocess.run(
        [PROMETHEUS_SCRIPT, "start"],
        env=env,
        capture_output=True,
        text=True,
        timeout=PROMETHEUS_START_SECONDS,
        check=False,
    )
    if started.returncode != 0:
        pytest.fail(
            f"scripts/prometheus-dev start failed (exit {started.returncode}):\n{started.stderr[-3000:]}",
            pytrace=False,
        )
    urls = dict(part.split("=", 1) for part in started.stdout.strip().splitlines()[-1].split())
    try:
        marker = state / "sitrep-test-data-loaded"
        if not marker.exists():
            nezha = state / "nezha.om"
            subprocess.run([NEZHA_TO_OPENMETRICS, "-o", nezha], check=True, timeout=300)
            synthetic = state / "synthetic.om"
            synthetic.write_text(synthetic_openmetrics())
            loaded = subprocess.run(
                [PROMETHEUS_SCRIPT, "load", nezha, synthetic],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if loaded.returncode != 0:
                pytest.fail(f"scripts/prometheus-dev load failed:\n{loaded.stderr[-3000:]}", pytrace=False)
            nezha.unlink()
            marker.touch()
        yield PrometheusDev(urls["PROMETHEUS_URL"], urls["ALERTMANAGER_URL"])
    finally:
        if not was_running:
            subprocess.run(
                [PROMETHEUS_SCRIPT, "stop"], env=env, capture_output=True, timeout=120, check=False
            )
