"""`sitrep serve --transport http`: streamable HTTP, locked down.

It binds 127.0.0.1 unless told otherwise. Every request's Host and Origin headers are
checked against an exact list of names and the bound port (a page in a browser that
resolves its own name to 127.0.0.1, DNS rebinding, gets 421 or 403), and with
SITREP_HTTP_TOKEN set every request must carry it as a bearer token. An address that is
not loopback, however it is spelt (`0`, `::0`, `[::]`, `000.000.000.000`, a name), is
refused without a token and without `--allow-host`: anyone who can reach the port could
otherwise read the logs, deploys and diffs sitrep can read. A connection must send its
whole request within REQUEST_READ_SECONDS, so slow or idle sockets cannot pile up.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sitrep.errors import ConfigError

__all__ = [
    "MIN_TOKEN_CHARS",
    "REQUEST_READ_SECONDS",
    "BearerToken",
    "bind_addresses",
    "http_app",
    "is_loopback",
    "serve_http",
    "uvicorn_config",
]

MIN_TOKEN_CHARS = 32
REQUEST_READ_SECONDS = 10.0
"""From a connection's start (or its previous answer) to the end of the request it sends."""
KEEP_ALIVE_SECONDS = 5
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_MAKE_A_TOKEN = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def bind_addresses(host: str) -> list[Address]:
    """The addresses a socket bound to `host` would listen on, resolved as the event loop
    resolves them (so `0`, `127.1` and `000.000.000.000` mean what they mean to bind)."""
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        found = socket.getaddrinfo(name or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as error:
        raise ConfigError(
            f"--host {host!r} cannot be resolved ({error}); give an address such as 127.0.0.1"
        ) from None
    return [ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in found]


def is_loopback(host: str) -> bool:
    """Every address `host` would bind is a loopback address."""
    try:
        addresses = bind_addresses(host)
    except ConfigError:
        return False
    return bool(addresses) and all(_loopback(address) for address in addresses)


def _loopback(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def http_app(
    server: MCPServer, *, host: str, port: int, token: str | None, allowed_hosts: Sequence[str] = ()
) -> ASGIApp:
    """The ASGI app: the SDK's streamable HTTP app behind the Host/Origin check and the token."""
    _check_token(token)
    _check_port(port)
    names = _host_names(host, token, allowed_hosts)
    hosts = _host_headers(names, port)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        # Exact values only: the SDK's `name:*` form is a prefix match (`name:80801` passes).
        allowed_hosts=hosts,
        allowed_origins=[f"{scheme}://{value}" for value in hosts for scheme in ("http", "https")],
    )
    app: ASGIApp = server.streamable_http_app(host=host, transport_security=security)
    return BearerToken(app, token) if token is not None else app


def serve_http(
    server: MCPServer, *, host: str, port: int, token: str | None, allowed_hosts: Sequence[str] = ()
) -> None:
    import uvicorn

    app = http_app(server, host=host, port=port, token=token, allowed_hosts=allowed_hosts)
    uvicorn.Server(uvicorn_config(app, host=host, port=port)).run()


def uvicorn_config(
    app: ASGIApp, *, host: str, port: int, request_read_seconds: float = REQUEST_READ_SECONDS
) -> Any:
    """uvicorn's configuration: h11 with a deadline for reading each request."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host.strip("[]"),
        port=port,
        log_level="warning",
        http=_deadline_protocol(request_read_seconds),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def _deadline_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing a connection that has not sent a whole request within
    `seconds`: uvicorn times out only idle keep-alive connections, so a client that sends
    half a request, or a byte a second, would hold its socket for ever (slowloris)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class RequestDeadline(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
                self._disarm()  # the whole request is in

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
                self.transport.close()

    return RequestDeadline


def _check_token(token: str | None) -> None:
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"SITREP_HTTP_TOKEN is {len(token)} characters; a token must have at least {MIN_TOKEN_CHARS} "
            f"so it cannot be guessed. Make one with: export SITREP_HTTP_TOKEN=$({_MAKE_A_TOKEN})"
        )


def _check_port(port: int) -> None:
    # Host and Origin name the port exactly, so it must be known before the server starts.
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a port; give one from 1 to 65535, such as 8765")


def _host_names(host: str, token: str | None, allowed_hosts: Sequence[str]) -> list[str]:
    """The names clients may use in the Host header to reach this server."""
    if is_loopback(host):
        return [*_LOOPBACK_NAMES, *allowed_hosts]
    addresses = bind_addresses(host)
    every = any(address.is_unspecified for address in addresses)
    what = "every address" if every else ", ".join(sorted({str(a) for a in addresses}))
    if token is None:
        raise ConfigError(
            f"refusing to listen on {host!r} ({what}): it is not a loopback address, and without a token "
            "anyone who can reach the port could read every log, deploy and diff sitrep can. Set "
            f"SITREP_HTTP_TOKEN to a long random secret ({_MAKE_A_TOKEN}; clients send it as "
            "`Authorization: Bearer …`), or bind 127.0.0.1"
        )
    if not allowed_hosts:
        raise ConfigError(
            f"--host {host!r} listens on {what}, not only loopback; name the host clients use to reach it "
            "with --allow-host NAME (repeatable), so the Host and Origin headers can be checked"
        )
    return list(allowed_hosts)


def _host_headers(names: Sequence[str], port: int) -> list[str]:
    """The exact Host values accepted: each name with the bound port; a name given without a
    port also alone (a proxy in front may serve it on its scheme's default port)."""
    values: list[str] = []
    for raw in names:
        name = raw.strip()
        if ":" in name and not name.startswith("["):
            try:
                name = f"[{ipaddress.IPv6Address(name)}]"
            except ValueError:
                values.append(name)  # `name:port`, as given
                continue
        elif name.startswith("[") and "]:" in name:
            values.append(name)
            continue
        values += [f"{name}:{port}", name]
    return list(dict.fromkeys(values))


class BearerToken:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(Headers(scope=scope).get("authorization", "")):
            response = JSONResponse(
                {
                    "error": "unauthorized",
                    "error_description": "send Authorization: Bearer <SITREP_HTTP_TOKEN>",
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="sitrep"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, header: str) -> bool:
        scheme, _, given = header.partition(" ")
        # compare_digest: the time taken must not tell how much of a guess was right.
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._expected)
