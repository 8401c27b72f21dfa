"""``monitor labels import``: good rows stored once, bad rows reported by line, re-import harmless."""

import pytest
from sqlalchemy import select

from monitor.store import transaction
from monitor.store.orm import Label

pytestmark = pytest.mark.integration


def test_import_stores_good_rows_once_and_reports_bad_lines(run_cli, session_factory, tmp_path):
    path = tmp_path / "corrections.csv"
    path.write_text(
        "text,topic,sentiment\n"
        "Fed hikes rates by 50bp,Fed | Central Banks,bearish\n"
        "Apple beats estimates,earnings,\n"
        "Nobody knows,Weather,\n"
        "Dividend raised 10%,,positive\n",
        encoding="utf-8",
    )
    first = run_cli("labels", "import", str(path), "--author", "ana")
    assert first.returncode == 1, first.stderr  # some rows were bad
    assert "3 good rows, 3 new labels, 0 already stored, 1 bad rows" in first.stdout
    assert "line 4: unknown topic 'Weather'" in first.stderr
    assert "Traceback" not in first.stderr

    again = run_cli("labels", "import", str(path))
    assert "3 good rows, 0 new labels, 3 already stored" in again.stdout

    with transaction(session_factory) as s:
        rows = s.execute(select(Label.text, Label.topic, Label.sentiment, Label.origin, Label.author)
                         .order_by(Label.id)).all()
    assert [tuple(r) for r in rows] == [
        ("Fed hikes rates by 50bp", "Fed | Central Banks", "negative", "import", "ana"),
        ("Apple beats estimates", "Earnings", None, "import", "ana"),
        ("Dividend raised 10%", None, "positive", "import", "ana"),
    ]
    count = run_cli("labels", "count")
    assert count.returncode == 0 and count.stdout.startswith("3 labels, 3 not used")


def test_clean_import_exits_zero_and_bad_file_is_one_line(run_cli, session_factory, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "Gold hits record", "topic": "Gold | Metals | Materials"}\n', encoding="utf-8")
    res = run_cli("labels", "import", str(good))
    assert res.returncode == 0 and "1 new labels" in res.stdout

    res = run_cli("labels", "import", str(tmp_path / "absent.csv"))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "does not exist" in res.stderr
