"""The retrain gate's fixed evaluation sets are read by the trainer's own text,label reader."""

import pytest

from monitor.errors import MonitorError
from monitor.learning.evaluation import read_eval_csv


def test_eval_set_reads_like_the_trainer(tmp_path):
    path = tmp_path / "eval.csv"
    body = "\ufefftext,label\nStocks tumble,Bearish\nGold climbs,positive\nFed holds,Neutral\n"
    path.write_text(body, encoding="utf-8")
    got = read_eval_csv(path, name="s", task="sentiment")
    assert got.texts == ["Stocks tumble", "Gold climbs", "Fed holds"]
    assert got.labels == ["negative", "positive", "neutral"]


@pytest.mark.parametrize(("body", "says"), [
    ("text,label\nStocks tumble,furious\n", "line 2: unknown sentiment label 'furious'"),
    ("text,label\n", "no rows after the header"),
    ("words,label\nx,negative\n", "text"),
])
def test_a_bad_eval_set_is_one_line_naming_the_setting(tmp_path, body, says):
    path = tmp_path / "eval.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(MonitorError) as err:
        read_eval_csv(path, name="s", task="sentiment")
    message = str(err.value)
    assert says in message and "MONITOR_LEARNING__EVAL_SENTIMENT_PATH" in message and "\n" not in message
