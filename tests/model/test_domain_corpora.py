"""The bundled retail-investor sentiment sets: held-out splits that never share a text with train."""

import pytest

from monitor import datasets
from monitor.model.corpora import DOMAIN_CORPORA, load_training_data
from monitor.model.data import read_task_csv
from monitor.model.errors import TrainingDataError
from monitor.model.labels import TASK_LABELS
from monitor.model.social_build import split
from monitor.text import dedup_key


@pytest.mark.parametrize("name", sorted(DOMAIN_CORPORA))
def test_held_out_split_shares_no_text_with_train(name):
    folder = datasets.path(name)
    train = read_task_csv(folder / "train.csv", "sentiment", TASK_LABELS["sentiment"])
    valid = read_task_csv(folder / "valid.csv", "sentiment", TASK_LABELS["sentiment"])
    assert not {dedup_key(e.text) for e in train} & {dedup_key(e.text) for e in valid}
    assert 0.17 < len(valid) / (len(train) + len(valid)) < 0.23
    assert (folder / "LICENSE").is_file() and (folder / "README.md").is_file()


def test_split_is_deterministic_and_keeps_repeats_together():
    rows = [(f"post {i} $TSLA", "negative" if i % 3 else "positive") for i in range(200)]
    rows += [("Same retweet https://t.co/a", "positive"), ("same RETWEET https://t.co/b", "positive")]
    train, valid = split(rows)
    again = split(list(reversed(rows)))  # the split depends on the texts, not on their order or the machine
    assert set(valid) == set(again[1]) and set(train) == set(again[0])
    sides = {dedup_key(t) in {dedup_key(v) for v, _ in valid} for t, _ in rows[-2:]}
    assert len(sides) == 1


def test_unknown_domain_is_one_line():
    with pytest.raises(TrainingDataError, match="unknown domain corpus 'reddit'"):
        load_training_data(TASK_LABELS, seed=0, limit=20, domains=["reddit"])
