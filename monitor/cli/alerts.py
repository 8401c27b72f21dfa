"""``monitor alerts``: run the spike detector once, list alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from monitor.cli.common import connected_engine, load_settings
from monitor.errors import MonitorError
from monitor.store import make_session_factory
from monitor.store.orm import Alert

app = typer.Typer(help="Negative-sentiment spike alerts.", no_args_is_help=True)


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MonitorError(f"--now {value!r} is not an ISO 8601 time (e.g. 2020-05-01T12:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("check")
def check(
    now: str = typer.Option(None, "--now", help="Evaluate at this time (default: latest stored event time)."),
) -> None:
    """Run the detector once: open, update or resolve alerts and queue their webhooks."""
    from monitor.alerts import check_alerts

    settings = load_settings()
    engine = connected_engine(settings)
    try:
        result = check_alerts(settings.alerts, make_session_factory(engine), now=parse_time(now))
    finally:
        engine.dispose()
    if result.now is None:
        typer.echo("no articles stored yet; nothing to check")
        return
    typer.echo(f"checked at {result.now.isoformat()}")
    for label, alerts in (("opened", result.opened), ("resolved", result.resolved), ("open", result.updated)):
        for alert in alerts:
            typer.echo(f"  {label:<8} #{alert.id} {alert.scope}: {_figures(alert)}")
    for scope in result.muted:
        typer.echo(f"  muted    {scope}: spike not raised")
    for scope in result.cooling_down:
        typer.echo(f"  cooldown {scope}: spike not raised")


@app.command("list")
def list_(
    status: str = typer.Option("open", "--status", help="open, resolved or all."),
    limit: int = typer.Option(20, "--limit", min=1, help="Most alerts shown, newest first."),
) -> None:
    """Show alerts, newest first."""
    from monitor.alerts import list_alerts
    from monitor.store import transaction

    if status not in ("open", "resolved", "all"):
        raise MonitorError(f"--status must be open, resolved or all, not {status!r}")
    settings = load_settings()
    engine = connected_engine(settings)
    try:
        with transaction(make_session_factory(engine)) as session:
            alerts = list_alerts(session=session, status=None if status == "all" else status, limit=limit)
            lines = [_line(a) for a in alerts]
    finally:
        engine.dispose()
    typer.echo("\n".join(lines) if lines else f"no {status} alerts")


def _figures(alert: Alert) -> str:
    return (
        f"negative {alert.observed_share:.0%} vs {alert.baseline_share:.0%} (n={alert.window_count}, "
        f"z={alert.statistic:.1f}, p={alert.p_value:.2g}, peak {alert.peak_share:.0%})"
    )


def _line(alert: Alert) -> str:
    ack = f" ack by {alert.acknowledged_by}" if alert.acknowledged_at else ""
    when = alert.opened_at.isoformat(timespec="minutes")
    return f"#{alert.id} {alert.status:<8} {when} {alert.scope}: {_figures(alert)}{ack}"
