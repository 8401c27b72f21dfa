"""What a demo run finds in its database, and starting it afresh so a second run alerts again.

The stream's messages carry fixed ids and 2020 event times: replayed into a database that already holds them,
every one is a duplicate and the detector has already judged that time, so nothing new can happen. A database
the demo created (or found empty) is marked with a comment; a marked database is dropped and created again at
the next run unless ``--keep-data``. An unmarked one (somebody's own data) is only reset with ``--fresh``.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from monitor.local.postgres import create_database, drop_database

DEMO_MARK = "fin-news-monitor demo database (monitor demo resets it on its next run)"


@dataclass(frozen=True)
class DatabaseState:
    articles: int
    alerts: int
    marked: bool


def _libpq(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql")
    return (u.set(database=database) if database else u).render_as_string(hide_password=False)


def _admin_url(url: str) -> str:
    """The same server's maintenance database, from which ``url``'s database can be dropped."""
    return _libpq(url, "postgres")


def _count(conn: psycopg.Connection, table: str) -> int:
    exists = conn.execute("select to_regclass(%s)", (f"public.{table}",)).fetchone()
    if not exists or exists[0] is None:
        return 0
    return int(conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(table))).fetchone()[0])


def inspect_database(url: str) -> DatabaseState:
    name = make_url(url).database
    with psycopg.connect(_libpq(url)) as conn:
        comment = conn.execute(
            "select shobj_description(oid, 'pg_database') from pg_database where datname = %s", (name,)
        ).fetchone()
        marked = bool(comment and comment[0] == DEMO_MARK)
        return DatabaseState(_count(conn, "articles"), _count(conn, "alerts"), marked)


def mark_as_demo(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute(sql.SQL("comment on database {} is {}").format(sql.Identifier(name), sql.Literal(DEMO_MARK)))


def recreate(url: str) -> None:
    """Drop the database (closing its other sessions) and create it empty, under the same name."""
    name = make_url(url).database
    assert name, "a database URL names its database"
    drop_database(_admin_url(url), name)
    create_database(_admin_url(url), name)


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def prepare_database(url: str, fresh: bool | None) -> str:
    """Reset or keep the demo's database as ``fresh`` says (None: reset a marked one); returns what happened."""
    state = inspect_database(url)
    shown = make_url(url).render_as_string(hide_password=True)
    if state.articles == 0:
        mark_as_demo(url)
        return f"database {shown} is empty: the replay fills it"
    previous = f"{_plural(state.articles, 'article')} and {_plural(state.alerts, 'alert')} from an earlier run"
    if fresh or (fresh is None and state.marked):
        recreate(url)
        mark_as_demo(url)
        return (f"database {shown} held {previous}: dropped and created again, so this replay alerts again "
                "(pass --keep-data to keep a run's data)")
    how = "pass --fresh to drop and recreate it" if not state.marked else "run without --keep-data"
    return (f"database {shown} keeps {previous}: the replayed messages are duplicates and that time is "
            f"already judged, so expect no new alert ({how})")
