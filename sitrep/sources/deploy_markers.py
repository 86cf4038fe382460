"""Deploys marked by metrics, with no configuration: one sparse PromQL range query that
answers only where something changed.

Three conventions are read at once (a selector that matches nothing costs the server nothing):
- a `*_build_info` gauge whose version or revision label takes a new value for a service;
- kube-state-metrics' `kube_pod_container_info{image}`: a new image in a Deployment's pods
  (the Deployment is the pod name without its pod-template hash and pod suffix, and names
  the service);
- kube-state-metrics' `kube_deployment_metadata_generation`: a new generation of the
  Deployment's spec (a config-only rollout; scaling bumps it too, so a generation change
  within a few minutes of a version or image change is that deploy, not another).

A version is new at a step when it is there and was not one step before while the service
already had some version then: a service's first version, and one present since before the
range, mark nothing, and a version that comes back (a rollback) marks a deploy again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from sitrep.domain import Deploy, Series
from sitrep.sources.build_info import SHA_LABELS, VERSION_LABELS

__all__ = [
    "KSM_GENERATIONS",
    "KSM_IMAGES",
    "candidates_query",
    "change_query",
    "changed_deploys",
    "kinds_found",
]

KSM_IMAGES = "kube_pod_container_info"
KSM_GENERATIONS = "kube_deployment_metadata_generation"
POD = "(.+)-[a-z0-9]{1,10}-[a-z0-9]{5}"
"""A Deployment's pod: <deployment>-<pod-template hash>-<5-character suffix>."""
_SHA = re.compile(r"[0-9a-f]{7,40}")
SAME_DEPLOY_SECONDS = 300.0
"""Markers of one service this close are one deploy (build info, image and generation all move)."""


def candidates_query(service_label: str, seconds: float) -> str:
    """An instant query (at the range's end, over `seconds` back) naming, in its service label,
    the services that can have a marked deploy in the range: two versions or images seen, or a
    generation that changed. The range query of `change_query` then reads only those: a fleet
    where few services deployed costs a fraction of reading every service at every step."""
    label, window = service_label, f"[{max(1, math.ceil(seconds))}s]"
    build = f'present_over_time({{__name__=~".+_build_info", {label}!=""}}{window})'
    images = f'present_over_time({KSM_IMAGES}{{pod=~"{_escape(POD)}"}}{window})'
    relabel = f'label_replace({images}, "{label}", "$1", "pod", "{_escape(POD)}")'
    generations = f'label_replace(changes({KSM_GENERATIONS}{window}), "{label}", "$1", "deployment", "(.+)")'
    return " or ".join(
        [
            f"count by ({label}) (max by ({label}, version, revision) ({build})) > 1",
            f"count by ({label}) (max by ({label}, namespace, image) ({relabel})) > 1",
            f"max by ({label}) ({generations}) > 0",
        ]
    )


def change_query(service_label: str, step: float, services: Sequence[str] | None = None) -> str:
    """The PromQL whose range query answers only at the steps where a deploy is marked; for
    some services (names as given; escaped here) only their series."""
    label, off = service_label, f"offset {max(1, round(step))}s"
    build = f'{{__name__=~".+_build_info", {label}!=""}}'
    pod, generations = POD, KSM_GENERATIONS
    if services is not None:
        names = "|".join(re.escape(s) for s in services)
        build = f'{{__name__=~".+_build_info", {label}=~"{_escape(names)}"}}'
        pod = f"(?:{names})-[a-z0-9]{{1,10}}-[a-z0-9]{{5}}"
        generations = f'{KSM_GENERATIONS}{{deployment=~"{_escape(names)}"}}'
    images = f'{KSM_IMAGES}{{pod=~"{_escape(pod)}"}}'

    def built(o: str) -> str:
        return f"max by ({label}, version, revision) ({build} {o})"

    def imaged(o: str) -> str:
        relabel = f'label_replace({images} {o}, "{label}", "$1", "pod", "{_escape(POD)}")'
        return f"max by ({label}, namespace, image) ({relabel})"

    def generation(o: str) -> str:
        relabel = f'label_replace({generations} {o}, "{label}", "$1", "deployment", "(.+)")'
        return f"max by ({label}, namespace) ({relabel})"

    parts = [
        f"(({built('')} unless {built(off)}) and on ({label}) {built(off)})",
        f"(({imaged('')} unless {imaged(off)}) and on ({label}, namespace) {imaged(off)})",
        f"({generation('')} != {generation(off)})",
    ]
    return " or ".join(parts)


def changed_deploys(series: Sequence[Series], service_label: str) -> list[Deploy]:
    """The deploys in the answer of `change_query`: every sample is one. A series with a
    version label (build info) or an image is that version; one with neither is a generation,
    its value. Markers of one service within SAME_DEPLOY_SECONDS of a better one (build info,
    then image, then generation) are that deploy. Oldest first."""
    found: list[tuple[int, Deploy]] = []
    for item in series:
        labels = item.labels
        service = labels.get(service_label)
        if not service:
            continue
        environment = labels.get("namespace") or None
        version = next((labels[k] for k in VERSION_LABELS if k != "image" and labels.get(k)), None)
        rank = 0
        sha = next((v for k in SHA_LABELS if _SHA.fullmatch(v := labels.get(k, "").lower())), None)
        if version is None and labels.get("image"):
            version, rank, sha = labels["image"], 1, image_sha(labels["image"])
        for ts, value in item.samples:
            if math.isnan(value):
                continue
            if version is None:
                found.append(
                    (
                        2,
                        Deploy(
                            service,
                            f"generation {value:.0f}",
                            ts,
                            None,
                            source="metrics",
                            environment=environment,
                        ),
                    )
                )
            else:
                found.append(
                    (rank, Deploy(service, version, ts, sha, source="metrics", environment=environment))
                )
    return _one_per_deploy(found)


def image_sha(image: str) -> str | None:
    """The git sha an image's tag names, if it is one (`registry:5000/shop/cart:1d338d5`)."""
    tail = image.rsplit("/", 1)[-1].split("@", 1)[0]
    tag = tail.rsplit(":", 1)[1].lower() if ":" in tail else ""
    tag = tag.removeprefix("sha-").removeprefix("git-")
    return tag if _SHA.fullmatch(tag) else None


def _one_per_deploy(found: list[tuple[int, Deploy]]) -> list[Deploy]:
    kept: list[tuple[int, Deploy]] = []
    for rank, deploy in sorted(found, key=lambda f: (f[0], f[1].timestamp)):
        near = any(
            other.service == deploy.service
            and other_rank < rank
            and abs(other.timestamp - deploy.timestamp) <= SAME_DEPLOY_SECONDS
            for other_rank, other in kept
        )
        if not near:
            kept.append((rank, deploy))
    return sorted((d for _, d in kept), key=lambda d: (d.timestamp, d.service))


def kinds_found(names: set[str]) -> list[str]:
    """Which marker conventions a server's metric names hold, for sources_status."""
    kinds = [f"build info ({', '.join(sorted(n for n in names if n.endswith('_build_info'))[:3])})"]
    if not any(n.endswith("_build_info") for n in names):
        kinds = []
    if KSM_IMAGES in names:
        kinds.append(f"kube-state-metrics images ({KSM_IMAGES})")
    if KSM_GENERATIONS in names:
        kinds.append(f"kube-state-metrics generations ({KSM_GENERATIONS})")
    return kinds


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
