"""Training only the upper blocks on cached lower-block outputs gives the same network as running it whole."""

import torch

from monitor.model.arguments import preset
from monitor.model.backbone import load_backbone
from monitor.model.corpora import load_training_data
from monitor.model.labels import TASK_LABELS
from monitor.model.loop import TrainingLoop
from monitor.model.modeling import SplitEncoder
from monitor.model.serialization import load_model
from monitor.model.training import build_model, train_model

TEXTS = ["Stocks tumble as rates rise https://t.co/x1", "Gold climbs", "Apple beats estimates, shares up 5% on the day"]


def test_split_encoder_lower_then_upper_is_the_whole_encoder(tiny_encoder_dir):
    encoder, tokenizer, _ = load_backbone(tiny_encoder_dir)
    encoder.eval()
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        whole = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        split = SplitEncoder(encoder, 1)
        parts = split.upper(split.lower(ids, mask), mask)
    real = mask.bool()
    assert torch.allclose(parts[real], whole[real], atol=1e-5)
    assert len(encoder.encoder.layer) == 2  # the views did not cut the encoder itself


def test_cached_logits_equal_full_logits(tiny_encoder_dir):
    tasks = {t: list(v) for t, v in TASK_LABELS.items()}
    args = preset("quick", limit=40, freeze_layers=1, cache_frozen=True, dropout=0.0)
    model, tokenizer = build_model(args, tasks, tiny_encoder_dir)
    data = load_training_data(tasks, seed=0, limit=40, domains=())
    cached = TrainingLoop(model, tokenizer, data, args, progress=False)
    assert cached.cache is not None and len(cached.cache) == len(data.train)
    model.eval()  # no dropout anywhere: the two paths must agree
    batch = list(range(0, len(data.train), 3))
    with torch.no_grad():
        via_cache = cached._logits(batch)
        cached.cache = None
        whole = cached._logits(batch)
    for task in tasks:
        assert torch.allclose(via_cache[task], whole[task], atol=2e-3), task  # the cache is fp16


def test_cached_training_trains_the_upper_blocks_only(tiny_encoder_dir, tmp_path):
    before, _, _ = load_backbone(tiny_encoder_dir)
    args = preset("quick", limit=60, max_steps=3, freeze_layers=1, cache_frozen=True, learning_rate=1e-2)
    result = train_model(args, out=tmp_path / "m", backbone=tiny_encoder_dir, progress=False)
    after, _ = load_model(tmp_path / "m")
    frozen, top = "encoder.layer.0.output.dense.weight", "encoder.layer.1.output.dense.weight"
    assert torch.equal(before.state_dict()[frozen], after.encoder.state_dict()[frozen])
    assert not torch.equal(before.state_dict()[top], after.encoder.state_dict()[top])
    assert result.config.training["steps"] == 3


def test_cache_needs_an_upper_block_to_train(tiny_encoder_dir, tmp_path):
    args = preset("quick", limit=40, max_steps=2, freeze_layers=2, cache_frozen=True)  # all 2 blocks frozen
    result = train_model(args, out=tmp_path / "m", backbone=tiny_encoder_dir, progress=False)
    assert result.config.training["steps"] == 2  # trained the heads the ordinary way


def test_links_are_stripped_before_the_tokenizer_when_the_model_says_so(tiny_encoder_dir, tmp_path):
    from monitor.model.config import ModelConfig
    from monitor.model.predictor import Predictor

    args = preset("quick", limit=40, max_steps=1)
    train_model(args, out=tmp_path / "m", backbone=tiny_encoder_dir, progress=False)
    assert ModelConfig.load(tmp_path / "m").text_preprocessing == "strip_links"
    predictor = Predictor.from_directory(tmp_path / "m", device="cpu")
    with_links = predictor.predict_proba(["Gold climbs https://t.co/AbC123 on rate bets www.example.com/x"])
    without = predictor.predict_proba(["Gold climbs on rate bets"])
    for task in with_links:
        assert torch.allclose(torch.from_numpy(with_links[task]), torch.from_numpy(without[task]), atol=1e-6)


def test_older_models_are_served_raw(tiny_model_dir, tmp_path):
    """A config.json written before text_preprocessing existed: the model saw raw texts, so it is served raw."""
    import json
    import shutil

    from monitor.model.config import ModelConfig
    from monitor.model.predictor import Predictor

    old = tmp_path / "old"
    shutil.copytree(tiny_model_dir, old)
    raw = json.loads((old / "config.json").read_text())
    raw.pop("text_preprocessing", None)
    (old / "config.json").write_text(json.dumps(raw))
    assert ModelConfig.load(old).text_preprocessing == "none"
    predictor = Predictor.from_directory(old, device="cpu")
    assert predictor.encode(["a https://t.co/x"]) != predictor.encode(["a"])


def test_negative_freeze_counts_from_the_top(tiny_encoder_dir):
    from monitor.model.modeling import frozen_block_count

    encoder, _, _ = load_backbone(tiny_encoder_dir)  # 2 blocks
    assert [frozen_block_count(encoder, k) for k in (0, 1, 2, 5, -1, -2, -5)] == [0, 1, 2, 2, 1, 0, 0]
