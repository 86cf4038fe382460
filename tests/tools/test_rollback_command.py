"""The rollback command a human pastes runs exactly what the template says, whatever the
deploy log or git put in a version, tag, sha, service or branch.

The property test renders generated hostile values into a template of `printf` and checks
three ways that a value stays one argument: `shlex.split` gives exactly the intended argv,
`bash -n` accepts it, and running it in an empty directory prints the values back and
creates nothing. A value that cannot be shown exactly is refused, and the refusal says why.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from mcp import Client

from sitrep.redact import sanitize
from sitrep.server.mcp import build_server
from sitrep.settings import load_settings
from sitrep.tools.context import build_context
from sitrep.tools.health import DEFAULT_GIT_COMMAND
from sitrep.tools.rollback_command import render_command
from tests.gitrepo import NOW, Repo
from tests.test_redact import _CORPUS
from tests.tools.calls import call

ISSUE_EXAMPLE = "v1 password='; touch /tmp/x #"
PRINTF = "printf '%s\\n' {service} {version} {sha} {branch} {current_version}"
ORDER = ("service", "version", "sha", "branch", "current_version")

_SHELL = [*"'\"`);&|\n\r #\\*?~!{}<>", "$("]
_UNICODE = ["\u202e", "\u200b", "\ufe0f", "\u2028", "\U000e0041", "é", "ß", "\u00a0", "\x00", "\x1b[31m"]
_PAYLOADS = [
    ISSUE_EXAMPLE,
    "$(touch pwned)",
    "`touch pwned`",
    "'; touch pwned; '",
    "-rf",
    "--output=x",
    "v1\ntouch pwned",
]
_SECRETS = [secret for _, secret in _CORPUS]

hostile = st.one_of(
    st.sampled_from(_PAYLOADS + _SECRETS),
    st.lists(st.sampled_from([*_SHELL, *_UNICODE, "a", "1", ".", "-", "/", "=", ":", "_"]), max_size=12).map("".join),
    st.builds(lambda a, b, c: a + b + c, st.from_regex(r"v[0-9]\.[0-9]", fullmatch=True),
              st.sampled_from(_SHELL + _UNICODE + _SECRETS), st.sampled_from(["", "x", "; touch pwned"])),
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._+@:/-]{0,30}", fullmatch=True),
)  # fmt: skip
# Ordinary values, some of which a hostile one replaces: both refusing and running are exercised.
ordinary = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._+@:/-]{0,30}", fullmatch=True)
# Independent of the module's rules: what a version, tag or branch may hold, and a sha.
SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+@:/-]*")
HEX = re.compile(r"[0-9a-fA-F]+")


def _values(service: str, version: str, sha: str, branch: str, current_version: str) -> dict[str, str]:
    return {
        "service": service,
        "version": version,
        "sha": sha,
        "short_sha": sha[:12],
        "branch": branch,
        "current_version": current_version,
        "current_sha": "0" * 40,
        "repo": "/srv/repo",
        "path": ".",
        "message": f"Roll back {service} to {version} ({sha[:12]})",
    }


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    service=ordinary,
    version=ordinary,
    sha=st.from_regex(r"[0-9a-f]{7,40}", fullmatch=True),
    branch=ordinary,
    current_version=ordinary,
    hostile_values=st.dictionaries(st.sampled_from(ORDER), hostile, max_size=3),
)
@example("checkout", "v1.2.3", "a" * 40, "main", "v2", {"version": ISSUE_EXAMPLE})
@example("checkout", "v1.2.3", "a" * 40, "main", "v2", {})
def test_a_rendered_command_runs_exactly_its_template(
    tmp_path_factory: pytest.TempPathFactory,
    service: str,
    version: str,
    sha: str,
    branch: str,
    current_version: str,
    hostile_values: dict[str, str],
) -> None:
    drawn = {
        "service": service,
        "version": version,
        "sha": sha,
        "branch": branch,
        "current_version": current_version,
    }
    values = _values(**(drawn | hostile_values))
    sha = values["sha"]
    rendered = render_command(PRINTF, values)
    plain = all(SAFE.fullmatch(values[name]) and sanitize(values[name]) == values[name] for name in ORDER)
    if not (plain and HEX.fullmatch(sha)):
        assert rendered.command is None, "a value with a character a version cannot hold got a command"
    if rendered.command is None:
        assert rendered.refused and rendered.refused.startswith(("no command", "the command would"))
        event("refused")
        return
    event("rendered and run")
    expected = ["printf", "%s\\n", *(values[name] for name in ORDER)]
    assert shlex.split(rendered.command) == expected
    assert sanitize(rendered.command) == rendered.command
    syntax = subprocess.run(["bash", "-n", "-c", rendered.command], capture_output=True, check=False)
    assert syntax.returncode == 0, syntax.stderr
    workdir = tmp_path_factory.mktemp("run")
    ran = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", rendered.command],
        cwd=workdir,
        env={"PATH": "/usr/bin:/bin", "HOME": str(workdir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0 and ran.stdout.splitlines() == expected[2:]
    assert list(workdir.iterdir()) == [], "running the command created a file"


def test_the_issue_example_gets_no_command_and_says_why() -> None:
    rendered = render_command("deploy --tag {version}", _values("api", ISSUE_EXAMPLE, "a" * 40, "main", "v2"))
    assert rendered.command is None and rendered.refused is not None and "version" in rendered.refused
    assert "touch" not in rendered.refused, "the refusal names the value, never quotes it"


def test_only_the_values_a_template_uses_are_checked() -> None:
    rendered = render_command("git revert {sha}", _values("api", ISSUE_EXAMPLE, "a" * 40, "main", "v2"))
    assert rendered.command == "git revert " + "a" * 40


def test_the_default_git_command_keeps_each_value_one_argument() -> None:
    values = _values("checkout", "v1.4.0", "b" * 40, "main", "v1.5.0") | {
        "repo": "/srv/my repo",
        "path": "svc/a",
    }
    rendered = render_command(DEFAULT_GIT_COMMAND, values)
    assert rendered.command is not None
    words = shlex.split(rendered.command)
    assert words[:2] == ["cd", "/srv/my repo"]
    assert words[2:] == ["&&", "git", "restore", "--source=" + "b" * 40, "--staged", "--worktree", "--",
                         "svc/a", "&&", "git", "commit", "-m", "Roll back checkout to v1.4.0 (bbbbbbbbbbbb)"]  # fmt: skip


def test_a_template_that_redaction_would_change_is_withheld() -> None:
    rendered = render_command(
        "deploy --password=hunter2hunter2 {version}", _values("a", "v1", "a" * 7, "m", "v2")
    )
    assert rendered.command is None and rendered.refused and "withheld" in rendered.refused


@pytest.mark.anyio
async def test_rollback_candidates_refuse_a_hostile_version_from_the_deploy_log(tmp_path: Path) -> None:
    """End to end: a deploy log whose version would run `touch`; the candidate has no command."""
    repo = Repo(tmp_path / "api")
    shas = [
        repo.commit(f"release {n}", {"app.py": f"V = {n}\n"}, when=NOW - timedelta(hours=10 - 3 * n))
        for n in range(3)
    ]
    versions = ["v1.0.0", ISSUE_EXAMPLE, "v1.2.0"]
    entries = [
        {
            "timestamp": (NOW - timedelta(hours=9 - 3 * n)).isoformat(),
            "service": "api",
            "version": v,
            "sha": sha,
        }
        for n, (v, sha) in enumerate(zip(versions, shas, strict=True))
    ]
    (tmp_path / "deploys.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    config = tmp_path / "sitrep.toml"
    config.write_text(
        '[[git]]\nservice = "api"\nrepo = "api"\nbranch = "main"\n\n[deploy_log]\npath = "deploys.jsonl"\n\n'
        '[rollback]\ncommand = "deploy {service} --version {version}"\n'
    )
    runtime = build_context(load_settings(config), clock=lambda: NOW)
    async with Client(build_server(runtime.settings, runtime)) as client:
        result = await call(client, "rollback_candidates", service="api")
    commands = {c["sha"]: c["command"] for c in result["candidates"]}
    assert commands[shas[0]]["command"] == "deploy api --version v1.0.0"
    hostile_command = commands[shas[1]]
    assert hostile_command.get("command") is None and "version" in hostile_command["note"]
    assert "touch" not in json.dumps(result)
