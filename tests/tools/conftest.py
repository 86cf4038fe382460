"""Tool tests go through the protocol: an in-memory MCP client session over the demo incident."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp import Client

from sitrep.demo import DemoScenario, build_demo
from sitrep.server.mcp import build_server
from sitrep.settings import load_settings
from sitrep.tools.context import ToolContext, build_context
from tests.gitrepo import NOW


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoScenario:
    return build_demo(tmp_path_factory.mktemp("demo") / "incident", now=NOW)


@pytest.fixture
def runtime(demo: DemoScenario) -> ToolContext:
    return build_context(load_settings(demo.config_path), clock=lambda: NOW)


@pytest.fixture
async def client(runtime: ToolContext) -> AsyncIterator[Client]:
    async with Client(build_server(runtime.settings, runtime)) as session:
        yield session
