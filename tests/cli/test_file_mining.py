import gzip
import json
import random
from pathlib import Path

import pytest

from sitrep.analysis.patterns import OVERFLOW, mine_in_order
from sitrep.cli import file_mining
from sitrep.cli.file_mining import mine_file
from sitrep.cli.file_patterns import label_file

KINDS = [
    "Connection reset by peer while reading from 10.0.{a}.{b}:5432",
    "order {a} failed after {b}ms: upstream returned 503",
    "session opened for user {user} by (uid={a})",
    "GET /api/orders/{a} 200 {b}ms",
    "java.lang.IllegalStateException: order {a} is closed",
    "cache miss for key user:{a}",
]
USERS = ["alice", "bob", "carol"]


def write_lines(
    path: Path, count: int, seed: int = 3, newline: str = "\n", final_newline: bool = True
) -> list[str]:
    rng = random.Random(seed)
    lines = [
        rng.choice(KINDS).format(a=rng.randrange(10_000), b=rng.randrange(1_000), user=rng.choice(USERS))
        for _ in range(count)
    ]
    text = newline.join(lines) + (newline if final_newline else "")
    path.write_bytes(text.encode())
    return lines


def summary(found: file_mining.FileMining) -> list[tuple[str, str, int]]:
    return [
        (t.pattern_id, t.template, c)
        for t, c in zip(found.mining.templates, found.mining.counts, strict=True)
    ]


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_several_workers_find_what_one_finds(tmp_path: Path, workers: int) -> None:
    path = tmp_path / "app.log"
    write_lines(path, 5_000)
    one = mine_file(path, workers=1, keys_dir=str(tmp_path))
    many = mine_file(path, workers=workers, keys_dir=str(tmp_path))
    assert many.workers > 1 and one.workers == 1
    assert summary(many) == summary(one)
    assert many.lines == one.lines == 5_000
    assert list(many.line_templates()) == list(one.line_templates())
    # Each shape's example is its first line in the file, however the file was cut.
    assert sorted(zip(many.examples, many.shape_counts, strict=True)) == sorted(
        zip(one.examples, one.shape_counts, strict=True)
    )


def test_templates_are_those_of_mining_the_lines_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    lines = write_lines(path, 2_000)
    mining, indexes = mine_in_order(lines)
    found = mine_file(path, workers=2, keys_dir=str(tmp_path))
    assert [t.template for t in found.mining.templates] == [t.template for t in mining.templates]
    assert list(found.line_templates()) == list(indexes)


@pytest.mark.parametrize(("newline", "final"), [("\r\n", True), ("\n", False)])
def test_line_ends_and_a_missing_last_newline(tmp_path: Path, newline: str, final: bool) -> None:
    path = tmp_path / "app.log"
    lines = write_lines(path, 999, newline=newline, final_newline=final)
    found = mine_file(path, workers=4, keys_dir=str(tmp_path))
    _, indexes = mine_in_order(lines)
    assert found.lines == 999
    assert list(found.line_templates()) == list(indexes)
    assert not any("\r" in t.template for t in found.mining.templates)


def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    found = mine_file(path, workers=2, keys_dir=str(tmp_path))
    assert found.lines == 0 and found.mining.templates == [] and list(found.line_templates()) == []


def test_a_compressed_file_is_read_in_one_process(tmp_path: Path) -> None:
    plain = tmp_path / "app.log"
    lines = write_lines(plain, 500)
    packed = tmp_path / "app.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    found = mine_file(packed, workers=4)
    assert found.workers == 1 and found.lines == 500
    assert summary(found) == summary(mine_file(plain, workers=1))
    assert sum(found.mining.counts) == len(lines)


def test_the_cap_counts_every_line_across_workers(tmp_path: Path) -> None:
    path = tmp_path / "unique.log"
    path.write_text(
        "".join(f"event kind{'abcdefghij'[i % 10]}{chr(97 + i // 10 % 26)} happened\n" for i in range(400))
    )
    found = mine_file(path, workers=3, max_groups=5, keys_dir=str(tmp_path))
    assert found.mining.capped
    assert sum(found.mining.counts) + found.mining.overflow_count == 400
    labels = list(found.line_templates())
    assert len(labels) == 400 and labels.count(OVERFLOW) == found.mining.overflow_count


def test_line_keys_wait_on_disk_not_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_mining, "_KEYS_CHUNK", 64)
    path = tmp_path / "app.log"
    lines = write_lines(path, 1_000)
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    found = mine_file(path, workers=2, keys_dir=str(keys_dir))
    spilled = list(keys_dir.iterdir())
    assert len(spilled) == 2 and sum(p.stat().st_size for p in spilled) == 4 * len(lines)
    assert list(found.line_templates()) == list(mine_in_order(lines)[1])


def test_asking_for_line_templates_without_keys_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    write_lines(path, 10)
    with pytest.raises(ValueError, match="keys_dir"):
        list(mine_file(path).line_templates())


def test_large_files_use_every_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_mining, "PARALLEL_FROM_BYTES", 1_000)
    monkeypatch.setattr(file_mining.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    path = tmp_path / "app.log"
    write_lines(path, 2_000)
    assert mine_file(path).workers == 2
    monkeypatch.setattr(file_mining, "PARALLEL_FROM_BYTES", 1 << 40)
    assert mine_file(path).workers == 1


def test_label_file_prints_one_object_a_line_in_input_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_mining, "PARALLEL_FROM_BYTES", 1_000)
    path = tmp_path / "app.log"
    lines = write_lines(path, 3_000)
    out = tmp_path / "labels.jsonl"
    with out.open("w") as handle:
        assert label_file(path, "message", handle) == 0
    labels = [json.loads(line) for line in out.read_text().splitlines()]
    mining, indexes = mine_in_order(lines)
    assert [label["line"] for label in labels] == list(range(1, 3_001))
    assert [label["pattern_id"] for label in labels] == [mining.templates[i].pattern_id for i in indexes]
    assert {label["template"] for label in labels} == {t.template for t in mining.templates}
