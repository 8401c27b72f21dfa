"""Emoji and symbols written as words before the tokenizer ("strip_links+name_symbols")."""

from __future__ import annotations

import unicodedata

import emoji
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.model.arguments import preset
from monitor.model.config import ModelConfig
from monitor.model.predictor import Predictor
from monitor.model.symbols import name_symbols
from monitor.model.training import train_model

NAMED = "strip_links+name_symbols"


def test_emoji_read_as_their_names_spaced_off_the_words_beside_them():
    assert name_symbols("$TSLA🚀🚀 to the moon🌕") == "$TSLA rocket rocket to the moon full moon"
    assert name_symbols("puts📉 ▼ 3%") == "puts chart decreasing black down-pointing triangle 3%"
    # Skin tones and the joiners of a sequence vanish into the one name.
    assert name_symbols("👍🏽 Beauty!💆‍♂️ 🇺🇸") == "thumbs up Beauty! man getting massage United States"


def test_plain_and_non_symbol_text_is_left_alone():
    assert name_symbols("Fed holds  rates; stocks rally") == "Fed holds  rates; stocks rally"
    assert name_symbols("Café résumé: 央行 降息") == "Café résumé: 央行 降息"


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
@example("#\u20e3")  # a keycap's parts without its variation selector
@example("\U0001F3FB")  # a skin tone alone
def test_no_emoji_or_symbol_survives_and_a_second_pass_changes_nothing(text):
    named = name_symbols(text)
    assert emoji.emoji_count(named) == 0
    assert not [c for c in named if unicodedata.category(c) == "So" and unicodedata.name(c, "")]
    assert name_symbols(named) == named


@pytest.mark.parametrize("corpus", ["stock-tweets-taborda", "surge-stock-sentiment"])
def test_the_backbones_vocabulary_reads_the_retail_posts_with_names(corpus, bench_script):
    """About one retail post in nine (Taborda) or four (Surge) holds a token MiniLM reads as [UNK]: an emoji or a
    word glued to one. With names, almost none do (what is left is Chinese text). bench/preprocessing.py counts."""
    bench = bench_script("preprocessing")
    tokenizer, texts = bench.backbone_tokenizer(), bench.corpus_texts(corpus)
    before = bench.measure(texts, "strip_links", tokenizer)["with_unknown_token"]
    after = bench.measure(texts, NAMED, tokenizer)["with_unknown_token"]
    assert before >= len(texts) // 10
    assert after <= before // 20


def test_a_model_trained_with_names_records_them_and_is_served_with_them(tiny_encoder_dir, tmp_path):
    args = preset("quick", limit=40, max_steps=1, text_preprocessing=NAMED)
    train_model(args, out=tmp_path / "m", backbone=tiny_encoder_dir, progress=False)
    assert ModelConfig.load(tmp_path / "m").text_preprocessing == NAMED
    predictor = Predictor.from_directory(tmp_path / "m", device="cpu")
    glyphs = predictor.predict_proba(["$TSLA🚀 https://t.co/AbC123 📉"])
    words = predictor.predict_proba(["$TSLA rocket chart decreasing"])
    for task in glyphs:
        assert torch.allclose(torch.from_numpy(glyphs[task]), torch.from_numpy(words[task]), atol=1e-6)

    # A warm start keeps its source's preprocessing: its weights learned from names.
    warm = preset("warm", limit=40, max_steps=1, replay_per_corpus=20)
    train_model(warm, out=tmp_path / "w", init_from=tmp_path / "m", progress=False)
    assert ModelConfig.load(tmp_path / "w").text_preprocessing == NAMED


def test_the_retrain_setting_offers_every_preprocessing_a_model_knows():
    from typing import get_args

    from monitor.model.config import TextPreprocessing
    from monitor.settings import LearningSettings

    annotation = LearningSettings.model_fields["text_preprocessing"].annotation
    offered = {a for arg in get_args(annotation) for a in get_args(arg)}
    assert offered == set(get_args(TextPreprocessing))
    overrides = LearningSettings(text_preprocessing=NAMED).recipe_overrides(warm=False)
    assert preset("full", **overrides).text_preprocessing == NAMED
    assert preset("full", **LearningSettings().recipe_overrides(warm=False)).text_preprocessing == "strip_links"


@pytest.mark.parametrize("preprocessing", ["strip_links+name_emoji", None, ["strip_links"]])
def test_a_model_whose_preprocessing_this_release_does_not_know_is_refused_in_one_line(
        tiny_model_dir, tmp_path, preprocessing):
    """Served with the wrong preprocessing, a model reads other tokens than it learned from, silently."""
    import json
    import shutil

    from monitor.model.errors import ModelLoadError

    odd = tmp_path / "odd"
    shutil.copytree(tiny_model_dir, odd)
    raw = json.loads((odd / "config.json").read_text())
    raw["text_preprocessing"] = preprocessing
    (odd / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ModelLoadError, match="text_preprocessing .* is unknown to this release") as caught:
        ModelConfig.load(odd)
    assert "\n" not in str(caught.value)


def test_every_emoji_the_library_knows_is_named_even_glued_between_words():
    """The skip for texts without an emoji's character must never skip one: all of them, not a chosen few."""
    left = [e for e in emoji.EMOJI_DATA if emoji.emoji_count(name_symbols(f"$TSLA{e}moon…")) > 0]
    assert not left, left[:10]
    assert len(emoji.EMOJI_DATA) > 3000
