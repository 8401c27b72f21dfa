"""The package's root exception; every error a user can meet derives from it."""


class MonitorError(Exception):
    """Something the user can fix; the message says what to do next."""


class ConfigError(MonitorError):
    """A setting is missing or wrong; the message names the ``MONITOR_`` variable."""


class DatabaseUnavailable(MonitorError):
    """Postgres cannot be reached (the worker treats it as backpressure)."""


class BrokerUnavailable(MonitorError):
    """The Kafka brokers cannot be reached."""
