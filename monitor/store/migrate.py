"""Run Alembic migrations as an explicit step (``monitor db upgrade``), never on import."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from monitor.store.engine import normalize_url


def migrations_dir() -> Path:
    """The Alembic scripts: `migrations/` in a checkout, shipped in the wheel as ``monitor.migrations``."""
    spec = importlib.util.find_spec("monitor.migrations")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser interpolation would choke on '%' in passwords.
    cfg.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def heads(database_url: str = "postgresql+psycopg://unused/unused") -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
