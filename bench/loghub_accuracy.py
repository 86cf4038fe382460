"""Grouping and parsing accuracy of the pattern miner on the Loghub-2k samples, against Drain3.

    python bench/loghub_accuracy.py --data /path/to/loghub-2k

For every dataset it feeds the `Content` column of `<DS>/<DS>_2k.log_structured.csv` to
sitrep's miner and to Drain3 0.9.x twice (default configuration; and with the masking
instructions of Drain3's own `examples/drain3.ini`), all in this one run, and prints:

GA  grouping accuracy: a line is right when the set of lines in its predicted group equals
    the set of lines with its ground-truth EventId.
PA  parsing accuracy: a line is right when its predicted template equals its ground-truth
    EventTemplate, with every mask written `<*>` and runs of whitespace read as one space.

Loghub's licence is research-only: the data stays where it is; nothing here copies it.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sitrep.analysis.patterns import mine_in_order

DATASETS = ("HDFS", "OpenStack", "Apache", "Zookeeper", "Spark", "OpenSSH")

Parser = Callable[[Sequence[str]], tuple[list[int], list[str]]]
"""Messages in, (group of each message, template of each message) out."""


def sitrep_parser(messages: Sequence[str]) -> tuple[list[int], list[str]]:
    mining, indexes = mine_in_order(messages)
    return list(indexes), [mining.templates[i].template for i in indexes]


def drain3_parser(masked: bool) -> Parser:
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    def parse(messages: Sequence[str]) -> tuple[list[int], list[str]]:
        # An explicit config: TemplateMiner() would otherwise read a drain3.ini from the cwd.
        config = TemplateMinerConfig()
        config.profiling_enabled = False
        if masked:
            config.masking_instructions = drain3_example_masks()
            config.mask_prefix, config.mask_suffix = "<:", ":>"
        miner = TemplateMiner(config=config)
        ids = [miner.add_log_message(m)["cluster_id"] for m in messages]
        final = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
        return ids, [final[i] for i in ids]

    return parse


def drain3_example_masks() -> list[object]:
    """The [MASKING] section of Drain3's examples/drain3.ini, written out in code."""
    from drain3.masking import MaskingInstruction

    start, end = r"((?<=[^A-Za-z0-9])|^)", r"((?=[^A-Za-z0-9])|$)"
    return [
        MaskingInstruction(start + r"(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))" + end, "ID"),
        MaskingInstruction(start + r"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})" + end, "IP"),
        MaskingInstruction(start + r"([0-9a-f]{6,} ?){3,}" + end, "SEQ"),
        MaskingInstruction(start + r"([0-9A-F]{4} ?){4,}" + end, "SEQ"),
        MaskingInstruction(start + r"(0x[a-f0-9A-F]+)" + end, "HEX"),
        MaskingInstruction(start + r"([\-\+]?\d+)" + end, "NUM"),
        MaskingInstruction(r"(?<=executed cmd )(\".+?\")", "CMD"),
    ]


PARSERS: dict[str, Parser] = {
    "sitrep": sitrep_parser,
    "drain3": drain3_parser(masked=False),
    "drain3+masks": drain3_parser(masked=True),
}

_DRAIN3_MASK = re.compile(r"<:[A-Z*]+:>")


def grouping_accuracy(predicted: Sequence[int], truth: Sequence[str]) -> float:
    predicted_groups: dict[int, set[int]] = defaultdict(set)
    true_groups: dict[str, set[int]] = defaultdict(set)
    for line, (p, t) in enumerate(zip(predicted, truth, strict=True)):
        predicted_groups[p].add(line)
        true_groups[t].add(line)
    right = sum(1 for p, t in zip(predicted, truth, strict=True) if predicted_groups[p] == true_groups[t])
    return right / len(truth)


def parsing_accuracy(predicted: Sequence[str], truth: Sequence[str]) -> float:
    right = sum(1 for p, t in zip(predicted, truth, strict=True) if _normal(p) == _normal(t))
    return right / len(truth)


def _normal(template: str) -> str:
    return " ".join(_DRAIN3_MASK.sub("<*>", template).split())


def load(data: Path, dataset: str) -> tuple[list[str], list[str], list[str]]:
    path = data / dataset / f"{dataset}_2k.log_structured.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["Content"] for r in rows], [r["EventId"] for r in rows], [r["EventTemplate"] for r in rows]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Prints GA and PA per dataset and parser, then the means.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="the loghub-2k directory, holding <DS>/<DS>_2k.log_structured.csv per dataset",
    )
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help=f"comma-separated dataset names (default: {','.join(DATASETS)})",
    )
    args = parser.parse_args(argv)
    datasets = [d for d in args.datasets.split(",") if d]
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name in PARSERS}
    header = f"{'dataset':<11}" + "".join(f"{name + ' GA':>16}{'PA':>7}" for name in PARSERS)
    print(header)
    for dataset in datasets:
        messages, events, templates = load(args.data, dataset)
        row = f"{dataset:<11}"
        for name, parse in PARSERS.items():
            groups, predicted = parse(messages)
            ga, pa = grouping_accuracy(groups, events), parsing_accuracy(predicted, templates)
            scores[name].append((ga, pa))
            row += f"{ga:>16.3f}{pa:>7.3f}"
        print(row, flush=True)
    means = f"{'mean':<11}"
    for name in PARSERS:
        n = len(scores[name])
        means += f"{sum(g for g, _ in scores[name]) / n:>16.3f}{sum(p for _, p in scores[name]) / n:>7.3f}"
    print(means)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
