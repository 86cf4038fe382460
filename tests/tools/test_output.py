from sitrep.results import LogLine, SearchLogs
from sitrep.tools.output import clip, fit, size


def test_clip_redacts_before_it_cuts_and_marks_the_cut() -> None:
    secret = "hunter2hunter2"
    text = f"login failed password={secret} " + "x" * 300
    clipped = clip(text, 40)
    assert secret[:4] not in clipped and clipped.endswith("chars]") and "…[+" in clipped
    assert clip("short", 40) == "short"


def test_fit_keeps_the_most_that_fits_and_says_what_it_left_out() -> None:
    lines = [
        LogLine(timestamp="2026-11-23T00:00:00Z", service="api", level="error", message="m" * 200)
        for _ in range(50)
    ]

    def build(count: int) -> SearchLogs:
        return SearchLogs(since="a", until="b", total=120, returned=count, lines=lines[:count])

    result = fit(build, len(lines), 3000, total=120)
    assert size(result) <= 3000 < size(build(result.returned + 1))
    assert result.truncated and result.omitted == 120 - result.returned
    whole = fit(build, 5, 100_000, total=5)
    assert not whole.truncated and whole.omitted == 0
