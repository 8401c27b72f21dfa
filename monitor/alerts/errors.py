"""Errors of the alerts and webhooks package; each message says what to do next."""

from monitor.errors import MonitorError


class AlertsError(MonitorError):
    """Root of the alerts package's errors."""


class UnsafeWebhookURL(AlertsError):
    """A webhook URL is malformed or points at an address the SSRF guard refuses."""


class EndpointNotFound(AlertsError):
    """No webhook endpoint has the given id."""
