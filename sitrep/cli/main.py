"""The `sitrep` command: the MCP server, the demo, and one subcommand per tool.

Logs go to stderr only: on stdio, stdout belongs to the MCP channel.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sitrep import __version__
from sitrep.cli.render import render
from sitrep.deadline import tool_call
from sitrep.errors import ConfigError, InputError, SitrepError
from sitrep.results import SourcesStatus, Truncation, as_data
from sitrep.settings import CONFIG_ENV, Settings, load_settings
from sitrep.tools.binding import tool_arguments
from sitrep.tools.context import ToolContext, build_context
from sitrep.tools.output import with_sources_not_ok

DESCRIPTION = """\
sitrep: read-only incident triage. It reads deploys (git, a deploy log), logs and health,
ranks rollback candidates, and never changes anything: a human runs every rollback.

Start with `sitrep demo`, then `sitrep serve` for an MCP client such as Claude Code."""

EPILOG = f"""\
configuration: --config FILE or ${CONFIG_ENV}; SITREP_… environment variables override it
(nesting with __, e.g. SITREP_DEPLOY_LOG__PATH). With no configuration sitrep uses the git
repository of the current directory. Times: durations back from now (90m, 6h, 2d) or ISO-8601."""

DEMO_MARKER = ".sitrep-demo"
DEMO_SERVER = "sitrep-demo"
"""The demo's name in Claude Code: not `sitrep`, which a project's `.mcp.json` may hold."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="sitrep: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except (ConfigError, InputError) as error:
        print(f"sitrep: error: {error}", file=sys.stderr)
        return 2
    except SitrepError as error:
        print(f"sitrep: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`sitrep logs | head`): not an error worth a traceback.
        sys.stdout = Path(os.devnull).open("w")  # noqa: SIM115 - stays open until exit by design
        return 0
    except Exception as error:
        if args.verbose:
            raise
        # A bug of sitrep's: one line, not a page of library frames; --verbose shows them.
        print(
            f"sitrep: internal error ({type(error).__name__}: {str(error)[:200]}); "
            "rerun with --verbose for the traceback",
            file=sys.stderr,
        )
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sitrep",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sitrep {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help=f"TOML configuration file (default: ${CONFIG_ENV})")
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logs and tracebacks on stderr (default: one line a failure)",
    )
    parser.set_defaults(verbose=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _serve_parser(sub, common)
    _demo_parser(sub, common)
    _tool_parsers(sub, common)
    return parser


def _add(
    sub: Any, name: str, common: argparse.ArgumentParser, help_text: str, handler: Callable[..., int]
) -> Any:
    command = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
    command.set_defaults(handler=handler)
    return command


def _serve_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    serve = _add(sub, "serve", common, "serve the MCP server (stdio by default)", _serve)
    serve.add_argument(
        "--transport", choices=["stdio", "http"], default="stdio", help="stdio (default) or streamable HTTP"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP address to bind (default 127.0.0.1); any other needs SITREP_HTTP_TOKEN",
    )
    serve.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name clients use to reach the server, accepted in Host and Origin headers (repeatable)",
    )


def _demo_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    demo = _add(sub, "demo", common, "write a realistic incident into a directory and triage it", _demo)
    demo.add_argument(
        "--dir",
        type=Path,
        help="where to write it (default $XDG_STATE_HOME/sitrep/demo, i.e. ~/.local/state/sitrep/demo)",
    )
    demo.add_argument(
        "--metrics",
        choices=["auto", "off"],
        default="auto",
        help="auto: load the demo's metrics into the Prometheus of scripts/prometheus-dev when it runs",
    )


def _tool_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--json", action="store_true", help="print the tool's structured result as JSON")
    both = [common, out]

    def add(name: str, help_text: str, handler: Callable[..., int]) -> Any:
        command = sub.add_parser(name, parents=both, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    triage = add("triage", "deploys, error patterns and rollback candidates for one service", _triage)
    triage.add_argument("--service", help="the service (default: the only one, when there is one)")
    triage.add_argument("--since", default="1h", help="error-pattern window (default 1h)")

    deploys = add("deploys", "recent deploys (tool: recent_deploys)", _tool("recent_deploys"))
    _range(deploys, "24h")
    deploys.add_argument("--service")
    deploys.add_argument("--limit", type=int, default=20)

    logs = add("logs", "search log lines (tool: search_logs)", _tool("search_logs"))
    _range(logs, "1h")
    logs.add_argument("--service")
    logs.add_argument("--query", help="case-insensitive text the message must contain")
    logs.add_argument("--level", help="lowest level: debug, info, warn, error, critical, fatal")
    logs.add_argument("--limit", type=int, default=50)

    patterns = add(
        "patterns",
        "error patterns (tool: error_patterns), or the patterns of one file with --file",
        _patterns,
    )
    _range(patterns, None)
    patterns.add_argument("--service")
    patterns.add_argument("--levels", help="comma-separated levels, or 'all' (default error,fatal,critical)")
    patterns.add_argument(
        "--baseline", help="window to compare with: a length before --since (24h), or 'none'"
    )
    patterns.add_argument("--top", type=int, default=20)
    patterns.add_argument("--file", type=Path, help="summarise this file instead of the configured sources")
    patterns.add_argument(
        "--format",
        choices=["auto", "ndjson", "logfmt", "plain", "message"],
        default="auto",
        help="with --file: how lines are written; 'message' means each line is one message",
    )
    patterns.add_argument("--label", action="store_true", help="with --file: one JSON object per input line")

    health = add("health", "health of each deploy window (tool: deploy_health)", _tool("deploy_health"))
    health.add_argument("--service", required=True)
    health.add_argument("--limit", type=int, default=10)

    rollback = add(
        "rollback", "ranked rollback candidates (tool: rollback_candidates)", _tool("rollback_candidates")
    )
    rollback.add_argument("--service", required=True)
    rollback.add_argument("--top", type=int, default=5)

    _timeline_parser(
        add("timeline", "incident timeline (tool: incident_timeline)", _tool("incident_timeline"))
    )

    diff = add("diff", "what a deploy changed and its risks (tool: deploy_diff)", _tool("deploy_diff"))
    diff.add_argument("sha", help="commit sha, tag or deployed version")
    diff.add_argument("--service")
    diff.add_argument("--base", help="compare against this sha (default: the previous deploy)")

    _changed_parser(
        add(
            "changed",
            "which services changed at a moment, by statistics (tool: what_changed)",
            _tool("what_changed"),
        )
    )

    alerts = add("alerts", "alerts firing now, or fired in a range (tool: alerts)", _tool("alerts"))
    _range(alerts, None)
    alerts.add_argument("--service")

    metrics = add(
        "metrics", "a PromQL query summarised per series (tool: query_metrics)", _tool("query_metrics")
    )
    metrics.add_argument("query", help="PromQL expression")
    _range(metrics, "1h")
    metrics.add_argument("--max-series", dest="max_series", type=int, default=10)

    add("status", "configured sources and their health (tool: sources_status)", _tool("sources_status"))


def _timeline_parser(timeline: argparse.ArgumentParser) -> None:
    _range(timeline, "6h")
    timeline.add_argument("--service")
    timeline.add_argument(
        "--baseline",
        help="how long before --since to compare with (default: as long as the range, at least 1h)",
    )


def _changed_parser(changed: argparse.ArgumentParser) -> None:
    changed.add_argument(
        "--at", help="the onset: ISO-8601 or 15m back (default: latest alert or error onset)"
    )
    changed.add_argument("--window", help="how long after --at to judge (default 10m)")
    changed.add_argument("--baseline", help="how long before --at to compare with (default 30m)")
    changed.add_argument("--service")
    changed.add_argument("--top", type=int)


def _range(command: argparse.ArgumentParser, default: str | None) -> None:
    note = f" (default {default})" if default else ""
    command.add_argument("--since", default=default, help=f"start: 90m, 6h, 2d or ISO-8601{note}")
    command.add_argument("--until", help="end: same forms (default now)")


# -- handlers ---------------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _emit(result: BaseModel, as_json: bool) -> int:
    """Print the result; 1 (a source failed, as the README says) when it rests on a source
    that is not ok, so a script cannot take a broken source for a quiet system."""
    if as_json:
        print(json.dumps(as_data(result), indent=2, ensure_ascii=False))
    else:
        print(render(result))
    if isinstance(result, SourcesStatus):
        return 0 if all(source.ok for source in result.sources) else 1
    return 1 if isinstance(result, Truncation) and result.sources_not_ok else 0


_TOOL_ARGS = (
    "service",
    "since",
    "until",
    "limit",
    "query",
    "level",
    "top",
    "sha",
    "base",
    "max_series",
    "at",
    "window",
    "baseline",
    "max_series",
)


def _tool(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from sitrep.tools import READ_TOOLS

        tool = next(t for t in READ_TOOLS if t.__name__ == name)
        arguments = {key: getattr(args, key) for key in _TOOL_ARGS if getattr(args, key, None) is not None}
        return _emit(call_tool(tool, build_context(_settings(args)), arguments), args.json)

    return run


def call_tool(tool: Callable[..., BaseModel], ctx: ToolContext, arguments: dict[str, Any]) -> BaseModel:
    """Call a tool function as the server would: its arguments validated the same way, and
    the sources it could not use listed at the top of its answer. No deadline: the human at
    the terminal decides when to give up."""
    checked = tool_arguments(tool).validate(arguments)
    with tool_call(tool.__name__, float("inf")) as call:
        result = tool(ctx, **checked)
    return with_sources_not_ok(result, call.not_ok)


def _patterns(args: argparse.Namespace) -> int:
    if args.file is not None:
        from sitrep.cli.file_patterns import label_file, summarize_file

        levels = args.levels.split(",") if args.levels else None
        if args.label:
            return label_file(args.file, args.format, sys.stdout)
        return _emit(
            summarize_file(args.file, args.format, levels, args.top, args.since, args.until), args.json
        )
    if args.label:
        raise InputError("--label needs --file")
    from sitrep.tools.logs import error_patterns

    arguments: dict[str, Any] = {"since": args.since or "1h", "top": args.top}
    for key in ("service", "until", "baseline"):
        if getattr(args, key) is not None:
            arguments[key] = getattr(args, key)
    if args.levels:
        arguments["levels"] = args.levels.split(",")
    return _emit(call_tool(error_patterns, build_context(_settings(args)), arguments), args.json)


def _triage(args: argparse.Namespace) -> int:
    from sitrep.cli.triage import build_triage

    return _emit(build_triage(build_context(_settings(args)), args.service, args.since), args.json)


def _serve(args: argparse.Namespace) -> int:
    from sitrep.server.mcp import build_server, build_unconfigured_server

    try:
        settings = _settings(args)
    except ConfigError as error:
        if args.transport != "stdio":
            raise
        # An MCP client shows a server that exits as "Connection closed" and nothing more: serve
        # anyway, and let every tool tell the model (and so the human) what to fix.
        print(f"sitrep: error: {error}; serving every tool with this error", file=sys.stderr)
        build_unconfigured_server(error).run("stdio")
        return 2
    server = build_server(settings)
    if args.transport == "stdio":
        server.run("stdio")
        return 0
    from sitrep.server.http import serve_http

    # `is not None`: an empty SITREP_HTTP_TOKEN is a token too short to use, not no token.
    token = settings.http_token.get_secret_value() if settings.http_token is not None else None
    serve_http(server, host=args.host, port=args.port, token=token, allowed_hosts=args.allow_host)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from sitrep.cli.triage import build_triage
    from sitrep.demo import build_demo

    directory: Path = (args.dir or default_demo_dir()).resolve()
    if (directory / DEMO_MARKER).exists():
        shutil.rmtree(directory)  # our own earlier demo: replace it
    print(f"Writing a demo incident to {directory} and triaging it …", file=sys.stderr)
    try:
        scenario = build_demo(directory)
    except (FileExistsError, RuntimeError) as error:
        raise InputError(str(error)) from None
    (directory / DEMO_MARKER).write_text("written by `sitrep demo`; safe to delete\n")
    print(f"Wrote a demo incident to {directory}\n", file=sys.stderr)
    print(_demo_metrics(scenario, args.metrics == "auto"), file=sys.stderr)
    runtime = build_context(load_settings(scenario.config_path))
    print(render(build_triage(runtime, scenario.service)))
    print(_next_steps(scenario.config_path, scenario.service))
    return 0


PROMETHEUS_DEV = Path(__file__).resolve().parents[2] / "scripts" / "prometheus-dev"


def _demo_metrics(scenario: Any, wanted: bool) -> str:
    """Load the demo's metrics into a running scripts/prometheus-dev and point the demo's
    configuration at it; otherwise say that verdicts rest on the logs alone."""
    path = scenario.metrics_path
    logs_only = f"Verdicts are judged on the logs only; the same traffic as metrics is in {path}"
    if not wanted or path is None or not PROMETHEUS_DEV.exists():
        return f"{logs_only}.\n"
    status = subprocess.run([PROMETHEUS_DEV, "status"], capture_output=True, text=True, check=False)
    if status.returncode != 0:
        return f"{logs_only} (start Prometheus with scripts/prometheus-dev start, then rerun).\n"
    found = dict(p.split("=", 1) for p in status.stdout.strip().splitlines()[-1].split() if "=" in p)
    url = found.get("PROMETHEUS_URL")
    loaded = subprocess.run(
        [PROMETHEUS_DEV, "load", path], capture_output=True, text=True, timeout=600, check=False
    )
    if url is None or loaded.returncode != 0:
        return f"{logs_only} (loading into Prometheus failed: {loaded.stderr.strip()[-300:]}).\n"
    with scenario.config_path.open("a", encoding="utf-8") as config:
        config.write(f'\n[prometheus]\nurl = "{url}"\n')
    return f"Loaded the demo's metrics into Prometheus at {url}: verdicts are judged on metrics and logs.\n"


def default_demo_dir() -> Path:
    """Outside any checkout, so the demo's files and its Claude Code server never mix with a
    repository's own (the sitrep checkout has a `.mcp.json` of its own)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "sitrep" / "demo"


def _sitrep_command() -> str:
    """How to start this very sitrep, whether or not it is on PATH."""
    script = Path(sys.argv[0])
    if script.name == "sitrep" and script.exists():
        return shlex.quote(str(script.resolve()))
    return f"{shlex.quote(sys.executable)} -m sitrep"


def _next_steps(config: Path, service: str) -> str:
    sitrep = _sitrep_command()
    quoted = shlex.quote(str(config))
    return f"""
Next, from the shell:
    {sitrep} rollback --config {quoted} --service {service}
    {sitrep} timeline --config {quoted} --service {service}

Use it from Claude Code, read-only (plan mode), from any directory:
    claude mcp add {DEMO_SERVER} -- {sitrep} serve --config {shlex.quote(str(config))}
    claude --permission-mode plan
  then ask: "checkout is failing: triage it with {DEMO_SERVER}", or run the prompt
  /mcp__{DEMO_SERVER}__incident-triage (remove it later with: claude mcp remove {DEMO_SERVER})
"""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
