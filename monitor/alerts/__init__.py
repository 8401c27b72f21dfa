"""Negative-share spike alerts and their signed webhook delivery through an outbox."""

from monitor.alerts.addresses import check_webhook_url
from monitor.alerts.detector import CheckResult, NegativeShareDetector, check_alerts, is_muted
from monitor.alerts.endpoints import (
    add_endpoint,
    disable_endpoint,
    enqueue_test_event,
    get_endpoint,
    list_endpoints,
)
from monitor.alerts.errors import AlertsError, EndpointNotFound, UnsafeWebhookURL
from monitor.alerts.outbox import enqueue_alert_event
from monitor.alerts.payloads import ALERT_OPENED, ALERT_RESOLVED, TEST_EVENT, alert_link
from monitor.alerts.queries import count_open_alerts, list_alerts
from monitor.alerts.relay import RelayReport, WebhookRelay
from monitor.alerts.statistics import ShareComparison, SpikeRules, compare_shares

__all__ = [
    "ALERT_OPENED",
    "ALERT_RESOLVED",
    "TEST_EVENT",
    "AlertsError",
    "CheckResult",
    "EndpointNotFound",
    "NegativeShareDetector",
    "RelayReport",
    "ShareComparison",
    "SpikeRules",
    "UnsafeWebhookURL",
    "WebhookRelay",
    "add_endpoint",
    "alert_link",
    "check_alerts",
    "check_webhook_url",
    "compare_shares",
    "count_open_alerts",
    "disable_endpoint",
    "enqueue_alert_event",
    "enqueue_test_event",
    "get_endpoint",
    "is_muted",
    "list_alerts",
    "list_endpoints",
]
