import pytest
from mcp import Client

from sitrep.demo import DemoScenario
from sitrep.timespec import isoformat
from tests.gitrepo import NOW
from tests.tools.calls import call, fails

pytestmark = pytest.mark.anyio


async def test_recent_deploys_come_from_the_deploy_log_enriched_by_git(
    client: Client, demo: DemoScenario
) -> None:
    result = await call(client, "recent_deploys", service="checkout")
    expected = [
        (d.version, d.sha, isoformat(d.deployed_at))
        for d in reversed(demo.deploys)
        if d.service == "checkout"
    ]
    assert [(d["version"], d["sha"], d["timestamp"]) for d in result["deploys"]] == expected
    assert {d["source"] for d in result["deploys"]} == {"deploy_log+git"}
    assert result["deploys"][0]["message"] == "Release 1.4.0"
    assert result["total"] == len(expected) and "truncated" not in result


async def test_all_services_newest_first_and_the_limit_is_reported(client: Client) -> None:
    result = await call(client, "recent_deploys", limit=2)
    assert [d["version"] for d in result["deploys"]] == ["v1.4.0", "v1.3.1"]
    assert result["truncated"] and result["omitted"] == result["total"] - 2
    everything = await call(client, "recent_deploys", since="2d")
    payments = [d for d in everything["deploys"] if d["service"] == "payments"]
    assert payments and all(d["source"] == "deploy_log" and d["sha"] is None for d in payments)


async def test_undeployed_commits_are_not_deploys(client: Client, demo: DemoScenario) -> None:
    result = await call(client, "recent_deploys", service="checkout", since="30m")
    assert result["deploys"] == [] and "widen since" in result["notes"][-1]


async def test_bad_arguments_name_the_argument(client: Client) -> None:
    assert "unknown service 'nope'; known services: checkout, payments" in await fails(
        client, "recent_deploys", service="nope"
    )
    assert "since: cannot read 'last tuesday'" in await fails(client, "recent_deploys", since="last tuesday")
    assert "must be before until" in await fails(client, "recent_deploys", since="1h", until="2h")
    assert "limit" in await fails(client, "recent_deploys", limit=0)


async def test_deploy_diff_of_the_bad_deploy_names_its_risks(client: Client, demo: DemoScenario) -> None:
    result = await call(client, "deploy_diff", sha=demo.bad_sha[:10])
    assert result["sha"] == demo.bad_sha and result["base"] == demo.degraded_shas[-1]
    kinds = {(r["kind"], r.get("path")) for r in result["risks"]}
    assert ("migration", demo.migration_path) in kinds
    assert ("conflict_markers", "config/features.yaml") in kinds
    assert ("dependency", "requirements.txt") in kinds and ("config", "config/production.yaml") in kinds
    assert any(r["kind"] == "merge_from_outside" for r in result["risks"])
    assert result["files_changed"] == len(result["files"]) and result["lines_added"] > 0
    assert result["commits"][0]["sha"] == demo.bad_sha


async def test_deploy_diff_by_version_and_against_a_base(client: Client, demo: DemoScenario) -> None:
    by_version = await call(
        client, "deploy_diff", sha="v1.4.0", service="checkout", base=demo.expected_top_sha
    )
    assert by_version["sha"] == demo.bad_sha and by_version["base"] == demo.expected_top_sha
    assert len(by_version["commits"]) > 3


@pytest.mark.parametrize(
    "hostile", ["--output=/tmp/pwned", "$(touch /tmp/pwned)", "../../etc/passwd", "HEAD..main"]
)
async def test_deploy_diff_refuses_hostile_refs(client: Client, hostile: str) -> None:
    assert "is not a commit sha, tag or branch name" in await fails(client, "deploy_diff", sha=hostile)
    assert "is not a commit sha, tag or branch name" in await fails(
        client, "deploy_diff", sha="HEAD", base=hostile
    )


async def test_deploy_diff_of_an_unknown_sha(client: Client) -> None:
    assert "no commit, tag or deployed version 'deadbeef'" in await fails(
        client, "deploy_diff", sha="deadbeef"
    )
    assert "has no git repository" in await fails(client, "deploy_diff", sha="v2.8.0", service="payments")


def test_clock_is_fixed() -> None:
    assert NOW.tzinfo is not None
