"""Label files: good rows kept and normalized, every bad row reported with its line and reason."""

import json

import pytest

from monitor.errors import MonitorError
from monitor.learning.importing import read_label_file
from monitor.learning.records import BadLabel, parse_label_record


def test_csv_keeps_good_rows_and_reports_bad_ones_by_line(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        "text,topic,sentiment\n"
        "Fed hikes rates,fed | central banks,Bearish\n"        # line 2: good, normalized
        '"A quoted\nmulti-line text",,bullish\n'                # lines 3-4: good
        "Bad topic,Weather,\n"                                  # line 5: unknown topic
        ",Dividend,\n"                                          # line 6: no text
        "No labels at all,,\n"                                  # line 7
        "\n"                                                    # line 8: blank, skipped
        "Too,many,fields,here\n"                                # line 9
        "Numeric topic id,4,neutral\n",                         # line 10: good (id 4 = Dividend)
        encoding="utf-8",
    )
    result = read_label_file(path, max_text_chars=1000)
    assert [(lab.text, lab.topic, lab.sentiment) for lab in result.labels] == [
        ("Fed hikes rates", "Fed | Central Banks", "negative"),
        ("A quoted\nmulti-line text", None, "positive"),
        ("Numeric topic id", "Dividend", "neutral"),
    ]
    problems = {p.line: p.reason for p in result.problems}
    assert sorted(problems) == [5, 6, 7, 9]
    assert "unknown topic 'Weather'" in problems[5]
    assert "text is missing" in problems[6]
    assert "neither topic nor sentiment" in problems[7]
    assert "4 fields where the header has 3" in problems[9]
    assert all(lab.origin == "import" for lab in result.labels)


def test_jsonl_reports_broken_lines_and_keeps_the_rest(tmp_path):
    path = tmp_path / "labels.jsonl"
    lines = [
        json.dumps({"text": "Gold jumps", "topic": "Gold | Metals | Materials", "author": "ana"}),
        "{not json",
        json.dumps(["a", "list"]),
        "",
        json.dumps({"text": "x" * 50, "sentiment": "positive"}),
        json.dumps({"text": "Oil slides", "sentiment": "meh"}),
        json.dumps({"text": "Linked", "sentiment": "neg", "article_id": "12"}),
        json.dumps({"text": "Bad link", "sentiment": "neg", "article_id": "abc"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = read_label_file(path, max_text_chars=20, author="importer")
    assert [(lab.text, lab.author, lab.article_id) for lab in result.labels] == [
        ("Gold jumps", "ana", None), ("Linked", "importer", 12)
    ]
    reasons = {p.line: p.reason for p in result.problems}
    assert sorted(reasons) == [2, 3, 5, 6, 8]
    assert reasons[2].startswith("not valid JSON")  # the wording the training reader uses too
    assert reasons[3] == "not a JSON object"
    assert "more than the limit of 20" in reasons[5]
    assert "unknown sentiment 'meh'" in reasons[6]
    assert "article_id must be a positive integer" in reasons[8]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("labels.txt", "text,topic\n", "use .csv or .jsonl"),
        ("labels.csv", "headline,label\nx,y\n", "must name a 'text' column"),
        ("missing.csv", None, "does not exist"),
    ],
)
def test_unusable_files_fail_with_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(MonitorError, match=message):
        read_label_file(path, max_text_chars=100)


def test_non_utf8_csv_says_how_to_fix_it(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,topic\nCaf\xe9 earnings,Earnings\n".encode("latin-1"))
    with pytest.raises(MonitorError, match="not UTF-8.*save it as UTF-8"):
        read_label_file(path, max_text_chars=100)


def test_record_rejects_non_string_labels():
    with pytest.raises(BadLabel, match="topic must be a string"):
        parse_label_record({"text": "t", "topic": ["Dividend"]}, origin="kafka", max_text_chars=100)
