import os
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitrep.errors import ConfigError
from sitrep.settings import MAX_CONFIG_BYTES, load_settings


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


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("SITREP_DEPLOY_LOG__PAHT", "x", "environment variable SITREP_DEPLOY_LOG__PAHT: `deploy_log.paht`"),
        (
            "SITREP_DEADLINE_SECONDS",
            "abc",
            "environment variable SITREP_DEADLINE_SECONDS: `deadline_seconds`",
        ),
        (
            "SITREP_OUTPUT__MAX_CHARS",
            "5",
            "environment variable SITREP_OUTPUT__MAX_CHARS: `output.max_chars`",
        ),
        (
            "SITREP_DEADLNE_SECONDS",
            "3",
            "SITREP_DEADLNE_SECONDS names no setting (did you mean SITREP_DEADLINE",
        ),
        ("SITREP_FILES__PATHS", "x.log", "environment variable SITREP_FILES__PATHS: not valid JSON"),
    ],
)
def test_a_bad_environment_override_names_the_variable_not_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    config = write(tmp_path / "sitrep.toml", '[deploy_log]\npath = "d.jsonl"\n')
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert says in str(caught.value)
    assert str(config) not in str(caught.value), "the file is not to blame"


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


def test_opensearch_section_with_credentials_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path / "sitrep.toml",
        '[opensearch]\nurl = ["https://a:9200", "https://b:9200"]\nindex = "logs-app-*"\nca_certs = "ca.pem"\n',
    )
    monkeypatch.setenv("SITREP_OPENSEARCH__USERNAME", "sitrep")
    monkeypatch.setenv("SITREP_OPENSEARCH__PASSWORD", "hunter2")
    opensearch = load_settings(config).opensearch
    assert opensearch is not None and opensearch.urls == ["https://a:9200", "https://b:9200"]
    assert opensearch.ca_certs == tmp_path / "ca.pem" and opensearch.verify_certs
    assert opensearch.password is not None and opensearch.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(opensearch)


@pytest.mark.parametrize("key", ["username", "password", "api_key"])
def test_opensearch_credentials_in_the_file_are_refused(tmp_path: Path, key: str) -> None:
    config = write(tmp_path / "sitrep.toml", f'[opensearch]\nurl = "http://x:9200"\n{key} = "secret"\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(config)
    assert f"opensearch.{key} must not be written in the configuration file" in str(refused.value)
    assert f"SITREP_OPENSEARCH__{key.upper()}" in str(refused.value) and "secret" not in str(refused.value)


def test_credentials_in_the_url_are_refused_without_echoing_them(tmp_path: Path) -> None:
    config = write(tmp_path / "sitrep.toml", '[opensearch]\nurl = "http://admin:hunter2@x:9200"\n')
    with pytest.raises(ConfigError, match="must not carry credentials") as refused:
        load_settings(config)
    assert "hunter2" not in str(refused.value)


def test_half_a_login_or_two_kinds_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "sitrep.toml", '[opensearch]\nurl = "http://x:9200"\n')
    monkeypatch.setenv("SITREP_OPENSEARCH__USERNAME", "sitrep")
    with pytest.raises(
        ConfigError, match="set both SITREP_OPENSEARCH__USERNAME and SITREP_OPENSEARCH__PASSWORD"
    ):
        load_settings(config)
    monkeypatch.setenv("SITREP_OPENSEARCH__PASSWORD", "p")
    monkeypatch.setenv("SITREP_OPENSEARCH__API_KEY", "k3y")
    with pytest.raises(
        ConfigError, match="either SITREP_OPENSEARCH__API_KEY or a username and password"
    ) as refused:
        load_settings(config)
    assert "k3y" not in str(refused.value)


def test_files_and_opensearch_together_are_refused(tmp_path: Path) -> None:
    config = write(
        tmp_path / "sitrep.toml", '[files]\npaths = ["a.log"]\n[opensearch]\nurl = "http://x:9200"\n'
    )
    with pytest.raises(ConfigError, match=r"both \[files\] and \[opensearch\] are configured; choose one"):
        load_settings(config)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('url = "ftp://x"', r"is not an http\(s\) URL"),
        ('url = "http://x:9200"\nindex = "_bulk"', "is not an index name, pattern or alias"),
        ('url = "http://x:9200"\nindex = "logs/_doc"', "is not an index name, pattern or alias"),
        ('url = "http://x:9200"\nmax_distinct_messages = 10', "opensearch.max_distinct_messages"),
    ],
)
def test_opensearch_values_are_checked(tmp_path: Path, line: str, message: str) -> None:
    config = write(tmp_path / "sitrep.toml", f"[opensearch]\n{line}\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


# -- the edges (issue 9) ------------------------------------------------------------------
def any_case(word: str) -> st.SearchStrategy[str]:
    """`word` with each letter in either case (and the Kelvin sign for k, which lowers to k)."""
    spellings = [st.sampled_from([c.lower(), c.upper(), *(["\u212a"] if c == "k" else [])]) for c in word]
    return st.tuples(*spellings).map("".join)


@given(key=any_case("http_token"))
@settings(max_examples=100, deadline=None)
def test_http_token_is_refused_in_any_letter_case(key: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        config = write(Path(directory) / "sitrep.toml", f'"{key}" = "hunter2-token"\n')
        with pytest.raises(ConfigError, match="SITREP_HTTP_TOKEN") as refused:
            load_settings(config)
    assert "hunter2" not in str(refused.value)


@given(section=any_case("opensearch"), key=st.sampled_from(["username", "password", "api_key"]).flatmap(
    lambda name: st.tuples(st.just(name), any_case(name))
))  # fmt: skip
@settings(max_examples=150, deadline=None)
def test_opensearch_credentials_are_refused_in_any_letter_case(section: str, key: tuple[str, str]) -> None:
    name, spelt = key
    with tempfile.TemporaryDirectory() as directory:
        text = f'["{section}"]\nurl = "http://x:9200"\n"{spelt}" = "hunter2-secret"\n'
        with pytest.raises(ConfigError, match=f"SITREP_OPENSEARCH__{name.upper()}") as refused:
            load_settings(write(Path(directory) / "sitrep.toml", text))
    assert "hunter2" not in str(refused.value)


def test_sections_in_any_case_keep_their_paths_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path / "sitrep.toml", '[DEPLOY_LOG]\npath = "d.jsonl"\n')
    monkeypatch.chdir("/")
    settings = load_settings(config)
    assert settings.deploy_log is not None and settings.deploy_log.path == tmp_path / "d.jsonl"
    with pytest.raises(ConfigError, match="given twice"):
        load_settings(write(tmp_path / "two.toml", '[files]\npaths = ["a"]\n[FILES]\npaths = ["b"]\n'))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://admin:hunter2@search:9200",
        "http//admin:hunter2@search",
        "https://admin:hunter2@/x",
        "admin:hunter2@search:9200",
    ],
)
def test_an_invalid_url_is_named_without_its_password(tmp_path: Path, url: str) -> None:
    for text in (f'[opensearch]\nurl = "{url}"\n', f'[opensearch]\nurl = ["http://ok:9200", "{url}"]\n'):
        with pytest.raises(ConfigError) as refused:
            load_settings(write(tmp_path / "sitrep.toml", text))
        assert "hunter2" not in str(refused.value) and "opensearch.url" in str(refused.value)


# -- what --config may name ----------------------------------------------------------------
def refused_quickly(path: Path, says: str) -> str:
    """load_settings(path) refuses with a one-line message containing `says`, without hanging."""
    outcome: list[BaseException | None] = []
    worker = threading.Thread(target=lambda: outcome.append(_refusal(path)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert outcome, f"load_settings({path}) hung"
    (error,) = outcome
    assert isinstance(error, ConfigError), error
    message = str(error)
    assert says in message and "\n" not in message and str(path) in message
    return message


def _refusal(path: Path) -> BaseException | None:
    try:
        load_settings(path)
    except BaseException as error:  # handed to the test thread
        return error
    return None


def test_a_directory_is_refused(tmp_path: Path) -> None:
    refused_quickly(tmp_path, "is a directory, not a regular file")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    refused_quickly(fifo, "is a FIFO, not a regular file")


def test_dev_zero_is_refused() -> None:
    refused_quickly(Path("/dev/zero"), "is a character device, not a regular file")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    refused_quickly(tmp_path / "absent.toml", "does not exist")


def test_an_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "sitrep.toml", "")
    config.chmod(0)
    if os.geteuid() == 0:  # root reads it anyway: make the open fail as it would for anyone else
        real_open = os.open

        def denied(path: object, *args: object, **kwargs: object) -> int:
            if Path(str(path)) == config:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", denied)
    refused_quickly(config, "permission denied")


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    config = write(tmp_path / "sitrep.toml", "# " + "x" * (MAX_CONFIG_BYTES + 10) + "\n")
    refused_quickly(config, "larger than")


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "sitrep.toml"
    config.write_bytes(b'# \xff\xfe\n[files]\npaths = ["a"]\n')
    refused_quickly(config, "not UTF-8")


def test_the_cli_says_it_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sitrep.cli.main import main

    assert main(["status", "--config", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a directory" in err and "Traceback" not in err


PROMETHEUS = """
[prometheus]
url = "http://127.0.0.1:9090"
service_label = "app"
[prometheus.signals]
requests = 'sum(rate(http_requests_total{app="{service}"}[{range}]))'
queue_depth = { query = 'max(queue_depth{app="{service}"})', bad = "up" }
[alertmanager]
url = "http://127.0.0.1:9093"
"""


def test_prometheus_and_alertmanager_sections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITREP_PROMETHEUS__TOKEN", "t0ken")
    settings = load_settings(write(tmp_path / "s.toml", PROMETHEUS))
    assert settings.prometheus is not None and settings.alertmanager is not None
    assert settings.prometheus.token is not None and settings.prometheus.token.get_secret_value() == "t0ken"
    queries = settings.prometheus.signal_queries()
    assert queries["requests"][1] == "down"
    assert queries["queue_depth"] == ('max(queue_depth{app="{service}"})', "up")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[prometheus.signals]\nfoo = "up"\n', "bad = "),
        ("[prometheus.signals]\nerrors = 'x{job}'\n", r"\{job\}"),
        ('[prometheus.signals]\nq = { query = "x", bad = "sideways" }\n', "bad"),
        ('service_label = "not a label"\n', "label name"),
    ],
)
def test_prometheus_mistakes_are_named(tmp_path: Path, extra: str, message: str) -> None:
    text = '[prometheus]\nurl = "http://127.0.0.1:9090"\n'
    text += extra
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path / "s.toml", text))


@pytest.mark.parametrize("section", ["prometheus", "alertmanager"])
def test_http_credentials_in_the_file_or_url_are_refused(tmp_path: Path, section: str) -> None:
    with pytest.raises(ConfigError, match=f"SITREP_{section.upper()}__TOKEN"):
        load_settings(write(tmp_path / "a.toml", f'[{section}]\nurl = "http://x:9"\ntoken = "s"\n'))
    with pytest.raises(ConfigError, match="must not carry credentials") as caught:
        load_settings(write(tmp_path / "b.toml", f'[{section}]\nurl = "http://u:hunter2@x:9"\n'))
    assert "hunter2" not in str(caught.value)
