"""kube-state-metrics series as a kube-prometheus install scrapes them (its `job`, `service`
and `instance` labels on every series), for deploy markers with no build-info gauge.

Namespace `shop`, six hours from KSM_START, one sample a minute:
- Deployment `cart`, two pods plus an envoy sidecar: its image `shop/cart:1d338d5` is rolled
  to `:9f8e7d6` at +2 h (a new ReplicaSet; old and new pods overlap two minutes), and rolled
  back to `:1d338d5` at +4 h. Its generation goes 1 -> 2 -> 3 at the same times.
- Deployment `payments`: one image throughout; its generation goes 4 -> 5 at +3 h (an
  environment variable changed: a rollout with no new image).
- Deployment `search`, created at +1 h: its first version, no deploy.
- StatefulSet pod `redis-0`: no Deployment, no marker.
"""

from __future__ import annotations

import zlib

KSM_START = 1791806400  # 2026-10-12T12:00:00Z, apart from every other loaded set
HOURS = 6
REGISTRY = "registry.shop.internal:5000/shop"
CART_OLD = f"{REGISTRY}/cart:1d338d5"
CART_NEW = f"{REGISTRY}/cart:9f8e7d6"
ENVOY = "envoyproxy/envoy:v1.29.1"
ROLLOUT = KSM_START + 2 * 3600
CONFIG_CHANGE = KSM_START + 3 * 3600
ROLLBACK = KSM_START + 4 * 3600
SEARCH_CREATED = KSM_START + 3600
END = KSM_START + HOURS * 3600
SCRAPE = 'job="kube-state-metrics",service="kube-state-metrics",instance="10.0.3.7:8080"'

# (pod, first, last, cart image or other image)
PODS = [
    ("cart-6d4f9b7c8-x2k4p", KSM_START, ROLLOUT + 120, CART_OLD),
    ("cart-6d4f9b7c8-q9w7r", KSM_START, ROLLOUT + 120, CART_OLD),
    ("cart-7f5c6d9b4-m4n8b", ROLLOUT, ROLLBACK + 120, CART_NEW),
    ("cart-7f5c6d9b4-z7t2c", ROLLOUT, ROLLBACK + 120, CART_NEW),
    ("cart-6d4f9b7c8-h5j6k", ROLLBACK, END, CART_OLD),
    ("cart-6d4f9b7c8-p3s8d", ROLLBACK, END, CART_OLD),
    ("payments-5b8c7d6f9-a1b2c", KSM_START, CONFIG_CHANGE + 120, f"{REGISTRY}/payments:v3.2.0"),
    ("payments-84c9d7b6f-d4e5f", CONFIG_CHANGE, END, f"{REGISTRY}/payments:v3.2.0"),
    ("search-7c6b5d4f8-g7h8j", SEARCH_CREATED, END, f"{REGISTRY}/search:2.0.1"),
    ("redis-0", KSM_START, END, "redis:7.2"),
]
# (deployment, [(from, generation)])
GENERATIONS = [
    ("cart", [(KSM_START, 1), (ROLLOUT, 2), (ROLLBACK, 3)]),
    ("payments", [(KSM_START, 4), (CONFIG_CHANGE, 5)]),
    ("search", [(SEARCH_CREATED, 1)]),
]


def kube_openmetrics() -> str:
    lines = ["# TYPE kube_pod_container_info gauge"]
    for pod, first, last, image in PODS:
        containers = [(pod.rsplit("-", 2)[0], image)]
        if pod.startswith("cart"):
            containers.append(("envoy", ENVOY))
        for container, image_ref in containers:
            labels = (
                f'{SCRAPE},namespace="shop",pod="{pod}",uid="u-{pod}",container="{container}",'
                f'image="{image_ref}",image_spec="{image_ref}",image_id="docker-pullable://{image_ref}",'
                f'container_id="containerd://{zlib.crc32(f"{pod}/{container}".encode()):010d}"'
            )
            lines += [f"kube_pod_container_info{{{labels}}} 1 {t}" for t in range(first, last + 1, 60)]
    for metric in ("kube_deployment_metadata_generation", "kube_deployment_status_observed_generation"):
        lines.append(f"# TYPE {metric} gauge")
        for deployment, steps in GENERATIONS:
            labels = f'{SCRAPE},namespace="shop",deployment="{deployment}"'
            bounds = [start for start, _ in steps[1:]] + [END + 60]
            for (start, generation), stop in zip(steps, bounds, strict=True):
                lines += [f"{metric}{{{labels}}} {generation} {t}" for t in range(start, stop, 60)]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
