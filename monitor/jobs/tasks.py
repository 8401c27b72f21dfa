"""The scheduled jobs themselves: each takes the :class:`JobContext` and returns a small report."""

from __future__ import annotations

from typing import Any

from monitor.jobs.context import JobContext


def retrain(ctx: JobContext) -> Any:
    from monitor.learning.retrain import run_retrain

    trigger = "manual" if ctx.force else "schedule"
    return run_retrain(ctx.settings.learning, ctx.settings.model, ctx.session_factory, force=ctx.force,
                       trigger=trigger, stop=ctx.stop)


def alert_check(ctx: JobContext) -> Any:
    from monitor.alerts import check_alerts

    return check_alerts(ctx.settings.alerts, ctx.session_factory)


def webhook_relay(ctx: JobContext) -> Any:
    return ctx.webhook_relay.run_once()


def housekeeping(ctx: JobContext) -> Any:
    from monitor.jobs.housekeeping import run_housekeeping

    return run_housekeeping(ctx)
