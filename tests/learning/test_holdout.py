"""The held-out slice is stable, seeded, the right size, and blind to the label and to links/spacing/case."""

from monitor.learning.holdout import is_held_out
from monitor.learning.runs import merge_labels


def test_held_out_slice_is_stable_sized_and_seeded():
    texts = [f"headline number {i}" for i in range(4000)]
    held = [t for t in texts if is_held_out(t, fraction=0.2, seed=0)]
    assert 0.17 < len(held) / len(texts) < 0.23
    assert held == [t for t in texts if is_held_out(t, fraction=0.2, seed=0)]
    other_seed = {t for t in texts if is_held_out(t, fraction=0.2, seed=1)}
    assert len(other_seed & set(held)) < len(held) * 0.4  # a new seed is a new slice
    assert not any(is_held_out(t, fraction=0.0) for t in texts)


def test_membership_ignores_spacing_and_case():
    texts = [f"Fed   hikes rates {i}" for i in range(200)]
    assert [is_held_out(t, fraction=0.3) for t in texts] == [
        is_held_out(" ".join(t.lower().split()), fraction=0.3) for t in texts
    ]


def test_membership_ignores_links_so_a_retweet_never_sits_on_both_sides():
    texts = [f"Fed hikes rates {i} https://t.co/a{i}" for i in range(200)]
    assert [is_held_out(t, fraction=0.3) for t in texts] == [
        is_held_out(f"Fed hikes rates {i} www.example.com/{i}", fraction=0.3) for i in range(200)
    ]


def test_newer_label_per_task_wins_and_texts_merge():
    merged = merge_labels([
        ("Oil slides", "Energy | Oil", None),
        ("Gold up", None, "positive"),
        ("oil  SLIDES", None, "negative"),
        ("Oil slides", "Markets", None),  # a correction of the topic
    ])
    assert merged == [("Oil slides", "Markets", "negative"), ("Gold up", None, "positive")]
