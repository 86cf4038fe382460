"""A real OpenSearch node for the integration tests.

Also a real Prometheus and Alertmanager (`prometheus_dev`), started with scripts/prometheus-dev.

`OPENSEARCH_URL` names a node to use (CI's `scripts/test` starts one and sets it). Without it,
the session starts one with `scripts/opensearch-dev start` and stops it at the end, unless
it was already running: a node this session did not start is left as it was.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sitrep.demo import build_demo
from tests.integration.cluster import Cluster
from tests.integration.kube_data import kube_openmetrics
from tests.integration.prometheus_data import DEMO_NOW, PrometheusDev, synthetic_openmetrics

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "opensearch-dev"
START_SECONDS = 900  # a fresh machine downloads OpenSearch with Maven first


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    given = os.environ.get("OPENSEARCH_URL")
    if given:
        yield _reachable(given.rstrip("/"))
        return
    _one_process("OPENSEARCH_URL")
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


def _one_process(variable: str) -> None:
    """Parallel test processes share one backend, started by scripts/test before pytest."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(
            f"{variable} is not set: in parallel (pytest -n), run the tests through scripts/test, which "
            "starts OpenSearch, Prometheus and Alertmanager once for every test process, or set "
            "OPENSEARCH_URL and SITREP_TEST_PROMETHEUS_STATE yourself",
            pytrace=False,
        )


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
    """A real Prometheus and Alertmanager from scripts/prometheus-dev, with the Nezha metrics,
    a small synthetic set (OpenTelemetry HTTP metrics, ALERTS) and kube-state-metrics series
    backfilled. Its state lives
    in $SITREP_TEST_PROMETHEUS_STATE (scripts/test sets it and starts the servers early) or a
    temporary directory, never in a developer's own prometheus-dev state; the servers are
    stopped at the end unless they were already running."""
    given = os.environ.get("SITREP_TEST_PROMETHEUS_STATE")
    if not given:
        _one_process("SITREP_TEST_PROMETHEUS_STATE")
    state = Path(given or tmp_path_factory.mktemp("prometheus"))
    state.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SITREP_PROMETHEUS_STATE": str(state)}
    # Test processes running in parallel (scripts/test) share the servers: one starts and
    # loads them while the others wait, and all the data is loaded before any test reads it,
    # because a load restarts Prometheus.
    with (state / "sitrep-test.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        was_running = (
            subprocess.run(
                [PROMETHEUS_SCRIPT, "status"], env=env, capture_output=True, check=False
            ).returncode
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
        _load_once(state, env)
    try:
        yield PrometheusDev(urls["PROMETHEUS_URL"], urls["ALERTMANAGER_URL"], state)
    finally:
        if not was_running:
            subprocess.run(
                [PROMETHEUS_SCRIPT, "stop"], env=env, capture_output=True, timeout=120, check=False
            )


TEST_DATA = "sitrep-test-data-loaded-2"
"""The marker of a state directory holding every series below; a new name when they change."""


def _load_once(state: Path, env: dict[str, str]) -> None:
    """The Nezha metrics, the synthetic OpenTelemetry series and ALERTS, the
    kube-state-metrics series of test_kube_markers.py and the demo's metrics of
    test_health_prometheus.py, in one load."""
    marker = state / TEST_DATA
    if marker.exists():
        return
    nezha = state / "nezha.om"
    subprocess.run([NEZHA_TO_OPENMETRICS, "-o", nezha], check=True, timeout=300)
    synthetic = state / "synthetic.om"
    synthetic.write_text(synthetic_openmetrics())
    kube = state / "kube.om"
    kube.write_text(kube_openmetrics())
    demo = build_demo(state / "demo", now=DEMO_NOW).metrics_path
    assert demo is not None
    loaded = subprocess.run(
        [PROMETHEUS_SCRIPT, "load", nezha, synthetic, kube, demo],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if loaded.returncode != 0:
        pytest.fail(f"scripts/prometheus-dev load failed:\n{loaded.stderr[-3000:]}", pytrace=False)
    nezha.unlink()
    shutil.rmtree(state / "demo")
    marker.touch()
