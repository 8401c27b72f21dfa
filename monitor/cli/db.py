"""``monitor db``: apply or revert the Alembic migrations."""

from collections.abc import Callable

import typer

from monitor.cli.common import connected_engine, load_settings
from monitor.errors import MonitorError
from monitor.store import migrate

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or update the schema (alembic upgrade)."""
    _migrate(migrate.upgrade, revision)


@app.command("downgrade")
def downgrade(revision: str = typer.Argument("base", help="Target revision; base removes everything.")) -> None:
    """Revert the schema (alembic downgrade); `base` drops every table."""
    _migrate(migrate.downgrade, revision)


def _migrate(step: Callable[[str, str], None], revision: str) -> None:
    from alembic.util import CommandError

    settings = load_settings()
    connected_engine(settings).dispose()
    try:
        step(settings.database.url.get_secret_value(), revision)
    except CommandError as exc:  # an unknown or ambiguous revision, before anything changed
        raise MonitorError(f"{exc}; use head, base, or a revision id from `alembic history`") from None
    typer.echo(f"database at revision {revision}")
