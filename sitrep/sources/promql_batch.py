"""One PromQL query for a signal of many services instead of one per service.

A signal's template names one service (`sum(rate(x{service="{service}"}[{range}]))`); the
fleet form matches every service asked (`service=~"a|b"`, or `service!=""` for all) and keeps
the service label through each aggregation (`sum by (service) (...)`, `sum by (le, service)`),
so both sides of a ratio still match one to one. Templates this rewrite cannot be sure of
(`without`, vector matching modifiers, `vector()`, `topk`, `label_replace`, a trailing `by`,
no aggregation at all, `{service}` outside the service matcher) are not batched: the caller
asks per service, as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["fleet_query"]

_AGGREGATION = re.compile(r"\b(sum|min|max|avg|count|group|stddev|stdvar)\s*(?:by\s*\(([^()]*)\)\s*)?\(")
_UNSURE = re.compile(
    r"\b(?:without|on|ignoring|group_left|group_right|vector|scalar|topk|bottomk|quantile|count_values"
    r"|absent|absent_over_time|label_replace|label_join|sort|sort_desc|time)\s*\(|\)\s*by\s*\("
)


def fleet_query(template: str, label: str, window: str, services: Sequence[str] | None = None) -> str | None:
    """The template for every service in `services` (all with None), grouped by `label`; None
    when the template is not one this rewrite is sure of."""
    matcher = f'{label}="{{service}}"'
    if template.count("{service}") != template.count(matcher) or matcher not in template:
        return None
    if _UNSURE.search(template) or not _AGGREGATION.search(template):
        return None
    if services is None:
        wide = f'{label}!=""'
    else:
        names = "|".join(re.escape(s) for s in services)
        wide = f'{label}=~"{_escape(names)}"'

    def grouped(match: re.Match[str]) -> str:
        by = [part.strip() for part in (match.group(2) or "").split(",") if part.strip()]
        return f"{match.group(1)} by ({', '.join([*by, label] if label not in by else by)}) ("

    return _AGGREGATION.sub(grouped, template.replace(matcher, wide)).replace("{range}", window)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
