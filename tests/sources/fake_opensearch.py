"""A scripted OpenSearch connection for fault injection: the guard still runs (only `_send`,
the network call, is replaced), so what the tests see is what sitrep would send."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sitrep.settings import FieldNames, OpenSearchSettings
from sitrep.sources.opensearch import OpenSearchLogSource
from sitrep.sources.opensearch_client import GuardedConnection, ReadOnlyClient

Reply = tuple[int, Any] | Exception


@dataclass
class Script:
    """Replies in order, and what was sent."""

    replies: list[Reply]
    sent: list[tuple[str, str, dict[str, Any], Any, float | None]] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def connection(self) -> type[GuardedConnection]:
        script = self

        class Scripted(GuardedConnection):
            def _send(
                self,
                method: str,
                url: str,
                params: Mapping[str, Any] | None,
                body: bytes | None,
                timeout: float | None,
                ignore: Collection[int],
                headers: Mapping[str, str] | None,
            ) -> Any:
                script.sent.append((method, url, dict(params or {}), body, timeout))
                script.headers.append({**self.headers, **(headers or {})})
                reply = script.replies.pop(0)
                if isinstance(reply, Exception):
                    raise reply
                status, data = reply
                text = data if isinstance(data, str) else json.dumps(data)
                if not 200 <= status < 300:
                    self._raise_error(status, text, "application/json")
                return status, {"content-type": "application/json"}, text

        return Scripted


def settings(**options: Any) -> OpenSearchSettings:
    return OpenSearchSettings(**{"url": "http://search.test:9200", "index": "logs-*", **options})


def client(script: Script, **options: Any) -> ReadOnlyClient:
    return ReadOnlyClient(
        settings(**options),
        budget_seconds=15,
        connection_class=script.connection(),
        sleep=script.slept.append,
    )


def source(script: Script, **options: Any) -> OpenSearchLogSource:
    return OpenSearchLogSource(
        settings(**options),
        FieldNames(),
        deadline_seconds=20,
        connection_class=script.connection(),
        sleep=script.slept.append,
    )


def error(kind: str, reason: str, status: int) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind},
        "status": status,
    }


DYNAMIC_CAPS: dict[str, Any] = {
    "indices": ["logs-2026.05.04"],
    "fields": {
        "@timestamp": {"date": {"type": "date", "searchable": True, "aggregatable": True}},
        "message": {"text": {"type": "text", "searchable": True, "aggregatable": False}},
        "message.keyword": {"keyword": {"type": "keyword", "searchable": True, "aggregatable": True}},
        "service.name": {"text": {"type": "text", "searchable": True, "aggregatable": False}},
        "service.name.keyword": {"keyword": {"type": "keyword", "searchable": True, "aggregatable": True}},
        "log.level": {"text": {"type": "text", "searchable": True, "aggregatable": False}},
        "log.level.keyword": {"keyword": {"type": "keyword", "searchable": True, "aggregatable": True}},
        "http.response.status_code": {"long": {"type": "long", "searchable": True, "aggregatable": True}},
        "event.duration": {"long": {"type": "long", "searchable": True, "aggregatable": True}},
    },
}
