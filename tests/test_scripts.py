"""The developer scripts say what they are doing while they work (issue 13: ~13 s of silence
while installing looked like a hang). A stand-in python records what would run, so the test
needs no network and leaves every real environment alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$0 $*" >> "$FAKE_PYTHON_LOG"
case "$1" in
    --version) echo "Python 3.12.0" ;;
    -m) if [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi ;;
esac
exit 0
"""


def test_bootstrap_says_each_step(tmp_path: Path) -> None:
    python = tmp_path / "python3"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    log = tmp_path / "calls.log"
    env = {
        **os.environ,
        "PYTHON": str(python),
        "SITREP_VENV": str(tmp_path / "venv"),
        "FAKE_PYTHON_LOG": str(log),
    }
    done = subprocess.run(
        [ROOT / "scripts" / "bootstrap", "test"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    steps = done.stderr.splitlines()
    assert [line.split(" ")[1] for line in steps] == ["creating", "upgrading", "installing", "done"], steps
    assert all(line.startswith("bootstrap: ") for line in steps) and done.stdout == ""
    assert "with [test]" in steps[2] and str(tmp_path / "venv") in steps[2]
    assert f"pip install --quiet --editable {ROOT}[test]" in log.read_text()
    # Run again: the environment exists, so only the install step (and its end) are said.
    again = subprocess.run(
        [ROOT / "scripts" / "bootstrap"], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert [line.split(" ")[1] for line in again.stderr.splitlines()] == ["installing", "done"]


def _mcp_json_server() -> tuple[str, list[str]]:
    server = json.loads((ROOT / ".mcp.json").read_text())["mcpServers"]["sitrep"]
    return server["command"], server["args"]


def _clean_env(**extra: str) -> dict[str, str]:
    """A client's environment with no venv on PATH; the launcher finds the checkout's .venv
    (or, where the tests run from another venv, the one named by SITREP_VENV)."""
    env = {"PATH": "/usr/bin:/bin", "SITREP_AUDIT__PATH": os.environ["SITREP_AUDIT__PATH"], **extra}
    if not (ROOT / ".venv" / "bin" / "sitrep").exists():
        env["SITREP_VENV"] = sys.prefix
    return env


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["project", "plugin"])
async def test_the_mcp_json_server_starts_without_sitrep_on_path(mode: str, tmp_path: Path) -> None:
    command, args = _mcp_json_server()
    # As the checkout's own project server (cwd = the checkout), or as a plugin started
    # anywhere with CLAUDE_PLUGIN_ROOT naming the checkout.
    env = _clean_env() if mode == "project" else _clean_env(CLAUDE_PLUGIN_ROOT=str(ROOT))
    cwd = ROOT if mode == "project" else tmp_path
    assert shutil.which("sitrep", path=env["PATH"]) is None
    server = StdioServerParameters(command=command, args=args, env=env, cwd=cwd)
    async with Client(server, read_timeout_seconds=120) as client:
        tools = (await client.list_tools()).tools
    assert "rollback_candidates" in {tool.name for tool in tools}


def test_the_launcher_says_how_to_install_when_nothing_is_installed(tmp_path: Path) -> None:
    done = subprocess.run(
        [ROOT / "scripts" / "sitrep", "--version"],
        env={"PATH": "/usr/bin:/bin", "SITREP_VENV": str(tmp_path / "none")},
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 127 and "scripts/bootstrap" in done.stderr and "pipx install" in done.stderr
