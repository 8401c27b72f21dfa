"""Re-reading stored articles with a new model: every article of the stretch gets the version's prediction
once, nothing outside it changes, reruns and a worker writing meanwhile are harmless, and the newest
prediction (what the detector and the dashboard count) is the new model's. Real Postgres."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, text

from monitor.learning import register_version
from monitor.learning.rescore import rescore, rescore_after_promotion
from monitor.model.prediction import TextPrediction
from monitor.model.testing import make_tiny_model
from monitor.store import transaction
from monitor.store.orm import Article, Prediction
from monitor.store.reads import NEWEST_PREDICTION_FIRST_SQL

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 1, tzinfo=UTC)


class Reader:
    """An honest fake predictor: negative for texts that say "down", counting what it was asked."""

    def __init__(self, during=None):
        self.texts, self.during = [], during

    def predict(self, texts):
        self.texts.extend(texts)
        if self.during is not None:
            self.during(texts)
        return [TextPrediction("Markets", 0.9, "negative" if "down" in t else "positive", 0.8,
                               0.8 if "down" in t else 0.1, 0.1, 0.1 if "down" in t else 0.8) for t in texts]


def store(factory, hours, version="old", predicted_by_new=()):
    """One article per entry at START + hours, read by ``version`` (and by "new" where listed)."""
    with transaction(factory) as s:
        s.execute(delete(Article))
        if not hours:
            return []
        ids = s.scalars(insert(Article).returning(Article.id, sort_by_parameter_order=True), [
            {"text": f"shares down {i}", "event_time": START + timedelta(hours=h), "kafka_topic": "t",
             "kafka_partition": 0, "kafka_offset": i} for i, h in enumerate(hours)]).all()
        rows = [{"article_id": a, "model_version": version, "topic": "Markets", "topic_confidence": 0.5,
                 "sentiment": "neutral", "sentiment_confidence": 0.5, "p_negative": 0.2, "p_neutral": 0.6,
                 "p_positive": 0.2} for a in ids]
        rows += [{**rows[i], "model_version": "new"} for i in predicted_by_new]
        if rows:
            s.execute(insert(Prediction), rows)
    return ids


def newest(factory):
    """Article id -> model version of its newest prediction, by the rule the detector uses."""
    sql = ("SELECT DISTINCT ON (p.article_id) p.article_id, p.model_version FROM predictions p "
           f"ORDER BY {NEWEST_PREDICTION_FIRST_SQL}")
    with transaction(factory) as s:
        return dict(s.execute(text(sql)).all())


def count(factory, version):
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(Prediction).where(Prediction.model_version == version))


def test_the_stretch_gets_the_new_reading_once_and_the_rest_stays(session_factory):
    ids = store(session_factory, range(0, 240, 6))  # 40 articles over 10 days
    since, until = START + timedelta(days=4), START + timedelta(days=8)
    result = rescore(Reader(), "new", session_factory, since=since, until=until, batch_size=7)
    inside = {a for a, h in zip(ids, range(0, 240, 6), strict=True) if since < START + timedelta(hours=h) <= until}
    assert result.articles == result.written == len(inside) == 16
    latest = newest(session_factory)
    assert {a for a, v in latest.items() if v == "new"} == inside
    assert all(latest[a] == "old" for a in set(ids) - inside)
    with transaction(session_factory) as s:
        negative = s.scalars(select(Prediction.sentiment).where(Prediction.model_version == "new")).all()
    assert set(negative) == {"negative"}  # the reader's answer is what is stored

    again = rescore(Reader(), "new", session_factory, since=since, until=until)
    assert (again.articles, again.written) == (0, 0)  # a rerun finds nothing left to read
    assert count(session_factory, "new") == 16


def test_a_worker_writing_the_same_version_meanwhile_is_not_an_error(session_factory):
    ids = store(session_factory, range(10))

    def worker_writes(texts):  # the worker stores this version's prediction for the first article meanwhile
        with transaction(session_factory) as s:
            s.execute(insert(Prediction).values(
                article_id=ids[0], model_version="new", topic="Markets", topic_confidence=1.0, sentiment="negative",
                sentiment_confidence=1.0, p_negative=1.0, p_neutral=0.0, p_positive=0.0))

    reader = Reader(during=lambda texts: worker_writes(texts) if count(session_factory, "new") == 0 else None)
    result = rescore(reader, "new", session_factory)
    assert (result.articles, result.written) == (10, 9)
    assert count(session_factory, "new") == 10


def test_a_stop_ends_it_between_batches_and_a_later_run_reads_the_rest(session_factory):
    import threading

    store(session_factory, range(20))
    stop = threading.Event()
    reader = Reader(during=lambda texts: stop.set())  # a shutdown arrives while the first batch is predicted
    first = rescore(reader, "new", session_factory, batch_size=6, stop=stop)
    assert (first.articles, first.written) == (6, 6)  # the batch in hand is stored, then it stops
    rest = rescore(Reader(), "new", session_factory, batch_size=6)
    assert (rest.articles, rest.written) == (14, 14) and count(session_factory, "new") == 20


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hours=st.lists(st.integers(0, 500), max_size=30),
       already=st.sets(st.integers(0, 29), max_size=10),
       bounds=st.tuples(st.one_of(st.none(), st.integers(-10, 510)), st.one_of(st.none(), st.integers(-10, 510))),
       batch=st.integers(1, 9))
def test_property_exactly_the_articles_in_the_stretch_end_up_read_by_the_version(
        session_factory, hours, already, bounds, batch):
    already = [i for i in already if i < len(hours)]
    ids = store(session_factory, hours, predicted_by_new=already)
    since, until = (None if b is None else START + timedelta(hours=b) for b in bounds)
    reader = Reader()
    result = rescore(reader, "new", session_factory, since=since, until=until, batch_size=batch)

    def inside(h):
        at = START + timedelta(hours=h)
        return (since is None or at > since) and (until is None or at <= until)

    expected = {a for i, (a, h) in enumerate(zip(ids, hours, strict=True)) if inside(h) and i not in already}
    assert result.articles == result.written == len(expected) == len(reader.texts)
    with transaction(session_factory) as s:
        by_new = set(s.scalars(select(Prediction.article_id).where(Prediction.model_version == "new")))
        per_article = s.execute(select(Prediction.article_id, func.count()).group_by(Prediction.article_id)
                                .having(func.count() > 2)).all()
    assert by_new == expected | {ids[i] for i in already}
    assert per_article == []  # never a second row for the same version
    assert rescore(Reader(), "new", session_factory, since=since, until=until).articles == 0


def test_promotion_re_reads_the_last_days_with_the_new_champion(retrain_settings, session_factory, tmp_path):
    model_dir = make_tiny_model(tmp_path / "champ", version="champ-2")
    with transaction(session_factory) as s:
        register_version("champ-2", str(model_dir), session=s, status="champion")
    ids = store(session_factory, range(0, 24 * 20, 12))  # 40 articles over 20 days, read by "old"
    learning = retrain_settings.learning.model_copy(update={"rescore_days": 3})
    result = rescore_after_promotion(learning, retrain_settings.model, session_factory, version="champ-2",
                                     path=model_dir)
    latest = newest(session_factory)
    assert result.articles == 6 == sum(v == "champ-2" for v in latest.values())  # the last 3 days: 6 articles
    assert [latest[a] for a in ids[-6:]] == ["champ-2"] * 6 and latest[ids[0]] == "old"
    off = learning.model_copy(update={"rescore_days": 0})
    assert rescore_after_promotion(off, retrain_settings.model, session_factory, version="x", path=model_dir) is None


def test_cli_rescore_reads_with_the_champion_and_refuses_bad_requests(run_cli, session_factory, tmp_path):
    for args, message in [
        (("models", "rescore"), "no champion to re-read with"),
        (("models", "rescore", "--since", "yesterday"), "--since 'yesterday' is not an ISO 8601 time"),
        (("models", "rescore", "--since", "2026-01-02", "--until", "2026-01-01"), "is not after --since"),
        (("models", "rescore", "--days", "2", "--since", "2026-01-01"), "give --days or --since, not both"),
        (("models", "rescore", "nope"), "no model version 'nope'"),
    ]:
        res = run_cli(*args)
        assert res.returncode == 2, (args, res.stderr)
        assert res.stderr.strip().count("\n") == 0 and message in res.stderr and "Traceback" not in res.stderr

    store(session_factory, range(0, 48, 2))  # 24 articles over 2 days
    model = make_tiny_model(tmp_path / "m", version="tiny-r")
    assert run_cli("models", "register", str(model), "--champion").returncode == 0
    res = run_cli("models", "rescore", "--days", "1")
    assert res.returncode == 0, res.stderr
    assert "re-read 12 article(s) with tiny-r" in res.stdout and "12 prediction(s) added" in res.stdout
    res = run_cli("models", "rescore", "--days", "1")
    assert "nothing to re-read" in res.stdout
    assert count(session_factory, "tiny-r") == 12
