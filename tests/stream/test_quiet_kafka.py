"""Closing one client quiets kafka-python's chatter about that client's sockets, and nobody else's."""

import logging
import threading

from monitor.stream.clients import quiet_kafka


def _log_from(thread_name: str, logger: str, level: int, message: str) -> None:
    thread = threading.Thread(target=lambda: logging.getLogger(logger).log(level, message), name=thread_name)
    thread.start()
    thread.join()


def test_quiet_drops_only_the_closing_clients_threads(caplog):
    caplog.set_level(logging.DEBUG, logger="kafka")
    with quiet_kafka("monitor-worker"):
        logging.getLogger("kafka.net.connection").warning("closing thread: socket closed under a read")
        _log_from("kafka-io-monitor-worker", "kafka.net.selector", logging.ERROR, "own I/O thread: read failed")
        _log_from("monitor-producer-network-thread", "kafka.producer.sender", logging.WARNING, "other client: retry")
        _log_from("kafka-io-monitor-labels", "kafka.net.connection", logging.WARNING, "other consumer: broker gone")
        _log_from("kafka-io-monitor-worker", "kafka.net.connection", logging.CRITICAL, "own I/O thread: critical")
        logging.getLogger("monitor.stream").warning("not kafka-python's")
    logging.getLogger("kafka.net.connection").warning("after the close")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["other client: retry", "other consumer: broker gone", "own I/O thread: critical",
                        "not kafka-python's", "after the close"]


def test_a_logger_kafka_python_makes_after_the_first_quiet_is_quieted_by_the_next(caplog):
    caplog.set_level(logging.DEBUG, logger="kafka")
    with quiet_kafka("c"):
        pass
    late = logging.getLogger("kafka.imported_later_xyz")  # a module kafka-python imports lazily
    with quiet_kafka("c"):
        late.warning("dropped")
    late.warning("kept")
    assert [r.getMessage() for r in caplog.records] == ["kept"]


def test_nested_and_concurrent_quiets_end_cleanly(caplog):
    caplog.set_level(logging.DEBUG, logger="kafka")
    inside = threading.Event()
    leave = threading.Event()

    def other_close() -> None:
        with quiet_kafka("b"):
            inside.set()
            leave.wait(5)

    closer = threading.Thread(target=other_close)
    closer.start()
    inside.wait(5)
    with quiet_kafka("a"), quiet_kafka("a"):
        pass
    logging.getLogger("kafka.net.connection").warning("a is closed, b still closing")
    _log_from("kafka-io-b", "kafka.net.connection", logging.WARNING, "b's I/O thread")
    leave.set()
    closer.join(5)
    _log_from("kafka-io-b", "kafka.net.connection", logging.WARNING, "b's I/O thread after b closed")
    assert [r.getMessage() for r in caplog.records] == ["a is closed, b still closing",
                                                       "b's I/O thread after b closed"]
