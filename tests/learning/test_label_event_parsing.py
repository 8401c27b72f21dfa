"""Label events are decoded like news messages (same checks, same reasons) before they become labels."""

import pytest

from monitor.learning.events import INVALID_LABEL, parse_label_event
from monitor.stream.errors import InvalidMessage
from monitor.stream.message import MessageLimits, Reason

LIMITS = MessageLimits(max_message_bytes=60, max_text_chars=20)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, Reason.NOT_JSON),
        (b'{"text": "a long text here", "topic": "IPO", "pad": "xxxxxxxxxxxxxxxxxxxxxxxx"}', Reason.MESSAGE_TOO_LARGE),
        (b"\xff\xfe", Reason.INVALID_UTF8),
        (b'["text"]', Reason.NOT_OBJECT),
        (b'{"text": "a\\u0000", "topic": "IPO"}', Reason.NUL_CHARACTER),
        (b'{"text": "this text is over twenty", "topic": "IPO"}', INVALID_LABEL),
        (b'{"text": "ok", "topic": "Weather"}', INVALID_LABEL),
        (b'{"text": "ok"}', INVALID_LABEL),
    ],
)
def test_bad_events_are_invalid_with_a_reason(value, reason) -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_label_event(value, LIMITS)
    assert caught.value.reason == reason


def test_a_good_event_is_a_normalised_label() -> None:
    label = parse_label_event(b'{"text": " Oil slides ", "sentiment": "Bearish"}', LIMITS)
    assert (label.text, label.sentiment, label.topic, label.origin) == ("Oil slides", "negative", None, "kafka")
