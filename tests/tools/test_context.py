"""Reads fail soft: one missing source is reported and the others keep working."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sitrep.errors import InputError
from sitrep.settings import DeployLogSource, FilesSource, GitSource, Settings
from sitrep.tools.context import build_context
from sitrep.tools.deploys import recent_deploys
from sitrep.tools.history import known_services, require_service
from sitrep.tools.status import sources_status
from tests.gitrepo import NOW, Repo, hours_ago


def deploy_log(path: Path, *entries: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    return path


def test_with_no_configuration_the_current_repository_is_the_service(
    make_repo: Callable[[str], Repo],
) -> None:
    repo = make_repo("shop")
    sha = repo.commit("first", {"a.py": "x"}, hours_ago(2))
    runtime = build_context(Settings(), cwd=repo.path, clock=lambda: NOW)
    assert known_services(runtime.sources) == ["shop"]
    result = recent_deploys(runtime)
    assert [(d.service, d.sha, d.source) for d in result.deploys] == [("shop", sha, "git")]
    hints = " ".join(sources_status(runtime).hints)
    assert f"using the git repository at {repo.path} as service 'shop'" in hints and "[deploy_log]" in hints


def test_a_broken_repository_leaves_the_deploy_log_working(tmp_path: Path) -> None:
    log = deploy_log(
        tmp_path / "deploys.jsonl", {"timestamp": hours_ago(1).isoformat(), "service": "api", "version": "7"}
    )
    settings = Settings(
        config_path=tmp_path / "sitrep.toml",
        git=[GitSource(service="api", repo=tmp_path / "not-a-repo")],
        deploy_log=DeployLogSource(path=log),
    )
    runtime = build_context(settings, clock=lambda: NOW)
    result = recent_deploys(runtime, service="api")
    assert [d.version for d in result.deploys] == ["7"]
    assert any("git:api not read" in note for note in result.notes)
    status = {s.name: s for s in sources_status(runtime).sources}
    assert not status["git:api"].ok and "does not exist" in status["git:api"].detail
    assert status["deploy_log"].ok


def test_a_missing_deploy_log_leaves_git_working(make_repo: Callable[[str], Repo], tmp_path: Path) -> None:
    repo = make_repo("api")
    repo.commit("first", {"a.py": "x"}, hours_ago(3))
    settings = Settings(
        config_path=tmp_path / "sitrep.toml",
        git=[GitSource(service="api", repo=repo.path)],
        deploy_log=DeployLogSource(path=tmp_path / "absent.jsonl"),
        files=FilesSource(paths=[str(tmp_path / "logs/*.jsonl")]),
    )
    runtime = build_context(settings, clock=lambda: NOW)
    result = recent_deploys(runtime)
    assert len(result.deploys) == 1 and any("deploy log not read" in note for note in result.notes)
    status = {s.name: s.ok for s in sources_status(runtime).sources}
    assert status == {"git:api": True, "deploy_log": False, "files": False}


def test_environment_filter_and_unknown_services(tmp_path: Path) -> None:
    log = deploy_log(
        tmp_path / "deploys.jsonl",
        {"timestamp": hours_ago(2).isoformat(), "service": "api", "version": "1", "environment": "staging"},
        {
            "timestamp": hours_ago(1).isoformat(),
            "service": "api",
            "version": "2",
            "environment": "production",
        },
    )
    settings = Settings(
        config_path=tmp_path / "x.toml", deploy_log=DeployLogSource(path=log, environment="production")
    )
    runtime = build_context(settings, clock=lambda: NOW)
    assert [d.version for d in recent_deploys(runtime).deploys] == ["2"]
    with pytest.raises(InputError, match="unknown service 'web'; known services: api"):
        require_service(runtime.sources, "web")
