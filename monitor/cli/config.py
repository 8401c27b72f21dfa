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


@app.command("reference")
def reference() -> None:
    """Print every setting as a Markdown table (the README's configuration reference)."""
    from monitor.settings_doc import settings_reference

    typer.echo(settings_reference(), nl=False)
