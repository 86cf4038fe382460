"""sitrep's tools: one module per family, each tool a typed function `tool(rt, **arguments)`."""

from collections.abc import Callable

from pydantic import BaseModel

from sitrep.tools.alerts import alerts
from sitrep.tools.deploys import deploy_diff, recent_deploys
from sitrep.tools.health import deploy_health, rollback_candidates
from sitrep.tools.logs import error_patterns, search_logs
from sitrep.tools.metrics import query_metrics
from sitrep.tools.status import sources_status
from sitrep.tools.timeline import incident_timeline
from sitrep.tools.what_changed import what_changed

READ_TOOLS: tuple[Callable[..., BaseModel], ...] = (
    recent_deploys,
    search_logs,
    error_patterns,
    deploy_health,
    rollback_candidates,
    incident_timeline,
    what_changed,
    deploy_diff,
    alerts,
    query_metrics,
    sources_status,
)
"""Every tool sitrep serves. There is no other list: sitrep has no write tools."""

__all__ = ["READ_TOOLS"]
