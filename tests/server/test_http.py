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
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client

from sitrep.demo import DemoScenario, build_demo
from sitrep.tools import READ_TOOLS

# `python -m sitrep` from the checkout under test: the `sitrep` script on PATH may belong to
# another checkout (an editable install points at one tree only).
SITREP = [sys.executable, "-m", "sitrep"]
ROOT = Path(__file__).resolve().parents[2]


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
            [*SITREP, "serve", "--transport", "http", "--port", str(port), "--config", str(incident.config_path), *args],
            stdout=subprocess.DEVNULL, stderr=sink, cwd=ROOT, env={**os.environ, **(env or {})},
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
        assert len((await client.list_tools()).tools) == len(READ_TOOLS)
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
        [*SITREP, "serve", "--transport", "http", "--config", str(incident.config_path), *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, **env}, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert TOKEN not in done.stderr


def test_hosts_a_client_may_name_when_sitrep_listens_beyond_loopback() -> None:
    from starlette.testclient import TestClient

    from sitrep.server.http import http_app
    from sitrep.server.mcp import build_server
    from sitrep.settings import Settings

    settings = Settings(config_path=Path("/nonexistent"))
    app = http_app(
        build_server(settings), host="0.0.0.0", port=8765, token=TOKEN, allowed_hosts=["sitrep.internal"]
    )
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


# -- the edges (issue 9) ------------------------------------------------------------------
def _app(host: str, token: str | None, allowed: list[str], port: int = 8765) -> object:
    from sitrep.server.http import http_app
    from sitrep.server.mcp import build_server
    from sitrep.settings import Settings

    server = build_server(Settings(config_path=Path("/nonexistent")))
    return http_app(server, host=host, port=port, token=token, allowed_hosts=allowed)


EVERY_ADDRESS_SPELLINGS = [
    "0",
    "0.0.0.0",
    "000.000.000.000",
    "0.0",
    "0x0",
    "::",
    "::0",
    "[::]",
    "[::0]",
    "0:0:0:0:0:0:0:0",
    "",
]


@pytest.mark.parametrize("host", [*EVERY_ADDRESS_SPELLINGS, "10.1.2.3", "192.168.000.001"])
def test_every_spelling_of_an_exposed_address_needs_a_token_and_a_named_host(host: str) -> None:
    from sitrep.errors import ConfigError

    with pytest.raises(ConfigError, match="SITREP_HTTP_TOKEN") as no_token:
        _app(host, None, [])
    assert "token_urlsafe" in str(no_token.value)
    with pytest.raises(ConfigError, match="--allow-host"):
        _app(host, TOKEN, [])
    _app(host, TOKEN, ["sitrep.internal"])


@given(
    octets=st.lists(st.sampled_from(["0", "00", "000", "0x0", "0x00", "00000"]), min_size=1, max_size=4),
    bracket=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_generated_spellings_of_the_unspecified_address_are_not_loopback(
    octets: list[str], bracket: bool
) -> None:
    from sitrep.server.http import bind_addresses, is_loopback

    host = ".".join(octets)
    assert not is_loopback(host)
    assert all(address.is_unspecified for address in bind_addresses(host))
    v6 = ":".join(["0"] * 8) if bracket else "::" + ":".join(octets[:1])
    assert not is_loopback(f"[{v6}]" if bracket else v6)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.1", "localhost", "[::1]", "::1", "0x7f.1", "::ffff:127.0.0.1"]
)
def test_loopback_in_any_spelling_needs_neither(host: str) -> None:
    from sitrep.server.http import is_loopback

    assert is_loopback(host)
    _app(host, None, [])


@pytest.mark.parametrize("token", ["", "short", "x" * 31])
def test_a_short_token_is_refused_with_how_to_make_one(token: str) -> None:
    from sitrep.errors import ConfigError

    with pytest.raises(ConfigError, match=r"at least 32") as refused:
        _app("127.0.0.1", token, [])
    assert "secrets.token_urlsafe(32)" in str(refused.value) and (
        not token or token not in str(refused.value)
    )
    _app("127.0.0.1", "x" * 32, [])


def test_an_empty_token_in_the_environment_is_refused_not_ignored(incident: DemoScenario) -> None:
    done = subprocess.run(
        [*SITREP, "serve", "--transport", "http", "--config", str(incident.config_path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, "SITREP_HTTP_TOKEN": ""}, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "token_urlsafe" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [
        ("Host", "127.0.0.1:8080", 200),
        ("Host", "localhost:8080", 200),
        ("Host", "[::1]:8080", 200),
        ("Host", "127.0.0.1:80801", 421),
        ("Host", "127.0.0.1:808", 421),
        ("Host", "127.0.0.1:8081", 421),
        ("Host", "127.0.0.1:8080.evil.example", 421),
        ("Host", "localhost:", 421),
        ("Origin", "http://127.0.0.1:8080", 200),
        ("Origin", "https://localhost:8080", 200),
        ("Origin", "http://127.0.0.1:80801", 403),
        ("Origin", "http://localhost:8080.evil.example", 403),
        ("Origin", "http://127.0.0.1:9090", 403),
    ],
)
def test_host_and_origin_must_name_the_port_exactly(header: str, value: str, status: int) -> None:
    from starlette.testclient import TestClient

    app = _app("127.0.0.1", None, [], port=8080)
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:  # type: ignore[arg-type]
        assert (
            client.post("/mcp", headers={**MCP_HEADERS, header: value}, json=INITIALIZE).status_code == status
        )


def test_an_allowed_host_matches_its_port_exactly() -> None:
    from sitrep.server.http import _host_headers

    assert _host_headers(["sitrep.internal", "proxy.example:443", "fe80::1"], 8765) == [
        "sitrep.internal:8765", "sitrep.internal", "proxy.example:443", "[fe80::1]:8765", "[fe80::1]",
    ]  # fmt: skip


# -- slow and idle connections ----------------------------------------------------------
@contextmanager
def uvicorn_thread(read_seconds: float) -> Iterator[int]:
    import threading

    import uvicorn

    from sitrep.server.http import uvicorn_config

    async def hello(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    port = free_port()
    server = uvicorn.Server(
        uvicorn_config(hello, host="127.0.0.1", port=port, request_read_seconds=read_seconds)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def closed_within(sock: socket.socket, seconds: float, drip: bytes = b"") -> float | None:
    """Seconds until the server closed `sock` (sending `drip` every 0.2 s meanwhile), or None."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionError:
            return time.monotonic() - started
        if drip:
            try:
                sock.sendall(drip)
            except OSError:
                return time.monotonic() - started
    return None


def test_slow_and_idle_connections_are_closed() -> None:
    with uvicorn_thread(read_seconds=1.0) as port:
        sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
        try:
            idle, partial, dripping = sockets
            partial.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            dripping.sendall(b"GET / HTTP/1.1\r\n")
            # Generous bounds: the deadline is 1 s; a loaded machine may take many times that.
            assert closed_within(idle, 30) is not None
            assert closed_within(partial, 30) is not None
            assert closed_within(dripping, 30, drip=b"X") is not None
            # A whole request is answered as before.
            with socket.create_connection(("127.0.0.1", port), timeout=10) as whole:
                whole.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                assert whole.recv(4096).startswith(b"HTTP/1.1 200")
        finally:
            for sock in sockets:
                sock.close()


def test_the_served_app_uses_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from sitrep.server import http

    configs: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: configs.append(self.config))
    server = build_server_for_test()
    http.serve_http(server, host="127.0.0.1", port=8765, token=None)
    (config,) = configs
    assert config.http.__name__ == "RequestDeadline" and config.timeout_keep_alive <= 10  # type: ignore[union-attr]


def build_server_for_test() -> object:
    from sitrep.server.mcp import build_server
    from sitrep.settings import Settings

    return build_server(Settings(config_path=Path("/nonexistent")))
