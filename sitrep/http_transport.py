"""`sitrep serve --transport http`: streamable HTTP, locked down.

It binds 127.0.0.1 unless told otherwise. Every request's Host and Origin headers are
checked (a page in a browser that resolves its own name to 127.0.0.1, DNS rebinding, gets
421 or 403), and with SITREP_HTTP_TOKEN set every request must carry it as a bearer token.
A non-loopback address is refused without a token: anyone who can reach the port could
otherwise read the logs, deploys and diffs sitrep can read.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sitrep.errors import ConfigError

__all__ = ["BearerToken", "http_app", "is_loopback", "serve_http"]

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_EVERY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_app(
    server: MCPServer, *, host: str, token: str | None, allowed_hosts: Sequence[str] = ()
) -> ASGIApp:
    """The ASGI app: the SDK's streamable HTTP app behind the Host/Origin check and the token."""
    names = _host_names(host, token, allowed_hosts)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[form for name in names for form in (name, f"{name}:*")],
        allowed_origins=[
            f"{scheme}://{name}{port}"
            for name in names
            for scheme in ("http", "https")
            for port in ("", ":*")
        ],
    )
    app: ASGIApp = server.streamable_http_app(host=host, transport_security=security)
    return BearerToken(app, token) if token else app


def serve_http(
    server: MCPServer, *, host: str, port: int, token: str | None, allowed_hosts: Sequence[str] = ()
) -> None:
    import uvicorn

    app = http_app(server, host=host, token=token, allowed_hosts=allowed_hosts)
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning")


def _host_names(host: str, token: str | None, allowed_hosts: Sequence[str]) -> list[str]:
    """The names clients may use in the Host header to reach this server."""
    if is_loopback(host):
        return [*_LOOPBACK_NAMES, *allowed_hosts]
    if not token:
        raise ConfigError(
            f"refusing to listen on {host}: it is not a loopback address, and without a token anyone who "
            "can reach the port could read every log, deploy and diff sitrep can. Set SITREP_HTTP_TOKEN "
            "to a long random secret (clients send it as `Authorization: Bearer …`), or bind 127.0.0.1"
        )
    if host in _EVERY_ADDRESS and not allowed_hosts:
        raise ConfigError(
            f"--host {host or '(empty)'} listens on every address, so the Host header clients send cannot "
            "be checked against it; name the host clients use with --allow-host NAME (repeatable)"
        )
    bound = [] if host in _EVERY_ADDRESS else [f"[{host}]" if ":" in host else host]
    return [*bound, *allowed_hosts]


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
