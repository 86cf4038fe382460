"""Result models cannot carry unsanitized text: every `str` in them is `Untrusted` (or the
checked `Verbatim`), wherever it sits: a field, an optional, a list item, a dict key."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ValidationError

from sitrep import results
from sitrep.results import RollbackCommand, Untrusted, Verbatim

RESULT_MODELS = [
    cls
    for _, cls in inspect.getmembers(results, inspect.isclass)
    if issubclass(cls, results.Result) and cls is not results.Result
]
CHECKED = (Untrusted, Verbatim)


def _plain_strings(annotation: Any, where: str) -> list[str]:
    """Where `annotation` holds a `str` that is not one of the checked text types."""
    if annotation is str:
        return [where]
    origin = typing.get_origin(annotation)
    if origin is Annotated and not any(annotation == checked for checked in CHECKED):
        return _plain_strings(typing.get_args(annotation)[0], where)
    # Literal is sitrep's own fixed words; a nested model is walked as a model of its own.
    if origin in (list, tuple, set, frozenset, dict, typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        return [found for i, arg in enumerate(args) for found in _plain_strings(arg, f"{where}[{i}]")]
    return []


def test_every_result_model_is_walked() -> None:
    assert len(RESULT_MODELS) >= 20, [m.__name__ for m in RESULT_MODELS]


@pytest.mark.parametrize("model", RESULT_MODELS, ids=lambda m: m.__name__)
def test_no_result_model_has_a_plain_str(model: type[BaseModel]) -> None:
    hints = typing.get_type_hints(model, include_extras=True)
    plain = [found for name in model.model_fields for found in _plain_strings(hints[name], name)]
    assert plain == [], f"{model.__name__}: plain str in {plain}; use results.Untrusted"


def test_the_walker_finds_a_plain_str_where_it_hides() -> None:
    """The walker itself can fail: a str in a dict key, a list, an optional is found."""
    assert _plain_strings(dict[str, int], "f") == ["f[0]"]
    assert _plain_strings(list[str] | None, "f") == ["f[0][0]"]
    assert _plain_strings(dict[Untrusted, list[Untrusted]], "f") == []
    assert _plain_strings(Literal["a", "b"], "f") == []


def test_text_in_a_dict_key_is_sanitized() -> None:
    out = results.PatternOut(
        pattern_id="p1",
        template="t",
        count=1,
        first_seen=None,
        last_seen=None,
        example="e",
        services={"checkout\u202e token=ghp_" + "a" * 36: 1},
        new=None,
        label="unknown",
        signal=None,
    )
    (key,) = out.services
    assert "\u202e" not in key and "ghp_" not in key


def test_notes_and_summaries_are_sanitized() -> None:
    event = results.EventOut(
        timestamp="t",
        kind="deploy",
        service="api",
        summary="deploy of v1 password=hunter2hunter2",
        ref=None,
        text=None,
    )
    assert "hunter2" not in event.summary
    status = results.SourcesStatus(sources=[], services=[], hints=[], notes=["/var/log/\u2066x.log"])
    assert status.notes == ["/var/log/x.log"]


def test_a_verbatim_command_is_refused_not_rewritten() -> None:
    with pytest.raises(ValidationError, match="verbatim"):
        RollbackCommand(command="deploy --tag 'v1 password='\"'\"'x'", executed=False, note="")
    assert (
        RollbackCommand(command="git revert abc123", executed=False, note="").command == "git revert abc123"
    )
