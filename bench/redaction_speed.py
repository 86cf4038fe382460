"""How fast `sanitize` runs on real log lines, whether planted secrets survive, and what it changes
on lines that hold none.

    python bench/redaction_speed.py [--data DIR] [--loghub DIR] [--baseline FILE]
                                    [--lines N] [--repeat R] [--examples K]

DIR is the Nezha TrainTicket data (default /work/shared/data/nezha-trainticket): every
`*/faulty/log/*.csv`, whose `Log` column is JSON with the application line in `log`. The real lines
are repeated until there are N, each repeat with fresh trace and span ids, and about one line in a
thousand gets a planted secret in one of the formats `sitrep.redact` covers. The fake secrets are
built here at run time; none is a real credential.

Reported: lines/s and MB/s over the whole corpus and per line length (best of R runs, in CPU time
of this process, so other load on the machine skews it less; a plain `str.lower` over the corpus
is timed alongside for scale); planted
secrets that survived (should be none); and, on the distinct real lines, every line redaction
changed, split into removals that pass a strict check for their kind (a JWT whose header decodes,
say) and the rest, with examples, so a human can judge the false positives.

Per family: the lines of each real data set (Nezha, and each Loghub 2k sample under --loghub, whose
licence keeps it out of the repository) that carry a marker of each kind. With `--baseline FILE`, an
earlier `sitrep/redact.py` (e.g. `git show REV:sitrep/redact.py > /tmp/before.py`) is timed and
counted beside the current one, and lines only one of them changes are shown.
"""

from __future__ import annotations

import argparse
import base64
import csv
import importlib.util
import json
import random
import re
import string
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from sitrep.redact import redact, sanitize, strip_invisible

DEFAULT_DATA = Path("/work/shared/data/nezha-trainticket")
DEFAULT_LOGHUB = Path("/work/shared/data/loghub-2k")
_HEX_ID = re.compile(r"\b[0-9a-f]{16}(?:[0-9a-f]{16})?\b")
_MARKER = re.compile(r"\[REDACTED:([a-z0-9-]+)\]")
_SHAPE = re.compile(r"[0-9a-f]{6,}|\d+")
_LENGTH_BUCKETS = ((0, 256), (256, 1024), (1024, 1 << 30))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    real = list(_nezha_lines(args.data))
    if not real:
        print(f"no log lines under {args.data}/*/faulty/log/*.csv", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    corpus, planted = _build_corpus(real, args.lines, rng)
    megabytes = sum(map(len, corpus)) / 1e6
    print(f"corpus: {len(corpus):,} lines, {megabytes:.1f} MB, built from {len(real):,} real lines")
    print(f"        {len(planted):,} lines with a planted secret\n")
    _report_speed(corpus, args.repeat)
    _report_recall(planted)
    _report_changes(real, args.examples)
    baseline = _load_baseline(args.baseline) if args.baseline else None
    datasets = {"nezha": sorted(set(real)), **_loghub_sets(args.loghub)}
    _report_families(datasets, baseline, args.examples)
    if baseline is not None:
        _report_baseline_speed(corpus, baseline, args.repeat)
    return 0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Nezha TrainTicket directory")
    parser.add_argument("--lines", type=int, default=600_000, help="corpus size (default 600,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best counts (default 3)")
    parser.add_argument("--examples", type=int, default=12, help="changed lines to show (default 12)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--loghub", type=Path, default=DEFAULT_LOGHUB, help="Loghub 2k directory")
    parser.add_argument("--baseline", type=Path, help="an earlier sitrep/redact.py to compare with")
    return parser.parse_args(argv)


def _nezha_lines(data: Path) -> Iterator[str]:
    csv.field_size_limit(1 << 24)
    for path in sorted(data.glob("*/faulty/log/*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                try:
                    yield str(json.loads(row["Log"])["log"]).rstrip("\n")
                except (KeyError, ValueError):
                    continue


# --- the corpus ------------------------------------------------------------------------------


def _build_corpus(real: list[str], size: int, rng: random.Random) -> tuple[list[str], list[tuple[str, str]]]:
    """`size` lines cycled from `real` with fresh ids; returns them and (line, secret) for planted ones."""
    corpus: list[str] = []
    planted: list[tuple[str, str]] = []
    fresh = _fresh_ids(rng)
    while len(corpus) < size:
        for original in real[: size - len(corpus)]:
            line = _HEX_ID.sub(fresh, original)
            if rng.random() < 0.001:
                secret, line = _plant(line, rng)
                planted.append((line, secret))
            corpus.append(line)
    return corpus, planted


def _fresh_ids(rng: random.Random) -> Callable[[re.Match[str]], str]:
    return lambda match: "".join(rng.choice("0123456789abcdef") for _ in match.group(0))


def _random(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


_ALNUM = string.ascii_letters + string.digits


def _fake_jwt(rng: random.Random) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    signature = _random(rng, _ALNUM + "-_", 43)
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': _random(rng, _ALNUM, 8)})}.{signature}"


def _plant(line: str, rng: random.Random) -> tuple[str, str]:
    """Append a fake secret in one of the formats redaction covers; return (secret, new line)."""
    word = _random(rng, _ALNUM, 14) + rng.choice(string.digits)
    shapes: list[tuple[str, str]] = [
        ("gh" + rng.choice("pousr") + "_" + _random(rng, _ALNUM, 36), "using {}"),
        ("github_pat_" + _random(rng, _ALNUM + "_", 82), "token {}"),
        (
            rng.choice(("AKIA", "ASIA")) + _random(rng, string.ascii_uppercase + string.digits, 16),
            "key id {}",
        ),
        (_random(rng, _ALNUM + "/+", 40), "aws_secret_access_key={}"),
        ("AIza" + _random(rng, _ALNUM + "_-", 35), "maps key {}"),
        (rng.choice(("sk_live_", "rk_live_", "sk_test_")) + _random(rng, _ALNUM, 24), "charge via {}"),
        (
            "xox"
            + rng.choice("abprs")
            + "-"
            + _random(rng, string.digits, 12)
            + "-"
            + _random(rng, _ALNUM, 24),
            "slack {}",
        ),
        (_random(rng, _ALNUM, 24), "posting to https://hooks.slack.com/services/T0123/B0456/{}"),
        (_fake_jwt(rng), "[USER TOKEN: {}]"),
        (
            _random(rng, _ALNUM + "+/", 64),
            '{{"k":"-----BEGIN RSA PRIVATE KEY-----\\n{}\\n-----END RSA PRIVATE KEY-----\\n"}}',
        ),
        (_random(rng, _ALNUM + "+/", 64), "-----BEGIN PRIVATE KEY-----\\n{}"),
        (_random(rng, _ALNUM, 32), "headers={{Authorization=Bearer {}, Accept=json}}"),
        (base64.b64encode(word.encode()).decode(), "Authorization: Basic {}"),
        (word, "jdbc:postgresql://app:{}@db:5432/orders"),
        (word, 'body={{"user":"app","password":"{}"}}'),
        (word, "GET /login?user=app&passwd={}&next=/ 302"),
        (word, "form=password%3D{}%26remember%3D1"),
        (word, '{{"name":"DB_PASSWORD","value":"{}"}}'),
        (word, "client_secret: {}"),
        (word, 'api_key="{}"'),
        (word, "Cookie: theme=dark; JSESSIONID={}"),
    ]
    secret, template = rng.choice(shapes)
    return secret, f"{line} {template.format(secret)}"


# --- reports ---------------------------------------------------------------------------------


def _time(function: Callable[[str], str], lines: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for line in lines:
            function(line)
        best = min(best, time.process_time() - start)
    return best


def _report_speed(corpus: list[str], repeat: int) -> None:
    megabytes = sum(map(len, corpus)) / 1e6
    print(f"speed (best of {repeat}):")
    functions = (
        ("sanitize", sanitize),
        ("strip_invisible", strip_invisible),
        ("redact", redact),
        ("str.lower", str.lower),
    )
    for name, function in functions:
        seconds = _time(function, corpus, repeat)
        print(f"  {name:16} {len(corpus) / seconds:>10,.0f} lines/s  {megabytes / seconds:6.1f} MB/s")
    for low, high in _LENGTH_BUCKETS:
        bucket = [line for line in corpus if low <= len(line) < high]
        if bucket:
            seconds = _time(sanitize, bucket, repeat)
            label = f"{low}-{high - 1} chars" if high < 1 << 30 else f">= {low} chars"
            share = len(bucket) / len(corpus)
            print(f"  sanitize, {label:15} {len(bucket) / seconds:>10,.0f} lines/s  ({share:.1%} of lines)")
    print()


def _report_recall(planted: list[tuple[str, str]]) -> None:
    survived = [(line, secret) for line, secret in planted if secret in sanitize(line)]
    print(f"planted secrets: {len(planted):,}, survived: {len(survived)}")
    for line, secret in survived[:5]:
        print(f"  SURVIVED {secret!r} in {sanitize(line)[-200:]!r}")
    print()


def _report_changes(real: list[str], examples: int) -> None:
    distinct = sorted(set(real))
    changed = [(line, after) for line in distinct if (after := sanitize(line)) != strip_invisible(line)]
    confirmed: Counter[str] = Counter()
    doubtful: list[tuple[str, str]] = []
    for line, after in changed:
        kinds = _removed(strip_invisible(line), after)
        if kinds and all(_looks_like(kind, secret) for kind, secret in kinds):
            confirmed.update(kind for kind, _ in kinds)
        else:
            doubtful.append((line, after))
    rate = len(doubtful) / len(distinct)
    print(f"real Nezha lines: {len(distinct):,} distinct, {len(changed):,} changed by redaction")
    print(f"  removals confirmed as secrets by a strict check: {dict(confirmed)}")
    print(
        f"  changed lines with no confirmed secret (false-positive candidates): {len(doubtful)} ({rate:.3%})"
    )
    _show(changed, examples, doubtful)


def _show(changed: list[tuple[str, str]], examples: int, doubtful: list[tuple[str, str]]) -> None:
    """Up to `examples` changed lines, one per shape (digits and ids masked), doubtful ones first."""
    shapes: dict[str, tuple[str, str]] = {}
    for line, after in doubtful + changed:
        shapes.setdefault(_SHAPE.sub("#", _MARKER.sub("<M>", after)), (line, after))
    print(f"  {len(shapes)} shapes of change; up to {examples}, false-positive candidates first:")
    for line, after in list(shapes.values())[:examples]:
        print(f"    before: {_clip(line)}\n    after:  {_clip(after)}")


def _clip(text: str, width: int = 220) -> str:
    return repr(text if len(text) <= width else text[:width] + "…")


def _removed(before: str, after: str) -> list[tuple[str, str]]:
    """(kind, removed text) for each marker in `after`, found by aligning the kept text."""
    pieces = _MARKER.split(after)
    kept, kinds = pieces[0::2], pieces[1::2]
    pattern = "(.*?)".join(re.escape(piece) for piece in kept)
    match = re.fullmatch(pattern, before, re.DOTALL)
    return list(zip(kinds, match.groups(), strict=True)) if match else []


def _looks_like(kind: str, secret: str) -> bool:
    if kind == "jwt":
        header = secret.split(".", maxsplit=1)[0]
        try:
            decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
        except ValueError:
            return False
        return isinstance(decoded, dict) and "alg" in decoded
    strict = {
        "github-token": r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_\w{82}",
        "aws-access-key-id": r"A(?:KI|SI)A[A-Z0-9]{16}",
        "google-api-key": r"AIza[\w-]{35}",
    }
    return kind in strict and re.fullmatch(strict[kind], secret) is not None


# --- per family, and against a baseline ----------------------------------------------------------

Sanitize = Callable[[str], str]


def _load_baseline(path: Path) -> Sanitize:
    spec = importlib.util.spec_from_file_location("redact_baseline", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function: Sanitize = module.sanitize
    return function


def _loghub_sets(directory: Path) -> dict[str, list[str]]:
    return {
        f"loghub/{path.parent.name}": sorted(
            set(path.read_text(encoding="utf-8", errors="replace").splitlines())
        )
        for path in sorted(directory.glob("*/*_2k.log"))
    }


def _kinds(function: Sanitize, lines: list[str]) -> tuple[Counter[str], dict[str, str]]:
    """Lines carrying each marker kind, and the output of every line that changed."""
    counts: Counter[str] = Counter()
    changed: dict[str, str] = {}
    for line in lines:
        after = function(line)
        if after != strip_invisible(line):
            changed[line] = after
            counts.update(set(_MARKER.findall(after)))
    return counts, changed


def _report_families(datasets: dict[str, list[str]], baseline: Sanitize | None, examples: int) -> None:
    print("\nlines redacted per family (distinct real lines; before = --baseline):")
    for name, lines in datasets.items():
        after, changed = _kinds(sanitize, lines)
        before, changed_before = _kinds(baseline, lines) if baseline else (Counter(), {})
        kinds = sorted(after.keys() | before.keys())
        counts = ", ".join(f"{kind} {before[kind]}->{after[kind]}" for kind in kinds) or "none"
        print(f"  {name:18} {len(lines):>6,} lines: {counts}")
        if baseline is not None:
            _show_difference(changed_before, changed, examples)


def _show_difference(before: dict[str, str], after: dict[str, str], examples: int) -> None:
    new = [line for line in after if before.get(line) != after[line]]
    gone = [line for line in before if line not in after]
    shapes: dict[str, str] = {}
    for line in new:
        shapes.setdefault(_SHAPE.sub("#", _MARKER.sub("<M>", after[line])), line)
    print(f"    {len(new)} lines newly changed ({len(shapes)} shapes), {len(gone)} no longer changed")
    for line in list(shapes.values())[:examples]:
        print(f"      before: {_clip(line)}\n      after:  {_clip(after[line])}")


def _report_baseline_speed(corpus: list[str], baseline: Sanitize, repeat: int) -> None:
    now, then = _time(sanitize, corpus, repeat), _time(baseline, corpus, repeat)
    print(f"\nsanitize now {len(corpus) / now:,.0f} lines/s, baseline {len(corpus) / then:,.0f} lines/s")


if __name__ == "__main__":
    raise SystemExit(main())
