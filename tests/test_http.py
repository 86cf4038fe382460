"""The streamable HTTP transport: a real server process, a real client over HTTP."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client

from sitrep.demo import DemoScenario, build_demo

SITREP = str(Path(sys.executable).parent / "sitrep")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> DemoScenario:
    return build_demo(tmp_path_factory.mktemp("http") / "incident")


@pytest.fixture
def server(incident: DemoScenario, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [SITREP, "serve", "--transport", "http", "--port", str(port), "--config", str(incident.config_path)],
            stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, log.read_text()
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.anyio
async def test_tools_over_streamable_http(server: str) -> None:
    async with Client(server) as client:
        assert len((await client.list_tools()).tools) == 8
        result = await client.call_tool("rollback_candidates", {"service": "checkout"})
        assert not result.is_error and result.structured_content["candidates"][0]["verdict"] == "healthy"  # type: ignore[index]


def test_a_foreign_origin_is_refused(server: str) -> None:
    headers = {
        "Origin": "http://attacker.example",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    response = httpx.post(server, headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 403
