"""``monitor db``: apply or revert the Alembic migrations."""

import typer

from monitor.cli.common import connected_engine, load_settings
from monitor.store import migrate

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or update the schema (alembic upgrade)."""
    settings = load_settings()
    connected_engine(settings).dispose()
    migrate.upgrade(settings.database.url.get_secret_value(), revision)
    typer.echo(f"database at revision {revision}")


@app.command("downgrade")
def downgrade(revision: str = typer.Argument("base", help="Target revision; base removes everything.")) -> None:
    """Revert the schema (alembic downgrade); `base` drops every table."""
    settings = load_settings()
    connected_engine(settings).dispose()
    migrate.downgrade(settings.database.url.get_secret_value(), revision)
    typer.echo(f"database at revision {revision}")
