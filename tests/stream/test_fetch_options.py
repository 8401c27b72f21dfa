"""A consumer's fetch never outwaits the batch policy: the broker may hold an empty fetch only until the flush
deadline (kafka-python's default of 500 ms added up to half a second to produce->stored latency)."""

from monitor.stream.clients import fetch_options


def test_fetch_wait_follows_the_flush_deadline():
    assert fetch_options(128, 200)["fetch_max_wait_ms"] == 200
    assert fetch_options(128, 5000)["fetch_max_wait_ms"] == 500  # never longer than the client's default
    assert fetch_options(128, 0)["fetch_max_wait_ms"] == 1
    assert "fetch_max_wait_ms" not in fetch_options(128)


def test_a_poll_can_hold_a_whole_flush():
    options = fetch_options(1024, 200)
    assert options["max_poll_records"] == 1024
    assert options["max_partition_fetch_bytes"] >= 1024 * 1024
