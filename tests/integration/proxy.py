"""A small HTTP proxy in front of a real OpenSearch node: it records every request that
reaches the wire, and on demand misbehaves the way real clusters and the networks in front
of them do.

Faults (set `proxy.fault`):
    None             pass everything through
    "delay"          answer, but only after `delay` seconds
    "reset"          drop the connection with a TCP reset, before any answer
    "stall"          send the headers and half the body, then nothing (until the test ends)
    "drip"           send the answer one byte every `drip` seconds
    "429", "503"     answer with that status and a JSON error, as a throttling node or proxy
    "html"           answer 200 with an HTML error page, as a misconfigured load balancer
    "truncated"      answer 200 with JSON cut off in the middle
    "wrong-types"    answer 200 with valid JSON of the wrong shape
    "huge"           answer 200 with a 10 MB body
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

FAULTS = ("delay", "reset", "stall", "drip", "429", "503", "html", "truncated", "wrong-types", "huge")


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    target: str
    """Path and query, as sent."""
    body_bytes: int


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 9200)
        self.fault: str | None = None
        self.delay = 30.0
        self.drip = 0.5
        self.seen: list[Seen] = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            connection.request(method, target, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheader("content-type") or "application/json", response.read()
        finally:
            connection.close()

    def close(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()


def _throttled(status: int) -> tuple[int, str, bytes]:
    error = {"error": {"type": "es_rejected_execution_exception", "reason": "rejected"}, "status": status}
    return status, "application/json", json.dumps(error).encode()


CANNED: dict[str, tuple[int, str, bytes]] = {
    "429": _throttled(429),
    "503": _throttled(503),
    "html": (200, "text/html", b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"),
    "truncated": (200, "application/json", b'{"took":3,"timed_out":false,"hits":{"total":{"val'),
    "wrong-types": (
        200,
        "application/json",
        b'{"took":"soon","hits":[1,2,3],"aggregations":"none","responses":7}',
    ),
    "huge": (200, "application/json", b'{"junk":"' + b"x" * (10 << 20) + b'"}'),
}


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            proxy.record(Seen(self.command, self.path, len(body)))
            fault = proxy.fault
            if fault == "reset":
                # SO_LINGER with a zero timeout: close() sends RST, as a dying node does.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
            elif fault in CANNED:
                self._send(*CANNED[fault])
            else:
                self._relay(fault, body)

        def _relay(self, fault: str | None, body: bytes) -> None:
            skip = ("host", "content-length", "connection")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            if fault == "delay":
                proxy.released.wait(proxy.delay)
            status, kind, data = proxy.forward(self.command, self.path, headers, body)
            if fault == "stall":
                self._head(status, kind, len(data))
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                proxy.released.wait()
                self.close_connection = True
            elif fault == "drip":
                self._head(status, kind, len(data))
                for offset in range(len(data)):
                    if proxy.released.is_set():
                        break
                    self.wfile.write(data[offset : offset + 1])
                    self.wfile.flush()
                    time.sleep(proxy.drip)
                self.close_connection = True
            else:
                self._send(status, kind, data)

        def _head(self, status: int, kind: str, length: int) -> None:
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(length))
            self.end_headers()

        def _send(self, status: int, kind: str, data: bytes) -> None:
            try:
                self._head(status, kind, len(data))
                self.wfile.write(data)
            except OSError:
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

    return Handler
