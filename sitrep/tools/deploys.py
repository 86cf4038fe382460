"""recent_deploys and deploy_diff: what went out, when, and what changed."""

from typing import Annotated

from pydantic import Field

from sitrep.domain import Deploy, FileChange
from sitrep.errors import InputError, SitrepError
from sitrep.results import CommitOut, DeployDiff, DeployOut, FileOut, RecentDeploys
from sitrep.sources.git import GitRepo, validate_ref
from sitrep.timespec import epoch_iso, time_range
from sitrep.tools.changes import diff_risks, risk_out
from sitrep.tools.context import ToolContext
from sitrep.tools.history import deploy_history
from sitrep.tools.output import clip, clip_optional, fit
from sitrep.tools.params import Service, Until, optional_service, since_param

MAX_DIFF_COMMITS = 50


def recent_deploys(
    ctx: ToolContext,
    service: Service = None,
    since: Annotated[str, since_param("24h")] = "24h",
    until: Until = None,
    limit: Annotated[int, Field(ge=1, le=200, description="At most this many.")] = 20,
) -> RecentDeploys:
    """Deploys in a time range, newest first: service, version, sha, time, author, commit subject.
    Times come from the deploy log when there is one."""
    service = optional_service(ctx, service)
    start, end = time_range(since, until, ctx.now())
    history = deploy_history(ctx.sources, service, ctx.now().timestamp())
    found = [d for d in reversed(history.deploys) if start <= d.timestamp < end]
    shown = found[:limit]
    items = [deploy_out(d, ctx.settings.output.max_text_chars) for d in shown]
    notes = list(history.notes)
    if not found:
        notes.append(f"no deploys between {epoch_iso(start)} and {epoch_iso(end)}; widen since")

    def build(count: int) -> RecentDeploys:
        return RecentDeploys(
            since=epoch_iso(start),
            until=epoch_iso(end),
            total=len(found),
            deploys=items[:count],
            notes=notes,
        )

    return fit(build, len(items), ctx.settings.output.max_chars, total=len(found))


def deploy_out(deploy: Deploy, limit: int) -> DeployOut:
    return DeployOut(
        service=deploy.service,
        version=clip(deploy.version, 80),
        sha=deploy.sha,
        timestamp=epoch_iso(deploy.timestamp),
        author=clip_optional(deploy.author, 80),
        message=clip_optional(deploy.message, limit),
        source=deploy.source,
        status=deploy.status,
    )


def deploy_diff(
    ctx: ToolContext,
    sha: Annotated[str, Field(description="A commit sha (7+ hex), tag or deployed version.")],
    service: Service = None,
    base: Annotated[
        str | None, Field(description="Compare with this sha or tag; default: the deploy before.")
    ] = None,
) -> DeployDiff:
    """What a deploy changed (commits, files, line counts) and its risks: schema migrations, config
    and dependency changes, committed conflict markers, merges from outside the deploy branch."""
    validate_ref(sha, name="sha")
    if base is not None:
        validate_ref(base, name="base")
    repo, head = _locate(ctx, sha, optional_service(ctx, service))
    base_sha = repo.resolve(base, name="base") if base else _previous_deploy_sha(ctx, repo, head)
    commits = repo.range_commits(base_sha, head, MAX_DIFF_COMMITS + 1)
    changes = repo.changes(base_sha, head)
    risks, cut = diff_risks(repo, base_sha, head, changes, markers=True)
    limit = ctx.settings.output.max_text_chars
    commit_items = [
        CommitOut(
            sha=c.sha,
            author=clip(c.author, 80),
            committed_at=epoch_iso(c.committed_at),
            subject=clip(c.subject, limit),
        )
        for c in commits[:MAX_DIFF_COMMITS]
    ]
    notes = cut + (
        [f"more than {MAX_DIFF_COMMITS} commits in the range; showing the newest"]
        if len(commits) > MAX_DIFF_COMMITS
        else []
    )

    risk_items = [risk_out(r) for r in risks]
    file_items = [_file_out(c, limit) for c in changes]
    # One budget for three lists, filled in order of what a human needs first: the risks,
    # then the commits, then the files.
    lengths = (len(risk_items), len(commit_items), len(file_items))

    def build(count: int) -> DeployDiff:
        shown_risks = min(count, lengths[0])
        shown_commits = min(count - shown_risks, lengths[1])
        shown_files = count - shown_risks - shown_commits
        cut = [
            f"{shown} of {whole} {name}"
            for shown, whole, name in zip(
                (shown_risks, shown_commits, shown_files), lengths, ("risks", "commits", "files"), strict=True
            )
            if shown < whole
        ]
        return DeployDiff(
            service=repo.service,
            sha=head,
            base=base_sha,
            commits=commit_items[:shown_commits],
            files_changed=len(changes),
            lines_added=sum(c.added or 0 for c in changes),
            lines_deleted=sum(c.deleted or 0 for c in changes),
            files=file_items[:shown_files],
            risks=risk_items[:shown_risks],
            notes=notes + ([f"showing {', '.join(cut)}; pass a nearer base to see more"] if cut else []),
        )

    return fit(build, sum(lengths), ctx.settings.output.max_chars)


def _locate(ctx: ToolContext, ref: str, service: str | None) -> tuple[GitRepo, str]:
    """The repository holding `ref` (a sha, tag, or a version the deploy log names) and its sha."""
    if service is not None and service not in ctx.sources.repos:
        raise InputError(f"service: {service!r} has no git repository configured; add a [[git]] entry for it")
    repos = [ctx.sources.repos[service]] if service else list(ctx.sources.repos.values())
    if not repos:
        raise InputError(
            "no git repository is configured; add a [[git]] entry (sources_status shows what is set up)"
        )
    for repo in repos:
        try:
            return repo, repo.resolve(ref)
        except SitrepError:
            continue
    for deploy in reversed(deploy_history(ctx.sources, service, ctx.now().timestamp()).deploys):
        if deploy.version == ref and deploy.sha and deploy.service in ctx.sources.repos:
            repo = ctx.sources.repos[deploy.service]
            return repo, repo.resolve(deploy.sha)
    where = (
        f"the {service} repository"
        if service
        else f"any configured repository ({', '.join(ctx.sources.repos)})"
    )
    raise InputError(f"sha: no commit, tag or deployed version {ref!r} in {where}")


def _previous_deploy_sha(ctx: ToolContext, repo: GitRepo, head: str) -> str:
    deploys = [
        d
        for d in deploy_history(ctx.sources, repo.service, ctx.now().timestamp()).deploys
        if d.sha and d.went_live
    ]
    shas = [d.sha for d in deploys]
    if head in shas:
        index = shas.index(head)
        for earlier in reversed(deploys[:index]):
            if earlier.sha != head and earlier.sha:
                return earlier.sha
    parents = repo.commits([head])[head].parents
    if not parents:
        raise InputError(f"sha: {head[:12]} is the first commit; pass base to compare with something")
    return parents[0]


def _file_out(change: FileChange, limit: int) -> FileOut:
    return FileOut(
        path=clip(change.path, limit),
        status=change.status,
        added=change.added,
        deleted=change.deleted,
        old_path=clip_optional(change.old_path, limit),
    )
