"""``monitor config``: show the effective configuration."""

import json

import typer

from monitor.cli.common import load_settings
from monitor.settings import masked_dump

app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print the effective configuration (secrets masked) as JSON."""
    typer.echo(json.dumps(masked_dump(load_settings()), indent=2))
