"""Negative-share spike alerts and their signed webhook delivery through an outbox."""

from monitor.alerts.addresses import check_webhook_url
from monitor.alerts.detector import (
    BackfillOverlap,
    CheckResult,
    NegativeShareDetector,
    ReplayResult,
    backfill_alerts,
    check_alerts,
    is_muted,
    replay_alerts,
)
from monitor.alerts.endpoints import (
    add_endpoint,
    disable_endpoint,
    enqueue_test_event,
    get_endpoint,
    list_endpoints,
)
from monitor.alerts.errors import AlertsError, EndpointNotFound, UnsafeWebhookURL
from monitor.alerts.outbox import enqueue_alert_event, enqueue_group_event
from monitor.alerts.payloads import ALERT_OPENED, ALERT_RESOLVED, ALERT_UPDATED, TEST_EVENT, alert_link
from monitor.alerts.queries import count_open_alerts
from monitor.alerts.relay import RelayReport, WebhookRelay
from monitor.alerts.statistics import ShareComparison, SpikeRules, benjamini_hochberg, compare_shares, fisher_upper_p
from monitor.alerts.status import Progress, ScopeStatus, describe_progress, describe_scopes

__all__ = [
    "ALERT_OPENED",
    "ALERT_RESOLVED",
    "ALERT_UPDATED",
    "TEST_EVENT",
    "AlertsError",
    "BackfillOverlap",
    "CheckResult",
    "EndpointNotFound",
    "NegativeShareDetector",
    "RelayReport",
    "ReplayResult",
    "Progress",
    "ScopeStatus",
    "ShareComparison",
    "SpikeRules",
    "UnsafeWebhookURL",
    "WebhookRelay",
    "add_endpoint",
    "alert_link",
    "backfill_alerts",
    "benjamini_hochberg",
    "check_alerts",
    "check_webhook_url",
    "compare_shares",
    "count_open_alerts",
    "describe_progress",
    "describe_scopes",
    "disable_endpoint",
    "enqueue_alert_event",
    "enqueue_group_event",
    "enqueue_test_event",
    "fisher_upper_p",
    "get_endpoint",
    "is_muted",
    "list_endpoints",
    "replay_alerts",
]
