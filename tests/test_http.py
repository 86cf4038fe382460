"""The streamable HTTP transport: a real server process, a real client over HTTP."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def start(
    incident: DemoScenario, log: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [SITREP, "serve", "--transport", "http", "--port", str(port), "--config", str(incident.config_path), *args],
            stdout=subprocess.DEVNULL, stderr=sink, env={**os.environ, **(env or {})},
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
    raise AssertionError(f"the server did not listen within 30 s: {log.read_text()}")


@contextmanager
def running(
    incident: DemoScenario, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    process, port = start(incident, tmp_path / "server.log", *args, env=env)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server(incident: DemoScenario, tmp_path: Path) -> Iterator[str]:
    with running(incident, tmp_path) as url:
        yield url


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


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


def test_a_foreign_host_header_is_refused(server: str) -> None:
    headers = {**MCP_HEADERS, "Host": "rebound.attacker.example:8765"}
    assert httpx.post(server, headers=headers, json=INITIALIZE).status_code == 421
    assert httpx.post(server, headers=MCP_HEADERS, json=INITIALIZE).status_code == 200


TOKEN = "s3cr3t-token-for-the-test-0123456789"


def test_with_a_token_every_request_must_carry_it(incident: DemoScenario, tmp_path: Path) -> None:
    with running(incident, tmp_path, env={"SITREP_HTTP_TOKEN": TOKEN}) as url:
        missing = httpx.post(url, headers=MCP_HEADERS, json=INITIALIZE)
        wrong = httpx.post(url, headers={**MCP_HEADERS, "Authorization": "Bearer nope"}, json=INITIALIZE)
        basic = httpx.post(url, headers={**MCP_HEADERS, "Authorization": f"Basic {TOKEN}"}, json=INITIALIZE)
        right = httpx.post(url, headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}, json=INITIALIZE)
    assert [r.status_code for r in (missing, wrong, basic)] == [401, 401, 401]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer") and TOKEN not in missing.text
    assert right.status_code == 200


@pytest.mark.anyio
async def test_a_client_with_the_token_gets_the_tools(incident: DemoScenario, tmp_path: Path) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    with running(incident, tmp_path, env={"SITREP_HTTP_TOKEN": TOKEN}) as url:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            result = await client.call_tool("recent_deploys", {"since": "2d"})
    assert not result.is_error


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--host", "10.1.2.3"], {}, "SITREP_HTTP_TOKEN"),
        (["--host", "0.0.0.0"], {"SITREP_HTTP_TOKEN": TOKEN}, "--allow-host"),
    ],
)
def test_an_exposed_address_is_refused_with_the_reason(
    incident: DemoScenario, args: list[str], env: dict[str, str], says: str
) -> None:
    done = subprocess.run(
        [SITREP, "serve", "--transport", "http", "--config", str(incident.config_path), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env}, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert TOKEN not in done.stderr


def test_hosts_a_client_may_name_when_sitrep_listens_beyond_loopback() -> None:
    from starlette.testclient import TestClient

    from sitrep.http_transport import http_app
    from sitrep.server import build_server
    from sitrep.settings import Settings

    settings = Settings(config_path=Path("/nonexistent"))
    app = http_app(build_server(settings), host="0.0.0.0", token=TOKEN, allowed_hosts=["sitrep.internal"])
    auth = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    with TestClient(app, base_url="http://sitrep.internal:8765") as client:
        assert client.post("/mcp", headers=auth, json=INITIALIZE).status_code == 200
        assert (
            client.post("/mcp", headers={**auth, "Host": "other.example"}, json=INITIALIZE).status_code == 421
        )
        origin = {**auth, "Origin": "https://sitrep.internal:8765"}
        assert client.post("/mcp", headers=origin, json=INITIALIZE).status_code == 200
        assert (
            client.post(
                "/mcp", headers={**auth, "Origin": "https://evil.example"}, json=INITIALIZE
            ).status_code
            == 403
        )
