"""Reading files to produce (CSV, JSONL), one-line errors for bad files, and pacing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import MonitorError
from monitor.stream.producer import Pacer
from monitor.stream.sources import OutgoingMessage, read_messages


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def test_csv_maps_created_at_and_row_id_and_keeps_other_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.csv",
        'text,label,created_at,row_id\n"Stocks rise,\nagain",positive,'
        "2020-04-09T00:00:03Z,14135\nFlat day,,,\n",
    )
    first, second = read_messages(path)
    assert json.loads(first.value) == {
        "text": "Stocks rise,\nagain",
        "label": "positive",
        "id": "14135",
        "published_at": "2020-04-09T00:00:03Z",
    }
    assert first.key == b"14135"
    assert first.published_at == datetime(2020, 4, 9, 0, 0, 3, tzinfo=UTC)
    assert json.loads(second.value) == {"text": "Flat day"} and second.key is None


def test_csv_tickers_column_becomes_a_list(tmp_path: Path) -> None:
    [msg] = read_messages(write(tmp_path, "t.csv", 'text,tickers\nhello,"AAPL, MSFT"\n'))
    assert json.loads(msg.value)["tickers"] == ["AAPL", "MSFT"]


def test_jsonl_lines_are_sent_as_written(tmp_path: Path) -> None:
    line = '{"id": 7, "text": "Oil up", "published_at": "2024-01-01T00:00:00Z", "x": [1]}'
    msgs = list(read_messages(write(tmp_path, "m.jsonl", line + "\n\n" + '{"text": "b"}\n')))
    assert msgs[0] == OutgoingMessage(b"7", line.encode(), datetime(2024, 1, 1, tzinfo=UTC))
    assert msgs[1].key is None and len(msgs) == 2


def test_format_is_sniffed_when_the_suffix_says_nothing(tmp_path: Path) -> None:
    assert json.loads(next(read_messages(write(tmp_path, "m.txt", '{"text": "a"}\n'))).value) == {"text": "a"}
    assert json.loads(next(read_messages(write(tmp_path, "c.txt", "text\nb\n"))).value) == {"text": "b"}


def test_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "text\n" + "".join(f"t{i}\n" for i in range(10)))
    assert len(list(read_messages(path, limit=3))) == 3


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "title,body\nx,y\n", "no `text` column"),
        ("a.jsonl", '{"text": "ok"}\nnot json\n', "line 2: not JSON"),
        ("a.jsonl", '["a list"]\n', "line 1: expected one JSON object"),
        ("a.csv", b"text\n\xff\xfe\n", "not UTF-8"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, name: str, content: str, message: str) -> None:
    with pytest.raises(MonitorError, match=message) as info:
        list(read_messages(write(tmp_path, name, content)))
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MonitorError, match="no such file"):
        list(read_messages(str(tmp_path / "nope.csv")))


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def at(second: int | None) -> OutgoingMessage:
    stamp = None if second is None else datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=second)
    return OutgoingMessage(None, b"{}", stamp)


def test_rate_spaces_messages_evenly() -> None:
    t = FakeTime()
    pacer = Pacer(rate=4, clock=t.clock, sleep=t.sleep)
    for _ in range(4):
        pacer.wait(at(None))
    assert t.now == pytest.approx(0.75) and t.sleeps == [0.25, 0.25, 0.25]


def test_replay_keeps_timestamp_spacing_divided_by_the_speedup() -> None:
    t = FakeTime()
    pacer = Pacer(speedup=10, clock=t.clock, sleep=t.sleep)
    for second in (0, 10, None, 5, 30):  # no time and going backwards: sent right away
        pacer.wait(at(second))
    assert t.sleeps == [1.0, 2.0]
    assert t.now == pytest.approx(3.0)


def test_as_fast_as_possible_never_sleeps() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    for second in (0, 50):
        pacer.wait(at(second))
    assert t.sleeps == []


def test_pacer_rejects_nonpositive_values() -> None:
    with pytest.raises(MonitorError):
        Pacer(rate=0)


def test_replay_shortens_a_silent_stretch_to_the_longest_pause() -> None:
    t = FakeTime()
    pacer = Pacer(speedup=10, max_pause=3, clock=t.clock, sleep=t.sleep)
    for second in (0, 10, 200, 210, 150, 230, 235):  # 19 s of silence at 10x; one message back in time
        pacer.wait(at(second))
    # 1 s, then 3 s instead of 19, 1 s, none for the late one, 2 s, 0.5 s: the spacing after the gap is kept
    assert t.sleeps == pytest.approx([1.0, 3.0, 1.0, 2.0, 0.5])
    assert t.now == pytest.approx(7.5)


def test_a_zero_pause_sends_a_replay_as_fast_as_possible() -> None:
    t = FakeTime()
    pacer = Pacer(speedup=10, max_pause=0, clock=t.clock, sleep=t.sleep)
    for second in (0, 10, 200):
        pacer.wait(at(second))
    assert t.sleeps == []


def test_max_pause_rejects_a_negative_value() -> None:
    with pytest.raises(MonitorError):
        Pacer(speedup=10, max_pause=-1)


@given(seconds=st.lists(st.one_of(st.none(), st.integers(0, 10**7)), max_size=30),
       max_pause=st.floats(0, 5), speedup=st.floats(0.5, 1000))
def test_no_replay_wait_is_longer_than_max_pause_or_than_without_it(seconds, max_pause, speedup) -> None:
    """Any order of times, gaps and messages without a time: every wait is at most max_pause, the replay ends no
    later than without the cap, and where no gap was over the cap it paces exactly as without it."""
    capped, plain = FakeTime(), FakeTime()
    capped_pacer = Pacer(speedup=speedup, max_pause=max_pause, clock=capped.clock, sleep=capped.sleep)
    plain_pacer = Pacer(speedup=speedup, clock=plain.clock, sleep=plain.sleep)
    for second in seconds:
        capped_pacer.wait(at(second))
        plain_pacer.wait(at(second))
    assert all(s <= max_pause + 1e-6 for s in capped.sleeps)
    assert capped.now <= plain.now + 1e-6
    if all(s <= max_pause for s in plain.sleeps):
        assert capped.sleeps == pytest.approx(plain.sleeps)
