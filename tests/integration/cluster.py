"""The tests' own access to a real OpenSearch node: create indices, bulk-load documents,
count, delete. sitrep never writes; this is the test harness loading its data."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

# Dynamic mapping, as a cluster with no index template gives: strings become text with a
# `.keyword` sub-field that ignores values longer than 256 characters.
DYNAMIC: dict[str, Any] | None = None
# An ECS-style template: keywords for the facts, the message as text only.
ECS_TEXT_MESSAGE: dict[str, Any] = {
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {"type": "text"},
        "service": {"properties": {"name": {"type": "keyword"}}},
        "log": {"properties": {"level": {"type": "keyword"}}},
        "http": {"properties": {"response": {"properties": {"status_code": {"type": "long"}}}}},
        "event": {"properties": {"duration": {"type": "long"}}},
    }
}


class Cluster:
    """One OpenSearch node, reached over plain HTTP by the test harness."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=300)
        self.created: list[str] = []

    def index(
        self,
        name: str,
        documents: Iterable[Mapping[str, Any]],
        *,
        mappings: dict[str, Any] | None = DYNAMIC,
        shards: int = 1,
    ) -> str:
        """A new index (its name made unique) holding `documents`, refreshed and searchable."""
        index = f"sitrep-test-{name}-{uuid.uuid4().hex[:8]}"
        settings = {"number_of_shards": shards, "number_of_replicas": 0, "refresh_interval": "-1"}
        body: dict[str, Any] = {"settings": settings}
        if mappings is not None:
            body["mappings"] = mappings
        self.http.put(f"/{index}", json=body).raise_for_status()
        self.created.append(index)
        self.bulk(index, documents)
        return index

    def bulk(self, index: str, documents: Iterable[Mapping[str, Any]], chunk: int = 10_000) -> None:
        action = json.dumps({"index": {"_index": index}})
        batch: list[str] = []
        for document in documents:
            batch += [action, json.dumps(document)]
            if len(batch) >= 2 * chunk:
                self._send(batch)
                batch = []
        if batch:
            self._send(batch)
        self.http.post(f"/{index}/_refresh").raise_for_status()

    def _send(self, lines: list[str]) -> None:
        response = self.http.post(
            "/_bulk", content="\n".join(lines) + "\n", headers={"content-type": "application/x-ndjson"}
        )
        response.raise_for_status()
        answer = response.json()
        if answer["errors"]:
            failed = [item for item in answer["items"] if "error" in item["index"]]
            raise AssertionError(f"bulk load failed: {failed[:3]}")

    def count(self, index: str, query: Mapping[str, Any]) -> int:
        """OpenSearch's own count, for checking sitrep's totals against."""
        return int(self._read("POST", f"/{index}/_count", {"query": query})["count"])

    def mapping(self, index: str) -> Any:
        return self._read("GET", f"/{index}/_mapping")

    def _read(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        # 429 is the node's search queue full (the searches of a test's last, timed-out calls
        # may still be running on it): back off and ask again, as any client should.
        for attempt in range(20):
            response = self.http.request(method, path, json=body)
            if response.status_code != 429:
                break
            time.sleep(0.5 * (attempt + 1))
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        """Delete the indices this harness created, and hang up."""
        for index in self.created:
            self.http.delete(f"/{index}")
        self.created.clear()
        self.http.close()


def read_ndjson(*paths: Path) -> Iterator[dict[str, Any]]:
    """The documents of NDJSON files (`.gz` too), skipping lines that are not JSON objects
    (the demo writes a few on purpose; a log shipper would drop them too)."""
    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                try:
                    document = json.loads(line)
                except ValueError:
                    continue
                if isinstance(document, dict):
                    yield document
