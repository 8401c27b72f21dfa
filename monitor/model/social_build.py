"""Rebuild the bundled social-media sentiment sets from the shared data folder (run once; outputs are committed).

``python -m monitor.model.social_build /path/to/shared/data``

Each set is split into ``train.csv`` and a held-out ``valid.csv`` (20 % per label, never trained on). The split
is by normalised text (links stripped, case folded), so a retweet never sits on both sides, and by a hash of
that text, so it is the same on every machine.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from collections import defaultdict
from pathlib import Path

from monitor.model.labels import normalize_sentiment
from monitor.text import dedup_key

_ROOT = Path(__file__).resolve().parents[1] / "datasets"  # where the bundled sets live
HELD_OUT = 0.2
SOURCES = {  # bundled folder -> (file in the shared data folder, license file there or None)
    "stock-tweets-taborda": ("stock-market-tweets-taborda/labeled.csv", None),
    "surge-stock-sentiment": ("surge-stock-sentiment/sentiment.csv", "surge-stock-sentiment/LICENSE.txt"),
}


def _key(text: str) -> bytes:
    return hashlib.sha256(dedup_key(text).encode()).digest()


def split(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, held out): per label, the groups of near-identical texts with the lowest hashes are held out."""
    groups: dict[bytes, list[tuple[str, str]]] = defaultdict(list)
    for text, label in rows:
        groups[_key(text)].append((text, label))
    by_label: dict[str, list[bytes]] = defaultdict(list)
    for key, members in groups.items():
        by_label[members[0][1]].append(key)
    held: set[bytes] = set()
    for keys in by_label.values():
        keys.sort()
        held.update(keys[: round(len(keys) * HELD_OUT)])
    train = [r for k, members in groups.items() if k not in held for r in members]
    valid = [r for k, members in groups.items() if k in held for r in members]
    return train, valid


def build(shared: Path, name: str) -> tuple[int, int]:
    source, _ = SOURCES[name]
    with (shared / source).open(newline="", encoding="utf-8") as fh:
        rows = [(r["text"], normalize_sentiment(r["label"])) for r in csv.DictReader(fh) if r["label"].strip()]
    train, valid = split(rows)
    for file, part in (("train.csv", train), ("valid.csv", valid)):
        with (_ROOT / name / file).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["text", "label"])
            writer.writerows(part)
    return len(train), len(valid)


def main(argv: list[str]) -> None:
    shared = Path(argv[1]) if len(argv) > 1 else _ROOT.parents[2] / "shared" / "data"
    for name in SOURCES:
        print(name, "train / held out:", *build(shared, name))


if __name__ == "__main__":
    main(sys.argv)
