"""Opening the state store: SQLAlchemy engine, SQLite WAL, schema version check and migrations."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine

from monitor.state import migrations, schema
from monitor.state.checks_repo import ChecksRepo
from monitor.state.decisions_repo import DecisionsRepo
from monitor.state.jobs_repo import JobsRepo
from monitor.state.labels_repo import LabelsRepo
from monitor.state.promotions_repo import PromotionsRepo
from monitor.state.rule_states_repo import RuleStatesRepo


class StateError(Exception):
    """The state store cannot be opened or is from an incompatible version."""


def display_url(url: str) -> str:
    """``url`` for messages and logs: a PostgreSQL password is shown as ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<a state URL that does not parse>"


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        _sqlite_pragmas(engine)
    return engine


def migrate(engine: Engine) -> int:
    """Create missing tables and run forward migrations; returns the schema version now in place."""
    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        row = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).first()
        if row is None:
            conn.execute(
                schema.meta.insert().values(key="schema_version", value=json.dumps(schema.SCHEMA_VERSION))
            )
            return schema.SCHEMA_VERSION
        version = int(json.loads(row[0]))
        if version > schema.SCHEMA_VERSION:
            raise StateError(
                f"state schema version {version} is newer than this modelhealthd understands "
                f"({schema.SCHEMA_VERSION}); upgrade modelhealthd or restore a backup"
            )
        for migration in migrations.pending(version):
            migration.apply(conn)
            key, value = migrations.history_entry(migration)
            conn.execute(schema.meta.delete().where(schema.meta.c.key == key))
            conn.execute(schema.meta.insert().values(key=key, value=value))
            version = migration.version
        conn.execute(
            schema.meta.update()
            .where(schema.meta.c.key == "schema_version")
            .values(value=json.dumps(version))
        )
        return version


class StateStore:
    """All durable state, behind one repository per table."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.checks = ChecksRepo(engine)
        self.rule_states = RuleStatesRepo(engine)
        self.jobs = JobsRepo(engine)
        self.promotions = PromotionsRepo(engine)
        self.decisions = DecisionsRepo(engine)
        self.labels = LabelsRepo(engine)

    @classmethod
    def open(cls, url: str) -> StateStore:
        try:
            engine = make_engine(url)
            migrate(engine)
        except StateError:
            raise
        except Exception as exc:
            raise StateError(f"cannot open the state store {display_url(url)!r}: {exc}") from exc
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()
