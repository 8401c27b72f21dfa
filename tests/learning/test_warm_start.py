"""Warm-start retraining: fine-tuning the champion on a small label set from a new domain learns that domain
(its predictions change) and, thanks to the replay sample, keeps the base-corpus scores (no forgetting)."""

import random

import pytest
from synthetic_data import COMPANIES, TOPIC_WORDS, synthetic_examples, write_csv

from monitor.model.arguments import preset
from monitor.model.directory import ModelDirectory
from monitor.model.evaluation import evaluate_examples
from monitor.model.serialization import load_model
from monitor.model.training import train_model

# The "new domain": sentiment carried only by slang the base corpora never use.
SLANG = {"positive": "tendies moon rocket", "negative": "bagholder rekt puts", "neutral": "sideways crab chop"}
# The tiny random encoder needs a far larger learning rate than the real backbone; the rest is the warm recipe.
TINY = {"learning_rate": 2e-3, "max_length": 32, "eval_batch_size": 128}


def slang_examples(n: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic, sentiment = rng.choice(list(TOPIC_WORDS)), rng.choice(list(SLANG))
        words = [rng.choice(COMPANIES), *TOPIC_WORDS[topic].split()[:1], *SLANG[sentiment].split()[: rng.randint(1, 3)]]
        rng.shuffle(words)
        out.append((f"{' '.join(words)} ~{seed}-{i}", topic, sentiment))
    return out


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # A 32-wide model gains nothing from two threads, and on a loaded machine their spin-waits cost 4x.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from types import SimpleNamespace

    from monitor.model.data import Example
    from monitor.model.testing import make_tiny_encoder

    root = tmp_path_factory.mktemp("warm")
    for column, folder in ((1, "twitter-fin-topic"), (2, "twitter-fin-sentiment")):
        for split, n, seed in (("train", 400, 10 + column), ("valid", 100, 20 + column)):
            rows = [(e[0], e[column]) for e in synthetic_examples(n, seed)]
            write_csv(root / "base" / folder / f"{split}.csv", ["text", "label"], rows)
    labels = write_csv(root / "labels.csv", ["text", "topic", "sentiment"], slang_examples(90, seed=5))
    held = [Example(text, sentiment=s) for text, _, s in slang_examples(150, seed=6)]
    champion = root / "champion"
    args = preset("full", epochs=6, max_steps=100, **TINY)
    train_model(args, out=champion, backbone=make_tiny_encoder(root / "encoder"), data_root=root / "base",
                version="champ", progress=False)
    return SimpleNamespace(root=root, data_root=root / "base", labels=labels, held=held, champion=champion)


def sentiment_on(model_dir, examples):
    model, tokenizer = load_model(model_dir)
    return evaluate_examples(model, tokenizer, examples, "sentiment", max_length=32)


def warm_start(world, name, **overrides):
    args = preset("warm", epochs=4, max_steps=40, **TINY, **overrides)
    return train_model(args, out=world.root / name, init_from=world.champion, extra=world.labels,
                       data_root=world.data_root, version=name, progress=False)


def test_warm_start_learns_new_labels_without_forgetting(world):
    champion = ModelDirectory(world.champion).config
    assert champion.scores["sentiment"]["accuracy"] > 0.8 and champion.scores["topic"]["accuracy"] > 0.8
    before = sentiment_on(world.champion, world.held)

    result = warm_start(world, "warm", replay_per_corpus=200)

    after = sentiment_on(result.directory, world.held)
    assert after.accuracy >= before.accuracy + 0.25 and after.accuracy > 0.8, (before.accuracy, after.accuracy)
    for task in ("topic", "sentiment"):  # the same untouched valid splits as the champion's scores
        assert result.config.scores[task]["accuracy"] >= champion.scores[task]["accuracy"] - 0.05, task
    training = result.config.training
    assert training["init_from"]["version"] == "champ" and training["init_from"]["replay_per_corpus"] == 200
    corpora = training["data"]["corpora"]
    # 200 replayed; the dev slice is the champion's own (10 % of its 400), which it never trained on.
    assert (corpora["twitter-fin-sentiment"]["train"], corpora["twitter-fin-sentiment"]["dev"]) == (200, 40)
    assert training["arguments"]["dev_seed"] == champion.training["arguments"]["seed"] == training["data"]["dev_seed"]
    assert corpora["twitter-fin-sentiment"]["valid"]["n"] == 100  # replay caps train only, valid stays whole
    assert result.config.max_length == champion.max_length
    card = ModelDirectory(result.directory).card()
    assert "Warm start from model `champ`" in card
