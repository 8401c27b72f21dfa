import json
from pathlib import Path

import pytest

from monitor import datasets
from monitor.model.data import (
    Example,
    near_duplicate_mask,
    read_extra,
    read_task_csv,
    stratified_split,
)
from monitor.model.errors import TrainingDataError
from monitor.model.labels import SENTIMENT_LABELS, TASK_LABELS, TOPIC_LABELS


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_text_label_csv_with_spelling_variants(tmp_path):
    path = _write(tmp_path, "s.csv", 'text,label,extra\n"a, quoted\ntext",Bearish,x\nb,POSITIVE,y\n')
    examples = read_task_csv(path, "sentiment", SENTIMENT_LABELS)
    assert examples == [Example("a, quoted\ntext", sentiment="negative"), Example("b", sentiment="positive")]


def test_missing_column_names_file_and_columns(tmp_path):
    path = _write(tmp_path, "bad.csv", "sentence,label\nx,Bearish\n")
    with pytest.raises(TrainingDataError, match=r"bad\.csv: missing column\(s\) text \(found: sentence, label\)"):
        read_task_csv(path, "sentiment", SENTIMENT_LABELS)


def test_unknown_label_names_file_row_and_label(tmp_path):
    path = _write(tmp_path, "t.csv", "text,label\nok,IPO\nfine,Macro\nhm,Crypto\n")
    with pytest.raises(TrainingDataError, match=r"t\.csv: line 4: unknown topic label 'Crypto'"):
        read_task_csv(path, "topic", TOPIC_LABELS)


def test_empty_text_names_file_and_line(tmp_path):
    path = _write(tmp_path, "e.csv", "text,label\nok,neutral\n   ,neutral\n")
    with pytest.raises(TrainingDataError, match=r"e\.csv: line 3: empty text"):
        read_task_csv(path, "sentiment", SENTIMENT_LABELS)


def test_extra_csv_allows_one_label_missing(tmp_path):
    path = _write(tmp_path, "x.csv", "text,topic,sentiment\na,IPO,\nb,,bullish\nc,Macro,neg\n")
    examples = read_extra(path, TASK_LABELS)
    assert examples == [
        Example("a", topic="IPO"),
        Example("b", sentiment="positive"),
        Example("c", topic="Macro", sentiment="negative"),
    ]


def test_extra_jsonl_and_its_errors(tmp_path):
    good = _write(tmp_path, "x.jsonl", json.dumps({"text": "a", "topic": "IPO", "sentiment": None}) + "\n")
    assert read_extra(good, TASK_LABELS) == [Example("a", topic="IPO")]
    unlabeled = _write(tmp_path, "y.jsonl", '{"text": "a", "topic": "IPO"}\n{"text": "b"}\n')
    with pytest.raises(TrainingDataError, match=r"y\.jsonl: line 2: no topic or sentiment label"):
        read_extra(unlabeled, TASK_LABELS)
    broken = _write(tmp_path, "z.jsonl", '{"text": "a", "topic": "IPO"}\n{nope\n')
    with pytest.raises(TrainingDataError, match=r"z\.jsonl: line 2: not valid JSON"):
        read_extra(broken, TASK_LABELS)


def test_extra_csv_without_label_columns(tmp_path):
    path = _write(tmp_path, "n.csv", "text,label\na,IPO\n")
    with pytest.raises(TrainingDataError, match="missing column"):
        read_extra(path, TASK_LABELS)


def test_stratified_split_is_seeded_and_keeps_shares():
    examples = [Example(f"t{i}", sentiment=("negative" if i % 4 == 0 else "neutral")) for i in range(400)]
    rest, held = stratified_split(examples, "sentiment", 0.1, seed=7)
    again = stratified_split(examples, "sentiment", 0.1, seed=7)
    assert (rest, held) == again
    assert len(held) == 40 and sum(e.sentiment == "negative" for e in held) == 10
    assert not {e.text for e in rest} & {e.text for e in held}


def test_near_duplicates_ignore_links_and_case():
    mask = near_duplicate_mask(
        ["Fed hikes rates https://t.co/abc", "Something new"], ["FED hikes   rates https://t.co/zzz"]
    )
    assert mask == [True, False]


def test_bundled_data_sets_are_present_and_parse():
    for name in ("twitter-fin-topic", "twitter-fin-sentiment"):
        folder = datasets.path(name)
        assert (folder / "LICENSE").is_file() and (folder / "README.md").is_file()
    assert len(read_task_csv(datasets.path("twitter-fin-sentiment/valid.csv"), "sentiment", SENTIMENT_LABELS)) == 1911
    header = datasets.path("stock-market-tweets/timeline.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "text,label,created_at,row_id"
    with pytest.raises(Exception, match="no bundled data set"):
        datasets.path("financial-phrasebank")


def test_one_label_file_reader_for_training_and_import(tmp_path):
    """read_extra (training) and the label import read text,topic,sentiment files through read_label_rows:
    the same rows, the same lines, the same reasons; a BOM is not part of the first column's name."""
    from monitor.learning.importing import read_label_file
    from monitor.model.data import RowProblem, read_label_rows

    csv_path = _write(tmp_path, "l.csv", "\ufefftext,topic,sentiment\na,IPO,\n\nb,,bullish,extra\n")
    jsonl_path = tmp_path / "l.jsonl"
    jsonl_path.write_bytes(b'\xef\xbb\xbf{"text": "a", "topic": "IPO"}\n\n[1]\n')
    assert list(read_label_rows(csv_path)) == [(2, {"text": "a", "topic": "IPO", "sentiment": ""}),
                                                RowProblem(4, "4 fields where the header has 3")]
    assert list(read_label_rows(jsonl_path)) == [(1, {"text": "a", "topic": "IPO"}), RowProblem(3, "not a JSON object")]
    with pytest.raises(TrainingDataError, match=r"l\.csv: line 4: 4 fields where the header has 3"):
        read_extra(csv_path, TASK_LABELS)
    assert read_label_file(csv_path, max_text_chars=100).problems == [RowProblem(4, "4 fields where the header has 3")]
    with pytest.raises(TrainingDataError, match=r"l\.jsonl: line 3: not a JSON object"):
        read_extra(jsonl_path, TASK_LABELS)
    with pytest.raises(TrainingDataError, match=r"l\.txt: unknown label file type '\.txt'; use \.csv or \.jsonl"):
        read_extra(_write(tmp_path, "l.txt", "text,topic\n"), TASK_LABELS)
