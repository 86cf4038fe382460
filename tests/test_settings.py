from pathlib import Path

import pytest

from sitrep.errors import ConfigError
from sitrep.settings import load_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_relative_paths_resolve_against_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path / "sitrep.toml",
        '[[git]]\nservice = "checkout"\nrepo = "repo"\n[deploy_log]\npath = "d.jsonl"\n'
        '[files]\npaths = ["logs/*.jsonl"]\n',
    )
    monkeypatch.chdir("/")
    settings = load_settings(config)
    assert settings.git[0].repo == tmp_path / "repo"
    assert settings.deploy_log is not None and settings.deploy_log.path == tmp_path / "d.jsonl"
    assert settings.files is not None and settings.files.paths == [str(tmp_path / "logs/*.jsonl")]


def test_environment_overrides_the_file_with_nesting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(
        tmp_path / "sitrep.toml", '[deploy_log]\npath = "from-file.jsonl"\n[output]\nmax_chars = 9000\n'
    )
    monkeypatch.setenv("SITREP_DEPLOY_LOG__PATH", "/elsewhere/d.jsonl")
    monkeypatch.setenv("SITREP_OUTPUT__MAX_CHARS", "4000")
    settings = load_settings(config)
    assert settings.deploy_log is not None and str(settings.deploy_log.path) == "/elsewhere/d.jsonl"
    assert settings.output.max_chars == 4000


def test_sitrep_config_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "x.toml", "[files]\npaths = ['a.log']\n")
    monkeypatch.setenv("SITREP_CONFIG", str(config))
    assert load_settings().config_path == config.resolve()


def test_misspelt_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    config = write(tmp_path / "sitrep.toml", '[deploy_log]\npth = "d.jsonl"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert "`deploy_log.path` is required; add it" in message
    assert "`deploy_log.pth` is not a known key (did you mean `path`?)" in message


def test_missing_required_key_in_a_list_entry(tmp_path: Path) -> None:
    config = write(tmp_path / "sitrep.toml", '[[git]]\nservice = "checkout"\n')
    with pytest.raises(ConfigError, match=r"`git\[0\]\.repo` is required"):
        load_settings(config)


def test_wrong_type_names_the_key_and_the_value(tmp_path: Path) -> None:
    config = write(tmp_path / "sitrep.toml", "[output]\nmax_chars = 'lots'\n")
    with pytest.raises(ConfigError, match=r"`output.max_chars`: .*got 'lots'"):
        load_settings(config)


def test_two_entries_for_one_service_are_refused(tmp_path: Path) -> None:
    config = write(
        tmp_path / "sitrep.toml", '[[git]]\nservice = "a"\nrepo = "x"\n[[git]]\nservice = "a"\nrepo = "y"\n'
    )
    with pytest.raises(ConfigError, match="service 'a' has two"):
        load_settings(config)


def test_invalid_toml_and_missing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path / "bad.toml", "[git\n"))
    with pytest.raises(ConfigError, match="does not exist; pass --config"):
        load_settings(tmp_path / "absent.toml")
