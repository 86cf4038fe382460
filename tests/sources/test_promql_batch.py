"""Rewriting a signal's per-service PromQL into one query for many services (the equality
of the two against a real Prometheus: tests/integration/test_prometheus.py)."""

from __future__ import annotations

import pytest

from sitrep.sources.promql_batch import fleet_query

COUNT = "http_server_request_duration_seconds_count"


@pytest.mark.parametrize(
    ("template", "fleet"),
    [
        (
            f'sum(rate({COUNT}{{service="{{service}}"}}[{{range}}]))',
            f'sum by (service) (rate({COUNT}{{service!=""}}[5m]))',
        ),
        (
            f'sum(rate({COUNT}{{service="{{service}}",code=~"5.."}}[{{range}}])) / sum(rate({COUNT}{{service="{{service}}"}}[{{range}}]))',
            f'sum by (service) (rate({COUNT}{{service!="",code=~"5.."}}[5m])) / sum by (service) (rate({COUNT}{{service!=""}}[5m]))',
        ),
        (
            'histogram_quantile(0.95, sum by (le) (rate(b{service="{service}"}[{range}])))',
            'histogram_quantile(0.95, sum by (le, service) (rate(b{service!=""}[5m])))',
        ),
        (
            '1 - avg(avg_over_time(ok{service="{service}"}[{range}])) / 100',
            '1 - avg by (service) (avg_over_time(ok{service!=""}[5m])) / 100',
        ),
        (
            'max by (service) (max_over_time(p95{service="{service}"}[{range}]))',
            'max by (service) (max_over_time(p95{service!=""}[5m]))',
        ),
    ],
)
def test_every_aggregation_keeps_the_service(template: str, fleet: str) -> None:
    assert fleet_query(template, "service", "5m") == fleet


def test_named_services_are_matched_escaped() -> None:
    query = fleet_query('sum(x{app="{service}"})', "app", "1m", ["a.b", 'q"t'])
    assert query == 'sum by (app) (x{app=~"a\\\\.b|q\\"t"})'


@pytest.mark.parametrize(
    "template",
    [
        'sum(rate(x{service="{service}"}[{range}])) or vector(0)',
        'sum without (pod) (x{service="{service}"})',
        'sum(x{service="{service}"}) by (le)',
        'x{service="{service}"} / on (pod) y{service="{service}"}',
        'rate(x{service="{service}"}[{range}])',
        'sum(x{job="{service}"})',
        'sum(x{service="{service}", peer="{service}"})',
        'topk(1, sum(x{service="{service}"}))',
    ],
)
def test_what_it_cannot_be_sure_of_is_not_batched(template: str) -> None:
    assert fleet_query(template, "service", "5m") is None
