"""The CLI mirrors the tools: `--json` prints exactly a tool's structured result."""

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sitrep.cli.main import DEMO_MARKER, build_parser, main
from sitrep.cli.render import SPARKS, render, sparkline
from sitrep.cli.triage import build_triage
from sitrep.demo import DemoScenario, build_demo
from sitrep.results import ErrorPatterns, GoneOut, PatternOut, as_data
from sitrep.settings import load_settings
from sitrep.tools import READ_TOOLS
from sitrep.tools.context import build_context
from tests.gitrepo import NOW

WINDOW = ["--since", "2026-11-22T12:00:00Z", "--until", "2026-11-23T12:00:00Z"]


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> DemoScenario:
    return build_demo(tmp_path_factory.mktemp("cli") / "incident", now=NOW)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "tool", "arguments"),
    [
        (
            ["deploys", "--service", "checkout", *WINDOW],
            "recent_deploys",
            {"service": "checkout", "since": WINDOW[1], "until": WINDOW[3]},
        ),
        (
            ["logs", "--level", "error", "--limit", "3", *WINDOW],
            "search_logs",
            {"level": "error", "limit": 3, "since": WINDOW[1], "until": WINDOW[3]},
        ),
        (
            ["patterns", "--service", "checkout", *WINDOW],
            "error_patterns",
            {"service": "checkout", "since": WINDOW[1], "until": WINDOW[3]},
        ),
        (
            ["timeline", "--service", "checkout", *WINDOW],
            "incident_timeline",
            {"service": "checkout", "since": WINDOW[1], "until": WINDOW[3]},
        ),
        (["diff", "v1.4.0"], "deploy_diff", {"sha": "v1.4.0"}),
        (
            ["changed", "--at", "2026-11-23T11:20:00Z", "--window", "10m"],
            "what_changed",
            {"at": "2026-11-23T11:20:00Z", "window": "10m"},
        ),
        (["status"], "sources_status", {}),
    ],
)
def test_json_output_is_the_tools_structured_result(
    capsys: pytest.CaptureFixture[str],
    incident: DemoScenario,
    argv: list[str],
    tool: str,
    arguments: dict[str, object],
) -> None:
    code, out, err = run(capsys, *argv, "--json", "--config", str(incident.config_path))
    assert code == 0, err
    function = next(t for t in READ_TOOLS if t.__name__ == tool)
    expected = as_data(function(build_context(load_settings(incident.config_path)), **arguments))
    printed = json.loads(out)
    for source in (*expected.get("sources", ()), *printed.get("sources", ())):
        source["latency_ms"] = 0  # timings differ from run to run
    assert printed == expected


def test_human_output_and_triage(capsys: pytest.CaptureFixture[str], incident: DemoScenario) -> None:
    code, out, _ = run(capsys, "rollback", "--service", "checkout", "--config", str(incident.config_path))
    assert code == 0 and "#1 v1.3.0" in out and "NOT executed" in out
    code, out, _ = run(
        capsys, "triage", "--service", "checkout", "--config", str(incident.config_path), "--json"
    )
    report = json.loads(out)
    assert code == 0 and set(report) >= {"findings", "deploys", "patterns", "rollback", "problems"}


def test_the_triage_report_reads_at_a_glance(incident: DemoScenario) -> None:
    runtime = build_context(load_settings(incident.config_path), clock=lambda: NOW)
    out = render(build_triage(runtime, "checkout")) + "\n"
    # The top pattern is `POST <*> <*>`: its example names the endpoint and the status.
    assert re.search(r"POST <\*> <\*>\n.*\n +e\.g\. POST /api/\S+ 5\d\d\n", out), out
    # Each window's error rate and p95 drawn oldest → newest; the bad current window is the tallest.
    error_line = next(line for line in out.splitlines() if line.strip().startswith("error rate  "))
    bars = error_line.split()[2]
    assert set(bars) <= set(SPARKS) and len(bars) >= 5 and bars[-1] == "█" and bars.count("█") == 1
    assert "highest" in error_line and "current" in error_line
    # A risk is listed under the first candidate that has it; later ones point back to it.
    risk_lines = [line.strip() for line in out.splitlines() if line.strip().startswith("risk [")]
    assert risk_lines and len(risk_lines) == len(set(risk_lines))
    assert "risk: also the" in out and "listed under #1" in out
    notes = [line for line in out.splitlines() if line.strip().startswith("note:")]
    assert notes and len(notes) == len(set(notes)) and out.index("== Notes") < out.index(notes[0])


def test_sparkline_scales_from_zero_to_the_largest() -> None:
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"
    assert sparkline([None, 2.0, 2.0]) == " ██"
    assert sparkline([0.0, 0.0]) == "▁▁" and sparkline([]) == ""


def test_triage_without_service_takes_the_only_one(
    capsys: pytest.CaptureFixture[str], incident: DemoScenario, tmp_path: Path
) -> None:
    config = tmp_path / "one.toml"
    config.write_text(f'[[git]]\nservice = "checkout"\nrepo = "{incident.directory / "checkout"}"\n')
    code, out, err = run(capsys, "triage", "--config", str(config))
    assert code == 0, err
    assert out.startswith("TRIAGE checkout")
    code, out, err = run(capsys, "triage", "--config", str(incident.config_path))
    assert (code, out) == (2, "") and "--service is needed: 2 services are known: checkout, payments" in err


def test_errors_go_to_stderr_with_exit_code_2(
    capsys: pytest.CaptureFixture[str], incident: DemoScenario, tmp_path: Path
) -> None:
    code, out, err = run(capsys, "health", "--service", "nope", "--config", str(incident.config_path))
    assert (code, out) == (2, "") and "unknown service 'nope'; known services: checkout, payments" in err
    code, _, err = run(capsys, "logs", "--limit", "0", "--config", str(incident.config_path))
    assert code == 2 and "limit" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[files]\npaths = 3\n")
    code, _, err = run(capsys, "status", "--config", str(bad))
    assert code == 2 and "`files.paths`" in err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(commands) == {
        "serve",
        "demo",
        "triage",
        "deploys",
        "logs",
        "patterns",
        "health",
        "rollback",
        "timeline",
        "diff",
        "changed",
        "status",
        "alerts",
        "metrics",
    }
    for name in commands:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
        assert "--config" in capsys.readouterr().out


def test_patterns_of_a_file_and_labels_in_input_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = [
        "Connection to 10.0.0.1 timed out after 30 s",
        "User 42 logged in",
        "Connection to 10.0.0.7 timed out after 31 s",
        "User 7 logged in",
    ]
    path = tmp_path / "messages.txt"
    path.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "patterns", "--file", str(path), "--format", "message", "--label")
    labels = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [label["line"] for label in labels] == [1, 2, 3, 4]
    assert (
        labels[0]["pattern_id"]
        == labels[2]["pattern_id"]
        != labels[1]["pattern_id"]
        == labels[3]["pattern_id"]
    )
    code, out, _ = run(capsys, "patterns", "--file", str(path), "--format", "message", "--json")
    summary = json.loads(out)
    assert summary["total"] == 4 and [p["count"] for p in summary["patterns"]] == [2, 2]


def test_demo_writes_triages_and_replaces_its_own_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "demo"
    for _ in range(2):
        code, out, err = run(capsys, "demo", "--dir", str(target), "--metrics", "off")
        assert code == 0, err
        assert "TRIAGE checkout" in out and "claude mcp add sitrep" in out and (target / DEMO_MARKER).exists()
        assert "judged on the logs only" in err and (target / "metrics.om").exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    code, _, err = run(capsys, "demo", "--dir", str(other))
    assert code == 2 and "already exists and is not empty" in err
    assert (other / "notes.txt").read_text() == "keep me"


def test_demo_defaults_outside_the_checkout_and_prints_commands_that_work_anywhere(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "demo")
    assert code == 0, err
    target = tmp_path / "state" / "sitrep" / "demo"
    assert (target / DEMO_MARKER).exists() and not (tmp_path / "sitrep-demo").exists()
    assert str(target) in err
    # Not `sitrep`: the name a checkout's .mcp.json (this repository's among them) holds.
    add = next(line.split() for line in out.splitlines() if "claude mcp add" in line)
    assert add[:4] == ["claude", "mcp", "add", "sitrep-demo"] and add[4] == "--"
    rollback = next(line for line in out.splitlines() if " rollback --config " in line)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SITREP_CONFIG"}
    done = subprocess.run(
        shlex.split(rollback), cwd=elsewhere, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "#1 v1.3.0" in done.stdout, done.stderr
    # The server's command, asked for the status of the same configuration instead of serving.
    status = [("status" if word == "serve" else word) for word in shlex.split(" ".join(add[5:]))]
    done = subprocess.run(status, cwd=elsewhere, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "checkout" in done.stdout, done.stderr


def test_console_script_is_installed() -> None:
    done = subprocess.run(
        [Path(sys.executable).parent / "sitrep", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("sitrep ")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sitrep(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sitrep", *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
        timeout=120,
    )


def test_an_unreachable_cluster_is_one_line_a_failure(tmp_path: Path) -> None:
    config = tmp_path / "sitrep.toml"
    config.write_text(f'[opensearch]\nurl = "http://127.0.0.1:{closed_port()}"\ntimeout_seconds = 1\n')
    status = sitrep("status", "--config", str(config))
    assert status.returncode == 1, "1: a source failed, as the README says"
    assert "NOT OK opensearch" in status.stdout and "cannot reach OpenSearch" in status.stdout
    assert status.stderr.splitlines() == [], "status shows the failure once, on stdout"
    logs = sitrep("logs", "--config", str(config))
    (line,) = logs.stderr.splitlines()
    assert logs.returncode == 1 and line.startswith("sitrep: opensearch: cannot reach OpenSearch at")
    verbose = sitrep("logs", "--verbose", "--config", str(config))
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr


def test_status_fails_when_a_glob_matches_nothing(tmp_path: Path) -> None:
    config = tmp_path / "sitrep.toml"
    config.write_text('[files]\npaths = ["logs/*.jsonl"]\n')
    code = main(["status", "--config", str(config)])
    assert code == 1


def test_patterns_text_shows_each_patterns_change_and_what_is_gone() -> None:
    def pattern(pattern_id: str, change: str | None, new: bool | None) -> PatternOut:
        return PatternOut(
            pattern_id=pattern_id,
            template=f"{pattern_id} happened",
            count=3,
            first_seen=None,
            last_seen=None,
            example="",
            services={},
            new=new,
            change=change,  # type: ignore[arg-type]
            label="transient",
            signal="default: no sign of a lasting cause",
        )

    result = ErrorPatterns(
        since="a",
        until="b",
        baseline_since="c",
        baseline_until="a",
        levels=["error"],
        total=6,
        patterns=[pattern("p1", "increased", False), pattern("p2", None, None)],
        other_count=0,
        other_patterns=0,
        gone=[GoneOut(pattern_id="p3", template="p3 happened", baseline_count=40, p_value=0.001)],
        gone_total=3,
    )
    text = render(result)
    assert re.search(r"3  increased +transient +p1", text) and re.search(r"3  +transient +p2", text)
    assert "gone (baseline 40): p3  p3 happened" in text and "gone: 2 other pattern(s)" in text
