"""Fixtures that start the real services: a Postgres database per run and a Tansu broker per run."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from monitor.local import EmbeddedBroker, EmbeddedPostgres, reachable_local_postgres
from monitor.local.postgres import create_database, drop_database
from monitor.settings import DatabaseSettings, KafkaSettings, Settings
from monitor.store import make_engine, make_session_factory, migrate
from monitor.store.orm import Base

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="session")
def bench_script():
    """``bench_script("alerts")``: one of bench/*.py imported as a module (they are scripts, not a package)."""
    loaded = {}

    def load(name: str):
        if name not in loaded:
            spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
            spec.loader.exec_module(module)
            loaded[name] = module
        return loaded[name]

    return load


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data when this checkout has it; tests that need it skip cleanly otherwise."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is not present beside this checkout ({SHARED_DATA})")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Postgres server: $MONITOR_TEST_DATABASE_URL, else 127.0.0.1:5432, else a private pgserver."""
    url = os.environ.get("MONITOR_TEST_DATABASE_URL") or reachable_local_postgres()
    if url:
        yield url
        return
    with EmbeddedPostgres(tmp_path_factory.mktemp("pgdata")) as pg:
        yield pg.admin_url


@pytest.fixture(scope="session")
def fresh_database(pg_admin_url: str) -> Iterator[str]:
    """Factory-free helper: an empty database for this test run, dropped at the end."""
    name = f"monitor_test_{uuid.uuid4().hex[:10]}"
    url = create_database(pg_admin_url, name, exist_ok=False)
    yield url
    drop_database(pg_admin_url, name)


@pytest.fixture
def scratch_database(pg_admin_url: str) -> Iterator[tuple[str, Engine]]:
    """An empty database of one test's own (to migrate up and down), and an engine on it; dropped after."""
    name = f"monitor_scratch_{uuid.uuid4().hex[:10]}"
    url = create_database(pg_admin_url, name, exist_ok=False)
    engine = make_engine(DatabaseSettings(url=url))
    try:
        yield url, engine
    finally:
        engine.dispose()
        drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def database_url(fresh_database: str) -> str:
    """A migrated database (alembic upgrade head) shared by this run's tests."""
    migrate.upgrade(fresh_database)
    return fresh_database


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(DatabaseSettings(url=database_url))
    yield eng
    eng.dispose()


@pytest.fixture
def clean_db(engine: Engine) -> Engine:
    """The migrated database with every table emptied before the test."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return engine


@pytest.fixture
def session_factory(clean_db: Engine) -> sessionmaker[Session]:
    return make_session_factory(clean_db)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log_file = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with EmbeddedBroker(log_file=log_file) as b:
        yield b


@pytest.fixture
def kafka_topic(broker: EmbeddedBroker, request: pytest.FixtureRequest) -> str:
    """A unique, freshly created topic (3 partitions) for one test."""
    from kafka.admin import KafkaAdminClient, NewTopic

    name = f"t-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    try:
        admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
    finally:
        admin.close()
    return name


@pytest.fixture
def settings(broker: EmbeddedBroker, database_url: str, kafka_topic: str, tmp_path: Path) -> Settings:
    """Settings pointing at this run's broker, database and a unique topic set."""
    return Settings(
        kafka=KafkaSettings(
            bootstrap_servers=broker.bootstrap_servers,
            input_topic=kafka_topic,
            dead_letter_topic=f"{kafka_topic}.dlq",
            label_topic=f"{kafka_topic}.labels",
            label_dead_letter_topic=f"{kafka_topic}.labels.dlq",
            consumer_group=f"g-{kafka_topic}",
        ),
        database=DatabaseSettings(url=database_url),
        model={"registry_dir": tmp_path / "models", "directory": tmp_path / "models" / "current"},
        metrics={"port": 0},
    )
