"""Alertmanager as an alert source: what fires now (`GET /api/v2/alerts`), through the guarded
client (GET of alerts, alert groups, silences and status only: sitrep never creates a silence).
Alertmanager keeps no history; alerts that fired before come from Prometheus' ALERTS series
when [prometheus] is configured."""

from __future__ import annotations

import time
from typing import Any

from sitrep.domain import Alert
from sitrep.errors import SourceError, SourceResponseError
from sitrep.settings import AlertmanagerSettings
from sitrep.sources.http_guard import ALERTMANAGER_READS, GuardedHttp
from sitrep.sources.prometheus import PrometheusMetrics, epoch, http_client
from sitrep.sources.protocols import AlertPage, SourceStatus

__all__ = ["AlertmanagerAlerts"]

SOURCE = "alertmanager"
_STATES = {"active": "firing", "suppressed": "suppressed", "unprocessed": "pending"}


class AlertmanagerAlerts:
    """An AlertSource: Alertmanager now, Prometheus' ALERTS series for the past."""

    name = SOURCE

    def __init__(
        self,
        config: AlertmanagerSettings,
        *,
        deadline_seconds: float,
        service_label: str = "service",
        history: PrometheusMetrics | None = None,
        client: GuardedHttp | None = None,
    ) -> None:
        self.url = config.url
        self.service_label = service_label
        self.history_source = history
        self.client = client or http_client(
            SOURCE, config, ALERTMANAGER_READS, deadline_seconds=deadline_seconds
        )

    def active(self) -> AlertPage:
        answer = self.client.get(
            "/api/v2/alerts",
            {"active": "true", "silenced": "true", "inhibited": "true", "unprocessed": "true"},
        )
        if not isinstance(answer, list):
            raise SourceResponseError(SOURCE, "GET /api/v2/alerts answered without a list")
        return AlertPage([alert for item in answer if (alert := self._alert(item)) is not None])

    def history(self, start: float, end: float) -> AlertPage:
        if self.history_source is None:
            return AlertPage(
                [],
                ["no alert history: Alertmanager keeps none; configure [prometheus] for its ALERTS series"],
            )
        return AlertPage(self.history_source.alert_history(start, end))

    def status(self) -> SourceStatus:
        started = time.perf_counter()
        try:
            answer = self.client.get("/api/v2/status", attempts=1)
        except SourceError as error:
            return SourceStatus(SOURCE, "alerts", False, _ms(started), str(error))
        info = answer.get("versionInfo") if isinstance(answer, dict) else None
        version = info.get("version", "unknown") if isinstance(info, dict) else "unknown"
        history = "history from Prometheus' ALERTS" if self.history_source else "no history (no [prometheus])"
        return SourceStatus(
            SOURCE, "alerts", True, _ms(started), f"Alertmanager {version} at {self.url}; {history}"
        )

    def _alert(self, item: Any) -> Alert | None:
        if not isinstance(item, dict):
            return None
        labels = _strings(item.get("labels"))
        status = item.get("status")
        state = status.get("state") if isinstance(status, dict) else None
        return Alert(
            name=labels.get("alertname", "unnamed"),
            state=_STATES.get(str(state), "firing"),
            starts_at=epoch(item.get("startsAt")) or 0.0,
            ends_at=None,
            severity=labels.get("severity"),
            service=labels.get(self.service_label),
            labels=labels,
            annotations=_strings(item.get("annotations")),
            source=SOURCE,
        )


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
