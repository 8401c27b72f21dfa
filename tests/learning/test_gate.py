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


# --- adapting to the stream: a significant held-out gain widens the tolerance --------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from monitor.learning.gate import HeldOutGain, held_out_gain, without_outcomes  # noqa: E402


def paired(topic, sentiment, outcomes):
    out = scores(topic, sentiment, labels=outcomes.count("1") / len(outcomes), n_labels=len(outcomes))
    out["labels"]["outcomes"] = outcomes
    return out


def test_significant_held_out_gain_allows_the_wider_tolerance():
    # 30 texts only the candidate gets right, 10 only the champion: p = P(X >= 30 | 40, 1/2) ~ 0.001
    champion = paired(0.80, 0.84, "1" * 50 + "0" * 30 + "1" * 10 + "0" * 10)
    candidate = paired(0.80, 0.83, "1" * 50 + "1" * 30 + "0" * 10 + "0" * 10)
    assert not decide_promotion(candidate, champion, tolerance=0.005).promote  # the old rule alone
    decision = decide_promotion(candidate, champion, tolerance=0.005, adapt_tolerance=0.02)
    assert decision.promote, decision.reason
    assert "widened from 0.005" in decision.reason and "30 texts right only by the candidate, 10" in decision.reason


def test_gain_that_could_be_chance_keeps_the_plain_tolerance():
    champion = paired(0.80, 0.84, "1" * 50 + "0" * 12 + "1" * 10)
    candidate = paired(0.80, 0.83, "1" * 50 + "1" * 12 + "0" * 10)  # 12 vs 10: p ~ 0.42
    decision = decide_promotion(candidate, champion, tolerance=0.005, adapt_tolerance=0.02)
    assert not decision.promote and "tolerance 0.005)" in decision.reason


def test_drop_beyond_the_wider_tolerance_is_rejected_whatever_the_gain():
    champion = paired(0.80, 0.84, "0" * 60)
    candidate = paired(0.80, 0.80, "1" * 60)
    decision = decide_promotion(candidate, champion, tolerance=0.005, adapt_tolerance=0.02)
    assert not decision.promote and "sentiment macro_f1 0.8000 vs 0.8400" in decision.reason


def test_outcomes_of_different_sets_are_not_compared():
    champion = paired(0.80, 0.84, "0" * 60)
    candidate = paired(0.80, 0.83, "1" * 59)
    assert held_out_gain(candidate, champion) is None
    assert not decide_promotion(candidate, champion, tolerance=0.005, adapt_tolerance=0.02).promote


def test_exact_mcnemar_p_value():
    assert HeldOutGain(5, 0).p_value == 1 / 32
    assert HeldOutGain(0, 0).p_value == 1.0
    assert abs(HeldOutGain(1, 1).p_value - 0.75) < 1e-12


def test_stored_scores_leave_the_outcomes_out():
    stored = without_outcomes(paired(0.8, 0.8, "0101"))
    assert "outcomes" not in stored["labels"] and stored["labels"]["n"] == 4


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=80),
       st.floats(0.7, 0.9), st.floats(0.0, 0.05))
def test_gate_never_promotes_a_held_out_drop_nor_a_drop_past_the_wider_tolerance(pairs, base, drop):
    new = "".join("1" if a else "0" for a, _ in pairs)
    old = "".join("1" if b else "0" for _, b in pairs)
    decision = decide_promotion(paired(base, base - drop, new), paired(base, base, old),
                                tolerance=0.005, adapt_tolerance=0.02)
    if decision.promote:
        assert new.count("1") >= old.count("1")
        assert drop <= 0.02 + 1e-12
        if drop > 0.005 + 1e-12:
            gain = held_out_gain(paired(base, base, new), paired(base, base, old))
            assert gain.p_value <= 0.05


def test_widening_is_a_budget_across_a_lineage_not_a_per_step_allowance():
    champion = paired(0.80, 0.84, "0" * 60)
    candidate = paired(0.80, 0.83, "1" * 60)  # a significant gain, 1 point down on sentiment
    fresh = decide_promotion(candidate, champion, tolerance=0.005, adapt_tolerance=0.02,
                             champion_drift={"topic": 0.0, "sentiment": 0.005})
    assert fresh.promote and abs(fresh.drift["sentiment"] - 0.015) < 1e-9 and fresh.drift["topic"] == 0.0
    # The champion already stands 1.5 points below its lineage: one more point would make 2.5.
    spent = decide_promotion(candidate, champion, tolerance=0.005, adapt_tolerance=0.02,
                             champion_drift={"sentiment": 0.015})
    assert not spent.promote and "0.0250 below the lineage in all" in spent.reason
    # A small drop within the plain tolerance stays allowed, and a gain pays the budget back.
    small = decide_promotion(paired(0.80, 0.837, "1" * 60), champion, tolerance=0.005, adapt_tolerance=0.02,
                             champion_drift={"sentiment": 0.015})
    assert small.promote
    better = decide_promotion(paired(0.80, 0.85, "1" * 60), champion, tolerance=0.005, adapt_tolerance=0.02,
                              champion_drift={"sentiment": 0.015})
    assert better.promote and abs(better.drift["sentiment"] - 0.005) < 1e-9


def test_first_champion_starts_its_lineage_at_zero_drift():
    assert decide_promotion(scores(0.2, 0.3), None, tolerance=0.005).drift == {"topic": 0.0, "sentiment": 0.0}


@given(st.lists(st.tuples(st.floats(-0.03, 0.03), st.booleans()), min_size=1, max_size=12))
def test_property_a_chain_of_widened_promotions_never_erodes_past_the_budget(steps):
    """Promote step after step, each a significant held-out gain: however the drops fall, the fixed set never
    ends more than the adaptation tolerance below the lineage's start, except by plain-tolerance steps."""
    score, drift, plain_slack = 0.80, {"topic": 0.0, "sentiment": 0.0}, 0.0
    for change, gain in steps:
        new = score + change
        decision = decide_promotion(paired(0.8, new, "1" * 40 if gain else "0" * 40), paired(0.8, score, "0" * 40),
                                    tolerance=0.005, adapt_tolerance=0.02, champion_drift=drift)
        if decision.promote:
            if score - new <= 0.005:
                plain_slack += max(0.0, score - new)
            score, drift = new, decision.drift
        assert 0.80 - score <= 0.02 + plain_slack + 1e-9
