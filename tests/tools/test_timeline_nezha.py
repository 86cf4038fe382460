"""incident_timeline on real logs written by others: every faulty log minute of Nezha
TrainTicket's 2023-01-30 (tests/fixtures/nezha), in its fault windows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sitrep.results import IncidentTimeline
from sitrep.settings import FilesSource, Settings
from sitrep.tools.context import ToolContext, build_context
from sitrep.tools.timeline import incident_timeline

FIXTURE = Path(__file__).parents[1] / "fixtures" / "nezha" / "trainticket-2023-01-30-faults.jsonl.gz"


@pytest.fixture(scope="module")
def nezha() -> ToolContext:
    settings = Settings(config_path=Path("/nezha.toml"), files=FilesSource(paths=[str(FIXTURE)]))
    return build_context(settings, clock=lambda: datetime(2023, 1, 30, 15, tzinfo=UTC), cwd=Path("/"))


def test_the_travel_service_errors_are_a_change_with_an_end(nezha: ToolContext) -> None:
    """ts-travel-service, ten minutes from 13:06:49 against the hour before: its error lines
    rise (27 ERROR lines from 13:14:55) and its log volume falls, each with its end."""
    result = incident_timeline(
        nezha, service="ts-travel-service", since="2023-01-30T13:06:49Z", until="2023-01-30T13:16:49Z"
    )
    assert isinstance(result, IncidentTimeline)
    assert result.baseline_since == "2023-01-30T12:06:49Z"
    changes = [e for e in result.events if e.ref == "logs:error lines"]
    assert [e.kind for e in changes] == ["error_spike", "recovery"]
    spike, back = changes
    assert (
        spike.service == "ts-travel-service" and "error lines of ts-travel-service rose from" in spike.summary
    )
    assert "q " in spike.summary and spike.timestamp < back.timestamp <= result.until
    onset = next(e for e in result.events if e.kind == "error_onset")
    assert (
        abs(
            datetime.fromisoformat(onset.timestamp).timestamp()
            - datetime.fromisoformat(spike.timestamp).timestamp()
        )
        < 60
    )
    assert result.summary.startswith(f"{len(result.events)} event(s) in 2023-01-30T13:06:49Z to")
    assert [e.timestamp for e in result.events] == sorted(e.timestamp for e in result.events)


def test_a_quiet_window_says_so(nezha: ToolContext) -> None:
    """14:08:19, a network delay of ts-security-service that leaves no trace in any service's
    logs: the answer says what was looked at and that nothing changed, not an empty list."""
    result = incident_timeline(nezha, since="2023-01-30T14:08:19Z", until="2023-01-30T14:18:19Z")
    assert result.events == []
    assert result.summary.startswith("no change found in 2023-01-30T14:08:19Z to 2023-01-30T14:18:19Z")
    tested = int(result.summary.split("none of ")[1].split()[0])
    assert tested >= 30, "every service's log volume and error lines were judged"
