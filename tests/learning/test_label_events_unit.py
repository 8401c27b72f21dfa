"""When Postgres refuses a batch of label events, nothing is committed and the batch is read again."""

from collections import namedtuple

import pytest

from monitor.errors import DatabaseUnavailable
from monitor.learning.events import LabelEventConsumer, parse_label_event
from monitor.learning.records import BadLabel
from monitor.settings import DatabaseSettings, Settings
from monitor.store import make_engine, make_session_factory

Record = namedtuple("Record", "topic partition offset key value")
TP = namedtuple("TP", "topic partition")


class FakeConsumer:
    def __init__(self, batches):
        self.batches = batches
        self.seeks, self.commits = [], 0

    def poll(self, timeout_ms, max_records):
        return self.batches.pop(0) if self.batches else {}

    def seek(self, tp, offset):
        self.seeks.append((tp, offset))

    def commit(self):
        self.commits += 1


class FakeProducer:
    def __init__(self):
        self.sent = []

    def send(self, topic, value, key, headers):
        self.sent.append((topic, value, dict(headers)))
        return self

    def get(self, timeout):
        return None

    def flush(self):
        pass


def test_database_outage_rewinds_and_commits_nothing():
    settings = Settings(kafka={"label_topic": "labels"})
    dead_db = make_session_factory(make_engine(DatabaseSettings(url="postgresql://postgres@127.0.0.1:1/none")))
    tp = TP("labels", 0)
    batch = {tp: [Record("labels", 0, 7, None, b'{"text": "a", "topic": "IPO"}'),
                  Record("labels", 0, 8, None, b"oops")]}
    consumer, producer = FakeConsumer([batch]), FakeProducer()
    events = LabelEventConsumer(settings, dead_db, consumer=consumer, producer=producer)
    with pytest.raises(DatabaseUnavailable, match="cannot store labels"):
        events.poll_once()
    assert consumer.commits == 0
    assert consumer.seeks == [(tp, 7)]
    assert producer.sent[0][0] == "labels.dlq" and producer.sent[0][2]["source"] == b"labels[0]@8"


def test_oversized_and_tombstone_events_are_bad():
    with pytest.raises(BadLabel, match="over the limit of 10"):
        parse_label_event(b'{"text": "a long text here"}', max_bytes=10, max_text_chars=100)
    with pytest.raises(BadLabel, match="tombstone"):
        parse_label_event(None, max_bytes=10, max_text_chars=100)
