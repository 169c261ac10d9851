"""Opening the state store: an SQLAlchemy engine from its backend, schema version check, migrations."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.engine import Engine

from monitor.state import migrations, schema
from monitor.state.alerts_repo import AlertsRepo
from monitor.state.backend import StoreBackend, backend_for, backend_of, parse_url
from monitor.state.checks_repo import ChecksRepo
from monitor.state.decisions_repo import DecisionsRepo
from monitor.state.errors import StateError, reason
from monitor.state.jobs_repo import JobsRepo
from monitor.state.labels_repo import LabelsRepo
from monitor.state.meta_repo import MetaRepo
from monitor.state.promotions_repo import PromotionsRepo
from monitor.state.rule_states_repo import RuleStatesRepo

__all__ = ["StateError", "StateStore", "display_url", "make_engine", "migrate"]


def display_url(url: str) -> str:
    """``url`` for messages and logs: a PostgreSQL password is shown as ``***``."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except StateError:
        return "<a state URL that does not parse>"


def make_engine(url: str) -> Engine:
    """An engine for the state URL, made by its database's backend."""
    parsed = parse_url(url)
    return backend_for(parsed).make_engine(parsed)


def migrate(engine: Engine) -> int:
    """Create missing tables and run forward migrations; returns the schema version now in place."""
    with backend_of(engine).migration_guard(engine):
        return _migrate(engine)


def _migrate(engine: Engine) -> int:
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
        self.backend: StoreBackend = backend_of(engine)
        self.meta = MetaRepo(engine)
        self.checks = ChecksRepo(engine)
        self.rule_states = RuleStatesRepo(engine)
        self.jobs = JobsRepo(engine)
        self.promotions = PromotionsRepo(engine)
        self.decisions = DecisionsRepo(engine)
        self.labels = LabelsRepo(engine)
        self.alerts = AlertsRepo(engine)

    @classmethod
    def open(cls, url: str) -> StateStore:
        """Open (creating or migrating forward) the store at ``url``; raises :class:`StateError`."""
        try:
            engine = make_engine(url)
            migrate(engine)
        except StateError:
            raise
        except Exception as exc:
            raise StateError(f"cannot open the state store {display_url(url)!r}: {exc}") from exc
        return cls(engine)

    def is_transient(self, exc: BaseException) -> bool:
        """True when ``exc`` means the database is busy or unreachable now and a retry may succeed."""
        return self.backend.is_transient(exc)

    def transient_reason(self, exc: BaseException) -> str:
        """The database's own one-line message for ``exc``, for logs and 503 answers."""
        return reason(exc)

    def close(self) -> None:
        self.engine.dispose()
