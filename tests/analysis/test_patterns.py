import hashlib
import random
from collections import Counter

import pytest

from sitrep.analysis import patterns
from sitrep.analysis.patterns import (
    MAX_MESSAGE_CHARS,
    OVERFLOW,
    Mining,
    PatternMiner,
    mine_in_order,
    pattern_id,
    shape_of,
)

# A small incident's worth of lines: several templates, repeats, values of every kind.
LINES = [
    *(f"Connection reset by peer while reading from 10.0.{i}.7:5432" for i in range(6)),
    *(
        f"Invalid user {u} from 173.234.31.{i}"
        for i, u in enumerate(["admin", "oracle", "test", "git", "ftp"])
    ),
    *(
        f"[instance: {i:08x}-8d1f-4e07-b6d1-4b2ab87e23b4] VM {s} (Lifecycle Event)"
        for i, s in enumerate(["Paused", "Resumed", "Started", "Stopped"] * 2)
    ),
    *(
        f"order {n} failed after {d}ms: upstream returned 503"
        for n, d in [(1001, 12), (1002, 504), (1003, 77)]
    ),
    "Exception in thread main java.lang.NullPointerException",
    "\tat com.shop.OrderService.place(OrderService.java:42)",
    "\tat com.shop.OrderService.place(OrderService.java:42)",
    '{"level":"error","msg":"payment declined","order_id":123,"trace":"4bf92f3577b34da6a3ce929d0e0e4736"}',
    '{"level":"error","msg":"payment declined","order_id":987,"trace":"a3ce929d0e0e47364bf92f3577b34da6"}',
    "level=error msg=timeout host=db-2 attempt=3 duration=1.5s",
    "level=error msg=timeout host=db-7 attempt=1 duration=0.2s",
]


def templates(mining: Mining) -> list[tuple[str, int]]:
    return [(t.template, c) for t, c in zip(mining.templates, mining.counts, strict=True)]


def mine(lines: list[str], max_groups: int = 50_000) -> Mining:
    miner = PatternMiner(max_groups=max_groups)
    for line in lines:
        miner.add(line)
    return miner.finish()


# ---- invariants ---------------------------------------------------------------------------------


def test_order_of_adds_does_not_change_templates_or_counts() -> None:
    expected = templates(mine(LINES))
    for seed in range(5):
        shuffled = LINES[:]
        random.Random(seed).shuffle(shuffled)
        assert templates(mine(shuffled)) == expected


def test_duplicates_counted_one_by_one_or_at_once_give_the_same_templates() -> None:
    one_by_one = mine(LINES * 3)
    aggregated = PatternMiner()
    for message, count in sorted(Counter(LINES * 3).items()):
        aggregated.add(message, count)
    assert templates(aggregated.finish()) == templates(one_by_one)


def test_counts_add_up_to_the_weight_added() -> None:
    miner = PatternMiner()
    total = 0
    for weight, line in enumerate(LINES, start=1):
        miner.add(line, weight)
        total += weight
    mining = miner.finish()
    assert sum(mining.counts) + mining.overflow_count == total
    assert mining.overflow_count == 0 and not mining.capped


def test_the_cap_bounds_groups_and_still_accounts_for_every_line() -> None:
    miner = PatternMiner(max_groups=3)
    keys = [miner.add(f"event kind{i} happened", 2) for i in range(10)]
    mining = miner.finish()
    assert keys.count(OVERFLOW) == 7
    assert mining.capped and mining.overflow_count == 14
    assert sum(mining.counts) + mining.overflow_count == 20
    assert mining.template_of(OVERFLOW) == OVERFLOW


def test_a_pattern_id_depends_only_on_the_template_text() -> None:
    quiet = mine(["disk full on /dev/sda1", "disk full on /dev/sdb1"])
    busy = mine(["disk full on /dev/sdc1", "something else entirely", "disk full on /dev/sdd1"])
    ids = {t.template: t.pattern_id for t in quiet.templates + busy.templates}
    assert ids["disk full on <*>"] == pattern_id("disk full on <*>")
    assert pattern_id("disk full on <*>") != pattern_id("disk full on <*> again")


def test_keys_map_to_the_template_of_their_message() -> None:
    miner = PatternMiner()
    keys = {line: miner.add(line) for line in LINES}
    mining = miner.finish()
    reset = mining.templates[mining.template_of(keys[LINES[0]])].template
    assert reset == "Connection reset by peer while reading from <*>:<*>"


def test_mine_in_order_labels_each_message() -> None:
    mining, indexes = mine_in_order(["a 1 b", "c d", "a 22 b", "c d"])
    labels = [mining.templates[i].template for i in indexes]
    assert labels == ["a <*> b", "c d", "a <*> b", "c d"]


def test_messages_differing_in_a_digit_of_a_name_are_not_merged_by_the_cache() -> None:
    # The memory zeroes digits to find repeats; `ssh2` keeps its digit in the shape, so
    # the two must get shapes of their own (finish may still merge them as versions).
    miner = PatternMiner()
    assert miner.add("connect via ssh2 failed") != miner.add("connect via ssh3 failed")
    assert shape_of("connect via ssh3 failed") == "connect via ssh3 failed"


# ---- masking: the streaming stage ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "shape"),
    [
        ("took 42 ms, retried -3 times, load 0.75", "took <*> ms, retried <*> times, load <*>"),
        ("blk_-6952295868487656571 and rdd_2_0", "blk_<*> and rdd_<*>_<*>"),
        ("timeout after 10000ms", "timeout after <*>ms"),
        ("pointer 0x7f3a9c00 freed", "pointer <*> freed"),
        ("trace 4bf92f3577b34da6a3ce929d0e0e4736 span a3ce929d0e0e4736", "trace <*> span <*>"),
        ("id fecdd5a9-3ca0-4c82-9336-63b7774f738e ok", "id <*> ok"),
        ("object QuorumServer@33557fe4 and @f5e8f0a1", "object QuorumServer@<*> and @<*>"),
        ("from 10.251.194.213:50010 to /10.0.0.1", "from <*>:<*> to /<*>"),
        ("at 2023-01-30T19:50:59.971Z and 19:50:59,394", "at <*>Z and <*>"),
        ("reading /var/lib/nova/instances/_base/a489c868f0", "reading <*>"),
        (
            "GET https://api.example.com/v1/orders/8812 failed",
            "GET https://api.example.com/v1/orders/<*> failed",
        ),
        ("rhost=5.36.59.76 uid=0 user=root", "rhost=<*> uid=<*> user=root"),
        ("train D1345 and Z1234", "train <*> and Z<*>"),
        ("ssh2 log4j jk2_init() sha256 e2e", "ssh2 log4j jk2_init() sha<*> e2e"),
        ("deadbeef is a word, so is Added", "deadbeef is a word, so is Added"),
        ('{"order_id":123,"user":"alice"}', '{"order_id":<*>,"user":"alice"}'),
        ("at com.shop.Foo$1.run(Foo.java:42)", "at com.shop.Foo$<*>.run(Foo.java:<*>)"),
    ],
)
def test_obvious_values_are_masked_as_the_message_streams_in(message: str, shape: str) -> None:
    assert shape_of(message) == shape


def test_long_messages_are_mined_on_their_first_words() -> None:
    long = "dump " + "field=value " * 500
    shape = shape_of(long)
    assert len(shape) <= MAX_MESSAGE_CHARS and shape.endswith("field=value")


def test_an_empty_message_is_a_template_of_its_own() -> None:
    assert templates(mine(["", "  "])) == [("", 2)]


# ---- clustering: the finishing stage ------------------------------------------------------------


def test_a_position_taking_many_words_becomes_a_parameter() -> None:
    users = ["admin", "oracle", "test", "git", "ftp", "guest"]
    mining = mine([f"Invalid user {u} from 10.0.0.{i}" for i, u in enumerate(users)])
    assert templates(mining) == [("Invalid user <*> from <*>", 6)]


def test_a_handful_of_states_stay_separate_templates() -> None:
    mining = mine([f"VM {state} (Lifecycle Event)" for state in ["Paused", "Resumed", "Started", "Stopped"]])
    assert len(mining.templates) == 4


def test_the_first_word_names_the_event_and_is_never_a_parameter() -> None:
    daemons = ["cupsd", "hcid", "klogd", "portmap", "sdpd", "syslogd"]
    mining = mine([f"{d} startup succeeded" for d in daemons])
    assert len(mining.templates) == 6


def test_what_continues_a_masked_value_is_part_of_it() -> None:
    mining = mine(
        [
            "auth failure rhost=5.36.59.76 user=root",
            "auth failure rhost=5.36.59.77.dynamic-dsl-ip.omantel.net.om user=root",
            "block stored (size 5.2 KB, free 1.1 MB)",
            "block stored (size 287.0 B, free 369.5 KB)",
        ]
    )
    assert sorted(t.template for t in mining.templates) == [
        "auth failure rhost=<*> user=root",
        "block stored (size <*> <*>, free <*> <*>)",
    ]


def test_lists_of_ids_of_any_length_are_one_template() -> None:
    mining = mine(["ask 10.0.0.1 to delete blk_1", "ask 10.0.0.2 to delete blk_2 blk_3 blk_4"])
    assert templates(mining) == [("ask <*> to delete blk_<*>", 2)]


def test_a_java_exception_and_its_stack_frames() -> None:
    trace = [
        "java.lang.IllegalStateException: order 81 is closed",
        "\tat com.shop.OrderService.cancel(OrderService.java:118)",
        "\tat com.shop.OrderController.cancel(OrderController.java:57)",
        "\t... 23 more",
        "java.lang.IllegalStateException: order 97 is closed",
        "\t... 7 more",
    ]
    found = templates(mine(trace))
    assert ("java.lang.IllegalStateException: order <*> is closed", 2) in found
    assert ("... <*> more", 2) in found
    assert ("at com.shop.OrderService.cancel(OrderService.java:<*>)", 1) in found


def test_json_and_key_value_lines_keep_their_keys() -> None:
    found = {t.template for t in mine(LINES).templates}
    assert '{"level":"error","msg":"payment declined","order_id":<*>,"trace":"<*>"}' in found, found
    assert "level=error msg=timeout host=db-<*> attempt=<*> duration=<*>s" in found


def test_dates_and_generated_names_are_values_however_few() -> None:
    mining = mine(
        [
            "backup finished on Mon",
            "backup finished on Tue",
            "restart of pod web-7d9f8b6c5d-x2x7k failed",
            "restart of pod web-7d9f8b6c5d-q8r4t failed",
        ]
    )
    assert sorted(t.template for t in mining.templates) == [
        "backup finished on <*>",
        "restart of pod web-<*>-<*> failed",
    ]


def test_a_digit_in_a_name_does_not_make_it_a_value() -> None:
    mining = mine(["proxy open via SOCKS5", "proxy open via HTTPS"])
    assert len(mining.templates) == 2


def test_the_memory_of_recent_messages_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patterns, "_REMEMBERED", 4)
    miner = PatternMiner()
    for word in ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"]:
        miner.add(f"{word} happened")
    assert len(miner._remembered) <= 4
    assert sum(miner.finish().counts) == 7


def test_mining_without_the_memory_gives_the_same_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    # Unique lines switch the memory off for a while; the templates must not notice.
    ids = [hashlib.md5(str(i).encode()).hexdigest() for i in range(300)]
    lines = [f"span {span} {kind} in {i % 7} ms" for i, span in enumerate(ids) for kind in ("ok", "slow")]
    expected = templates(mine(lines))
    monkeypatch.setattr(patterns, "_TRIAL", 16)
    monkeypatch.setattr(patterns, "_WITHOUT_MEMORY", 50)
    miner = PatternMiner()
    switched_off = False
    for line in lines + lines:
        miner.add(line)
        switched_off = switched_off or miner._lines_without_memory > 0
    assert switched_off
    assert templates(miner.finish()) == [(t, 2 * c) for t, c in expected]


# ---- generalising: rules for log text in general, each with what it must not merge ---------------


def distinct(lines: list[str]) -> list[str]:
    return sorted(t.template for t in mine(lines).templates)


def test_a_name_after_a_word_that_introduces_one_is_a_parameter_even_twice() -> None:
    assert distinct([f"session opened for user {u} by (uid=0)" for u in ("cyrus", "news")]) == [
        "session opened for user <*> by (uid=<*>)"
    ]
    # ... but a state after such a word is not: `Instance spawned` is an event of its own.
    assert len(distinct([f"Instance {s} successfully." for s in ("spawned", "destroyed")])) == 2


def test_dotted_names_are_values_but_error_types_and_frames_are_not() -> None:
    hosts = [f"reverse mapping checking getaddrinfo for {h} failed" for h in ("ns.example.com", "a.b.net")]
    assert distinct(hosts) == ["reverse mapping checking getaddrinfo for <*> failed"]
    errors = [
        f"Caught {e} while calling payments"
        for e in ("java.net.SocketTimeoutException", "java.lang.NullPointerException")
    ]
    assert len(distinct(errors)) == 2
    frames = ["\tat com.shop.Orders.cancel(Orders.java:118)", "\tat com.shop.Carts.cancel(Carts.java:57)"]
    assert len(distinct(frames)) == 2
    # A constant that names what happened stays: SCREEN_ON and SCREEN_OFF are two events.
    assert (
        len(distinct([f"onReceive action: android.intent.action.{a}" for a in ("SCREEN_ON", "SCREEN_OFF")]))
        == 2
    )


def test_the_first_word_may_be_a_dotted_name_when_there_are_many() -> None:
    jobs = ["Safari.Update", "icloud.heartbeat", "Escrow.daily", "suggest.harvest", "Cache.daily"]
    assert distinct([f"com.apple.{j}: told to run this job; ignoring" for j in jobs]) == [
        "com.apple.<*>: told to run this job; ignoring"
    ]
    assert len(distinct([f"autopurge.{k} set to 3" for k in ("snapRetainCount", "purgeInterval")])) == 2


def test_ids_in_several_places_at_once_are_values() -> None:
    lines = [
        f"{q}: from=root, size=1{i}, class=0, msgid=<2005.{q}@{h}admin1>, relay=#0#@localhost"
        for i, (q, h) in enumerate(
            [("jA9J1UvC012345", "e"), ("jA9J1dQ0987654", "a"), ("kB8K2Wd0112233", "c")]
        )
    ]
    assert distinct(lines) == ["<*>: from=root, size=<*>, class=<*>, msgid=<<*>.<*>>, relay=#<*>#@localhost"]


def test_a_quantity_is_one_value_however_it_is_written() -> None:
    lines = [
        "proxy.example.com:443 close, 1123 bytes (1.09 KB) sent, 589 bytes received, lifetime <1 sec",
        "proxy.example.com:443 close, 451 bytes sent, 1190 bytes (1.16 KB) received, lifetime 00:01",
        "proxy.example.com:443 close, 12 bytes sent, 30 bytes received, lifetime 02:14",
    ]
    assert len(distinct(lines)) == 1


def test_words_beside_a_value_in_a_json_line_keep_events_apart() -> None:
    lines = ['{"msg":"payment declined","id":1}', '{"msg":"payment refused","id":2}']
    assert distinct(lines) == ['{"msg":"payment declined","id":<*>}', '{"msg":"payment refused","id":<*>}']


def test_digits_that_differ_in_a_name_are_a_value() -> None:
    lines = [f"Targeting domains:node-D{d} and nodes:node-[{d}0-{d}9]" for d in range(4)]
    assert len(distinct(lines)) == 1


def test_single_words_are_events_not_one_parameter() -> None:
    assert len(distinct(["cancelAutohide", "suspendAutohide", "schedulePeek", "jetty-6.1.26"])) == 4
    assert len(distinct(["onStandStepChanged 3212", "onExtend:1514038530000 14 0 4"])) == 2


def template_of(message: str, mined_with: list[str]) -> tuple[str, str]:
    mining, indexes = mine_in_order([message, *mined_with])
    template = mining.templates[indexes[0]]
    return template.template, template.pattern_id


@pytest.mark.parametrize(
    "message",
    [
        "[distributeSeat][Create seat][TravelDate: 2023-01-31,TrainNumber: Z1234,SeatType: 2]",
        "Order 7f3a9c21-5b2e-4d1a-9c3e-1a2b3c4d5e6f not found for user 42",
        "Connection reset by peer while reading from 10.0.3.7:5432",
        pytest.param(
            "Invalid user admin from 173.234.31.186",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known gap: a word is a parameter once its position takes five values, so a "
                "window with fewer users keeps the user in the template",
            ),
        ),
    ],
)
def test_a_family_gets_one_template_and_id_whatever_else_is_mined_with_it(message: str) -> None:
    """Issue 12: the same message family got a different template (and id) from one window to
    the next, because a template showed how much of a value its window's members shared."""
    same_family = [
        "[distributeSeat][Create seat][TravelDate: 2023-02-01,TrainNumber: Z1299,SeatType: 3]",
        "[distributeSeat][Create seat][TravelDate: 2023-02-02,TrainNumber: G5678,SeatType: 2]",
        "[distributeSeat][Create seat][TravelDate: 2023-02-02,TrainNumber: D1345,SeatType: 1]",
        "Order 0b1c2d3e-aaaa-4bbb-8ccc-123456789abc not found for user 7",
        "Connection reset by peer while reading from 192.168.1.20:6379",
    ]
    windows = [[], LINES, same_family, LINES + same_family, random.Random(7).sample(LINES, 10)]
    assert len({template_of(message, others) for others in windows}) == 1
