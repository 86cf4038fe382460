from datetime import timedelta

import pytest
from mcp import Client

from sitrep.demo import DemoScenario
from sitrep.sources.logparse import parse_timestamp
from tests.gitrepo import NOW
from tests.tools.calls import call, fails, log_lines

pytestmark = pytest.mark.anyio
HOUR_AGO = (NOW - timedelta(hours=1)).timestamp()


def error_lines_last_hour(demo: DemoScenario, service: str = "checkout") -> list[str]:
    return [
        doc["message"]
        for doc in log_lines(demo, service)
        if doc["log"]["level"] in ("error", "fatal", "critical")
        and HOUR_AGO <= parse_timestamp(doc["@timestamp"]) < NOW.timestamp()  # type: ignore[operator]
    ]


async def test_search_logs_counts_exactly_and_returns_newest_first(
    client: Client, demo: DemoScenario
) -> None:
    result = await call(client, "search_logs", service="checkout", level="error", limit=5)
    assert result["total"] == len(error_lines_last_hour(demo))
    assert result["returned"] == 5 and result["truncated"]
    stamps = [line["timestamp"] for line in result["lines"]]
    assert stamps == sorted(stamps, reverse=True)
    assert result.get("lines_skipped", 0) == 0 or "unreadable" in " ".join(result["notes"])


async def test_search_logs_by_text_is_case_insensitive(client: Client) -> None:
    result = await call(client, "search_logs", query="UNDEFINEDCOLUMN", since="2h", limit=500)
    assert result["total"] > 0
    assert all("undefinedcolumn" in line["message"].lower() for line in result["lines"])


async def test_level_means_that_level_and_worse(client: Client) -> None:
    warn = await call(client, "search_logs", level="warn", limit=500, since="30m")
    assert {line["level"] for line in warn["lines"]} <= {"warn", "error", "critical", "fatal"}
    assert "unknown level 'loud'" in await fails(client, "search_logs", level="loud")


async def test_error_patterns_account_for_every_line_and_flag_the_new_ones(
    client: Client, demo: DemoScenario
) -> None:
    result = await call(client, "error_patterns", service="checkout")
    assert result["total"] == len(error_lines_last_hour(demo))
    assert sum(p["count"] for p in result["patterns"]) + result["other_count"] == result["total"]
    new = [p for p in result["patterns"] if p["new"]]
    assert any("discount_code" in p["template"] for p in new)
    old = [p for p in result["patterns"] if p["new"] is False]
    assert old, "background errors existed before the incident"
    assert all(p["baseline_count"] == 0 for p in new) and all(p["baseline_count"] > 0 for p in old)
    assert all(p["change"] == "new" for p in new)
    assert all(p["change"] in ("increased", "decreased", "chronic") and p["ratio"] > 0 for p in old)
    p_values = [p["p_value"] for p in result["patterns"]]
    assert p_values == sorted(p_values), "most surprising first"
    assert all(g["baseline_count"] > 0 and 0 <= g["p_value"] <= 1 for g in result.get("gone", []))
    assert result.get("gone_total", 0) >= len(result.get("gone", []))
    assert all(
        p["pattern_id"].startswith("p") and p["label"] in ("transient", "persistent") and p["signal"]
        for p in result["patterns"]
    )


async def test_the_same_template_has_the_same_id_in_any_window(client: Client) -> None:
    recent = await call(client, "error_patterns", service="checkout", since="20m")
    wider = await call(client, "error_patterns", service="checkout", since="1h")
    ids = {p["template"]: p["pattern_id"] for p in wider["patterns"]}
    shared = [p for p in recent["patterns"] if p["template"] in ids]
    assert shared and all(ids[p["template"]] == p["pattern_id"] for p in shared)


async def test_top_cuts_the_list_but_not_the_count(client: Client) -> None:
    result = await call(client, "error_patterns", top=2)
    assert len(result["patterns"]) == 2 and result["other_patterns"] > 0
    assert sum(p["count"] for p in result["patterns"]) + result["other_count"] == result["total"]


async def test_without_a_baseline_new_is_unknown(client: Client) -> None:
    result = await call(client, "error_patterns", baseline="none")
    assert result["baseline_since"] == "" and all(p["new"] is None for p in result["patterns"])
    assert all(p.get("change") is None and p.get("p_value") is None for p in result["patterns"])
    counts = [p["count"] for p in result["patterns"]]
    assert counts == sorted(counts, reverse=True) and not result.get("gone")
    all_levels = await call(client, "error_patterns", levels=["all"], since="10m")
    assert all_levels["levels"] == ["all"] and all_levels["total"] > result["total"] / 6
    assert "baseline: 'sometime'" in await fails(client, "error_patterns", baseline="sometime")
