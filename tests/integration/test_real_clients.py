"""sitrep in the clients people use: Claude Code and the MCP Inspector, installed from npm at
pinned versions by scripts/real-clients (into a cache outside the repository; scripts/test
runs it and passes the directory in SITREP_CLIENTS_BIN).

Claude Code runs with a temporary HOME and project, so the user's own configuration is never
read or changed, and with its updater and non-essential traffic turned off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sitrep.demo import DemoScenario, build_demo
from sitrep.tools import READ_TOOLS

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.timeout(600)  # the first run installs the clients (about a minute)


@pytest.fixture(scope="module")
def clients() -> Path:
    given = os.environ.get("SITREP_CLIENTS_BIN")
    if given:
        return Path(given)
    print("installing the real clients with scripts/real-clients", file=sys.stderr)
    done = subprocess.run(
        [ROOT / "scripts" / "real-clients"], stdout=subprocess.PIPE, text=True, check=True, timeout=540
    )
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> DemoScenario:
    return build_demo(tmp_path_factory.mktemp("clients") / "incident")


@pytest.fixture
def claude_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


def run(argv: list[str | Path], cwd: Path, env: dict[str, str] | None = None, ok: int = 0) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == ok, f"{argv[:3]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_claude_code_connects_to_sitrep(
    clients: Path, incident: DemoScenario, claude_env: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    bad = tmp_path / "mistyped.toml"
    bad.write_text('[deploy_log]\npth = "deploys.jsonl"\n')
    claude = clients / "claude"
    for name, config in (("sitrep", incident.config_path), ("sitrep-misconfigured", bad)):
        # PYTHONPATH: the server runs this checkout's code, whatever sitrep is installed.
        run(
            [claude, "mcp", "add", name, "-e", f"PYTHONPATH={ROOT}", "--",
             sys.executable, "-m", "sitrep", "serve", "--config", str(config)],
            project, claude_env,
        )  # fmt: skip
    listing = run([claude, "mcp", "list"], project, claude_env)
    lines = {line.split(":")[0]: line for line in listing.splitlines() if ":" in line}
    assert "Connected" in lines.get("sitrep", ""), listing
    # An invalid configuration still connects: its tools then say what to fix.
    assert "Connected" in lines.get("sitrep-misconfigured", ""), listing


def test_the_plugin_validates(clients: Path, claude_env: dict[str, str], tmp_path: Path) -> None:
    out = run([clients / "claude", "plugin", "validate", ROOT], tmp_path, claude_env)
    assert "Validation passed" in out, out


def test_the_inspector_lists_and_calls_every_tool(clients: Path, incident: DemoScenario) -> None:
    def inspector(*method: str, ok: int = 0) -> dict:  # type: ignore[type-arg]
        # The Inspector's own options first (--transport ends --tool-arg's list), then the
        # command, `--` and sitrep's options; run from the checkout, so that `-m sitrep` is
        # this checkout's code.
        out = run(
            [clients / "mcp-inspector", "--cli", "--method", *method, "--transport", "stdio",
             sys.executable, "--", "-m", "sitrep", "serve", "--config", str(incident.config_path)],
            ROOT,
            ok=ok,
        )  # fmt: skip
        # After a tool error the Inspector prints a second object, its own error.
        return json.JSONDecoder().raw_decode(out.strip())[0]  # type: ignore[no-any-return]

    listed = inspector("tools/list")["tools"]
    assert sorted(t["name"] for t in listed) == sorted(t.__name__ for t in READ_TOOLS)
    assert all(t["annotations"]["readOnlyHint"] and t.get("title") for t in listed)
    arguments = {
        "recent_deploys": ["since=2d"],
        "search_logs": ["since=24h", "level=warn"],
        "error_patterns": ["service=checkout"],
        "deploy_health": ["service=checkout"],
        "rollback_candidates": ["service=checkout"],
        "incident_timeline": ["service=checkout"],
        "deploy_diff": [f"sha={incident.bad_sha}"],
        "sources_status": [],
        "what_changed": [],
        "query_metrics": ["query=up"],
        "alerts": [],
    }
    unconfigured = {"query_metrics", "alerts"}  # the demo has no Prometheus: they say what to add
    for tool in listed:
        given = ["--tool-arg", *arguments[tool["name"]]] if arguments[tool["name"]] else []
        erring = tool["name"] in unconfigured
        result = inspector("tools/call", "--tool-name", tool["name"], *given, ok=5 if erring else 0)
        text = result["content"][0]["text"]
        if erring:
            assert result.get("isError") and "is configured; add [" in text, f"{tool['name']}: {text}"
            continue
        assert not result.get("isError"), f"{tool['name']}: {result}"
        assert json.loads(text), tool["name"]
