"""Deploys marked by metrics, from a configured query (the zero-config one is
sources/deploy_markers.py): a `*_build_info` series whose version or revision label changes,
or a series with no version label whose value changes (a generation number).

Many teams write no deploy log, but their services export a build-info gauge
(`app_build_info{service="checkout", version="v1.4.0", revision="1d338d5"} 1`). A new value of
its version (or revision) label for a service is a deploy at the first sample that carries it.
The first version seen of a service was deployed before its data begins and is no marker.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from sitrep.domain import Deploy, Series

__all__ = ["DEFAULT_QUERY", "VERSION_LABELS", "build_info_deploys", "default_query"]

VERSION_LABELS = ("version", "revision", "git_commit", "commit", "image", "tag")
"""Labels that name what is deployed, in order of preference for a Deploy's version."""
SHA_LABELS = ("revision", "git_commit", "commit", "git_sha", "sha")
_SHA = re.compile(r"[0-9a-f]{7,40}")

DEFAULT_QUERY = 'max by ({service}, version, revision) ({{__name__=~".+_build_info", {service}!=""}})'
"""Every build-info gauge that carries the service label, one series per version and revision."""


def default_query(service_label: str, service: str | None = None) -> str:
    """The default marker query; for one service (its name already escaped for PromQL), only its series."""
    query = DEFAULT_QUERY.format(service=service_label)
    if service is None:
        return query
    return query.replace(f'{service_label}!=""', f'{service_label}="{service}"')


def build_info_deploys(
    series: Sequence[Series], service_label: str, start: float, step: float
) -> list[Deploy]:
    """One Deploy per (service, version) first seen (a series without a version label: per
    value, as "generation N") after `start` (later than one and a half
    steps in) and after the service's first version: a value present from the start, or from
    the start of the service's data, was deployed at a time the metrics do not show. Oldest first."""
    first: dict[tuple[str, str], tuple[float, str | None]] = {}
    for item in series:
        service = item.labels.get(service_label)
        version = next((item.labels[k] for k in VERSION_LABELS if item.labels.get(k)), None)
        samples = [(ts, value) for ts, value in item.samples if not math.isnan(value)]
        if not service or not samples:
            continue
        sha = next((v for k in SHA_LABELS if _SHA.fullmatch(v := item.labels.get(k, "").lower())), None)
        for ts, value in samples:
            key = (service, version or f"generation {value:.0f}")
            if key not in first or ts < first[key][0]:
                first[key] = (ts, sha)
    earliest: dict[str, float] = {}
    for (service, _), (seen, _) in first.items():
        earliest[service] = min(seen, earliest.get(service, seen))
    deploys = [
        Deploy(service, version, seen, sha=sha, source="metrics")
        for (service, version), (seen, sha) in first.items()
        if seen > start + 1.5 * step and seen > earliest[service]
    ]
    return sorted(deploys, key=lambda d: (d.timestamp, d.service))
