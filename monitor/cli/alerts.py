"""``monitor alerts``: run the spike detector (once, or over history), say what it can decide, list alerts."""

from __future__ import annotations

from typing import Any

import typer

from monitor.cli.common import connected_database, load_settings, parse_time
from monitor.errors import MonitorError
from monitor.store.orm import ALL_TOPICS, Alert, scope_label

app = typer.Typer(help="Negative-sentiment spike alerts.", no_args_is_help=True)


@app.command("check")
def check(
    now: str = typer.Option(None, "--now", help="Evaluate once at this time (default: every step since the last run)."),
) -> None:
    """Run the detector: step through new event time, open, update or resolve alerts, queue their webhooks."""
    from monitor.alerts import check_alerts

    settings = load_settings()
    with connected_database(settings) as factory:
        result = check_alerts(settings.alerts, factory, now=parse_time(now))
    _report(result)


@app.command("backfill")
def backfill(
    since: str = typer.Option(None, "--since", help="Start of event time to evaluate (default: first stored event)."),
    until: str = typer.Option(None, "--until", help="End of event time to evaluate (default: latest stored event, "
                              "or where the slowest partition still being read has got to)."),
) -> None:
    """Evaluate stored history step by step in event time, as if the detector had run all along."""
    from monitor.alerts import backfill_alerts

    settings = load_settings()
    with connected_database(settings) as factory:
        result = backfill_alerts(settings.alerts, factory, since=parse_time(since, "--since"),
                                 until=parse_time(until, "--until"))
    _report(result)


@app.command("replay")
def replay(
    since: str = typer.Option(None, "--since", help="Start of event time to evaluate (default: first stored event)."),
    until: str = typer.Option(None, "--until", help="End of event time to evaluate (default: latest stored event)."),
) -> None:
    """What the detector would decide over stored history now, from a clean slate; writes and sends nothing.

    Each article counts with its newest prediction, so after a retrain and `monitor models rescore --since ...` this
    shows what the new model would have raised; with MONITOR_ALERTS__* set, what other settings would have."""
    from monitor.alerts import replay_alerts

    settings = load_settings()
    with connected_database(settings) as factory:
        replayed = replay_alerts(settings.alerts, factory, since=parse_time(since, "--since"),
                                 until=parse_time(until, "--until"))
    run = replayed.run
    if not _stored_anything(run, "nothing to replay"):
        return
    typer.echo(f"replayed {run.steps} step(s) from {run.evaluated_from.isoformat()} to {run.now.isoformat()} from a "
               f"clean slate: {len(replayed.alerts)} alert(s) in {replayed.groups} notification(s); nothing was "
               "written or sent, numbers are the replay's own")
    for alert in replayed.alerts:
        typer.echo(f"  {_line(alert)}")


@app.command("status")
def status() -> None:
    """Per scope: article rate, which window scales can decide now, or why there is too little data."""
    from monitor.alerts import describe_scopes
    from monitor.alerts.detector import rules_from_settings
    from monitor.alerts.status import describe_progress, scale_label
    from monitor.store import transaction

    settings = load_settings()
    with connected_database(settings) as factory, transaction(factory) as session:
        now, scopes = describe_scopes(settings.alerts, session=session)
        progress = describe_progress(settings.alerts, now, session=session) if now else None
    if now is None:
        typer.echo("no articles stored yet; nothing to decide on")
        return
    typer.echo(progress.line())
    rules = rules_from_settings(settings.alerts)
    levels = ", ".join(f"{scale_label(m)} at {settings.alerts.false_discovery_rate * rules.rate_weight(m):.3g}"
                       for m in _scales(settings))
    typer.echo(f"at {now.isoformat()} (latest event time); windows {levels} (false-discovery rate before the "
               f"correction across scopes, in which the all-topics scope's tests weigh "
               f"{settings.alerts.all_topics_weight:g}x); tickers named fewer than {settings.alerts.min_count} "
               "times lately are not listed")
    for s in scopes:
        counts = " ".join(f"{scale_label(x.window_minutes)}:{x.window_count}/{x.baseline_count}" for x in s.scales)
        typer.echo(f"  {scope_label(s.scope):<28} {s.articles_per_day:8.1f}/day  {s.verdict}  "
                   f"[window/baseline {counts}]")


@app.command("list")
def list_(
    status: str = typer.Option("open", "--status", help="open, resolved or all."),
    scope: str = typer.Option(None, "--scope", help="Only this topic, $TICKER, or 'all' for the all-topics scope."),
    since: str = typer.Option(None, "--since", help="Only alerts opened at or after this ISO 8601 time."),
    limit: int = typer.Option(20, "--limit", min=1, help="Most alerts shown, newest first."),
) -> None:
    """Show alerts, newest first, with the figures that opened them, their peak and their resolution."""
    from monitor.store import transaction
    from monitor.store.reads import ALERT_STATUSES, list_alerts

    if status not in (*ALERT_STATUSES, "all"):
        raise MonitorError(f"--status must be open, resolved or all, not {status!r}")
    opened_since = parse_time(since, "--since")
    settings = load_settings()
    with connected_database(settings) as factory, transaction(factory) as session:
        alerts = list_alerts(session=session, status=None if status == "all" else status,
                             scope=_stored_scope(scope), since=opened_since, limit=limit)
        lines = [_line(a) for a in alerts]
    typer.echo("\n".join(lines) if lines else f"no {status} alerts")


def _stored_scope(name: str | None) -> str | None:
    """A --scope as stored: 'all' (or 'All topics') is the all-topics scope, anything else as typed."""
    if name is None or not name.strip():
        return None
    return ALL_TOPICS if name.strip().casefold() in ("all", "all topics", ALL_TOPICS) else name.strip()


def _scales(settings: Any) -> list[int]:
    return settings.alerts.window_scales_minutes


def _stored_anything(result: Any, otherwise: str) -> bool:
    """Say what the run left out; False (and say so) when no article is stored."""
    if result.left_out_in_future or result.left_out_too_old:
        typer.echo(f"left out {result.left_out_in_future} article(s) dated in the future and "
                   f"{result.left_out_too_old} dated implausibly early (see the log)")
    if result.now is None:
        typer.echo(f"no articles stored yet; {otherwise}")
        return False
    return True


def _report(result: Any) -> None:
    if not _stored_anything(result, "nothing to check"):
        return
    since = f" from {result.evaluated_from.isoformat()}" if result.steps else ""
    typer.echo(f"checked up to {result.now.isoformat()}: {result.steps} step(s){since}")
    if result.held_by:
        typer.echo(f"  held short of the latest event ({result.latest.isoformat()}) by partitions still being read: "
                   f"{', '.join(result.held_by)}; the next check goes on from here")
    for label, alerts in (("opened", result.opened), ("resolved", result.resolved), ("open", result.updated)):
        for alert in alerts:
            typer.echo(f"  {label:<8} #{alert.id} {scope_label(alert.scope)}: {_figures(alert)}")
    for scope in sorted(set(result.muted)):
        typer.echo(f"  muted    {scope_label(scope)}: spike not raised")
    for scope in sorted(set(result.cooling_down)):
        typer.echo(f"  cooldown {scope_label(scope)}: spike not raised")


def _moment(f: dict[str, Any] | None) -> str:
    if not f:
        return "-"
    from monitor.alerts.scan import baseline_note
    from monitor.alerts.status import scale_label

    note = baseline_note(f)
    return (f"{f['observed_share']:.0%} vs {f['baseline_share']:.0%} ({f['window_negative']} of {f['window_count']} "
            f"in {scale_label(f['window_minutes'])} to {f['window_end'][:16]}, p={f['p_value']:.2g}"
            f"{'; against ' + note if note else ''}{_reading(f)})")


def _reading(f: dict[str, Any]) -> str:
    """How much more negative the model read the window (the reading signal's rise), when it was judged so."""
    rise = f.get("reading_rise")
    return "" if rise is None else f"; read more negative than the baseline by delta {rise:+.2f}"


def _figures(alert: Alert) -> str:
    text = f"opened at {_moment(alert.opening)}; peak {_moment(alert.peak)}"
    if alert.resolution and alert.resolution.get("reason") == "expired":
        text += (f"; expired at {alert.resolution['window_end'][:16]}: no window with enough articles since "
                 f"{alert.resolution['evidence_until'][:16]}")
    elif alert.resolution:
        text += f"; resolved at {_moment(alert.resolution)}"
    return text


def _line(alert: Alert) -> str:
    ack = f" ack by {alert.acknowledged_by}" if alert.acknowledged_at else ""
    when = alert.opened_at.isoformat(timespec="minutes")
    group = f" group {alert.group_id}" if alert.group_id else ""
    return f"#{alert.id} {alert.status:<8} {when} {scope_label(alert.scope)}{group}: {_figures(alert)}{ack}"
