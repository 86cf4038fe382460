from pathlib import Path

import pytest

from sitrep.errors import SourceUnavailable
from sitrep.settings import DeployLogSource
from sitrep.sources.deploy_log import DeployLog


def test_reads_deploys_oldest_first_and_skips_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "deploys.jsonl"
    path.write_text(
        '{"timestamp": "2026-11-23T10:00:00Z", "service": "a", "version": "2", "sha": "ABCDEF1", "status": "failed"}\n'
        '{"timestamp": "2026-11-23T09:00:00Z", "service": "a", "version": 1, "author": "kim"}\n'
        '{"timestamp": "whenever", "service": "a", "version": "3"}\n'
        '{"service": "a"\n'
        "\n"
    )
    read = DeployLog(DeployLogSource(path=path)).read()
    assert [(d.version, d.author) for d in read.deploys] == [("1", "kim"), ("2", None)]
    assert read.deploys[1].sha == "abcdef1" and not read.deploys[1].went_live
    assert read.lines_skipped == 2


def test_missing_file_is_unavailable_and_status_not_ok(tmp_path: Path) -> None:
    log = DeployLog(DeployLogSource(path=tmp_path / "absent.jsonl"))
    with pytest.raises(SourceUnavailable, match="does not exist; fix \\[deploy_log\\] path"):
        log.read()
    assert not log.status().ok
