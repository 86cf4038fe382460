"""Configuration, read in one place: a TOML file, then `SITREP_…` environment overrides.

`load_settings` is called once, by the CLI, and the `Settings` it returns is passed down.
Relative paths in the file are resolved against the file's directory, so a config works
from wherever the server is started.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from sitrep.errors import ConfigError

CONFIG_ENV = "SITREP_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GitSource(_Section):
    """One service's repository: first-parent commits of `branch` (or tags) are its deploys."""

    service: str = Field(min_length=1)
    repo: Path
    branch: str = "main"
    tag_pattern: str | None = None
    path: str | None = None
    rollback_command: str | None = None


class DeployLogSource(_Section):
    """NDJSON, one deploy a line: the source of truth for when a deploy happened."""

    path: Path
    environment: str | None = None
    """Keep only deploys to this environment (e.g. "production"); by default keep all."""


class FilesSource(_Section):
    """Local log files (globs), streamed on every query."""

    paths: list[str] = Field(min_length=1)
    format: Literal["auto", "ndjson", "logfmt", "plain"] = "auto"
    service: str | None = None
    """Service for lines that name none; by default the file's name without extensions."""


_OPENSEARCH_SECRETS = ("username", "password", "api_key")
_USERINFO = (
    re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s'\"]*@"),  # scheme://anything@
    re.compile(r"(^|[\s'\"/])[^\s'\"/:]+:(?!//)[^\s'\"]*@"),  # user:password@ with a mistyped scheme or none
)


def without_userinfo(text: str) -> str:
    """`text` with the `user:password@` of every URL in it replaced: a message that quotes a
    URL, even a mistyped one, must not quote its credentials."""
    for pattern in _USERINFO:
        text = pattern.sub(r"\1***@", text)
    return text


class OpenSearchSettings(_Section):
    """An OpenSearch cluster holding the logs. Credentials come only from the environment."""

    url: str | list[str]
    """One or more hosts, e.g. "https://search.internal:9200"."""
    index: str = "logs-*"
    """Index name, pattern or alias (comma-separated for several)."""
    username: SecretStr | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    """Sent as `Authorization: ApiKey <key>`; instead of a username and password."""
    verify_certs: bool = True
    ca_certs: Path | None = None
    """A CA bundle for clusters whose certificate a private CA signed."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """Per request; transient failures are retried within the tool's deadline."""
    max_distinct_messages: int = Field(default=50_000, ge=100, le=200_000)
    """Distinct messages grouped exactly per window (pages of 10,000); beyond it a stated
    sample of the rest is grouped. 50,000 is the miner's own bound on distinct shapes."""
    max_sampled_lines: int = Field(default=2_000, ge=0, le=10_000)
    """Lines whose text is fetched per window when messages cannot be grouped server-side."""

    @field_validator("url")
    @classmethod
    def _urls(cls, value: str | list[str]) -> str | list[str]:
        for url in [value] if isinstance(value, str) else value:
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ValueError(
                    f"{without_userinfo(url)!r} is not an http(s) URL such as http://127.0.0.1:9200"
                )
            if parts.username or parts.password:
                # ConfigError, not ValueError: a validation error would quote the URL, password and all.
                raise ConfigError(
                    "opensearch.url must not carry credentials; set SITREP_OPENSEARCH__USERNAME and "
                    "SITREP_OPENSEARCH__PASSWORD in the environment instead"
                )
        if not value:
            raise ValueError("give at least one URL")
        return value

    @field_validator("index")
    @classmethod
    def _index(cls, value: str) -> str:
        # Index names never hold these; a `_` start would name an API path, not an index.
        if (
            not value
            or any(c in value for c in '/\\?#"<>| ')
            or any(part.startswith("_") or not part for part in value.split(","))
        ):
            raise ValueError(f"{value!r} is not an index name, pattern or alias such as logs-*")
        return value

    @model_validator(mode="after")
    def _one_kind_of_credentials(self) -> OpenSearchSettings:
        # ConfigError, not ValueError: a validation error would quote the input, secrets and all.
        if self.api_key is not None and (self.username is not None or self.password is not None):
            raise ConfigError(
                "opensearch: set either SITREP_OPENSEARCH__API_KEY or a username and password, not both"
            )
        if (self.username is None) != (self.password is None):
            raise ConfigError(
                "opensearch: set both SITREP_OPENSEARCH__USERNAME and SITREP_OPENSEARCH__PASSWORD, or neither"
            )
        return self

    @property
    def urls(self) -> list[str]:
        return [self.url] if isinstance(self.url, str) else list(self.url)


_HTTP_SECRETS = ("token", "username", "password")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
STANDARD_SIGNALS: dict[str, Literal["up", "down"]] = {
    "requests": "down",
    "errors": "up",
    "error_ratio": "up",
    "latency_p95": "up",
}
"""The signals sitrep knows by name, and which direction of change is bad."""


def _http_url(section: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{without_userinfo(url)!r} is not an http(s) URL such as http://127.0.0.1:9090")
    if parts.username or parts.password:
        raise ConfigError(
            f"{section}.url must not carry credentials; set SITREP_{section.upper()}__TOKEN, or "
            f"SITREP_{section.upper()}__USERNAME and SITREP_{section.upper()}__PASSWORD, in the environment"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{without_userinfo(url)!r}: give the base URL, without ?query or #fragment")
    return url


class _HttpSection(_Section):
    """An HTTP backend: its URL, and credentials from the environment only."""

    url: str
    token: SecretStr | None = None
    """Sent as `Authorization: Bearer <token>`; environment only."""
    username: SecretStr | None = None
    password: SecretStr | None = None
    verify_certs: bool = True
    ca_certs: Path | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """Per request; transient failures are retried within the tool's deadline."""

    @model_validator(mode="after")
    def _credentials(self) -> _HttpSection:
        name = type(self).__name__.removesuffix("Settings").lower()
        _http_url(name, self.url)
        env = f"SITREP_{name.upper()}__"
        if self.token is not None and (self.username is not None or self.password is not None):
            raise ConfigError(f"{name}: set either {env}TOKEN or a username and password, not both")
        if (self.username is None) != (self.password is None):
            raise ConfigError(f"{name}: set both {env}USERNAME and {env}PASSWORD, or neither")
        return self


class SignalQuery(_Section):
    """A named signal beyond the standard ones: its PromQL and which direction is bad."""

    query: str = Field(min_length=1, max_length=4000)
    bad: Literal["up", "down"]


class PrometheusSettings(_HttpSection):
    """Prometheus, or anything with its HTTP API (Thanos, Mimir, VictoriaMetrics)."""

    service_label: str = "service"
    """The label that names a service (job, app, service_name, ...)."""
    signals: dict[str, str | SignalQuery] = Field(default_factory=dict)
    """PromQL per signal, with {service} and {range} filled in: requests, errors, error_ratio,
    latency_p95 as strings; any other name as {query = "...", bad = "up"|"down"}."""
    deploy_markers: str | None = None
    """PromQL whose series carry the service label and a version (or revision, image) label, or
    no version label and a generation as value; a new value marks a deploy. Default: every
    *_build_info gauge with the service label, and kube-state-metrics' pod images and
    Deployment generations (the Deployment names the service). "" turns it off."""

    @field_validator("service_label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _LABEL_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a Prometheus label name such as service or job")
        return value

    @field_validator("signals")
    @classmethod
    def _signals(cls, value: dict[str, str | SignalQuery]) -> dict[str, str | SignalQuery]:
        for name, signal in value.items():
            if not _LABEL_NAME.fullmatch(name):
                raise ValueError(f"signal name {name!r} must be a word such as queue_depth")
            query = signal if isinstance(signal, str) else signal.query
            if isinstance(signal, str) and name not in STANDARD_SIGNALS:
                raise ValueError(
                    f"signal {name!r} is not one of {', '.join(STANDARD_SIGNALS)}: write it as "
                    f'{name} = {{ query = "...", bad = "up" }} (bad: the direction that is a problem)'
                )
            unknown = sorted({p for p in _PLACEHOLDER.findall(query) if p not in {"service", "range"}})
            if unknown:
                raise ValueError(
                    f"signal {name!r} uses {{{unknown[0]}}}; only {{service}} and {{range}} are filled in"
                )
            if not query.strip():
                raise ValueError(f"signal {name!r} has an empty query")
        return value

    def signal_queries(self) -> dict[str, tuple[str, Literal["up", "down"]]]:
        """Each configured signal: its PromQL template and the bad direction."""
        return {
            name: (signal, STANDARD_SIGNALS[name]) if isinstance(signal, str) else (signal.query, signal.bad)
            for name, signal in self.signals.items()
        }


class AlertmanagerSettings(_HttpSection):
    """Alertmanager: what fires now."""


class FieldNames(_Section):
    """Where each fact lives in a structured log line: ECS names by default, dotted or nested."""

    timestamp: str = "@timestamp"
    service: str = "service.name"
    level: str = "log.level"
    message: str = "message"
    status: str = "http.response.status_code"
    duration: str = "event.duration"
    duration_unit: Literal["ns", "us", "ms", "s"] = "ns"
    trace: str = "trace.id"
    span: str = "span.id"


class HealthSettings(_Section):
    """When a deploy window has enough evidence to judge, and the statistical judge's levels."""

    min_requests: int = Field(default=50, ge=1)
    min_minutes: float = Field(default=15, gt=0)
    fdr: float = Field(default=0.05, gt=0, lt=0.5)
    """False-discovery rate at which a window's signals are judged worse than the reference."""
    min_effect: float = Field(default=0.5, gt=0, le=1)
    """Rank-biserial effect a worse signal needs (0.5: the window's value is above the
    reference's in three pairs of four)."""


class OutputSettings(_Section):
    """How much a tool may return: about 4 characters a token."""

    max_chars: int = Field(default=8000, ge=1000, le=20000)
    max_text_chars: int = Field(default=400, ge=80, le=4000)


class RollbackSettings(_Section):
    """The command a human would run; placeholders: {service} {sha} {short_sha} {version}
    {current_sha} {current_version} {repo} {branch} {path} {message}. Each value is checked
    (tools/rollback_command.py), then shell-quoted; a value that fails means no command."""

    command: str | None = None


class AuditSettings(_Section):
    """The evidence trail: one JSON line per tool call (time, tool, arguments, sources,
    result size, duration, outcome), redacted like every output."""

    enabled: bool = True
    path: Path | None = None
    """Default: $XDG_STATE_HOME/sitrep/audit.jsonl (~/.local/state/sitrep/audit.jsonl)."""


class Settings(BaseSettings):
    """Everything sitrep reads from its configuration."""

    model_config = SettingsConfigDict(
        env_prefix="SITREP_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    git: list[GitSource] = Field(default_factory=list)
    deploy_log: DeployLogSource | None = None
    files: FilesSource | None = None
    opensearch: OpenSearchSettings | None = None
    prometheus: PrometheusSettings | None = None
    alertmanager: AlertmanagerSettings | None = None
    fields: FieldNames = FieldNames()
    health: HealthSettings = HealthSettings()
    output: OutputSettings = OutputSettings()
    rollback: RollbackSettings = RollbackSettings()
    audit: AuditSettings = AuditSettings()
    deadline_seconds: float = Field(default=20.0, gt=0, le=300)
    http_token: SecretStr | None = None
    """Bearer token the HTTP transport requires (SITREP_HTTP_TOKEN); environment only."""
    config_path: Path | None = Field(default=None, exclude=True)

    @field_validator("git")
    @classmethod
    def _unique_services(cls, value: list[GitSource]) -> list[GitSource]:
        seen = [source.service for source in value]
        duplicates = sorted({name for name in seen if seen.count(name) > 1})
        if duplicates:
            raise ValueError(f"service {duplicates[0]!r} has two [[git]] entries; keep one per service")
        return value

    @model_validator(mode="after")
    def _one_log_source(self) -> Settings:
        if self.files is not None and self.opensearch is not None:
            # ConfigError, not ValueError: pydantic passes it through untouched, so the message
            # is not prefixed with the whole input (which would include any credentials).
            raise ConfigError(
                "both [files] and [opensearch] are configured; choose one log source and remove the other"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init arguments; the environment overrides them.
        return (env_settings, init_settings)


def load_settings(config: Path | None = None) -> Settings:
    """Build the settings from `config` (or $SITREP_CONFIG) and the `SITREP_…` environment."""
    if config is None and os.environ.get(CONFIG_ENV):
        config = Path(os.environ[CONFIG_ENV])
    values: dict[str, Any] = {}
    if config is not None:
        values = _read_toml(config)
        values["config_path"] = config.resolve()
    _refuse_misspelt_variables()
    try:
        return Settings(**values)
    except ValidationError as error:
        raise ConfigError(_describe(error, config)) from None
    except SettingsError as error:
        # A nested value (a list, a section) given as an environment variable that is not JSON.
        field = re.search(r'field "([^"]+)"', str(error))
        names = _env_names(field.group(1)) if field else []
        where = " or ".join(names) or "a SITREP_… environment variable"
        raise ConfigError(
            f"environment variable {where}: not valid JSON; give a list or a section as JSON, "
            """e.g. SITREP_FILES__PATHS='["/var/log/app/*.log"]'"""
        ) from None


_NOT_SETTINGS = frozenset(
    {
        CONFIG_ENV,
        # The project's scripts and tests read these; none is a setting.
        "SITREP_CLIENTS_BIN",
        "SITREP_CLIENTS_CACHE",
        "SITREP_HOSTILE_EXAMPLES",
        "SITREP_OPENSEARCH_CACHE",
        "SITREP_OPENSEARCH_USER",
        "SITREP_PROMETHEUS_STATE",
        "SITREP_TEST_PROMETHEUS_STATE",
        "SITREP_UPDATE_SNAPSHOTS",
        "SITREP_VENV",
    }
)
"""SITREP_… variables that are read elsewhere, not settings."""


def _env_names(prefix: str) -> list[str]:
    """The SITREP_… variables set in the environment for the setting `prefix` or inside it."""
    wanted = f"SITREP_{prefix}".upper()
    return sorted(
        name for name in os.environ if name.upper() == wanted or name.upper().startswith(wanted + "__")
    )


def _refuse_misspelt_variables() -> None:
    """A SITREP_… variable that names no setting is ignored by the loader: a typo in one
    (SITREP_DEADLNE_SECONDS) would silently change nothing. One close to a setting's name is
    refused with that name."""
    fields = [name.upper() for name in Settings.model_fields if name != "config_path"]
    for name in sorted(os.environ):
        upper = name.upper()
        if not upper.startswith("SITREP_") or upper in _NOT_SETTINGS:
            continue
        top = upper.removeprefix("SITREP_").split("__")[0]
        if top in fields:
            continue
        close = difflib.get_close_matches(top, fields, n=1, cutoff=0.8)
        if close:
            raise ConfigError(
                f"environment variable {name} names no setting (did you mean SITREP_{close[0]}?); "
                "rename or unset it"
            )


MAX_CONFIG_BYTES = 1024 * 1024
"""A configuration is a few kilobytes; a larger file is not one."""


def _read_toml(path: Path) -> dict[str, Any]:
    text = _read_config_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    data = _lower_top_level_keys(data, path)
    _refuse_secrets_in_file(data, path)
    return _resolve_paths(data, path.resolve().parent)


def _read_config_text(path: Path) -> str:
    """The file's text, refusing anything but a regular file of at most MAX_CONFIG_BYTES: a
    directory, a FIFO or a device (`/dev/zero`) would otherwise fail obscurely or hang."""
    fix = f"pass --config with a TOML file, or unset {CONFIG_ENV}"
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then says what it is.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; {fix}") from None
    except PermissionError:
        raise ConfigError(f"config file {path} cannot be read (permission denied); {fix}") from None
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be opened ({error.strerror}); {fix}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"config file {path} is {_file_kind(mode)}, not a regular file; {fix}")
        data = b""
        while len(data) <= MAX_CONFIG_BYTES and (chunk := os.read(fd, MAX_CONFIG_BYTES + 1 - len(data))):
            data += chunk
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be read ({error.strerror}); {fix}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_CONFIG_BYTES // 1024} KiB; {fix}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None


def _file_kind(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _lower_top_level_keys(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """Top-level keys as the settings loader matches them (case-insensitively), so every later
    look at a section (paths, secrets) sees it however it was spelt."""
    lowered: dict[str, Any] = {}
    for key, value in data.items():
        name = key.lower()
        if name in lowered:
            raise ConfigError(f"{path}: `{name}` is given twice (in different letter case); keep one")
        lowered[name] = value
    return lowered


def _same_key(key: object, name: str) -> bool:
    """`key` names `name` in any letter case, as a case-insensitive loader would read it."""
    return isinstance(key, str) and name in {key.lower(), key.casefold()}


def _refuse_secrets_in_file(data: dict[str, Any], path: Path) -> None:
    """Credentials in a file end up in repositories and backups: only the environment may hold
    them. Keys are compared in any letter case: a loader that reads `HTTP_TOKEN` would use it."""
    if any(_same_key(key, "http_token") for key in data):
        raise ConfigError(
            f"{path}: http_token must not be written in the configuration file; "
            "set SITREP_HTTP_TOKEN in the environment instead"
        )
    secrets = {"opensearch": _OPENSEARCH_SECRETS, "prometheus": _HTTP_SECRETS, "alertmanager": _HTTP_SECRETS}
    for name, section in data.items():
        kind = next((k for k in secrets if _same_key(name, k)), None)
        if kind is None or not isinstance(section, dict):
            continue
        for key in section:
            secret = next((s for s in secrets[kind] if _same_key(key, s)), None)
            if secret is not None:
                raise ConfigError(
                    f"{path}: {kind}.{secret} must not be written in the configuration file; "
                    f"set SITREP_{kind.upper()}__{secret.upper()} in the environment instead"
                )


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the file's relative paths relative to the file, not to the working directory."""

    def resolve(value: object) -> object:
        return str(base / value) if isinstance(value, str) and not Path(value).is_absolute() else value

    for entry in data.get("git", []) if isinstance(data.get("git"), list) else []:
        if isinstance(entry, dict) and "repo" in entry:
            entry["repo"] = resolve(entry["repo"])
    deploy_log = data.get("deploy_log")
    if isinstance(deploy_log, dict) and "path" in deploy_log:
        deploy_log["path"] = resolve(deploy_log["path"])
    files = data.get("files")
    if isinstance(files, dict) and isinstance(files.get("paths"), list):
        files["paths"] = [resolve(item) for item in files["paths"]]
    opensearch = data.get("opensearch")
    if isinstance(opensearch, dict) and "ca_certs" in opensearch:
        opensearch["ca_certs"] = resolve(opensearch["ca_certs"])
    for name in ("prometheus", "alertmanager"):
        section = data.get(name)
        if isinstance(section, dict) and "ca_certs" in section:
            section["ca_certs"] = resolve(section["ca_certs"])
    audit = data.get("audit")
    if isinstance(audit, dict) and "path" in audit:
        audit["path"] = resolve(audit["path"])
    return data


def _describe(error: ValidationError, config: Path | None) -> str:
    where = f"{config}" if config else "configuration"
    problems = [_describe_one(item) for item in error.errors()]
    from_file = [text for variable, text in problems if variable is None]
    from_env = [f"environment variable {variable}: {text}" for variable, text in problems if variable]
    described = [f"{where}: " + "; ".join(from_file)] if from_file else []
    return "; ".join(described + from_env)


def _describe_one(item: Any) -> tuple[str | None, str]:
    """The environment variable the bad value came from (None: the file), and what is wrong."""
    return _variable(item["loc"]), _problem(item)


def _variable(loc: tuple[int | str, ...]) -> str | None:
    """The SITREP_… variable that set the value at `loc`, or a section holding it."""
    names = [str(part) for part in loc if not isinstance(part, int)]
    for depth in range(len(names), 0, -1):
        wanted = "SITREP_" + "__".join(names[:depth]).upper()
        found = next((name for name in os.environ if name.upper() == wanted), None)
        if found is not None:
            return found
    return None


def _problem(item: Any) -> str:
    key = _key(item["loc"])
    kind = item["type"]
    if kind == "missing":
        return f"`{key}` is required; add it"
    if kind == "extra_forbidden":
        return f"`{key}` is not a known key{_suggest(item['loc'])}; remove or rename it"
    # Any URL in the message or the input may carry a password: never echo it.
    return without_userinfo(f"`{key}`: {item['msg']} (got {item.get('input')!r})")


def _key(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _suggest(loc: tuple[int | str, ...]) -> str:
    known = _known_keys(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _known_keys(parent: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = Settings
    for part in parent:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation
        nested = _model_in(annotation)
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
