"""The promotion gate: worse on either task beyond the tolerance, or worse on held-out labels, rejects."""

from monitor.learning.gate import decide_promotion


def scores(topic, sentiment, labels=None, n_labels=10):
    out = {"topic": {"accuracy": topic, "macro_f1": topic, "n": 100},
           "sentiment": {"accuracy": sentiment, "macro_f1": sentiment, "n": 100}}
    if labels is not None:
        out["labels"] = {"accuracy": labels, "n": n_labels}
    return out


def test_first_candidate_is_promoted():
    decision = decide_promotion(scores(0.2, 0.3), None, tolerance=0.005)
    assert decision.promote and "first champion" in decision.reason


def test_small_drop_within_tolerance_is_promoted():
    decision = decide_promotion(scores(0.796, 0.85, 0.7), scores(0.80, 0.84, 0.7), tolerance=0.005)
    assert decision.promote, decision.reason
    assert "topic macro_f1 0.7960 vs 0.8000" in decision.reason


def test_drop_beyond_tolerance_on_one_task_is_rejected():
    decision = decide_promotion(scores(0.90, 0.83), scores(0.80, 0.84), tolerance=0.005)
    assert not decision.promote
    assert "sentiment macro_f1 0.8300 vs 0.8400" in decision.reason.split(";")[0]


def test_any_drop_on_held_out_labels_is_rejected_even_when_tasks_improve():
    decision = decide_promotion(scores(0.9, 0.9, labels=0.69), scores(0.8, 0.8, labels=0.70), tolerance=0.05)
    assert not decision.promote
    assert "held-out labels accuracy 0.6900 vs 0.7000" in decision.reason


def test_no_held_out_labels_is_said_not_held_against_the_candidate():
    decision = decide_promotion(scores(0.8, 0.8), scores(0.8, 0.8), tolerance=0.0)
    assert decision.promote
    assert "no held-out labels" in decision.reason


def test_metric_is_selectable():
    cand, champ = scores(0.8, 0.8), scores(0.8, 0.8)
    cand["topic"]["accuracy"] = 0.5  # macro-F1 unchanged, accuracy collapsed
    assert decide_promotion(cand, champ, tolerance=0.01, metric="macro_f1").promote
    assert not decide_promotion(cand, champ, tolerance=0.01, metric="accuracy").promote


def test_missing_task_score_rejects():
    cand = scores(0.8, 0.8)
    del cand["sentiment"]
    decision = decide_promotion(cand, scores(0.8, 0.8), tolerance=0.01)
    assert not decision.promote and "sentiment macro_f1 missing (candidate)" in decision.reason


def test_task_scores_match_monitor_evaluate_and_count_correct():
    from monitor.learning.evaluation import task_scores

    truth = ["positive", "negative", "neutral", "neutral"]
    predicted = ["positive", "neutral", "neutral", "neutral"]
    scores = task_scores("sentiment", truth, predicted)
    assert scores["accuracy"] == 0.75 and scores["correct"] == 3 and scores["n"] == 4
    assert abs(scores["macro_f1"] - (1.0 + 0.0 + 0.8) / 3) < 1e-9
