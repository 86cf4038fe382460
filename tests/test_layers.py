"""The layering docs/ARCHITECTURE.md promises, checked on the source: a request goes down the
folders and never climbs back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sitrep"
TOOL_MODULES = {"deploys", "health", "logs", "timeline", "status", "metrics", "alerts"}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("sitrep")}


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules("analysis"), ids=lambda p: p.name)
def test_analysis_reads_no_settings_and_no_sources(path: Path) -> None:
    bad = {m for m in imports(path) if m.startswith(("sitrep.settings", "sitrep.sources", "sitrep.tools"))}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("sources"), ids=lambda p: p.name)
def test_sources_know_nothing_of_analysis_or_tools(path: Path) -> None:
    bad = {m for m in imports(path) if m.startswith(("sitrep.analysis", "sitrep.tools", "sitrep.server"))}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("tools"), ids=lambda p: p.name)
def test_no_tool_module_imports_another(path: Path) -> None:
    siblings = {f"sitrep.tools.{name}" for name in TOOL_MODULES if name != path.stem}
    bad = {m for m in imports(path) if m in siblings or m.rpartition(".")[0] in siblings}
    if path.name == "__init__.py":
        bad = set()  # the one list of tools
    assert not bad, f"{path.name} imports {sorted(bad)}"
    assert not {m for m in imports(path) if m.startswith(("sitrep.server", "sitrep.cli"))}


def test_no_module_is_called_common_utils_or_misc() -> None:
    vague = [p for p in PACKAGE.rglob("*.py") if p.stem in {"common", "utils", "misc", "helpers"}]
    assert not vague


def test_the_import_reader_sees_imports() -> None:
    """The checks above pass only if `imports` finds what is there: here, imports we know of."""
    found = imports(PACKAGE / "tools" / "health.py")
    assert {"sitrep.tools.history", "sitrep.analysis.health", "sitrep.tools.history.deploy_history"} <= found
