"""Log template mining: group messages into templates with `<*>` for their variable parts.

One miner serves every log source. Local files feed it one message at a time; OpenSearch
feeds it distinct messages weighted by their counts. Both give the same templates, because
the work is split in two:

1. `add`, the hot path, masks the values any log line makes obvious (numbers, hex ids,
   UUIDs, IPs, times, absolute paths) with one compiled regex and counts the resulting
   *shape*; a shape is the caller's group key. A message that differs from a recent one
   only in its digits reuses that one's shape without masking.
2. `finish` clusters the distinct shapes, weighted by their counts. A run of values (`512
   bytes (0.5 KB)`) counts as one token. Shapes of the same length merge when they differ
   in one token that looks like a value (a mask with more around it, digits, a path, a
   dotted name, a unit, a date word, `null`), that names something after a word such as
   `user` or `host`, or that takes many different words; or when they differ only in
   tokens that are values (ids, the values of `key=value` pairs, dotted names). Merged
   positions become `<*>`, and merging repeats until nothing changes. What says what
   happened stays: the first word, states (`started`, `RUNNING`, `true`), error types,
   stack frames, and the words of a JSON message.

`finish` sees only the set of shapes and their totals, so neither the order of `add` calls
nor pre-aggregation can change a template (until the cap on shapes is hit: then which
shapes got in depends on what came first), and a template's id depends only on its text.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sitrep.deadline import check
from sitrep.redact import sanitize

__all__ = ["OVERFLOW", "WILDCARD", "Mining", "PatternMiner", "Template", "mine_in_order", "pattern_id"]

OVERFLOW = -1
"""The key `add` returns once `max_groups` distinct shapes have been seen."""

WILDCARD = "<*>"

MAX_MESSAGE_CHARS = 500
"""Longer messages are mined on their first words only: it bounds the cost of a line, and a
16 KB object dump is told apart from its siblings by its beginning."""

_REDACT_MARGIN = 16_384

_REMEMBERED = 1 << 16
"""How many recent messages are remembered to skip masking a repeat; the memory is bounded
by forgetting them all at once when full."""

_ZERO_DIGITS = bytes.maketrans(b"0123456789", b"0000000000")

_TRIAL = 1 << 12
"""Misses after which the memory's use is judged: with under one hit in sixteen lines (a
stream of unique lines, trace ids in every one) it costs more than it saves..."""
_WITHOUT_MEMORY = 1 << 16
"""...and that many lines are then mined without it, before it is tried again."""

_MIN_DISTINCT_WORDS = 5
"""A position holding only plain words becomes `<*>` once it takes this many values:
four values is still a handful of states (`VM Paused/Resumed/Started/Stopped`); five and
more reads as a parameter such as a user name. Chosen on Loghub-2k, see bench/."""

# Masking is most of the cost of a line, and CPython's regex engine pays for every position
# where a match could start. So the pass starts matches only at digits, signs and slashes
# (never inside plain words), checks with lookbehinds that the value starts a token (a digit
# glued to a word is part of a name: ssh2, log4j, jk2_init), and uses possessive repeats so
# that a failed attempt does not backtrack.
_NUMBER_TAIL = r"(?:[.,/+T-][0-9]++|:[0-9]{2}(?![0-9]))*+"  # 10.0.0.1, 2023-01-30T19:50:59.971
_HEX_TAIL = r"[0-9a-fA-F]*+(?:-[0-9a-fA-F]++)*+(?![0-9A-Za-z])"  # 2ffbc4a0, UUIDs
_VALUE = re.compile(
    rf"""
    [-0-9/]
    (?:
        (?<![0-9A-Za-z].)
        (?:
            (?<=[0-9])
            (?:
                x[0-9a-fA-F]++(?![0-9A-Za-z])                   # 0x7f3a
              | [0-9]*+{_NUMBER_TAIL}(?![0-9a-fA-F])            # 42, 0.25, 10.0.0.1, 10000ms
              | {_HEX_TAIL}
              | [0-9]*+
            )
          | (?<=-)[0-9]++{_NUMBER_TAIL}                         # -1, blk_-4411
          | (?<=/)(?<!//)[\w.@%+~:-]++(?:/[\w.@%+~:=,-]*+)++    # /var/lib/x, /v2/servers/
        )
      | (?<=[a-fA-F][0-9])(?=[0-9a-fA-F-]{{3}}){_HEX_TAIL}      # the digits on of a45841d0
      | (?<=[A-Za-z][0-9])[0-9]{{2,}}+(?:[.,][0-9]++)*+          # D1345, Accessor123
    )
    """,
    re.VERBOSE,
)
# A hex id that starts with letters (a45841d0, fecdd5a9-3ca0-…) was masked from its first
# digit on; its leading letters go too when they reach back to the start of the token. That
# is found on the reversed text, where it follows a mask: a search for a literal, cheap,
# where starting the first pass at every a-f letter would cost a try inside most words.
_LEADING_HEX = re.compile(r">\*<[a-fA-F]++(?![0-9A-Za-z])")

# A token cut into words, masks and punctuation: the units of comparison when two tokens
# of one position differ (`rhost=<*>` against `rhost=ec2-<*>.compute.com`).
_PIECE = re.compile(r"<\*>|[0-9A-Za-z_]+|[^0-9A-Za-z_<]+|<")
_UNITS = frozenset(
    {"B", "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "kB", "Kb", "Mb", "Gb", "bytes"}
    | {"ms", "us", "µs", "ns", "s", "sec", "secs", "seconds", "min", "mins", "minutes"}
    | {"h", "hr", "hrs", "hours", "d", "days", "%"}
)
# Units that continue a value however it is spaced; a lone `d` or `h` is as likely a word.
_RUN_UNITS = _UNITS - {"d", "h", "s"}
# Words that are parts of a date, so values however few of them a window holds.
_CALENDAR = frozenset(
    {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
    | {"January", "February", "March", "April", "June", "July", "August", "September"}
    | {"October", "November", "December"}
    | {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Monday", "Tuesday", "Wednesday"}
    | {"Thursday", "Friday", "Saturday", "Sunday"}
)


# A dotted name (`com.android.phone`, `ns.example.com`, `org.apache.X`) is a value, unless it
# names an error type: `java.net.SocketTimeoutException` says what happened.
_DOTTED = re.compile(r"[0-9A-Za-z_]\.[A-Za-z_]")
_ERROR_NAME = re.compile(r"(?:Exception|Error|Fault)\W*$")
# Booleans are not among them: `interactive=true` and `=false` are two states.
_LITERALS = frozenset({"null", "none", "nil", "undefined", "nan"})
# Words after which a word is a name: `for user cyrus`, `on host db2`.
_NAMING_WORDS = frozenset(
    {"user", "users", "username", "login", "account", "host", "hostname", "node", "server", "client"}
    | {"file", "filename", "path", "dir", "directory", "name", "id", "group", "domain", "service"}
    | {"table", "database", "db", "queue", "topic", "key", "class", "device", "interface", "job"}
    | {"task", "container", "pod", "volume", "disk", "package", "module", "plugin"}
    | {"thread", "channel", "peer", "address", "addr", "url", "uri", "email", "region", "zone"}
)


def pattern_id(template: str) -> str:
    """The stable id of a template: the same text gives the same id in any window."""
    return "p" + hashlib.blake2b(template.encode(), digest_size=5).hexdigest()


@dataclass(frozen=True, slots=True)
class Template:
    pattern_id: str
    template: str


@dataclass(slots=True)
class Mining:
    """What `PatternMiner.finish` found."""

    templates: list[Template]
    """Most frequent first."""
    counts: list[int]
    """Weighted count per template, parallel to `templates`."""
    overflow_count: int
    """Weighted count of messages that arrived after the group cap was hit."""
    capped: bool
    _key_to_template: list[int] = field(repr=False)

    def template_of(self, key: int) -> int:
        """Index into `templates` for a key returned by `add`, or OVERFLOW."""
        return OVERFLOW if key == OVERFLOW else self._key_to_template[key]


class PatternMiner:
    """Collects messages, then mines templates in one deterministic pass.

    Memory is bounded by `max_groups` distinct shapes; once it is reached, messages of new
    shapes are counted in `Mining.overflow_count` instead of being grouped.
    """

    def __init__(self, max_groups: int = 50_000) -> None:
        self._max_groups = max_groups
        self._shape_keys: dict[str, int] = {}
        self._shapes: list[str] = []
        self._counts: list[int] = []
        self._overflow = 0
        # Masking treats every digit alike, so messages that differ only in their digits
        # have one shape: remembered under the message with its digits zeroed, the repeats
        # of a line whose numbers change (times, ids, counters) skip the regex. Only shapes
        # without a digit are remembered: one that keeps a digit (`ssh2`) would be wrong
        # for a message with another digit there.
        self._remembered: dict[bytes, int] = {}
        self._lookups = 0
        self._misses = 0
        self._lines_without_memory = 0

    def add(self, message: str, count: int = 1) -> int:
        """Feed one message weighted by `count` (≥ 1); return its group key, or OVERFLOW."""
        if len(message) > MAX_MESSAGE_CHARS:
            message = _cut(message)
        if self._lines_without_memory:
            self._lines_without_memory -= 1
            key = self._key_of_shape(shape_of(message), message)
        else:
            self._lookups += 1
            probe = message.encode("utf-8", "surrogatepass").translate(_ZERO_DIGITS)
            remembered = self._remembered.get(probe)
            key = self._key_of_new(message, probe) if remembered is None else remembered
        if key == OVERFLOW:
            self._overflow += count
        else:
            self._counts[key] += count
        return key

    def add_shape(self, shape: str, count: int) -> int:
        """Count `count` messages of a shape as another miner's `tallies` gave it: how what
        another miner tallied is merged into this one. Returns the group key, or OVERFLOW."""
        key = self._key_of_shape(shape)
        if key == OVERFLOW:
            self._overflow += count
        else:
            self._counts[key] += count
        return key

    def tallies(self) -> tuple[list[str], list[int], int]:
        """Each shape seen (in the order of its key, secrets redacted), its weighted count,
        and the overflow."""
        return list(self._shapes), list(self._counts), self._overflow

    def finish(self) -> Mining:
        """Mine templates from everything added so far."""
        templates, counts, key_to_template = _mine(self._shapes, self._counts)
        return Mining(
            templates=templates,
            counts=counts,
            overflow_count=self._overflow,
            capped=self._overflow > 0,
            _key_to_template=key_to_template,
        )

    def _key_of_new(self, message: str, probe: bytes) -> int:
        shape = shape_of(message)
        key = self._key_of_shape(shape, message)
        if not _has_digit(shape):
            if len(self._remembered) >= _REMEMBERED:
                self._remembered.clear()
            self._remembered[probe] = key
        self._misses += 1
        if self._misses == _TRIAL:
            if self._lookups - self._misses < self._lookups // 16:
                self._lines_without_memory = _WITHOUT_MEMORY
            self._lookups = self._misses = 0
        return key

    def _key_of_shape(self, shape: str, message: str | None = None) -> int:
        key = self._shape_keys.get(shape)
        if key is not None:
            return key
        if len(self._shapes) >= self._max_groups:
            return OVERFLOW
        key = len(self._shapes)
        self._shape_keys[shape] = key
        self._shapes.append(shape if message is None else _clean_shape(shape, message))
        self._counts.append(0)
        return key


def mine_in_order(messages: Iterable[str], max_groups: int = 50_000) -> tuple[Mining, array[int]]:
    """Mine `messages` and give each its template index (or OVERFLOW), in input order.

    Four bytes a message: the keys are kept in an `array` and mapped once mining is done."""
    miner = PatternMiner(max_groups)
    keys = array("i", map(miner.add, messages))
    mining = miner.finish()
    lookup = mining._key_to_template
    return mining, array("i", [OVERFLOW if key == OVERFLOW else lookup[key] for key in keys])


def _clean_shape(shape: str, message: str) -> str:
    """The shape templates are built from: that of the message with its secrets redacted and
    hidden characters gone. Masking leaves the letters of a secret between its digits
    (`SOpSE<*>VS`), which no redaction could recognise afterwards, so the message itself is
    redacted - once per new shape, not per line: messages of one shape share every letter,
    so a secret in one is in all of them."""
    # Only the start of a message makes its shape: the rest is not redacted either, so a
    # 30 MB message costs a bounded pass (the margin is longer than any secret the redactor
    # knows whole; a private key cut off after its BEGIN line is still redacted).
    head = message[: MAX_MESSAGE_CHARS + _REDACT_MARGIN]
    clean = sanitize(head)
    return shape if clean == head else shape_of(clean)


def shape_of(message: str) -> str:
    """`message` with its obvious values masked: the first, streaming stage of mining."""
    if len(message) > MAX_MESSAGE_CHARS:
        message = _cut(message)
    masked = _VALUE.sub(WILDCARD, message.strip())
    return _LEADING_HEX.sub(">*<", masked[::-1])[::-1]


def _has_digit(text: str) -> bool:
    # A plain loop of one-character scans: a quarter of the cost of a regex pass here.
    for digit in "0123456789":  # noqa: SIM110 - any() over a generator costs four times more
        if digit in text:
            return True
    return False


def _cut(message: str) -> str:
    """The first MAX_MESSAGE_CHARS characters, ending on a whole word when there is one."""
    end = message.rfind(" ", 0, MAX_MESSAGE_CHARS)
    return message[: end if end > 0 else MAX_MESSAGE_CHARS]


# ---- finish: clustering the distinct shapes ---------------------------------------------------

Tokens = tuple[str, ...]


def _mine(shapes: Sequence[str], counts: Sequence[int]) -> tuple[list[Template], list[int], list[int]]:
    unit_of_key, units = _dedupe(_tokens_of(shape) for shape in shapes)
    keys_of_unit: list[list[int]] = [[] for _ in units]
    for key, unit in enumerate(unit_of_key):
        keys_of_unit[unit].append(key)
    by_length: dict[int, list[int]] = defaultdict(list)
    for unit, tokens in enumerate(units):
        by_length[len(tokens)].append(unit)
    cluster_of_unit = [0] * len(units)
    texts: list[str] = []
    for group in by_length.values():
        check()  # clustering many shapes takes a while: stop when the call is given up on
        for members in _cluster_same_length([units[u] for u in group]):
            cluster = [group[m] for m in members]
            for unit in cluster:
                cluster_of_unit[unit] = len(texts)
            originals = [shapes[key].split() for unit in cluster for key in keys_of_unit[unit]]
            rendered = " ".join(_render_cluster(originals, [units[u] for u in cluster]))
            texts.append(_GLUED_TO_MASK.sub(WILDCARD, rendered))
    return _number_templates(texts, [cluster_of_unit[u] for u in unit_of_key], counts)


# Letters and digits glued to the front of a mask are part of its value: masking leaves the
# head of an id (`Z1<*>` of train Z1234, `D1<*>` of D1345), and how much of it the members of a
# cluster share depends on which members a window holds (`Z1<*>`, `Z<*>`, `<*>`). Dropping it
# gives a family one template, and one id, whatever else is mined with it.
_GLUED_TO_MASK = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]++<\*>")


def _render_cluster(originals: list[list[str]], units: list[Tokens]) -> Tokens:
    """Rendered from the shapes themselves when they align, so that `from <*>: <*>:` keeps
    both fields; from the collapsed tokens when lists of different lengths were grouped."""
    if len({len(tokens) for tokens in originals}) == 1:
        return _render([tuple(tokens) for tokens in originals])
    return _render(units)


def _tokens_of(shape: str) -> Tokens:
    """Whitespace tokens, with runs of one masked token collapsed (`blk_<*> blk_<*>` is a
    list), and runs of pure values too (`<*> bytes (<*> KB)` is one quantity however it is
    written)."""
    tokens: list[str] = []
    in_value = False
    for token in shape.split():
        pure = _is_pure_value(token) or (in_value and _word_of(token) in _RUN_UNITS)
        if pure and in_value:
            continue
        if not (tokens and token == tokens[-1] and WILDCARD in token):
            tokens.append(WILDCARD if pure else token)
        in_value = pure
    return tuple(tokens)


def _is_pure_value(token: str) -> bool:
    """A mask with only punctuation or a unit around it: `<*>`, `(<*>,`, `<*>ms`."""
    if WILDCARD not in token:
        return False
    rest = token.replace(WILDCARD, " ")
    return not _has_word(rest) or _word_of(rest) in _UNITS


def _dedupe(items: Iterable[Tokens]) -> tuple[list[int], list[Tokens]]:
    index: dict[Tokens, int] = {}
    positions = [index.setdefault(item, len(index)) for item in items]
    return positions, list(index)


def _number_templates(
    texts: list[str], cluster_of_key: list[int], counts: Sequence[int]
) -> tuple[list[Template], list[int], list[int]]:
    """Templates most frequent first; clusters that render the same text become one."""
    totals: dict[str, int] = {}
    for cluster, count in zip(cluster_of_key, counts, strict=True):
        totals[texts[cluster]] = totals.get(texts[cluster], 0) + count
    ordered = sorted(totals, key=lambda text: (-totals[text], text))
    index = {text: i for i, text in enumerate(ordered)}
    templates = [Template(pattern_id(text), text) for text in ordered]
    return templates, [totals[text] for text in ordered], [index[texts[c]] for c in cluster_of_key]


def _cluster_same_length(units: list[Tokens]) -> list[list[int]]:
    """Indexes of `units` grouped into clusters, by repeated single-position merges."""
    parent = list(range(len(units)))
    members: dict[int, list[int]] = {i: [i] for i in range(len(units))}
    templates: dict[int, Tokens] = dict(enumerate(units))
    while merges := _mergeable(templates):
        check()
        for group in merges:
            _union(parent, group)
        regrouped: dict[int, list[int]] = defaultdict(list)
        for root, ms in members.items():
            regrouped[_find(parent, root)].extend(ms)
        members = dict(regrouped)
        templates = {root: _render([units[m] for m in ms]) for root, ms in members.items()}
    return [sorted(ms) for ms in members.values()]


def _mergeable(templates: dict[int, Tokens]) -> list[list[int]]:
    """Groups of clusters whose templates differ only in values: in one position that varies
    like a value, or in any number of positions holding nothing but a value."""
    by_skeleton: dict[Tokens, list[int]] = defaultdict(list)
    for cluster, tokens in templates.items():
        by_skeleton[_skeleton(tokens)].append(cluster)
    merges = [clusters for clusters in by_skeleton.values() if len(clusters) > 1]
    contexts: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    prefixes: dict[tuple[int, str], int] = {}
    suffixes: dict[tuple[str, int], int] = {}
    for cluster, tokens in templates.items():
        # Interned prefixes and suffixes name "everything but position i" in O(1) per position.
        before = [0]
        for token in tokens:
            before.append(prefixes.setdefault((before[-1], token), len(prefixes) + 1))
        after = 0
        for i in range(len(tokens) - 1, -1, -1):
            contexts[(i, before[i], after)].append(cluster)
            after = suffixes.setdefault((tokens[i], after), len(suffixes) + 1)
    for (i, _, _), clusters in contexts.items():
        previous = templates[clusters[0]][i - 1] if i else None
        if len(clusters) > 1 and _varies(i, {templates[c][i] for c in clusters}, previous):
            merges.append(clusters)
    return merges


def _skeleton(tokens: Tokens) -> Tokens:
    """`tokens` with every value blanked: a pure value (a mask with only punctuation or a
    unit around it: `<*>`, `(<*>,`, `<*>ms`), a unit after one (`5.2 KB` and `287 B` differ
    in two), the value of a `key=value` pair, or a token that looks like a value (an id, a
    dotted name, a path). Templates with one skeleton differ only in values."""
    blanked = []
    after_value = False
    for position, token in enumerate(tokens):
        rest = token.replace(WILDCARD, " ")
        pure = WILDCARD in token and (not _has_word(rest) or _word_of(rest) in _UNITS)
        if pure or (after_value and _word_of(token) in _UNITS):
            blanked.append(WILDCARD)
        else:
            blanked.append(_blank_value(token, position))
        after_value = pure
    return tuple(blanked)


_AROUND_MASK = re.compile(r"(?:[\w-]+(?:\.[\w-]+)+:)?[\w.@-]*<\*>[\w.@-]*")  # … and host:<*>
_CALL = re.compile(r"\w\(")
# `key=value`, `key:value`; not `www.example.com:<*>`, a host and its port.
_PAIR = re.compile(r"([A-Za-z_][\w.-]*=|[A-Za-z_][\w-]*:)(.+)")


def _blank_value(token: str, position: int) -> str:
    if _CALL.search(token):
        return token  # a stack frame's `Order.cancel(Order.java:<*>)` says where, not what
    pair = _PAIR.fullmatch(token)
    if pair is not None and _looks_like_value(pair.group(2), position):
        return pair.group(1) + WILDCARD
    if WILDCARD in token:
        # The id a mask is part of goes with it (`jA9J1UvC<*>:`, `(<*>.net)`); words beside
        # it stay (`declined","id":<*>}` is not `refused","id":<*>}`).
        collapsed = _AROUND_MASK.sub(WILDCARD, token)
        return WILDCARD if not _has_word(collapsed.replace(WILDCARD, " ")) else collapsed
    return WILDCARD if _looks_like_value(token, position) else token


def _word_of(text: str) -> str:
    return text.strip(" ()[]{},;:.'\"")


def _varies(position: int, values: set[str], previous: str | None = None) -> bool:
    """Whether tokens that differ at one position of otherwise equal templates are a parameter."""
    if len(values) < 2:
        return False
    cores, beside_mask = _cores(values)
    cores = [core for core in cores if core]
    if beside_mask or not any(_has_word(core) for core in cores):
        # What differs continues a masked value (`rhost=<*>` against `rhost=<*>.dsl.net.om`,
        # `<*>KB` against `<*>MB`) or is only punctuation around one (`<*>` against `-<*>`).
        return True
    return (
        all(_looks_like_value(core, position) for core in cores)
        or _only_digits_differ(cores)
        or _named(previous, cores)
        or _many_words(position, len(values), cores)
    )


def _named(previous: str | None, cores: list[str]) -> bool:
    """Words after a word that introduces a name (`for user cyrus`) are names, even two of
    them, unless they read as states (`Instance spawned`)."""
    return previous is not None and _word_of(previous).lower() in _NAMING_WORDS and not _states(cores)


def _many_words(position: int, distinct: int, cores: list[str]) -> bool:
    """A handful of words is more likely a set of states than a parameter; and the first
    word of a message names what happened (`cupsd startup succeeded`), not a value, unless
    it is one of many dotted names (`com.apple.Safari.Update: …`, `com.apple.icloud.fmfd: …`)."""
    if distinct < _MIN_DISTINCT_WORDS:
        return False
    return position > 0 or all(_is_dotted_name(core) for core in cores)


def _cores(values: set[str]) -> tuple[list[str], bool]:
    """What differs between the values once their common leading and trailing pieces go,
    and whether a mask borders it."""
    split, head, tail = _common_ends(values)
    first = split[0]
    beside_mask = (head > 0 and first[head - 1] == WILDCARD) or (tail > 0 and first[-tail] == WILDCARD)
    return ["".join(pieces[head : len(pieces) - tail]) for pieces in split], beside_mask


def _common_ends(values: set[str]) -> tuple[list[list[str]], int, int]:
    """The values cut into pieces, and how many leading and trailing pieces they all share."""
    split = [_PIECE.findall(value) for value in values]
    head = _common_length(split)
    return split, head, _common_length([pieces[head:][::-1] for pieces in split])


def _common_length(sequences: list[list[str]]) -> int:
    shortest = min(len(s) for s in sequences)
    for i in range(shortest):
        piece = sequences[0][i]
        if any(s[i] != piece for s in sequences):
            return i
    return shortest


def _has_word(core: str) -> bool:
    return WILDCARD in core or any(c.isalnum() for c in core)


def _looks_like_value(core: str, position: int) -> bool:
    """A mask, a path or address, a unit, a month or weekday, a literal (`null`, `true`), a
    word with two digits or more (`x2x7k`, a pod suffix; one digit is a name's: `SOCKS5`
    against `HTTPS`), a dotted name, or punctuation alone (`()`, `-`: an empty value)."""
    word = _word_of(core)
    return (
        WILDCARD in core
        or (bool(core) and not any(c.isalnum() for c in core))
        or word.lower() in _LITERALS
        or "/" in core
        or "@" in core
        or word in _UNITS
        or word in _CALENDAR
        or sum(c.isdigit() for c in core) >= 2
        or (position > 0 and _is_dotted_name(core))
    )


def _states(cores: list[str]) -> bool:
    """Past participles and gerunds name states, not things: `started`, `running`."""
    return all(_word_of(core).lower().endswith(("ed", "ing")) for core in cores)


def _is_dotted_name(core: str) -> bool:
    """`com.android.phone`, `ns.example.com`: a name; not an error type, a constant that
    says what happened (`java.net.SocketTimeoutException`, `intent.action.SCREEN_ON`), nor
    a call in a stack frame (`com.shop.Order.cancel(Order.java:<*>)`)."""
    if _DOTTED.search(core) is None or _ERROR_NAME.search(core) is not None or "(" in core:
        return False
    last = _word_of(core).rsplit(".", 1)[-1]
    return not (last.isupper() and len(last) > 1)


def _only_digits_differ(cores: list[str]) -> bool:
    """`D4` against `D3`: what differs, character by character, is digits only."""
    head = _common_length([list(core) for core in cores])
    tails = [core[head:][::-1] for core in cores]
    tail = _common_length([list(t) for t in tails])
    return all(not t[tail:] or t[tail:].isdigit() for t in tails)


def _render(members: list[Tokens]) -> Tokens:
    """The template of equal-length token lists: shared tokens kept, the others masked."""
    return tuple(_merge_token(set(column)) for column in zip(*members, strict=True))


def _merge_token(values: set[str]) -> str:
    """One token for a position of a template: what all values share around one mask."""
    if len(values) == 1:
        return next(iter(values))
    split, head, tail = _common_ends(values)
    first = split[0]
    merged = "".join(first[:head]) + WILDCARD + "".join(first[len(first) - tail :] if tail else [])
    while WILDCARD + WILDCARD in merged:
        merged = merged.replace(WILDCARD + WILDCARD, WILDCARD)
    return merged


def _find(parent: list[int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _union(parent: list[int], group: list[int]) -> None:
    roots = sorted({_find(parent, x) for x in group})
    for root in roots[1:]:
        parent[root] = roots[0]
