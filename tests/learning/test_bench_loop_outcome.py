"""bench/loop.py's alert outcome replays the model's readings, not only its labels (the detector's default
signal judges p_negative; a replay without them would score the label signal under the reading's name)."""

from types import SimpleNamespace


def test_the_alert_outcome_passes_each_posts_probabilities_to_the_replay(bench_script, monkeypatch, tmp_path):
    loop = bench_script("loop")
    # Under pytest "alerts" can name the tests/alerts package (collected first), so hand the loop the bench's own.
    bench = bench_script("alerts")
    monkeypatch.setattr(loop, "alert_bench", bench)

    def read_distinct(model_dir, texts):
        assert model_dir == tmp_path
        return {t: SimpleNamespace(sentiment="negative" if "bear" in t.lower() else "positive", topic="Analyst Update",
                                   p_negative=0.1 + 0.8 * (len(t) % 7) / 7, p_neutral=0.05, p_positive=0.05)
                for t in set(texts)}

    replays = []

    def run(stream, labels, source, admin_url, settings, topics=None, probabilities=None):
        replays.append((stream, labels, topics, probabilities))
        return {"caught": 1, "covered": 2, "burst_days": len(stream.burst_days), "false_alerts": 0,
                "false_alerts_per_30_days": 0.0, "negative_share": 0.5}

    monkeypatch.setattr(bench, "read_distinct", read_distinct)
    monkeypatch.setattr(bench, "run", run)
    out = loop.alert_outcome(tmp_path, "postgresql://unused@127.0.0.1/postgres", "stock-tweets-taborda")

    assert set(out) == {"retail", "two-class"}
    assert [stream.name for stream, *_ in replays] == ["retail", "two-class"]
    for stream, labels, topics, probabilities in replays:
        assert len(labels) == len(topics) == len(probabilities) == len(stream.posts)
        expected = read_distinct(tmp_path, [p.text for p in stream.posts])
        assert [p[0] for p in probabilities] == [expected[p.text].p_negative for p in stream.posts]
        assert set(topics) == {"Analyst Update"}
