"""The zero-config deploy markers' reading of a sparse answer (the query itself runs against
a real Prometheus in tests/integration/test_kube_markers.py)."""

from __future__ import annotations

import pytest

from sitrep.domain import Series
from sitrep.sources.deploy_markers import change_query, changed_deploys, image_sha, kinds_found

T = 1_800_000_000.0


def test_build_info_then_image_then_generation_one_deploy_each() -> None:
    answer = [
        Series({"service": "cart", "version": "v2", "revision": "abcdef12"}, [(T, 1.0)]),
        Series({"service": "cart", "namespace": "shop", "image": "r/cart:abcdef12"}, [(T + 60, 1.0)]),
        Series({"service": "cart", "namespace": "shop"}, [(T - 60, 7.0), (T + 3600, 8.0)]),
        Series({"service": "search", "namespace": "shop", "image": "r/search:2.0"}, [(T + 120, 1.0)]),
        Series({"namespace": "shop", "image": "r/x:1"}, [(T, 1.0)]),
    ]
    found = [(d.service, d.version, d.sha, d.timestamp) for d in changed_deploys(answer, "service")]
    assert found == [
        ("cart", "v2", "abcdef12", T),
        ("search", "r/search:2.0", None, T + 120),
        ("cart", "generation 8", None, T + 3600),
    ]


@pytest.mark.parametrize(
    ("image", "sha"),
    [
        ("registry.local:5000/shop/cart:1d338d5", "1d338d5"),
        ("cart:sha-1D338D5AB", "1d338d5ab"),
        ("registry.local:5000/cart", None),
        ("cart:v1.2.3", None),
        ("cart@sha256:0123456789abcdef", None),
    ],
)
def test_an_image_tag_that_is_a_sha_names_the_commit(image: str, sha: str | None) -> None:
    assert image_sha(image) == sha


def test_some_services_query_escapes_their_names() -> None:
    query = change_query("app", 60.0, ['we"ird.svc', "cart"])
    names = 'we\\"ird\\\\.svc|cart'
    assert f'app=~"{names}"' in query and f'deployment=~"{names}"' in query
    assert f'pod=~"(?:{names})-' in query and "offset 60s" in query


def test_kinds_named_from_metric_names() -> None:
    assert kinds_found({"up"}) == []
    assert kinds_found({"app_build_info", "kube_pod_container_info"}) == [
        "build info (app_build_info)",
        "kube-state-metrics images (kube_pod_container_info)",
    ]
