"""A warm start's dev slice is its source's: texts neither model trained on, so early stopping and the
temperature fit are not judged on training data."""

from monitor.model.corpora import load_training_data
from monitor.model.labels import TASK_LABELS

TASKS = {t: list(v) for t, v in TASK_LABELS.items()}
DOMAINS = ["surge-stock-sentiment"]


def test_replay_keeps_the_source_dev_slice_and_samples_train_from_the_rest():
    source = load_training_data(TASKS, seed=42, dev_fraction=0.1, domains=DOMAINS)
    warm = load_training_data(TASKS, seed=0, dev_seed=42, dev_fraction=0.1, replay=300, domains=DOMAINS)
    source_train = {e.text for e in source.train}
    source_dev = {e.text for e in source.dev}
    assert {e.text for e in warm.dev} == source_dev
    warm_train = {e.text for e in warm.train}
    assert not warm_train & source_dev  # nothing of the dev slice is trained on, in either run
    assert warm_train <= source_train  # the replay is drawn from what the source trained on
    assert {name: len(idx) for name, idx in warm.sources.items()} == {
        "twitter-fin-topic": 300, "twitter-fin-sentiment": 300, "surge-stock-sentiment": 300}
    assert warm.summary["dev_seed"] == 42


def test_another_dev_seed_overlaps_the_source_training_texts():
    """The failure this guards against: a replay sample's own split puts trained-on texts in dev."""
    source = load_training_data(TASKS, seed=42, dev_fraction=0.1, domains=DOMAINS)
    drifted = load_training_data(TASKS, seed=0, dev_fraction=0.1, replay=300, domains=DOMAINS)
    assert {e.text for e in drifted.dev} & {e.text for e in source.train}


def test_without_replay_the_dev_seed_defaults_to_the_seed():
    a = load_training_data(TASKS, seed=7, dev_fraction=0.1, limit=200)
    b = load_training_data(TASKS, seed=7, dev_seed=7, dev_fraction=0.1, limit=200)
    assert [e.text for e in a.dev] == [e.text for e in b.dev] and [e.text for e in a.train] == [e.text for e in b.train]
