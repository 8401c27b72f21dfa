"""``monitor webhooks``: register, list, disable and test endpoints; run one relay pass."""

from __future__ import annotations

import typer

from monitor.cli.common import connected_database, connected_engine, load_settings
from monitor.masking import mask_secrets
from monitor.store import make_session_factory, transaction

app = typer.Typer(help="Signed webhook endpoints and their delivery relay.", no_args_is_help=True)


def _topics(topics: list[str] | None) -> str:
    """An endpoint's filter as a person reads it: `all topics` for the all-topics scope, not its key."""
    from monitor.store.orm import ALL_TOPICS

    if not topics:
        return "every alert"
    return ", ".join("all topics" if t == ALL_TOPICS else t for t in topics)


@app.command("add")
def add(
    url: str = typer.Argument(..., help="http(s) URL that receives alert events."),
    topics: list[str] = typer.Option(
        None,
        "--topics",
        "--topic",
        help="Only these topics (comma-separated or repeated; `all` = all topics).",
    ),
    description: str = typer.Option(None, "--description", help="A note for the list."),
) -> None:
    """Register an endpoint; prints its whsec_ signing secret once."""
    from monitor.alerts import add_endpoint

    settings = load_settings()
    with connected_database(settings) as factory, transaction(factory) as session:
        endpoint = add_endpoint(
            url,
            topics=topics,
            description=description,
            allow_private=settings.webhooks.allow_private_addresses,
            session=session,
        )
        endpoint_id, secret, shown_topics = endpoint.id, endpoint.secret, endpoint.topics
    typer.echo(
        f"endpoint {endpoint_id} added for {_topics(shown_topics)}"
    )
    typer.echo(f"signing secret (shown once, store it now): {secret}")


@app.command("list")
def list_() -> None:
    """Show endpoints (secrets masked)."""
    from monitor.alerts import list_endpoints
    from monitor.alerts.signing import mask_secret

    settings = load_settings()
    with connected_database(settings) as factory, transaction(factory) as session:
        rows = [
            f"{e.id:>4} {'enabled ' if e.enabled else 'disabled'} {mask_secrets(e.url)} "
            f"for {_topics(e.topics)}, secret {mask_secret(e.secret)}"
            + (f" ({e.disabled_reason})" if e.disabled_reason else "")
            for e in list_endpoints(session=session)
        ]
    typer.echo("\n".join(rows) if rows else "no webhook endpoints; add one with `monitor webhooks add URL`")


@app.command("disable")
def disable(
    endpoint_id: int = typer.Argument(..., min=1, max=2**31 - 1, help="Endpoint id from `monitor webhooks list`."),
    reason: str = typer.Option("disabled by an operator", "--reason", help="Kept beside the endpoint."),
) -> None:
    """Stop sending to an endpoint and cancel its pending deliveries."""
    from monitor.alerts import disable_endpoint

    settings = load_settings()
    with connected_database(settings) as factory, transaction(factory) as session:
        cancelled = disable_endpoint(endpoint_id, reason=reason, session=session)
    typer.echo(f"endpoint {endpoint_id} disabled; {cancelled} pending deliveries cancelled")


@app.command("test")
def test(
    endpoint_id: int = typer.Argument(..., min=1, max=2**31 - 1, help="Endpoint id from `monitor webhooks list`."),
) -> None:
    """Send a signed `test` event to an endpoint now and show the answer."""
    from monitor.alerts import WebhookRelay, enqueue_test_event
    from monitor.store.orm import WebhookDelivery

    settings = load_settings()
    engine = connected_engine(settings)
    factory = make_session_factory(engine)
    try:
        with transaction(factory) as session:
            delivery_id = enqueue_test_event(endpoint_id, session=session).id
        with WebhookRelay(settings.webhooks, factory) as relay:
            relay.run_once(limit=1, delivery_id=delivery_id)
        with transaction(factory) as session:
            d = session.get_one(WebhookDelivery, delivery_id)
            status, code, error = d.status, d.last_status_code, d.last_error
    finally:
        engine.dispose()
    shown = f": {mask_secrets(error)}" if error else ""  # an endpoint's own error text may quote credentials
    typer.echo(f"test delivery {delivery_id}: {status} (HTTP {code or '-'}){shown}")
    if status != "delivered":
        raise typer.Exit(1)


@app.command("relay")
def relay(
    limit: int = typer.Option(None, "--limit", min=1, help="Most deliveries to try in this pass."),
) -> None:
    """Send every due delivery once (one pass of what the scheduler runs every few seconds)."""
    from monitor.alerts import WebhookRelay

    settings = load_settings()
    with connected_database(settings) as factory, WebhookRelay(settings.webhooks, factory) as r:
        report = r.run_once(limit=limit)
    typer.echo(
        f"delivered {report.delivered}, retrying {report.retrying}, failed {report.failed}, "
        f"endpoints disabled {report.endpoints_disabled}"
    )
